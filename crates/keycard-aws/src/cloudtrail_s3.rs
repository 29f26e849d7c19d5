//! CloudTrail mode: keycard's own usage engine reading a trail's S3 objects, at any scale.
//!
//! Access Analyzer stops at 90 days, one generation per account at a time, and never reports
//! S3 data events or `iam:PassRole`. Reading the trail bucket directly has none of those
//! limits, but an organization trail is terabytes of small gzip objects, so the work is cut
//! into batches that Step Functions' Distributed Map runs in parallel
//! (`statemachine/cloudtrail-mode.asl.json`):
//!
//! 1. [`plan`] fixes the window and the trail location and tells the map which prefix to list;
//! 2. the map lists the prefix itself (ItemReader `s3:listObjectsV2`) and hands each child an
//!    ItemBatcher batch of objects; [`scan_batch`] keeps the log objects of the window (by key:
//!    digests, other accounts/regions and days outside the window are never downloaded),
//!    streams each through [`keycard_core::cloudtrail::Scanner`], and writes a *partial usage*
//!    under a key derived from the execution and the batch's contents, so a retried or
//!    re-driven batch overwrites the same object with the same bytes (or finds it and stops);
//! 3. [`reduce`] reads the map's ResultWriter manifest, merges exactly the partials of the
//!    children that succeeded, and writes one [`Usage`] for the diff step.
//!
//! KMS-encrypted log objects (SSE-KMS, the usual setting of organization trails) need nothing
//! here: S3 decrypts on GetObject when the caller may use the key (`kms:Decrypt` on the
//! trail's key in the batch function's role); a denial surfaces as `AccessDenied` and fails
//! the batch loudly rather than being counted as an empty object.
//!
//! [`list_window`] is the ranged listing for callers that list themselves (a single process
//! scanning a small trail): one ListObjectsV2 per account, region and day of the window, so
//! years of history outside the window are never listed.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use keycard_core::cloudtrail::{FileStats, MalformedFile, ScanOptions, ScanResult, Scanner};
use keycard_core::usage::Usage;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chain::{ExecutionRef, Run, StackItem, StepError, parse_json, to_json_bytes};
use crate::error::{AwsError, ErrorKind};
use crate::s3::{ObjectInfo, ObjectStore};

/// Default window of CloudTrail mode: a year, so twice-a-year jobs are seen twice.
pub const DEFAULT_WINDOW_DAYS: u32 = 365;
/// Ten years: beyond anything a trail bucket keeps, and a guard against typos.
pub const MAX_WINDOW_DAYS: u32 = 3650;
/// Objects per child. Step Functions batches by count, not by object size, so the default is
/// sized for large CloudTrail objects: 200 × 25 MB is about 45 M events, roughly four minutes
/// at the engine's measured rate (README "CloudTrail mode at scale"); typical 1 MB objects
/// take seconds.
pub const DEFAULT_MAX_OBJECTS_PER_BATCH: u32 = 200;
/// Upper bound of a batch's *input* (the item list), which Step Functions caps at 256 KB.
pub const DEFAULT_MAX_INPUT_BYTES_PER_BATCH: u32 = 200_000;
/// Children running at once. Lambda's default account concurrency is 1000; keycard leaves
/// most of it to the workloads it analyses.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 100;
/// Share of failed children the map tolerates before the run fails. Zero by default: a
/// failed batch is missing evidence, and a proposal made without it could drop a permission
/// that was used. A failed run is re-driven (only the failed children run again; finished
/// partials are reused). A request may accept losses; the output then counts failed batches.
pub const DEFAULT_TOLERATED_FAILURE_PERCENTAGE: u32 = 0;
/// GetObject requests in flight in one child: the child waits on S3 latency, not on the CPU.
const FETCH_CONCURRENCY: usize = 16;
/// CloudTrail delivers within minutes, but a file of events before `end` can land in the next
/// day's folder; a day of slack keeps late deliveries in.
const DELIVERY_SLACK: Duration = Duration::days(1);
/// A file delivered more than this before the window start holds no event of the window
/// (the same hour of clock slack as `keycard_core::cloudtrail::scan_dir`).
const EARLY_SLACK_SECONDS: i64 = 3600;
/// Problem lines carried in the execution output (the full list is in the stats object).
const MAX_PROBLEMS: usize = 20;

/// Where the trail's objects are: `s3://<bucket>/[<prefix>/]AWSLogs/[<o-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrailLocation {
    pub bucket: String,
    /// The trail's S3 key prefix, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Organization trails add the organization id after `AWSLogs/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Accounts to read; empty: every account of the trail.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Regions to read; empty: every region.
    #[serde(default)]
    pub regions: Vec<String>,
    /// The ARN of the trail that delivers here, whose configuration (event selectors, regions,
    /// logging status) the state machine reads to know what the logs can show. Absent: the
    /// stack's `TrailArn` parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trail_arn: Option<String>,
}

