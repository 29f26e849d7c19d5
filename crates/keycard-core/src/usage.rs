//! The usage model: what each principal was seen doing, from any evidence source.
//!
//! Both evidence sources (keycard's CloudTrail engine and Access Analyzer's generated policies)
//! produce this one shape, and it is mergeable (a union over windows) because the rare-event
//! ledger is nothing but the merge of every run's usage.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a piece of usage evidence came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceSource {
    /// keycard's own scan of CloudTrail log files.
    Cloudtrail,
    /// IAM Access Analyzer policy generation.
    AccessAnalyzer,
    /// A previous run's usage, carried by the ledger.
    Ledger,
}

/// A closed time interval covered by the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// What is known about one action of one principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionUsage {
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub count: u64,
    /// ARNs seen for this action; empty means no certain resource (i.e. `*`).
    #[serde(default)]
    pub resources: BTreeSet<String>,
}

impl ActionUsage {
    pub fn seen_once(at: DateTime<Utc>) -> Self {
        ActionUsage {
            first_seen: at,
            last_seen: at,
            count: 1,
            resources: BTreeSet::new(),
        }
    }

    /// Records one more sighting.
    pub fn record(&mut self, at: DateTime<Utc>) {
        self.first_seen = self.first_seen.min(at);
        self.last_seen = self.last_seen.max(at);
        self.count = self.count.saturating_add(1);
    }

    /// Union with another record of the same action.
    pub fn merge(&mut self, other: &ActionUsage) {
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.count = self.count.saturating_add(other.count);
        self.resources.extend(other.resources.iter().cloned());
    }
}

/// An event whose IAM action could not be determined (or is not in the catalog).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnmappedEvent {
    pub event_source: String,
    pub event_name: String,
    pub reason: String,
    pub count: u64,
}

/// Everything seen for one principal (role or user ARN).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrincipalUsage {
    /// Successful calls, by IAM action (`service:Action`, catalog casing).
    #[serde(default)]
    pub actions: BTreeMap<String, ActionUsage>,
    /// Calls that failed with an error code (AccessDenied and friends), by IAM action.
    #[serde(default)]
    pub denied: BTreeMap<String, ActionUsage>,
    #[serde(default)]
    pub unmapped: Vec<UnmappedEvent>,
    /// Services (IAM prefixes) or actions the source could only see at service level or not at
    /// all (for example S3 data events and iam:PassRole under Access Analyzer). Later steps must
    /// never drop grants for these.
    #[serde(default)]
    pub unobservable: BTreeSet<String>,
    #[serde(default)]
    pub windows: Vec<Window>,
    #[serde(default)]
    pub sources: BTreeSet<EvidenceSource>,
}

impl PrincipalUsage {
    /// Whether anything at all was observed for this principal.
    pub fn has_activity(&self) -> bool {
        !self.actions.is_empty() || !self.unobservable.is_empty()
    }

    pub fn merge(&mut self, other: &PrincipalUsage) {
        merge_actions(&mut self.actions, &other.actions);
        merge_actions(&mut self.denied, &other.denied);
        for u in &other.unmapped {
            match self.unmapped.iter_mut().find(|m| {
                m.event_source == u.event_source
                    && m.event_name == u.event_name
                    && m.reason == u.reason
            }) {
                Some(m) => m.count = m.count.saturating_add(u.count),
                None => self.unmapped.push(u.clone()),
            }
        }
        self.unmapped.sort();
        self.unobservable.extend(other.unobservable.iter().cloned());
        self.windows = merge_windows(self.windows.iter().chain(other.windows.iter()).copied());
        self.sources.extend(other.sources.iter().cloned());
    }
}

fn merge_actions(into: &mut BTreeMap<String, ActionUsage>, from: &BTreeMap<String, ActionUsage>) {
    for (action, usage) in from {
        match into.get_mut(action) {
            Some(existing) => existing.merge(usage),
            None => {
                into.insert(action.clone(), usage.clone());
            }
        }
    }
}

/// Sorts windows and joins the ones that overlap or touch.
pub fn merge_windows(windows: impl Iterator<Item = Window>) -> Vec<Window> {
    let mut all: Vec<Window> = windows.collect();
    all.sort();
    let mut out: Vec<Window> = Vec::with_capacity(all.len());
    for w in all {
        match out.last_mut() {
            Some(last) if w.start <= last.end => last.end = last.end.max(w.end),
            _ => out.push(w),
        }
    }
    out
}

/// Usage of every principal seen by one or more evidence sources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub principals: BTreeMap<String, PrincipalUsage>,
}

impl Usage {
    /// Union of two usages (commutative and associative up to the order of `unmapped`, which is
    /// kept sorted).
    pub fn merge(&mut self, other: &Usage) {
        for (arn, pu) in &other.principals {
            self.principals.entry(arn.clone()).or_default().merge(pu);
        }
    }

    pub fn principal(&self, arn: &str) -> Option<&PrincipalUsage> {
        self.principals.get(arn)
    }

