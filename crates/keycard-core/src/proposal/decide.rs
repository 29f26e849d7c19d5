//! The decision per principal: what was granted, what the evidence shows was used, what is kept
//! (and why), what goes.
//!
//! Everything here errs on the side of keeping: an action is removed only when it is granted,
//! not seen within the retention period, not on a keep-list, and observable by the evidence
//! source. Breaking a rarely used code path in production is the failure mode that makes teams
//! abandon least privilege, so the evidence for every kept action is recorded for the report.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::model::{GrantStatement, KeepOrigin, PrincipalGrants, SourceKind};
use super::resources::{NameContext, collect_refs, resolve_name};
use super::risk;
use crate::catalog::ActionSet;
use crate::coverage::{Coverage, GrantedResource};
use crate::policy::{action_matches, is_wildcard};
use crate::usage::{ActionUsage, PrincipalUsage};

/// The evidence for one principal, split by where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// Usage of this run's window.
    pub current: Option<&'a PrincipalUsage>,
    /// Usage carried by the ledger from earlier runs.
    pub ledger: Option<&'a PrincipalUsage>,
    /// Actions last seen before this instant are treated as not seen (retention).
    pub retention_cutoff: DateTime<Utc>,
    /// End of the evidence window, to judge how recent a use is.
    pub window_end: DateTime<Utc>,
    /// Length of the evidence window (current ∪ ledger), to judge how rare a use is.
    pub window_days: i64,
    /// What this run's evidence could have recorded; an action it could not is never removed.
    pub coverage: &'a Coverage,
    /// Resolves granted resources (`!Sub` with pseudo parameters, parameters) so coverage can
    /// tell whether they lie inside a partial data event selector.
    pub names: Option<&'a NameContext>,
    /// Logical ids of template resources the evidence records data events on.
    pub recorded_resources: Option<&'a BTreeSet<String>>,
}

/// Why an action stays in the proposal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum KeepReason {
    /// Seen in this run's evidence window.
    Used,
    /// Not in this window, but in the ledger within the retention period.
    Ledger,
    /// On a keep-list.
    KeepList { origin: KeepOrigin, note: String },
    /// The evidence source cannot see this action. `by` is what says so: the unobservable
    /// entry of the usage that matched (a service prefix or an action, e.g. Access Analyzer's
    /// service-level answers), or `coverage` when the trail's coverage does; `why` explains.
    Unobservable {
        by: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        why: String,
    },
}

impl KeepReason {
    /// The short name used in report.json's `reason`.
    pub fn name(&self) -> &'static str {
        match self {
            KeepReason::Used => "used",
            KeepReason::Ledger => "ledger",
            KeepReason::KeepList { .. } => "keep_list",
            KeepReason::Unobservable { .. } => "unobservable",
        }
    }
}

/// A kept action with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptAction {
    /// Every reason that applies, strongest first (evidence before lists).
    pub reasons: Vec<KeepReason>,
    pub last_seen: Option<DateTime<Utc>>,
    pub first_seen: Option<DateTime<Utc>>,
    pub count: u64,
    /// Kept for rare use: seen only in the ledger, on a keep-list without evidence, last seen
    /// more than 90 days before the window's end (a 90-day window would have dropped it), or
    /// called on average at most once every 10 days over the evidence window.
    pub rare: bool,
}

/// A wildcard pattern as granted, and the explicit actions that replace it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WildcardGrant {
    pub source: String,
    pub pattern: String,
    /// How many actions the pattern grants.
    pub grants: usize,
    /// The kept actions that the pattern covered.
    pub replaced_by: Vec<String>,
}

/// A managed policy or SAM policy template and what replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceReplacement {
    pub source: String,
    pub kind: String,
    pub grants: usize,
    pub replaced_by: Vec<String>,
}

/// Privilege-escalation actions granted to the principal, grouped by escalation pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskFlag {
    /// The escalation pattern (`iam:Attach*Policy`).
    pub pattern: String,
    /// The granted actions under it.
    pub actions: Vec<String>,
    pub rationale: String,
    /// Granted on every resource (`*`), which is what makes PassRole/AssumeRole dangerous.
    pub on_all_resources: bool,
    /// Whether any of the actions was used.
    pub used: bool,
    /// Whether any of the actions stays in the proposal.
    pub kept: bool,
}

