//! The seam with the template engine, outbound: the plan → edits of the template (documents
//! rewritten in place, replaced sources removed, connectors narrowed, new policies added). The
//! engine applies them and changes only the targeted bytes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::ProposalError;
use super::placement::Placement;
use super::plan::{DocumentRewrite, Planned};
use super::size::document;
use crate::report::RoleStatus;
use crate::template::{Edit, Grant, GrantKind, Grants, StatementRecord, Template};

/// Name of the inline policy keycard adds to a role for replaced grants.
pub(crate) const INLINE_POLICY_NAME: &str = "keycard-least-privilege";

/// The edits that write the plan into the template.
pub(crate) fn edits_for(
    template: &Template,
    grants: &Grants,
    planned: &Planned,
) -> Result<Vec<Edit>, ProposalError> {
    let mut edits = Vec::new();
    let by_path: BTreeMap<&str, &Grant> =
        grants.grants.iter().map(|g| (g.path.as_str(), g)).collect();

    // Rewritten documents.
    for (path, rewrite) in &planned.documents {
        let Some(g) = by_path.get(path.as_str()) else {
            continue;
        };
        if g.kind == GrantKind::Connector {
            continue;
        }
        if rewrite.statements.is_empty() {
            // The plan never empties a document that cannot go (see `unremovable`).
            edits.extend(removal_of_document(g));
            continue;
        }
        let statements = if g
            .statements
            .iter()
            .any(|s| !s.conditions.is_empty() || action_if_of(s).is_some())
        {
            statement_tree(template, g, rewrite)
        } else {
            Value::Array(rewrite.statements.clone())
        };
        if g.document_is_json_string {
            let mut doc = template
                .node(path)
                .and_then(|n| n.as_str())
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .unwrap_or_else(|| json!({"Version": "2012-10-17"}));
            if let Some(obj) = doc.as_object_mut() {
                obj.insert("Statement".into(), statements);
            }
            edits.push(Edit::replace(
                path,
                Value::String(serde_json::to_string(&doc).unwrap_or_default()),
            ));
        } else if template
            .node(path)
            .is_some_and(|n| n.get("Statement").is_some())
        {
            edits.push(Edit::replace(&format!("{path}/Statement"), statements));
        } else {
            edits.push(Edit::replace(path, document(rewrite.statements.clone())));
        }
    }
    // Connectors keep the categories they need.
    for (path, kept) in &planned.connector_permissions {
        let written: Vec<&str> = template
            .node(path)
            .and_then(|n| n.as_seq())
            .map(|items| items.iter().filter_map(|i| i.as_str()).collect())
            .unwrap_or_default();
        let narrowed: Vec<Value> = written
            .iter()
            .filter(|c| kept.contains(**c))
            .map(|c| Value::String((*c).to_string()))
            .collect();
        if !narrowed.is_empty() && narrowed.len() < written.len() {
            edits.push(Edit::replace(path, Value::Array(narrowed)));
        }
    }
    // Replaced sources go away; a replaced connector as a whole.
    let is_connector = |p: &str| {
        by_path
            .get(p)
            .is_some_and(|g| g.kind == GrantKind::Connector)
    };
    for path in planned.removed_sources.iter().filter(|p| !is_connector(p)) {
        edits.push(Edit::remove(path));
    }
    edits.extend(super::connector_swap::removal_edits(
        template,
        planned
            .removed_sources
            .iter()
            .map(String::as_str)
            .filter(|p| is_connector(p)),
    ));
    // AWS managed policies swapped for a narrower one, written the way the original was.
    for (path, policy) in &planned.swapped_sources {
        if let Some(value) = template
            .node(path)
            .and_then(|n| swapped_reference(n, policy))
        {
            edits.push(Edit::replace(path, value));
        }
    }
    // Replacement statements.
    for o in planned
        .outcomes
        .iter()
        .filter(|o| o.status == RoleStatus::Proposed)
    {
        let principal = grants.principal(&o.logical_id);
        let (declared_by, implicit, ptype) = match principal {
            Some(p) => (
                p.declared_by.as_str(),
                p.implicit,
                p.principal_type.as_str(),
            ),
            None => (o.logical_id.as_str(), false, "AWS::IAM::Role"),
        };
        // SAM policy templates chosen instead of statements ([`super::policy_template_swap`]);
        // only implicit SAM roles get them.
        let mut items: Vec<Value> = o
            .plan
            .policy_templates
            .iter()
            .map(|t| t.policy_item())
            .collect();
        match &o.placement {
            Placement::None => {
                if !items.is_empty() {
                    let edit = push_or_create(template, &mut edits, declared_by, "Policies", items);
                    edits.push(edit);
                }
            }
            Placement::Inline(statements) => {
                items.push(if implicit {
                    json!({"Statement": statements})
                } else {
                    json!({
                        "PolicyName": INLINE_POLICY_NAME,
                        "PolicyDocument": document(statements.clone()),
                    })
                });
                let edit = push_or_create(template, &mut edits, declared_by, "Policies", items);
                edits.push(edit);
            }
            Placement::Managed(docs) => {
                if !items.is_empty() {
                    let edit = push_or_create(template, &mut edits, declared_by, "Policies", items);
                    edits.push(edit);
                }
                let attach_key = match ptype {
                    "AWS::IAM::User" => "Users",
                    _ => "Roles",
                };
                for (i, d) in docs.iter().enumerate() {
                    let id = format!("{}KeycardPolicy{}", o.logical_id, i + 1);
                    edits.push(Edit::add_resource(
                        &id,
                        json!({
                            "Type": "AWS::IAM::ManagedPolicy",
                            "Properties": {
                                "Description": format!(
                                    "keycard least-privilege policy {} of {} for {} (replaces broader grants)",
                                    i + 1, docs.len(), o.logical_id
                                ),
                                "PolicyDocument": document(d.clone()),
                                attach_key: [{"Ref": o.role_logical_id}],
                            }
                        }),
                    ));
                }
            }
        }
    }
    Ok(collapse_emptied_lists(template, edits))
}

