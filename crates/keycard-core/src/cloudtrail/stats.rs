//! A scan's bookkeeping: what was read, skipped, malformed or not attributed, so a person can
//! tell "nothing happened" from "nothing was read". Mergeable, because scans run in parallel
//! parts (workers here, batches in the deployed chain) and their stats must add up the same way.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::coverage::ObservedTrail;
use crate::usage::Usage;

use super::*;

/// A file that could not be read completely.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MalformedFile {
    pub path: String,
    pub reason: String,
}

/// Bookkeeping of a scan, so a person can tell "nothing happened" from "nothing was read".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStats {
    /// Log files opened (including malformed ones).
    pub read: u64,
    pub digests_skipped: u64,
    /// Log files not opened because they were delivered before `start`.
    pub skipped_before_start: u64,
    pub malformed: Vec<MalformedFile>,
    /// Paths under the folder passed over (symlink loops, broken links, unreadable folders,
    /// the same folder reached twice), each with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedPath>,
    /// Records read.
    pub events: u64,
    /// Records dropped because their eventID was already counted.
    pub duplicates: u64,
    /// Records outside `[start, end)`.
    pub outside_window: u64,
    /// Records of other event types (Insights, network activity, console sign-in, AWS service
    /// events), which are no principal's API use.
    pub other_event_types: u64,
    /// Records whose caller is not an IAM principal of the account, by identity type.
    pub not_attributed: BTreeMap<String, u64>,
    /// Records of principals not asked for (with `--principal`).
    pub other_principals: u64,
    /// Records without a readable eventTime.
    pub without_time: u64,
    /// Records whose eventTime is before CloudTrail could have written it (2013) or more than
    /// a day in the future: malformed or forged, never evidence (one such record would stretch
    /// the evidence window over millennia and the ledger's `last_seen` with it).
    #[serde(default)]
    pub implausible_time: u64,
    /// Calls that need no permission (`sts:GetCallerIdentity`).
    pub no_permission_needed: u64,
    /// Earliest and latest eventTime read within the window (any caller).
    pub earliest: Option<DateTime<Utc>>,
    pub latest: Option<DateTime<Utc>>,
    /// What the records show about the trail that wrote them (event categories, read/write,
    /// data event resources, regions, days): the basis of inferred coverage.
    #[serde(default)]
    pub coverage: ObservedTrail,
}

impl FileStats {
    /// Sums another scan's bookkeeping into this one. Public because the S3 scanner in
    /// keycard-aws reads trails in parallel parts and has to combine their stats the same way
    /// the engine does.
    pub fn merge(&mut self, o: FileStats) {
        self.read += o.read;
        self.digests_skipped += o.digests_skipped;
        self.skipped_before_start += o.skipped_before_start;
        self.malformed.extend(o.malformed);
        self.malformed.sort();
        self.skipped.extend(o.skipped);
        self.skipped.sort();
        self.events += o.events;
        self.duplicates += o.duplicates;
        self.outside_window += o.outside_window;
        self.other_event_types += o.other_event_types;
        for (k, v) in o.not_attributed {
            *self.not_attributed.entry(k).or_default() += v;
        }
        self.other_principals += o.other_principals;
        self.without_time += o.without_time;
        self.implausible_time += o.implausible_time;
        self.no_permission_needed += o.no_permission_needed;
        self.earliest = min_opt(self.earliest, o.earliest);
        self.latest = max_opt(self.latest, o.latest);
        self.coverage.merge(&o.coverage);
    }
}

pub(super) fn min_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

pub(super) fn max_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// The outcome of a scan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScanResult {
    pub usage: Usage,
    pub files: FileStats,
}
