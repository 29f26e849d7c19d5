//! `keycard propose`: a least-privilege proposal for a template, from CloudTrail log files.
//!
//! Reads the template and the evidence, runs the one pipeline
//! (`keycard_core::proposal::propose`, the same the Lambdas run), writes the artifacts to
//! `--out`, and prints a summary a person can act on: per principal, granted → proposed actions,
//! what was kept for rare use, and the flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use keycard_chain::trail_config::with_trail_config;
use keycard_core::cloudtrail::{FileStats, ScanOptions, scan_dir_with_progress};
use keycard_core::ledger::LedgerIdentity;
use keycard_core::limited_read::{Input, read_file_to_string};
use keycard_core::proposal::{
    DEFAULT_RETENTION_DAYS, KeepConfig, MAX_RETENTION_DAYS, ProposalInput, ProposalOptions,
    RoleResolution, propose,
};
use keycard_core::report::{EvidenceStats, Report, RoleStatus};
use keycard_core::usage::{Usage, Window};
use serde_json::json;

use super::coverage_args::EvidenceKind;
use crate::ui::{Format, Ui, table};

mod aws;
mod outputs;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Writes to --out: template.yaml (or template.json, as the input), template.diff, report.json,
report.md and report.html. Principals are matched to the evidence by role name: RoleName resolved
with --stack-name/--account-id, or CloudFormation's generated <stack>-<LogicalId>-<suffix>;
--role-arn overrides. A principal that matches nothing is reported, never guessed.

AWS mode (--stack instead of --template) reads the deployed stack's template (GetTemplate,
Original stage), its resources and its roles' ARNs (IAM GetRole) with the standard AWS credential
chain, and takes the evidence from --cloudtrail s3://BUCKET/PREFIX (keycard's own scan of the
trail's objects), a local --cloudtrail folder, or --access-analyzer (one IAM Access Analyzer
policy generation per role, one after another, over at most 90 days). Unless --trail-config files
are given, it also reads what the trail records (DescribeTrails, GetEventSelectors,
GetTrailStatus) of --trail, or of the trail delivering to the --cloudtrail s3:// location; if that
cannot be read, coverage stays as the evidence shows it and the report says why.")]
pub(crate) struct Args {
    /// The CloudFormation or SAM template (YAML or JSON).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "stack",
        conflicts_with = "stack"
    )]
    pub template: Option<PathBuf>,
    /// CloudTrail log files: a local folder (searched recursively; the AWSLogs/ layout or plain
    /// files) or, with --stack, s3://BUCKET/PREFIX of the trail's bucket.
    #[arg(
        long,
        value_name = "DIR|S3_URL",
        required_unless_present_any = ["usage", "access_analyzer"]
    )]
    pub cloudtrail: Option<String>,
    /// AWS mode settings (boxed: they are only read in that mode, and the command enum stays
    /// small).
    #[command(flatten)]
    pub aws: Box<AwsArgs>,
    /// A usage file (the ledger's JSON format) to use as evidence, instead of or besides
    /// --cloudtrail.
    #[arg(long, value_name = "FILE")]
    pub usage: Option<PathBuf>,
    /// Usage ledger: read if it exists, then replaced with this run's ledger, so that actions
    /// seen within the retention period are kept even when this window missed them. Only a
    /// keycard ledger of this stack and account is read (anything else is refused, never
    /// overwritten).
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// Use a --ledger of another stack or account, or a headerless one written by an earlier
    /// keycard; it is rewritten as this stack's ledger.
    #[arg(long, requires = "ledger")]
    pub force_ledger: bool,
    /// Keep file (YAML or JSON): keep: [{principal: WorkerRole, actions: ["s3:DeleteObject"],
    /// reason: ...}]; principal is a logical id, role name, role ARN or "*".
    #[arg(long, value_name = "FILE")]
    pub keep: Option<PathBuf>,
    /// Ignore events before this instant (RFC 3339, e.g. 2026-05-01T00:00:00Z).
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub start: Option<DateTime<Utc>>,
    /// Ignore events at or after this instant (RFC 3339).
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub end: Option<DateTime<Utc>>,
    /// Stack name, to resolve ${AWS::StackName} and CloudFormation-generated names.
    #[arg(long, value_name = "NAME", conflicts_with = "stack")]
    pub stack_name: Option<String>,
    /// Account id, to resolve ${AWS::AccountId} and to match only this account's roles.
    #[arg(long, value_name = "ID", value_parser = parse_account)]
    pub account_id: Option<String>,
    /// Region, to resolve ${AWS::Region} in names; with --stack, the region of the AWS calls.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Role ARN of a principal, overriding name matching (repeatable): LogicalId=ARN.
    #[arg(long = "role-arn", value_name = "LOGICAL_ID=ARN", value_parser = parse_role_arn)]
    pub role_arn: Vec<(String, String)>,
    /// Ledger retention in days (1 to 3650).
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_RETENTION_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_RETENTION_DAYS)))]
    pub retention_days: u32,
    /// Managed policies a role may have attached (raise up to 20 if your quota allows).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u8).range(1..=20))]
    pub max_managed_policies: u8,
    /// Folder for the artifacts (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// What the trail records (coverage).
    #[command(flatten)]
    pub coverage: super::coverage_args::CoverageArgs,
}

