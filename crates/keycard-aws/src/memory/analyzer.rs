//! IAM Access Analyzer in memory: policy generation jobs and policy checks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use serde_json::Value;

use crate::access_analyzer::{
    AccessCheck, GenerationJob, GenerationRequest, JobStatus, PolicyChecks, PolicyGeneration,
    ValidationFinding,
};
use crate::error::{AwsError, ErrorKind};

use super::{error, lock};

#[derive(Debug, Clone)]
struct Job {
    id: String,
    principal: String,
    token: String,
    status: JobStatus,
}

/// IAM Access Analyzer in memory: policy generation with the account's one running job and
/// idempotent client tokens, and the two policy checks.
#[derive(Debug, Default)]
pub struct MemoryAnalyzer {
    jobs: Mutex<Vec<Job>>,
    /// Principal ARN → the GetGeneratedPolicy response (REST JSON) its job finishes with.
    results: Mutex<BTreeMap<String, Value>>,
}

impl MemoryAnalyzer {
    /// The job of `principal_arn` finishes with `api_json` (GetGeneratedPolicy's REST JSON,
    /// `generatedPolicyResult` and `jobDetails`). A principal without one stays in progress.
    pub fn finish_with(&self, principal_arn: &str, api_json: Value) {
        lock(&self.results).insert(principal_arn.to_owned(), api_json);
    }

    /// Every job started, as `(job id, principal, status)`.
    pub fn jobs(&self) -> Vec<(String, String, JobStatus)> {
        lock(&self.jobs)
            .iter()
            .map(|j| (j.id.clone(), j.principal.clone(), j.status))
            .collect()
    }

    fn job(&self, operation: &'static str, job_id: &str) -> Result<Job, AwsError> {
        lock(&self.jobs)
            .iter()
            .find(|j| j.id == job_id)
            .cloned()
            .ok_or_else(|| {
                error(
                    "accessanalyzer",
                    operation,
                    ErrorKind::NotFound,
                    "ResourceNotFoundException",
                    format!("job {job_id} not found"),
                )
            })
    }
}

impl PolicyGeneration for MemoryAnalyzer {
    async fn start_generation(&self, request: &GenerationRequest) -> Result<String, AwsError> {
        let mut jobs = lock(&self.jobs);
        if let Some(same) = jobs.iter().find(|j| j.token == request.client_token) {
            return Ok(same.id.clone());
        }
        let results = lock(&self.results);
        // A job whose result is known has finished; one without is still running and holds
        // the account's single generation slot (ConflictException, reported as a quota).
        if jobs
            .iter()
            .any(|j| j.status == JobStatus::InProgress && !results.contains_key(&j.principal))
        {
            return Err(error(
                "accessanalyzer",
                "StartPolicyGeneration",
                ErrorKind::QuotaExceeded,
                "ConflictException",
                "a policy generation is already in progress".to_owned(),
            ));
        }
        let id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            jobs.len() + 1,
            jobs.len() + 1
        );
        jobs.push(Job {
            id: id.clone(),
            principal: request.principal_arn.clone(),
            token: request.client_token.clone(),
            status: JobStatus::InProgress,
        });
        Ok(id)
    }

    async fn generated_policy(&self, job_id: &str) -> Result<GenerationJob, AwsError> {
        let job = self.job("GetGeneratedPolicy", job_id)?;
        let result = lock(&self.results).get(&job.principal).cloned();
        let (status, api_json) = match (job.status, result) {
            (JobStatus::InProgress, Some(api_json)) => (JobStatus::Succeeded, api_json),
            (status, _) => (
                status,
                serde_json::json!({"jobDetails": {"jobId": job.id, "status": status.as_str()}}),
            ),
        };
        Ok(GenerationJob {
            job_id: job.id,
            status,
            error: None,
            api_json,
        })
    }

    async fn cancel_generation(&self, job_id: &str) -> Result<(), AwsError> {
        let finished = lock(&self.results)
            .contains_key(&self.job("CancelPolicyGeneration", job_id)?.principal);
        let mut jobs = lock(&self.jobs);
        let Some(job) = jobs.iter_mut().find(|j| j.id == job_id) else {
            return Ok(());
        };
        if job.status != JobStatus::InProgress || finished {
            return Err(error(
                "accessanalyzer",
                "CancelPolicyGeneration",
                ErrorKind::InvalidRequest,
                "ValidationException",
                format!("job {job_id} is not in progress"),
            ));
        }
        job.status = JobStatus::Canceled;
        Ok(())
    }
}

/// The Allow statements' actions of an identity policy, `None` when it is not one.
fn allowed_actions(document: &str) -> Option<BTreeSet<String>> {
    let doc: Value = serde_json::from_str(document).ok()?;
    let statements = match doc.get("Statement")? {
        Value::Array(a) => a.clone(),
        v @ Value::Object(_) => vec![v.clone()],
        _ => return None,
    };
    let mut out = BTreeSet::new();
    for st in statements {
        if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        match st.get("Action") {
            Some(Value::String(s)) => {
                out.insert(s.to_ascii_lowercase());
            }
            Some(Value::Array(a)) => {
                out.extend(
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_ascii_lowercase),
                );
            }
            _ => {}
        }
    }
    Some(out)
}

/// IAM's action wildcards: `*` any run of characters, `?` one character, case-insensitive.
fn wildcard_match(pattern: &str, action: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], a) || (!a.is_empty() && go(p, &a[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x == y => go(&p[1..], &a[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), action.as_bytes())
}

impl PolicyChecks for MemoryAnalyzer {
    /// An identity policy that cannot be read gets ValidatePolicy's `ERROR` with the issue code
    /// the service uses for unparseable JSON; a readable one no finding.
    async fn validate_policy(&self, document: &str) -> Result<Vec<ValidationFinding>, AwsError> {
        Ok(match allowed_actions(document) {
            Some(_) => Vec::new(),
            None => vec![ValidationFinding {
                finding_type: "ERROR".to_owned(),
                issue_code: "JSON_PARSE_ERROR".to_owned(),
                details: "the policy is not a JSON identity policy with a Statement".to_owned(),
                learn_more: "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html".to_owned(),
            }],
        })
    }

    /// Action-level: `FAIL` when `new` allows an action no pattern of `existing` matches (the
    /// documents keycard checks are action lists on `Resource: "*"`).
    async fn check_no_new_access(
        &self,
        new: &str,
        existing: &str,
    ) -> Result<AccessCheck, AwsError> {
        let (Some(new), Some(existing)) = (allowed_actions(new), allowed_actions(existing)) else {
            return Err(error(
                "accessanalyzer",
                "CheckNoNewAccess",
                ErrorKind::InvalidRequest,
                "ValidationException",
                "a policy document is not valid JSON".to_owned(),
            ));
        };
        let added: Vec<String> = new
            .iter()
            .filter(|a| !existing.iter().any(|p| wildcard_match(p, a)))
            .cloned()
            .collect();
        Ok(if added.is_empty() {
            AccessCheck {
                result: "PASS".to_owned(),
                message: Some("The modified permissions grant no new access compared to your existing policy.".to_owned()),
                reasons: Vec::new(),
            }
        } else {
            AccessCheck {
                result: "FAIL".to_owned(),
                message: Some(
                    "The modified permissions grant new access compared to your existing policy."
                        .to_owned(),
                ),
                reasons: added
                    .into_iter()
                    .map(|a| format!("new action {a}"))
                    .collect(),
            }
        })
    }
}
