//! What the notifications say: each stack's facts read from its report, the events' details,
//! the email's text and the console links.

use std::fmt::Write;

use keycard_aws::sns::{email_subject, fit_message};
use keycard_aws::{Config, ObjectStore, OutgoingEvent};
use keycard_core::catalog::{AccessLevel, Catalog};
use keycard_core::report::{Report, Summary as ReportSummary, printable, printable_lines};
use keycard_core::risk;
use serde::Serialize;
use serde_json::{Value, json};

use super::{ExecutionStatusChange, PROPOSAL_FAILED, PROPOSAL_READY, Place, RUN_FAILED, SOURCE};
use crate::contract::{self, StepError, WriteOutput, keys, stack_identity};
use crate::steps::summarize::Summary;

/// At most this many removals are named per stack in an event and the email; the report has
/// all of them.
pub(super) const RISKY_REMOVALS_SHOWN: usize = 10;
/// A failure's cause is cut to this many characters in the event (EventBridge entries are
/// limited to 256 KB; the execution's history has the whole cause).
const CAUSE_CHARS: usize = 4000;

/// One removed action and why it matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskyRemoval {
    pub principal: String,
    pub action: String,
    /// `privilege_escalation`, `runs_code_as_passed_role`, `sensitive_read`, or the action's
    /// IAM access level (`permissions_management`, `write`, `tagging`, `read`, `list`).
    pub risk: String,
    /// keycard's risk table's line for the first three.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// What one stack of a finished run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct StackNotice {
    pub stack: String,
    /// The proposal's folder, when one was written.
    pub prefix: Option<String>,
    pub files: Vec<String>,
    /// report.json's `summary`.
    pub summary: Option<ReportSummary>,
    /// The highest-risk removals first, at most `RISKY_REMOVALS_SHOWN` (10).
    pub risky_removals: Vec<RiskyRemoval>,
    pub removals_total: usize,
    /// report.md up to its first section: the facts and the per-principal table.
    pub markdown_summary: Option<String>,
    /// Why there is no proposal, or what could not be read.
    pub problem: Option<String>,
}

/// Every removed action of the report, highest risk first: keycard's risk table (escalation,
/// code run under a passed role, sensitive reads), then IAM access levels from permissions
/// management down to list. Ties keep principal and action order.
pub fn highest_risk_removals(report: &Report) -> Vec<RiskyRemoval> {
    let catalog = Catalog::embedded();
    let mut all: Vec<(u8, RiskyRemoval)> = Vec::new();
    for (principal, role) in &report.roles {
        for action in &role.removed_actions {
            let (rank, risk, why) = if let Some(r) = risk::escalation_alone(action) {
                (0, "privilege_escalation", Some(r.why))
            } else if let Some(r) = risk::pass_role_target(action) {
                (1, "runs_code_as_passed_role", Some(r.why))
            } else if let Some(r) = risk::sensitive_read(action) {
                (2, "sensitive_read", Some(r.why))
            } else {
                match catalog.access_level(action) {
                    Some(AccessLevel::PermissionsManagement) => (3, "permissions_management", None),
                    Some(AccessLevel::Write) => (4, "write", None),
                    Some(AccessLevel::Tagging) => (5, "tagging", None),
                    Some(AccessLevel::Read) => (6, "read", None),
                    Some(AccessLevel::List) => (7, "list", None),
                    None => (8, "unknown", None),
                }
            };
            all.push((
                rank,
                RiskyRemoval {
                    principal: principal.clone(),
                    action: action.clone(),
                    risk: risk.to_owned(),
                    why: why.map(str::to_owned),
                },
            ));
        }
    }
    all.sort_by(|a, b| (a.0, &a.1.principal, &a.1.action).cmp(&(b.0, &b.1.principal, &b.1.action)));
    all.into_iter().map(|(_, r)| r).collect()
}