/// `propose --stack` options.
#[derive(Debug, clap::Args)]
pub(crate) struct AwsArgs {
    /// AWS mode: a deployed stack (name or ARN) whose template, resources and roles are read
    /// from CloudFormation and IAM.
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// With --stack: evidence from IAM Access Analyzer policy generation (needs --trail and
    /// --access-role), one role at a time.
    #[arg(long, requires_all = ["stack", "trail", "access_role"], conflicts_with = "cloudtrail")]
    pub access_analyzer: bool,
    /// The trail: with --access-analyzer the one Access Analyzer reads
    /// (arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME); in any --stack mode, the trail whose
    /// configuration (DescribeTrails, GetEventSelectors, GetTrailStatus) says what the evidence
    /// could record. Without it, the trail delivering to the --cloudtrail s3:// location is
    /// read. Not read when --trail-config files are given.
    #[arg(long, value_name = "ARN", requires = "stack")]
    pub trail: Option<String>,
    /// The role Access Analyzer assumes to read the trail and its bucket.
    #[arg(long, value_name = "ARN", requires = "access_analyzer")]
    pub access_role: Option<String>,
    /// Seconds between two polls of a policy generation job (0 to 3600; 0 only makes sense
    /// against a local emulator).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 15,
        requires = "access_analyzer",
        value_parser = clap::value_parser!(u64).range(0..=MAX_POLL_SECONDS)
    )]
    pub poll_seconds: u64,
    /// Polls before a policy generation job is canceled (1 to 10000; its role then keeps its
    /// grants).
    #[arg(long, value_name = "N", default_value_t = 120, requires = "access_analyzer",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_POLLS)))]
    pub max_polls: u32,
}

/// Longest wait between two polls: an hour. Longer only delays the run; an unbounded value let
/// a typo (`--poll-seconds 15000000`) sleep for months.
const MAX_POLL_SECONDS: u64 = 3600;

/// Most polls per job: with the default 15 s interval, about 42 hours, far beyond the time
/// Access Analyzer takes to generate a policy.
const MAX_POLLS: u32 = 10_000;

#[cfg(test)]
#[test]
fn numeric_options_are_range_checked_by_the_parser() {
    use clap::Parser;
    let base = "keycard propose --stack s --access-analyzer --trail t --access-role r --out o";
    let parses = |extra: &[&str]| {
        let args = base.split(' ').chain(extra.iter().copied());
        crate::Cli::try_parse_from(args).is_ok()
    };
    assert!(parses(&[]));
    assert!(parses(&["--poll-seconds", "0", "--max-polls", "10000"]));
    for bad in [
        ["--poll-seconds", "3601"],
        ["--poll-seconds", "18446744073709551616"],
        ["--poll-seconds", "-1"],
        ["--max-polls", "0"],
        ["--max-polls", "10001"],
        ["--max-polls", "4294967296"],
    ] {
        assert!(!parses(&bad), "{bad:?} accepted");
    }
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time ({e}); example: 2026-05-01T00:00:00Z"))
}

