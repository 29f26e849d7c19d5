//! The seam with the template engine: its grants → the proposal's model, and the plan → edits
//! of the template (applied by the engine, which changes only the targeted bytes).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::keep::{keep_from_metadata, retention_cutoff, update_ledger};
use super::model::{GrantSource, GrantStatement, PrincipalGrants, SourceKind};
use super::pipeline::{
    Placement, Planned, PrincipalModel, TemplateModel, build_report, plan_principals,
};
use super::resolve::PrincipalRef;
use super::resources::TemplateResource;
use super::size::document;
use super::{Proposal, ProposalError, ProposalInput, TemplateFormat};
use crate::policy::Effect;
use crate::report::{NotAnalysable, RoleStatus};
use crate::template::{
    Edit, Format, Grant, GrantKind, Grants, PhysicalName, StatementRecord, Template, find_grants,
    unified_diff,
};

/// Name of the inline policy keycard adds to a role for replaced grants.
pub const INLINE_POLICY_NAME: &str = "keycard-least-privilege";

/// Loads the template, plans, rewrites, checks and reports.
pub fn propose(input: &ProposalInput) -> Result<Proposal, ProposalError> {
    let template = Template::load(&input.template_name, &input.template_text)?;
    let grants = find_grants(&template);
    let model = model_from_template(&template, &grants);
    let planned = plan_principals(&model, input)?;
    let edits = edits_for(&template, &grants, &planned)?;
    let text = apply_in_order(&template, edits)?;
    verify_never_broader(input, &text, &grants, &planned)?;
    let diff = unified_diff(&input.template_text, &text, &input.template_name);
    let mut report = build_report(&planned, &model, input);
    report.diff = Some(diff.clone());
    let cutoff = retention_cutoff(planned.reference_time, input.options.retention_days)?;
    let ledger = update_ledger(input.ledger.as_ref(), &input.usage, cutoff);
    Ok(Proposal {
        template: text,
        format: match template.format() {
            Format::Yaml => TemplateFormat::Yaml,
            Format::Json => TemplateFormat::Json,
        },
        diff,
        report,
        ledger,
    })
}

