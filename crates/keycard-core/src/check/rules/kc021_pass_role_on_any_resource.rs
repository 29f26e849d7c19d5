//! KC021: iam:PassRole on every role, without iam:PassedToService.

use crate::check::model::{Model, StatementSite};
use crate::template::grants::PolicySite;

super::rule!(
    KC021,
    "pass-role-on-any-resource",
    High,
    "iam:PassRole is allowed on `Resource: \"*\"` without an iam:PassedToService condition.",
    "PassRole on `*` lets the principal hand any role in the account (including admin roles) to any service it controls. Scope it to the role ARNs it passes (this template's roles are the usual ones), and limit the service with an iam:PassedToService condition.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html"
);

pub(super) fn check(s: &StatementSite<'_>, _: &Model<'_>) -> Option<String> {
    (s.site == PolicySite::Identity
        && s.allows("iam:PassRole")
        && s.on_any_resource("iam:PassRole")
        && !s.has_condition_key("iam:PassedToService"))
    .then(|| format!("iam:PassRole {}", s.any_resource_label()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn pass_role_on_star_unless_the_service_is_named() {
        let t = role_with(
            "              - Effect: Allow\n                Action: IAM:passrole\n                Resource: '*'\n              - Effect: Allow\n                Action: iam:PassRole\n                Resource: '*'\n                Condition: {StringEquals: {iam:PassedToService: lambda.amazonaws.com}}\n",
        );
        assert_eq!(
            messages(RuleId::KC021, &t),
            vec!["iam:PassRole on Resource \"*\""]
        );
    }
}