    /// From the earliest window start to the latest window end over every principal: the
    /// evidence window when nothing else fixes it.
    pub fn span(&self) -> Option<Window> {
        let windows = self.principals.values().flat_map(|p| p.windows.iter());
        let start = windows.clone().map(|w| w.start).min()?;
        let end = windows.map(|w| w.end).max()?;
        Some(Window { start, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_735_689_600 + secs, 0).single().unwrap()
    }

    fn window() -> impl Strategy<Value = Window> {
        (0i64..400, 0i64..100).prop_map(|(s, len)| Window {
            start: at(s * 3600),
            end: at((s + len) * 3600),
        })
    }

    fn action_usage() -> impl Strategy<Value = ActionUsage> {
        (
            0i64..1000,
            0i64..1000,
            1u64..50,
            prop::collection::btree_set("arn:aws:s3:::b/[a-c]", 0..3),
        )
            .prop_map(|(a, b, count, resources)| ActionUsage {
                first_seen: at(a.min(b) * 60),
                last_seen: at(a.max(b) * 60),
                count,
                resources,
            })
    }

    fn actions() -> impl Strategy<Value = BTreeMap<String, ActionUsage>> {
        prop::collection::btree_map("(s3|sqs):(Get|Put|Send)[A-C]", action_usage(), 0..4)
    }

    fn principal_usage() -> impl Strategy<Value = PrincipalUsage> {
        (
            actions(),
            actions(),
            prop::collection::btree_map(("(s3|x)", "[A-C]", "r[12]"), 1u64..5, 0..3),
            prop::collection::btree_set("(s3|iam:PassRole)", 0..2),
            prop::collection::vec(window(), 0..3),
            prop::collection::btree_set(
                prop_oneof![
                    Just(EvidenceSource::Cloudtrail),
                    Just(EvidenceSource::AccessAnalyzer),
                    Just(EvidenceSource::Ledger)
                ],
                0..3,
            ),
        )
            .prop_map(
                |(actions, denied, unmapped, unobservable, windows, sources)| PrincipalUsage {
                    actions,
                    denied,
                    unmapped: unmapped
                        .into_iter()
                        .map(|((s, n, r), count)| UnmappedEvent {
                            event_source: s,
                            event_name: n,
                            reason: r,
                            count,
                        })
                        .collect(),
                    unobservable,
                    windows: merge_windows(windows.into_iter()),
                    sources,
                },
            )
    }

    fn usage() -> impl Strategy<Value = Usage> {
        prop::collection::btree_map("arn:aws:iam::1:role/[a-c]", principal_usage(), 0..3)
            .prop_map(|principals| Usage { principals })
    }

    fn merged(a: &Usage, b: &Usage) -> Usage {
        let mut m = a.clone();
        m.merge(b);
        m
    }

    // A merge of usages in any order and grouping gives the same ledger, so runs can be merged
    // as they come (or in parallel).
    proptest! {
        #[test]
        fn merge_is_commutative(a in usage(), b in usage()) {
            prop_assert_eq!(merged(&a, &b), merged(&b, &a));
        }

        #[test]
        fn merge_is_associative(a in usage(), b in usage(), c in usage()) {
            prop_assert_eq!(merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)));
        }

        #[test]
        fn empty_is_the_identity(a in usage()) {
            prop_assert_eq!(merged(&a, &Usage::default()), a.clone());
            prop_assert_eq!(merged(&Usage::default(), &a), a);
        }

        #[test]
        fn merge_adds_counts_and_widens_seen_times(a in usage(), b in usage()) {
            let m = merged(&a, &b);
            for (arn, pu) in &m.principals {
                for (action, u) in &pu.actions {
                    let parts: Vec<&ActionUsage> = [&a, &b]
                        .iter()
                        .filter_map(|x| x.principals.get(arn)?.actions.get(action))
                        .collect();
                    prop_assert_eq!(u.count, parts.iter().map(|p| p.count).sum::<u64>());
                    prop_assert_eq!(u.first_seen, parts.iter().map(|p| p.first_seen).min().unwrap());
                    prop_assert_eq!(u.last_seen, parts.iter().map(|p| p.last_seen).max().unwrap());
                    for p in &parts {
                        prop_assert!(p.resources.is_subset(&u.resources));
                    }
                }
            }
        }

        /// The merged windows are the union of both inputs' windows: sorted, disjoint, and
        /// every instant covered before is covered after (and nothing else).
        #[test]
        fn windows_are_a_union(a in usage(), b in usage(), probe in 0i64..600) {
            let m = merged(&a, &b);
            let t = at(probe * 3600);
            let covers = |ws: &[Window]| ws.iter().any(|w| w.start <= t && t <= w.end);
            for (arn, pu) in &m.principals {
                for pair in pu.windows.windows(2) {
                    prop_assert!(pair[0].end < pair[1].start, "sorted and disjoint");
                }
                let before = [&a, &b].iter().any(|x| {
                    x.principals.get(arn).is_some_and(|p| covers(&p.windows))
                });
                prop_assert_eq!(covers(&pu.windows), before);
            }
        }

        #[test]
        fn serialization_round_trips(a in usage()) {
            let json = serde_json::to_string(&a).unwrap();
            let back: Usage = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, a);
        }
    }

    #[test]
    fn touching_windows_join() {
        let w = |s, e| Window {
            start: at(s),
            end: at(e),
        };
        assert_eq!(
            merge_windows([w(10, 20), w(0, 5), w(5, 8), w(21, 30)].into_iter()),
            vec![w(0, 8), w(10, 20), w(21, 30)]
        );
    }
}
