//! What `propose` writes, and the guards that keep it from destroying anything: no output on
//! an input, a ledger file that is really this stack's ledger, and artifacts that appear all
//! together or not at all.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use keycard_core::ledger::{self, Ledger, LedgerError, LedgerIdentity, ReadOptions};
use keycard_core::limited_read::{Input, read_file_to_string};
use keycard_core::proposal::Proposal;
use keycard_core::report::{render_html, render_markdown};
use keycard_core::usage::Usage;

use super::Args;
use crate::atomic_write::{ArtifactDir, write_file};
use crate::paths::{Named, refuse_overwrite};

/// Every file a run may write into `--out` (the template's name follows the input's syntax).
pub(super) const ARTIFACT_NAMES: [&str; 6] = [
    "template.yaml",
    "template.json",
    "template.diff",
    "report.json",
    "report.md",
    "report.html",
];

/// Refuses, before anything is read or written, any artifact or ledger path that is an input
/// (template, keep file, usage file, a file of the CloudTrail folder) or, for the ledger, one
/// of the artifacts.
pub(super) fn refuse_overwrites(args: &Args) -> anyhow::Result<()> {
    let mut files = Vec::new();
    if let Some(t) = &args.template {
        files.push(Named::new("--template", t));
    }
    if let Some(k) = &args.keep {
        files.push(Named::new("--keep", k));
    }
    if let Some(u) = &args.usage {
        files.push(Named::new("--usage", u));
    }
    let mut folders = Vec::new();
    if let Some(dir) = args
        .cloudtrail
        .as_deref()
        .filter(|d| !d.starts_with("s3://"))
    {
        folders.push(Named::new("--cloudtrail", dir));
    }
    let artifacts: Vec<Named> = ARTIFACT_NAMES
        .iter()
        .map(|n| Named::new("--out", args.out.join(n)))
        .collect();
    if let Some(l) = &args.ledger {
        refuse_overwrite(&[Named::new("--ledger", l)], &files, &folders)?;
        // The ledger is read and rewritten; an artifact must not land on it either.
        files.push(Named::new("--ledger", l));
    }
    // `--out` itself must not be an input file (or the CloudTrail folder).
    refuse_overwrite(&[Named::new("--out", &args.out)], &files, &folders)?;
    refuse_overwrite(&artifacts, &files, &folders)
}

/// The ledger of earlier runs, when the file exists; refused unless it is this stack's ledger
/// (or `--force-ledger`) with plausible entries.
pub(super) fn read_ledger(
    args: &Args,
    identity: &LedgerIdentity,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Usage>> {
    let Some(path) = &args.ledger else {
        return Ok(None);
    };
    if !path.exists() {
        return Ok(None);
    }
    let name = path.display().to_string();
    let text = read_file_to_string(path, Input::Ledger)?;
    let opts = ReadOptions {
        expected: identity.clone(),
        now,
        accept_foreign: args.force_ledger,
        adopt_headerless: args.force_ledger,
    };
    match ledger::read(&name, &text, &opts) {
        Ok(l) => Ok(Some(l.usage)),
        Err(e @ (LedgerError::Foreign { .. } | LedgerError::Headerless { .. })) => {
            Err(anyhow::anyhow!(
                "{e}; pass --force-ledger to use it anyway (it is then rewritten as this run's ledger)"
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// A usage file given as evidence (a bare usage or a ledger), entries checked.
pub(super) fn read_usage(path: &Path, now: DateTime<Utc>) -> anyhow::Result<Usage> {
    let name = path.display().to_string();
    let text = read_file_to_string(path, Input::Usage)?;
    Ok(ledger::read_usage(&name, &text, now)?)
}

/// Checks the next ledger before anything is written: keycard never writes a ledger it would
/// refuse to read (implausible times in this run's evidence stop the run instead).
pub(super) fn check_next_ledger(p: &Proposal, now: DateTime<Utc>) -> anyhow::Result<()> {
    ledger::check_usage(&p.ledger, now).map_err(|problem| {
        let err = problem.into_error("this run's evidence", "", "principals");
        anyhow::anyhow!("{err}; nothing was written (the ledger would keep it)")
    })
}

/// Writes the artifacts through a staging folder; returns their file names in writing order.
pub(super) fn write_artifacts(out: &Path, p: &Proposal) -> anyhow::Result<Vec<String>> {
    let files: [(&str, String); 5] = [
        (p.format.file_name(), p.template.clone()),
        ("template.diff", p.diff.clone()),
        ("report.json", p.report.to_json()),
        ("report.md", render_markdown(&p.report)),
        ("report.html", render_html(&p.report)),
    ];
    let mut dir = ArtifactDir::create(out)
        .with_context(|| format!("cannot create output folder {}", out.display()))?;
    let mut names = Vec::new();
    for (name, content) in files {
        dir.write(name, content.as_bytes())
            .with_context(|| format!("cannot write {}", out.join(name).display()))?;
        names.push(name.to_string());
    }
    dir.commit(&ARTIFACT_NAMES)
        .with_context(|| format!("cannot move the artifacts into {}", out.display()))?;
    Ok(names)
}

/// Replaces the ledger file atomically with this run's ledger.
pub(super) fn write_ledger(
    path: &Path,
    identity: &LedgerIdentity,
    usage: &Usage,
) -> anyhow::Result<()> {
    let text = Ledger::new(identity.clone(), usage.clone()).to_json();
    write_file(path, text.as_bytes())
        .with_context(|| format!("cannot write ledger {}", path.display()))
}