/// The reference to `policy` in the form of `original`: a SAM name stays a name, a literal ARN
/// keeps its partition, an `Fn::Sub` becomes `Fn::Sub` with `${AWS::Partition}`. `None` for a
/// form keycard does not write (the original then stays, which never grants more).
fn swapped_reference(
    original: &crate::template::Node,
    policy: &crate::managed_policies::ManagedPolicy,
) -> Option<Value> {
    if let Some(text) = original.as_str() {
        return Some(Value::String(match text.strip_prefix("arn:") {
            Some(rest) => policy.arn_in(rest.split(':').next().unwrap_or("aws")),
            None => policy.name().to_string(),
        }));
    }
    match original.intrinsic() {
        Some(("Fn::Sub", _)) => Some(json!({"Fn::Sub": policy.arn_in("${AWS::Partition}")})),
        _ => None,
    }
}

/// When every item of a list is removed and nothing is added to it, removes the property
/// instead (`ManagedPolicyArns: []` reads like a mistake).
fn collapse_emptied_lists(template: &Template, edits: Vec<Edit>) -> Vec<Edit> {
    let mut removed_per_parent: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &edits {
        if let Edit::Remove { path } = e
            && let Some((parent, last)) = path.rsplit_once('/')
            && last.chars().all(|c| c.is_ascii_digit())
        {
            removed_per_parent
                .entry(parent.to_string())
                .or_default()
                .insert(path.clone());
        }
    }
    let touched: BTreeSet<&str> = edits
        .iter()
        .filter(|e| !matches!(e, Edit::Remove { .. }))
        .map(Edit::path)
        .collect();
    let mut emptied: BTreeSet<String> = BTreeSet::new();
    for (parent, items) in &removed_per_parent {
        let len = template
            .node(parent)
            .and_then(|n| n.as_seq())
            .map(<[_]>::len);
        if len == Some(items.len()) && !touched.iter().any(|t| t.starts_with(parent.as_str())) {
            emptied.insert(parent.clone());
        }
    }
    let mut out: Vec<Edit> = edits
        .into_iter()
        .filter(|e| match e {
            Edit::Remove { path } => !path
                .rsplit_once('/')
                .is_some_and(|(parent, _)| emptied.contains(parent)),
            _ => true,
        })
        .collect();
    out.extend(emptied.iter().map(|p| Edit::remove(p)));
    out
}

