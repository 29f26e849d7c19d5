//! KC022: sts:AssumeRole on every role.

use crate::check::model::{Model, StatementSite};
use crate::template::grants::PolicySite;

super::rule!(
    KC022,
    "assume-role-on-any-resource",
    High,
    "sts:AssumeRole is allowed on `Resource: \"*\"`.",
    "AssumeRole on `*` lets the principal become any role whose trust policy admits it, now or later. Name the role ARNs.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_permissions-to-switch.html"
);

pub(super) fn check(s: &StatementSite<'_>, _: &Model<'_>) -> Option<String> {
    (s.site == PolicySite::Identity
        && s.allows("sts:AssumeRole")
        && s.on_any_resource("sts:AssumeRole"))
    .then(|| format!("sts:AssumeRole {}", s.any_resource_label()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn assume_role_on_star_only() {
        let t = role_with(
            "              - Effect: Allow\n                Action: sts:AssumeRole\n                Resource: '*'\n              - Effect: Allow\n                Action: sts:AssumeRole\n                Resource: arn:aws:iam::123456789012:role/reader\n",
        );
        assert_eq!(
            messages(RuleId::KC022, &t),
            vec!["sts:AssumeRole on Resource \"*\""]
        );
    }
}
