//! Building the proposed statements from a decision.
//!
//! Every proposed statement is derived from exactly one original Allow statement: its actions
//! are a subset of that statement's effective actions, its Condition and NotResource are copied
//! unchanged, and its Resource is either the original expression or narrower ARNs proven to be
//! inside it. That derivation is what makes the never-broader invariant hold by construction;
//! [`super::invariant`] checks it again independently.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::decide::{Decision, service_of};
use super::model::{GrantStatement, PrincipalGrants, SourceKind};
use super::resources::{ResourceIndex, generalize, pattern_covers, resource_matches};

/// At most this many narrowed ARNs per statement; beyond that the original expression reads
/// better and changes less often.
pub const MAX_NARROWED_RESOURCES: usize = 10;

/// A narrowed resource: what is written, and the ARN (pattern) it resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NarrowedResource {
    /// Template expression (an intrinsic in long form, or the ARN string).
    pub expr: Value,
    /// The ARN or ARN pattern the expression resolves to, used for the invariant check.
    pub arn: String,
}

impl PartialOrd for NarrowedResource {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NarrowedResource {
    /// By ARN; the expression is a function of the ARN.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.arn
            .cmp(&other.arn)
            .then_with(|| self.expr.to_string().cmp(&other.expr.to_string()))
    }
}

/// The Resource of a proposed statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResourceSpec {
    /// The original statement's `Resource` (or `NotResource`), unchanged.
    Original,
    /// Narrowed to these resources, each inside the original `Resource`.
    Narrowed { resources: Vec<NarrowedResource> },
}

/// One statement of the proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposedStatement {
    pub sid: String,
    /// The Sid of the original statement, kept when the statement stays in its document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_sid: Option<String>,
    pub service: String,
    pub actions: BTreeSet<String>,
    pub resource: ResourceSpec,
    /// The origin statement's Resource, NotResource and Condition (copied, never changed).
    pub original_resource: Option<Value>,
    pub not_resource: Option<Value>,
    pub condition: Option<Value>,
    /// The origin statement's path when it sits under an `Fn::If` in its document's
    /// `Statement` ([`GrantStatement::branch`]): the statement is written under that branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

impl ProposedStatement {
    /// The statement as a policy JSON value (intrinsics in long form).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("Sid".into(), Value::String(self.sid.clone()));
        m.insert("Effect".into(), Value::String("Allow".into()));
        let actions: Vec<Value> = compact_actions(&self.actions)
            .into_iter()
            .map(Value::String)
            .collect();
        m.insert(
            "Action".into(),
            if actions.len() == 1 {
                actions.into_iter().next().unwrap_or(Value::Null)
            } else {
                Value::Array(actions)
            },
        );
        match &self.resource {
            ResourceSpec::Original => {
                if let Some(r) = &self.original_resource {
                    m.insert("Resource".into(), r.clone());
                }
                if let Some(r) = &self.not_resource {
                    m.insert("NotResource".into(), r.clone());
                }
            }
            ResourceSpec::Narrowed { resources } => {
                let items: Vec<Value> = resources.iter().map(|r| r.expr.clone()).collect();
                m.insert(
                    "Resource".into(),
                    if items.len() == 1 {
                        items.into_iter().next().unwrap_or(Value::Null)
                    } else {
                        Value::Array(items)
                    },
                );
            }
        }
        if let Some(c) = &self.condition {
            m.insert("Condition".into(), c.clone());
        }
        Value::Object(m)
    }

    fn group_key(&self) -> String {
        let resource = match &self.resource {
            ResourceSpec::Original => serde_json::to_string(&self.original_resource),
            ResourceSpec::Narrowed { resources } => serde_json::to_string(resources),
        }
        .unwrap_or_default();
        format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            self.service,
            resource,
            serde_json::to_string(&self.not_resource).unwrap_or_default(),
            serde_json::to_string(&self.condition).unwrap_or_default(),
            self.branch.as_deref().unwrap_or_default()
        )
    }
}

