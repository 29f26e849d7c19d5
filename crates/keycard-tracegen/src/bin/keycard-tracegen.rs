//! `keycard-tracegen`: write synthetic CloudTrail logs from a scenario file, or the large
//! benchmark corpus.

#![warn(unreachable_pub)]

use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, ValueEnum};
use keycard_tracegen::{
    Classification, DeliveryGap, LargeOptions, Scenario, TrailProfile, generate, large_scenario,
    write_example_corpora,
};

/// Write deterministic synthetic CloudTrail log files (S3 key layout, gzip, digests).
#[derive(Debug, Parser)]
#[command(name = "keycard-tracegen", version)]
struct Cli {
    /// Scenario file (JSON; format in crates/keycard-tracegen/README.md).
    #[arg(
        long,
        conflicts_with_all = ["large", "example_corpora"],
        required_unless_present_any = ["large", "example_corpora"]
    )]
    scenario: Option<PathBuf>,
    /// Generate the large benchmark corpus instead of a scenario.
    #[arg(long, conflicts_with = "example_corpora")]
    large: bool,
    /// Write both bundled examples under every trail profile into <out>/<example>/<variant>/
    /// (cloudtrail/ and summary.json), for end-to-end tests.
    #[arg(long)]
    example_corpora: bool,
    /// With --large: at least this many events.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// With --large: number of roles.
    #[arg(long, default_value_t = 50)]
    roles: usize,
    /// With --large: days of history.
    #[arg(long, default_value_t = 180)]
    days: u32,
    /// With --large: seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// What the trail records (replaces the scenario's "trail" profile).
    #[arg(long, value_enum)]
    trail_profile: Option<ProfileArg>,
    /// data_events_some_buckets: a bucket whose S3 object events are logged (repeatable).
    #[arg(long = "bucket", value_name = "NAME")]
    buckets: Vec<String>,
    /// single_region: the trail's region (default: the scenario's first region).
    #[arg(long, value_name = "REGION")]
    trail_region: Option<String>,
    /// single_region: leave out global service events (IAM, STS, CloudFront, sign-in).
    #[arg(long)]
    no_global_service_events: bool,
    /// kms_excluded: an excluded management event source (repeatable; default
    /// kms.amazonaws.com; rdsdata.amazonaws.com is the other accepted value).
    #[arg(long = "exclude-source", value_name = "SOURCE")]
    exclude_sources: Vec<String>,
    /// A delivery gap START..END (RFC 3339 instants or YYYY-MM-DD dates, END exclusive): no log
    /// file is written in it. Repeatable; added to the scenario's gaps.
    #[arg(long = "gap", value_name = "START..END", value_parser = parse_gap)]
    gaps: Vec<DeliveryGap>,
    /// How calls without "data_event" are classified: heuristic (the default, reproduces the
    /// committed corpora) or documented (data/cloudtrail-data-events.json; use it with any
    /// profile other than all).
    #[arg(long, value_enum)]
    classification: Option<ClassificationArg>,
    /// Output folder (created; files go under <out>/AWSLogs/…).
    #[arg(long)]
    out: PathBuf,
    /// Write the ground truth (what each principal did) and what was written as JSON here.
    #[arg(long)]
    summary: Option<PathBuf>,
    /// Print the scenario used (handy to start a scenario file from --large) and exit.
    #[arg(long)]
    print_scenario: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
enum ProfileArg {
    All,
    ManagementOnly,
    WriteOnly,
    DataEventsSomeBuckets,
    SingleRegion,
    KmsExcluded,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ClassificationArg {
    Heuristic,
    Documented,
}

fn parse_gap(text: &str) -> Result<DeliveryGap, String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("{text:?} is not START..END"))?;
    let instant = |s: &str| -> Result<DateTime<Utc>, String> {
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(t.with_timezone(&Utc));
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("{s:?} is neither RFC 3339 nor YYYY-MM-DD"))
    };
    Ok(DeliveryGap {
        start: instant(a)?,
        end: instant(b)?,
    })
}

