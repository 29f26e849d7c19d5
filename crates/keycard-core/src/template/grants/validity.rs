//! Statements IAM would not read as written: an `Effect` other than exactly `Allow` or `Deny`
//! (`allow`, `[Allow]`, missing), no `Action`/`NotAction`, an identity statement without
//! `Resource`/`NotResource`, a trust or resource statement without `Principal`, a statement
//! that is a malformed `Fn::If`.
//!
//! Such a statement grants nothing keycard counts (only `Effect: Allow` does), yet its author
//! meant something by it, and IAM rejects the whole document at deployment
//! (`MalformedPolicyDocument`). Passing it in silence would make a broken template look clean,
//! so each one is listed in [`Grants::invalid`](super::Grants::invalid) (findings of
//! `keycard check`) and in `not_analysable` (warnings of `keycard grants` and `propose`).
//!
//! Sources, IAM JSON policy element reference: "Effect … Valid values for Effect are Allow and
//! Deny. The Effect value is case sensitive." (reference_policies_elements_effect.html);
//! statements must include Action or NotAction (reference_policies_elements_action.html); an
//! identity statement must include Resource or NotResource
//! (reference_policies_elements_resource.html); resource-based policies must use Principal or
//! NotPrincipal (reference_policies_elements_principal.html).

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value as J;

use super::resource_policies::PolicySite;
use super::{Grants, NotAnalysable, StatementRecord};

/// A statement IAM would reject or read differently from what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidStatement {
    /// JSON pointer of the statement (as in [`StatementRecord::path`]).
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub site: PolicySite,
    /// What is wrong, for people.
    pub problem: String,
}

/// Finds the invalid statements among everything [`super::find_grants`] read and reports each
/// once (a policy attached to several principals is one document).
pub(super) fn check(out: &mut Grants) {
    let identity = out
        .grants
        .iter()
        .chain(&out.read_only)
        .flat_map(|g| g.statements.iter().map(|s| (PolicySite::Identity, s)));
    let others = out
        .resource_policies
        .iter()
        .flat_map(|p| p.statements.iter().map(move |s| (p.kind.site(), s)));
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for (site, s) in identity.chain(others) {
        if !seen.insert((s.path.clone(), s.raw.to_string())) {
            continue;
        }
        for problem in problems(site, s) {
            found.push(InvalidStatement {
                path: s.path.clone(),
                line: s.line,
                column: s.column,
                site,
                problem,
            });
        }
    }
    for f in &found {
        out.not_analysable.push(NotAnalysable {
            path: f.path.clone(),
            line: f.line,
            column: f.column,
            reason: format!("invalid statement: {}", f.problem),
        });
    }
    out.invalid.extend(found);
}

/// What is wrong with one statement (empty when nothing is).
pub(super) fn problems(site: PolicySite, s: &StatementRecord) -> Vec<String> {
    let Some(map) = s.raw.as_object() else {
        return Vec::new(); // not a mapping: already reported as not analysable
    };
    if map.len() == 1 && map.contains_key("Fn::If") {
        return vec![
            "malformed Fn::If: a statement-level Fn::If takes [condition name, statement if true, statement if false]"
                .to_string(),
        ];
    }
    let mut out = Vec::new();
    if let Some(p) = effect_problem(map.get("Effect")) {
        out.push(p);
    }
    if !map.contains_key("Action") && !map.contains_key("NotAction") {
        out.push("no Action or NotAction: IAM requires one".to_string());
    }
    match site {
        PolicySite::Identity => {
            if !map.contains_key("Resource") && !map.contains_key("NotResource") {
                out.push(
                    "no Resource or NotResource: an identity policy statement requires one"
                        .to_string(),
                );
            }
        }
        PolicySite::Trust | PolicySite::Resource => {
            if !map.contains_key("Principal") && !map.contains_key("NotPrincipal") {
                out.push(
                    "no Principal or NotPrincipal: a trust or resource policy statement requires one"
                        .to_string(),
                );
            }
        }
    }
    out
}

