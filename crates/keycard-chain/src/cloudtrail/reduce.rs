//! The reduce step: the partials of the children that succeeded, merged into one usage.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use keycard_aws::error::{AwsError, ErrorKind};
use keycard_aws::s3::ObjectStore;
use keycard_core::cloudtrail::FileStats;
use keycard_core::usage::Usage;
use serde::{Deserialize, Serialize};

use super::batch::{BatchOutput, FETCH_CONCURRENCY, Partial, ScanCounts, fetch_chunk};
use super::keys;
use super::plan::ScanSettings;
use super::results::{ChildRecord, RecordSink, for_each_record};
use crate::contract::{StepError, check_key, parse_json, to_json_bytes};

/// Problem lines carried in the execution output (the full list is in the stats object).
const MAX_PROBLEMS: usize = 20;

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

/// The records of one status group, tallied on the parser's thread.
struct Tally {
    status: &'static str,
    /// Every partial key must be under this run's partials folder.
    partials: String,
    batches: BatchCounts,
    failed_batches: Vec<String>,
    partial_keys: BTreeSet<String>,
}

impl RecordSink for Tally {
    fn record(&mut self, r: ChildRecord) -> Result<(), StepError> {
        match self.status {
            "SUCCEEDED" => {
                let out: BatchOutput = parse_json(
                    "a child's output",
                    r.output.as_deref().unwrap_or_default().as_bytes(),
                )?;
                check_key("a child's partialKey", &out.partial_key, &self.partials)?;
                self.batches.succeeded += 1;
                self.partial_keys.insert(out.partial_key);
            }
            "FAILED" => {
                self.batches.failed += 1;
                self.failed_batches.push(format!(
                    "batch {} failed: {}: {}",
                    r.name.as_deref().unwrap_or("?"),
                    r.error.as_deref().unwrap_or("error"),
                    short(r.cause.as_deref().unwrap_or_default())
                ));
            }
            _ => self.batches.pending += 1,
        }
        Ok(())
    }
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
    input.settings.validate()?;
    let name = &input.settings.execution_name;
    let rw = &input.result_writer;
    // The manifest and every file it lists are this run's ResultWriter output, in the output
    // bucket: a key from the state never points the reduce at another run's objects.
    let results = format!("{}/", keys::map_results(name));
    if rw.bucket != output_bucket {
        return Err(StepError::InvalidInput(format!(
            "resultWriter.bucket {:?} is not the output bucket",
            rw.bucket
        )));
    }
    check_key("resultWriter.key", &rw.key, &results)?;
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
            check_key("a ResultWriter file", &f.key, &results)?;
            let tally = Tally {
                status,
                partials: format!(
                    "{}cloudtrail/partials/",
                    crate::contract::keys::manifest(name).trim_end_matches("manifest.json")
                ),
                batches: BatchCounts::default(),
                failed_batches: Vec::new(),
                partial_keys: BTreeSet::new(),
            };
            let t = for_each_record(store, &rw.bucket, &f.key, tally).await?;
            batches.succeeded += t.batches.succeeded;
            batches.failed += t.batches.failed;
            batches.pending += t.batches.pending;
            failed_batches.extend(t.failed_batches);
            partial_keys.extend(t.partial_keys);
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

pub(crate) fn missing(bucket: &str, key: &str) -> StepError {
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
