//! Where the bytes come from: a local folder (parallel over files, in delivery order) or byte
//! streams such as S3 objects ([`Scanner`]). Both feed the same per-worker accumulator.

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use super::accumulate::{Accumulator, Prepared};
use super::dedup::{DEDUP_DAYS_BEHIND, Dedup};
use super::*;

/// What a path under the scanned folder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileKind {
    Log,
    Digest,
    Other,
}

pub(super) fn classify(path: &Path) -> FileKind {
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

pub(super) fn display_path(root: &Path, path: &Path) -> String {
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
