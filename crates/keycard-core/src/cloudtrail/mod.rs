//! CloudTrail log files → [`Usage`]: who did what, when, on which resources.
//!
//! The reader takes CloudTrail exactly as delivered to S3 (gzip JSON `{"Records":[…]}` under
//! `AWSLogs/[<o-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/`), or plain `.json`, from a
//! local folder ([`scan_dir`], parallel over files) or from byte streams ([`Scanner`], for S3
//! objects). Digest files are skipped; a truncated or malformed file is reported with its path
//! and reason and the run goes on (the records read before the break still count, and since
//! events are deduplicated on `eventID`, a damaged duplicate of a good file changes nothing).
//!
//! Memory stays flat in corpus size: one inflated file per worker at a time, records streamed
//! from it one by one, and the eventID set for deduplication only spans a few days — files are
//! processed in delivery-time order and IDs of events older than two days before the files in
//! flight are dropped (CloudTrail delivers within minutes; duplicates come from overlapping
//! trails delivering the same event at about the same time).

pub mod identity;
pub mod mapping;
pub mod object;
pub mod record;
pub mod resources;
pub mod walk;

pub use walk::{SkipReason, SkippedPath};

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::coverage::ObservedTrail;
use crate::coverage::observed::RecordFacts;
use crate::usage::{ActionUsage, EvidenceSource, PrincipalUsage, UnmappedEvent, Usage, Window};

use identity::{Attribution, PrincipalKey};
use mapping::{EventRef, Exceptions, Mapping, ResourceRule};
use record::Record;

pub use object::{MAX_OBJECT_BYTES, ObjectReadError, read_object};

/// Why a scan could not start. Problems with individual files are not errors: they are
/// reported in [`FileStats::malformed`].
#[derive(Debug, thiserror::Error)]
pub enum CloudTrailError {
    #[error("CloudTrail folder {0} does not exist")]
    Missing(PathBuf),
    #[error("{0} is not a folder")]
    NotADirectory(PathBuf),
    #[error(
        "no CloudTrail log files (*.json.gz or *.json) under {0}; point --cloudtrail at the folder holding AWSLogs/"
    )]
    Empty(PathBuf),
    #[error("cannot list {path}: {message}")]
    Walk { path: PathBuf, message: String },
    #[error("cannot start {threads} worker threads: {message}")]
    Threads { threads: usize, message: String },
}

/// What to scan for.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Only these principals (role/user ARNs; paths and name case do not matter for matching,
    /// results are reported under the ARN given here). `None`: every principal seen.
    pub principals: Option<BTreeSet<String>>,
    /// Events before this instant are ignored.
    pub start: Option<DateTime<Utc>>,
    /// Events at or after this instant are ignored.
    pub end: Option<DateTime<Utc>>,
    /// Worker threads for [`scan_dir`]; `None` uses one per core.
    pub threads: Option<usize>,
}

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

fn min_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
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

/// The eventIDs already counted, sharded so parallel workers rarely wait for each other, and
/// bucketed by the event's day so old days can be dropped. Each ID is kept as a 64-bit hash
/// ([`id_hash`]), which the sets use as it is.
#[derive(Debug)]
struct Dedup {
    shards: Vec<Mutex<HashMap<i64, IdSet>>>,
}

type IdSet = HashSet<u64, BuildHasherDefault<PreHashed>>;

