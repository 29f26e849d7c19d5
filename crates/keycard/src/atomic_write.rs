//! Writes that never leave a half-written file or a mix of two runs' artifacts.
//!
//! A file is written to a temporary file in the same folder, flushed to disk and renamed over
//! the target: a reader (or the next run, after a crash or a full disk) sees the old content or
//! the new, never a truncated file. A run's artifacts are written into a staging folder beside
//! `--out` and moved in only once all of them are on disk ([`ArtifactDir`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Names of temporary files and folders: unique within the process, and the pid keeps two
/// concurrent runs apart.
fn temp_name(base: &str, kind: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{base}.keycard-{kind}-{}-{n}", std::process::id())
}

/// The folder a path's file lives in (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn file_name_of(path: &Path) -> io::Result<String> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} does not name a file", path.display()),
            )
        })
}

/// Flushes a folder's entries (the rename itself) to disk. Best effort: not every platform can
/// open a folder for syncing, and the data is already safe in the renamed file.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Replaces `path` with `bytes` atomically: temporary file in the same folder, fsync, rename.
/// A symlink is followed (its target is replaced, the link stays); an existing file's
/// permissions are kept.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path)?,
        _ => path.to_path_buf(),
    };
    let dir = parent_of(&target);
    let tmp = dir.join(temp_name(&file_name_of(&target)?, "tmp"));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        if let Ok(m) = fs::metadata(&target) {
            if m.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    format!("{} is a folder", target.display()),
                ));
            }
            f.set_permissions(m.permissions())?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(dir);
    Ok(())
}

/// A run's artifacts, staged in a hidden folder beside `--out` and moved in all at once by
/// [`ArtifactDir::commit`]. Dropped without a commit, the staging folder is removed and `--out`
/// is untouched.
#[derive(Debug)]
pub(crate) struct ArtifactDir {
    out: PathBuf,
    staging: PathBuf,
    names: Vec<String>,
    committed: bool,
}

impl ArtifactDir {
    /// Creates the staging folder (and `out`'s parent folders). `out` must be a folder or not
    /// exist yet; a symlinked `out` is resolved so that the staging folder is on its file
    /// system.
    pub(crate) fn create(out: &Path) -> io::Result<Self> {
        let out = match fs::metadata(out) {
            Ok(m) if m.is_dir() => fs::canonicalize(out)?,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a folder", out.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => out.to_path_buf(),
            Err(e) => return Err(e),
        };
        let parent = parent_of(&out).to_path_buf();
        fs::create_dir_all(&parent)?;
        let staging = parent.join(temp_name(&file_name_of(&out)?, "staging"));
        fs::create_dir(&staging)?;
        Ok(ArtifactDir {
            out,
            staging,
            names: Vec::new(),
            committed: false,
        })
    }

    /// Writes one artifact into the staging folder, flushed to disk.
    pub(crate) fn write(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.staging.join(name))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        self.names.push(name.to_string());
        Ok(())
    }

    /// Moves the staged artifacts to `out`. When `out` does not exist, or holds nothing but
    /// artifacts of an earlier run (`artifact_names`), the whole folder is swapped: a reader
    /// sees the old set or the new one, never a mix. A folder with other files in it is kept,
    /// and each artifact is renamed into it (each file atomically) only after all of them are
    /// on disk.
    pub(crate) fn commit(mut self, artifact_names: &[&str]) -> io::Result<()> {
        sync_dir(&self.staging);
        let result = if !self.out.exists() {
            fs::rename(&self.staging, &self.out)
        } else if only_artifacts(&self.out, artifact_names)? {
            self.swap()
        } else {
            self.move_each()
        };
        if result.is_ok() {
            self.committed = true;
            sync_dir(parent_of(&self.out));
        }
        result
    }

    /// `out` → backup, staging → `out`, backup removed; the backup is put back if the second
    /// rename fails.
    fn swap(&self) -> io::Result<()> {
        let backup = parent_of(&self.out).join(temp_name(&file_name_of(&self.out)?, "old"));
        fs::rename(&self.out, &backup)?;
        if let Err(e) = fs::rename(&self.staging, &self.out) {
            let _ = fs::rename(&backup, &self.out);
            return Err(e);
        }
        let _ = fs::remove_dir_all(&backup);
        Ok(())
    }

    fn move_each(&self) -> io::Result<()> {
        for name in &self.names {
            fs::rename(self.staging.join(name), self.out.join(name))?;
        }
        sync_dir(&self.out);
        let _ = fs::remove_dir(&self.staging);
        Ok(())
    }
}

