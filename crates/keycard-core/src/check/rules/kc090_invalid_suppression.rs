//! KC090: a suppression keycard cannot apply; and the reading of suppressions itself.
//!
//! Accepted: `Metadata: {keycard: {suppress: [{rule: KC002, reason: "…"}]}}`, or
//! `suppress: [KC002]` with a sibling `reason`. A suppression without a reason, or naming an
//! unknown rule, is not applied and is reported (KC090), which itself cannot be suppressed.

use std::collections::BTreeMap;

use super::RuleId;
use crate::template::node::push_pointer;
use crate::template::{Node, Pos, Template, Value};

super::rule!(
    KC090,
    "invalid-suppression",
    Low,
    "A keycard suppression has no reason or names an unknown rule; it is not applied.",
    "Suppressions are reviewed decisions: each needs a rule id keycard knows and a reason a reviewer can read (`Metadata: {keycard: {suppress: [{rule: KC002, reason: \"…\"}]}}`).",
    "https://github.com/keycard-iam/keycard/blob/main/docs/CHECK.md#suppressions"
);

/// The suppressions of a template.
#[derive(Debug, Default)]
pub(crate) struct Suppressions {
    /// (resource logical id, rule) → reason.
    pub granted: BTreeMap<(String, RuleId), String>,
    pub invalid: Vec<Invalid>,
}

/// A suppression that is not applied.
#[derive(Debug)]
pub(crate) struct Invalid {
    pub resource: String,
    pub path: String,
    pub at: (Pos, Pos),
    pub message: String,
}

/// Reads `Metadata.keycard.suppress` of every resource.
pub(crate) fn read(t: &Template) -> Suppressions {
    let mut out = Suppressions::default();
    for (id, res) in t.resources() {
        let Some(keycard) = res.get("Metadata").and_then(|m| m.get("keycard")) else {
            continue;
        };
        let Some(list) = keycard.get("suppress") else {
            continue;
        };
        let shared_reason = keycard.get("reason").and_then(Node::as_str);
        let base = push_pointer(
            &push_pointer(
                &push_pointer(&push_pointer("/Resources", id), "Metadata"),
                "keycard",
            ),
            "suppress",
        );
        let items: Vec<(&Node, String)> = match list.as_seq() {
            Some(items) => items
                .iter()
                .enumerate()
                .map(|(i, n)| (n, push_pointer(&base, &i.to_string())))
                .collect(),
            None => vec![(list, base.clone())],
        };
        for (item, path) in items {
            let (rule_id, reason) = match &item.value {
                Value::String(s) => (Some(s.as_str()), shared_reason),
                Value::Map(_) => (
                    item.get("rule").and_then(Node::as_str),
                    item.get("reason").and_then(Node::as_str).or(shared_reason),
                ),
                _ => (None, None),
            };
            let mut invalid = |message: String| {
                out.invalid.push(Invalid {
                    resource: id.to_string(),
                    path: path.clone(),
                    at: (item.pos, t.pos(item.span.end)),
                    message,
                })
            };
            let Some(rule_id) = rule_id else {
                invalid("suppression names no rule (`rule: KCnnn`)".into());
                continue;
            };
            let Some(known) = RuleId::parse(rule_id).filter(|r| *r != RuleId::KC090) else {
                invalid(format!("suppression names unknown rule {rule_id}"));
                continue;
            };
            match reason.map(str::trim).filter(|r| !r.is_empty()) {
                Some(reason) => {
                    out.granted
                        .insert((id.to_string(), known), reason.to_string());
                }
                None => invalid(format!(
                    "suppression of {known} has no reason, so it is not applied"
                )),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::messages;
    use crate::check::RuleId;

    #[test]
    fn suppressions_need_a_known_rule_and_a_reason() {
        let t = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Metadata:\n      keycard:\n        suppress:\n          - rule: KC004\n          - rule: KC777\n            reason: typo\n          - {reason: no rule}\n          - rule: KC090\n            reason: cannot be suppressed\n    Properties:\n      ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]\n";
        assert_eq!(
            messages(RuleId::KC090, t),
            vec![
                "suppression of KC004 has no reason, so it is not applied",
                "suppression names unknown rule KC777",
                "suppression names no rule (`rule: KCnnn`)",
                "suppression names unknown rule KC090",
            ]
        );
        assert_eq!(messages(RuleId::KC004, t).len(), 1);
    }

    #[test]
    fn a_suppression_with_a_reason_silences_its_rule_only() {
        let t = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Metadata:\n      keycard:\n        suppress: [KC010]\n        reason: the one bucket this role owns\n    Properties:\n      Policies:\n        - PolicyName: p\n          PolicyDocument:\n            Statement:\n              - Effect: Allow\n                Action: [s3:PutObject, s3:GetObject]\n                Resource: '*'\n";
        assert!(messages(RuleId::KC010, t).is_empty());
        assert_eq!(messages(RuleId::KC012, t).len(), 1);
    }
}