/// What the decision logic concluded for one principal.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Decision {
    pub granted: BTreeSet<String>,
    /// Successful calls within retention (window ∪ ledger), granted or not.
    pub used: BTreeMap<String, ActionUsage>,
    /// Used, but not granted by anything the template shows (a resource policy, a grant
    /// outside the template, or an action the catalog does not know).
    pub used_not_granted: BTreeSet<String>,
    pub kept: BTreeMap<String, KeptAction>,
    pub removed: BTreeSet<String>,
    pub unused_services: BTreeSet<String>,
    pub wildcards: Vec<WildcardGrant>,
    pub replaced_sources: Vec<SourceReplacement>,
    pub risks: Vec<RiskFlag>,
    /// Keep-list entries that match nothing granted (they cannot widen the proposal).
    pub keep_unmatched: Vec<String>,
    /// Whether anything was observed at all (no activity → no proposal).
    pub has_activity: bool,
}

/// Rare: on average at most one call per this many days (a monthly job making a few calls
/// is rare; a weekly one is not).
const RARE_INTERVAL_DAYS: i64 = 10;
/// Rare: last seen this long before the window's end (what a 90-day window would miss).
const RARE_AGE_DAYS: i64 = 90;

/// Decides what to keep for one principal.
pub fn decide(
    grants: &PrincipalGrants,
    evidence: &Evidence<'_>,
    config_keep: &[super::model::KeepEntry],
) -> Decision {
    let granted = grants.granted();
    let mut d = Decision {
        granted: granted.clone(),
        ..Decision::default()
    };

    // Evidence within retention: the union of this window and the ledger.
    let mut in_window: BTreeSet<String> = BTreeSet::new();
    let mut unobservable: BTreeSet<String> = BTreeSet::new();
    for (pu, current) in [(evidence.current, true), (evidence.ledger, false)] {
        let Some(pu) = pu else { continue };
        for (action, au) in &pu.actions {
            if au.last_seen < evidence.retention_cutoff {
                continue;
            }
            if current {
                in_window.insert(action.clone());
            }
            match d.used.get_mut(action) {
                Some(existing) => existing.merge(au),
                None => {
                    d.used.insert(action.clone(), au.clone());
                }
            }
        }
        unobservable.extend(pu.unobservable.iter().cloned());
    }
    d.has_activity = !d.used.is_empty() || !unobservable.is_empty();

    // Used actions are matched case-insensitively against the granted (canonical) set.
    let granted_lc: BTreeMap<String, &String> = granted
        .iter()
        .map(|a| (a.to_ascii_lowercase(), a))
        .collect();
    for (action, au) in &d.used {
        match granted_lc.get(&action.to_ascii_lowercase()) {
            Some(canonical) => {
                let reason = if in_window.contains(action) {
                    KeepReason::Used
                } else {
                    KeepReason::Ledger
                };
                let rare = is_rare(au, reason == KeepReason::Ledger, evidence);
                d.kept.insert(
                    (*canonical).clone(),
                    KeptAction {
                        reasons: vec![reason],
                        last_seen: Some(au.last_seen),
                        first_seen: Some(au.first_seen),
                        count: au.count,
                        rare,
                    },
                );
            }
            None => {
                d.used_not_granted.insert(action.clone());
            }
        }
    }

    // Keep-lists: the template's, then the config file's. Patterns expand over the granted
    // set only, so a keep-list can never add a permission.
    for entry in grants.keep.iter().chain(config_keep.iter()) {
        for pattern in &entry.actions {
            let mut matched = false;
            for action in granted.iter().filter(|a| action_matches(pattern, a)) {
                matched = true;
                let reason = KeepReason::KeepList {
                    origin: entry.origin,
                    note: entry.reason.clone(),
                };
                let kept = d.kept.entry(action.clone()).or_insert_with(|| KeptAction {
                    reasons: Vec::new(),
                    last_seen: None,
                    first_seen: None,
                    count: 0,
                    rare: true,
                });
                if !kept.reasons.contains(&reason) {
                    kept.reasons.push(reason);
                }
            }
            if !matched {
                d.keep_unmatched.push(pattern.clone());
            }
        }
    }

    // Unobservable services or actions: kept and marked, never dropped.
    for action in &granted {
        if let Some(by) = unobservable.iter().find(|u| unobservable_covers(u, action)) {
            keep_unobservable(&mut d.kept, action, by.clone(), String::new());
        }
    }

    // What the evidence could not have seen: kept, with the reason, unless it was seen anyway.
    let mut granted_resources =
        GrantedResources::of(grants, evidence.names, evidence.recorded_resources);
    for action in &granted {
        if d.used.contains_key(action) {
            continue;
        }
        let resources = granted_resources.of_action(action);
        if let Some(why) = evidence.coverage.why_unobservable(action, resources) {
            keep_unobservable(&mut d.kept, action, "coverage".into(), why);
        }
    }
    for kept in d.kept.values_mut() {
        kept.reasons.sort();
        kept.reasons.dedup();
    }

    d.removed = granted
        .iter()
        .filter(|a| !d.kept.contains_key(*a))
        .cloned()
        .collect();
    let kept_services: BTreeSet<&str> = d.kept.keys().map(|a| service_of(a)).collect();
    d.unused_services = granted
        .iter()
        .map(|a| service_of(a))
        .filter(|s| !kept_services.contains(s))
        .map(str::to_string)
        .collect();

    // Wildcards and replaced sources, for the reviewer. What a pattern covers depends only on
    // the pattern: worked out once per pattern, not once per statement naming it (a thousand
    // `Action: '*'` statements were a thousand walks of every granted action, issue 14).
    let mut covered_by_pattern: BTreeMap<&str, (usize, Vec<String>)> = BTreeMap::new();
    for source in &grants.sources {
        // Managed policies and SAM templates are reported whole, as replaced sources.
        let statements = if source.is_replaceable() {
            &[][..]
        } else {
            &source.statements[..]
        };
        for st in statements.iter().filter(|s| s.is_allow()) {
            for pattern in st.actions.iter().filter(|p| is_wildcard(p)) {
                let (grants, replaced_by) = covered_by_pattern
                    .entry(pattern.as_str())
                    .or_insert_with(|| {
                        let covered: Vec<&String> = granted
                            .iter()
                            .filter(|a| action_matches(pattern, a))
                            .collect();
                        let replaced_by = covered
                            .iter()
                            .filter(|a| d.kept.contains_key(a.as_str()))
                            .map(|a| (*a).clone())
                            .collect();
                        (covered.len(), replaced_by)
                    });
                d.wildcards.push(WildcardGrant {
                    source: source.label.clone(),
                    pattern: pattern.clone(),
                    grants: *grants,
                    replaced_by: replaced_by.clone(),
                });
            }
            if !st.not_actions.is_empty() {
                d.wildcards.push(WildcardGrant {
                    source: source.label.clone(),
                    pattern: format!("NotAction: {}", st.not_actions.join(", ")),
                    grants: st.effective.len(),
                    replaced_by: st
                        .effective
                        .iter()
                        .filter(|a| d.kept.contains_key(*a))
                        .cloned()
                        .collect(),
                });
            }
        }
        let kind = match &source.kind {
            SourceKind::AwsManaged { .. } => "aws_managed_policy",
            SourceKind::SamPolicyTemplate { .. } => "sam_policy_template",
            _ => continue,
        };
        let effective: BTreeSet<&String> = source
            .statements
            .iter()
            .filter(|s| s.is_allow())
            .flat_map(|s| s.effective.iter())
            .collect();
        d.replaced_sources.push(SourceReplacement {
            source: source.label.clone(),
            kind: kind.to_string(),
            grants: effective.len(),
            replaced_by: effective
                .into_iter()
                .filter(|a| d.kept.contains_key(*a))
                .cloned()
                .collect(),
        });
    }

    // Privilege-escalation actions, one flag per pattern.
    for action in &granted {
        let Some((pattern, rationale)) = risk::escalation_reason(action) else {
            continue;
        };
        let on_all = grants
            .allow_statements()
            .filter(|(_, st)| st.effective.contains(action))
            .any(|(_, st)| {
                st.not_resource.is_none()
                    && st
                        .resource_items()
                        .iter()
                        .any(|r| r.as_str().is_some_and(|s| s == "*"))
            });
        if risk::risky_only_on_star(action) && !on_all {
            continue;
        }
        let used = d.kept.get(action).is_some_and(|k| {
            k.reasons
                .iter()
                .any(|r| matches!(r, KeepReason::Used | KeepReason::Ledger))
        });
        let kept = d.kept.contains_key(action);
        match d.risks.iter_mut().find(|r| r.pattern == pattern) {
            Some(r) => {
                r.actions.push(action.clone());
                r.on_all_resources |= on_all;
                r.used |= used;
                r.kept |= kept;
            }
            None => d.risks.push(RiskFlag {
                pattern: pattern.to_string(),
                actions: vec![action.clone()],
                rationale: rationale.to_string(),
                on_all_resources: on_all,
                used,
                kept,
            }),
        }
    }
    d
}