/// Appends items to a list property, or creates it. When the property is a single value (SAM
/// allows `Policies: AdministratorAccess` or one document), it becomes a list of what is left
/// of that value (taking over the edits planned for it) and the new items. Several items
/// pushed onto a list are one push each, in order, the last one returned.
fn push_or_create(
    template: &Template,
    edits: &mut Vec<Edit>,
    resource: &str,
    key: &str,
    mut new_items: Vec<Value>,
) -> Edit {
    let props = format!("/Resources/{resource}/Properties");
    let path = format!("{props}/{key}");
    match template.node(&path) {
        Some(n) if n.as_seq().is_some() => {
            let last = new_items.pop().unwrap_or(Value::Null);
            edits.extend(new_items.into_iter().map(|i| Edit::push(&path, i)));
            Edit::push(&path, last)
        }
        Some(n) => {
            let mut base = Some(n.to_json());
            if let Some(pos) = edits.iter().position(|e| e.path() == path) {
                match edits.remove(pos) {
                    Edit::Replace { value, .. } => base = Some(value),
                    Edit::Remove { .. } => base = None,
                    _ => {}
                }
            }
            let statement_path = format!("{path}/Statement");
            if let Some(pos) = edits.iter().position(|e| e.path() == statement_path)
                && let Edit::Replace { value, .. } = edits.remove(pos)
                && let Some(obj) = base.as_mut().and_then(Value::as_object_mut)
            {
                obj.insert("Statement".into(), value);
            }
            let mut items: Vec<Value> = base.into_iter().collect();
            items.extend(new_items);
            Edit::replace(&path, Value::Array(items))
        }
        None => Edit::insert(&props, key, Value::Array(new_items)),
    }
}

/// A document left without statements: remove its list item or its resource; an `Fn::If`
/// branch becomes `AWS::NoValue`, which keeps the condition. `None` when the document cannot
/// go: it is one branch of an `Fn::If` inside a `PolicyDocument` (an inline policy or policy
/// resource needs a document in every deployment).
pub(crate) fn removal_of_document(g: &Grant) -> Option<Edit> {
    let target = match g.kind {
        // `/Resources/R/Properties/Policies/N/PolicyDocument` → the Policies item.
        GrantKind::InlinePolicy => g.path.strip_suffix("/PolicyDocument")?.to_string(),
        GrantKind::PolicyResource | GrantKind::ManagedPolicyResource => {
            if g.path.contains("/Fn::If/") {
                return None;
            }
            format!("/Resources/{}", g.source)
        }
        _ => g.path.clone(),
    };
    if target.ends_with("/Fn::If/1") || target.ends_with("/Fn::If/2") {
        return Some(Edit::replace(&target, json!({"Ref": "AWS::NoValue"})));
    }
    Some(Edit::remove(&target))
}

/// The new `Statement` of a document with statements under `Fn::If`: the original structure,
/// each Deny as written, each Allow under an `Fn::If` replaced by what was derived from it (a
/// branch left with nothing becomes `AWS::NoValue`; several statements become several
/// `Fn::If` items with the same condition), and the Allow statements outside any `Fn::If`
/// replaced, where the first of them was, by the derived unconditional statements.
fn statement_tree(template: &Template, g: &Grant, rewrite: &DocumentRewrite) -> Value {
    let path = format!("{}/Statement", g.path);
    let Some(node) = template.node(&path) else {
        return Value::Array(rewrite.statements.clone());
    };
    let walk = TreeWalk {
        rewrite,
        branched: g
            .statements
            .iter()
            .filter(|s| !s.conditions.is_empty())
            .map(|s| s.path.as_str())
            .collect(),
        action_ifs: g
            .statements
            .iter()
            .filter_map(|s| Some((s.path.as_str(), action_if_of(s)?)))
            .collect(),
    };
    let mut unconditional = Some(rewrite.unconditional.clone());
    let mut value = walk.statement_value(node, &path, &mut unconditional);
    if let (Some(rest), Value::Array(items)) = (unconditional, &mut value)
        && !rest.is_empty()
    {
        items.extend(rest);
    }
    value
}