/// Statements with fewer actions than this are written action by action.
const COMPACT_FROM: usize = 6;

/// A long action list written with exact wildcards: `svc:*` when the list holds every action
/// the catalog has for the service, `svc:Get*` when it holds every catalog action starting with
/// `Get`, the action itself otherwise. Exact means a pattern's expansion over the catalog is a
/// subset of the list, so the written statement grants precisely the planned actions (the
/// invariant check works on the planned set). Keeping the data-plane actions a trail cannot
/// see, for an AdministratorAccess role, is thousands of actions: without this they never fit
/// IAM's size quotas and the role keeps AdministratorAccess.
pub fn compact_actions(actions: &BTreeSet<String>) -> Vec<String> {
    if actions.len() < COMPACT_FROM {
        return actions.iter().cloned().collect();
    }
    let catalog = crate::catalog::Catalog::embedded();
    let mut by_service: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for a in actions {
        let svc = a.split_once(':').map(|(p, _)| p).unwrap_or("");
        by_service.entry(svc).or_default().push(a);
    }
    let lower: BTreeSet<String> = actions.iter().map(|a| a.to_ascii_lowercase()).collect();
    let mut out = Vec::new();
    for (svc, listed) in by_service {
        let all: Vec<String> = catalog
            .actions_of(svc)
            .map(|a| a.name().to_ascii_lowercase())
            .collect();
        if !all.is_empty() && all.iter().all(|a| lower.contains(a)) {
            out.push(format!("{svc}:*"));
            continue;
        }
        let mut verbs: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        for a in listed {
            let name = a.split_once(':').map(|(_, n)| n).unwrap_or(a);
            verbs.entry(leading_word(name)).or_default().push(a);
        }
        for (verb, group) in verbs {
            let prefix = format!("{svc}:{}", verb.to_ascii_lowercase());
            let exact = group.len() >= 3
                && all
                    .iter()
                    .filter(|a| a.starts_with(&prefix))
                    .all(|a| lower.contains(a));
            if exact {
                out.push(format!("{svc}:{verb}*"));
            } else {
                out.extend(group.into_iter().cloned());
            }
        }
    }
    out
}

/// `GetObjectAcl` → `Get`: the verb IAM action names start with.
fn leading_word(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            break;
        }
        out.push(c);
    }
    out
}

/// The new statements of one principal, by where they go.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PrincipalPlan {
    /// For each rewritable document source (by index in `PrincipalGrants::sources`): its new
    /// Allow statements (its Deny statements are kept as written).
    pub documents: BTreeMap<usize, Vec<ProposedStatement>>,
    /// Statements replacing AWS managed policies and SAM policy templates.
    pub replacement: Vec<ProposedStatement>,
    /// For each connector source (by index): the `Permissions` categories it keeps, in the
    /// order written. Its entry in `documents` holds every statement of those categories.
    #[serde(default)]
    pub connector_permissions: BTreeMap<usize, Vec<String>>,
    /// Connector sources (by index) none of whose categories is needed: SAM needs at least
    /// one, so they keep every category (and the report lists them).
    #[serde(default)]
    pub unused_connectors: BTreeSet<usize>,
    /// Connector sources (by index) whose kept categories still grant actions that are not
    /// kept, and that could not be replaced by explicit statements: why, for the report's
    /// `not_narrowed`.
    #[serde(default)]
    pub connector_broader: BTreeMap<usize, String>,
    /// SAM policy templates written instead of explicit replacement statements
    /// ([`super::policy_template_swap`]).
    #[serde(default)]
    pub policy_templates: Vec<super::policy_template_swap::TemplateUse>,
}

impl PrincipalPlan {
    /// Every new statement, wherever it goes.
    pub fn all_statements(&self) -> impl Iterator<Item = &ProposedStatement> {
        self.documents
            .values()
            .flatten()
            .chain(self.replacement.iter())
    }