impl TrailLocation {
    /// Rejects what cannot be a trail location, so a typo fails the plan instead of listing
    /// nothing for an hour.
    pub fn validate(&self) -> Result<(), StepError> {
        let bad = |m: String| Err(StepError::InvalidInput(m));
        let b = &self.bucket;
        if b.len() < 3
            || b.len() > 63
            || !b
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        {
            return bad(format!("trail.bucket {b:?} is not an S3 bucket name"));
        }
        if let Some(p) = self
            .prefix
            .as_ref()
            .filter(|p| p.contains("//") || p.starts_with('/'))
        {
            return bad(format!("trail.prefix {p:?} is not a key prefix"));
        }
        if let Some(o) = &self.organization_id {
            let rest = o.strip_prefix("o-").unwrap_or_default();
            if !(10..=32).contains(&rest.len())
                || !rest
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            {
                return bad(format!(
                    "trail.organizationId {o:?} is not an organization id"
                ));
            }
        }
        for a in &self.accounts {
            if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) {
                return bad(format!(
                    "trail.accounts: {a:?} is not a 12-digit account id"
                ));
            }
        }
        if let Some(arn) = &self.trail_arn {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let ok = parts.len() == 6
                && parts[0] == "arn"
                && parts[1].starts_with("aws")
                && parts[2] == "cloudtrail"
                && parts[4].len() == 12
                && parts[4].chars().all(|c| c.is_ascii_digit())
                && parts[5]
                    .strip_prefix("trail/")
                    .is_some_and(|n| !n.is_empty());
            if !ok {
                return bad(format!(
                    "trail.trailArn {arn:?} is not a trail ARN (arn:aws:cloudtrail:<region>:<account>:trail/<name>)"
                ));
            }
        }
        for r in &self.regions {
            if r.is_empty()
                || !r
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return bad(format!("trail.regions: {r:?} is not a region name"));
            }
        }
        Ok(())
    }

    /// `[<prefix>/]AWSLogs/[<o-id>/]`: everything the trail delivers is under it.
    pub fn root(&self) -> String {
        let mut s = String::new();
        if let Some(p) = self
            .prefix
            .as_deref()
            .map(|p| p.trim_end_matches('/'))
            .filter(|p| !p.is_empty())
        {
            s.push_str(p);
            s.push('/');
        }
        s.push_str("AWSLogs/");
        if let Some(o) = &self.organization_id {
            s.push_str(o);
            s.push('/');
        }
        s
    }

    /// The prefix the Distributed Map lists: as narrow as one listing can be (one account's
    /// log folder, one region's when a single region is asked for). Keys outside the window
    /// are dropped by [`Selection`] without being downloaded.
    pub fn list_prefix(&self) -> String {
        let mut s = self.root();
        if let [account] = self.accounts.as_slice() {
            s.push_str(account);
            s.push_str("/CloudTrail/");
            if let [region] = self.regions.as_slice() {
                s.push_str(region);
                s.push('/');
            }
        }
        s
    }

    /// One prefix per account, region and day of `[start, end)` (with delivery slack): the
    /// ranged listing. Needs the accounts and regions spelled out.
    pub fn day_prefixes(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<String>, StepError> {
        if self.accounts.is_empty() || self.regions.is_empty() {
            return Err(StepError::InvalidInput(
                "a ranged listing needs trail.accounts and trail.regions".into(),
            ));
        }
        let (first, last) = day_range(start, end);
        let mut out = Vec::new();
        for account in &self.accounts {
            for region in &self.regions {
                let mut day = first;
                while day <= last {
                    out.push(format!(
                        "{}{account}/CloudTrail/{region}/{}/",
                        self.root(),
                        day.format("%Y/%m/%d")
                    ));
                    match day.succ_opt() {
                        Some(d) => day = d,
                        None => break,
                    }
                }
            }
        }
        Ok(out)
    }
}

/// First and last folder day that can hold events of `[start, end)`.
fn day_range(start: DateTime<Utc>, end: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let first = (start - Duration::seconds(EARLY_SLACK_SECONDS)).date_naive();
    let last = (end + DELIVERY_SLACK).date_naive();
    (first, last)
}

/// What a key in the trail bucket is, as far as the scan is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    /// A log object to download and scan.
    Scan,
    /// A digest file (integrity hashes, no events).
    Digest,
    /// Another account or region than the ones asked for.
    OtherTrail,
    /// A folder day or delivery time that cannot hold events of the window.
    OutsideWindow,
    /// Not in the CloudTrail layout (other files in the bucket, folder markers).
    NotALog,
}

/// Decides per key, without downloading anything, whether an object belongs to the scan.
#[derive(Debug, Clone)]
pub struct Selection {
    root: String,
    accounts: BTreeSet<String>,
    regions: BTreeSet<String>,
    first_day: NaiveDate,
    last_day: NaiveDate,
    earliest_delivery: i64,
}

impl Selection {
    pub fn new(trail: &TrailLocation, start: DateTime<Utc>, end: DateTime<Utc>) -> Selection {
        let (first_day, last_day) = day_range(start, end);
        Selection {
            root: trail.root(),
            accounts: trail.accounts.iter().cloned().collect(),
            regions: trail.regions.iter().cloned().collect(),
            first_day,
            last_day,
            earliest_delivery: start.timestamp() - EARLY_SLACK_SECONDS,
        }
    }