/// Builds the proposal's model from the template engine's findings.
pub fn model_from_template(template: &Template, grants: &Grants) -> TemplateModel {
    let mut model = TemplateModel::default();
    for (id, node) in template.resources() {
        let json = node.to_json();
        model.resources.push(TemplateResource {
            logical_id: id.to_string(),
            resource_type: json
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            properties: json.get("Properties").cloned().unwrap_or(Value::Null),
        });
    }
    if let Some(params) = template.node("/Parameters").map(|n| n.to_json())
        && let Some(map) = params.as_object()
    {
        for (name, p) in map {
            if let Some(default) = p.get("Default") {
                let value = match default {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                model.parameters.insert(name.clone(), value);
            }
        }
    }
    for n in &grants.not_analysable {
        model.not_analysable.push(NotAnalysable {
            location: format!("{} ({}:{})", n.path, n.line, n.column),
            reason: n.reason.clone(),
        });
    }

    // Policy resources other parts of the template refer to cannot be deleted.
    let root = template.root().to_json();
    for g in &grants.grants {
        if matches!(
            g.kind,
            GrantKind::PolicyResource | GrantKind::ManagedPolicyResource
        ) && is_referenced(&root, &g.source)
        {
            model.unremovable.insert(g.path.clone());
        }
    }

    // Which principals each source (by path) reaches, for shared policies.
    let mut attached: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for g in &grants.grants {
        attached
            .entry(&g.path)
            .or_default()
            .push(g.principal.clone());
    }

    for p in &grants.principals {
        if p.principal_type == "AWS::IAM::Group" {
            model.not_analysable.push(NotAnalysable {
                location: format!("{} ({}:{})", p.path, p.line, p.column),
                reason: format!(
                    "IAM group {} acts only through its users; its grants are left unchanged",
                    p.logical_id
                ),
            });
            continue;
        }
        let mut keep = Vec::new();
        let metadata = |id: &str| {
            template
                .node(&format!("/Resources/{id}/Metadata"))
                .map(|n| n.to_json())
        };
        if let Some(k) = keep_from_metadata(metadata(&p.declared_by).as_ref()) {
            keep.push(k);
        }
        if p.declared_by != p.logical_id
            && let Some(k) = keep_from_metadata(metadata(&p.logical_id).as_ref())
        {
            keep.push(k);
        }
        let mut sources = Vec::new();
        let mut seen_sources: BTreeSet<String> = BTreeSet::new();
        for g in grants.of(&p.logical_id) {
            if g.source != p.declared_by
                && seen_sources.insert(g.source.clone())
                && let Some(k) = keep_from_metadata(metadata(&g.source).as_ref())
            {
                keep.push(k);
            }
            sources.push(GrantSource {
                id: g.path.clone(),
                label: source_label(g),
                kind: source_kind(g),
                statements: g.statements.iter().map(statement).collect(),
                attached_to: attached.get(g.path.as_str()).cloned().unwrap_or_default(),
            });
        }
        model.principals.push(PrincipalModel {
            grants: PrincipalGrants {
                logical_id: p.logical_id.clone(),
                resource_type: if p.implicit {
                    p.declared_by_type.clone()
                } else {
                    p.principal_type.clone()
                },
                sources,
                keep,
                permissions_boundary: p.permissions_boundary.is_some(),
            },
            reference: PrincipalRef {
                logical_id: p.logical_id.clone(),
                role_logical_id: p.logical_id.clone(),
                name: match &p.name {
                    PhysicalName::Literal(s) => Some(Value::String(s.clone())),
                    PhysicalName::Expression(v) => Some(v.clone()),
                    PhysicalName::Generated => None,
                },
                path: p.iam_path.clone(),
                is_user: p.principal_type == "AWS::IAM::User",
            },
        });
    }
    model
}

/// Whether any resource or output other than `id` itself refers to `id` (`Ref`, `Fn::GetAtt`,
/// `${id}` in `Fn::Sub`, `DependsOn`).
fn is_referenced(root: &Value, id: &str) -> bool {
    fn walk(v: &Value, id: &str) -> bool {
        match v {
            Value::Object(map) => map.iter().any(|(k, val)| match (k.as_str(), val) {
                ("Ref", Value::String(s)) if s == id => true,
                ("Fn::GetAtt", Value::Array(a))
                    if a.first().and_then(Value::as_str) == Some(id) =>
                {
                    true
                }
                ("Fn::GetAtt", Value::String(s)) if s.split('.').next() == Some(id) => true,
                ("DependsOn", Value::String(s)) if s == id => true,
                ("DependsOn", Value::Array(a)) if a.iter().any(|d| d.as_str() == Some(id)) => true,
                _ => walk(val, id),
            }),
            Value::Array(items) => items.iter().any(|i| walk(i, id)),
            Value::String(s) => {
                s.contains(&format!("${{{id}}}")) || s.contains(&format!("${{{id}."))
            }
            _ => false,
        }
    }
    let Some(obj) = root.as_object() else {
        return false;
    };
    obj.iter().any(|(section, v)| match (section.as_str(), v) {
        ("Resources", Value::Object(resources)) => {
            resources.iter().any(|(rid, r)| rid != id && walk(r, id))
        }
        ("Outputs", _) | ("Conditions", _) => walk(v, id),
        _ => false,
    })
}

/// How a grant can be changed.
fn source_kind(g: &Grant) -> SourceKind {
    // Grants in SAM Globals apply to every function; a per-principal proposal cannot change
    // them, and grants under Fn::If would need both branches rewritten.
    if g.path.starts_with("/Globals") || !g.conditions.is_empty() {
        return SourceKind::Fixed;
    }
    // Actions written with intrinsics (`!Ref ActionsParam`) are only known at deploy time; a
    // rewrite could drop them, so such documents are left as they are.
    let intrinsic_actions = g.statements.iter().any(|s| {
        ["Action", "NotAction"].iter().any(|k| match s.raw.get(*k) {
            Some(Value::Array(items)) => items.iter().any(|i| !i.is_string()),
            Some(v) => !v.is_string(),
            None => false,
        })
    });
    if intrinsic_actions {
        return SourceKind::Fixed;
    }
    match g.kind {
        GrantKind::InlinePolicy | GrantKind::PolicyResource | GrantKind::SamInlinePolicy => {
            SourceKind::Document { managed: false }
        }
        GrantKind::ManagedPolicyResource => SourceKind::Document { managed: true },
        GrantKind::ManagedPolicyArn | GrantKind::SamManagedPolicy => {
            // Only AWS managed policies whose statements are known can be replaced.
            let name = g
                .managed_policy_arns
                .first()
                .map(|a| policy_name_of(a))
                .unwrap_or_default();
            if g.effective_actions.is_empty() || g.statements.is_empty() {
                SourceKind::Fixed
            } else {
                SourceKind::AwsManaged { name }
            }
        }
        GrantKind::SamPolicyTemplate => {
            if g.statements.is_empty() {
                SourceKind::Fixed
            } else {
                SourceKind::SamPolicyTemplate {
                    name: g
                        .sam_policy_templates
                        .first()
                        .map(|t| t.name.clone())
                        .unwrap_or_default(),
                }
            }
        }
        GrantKind::Connector => SourceKind::Fixed,
    }
}

/// The policy name in a managed policy ARN as written, also when it is an intrinsic rendered as
/// compact JSON (`{"Fn::Sub":"arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"}`).
fn policy_name_of(arn: &str) -> String {
    let tail = arn.rsplit_once("policy/").map(|(_, t)| t).unwrap_or(arn);
    let name = tail.rsplit('/').next().unwrap_or(tail);
    name.chars()
        .take_while(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '=' | ',' | '.' | '@')
        })
        .collect()
}

