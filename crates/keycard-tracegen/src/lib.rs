//! Deterministic synthetic CloudTrail logs.
//!
//! keycard's examples, tests and benchmark need CloudTrail history that looks like the real
//! thing (the S3 key layout, gzip, real-shaped records, digests, the odd broken file) without an
//! AWS account, and that is identical on every run so results can be committed and compared.
//! A [`Scenario`] says who calls what and how often; [`generate`] writes the files and returns a
//! [`Summary`] with the ground truth (what each principal did), which tests compare a reader
//! against.
//!
//! ```no_run
//! let scenario = keycard_tracegen::Scenario::from_json(&std::fs::read_to_string("scenario.json")?)?;
//! let summary = keycard_tracegen::generate(&scenario, std::path::Path::new("out/cloudtrail"))?;
//! println!("{} events in {} files", summary.events, summary.log_files);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(unreachable_pub)]

pub mod corpus;
pub mod data_events;
pub mod large;
mod records;
pub mod rng;
pub mod scenario;
pub mod trail;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

pub use corpus::{ProfileCorpus, example_profiles, example_scenario, write_example_corpora};
pub use data_events::DataEventTable;
pub use large::{LargeOptions, large_scenario};
pub use rng::Rng;
pub use scenario::{CallSpec, MalformedSpec, PrincipalKind, PrincipalSpec, Scenario, Schedule};
pub use trail::{Classification, DeliveryGap, TrailProfile, TrailSpec};

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum TracegenError {
    #[error("invalid scenario: {0}")]
    Scenario(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serialise a record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid data event table: {0}")]
    DataTable(String),
}

/// What one principal did with one call (the ground truth for tests), or the part of it the
/// trail wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallTruth {
    /// Successful calls written.
    pub count: u64,
    /// Calls written with an errorCode.
    pub denied: u64,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

/// What was written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Well-formed log files (digests and malformed copies not included).
    pub log_files: u64,
    pub digest_files: u64,
    /// Paths (relative to the output folder) of the damaged copies, with what was done.
    pub malformed_files: Vec<(String, String)>,
    /// Exact duplicate files (relative paths).
    pub duplicate_files: Vec<String>,
    /// Events in the well-formed log files, including AWS-service events.
    pub events: u64,
    /// principal ARN → `eventSource eventName` → truth: what each principal really did, the
    /// same under every trail profile. AWS-service events are not included: they are not any
    /// principal's own use.
    pub expected: BTreeMap<String, BTreeMap<String, CallTruth>>,
    /// The part of `expected` the trail wrote into the log files (equal to `expected` under
    /// the `all` profile without gaps).
    pub written: BTreeMap<String, BTreeMap<String, CallTruth>>,
    /// Events that happened but were not written (profile or gap), AWS-service events included.
    pub unwritten_events: u64,
    /// Log files not written because they fall in a delivery gap.
    pub gap_log_files: u64,
    /// The trail the files were written for.
    pub trail: TrailSpec,
    pub classification: Classification,
}

impl Summary {
    /// `(principal ARN, "eventSource eventName")` of every call a principal really made with
    /// success at least once but of which no successful event was written: what a reader of
    /// these files cannot see, and so must never remove.
    pub fn unseen_calls(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (arn, calls) in &self.expected {
            for (key, truth) in calls {
                let written = self
                    .written
                    .get(arn)
                    .and_then(|w| w.get(key))
                    .map_or(0, |t| t.count);
                if truth.count > 0 && written == 0 {
                    out.push((arn.clone(), key.clone()));
                }
            }
        }
        out
    }
}

/// One event to write, small so a ≥1M-event corpus fits comfortably in memory while sorting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Ev {
    bucket: i64,
    region: u16,
    time: i64,
    principal: u32,
    /// Index into the principal's calls, or [`SERVICE_ASSUME`].
    call: u32,
}

const SERVICE_ASSUME: u32 = u32::MAX;