struct TreeWalk<'a> {
    rewrite: &'a DocumentRewrite,
    /// Paths of the statements under an `Fn::If`.
    branched: BTreeSet<&'a str>,
    /// Allow statements whose `Action` is chosen by `Fn::If`, by path.
    action_ifs: BTreeMap<&'a str, super::action_if::ActionIf>,
}

/// The `Fn::If` choosing an Allow statement's `Action`, when keycard narrows it.
fn action_if_of(s: &StatementRecord) -> Option<super::action_if::ActionIf> {
    if !s.is_allow() || !s.conditions.is_empty() {
        return None;
    }
    super::action_if::parse(&s.raw).ok().flatten()
}

impl TreeWalk<'_> {
    /// A `Statement` value (or an `Fn::If` branch of one): a list, one statement, or an
    /// `Fn::If` choosing between them.
    fn statement_value(
        &self,
        node: &crate::template::Node,
        path: &str,
        unconditional: &mut Option<Vec<Value>>,
    ) -> Value {
        if let Some((cond, yes, no)) = if_args(node) {
            let a = self.statement_value(yes, &format!("{path}/Fn::If/1"), unconditional);
            let b = self.statement_value(no, &format!("{path}/Fn::If/2"), unconditional);
            return json!({"Fn::If": [cond, a, b]});
        }
        if node.is_no_value() {
            return node.to_json();
        }
        let items = match node.as_seq() {
            Some(items) => items
                .iter()
                .enumerate()
                .flat_map(|(i, item)| self.items(item, &format!("{path}/{i}"), unconditional))
                .collect(),
            None => self.items(node, path, unconditional),
        };
        Value::Array(items)
    }

    /// The list items that take the place of one original list item.
    fn items(
        &self,
        node: &crate::template::Node,
        path: &str,
        unconditional: &mut Option<Vec<Value>>,
    ) -> Vec<Value> {
        if node.is_no_value() {
            return Vec::new();
        }
        if let Some((cond, yes, no)) = if_args(node) {
            let a = self.items(yes, &format!("{path}/Fn::If/1"), unconditional);
            let b = self.items(no, &format!("{path}/Fn::If/2"), unconditional);
            let none = || json!({"Ref": "AWS::NoValue"});
            return (0..a.len().max(b.len()))
                .map(|i| {
                    json!({"Fn::If": [
                        cond.clone(),
                        a.get(i).cloned().unwrap_or_else(none),
                        b.get(i).cloned().unwrap_or_else(none),
                    ]})
                })
                .collect();
        }
        if node.get("Effect").and_then(|e| e.as_str()) != Some("Allow") {
            return vec![node.to_json()];
        }
        if let Some(ai) = self.action_ifs.get(path) {
            let branch = |i: usize| {
                self.rewrite
                    .by_branch
                    .get(&ai.branch_key(path, i))
                    .cloned()
                    .unwrap_or_default()
            };
            return super::action_if::rewrite(&node.to_json(), ai, &branch(1), &branch(2));
        }
        if self.branched.contains(path) {
            return self
                .rewrite
                .by_branch
                .get(path)
                .cloned()
                .unwrap_or_default();
        }
        unconditional.take().unwrap_or_default()
    }
}

/// The condition name and both branches of an `Fn::If`.
fn if_args(
    node: &crate::template::Node,
) -> Option<(Value, &crate::template::Node, &crate::template::Node)> {
    let ("Fn::If", arg) = node.intrinsic()? else {
        return None;
    };
    match arg.as_seq()? {
        [cond, yes, no] => Some((cond.to_json(), yes, no)),
        _ => None,
    }
}