    pub fn classify(&self, key: &str) -> KeyClass {
        let Some(rest) = key.strip_prefix(&self.root) else {
            return KeyClass::NotALog;
        };
        // <account>/CloudTrail[-Digest]/<region>/YYYY/MM/DD/<file>
        let parts: Vec<&str> = rest.split('/').collect();
        let [account, kind, region, y, m, d, file] = parts.as_slice() else {
            return KeyClass::NotALog;
        };
        if file.is_empty() {
            return KeyClass::NotALog;
        }
        match *kind {
            "CloudTrail-Digest" => return KeyClass::Digest,
            "CloudTrail" => {}
            _ => return KeyClass::NotALog,
        }
        if file.contains("_CloudTrail-Digest_") {
            return KeyClass::Digest;
        }
        if !(file.ends_with(".json.gz") || file.ends_with(".json")) {
            return KeyClass::NotALog;
        }
        if (!self.accounts.is_empty() && !self.accounts.contains(*account))
            || (!self.regions.is_empty() && !self.regions.contains(*region))
        {
            return KeyClass::OtherTrail;
        }
        let day = match (y.parse(), m.parse(), d.parse()) {
            (Ok(y), Ok(m), Ok(d)) => NaiveDate::from_ymd_opt(y, m, d),
            _ => None,
        };
        let Some(day) = day else {
            return KeyClass::NotALog;
        };
        if day < self.first_day || day > self.last_day {
            return KeyClass::OutsideWindow;
        }
        match keycard_core::cloudtrail::delivery_time(file) {
            Some(t) if t < self.earliest_delivery => KeyClass::OutsideWindow,
            _ => KeyClass::Scan,
        }
    }
}

/// Lists the log objects of the window with one ListObjectsV2 per account, region and day
/// (see [`TrailLocation::day_prefixes`]), digests and out-of-window deliveries left out,
/// in key order.
pub async fn list_window<S: ObjectStore>(
    store: &S,
    trail: &TrailLocation,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<ObjectInfo>, StepError> {
    let selection = Selection::new(trail, start, end);
    let mut out = Vec::new();
    for prefix in trail.day_prefixes(start, end)? {
        for o in store.list_objects(&trail.bucket, &prefix).await? {
            if selection.classify(&o.key) == KeyClass::Scan {
                out.push(o);
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// The S3 key layout of CloudTrail mode in the output bucket (under the run's folder, which
/// the bucket's lifecycle rule expires).
pub mod keys {
    use crate::chain::keys::RUNS;

    pub fn plan(execution: &str) -> String {
        format!("{RUNS}{execution}/cloudtrail/plan.json")
    }
    pub fn partial(execution: &str, digest: &str) -> String {
        format!("{RUNS}{execution}/cloudtrail/partials/{digest}.json")
    }
    /// ResultWriter prefix of the Distributed Map.
    pub fn map_results(execution: &str) -> String {
        format!("{RUNS}{execution}/cloudtrail/map")
    }
    pub fn usage(execution: &str) -> String {
        format!("{RUNS}{execution}/cloudtrail/usage.json")
    }
    pub fn stats(execution: &str) -> String {
        format!("{RUNS}{execution}/cloudtrail/scan-stats.json")
    }
}

/// The execution input of CloudTrail mode (`events/cloudtrail-mode.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrailRequest {
    /// Names (or ARNs) of the target stacks.
    pub stacks: Vec<String>,
    pub trail: TrailLocation,
    /// Days of CloudTrail before the execution started; no 90-day limit here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_days: Option<u32>,
    /// Only these principals (role ARNs); `None`: every principal of the trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principals: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batching: Option<Batching>,
}

/// How the Distributed Map cuts and runs the work; read by the ASL's `…Path` fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Batching {
    pub max_objects_per_batch: u32,
    pub max_input_bytes_per_batch: u32,
    pub max_concurrency: u32,
    pub tolerated_failure_percentage: u32,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            max_objects_per_batch: DEFAULT_MAX_OBJECTS_PER_BATCH,
            max_input_bytes_per_batch: DEFAULT_MAX_INPUT_BYTES_PER_BATCH,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            tolerated_failure_percentage: DEFAULT_TOLERATED_FAILURE_PERCENTAGE,
        }
    }
}

/// Input of the plan step: `{"request.$": "$", "execution.$": "$$.Execution"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanInput {
    pub request: TrailRequest,
    pub execution: ExecutionRef,
}

/// What every child needs besides its items: the map's `BatchInput`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanSettings {
    pub execution_name: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub trail: TrailLocation,
    /// Always serialized (as null when unset): the ASL's `BatchInput` reads this path.
    #[serde(default)]
    pub principals: Option<Vec<String>>,
}

impl ScanSettings {
    fn scan_options(&self) -> ScanOptions {
        ScanOptions {
            principals: self
                .principals
                .as_ref()
                .map(|p| p.iter().cloned().collect()),
            start: Some(self.window_start),
            end: Some(self.window_end),
            threads: Some(1),
        }
    }
}

