//! KC007: Allow with NotAction.

use crate::check::model::{Model, StatementSite};
use crate::template::grants::PolicySite;

super::rule!(
    KC007,
    "allow-not-action",
    High,
    "Allow statement uses NotAction.",
    "Allow with NotAction grants every action except the listed ones, including services and actions AWS adds later. Allow explicit actions instead.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html"
);

pub(super) fn check(s: &StatementSite<'_>, _: &Model<'_>) -> Option<String> {
    (s.site == PolicySite::Identity && s.is_allow() && s.record.raw.get("NotAction").is_some())
        .then(|| "Allow with NotAction grants every action except the listed ones".to_string())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn allow_not_action_but_not_deny() {
        let t = role_with(
            "              - Effect: Allow\n                NotAction: iam:*\n                Resource: '*'\n              - Effect: Deny\n                NotAction: s3:*\n                Resource: '*'\n",
        );
        assert_eq!(messages(RuleId::KC007, &t).len(), 1);
    }
}
