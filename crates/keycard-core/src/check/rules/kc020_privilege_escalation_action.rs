//! KC020: an action that escalates privileges on its own, on resources it does not name one by
//! one.

use std::collections::BTreeSet;

use crate::check::model::{Model, StatementSite};
use crate::risk::escalation_alone;
use crate::template::grants::PolicySite;

super::rule!(
    KC020,
    "privilege-escalation-action",
    High,
    "A privilege-escalation action is allowed on `*` or on a wildcard of resources.",
    "Actions such as iam:CreatePolicyVersion, iam:Attach*Policy, iam:Put*Policy, iam:CreateAccessKey, iam:UpdateAssumeRolePolicy, lambda:UpdateFunctionCode or ssm:StartSession let a principal gain permissions it was not given (the Rhino Security Labs paths, keycard's risk table). Grant them only to deployment roles, scoped to the ARNs they manage; on named resources (this template's own function, one role ARN) they are not reported.",
    "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/"
);

pub(super) fn check(s: &StatementSite<'_>, _: &Model<'_>) -> Option<String> {
    if s.site != PolicySite::Identity || !s.is_allow() || s.names_each_resource() {
        return None;
    }
    let found: BTreeSet<&String> = s
        .effective()
        // PassRole and AssumeRole only escalate on `*`: KC021, KC022, KC023.
        .filter(|a| escalation_alone(a).is_some_and(|r| !r.only_on_any_resource))
        .collect();
    (!found.is_empty()).then(|| format!("allows {}", super::some(found)))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn escalation_on_a_wildcard_but_not_on_a_named_resource() {
        let t = role_with(
            "              - Effect: Allow\n                Action: lambda:UpdateFunctionCode\n                Resource: !Sub arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:orders-*\n              - Effect: Allow\n                Action: lambda:UpdateFunctionCode\n                Resource: !GetAtt Fn.Arn\n              - Effect: Allow\n                Action: [ssm:StartSession, ecs:RunTask]\n                Resource: '*'\n",
        );
        assert_eq!(
            messages(RuleId::KC020, &t),
            vec![
                "allows lambda:UpdateFunctionCode",
                "allows ssm:StartSession"
            ]
        );
    }
}