/// A hasher for keys that already are good 64-bit hashes: hashing them again (SipHash, the
/// default) cost more than the rest of deduplication.
#[derive(Debug, Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A 64-bit hash of an eventID (a UUID in practice, any string accepted): 16 bytes per
/// multiply-fold round, every byte and the length mixed in. Deterministic, so the same ID
/// always lands on the same hash across workers and runs.
fn id_hash(id: &str) -> u64 {
    const K0: u64 = 0xA076_1D64_78BD_642F;
    const K1: u64 = 0xE703_7ED1_A0B4_28DB;
    const K2: u64 = 0x8EBC_6AF0_9C88_C6E3;
    fn fold(a: u64, b: u64) -> u64 {
        let r = u128::from(a).wrapping_mul(u128::from(b));
        (r as u64) ^ ((r >> 64) as u64)
    }
    let bytes = id.as_bytes();
    let mut h = K2 ^ (bytes.len() as u64).wrapping_mul(K0);
    let mut chunks = bytes.chunks_exact(16);
    for c in &mut chunks {
        let (a, b) = c.split_at(8);
        let a = u64::from_le_bytes(a.try_into().unwrap_or_default());
        let b = u64::from_le_bytes(b.try_into().unwrap_or_default());
        h = fold(a ^ K0, b ^ h ^ K1);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut tail = [0u8; 16];
        tail[..rest.len()].copy_from_slice(rest);
        let a = u64::from_le_bytes(tail[..8].try_into().unwrap_or_default());
        let b = u64::from_le_bytes(tail[8..].try_into().unwrap_or_default());
        h = fold(a ^ K0, b ^ h ^ K1);
    }
    fold(h ^ K2, h.rotate_left(29) ^ K0)
}

impl Dedup {
    const SHARDS: usize = 32;

    fn new() -> Self {
        Dedup {
            shards: (0..Self::SHARDS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
        }
    }

    /// Whether this (day, id) is new; records it.
    fn first_time(&self, day: i64, id: &str) -> bool {
        let hash = id_hash(id);
        let shard = &self.shards[(hash >> 59) as usize % Self::SHARDS];
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(day).or_default().insert(hash)
    }

    fn evict_before(&self, day: i64) {
        for shard in &self.shards {
            let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
            map.retain(|d, _| *d >= day);
        }
    }
}

/// Options resolved once per scan.
#[derive(Debug)]
struct Prepared {
    /// Requested principals by key, with the ARN to report them under.
    wanted: Option<HashMap<PrincipalKey, String>>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    /// Event times outside `[2013-01-01, now + 1 day]` are not evidence.
    plausible: (DateTime<Utc>, DateTime<Utc>),
}

/// CloudTrail launched in November 2013: no genuine record is older.
const EARLIEST_PLAUSIBLE: i64 = 1_356_998_400; // 2013-01-01T00:00:00Z

impl Prepared {
    fn new(opts: &ScanOptions) -> Prepared {
        let wanted = opts.principals.as_ref().map(|set| {
            set.iter()
                .filter_map(|arn| PrincipalKey::from_arn(arn).map(|k| (k, arn.clone())))
                .collect()
        });
        let earliest = DateTime::<Utc>::from_timestamp(EARLIEST_PLAUSIBLE, 0).unwrap_or_default();
        let latest = Utc::now() + chrono::Duration::days(1);
        Prepared {
            wanted,
            start: opts.start,
            end: opts.end,
            plausible: (earliest, latest),
        }
    }
}

/// How an event that no exceptions row names resolves; it depends on nothing but its
/// eventSource and eventName, so it is worked out once per scan and worker.
#[derive(Debug, Clone)]
enum Mechanical {
    /// The canonical catalog action.
    Action(&'static str),
    NoPermission,
    /// Why it has no action (the reason [`add_unmapped`] records).
    Unmapped(String),
}

/// The actions of one record: the one mechanical action, or the exceptions table's plan.
enum Planned {
    One(&'static str),
    Table(Vec<mapping::Planned>),
}

/// One worker's running totals and scratch space.
#[derive(Debug)]
struct Accumulator {
    usage: Usage,
    stats: FileStats,
    /// Principal ARNs reported without their IAM path (empty sessionIssuer).
    inexact: BTreeSet<String>,
    /// Inflated bytes of the current file, reused across files.
    buf: Vec<u8>,
    /// principal ARN in a record → ARN to report (None: not wanted).
    principal_cache: HashMap<String, Option<String>>,
    /// proposed action → canonical action (None: not in the catalog).
    action_cache: HashMap<String, Option<&'static str>>,
    /// eventSource → eventName → resolved mapping, for events no exceptions row names.
    event_cache: HashMap<String, HashMap<String, Mechanical>>,
    resources: Vec<String>,
}

impl Accumulator {
    fn new() -> Self {
        Accumulator {
            usage: Usage::default(),
            stats: FileStats::default(),
            inexact: BTreeSet::new(),
            buf: Vec::new(),
            principal_cache: HashMap::new(),
            action_cache: HashMap::new(),
            event_cache: HashMap::new(),
            resources: Vec::new(),
        }
    }