fn effect_problem(effect: Option<&J>) -> Option<String> {
    let effect = match effect {
        None => return Some("no Effect: IAM requires Effect: Allow or Deny".to_string()),
        Some(e) => e,
    };
    match effect {
        J::String(s) if s == "Allow" || s == "Deny" => None,
        J::String(s) if s.eq_ignore_ascii_case("allow") || s.eq_ignore_ascii_case("deny") => {
            Some(format!(
                "Effect `{s}` must be written `{}`: IAM reads Effect case-sensitively",
                if s.eq_ignore_ascii_case("allow") {
                    "Allow"
                } else {
                    "Deny"
                }
            ))
        }
        J::Array(_) => Some(format!(
            "Effect is a list ({effect}): IAM takes one value, Allow or Deny"
        )),
        // `!If [Cond, Allow, Deny]`, `!Ref EffectParam`: known at deploy time.
        J::Object(m) if m.keys().any(|k| k == "Ref" || k.starts_with("Fn::")) => {
            let branches_ok = match m.get("Fn::If").and_then(J::as_array) {
                Some(args) => args
                    .iter()
                    .skip(1)
                    .all(|b| matches!(b.as_str(), Some("Allow" | "Deny")) || !b.is_string()),
                None => true,
            };
            (!branches_ok)
                .then(|| format!("Effect {effect} has a branch that is neither Allow nor Deny"))
        }
        other => Some(format!("Effect {other} is neither Allow nor Deny")),
    }
}

#[cfg(test)]
mod tests {
    use crate::template::{Template, find_grants};

    fn invalid(statements: &str) -> Vec<String> {
        let t = Template::load(
            "t.yaml",
            &format!(
                "Conditions:\n  C: !Equals [a, b]\nResources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Statement:\n          - Effect: Allow\n            Principal: {{Service: lambda.amazonaws.com}}\n            Action: sts:AssumeRole\n      Policies:\n        - PolicyName: p\n          PolicyDocument:\n            Statement:\n{statements}"
            ),
        )
        .unwrap();
        let g = find_grants(&t);
        for i in &g.invalid {
            assert!(
                g.not_analysable
                    .iter()
                    .any(|n| n.path == i.path && n.reason.contains(&i.problem)),
                "{i:?} is not a warning"
            );
        }
        g.invalid.iter().map(|i| i.problem.clone()).collect()
    }

    #[test]
    fn valid_statements_have_no_problem() {
        assert_eq!(
            invalid(
                "              - Effect: Allow\n                Action: s3:GetObject\n                Resource: '*'\n              - Effect: !If [C, Allow, Deny]\n                NotAction: s3:*\n                NotResource: '*'\n"
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn effect_in_the_wrong_case_as_a_list_or_missing_is_invalid() {
        let p = invalid(
            "              - Effect: allow\n                Action: s3:GetObject\n                Resource: '*'\n              - Effect: [Allow]\n                Action: s3:GetObject\n                Resource: '*'\n              - Action: s3:GetObject\n                Resource: '*'\n",
        );
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("`allow` must be written `Allow`"));
        assert!(p[1].contains("is a list"));
        assert!(p[2].starts_with("no Effect"));
    }

    #[test]
    fn an_identity_statement_without_resource_is_invalid() {
        let p = invalid("              - Effect: Allow\n                Action: s3:GetObject\n");
        assert_eq!(
            p,
            vec!["no Resource or NotResource: an identity policy statement requires one"]
        );
    }

    #[test]
    fn a_malformed_statement_level_if_is_invalid() {
        let p = invalid(
            "              - !If [C, {Effect: Allow, Action: s3:GetObject, Resource: '*'}]\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("malformed Fn::If"));
    }

    #[test]
    fn a_resource_statement_without_principal_is_invalid_and_reported_once() {
        let t = Template::load(
            "t.yaml",
            "Resources:\n  P:\n    Type: AWS::S3::BucketPolicy\n    Properties:\n      Bucket: b\n      PolicyDocument:\n        Statement:\n          - Effect: Allow\n            Action: s3:GetObject\n            Resource: arn:aws:s3:::b/*\n",
        )
        .unwrap();
        let g = find_grants(&t);
        assert_eq!(g.invalid.len(), 1);
        assert!(g.invalid[0].problem.starts_with("no Principal"));
    }
}