/// Output of the plan step: the state the rest of the execution reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanOutput {
    /// The same run record as Access Analyzer mode, so the diff and write steps are shared.
    pub run: Run,
    pub stacks: Vec<StackItem>,
    pub list_bucket: String,
    pub list_prefix: String,
    pub map_results_prefix: String,
    pub batching: Batching,
    pub settings: ScanSettings,
}

/// Resolves the request into the plan, and stores it at [`keys::plan`].
pub async fn plan<S: ObjectStore>(
    store: &S,
    output_bucket: &str,
    input: PlanInput,
) -> Result<PlanOutput, StepError> {
    let PlanInput { request, execution } = input;
    request.trail.validate()?;
    if request.stacks.is_empty() {
        return Err(StepError::InvalidInput("stacks is empty".into()));
    }
    let days = request.window_days.unwrap_or(DEFAULT_WINDOW_DAYS);
    if days == 0 || days > MAX_WINDOW_DAYS {
        return Err(StepError::InvalidInput(format!(
            "windowDays must be between 1 and {MAX_WINDOW_DAYS}, got {days}"
        )));
    }
    let batching = request.batching.clone().unwrap_or_default();
    if batching.max_objects_per_batch == 0
        || batching.max_concurrency == 0
        || batching.max_input_bytes_per_batch == 0
        || batching.max_input_bytes_per_batch > 256 * 1024
        || batching.tolerated_failure_percentage > 100
    {
        return Err(StepError::InvalidInput(format!(
            "batching {batching:?}: counts must be positive, input bytes at most 262144, the failure percentage at most 100"
        )));
    }
    // The Access Analyzer mode's run checks: safe execution name, window ending at the start.
    let aa = crate::chain::RunRequest {
        stacks: request.stacks.clone(),
        window_days: Some(1),
        wait_seconds: Some(0),
        max_polls: Some(1),
        max_generations: None,
    };
    let mut run = Run::from_request(&aa, &execution)?;
    run.window_start = execution.start_time - Duration::days(i64::from(days));
    run.wait_seconds = 0;
    run.max_polls = 0;
    run.manifest_key = keys::plan(&execution.name);
    let settings = ScanSettings {
        execution_name: execution.name.clone(),
        window_start: run.window_start,
        window_end: run.window_end,
        trail: request.trail.clone(),
        principals: request.principals.clone(),
    };
    let out = PlanOutput {
        stacks: request
            .stacks
            .iter()
            .map(|s| StackItem {
                stack: s.clone(),
                drift_detection_id: None,
            })
            .collect(),
        list_bucket: request.trail.bucket.clone(),
        list_prefix: request.trail.list_prefix(),
        map_results_prefix: keys::map_results(&execution.name),
        batching,
        settings,
        run,
    };
    store
        .put_object(
            output_bucket,
            &out.run.manifest_key,
            to_json_bytes(&out)?,
            "application/json",
        )
        .await?;
    Ok(out)
}

/// One object of an ItemBatcher batch, as the `s3:listObjectsV2` ItemReader describes it
/// (`Etag`, `LastModified` and `StorageClass` are also sent and not needed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Size", default)]
    pub size: u64,
}

/// A child's input: `{"Items": [...], "BatchInput": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchEvent {
    #[serde(rename = "Items")]
    pub items: Vec<BatchItem>,
    #[serde(rename = "BatchInput")]
    pub settings: ScanSettings,
}

/// What one batch (or the whole run) read. Kept small: it travels in the state machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanCounts {
    /// Log objects downloaded and scanned.
    pub objects: u64,
    /// Objects listed but not downloaded (digests, other accounts/regions, outside the window,
    /// not CloudTrail files).
    pub skipped: u64,
    /// Bytes downloaded (compressed, as stored).
    pub bytes: u64,
    /// CloudTrail records read.
    pub events: u64,
    /// Objects that could not be read completely (malformed, truncated, vanished).
    pub failures: u64,
}

impl ScanCounts {
    fn add(&mut self, o: &ScanCounts) {
        self.objects += o.objects;
        self.skipped += o.skipped;
        self.bytes += o.bytes;
        self.events += o.events;
        self.failures += o.failures;
    }
}

/// A child's output: where its partial usage is, and its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchOutput {
    pub partial_key: String,
    #[serde(flatten)]
    pub counts: ScanCounts,
    /// True when the partial already existed (a retry or re-drive of a finished batch).
    pub reused: bool,
}

/// The stored result of one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Partial {
    pub execution_name: String,
    pub counts: ScanCounts,
    pub files: FileStats,
    pub usage: Usage,
}

/// The partial's key: the execution, the window and trail, and the batch's objects (sorted,
/// with sizes). Same batch, same key — whichever child, attempt or re-drive computes it.
pub fn partial_key(settings: &ScanSettings, items: &[BatchItem]) -> String {
    let mut h = Sha256::new();
    h.update(settings.execution_name.as_bytes());
    h.update([0]);
    h.update(settings.window_start.to_rfc3339().as_bytes());
    h.update([0]);
    h.update(settings.window_end.to_rfc3339().as_bytes());
    h.update([0]);
    h.update(settings.trail.bucket.as_bytes());
    h.update([0]);
    if let Some(p) = &settings.principals {
        let sorted: BTreeSet<&String> = p.iter().collect();
        for arn in sorted {
            h.update(arn.as_bytes());
            h.update([1]);
        }
    }
    h.update([0]);
    let mut sorted: Vec<&BatchItem> = items.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key).then(a.size.cmp(&b.size)));
    sorted.dedup();
    for i in sorted {
        h.update(i.key.as_bytes());
        h.update([0]);
        h.update(i.size.to_le_bytes());
    }
    let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    keys::partial(&settings.execution_name, &digest)
}