/// What a reviewer reads for a grant: `ApiFunction Policies[2]`, `AdministratorAccess`, ….
fn source_label(g: &Grant) -> String {
    match g.kind {
        GrantKind::ManagedPolicyArn | GrantKind::SamManagedPolicy => g
            .managed_policy_arns
            .first()
            .map(|a| policy_name_of(a))
            .unwrap_or_else(|| g.path.clone()),
        GrantKind::SamPolicyTemplate => format!(
            "{} {}",
            g.source,
            g.sam_policy_templates
                .first()
                .map(|t| t.name.as_str())
                .unwrap_or("policy template")
        ),
        GrantKind::InlinePolicy => format!(
            "{} inline policy {}",
            g.source,
            g.policy_name.as_deref().unwrap_or("(unnamed)")
        ),
        GrantKind::PolicyResource | GrantKind::ManagedPolicyResource => g.source.clone(),
        GrantKind::SamInlinePolicy => {
            let index = g
                .path
                .rsplit('/')
                .next()
                .filter(|s| s.chars().all(|c| c.is_ascii_digit()))
                .map(|i| format!("[{i}]"))
                .unwrap_or_default();
            format!("{} Policies{index}", g.source)
        }
        GrantKind::Connector => format!("{} connector", g.source),
    }
}

fn statement(s: &StatementRecord) -> GrantStatement {
    GrantStatement {
        effect: if s.is_allow() {
            Effect::Allow
        } else {
            Effect::Deny
        },
        actions: s.actions.clone(),
        not_actions: s.not_actions.clone(),
        effective: s.effective.clone(),
        resource: s.resource.clone(),
        not_resource: s.not_resource.clone(),
        condition: s.condition.clone(),
        raw: Some(s.raw.clone()),
    }
}

