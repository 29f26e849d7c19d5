//! IAM Access Analyzer: policy generation (the evidence) and policy checks (the validation).
//!
//! Policy generation is a job: start it, poll it, read it. Its limits shape the whole state
//! machine: one job running per account, 50 started per day (canceled ones count), 90 days of
//! CloudTrail at most. The adapter only speaks the API; the pacing lives in the ASL (and, for
//! the CLI, in [`start_generation_retrying`]). Requests always name the trail's regions
//! ([`TrailRegions`]); a busy generation slot (`ConflictException`) is reported like the quota
//! errors, which waiting fixes; job error codes are the API model's ([`JobErrorCode`]).
//!
//! A finished job is kept as the JSON of the GetGeneratedPolicy response in the API's own shape
//! ([`GenerationJob::api_json`]), written to S3 and parsed by `keycard_core::access_analyzer`,
//! so the core never sees SDK types and a stored result can be re-read by any later version.

use std::future::Future;
use std::time::Duration;

use aws_sdk_accessanalyzer::types::{
    CloudTrailDetails, JobStatus as SdkJobStatus, PolicyGenerationDetails, PolicyType, Trail,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{AwsError, ErrorKind};

const SERVICE: &str = "accessanalyzer";

/// Everything StartPolicyGeneration needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationRequest {
    /// The role whose activity is analysed.
    pub principal_arn: String,
    pub trail_arn: String,
    /// Regions of the trail to read, always explicit (see [`TrailRegions`]).
    pub regions: TrailRegions,
    /// The role Access Analyzer assumes to read the trail (and its bucket, KMS key).
    pub access_role_arn: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Idempotency token: the same token returns the same job instead of starting another,
    /// so a retried Lambda never spends a second generation of the daily quota.
    pub client_token: String,
}

/// Which regions of the trail Access Analyzer reads (`CloudTrailDetails.trails[].allRegions`
/// and `.regions`). The API documents both fields but no default for a trail that sets
/// neither, so every request says one or the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrailRegions {
    /// `allRegions: true`.
    All,
    /// `allRegions: false` and these `regions` (a request with none is refused before it is
    /// sent).
    Only(Vec<String>),
}

/// Where CloudTrail records the global services' events (IAM, STS, CloudFront) of a
/// partition. Only the commercial partition is documented: since 2021-11-22 "events created
/// by Amazon CloudFront, AWS Identity and Access Management, and AWS STS are recorded in
/// [...] us-east-1"
/// (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-create-and-update-a-trail-by-using-the-aws-cli-update-trail.html>).
pub fn global_events_region(partition: &str) -> Option<&'static str> {
    match partition {
        "aws" => Some("us-east-1"),
        _ => None,
    }
}

impl TrailRegions {
    /// The regions to read: the deployment's choice when it made one (`*` → all, or a list),
    /// otherwise the regions the analysed stacks live in plus the region where the partition's
    /// global service events are recorded (a role's IAM and STS calls are logged there, not
    /// in its stack's region). In a partition whose global-events region is not documented,
    /// all regions: reading more can only keep more, never remove more. `None` when there is
    /// nothing to go on (no setting, no stack region).
    pub fn resolve(
        all_regions: bool,
        configured: &[String],
        stack_regions: &[String],
        partition: &str,
    ) -> Option<TrailRegions> {
        if all_regions {
            return Some(TrailRegions::All);
        }
        if !configured.is_empty() {
            return Some(TrailRegions::Only(dedup(configured.iter().cloned())));
        }
        if stack_regions.is_empty() {
            return None;
        }
        let Some(global) = global_events_region(partition) else {
            return Some(TrailRegions::All);
        };
        Some(TrailRegions::Only(dedup(
            stack_regions
                .iter()
                .cloned()
                .chain(std::iter::once(global.to_owned())),
        )))
    }
}