fn parse_account(s: &str) -> Result<String, String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err("an account id is 12 digits".into())
    }
}

fn parse_role_arn(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((id, arn)) if !id.is_empty() && arn.starts_with("arn:") && arn.contains(":role/") => {
            Ok((id.to_string(), arn.to_string()))
        }
        Some((id, arn)) if !id.is_empty() && arn.starts_with("arn:") && arn.contains(":user/") => {
            Ok((id.to_string(), arn.to_string()))
        }
        _ => Err("expected LogicalId=arn:aws:iam::123456789012:role/name".into()),
    }
}

/// What a mode read: the template and the evidence, and how to match roles.
struct Gathered {
    /// The template and how its roles are matched; `run` adds the evidence and the options.
    base: ProposalInput,
    usage: Usage,
    evidence: Option<EvidenceStats>,
    /// The evidence window when the source fixes one (Access Analyzer's request).
    window: Option<Window>,
    /// AWS mode: the trail's configuration as read from CloudTrail (the `trailConfig` document
    /// the diff step reads too), when no --trail-config file was given.
    trail_config: Option<serde_json::Value>,
}

/// Local mode: the template file and a CloudTrail folder.
fn gather_local(template: &Path, args: &Args, ui: &Ui) -> anyhow::Result<Gathered> {
    let template_text = read_file_to_string(template, Input::Template)?;
    let template_name = template
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "template".into());
    let mut usage = Usage::default();
    let mut evidence: Option<EvidenceStats> = None;
    if let Some(dir) = &args.cloudtrail {
        if dir.starts_with("s3://") {
            bail!("--cloudtrail {dir}: reading CloudTrail from S3 needs --stack (AWS mode)");
        }
        let (u, stats) = scan(Path::new(dir), args, ui)?;
        usage.merge(&u);
        evidence = Some(stats);
    }
    Ok(Gathered {
        base: ProposalInput {
            template_name,
            template_text,
            resolution: RoleResolution {
                stack_name: args.stack_name.clone(),
                account_id: args.account_id.clone(),
                region: args.region.clone(),
                partition: None,
                role_arns: BTreeMap::new(),
                physical_ids: BTreeMap::new(),
            },
            ..ProposalInput::default()
        },
        usage,
        evidence,
        window: None,
        trail_config: None,
    })
}

