//! KC008: Allow with NotResource.

use crate::check::model::{Model, StatementSite};
use crate::template::grants::PolicySite;

super::rule!(
    KC008,
    "allow-not-resource",
    Medium,
    "Allow statement uses NotResource.",
    "Allow with NotResource grants the actions on every resource except the listed ones, including resources created later. Name the resources.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html"
);

pub(super) fn check(s: &StatementSite<'_>, _: &Model<'_>) -> Option<String> {
    (s.site == PolicySite::Identity && s.is_allow() && s.record.not_resource.is_some()).then(|| {
        "Allow with NotResource grants the actions on every resource except the listed ones"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn allow_not_resource() {
        let t = role_with(
            "              - Effect: Allow\n                Action: s3:GetObject\n                NotResource: arn:aws:s3:::audit/*\n",
        );
        assert_eq!(messages(RuleId::KC008, &t).len(), 1);
    }
}
