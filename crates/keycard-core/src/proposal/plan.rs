//! Planning: every principal's decision and plan, then what the principals share. A policy
//! attached to several principals changes only when all of them get a proposal; a document
//! that cannot be deleted, or could be emptied in some deployment, is pinned; a principal that
//! does not fit IAM's quotas drops out; and the loop runs again until nothing changes. Pure: no
//! template text is involved (that is [`super::template_model`] before and [`super::edits`]
//! after).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::build::{BuildContext, PrincipalPlan, ProposedStatement, build, merge_and_name};
use super::decide::{Decision, Evidence, decide};
use super::invariant::check_never_broader;
use super::model::{GrantSource, PrincipalGrants, SourceKind};
use super::placement::{Placement, place};
use super::report_model::flag;
use super::resolve::{PrincipalRef, Resolution, resolve_principals};
use super::resources::{NameContext, ResourceIndex};
use super::size::MAX_MANAGED_POLICIES_LIMIT;
use super::template_model::{PrincipalModel, TemplateModel};
use super::{ProposalError, ProposalInput};
use crate::report::{Flag, PolicySize, RoleStatus};
use crate::usage::{Usage, Window, merge_windows};

/// Everything decided for one principal.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub logical_id: String,
    pub status: RoleStatus,
    pub resolution: Resolution,
    /// The grants as planned (shared sources that could not change are `Fixed` here).
    pub grants: PrincipalGrants,
    /// The principal's role logical id (for new managed policies' `Roles`).
    pub role_logical_id: String,
    pub decision: Decision,
    pub plan: PrincipalPlan,
    pub placement: Placement,
    pub sizes: Vec<PolicySize>,
    pub flags: Vec<Flag>,
    /// AWS managed policies kept or swapped because they grant exactly what is kept (by source
    /// id): left as written on purpose, so not listed as not narrowed.
    pub exact_managed_policies: BTreeSet<String>,
}

/// The final content of a rewritten policy document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DocumentRewrite {
    /// Deny statements as written, then the proposed Allow statements (of every `Fn::If`
    /// branch: what sizes are estimated from, and empty when the document goes away).
    pub statements: Vec<Value>,
    /// The proposed Allow statements derived from statements outside any `Fn::If`.
    pub unconditional: Vec<Value>,
    /// The proposed Allow statements derived from each statement under an `Fn::If` in the
    /// document's `Statement`, by that statement's path: written back under the same branch.
    pub by_branch: BTreeMap<String, Vec<Value>>,
}

/// The plan for the whole template.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    pub outcomes: Vec<Outcome>,
    /// Rewritten documents by source id.
    pub documents: BTreeMap<String, DocumentRewrite>,
    /// Replaceable sources (AWS managed policies, SAM policy templates) to remove, by id.
    pub removed_sources: BTreeSet<String>,
    /// Connector sources (by id) and the `Permissions` categories they keep.
    pub connector_permissions: BTreeMap<String, BTreeSet<String>>,
    /// AWS managed policies swapped for a narrower AWS managed policy, by source id
    /// ([`super::managed_swap`]).
    pub swapped_sources: BTreeMap<String, &'static crate::managed_policies::ManagedPolicy>,
    /// Evidence principals no template principal matched.
    pub unattributed: Vec<String>,
    pub window: Option<Window>,
    pub reference_time: Option<DateTime<Utc>>,
}

