//! The pipeline behind [`super::propose`]: per-principal decisions and plans, shared policies,
//! size placement, and the report model.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::build::{BuildContext, PrincipalPlan, ProposedStatement, build, merge_and_name};
use super::decide::{Decision, Evidence, KeepReason, decide, service_of};
use super::invariant::check_never_broader;
use super::model::{GrantSource, PrincipalGrants, SourceKind};
use super::resolve::{MatchKind, PrincipalRef, Resolution, resolve_principals};
use super::resources::{NameContext, ResourceIndex, TemplateResource};
use super::size::{
    INLINE_TOTAL_LIMIT, MANAGED_POLICY_LIMIT, MAX_MANAGED_POLICIES_LIMIT, document, estimate_size,
    split_into_documents,
};
use super::{ProposalError, ProposalInput, source_name};
use crate::report::{
    CoverageReport, DeniedAttempt, Flag, KeptActionReport, NotAnalysable, NotNarrowed, PolicySize,
    ReplacedPolicy, Report, ReportWindow, RoleCounts, RoleReport, RoleStatus, SCHEMA_VERSION,
    Summary, UnmappedReport, UnobservableAction, WildcardReport,
};
use crate::usage::{PrincipalUsage, Usage, Window, merge_windows};

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
                let plan = build(&grants, &decision, &build_ctx);
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
fn place(
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
            SourceKind::AwsManaged { .. } | SourceKind::Connector { .. } | SourceKind::Fixed => {
                managed_count += 1
            }
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

/// Whether an action can be scoped to resources. Without catalog data for the action it is
/// assumed it can, since the evidence only holds ARNs for calls that named a resource.
fn supports_resource_scoping(action: &str) -> bool {
    crate::catalog::Catalog::try_embedded()
        .ok()
        .and_then(|c| c.action(action))
        .is_none_or(|a| !a.resource_types().is_empty())
}

fn flag(kind: &str, severity: &str, message: String) -> Flag {
    Flag {
        kind: kind.into(),
        severity: severity.into(),
        message,
        action: None,
        used: None,
        kept: None,
    }
}

/// Builds the report model from the plan.
pub fn build_report(planned: &Planned, model: &TemplateModel, input: &ProposalInput) -> Report {
    let mut roles = BTreeMap::new();
    let mut summary = Summary {
        principals: planned.outcomes.len(),
        ..Summary::default()
    };
    let mut all_sources: BTreeSet<String> = BTreeSet::new();
    for o in &planned.outcomes {
        let pu = o
            .resolution
            .arn()
            .and_then(|a| input.usage.principal(a))
            .cloned()
            .unwrap_or_default();
        let in_ledger = o
            .resolution
            .arn()
            .and_then(|a| input.ledger.as_ref().and_then(|l| l.principal(a)))
            .is_some();
        let r = role_report(o, &pu, in_ledger, planned.window);
        all_sources.extend(r.sources.iter().cloned());
        summary.granted_actions += r.counts.granted;
        summary.proposed_actions += r.counts.proposed;
        summary.removed_actions += r.counts.removed;
        summary.kept_for_rare_use += r.counts.kept_for_rare_use;
        match r.status {
            RoleStatus::Proposed | RoleStatus::Unchanged | RoleStatus::NotNarrowed => {
                summary.proposed += 1
            }
            RoleStatus::NoActivity => summary.removal_candidates += 1,
            RoleStatus::Unmatched => summary.unmatched += 1,
            RoleStatus::DoesNotFit => summary.not_fitting += 1,
        }
        if r.status == RoleStatus::Proposed {
            summary.privilege_escalation_removed +=
                o.decision.risks.iter().filter(|x| !x.kept).count();
        }
        roles.insert(o.logical_id.clone(), r);
    }
    if input.ledger.is_some() {
        all_sources.insert("ledger".into());
    }
    Report {
        schema_version: SCHEMA_VERSION,
        generator: input.options.generator.clone(),
        template: input.template_name.clone(),
        stack_name: input.resolution.stack_name.clone(),
        account_id: input.resolution.account_id.clone(),
        generated_at: input
            .options
            .now
            .or(planned.reference_time)
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        window: planned.window.map(report_window),
        sources: all_sources.into_iter().collect(),
        retention_days: input.options.retention_days,
        summary,
        roles,
        not_analysable: model.not_analysable.clone(),
        unattributed_principals: planned.unattributed.clone(),
        evidence: input.options.evidence.clone(),
        coverage: CoverageReport {
            coverage: input.coverage.clone(),
            gaps: input.coverage.gaps(),
            notes: input.coverage_notes.clone(),
        },
        diff: None,
    }
}

fn report_window(w: Window) -> ReportWindow {
    ReportWindow {
        start: w.start,
        end: w.end,
        days: (w.end - w.start).num_days(),
    }
}

fn role_report(
    o: &Outcome,
    pu: &PrincipalUsage,
    in_ledger: bool,
    window: Option<Window>,
) -> RoleReport {
    let d = &o.decision;
    let proposed_status = o.status == RoleStatus::Proposed;
    let mut proposed: BTreeSet<String> = if proposed_status {
        let mut p = o.plan.actions();
        for s in o
            .grants
            .sources
            .iter()
            .filter(|s| s.kind == SourceKind::Fixed)
        {
            for st in s.statements.iter().filter(|s| s.is_allow()) {
                p.extend(st.effective.iter().cloned());
            }
        }
        p
    } else {
        d.granted.clone()
    };
    proposed.retain(|a| d.granted.contains(a));
    let removed: Vec<String> = d.granted.difference(&proposed).cloned().collect();
    let removed_services: BTreeSet<String> = {
        let remaining: BTreeSet<&str> = proposed.iter().map(|a| service_of(a)).collect();
        removed
            .iter()
            .map(|a| service_of(a))
            .filter(|s| !remaining.contains(s))
            .map(str::to_string)
            .collect()
    };
    // What a proposal left as written, so that no report calls a role whose grants were
    // skipped "unchanged, everything kept".
    let not_narrowed: Vec<NotNarrowed> = if proposed_status {
        o.grants
            .sources
            .iter()
            .filter(|s| s.kind == SourceKind::Fixed && s.statements.iter().any(|s| s.is_allow()))
            .filter(|s| !o.exact_managed_policies.contains(&s.id))
            .map(|s| NotNarrowed {
                source: s.label.clone(),
                reason: s
                    .fixed_reason
                    .clone()
                    .unwrap_or_else(|| "keycard cannot rewrite this grant".into()),
            })
            .chain(o.plan.unused_connectors.iter().filter_map(|i| {
                o.grants.sources.get(*i).map(|s| NotNarrowed {
                    source: s.label.clone(),
                    reason: "none of its Permissions categories is needed (what was used is granted elsewhere), and SAM needs at least one: remove the connector if nothing else needs it".into(),
                })
            }))
            .collect()
    } else {
        Vec::new()
    };
    let status = match (proposed_status, removed.is_empty(), not_narrowed.is_empty()) {
        (true, true, true) => RoleStatus::Unchanged,
        (true, true, false) => RoleStatus::NotNarrowed,
        _ => o.status,
    };
    let used: Vec<String> = d
        .used
        .keys()
        .filter(|a| !d.used_not_granted.contains(*a))
        .cloned()
        .collect();
    let kept_actions: Vec<KeptActionReport> = d
        .kept
        .iter()
        .map(|(action, k)| KeptActionReport {
            action: action.clone(),
            reason: k
                .reasons
                .first()
                .map(|r| r.name())
                .unwrap_or("used")
                .to_string(),
            reasons: k.reasons.iter().map(reason_text).collect(),
            last_seen: k.last_seen,
            count: k.count,
            rare: k.rare,
        })
        .collect();
    let unobservable: Vec<UnobservableAction> = d
        .kept
        .iter()
        .filter_map(|(a, k)| {
            k.reasons.iter().find_map(|r| match r {
                KeepReason::Unobservable { by, why } => Some(UnobservableAction {
                    action: a.clone(),
                    reason: if why.is_empty() {
                        format!("the evidence source reports it only as {by}")
                    } else {
                        why.clone()
                    },
                }),
                _ => None,
            })
        })
        .collect();
    let kept_for_rare_use = d
        .kept
        .values()
        .filter(|k| {
            k.rare
                && k.reasons
                    .iter()
                    .any(|r| !matches!(r, KeepReason::Unobservable { .. }))
        })
        .count();
    let denied: Vec<DeniedAttempt> = pu
        .denied
        .iter()
        .map(|(a, u)| DeniedAttempt {
            action: a.clone(),
            count: u.count,
            last_seen: u.last_seen,
            granted: proposed.iter().any(|p| p.eq_ignore_ascii_case(a)),
        })
        .collect();

    let mut flags = Vec::new();
    match (&o.status, &o.resolution) {
        (RoleStatus::Unmatched, Resolution::Unmatched { reason }) => flags.push(flag(
            "unmatched",
            "medium",
            format!("not matched to the evidence: {reason}; no proposal"),
        )),
        (RoleStatus::NoActivity, _) => flags.push(flag(
            "removal_candidate",
            "medium",
            "no activity in the evidence or the ledger within retention: no proposal; consider removing this principal".into(),
        )),
        _ => {}
    }
    for s in &o.grants.sources {
        if let SourceKind::AwsManaged { name } = &s.kind
            && super::risk::is_admin_like_managed_policy(name)
        {
            let kept = d
                .replaced_sources
                .iter()
                .find(|r| r.source == s.label)
                .map(|r| r.replaced_by.len())
                .unwrap_or(0);
            flags.push(flag(
                "admin_policy",
                "high",
                if proposed_status {
                    format!("{name} replaced by {kept} explicit actions")
                } else {
                    format!("{name} attached (unchanged: no proposal)")
                },
            ));
        }
    }
    for risk in &d.risks {
        let what = if risk.actions.len() == 1 {
            risk.actions[0].clone()
        } else {
            format!("{} ({} actions)", risk.pattern, risk.actions.len())
        };
        let mut f = flag(
            "privilege_escalation",
            if risk.kept || risk.on_all_resources {
                "high"
            } else {
                "medium"
            },
            format!(
                "{what}{}: {}; {}, {}",
                if risk.on_all_resources { " on *" } else { "" },
                risk.rationale,
                if risk.used { "used" } else { "never used" },
                if !proposed_status {
                    "still granted (no proposal)"
                } else if risk.kept {
                    "kept"
                } else {
                    "removed"
                }
            ),
        );
        f.action = Some(risk.pattern.clone());
        f.used = Some(risk.used);
        f.kept = Some(if proposed_status { risk.kept } else { true });
        flags.push(f);
    }
    if !d.keep_unmatched.is_empty() {
        flags.push(flag(
            "keep_list_unmatched",
            "info",
            format!(
                "keep-list entries match nothing granted (a keep-list never adds permissions): {}",
                d.keep_unmatched.join(", ")
            ),
        ));
    }
    if o.grants.permissions_boundary {
        flags.push(flag(
            "permissions_boundary",
            "info",
            "PermissionsBoundary left unchanged".into(),
        ));
    }
    if !d.used_not_granted.is_empty() {
        flags.push(flag(
            "used_not_granted",
            "info",
            format!(
                "used but not granted by this template (resource policy or another grant): {}",
                d.used_not_granted
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    flags.extend(o.flags.iter().cloned());
    for n in &not_narrowed {
        flags.push(flag(
            "not_narrowed",
            "medium",
            format!("{} left as written: {}", n.source, n.reason),
        ));
    }
    for (i, kept) in &o.plan.connector_permissions {
        if let Some(s) = o.grants.sources.get(*i)
            && let SourceKind::Connector { categories, .. } = &s.kind
            && kept.len() < categories.len()
        {
            flags.push(flag(
                "connector_narrowed",
                "info",
                format!(
                    "{}: Permissions [{}] → [{}]",
                    s.label,
                    categories.join(", "),
                    kept.join(", ")
                ),
            ));
        }
    }

    let mut sources: BTreeSet<String> = pu
        .sources
        .iter()
        .map(|s| source_name(s).to_string())
        .collect();
    if in_ledger {
        sources.insert("ledger".into());
    }
    let role_window = if pu.windows.is_empty() {
        window
    } else {
        usage_window_of(pu)
    };
    RoleReport {
        resource_type: o.grants.resource_type.clone(),
        status,
        arn: o.resolution.arn().map(str::to_string),
        matched_by: match &o.resolution {
            Resolution::Matched { by, .. } => match by {
                MatchKind::Override => "override",
                MatchKind::StackLookup => "stack_lookup",
                MatchKind::RoleName => "role_name",
                MatchKind::GeneratedName => "generated_name",
            }
            .to_string(),
            Resolution::Unmatched { reason } => reason.clone(),
        },
        counts: RoleCounts {
            granted: d.granted.len(),
            used: used.len(),
            proposed: proposed.len(),
            removed: removed.len(),
            kept: d.kept.len(),
            kept_for_rare_use,
            unobservable: unobservable.len(),
            denied: denied.len(),
        },
        granted_actions: d.granted.iter().cloned().collect(),
        used_actions: used,
        proposed_actions: proposed.into_iter().collect(),
        removed_actions: removed,
        removed_services: removed_services.into_iter().collect(),
        kept_actions,
        unobservable_actions: unobservable,
        denied_attempts: denied,
        unmapped_events: pu
            .unmapped
            .iter()
            .map(|u| UnmappedReport {
                event_source: u.event_source.clone(),
                event_name: u.event_name.clone(),
                reason: u.reason.clone(),
                count: u.count,
            })
            .collect(),
        used_not_granted: d.used_not_granted.iter().cloned().collect(),
        wildcards: d
            .wildcards
            .iter()
            .map(|w| WildcardReport {
                source: w.source.clone(),
                pattern: w.pattern.clone(),
                grants: w.grants,
                replaced_by: w.replaced_by.clone(),
            })
            .collect(),
        replaced_policies: d
            .replaced_sources
            .iter()
            .map(|r| ReplacedPolicy {
                source: r.source.clone(),
                kind: r.kind.clone(),
                grants: r.grants,
                replaced_by: r.replaced_by.clone(),
            })
            .collect(),
        not_narrowed,
        flags,
        policies: o.sizes.clone(),
        window: role_window.map(report_window),
        sources: sources.into_iter().collect(),
    }
}

fn usage_window_of(pu: &PrincipalUsage) -> Option<Window> {
    let start = pu.windows.iter().map(|w| w.start).min()?;
    let end = pu.windows.iter().map(|w| w.end).max()?;
    Some(Window { start, end })
}

fn reason_text(r: &KeepReason) -> String {
    match r {
        KeepReason::Used => "used in the window".into(),
        KeepReason::Ledger => "seen in the ledger within retention".into(),
        KeepReason::KeepList { origin, note } => format!(
            "keep-list ({}): {note}",
            match origin {
                super::model::KeepOrigin::Template => "template",
                super::model::KeepOrigin::Config => "keep file",
            }
        ),
        KeepReason::Unobservable { by, why } if why.is_empty() => {
            format!("not observable by the evidence source ({by})")
        }
        KeepReason::Unobservable { why, .. } => format!("not observable: {why}"),
    }
}