    fn merge(&mut self, other: Accumulator) {
        self.usage.merge(&other.usage);
        self.stats.merge(other.stats);
        self.inexact.extend(other.inexact);
    }

    /// Reads one file's bytes (gzip or plain) and counts its records.
    fn scan_stream(&mut self, name: &str, reader: impl Read, prep: &Prepared, dedup: &Dedup) {
        self.stats.read += 1;
        let read_error = match object::read_object(reader, MAX_OBJECT_BYTES, &mut self.buf) {
            Ok(()) => None,
            Err(e @ object::ObjectReadError::TooLarge { .. }) => {
                self.stats.malformed.push(MalformedFile {
                    path: name.to_string(),
                    reason: e.to_string(),
                });
                // Up to the cap was inflated: give that memory back.
                self.buf = Vec::new();
                return;
            }
            Err(e) => Some(e.to_string()),
        };
        let buf = std::mem::take(&mut self.buf);
        let parsed = if buf.iter().all(u8::is_ascii_whitespace) && read_error.is_none() {
            Err(record::ParseFailure {
                records: 0,
                message: "empty file".to_string(),
            })
        } else {
            record::for_each_record(&buf, |rec| self.record(rec, prep, dedup))
        };
        match (read_error, parsed) {
            (None, Ok(_)) => {}
            (Some(io), Ok(n)) | (Some(io), Err(record::ParseFailure { records: n, .. })) => {
                self.stats.malformed.push(MalformedFile {
                    path: name.to_string(),
                    reason: format!("{io}; {n} records read before the break"),
                })
            }
            (None, Err(f)) => self.stats.malformed.push(MalformedFile {
                path: name.to_string(),
                reason: f.message,
            }),
        }
        self.buf = buf;
        // A pathological file should not pin its memory for the rest of the scan.
        if self.buf.capacity() > 64 << 20 {
            self.buf = Vec::new();
        }
    }