pub(crate) fn run(args: Args, ui: &Ui) -> anyhow::Result<u8> {
    if let (Some(s), Some(e)) = (args.start, args.end)
        && s >= e
    {
        bail!("--start {s} is not before --end {e}");
    }
    outputs::refuse_overwrites(&args)?;
    let gathered = match (&args.aws.stack, &args.template) {
        (Some(stack), _) => {
            let evidence = if args.aws.access_analyzer {
                match (&args.aws.trail, &args.aws.access_role) {
                    (Some(trail), Some(role)) => aws::Evidence::AccessAnalyzer {
                        trail: trail.clone(),
                        access_role: role.clone(),
                    },
                    _ => bail!("--access-analyzer needs --trail and --access-role"),
                }
            } else {
                match args.cloudtrail.as_deref() {
                    Some(url) if url.starts_with("s3://") => {
                        let (bucket, prefix) = aws::parse_s3_url(url).ok_or_else(|| {
                            anyhow::anyhow!("--cloudtrail {url}: expected s3://BUCKET/PREFIX")
                        })?;
                        aws::Evidence::S3 { bucket, prefix }
                    }
                    Some(dir) => aws::Evidence::Local(PathBuf::from(dir)),
                    None => aws::Evidence::None,
                }
            };
            aws::gather(stack, evidence, &args, ui)?
        }
        (None, Some(template)) => gather_local(template, &args, ui)?,
        (None, None) => bail!("pass --template FILE or --stack NAME"),
    };
    let Gathered {
        mut base,
        mut usage,
        evidence,
        window,
        trail_config,
    } = gathered;
    // --role-arn overrides whatever the mode resolved.
    base.resolution
        .role_arns
        .extend(args.role_arn.iter().cloned());

    // Further evidence.
    let now = Utc::now();
    if let Some(path) = &args.usage {
        usage.merge(&outputs::read_usage(path, now)?);
    }
    // The ledger belongs to the stack's account even when the account is withheld from role
    // matching (Access Analyzer evidence: `keycard_chain::stack_input`).
    let identity = LedgerIdentity {
        stack: base.resolution.stack_name.clone(),
        account: base
            .resolution
            .account_id
            .clone()
            .or_else(|| args.account_id.clone()),
    };
    let ledger = outputs::read_ledger(&args, &identity, now)?;
    let keep = match &args.keep {
        Some(path) => {
            let text = read_file_to_string(path, Input::Keep)?;
            read_keep(path, &text)?
        }
        None => KeepConfig::default(),
    };

    let evidence_kind = if args.aws.access_analyzer {
        EvidenceKind::AccessAnalyzer
    } else if evidence.as_ref().is_some_and(|e| e.observed.is_some()) {
        EvidenceKind::Files
    } else {
        EvidenceKind::UsageOnly
    };
    // The trail's configuration read in AWS mode says what the trail records, as it does for
    // the deployed chain: it replaces what the files suggest (delivery gaps still come from
    // them), or narrows Access Analyzer's coverage; unreadable, it changes nothing.
    let cloudtrail_mode = evidence_kind != EvidenceKind::AccessAnalyzer;
    let (coverage, coverage_notes) = args.coverage.resolve_with(
        evidence_kind,
        evidence.as_ref().and_then(|e| e.observed.as_ref()),
        window.or(usage.span()),
        |coverage, notes| {
            with_trail_config(trail_config.as_ref(), coverage, cloudtrail_mode, notes)
        },
    )?;
    let input = ProposalInput {
        coverage,
        coverage_notes,
        usage,
        ledger,
        keep,
        options: ProposalOptions {
            retention_days: args.retention_days,
            max_managed_policies: usize::from(args.max_managed_policies),
            window: match (window, args.start, args.end) {
                (Some(w), _, _) => Some(w),
                (None, Some(start), Some(end)) => Some(Window { start, end }),
                _ => None,
            },
            now: Some(now),
            evidence,
            ..ProposalOptions::default()
        },
        ..base
    };
    let proposal = propose(&input)?;
    if args.ledger.is_some() {
        outputs::check_next_ledger(&proposal, now)?;
    }
    let written = outputs::write_artifacts(&args.out, &proposal)?;
    if let Some(path) = &args.ledger {
        outputs::write_ledger(path, &identity, &proposal.ledger)?;
        ui.debug(&format!("ledger updated: {}", path.display()));
    }

    match args.format {
        Format::Json => {
            let summary = json_summary(
                &proposal.report,
                &args.out,
                &written,
                args.ledger.as_deref(),
            );
            crate::ui::print_stdout(&(serde_json::to_string_pretty(&summary)? + "\n"))?;
        }
        Format::Text => {
            crate::ui::print_stdout(&summary_text(&proposal.report, &args.out, &written, ui))?
        }
    }
    for (id, r) in &proposal.report.roles {
        if r.status == RoleStatus::Unmatched {
            ui.warn(&format!("{id}: {}", r.matched_by));
        } else {
            ui.debug(&format!(
                "{id}: {} (matched by {}), {}: {} granted, {} used, {} proposed",
                r.arn.as_deref().unwrap_or("-"),
                r.matched_by.replace('_', " "),
                r.status.label(),
                r.counts.granted,
                r.counts.used,
                r.counts.proposed
            ));
        }
    }
    for p in &proposal.report.unattributed_principals {
        ui.debug(&format!("in the evidence but not in the template: {p}"));
    }
    Ok(crate::exit::OK)
}

