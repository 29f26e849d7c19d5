//! An `Action` chosen by a value-level `Fn::If`, narrowed branch by branch.
//!
//! ```yaml
//! Action: !If [IsProd, ["s3:*"], ["s3:GetObject", "s3:PutObject"]]
//! Action: ["s3:GetObject", !If [IsProd, "s3:DeleteObject", !Ref AWS::NoValue]]
//! ```
//!
//! The template engine records such a statement once, with the actions of both branches. Taken
//! as one statement it cannot be narrowed: an action kept from one branch would be written
//! unconditionally and granted in deployments where it never was. So the statement becomes
//! two variants for the decision, one per branch, each `conditional` (an action seen in one
//! deployment is never taken as used in the other) and tagged with the branch's pointer
//! (`…/Statement/0/Action/Fn::If/1`). Whatever is derived from a variant is written back under
//! the same condition: `Action: !If [IsProd, [kept of branch 1], [kept of branch 2]]` when each
//! branch keeps exactly one statement on the original Resource, otherwise a statement-level
//! `Fn::If` around what each branch keeps (`AWS::NoValue` for a branch left with nothing), the
//! form the statement-level `Fn::If` rewrite already writes.
//!
//! Only one `Fn::If` per `Action`, whose branches are literal actions, is handled; anything else
//! (nested `Fn::If`, `Ref` to a parameter, an intrinsic `NotAction`) stays as written, with
//! the reason.

use serde_json::{Map, Value, json};

use super::model::GrantStatement;
use crate::catalog::Catalog;

/// The shape of one `Action` with an `Fn::If`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionIf {
    /// Where the `Fn::If` is, relative to the statement: `/Action` or `/Action/<item>`.
    pub at: String,
    /// The condition's name.
    pub condition: Value,
    /// Literal items of an `Action` list beside the `Fn::If` (both deployments have them).
    pub fixed: Vec<String>,
    /// The action patterns of each branch (`AWS::NoValue` gives none).
    pub branches: [Vec<String>; 2],
    /// Whether the `Fn::If` is the whole `Action` (rather than one item of a list).
    pub whole: bool,
}

impl ActionIf {
    /// The pointer of branch `i` (1 or 2) under the statement at `statement_path`: the key
    /// the derived statements of that branch are filed under.
    pub fn branch_key(&self, statement_path: &str, i: usize) -> String {
        format!("{statement_path}{}/Fn::If/{i}", self.at)
    }
}

/// Reads the `Action` of a statement (its JSON, intrinsics in long form). `Ok(None)`: no
/// intrinsic in it. `Err`: an intrinsic keycard does not narrow, with the reason.
pub fn parse(statement: &Value) -> Result<Option<ActionIf>, String> {
    if statement
        .get("NotAction")
        .is_some_and(|v| !is_literal_list(v))
    {
        return Err(
            "a NotAction is written with an intrinsic function and is only known when deployed"
                .into(),
        );
    }
    let Some(action) = statement.get("Action") else {
        return Ok(None);
    };
    if is_literal_list(action) {
        return Ok(None);
    }
    let unsupported = || {
        "an Action is written with an intrinsic function other than one Fn::If between literal actions (a Ref, Fn::Split, nested Fn::If, …) and is only known when deployed".to_string()
    };
    if let Some((condition, yes, no)) = if_args(action) {
        return Ok(Some(ActionIf {
            at: "/Action".into(),
            condition,
            fixed: Vec::new(),
            branches: [
                branch_actions(yes, true).ok_or_else(unsupported)?,
                branch_actions(no, true).ok_or_else(unsupported)?,
            ],
            whole: true,
        }));
    }
    let Some(items) = action.as_array() else {
        return Err(unsupported());
    };
    let mut fixed = Vec::new();
    let mut found: Option<ActionIf> = None;
    for (i, item) in items.iter().enumerate() {
        if let Some(s) = item.as_str() {
            fixed.push(s.to_string());
            continue;
        }
        let Some((condition, yes, no)) = if_args(item) else {
            return Err(unsupported());
        };
        if found.is_some() {
            return Err(
                "an Action list holds more than one Fn::If: its deployments multiply, so it is left as written".into(),
            );
        }
        found = Some(ActionIf {
            at: format!("/Action/{i}"),
            condition,
            fixed: Vec::new(),
            branches: [
                branch_actions(yes, false).ok_or_else(unsupported)?,
                branch_actions(no, false).ok_or_else(unsupported)?,
            ],
            whole: false,
        });
    }
    let mut found = found.ok_or_else(unsupported)?;
    found.fixed = fixed;
    Ok(Some(found))
}

