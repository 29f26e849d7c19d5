//! The report of a proposal run: one model, three renderings.
//!
//! `report.json` is the contract (schema in docs/REPORT.md; later tooling and the deployed app
//! read it), `report.md` is for pull requests, `report.html` is what a person opens: a
//! self-contained page (inline CSS and SVG, no external assets) with a granted-vs-used chart
//! per role.

pub mod escape;
mod html;
mod markdown;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use escape::{printable, printable_lines};
pub use html::render_html;
pub use markdown::render_markdown;

/// Version of the report.json schema; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 3;

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub generator: String,
    /// Name of the input template (as given).
    pub template: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub generated_at: DateTime<Utc>,
    /// The evidence window (this run's usage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<ReportWindow>,
    /// Evidence sources used (`cloudtrail`, `access_analyzer`, `ledger`).
    pub sources: Vec<String>,
    pub retention_days: u32,
    pub summary: Summary,
    /// Per principal logical id.
    pub roles: BTreeMap<String, RoleReport>,
    /// Parts of the template keycard could not analyse (left unchanged).
    #[serde(default)]
    pub not_analysable: Vec<NotAnalysable>,
    /// Principals in the evidence that no template principal matched.
    #[serde(default)]
    pub unattributed_principals: Vec<String>,
    /// Facts about the evidence files, when the caller knows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceStats>,
    /// What the evidence could record, and what it could not (with how to fix it).
    pub coverage: CoverageReport,
    /// The template diff, shown in report.html (it is its own artifact, so not in report.json).
    #[serde(skip)]
    pub diff: Option<String>,
}

/// A time window with its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub days: i64,
}

/// Totals over all principals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub principals: usize,
    pub proposed: usize,
    pub removal_candidates: usize,
    pub unmatched: usize,
    pub not_fitting: usize,
    pub granted_actions: usize,
    pub proposed_actions: usize,
    pub removed_actions: usize,
    pub kept_for_rare_use: usize,
    pub privilege_escalation_removed: usize,
}

/// What happened to one principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleStatus {
    /// A least-privilege proposal was written.
    Proposed,
    /// Nothing needed to change (everything granted is kept).
    Unchanged,
    /// Nothing was removed from what keycard could narrow, and some grants were left as they
    /// are (listed in `not_narrowed`): the role may well be over-granted.
    NotNarrowed,
    /// No activity in the evidence: no proposal; a candidate for removal.
    NoActivity,
    /// Not matched to any evidence principal: no proposal.
    Unmatched,
    /// The proposal did not fit IAM's size quotas: no proposal.
    DoesNotFit,
}

impl RoleStatus {
    /// The status in words, as the Markdown and HTML reports and the CLI's summary table print
    /// it (one spelling for all three).
    pub fn label(self) -> &'static str {
        match self {
            RoleStatus::Proposed => "proposed",
            RoleStatus::Unchanged => "unchanged",
            RoleStatus::NotNarrowed => "not narrowed",
            RoleStatus::NoActivity => "no activity",
            RoleStatus::Unmatched => "unmatched",
            RoleStatus::DoesNotFit => "does not fit",
        }
    }
}

/// The evidence's coverage in the report: the model, the gaps in words, and notes on how it
/// was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageReport {
    #[serde(flatten)]
    pub coverage: crate::coverage::Coverage,
    pub gaps: Vec<crate::coverage::CoverageGap>,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A kept action the evidence could not have seen, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnobservableAction {
    pub action: String,
    pub reason: String,
}

/// The report for one principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleReport {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub status: RoleStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// How the ARN was found (`override`, `stack_lookup`, `role_name`, `generated_name`), or
    /// why it was not.
    pub matched_by: String,
    pub counts: RoleCounts,
    pub granted_actions: Vec<String>,
    pub used_actions: Vec<String>,
    pub proposed_actions: Vec<String>,
    pub removed_actions: Vec<String>,
    pub removed_services: Vec<String>,
    pub kept_actions: Vec<KeptActionReport>,
    /// Granted actions whose use the evidence could not have seen: kept, never removed.
    pub unobservable_actions: Vec<UnobservableAction>,
    pub denied_attempts: Vec<DeniedAttempt>,
    pub unmapped_events: Vec<UnmappedReport>,
    /// Used but not granted by the template (granted elsewhere, or by a resource policy).
    pub used_not_granted: Vec<String>,
    pub wildcards: Vec<WildcardReport>,
    pub replaced_policies: Vec<ReplacedPolicy>,
    /// Grants of a principal with a proposal that were left as written, and why (schema 3).
    #[serde(default)]
    pub not_narrowed: Vec<NotNarrowed>,
    pub flags: Vec<Flag>,
    /// Size of each policy of the proposal (or of the current template when there is none).
    pub policies: Vec<PolicySize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<ReportWindow>,
    pub sources: Vec<String>,
}

