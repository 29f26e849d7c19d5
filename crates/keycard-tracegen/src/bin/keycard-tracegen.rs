//! `keycard-tracegen`: write synthetic CloudTrail logs from a scenario file, or the large
//! benchmark corpus.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use keycard_tracegen::{LargeOptions, Scenario, generate, large_scenario};

/// Write deterministic synthetic CloudTrail log files (S3 key layout, gzip, digests).
#[derive(Debug, Parser)]
#[command(name = "keycard-tracegen", version)]
struct Cli {
    /// Scenario file (JSON; format in crates/keycard-tracegen/README.md).
    #[arg(long, conflicts_with = "large", required_unless_present = "large")]
    scenario: Option<PathBuf>,
    /// Generate the large benchmark corpus instead of a scenario.
    #[arg(long)]
    large: bool,
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
    /// Output folder (created; files go under <out>/AWSLogs/…).
    #[arg(long)]
    out: PathBuf,
    /// Write the ground truth (what each principal did) as JSON to this file.
    #[arg(long)]
    summary: Option<PathBuf>,
    /// Print the scenario used (handy to start a scenario file from --large) and exit.
    #[arg(long)]
    print_scenario: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let scenario = match &cli.scenario {
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
    if let Some(path) = &cli.summary {
        std::fs::write(path, serde_json::to_string_pretty(&summary)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