    /// Actions the principal is granted by the new statements and policy templates.
    pub fn actions(&self) -> BTreeSet<String> {
        self.all_statements()
            .flat_map(|s| s.actions.iter().cloned())
            .chain(
                self.policy_templates
                    .iter()
                    .flat_map(|t| t.actions.iter().cloned()),
            )
            .collect()
    }
}

/// What building needs besides the decision.
pub struct BuildContext<'a> {
    pub index: &'a ResourceIndex,
    /// Whether an action can be scoped to resources at all (from the catalog). Actions that
    /// cannot keep their original Resource.
    pub supports_resources: &'a dyn Fn(&str) -> bool,
    /// Template resources this principal's statements must not reference (set per principal
    /// by [`build`]: see [`ResourceIndex::dependents_of`]).
    pub avoid: BTreeSet<String>,
}

/// Builds the proposed statements of one principal from its decision.
pub fn build(
    grants: &PrincipalGrants,
    decision: &Decision,
    ctx: &BuildContext<'_>,
) -> PrincipalPlan {
    // Referencing a resource that depends on the role (or on the resource a policy is
    // written in) would make the template circular.
    let declaring = declaring_resource(grants);
    let containers = std::iter::once(grants.logical_id.as_str())
        .chain(declaring.as_deref())
        .chain(
            grants
                .sources
                .iter()
                .filter_map(|s| resource_of_pointer(&s.id)),
        );
    let ctx = &BuildContext {
        index: ctx.index,
        supports_resources: ctx.supports_resources,
        avoid: ctx.index.dependents_of(containers),
    };
    // Which origin statements each kept action is written into.
    let mut chosen: BTreeMap<(usize, usize), BTreeSet<String>> = BTreeMap::new();
    for action in decision.kept.keys() {
        let evidence: Vec<&str> = decision
            .used
            .get(action)
            .map(|u| u.resources.iter().map(String::as_str).collect())
            .unwrap_or_default();
        for origin in choose_origins(grants, action, &evidence) {
            chosen.entry(origin).or_default().insert(action.clone());
        }
    }

    let mut plan = PrincipalPlan::default();
    let mut connector_origins: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for ((src, st_idx), actions) in chosen {
        let Some(source) = grants.sources.get(src) else {
            continue;
        };
        let Some(st) = source.statements.get(st_idx) else {
            continue;
        };
        let target = match source.kind {
            SourceKind::Fixed => continue,
            SourceKind::Connector { .. } => {
                connector_origins.entry(src).or_default().insert(st_idx);
                continue;
            }
            SourceKind::Document { .. } => plan.documents.entry(src).or_default(),
            SourceKind::AwsManaged { .. }
            | SourceKind::SamPolicyTemplate { .. }
            | SourceKind::ReplacedConnector => &mut plan.replacement,
        };
        let origin_sid = if source.is_document() {
            st.raw
                .as_ref()
                .and_then(|r| r.get("Sid"))
                .and_then(Value::as_str)
                .map(str::to_string)
        } else {
            None
        };
        target.extend(derive_statements(st, &actions, decision, ctx, origin_sid));
    }
    // Document sources whose Allow statements all go away still get an (empty) entry, so
    // their rewrite removes them.
    for (i, source) in grants.sources.iter().enumerate() {
        if source.is_document() && source.statements.iter().any(|s| s.is_allow()) {
            plan.documents.entry(i).or_default();
        }
    }
    for (i, source) in grants.sources.iter().enumerate() {
        if let SourceKind::Connector {
            categories,
            statement_categories,
            kept_because,
        } = &source.kind
        {
            let origins = connector_origins.remove(&i).unwrap_or_default();
            if origins.is_empty() {
                plan.unused_connectors.insert(i);
            }
            let (kept, statements) =
                connector_plan(source, categories, statement_categories, &origins);
            let unused: BTreeSet<&String> = statements
                .iter()
                .flat_map(|s| s.actions.iter())
                .filter(|a| !decision.kept.contains_key(*a))
                .collect();
            if !origins.is_empty() && !unused.is_empty() {
                plan.connector_broader.insert(
                    i,
                    format!(
                        "its Permissions [{}] still grant {} actions that are not kept ({}), and it is not replaced by explicit statements: {}",
                        kept.join(", "),
                        unused.len(),
                        unused.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", "),
                        kept_because
                            .as_deref()
                            .unwrap_or("SAM grants whole Permissions categories")
                    ),
                );
            }
            plan.connector_permissions.insert(i, kept);
            plan.documents.insert(i, statements);
        }
    }
    for statements in plan.documents.values_mut() {
        *statements = merge_and_name(std::mem::take(statements));
    }
    plan.replacement = merge_and_name(std::mem::take(&mut plan.replacement));
    plan
}