impl Cli {
    /// The profile the flags ask for, checking that parameters go with their profile.
    fn profile(&self) -> anyhow::Result<Option<TrailProfile>> {
        let Some(arg) = self.trail_profile else {
            if !self.buckets.is_empty()
                || self.trail_region.is_some()
                || self.no_global_service_events
                || !self.exclude_sources.is_empty()
            {
                bail!(
                    "--bucket, --trail-region, --no-global-service-events and --exclude-source need --trail-profile"
                );
            }
            return Ok(None);
        };
        let single = matches!(arg, ProfileArg::SingleRegion);
        if !single && (self.trail_region.is_some() || self.no_global_service_events) {
            bail!(
                "--trail-region and --no-global-service-events go with --trail-profile single_region"
            );
        }
        if !matches!(arg, ProfileArg::DataEventsSomeBuckets) && !self.buckets.is_empty() {
            bail!("--bucket goes with --trail-profile data_events_some_buckets");
        }
        if !matches!(arg, ProfileArg::KmsExcluded) && !self.exclude_sources.is_empty() {
            bail!("--exclude-source goes with --trail-profile kms_excluded");
        }
        Ok(Some(match arg {
            ProfileArg::All => TrailProfile::All,
            ProfileArg::ManagementOnly => TrailProfile::ManagementOnly,
            ProfileArg::WriteOnly => TrailProfile::WriteOnly,
            ProfileArg::DataEventsSomeBuckets => TrailProfile::DataEventsSomeBuckets {
                buckets: self.buckets.clone(),
            },
            ProfileArg::SingleRegion => TrailProfile::SingleRegion {
                region: self.trail_region.clone(),
                include_global_service_events: !self.no_global_service_events,
            },
            ProfileArg::KmsExcluded => TrailProfile::KmsExcluded {
                exclude_management_event_sources: if self.exclude_sources.is_empty() {
                    vec!["kms.amazonaws.com".to_string()]
                } else {
                    self.exclude_sources.clone()
                },
            },
        }))
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.example_corpora {
        let corpora = write_example_corpora(&cli.out)?;
        for c in &corpora {
            eprintln!(
                "{}/{}: {} events written, {} not written, {} log files",
                c.example,
                c.variant,
                c.summary.events,
                c.summary.unwritten_events,
                c.summary.log_files
            );
        }
        return Ok(());
    }
    let mut scenario = match &cli.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read scenario {}", path.display()))?;
            Scenario::from_json(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => large_scenario(&LargeOptions {
            events: cli.events,
            roles: cli.roles,
            days: cli.days,
            seed: cli.seed,
            ..LargeOptions::default()
        }),
    };
    if let Some(profile) = cli.profile()? {
        scenario.trail.profile = profile;
    }
    scenario.trail.gaps.extend(cli.gaps.iter().cloned());
    match cli.classification {
        Some(ClassificationArg::Heuristic) => scenario.classification = Classification::Heuristic,
        Some(ClassificationArg::Documented) => scenario.classification = Classification::Documented,
        None => {}
    }
    scenario.validate()?;
    if cli.print_scenario {
        println!("{}", serde_json::to_string_pretty(&scenario)?);
        return Ok(());
    }
    let summary = generate(&scenario, &cli.out)?;
    eprintln!(
        "wrote {} events in {} log files, {} digests, {} malformed and {} duplicate copies under {}",
        summary.events,
        summary.log_files,
        summary.digest_files,
        summary.malformed_files.len(),
        summary.duplicate_files.len(),
        cli.out.display()
    );
    if summary.unwritten_events > 0 {
        eprintln!(
            "trail profile {}: {} events not written ({} log files in delivery gaps)",
            scenario.trail.profile.name(),
            summary.unwritten_events,
            summary.gap_log_files
        );
    }
    if let Some(path) = &cli.summary {
        std::fs::write(path, serde_json::to_string_pretty(&summary)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
