//! The seam with the template engine: its grants → the proposal's model, and the plan → edits
//! of the template (applied by the engine, which changes only the targeted bytes).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::keep::{keep_from_metadata, retention_cutoff, update_ledger};
use super::model::{GrantSource, GrantStatement, PrincipalGrants, SourceKind};
use super::pipeline::{
    DocumentRewrite, Placement, Planned, PrincipalModel, TemplateModel, build_report,
    plan_principals,
};
use super::resolve::PrincipalRef;
use super::resources::TemplateResource;
use super::size::document;
use super::{Proposal, ProposalError, ProposalInput, TemplateFormat};
use crate::policy::Effect;
use crate::report::{NotAnalysable, RoleStatus};
use crate::template::{
    Edit, Format, Grant, GrantKind, Grants, PhysicalName, StatementRecord, Template, find_grants,
    try_find_grants, unified_diff,
};

/// Name of the inline policy keycard adds to a role for replaced grants.
pub const INLINE_POLICY_NAME: &str = "keycard-least-privilege";

/// Loads the template, plans, rewrites, checks and reports.
pub fn propose(input: &ProposalInput) -> Result<Proposal, ProposalError> {
    let template = Template::load(&input.template_name, &input.template_text)?;
    let grants = try_find_grants(&template)?;
    let model = model_from_template(&template, &grants);
    let planned = plan_principals(&model, input)?;
    let edits = edits_for(&template, &grants, &planned)?;
    let text = apply_all(&template, edits)?;
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
            depends_on: match json.get("DependsOn") {
                Some(Value::String(d)) => vec![d.clone()],
                Some(Value::Array(ds)) => ds
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                _ => Vec::new(),
            },
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

    // Policy resources other parts of the template refer to cannot be deleted, nor can one
    // branch of an `Fn::If` that must yield a document.
    let root = template.root().to_json();
    for g in &grants.grants {
        if matches!(
            g.kind,
            GrantKind::PolicyResource | GrantKind::ManagedPolicyResource
        ) && is_referenced(&root, &g.source)
        {
            model.unremovable.insert(
                g.path.clone(),
                "other resources refer to it (remove it by hand)".into(),
            );
        } else if removal_of_document(g).is_none() {
            model.unremovable.insert(
                g.path.clone(),
                "it is one branch of an Fn::If and the policy needs a document in every deployment"
                    .into(),
            );
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
            let (kind, fixed_reason) = source_kind(template, g);
            sources.push(GrantSource {
                id: g.path.clone(),
                label: source_label(g),
                kind,
                statements: g.statements.iter().map(|s| statement(g, s)).collect(),
                attached_to: attached.get(g.path.as_str()).cloned().unwrap_or_default(),
                fixed_reason,
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

/// How a grant can be changed, and why not when it cannot.
///
/// Grants under `Fn::If` are narrowed branch by branch, in place: each branch is its own grant
/// (its path goes through `…/Fn::If/1`), so what replaces it keeps the condition. That is why a
/// SAM policy template or managed policy name under `Fn::If` is rewritten in place as a
/// statement document, where an unconditional one is replaced by statements in the function's
/// own policy. Grants in SAM `Globals` reach every function: a document there is narrowed to
/// what any of them needs, a template or managed policy there is moved onto each function.
fn source_kind(template: &Template, g: &Grant) -> (SourceKind, Option<String>) {
    let fixed = |why: &str| (SourceKind::Fixed, Some(why.to_string()));
    // Actions written with intrinsics (`!Ref ActionsParam`, `!If [...]`) are only known at
    // deploy time; a rewrite could drop them, so such documents are left as they are.
    let intrinsic_actions = g.statements.iter().any(|s| {
        ["Action", "NotAction"].iter().any(|k| match s.raw.get(*k) {
            Some(Value::Array(items)) => items.iter().any(|i| !i.is_string()),
            Some(v) => !v.is_string(),
            None => false,
        })
    });
    if intrinsic_actions {
        return fixed(
            "an Action or NotAction is written with an intrinsic function (Ref, Fn::If, …) and is only known when deployed",
        );
    }
    let under_if = g.path.contains("/Fn::If/");
    match g.kind {
        GrantKind::InlinePolicy | GrantKind::PolicyResource | GrantKind::SamInlinePolicy => {
            (SourceKind::Document { managed: false }, None)
        }
        GrantKind::ManagedPolicyResource => (SourceKind::Document { managed: true }, None),
        GrantKind::ManagedPolicyArn | GrantKind::SamManagedPolicy => {
            // Only AWS managed policies whose statements are known can be replaced.
            let name = g
                .managed_policy_arns
                .first()
                .map(|a| policy_name_of(a))
                .unwrap_or_default();
            if g.effective_actions.is_empty() || g.statements.is_empty() {
                fixed("a managed policy whose statements keycard does not know")
            } else if under_if && g.kind == GrantKind::SamManagedPolicy {
                (SourceKind::Document { managed: false }, None)
            } else if under_if {
                fixed(
                    "an AWS managed policy chosen by Fn::If in ManagedPolicyArns: its replacement would have to be conditional too",
                )
            } else {
                (SourceKind::AwsManaged { name }, None)
            }
        }
        GrantKind::SamPolicyTemplate => {
            if g.statements.is_empty() {
                fixed("a SAM policy template keycard cannot expand")
            } else if under_if {
                (SourceKind::Document { managed: false }, None)
            } else {
                (
                    SourceKind::SamPolicyTemplate {
                        name: g
                            .sam_policy_templates
                            .first()
                            .map(|t| t.name.clone())
                            .unwrap_or_default(),
                    },
                    None,
                )
            }
        }
        GrantKind::Connector => connector_kind(template, g),
    }
}

/// A connector's categories as written (`Permissions: [Read, Write]`) and the category of each
/// of its statements (the template engine tags a statement's path with it: `…#Read`).
fn connector_kind(template: &Template, g: &Grant) -> (SourceKind, Option<String>) {
    let categories: Option<Vec<String>> =
        template
            .node(&g.path)
            .and_then(|n| n.as_seq())
            .and_then(|items| {
                items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect()
            });
    let statement_categories: Option<Vec<String>> = g
        .statements
        .iter()
        .map(|s| s.path.rsplit_once('#').map(|(_, c)| c.to_string()))
        .collect();
    match (categories, statement_categories) {
        (Some(categories), Some(statement_categories)) if !categories.is_empty() => (
            SourceKind::Connector {
                categories,
                statement_categories,
            },
            None,
        ),
        _ => (
            SourceKind::Fixed,
            Some("the connector's Permissions are not a plain list of categories".into()),
        ),
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

fn statement(g: &Grant, s: &StatementRecord) -> GrantStatement {
    GrantStatement {
        conditional: !g.conditions.is_empty() || !s.conditions.is_empty(),
        branch: (!s.conditions.is_empty()).then(|| s.path.clone()),
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
        if g.kind == GrantKind::Connector {
            continue;
        }
        if rewrite.statements.is_empty() {
            // The plan never empties a document that cannot go (see `unremovable`).
            edits.extend(removal_of_document(g));
            continue;
        }
        let statements = if g.statements.iter().any(|s| !s.conditions.is_empty()) {
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
    // Replaced sources go away.
    for path in &planned.removed_sources {
        edits.push(Edit::remove(path));
    }
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

/// A document left without statements: remove its list item or its resource; an `Fn::If`
/// branch becomes `AWS::NoValue`, which keeps the condition. `None` when the document cannot
/// go: it is one branch of an `Fn::If` inside a `PolicyDocument` (an inline policy or policy
/// resource needs a document in every deployment).
fn removal_of_document(g: &Grant) -> Option<Edit> {
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

/// Applies every edit in one pass: the template engine plans each edit against the template as
/// loaded (byte ranges of the original text), refuses overlapping ones, splices them all at
/// once and re-parses once to verify. Re-loading the template after each edit made a proposal
/// quadratic in the number of roles (1,600 roles: 102 s).
fn apply_all(template: &Template, mut edits: Vec<Edit>) -> Result<String, ProposalError> {
    if edits.is_empty() {
        return Ok(template.text().to_string());
    }
    // The same removal can be planned twice (a document shared by two principals).
    let mut seen = BTreeSet::new();
    edits.retain(|e| !matches!(e, Edit::Remove { path } if !seen.insert(path.clone())));
    Ok(template.apply(&edits)?)
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
    // United as shared sets first: a thousand `*` statements list their names once.
    let effective = |g: &Grants, id: &str| -> BTreeSet<String> {
        let mut all = crate::catalog::ActionSet::new();
        for s in g.of(id).flat_map(|g| g.statements.iter()) {
            if s.is_allow() {
                all.union_with(&s.effective);
            }
        }
        all.iter().cloned().collect()
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
