//! Where a principal's replacement statements go, and the policy sizes after the rewrite: one
//! inline policy while the role's inline total allows it, otherwise new managed policies within
//! the per-role quota, otherwise the principal does not fit (it is then left unchanged and
//! reported, never half-written).

use std::collections::BTreeMap;

use serde_json::Value;

use super::build::ProposedStatement;
use super::model::{GrantSource, SourceKind};
use super::plan::{DocumentRewrite, Outcome};
use super::size::{
    INLINE_TOTAL_LIMIT, MANAGED_POLICY_LIMIT, document, estimate_size, split_into_documents,
};
use crate::report::{PolicySize, RoleStatus};

/// Where a principal's replacement statements go.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Placement {
    #[default]
    None,
    /// One new inline policy.
    Inline(Vec<Value>),
    /// New `AWS::IAM::ManagedPolicy` resources, one per document.
    Managed(Vec<Vec<Value>>),
}

/// The document of a source as it is now (for sizes of unchanged sources).
fn current_document(source: &GrantSource) -> Value {
    document(
        source
            .statements
            .iter()
            .map(|s| {
                s.raw
                    .clone()
                    .unwrap_or_else(|| serde_json::to_value(s).unwrap_or(Value::Null))
            })
            .collect(),
    )
}

/// Policy sizes of a principal after the rewrite, and where its replacement goes. The third
/// value explains why it does not fit, when it does not.
pub(crate) fn place(
    o: &Outcome,
    documents: &BTreeMap<String, DocumentRewrite>,
    max_managed: usize,
) -> (Vec<PolicySize>, Placement, Option<String>) {
    let proposed = o.status == RoleStatus::Proposed;
    let mut sizes = Vec::new();
    let mut inline_total = 0usize;
    let mut managed_count = 0usize;
    let mut problem = None;
    for s in &o.grants.sources {
        let removed = proposed && s.is_replaceable();
        if removed {
            continue;
        }
        let doc = match documents.get(&s.id) {
            Some(d) if proposed => {
                if d.statements.is_empty() {
                    continue; // the document is removed
                }
                document(d.statements.clone())
            }
            _ => current_document(s),
        };
        match &s.kind {
            // SAM turns each policy template into an inline policy of the role, so it counts
            // against the same inline total as a written inline policy.
            SourceKind::Document { managed: false } | SourceKind::SamPolicyTemplate { .. } => {
                let size = estimate_size(&doc);
                inline_total += size;
                sizes.push(PolicySize {
                    name: s.label.clone(),
                    kind: "inline".into(),
                    size,
                    limit: INLINE_TOTAL_LIMIT,
                });
            }
            SourceKind::Document { managed: true } => {
                let size = estimate_size(&doc);
                managed_count += 1;
                if size > MANAGED_POLICY_LIMIT && proposed && problem.is_none() {
                    problem = Some(format!(
                        "{} would be {size} characters, over the {MANAGED_POLICY_LIMIT} limit of a managed policy",
                        s.label
                    ));
                }
                sizes.push(PolicySize {
                    name: s.label.clone(),
                    kind: "managed".into(),
                    size,
                    limit: MANAGED_POLICY_LIMIT,
                });
            }
            // SAM writes a connector's statements into a managed policy of its own.
            SourceKind::AwsManaged { .. }
            | SourceKind::Connector { .. }
            | SourceKind::ReplacedConnector
            | SourceKind::Fixed => managed_count += 1,
        }
    }
    if !proposed || o.plan.replacement.is_empty() {
        if proposed && inline_total > INLINE_TOTAL_LIMIT && problem.is_none() {
            problem = Some(format!(
                "inline policies would total {inline_total} characters, over the {INLINE_TOTAL_LIMIT} limit"
            ));
        }
        return (sizes, Placement::None, problem);
    }
    let statements: Vec<Value> = o
        .plan
        .replacement
        .iter()
        .map(ProposedStatement::to_json)
        .collect();
    let replacement_size = estimate_size(&document(statements.clone()));
    if inline_total + replacement_size <= INLINE_TOTAL_LIMIT {
        sizes.push(PolicySize {
            name: format!("{} keycard least-privilege policy", o.logical_id),
            kind: "inline".into(),
            size: replacement_size,
            limit: INLINE_TOTAL_LIMIT,
        });
        return (sizes, Placement::Inline(statements), problem);
    }
    if inline_total > INLINE_TOTAL_LIMIT && problem.is_none() {
        problem = Some(format!(
            "inline policies would total {inline_total} characters, over the {INLINE_TOTAL_LIMIT} limit"
        ));
    }
    match split_into_documents(&statements, MANAGED_POLICY_LIMIT) {
        Some(docs) if managed_count + docs.len() <= max_managed => {
            for (i, d) in docs.iter().enumerate() {
                sizes.push(PolicySize {
                    name: format!("{}KeycardPolicy{}", o.logical_id, i + 1),
                    kind: "managed".into(),
                    size: estimate_size(&document(d.clone())),
                    limit: MANAGED_POLICY_LIMIT,
                });
            }
            (sizes, Placement::Managed(docs), problem)
        }
        Some(docs) => {
            let reason = format!(
                "needs {} managed policies ({} new + {managed_count} attached), over the limit of {max_managed} per role",
                managed_count + docs.len(),
                docs.len()
            );
            (sizes, Placement::None, problem.or(Some(reason)))
        }
        None => (
            sizes,
            Placement::None,
            problem.or(Some(
                "a single statement exceeds the managed policy size limit".into(),
            )),
        ),
    }
}