/// The Distributed Map child: scans one batch of trail objects into a partial usage.
///
/// Transient S3 failures fail the batch with `Keycard.Transient` (the ASL retries it; the
/// partial's key makes the retry idempotent). An object that vanished between listing and
/// reading (lifecycle expiry) is a recorded failure. A denied read (bucket policy, KMS key
/// policy) fails the batch: it would fail for every object and must not look like silence.
pub async fn scan_batch<S>(
    store: &S,
    output_bucket: &str,
    event: BatchEvent,
) -> Result<BatchOutput, StepError>
where
    S: ObjectStore + Clone + 'static,
{
    let key = partial_key(&event.settings, &event.items);
    // A partial that does not parse (an older format) is computed again.
    let done = store
        .get_object(output_bucket, &key)
        .await?
        .and_then(|bytes| serde_json::from_slice::<Partial>(&bytes).ok());
    if let Some(done) = done {
        return Ok(BatchOutput {
            partial_key: key,
            counts: done.counts,
            reused: true,
        });
    }
    let s = &event.settings;
    let selection = Selection::new(&s.trail, s.window_start, s.window_end);
    let mut counts = ScanCounts::default();
    let mut wanted: Vec<BatchItem> = Vec::new();
    let mut digests = 0u64;
    for item in &event.items {
        match selection.classify(&item.key) {
            KeyClass::Scan => wanted.push(item.clone()),
            KeyClass::Digest => {
                digests += 1;
                counts.skipped += 1;
            }
            KeyClass::OtherTrail | KeyClass::OutsideWindow | KeyClass::NotALog => {
                counts.skipped += 1
            }
        }
    }
    // Key order is delivery order within a region: the scanner's deduplication window can
    // slide, and the result does not depend on the order items arrived in.
    wanted.sort_by(|a, b| a.key.cmp(&b.key));
    wanted.dedup_by(|a, b| a.key == b.key);

    let mut scanner = Scanner::new(&s.scan_options());
    let keys: Vec<String> = wanted.into_iter().map(|i| i.key).collect();
    let fetched = scan_objects(store, &s.trail.bucket, &keys, &mut scanner, |_, _| {}).await?;
    counts.objects += fetched.objects;
    counts.bytes += fetched.bytes;
    let vanished = fetched.vanished;
    let ScanResult { usage, mut files } = scanner.finish();
    files.digests_skipped += digests;
    files.malformed.extend(vanished);
    files.malformed.sort();
    counts.events = files.events;
    counts.failures = files.malformed.len() as u64;
    let partial = Partial {
        execution_name: s.execution_name.clone(),
        counts: counts.clone(),
        files,
        usage,
    };
    store
        .put_object(
            output_bucket,
            &key,
            to_json_bytes(&partial)?,
            "application/json",
        )
        .await?;
    Ok(BatchOutput {
        partial_key: key,
        counts,
        reused: false,
    })
}

/// What [`scan_objects`] downloaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// Objects downloaded and scanned.
    pub objects: u64,
    /// Bytes downloaded (compressed, as stored).
    pub bytes: u64,
    /// Objects listed but gone when read (lifecycle expiry, deletion): recorded, not fatal.
    pub vanished: Vec<MalformedFile>,
}

/// Downloads `keys` from `bucket` ([`FETCH_CONCURRENCY`] at a time) and streams each through
/// `scanner` in the order given, calling `on_object(key, bytes)` after each. Shared by the
/// Distributed Map child ([`scan_batch`]) and the CLI's `--cloudtrail s3://…`, so both read
/// a trail bucket the same way. A failed read other than a vanished object is returned (a
/// denial would fail for every object and must not look like silence).
pub async fn scan_objects<S, F>(
    store: &S,
    bucket: &str,
    keys: &[String],
    scanner: &mut Scanner,
    mut on_object: F,
) -> Result<Fetched, StepError>
where
    S: ObjectStore + Clone + 'static,
    F: FnMut(&str, u64) + Send,
{
    let mut out = Fetched::default();
    for chunk in keys.chunks(FETCH_CONCURRENCY) {
        let bodies = fetch_chunk(store, bucket, chunk).await?;
        for (key, body) in chunk.iter().zip(bodies) {
            match body {
                Ok(Some(bytes)) => {
                    out.objects += 1;
                    out.bytes += bytes.len() as u64;
                    scanner.scan_reader(key, bytes.as_slice());
                    on_object(key, bytes.len() as u64);
                }
                Ok(None) => out.vanished.push(MalformedFile {
                    path: key.clone(),
                    reason: "listed but gone when read (expired or deleted)".into(),
                }),
                Err(e) => return Err(StepError::Aws(e)),
            }
        }
    }
    Ok(out)
}