/// report.md up to its first `## ` section.
fn markdown_summary(md: &str) -> String {
    let mut out = String::new();
    for line in md.lines() {
        if line.starts_with("## ") {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

/// One stack's outcome from the summary: a [`WriteOutput`] whose folder is this run's and
/// this stack's, read back from its report; anything else is a stack without a proposal.
pub(crate) async fn read_stack<S: ObjectStore>(
    store: &S,
    config: &Config,
    execution: &str,
    outcome: &Value,
) -> Result<StackNotice, StepError> {
    let named = outcome
        .get("stack")
        .and_then(Value::as_str)
        .unwrap_or("(unnamed stack)")
        .to_owned();
    let mut notice = StackNotice {
        stack: named,
        prefix: None,
        files: Vec::new(),
        summary: None,
        risky_removals: Vec::new(),
        removals_total: 0,
        markdown_summary: None,
        problem: None,
    };
    let written: WriteOutput = match serde_json::from_value(outcome.clone()) {
        Ok(w) => w,
        Err(_) => {
            notice.problem = Some(
                outcome
                    .get("error")
                    .map(contract::describe_error)
                    .unwrap_or_else(|| "no proposal was written".to_owned()),
            );
            return Ok(notice);
        }
    };
    let stack = stack_identity(&written.stack)?;
    let expected = keys::proposal_prefix(stack, execution);
    if written.prefix != expected {
        return Err(StepError::InvalidInput(format!(
            "the summary places {stack}'s proposal at {:?}, not {expected:?}",
            written.prefix
        )));
    }
    notice.stack = stack.to_owned();
    notice.files = written
        .files
        .iter()
        .filter(|f| !f.is_empty() && !f.contains('/') && !f.contains(".."))
        .cloned()
        .collect();
    let report_key = format!("{expected}report.json");
    match store.get_object(&config.bucket, &report_key).await? {
        Some(bytes) => match serde_json::from_slice::<Report>(&bytes) {
            Ok(report) => {
                let removals = highest_risk_removals(&report);
                notice.removals_total = removals.len();
                notice.risky_removals = removals.into_iter().take(RISKY_REMOVALS_SHOWN).collect();
                notice.summary = Some(report.summary);
            }
            Err(e) => notice.problem = Some(format!("{report_key} is not a keycard report: {e}")),
        },
        None => notice.problem = Some(format!("{report_key} is missing")),
    }
    if let Some(md) = store
        .get_object(&config.bucket, &format!("{expected}report.md"))
        .await?
    {
        notice.markdown_summary = Some(markdown_summary(&String::from_utf8_lossy(&md)));
    }
    notice.prefix = Some(expected);
    Ok(notice)
}

/// The console's host in the execution's partition; `None` where keycard knows none.
fn console_host(partition: &str) -> Option<&'static str> {
    match partition {
        "aws" => Some("console.aws.amazon.com"),
        "aws-cn" => Some("console.amazonaws.cn"),
        "aws-us-gov" => Some("console.amazonaws-us-gov.com"),
        _ => None,
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters and `/` stay).
fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The S3 console's page of an object (where a reviewer opens or downloads report.html).
pub(crate) fn s3_console_url(place: &Place, bucket: &str, key: &str) -> Option<String> {
    let host = console_host(&place.partition)?;
    Some(format!(
        "https://{host}/s3/object/{bucket}?region={}&prefix={}",
        query_value(&place.region),
        query_value(key)
    ))
}

/// The Step Functions console's page of an execution.
pub(crate) fn execution_console_url(place: &Place, execution_arn: &str) -> Option<String> {
    let host = console_host(&place.partition)?;
    Some(format!(
        "https://{host}/states/home?region={}#/v2/executions/details/{}",
        query_value(&place.region),
        query_value(execution_arn)
    ))
}

fn execution_facts(d: &ExecutionStatusChange) -> Value {
    json!({
        "execution": d.name,
        "executionArn": d.execution_arn,
        "stateMachineArn": d.state_machine_arn,
        "status": d.status,
        "startDate": d.start_date,
        "stopDate": d.stop_date,
    })
}

fn event(
    detail_type: &str,
    detail: &Value,
    resources: Vec<String>,
) -> Result<OutgoingEvent, StepError> {
    Ok(OutgoingEvent {
        source: SOURCE.to_owned(),
        detail_type: detail_type.to_owned(),
        detail: serde_json::to_string(detail)
            .map_err(|e| StepError::InvalidInput(format!("serializing an event: {e}")))?,
        resources,
    })
}

/// `Keycard Proposal Ready` (or `Keycard Proposal Failed`) for one stack.
pub(crate) fn stack_event(
    config: &Config,
    place: &Place,
    d: &ExecutionStatusChange,
    index_key: &str,
    s: &StackNotice,
) -> Result<OutgoingEvent, StepError> {
    let mut detail = execution_facts(d);
    detail["stack"] = json!(s.stack);
    detail["bucket"] = json!(config.bucket);
    detail["indexKey"] = json!(index_key);
    let Some(prefix) = &s.prefix else {
        detail["problem"] = json!(s.problem);
        return event(PROPOSAL_FAILED, &detail, vec![d.execution_arn.clone()]);
    };
    let key = |name: &str| {
        s.files
            .iter()
            .any(|f| f == name)
            .then(|| format!("{prefix}{name}"))
    };
    let template = s
        .files
        .iter()
        .find(|f| f.starts_with("template.") && !f.ends_with(".diff"))
        .map(|f| format!("{prefix}{f}"));
    detail["prefix"] = json!(prefix);
    detail["keys"] = json!({
        "template": template,
        "diff": key("template.diff"),
        "reportJson": key("report.json"),
        "reportMarkdown": key("report.md"),
        "reportHtml": key("report.html"),
        "deployment": key("deployment.json"),
    });
    detail["reportUrl"] = json!(s3_console_url(
        place,
        &config.bucket,
        &format!("{prefix}report.html")
    ));
    detail["summary"] = json!(s.summary);
    detail["highestRiskRemovals"] = json!(s.risky_removals);
    detail["removedActions"] = json!(s.removals_total);
    if let Some(p) = &s.problem {
        detail["problem"] = json!(p);
    }
    event(PROPOSAL_READY, &detail, vec![d.execution_arn.clone()])
}

/// Why an execution produced nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub error: String,
    pub cause: String,
}

impl Failure {
    pub(crate) fn of_execution(d: &ExecutionStatusChange) -> Failure {
        Failure {
            error: d.error.clone().unwrap_or_else(|| d.status.clone()),
            cause: d.cause.clone().unwrap_or_default(),
        }
    }
}

/// The email's subject and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Email {
    pub subject: String,
    pub body: String,
}

fn cut(s: &str, chars: usize) -> String {
    if s.chars().count() <= chars {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(chars).collect();
        out.push_str(" [cut]");
        out
    }
}

/// `Keycard Run Failed` and its email.
pub(crate) fn run_failed(
    config: &Config,
    place: &Place,
    d: &ExecutionStatusChange,
    failure: &Failure,
) -> (Vec<OutgoingEvent>, Email) {
    let console = execution_console_url(place, &d.execution_arn);
    let mut detail = execution_facts(d);
    detail["bucket"] = json!(config.bucket);
    detail["error"] = json!(failure.error);
    detail["cause"] = json!(cut(&failure.cause, CAUSE_CHARS));
    detail["executionUrl"] = json!(console);
    // A detail built from strings always serializes; the fallback keeps the type total.
    let events = event(RUN_FAILED, &detail, vec![d.execution_arn.clone()])
        .map(|e| vec![e])
        .unwrap_or_default();
    let mut body = String::new();
    let _ = writeln!(
        body,
        "keycard run {} ended {}: no proposal was written.\n",
        printable(&d.name),
        d.status
    );
    let _ = writeln!(body, "Error: {}", printable(&failure.error));
    if !failure.cause.is_empty() {
        let _ = writeln!(
            body,
            "Cause: {}",
            printable_lines(&cut(&failure.cause, CAUSE_CHARS))
        );
    }
    let _ = writeln!(body, "\nExecution: {}", d.execution_arn);
    if let Some(url) = console {
        let _ = writeln!(body, "Console: {url}");
    }
    let subject = email_subject(&format!("keycard: run {} {}", d.name, d.status));
    (
        events,
        Email {
            subject,
            body: fit_message(&body),
        },
    )
}

/// The email of a finished run: one section per stack.
pub(crate) fn run_email(
    config: &Config,
    place: &Place,
    d: &ExecutionStatusChange,
    summary: &Summary,
    stacks: &[StackNotice],
    index_key: &str,
) -> Email {
    let ready = stacks.iter().filter(|s| s.prefix.is_some()).count();
    let without = stacks.len() - ready;
    let mut body = String::new();
    let _ = writeln!(
        body,
        "keycard run {} finished: {ready} {} ready{}.",
        printable(&d.name),
        if ready == 1 { "proposal" } else { "proposals" },
        if without > 0 {
            format!(
                ", {without} stack{} without one",
                if without == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        }
    );
    if let Some(url) = s3_console_url(place, &config.bucket, index_key) {
        let _ = writeln!(body, "Run index: {url}");
    }
    let _ = writeln!(body, "Bucket: s3://{}/\n", config.bucket);
    for s in stacks {
        let _ = writeln!(body, "== {} ==", printable(&s.stack));
        match &s.prefix {
            Some(prefix) => {
                if let Some(url) =
                    s3_console_url(place, &config.bucket, &format!("{prefix}report.html"))
                {
                    let _ = writeln!(body, "report.html: {url}");
                }
                let _ = writeln!(body, "files: s3://{}/{prefix}\n", config.bucket);
                if let Some(md) = &s.markdown_summary {
                    let _ = writeln!(body, "{md}\n");
                }
                if !s.risky_removals.is_empty() {
                    let _ = writeln!(
                        body,
                        "Highest-risk removals ({} of {}):",
                        s.risky_removals.len(),
                        s.removals_total
                    );
                    for r in &s.risky_removals {
                        let _ = writeln!(
                            body,
                            "- {}: {} ({})",
                            printable(&r.principal),
                            printable(&r.action),
                            r.risk.replace('_', " ")
                        );
                    }
                    body.push('\n');
                }
                if let Some(p) = &s.problem {
                    let _ = writeln!(body, "Note: {}\n", printable(p));
                }
            }
            None => {
                let _ = writeln!(
                    body,
                    "No proposal: {}\n",
                    printable_lines(s.problem.as_deref().unwrap_or("unknown"))
                );
            }
        }
    }
    if !summary.problems.is_empty() {
        let _ = writeln!(body, "Roles not analysed to the end:");
        for p in &summary.problems {
            let _ = writeln!(
                body,
                "- {} {}: {} {}",
                printable(&p.stack),
                printable(&p.logical_id),
                printable(&p.outcome),
                printable(&p.detail)
            );
        }
    }
    let subject = email_subject(&format!(
        "keycard: {ready} {} ready ({})",
        if ready == 1 { "proposal" } else { "proposals" },
        d.name
    ));
    Email {
        subject,
        body: fit_message(&body),
    }
}