/// A grant left as written although its principal got a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotNarrowed {
    /// The grant as a reviewer reads it (`ApiFunction Policies[1]`, `AmazonS3FullAccess`).
    pub source: String,
    pub reason: String,
}

/// Counts, for charts and summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleCounts {
    pub granted: usize,
    pub used: usize,
    pub proposed: usize,
    pub removed: usize,
    pub kept: usize,
    pub kept_for_rare_use: usize,
    pub unobservable: usize,
    pub denied: usize,
}

/// A kept action and its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptActionReport {
    pub action: String,
    /// The strongest reason: `used`, `ledger`, `keep_list` or `unobservable`.
    pub reason: String,
    /// Every reason, with detail (keep-list note, unobservable entry).
    pub reasons: Vec<String>,
    pub last_seen: Option<DateTime<Utc>>,
    pub count: u64,
    /// Kept for rare use (see docs/REPORT.md for the rule).
    pub rare: bool,
}

/// Calls that failed (AccessDenied and friends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedAttempt {
    pub action: String,
    pub count: u64,
    pub last_seen: DateTime<Utc>,
    /// Whether the proposal grants it (it never adds it; a denied call stays denied).
    pub granted: bool,
}

/// Events whose IAM action could not be determined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmappedReport {
    pub event_source: String,
    pub event_name: String,
    pub reason: String,
    pub count: u64,
}

/// A wildcard grant and its replacement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WildcardReport {
    pub source: String,
    pub pattern: String,
    pub grants: usize,
    pub replaced_by: Vec<String>,
}

/// A managed policy or SAM policy template replaced by explicit statements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplacedPolicy {
    pub source: String,
    pub kind: String,
    pub grants: usize,
    pub replaced_by: Vec<String>,
}

/// Something a reviewer must look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    /// `privilege_escalation`, `removal_candidate`, `unmatched`, `admin_policy`,
    /// `does_not_fit`, `shared_policy_unchanged`, `policy_unchanged`, `keep_list_unmatched`,
    /// `permissions_boundary`, `used_not_granted`.
    pub kind: String,
    /// `high`, `medium` or `info`.
    pub severity: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<bool>,
}

/// IAM size of one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySize {
    pub name: String,
    /// `inline` or `managed`.
    pub kind: String,
    pub size: usize,
    pub limit: usize,
}

/// A part of the template left unanalysed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotAnalysable {
    pub location: String,
    pub reason: String,
}

/// Facts about the evidence files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceStats {
    pub files: u64,
    pub events: u64,
    pub digests_skipped: u64,
    pub malformed: Vec<String>,
    /// Paths under the CloudTrail folder passed over, with why (symlink loops, broken links,
    /// unreadable folders, folders reached twice through links).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<crate::cloudtrail::SkippedPath>,
    /// What the records showed about the trail (coverage is inferred from it); not written
    /// to the report, which carries the resulting coverage instead.
    #[serde(skip)]
    pub observed: Option<crate::coverage::ObservedTrail>,
}

impl EvidenceStats {
    /// The skipped paths counted by reason, for one-line summaries.
    pub fn skipped_by_reason(&self) -> String {
        crate::cloudtrail::walk::count_by_reason(&self.skipped)
    }
}

impl Report {
    /// report.json: indented objects, but lists of plain values on one line, because an
    /// AdministratorAccess role lists tens of thousands of granted actions and one per line
    /// makes the file several megabytes of whitespace.
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let mut out = String::new();
        write_json(&value, 0, &mut out);
        out.push('\n');
        out
    }
}

fn write_json(v: &serde_json::Value, depth: usize, out: &mut String) {
    use serde_json::Value;
    let pad = |d: usize| "  ".repeat(d);
    match v {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, val)) in map.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                write_json(val, depth + 1, out);
                if i + 1 < map.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(depth));
            out.push('}');
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                write_json(item, depth + 1, out);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(depth));
            out.push(']');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&item.to_string());
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}
