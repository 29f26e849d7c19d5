//! `scripts/local-chain`: watch keycard's deployed chain run on this machine.
//!
//! Starts moto (S3, IAM, CloudFormation, Step Functions), the real handlers under
//! `cargo lambda watch`, the router and the Access Analyzer stand-in; deploys the output
//! bucket, the state machine, two target stacks and a trail's logs; starts one execution with
//! `events/start-execution.json` (waitSeconds 1) and prints where the proposals are; then
//! sends the execution's status change to the notify function and prints the events and the
//! email it sent, and does the same for an execution that fails (an invalid window).
//!
//! ```text
//! keycard-local-chain [--keep] [--wait-seconds N] [--work-dir DIR]
//! ```
//! `--keep` leaves everything running (and prints the endpoints) until Enter or Ctrl-C.

#![warn(unreachable_pub)]

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

    // What EventBridge would do next: the status change reaches the notify function.
    eprintln!(
        "local-chain: notifying (the execution's status change event to the notify function) ..."
    );
    print!("{}", chain.notify(&result)?);
    // And a run that fails: the window is beyond Access Analyzer's 90 days, discovery refuses it.
    let failing = format!("{name}-invalid");
    let mut bad_input = input.clone();
    bad_input["windowDays"] = serde_json::json!(120);
    eprintln!("local-chain: starting execution {failing} with {bad_input} (fails on purpose)");
    let failed = chain.execute(&failing, &bad_input, Duration::from_secs(300))?;
    println!("\nexecution {}: {}", failed.arn, failed.status);
    if let Some(e) = &failed.error {
        println!("  error: {e}");
    }
    print!("{}", chain.notify(&failed)?);
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
    if failed.status != "FAILED" {
        bail!("the invalid execution ended {}, not FAILED", failed.status);
    }
    Ok(())
}
