//! Listing a CloudTrail folder: the log files to read, and every path passed over with why.
//!
//! Symlinked folders and files are followed, as a user pointing `--cloudtrail` at a folder of
//! links to trail buckets' mirrors expects. A link back to a folder being walked (a loop) is
//! reported once, where it is met, and not followed; a folder or file reached a second time
//! through another link is read once. Names that are not UTF-8 are read like any other (paths
//! stay `OsStr`; only the names shown to people are converted, lossily). Nothing is skipped
//! silently: every path passed over for a reason other than "not a log file" is listed, and
//! the CLI, the summary and the report say how many and why.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{CloudTrailError, FileKind, classify, delivery_time, display_path};

/// A path under the CloudTrail folder that was not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SkippedPath {
    /// Relative to the folder, `/`-separated; bytes that are not UTF-8 shown as U+FFFD.
    pub path: String,
    pub reason: SkipReason,
    /// The system's error message, or the path the same folder or file was read through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl fmt::Display for SkippedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// Why a path was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A symlink to a folder that contains it: following it would never end.
    SymlinkLoop,
    /// A symlink whose target does not exist.
    BrokenLink,
    /// A folder that could not be listed or a file whose type could not be read.
    Unreadable,
    /// A FIFO, socket or device named like a log file.
    NotARegularFile,
    /// The same folder or file was already read through another path (a symlink).
    AlreadyRead,
}

