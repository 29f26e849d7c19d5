//! The deployed chain's contract: payloads between states, S3 key layout, error names.
//!
//! Everything here is shared by the step handlers (and the Lambdas in `functions/` that wire
//! them) and checked against
//! `statemachine/keycard.asl.json` by tests: field names are the JSONPaths the ASL reads, error
//! names are what its Retry/Catch match. Payloads stay small (Step Functions allows 256 KB per
//! state): anything sizeable is written to the output bucket and only its key travels.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use keycard_aws::config::ConfigError;
use keycard_aws::error::{AwsError, ErrorKind};

/// Access Analyzer reads at most 90 days of CloudTrail.
pub const MAX_WINDOW_DAYS: u32 = 90;
/// Access Analyzer starts at most 50 policy generations per account and day (canceled ones
/// count).
pub const DAILY_GENERATION_QUOTA: u32 = 50;
/// Default share of the daily quota one run may use, leaving room for people and other tools.
pub const DEFAULT_MAX_GENERATIONS: u32 = 40;
pub const DEFAULT_WAIT_SECONDS: u32 = 60;
pub const DEFAULT_MAX_POLLS: u32 = 30;
/// keycard's guards against typos (not AWS limits): an hour between polls, a thousand polls.
pub const MAX_WAIT_SECONDS: u32 = 3600;
pub const MAX_POLLS: u32 = 1000;

/// The execution input: what the EventBridge schedule sends, and what a person passes to
/// `aws stepfunctions start-execution`. See `events/start-execution.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRequest {
    /// Names (or ARNs) of the target stacks.
    pub stacks: Vec<String>,
    /// Days of CloudTrail to analyse, ending at the execution's start (at most 90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_days: Option<u32>,
    /// Seconds between two polls of a generation job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<u32>,
    /// Polls before a job is canceled and its role reported as timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_polls: Option<u32>,
    /// Policy generations this run may start (at most 50, the daily quota); further roles are
    /// reported as skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_generations: Option<u32>,
}

/// The execution's identity, from the context object (`$$.Execution`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionRef {
    /// Execution ARN.
    pub id: String,
    pub name: String,
    pub start_time: DateTime<Utc>,
}

/// Input of the discovery step: `{"request.$": "$", "execution.$": "$$.Execution"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverInput {
    pub request: RunRequest,
    pub execution: ExecutionRef,
}

/// Settings of one run, fixed by discovery and carried by every later state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub execution_id: String,
    pub execution_name: String,
    pub started_at: DateTime<Utc>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub wait_seconds: u32,
    pub max_polls: u32,
    pub manifest_key: String,
}

impl Run {
    /// Resolves a request's settings against the defaults and limits. The window ends when the
    /// execution started, so a re-driven execution analyses the same window.
    pub fn from_request(request: &RunRequest, execution: &ExecutionRef) -> Result<Run, StepError> {
        let window_days = request.window_days.unwrap_or(MAX_WINDOW_DAYS);
        if window_days == 0 || window_days > MAX_WINDOW_DAYS {
            return Err(StepError::InvalidInput(format!(
                "windowDays must be between 1 and {MAX_WINDOW_DAYS} (Access Analyzer's limit), got {window_days}"
            )));
        }
        let wait_seconds = request.wait_seconds.unwrap_or(DEFAULT_WAIT_SECONDS);
        if wait_seconds > MAX_WAIT_SECONDS {
            return Err(StepError::InvalidInput(format!(
                "waitSeconds must be at most {MAX_WAIT_SECONDS}, got {wait_seconds}"
            )));
        }
        let max_polls = request.max_polls.unwrap_or(DEFAULT_MAX_POLLS);
        if max_polls == 0 || max_polls > MAX_POLLS {
            return Err(StepError::InvalidInput(format!(
                "maxPolls must be between 1 and {MAX_POLLS}, got {max_polls}"
            )));
        }
        if !is_safe_key_segment(&execution.name) {
            return Err(StepError::InvalidInput(format!(
                "execution name {:?} cannot be used in S3 keys",
                execution.name
            )));
        }
        let end = execution.start_time;
        let start = end
            .checked_sub_signed(Duration::days(i64::from(window_days)))
            .ok_or_else(|| {
                StepError::InvalidInput(format!("no window of {window_days} days before {end}"))
            })?;
        Ok(Run {
            execution_id: execution.id.clone(),
            execution_name: execution.name.clone(),
            started_at: end,
            window_start: start,
            window_end: end,
            wait_seconds,
            max_polls,
            manifest_key: keys::manifest(&execution.name),
        })
    }
}