/// Marks `action` kept because the evidence cannot see it (an unobservable action is not rare:
/// it is kept for what the evidence is, not for how seldom it is used).
fn keep_unobservable(
    kept: &mut BTreeMap<String, KeptAction>,
    action: &str,
    by: String,
    why: String,
) {
    kept.entry(action.to_string())
        .or_insert_with(|| KeptAction {
            reasons: Vec::new(),
            last_seen: None,
            first_seen: None,
            count: 0,
            rare: false,
        })
        .reasons
        .push(KeepReason::Unobservable { by, why });
}

/// The resources each granted action is granted on, for the coverage check of the actions
/// the evidence did not show.
///
/// Kept per statement, not per action: a statement's resources are listed once, and an
/// action's list is the union over the statements granting it, worked out once per distinct
/// set of such statements. Copying every resource under every action made 1,024 `Action: '*'`
/// statements on 1,024 different resources 22 million list entries with a linear duplicate
/// check each (issue 14: killed after 10 minutes at 1.3 GB); now they are one union of 1,024.
struct GrantedResources<'g> {
    /// Statements with the same effective actions, merged: their actions and the indices of
    /// their resource lists, in statement order.
    groups: Vec<(&'g ActionSet, Vec<usize>)>,
    /// Each statement's resources, in statement order (a statement repeating an earlier one,
    /// same actions and resources, is not listed again).
    statements: Vec<Vec<GrantedResource>>,
    /// The union for each distinct set of groups granting an action.
    unions: HashMap<Vec<usize>, Vec<GrantedResource>>,
}