impl SkipReason {
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::SymlinkLoop => "symlink loop, not followed",
            SkipReason::BrokenLink => "broken symlink",
            SkipReason::Unreadable => "cannot be read",
            SkipReason::NotARegularFile => "not a regular file",
            SkipReason::AlreadyRead => "already read through another path",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// `2 symlink loop, not followed; 1 broken symlink`: skipped paths counted by reason, for
/// one-line summaries. Empty when nothing was skipped.
pub fn count_by_reason(skipped: &[SkippedPath]) -> String {
    let mut counts: std::collections::BTreeMap<SkipReason, usize> = Default::default();
    for p in skipped {
        *counts.entry(p.reason).or_default() += 1;
    }
    counts
        .iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a folder holds for the scanner.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Log files with their delivery time (`i64::MIN` when the name has none).
    pub logs: Vec<(i64, PathBuf)>,
    pub digests: u64,
    pub skipped: Vec<SkippedPath>,
}

/// The identity of a file or folder, to read each once however many links lead to it.
#[cfg(unix)]
fn identity(_path: &Path, meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(path: &Path, _meta: &std::fs::Metadata) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

/// Lists `root` recursively, following symlinks. Errors only when `root` itself cannot be
/// listed; anything below it that cannot be is a [`SkippedPath`].
pub(crate) fn list(root: &Path) -> Result<Listing, CloudTrailError> {
    let mut out = Listing::default();
    // Each folder and file read, by identity, with the path it was first met at (to say
    // where a duplicate was read).
    let mut first_path: HashMap<_, String> = HashMap::new();
    let mut it = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = it.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().unwrap_or(root);
                if e.depth() == 0 {
                    return Err(CloudTrailError::Walk {
                        path: path.to_path_buf(),
                        message: e.to_string(),
                    });
                }
                out.skipped.push(skipped_by_error(root, path, &e));
                continue;
            }
        };
        let ty = entry.file_type();
        if !ty.is_dir() && !ty.is_file() {
            if classify(entry.path()) == FileKind::Log {
                out.skipped.push(SkippedPath {
                    path: display_path(root, entry.path()),
                    reason: SkipReason::NotARegularFile,
                    detail: None,
                });
            }
            continue;
        }
        let kind = ty.is_file().then(|| classify(entry.path()));
        if kind == Some(FileKind::Other) {
            continue;
        }
        // Only through a symlink (or a hard link) can one be met twice.
        let id = entry
            .metadata()
            .ok()
            .and_then(|m| identity(entry.path(), &m));
        if let Some(id) = id {
            match first_path.entry(id) {
                Entry::Occupied(first) => {
                    out.skipped.push(SkippedPath {
                        path: display_path(root, entry.path()),
                        reason: SkipReason::AlreadyRead,
                        detail: Some(first.get().clone()),
                    });
                    if ty.is_dir() {
                        it.skip_current_dir();
                    }
                    continue;
                }
                Entry::Vacant(v) => {
                    v.insert(display_path(root, entry.path()));
                }
            }
        }
        match kind {
            Some(FileKind::Digest) => out.digests += 1,
            Some(FileKind::Log) => {
                let name = entry.file_name().to_string_lossy();
                out.logs
                    .push((delivery_time(&name).unwrap_or(i64::MIN), entry.into_path()));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn skipped_by_error(root: &Path, path: &Path, e: &walkdir::Error) -> SkippedPath {
    let shown = display_path(root, path);
    if let Some(ancestor) = e.loop_ancestor() {
        return SkippedPath {
            path: shown,
            reason: SkipReason::SymlinkLoop,
            detail: Some(format!("links to {}", shown_or_root(root, ancestor))),
        };
    }
    let broken = e.io_error().is_some_and(|io| {
        io.kind() == std::io::ErrorKind::NotFound
            && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
    });
    SkippedPath {
        path: shown,
        reason: if broken {
            SkipReason::BrokenLink
        } else {
            SkipReason::Unreadable
        },
        detail: e.io_error().map(|io| io.to_string()),
    }
}

fn shown_or_root(root: &Path, path: &Path) -> String {
    let shown = display_path(root, path);
    if shown.is_empty() { ".".into() } else { shown }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::symlink;

    fn log_name(n: u32) -> String {
        format!("123456789012_CloudTrail_eu-west-1_20260501T12{n:02}Z_AbCd.json.gz")
    }

    #[test]
    fn follows_symlinked_folders_and_reports_loops_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("trail");
        let real = dir.path().join("elsewhere");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir_all(&real).unwrap();
        std::fs::write(root.join("a").join(log_name(1)), b"").unwrap();
        std::fs::write(real.join(log_name(2)), b"").unwrap();
        // A folder outside the trail folder, linked in: read.
        symlink(&real, root.join("linked")).unwrap();
        // A link back to the trail folder: a loop, reported once.
        symlink(&root, root.join("a").join("back")).unwrap();
        // A second link to the same outside folder: read once.
        symlink(&real, root.join("zz-again")).unwrap();
        // A dangling link named like a log file.
        symlink(dir.path().join("gone"), root.join(log_name(3))).unwrap();

        let listing = list(&root).unwrap();
        let mut read: Vec<String> = listing
            .logs
            .iter()
            .map(|(_, p)| display_path(&root, p))
            .collect();
        read.sort();
        assert_eq!(
            read,
            vec![
                format!("a/{}", log_name(1)),
                format!("linked/{}", log_name(2))
            ]
        );
        let mut skipped = listing.skipped.clone();
        skipped.sort();
        let reasons: Vec<(String, SkipReason)> =
            skipped.iter().map(|s| (s.path.clone(), s.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (log_name(3), SkipReason::BrokenLink),
                ("a/back".to_string(), SkipReason::SymlinkLoop),
                ("zz-again".to_string(), SkipReason::AlreadyRead),
            ],
            "{skipped:?}"
        );
        assert_eq!(skipped[2].detail.as_deref(), Some("linked"));
        assert_eq!(skipped[1].detail.as_deref(), Some("links to ."));
    }

    #[test]
    fn names_that_are_not_utf8_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut name = b"123456789012_CloudTrail_eu-west-1_20260501T1200Z_\xff\xfe".to_vec();
        name.extend_from_slice(b".json.gz");
        let path = dir.path().join(OsStr::from_bytes(&name));
        std::fs::write(&path, b"").unwrap();
        let listing = list(dir.path()).unwrap();
        assert_eq!(listing.logs.len(), 1);
        assert_eq!(listing.logs[0].1, path);
        // The delivery time is still read from the name.
        assert_ne!(listing.logs[0].0, i64::MIN);
        assert!(listing.skipped.is_empty());
    }
}