/// Downloads `keys` concurrently (at most [`FETCH_CONCURRENCY`] at once; callers pass chunks
/// of that size), results in the order of `keys`.
async fn fetch_chunk<S>(
    store: &S,
    bucket: &str,
    keys: &[String],
) -> Result<Vec<Result<Option<Vec<u8>>, AwsError>>, StepError>
where
    S: ObjectStore + Clone + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for (i, key) in keys.iter().enumerate() {
        let store = store.clone();
        let bucket = bucket.to_owned();
        let key = key.clone();
        tasks.spawn(async move { (i, store.get_object(&bucket, &key).await) });
    }
    let mut bodies: Vec<Option<Result<Option<Vec<u8>>, AwsError>>> =
        (0..keys.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, res) = joined.map_err(|e| {
            StepError::Aws(AwsError {
                service: "s3",
                operation: "GetObject",
                kind: ErrorKind::Transient,
                code: None,
                status: None,
                message: format!("a download task ended abnormally: {e}"),
            })
        })?;
        if let Some(slot) = bodies.get_mut(i) {
            *slot = Some(res);
        }
    }
    bodies
        .into_iter()
        .zip(keys)
        .map(|(b, key)| {
            b.ok_or_else(|| {
                StepError::Aws(AwsError::malformed(
                    "s3",
                    "GetObject",
                    format!("no result for {key}"),
                ))
            })
        })
        .collect()
}

/// Where the Distributed Map's ResultWriter put its manifest (the map state's
/// `ResultWriterDetails`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultWriterDetails {
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
}

/// Input of the reduce step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReduceInput {
    pub settings: ScanSettings,
    pub result_writer: ResultWriterDetails,
}

/// Batches by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchCounts {
    pub succeeded: u64,
    pub failed: u64,
    /// Children that never finished (the map stopped early).
    pub pending: u64,
}

/// Output of the reduce step, and the CloudTrail part of the execution output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReduceOutput {
    pub usage_key: String,
    pub stats_key: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    #[serde(flatten)]
    pub counts: ScanCounts,
    pub batches: BatchCounts,
    pub principals: u64,
    /// The first problems (failed batches, unreadable objects), one line each.
    pub problems: Vec<String>,
}

/// The merged scan statistics, stored beside the usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanStats {
    pub counts: ScanCounts,
    pub batches: BatchCounts,
    pub files: FileStats,
    pub failed_batches: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ResultManifest {
    #[serde(rename = "ResultFiles", default)]
    result_files: ResultFiles,
}

#[derive(Debug, Default, Deserialize)]
struct ResultFiles {
    #[serde(rename = "SUCCEEDED", default)]
    succeeded: Vec<ResultFile>,
    #[serde(rename = "FAILED", default)]
    failed: Vec<ResultFile>,
    #[serde(rename = "PENDING", default)]
    pending: Vec<ResultFile>,
}

#[derive(Debug, Deserialize)]
struct ResultFile {
    #[serde(rename = "Key")]
    key: String,
}

/// One child execution as the ResultWriter records it.
#[derive(Debug, Deserialize)]
struct ChildRecord {
    #[serde(rename = "Output", default)]
    output: Option<String>,
    #[serde(rename = "Error", default)]
    error: Option<String>,
    #[serde(rename = "Cause", default)]
    cause: Option<String>,
    #[serde(rename = "Name", default)]
    name: Option<String>,
}