impl<'g> GrantedResources<'g> {
    fn of(
        grants: &'g PrincipalGrants,
        names: Option<&NameContext>,
        recorded: Option<&BTreeSet<String>>,
    ) -> Self {
        let mut out = GrantedResources {
            groups: Vec::new(),
            statements: Vec::new(),
            unions: HashMap::new(),
        };
        for (_, st) in grants.allow_statements() {
            let resources = statement_resources(st, names, recorded);
            let group = match out.groups.iter().position(|(effective, _)| {
                effective.len() == st.effective.len() && **effective == st.effective
            }) {
                Some(g) => g,
                None => {
                    out.groups.push((&st.effective, Vec::new()));
                    out.groups.len() - 1
                }
            };
            // A statement with the same actions and resources as an earlier one adds nothing.
            let statements = &out.statements;
            let members = &mut out.groups[group].1;
            if members.iter().any(|&i| statements[i] == resources) {
                continue;
            }
            members.push(out.statements.len());
            out.statements.push(resources);
        }
        out
    }

    /// What `action` is granted on, in statement order, each resource once; `[Unknown]` when no
    /// Allow statement names it (it came from elsewhere: nothing is known of its scope).
    fn of_action(&mut self, action: &str) -> &[GrantedResource] {
        let key: Vec<usize> = self
            .groups
            .iter()
            .enumerate()
            .filter(|(_, (effective, _))| effective.contains(action))
            .map(|(g, _)| g)
            .collect();
        let (groups, statements) = (&self.groups, &self.statements);
        self.unions.entry(key).or_insert_with_key(|key| {
            let mut indices: Vec<usize> = key
                .iter()
                .flat_map(|&g| groups[g].1.iter().copied())
                .collect();
            indices.sort_unstable();
            let mut seen = HashSet::new();
            let mut union: Vec<GrantedResource> = indices
                .into_iter()
                .flat_map(|i| statements[i].iter())
                .filter(|r| seen.insert(*r))
                .cloned()
                .collect();
            if union.is_empty() {
                union.push(GrantedResource::Unknown);
            }
            union
        })
    }
}

