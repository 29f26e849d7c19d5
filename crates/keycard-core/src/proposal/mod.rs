//! Proposals: grants + usage → a least-privilege template, with evidence, rare-event safety and
//! size limits.
//!
//! [`propose`] is the one pipeline entry point: the CLI and every Lambda call exactly it, so a
//! proposal made on a laptop and one made by the deployed chain come from the same code.
//!
//! The pipeline, module by module (`run` calls them in this order):
//! 1. `template_model`: the template engine's grants → the small [`model`] the decisions work on;
//! 2. [`resolve`]: template principals → role ARNs of the evidence (never guessed);
//! 3. [`decide`]: granted vs used, keep-lists, ledger, unobservable actions, risk flags;
//! 4. [`build`]: explicit statements derived from the original ones, resources narrowed;
//! 5. [`invariant`]: the never-broader check, on every proposal;
//! 6. `plan`: what principals share, pinned documents, the loop until nothing changes; with
//!    `placement` and [`size`]: IAM quotas, splitting into managed policies;
//! 7. `edits`: the plan as edits, applied by the template engine (the rest of the file is
//!    untouched), then re-read and checked again;
//! 8. `report_model`: the report model from the same facts ([`crate::report`] renders it as
//!    report.json / .md / .html).

pub mod action_if;
mod arn_patterns;
pub mod build;
pub mod connector_swap;
pub mod decide;
mod edits;
pub mod invariant;
pub mod keep;
pub mod managed_swap;
pub mod model;
mod names;
mod placement;
mod plan;
pub mod policy_template_swap;
mod report_model;
pub mod resolve;
pub mod resources;
pub mod risk;
mod run;
pub mod size;
mod template_model;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use keep::{KeepConfig, KeepError, KeepRule};
pub use plan::plan_principals;
pub use template_model::{PrincipalModel, TemplateModel};

use crate::coverage::Coverage;
use crate::report::{EvidenceStats, Report};
use crate::usage::{EvidenceSource, Usage, Window};

/// Default retention of the usage ledger: an action seen within this many days is kept.
pub const DEFAULT_RETENTION_DAYS: u32 = 400;

/// The longest retention the CLI and the Lambdas accept (ten years: the ledger's evidence
/// cannot predate CloudTrail anyway).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// Everything a proposal run needs. Built by the CLI from flags and files, and by the Lambdas
/// from S3 objects and the state machine's input.
#[derive(Debug, Clone, Default)]
pub struct ProposalInput {
    /// File name of the template (`template.yaml`), used in messages and the diff header.
    pub template_name: String,
    /// The template exactly as deployed or as in the repository.
    pub template_text: String,
    /// This run's usage (a CloudTrail scan or Access Analyzer's generated policies).
    pub usage: Usage,
    /// The ledger from earlier runs, if any.
    pub ledger: Option<Usage>,
    /// The keep config file, if any (template Metadata keep-lists are read from the template).
    pub keep: KeepConfig,
    /// How template principals become role ARNs.
    pub resolution: RoleResolution,
    /// What the evidence could have recorded (the trail's coverage, or Access Analyzer's).
    /// The default is a default trail (management events only): an action whose calls it
    /// would not record is kept and marked, never removed.
    pub coverage: Coverage,
    /// Notes on how the coverage was read (selectors read conservatively, …), for the report.
    pub coverage_notes: Vec<String>,
    pub options: ProposalOptions,
}

/// How template principals are matched to the ARNs in the evidence.
#[derive(Debug, Clone, Default)]
pub struct RoleResolution {
    /// Resolves `${AWS::StackName}` and CloudFormation-generated names.
    pub stack_name: Option<String>,
    /// Resolves `${AWS::AccountId}` and restricts matching to this account.
    pub account_id: Option<String>,
    /// Resolves `${AWS::Region}`.
    pub region: Option<String>,
    /// `aws` unless set (`aws-cn`, `aws-us-gov`).
    pub partition: Option<String>,
    /// `LogicalId → role ARN` overrides (`--role-arn`), winning over everything else.
    pub role_arns: BTreeMap<String, String>,
    /// `LogicalId → physical id` from a stack lookup (ListStackResources).
    pub physical_ids: BTreeMap<String, String>,
}

/// Knobs of a run.
#[derive(Debug, Clone)]
pub struct ProposalOptions {
    /// Ledger retention in days.
    pub retention_days: u32,
    /// Managed policies a role may have attached (10 by default, up to 20 with a raised quota).
    pub max_managed_policies: usize,
    /// The evidence window; derived from the usage when not given.
    pub window: Option<Window>,
    /// Time of the run, written to the report. Defaults to the end of the evidence window so
    /// that the same input always gives the same output.
    pub now: Option<DateTime<Utc>>,
    /// Facts about the evidence files, copied into the report.
    pub evidence: Option<EvidenceStats>,
    /// Written into the report's `generator`.
    pub generator: String,
}

impl Default for ProposalOptions {
    fn default() -> Self {
        ProposalOptions {
            retention_days: DEFAULT_RETENTION_DAYS,
            max_managed_policies: size::DEFAULT_MAX_MANAGED_POLICIES,
            window: None,
            now: None,
            evidence: None,
            generator: format!("keycard {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// The syntax of the proposed template: the input's (one type with the template engine's, issue
/// 12: one name per concept).
pub use crate::template::TemplateFormat;

/// The result of a run: the artifacts, ready to be written anywhere.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The proposed template, in the input's format, with only IAM nodes changed.
    pub template: String,
    pub format: TemplateFormat,
    /// Unified diff from the input to the proposal.
    pub diff: String,
    /// The report model (render with [`Report::to_json`], [`crate::report::render_markdown`],
    /// [`crate::report::render_html`]).
    pub report: Report,
    /// The next ledger: the previous one merged with this run's usage, trimmed to retention.
    pub ledger: Usage,
}

/// Why a proposal could not be made. Per-principal problems (unmatched, no activity, too big)
/// are not errors: they are reported and the principal is left unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ProposalError {
    #[error(transparent)]
    Template(#[from] crate::template::TemplateError),
    #[error("could not write the proposal into the template: {0}")]
    Rewrite(#[from] crate::template::RewriteError),
    #[error("internal check failed, no proposal written: {0}")]
    Invariant(#[from] invariant::Violation),
    #[error(
        "internal check failed, no proposal written: {principal} would lose {action}, which is kept"
    )]
    Lost { principal: String, action: String },
    #[error("invalid option: {0}")]
    Option(String),
}

/// Runs the whole pipeline. Deterministic: the same input gives the same output.
pub fn propose(input: &ProposalInput) -> Result<Proposal, ProposalError> {
    run::propose(input)
}

/// Whether the usage came from this source (for the report's `sources`).
pub(crate) fn source_name(s: &EvidenceSource) -> &'static str {
    match s {
        EvidenceSource::Cloudtrail => "cloudtrail",
        EvidenceSource::AccessAnalyzer => "access_analyzer",
        EvidenceSource::Ledger => "ledger",
    }
}

#[cfg(test)]
mod conditional_tests;
#[cfg(test)]
mod tests;