/// Scans the CloudTrail folder with a progress bar on terminals.
fn scan(dir: &Path, args: &Args, ui: &Ui) -> anyhow::Result<(Usage, EvidenceStats)> {
    let progress = ui.scan_progress("scanning CloudTrail", None);
    let opts = ScanOptions {
        principals: None,
        start: args.start,
        end: args.end,
        threads: None,
    };
    let result = scan_dir_with_progress(dir, &opts, &progress);
    progress.finish();
    let result = result?;
    let f = &result.files;
    ui.debug(&format!(
        "read {} files ({} digests skipped), {} events, {} malformed",
        f.read,
        f.digests_skipped,
        f.events,
        f.malformed.len()
    ));
    let stats = evidence_stats(f, ui);
    Ok((result.usage, stats))
}

/// Warns about every skipped (malformed) log file and turns the scan's bookkeeping into the
/// report's evidence section. Shared by the local-folder scan and the AWS mode's S3 scan, so
/// both report skipped files the same way.
fn evidence_stats(f: &FileStats, ui: &Ui) -> EvidenceStats {
    for m in &f.malformed {
        ui.warn(&format!("skipped {}: {}", m.path, m.reason));
    }
    let mut malformed: Vec<String> = f
        .malformed
        .iter()
        .map(|m| format!("{}: {}", m.path, m.reason))
        .collect();
    if f.implausible_time > 0 {
        let line = format!(
            "{} records with an eventTime before 2013 or more than a day in the future: ignored, not evidence",
            f.implausible_time
        );
        ui.warn(&line);
        malformed.push(line);
    }
    for p in &f.skipped {
        ui.warn(&format!("skipped {p}"));
    }
    EvidenceStats {
        files: f.read,
        events: f.events,
        digests_skipped: f.digests_skipped,
        malformed,
        skipped: f.skipped.clone(),
        observed: Some(f.coverage.clone()),
    }
}

/// Reads a keep file written in JSON or YAML. YAML goes through the template engine's loader
/// (one span-aware YAML reader in the project), given an empty `Resources` section so that it
/// accepts the file; line numbers in its errors stay those of the keep file.
fn read_keep(path: &Path, text: &str) -> anyhow::Result<KeepConfig> {
    let name = path.display().to_string();
    if text.trim_start().starts_with('{') {
        return Ok(KeepConfig::from_json(&name, text)?);
    }
    let wrapped = format!("{text}\nResources: {{}}\n");
    let doc = keycard_core::template::Template::load(&name, &wrapped)
        .with_context(|| format!("keep file {name} is not valid YAML"))?;
    let value = doc.root().to_json();
    let keep = value
        .get("keep")
        .cloned()
        .unwrap_or(serde_json::Value::Array(Vec::new()));
    Ok(KeepConfig::from_value(&name, json!({ "keep": keep }))?)
}

