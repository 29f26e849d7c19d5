//! KC001: `Action: "*"` in an Allow statement.

use crate::check::model::{Model, StatementSite};
use crate::template::grants::PolicySite;

super::rule!(
    KC001,
    "full-admin-action",
    Critical,
    "Allow statement grants every action (`*`).",
    "`Action: \"*\"` is administrator access: the principal can do anything, including granting itself more. List the actions it needs (`keycard propose` derives them from CloudTrail).",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"
);

pub(super) fn check(s: &StatementSite<'_>, _: &Model<'_>) -> Option<String> {
    if s.site != PolicySite::Identity || !s.is_allow() {
        return None;
    }
    let star = s.actions.iter().find(|a| *a == "*" || *a == "*:*")?;
    Some(format!("`{star}` allows every action"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn star_in_either_branch_of_an_if_is_every_action() {
        let t = role_with(
            "              - Effect: Allow\n                Action: !If [IsDev, '*', s3:GetObject]\n                Resource: '*'\n",
        );
        assert_eq!(messages(RuleId::KC001, &t), vec!["`*` allows every action"]);
        let scoped = role_with(
            "              - Effect: Allow\n                Action: s3:GetObject\n                Resource: '*'\n",
        );
        assert!(messages(RuleId::KC001, &scoped).is_empty());
    }
}