/// A statement's resources as the coverage check sees them: ARNs (names resolved where the
/// template says them), the template's own resources, or unknown; `[Unknown]` for
/// `NotResource` or no resource at all.
fn statement_resources(
    st: &GrantStatement,
    names: Option<&NameContext>,
    recorded: Option<&BTreeSet<String>>,
) -> Vec<GrantedResource> {
    let mut resources: Vec<GrantedResource> = if st.not_resource.is_some() {
        vec![GrantedResource::Unknown]
    } else {
        st.resource_items()
            .into_iter()
            .map(|v| {
                let resolved = match (v.as_str(), names) {
                    (Some(s), _) => Some(s.to_string()),
                    (None, Some(ctx)) => resolve_name(v, ctx),
                    (None, None) => None,
                };
                match resolved {
                    Some(arn) => GrantedResource::Arn(arn),
                    None => match single_reference(v) {
                        Some(id) => GrantedResource::TemplateResource {
                            recorded: recorded.is_some_and(|r| r.contains(&id)),
                            logical_id: id,
                        },
                        None => GrantedResource::Unknown,
                    },
                }
            })
            .collect()
    };
    if resources.is_empty() {
        resources.push(GrantedResource::Unknown);
    }
    resources
}

/// The one template resource an expression refers to (`Ref X`, `Fn::GetAtt [X, …]`, `${X}` or
/// `${X.Arn}` in a `Fn::Sub`, pseudo parameters aside); `None` for none or several.
fn single_reference(v: &serde_json::Value) -> Option<String> {
    let mut ids: BTreeSet<String> = BTreeSet::new();
    collect_refs(v, &mut ids);
    if ids.len() == 1 {
        ids.into_iter().next()
    } else {
        None
    }
}

/// Whether an unobservable entry (service prefix, action, or action pattern) covers `action`.
pub fn unobservable_covers(entry: &str, action: &str) -> bool {
    if entry.contains(':') {
        action_matches(entry, action)
    } else {
        service_of(action).eq_ignore_ascii_case(entry)
    }
}

/// The service prefix of an action (`s3` for `s3:GetObject`).
pub fn service_of(action: &str) -> &str {
    action.split_once(':').map(|(s, _)| s).unwrap_or(action)
}

