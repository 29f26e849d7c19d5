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
}
