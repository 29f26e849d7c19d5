//! The report model of a run, built from the plan: per-role counts, kept and removed actions
//! with their reasons, flags, sizes. Built from the same facts the edits come from, so the
//! report never describes a template other than the proposed one; rendering is
//! [`crate::report`]'s business.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::decide::{KeepReason, service_of};
use super::model::SourceKind;
use super::plan::{Outcome, Planned};
use super::resolve::{MatchKind, Resolution};
use super::template_model::TemplateModel;
use super::{ProposalInput, source_name};
use crate::report::{
    CoverageReport, DeniedAttempt, Flag, KeptActionReport, NotNarrowed, ReplacedPolicy, Report,
    ReportWindow, RoleCounts, RoleReport, RoleStatus, SCHEMA_VERSION, Summary, UnmappedReport,
    UnobservableAction, WildcardReport,
};
use crate::usage::{PrincipalUsage, Window};

/// A report flag without the per-action fields (those only privilege-escalation flags fill).
pub(crate) fn flag(kind: &str, severity: &str, message: String) -> Flag {
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
pub(crate) fn build_report(
    planned: &Planned,
    model: &TemplateModel,
    input: &ProposalInput,
) -> Report {
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
            .chain(o.plan.connector_broader.iter().filter_map(|(i, why)| {
                o.grants.sources.get(*i).map(|s| NotNarrowed {
                    source: s.label.clone(),
                    reason: why.clone(),
                })
            }))
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
