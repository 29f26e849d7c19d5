//! `--trail-config`, `--data-events`, `--management-events`: what the evidence could record.
//!
//! keycard removes an action only when the evidence would have shown its use, so it has to
//! know what the trail records. Without these options it infers that from the log files and
//! claims no more than they show; with them the user states it (or hands over the trail's own
//! configuration, the output of `aws cloudtrail describe-trails` / `get-event-selectors`).

use std::path::PathBuf;

use anyhow::Context;
use keycard_core::coverage::trail_config::coverage_from_documents;
use keycard_core::coverage::{Basis, Coverage, ObservedTrail, ReadWrite};
use keycard_core::limited_read::{Input, read_file_to_string};
use keycard_core::usage::Window;

/// Coverage options, shared by `propose` and `usage`.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct CoverageArgs {
    /// The trail's configuration: a JSON file with the output of `aws cloudtrail
    /// describe-trails`, `get-event-selectors` or `get-trail-status` (repeatable, combined).
    /// Without it, coverage is inferred from the log files and never assumed beyond them.
    #[arg(long = "trail-config", value_name = "FILE")]
    pub trail_config: Vec<PathBuf>,
    /// Data events the trail records, overriding what the files or the configuration show:
    /// `all`, `none`, or a comma-separated list of services (s3, dynamodb, lambda, sns, sqs…)
    /// or resource types (AWS::S3::Object). Only state what the trail really logs: an action
    /// taken as recorded but never seen is removed.
    #[arg(long = "data-events", value_name = "LIST")]
    pub data_events: Option<String>,
    /// Management events the trail records: read-write, write-only, read-only or none.
    #[arg(long = "management-events", value_name = "KIND", value_parser = ["read-write", "write-only", "read-only", "none"])]
    pub management_events: Option<String>,
}

/// Where the evidence came from, for the default coverage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvidenceKind {
    /// CloudTrail files (local or S3): coverage inferred from what they show.
    Files,
    /// IAM Access Analyzer: its own fixed coverage.
    AccessAnalyzer,
    /// Only usage files: nothing is known about the trail behind them.
    UsageOnly,
}

impl CoverageArgs {
    /// The coverage of this run, and notes on how it was read.
    pub(crate) fn resolve(
        &self,
        kind: EvidenceKind,
        observed: Option<&ObservedTrail>,
        window: Option<Window>,
    ) -> anyhow::Result<(Coverage, Vec<String>)> {
        self.resolve_with(kind, observed, window, |c, _| c)
    }

    /// [`CoverageArgs::resolve`], with `from_aws` given the coverage the evidence shows when no
    /// --trail-config file was passed: `propose --stack` reads the trail's configuration itself
    /// there. --data-events and --management-events still have the last word.
    pub(crate) fn resolve_with(
        &self,
        kind: EvidenceKind,
        observed: Option<&ObservedTrail>,
        window: Option<Window>,
        from_aws: impl FnOnce(Coverage, &mut Vec<String>) -> Coverage,
    ) -> anyhow::Result<(Coverage, Vec<String>)> {
        let mut notes = Vec::new();
        let mut coverage = if !self.trail_config.is_empty() {
            let mut docs = Vec::new();
            for path in &self.trail_config {
                let text = read_file_to_string(path, Input::TrailConfig)
                    .context("cannot read --trail-config")?;
                let doc: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("--trail-config {} is not JSON", path.display()))?;
                docs.push(doc);
            }
            let tc = coverage_from_documents(&docs)
                .map_err(|e| anyhow::anyhow!("--trail-config: {e}"))?;
            notes.extend(tc.notes);
            let mut c = tc.coverage;
            if let Some(o) = observed {
                // Delivery gaps come from the files whatever the configuration says.
                c.period =
                    Coverage::infer(o, window.map(|w| w.start), window.map(|w| w.end)).period;
            }
            c
        } else {
            let (inferred, how) = match (kind, observed) {
                (EvidenceKind::AccessAnalyzer, _) => (Coverage::access_analyzer(), None),
                (EvidenceKind::Files, Some(o)) => (
                    Coverage::infer(o, window.map(|w| w.start), window.map(|w| w.end)),
                    Some(
                        "coverage inferred from the log files: pass --trail-config (get-event-selectors output) or --data-events to state what the trail records",
                    ),
                ),
                _ => (
                    Coverage::default(),
                    Some(
                        "nothing is known about the trail behind this evidence: assumed a default trail (management events only)",
                    ),
                ),
            };
            let basis = inferred.basis.clone();
            let mut aws_notes = Vec::new();
            let c = from_aws(inferred, &mut aws_notes);
            // The note on how coverage was guessed holds only while it still is a guess.
            if c.basis == basis {
                notes.extend(how.map(str::to_owned));
            }
            notes.extend(aws_notes);
            c
        };
        if let Some(spec) = &self.data_events {
            coverage = coverage
                .with_stated_data_events(spec)
                .map_err(|e| anyhow::anyhow!("--data-events: {e}"))?;
        }
        if let Some(m) = &self.management_events {
            coverage.management = match m.as_str() {
                "read-write" => ReadWrite::BOTH,
                "write-only" => ReadWrite {
                    read: false,
                    write: true,
                },
                "read-only" => ReadWrite {
                    read: true,
                    write: false,
                },
                _ => ReadWrite::NONE,
            };
            coverage.basis = Basis::Stated;
        }
        Ok((coverage, notes))
    }
}