    fn record(&mut self, rec: Record<'_>, prep: &Prepared, dedup: &Dedup) {
        self.stats.events += 1;
        // Deduplicate first, so a duplicate never shows up in any other count either.
        let Some(at) = rec.event_time.get().and_then(parse_event_time) else {
            self.stats.without_time += 1;
            return;
        };
        if at < prep.plausible.0 || at > prep.plausible.1 {
            self.stats.implausible_time += 1;
            return;
        }
        if let Some(id) = rec.event_id.non_empty()
            && !dedup.first_time(at.timestamp().div_euclid(86_400), id)
        {
            self.stats.duplicates += 1;
            return;
        }
        if prep.start.is_some_and(|s| at < s) || prep.end.is_some_and(|e| at >= e) {
            self.stats.outside_window += 1;
            return;
        }
        // The span of evidence covers every event read, whoever made it: a principal that did
        // nothing during that span is evidence too.
        self.stats.earliest = min_opt(self.stats.earliest, Some(at));
        self.stats.latest = max_opt(self.stats.latest, Some(at));
        self.stats.coverage.record(
            RecordFacts {
                category: rec.event_category.get(),
                management_event: rec.management_event.0,
                read_only: rec.read_only.0,
                event_source: rec.event_source.get().unwrap_or_default(),
                event_name: rec.event_name.get().unwrap_or_default(),
                region: rec.aws_region.get().unwrap_or_default(),
                day: at.timestamp().div_euclid(86_400),
            },
            rec.resources.0.iter().filter_map(|r| {
                let r = r.get()?;
                Some((r.kind.get()?, r.arn.get()?))
            }),
        );
        match rec.event_type.get() {
            None | Some("AwsApiCall") => {}
            Some(_) => {
                self.stats.other_event_types += 1;
                return;
            }
        }
        if matches!(
            rec.event_category.get(),
            Some("NetworkActivity" | "Insight")
        ) {
            self.stats.other_event_types += 1;
            return;
        }
        let (arn, exact) = match identity::attribute(rec.user_identity.get()) {
            Attribution::Principal { arn, exact } => (arn, exact),
            Attribution::Other(kind) => {
                match self.stats.not_attributed.get_mut(kind) {
                    Some(n) => *n += 1,
                    None => {
                        self.stats.not_attributed.insert(kind.to_string(), 1);
                    }
                }
                return;
            }
        };
        let reported: Cow<'_, str> = match &prep.wanted {
            None => arn,
            Some(wanted) => {
                if !self.principal_cache.contains_key(arn.as_ref()) {
                    let hit = PrincipalKey::from_arn(&arn).and_then(|k| wanted.get(&k).cloned());
                    self.principal_cache.insert(arn.to_string(), hit);
                }
                match self
                    .principal_cache
                    .get(arn.as_ref())
                    .and_then(Option::as_deref)
                {
                    Some(r) => Cow::Borrowed(r),
                    None => {
                        self.stats.other_principals += 1;
                        return;
                    }
                }
            }
        };
        if !exact && prep.wanted.is_none() && !self.inexact.contains(reported.as_ref()) {
            self.inexact.insert(reported.to_string());
        }

        let source = rec.event_source.get().unwrap_or_default();
        let name = rec.event_name.get().unwrap_or_default();
        let params = rec.params();
        // Events no exceptions row names map to `prefix:eventName` whatever their parameters:
        // resolve each (source, name) once. The others go through the table every time.
        let mechanical = match self.event_cache.get(source).and_then(|m| m.get(name)) {
            Some(hit) => Some(hit.clone()),
            None if !Exceptions::embedded().names_event(source, name) => {
                let resolved = match Exceptions::embedded().map(EventRef {
                    source,
                    name,
                    params,
                }) {
                    Mapping::Actions(planned) => match planned.as_slice() {
                        [p] => match Catalog::embedded().action(&p.action) {
                            Some(a) => Mechanical::Action(a.name()),
                            None => Mechanical::Unmapped(format!(
                                "{} is not in the IAM action catalog",
                                p.action
                            )),
                        },
                        _ => Mechanical::Unmapped(
                            "no exceptions row, yet not one action".to_string(),
                        ),
                    },
                    Mapping::NoPermission => Mechanical::NoPermission,
                    Mapping::Unmapped(reason) => Mechanical::Unmapped(reason),
                };
                self.event_cache
                    .entry(source.to_string())
                    .or_default()
                    .insert(name.to_string(), resolved.clone());
                Some(resolved)
            }
            None => None,
        };
        let mapping = match &mechanical {
            Some(_) => None,
            None => Some(Exceptions::embedded().map(EventRef {
                source,
                name,
                params,
            })),
        };
        let denied = rec.error_code.non_empty().is_some();
        let principal = match self.usage.principals.get_mut(reported.as_ref()) {
            Some(p) => p,
            None => self
                .usage
                .principals
                .entry(reported.into_owned())
                .or_default(),
        };
        let planned = match (mechanical, mapping) {
            (Some(Mechanical::NoPermission), _) | (None, Some(Mapping::NoPermission)) => {
                self.stats.no_permission_needed += 1;
                return;
            }
            (Some(Mechanical::Unmapped(reason)), _) | (None, Some(Mapping::Unmapped(reason))) => {
                add_unmapped(principal, source, name, reason);
                return;
            }
            (Some(Mechanical::Action(action)), _) => Planned::One(action),
            (None, Some(Mapping::Actions(planned))) => Planned::Table(planned),
            (None, None) => return,
        };
        let region = rec.aws_region.get().unwrap_or_default();
        let account = rec
            .recipient_account_id
            .non_empty()
            .or_else(|| {
                rec.user_identity
                    .get()
                    .and_then(|u| u.account_id.non_empty())
            })
            .unwrap_or_default();
        let ctx = resources::Context {
            partition: resources::partition_of(region),
            region,
            account,
        };
        let call = Call {
            at,
            denied,
            params,
            listed: &rec.resources.0,
            ctx,
        };
        match planned {
            Planned::One(action) => count_action(
                principal,
                &mut self.resources,
                &call,
                action,
                &ResourceRule::Default,
                None,
            ),
            Planned::Table(planned) => {
                for p in planned {
                    let canonical = match self.action_cache.get(&p.action) {
                        Some(c) => *c,
                        None => {
                            let c = Catalog::embedded().action(&p.action).map(|a| a.name());
                            self.action_cache.insert(p.action.clone(), c);
                            c
                        }
                    };
                    let Some(action) = canonical else {
                        add_unmapped(
                            principal,
                            source,
                            name,
                            format!("{} is not in the IAM action catalog", p.action),
                        );
                        continue;
                    };
                    count_action(
                        principal,
                        &mut self.resources,
                        &call,
                        action,
                        &p.resource,
                        p.fixed.as_deref(),
                    );
                }
            }
        }
    }