/// A connector keeps whole `Permissions` categories: SAM writes every statement of a category
/// it is given, so the plan holds each kept category's statements unchanged. The category of a
/// statement comes from the template engine. A connector none of whose categories is needed
/// keeps them all: removing a connector is left to a person.
fn connector_plan(
    source: &super::model::GrantSource,
    categories: &[String],
    statement_categories: &[String],
    origins: &BTreeSet<usize>,
) -> (Vec<String>, Vec<ProposedStatement>) {
    let category_of = |i: usize| statement_categories.get(i).map(String::as_str);
    let needed: BTreeSet<&str> = origins.iter().filter_map(|i| category_of(*i)).collect();
    let kept: Vec<String> = if needed.is_empty() {
        categories.to_vec()
    } else {
        categories
            .iter()
            .filter(|c| needed.contains(c.as_str()))
            .cloned()
            .collect()
    };
    let statements = source
        .statements
        .iter()
        .enumerate()
        .filter(|(i, st)| {
            st.is_allow() && category_of(*i).is_some_and(|c| kept.iter().any(|k| k == c))
        })
        .flat_map(|(_, st)| {
            let mut by_service: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for a in &st.effective {
                by_service
                    .entry(service_of(a).to_string())
                    .or_default()
                    .insert(a.clone());
            }
            by_service
                .into_iter()
                .map(|(service, actions)| ProposedStatement {
                    sid: String::new(),
                    origin_sid: None,
                    service,
                    actions,
                    resource: ResourceSpec::Original,
                    original_resource: st.resource.clone(),
                    not_resource: st.not_resource.clone(),
                    condition: st.condition.clone(),
                    branch: None,
                })
        })
        .collect();
    (kept, statements)
}

/// Picks the original statements a kept action is written into.
///
/// Unconditioned statements are preferred (a Condition may not hold for the calls that were
/// observed). Among those, one whose Resource covers every ARN seen is enough, preferring a
/// source that stays as it is, then a document (already explicit), then a replaced source.
/// When no single statement is known to be enough, the action stays in all of them, which
/// never grants more than before.
fn choose_origins(
    grants: &PrincipalGrants,
    action: &str,
    evidence: &[&str],
) -> Vec<(usize, usize)> {
    let candidates: Vec<(usize, usize, &GrantStatement, u8)> = grants
        .sources
        .iter()
        .enumerate()
        .flat_map(|(si, s)| {
            let rank = match s.kind {
                SourceKind::Fixed => 0,
                SourceKind::Document { .. } | SourceKind::Connector { .. } => 1,
                // Replaced sources (AWS managed policies, SAM policy templates, replaced
                // connectors) come last.
                _ => 2,
            };
            s.statements
                .iter()
                .enumerate()
                .filter(|(_, st)| st.is_allow() && st.effective.contains(action))
                .map(move |(ti, st)| (si, ti, st, rank))
        })
        .collect();
    let unconditioned: Vec<&(usize, usize, &GrantStatement, u8)> = candidates
        .iter()
        .filter(|c| c.2.condition.is_none())
        .collect();
    if unconditioned.is_empty() {
        return candidates.iter().map(|c| (c.0, c.1)).collect();
    }
    // A statement that exists only in some deployments (under `Fn::If` or in a resource with a
    // `Condition`) is never enough alone: the other deployments would lose the action.
    let mut sufficient: Vec<&&(usize, usize, &GrantStatement, u8)> = unconditioned
        .iter()
        .filter(|c| !c.2.conditional && covers_evidence(c.2, evidence))
        .collect();
    sufficient.sort_by_key(|c| (c.3, c.0, c.1));
    match sufficient.first() {
        Some(c) => vec![(c.0, c.1)],
        // Otherwise the action stays in every statement that grants it in some deployment.
        None => candidates
            .iter()
            .filter(|c| c.2.condition.is_none() || c.2.conditional)
            .map(|c| (c.0, c.1))
            .collect(),
    }
}

