//! IAM size quotas and splitting.
//!
//! IAM counts policy characters without whitespace: a managed policy may hold 6,144, a role's
//! inline policies together 10,240. A proposal that does not fit cannot be deployed, so sizes
//! are estimated on the *resolved* policy (an intrinsic becomes an ARN of generous length) and
//! the explicit replacement is split over several managed policies when needed.

use serde_json::{Map, Value, json};

use crate::policy::iam_size;

/// Maximum size of one managed policy.
pub const MANAGED_POLICY_LIMIT: usize = 6_144;
/// Maximum size of all inline policies of one role together.
pub const INLINE_TOTAL_LIMIT: usize = 10_240;
/// Managed policies attachable to a role by default.
pub const DEFAULT_MAX_MANAGED_POLICIES: usize = 10;
/// The highest the managed-policies-per-role quota can be raised to.
pub const MAX_MANAGED_POLICIES_LIMIT: usize = 20;

/// Length assumed for an ARN produced by an intrinsic (`!GetAtt X.Arn`, `!Ref X`).
const RESOLVED_ARN_LEN: usize = 100;
/// Length assumed for a `${...}` substitution other than a pseudo parameter.
const RESOLVED_VAR_LEN: usize = 64;

/// IAM size of a policy document once deployed (intrinsics estimated generously).
pub fn estimate_size(doc: &Value) -> usize {
    let resolved = resolve_for_size(doc);
    iam_size(&serde_json::to_string(&resolved).unwrap_or_default())
}

fn resolve_for_size(v: &Value) -> Value {
    match v {
        Value::Object(map) if map.len() == 1 => {
            let Some((k, inner)) = map.iter().next() else {
                return v.clone();
            };
            match k.as_str() {
                "Ref" | "Fn::GetAtt" | "Fn::ImportValue" | "Fn::Join" | "Fn::Select" | "Fn::If"
                | "Fn::FindInMap" => Value::String("x".repeat(RESOLVED_ARN_LEN)),
                "Fn::Sub" => {
                    let text = match inner {
                        Value::String(s) => s.as_str(),
                        Value::Array(items) => items.first().and_then(Value::as_str).unwrap_or(""),
                        _ => "",
                    };
                    Value::String(estimate_sub(text))
                }
                _ => Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), resolve_for_size(v)))
                        .collect::<Map<_, _>>(),
                ),
            }
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolve_for_size(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(resolve_for_size).collect()),
        other => other.clone(),
    }
}

fn estimate_sub(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(after);
            return out;
        };
        let name = &after[..end];
        let len = match name {
            "AWS::Partition" => 10,
            "AWS::Region" => 14,
            "AWS::AccountId" => 12,
            n if n.ends_with(".Arn") => RESOLVED_ARN_LEN,
            _ => RESOLVED_VAR_LEN,
        };
        out.push_str(&"x".repeat(len));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A policy document around statements.
pub fn document(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Packs statements into as few documents as possible, each within `limit`. A statement too
/// big on its own is split by halving its Action list. `None` when a single-action statement
/// still does not fit.
pub fn split_into_documents(statements: &[Value], limit: usize) -> Option<Vec<Vec<Value>>> {
    let mut pieces: Vec<Value> = Vec::new();
    for st in statements {
        pieces.extend(split_statement(st, limit)?);
    }
    let mut docs: Vec<Vec<Value>> = Vec::new();
    for st in pieces {
        let fits_last = docs.last().is_some_and(|d| {
            let mut candidate = d.clone();
            candidate.push(st.clone());
            estimate_size(&document(candidate)) <= limit
        });
        match docs.last_mut() {
            Some(d) if fits_last => d.push(st),
            _ => docs.push(vec![st]),
        }
    }
    Some(docs)
}

fn split_statement(st: &Value, limit: usize) -> Option<Vec<Value>> {
    if estimate_size(&document(vec![st.clone()])) <= limit {
        return Some(vec![st.clone()]);
    }
    let actions = st.get("Action")?.as_array()?;
    if actions.len() < 2 {
        return None;
    }
    let (a, b) = actions.split_at(actions.len() / 2);
    let mut out = Vec::new();
    for (i, half) in [a, b].into_iter().enumerate() {
        let mut part = st.clone();
        if let Some(obj) = part.as_object_mut() {
            obj.insert("Action".into(), Value::Array(half.to_vec()));
            if let Some(Value::String(sid)) = obj.get("Sid").cloned() {
                obj.insert("Sid".into(), Value::String(format!("{sid}Part{}", i + 1)));
            }
        }
        out.extend(split_statement(&part, limit)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(n: usize) -> Value {
        let actions: Vec<Value> = (0..n)
            .map(|i| Value::String(format!("ec2:DescribeSomethingNumber{i:04}")))
            .collect();
        json!({"Sid": "Ec2Access", "Effect": "Allow", "Action": actions, "Resource": "*"})
    }

    #[test]
    fn intrinsics_count_as_long_arns() {
        let doc = document(vec![json!({"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": {"Fn::GetAtt": ["B", "Arn"]}})]);
        let literal = document(vec![json!({"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "x".repeat(100)})]);
        assert_eq!(estimate_size(&doc), estimate_size(&literal));
        let sub = document(vec![json!({"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::b/*"}})]);
        assert_eq!(
            estimate_size(&sub),
            iam_size(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:xxxxxxxxxx:s3:::b/*"}]}"#
            )
        );
    }

    #[test]
    fn splits_big_statements_and_packs_documents_within_the_limit() {
        let big = statement(600);
        assert!(estimate_size(&document(vec![big.clone()])) > MANAGED_POLICY_LIMIT);
        let docs =
            split_into_documents(&[big, statement(3)], MANAGED_POLICY_LIMIT).unwrap_or_default();
        assert!(docs.len() >= 4, "{} documents", docs.len());
        let mut total_actions = 0;
        for d in &docs {
            assert!(estimate_size(&document(d.clone())) <= MANAGED_POLICY_LIMIT);
            for st in d {
                total_actions += st["Action"].as_array().map(Vec::len).unwrap_or(0);
            }
        }
        assert_eq!(total_actions, 603);
    }

    #[test]
    fn single_action_too_big_cannot_fit() {
        let st =
            json!({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "x".repeat(200)});
        assert_eq!(split_into_documents(&[st], 100), None);
    }
}