    /// Final shape: windows and sources on every principal, requested principals present even
    /// when never seen, path-less role ARNs folded into the full ARN when it is known.
    fn finish(mut self, prep: &Prepared) -> ScanResult {
        if prep.wanted.is_none() {
            fold_inexact(&mut self.usage, &self.inexact);
        }
        let start = prep.start.or(self.stats.earliest);
        let end = prep.end.or(self.stats.latest);
        let window = match (start, end) {
            (Some(start), Some(end)) if start <= end => Some(Window { start, end }),
            _ => None,
        };
        if let Some(wanted) = &prep.wanted {
            for arn in wanted.values() {
                self.usage.principals.entry(arn.clone()).or_default();
            }
        }
        for p in self.usage.principals.values_mut() {
            p.sources.insert(EvidenceSource::Cloudtrail);
            if let Some(w) = window {
                p.windows = crate::usage::merge_windows(p.windows.iter().copied().chain([w]));
            }
            p.unmapped.sort();
        }
        ScanResult {
            usage: self.usage,
            files: self.stats,
        }
    }
}

/// What one counted call contributes besides its action.
struct Call<'r, 'p> {
    at: DateTime<Utc>,
    denied: bool,
    params: Option<&'r record::RequestParameters<'p>>,
    listed: &'r [record::Obj<record::ResourceRef<'p>>],
    ctx: resources::Context<'r>,
}

/// Counts one call of `action` for `principal`, with the resources the record makes certain.
fn count_action(
    principal: &mut PrincipalUsage,
    scratch: &mut Vec<String>,
    call: &Call<'_, '_>,
    action: &'static str,
    rule: &ResourceRule,
    fixed: Option<&str>,
) {
    scratch.clear();
    resources::resources_for(
        action,
        rule,
        fixed,
        call.params,
        call.listed,
        call.ctx,
        scratch,
    );
    let map = if call.denied {
        &mut principal.denied
    } else {
        &mut principal.actions
    };
    let usage = match map.get_mut(action) {
        Some(u) => {
            u.record(call.at);
            u
        }
        None => map
            .entry(action.to_string())
            .or_insert(ActionUsage::seen_once(call.at)),
    };
    for r in scratch.drain(..) {
        if !usage.resources.contains(&r) {
            usage.resources.insert(r);
        }
    }
}

fn add_unmapped(p: &mut PrincipalUsage, source: &str, name: &str, reason: String) {
    match p
        .unmapped
        .iter_mut()
        .find(|u| u.event_source == source && u.event_name == name && u.reason == reason)
    {
        Some(u) => u.count = u.count.saturating_add(1),
        None => p.unmapped.push(UnmappedEvent {
            event_source: source.to_string(),
            event_name: name.to_string(),
            reason,
            count: 1,
        }),
    }
}

/// What one record maps to, resolved against the catalog, with its resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// canonical action → resource ARNs (empty: `*`).
    Actions(BTreeMap<String, Vec<String>>),
    NoPermission,
    /// Reasons (one per action that could not be resolved, or the mapping's reason).
    Unmapped(Vec<String>),
}

