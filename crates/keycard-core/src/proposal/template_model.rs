//! The seam with the template engine, inbound: its grants → the small model the proposal
//! decides on. Kept apart from the decisions so that they never see template nodes, and a
//! change in how the engine reports grants touches this file only.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::edits::removal_of_document;
use super::keep::keep_from_metadata;
use super::model::{GrantSource, GrantStatement, PrincipalGrants, SourceKind};
use super::resolve::PrincipalRef;
use super::resources::TemplateResource;
use crate::policy::Effect;
use crate::report::NotAnalysable;
use crate::template::{Grant, GrantKind, Grants, PhysicalName, StatementRecord, Template};

/// The template as the proposal sees it (built from the template engine's grants).
#[derive(Debug, Clone, Default)]
pub struct TemplateModel {
    pub principals: Vec<PrincipalModel>,
    pub resources: Vec<TemplateResource>,
    /// Parameter defaults, for resolving names.
    pub parameters: BTreeMap<String, String>,
    pub not_analysable: Vec<NotAnalysable>,
    /// Sources (by id) whose document cannot be deleted, with why: other parts of the template
    /// refer to its resource (`DependsOn`, `Ref`), or the document is one branch of an `Fn::If`
    /// and the policy needs a document in every deployment. They are left unchanged rather
    /// than emptied.
    pub unremovable: BTreeMap<String, String>,
}

/// One principal: its grants and what is needed to find its ARN.
#[derive(Debug, Clone)]
pub struct PrincipalModel {
    pub grants: PrincipalGrants,
    pub reference: PrincipalRef,
}

/// Builds the proposal's model from the template engine's findings.
pub(crate) fn model_from_template(template: &Template, grants: &Grants) -> TemplateModel {
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
                statements: g
                    .statements
                    .iter()
                    .flat_map(|s| statements_of(g, s))
                    .collect(),
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
    // Actions written with intrinsics (`!Ref ActionsParam`) are only known at deploy time; a
    // rewrite could drop them, so such documents are left as they are. One `Fn::If` choosing
    // literal actions is narrowed branch by branch ([`super::action_if`]).
    if let Some(why) = g
        .statements
        .iter()
        .find_map(|s| intrinsic_action_reason(g, s))
    {
        return (SourceKind::Fixed, Some(why));
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

/// Why a statement's `Action`/`NotAction` intrinsic keeps its document as written, if it does.
fn intrinsic_action_reason(g: &Grant, s: &StatementRecord) -> Option<String> {
    match super::action_if::parse(&s.raw) {
        Ok(None) => None,
        Ok(Some(_)) if !s.is_allow() => Some(
            "a Deny statement's Action is chosen by Fn::If; keycard leaves such documents as written".into(),
        ),
        Ok(Some(_)) if !s.conditions.is_empty() || g.document_is_json_string => Some(
            "an Action chosen by Fn::If sits in a statement that is itself under Fn::If".into(),
        ),
        Ok(Some(_)) => None,
        Err(why) => Some(why),
    }
}

/// The statements of the proposal's model for one statement of a grant: itself, or one
/// variant per branch when its `Action` is chosen by `Fn::If` ([`super::action_if`]).
fn statements_of(g: &Grant, s: &StatementRecord) -> Vec<GrantStatement> {
    let st = statement(g, s);
    match super::action_if::parse(&s.raw) {
        Ok(Some(ai)) if s.is_allow() => super::action_if::variants(&st, &ai, &s.path),
        _ => vec![st],
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
                kept_because: super::connector_swap::replacement_blocker(template, g),
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