/// Keeps the first occurrence of each region, in order; drops empty names.
fn dedup(regions: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in regions {
        if !r.is_empty() && !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// The pauses before each new StartPolicyGeneration attempt while the account's one
/// generation slot is taken (`ConflictException`) or a generation quota is reached
/// (`ServiceQuotaExceededException`): the state machine's Retry on `Keycard.QuotaExceeded`
/// (IntervalSeconds 60, BackoffRate 2, MaxDelaySeconds 900, MaxAttempts 4; a test holds the
/// two together), for callers without a state machine (the CLI).
pub const START_RETRY_DELAYS: [Duration; 4] = [
    Duration::from_secs(60),
    Duration::from_secs(120),
    Duration::from_secs(240),
    Duration::from_secs(480),
];

/// StartPolicyGeneration, tried again after each of `delays` while the account's generation
/// slot is busy or its quota reached ([`ErrorKind::QuotaExceeded`], which is what the adapter
/// reports for both); any other outcome returns at once. `sleep(delay)` waits (injected, so
/// tests do not).
pub async fn start_generation_retrying<G, S, F>(
    analyzer: &G,
    request: &GenerationRequest,
    delays: &[Duration],
    mut sleep: S,
) -> Result<String, AwsError>
where
    G: PolicyGeneration,
    S: FnMut(Duration) -> F,
    F: Future<Output = ()>,
{
    let mut delays = delays.iter();
    loop {
        match analyzer.start_generation(request).await {
            Err(e) if e.kind == ErrorKind::QuotaExceeded => match delays.next() {
                Some(d) => sleep(*d).await,
                None => return Err(e),
            },
            other => return other,
        }
    }
}

/// Status of a policy generation job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    InProgress,
    Succeeded,
    Failed,
    Canceled,
}

impl JobStatus {
    /// The API's spelling, which is also what the state machine's Choice compares.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::InProgress => "IN_PROGRESS",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
            JobStatus::Canceled => "CANCELED",
        }
    }
}

/// Why a job failed, as GetGeneratedPolicy reports it (`jobDetails.jobError`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// The API's `JobErrorCode` (see [`JobErrorCode`]); kept as sent, so a code added to the
    /// API later still reaches the report.
    pub code: String,
    pub message: String,
}

/// The API model's `JobErrorCode` enum (botocore `accessanalyzer/2019-11-01`), and what each
/// means for a keycard run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobErrorCode {
    AuthorizationError,
    ResourceNotFoundError,
    ServiceQuotaExceededError,
    ServiceError,
}

impl JobErrorCode {
    pub const ALL: [JobErrorCode; 4] = [
        JobErrorCode::AuthorizationError,
        JobErrorCode::ResourceNotFoundError,
        JobErrorCode::ServiceQuotaExceededError,
        JobErrorCode::ServiceError,
    ];

    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobErrorCode::AuthorizationError => "AUTHORIZATION_ERROR",
            JobErrorCode::ResourceNotFoundError => "RESOURCE_NOT_FOUND_ERROR",
            JobErrorCode::ServiceQuotaExceededError => "SERVICE_QUOTA_EXCEEDED_ERROR",
            JobErrorCode::ServiceError => "SERVICE_ERROR",
        }
    }

    /// `None` for a code the model does not list.
    pub fn parse(code: &str) -> Option<JobErrorCode> {
        JobErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// What to do about it.
    pub fn hint(self) -> &'static str {
        match self {
            JobErrorCode::AuthorizationError => {
                "the access role cannot read the trail: check that Access Analyzer may assume it \
                 and that it may read the trail's bucket (and KMS key)"
            }
            JobErrorCode::ResourceNotFoundError => {
                "the trail or its bucket was not found: check the trail ARN and its regions"
            }
            JobErrorCode::ServiceQuotaExceededError => {
                "a policy generation quota was exceeded (CloudTrail log files or data per \
                 generation, generations per day): shorten the window, read fewer regions, or \
                 run again later"
            }
            JobErrorCode::ServiceError => {
                "Access Analyzer failed on its side: running again later may work"
            }
        }
    }
}

impl JobError {
    /// The code as the model lists it, `None` for one it does not.
    pub fn kind(&self) -> Option<JobErrorCode> {
        JobErrorCode::parse(&self.code)
    }

    /// `CODE: message (what to do)`, for a person.
    pub fn describe(&self) -> String {
        match self.kind() {
            Some(k) => format!("{}: {} ({})", self.code, self.message, k.hint()),
            None => format!("{}: {}", self.code, self.message),
        }
    }
}