/// Maps and resolves one record the way a scan does, and says which exceptions row decided it
/// (`None`: mechanical). Used by tests and for explaining a single event.
pub fn resolve_record(rec: &Record<'_>) -> (Resolved, Option<usize>) {
    let source = rec.event_source.get().unwrap_or_default();
    let name = rec.event_name.get().unwrap_or_default();
    let params = rec.params();
    let (mapping, row) = Exceptions::embedded().map_with_row(EventRef {
        source,
        name,
        params,
    });
    let planned = match mapping {
        Mapping::NoPermission => return (Resolved::NoPermission, row),
        Mapping::Unmapped(reason) => return (Resolved::Unmapped(vec![reason]), row),
        Mapping::Actions(p) => p,
    };
    let region = rec.aws_region.get().unwrap_or_default();
    let account = rec.recipient_account_id.get().unwrap_or_default();
    let ctx = resources::Context {
        partition: resources::partition_of(region),
        region,
        account,
    };
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unmapped = Vec::new();
    for p in planned {
        match Catalog::embedded().action(&p.action) {
            Some(a) => {
                let mut res = Vec::new();
                resources::resources_for(
                    a.name(),
                    &p.resource,
                    p.fixed.as_deref(),
                    params,
                    &rec.resources.0,
                    ctx,
                    &mut res,
                );
                let entry = out.entry(a.name().to_string()).or_default();
                entry.extend(res);
                entry.sort();
                entry.dedup();
            }
            None => unmapped.push(format!("{} is not in the IAM action catalog", p.action)),
        }
    }
    if out.is_empty() && !unmapped.is_empty() {
        return (Resolved::Unmapped(unmapped), row);
    }
    (Resolved::Actions(out), row)
}

/// Merges `arn:…:role/Name` (seen without path) into the one full ARN of the same role, when
/// exactly one is known; otherwise the path-less entry stays as it is.
fn fold_inexact(usage: &mut Usage, inexact: &BTreeSet<String>) {
    for short in inexact {
        let Some(key) = PrincipalKey::from_arn(short) else {
            continue;
        };
        let full: Vec<&String> = usage
            .principals
            .keys()
            .filter(|k| *k != short && PrincipalKey::from_arn(k).as_ref() == Some(&key))
            .collect();
        if let [target] = full.as_slice() {
            let target = (*target).clone();
            if let Some(pu) = usage.principals.remove(short) {
                usage.principals.entry(target).or_default().merge(&pu);
            }
        }
    }
}

/// CloudTrail's `2025-06-01T12:34:56Z`, with a fast path for that exact shape and RFC 3339
/// (fractions, offsets) otherwise.
pub fn parse_event_time(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
    {
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let mut v = 0u32;
            for &c in &b[r] {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + u32::from(c - b'0');
            }
            Some(v)
        };
        let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
        let t = date.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
        return Some(Utc.from_utc_datetime(&t));
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// What a path under the scanned folder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Log,
    Digest,
    Other,
}