impl Run {
    /// Re-validates what later steps build S3 keys from: a `Run` comes back from the state,
    /// which a person can edit (a re-driven or hand-started execution), so no step trusts it.
    pub fn validate(&self) -> Result<(), StepError> {
        check_segment("run.executionName", &self.execution_name)?;
        let prefix = format!("{}{}/", keys::RUNS, self.execution_name);
        check_key("run.manifestKey", &self.manifest_key, &prefix)?;
        Ok(())
    }

    /// The folder of this run's working data: every key a step reads from the state must be
    /// under it.
    pub fn folder(&self) -> String {
        format!("{}{}/", keys::RUNS, self.execution_name)
    }
}

/// One role of one target stack: an item of the role Map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleItem {
    pub stack: String,
    pub logical_id: String,
    pub role_name: String,
    pub role_arn: String,
}

/// One target stack: an item of the stack Map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackItem {
    pub stack: String,
    /// Drift detection started by discovery, read by the diff step; `None` when it could
    /// not be started (the reason is in the manifest).
    pub drift_detection_id: Option<String>,
}

/// A role that will not be analysed in this run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedRole {
    pub stack: String,
    pub logical_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    pub reason: String,
}

/// Output of discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverOutput {
    pub run: Run,
    pub roles: Vec<RoleItem>,
    pub stacks: Vec<StackItem>,
    pub skipped: Vec<SkippedRole>,
}

/// Input of the per-role steps (start, poll, cancel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleInput {
    pub run: Run,
    pub role: RoleItem,
    #[serde(default)]
    pub job: Option<JobState>,
}

/// Where a role's generation job is. Every field is always present (null when unknown)
/// because a JSONPath to a missing field fails the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobState {
    pub job_id: String,
    /// Polls done so far.
    pub polls: u32,
    /// `IN_PROGRESS`, `SUCCEEDED`, `FAILED` or `CANCELED` (Access Analyzer's spelling).
    pub status: String,
    /// Key of the stored GetGeneratedPolicy response, once SUCCEEDED.
    pub result_key: Option<String>,
    /// Access Analyzer's jobError, once FAILED.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// What became of one role: built by the ASL's Pass states at the end of each iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleOutcome {
    pub stack: String,
    pub logical_id: String,
    pub role_arn: String,
    /// `succeeded`, `failed`, `canceled`, `timed_out`, `skipped_quota` or `error`.
    pub outcome: String,
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub result_key: Option<String>,
    #[serde(default)]
    pub polls: Option<u32>,
    /// The job's error (`{code, message}`) or the caught step error (`{Error, Cause}`).
    #[serde(default)]
    pub error: Option<Value>,
}

/// Input of the diff step: one stack, and every role outcome of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffInput {
    pub run: Run,
    pub stack: StackItem,
    #[serde(default)]
    pub role_outcomes: Vec<RoleOutcome>,
    /// CloudTrail mode: key of the merged `Usage` of keycard's own trail scan. When set, it is
    /// the evidence for every role of the stack and `role_outcomes` is empty.
    #[serde(default)]
    pub usage_key: Option<String>,
    /// The trail's configuration as the state machine's AWS SDK tasks read it:
    /// `{trail, describeTrails, eventSelectors, trailStatus}` (the DescribeTrails,
    /// GetEventSelectors and GetTrailStatus responses), or the caught `{Error, Cause}` when
    /// one of them failed. Absent: not read (an older definition, or a local run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trail_config: Option<Value>,
}