/// A policy generation job as GetGeneratedPolicy reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationJob {
    pub job_id: String,
    pub status: JobStatus,
    pub error: Option<JobError>,
    /// The response in the REST API's JSON shape (`jobDetails`, `generatedPolicyResult`).
    pub api_json: Value,
}

/// Starts, reads and cancels policy generation jobs.
pub trait PolicyGeneration: Send + Sync {
    /// Starts a job; returns its id.
    fn start_generation(
        &self,
        request: &GenerationRequest,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;

    fn generated_policy(
        &self,
        job_id: &str,
    ) -> impl Future<Output = Result<GenerationJob, AwsError>> + Send;

    fn cancel_generation(&self, job_id: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// One ValidatePolicy finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationFinding {
    /// `ERROR`, `SECURITY_WARNING`, `WARNING` or `SUGGESTION`.
    pub finding_type: String,
    pub issue_code: String,
    pub details: String,
    pub learn_more: String,
}

/// The result of CheckNoNewAccess.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessCheck {
    /// `PASS` or `FAIL`.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// Access Analyzer's policy checks, on identity policies.
pub trait PolicyChecks: Send + Sync {
    /// Every finding of ValidatePolicy for an identity policy, across all pages.
    fn validate_policy(
        &self,
        document: &str,
    ) -> impl Future<Output = Result<Vec<ValidationFinding>, AwsError>> + Send;

    /// Whether `new` grants anything `existing` does not.
    fn check_no_new_access(
        &self,
        new: &str,
        existing: &str,
    ) -> impl Future<Output = Result<AccessCheck, AwsError>> + Send;
}

/// [`PolicyGeneration`] and [`PolicyChecks`] over the Access Analyzer SDK.
#[derive(Debug, Clone)]
pub struct AccessAnalyzer {
    client: aws_sdk_accessanalyzer::Client,
}

impl AccessAnalyzer {
    pub fn new(client: aws_sdk_accessanalyzer::Client) -> Self {
        AccessAnalyzer { client }
    }
}

fn smithy_time(t: DateTime<Utc>) -> aws_sdk_accessanalyzer::primitives::DateTime {
    aws_sdk_accessanalyzer::primitives::DateTime::from_secs(t.timestamp())
}

fn iso(t: &aws_sdk_accessanalyzer::primitives::DateTime) -> Value {
    match DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()) {
        Some(t) => Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        None => Value::Null,
    }
}

/// StartPolicyGeneration's `ConflictException` means a generation is already running: the
/// account's one concurrent generation (a documented quota of 1). Waiting frees it, exactly
/// like the quota errors, so it is reported as one: the state machine retries
/// `Keycard.QuotaExceeded` with a long backoff, the CLI with [`START_RETRY_DELAYS`]. The AWS
/// code stays `ConflictException`.
fn slot_taken(mut e: AwsError) -> AwsError {
    if e.kind == ErrorKind::Conflict {
        e.kind = ErrorKind::QuotaExceeded;
    }
    e
}

fn build_error(operation: &'static str, e: impl std::fmt::Display) -> AwsError {
    AwsError {
        service: SERVICE,
        operation,
        kind: crate::error::ErrorKind::InvalidRequest,
        code: None,
        status: None,
        message: e.to_string(),
    }
}

impl PolicyGeneration for AccessAnalyzer {
    async fn start_generation(&self, request: &GenerationRequest) -> Result<String, AwsError> {
        const OP: &str = "StartPolicyGeneration";
        let mut trail = Trail::builder().cloud_trail_arn(&request.trail_arn);
        match &request.regions {
            TrailRegions::All => trail = trail.all_regions(true),
            TrailRegions::Only(regions) if regions.is_empty() => {
                return Err(build_error(
                    OP,
                    "no trail region to read: the API documents no default, so name the \
                     regions or ask for all of them",
                ));
            }
            TrailRegions::Only(regions) => {
                trail = trail.all_regions(false);
                for r in regions {
                    trail = trail.regions(r);
                }
            }
        }
        let trail = trail.build().map_err(|e| build_error(OP, e))?;
        let details = CloudTrailDetails::builder()
            .trails(trail)
            .access_role(&request.access_role_arn)
            .start_time(smithy_time(request.start))
            .end_time(smithy_time(request.end))
            .build()
            .map_err(|e| build_error(OP, e))?;
        let policy = PolicyGenerationDetails::builder()
            .principal_arn(&request.principal_arn)
            .build()
            .map_err(|e| build_error(OP, e))?;
        let out = self
            .client
            .start_policy_generation()
            .policy_generation_details(policy)
            .cloud_trail_details(details)
            .client_token(&request.client_token)
            .send()
            .await
            .map_err(|e| slot_taken(AwsError::from_sdk(SERVICE, OP, e)))?;
        Ok(out.job_id)
    }