/// The edits that write the plan into the template.
fn edits_for(
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
        if rewrite.statements.is_empty() {
            edits.push(removal_of_document(template, g));
            continue;
        }
        let statements = Value::Array(rewrite.statements.clone());
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
    // Replaced sources go away.
    for path in &planned.removed_sources {
        edits.push(Edit::remove(path));
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
        match &o.placement {
            Placement::None => {}
            Placement::Inline(statements) => {
                let item = if implicit {
                    json!({"Statement": statements})
                } else {
                    json!({
                        "PolicyName": INLINE_POLICY_NAME,
                        "PolicyDocument": document(statements.clone()),
                    })
                };
                let edit = push_or_create(template, &mut edits, declared_by, "Policies", item);
                edits.push(edit);
            }
            Placement::Managed(docs) => {
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

/// Appends to a list property, or creates it. When the property is a single value (SAM
/// allows `Policies: AdministratorAccess` or one document), it becomes a list of what is left
/// of that value (taking over the edits planned for it) and the new item.
fn push_or_create(
    template: &Template,
    edits: &mut Vec<Edit>,
    resource: &str,
    key: &str,
    item: Value,
) -> Edit {
    let props = format!("/Resources/{resource}/Properties");
    let path = format!("{props}/{key}");
    match template.node(&path) {
        Some(n) if n.as_seq().is_some() => Edit::push(&path, item),
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
            items.push(item);
            Edit::replace(&path, Value::Array(items))
        }
        None => Edit::insert(&props, key, Value::Array(vec![item])),
    }
}

/// A document left without statements: remove its list item, or its resource.
fn removal_of_document(_template: &Template, g: &Grant) -> Edit {
    match g.kind {
        // `/Resources/R/Properties/Policies/N/PolicyDocument` → the Policies item.
        GrantKind::InlinePolicy => {
            let item = g
                .path
                .strip_suffix("/PolicyDocument")
                .unwrap_or(&g.path)
                .to_string();
            Edit::remove(&item)
        }
        GrantKind::PolicyResource | GrantKind::ManagedPolicyResource => {
            Edit::remove(&format!("/Resources/{}", g.source))
        }
        _ => Edit::remove(&g.path),
    }
}

/// Applies edits one at a time, in an order that keeps every pointer valid: replacements,
/// then additions (which only append), then removals from the highest list index down.
fn apply_in_order(template: &Template, edits: Vec<Edit>) -> Result<String, ProposalError> {
    if edits.is_empty() {
        return Ok(template.text().to_string());
    }
    let mut replaces = Vec::new();
    let mut adds = Vec::new();
    let mut removes = Vec::new();
    for e in edits {
        match e {
            Edit::Replace { .. } => replaces.push(e),
            Edit::Push { .. } | Edit::Insert { .. } => adds.push(e),
            Edit::Remove { .. } => removes.push(e),
        }
    }
    removes.sort_by_key(|e| std::cmp::Reverse(pointer_key(e.path())));
    removes.dedup_by(|a, b| a.path() == b.path());
    let mut current = template.clone();
    for e in replaces.into_iter().chain(adds).chain(removes) {
        let text = current.apply(std::slice::from_ref(&e))?;
        current = Template::load(current.name(), &text)?;
    }
    Ok(current.text().to_string())
}

/// Sort key for pointers: numeric tokens compare as numbers.
fn pointer_key(p: &str) -> Vec<(u64, String)> {
    p.split('/')
        .map(|t| match t.parse::<u64>() {
            Ok(n) => (n, String::new()),
            Err(_) => (u64::MAX, t.to_string()),
        })
        .collect()
}

/// Independent end-to-end check on the re-read proposed template: every principal's effective
/// Allow actions are a subset of those in the original, and every kept action is still there.
fn verify_never_broader(
    input: &ProposalInput,
    proposed_text: &str,
    original: &Grants,
    planned: &Planned,
) -> Result<(), ProposalError> {
    let proposed = Template::load(&input.template_name, proposed_text)?;
    let after = find_grants(&proposed);
    let effective = |g: &Grants, id: &str| -> BTreeSet<String> {
        g.of(id)
            .flat_map(|g| g.statements.iter())
            .filter(|s| s.is_allow())
            .flat_map(|s| s.effective.iter().cloned())
            .collect()
    };
    for p in &after.principals {
        let before = effective(original, &p.logical_id);
        let now = effective(&after, &p.logical_id);
        if let Some(extra) = now.difference(&before).next() {
            return Err(ProposalError::Invariant(super::invariant::Violation {
                principal: p.logical_id.clone(),
                sid: "(proposed template)".into(),
                action: extra.clone(),
                resource: "*".into(),
            }));
        }
    }
    // And nothing the decision kept was lost on the way into the template.
    for o in planned
        .outcomes
        .iter()
        .filter(|o| o.status == RoleStatus::Proposed)
    {
        let now = effective(&after, &o.logical_id);
        if let Some(lost) = o.decision.kept.keys().find(|a| !now.contains(*a)) {
            return Err(ProposalError::Lost {
                principal: o.logical_id.clone(),
                action: lost.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::policy_name_of;

    #[test]
    fn policy_names_from_arns_and_intrinsics() {
        assert_eq!(
            policy_name_of("arn:aws:iam::aws:policy/AdministratorAccess"),
            "AdministratorAccess"
        );
        assert_eq!(
            policy_name_of(
                r#"{"Fn::Sub":"arn:${AWS::Partition}:iam::aws:policy/PowerUserAccess"}"#
            ),
            "PowerUserAccess"
        );
        assert_eq!(
            policy_name_of("arn:aws:iam::aws:policy/service-role/AWSLambdaRole"),
            "AWSLambdaRole"
        );
        assert_eq!(
            policy_name_of("AmazonS3ReadOnlyAccess"),
            "AmazonS3ReadOnlyAccess"
        );
    }
}
