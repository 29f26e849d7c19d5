//! KC011: permissions-management actions on every resource.

use crate::catalog::AccessLevel;
use crate::check::model::{Model, StatementSite};

super::rule!(
    KC011,
    "permissions-management-on-any-resource",
    High,
    "Permissions-management actions are allowed on `Resource: \"*\"` (or an ARN that is only wildcards).",
    "Permissions-management actions change who can access what; on `*` they apply to every policy, role or resource policy in the account.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_understand-policy-summary-access-level-summaries.html"
);

pub(super) fn check(s: &StatementSite<'_>, m: &Model<'_>) -> Option<String> {
    super::kc010_write_on_any_resource::level_on_any(s, m, AccessLevel::PermissionsManagement)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn policy_writes_on_star() {
        let t = role_with(
            "              - Effect: Allow\n                Action: [iam:PutRolePolicy, iam:CreatePolicyVersion]\n                Resource: '*'\n",
        );
        assert_eq!(
            messages(RuleId::KC011, &t),
            vec!["iam:CreatePolicyVersion, iam:PutRolePolicy on Resource \"*\""]
        );
    }
}