impl Drop for ArtifactDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// Whether every entry of `dir` is a regular file named like an artifact.
fn only_artifacts(dir: &Path, artifact_names: &[&str]) -> io::Result<bool> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let is_artifact = entry
            .file_name()
            .to_str()
            .is_some_and(|n| artifact_names.contains(&n));
        if !is_artifact || !entry.file_type()?.is_file() {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["template.yaml", "template.json", "report.json"];

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn write_file_creates_and_replaces_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ledger.json");
        write_file(&p, b"one").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_file(&p, b"two, longer").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two, longer");
        assert_eq!(entries(dir.path()), ["ledger.json"]);
    }

    #[test]
    fn write_file_refuses_a_folder_and_leaves_it() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        assert!(write_file(&sub, b"x").is_err());
        assert!(sub.is_dir());
        assert_eq!(entries(dir.path()), ["sub"]);
    }

    #[cfg(unix)]
    #[test]
    fn write_file_keeps_permissions_and_follows_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        fs::write(&real, "old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_file(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
        let mode = fs::metadata(&real).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(entries(dir.path()), ["link.json", "real.json"]);
    }

    #[test]
    fn artifacts_appear_together_in_a_new_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a/b/out");
        let mut a = ArtifactDir::create(&out).unwrap();
        a.write("template.yaml", b"t").unwrap();
        // Nothing visible before the commit.
        assert!(!out.exists());
        a.write("report.json", b"r").unwrap();
        a.commit(NAMES).unwrap();
        assert_eq!(entries(&out), ["report.json", "template.yaml"]);
        assert_eq!(entries(&dir.path().join("a/b")), ["out"]);
    }

    #[test]
    fn an_earlier_runs_artifacts_are_replaced_as_a_set() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("template.json"), "old").unwrap();
        fs::write(out.join("report.json"), "old").unwrap();
        let mut a = ArtifactDir::create(&out).unwrap();
        a.write("template.yaml", b"new").unwrap();
        a.write("report.json", b"new").unwrap();
        a.commit(NAMES).unwrap();
        // The stale template.json of the earlier run is gone with it: no mix.
        assert_eq!(entries(&out), ["report.json", "template.yaml"]);
        assert_eq!(fs::read(out.join("report.json")).unwrap(), b"new");
        assert_eq!(entries(dir.path()), ["out"]);
    }

    #[test]
    fn other_files_in_out_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("notes.txt"), "mine").unwrap();
        fs::write(out.join("report.json"), "old").unwrap();
        let mut a = ArtifactDir::create(&out).unwrap();
        a.write("report.json", b"new").unwrap();
        a.commit(NAMES).unwrap();
        assert_eq!(entries(&out), ["notes.txt", "report.json"]);
        assert_eq!(fs::read(out.join("notes.txt")).unwrap(), b"mine");
        assert_eq!(fs::read(out.join("report.json")).unwrap(), b"new");
        assert_eq!(entries(dir.path()), ["out"]);
    }

    #[test]
    fn an_abandoned_run_leaves_out_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("report.json"), "old").unwrap();
        {
            let mut a = ArtifactDir::create(&out).unwrap();
            a.write("report.json", b"new").unwrap();
            // Dropped: a later write failed.
        }
        assert_eq!(fs::read(out.join("report.json")).unwrap(), b"old");
        assert_eq!(entries(dir.path()), ["out"]);
    }

    #[test]
    fn out_must_be_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("template.yaml");
        fs::write(&file, "Resources: {}").unwrap();
        assert!(ArtifactDir::create(&file).is_err());
        assert_eq!(fs::read(&file).unwrap(), b"Resources: {}");
    }
}
