//! An IAM Access Analyzer stand-in on a loopback port, backed by keycard's own CloudTrail
//! engine.
//!
//! No local AWS implements Access Analyzer, and the chain's polling loop, idempotency and
//! error handling only show when the service behaves like the real one. This server speaks the
//! real REST/JSON shapes (the AWS SDK's own deserializers read every answer) for the calls the
//! handlers make:
//!
//! | operation | method, path |
//! |---|---|
//! | StartPolicyGeneration | `PUT /policy/generation` |
//! | GetGeneratedPolicy | `GET /policy/generation/{jobId}` |
//! | CancelPolicyGeneration | `PUT /policy/generation/{jobId}` |
//! | ValidatePolicy | `POST /policy/validation` |
//! | CheckNoNewAccess | `POST /policy/check-no-new-access` |
//!
//! Generation behaves as the service does where the chain depends on it: the same
//! `clientToken` returns the same job; one job runs per account at a time (a second start is
//! `ServiceQuotaExceededException`, HTTP 402); a job answers `IN_PROGRESS` for the first
//! `in_progress_polls` polls and then `SUCCEEDED` with a policy generated from the trail's log
//! files, read from the (moto) S3 bucket and scanned with `keycard_core::cloudtrail` for that
//! principal and window; an unknown trail fails the job with `RESOURCE_NOT_FOUND_ERROR`;
//! canceling a finished job is a `ValidationException`, and so is an unknown job id (the model
//! lists no ResourceNotFoundException for those operations). Which error a second concurrent
//! start gets is not documented (the quota page only says "Concurrent policy generations: 1";
//! StartPolicyGeneration lists both ConflictException and ServiceQuotaExceededException):
//! keycard waits out either, so the stand-in keeps the quota error.
//!
//! Every answer has the API model's shape: field names, required members (`resourceId` and
//! `resourceType` of the resource errors, `reason` of ValidationException, `isComplete` and
//! `cloudTrailProperties` of a finished job), enum values (job status, job error codes); the
//! tests check them against `tests/fixtures/access-analyzer/service-2.extract.json`, an
//! extract of botocore's model (`model_check`). The policy checks are keycard's own
//! catalog: ValidatePolicy reports actions that do not exist (`INVALID_ACTION`), and
//! CheckNoNewAccess compares the allowed actions (not resources or conditions).
//!
//! `deny_principals` makes StartPolicyGeneration answer `AccessDeniedException` for those
//! roles, as the service does when the caller may not analyse them: the end-to-end test uses
//! it for the one deliberately broken role.

mod generation;
mod policy_checks;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use keycard_aws::S3Store;
use serde_json::{Value, json};

use crate::http::{self, Message, Reply};
use generation::{cancel_generation, get_generated_policy, start_generation};
use policy_checks::{check_no_new_access, validate_policy};

/// Where a trail's log files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailSource {
    pub bucket: String,
    /// Key prefix, e.g. `AWSLogs/` or `""`.
    pub prefix: String,
}

/// How the stand-in behaves.
#[derive(Debug, Clone)]
pub struct AnalyzerSettings {
    /// Trail ARN → its bucket (the real service reads this with cloudtrail:GetTrail).
    pub trails: BTreeMap<String, TrailSource>,
    /// Polls answered `IN_PROGRESS` before the job completes.
    pub in_progress_polls: u32,
    /// Role ARNs whose policy generation is refused with `AccessDeniedException`.
    pub deny_principals: BTreeSet<String>,
}