/// Merges the partial usages of the children that succeeded into one [`Usage`] at
/// [`keys::usage`], with the merged statistics at [`keys::stats`].
///
/// Only partials named by the ResultWriter are read, so a partial left by an abandoned
/// attempt with different batching is never counted twice.
pub async fn reduce<S>(
    store: &S,
    output_bucket: &str,
    input: ReduceInput,
) -> Result<ReduceOutput, StepError>
where
    S: ObjectStore + Clone + 'static,
{
    let rw = &input.result_writer;
    let manifest: ResultManifest = parse_json(
        "ResultWriter manifest",
        &require(store, &rw.bucket, &rw.key).await?,
    )?;
    let mut batches = BatchCounts::default();
    let mut failed_batches = Vec::new();
    let mut partial_keys: BTreeSet<String> = BTreeSet::new();
    let files = &manifest.result_files;
    let groups = [
        (&files.succeeded, "SUCCEEDED"),
        (&files.failed, "FAILED"),
        (&files.pending, "PENDING"),
    ];
    for (group, status) in groups {
        for f in group {
            let records: Vec<ChildRecord> =
                parse_json(&f.key, &require(store, &rw.bucket, &f.key).await?)?;
            for r in records {
                match status {
                    "SUCCEEDED" => {
                        let out: BatchOutput = parse_json(
                            "a child's output",
                            r.output.as_deref().unwrap_or_default().as_bytes(),
                        )?;
                        batches.succeeded += 1;
                        partial_keys.insert(out.partial_key);
                    }
                    "FAILED" => {
                        batches.failed += 1;
                        failed_batches.push(format!(
                            "batch {} failed: {}: {}",
                            r.name.as_deref().unwrap_or("?"),
                            r.error.as_deref().unwrap_or("error"),
                            short(r.cause.as_deref().unwrap_or_default())
                        ));
                    }
                    _ => batches.pending += 1,
                }
            }
        }
    }

    let mut usage = Usage::default();
    let mut stats = FileStats::default();
    let mut counts = ScanCounts::default();
    // Partials are fetched FETCH_CONCURRENCY at a time (S3 latency, not parsing, dominates
    // a reduce over thousands of small objects) and merged in key order.
    let partial_keys: Vec<String> = partial_keys.into_iter().collect();
    for chunk in partial_keys.chunks(FETCH_CONCURRENCY) {
        let bodies = fetch_chunk(store, output_bucket, chunk).await?;
        for (key, body) in chunk.iter().zip(bodies) {
            let bytes = body?.ok_or_else(|| missing(output_bucket, key))?;
            let p: Partial = parse_json(key, &bytes)?;
            if p.execution_name != input.settings.execution_name {
                return Err(StepError::InvalidInput(format!(
                    "{key} belongs to execution {:?}",
                    p.execution_name
                )));
            }
            usage.merge(&p.usage);
            stats.merge(p.files);
            counts.add(&p.counts);
        }
    }
    let name = &input.settings.execution_name;
    let usage_key = keys::usage(name);
    let stats_key = keys::stats(name);
    store
        .put_object(
            output_bucket,
            &usage_key,
            to_json_bytes(&usage)?,
            "application/json",
        )
        .await?;
    let mut problems: Vec<String> = failed_batches.iter().take(MAX_PROBLEMS).cloned().collect();
    for m in &stats.malformed {
        if problems.len() >= MAX_PROBLEMS {
            break;
        }
        problems.push(format!("{}: {}", m.path, m.reason));
    }
    let principals = usage.principals.len() as u64;
    let saved = ScanStats {
        counts: counts.clone(),
        batches: batches.clone(),
        files: stats,
        failed_batches,
    };
    store
        .put_object(
            output_bucket,
            &stats_key,
            to_json_bytes(&saved)?,
            "application/json",
        )
        .await?;
    Ok(ReduceOutput {
        usage_key,
        stats_key,
        window_start: input.settings.window_start,
        window_end: input.settings.window_end,
        counts,
        batches,
        principals,
        problems,
    })
}

async fn require<S: ObjectStore>(store: &S, bucket: &str, key: &str) -> Result<Vec<u8>, StepError> {
    store
        .get_object(bucket, key)
        .await?
        .ok_or_else(|| missing(bucket, key))
}

fn missing(bucket: &str, key: &str) -> StepError {
    StepError::Aws(AwsError {
        service: "s3",
        operation: "GetObject",
        kind: ErrorKind::NotFound,
        code: Some("NoSuchKey".into()),
        status: Some(404),
        message: format!("s3://{bucket}/{key} does not exist"),
    })
}

