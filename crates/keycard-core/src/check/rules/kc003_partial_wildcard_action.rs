//! KC003: a partial action wildcard (`s3:Get*`) in an Allow statement.

use crate::check::model::{Model, StatementSite};
use crate::policy::is_wildcard;
use crate::template::grants::PolicySite;

super::rule!(
    KC003,
    "partial-wildcard-action",
    Low,
    "Allow statement uses a partial action wildcard (for example `s3:Get*`).",
    "Partial wildcards grow silently when AWS adds matching actions (`s3:Get*` covers GetObjectAcl and GetBucketPolicy too). Prefer explicit actions.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html"
);

pub(super) fn check(s: &StatementSite<'_>, m: &Model<'_>) -> Option<String> {
    if s.site != PolicySite::Identity || !s.is_allow() {
        return None;
    }
    let found: Vec<String> = s
        .actions
        .iter()
        .filter(|a| is_wildcard(a) && a.split_once(':').is_some_and(|(_, n)| n != "*"))
        .map(|a| {
            let n = m.info.expand(a).len();
            format!(
                "`{a}` matches {n} action{} today and any added later",
                if n == 1 { "" } else { "s" }
            )
        })
        .collect();
    (!found.is_empty()).then(|| found.join("; "))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn partial_wildcards_are_counted_and_full_ones_left_to_kc002() {
        let t = role_with(
            "              - Effect: Allow\n                Action: [dynamodb:Get*, sqs:*]\n                Resource: arn:aws:dynamodb:us-east-1:123456789012:table/t\n",
        );
        let m = messages(RuleId::KC003, &t);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].starts_with("`dynamodb:Get*` matches "));
    }
}