/// Writes the scenario's CloudTrail files under `out` and returns what was written.
pub fn generate(scenario: &Scenario, out: &Path) -> Result<Summary, TracegenError> {
    scenario.validate()?;
    let root = Rng::new(scenario.seed);
    let start = scenario.start.timestamp();
    let end = scenario.end.timestamp();
    let bucket_secs = i64::from(scenario.file_interval_minutes) * 60;

    let mut events: Vec<Ev> = Vec::new();
    for (pi, p) in scenario.principals.iter().enumerate() {
        let prng = root.fork(&format!("principal:{}", p.name));
        for (ci, c) in p.calls.iter().enumerate() {
            let mut rng = prng.fork(&format!("call:{ci}:{}:{}", c.event_source, c.event_name));
            let region = match &c.region {
                Some(r) => scenario.regions.iter().position(|x| x == r).unwrap_or(0),
                None => 0,
            } as u16;
            for t in occurrences(&c.schedule, start, end, &mut rng) {
                let mut at = t;
                for _ in 0..c.count.max(1) {
                    if at < end {
                        events.push(Ev {
                            bucket: at.div_euclid(bucket_secs),
                            region,
                            time: at,
                            principal: pi as u32,
                            call: ci as u32,
                        });
                    }
                    at += rng.range(1, 20);
                }
            }
        }
        if p.assumed_by.is_some() {
            let mut rng = prng.fork("assumed-by");
            for t in occurrences(&Schedule::Daily, start, end, &mut rng) {
                events.push(Ev {
                    bucket: t.div_euclid(bucket_secs),
                    region: 0,
                    time: t,
                    principal: pi as u32,
                    call: SERVICE_ASSUME,
                });
            }
        }
    }
    events.sort_unstable();

    let mut writer = records::Writer::new(scenario, root.fork("records"))?;
    let mut summary = Summary {
        trail: scenario.trail.clone(),
        classification: scenario.classification,
        ..Summary::default()
    };
    let mut file_rng = root.fork("files");
    // (region, hour) → log files delivered in that hour, for the digests.
    let mut by_hour: BTreeMap<(u16, i64), Vec<records::Delivered>> = BTreeMap::new();
    let mut written: Vec<PathBuf> = Vec::new();

    let mut i = 0;
    while i < events.len() {
        let (bucket, region) = (events[i].bucket, events[i].region);
        let mut j = i;
        while j < events.len() && events[j].bucket == bucket && events[j].region == region {
            j += 1;
        }
        let group = &events[i..j];
        i = j;
        // Delivered a few minutes after the interval closes, as CloudTrail does.
        let delivered = (bucket + 1) * bucket_secs + file_rng.range(60, 600);
        let region_name = &scenario.regions[usize::from(region)];
        // The name and the records are drawn whether or not the file is written, so the files
        // a trail profile keeps have the names and events they have under `all`.
        let rel = log_key(scenario, region_name, delivered, &mut file_rng);
        let path = out.join(&rel);
        let in_gap = scenario.trail.file_in_gap(bucket * bucket_secs, delivered);
        let body = writer.file_body(group, !in_gap, &mut summary)?;
        summary.unwritten_events += group.len() as u64 - body.written;
        if in_gap {
            summary.gap_log_files += 1;
        }
        if body.written == 0 {
            continue;
        }
        write_gz(&path, body.json.as_bytes())?;
        summary.log_files += 1;
        summary.events += body.written;
        by_hour
            .entry((region, delivered.div_euclid(3600)))
            .or_default()
            .push(records::Delivered {
                key: rel,
                oldest: body.oldest.unwrap_or(delivered),
                newest: body.newest.unwrap_or(delivered),
            });
        written.push(path);
    }

    if scenario.digests {
        let mut digest_rng = root.fork("digests");
        let mut previous: BTreeMap<u16, String> = BTreeMap::new();
        for ((region, hour), files) in &by_hour {
            let region_name = &scenario.regions[usize::from(*region)];
            let at = (hour + 1) * 3600 + digest_rng.range(0, 900);
            if scenario.trail.file_in_gap(at, at) {
                // Nothing is delivered in a gap, digests included.
                continue;
            }
            let rel = digest_key(scenario, region_name, at);
            let body = records::digest_body(
                scenario,
                &rel,
                hour * 3600,
                at,
                files,
                previous.get(region).map(String::as_str),
                &mut digest_rng,
            )?;
            write_gz(&out.join(&rel), body.as_bytes())?;
            previous.insert(*region, rel);
            summary.digest_files += 1;
        }
    }

    add_broken_copies(
        scenario,
        out,
        &written,
        &mut root.fork("malformed"),
        &mut summary,
    )?;
    Ok(summary)
}

/// Event times of one schedule in `[start, end)`, each period with its own random offset.
fn occurrences(schedule: &Schedule, start: i64, end: i64, rng: &mut Rng) -> Vec<i64> {
    const DAY: i64 = 86_400;
    let periodic = |period: i64, rng: &mut Rng| -> Vec<i64> {
        let offset = rng.range(0, period - 1);
        let mut out = Vec::new();
        let mut t = start + offset;
        while t < end {
            // Jitter of up to a tenth of the period keeps real-looking irregularity without
            // ever moving an occurrence into the next period.
            let jitter = rng.range(0, (period / 10).max(1) - 1);
            if t + jitter < end {
                out.push(t + jitter);
            }
            t += period;
        }
        out
    };
    match schedule {
        Schedule::Hourly => periodic(3600, rng),
        Schedule::Daily => periodic(DAY, rng),
        Schedule::Weekly => periodic(7 * DAY, rng),
        Schedule::TwiceAYear => periodic(182 * DAY, rng),
        Schedule::EveryMinutes(m) => periodic(i64::from((*m).max(1)) * 60, rng),
        Schedule::Once => vec![rng.range(start, end - 1)],
        Schedule::At(times) => times
            .iter()
            .map(DateTime::timestamp)
            .filter(|t| (start..end).contains(t))
            .collect(),
        Schedule::Monthly => {
            // Calendar months: the same day of the month (≤ 28) and time of day each month.
            let day = rng.range(1, 28) as u32;
            let secs = rng.range(0, DAY - 1);
            let mut out = Vec::new();
            let Some(first) = Utc.timestamp_opt(start, 0).single() else {
                return out;
            };
            let (mut y, mut m) = (first.year(), first.month());
            while let Some(t) = Utc.with_ymd_and_hms(y, m, day, 0, 0, 0).single() {
                let at = t.timestamp() + secs;
                if at >= end {
                    break;
                }
                if at >= start {
                    out.push(at);
                }
                if m == 12 {
                    (y, m) = (y + 1, 1);
                } else {
                    m += 1;
                }
            }
            out
        }
    }
}

