//! `keycard usage`: what each principal actually did, from CloudTrail log files.
//!
//! The JSON form is a contract other tools and checks rely on: one object with `principals`
//! (ARN → `actions`, `denied`, `unmapped`, plus `unobservable`, `windows`, `sources`) and
//! `files` (read, digests skipped, malformed files with reasons, and the other counters of
//! [`FileStats`], with `coverage`: the raw facts the records show about the trail) and
//! `coverage` (what the trail records, as inferred or stated, with `gaps` and `notes`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use keycard_core::cloudtrail::identity::PrincipalKey;
use keycard_core::cloudtrail::{FileStats, ScanOptions, ScanResult, scan_dir_with_progress};

use keycard_core::coverage::Coverage;
use keycard_core::usage::Window;

use super::coverage_args::EvidenceKind;
use crate::exit;
use crate::ui::{Format, Ui, table};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Folder of CloudTrail log files (searched recursively; the folder holding `AWSLogs/`,
    /// or any folder below it).
    #[arg(long, value_name = "DIR")]
    pub cloudtrail: PathBuf,
    /// Only this role or user (repeatable). Paths and name case do not matter for matching.
    /// Without it, every principal seen is listed.
    #[arg(long = "principal", value_name = "ARN")]
    pub principals: Vec<String>,
    /// Ignore events before this instant (RFC 3339, e.g. 2025-01-01T00:00:00Z).
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub start: Option<DateTime<Utc>>,
    /// Ignore events at or after this instant (RFC 3339).
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub end: Option<DateTime<Utc>>,
    /// Worker threads, 1 to 256 (default: one per core).
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// What the trail records (coverage): inferred from the files unless stated.
    #[command(flatten)]
    pub coverage: super::coverage_args::CoverageArgs,
}

/// The most worker threads `--threads` accepts: more only adds contention (the scan is bound
/// by cores and disk), and an unbounded count lets a typo start thousands of threads.
const MAX_THREADS: usize = 256;

fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of threads from 1 to {MAX_THREADS}"
        )),
    }
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("{e} (expected RFC 3339, e.g. 2025-01-01T00:00:00Z)"))
}

pub(crate) fn run(args: Args, ui: &Ui) -> anyhow::Result<u8> {
    for p in &args.principals {
        if PrincipalKey::from_arn(p).is_none() {
            bail!(
                "--principal {p:?} is not an IAM role, user or root ARN (like arn:aws:iam::123456789012:role/MyRole)"
            );
        }
    }
    if let (Some(s), Some(e)) = (args.start, args.end)
        && e <= s
    {
        bail!("--end ({e}) must be after --start ({s})");
    }
    let opts = ScanOptions {
        principals: (!args.principals.is_empty())
            .then(|| args.principals.iter().cloned().collect::<BTreeSet<_>>()),
        start: args.start,
        end: args.end,
        threads: args.threads,
    };
    let started = Instant::now();
    ui.debug(&format!("scanning {}", args.cloudtrail.display()));
    let progress = ui.scan_progress("scanning CloudTrail", None);
    let result = scan_dir_with_progress(&args.cloudtrail, &opts, &progress);
    progress.finish();
    let result = result.with_context(|| {
        format!(
            "cannot read CloudTrail logs from {}",
            args.cloudtrail.display()
        )
    })?;
    let elapsed = started.elapsed();
    let f = &result.files;
    ui.info(&format!(
        "read {} log files ({} events, {} duplicates) in {:.2}s; {} digests skipped",
        f.read,
        f.events,
        f.duplicates,
        elapsed.as_secs_f64(),
        f.digests_skipped
    ));
    for m in &f.malformed {
        ui.warn(&format!("{}: {}", m.path, m.reason));
    }
    for p in &f.skipped {
        ui.warn(&format!("skipped {p}"));
    }
    let window = match (args.start.or(f.earliest), args.end.or(f.latest)) {
        (Some(start), Some(end)) if start <= end => Some(Window { start, end }),
        _ => None,
    };
    let (coverage, notes) =
        args.coverage
            .resolve(EvidenceKind::Files, Some(&f.coverage), window)?;
    let out = match args.format {
        Format::Json => serde_json::to_string_pretty(&json(&result, &coverage, &notes)?)? + "\n",
        Format::Text => text(&result, &coverage, ui),
    };
    crate::ui::print_stdout(&out)?;
    Ok(exit::OK)
}

/// The documented JSON shape (see the module docs).
fn json(
    result: &ScanResult,
    coverage: &Coverage,
    notes: &[String],
) -> anyhow::Result<serde_json::Value> {
    let mut cov = serde_json::to_value(coverage)?;
    if let Some(m) = cov.as_object_mut() {
        m.insert("gaps".into(), serde_json::to_value(coverage.gaps())?);
        m.insert("notes".into(), serde_json::to_value(notes)?);
    }
    Ok(serde_json::json!({
        "principals": serde_json::to_value(&result.usage.principals)?,
        "files": serde_json::to_value::<&FileStats>(&result.files)?,
        "coverage": cov,
    }))
}

fn text(result: &ScanResult, coverage: &Coverage, ui: &Ui) -> String {
    let paint = ui.paint();
    let mut out = String::new();
    if result.usage.principals.is_empty() {
        out.push_str("no principal activity found\n");
    }
    let day = |d: &DateTime<Utc>| d.format("%Y-%m-%d").to_string();
    for (arn, p) in &result.usage.principals {
        out.push_str(&paint.bold(&keycard_core::report::printable(arn)));
        out.push('\n');
        if let Some(w) = p.windows.first() {
            out.push_str(&format!("  window {} → {}\n", day(&w.start), day(&w.end)));
        }
        if p.actions.is_empty() {
            out.push_str("  no successful calls\n");
        } else {
            let rows: Vec<Vec<String>> = p
                .actions
                .iter()
                .map(|(a, u)| {
                    vec![
                        a.clone(),
                        u.count.to_string(),
                        day(&u.first_seen),
                        day(&u.last_seen),
                        if u.resources.is_empty() {
                            "*".to_string()
                        } else {
                            u.resources.iter().cloned().collect::<Vec<_>>().join(", ")
                        },
                    ]
                })
                .collect();
            for line in table(&["action", "count", "first", "last", "resources"], &rows).lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
        for (a, u) in &p.denied {
            out.push_str(&format!(
                "  {} {a} ×{} (last {})\n",
                paint.red("denied"),
                u.count,
                day(&u.last_seen)
            ));
        }
        for u in &p.unmapped {
            out.push_str(&format!(
                "  {} {} {} ×{}: {}\n",
                paint.yellow("unmapped"),
                u.event_source,
                u.event_name,
                u.count,
                u.reason
            ));
        }
        out.push('\n');
    }
    if let Some(p) = &coverage.period {
        out.push_str(&format!(
            "records on {} days from {} to {}\n",
            p.covered_days, p.first_day, p.last_day
        ));
    }
    for g in coverage.gaps() {
        out.push_str(&format!("{} {g}\n", paint.yellow("coverage gap:")));
    }
    let f = &result.files;
    out.push_str(&format!(
        "{} files read, {} digests skipped, {} malformed\n",
        f.read,
        f.digests_skipped,
        f.malformed.len()
    ));
    if !f.skipped.is_empty() {
        out.push_str(&format!(
            "{} {} paths skipped ({})\n",
            paint.yellow("not read:"),
            f.skipped.len(),
            keycard_core::cloudtrail::walk::count_by_reason(&f.skipped)
        ));
    }
    out
}