    async fn generated_policy(&self, job_id: &str) -> Result<GenerationJob, AwsError> {
        const OP: &str = "GetGeneratedPolicy";
        let out = self
            .client
            .get_generated_policy()
            .job_id(job_id)
            // Services AA can only see at service level still appear (as `service:*`
            // templates), so the core can mark them unobservable instead of unused.
            .include_service_level_template(true)
            .include_resource_placeholders(false)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, OP, e))?;
        let details = out
            .job_details
            .as_ref()
            .ok_or_else(|| AwsError::malformed(SERVICE, OP, "no jobDetails"))?;
        let status = match &details.status {
            SdkJobStatus::InProgress => JobStatus::InProgress,
            SdkJobStatus::Succeeded => JobStatus::Succeeded,
            SdkJobStatus::Failed => JobStatus::Failed,
            SdkJobStatus::Canceled => JobStatus::Canceled,
            other => {
                return Err(AwsError::malformed(
                    SERVICE,
                    OP,
                    format!("unknown job status {}", other.as_str()),
                ));
            }
        };
        let error = details.job_error.as_ref().map(|e| JobError {
            code: e.code.as_str().to_owned(),
            message: e.message.clone(),
        });

        let mut job = Map::new();
        job.insert("jobId".into(), json!(details.job_id));
        job.insert("status".into(), json!(status.as_str()));
        job.insert("startedOn".into(), iso(&details.started_on));
        if let Some(t) = &details.completed_on {
            job.insert("completedOn".into(), iso(t));
        }
        if let Some(e) = &error {
            job.insert(
                "jobError".into(),
                json!({"code": e.code, "message": e.message}),
            );
        }
        let mut api = Map::new();
        api.insert("jobDetails".into(), Value::Object(job));
        if let Some(result) = &out.generated_policy_result {
            let mut r = Map::new();
            if let Some(p) = &result.properties {
                let mut props = Map::new();
                if let Some(c) = p.is_complete {
                    props.insert("isComplete".into(), json!(c));
                }
                props.insert("principalArn".into(), json!(p.principal_arn));
                if let Some(ct) = &p.cloud_trail_properties {
                    let trails: Vec<Value> = ct
                        .trail_properties
                        .iter()
                        .map(|t| {
                            let mut m = Map::new();
                            m.insert("cloudTrailArn".into(), json!(t.cloud_trail_arn));
                            if let Some(regions) = &t.regions {
                                m.insert("regions".into(), json!(regions));
                            }
                            if let Some(all) = t.all_regions {
                                m.insert("allRegions".into(), json!(all));
                            }
                            Value::Object(m)
                        })
                        .collect();
                    props.insert(
                        "cloudTrailProperties".into(),
                        json!({
                            "trailProperties": trails,
                            "startTime": iso(&ct.start_time),
                            "endTime": iso(&ct.end_time),
                        }),
                    );
                }
                r.insert("properties".into(), Value::Object(props));
            }
            if let Some(policies) = &result.generated_policies {
                let policies: Vec<Value> = policies
                    .iter()
                    .map(|p| json!({"policy": p.policy}))
                    .collect();
                r.insert("generatedPolicies".into(), Value::Array(policies));
            }
            api.insert("generatedPolicyResult".into(), Value::Object(r));
        }
        Ok(GenerationJob {
            job_id: details.job_id.clone(),
            status,
            error,
            api_json: Value::Object(api),
        })
    }

    async fn cancel_generation(&self, job_id: &str) -> Result<(), AwsError> {
        self.client
            .cancel_policy_generation()
            .job_id(job_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "CancelPolicyGeneration", e))?;
        Ok(())
    }
}