/// Output of the diff step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffOutput {
    pub stack: String,
    pub staged_key: String,
    pub principals: usize,
    pub proposed: usize,
}

/// Input of the write step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteInput {
    pub run: Run,
    pub diff: DiffOutput,
}

/// Output of the write step (and a stack's outcome in the summary).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteOutput {
    pub stack: String,
    pub prefix: String,
    pub files: Vec<String>,
    pub ledger_key: String,
    pub principals: usize,
    pub proposed: usize,
}

/// Input of the summary step: the whole state after both Maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryInput {
    pub run: Run,
    #[serde(default)]
    pub skipped: Vec<SkippedRole>,
    #[serde(default)]
    pub role_outcomes: Vec<RoleOutcome>,
    /// Each is a [`WriteOutput`] or a caught failure `{stack, outcome: "error", error}`.
    #[serde(default)]
    pub stack_outcomes: Vec<Value>,
}

/// The S3 key layout of the output bucket.
pub mod keys {
    /// Per-run working data (expired by the bucket's lifecycle rule).
    pub const RUNS: &str = "runs/";
    /// Proposals, kept for review.
    pub const PROPOSALS: &str = "proposals/";
    /// The usage ledger: the rare-event memory across runs, one object per stack.
    pub const LEDGER: &str = "ledger/";

    pub fn manifest(execution: &str) -> String {
        format!("{RUNS}{execution}/manifest.json")
    }
    pub fn generated(execution: &str, stack: &str, logical_id: &str) -> String {
        format!("{RUNS}{execution}/generated/{stack}/{logical_id}.json")
    }
    pub fn staged(execution: &str, stack: &str) -> String {
        format!("{RUNS}{execution}/staged/{stack}.json")
    }
    pub fn summary(execution: &str) -> String {
        format!("{RUNS}{execution}/summary.json")
    }
    pub fn proposal_prefix(stack: &str, execution: &str) -> String {
        format!("{PROPOSALS}{stack}/{execution}/")
    }
    pub fn ledger(stack: &str) -> String {
        format!("{LEDGER}{stack}.json")
    }
    /// The run index the notify step writes: every stack's report of one execution. Under
    /// `proposals/` so it lives as long as the reports; `_runs` can be no stack's name.
    pub fn run_index(execution: &str) -> String {
        format!("{PROPOSALS}_runs/{execution}/index.html")
    }
}

/// Field `n` of an ARN (`arn:partition:service:region:account:resource`), `None` for a
/// non-ARN or an empty field. The CLI's AWS mode and the diff Lambda both read the account,
/// region and partition for generated-name matching this way.
pub fn arn_field(arn: &str, n: usize) -> Option<String> {
    arn.strip_prefix("arn:")?;
    arn.split(':')
        .nth(n)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Short stack name for keys: a stack ARN's name part, the name itself otherwise.
pub fn stack_key_name(stack: &str) -> &str {
    match stack.strip_prefix("arn:") {
        Some(_) => stack.split('/').nth(1).unwrap_or(stack),
        None => stack,
    }
}

/// The stack's identity in S3 keys: its name, whether the state names it by name or by stack
/// ARN (`arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>`), so both map to
/// the same objects. The name is checked against CloudFormation's rule for stack names ("can
/// contain only alphanumeric characters (case-sensitive) and hyphens. It must start with an
/// alphabetic character and can't be longer than 128 characters", CreateStack `StackName`,
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html>).
pub fn stack_identity(stack: &str) -> Result<&str, StepError> {
    let name = match stack.strip_prefix("arn:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let resource = match parts.as_slice() {
                [_, "cloudformation", _, _, resource] => *resource,
                _ => "",
            };
            let mut r = resource.split('/');
            match (r.next(), r.next(), r.next(), r.next()) {
                (Some("stack"), Some(name), Some(id), None) if !id.is_empty() => name,
                _ => {
                    return Err(StepError::InvalidInput(format!(
                        "{stack:?} is not a CloudFormation stack ARN"
                    )));
                }
            }
        }
        None => stack,
    };
    let ok = name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(name)
    } else {
        Err(StepError::InvalidInput(format!(
            "stack {stack:?}: a stack name is letters, digits and hyphens, starts with a letter, at most 128 characters"
        )))
    }
}