/// Whether a statement's Resource is known to allow every ARN seen. Intrinsic resources
/// cannot be evaluated here and are trusted to be what the author meant.
fn covers_evidence(st: &GrantStatement, evidence: &[&str]) -> bool {
    if st.not_resource.is_some() {
        return evidence.is_empty();
    }
    let items = st.resource_items();
    if items.iter().any(|r| !r.is_string()) {
        return true;
    }
    evidence.iter().all(|arn| {
        items
            .iter()
            .filter_map(|r| r.as_str())
            .any(|p| resource_matches(p, arn))
    })
}

/// Statements derived from one origin statement for the given actions, one per service and
/// resource set.
fn derive_statements(
    st: &GrantStatement,
    actions: &BTreeSet<String>,
    decision: &Decision,
    ctx: &BuildContext<'_>,
    origin_sid: Option<String>,
) -> Vec<ProposedStatement> {
    let mut by_key: BTreeMap<(String, Vec<NarrowedResource>), BTreeSet<String>> = BTreeMap::new();
    for action in actions {
        let narrowed = narrow(st, action, decision, ctx).unwrap_or_default();
        by_key
            .entry((service_of(action).to_string(), narrowed))
            .or_default()
            .insert(action.clone());
    }
    by_key
        .into_iter()
        .map(|((service, narrowed), actions)| ProposedStatement {
            sid: String::new(),
            origin_sid: origin_sid.clone(),
            service,
            actions,
            resource: if narrowed.is_empty() {
                ResourceSpec::Original
            } else {
                ResourceSpec::Narrowed {
                    resources: narrowed,
                }
            },
            original_resource: st.resource.clone(),
            not_resource: st.not_resource.clone(),
            condition: st.condition.clone(),
            branch: st.branch.clone(),
        })
        .collect()
}

/// Narrower resources for one action of one statement, or `None` to keep the original.
fn narrow(
    st: &GrantStatement,
    action: &str,
    decision: &Decision,
    ctx: &BuildContext<'_>,
) -> Option<Vec<NarrowedResource>> {
    if st.not_resource.is_some() || !(ctx.supports_resources)(action) {
        return None;
    }
    let patterns: Vec<&str> = st
        .resource_items()
        .iter()
        .filter_map(|r| r.as_str())
        .filter(|p| p.contains(['*', '?']))
        .collect();
    if patterns.is_empty() {
        // Already specific (or intrinsic): nothing to narrow.
        return None;
    }
    let seen = &decision.used.get(action)?.resources;
    if seen.is_empty() {
        return None;
    }
    let mut general: BTreeSet<String> = seen.iter().map(|a| generalize(a)).collect();
    // Query and Scan may name an index, whose ARN is not always in the evidence; the table's
    // indexes stay inside the original Resource, so they are added rather than risked.
    if matches!(action, "dynamodb:Query" | "dynamodb:Scan") {
        let tables: Vec<String> = general
            .iter()
            .filter(|a| {
                super::resources::Arn::parse(a).is_some_and(|p| {
                    p.service == "dynamodb"
                        && p.resource.starts_with("table/")
                        && !p.resource["table/".len()..].contains('/')
                })
            })
            .map(|a| format!("{a}/index/*"))
            .collect();
        general.extend(tables);
    }
    if general.len() > MAX_NARROWED_RESOURCES {
        return None;
    }
    let mut out = Vec::with_capacity(general.len());
    for arn in general {
        let covering: Vec<&str> = patterns
            .iter()
            .copied()
            .filter(|p| pattern_covers(p, &arn))
            .collect();
        if covering.is_empty() {
            return None;
        }
        // Written portably where the covering Resource leaves region and account open.
        let expr = ctx.index.write_avoiding(
            &arn,
            super::resources::open_positions(&covering, &arn),
            &ctx.avoid,
        );
        out.push(NarrowedResource { expr, arn });
    }
    Some(out)
}