impl PolicyChecks for AccessAnalyzer {
    async fn validate_policy(&self, document: &str) -> Result<Vec<ValidationFinding>, AwsError> {
        let mut pages = self
            .client
            .validate_policy()
            .policy_document(document)
            .policy_type(PolicyType::IdentityPolicy)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk(SERVICE, "ValidatePolicy", e))?;
            for f in page.findings {
                out.push(ValidationFinding {
                    finding_type: f.finding_type.as_str().to_owned(),
                    issue_code: f.issue_code,
                    details: f.finding_details,
                    learn_more: f.learn_more_link,
                });
            }
        }
        Ok(out)
    }

    async fn check_no_new_access(
        &self,
        new: &str,
        existing: &str,
    ) -> Result<AccessCheck, AwsError> {
        let out = self
            .client
            .check_no_new_access()
            .new_policy_document(new)
            .existing_policy_document(existing)
            .policy_type(aws_sdk_accessanalyzer::types::AccessCheckPolicyType::IdentityPolicy)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "CheckNoNewAccess", e))?;
        let result = out
            .result
            .map(|r| r.as_str().to_owned())
            .ok_or_else(|| AwsError::malformed(SERVICE, "CheckNoNewAccess", "no result"))?;
        Ok(AccessCheck {
            result,
            message: out.message,
            reasons: out
                .reasons
                .unwrap_or_default()
                .into_iter()
                .filter_map(|r| r.description)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn trail_regions_are_always_explicit() {
        // The deployment's choice wins.
        assert_eq!(
            TrailRegions::resolve(true, &[], &regions(&["eu-west-1"]), "aws"),
            Some(TrailRegions::All)
        );
        assert_eq!(
            TrailRegions::resolve(
                false,
                &regions(&["eu-west-1", "eu-west-1", "us-east-1"]),
                &regions(&["eu-central-1"]),
                "aws"
            ),
            Some(TrailRegions::Only(regions(&["eu-west-1", "us-east-1"])))
        );
        // Otherwise the stacks' regions, plus where IAM/STS/CloudFront events are recorded.
        assert_eq!(
            TrailRegions::resolve(false, &[], &regions(&["eu-west-1"]), "aws"),
            Some(TrailRegions::Only(regions(&["eu-west-1", "us-east-1"])))
        );
        assert_eq!(
            TrailRegions::resolve(false, &[], &regions(&["us-east-1"]), "aws"),
            Some(TrailRegions::Only(regions(&["us-east-1"])))
        );
        // A partition whose global-events region is not documented: read everything.
        assert_eq!(
            TrailRegions::resolve(false, &[], &regions(&["cn-north-1"]), "aws-cn"),
            Some(TrailRegions::All)
        );
        // Nothing to go on: no request at all rather than an undocumented default.
        assert_eq!(TrailRegions::resolve(false, &[], &[], "aws"), None);
    }

    /// The codes are the API model's `JobErrorCode` enum, as the SDK generated from it.
    #[test]
    fn job_error_codes_are_the_models() {
        let ours: Vec<&str> = JobErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        let mut sdk: Vec<&str> = aws_sdk_accessanalyzer::types::JobErrorCode::values().to_vec();
        sdk.sort_unstable();
        let mut sorted = ours.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, sdk);
        for c in JobErrorCode::ALL {
            assert_eq!(JobErrorCode::parse(c.as_str()), Some(c));
        }
        let e = JobError {
            code: "AUTHORIZATION_ERROR".into(),
            message: "Access denied to the trail bucket.".into(),
        };
        assert_eq!(e.kind(), Some(JobErrorCode::AuthorizationError));
        assert!(e.describe().starts_with(
            "AUTHORIZATION_ERROR: Access denied to the trail bucket. (the access role"
        ));
        let new = JobError {
            code: "SOMETHING_NEW".into(),
            message: "m".into(),
        };
        assert_eq!(
            (new.kind(), new.describe()),
            (None, "SOMETHING_NEW: m".into())
        );
    }
}