/// A template's logical id as a key segment: "alphanumeric (A-Za-z0-9)" (CloudFormation
/// template anatomy, Resources) and at most 255 characters (CloudFormation quotas).
pub fn check_logical_id(id: &str) -> Result<&str, StepError> {
    if !id.is_empty() && id.len() <= 255 && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(StepError::InvalidInput(format!(
            "logical id {id:?} is not alphanumeric"
        )))
    }
}

/// S3 object keys are at most 1,024 bytes of UTF-8
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html>).
pub const MAX_KEY_BYTES: usize = 1024;

/// One path segment of a key built from a state value (an execution name).
pub fn check_segment<'a>(what: &str, s: &'a str) -> Result<&'a str, StepError> {
    if is_safe_key_segment(s) {
        Ok(s)
    } else {
        Err(StepError::InvalidInput(format!(
            "{what} {s:?} cannot be used in S3 keys (letters, digits, '-', '_', '.', at most 128)"
        )))
    }
}

/// A key read from the state (`usageKey`, `stagedKey`, a result or partial key) before it is
/// used: under `prefix` (the run's own folder, so one run can never read or overwrite another's
/// objects or the ledger), no leading `/`, no empty, `.` or `..` segment, no control
/// character, within S3's length limit.
pub fn check_key<'a>(what: &str, key: &'a str, prefix: &str) -> Result<&'a str, StepError> {
    let bad = |why: &str| {
        Err(StepError::InvalidInput(format!(
            "{what} {:?} {why}",
            key.chars().take(200).collect::<String>()
        )))
    };
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return bad("is empty or longer than S3's 1,024 bytes");
    }
    if key.starts_with('/') {
        return bad("starts with '/'");
    }
    if key.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    if key.split('/').any(|seg| seg == "." || seg == "..")
        || key.trim_end_matches('/').contains("//")
    {
        return bad("has an empty, '.' or '..' segment");
    }
    if !key.starts_with(prefix) {
        return bad(&format!("is not under {prefix}"));
    }
    Ok(key)
}

fn is_safe_key_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s != "."
        && s != ".."
}