/// Decides and plans every principal of the model. Pure: no template text involved.
pub fn plan_principals(
    model: &TemplateModel,
    input: &ProposalInput,
) -> Result<Planned, ProposalError> {
    let opts = &input.options;
    if opts.max_managed_policies == 0 || opts.max_managed_policies > MAX_MANAGED_POLICIES_LIMIT {
        return Err(ProposalError::Option(format!(
            "managed policies per role must be between 1 and {MAX_MANAGED_POLICIES_LIMIT}, got {}",
            opts.max_managed_policies
        )));
    }
    let r = &input.resolution;
    let ctx = NameContext {
        stack_name: r.stack_name.clone(),
        account_id: r.account_id.clone(),
        region: r.region.clone(),
        partition: r.partition.clone().unwrap_or_else(|| "aws".into()),
        parameters: model.parameters.clone(),
        physical_ids: r.physical_ids.clone(),
    };
    let empty_ledger = Usage::default();
    let ledger = input.ledger.as_ref().unwrap_or(&empty_ledger);

    // The evidence window and the instant retention is measured from.
    let window = opts.window.or_else(|| input.usage.span());
    let ledger_window = ledger.span();
    let reference = window
        .map(|w| w.end)
        .or(ledger_window.map(|w| w.end))
        .or(opts.now);
    let retention_cutoff = super::keep::retention_cutoff(reference, opts.retention_days)?;
    let span: Vec<Window> = window.into_iter().chain(ledger_window).collect();
    let span = merge_windows(span.into_iter());
    let window_days = match (span.first(), span.last()) {
        (Some(a), Some(b)) => (b.end - a.start).num_days().max(1),
        _ => 1,
    };
    let window_end = reference.unwrap_or(DateTime::<Utc>::MIN_UTC);

    let evidence_arns: BTreeSet<String> = input
        .usage
        .principals
        .keys()
        .chain(ledger.principals.keys())
        .cloned()
        .collect();
    let refs: Vec<PrincipalRef> = model
        .principals
        .iter()
        .map(|p| p.reference.clone())
        .collect();
    let resolutions = resolve_principals(&refs, &evidence_arns, &ctx, &r.role_arns);
    let mut index = ResourceIndex::new(&model.resources, &ctx);
    // Without --region (or --account-id), the stack's own come from its resources' ARNs.
    index.infer_home(
        [&input.usage, ledger]
            .into_iter()
            .flat_map(|u| u.principals.values())
            .flat_map(|p| p.actions.values())
            .flat_map(|a| a.resources.iter().map(String::as_str)),
    );
    // Template resources the evidence records data events on (a bucket's objects, a table).
    let recorded_resources: BTreeSet<String> = input
        .coverage
        .recorded_scopes()
        .into_iter()
        .filter_map(|p| {
            let arn = p.trim_end_matches('/');
            let expr = index.expression_for(arn)?;
            let text = expr.to_string();
            model
                .resources
                .iter()
                .map(|r| r.logical_id.as_str())
                .find(|id| {
                    text.contains(&format!("\"{id}\"")) || text.contains(&format!("${{{id}"))
                })
                .map(str::to_string)
        })
        .collect();
    let resource_types: BTreeMap<String, String> = model
        .resources
        .iter()
        .map(|r| (r.logical_id.clone(), r.resource_type.clone()))
        .collect();
    let supports_resources = |action: &str| supports_resource_scoping(action);
    let build_ctx = BuildContext {
        index: &index,
        supports_resources: &supports_resources,
        avoid: Default::default(),
    };

    let evidence_for = |arn: Option<&str>| -> Evidence<'_> {
        Evidence {
            current: arn.and_then(|a| input.usage.principal(a)),
            ledger: arn.and_then(|a| ledger.principal(a)),
            retention_cutoff,
            window_end,
            window_days,
            coverage: &input.coverage,
            names: Some(&ctx),
            recorded_resources: Some(&recorded_resources),
        }
    };
    let config_keep = |p: &PrincipalModel| {
        let arn = resolutions
            .get(&p.grants.logical_id)
            .and_then(Resolution::arn);
        input.keep.entries_for(&p.grants.logical_id, arn)
    };

    // Which principals can get a proposal; shrinks when one does not fit.
    let mut active: BTreeSet<String> = BTreeSet::new();
    for p in &model.principals {
        let arn = resolutions
            .get(&p.grants.logical_id)
            .and_then(Resolution::arn);
        if arn.is_some() && has_activity(&evidence_for(arn)) {
            active.insert(p.grants.logical_id.clone());
        }
    }

    let mut not_fitting: BTreeMap<String, String> = BTreeMap::new();
    let mut pinned: BTreeMap<String, String> = BTreeMap::new();
    loop {
        // Shared sources change only when every principal they are attached to changes.
        let mut holders: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for p in &model.principals {
            for s in &p.grants.sources {
                holders.entry(&s.id).or_default().push(&p.grants.logical_id);
            }
        }
        let shared_frozen: BTreeSet<String> = holders
            .iter()
            .filter(|(_, ps)| ps.len() > 1 && ps.iter().any(|p| !active.contains(*p)))
            .map(|(id, _)| (*id).to_string())
            .collect();

        let mut outcomes = Vec::new();
        let mut swapped = BTreeMap::new();
        for p in &model.principals {
            let id = &p.grants.logical_id;
            let resolution = resolutions
                .get(id)
                .cloned()
                .unwrap_or(Resolution::Unmatched {
                    reason: "not resolved".into(),
                });
            let mut grants = p.grants.clone();
            let mut flags = Vec::new();
            for s in &mut grants.sources {
                if s.kind == SourceKind::Fixed {
                    continue;
                }
                if shared_frozen.contains(&s.id) {
                    s.freeze("shared with a principal that gets no proposal");
                    flags.push(flag(
                        "shared_policy_unchanged",
                        "info",
                        format!(
                            "{} is shared with a principal that gets no proposal; left unchanged",
                            s.label
                        ),
                    ));
                } else if let Some(why) = pinned.get(&s.id) {
                    s.freeze(format!("it would be left without statements, but {why}"));
                    flags.push(flag(
                        "policy_unchanged",
                        "medium",
                        format!(
                            "{} would be left without statements, but {why}; left unchanged",
                            s.label
                        ),
                    ));
                }
            }
            let keep = config_keep(p);
            let mut decision = decide(&grants, &evidence_for(resolution.arn()), &keep);
            let status = if resolution.arn().is_none() {
                RoleStatus::Unmatched
            } else if !decision.has_activity {
                RoleStatus::NoActivity
            } else if not_fitting.contains_key(id) {
                RoleStatus::DoesNotFit
            } else {
                RoleStatus::Proposed
            };
            let mut exact_managed_policies = BTreeSet::new();
            let plan = if status == RoleStatus::Proposed {
                for (id, choice, why) in super::managed_swap::apply(&mut grants, &mut decision) {
                    exact_managed_policies.insert(id.clone());
                    let kind = match choice {
                        super::managed_swap::ManagedChoice::Keep { .. } => "managed_policy_kept",
                        super::managed_swap::ManagedChoice::Narrower { to, .. } => {
                            swapped.insert(id, to);
                            "managed_policy_narrowed"
                        }
                    };
                    flags.push(flag(kind, "info", why));
                }
                for (_, why) in super::connector_swap::apply(&mut grants, &mut decision, &index) {
                    flags.push(flag("connector_replaced", "info", why));
                }
                let mut plan = build(&grants, &decision, &build_ctx);
                let replaced: Vec<String> = grants
                    .sources
                    .iter()
                    .filter(|s| s.is_replaceable())
                    .map(|s| s.label.clone())
                    .collect();
                for t in super::policy_template_swap::apply(
                    &mut plan,
                    &grants,
                    &resource_types,
                    &ctx.partition,
                ) {
                    flags.push(flag("sam_policy_template", "info", t.explain(&replaced)));
                }
                check_never_broader(&grants, &plan)?;
                plan
            } else {
                PrincipalPlan::default()
            };
            outcomes.push(Outcome {
                logical_id: id.clone(),
                status,
                resolution,
                role_logical_id: p.reference.role_logical_id.clone(),
                grants,
                decision,
                plan,
                placement: Placement::None,
                sizes: Vec::new(),
                flags,
                exact_managed_policies,
            });
        }

        // Documents: merged over every principal that plans them.
        let mut documents: BTreeMap<String, DocumentRewrite> = BTreeMap::new();
        type Pieces = ((Vec<Value>, Vec<Value>), Vec<ProposedStatement>);
        let mut pieces: BTreeMap<String, Pieces> = BTreeMap::new();
        let mut removed_sources = BTreeSet::new();
        let mut connector_permissions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for o in outcomes.iter().filter(|o| o.status == RoleStatus::Proposed) {
            for (i, kept) in &o.plan.connector_permissions {
                if let Some(source) = o.grants.sources.get(*i) {
                    connector_permissions
                        .entry(source.id.clone())
                        .or_default()
                        .extend(kept.iter().cloned());
                }
            }
            for (i, statements) in &o.plan.documents {
                let Some(source) = o.grants.sources.get(*i) else {
                    continue;
                };
                let entry = pieces
                    .entry(source.id.clone())
                    .or_insert_with(|| (deny_statements(source), Vec::new()));
                entry.1.extend(statements.iter().cloned());
            }
            for s in o.grants.sources.iter().filter(|s| s.is_replaceable()) {
                removed_sources.insert(s.id.clone());
            }
        }
        for (id, ((denies, after), allows)) in pieces {
            let mut rewrite = DocumentRewrite {
                statements: denies,
                ..DocumentRewrite::default()
            };
            for st in merge_and_name(allows) {
                let json = st.to_json();
                rewrite.statements.push(json.clone());
                match &st.branch {
                    Some(b) => rewrite.by_branch.entry(b.clone()).or_default().push(json),
                    None => rewrite.unconditional.push(json),
                }
            }
            rewrite.statements.extend(after);
            documents.insert(id, rewrite);
        }

        // A document that would be emptied but cannot be deleted stays as it is; so does one
        // whose `Fn::If` statements could leave it empty in some deployment.
        let mut newly_pinned: Vec<(String, String)> = Vec::new();
        for (id, d) in &documents {
            if pinned.contains_key(id) {
                continue;
            }
            if d.statements.is_empty()
                && let Some(why) = model.unremovable.get(id)
            {
                newly_pinned.push((id.clone(), why.clone()));
            } else if let Some(source) = source_by_id(&outcomes, id)
                && may_empty_a_branch(source, d)
            {
                newly_pinned.push((
                    id.clone(),
                    "its statements under Fn::If could leave it empty in some deployment".into(),
                ));
            }
        }
        if !newly_pinned.is_empty() {
            pinned.extend(newly_pinned);
            continue;
        }

        // Sizes and placement.
        let mut newly_unfit = false;
        for o in outcomes.iter_mut() {
            let (sizes, placement, problem) = place(o, &documents, opts.max_managed_policies);
            o.sizes = sizes;
            if o.status != RoleStatus::Proposed {
                continue;
            }
            match problem {
                Some(reason) => {
                    not_fitting.insert(o.logical_id.clone(), reason);
                    active.remove(&o.logical_id);
                    newly_unfit = true;
                }
                None => o.placement = placement,
            }
        }
        if newly_unfit {
            continue;
        }
        for o in outcomes.iter_mut() {
            if let Some(reason) = not_fitting.get(&o.logical_id) {
                o.flags.push(flag("does_not_fit", "high", reason.clone()));
            }
        }
        let matched: BTreeSet<&str> = outcomes.iter().filter_map(|o| o.resolution.arn()).collect();
        let unattributed = input
            .usage
            .principals
            .keys()
            .filter(|a| !matched.contains(a.as_str()))
            .cloned()
            .collect();
        return Ok(Planned {
            outcomes,
            documents,
            removed_sources,
            connector_permissions,
            swapped_sources: swapped,
            unattributed,
            window,
            reference_time: reference,
        });
    }
}