/// The two variants of a statement whose `Action` is chosen by `ai`: each grants the literal
/// items and one branch's actions, exists only in the deployments that take that branch, and
/// carries the branch's pointer so what is derived from it is written back there.
pub fn variants(st: &GrantStatement, ai: &ActionIf, statement_path: &str) -> Vec<GrantStatement> {
    let catalog = Catalog::embedded();
    (1..=2)
        .map(|i| {
            let actions: Vec<String> = ai
                .fixed
                .iter()
                .chain(ai.branches[i - 1].iter())
                .cloned()
                .collect();
            let effective = catalog.effective::<_, &str>(&actions, &[]).actions;
            GrantStatement {
                actions,
                not_actions: Vec::new(),
                effective: effective.into(),
                conditional: true,
                branch: Some(ai.branch_key(statement_path, i)),
                ..st.clone()
            }
        })
        .collect()
}

/// The list items that take the place of the original statement `raw`, from the statements
/// derived from each branch (`a` for the condition's true branch, `b` for the false one).
pub fn rewrite(raw: &Value, ai: &ActionIf, a: &[Value], b: &[Value]) -> Vec<Value> {
    if ai.whole
        && let ([one], [two]) = (a, b)
        && same_but_action(raw, one)
        && same_but_action(raw, two)
        && let (Some(x), Some(y)) = (one.get("Action"), two.get("Action"))
        && let Some(obj) = raw.as_object()
    {
        let mut out: Map<String, Value> = obj.clone();
        // Both deployments keep the same actions: the condition no longer chooses anything.
        let action = if x == y {
            x.clone()
        } else {
            json!({"Fn::If": [ai.condition.clone(), x.clone(), y.clone()]})
        };
        out.insert("Action".into(), action);
        return vec![Value::Object(out)];
    }
    // Both branches keep the same statements: they no longer depend on the condition.
    let without_sid = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("Sid");
        }
        v
    };
    if a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| without_sid(x) == without_sid(y))
    {
        return a.to_vec();
    }
    let none = || json!({"Ref": "AWS::NoValue"});
    (0..a.len().max(b.len()))
        .map(|i| {
            json!({"Fn::If": [
                ai.condition.clone(),
                a.get(i).cloned().unwrap_or_else(none),
                b.get(i).cloned().unwrap_or_else(none),
            ]})
        })
        .collect()
}

/// Whether `derived` is `original` with another `Action` (and any Sid): same Effect,
/// Resource, NotResource and Condition, nothing else.
fn same_but_action(original: &Value, derived: &Value) -> bool {
    let strip = |v: &Value| -> Option<Map<String, Value>> {
        let mut m = v.as_object()?.clone();
        m.remove("Sid");
        m.remove("Action");
        Some(m)
    };
    matches!((strip(original), strip(derived)), (Some(x), Some(y)) if x == y)
}

/// A string or a list of strings.
fn is_literal_list(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Array(items) => items.iter().all(Value::is_string),
        _ => false,
    }
}

fn if_args(v: &Value) -> Option<(Value, &Value, &Value)> {
    let obj = v.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    match obj.get("Fn::If")?.as_array()?.as_slice() {
        [cond, yes, no] if cond.is_string() => Some((cond.clone(), yes, no)),
        _ => None,
    }
}