#[derive(Debug, Clone)]
struct Job {
    id: String,
    token: Option<String>,
    account: String,
    principal: String,
    trails: Vec<Value>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    started_on: DateTime<Utc>,
    completed_on: Option<DateTime<Utc>>,
    status: &'static str,
    polls: u32,
    policies: Vec<String>,
    error: Option<(&'static str, String)>,
}

/// Counts of calls, for tests.
#[derive(Debug, Default)]
pub struct AnalyzerStats {
    pub started: AtomicU64,
    pub polls: AtomicU64,
    pub canceled: AtomicU64,
    pub denied: AtomicU64,
    pub validations: AtomicU64,
    pub access_checks: AtomicU64,
}

struct State {
    settings: AnalyzerSettings,
    store: S3Store,
    jobs: Mutex<Vec<Job>>,
    stats: Arc<AnalyzerStats>,
}

/// A running stand-in; stops when dropped.
#[derive(Debug)]
pub struct AccessAnalyzerStandIn {
    pub addr: SocketAddr,
    pub stats: Arc<AnalyzerStats>,
    stop: Arc<AtomicBool>,
}

impl AccessAnalyzerStandIn {
    /// Serves on a free 127.0.0.1 port; trail objects are read through `store`.
    pub fn start(settings: AnalyzerSettings, store: S3Store) -> std::io::Result<Self> {
        let listener = http::bind_loopback()?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(AnalyzerStats::default());
        let state = Arc::new(State {
            settings,
            store,
            jobs: Mutex::new(Vec::new()),
            stats: Arc::clone(&stats),
        });
        http::serve(listener, Arc::clone(&stop), move |req| handle(&state, req))?;
        Ok(AccessAnalyzerStandIn { addr, stats, stop })
    }
}

impl Drop for AccessAnalyzerStandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn reply(status: u16, body: &Value) -> Reply {
    (
        status,
        vec![("Content-Type".into(), "application/json".into())],
        body.to_string().into_bytes(),
    )
}

/// A REST-JSON error as the service sends it: the code in `x-amzn-ErrorType`, the body the
/// error shape of the API model (required members included).
fn error_body(status: u16, code: &str, body: &Value) -> Reply {
    let (s, mut h, b) = reply(status, body);
    h.push(("x-amzn-ErrorType".into(), code.into()));
    (s, h, b)
}

/// An error whose shape has only `message` (AccessDeniedException, InternalServerException).
fn error(status: u16, code: &str, message: &str) -> Reply {
    error_body(status, code, &json!({ "message": message }))
}

/// ConflictException, ServiceQuotaExceededException: `resourceId` and `resourceType` are
/// required members of both.
fn resource_error(status: u16, code: &str, message: &str, resource_id: &str) -> Reply {
    error_body(
        status,
        code,
        &json!({ "message": message, "resourceId": resource_id, "resourceType": "PolicyGeneration" }),
    )
}

/// ValidationException with its required `reason` (`ValidationExceptionReason`).
fn validation_because(reason: &str, message: &str) -> Reply {
    error_body(
        400,
        "ValidationException",
        &json!({ "message": message, "reason": reason }),
    )
}

fn validation(message: &str) -> Reply {
    validation_because("fieldValidationFailed", message)
}

/// An unknown job id. The model lists no ResourceNotFoundException for GetGeneratedPolicy or
/// CancelPolicyGeneration, only ValidationException.
fn no_such_job(id: &str) -> Reply {
    error_body(
        400,
        "ValidationException",
        &json!({
            "message": format!("Job {id} not found"),
            "reason": "fieldValidationFailed",
            "fieldList": [{"name": "jobId", "message": "no policy generation job has this id"}],
        }),
    )
}

fn handle(state: &State, req: Message) -> Reply {
    let path = req.path().trim_end_matches('/').to_owned();
    let body: Value = if req.body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => {
                return validation_because(
                    "cannotParse",
                    &format!("request body is not JSON: {e}"),
                );
            }
        }
    };
    match (req.method.as_str(), path.as_str()) {
        ("PUT", "/policy/generation") => start_generation(state, &body),
        ("POST", "/policy/validation") => validate_policy(state, &body),
        ("POST", "/policy/check-no-new-access") => check_no_new_access(state, &body),
        ("GET", p) if p.starts_with("/policy/generation/") => {
            get_generated_policy(state, &p["/policy/generation/".len()..])
        }
        ("PUT", p) if p.starts_with("/policy/generation/") => {
            cancel_generation(state, &p["/policy/generation/".len()..])
        }
        (m, p) => validation_because(
            "unknownOperation",
            &format!("the Access Analyzer stand-in does not implement {m} {p}"),
        ),
    }
}