/// Whether the evidence shows any activity within retention (what [`decide`] calls
/// `has_activity`, without deciding anything else).
fn has_activity(e: &Evidence<'_>) -> bool {
    [e.current, e.ledger].into_iter().flatten().any(|pu| {
        !pu.unobservable.is_empty()
            || pu
                .actions
                .values()
                .any(|a| a.last_seen >= e.retention_cutoff)
    })
}

/// The source with this id, as planned for some principal.
fn source_by_id<'o>(outcomes: &'o [Outcome], id: &str) -> Option<&'o GrantSource> {
    outcomes
        .iter()
        .flat_map(|o| o.grants.sources.iter())
        .find(|s| s.id == id)
}

/// Whether a rewrite of a document with statements under `Fn::If` could leave it without any
/// statement in some deployment: nothing outside the `Fn::If`s would remain, and a statement
/// under one of them would be left with nothing (its branch becomes `AWS::NoValue`). IAM
/// refuses a policy without statements, so such a document is left as it is.
fn may_empty_a_branch(source: &GrantSource, d: &DocumentRewrite) -> bool {
    let branched: Vec<&str> = source
        .statements
        .iter()
        .filter(|s| s.is_allow())
        .filter_map(|s| s.branch.as_deref())
        .collect();
    if branched.is_empty() || d.statements.is_empty() {
        return false;
    }
    let unconditional_denies = source
        .statements
        .iter()
        .any(|s| !s.is_allow() && s.branch.is_none());
    d.unconditional.is_empty()
        && !unconditional_denies
        && branched
            .iter()
            .any(|b| d.by_branch.get(*b).is_none_or(Vec::is_empty))
}

/// The Deny statements of a source, as written: those before its first Allow statement and
/// those after it, so that the proposed Allow statements take the original ones' place.
fn deny_statements(source: &GrantSource) -> (Vec<Value>, Vec<Value>) {
    let first_allow = source
        .statements
        .iter()
        .position(|s| s.is_allow())
        .unwrap_or(source.statements.len());
    let denies = |range: &[super::model::GrantStatement]| -> Vec<Value> {
        range
            .iter()
            .filter(|s| !s.is_allow())
            .filter_map(|s| s.raw.clone())
            .collect()
    };
    (
        denies(&source.statements[..first_allow]),
        denies(&source.statements[first_allow..]),
    )
}

/// Whether an action can be scoped to resources. Without catalog data for the action it is
/// assumed it can, since the evidence only holds ARNs for calls that named a resource.
fn supports_resource_scoping(action: &str) -> bool {
    crate::catalog::Catalog::try_embedded()
        .ok()
        .and_then(|c| c.action(action))
        .is_none_or(|a| !a.resource_types().is_empty())
}
