//! CloudTrail mode: keycard's own usage engine reading a trail's S3 objects, at any scale.
//!
//! Access Analyzer stops at 90 days, one generation per account at a time, and never reports
//! S3 data events or `iam:PassRole`. Reading the trail bucket directly has none of those
//! limits, but an organization trail is terabytes of small gzip objects, so the work is cut
//! into batches that Step Functions' Distributed Map runs in parallel
//! (`statemachine/cloudtrail-mode.asl.json`):
//!
//! 1. [`plan::plan`] refuses a bucket the stack was not granted ([`grant`]), fixes the window
//!    and the trail location, and lists the window's log objects into the map's item file in
//!    the output bucket ([`items`]: a Distributed Map can only list buckets of its own account
//!    and region, and an organization trail's bucket is in the log-archive account);
//! 2. the map reads the item file (ItemReader `s3:getObject`, JSON Lines) and hands each child an
//!    ItemBatcher batch of objects; [`batch::scan_batch`] keeps the log objects of the window (by key:
//!    digests, other accounts/regions and days outside the window are never downloaded),
//!    streams each through [`keycard_core::cloudtrail::Scanner`], and writes a *partial usage*
//!    under a key derived from the execution and the batch's contents, so a retried or
//!    re-driven batch overwrites the same object with the same bytes (or finds it and stops);
//! 3. [`reduce::reduce`] reads the map's ResultWriter manifest, merges exactly the partials of the
//!    children that succeeded, and writes one [`keycard_core::usage::Usage`] for the diff step.
//!
//! KMS-encrypted log objects (SSE-KMS, the usual setting of organization trails) need nothing
//! here: S3 decrypts on GetObject when the caller may use the key (`kms:Decrypt` on the
//! trail's key in the batch function's role); a denial surfaces as `AccessDenied` and fails
//! the batch loudly rather than being counted as an empty object.
//!
//! [`layout::list_window`] is the ranged listing for callers that list themselves (a single process
//! scanning a small trail): one ListObjectsV2 per account, region and day of the window, so
//! years of history outside the window are never listed.

pub mod batch;
pub mod grant;
pub mod items;
pub mod layout;
pub mod plan;
pub mod reduce;
pub mod results;

pub use batch::{
    BatchEvent, BatchItem, BatchOutput, Fetched, Partial, ScanCounts, partial_key, scan_batch,
    scan_objects,
};
pub use grant::TrailGrant;
pub use items::{Listing, write_items};
pub use layout::{KeyClass, Selection, TrailLocation, list_window};
pub use plan::{
    Batching, DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_INPUT_BYTES_PER_BATCH,
    DEFAULT_MAX_OBJECTS_PER_BATCH, DEFAULT_TOLERATED_FAILURE_PERCENTAGE, DEFAULT_WINDOW_DAYS,
    MAX_WINDOW_DAYS, PlanInput, PlanOutput, ScanSettings, TrailRequest, plan,
};
pub use reduce::{BatchCounts, ReduceInput, ReduceOutput, ResultWriterDetails, ScanStats, reduce};

/// The S3 key layout of CloudTrail mode in the output bucket (under the run's folder, which
/// the bucket's lifecycle rule expires).
pub mod keys {
    use crate::contract::keys::RUNS;

    pub fn plan(execution: &str) -> String {
        format!("{RUNS}{execution}/cloudtrail/plan.json")
    }
    /// The Distributed Map's item file: the window's log objects, one JSON line each.
    pub fn items(execution: &str) -> String {
        format!("{RUNS}{execution}/cloudtrail/items.jsonl")
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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod org_tests;

/// Fixtures shared by the unit tests of the CloudTrail steps.
#[cfg(test)]
pub(crate) mod fixtures {
    use chrono::{DateTime, Utc};

    use super::layout::TrailLocation;

    pub(crate) fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// A single-account trail delivering two regions to the bucket the console names.
    pub(crate) fn trail() -> TrailLocation {
        TrailLocation {
            bucket: "aws-cloudtrail-logs-123456789012-3f2a1b0c".into(),
            prefix: None,
            organization_id: None,
            accounts: vec!["123456789012".into()],
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            trail_arn: None,
        }
    }
}
