//! `keycard`: least-privilege IAM proposals for CloudFormation/SAM templates, from evidence.
//!
//! Each subcommand lives in `commands/`; this file only parses arguments, sets up the terminal
//! and turns the outcome into a documented exit code.

#![warn(unreachable_pub)]

mod atomic_write;
mod commands;
mod paths;
mod ui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes, documented in `keycard --help` and the README.
pub mod exit {
    /// Success (and, for `check`, no finding at or above `--fail-on`).
    pub const OK: u8 = 0;
    /// `check` found problems at or above `--fail-on`.
    pub const FINDINGS: u8 = 1;
    /// Bad usage or bad input (missing file, invalid template, empty CloudTrail folder).
    pub const INPUT: u8 = 2;
}

const AFTER_HELP: &str = "\
Quick start (bundled example, no AWS account needed):
  keycard propose --template examples/orders-app/template.yaml \\
    --cloudtrail examples/orders-app/cloudtrail --stack-name orders-app \\
    --account-id 123456789012 --out out/orders-app

Exit codes:
  0  success (for `check`: no finding at or above --fail-on)
  1  `check` found problems at or above --fail-on
  2  usage or input error (missing file, invalid template, empty CloudTrail folder)

Results go to stdout, progress and messages to stderr; every command that prints results takes
--format json. Colour is used on terminals unless NO_COLOR is set or --color never is given.";

#[derive(Debug, Parser)]
#[command(
    name = "keycard",
    version,
    about = "Replace over-broad IAM grants in CloudFormation/SAM templates with least-privilege proposals, from CloudTrail evidence.",
    long_about = None,
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(flatten)]
    ui: ui::UiArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what each principal actually did, from CloudTrail log files.
    Usage(commands::usage::Args),
    /// List every IAM grant a CloudFormation/SAM template makes.
    Grants(commands::grants::Args),
    /// Write a least-privilege proposal (template, diff, reports) from a template and evidence.
    Propose(commands::propose::Args),
    /// Static analysis of IAM in templates (text, JSON or SARIF).
    Check(commands::check::Args),
    /// Print shell completions.
    Completions(commands::completions::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ui = ui::Ui::new(&cli.ui);
    let outcome = match cli.command {
        Command::Usage(args) => commands::usage::run(args, &ui),
        Command::Grants(args) => commands::grants::run(args, &ui),
        Command::Propose(args) => commands::propose::run(args, &ui),
        Command::Check(args) => commands::check::run(args, &ui),
        Command::Completions(args) => commands::completions::run::<Cli>(args),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            ui.error(&format!("{err:#}"));
            ExitCode::from(exit::INPUT)
        }
    }
}
