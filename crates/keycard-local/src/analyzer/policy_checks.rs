//! The policy checks the chain calls (ValidatePolicy, CheckNoNewAccess), answered from
//! keycard's own catalog: unknown actions are reported with their location, and "new access"
//! compares allowed actions only (not resources or conditions).

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use keycard_core::catalog::Catalog;
use serde_json::{Value, json};

use super::*;

/// An Allow statement: its index, `Action` and `NotAction` patterns.
type AllowStatement = (usize, Vec<String>, Vec<String>);

/// Every Allow statement; `Err` when the document is not a policy.
fn allow_actions(doc: &Value) -> Result<Vec<AllowStatement>, String> {
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return Err("the policy has no Statement".into()),
    };
    let list = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    };
    Ok(statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
        .map(|(i, s)| (i, list(s.get("Action")), list(s.get("NotAction"))))
        .collect())
}

fn position(text: &str, offset: usize) -> Value {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |n| offset - n - 1);
    json!({"line": line, "column": column, "offset": offset})
}

pub(super) fn validate_policy(state: &State, body: &Value) -> Reply {
    state.stats.validations.fetch_add(1, Ordering::Relaxed);
    let Some(text) = body.get("policyDocument").and_then(Value::as_str) else {
        return validation("policyDocument is required");
    };
    let mut findings = Vec::new();
    match serde_json::from_str::<Value>(text)
        .map_err(|e| e.to_string())
        .and_then(|d| allow_actions(&d))
    {
        Err(e) => findings.push(json!({
            "findingType": "ERROR",
            "issueCode": "JSON_SYNTAX_ERROR",
            "findingDetails": e,
            "learnMoreLink": "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html#access-analyzer-reference-policy-checks-error-json-syntax-error",
            "locations": [{"path": [], "span": {"start": position(text, 0), "end": position(text, text.len())}}],
        })),
        Ok(statements) => {
            let catalog = Catalog::embedded();
            for (si, actions, _) in statements {
                for (ai, a) in actions.iter().enumerate() {
                    let known = if a.contains('*') || a.contains('?') {
                        !catalog.expand(a).actions.is_empty()
                    } else {
                        catalog.contains(a)
                    };
                    if known {
                        continue;
                    }
                    let at = text.find(&format!("\"{a}\"")).unwrap_or(0);
                    findings.push(json!({
                        "findingType": "ERROR",
                        "issueCode": "INVALID_ACTION",
                        "findingDetails": format!("The action {a} does not exist."),
                        "learnMoreLink": "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html#access-analyzer-reference-policy-checks-error-invalid-action",
                        "locations": [{
                            "path": [{"value": "Statement"}, {"index": si}, {"value": "Action"}, {"index": ai}],
                            "span": {"start": position(text, at), "end": position(text, at + a.len() + 2)},
                        }],
                    }));
                }
            }
        }
    }
    reply(200, &json!({ "findings": findings }))
}

fn allowed(doc: &str) -> Result<BTreeSet<String>, String> {
    let v: Value = serde_json::from_str(doc).map_err(|e| e.to_string())?;
    let catalog = Catalog::embedded();
    let mut out = BTreeSet::new();
    for (_, actions, not_actions) in allow_actions(&v)? {
        out.extend(catalog.effective(&actions, &not_actions).actions);
    }
    Ok(out)
}

pub(super) fn check_no_new_access(state: &State, body: &Value) -> Reply {
    state.stats.access_checks.fetch_add(1, Ordering::Relaxed);
    let (Some(new), Some(existing)) = (
        body.get("newPolicyDocument").and_then(Value::as_str),
        body.get("existingPolicyDocument").and_then(Value::as_str),
    ) else {
        return validation("newPolicyDocument and existingPolicyDocument are required");
    };
    let (new, existing) = match (allowed(new), allowed(existing)) {
        (Ok(n), Ok(e)) => (n, e),
        (Err(e), _) | (_, Err(e)) => return validation(&format!("invalid policy document: {e}")),
    };
    let added: Vec<&String> = new.difference(&existing).collect();
    if added.is_empty() {
        reply(
            200,
            &json!({
                "result": "PASS",
                "message": "The modified permissions do not grant new access compared to your existing policy.",
                "reasons": [],
            }),
        )
    } else {
        let reasons: Vec<Value> = added
            .iter()
            .take(20)
            .map(|a| json!({"description": format!("New access in the statement: {a}")}))
            .collect();
        reply(
            200,
            &json!({
                "result": "FAIL",
                "message": "The modified permissions grant new access compared to your existing policy.",
                "reasons": reasons,
            }),
        )
    }
}