fn classify(path: &Path) -> FileKind {
    // Lossy: a name that is not UTF-8 is still classified (and read) by its ASCII suffix.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let in_digest_dir = path
        .components()
        .any(|c| c.as_os_str() == "CloudTrail-Digest");
    if in_digest_dir || name.contains("_CloudTrail-Digest_") {
        return FileKind::Digest;
    }
    if name.starts_with('.') {
        return FileKind::Other;
    }
    if name.ends_with(".json.gz") || name.ends_with(".json") {
        FileKind::Log
    } else {
        FileKind::Other
    }
}

/// Delivery time in a CloudTrail file name (`…_20250601T1205Z_…`), as Unix seconds.
pub fn delivery_time(name: &str) -> Option<i64> {
    name.split(['_', '.']).find_map(|part| {
        let b = part.as_bytes();
        if b.len() == 14 && b[8] == b'T' && b[13] == b'Z' {
            let digits = |r: std::ops::Range<usize>| -> Option<u32> { part.get(r)?.parse().ok() };
            let date = NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(4..6)?, digits(6..8)?)?;
            let t = date.and_hms_opt(digits(9..11)?, digits(11..13)?, 0)?;
            Some(Utc.from_utc_datetime(&t).timestamp())
        } else {
            None
        }
    })
}

/// Days of eventIDs kept behind the oldest file in flight.
const DEDUP_DAYS_BEHIND: i64 = 2;

/// Receives progress of [`scan_dir_with_progress`] from the worker threads.
pub trait Progress: Sync {
    /// The number of log files to read, once the folder has been listed.
    fn files(&self, _total: u64) {}
    /// One log file read, with the records it held.
    fn file_done(&self, _events: u64) {}
}

/// No progress reporting.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Scans every CloudTrail log file under `root` (recursively), in parallel over files.
pub fn scan_dir(root: &Path, opts: &ScanOptions) -> Result<ScanResult, CloudTrailError> {
    scan_dir_with_progress(root, opts, &NoProgress)
}

/// [`scan_dir`], reporting each file read to `progress` (for a progress bar).
pub fn scan_dir_with_progress(
    root: &Path,
    opts: &ScanOptions,
    progress: &dyn Progress,
) -> Result<ScanResult, CloudTrailError> {
    if !root.exists() {
        return Err(CloudTrailError::Missing(root.to_path_buf()));
    }
    if !root.is_dir() {
        return Err(CloudTrailError::NotADirectory(root.to_path_buf()));
    }
    let walk::Listing {
        logs: mut files,
        digests,
        skipped: skipped_paths,
    } = walk::list(root)?;
    if files.is_empty() {
        return Err(CloudTrailError::Empty(root.to_path_buf()));
    }
    // Delivery order, so the dedup window can slide; files without a timestamp first.
    files.sort();

    let prep = Prepared::new(opts);
    let mut skipped = 0u64;
    if let Some(start) = opts.start {
        // An event is never delivered before it happened; keep an hour of slack for clocks.
        let cutoff = start.timestamp() - 3600;
        files.retain(|(t, _)| {
            let keep = *t == i64::MIN || *t >= cutoff;
            if !keep {
                skipped += 1;
            }
            keep
        });
    }

    progress.files(files.len() as u64);
    let dedup = Dedup::new();
    let run = || -> Accumulator {
        let threads = rayon::current_num_threads().max(1);
        // Big enough batches that per-worker accumulators (and their merges) are few, small
        // enough that the eventID window can slide every few hundred files.
        let chunk = (threads * 128).max(256);
        let mut total = Accumulator::new();
        for (i, batch) in files.chunks(chunk).enumerate() {
            let acc = batch
                .par_iter()
                .with_min_len(16)
                .fold(Accumulator::new, |mut acc, (_, path)| {
                    let name = display_path(root, path);
                    let before = acc.stats.events;
                    match std::fs::File::open(path) {
                        Ok(f) => acc.scan_stream(&name, std::io::BufReader::new(f), &prep, &dedup),
                        Err(e) => {
                            acc.stats.read += 1;
                            acc.stats.malformed.push(MalformedFile {
                                path: name,
                                reason: format!("cannot open: {e}"),
                            });
                        }
                    }
                    progress.file_done(acc.stats.events - before);
                    acc
                })
                .reduce(Accumulator::new, |mut a, b| {
                    a.merge(b);
                    a
                });
            total.merge(acc);
            if let Some((next, _)) = files.chunks(chunk).nth(i + 1).and_then(|b| b.first())
                && *next != i64::MIN
            {
                dedup.evict_before(next.div_euclid(86_400) - DEDUP_DAYS_BEHIND);
            }
        }
        total
    };
    let mut total = match opts.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| CloudTrailError::Threads {
                threads: n,
                message: e.to_string(),
            })?
            .install(run),
        None => run(),
    };
    total.stats.digests_skipped += digests;
    total.stats.skipped = skipped_paths;
    total.stats.skipped_before_start += skipped;
    Ok(total.finish(&prep))
}