/// The resource that declares an implicit SAM role (`WorkerFunction` for
/// `WorkerFunctionRole`): SAM writes the role's policies from that resource's `Policies`, so
/// what depends on it depends on the role too.
pub(crate) fn declaring_resource(grants: &PrincipalGrants) -> Option<String> {
    if !matches!(
        grants.resource_type.as_str(),
        "AWS::Serverless::Function" | "AWS::Serverless::StateMachine"
    ) {
        return None;
    }
    grants.logical_id.strip_suffix("Role").map(str::to_string)
}

/// The logical id in a JSON pointer under `/Resources/<id>/…` (`~1` is `/`, `~0` is `~`).
pub(crate) fn resource_of_pointer(pointer: &str) -> Option<&str> {
    let rest = pointer.strip_prefix("/Resources/")?;
    let id = rest.split('/').next()?;
    // Logical ids are alphanumeric, so an escaped one is never a template resource.
    (!id.contains('~') && !id.is_empty()).then_some(id)
}

/// Joins statements that differ only in actions, sorts by service, and names them.
pub fn merge_and_name(statements: Vec<ProposedStatement>) -> Vec<ProposedStatement> {
    let mut merged: BTreeMap<String, ProposedStatement> = BTreeMap::new();
    for st in statements {
        match merged.get_mut(&st.group_key()) {
            Some(existing) => existing.actions.extend(st.actions),
            None => {
                merged.insert(st.group_key(), st);
            }
        }
    }
    let mut out: Vec<ProposedStatement> = merged.into_values().collect();
    out.sort_by(|a, b| {
        (a.service.as_str(), a.actions.iter().next())
            .cmp(&(b.service.as_str(), b.actions.iter().next()))
    });
    let mut used_sids: BTreeMap<String, usize> = BTreeMap::new();
    for st in &mut out {
        let base = st
            .origin_sid
            .clone()
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or_else(|| sid_base(&st.service));
        let n = used_sids.entry(base.clone()).or_insert(0);
        *n += 1;
        st.sid = if *n == 1 { base } else { format!("{base}{n}") };
    }
    out
}

/// `dynamodb` → `DynamodbAccess`: Sids must be alphanumeric.
fn sid_base(service: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in service.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    out.push_str("Access");
    out
}

