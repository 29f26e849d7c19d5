//! IAM Access Analyzer: policy generation (the evidence) and policy checks (the validation).
//!
//! Policy generation is a job: start it, poll it, read it. Its limits shape the whole state
//! machine: one job running per account, 50 started per day (canceled ones count), 90 days of
//! CloudTrail at most. The adapter only speaks the API; the pacing lives in the ASL.
//!
//! A finished job is kept as the JSON of the GetGeneratedPolicy response in the API's own shape
//! ([`GenerationJob::api_json`]), written to S3 and parsed by `keycard_core::access_analyzer`,
//! so the core never sees SDK types and a stored result can be re-read by any later version.

use std::future::Future;

use aws_sdk_accessanalyzer::types::{
    CloudTrailDetails, JobStatus as SdkJobStatus, PolicyGenerationDetails, PolicyType, Trail,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::AwsError;

const SERVICE: &str = "accessanalyzer";

/// Everything StartPolicyGeneration needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationRequest {
    /// The role whose activity is analysed.
    pub principal_arn: String,
    pub trail_arn: String,
    /// Regions of the trail to read; empty with `all_regions` false means the trail's home
    /// region only (AA's default).
    pub regions: Vec<String>,
    pub all_regions: bool,
    /// The role Access Analyzer assumes to read the trail (and its bucket, KMS key).
    pub access_role_arn: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Idempotency token: the same token returns the same job instead of starting another,
    /// so a retried Lambda never spends a second generation of the daily quota.
    pub client_token: String,
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

/// Why a job failed: `AUTHORIZATION_ERROR`, `RESOURCE_NOT_FOUND_ERROR`,
/// `SERVICE_QUOTA_EXCEEDED_ERROR` or `SERVICE_ERROR`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    pub code: String,
    pub message: String,
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
        let mut trail = Trail::builder()
            .cloud_trail_arn(&request.trail_arn)
            .all_regions(request.all_regions);
        for r in &request.regions {
            trail = trail.regions(r);
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
            .map_err(|e| AwsError::from_sdk(SERVICE, OP, e))?;
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