/// Distinct flag kinds of a role, escalation flags counted.
fn flag_kinds(r: &keycard_core::report::RoleReport) -> Vec<String> {
    let mut kinds: Vec<String> = Vec::new();
    for f in &r.flags {
        if f.severity == "info" {
            continue;
        }
        let k = f.kind.replace('_', " ");
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    kinds
}

/// The text summary. Built whole and written with `print_stdout`, so `propose | head` ends
/// quietly instead of panicking on the closed pipe.
fn summary_text(report: &Report, out: &Path, written: &[String], ui: &Ui) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let paint = ui.paint();
    let mut rows = Vec::new();
    for (id, r) in &report.roles {
        let status = match r.status {
            RoleStatus::Proposed => paint.green(r.status.label()),
            RoleStatus::Unchanged => r.status.label().to_string(),
            _ => paint.yellow(r.status.label()),
        };
        let change = match r.status {
            RoleStatus::Proposed | RoleStatus::Unchanged => {
                format!("{} → {}", r.counts.granted, r.counts.proposed)
            }
            _ => format!("{} (unchanged)", r.counts.granted),
        };
        let flags = flag_kinds(r);
        rows.push(vec![
            id.clone(),
            status,
            change,
            r.counts.kept_for_rare_use.to_string(),
            if flags.is_empty() {
                "-".into()
            } else {
                flags.join(", ")
            },
        ]);
    }
    let _ = write!(
        text,
        "{}",
        table(
            &[
                "PRINCIPAL",
                "STATUS",
                "ACTIONS GRANTED → PROPOSED",
                "KEPT FOR RARE USE",
                "FLAGS"
            ],
            &rows
        )
    );
    let s = &report.summary;
    text.push('\n');
    if let Some(w) = &report.window {
        let _ = writeln!(
            text,
            "Evidence: {} → {} ({} days){}.",
            w.start.format("%Y-%m-%d"),
            w.end.format("%Y-%m-%d"),
            w.days,
            report
                .evidence
                .as_ref()
                .map(|e| format!(", {} events in {} files", e.events, e.files))
                .unwrap_or_default()
        );
    }
    if let Some(e) = &report.evidence
        && (!e.malformed.is_empty() || !e.skipped.is_empty())
    {
        let mut parts = Vec::new();
        if !e.malformed.is_empty() {
            parts.push(format!("{} malformed", e.malformed.len()));
        }
        if !e.skipped.is_empty() {
            parts.push(format!(
                "{} paths skipped ({})",
                e.skipped.len(),
                e.skipped_by_reason()
            ));
        }
        let _ = writeln!(
            text,
            "{} {} (listed above and in report.json: evidence).",
            paint.yellow("Not read:"),
            parts.join(", ")
        );
    }
    if let Some(p) = &report.coverage.coverage.period {
        let _ = writeln!(
            text,
            "Covered: {} of the window's days have records.",
            p.covered_days
        );
    }
    let unobservable: usize = report
        .roles
        .values()
        .map(|r| r.unobservable_actions.len())
        .sum();
    for g in &report.coverage.gaps {
        let _ = writeln!(text, "{} {g}.", paint.yellow("Coverage gap:"));
    }
    if unobservable > 0 {
        let _ = writeln!(
            text,
            "{unobservable} granted actions the evidence cannot see are kept (report.json: unobservable_actions, coverage)."
        );
    }
    let _ = writeln!(
        text,
        "{} of {} principals get a proposal; {} actions granted → {} proposed; {} kept for rare use; {} removal {}; {} unmatched.",
        s.proposed,
        s.principals,
        s.granted_actions,
        s.proposed_actions,
        s.kept_for_rare_use,
        s.removal_candidates,
        if s.removal_candidates == 1 {
            "candidate"
        } else {
            "candidates"
        },
        s.unmatched
    );
    let _ = writeln!(
        text,
        "Artifacts in {}: {}",
        paint.bold(&out.display().to_string()),
        written.join(", ")
    );
    let _ = writeln!(
        text,
        "Review: {}  (open {} in a browser)",
        out.join("template.diff").display(),
        out.join("report.html").display()
    );
    text
}

fn json_summary(
    report: &Report,
    out: &Path,
    written: &[String],
    ledger: Option<&Path>,
) -> serde_json::Value {
    let roles: serde_json::Map<String, serde_json::Value> = report
        .roles
        .iter()
        .map(|(id, r)| {
            (
                id.clone(),
                json!({
                    "status": r.status,
                    "arn": r.arn,
                    "granted": r.counts.granted,
                    "used": r.counts.used,
                    "proposed": r.counts.proposed,
                    "removed": r.counts.removed,
                    "kept_for_rare_use": r.counts.kept_for_rare_use,
                    "flags": r.flags.iter().map(|f| f.kind.clone()).collect::<Vec<_>>(),
                }),
            )
        })
        .collect();
    let artifacts: serde_json::Map<String, serde_json::Value> = written
        .iter()
        .map(|n| (n.clone(), json!(out.join(n).display().to_string())))
        .collect();
    json!({
        "out": out.display().to_string(),
        "artifacts": artifacts,
        "ledger": ledger.map(|p| p.display().to_string()),
        "window": report.window,
        "summary": report.summary,
        "roles": roles,
    })
}
