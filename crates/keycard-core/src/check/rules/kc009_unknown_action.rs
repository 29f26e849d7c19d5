//! KC009: an action that is not an IAM action.

use crate::check::model::{Model, StatementSite};
use crate::template::grants::PolicySite;

super::rule!(
    KC009,
    "unknown-action",
    Low,
    "An action matches no known IAM action.",
    "IAM ignores actions that do not exist, so a misspelt action silently grants nothing (and the intended one is missing). Check the spelling against the service authorization reference.",
    "https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"
);

pub(super) fn check(s: &StatementSite<'_>, m: &Model<'_>) -> Option<String> {
    if s.site != PolicySite::Identity || !s.is_allow() {
        return None;
    }
    let found: Vec<String> = s
        .actions
        .iter()
        .filter(|a| *a != "*" && *a != "*:*")
        .filter_map(|a| match a.split_once(':') {
            None => Some(format!("`{a}` is not an action (service:Action)")),
            Some(_) if m.info.expand(a).is_empty() => {
                Some(format!("`{a}` matches no known IAM action"))
            }
            Some(_) => None,
        })
        .collect();
    (!found.is_empty()).then(|| found.join("; "))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn misspelt_and_malformed_actions() {
        let t = role_with(
            "              - Effect: Allow\n                Action: [s3:GetObjekt, GetObject, s3:GetObject]\n                Resource: arn:aws:s3:::b/*\n",
        );
        assert_eq!(
            messages(RuleId::KC009, &t),
            vec![
                "`s3:GetObjekt` matches no known IAM action; `GetObject` is not an action (service:Action)"
            ]
        );
    }
}
