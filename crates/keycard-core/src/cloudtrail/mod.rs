//! CloudTrail log files → [`Usage`](crate::usage::Usage): who did what, when, on which resources.
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

mod accumulate;
mod dedup;
mod explain;
mod scan;
mod stats;
mod timestamps;

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

pub use explain::{Resolved, resolve_record};
pub use object::{MAX_OBJECT_BYTES, ObjectReadError, read_object};
pub use scan::{
    NoProgress, Progress, Scanner, scan_dir, scan_dir_with_progress, scan_reader, scan_sources,
};
pub use stats::{FileStats, MalformedFile, ScanResult};
pub use timestamps::{delivery_time, parse_event_time};

// For walk.rs, which lists the folder the same way the scanner classifies a name.
use scan::{FileKind, classify, display_path};

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

#[cfg(test)]
mod tests;
