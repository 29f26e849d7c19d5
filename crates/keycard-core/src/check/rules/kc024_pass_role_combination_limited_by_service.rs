//! KC024: the KC023 combination, with PassRole limited by iam:PassedToService.

use crate::check::model::{Model, StatementSite};

super::rule!(
    KC024,
    "pass-role-combination-limited-by-service",
    Medium,
    "A principal can pass any role, limited to some services by iam:PassedToService, and also start compute of those kinds.",
    "iam:PassedToService keeps the roles away from other services, but any role that trusts the named service can still be handed to code the principal starts. Scope PassRole to the roles it passes (usually this template's own).",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PassedToService"
);

pub(super) fn check(s: &StatementSite<'_>, m: &Model<'_>) -> Option<String> {
    s.has_condition_key("iam:PassedToService")
        .then(|| super::kc023_privilege_escalation_combination::combination(s, m))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn passed_to_service_lowers_the_combination() {
        let t = role_with(
            "              - Effect: Allow\n                Action: iam:PassRole\n                Resource: '*'\n                Condition: {StringEquals: {iam:PassedToService: lambda.amazonaws.com}}\n              - Effect: Allow\n                Action: lambda:CreateFunction\n                Resource: '*'\n",
        );
        assert_eq!(messages(RuleId::KC024, &t).len(), 1);
        assert!(messages(RuleId::KC023, &t).is_empty());
        assert!(messages(RuleId::KC021, &t).is_empty());
    }
}
