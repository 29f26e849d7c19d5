//! KC030: a trust policy any AWS principal may use.

use serde_json::Value as J;

use crate::check::model::{Model, StatementSite};
use crate::template::grants::PolicySite;

super::rule!(
    KC030,
    "trust-open-to-everyone",
    Critical,
    "A role trust policy allows any AWS principal (`*`) without conditions.",
    "Anyone with an AWS account can assume this role. Name the trusted principals, or add conditions such as aws:PrincipalOrgID.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html"
);

pub(super) fn check(s: &StatementSite<'_>, _: &Model<'_>) -> Option<String> {
    let principal = unconditioned_trust(s)?;
    if principal.as_str().map(str::trim) == Some("*") {
        return Some("trust policy Principal is \"*\"".to_string());
    }
    items(principal.get("AWS")?)
        .iter()
        .any(|i| i.as_str().map(str::trim) == Some("*"))
        .then(|| "trust policy admits AWS principal \"*\"".to_string())
}

/// The `Principal` of an Allow trust statement without conditions (conditions such as
/// ExternalId, PrincipalOrgID or a token's subject are what the trust rules ask for).
pub(super) fn unconditioned_trust<'s>(s: &'s StatementSite<'_>) -> Option<&'s J> {
    (s.site == PolicySite::Trust && s.is_allow() && !s.has_condition())
        .then(|| s.principal())
        .flatten()
}

/// A value or the items of a list.
pub(super) fn items(v: &J) -> Vec<&J> {
    match v {
        J::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, trusting};
    use crate::check::RuleId;

    #[test]
    fn star_principals_without_conditions() {
        let t = trusting(
            "          - Effect: Allow\n            Principal: {AWS: ['*']}\n            Action: sts:AssumeRole\n          - Effect: Allow\n            Principal: '*'\n            Action: sts:AssumeRole\n            Condition: {StringEquals: {aws:PrincipalOrgID: o-abc}}\n",
        );
        assert_eq!(
            messages(RuleId::KC030, &t),
            vec!["trust policy admits AWS principal \"*\""]
        );
    }

    #[test]
    fn a_json_string_trust_policy_is_read() {
        let t = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: '{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"sts:AssumeRole\"}]}'\n";
        assert_eq!(
            messages(RuleId::KC030, t),
            vec!["trust policy Principal is \"*\""]
        );
    }
}
