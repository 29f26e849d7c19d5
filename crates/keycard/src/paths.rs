//! Refuses an output path that is one of the command's inputs: `propose --out app` next to
//! `app/template.yaml`, `check -o T T` or `--ledger keep.json` must stop with a message, not
//! replace the input.
//!
//! Two paths are the same file when they resolve to the same place or, for existing files, the
//! same device and inode (hard links). An output inside an input folder (the CloudTrail logs)
//! is refused too: the next scan would read it.

use std::path::{Component, Path, PathBuf};

use anyhow::bail;

/// `path` made absolute, with its longest existing prefix resolved (symlinks, `..`) and the
/// rest appended: the place a file that does not exist yet would be created.
pub(crate) fn resolve(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut rest: Vec<Component<'_>> = Vec::new();
    let mut prefix = abs.as_path();
    loop {
        if let Ok(canonical) = std::fs::canonicalize(prefix) {
            let mut out = canonical;
            for c in rest.iter().rev() {
                match c {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::CurDir => {}
                    other => out.push(other.as_os_str()),
                }
            }
            return out;
        }
        match (prefix.parent(), prefix.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                prefix = parent;
            }
            _ => return abs,
        }
    }
}

/// Whether two paths name the same file.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b))
            && ma.dev() == mb.dev()
            && ma.ino() == mb.ino()
        {
            return true;
        }
    }
    resolve(a) == resolve(b)
}

/// An input or output of a command, named as on the command line.
#[derive(Debug, Clone)]
pub(crate) struct Named {
    pub label: String,
    pub path: PathBuf,
}

impl Named {
    pub(crate) fn new(label: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Named {
            label: label.into(),
            path: path.into(),
        }
    }
}

/// Fails when an output is the same file as an input file or lies inside an input folder.
pub(crate) fn refuse_overwrite(
    outputs: &[Named],
    files: &[Named],
    folders: &[Named],
) -> anyhow::Result<()> {
    for out in outputs {
        for input in files {
            if same_file(&out.path, &input.path) {
                bail!(
                    "{} {} is the same file as {} {}: refusing to overwrite an input",
                    out.label,
                    out.path.display(),
                    input.label,
                    input.path.display()
                );
            }
        }
        let resolved = resolve(&out.path);
        for dir in folders {
            if resolved.starts_with(resolve(&dir.path)) {
                bail!(
                    "{} {} is inside {} {}: refusing to write into an input folder",
                    out.label,
                    out.path.display(),
                    dir.label,
                    dir.path.display()
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_through_dots_links_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("app")).unwrap();
        std::fs::write(d.join("app/template.yaml"), "x").unwrap();
        assert!(same_file(
            &d.join("app/template.yaml"),
            &d.join("app/../app/./template.yaml")
        ));
        std::fs::hard_link(d.join("app/template.yaml"), d.join("hard.yaml")).unwrap();
        assert!(same_file(
            &d.join("hard.yaml"),
            &d.join("app/template.yaml")
        ));
        assert!(!same_file(
            &d.join("app/other.yaml"),
            &d.join("app/template.yaml")
        ));
        assert_eq!(
            resolve(&d.join("app/new/../x.json")),
            std::fs::canonicalize(d).unwrap().join("app/x.json")
        );
    }

    #[test]
    fn refuses_outputs_on_inputs_and_inside_input_folders() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("logs/a")).unwrap();
        std::fs::write(d.join("t.yaml"), "x").unwrap();
        let files = [Named::new("--template", d.join("t.yaml"))];
        let folders = [Named::new("--cloudtrail", d.join("logs"))];
        let err = refuse_overwrite(&[Named::new("-o", d.join("./t.yaml"))], &files, &folders)
            .unwrap_err()
            .to_string();
        assert!(err.contains("-o") && err.contains("--template"), "{err}");
        let err = refuse_overwrite(
            &[Named::new("--out", d.join("logs/a/new/report.json"))],
            &files,
            &folders,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("inside --cloudtrail"), "{err}");
        refuse_overwrite(
            &[Named::new("--out", d.join("out/t.yaml"))],
            &files,
            &folders,
        )
        .unwrap();
    }
}
