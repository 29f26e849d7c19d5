//! KC002: `service:*` in an Allow statement.

use crate::check::model::{Model, StatementSite};
use crate::template::grants::PolicySite;

super::rule!(
    KC002,
    "service-wildcard-action",
    High,
    "Allow statement grants every action of a service (`service:*`).",
    "A service-wide wildcard grants deletes, permission changes and actions AWS adds later. Name the actions the workload calls.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html"
);

pub(super) fn check(s: &StatementSite<'_>, m: &Model<'_>) -> Option<String> {
    if s.site != PolicySite::Identity || !s.is_allow() {
        return None;
    }
    let found: Vec<String> = s
        .actions
        .iter()
        .filter_map(|a| {
            let (service, name) = a.split_once(':')?;
            (name == "*").then(|| {
                let n = m.info.expand(a).len();
                format!(
                    "`{a}` allows all {n} action{} of {service}",
                    if n == 1 { "" } else { "s" }
                )
            })
        })
        .collect();
    (!found.is_empty()).then(|| found.join("; "))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn a_service_wildcard_counts_its_actions() {
        let t = role_with(
            "              - Effect: Allow\n                Action: [sqs:*, s3:GetObject]\n                Resource: arn:aws:sqs:us-east-1:123456789012:q\n",
        );
        let m = messages(RuleId::KC002, &t);
        assert_eq!(m.len(), 1);
        assert!(
            m[0].starts_with("`sqs:*` allows all ") && m[0].ends_with(" actions of sqs"),
            "{m:?}"
        );
    }
}