#[cfg(test)]
mod compact_tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn compaction_is_exact_over_the_catalog() {
        let catalog = Catalog::embedded();
        // Every s3 Get* action plus two others, and every sqs action.
        let mut set: BTreeSet<String> = catalog
            .actions_of("s3")
            .filter(|a| a.name().starts_with("s3:Get"))
            .map(|a| a.name().to_string())
            .collect();
        set.insert("s3:PutObject".into());
        set.insert("s3:DeleteObject".into());
        set.extend(catalog.actions_of("sqs").map(|a| a.name().to_string()));
        let written = compact_actions(&set);
        assert!(written.contains(&"s3:Get*".to_string()), "{written:?}");
        assert!(written.contains(&"sqs:*".to_string()));
        assert!(written.contains(&"s3:PutObject".to_string()));
        // Expanding what is written gives back exactly the set.
        let expanded: BTreeSet<String> = catalog
            .all_actions()
            .map(|a| a.name().to_string())
            .filter(|a| written.iter().any(|p| crate::policy::action_matches(p, a)))
            .collect();
        assert_eq!(expanded, set);
        // Short lists stay as they are.
        let short: BTreeSet<String> = ["s3:GetObject".to_string()].into();
        assert_eq!(compact_actions(&short), vec!["s3:GetObject".to_string()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proposal::decide::{Evidence, decide};
    use crate::proposal::model::GrantSource;
    use crate::proposal::resources::{NameContext, TemplateResource};
    use crate::usage::{ActionUsage, PrincipalUsage};
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn stmt(actions: &[&str], resource: Value) -> GrantStatement {
        let mut s = GrantStatement::allow_all_resources(actions.iter().map(|a| a.to_string()));
        s.resource = Some(resource);
        s
    }

    #[test]
    fn replaces_admin_and_narrows_to_template_resources() {
        // Given an admin-like managed policy and an s3:* document on *
        let admin = GrantSource {
            id: "Role/ManagedPolicyArns/0".into(),
            label: "AdministratorAccess".into(),
            kind: SourceKind::AwsManaged {
                name: "AdministratorAccess".into(),
            },
            statements: vec![stmt(
                &[
                    "dynamodb:GetItem",
                    "dynamodb:Query",
                    "s3:GetObject",
                    "iam:PassRole",
                ],
                json!("*"),
            )],
            attached_to: vec!["Role".into()],
            fixed_reason: None,
        };
        let doc = GrantSource {
            id: "Role/Policies/0".into(),
            label: "Role Policies[0]".into(),
            kind: SourceKind::Document { managed: false },
            statements: vec![stmt(&["s3:GetObject", "s3:PutObject"], json!("*"))],
            attached_to: vec!["Role".into()],
            fixed_reason: None,
        };
        let grants = PrincipalGrants {
            logical_id: "Role".into(),
            resource_type: "AWS::IAM::Role".into(),
            sources: vec![admin, doc],
            keep: vec![],
            permissions_boundary: false,
        };
        let t = Utc
            .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let mut pu = PrincipalUsage::default();
        let mut get = ActionUsage::seen_once(t);
        get.resources.insert(
            "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-app-OrdersTable-ABCDEFGH1234"
                .into(),
        );
        pu.actions.insert("dynamodb:GetItem".into(), get);
        let mut obj = ActionUsage::seen_once(t);
        obj.resources
            .insert("arn:aws:s3:::receipts/2026/a.pdf".into());
        pu.actions.insert("s3:GetObject".into(), obj);
        let ev = Evidence {
            current: Some(&pu),
            ledger: None,
            retention_cutoff: t - chrono::Duration::days(400),
            window_end: t,
            window_days: 90,
            coverage: &crate::coverage::Coverage::all_seen(),
            recorded_resources: None,
            names: None,
        };
        let d = decide(&grants, &ev, &[]);
        let index = ResourceIndex::new(
            &[TemplateResource {
                logical_id: "OrdersTable".into(),
                resource_type: "AWS::DynamoDB::Table".into(),
                properties: json!({}),
                depends_on: Vec::new(),
            }],
            &NameContext {
                stack_name: Some("orders-app".into()),
                partition: "aws".into(),
                ..NameContext::default()
            },
        );
        let ctx = BuildContext {
            index: &index,
            supports_resources: &|_| true,
            avoid: Default::default(),
        };
        // When building
        let plan = build(&grants, &d, &ctx);
        // Then GetItem replaces admin narrowed to the table, GetObject stays in the document
        // narrowed to the bucket, and PutObject is gone from the document.
        assert_eq!(plan.replacement.len(), 1);
        assert_eq!(
            plan.replacement[0].to_json(),
            json!({"Sid": "DynamodbAccess", "Effect": "Allow", "Action": "dynamodb:GetItem",
                   "Resource": {"Fn::GetAtt": ["OrdersTable", "Arn"]}})
        );
        assert_eq!(
            plan.documents[&1][0].to_json(),
            json!({"Sid": "S3Access", "Effect": "Allow", "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::receipts/*"})
        );
        assert_eq!(plan.documents[&1].len(), 1);
    }

    #[test]
    fn sids_are_alphanumeric() {
        assert_eq!(sid_base("resource-groups"), "ResourceGroupsAccess");
        assert_eq!(sid_base("s3"), "S3Access");
    }
}