/// The StartPolicyGeneration client token for a role in an execution: the same execution and
/// role always give the same token, so a Lambda retry gets the already running job back.
pub fn client_token(execution_id: &str, role_arn: &str) -> String {
    let mut h = Sha256::new();
    h.update(execution_id.as_bytes());
    h.update([0]);
    h.update(role_arn.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A step's failure, named for the state machine.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("invalid template: {0}")]
    InvalidTemplate(String),
    #[error("no proposal could be made: {0}")]
    Proposal(String),
    #[error("unusable evidence: {0}")]
    Evidence(String),
    /// The stack's ledger changed after the diff step read it: another run of the state
    /// machine wrote it in between. Nothing was overwritten (S3 conditional write).
    #[error("ledger changed by another run: {0}")]
    LedgerConflict(String),
}

/// Retried by the state machine with backoff.
pub const TRANSIENT: &str = "Keycard.Transient";
/// Access Analyzer's quota (one running generation per account, 50 a day).
pub const QUOTA_EXCEEDED: &str = "Keycard.QuotaExceeded";
pub const NOT_FOUND: &str = "Keycard.NotFound";
pub const ACCESS_DENIED: &str = "Keycard.AccessDenied";
pub const AWS_FAILED: &str = "Keycard.AwsError";
pub const INVALID_INPUT: &str = "Keycard.InvalidInput";
pub const INVALID_TEMPLATE: &str = "Keycard.InvalidTemplate";
pub const PROPOSAL_FAILED: &str = "Keycard.ProposalFailed";
/// A stored generated policy or the ledger could not be read as such.
pub const INVALID_EVIDENCE: &str = "Keycard.InvalidEvidence";
/// Two runs of one state machine overlapped on a stack's ledger and this one lost the race
/// (its conditional write found a newer ledger). The state machine computes the stack again
/// from the newer ledger, a bounded number of times.
pub const LEDGER_CONFLICT: &str = "Keycard.LedgerConflict";

/// Every error name a handler can report.
pub const ERROR_NAMES: &[&str] = &[
    TRANSIENT,
    QUOTA_EXCEEDED,
    NOT_FOUND,
    ACCESS_DENIED,
    AWS_FAILED,
    INVALID_INPUT,
    INVALID_TEMPLATE,
    PROPOSAL_FAILED,
    INVALID_EVIDENCE,
    LEDGER_CONFLICT,
];

impl StepError {
    /// The error name Step Functions sees (`errorType` of the Lambda response).
    pub fn name(&self) -> &'static str {
        match self {
            StepError::Aws(e) => match e.kind {
                ErrorKind::Throttling | ErrorKind::Transient => TRANSIENT,
                ErrorKind::QuotaExceeded => QUOTA_EXCEEDED,
                ErrorKind::NotFound => NOT_FOUND,
                ErrorKind::AccessDenied => ACCESS_DENIED,
                ErrorKind::InvalidRequest
                | ErrorKind::Conflict
                | ErrorKind::Malformed
                | ErrorKind::Other => AWS_FAILED,
            },
            StepError::InvalidInput(_) | StepError::Config(_) => INVALID_INPUT,
            StepError::InvalidTemplate(_) => INVALID_TEMPLATE,
            StepError::Proposal(_) => PROPOSAL_FAILED,
            StepError::Evidence(_) => INVALID_EVIDENCE,
            StepError::LedgerConflict(_) => LEDGER_CONFLICT,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.name() == TRANSIENT
    }
}

/// Parses a step's JSON input into its payload type, naming the field that is wrong.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
) -> Result<T, StepError> {
    serde_json::from_slice(bytes).map_err(|e| StepError::InvalidInput(format!("{what}: {e}")))
}

/// Reads a step's input, already parsed as JSON by the runtime, into its payload type; a
/// mismatch is `Keycard.InvalidInput`, naming the field that is wrong.
pub fn parse_value<T: serde::de::DeserializeOwned>(
    what: &str,
    value: Value,
) -> Result<T, StepError> {
    serde_json::from_value(value).map_err(|e| StepError::InvalidInput(format!("{what}: {e}")))
}

/// Serializes an artifact for S3.
pub fn to_json_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, StepError> {
    let mut v = serde_json::to_vec_pretty(value)
        .map_err(|e| StepError::InvalidInput(format!("serializing: {e}")))?;
    v.push(b'\n');
    Ok(v)
}

/// One line for an error recorded by the state machine: a job error `{code, message}` or a
/// caught step error `{Error, Cause}` whose Cause is the Lambda's JSON error response.
pub fn describe_error(error: &Value) -> String {
    if let (Some(code), Some(message)) = (error.get("code"), error.get("message")) {
        return format!(
            "{}: {}",
            code.as_str().unwrap_or_default(),
            message.as_str().unwrap_or_default()
        );
    }
    let name = error
        .get("Error")
        .and_then(Value::as_str)
        .unwrap_or("error");
    let cause = error
        .get("Cause")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let message = serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|c| {
            c.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| cause.to_owned());
    if message.is_empty() {
        name.to_owned()
    } else {
        format!("{name}: {message}")
    }
}

#[cfg(test)]
mod tests;