fn display_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Scans CloudTrail objects given as byte streams (for example S3 objects), one at a time.
///
/// ```
/// use keycard_core::cloudtrail::{ScanOptions, Scanner};
/// let mut scanner = Scanner::new(&ScanOptions::default());
/// let body = br#"{"Records":[]}"#;
/// scanner.scan_reader("AWSLogs/1/CloudTrail/x.json", &body[..]);
/// let result = scanner.finish();
/// assert_eq!(result.files.read, 1);
/// ```
#[derive(Debug)]
pub struct Scanner {
    prep: Prepared,
    dedup: Dedup,
    acc: Accumulator,
}

impl Scanner {
    pub fn new(opts: &ScanOptions) -> Scanner {
        Scanner {
            prep: Prepared::new(opts),
            dedup: Dedup::new(),
            acc: Accumulator::new(),
        }
    }

    /// Scans one object. Digest objects (by name) are counted and skipped; anything else is
    /// read as a log file (gzip or plain JSON), and problems land in `files.malformed`.
    pub fn scan_reader(&mut self, name: &str, reader: impl Read) {
        match classify(Path::new(name)) {
            FileKind::Digest => self.acc.stats.digests_skipped += 1,
            FileKind::Log | FileKind::Other => {
                self.acc.scan_stream(name, reader, &self.prep, &self.dedup)
            }
        }
    }

    /// Lets the eventID set forget days before `before` (call it when objects arrive in key
    /// order, i.e. delivery order within a region, to keep memory flat on long scans).
    pub fn forget_before(&mut self, before: DateTime<Utc>) {
        self.dedup
            .evict_before(before.timestamp().div_euclid(86_400) - DEDUP_DAYS_BEHIND);
    }

    pub fn finish(self) -> ScanResult {
        self.acc.finish(&self.prep)
    }
}

/// One-shot form of [`Scanner::scan_reader`] for the contract in docs/ARCHITECTURE.md.
pub fn scan_reader(name: &str, reader: impl Read, scanner: &mut Scanner) {
    scanner.scan_reader(name, reader);
}

/// Scans a sequence of `(name, reader)` objects. The eventID set spans the whole sequence
/// (16 bytes per event); callers with very long listings use [`Scanner`] and
/// [`Scanner::forget_before`] instead.
pub fn scan_sources<R: Read>(
    sources: impl IntoIterator<Item = (String, R)>,
    opts: &ScanOptions,
) -> ScanResult {
    let mut scanner = Scanner::new(opts);
    for (name, reader) in sources {
        scanner.scan_reader(&name, reader);
    }
    scanner.finish()
}

#[cfg(test)]
mod tests;