/// A branch's actions: a string, `AWS::NoValue`, or (for a whole `Action`) a list of strings.
fn branch_actions(v: &Value, whole: bool) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) if whole => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        Value::Object(m)
            if m.len() == 1 && m.get("Ref").and_then(Value::as_str) == Some("AWS::NoValue") =>
        {
            Some(Vec::new())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(action: Value) -> Value {
        json!({"Effect": "Allow", "Action": action, "Resource": "*"})
    }

    #[test]
    fn a_whole_action_if_is_read_with_both_branches() {
        let st = allow(json!({"Fn::If": ["IsProd", ["s3:*"], ["s3:GetObject", "s3:PutObject"]]}));
        let ai = parse(&st).unwrap().unwrap();
        assert_eq!(ai.at, "/Action");
        assert!(ai.whole);
        assert_eq!(ai.branches[0], vec!["s3:*".to_string()]);
        assert_eq!(ai.branches[1].len(), 2);
        assert_eq!(
            ai.branch_key(
                "/Resources/R/Properties/Policies/0/PolicyDocument/Statement/0",
                2
            ),
            "/Resources/R/Properties/Policies/0/PolicyDocument/Statement/0/Action/Fn::If/2"
        );
    }

    #[test]
    fn an_if_item_in_a_list_keeps_the_literal_items_in_both_variants() {
        let st = allow(json!([
            "s3:GetObject",
            {"Fn::If": ["IsProd", "s3:DeleteObject", {"Ref": "AWS::NoValue"}]}
        ]));
        let ai = parse(&st).unwrap().unwrap();
        assert_eq!(ai.at, "/Action/1");
        assert_eq!(ai.fixed, vec!["s3:GetObject".to_string()]);
        assert!(ai.branches[1].is_empty());
        let base = GrantStatement::allow_all_resources([
            "s3:GetObject".to_string(),
            "s3:DeleteObject".to_string(),
        ]);
        let v = variants(&base, &ai, "/S/0");
        assert!(v[0].effective.contains("s3:DeleteObject"));
        assert!(v[0].effective.contains("s3:GetObject"));
        assert!(!v[1].effective.contains("s3:DeleteObject"));
        assert!(v[1].effective.contains("s3:GetObject"));
        assert!(v.iter().all(|s| s.conditional));
        assert_eq!(v[1].branch.as_deref(), Some("/S/0/Action/1/Fn::If/2"));
    }

    #[test]
    fn other_intrinsics_are_refused_with_a_reason() {
        assert_eq!(parse(&allow(json!("s3:GetObject"))), Ok(None));
        assert!(parse(&allow(json!({"Ref": "Actions"}))).is_err());
        assert!(
            parse(&allow(
                json!({"Fn::If": ["C", {"Fn::If": ["D", "a:B", "a:C"]}, "a:D"]})
            ))
            .is_err()
        );
        assert!(
            parse(&allow(json!([
                {"Fn::If": ["C", "s3:GetObject", "s3:PutObject"]},
                {"Fn::If": ["D", "s3:ListBucket", {"Ref": "AWS::NoValue"}]}
            ])))
            .is_err()
        );
        // A list inside a list item would nest lists, which IAM refuses.
        assert!(
            parse(&allow(
                json!([{"Fn::If": ["C", ["s3:GetObject"], "s3:PutObject"]}])
            ))
            .is_err()
        );
        let not_action = json!({"Effect": "Allow", "NotAction": {"Ref": "P"}, "Resource": "*"});
        assert!(parse(&not_action).is_err());
    }

    #[test]
    fn one_statement_per_branch_on_the_same_resource_stays_an_action_if() {
        let raw = json!({"Sid": "Data", "Effect": "Allow",
            "Action": {"Fn::If": ["IsProd", ["s3:*"], ["s3:GetObject", "s3:PutObject"]]},
            "Resource": "arn:aws:s3:::b/*"});
        let ai = parse(&raw).unwrap().unwrap();
        let a = [
            json!({"Sid": "Data", "Effect": "Allow", "Action": ["s3:DeleteObject", "s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}),
        ];
        let b = [
            json!({"Sid": "Data2", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}),
        ];
        assert_eq!(
            rewrite(&raw, &ai, &a, &b),
            vec![json!({"Sid": "Data", "Effect": "Allow",
                "Action": {"Fn::If": ["IsProd", ["s3:DeleteObject", "s3:GetObject"], "s3:GetObject"]},
                "Resource": "arn:aws:s3:::b/*"})]
        );
    }

    #[test]
    fn an_emptied_branch_or_narrowed_resources_become_a_statement_level_if() {
        let raw = allow(json!({"Fn::If": ["IsProd", ["s3:*"], ["s3:GetObject"]]}));
        let ai = parse(&raw).unwrap().unwrap();
        let a = [
            json!({"Sid": "S3Access", "Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"}),
        ];
        let out = rewrite(&raw, &ai, &a, &[]);
        assert_eq!(
            out,
            vec![json!({"Fn::If": ["IsProd", a[0].clone(), {"Ref": "AWS::NoValue"}]})]
        );
    }
}