fn is_rare(au: &ActionUsage, ledger_only: bool, evidence: &Evidence<'_>) -> bool {
    if ledger_only {
        return true;
    }
    if evidence.window_end - au.last_seen > Duration::days(RARE_AGE_DAYS) {
        return true;
    }
    let days = evidence.window_days.max(1);
    (au.count as i64).saturating_mul(RARE_INTERVAL_DAYS) <= days
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proposal::model::{GrantSource, GrantStatement, KeepEntry};
    use chrono::TimeZone;

    fn at(days_before_end: i64) -> DateTime<Utc> {
        end() - Duration::days(days_before_end)
    }

    fn end() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn usage(actions: &[(&str, i64, u64)]) -> PrincipalUsage {
        let mut pu = PrincipalUsage::default();
        for (a, days, count) in actions {
            let mut au = ActionUsage::seen_once(at(*days));
            au.count = *count;
            pu.actions.insert((*a).to_string(), au);
        }
        pu
    }

    fn grants() -> PrincipalGrants {
        let mut st = GrantStatement::allow_all_resources(
            [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "iam:PassRole",
                "dynamodb:GetItem",
            ]
            .map(String::from),
        );
        st.actions = vec![
            "s3:*".into(),
            "iam:PassRole".into(),
            "dynamodb:GetItem".into(),
        ];
        PrincipalGrants {
            logical_id: "WorkerRole".into(),
            resource_type: "AWS::IAM::Role".into(),
            sources: vec![GrantSource {
                id: "WorkerRole/Policies/0".into(),
                label: "WorkerRole Policies[0]".into(),
                kind: SourceKind::Document { managed: false },
                statements: vec![st],
                attached_to: vec!["WorkerRole".into()],
                fixed_reason: None,
            }],
            keep: vec![KeepEntry {
                actions: vec!["s3:Delete*".into()],
                reason: "yearly purge".into(),
                origin: KeepOrigin::Template,
            }],
            permissions_boundary: false,
        }
    }

    #[test]
    fn keeps_used_ledger_keep_list_and_removes_the_rest() {
        // Given a window with GetObject used daily, and a ledger that saw PutObject 200 days ago
        let current = usage(&[("s3:GetObject", 1, 180), ("sqs:SendMessage", 3, 4)]);
        let ledger = usage(&[("s3:PutObject", 200, 2), ("dynamodb:GetItem", 500, 1)]);
        let ev = Evidence {
            current: Some(&current),
            ledger: Some(&ledger),
            retention_cutoff: at(400),
            window_end: end(),
            window_days: 180,
            coverage: &crate::coverage::Coverage::all_seen(),
            names: None,
            recorded_resources: None,
        };
        // When deciding
        let d = decide(&grants(), &ev, &[]);
        // Then used and ledger (within retention) are kept, the keep-list is honoured,
        // anything else is removed and the out-of-retention ledger entry is gone.
        assert_eq!(d.kept["s3:GetObject"].reasons, vec![KeepReason::Used]);
        assert!(!d.kept["s3:GetObject"].rare);
        assert_eq!(d.kept["s3:PutObject"].reasons, vec![KeepReason::Ledger]);
        assert!(d.kept["s3:PutObject"].rare);
        assert!(matches!(
            d.kept["s3:DeleteObject"].reasons[0],
            KeepReason::KeepList {
                origin: KeepOrigin::Template,
                ..
            }
        ));
        assert_eq!(
            d.removed,
            ["dynamodb:GetItem", "iam:PassRole"]
                .map(String::from)
                .into()
        );
        assert_eq!(
            d.unused_services,
            ["dynamodb", "iam"].map(String::from).into()
        );
        assert_eq!(d.used_not_granted, ["sqs:SendMessage".to_string()].into());
        assert_eq!(d.risks.len(), 1);
        assert!(d.risks[0].on_all_resources && !d.risks[0].used && !d.risks[0].kept);
        assert_eq!(d.wildcards[0].pattern, "s3:*");
        assert_eq!(d.wildcards[0].grants, 3);
        assert!(d.has_activity);
    }

    #[test]
    fn a_management_events_only_trail_never_removes_data_event_actions() {
        // Given a role that used s3:GetObject, granted s3:PutObject and dynamodb:GetItem too
        let current = usage(&[("s3:GetObject", 1, 100)]);
        let default_trail = crate::coverage::Coverage::default();
        let full = crate::coverage::Coverage::everything(crate::coverage::Basis::Stated);
        let ev = |coverage| Evidence {
            current: Some(&current),
            ledger: None,
            retention_cutoff: at(400),
            window_end: end(),
            window_days: 90,
            coverage,
            names: None,
            recorded_resources: None,
        };
        // When the evidence is a default trail (no data events)
        let d = decide(&grants(), &ev(&default_trail), &[]);
        // Then no data-event action is removed, each says why (PassRole, derived from the
        // write management events that pass a role, is observable and goes)
        assert_eq!(d.removed, ["iam:PassRole".to_string()].into());
        for a in ["s3:PutObject", "dynamodb:GetItem"] {
            assert!(
                d.kept[a].reasons.iter().any(|r| matches!(r,
                    KeepReason::Unobservable { by, why } if by == "coverage" && why.contains("data event"))),
                "{a}: {:?}",
                d.kept[a]
            );
        }
        // And with data events logged, the same decision is as tight as before
        let d = decide(&grants(), &ev(&full), &[]);
        assert_eq!(
            d.removed,
            ["dynamodb:GetItem", "iam:PassRole", "s3:PutObject"]
                .map(String::from)
                .into()
        );
    }

    #[test]
    fn unobservable_actions_are_kept_and_marked() {
        let mut current = usage(&[("s3:GetObject", 1, 100)]);
        current.unobservable.insert("iam:PassRole".into());
        let ev = Evidence {
            current: Some(&current),
            ledger: None,
            retention_cutoff: at(400),
            window_end: end(),
            window_days: 90,
            coverage: &crate::coverage::Coverage::all_seen(),
            names: None,
            recorded_resources: None,
        };
        let d = decide(&grants(), &ev, &[]);
        let reasons = &d.kept["iam:PassRole"].reasons;
        assert_eq!(
            reasons[0],
            KeepReason::Unobservable {
                by: "iam:PassRole".into(),
                why: String::new()
            }
        );
        assert_eq!(reasons.len(), 1);
        assert!(d.risks[0].kept);
        // Under Access Analyzer's coverage, PassRole is kept even without an unobservable
        // entry: CloudTrail never records it, and Access Analyzer does not derive it.
        let plain = usage(&[("s3:GetObject", 1, 100)]);
        let aa = crate::coverage::Coverage::access_analyzer();
        let ev = Evidence {
            current: Some(&plain),
            coverage: &aa,
            ..ev
        };
        let d = decide(&grants(), &ev, &[]);
        assert!(
            d.kept["iam:PassRole"].reasons.iter().any(
                |r| matches!(r, KeepReason::Unobservable { by, why } if by == "coverage" && why.contains("never records"))
            ),
            "{:?}",
            d.kept["iam:PassRole"]
        );
    }

    #[test]
    fn no_evidence_means_no_activity_and_unmatched_keep_is_reported() {
        let ev = Evidence {
            current: None,
            ledger: None,
            retention_cutoff: at(400),
            window_end: end(),
            window_days: 90,
            coverage: &crate::coverage::Coverage::all_seen(),
            names: None,
            recorded_resources: None,
        };
        let keep = vec![KeepEntry {
            actions: vec!["ec2:RunInstances".into()],
            reason: "x".into(),
            origin: KeepOrigin::Config,
        }];
        let d = decide(&grants(), &ev, &keep);
        assert!(!d.has_activity);
        assert_eq!(d.keep_unmatched, vec!["ec2:RunInstances".to_string()]);
    }

    /// A statement repeated (same actions, same resources) is walked once: the resources per
    /// action keep the order of first appearance, and each repeat still lists its wildcard.
    /// An Allow statement of `actions` on one `resource`.
    fn allow_on(actions: &[&str], resource: &str) -> GrantStatement {
        let mut st = GrantStatement::allow_all_resources(actions.iter().map(|a| a.to_string()));
        st.resource = Some(serde_json::json!(resource));
        st
    }

    #[test]
    fn resources_are_kept_per_statement_and_united_once_per_set_of_statements() {
        // Statement order is kept across statements with different actions.
        let mut g = grants();
        g.sources[0].statements = vec![
            allow_on(&["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::r1/*"),
            allow_on(&["s3:GetObject"], "arn:aws:s3:::r2/*"),
            allow_on(&["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::r3/*"),
        ];
        let arn = |s: &str| GrantedResource::Arn(s.into());
        let mut r = GrantedResources::of(&g, None, None);
        assert_eq!(
            r.of_action("s3:GetObject"),
            [
                arn("arn:aws:s3:::r1/*"),
                arn("arn:aws:s3:::r2/*"),
                arn("arn:aws:s3:::r3/*")
            ]
        );
        assert_eq!(
            r.of_action("s3:PutObject"),
            [arn("arn:aws:s3:::r1/*"), arn("arn:aws:s3:::r3/*")]
        );

        // 1,024 `Action: '*'` statements, each on its own resource (issue 14: this was every
        // resource copied under each of the catalog's ~22k actions): one group, and every
        // action's list is the same single union of the 1,024 resources.
        let everything: ActionSet = crate::catalog::Catalog::embedded()
            .expand("*")
            .actions
            .into();
        let mut g = grants();
        g.sources[0].statements = (0..1024)
            .map(|i| {
                let mut st = GrantStatement::allow_all_resources(["*".to_string()]);
                st.effective = everything.clone();
                st.resource = Some(serde_json::json!(format!("arn:aws:s3:::bucket-{i}/*")));
                st
            })
            .collect();
        let mut r = GrantedResources::of(&g, None, None);
        assert_eq!(r.groups.len(), 1);
        assert_eq!(r.statements.len(), 1024);
        let all: Vec<GrantedResource> = (0..1024)
            .map(|i| arn(&format!("arn:aws:s3:::bucket-{i}/*")))
            .collect();
        for action in ["s3:GetObject", "dynamodb:GetItem", "iam:PassRole"] {
            assert_eq!(r.of_action(action), all.as_slice(), "{action}");
        }
        assert_eq!(r.unions.len(), 1);
    }

    #[test]
    fn repeated_statements_change_nothing_but_the_wildcard_list() {
        let mut g = grants();
        // The same actions on another resource, and other actions on the same resource, are
        // not repeats: each adds to the list.
        let first = allow_on(&["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::a/*");
        g.sources[0].statements = vec![
            first.clone(),
            allow_on(&["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::b/*"),
            first.clone(),
            allow_on(&["s3:DeleteObject"], "arn:aws:s3:::a/*"),
        ];
        let arn = |s: &str| GrantedResource::Arn(s.into());
        let mut by_action = GrantedResources::of(&g, None, None);
        for action in ["s3:GetObject", "s3:PutObject"] {
            assert_eq!(
                by_action.of_action(action),
                [arn("arn:aws:s3:::a/*"), arn("arn:aws:s3:::b/*")],
                "{action}"
            );
        }
        assert_eq!(
            by_action.of_action("s3:DeleteObject"),
            [arn("arn:aws:s3:::a/*")]
        );
        assert_eq!(
            by_action.of_action("sqs:SendMessage"),
            [GrantedResource::Unknown]
        );

        // The same statement once or three times: the same decision, one wildcard per copy.
        let current = usage(&[("s3:GetObject", 1, 100)]);
        let ev = Evidence {
            current: Some(&current),
            ledger: None,
            retention_cutoff: at(400),
            window_end: end(),
            window_days: 90,
            coverage: &crate::coverage::Coverage::default(),
            names: None,
            recorded_resources: None,
        };
        let once = decide(&grants(), &ev, &[]);
        let mut thrice = grants();
        let st = thrice.sources[0].statements[0].clone();
        thrice.sources[0].statements = vec![st.clone(), st.clone(), st];
        let thrice = decide(&thrice, &ev, &[]);
        assert_eq!(thrice.kept, once.kept);
        assert_eq!(thrice.removed, once.removed);
        assert_eq!(
            thrice.wildcards,
            [
                once.wildcards[0].clone(),
                once.wildcards[0].clone(),
                once.wildcards[0].clone()
            ]
        );
        assert_eq!(once.wildcards[0].grants, 3);
        assert_eq!(
            once.wildcards[0].replaced_by,
            ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
        );
    }

    #[test]
    fn monthly_use_is_rare_daily_use_is_not() {
        let current = usage(&[("s3:GetObject", 2, 7), ("s3:PutObject", 0, 400)]);
        let ev = Evidence {
            current: Some(&current),
            ledger: None,
            retention_cutoff: at(400),
            window_end: end(),
            window_days: 200,
            coverage: &crate::coverage::Coverage::all_seen(),
            names: None,
            recorded_resources: None,
        };
        let d = decide(&grants(), &ev, &[]);
        assert!(d.kept["s3:GetObject"].rare);
        assert!(!d.kept["s3:PutObject"].rare);
    }
}