/// The Lambda error response in a Cause is JSON; its message is what a person needs.
fn short(cause: &str) -> String {
    let msg = serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| cause.to_owned());
    msg.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn trail() -> TrailLocation {
        TrailLocation {
            bucket: "aws-cloudtrail-logs-123456789012-3f2a1b0c".into(),
            prefix: None,
            organization_id: None,
            accounts: vec!["123456789012".into()],
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            trail_arn: None,
        }
    }

    #[test]
    fn prefixes_for_both_layouts() {
        let mut t = trail();
        assert_eq!(t.root(), "AWSLogs/");
        assert_eq!(t.list_prefix(), "AWSLogs/123456789012/CloudTrail/");
        t.regions.truncate(1);
        assert_eq!(
            t.list_prefix(),
            "AWSLogs/123456789012/CloudTrail/us-east-1/"
        );
        t.organization_id = Some("o-a1b2c3d4e5".into());
        t.prefix = Some("org/".into());
        assert_eq!(
            t.list_prefix(),
            "org/AWSLogs/o-a1b2c3d4e5/123456789012/CloudTrail/us-east-1/"
        );
        t.accounts.push("210987654321".into());
        assert_eq!(t.list_prefix(), "org/AWSLogs/o-a1b2c3d4e5/");
    }

    #[test]
    fn day_prefixes_cover_the_window_with_slack() {
        let t = trail();
        let p = t
            .day_prefixes(at("2025-03-01T00:30:00Z"), at("2025-03-03T00:00:00Z"))
            .unwrap();
        // Feb 28 (an hour before the start), Mar 1–3, and Mar 4 (late deliveries): 5 days × 2 regions.
        assert_eq!(p.len(), 10);
        assert_eq!(
            p[0],
            "AWSLogs/123456789012/CloudTrail/us-east-1/2025/02/28/"
        );
        assert_eq!(
            p[4],
            "AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/04/"
        );
        assert_eq!(
            p[5],
            "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/02/28/"
        );
        let mut all = t.clone();
        all.regions.clear();
        assert!(
            all.day_prefixes(at("2025-03-01T00:00:00Z"), at("2025-03-02T00:00:00Z"))
                .is_err()
        );
    }

    #[test]
    fn keys_are_classified_without_reading_them() {
        let sel = Selection::new(
            &trail(),
            at("2025-03-01T00:00:00Z"),
            at("2025-03-10T00:00:00Z"),
        );
        let cases = [
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/02/123456789012_CloudTrail_us-east-1_20250302T0105Z_AbCdEf0123456789.json.gz",
                KeyClass::Scan,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/03/10/123456789012_CloudTrail_eu-west-1_20250310T0005Z_AbCdEf0123456789.json.gz",
                KeyClass::Scan,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/12/123456789012_CloudTrail_us-east-1_20250312T0105Z_AbCdEf0123456789.json.gz",
                KeyClass::OutsideWindow,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/02/28/123456789012_CloudTrail_us-east-1_20250228T2205Z_AbCdEf0123456789.json.gz",
                KeyClass::OutsideWindow,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/02/28/123456789012_CloudTrail_us-east-1_20250228T2335Z_AbCdEf0123456789.json.gz",
                KeyClass::Scan,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/ap-south-1/2025/03/02/123456789012_CloudTrail_ap-south-1_20250302T0105Z_AbCdEf0123456789.json.gz",
                KeyClass::OtherTrail,
            ),
            (
                "AWSLogs/210987654321/CloudTrail/us-east-1/2025/03/02/210987654321_CloudTrail_us-east-1_20250302T0105Z_AbCdEf0123456789.json.gz",
                KeyClass::OtherTrail,
            ),
            (
                "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2025/03/02/123456789012_CloudTrail-Digest_us-east-1_management-events_us-east-1_20250302T010500Z.json.gz",
                KeyClass::Digest,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/02/",
                KeyClass::NotALog,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/13/02/x.json.gz",
                KeyClass::NotALog,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/02/notes.txt",
                KeyClass::NotALog,
            ),
            (
                "other/AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/02/x.json.gz",
                KeyClass::NotALog,
            ),
            (
                "AWSLogs/o-a1b2c3d4e5/123456789012/CloudTrail/us-east-1/2025/03/02/x.json.gz",
                KeyClass::NotALog,
            ),
        ];
        for (key, want) in cases {
            assert_eq!(sel.classify(key), want, "{key}");
        }
    }

    #[test]
    fn partial_key_depends_on_contents_not_order() {
        let settings = ScanSettings {
            execution_name: "2026-q4".into(),
            window_start: at("2025-03-01T00:00:00Z"),
            window_end: at("2025-03-10T00:00:00Z"),
            trail: trail(),
            principals: None,
        };
        let a = BatchItem {
            key: "a".into(),
            size: 1,
        };
        let b = BatchItem {
            key: "b".into(),
            size: 2,
        };
        let k1 = partial_key(&settings, &[a.clone(), b.clone()]);
        assert_eq!(k1, partial_key(&settings, &[b.clone(), a.clone()]));
        assert!(k1.starts_with("runs/2026-q4/cloudtrail/partials/"));
        assert_ne!(k1, partial_key(&settings, std::slice::from_ref(&a)));
        let mut other = settings.clone();
        other.execution_name = "2027-q1".into();
        assert_ne!(
            k1.rsplit('/').next(),
            partial_key(&other, &[a.clone(), b.clone()])
                .rsplit('/')
                .next()
        );
        let bigger = BatchItem {
            key: "b".into(),
            size: 3,
        };
        assert_ne!(k1, partial_key(&settings, &[a, bigger]));
    }

    #[test]
    fn bad_locations_are_rejected() {
        let mut t = trail();
        t.bucket = "Bad_Bucket".into();
        assert!(t.validate().is_err());
        let mut t = trail();
        t.accounts = vec!["1234".into()];
        assert!(t.validate().is_err());
        let mut t = trail();
        t.organization_id = Some("org-1".into());
        assert!(t.validate().is_err());
        let mut t = trail();
        t.regions = vec!["US East".into()];
        assert!(t.validate().is_err());
        for bad in [
            "management-events",
            "arn:aws:s3:::bucket",
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/",
        ] {
            let mut t = trail();
            t.trail_arn = Some(bad.into());
            assert!(t.validate().is_err(), "{bad}");
        }
        let mut t = trail();
        t.trail_arn = Some("arn:aws-cn:cloudtrail:cn-north-1:123456789012:trail/org-trail".into());
        assert!(t.validate().is_ok());
        assert!(trail().validate().is_ok());
    }

    #[test]
    fn batch_event_parses_the_item_batcher_shape() {
        let e: BatchEvent = serde_json::from_str(
            r#"{"Items":[{"Etag":"\"0c5c1f2f1b5e4c8a9f0e1d2c3b4a5968\"","Key":"AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/02/f.json.gz","LastModified":1740877500,"Size":2048,"StorageClass":"STANDARD"}],
                "BatchInput":{"executionName":"run-1","windowStart":"2025-03-01T00:00:00Z","windowEnd":"2025-03-10T00:00:00Z",
                              "trail":{"bucket":"aws-cloudtrail-logs-123456789012-3f2a1b0c","accounts":["123456789012"],"regions":["us-east-1"]}}}"#,
        )
        .unwrap();
        assert_eq!(e.items[0].size, 2048);
        assert_eq!(e.settings.trail.regions, vec!["us-east-1"]);
    }
}
