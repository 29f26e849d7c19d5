//! KC040: a statement IAM rejects or reads differently from what it says (`Effect: allow`,
//! `Effect: [Allow]`, no Effect, no Action, an identity statement without Resource, a trust or
//! resource statement without Principal, a malformed statement-level `Fn::If`).

use crate::check::model::{Model, StatementSite};

super::rule!(
    KC040,
    "invalid-statement",
    Medium,
    "A policy statement is invalid: Effect not exactly Allow or Deny, a required element missing, or a malformed Fn::If.",
    "IAM reads Effect case-sensitively and requires Action, Resource (in identity policies) and Principal (in trust and resource policies); it rejects such a document at deployment, and the statement grants nothing keycard counts. Fix the statement so it says what was meant.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html"
);

pub(super) fn check(s: &StatementSite<'_>, m: &Model<'_>) -> Option<String> {
    let problems: Vec<&str> = m
        .grants
        .invalid
        .iter()
        .filter(|i| {
            i.path == s.record.path && i.line == s.record.line && i.column == s.record.column
        })
        .map(|i| i.problem.as_str())
        .collect();
    (!problems.is_empty()).then(|| problems.join("; "))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn lower_case_effect_and_missing_resource() {
        let t = role_with(
            "              - Effect: allow\n                Action: s3:GetObject\n                Resource: '*'\n              - Effect: Allow\n                Action: s3:GetObject\n",
        );
        let m = messages(RuleId::KC040, &t);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].contains("`allow` must be written `Allow`"));
        assert!(m[1].starts_with("no Resource"));
    }
}
