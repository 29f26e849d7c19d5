//! `scripts/local-chain`: watch keycard's deployed chain run on this machine.
//!
//! Starts moto (S3, IAM, CloudFormation, Step Functions), the real handlers under
//! `cargo lambda watch`, the router and the Access Analyzer stand-in; deploys the output
//! bucket, the state machine, two target stacks and a trail's logs; starts one execution with
//! `events/start-execution.json` (waitSeconds 1) and prints where the proposals are.
//!
//! ```text
//! keycard-local-chain [--keep] [--wait-seconds N] [--work-dir DIR]
//! ```
//! `--keep` leaves everything running (and prints the endpoints) until Enter or Ctrl-C.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use keycard_local::{LocalChain, Options, repo_root, sample_input};

fn main() -> anyhow::Result<()> {
    let mut keep = false;
    let mut wait_seconds = 1u32;
    let mut work_dir: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--keep" => keep = true,
            "--wait-seconds" => {
                wait_seconds = args
                    .next()
                    .context("--wait-seconds needs a number")?
                    .parse()
                    .context("--wait-seconds needs a number")?;
            }
            "--work-dir" => work_dir = Some(args.next().context("--work-dir needs a path")?.into()),
            "-h" | "--help" => {
                println!("usage: scripts/local-chain [--keep] [--wait-seconds N] [--work-dir DIR]");
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    let root = repo_root().canonicalize().context("repository root")?;
    let work_dir = work_dir.unwrap_or_else(|| root.join("target/local-chain"));
    let options = Options::sample(&root, &work_dir)?;

    eprintln!(
        "local-chain: building the handlers and starting moto, cargo lambda watch, the router ..."
    );
    let mut chain = LocalChain::start(options)?;
    eprintln!(
        "local-chain: deploying buckets, stacks, trail logs, Access Analyzer stand-in, state machine ..."
    );
    chain.deploy()?;
    let name = format!("local-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S"));
    let input = sample_input(&root, wait_seconds)?;
    eprintln!("local-chain: starting execution {name} with {input}");
    let result = chain.execute(&name, &input, Duration::from_secs(900))?;

    println!("execution {}: {}", result.arn, result.status);
    if let Some(e) = &result.error {
        println!("  error: {e}");
    }
    println!(
        "  states entered: PollGeneration x{}, WaitForGeneration x{}, RoleErrored x{}",
        result.entered("PollGeneration"),
        result.entered("WaitForGeneration"),
        result.entered("RoleErrored")
    );
    if let Some(out) = &result.output {
        println!("  output: {}", serde_json::to_string_pretty(out)?);
    }
    println!("artifacts in the local S3 (moto at http://{}):", chain.moto);
    for k in &result.keys {
        println!("  s3://{}/{k}", chain.output_bucket);
    }
    // A copy on disk, to open report.html in a browser.
    let copy = work_dir.join("artifacts");
    for k in &result.keys {
        if let Some(bytes) = chain.get_output(k)? {
            let path = copy.join(k);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, bytes)?;
        }
    }
    println!("copied to {}", copy.display());
    println!("process logs: {}", work_dir.display());
    if keep {
        println!(
            "\nstill running; e.g. AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws --endpoint-url http://{} s3 ls s3://{}/ --recursive\npress Enter (or Ctrl-C) to stop everything",
            chain.moto, chain.output_bucket
        );
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
    }
    chain.stop();
    if result.status != "SUCCEEDED" {
        bail!("the execution ended {}", result.status);
    }
    Ok(())
}