fn prefix(scenario: &Scenario) -> String {
    match &scenario.organization_id {
        Some(org) => format!("AWSLogs/{org}/{}", scenario.account),
        None => format!("AWSLogs/{}", scenario.account),
    }
}

fn utc(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().unwrap_or_default()
}

/// `AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<16 chars>.json.gz`
fn log_key(scenario: &Scenario, region: &str, delivered: i64, rng: &mut Rng) -> String {
    let t = utc(delivered);
    let suffix = rng.pick_chars(
        16,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    );
    format!(
        "{}/CloudTrail/{region}/{}/{}_CloudTrail_{region}_{}_{suffix}.json.gz",
        prefix(scenario),
        t.format("%Y/%m/%d"),
        scenario.account,
        t.format("%Y%m%dT%H%MZ"),
    )
}

/// `AWSLogs/[<org-id>/]<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/<account>_CloudTrail-Digest_<region>_<trail>_<region>_<YYYYMMDDTHHMMSSZ>.json.gz`
fn digest_key(scenario: &Scenario, region: &str, at: i64) -> String {
    let t = utc(at);
    format!(
        "{}/CloudTrail-Digest/{region}/{}/{}_CloudTrail-Digest_{region}_{}_{region}_{}.json.gz",
        prefix(scenario),
        t.format("%Y/%m/%d"),
        scenario.account,
        scenario.trail_name,
        t.format("%Y%m%dT%H%M%SZ"),
    )
}

fn write_gz(path: &Path, bytes: &[u8]) -> Result<(), TracegenError> {
    let io = |source| TracegenError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = std::fs::File::create(path).map_err(io)?;
    let mut gz = GzEncoder::new(std::io::BufWriter::new(file), Compression::default());
    gz.write_all(bytes).map_err(io)?;
    let mut inner = gz.finish().map_err(io)?;
    inner.flush().map_err(io)
}

fn write_raw(path: &Path, bytes: &[u8]) -> Result<(), TracegenError> {
    std::fs::write(path, bytes).map_err(|source| TracegenError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Damaged and duplicated copies of already-written files, placed next to their originals
/// with a fresh random suffix, so every event they hold is a duplicate of a good one.
fn add_broken_copies(
    scenario: &Scenario,
    out: &Path,
    written: &[PathBuf],
    rng: &mut Rng,
    summary: &mut Summary,
) -> Result<(), TracegenError> {
    let m = &scenario.malformed;
    if written.is_empty() {
        return Ok(());
    }
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| TracegenError::Io {
            path: p.to_path_buf(),
            source,
        })
    };
    let sibling = |original: &Path, rng: &mut Rng| -> PathBuf {
        let name = original
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // …_<YYYYMMDDTHHMMZ>_<suffix>.json.gz → same timestamp, new suffix.
        let stem = name.rsplit_once('_').map_or(name, |(s, _)| s);
        let new = format!(
            "{stem}_{}.json.gz",
            rng.pick_chars(
                16,
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
            )
        );
        original.with_file_name(new)
    };
    let rel = |p: &Path| {
        p.strip_prefix(out)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    for _ in 0..m.truncated {
        let original = &written[rng.below(written.len() as u64) as usize];
        let bytes = read(original)?;
        let copy = sibling(original, rng);
        write_raw(&copy, &bytes[..bytes.len() / 2])?;
        summary
            .malformed_files
            .push((rel(&copy), "gzip stream cut in half".to_string()));
    }
    for _ in 0..m.invalid_json {
        let original = &written[rng.below(written.len() as u64) as usize];
        let bytes = read(original)?;
        let mut json = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut json)
            .map_err(|source| TracegenError::Io {
                path: original.clone(),
                source,
            })?;
        let cut = json.len() * 2 / 3;
        let copy = sibling(original, rng);
        write_gz(&copy, &json.as_bytes()[..cut])?;
        summary
            .malformed_files
            .push((rel(&copy), "JSON stops mid-record".to_string()));
    }
    for _ in 0..m.duplicates {
        let original = &written[rng.below(written.len() as u64) as usize];
        let bytes = read(original)?;
        let copy = sibling(original, rng);
        write_raw(&copy, &bytes)?;
        summary.duplicate_files.push(rel(&copy));
    }
    Ok(())
}

/// `2025-06-01T12:34:56Z`, CloudTrail's eventTime format (second precision, `Z`).
pub(crate) fn event_time(t: i64) -> String {
    let d = utc(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

#[cfg(test)]
mod tests;