#[cfg(test)]
use generation::{generated_policy_json, job_id, policies_from};
#[cfg(test)]
mod model_check;

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const ROLE: &str =
        "arn:aws:iam::123456789012:role/orders-service-OrdersWorkerRole-1QF8ZC7Y2T4MW";
    pub(super) const TRAIL: &str =
        "arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events";

    pub(super) fn state(trails: &[&str], deny: &[&str]) -> State {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::new()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .region(aws_sdk_s3::config::Region::new("us-east-1"))
                .build(),
        );
        State {
            settings: AnalyzerSettings {
                trails: trails
                    .iter()
                    .map(|t| {
                        (
                            (*t).to_owned(),
                            TrailSource {
                                bucket: "trail".into(),
                                prefix: "AWSLogs/".into(),
                            },
                        )
                    })
                    .collect(),
                in_progress_polls: 1,
                deny_principals: deny.iter().map(|d| (*d).to_owned()).collect(),
            },
            store: S3Store::new(s3),
            jobs: Mutex::new(Vec::new()),
            stats: Arc::new(AnalyzerStats::default()),
        }
    }

    pub(super) fn call(
        state: &State,
        method: &str,
        target: &str,
        body: Value,
    ) -> (u16, Option<String>, Value) {
        let (status, headers, body) = handle(
            state,
            Message {
                method: method.into(),
                target: target.into(),
                headers: Vec::new(),
                body: body.to_string().into_bytes(),
            },
        );
        let code = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-errortype"))
            .map(|(_, v)| v.clone());
        (status, code, serde_json::from_slice(&body).unwrap())
    }

    pub(super) fn start_body(principal: &str, token: &str, trail: &str) -> Value {
        json!({
            "policyGenerationDetails": {"principalArn": principal},
            "cloudTrailDetails": {
                "trails": [{"cloudTrailArn": trail, "regions": ["us-east-1"], "allRegions": false}],
                "accessRole": "arn:aws:iam::123456789012:role/keycard-access-analyzer-trail",
                "startTime": "2026-09-01T00:00:00Z",
                "endTime": "2026-11-29T00:00:00Z"
            },
            "clientToken": token
        })
    }

    #[test]
    fn generation_is_idempotent_one_at_a_time_and_polls_in_progress_first() {
        // An unknown trail: the job still runs its IN_PROGRESS polls, then fails as the
        // service does, without any S3 read.
        let s = state(&[], &[]);
        let (st, _, started) = call(
            &s,
            "PUT",
            "/policy/generation",
            start_body(ROLE, "t1", TRAIL),
        );
        assert_eq!(st, 200);
        let id = started["jobId"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 36);
        let (_, _, again) = call(
            &s,
            "PUT",
            "/policy/generation",
            start_body(ROLE, "t1", TRAIL),
        );
        assert_eq!(again["jobId"], json!(id), "same clientToken, same job");
        let other = ROLE.replace("OrdersWorker", "Api");
        let (st, code, _) = call(
            &s,
            "PUT",
            "/policy/generation",
            start_body(&other, "t2", TRAIL),
        );
        assert_eq!(
            (st, code.as_deref()),
            (402, Some("ServiceQuotaExceededException"))
        );

        let path = format!("/policy/generation/{id}");
        let (_, _, first) = call(&s, "GET", &path, json!({}));
        assert_eq!(first["jobDetails"]["status"], "IN_PROGRESS");
        assert!(first["jobDetails"].get("completedOn").is_none());
        let (_, _, second) = call(&s, "GET", &path, json!({}));
        assert_eq!(second["jobDetails"]["status"], "FAILED");
        assert_eq!(
            second["jobDetails"]["jobError"]["code"],
            "RESOURCE_NOT_FOUND_ERROR"
        );
        // Finished: the next role may start; a finished job cannot be canceled.
        let (st, _, _) = call(
            &s,
            "PUT",
            "/policy/generation",
            start_body(&other, "t2", TRAIL),
        );
        assert_eq!(st, 200);
        let (st, code, _) = call(&s, "PUT", &path, json!({}));
        assert_eq!((st, code.as_deref()), (400, Some("ValidationException")));
        let (st, code, _) = call(&s, "GET", "/policy/generation/nope", json!({}));
        assert_eq!((st, code.as_deref()), (400, Some("ValidationException")));
    }

    #[test]
    fn cancel_and_denied_principals() {
        let s = state(&[TRAIL], &[ROLE]);
        let (st, code, body) = call(
            &s,
            "PUT",
            "/policy/generation",
            start_body(ROLE, "t", TRAIL),
        );
        assert_eq!((st, code.as_deref()), (403, Some("AccessDeniedException")));
        assert!(body["message"].as_str().unwrap().contains(ROLE));
        let other = ROLE.replace("OrdersWorker", "Api");
        let (_, _, started) = call(
            &s,
            "PUT",
            "/policy/generation",
            start_body(&other, "t", TRAIL),
        );
        let path = format!("/policy/generation/{}", started["jobId"].as_str().unwrap());
        assert_eq!(call(&s, "PUT", &path, json!({})).0, 200);
        let (_, _, polled) = call(&s, "GET", &path, json!({}));
        assert_eq!(polled["jobDetails"]["status"], "CANCELED");
        assert_eq!(s.stats.canceled.load(Ordering::Relaxed), 1);
        assert_eq!(s.stats.denied.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn bad_requests_are_validation_errors() {
        let s = state(&[TRAIL], &[]);
        for body in [
            json!({}),
            json!({"policyGenerationDetails": {"principalArn": "not-an-arn"}}),
            {
                let mut b = start_body(ROLE, "t", TRAIL);
                b["cloudTrailDetails"]["endTime"] = json!("2026-01-01T00:00:00Z");
                b
            },
        ] {
            let (st, code, _) = call(&s, "PUT", "/policy/generation", body);
            assert_eq!((st, code.as_deref()), (400, Some("ValidationException")));
        }
        let (st, _, body) = call(&s, "DELETE", "/analyzer", json!({}));
        assert_eq!(
            (st, body["reason"].as_str()),
            (400, Some("unknownOperation"))
        );
    }

    #[test]
    fn validate_policy_reports_unknown_actions_with_locations() {
        let s = state(&[], &[]);
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:ReceiveMessages"],"Resource":"*"}]}"#;
        let (st, _, out) = call(
            &s,
            "POST",
            "/policy/validation",
            json!({"policyDocument": doc, "policyType": "IDENTITY_POLICY"}),
        );
        assert_eq!(st, 200);
        let findings = out["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 1, "{out}");
        assert_eq!(findings[0]["issueCode"], "INVALID_ACTION");
        assert_eq!(findings[0]["locations"][0]["path"][3]["index"], 1);
        let at = findings[0]["locations"][0]["span"]["start"]["offset"]
            .as_u64()
            .unwrap() as usize;
        assert!(doc[at..].starts_with("\"sqs:ReceiveMessages\""));
        let (_, _, bad) = call(
            &s,
            "POST",
            "/policy/validation",
            json!({"policyDocument": "{"}),
        );
        assert_eq!(bad["findings"][0]["issueCode"], "JSON_SYNTAX_ERROR");
    }

    #[test]
    fn check_no_new_access_compares_allowed_actions() {
        let s = state(&[], &[]);
        let wide = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}"#;
        let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:SendMessage"],"Resource":"*"}]}"#;
        let (_, _, pass) = call(
            &s,
            "POST",
            "/policy/check-no-new-access",
            json!({"newPolicyDocument": narrow, "existingPolicyDocument": wide, "policyType": "IDENTITY_POLICY"}),
        );
        assert_eq!(pass["result"], "PASS");
        let (_, _, fail) = call(
            &s,
            "POST",
            "/policy/check-no-new-access",
            json!({"newPolicyDocument": wide, "existingPolicyDocument": narrow, "policyType": "IDENTITY_POLICY"}),
        );
        assert_eq!(fail["result"], "FAIL");
        assert!(!fail["reasons"].as_array().unwrap().is_empty());
    }

    #[test]
    fn generated_policy_has_one_statement_per_service() {
        let text = r#"{"principals": {"arn:aws:iam::123456789012:role/r": {"actions": {
            "sqs:SendMessage": {"first_seen": "2026-09-01T00:00:00Z", "last_seen": "2026-09-02T00:00:00Z", "count": 2},
            "dynamodb:GetItem": {"first_seen": "2026-09-01T00:00:00Z", "last_seen": "2026-09-02T00:00:00Z", "count": 1},
            "dynamodb:Query": {"first_seen": "2026-09-01T00:00:00Z", "last_seen": "2026-09-02T00:00:00Z", "count": 1}}}}}"#;
        let usage: keycard_core::usage::Usage = serde_json::from_str(text).unwrap();
        let p = policies_from(&usage, "arn:aws:iam::123456789012:role/r");
        let doc: Value = serde_json::from_str(&p[0]).unwrap();
        assert_eq!(
            doc["Statement"],
            json!([
                {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": "*"},
                {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}
            ])
        );
        assert!(policies_from(&usage, "arn:aws:iam::123456789012:role/other").is_empty());
    }
}
