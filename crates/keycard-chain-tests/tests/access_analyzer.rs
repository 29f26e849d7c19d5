//! Access Analyzer: the adapter and the start/poll/cancel steps against mocked responses
//! shaped like the real REST-JSON API (no local stand-in implements Access Analyzer).

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aws_sdk_accessanalyzer::Client;
use aws_smithy_mocks::mock;
use keycard_aws::access_analyzer::{
    GenerationRequest, START_RETRY_DELAYS, TrailRegions, start_generation_retrying,
};
use keycard_aws::{ErrorKind, PolicyChecks, PolicyGeneration};
use keycard_chain::contract::{self as chain, JobState, RoleInput, keys};
use keycard_chain_tests::{
    MemoryStore, config, fixture, json_response, mock_analyzer, read_repo_file,
};
use serde_json::Value;

const TRAIL: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events";
const ACCESS_ROLE: &str =
    "arn:aws:iam::123456789012:role/keycard-AccessAnalyzerTrailRole-3RBF8ZQ1VJ6K";
const JOB: &str = "0d5c3a8e-6a1f-4b7e-9f0e-2c4d8b1a7e35";

fn app_config() -> keycard_aws::Config {
    config(
        "keycard-output",
        &[
            ("KEYCARD_TRAIL_ARN", TRAIL),
            ("KEYCARD_ACCESS_ROLE_ARN", ACCESS_ROLE),
            ("KEYCARD_TRAIL_REGIONS", "us-east-1,eu-west-1"),
        ],
    )
}

fn start_input() -> RoleInput {
    serde_json::from_str(&read_repo_file("events/start-generation.json")).unwrap()
}

fn poll_input() -> RoleInput {
    serde_json::from_str(&read_repo_file("events/poll-generation.json")).unwrap()
}

fn aa_ok(file: &'static str) -> impl Fn() -> aws_sdk_accessanalyzer::config::http::HttpResponse {
    move || json_response(200, None, &fixture(&format!("access-analyzer/{file}")))
}

fn aa_err(
    status: u16,
    error_type: &'static str,
    file: &'static str,
) -> impl Fn() -> aws_sdk_accessanalyzer::config::http::HttpResponse {
    move || {
        json_response(
            status,
            Some(error_type),
            &fixture(&format!("access-analyzer/{file}")),
        )
    }
}

#[tokio::test]
async fn start_sends_the_window_trail_access_role_and_a_token_derived_from_the_execution() {
    // Given the sample input of the start step
    let input = start_input();
    let token = chain::client_token(&input.run.execution_id, &input.role.role_arn);
    let (principal, start, end) = (
        input.role.role_arn.clone(),
        input.run.window_start.timestamp(),
        input.run.window_end.timestamp(),
    );
    let rule = mock!(Client::start_policy_generation)
        .match_requests(move |req| {
            let details = req.cloud_trail_details();
            let trail = details.and_then(|d| d.trails().first());
            req.client_token() == Some(token.as_str())
                && req.policy_generation_details().map(|p| p.principal_arn())
                    == Some(principal.as_str())
                && details.map(|d| d.access_role()) == Some(ACCESS_ROLE)
                && details.map(|d| d.start_time().secs()) == Some(start)
                && details.and_then(|d| d.end_time()).map(|t| t.secs()) == Some(end)
                && trail.map(|t| t.cloud_trail_arn()) == Some(TRAIL)
                && trail.map(|t| t.regions().to_vec())
                    == Some(vec!["us-east-1".to_owned(), "eu-west-1".to_owned()])
                && trail.and_then(|t| t.all_regions()) == Some(false)
        })
        .then_http_response(aa_ok("start-policy-generation.json"));
    let aa = mock_analyzer(&[&rule]);

    // When the step runs
    let job = keycard_chain::steps::start_generation::handle(&aa, &app_config(), input)
        .await
        .unwrap();

    // Then the job is started once and polling starts from zero
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(
        job,
        JobState {
            job_id: JOB.into(),
            polls: 0,
            status: "IN_PROGRESS".into(),
            result_key: None,
            error_code: None,
            error_message: None,
        }
    );
}

#[tokio::test]
async fn start_without_a_trail_is_invalid_input_and_calls_nothing() {
    let rule = mock!(Client::start_policy_generation)
        .then_http_response(aa_ok("start-policy-generation.json"));
    let aa = mock_analyzer(&[&rule]);
    let e = keycard_chain::steps::start_generation::handle(
        &aa,
        &config("keycard-output", &[]),
        start_input(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.name(), chain::INVALID_INPUT);
    assert_eq!(rule.num_calls(), 0);
}

#[tokio::test]
async fn start_maps_quota_and_throttling_to_their_names() {
    let cases = [
        (
            402,
            "ServiceQuotaExceededException",
            "error-service-quota-exceeded.json",
            chain::QUOTA_EXCEEDED,
        ),
        (
            429,
            "ThrottlingException",
            "error-throttling.json",
            chain::TRANSIENT,
        ),
        (
            500,
            "InternalServerException",
            "error-throttling.json",
            chain::TRANSIENT,
        ),
        (
            403,
            "AccessDeniedException",
            "error-throttling.json",
            chain::ACCESS_DENIED,
        ),
        // A generation already running in the account: the state machine waits it out with
        // the quota's backoff.
        (
            409,
            "ConflictException",
            "error-conflict.json",
            chain::QUOTA_EXCEEDED,
        ),
    ];
    for (status, error_type, file, want) in cases {
        let rule = mock!(Client::start_policy_generation)
            .then_http_response(aa_err(status, error_type, file));
        let aa = mock_analyzer(&[&rule]);
        let e = keycard_chain::steps::start_generation::handle(&aa, &app_config(), start_input())
            .await
            .unwrap_err();
        assert_eq!(e.name(), want, "{error_type}: {e}");
    }
}

/// What the start step sends as the trail's regions for a deployment setting and a stack.
async fn sent_regions(
    extra: &[(&str, &str)],
    stack: Option<&str>,
) -> Result<(Vec<String>, Option<bool>), chain::StepError> {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let record = std::sync::Arc::clone(&seen);
    let rule = mock!(Client::start_policy_generation)
        .match_requests(move |req| {
            let trail = req
                .cloud_trail_details()
                .and_then(|d| d.trails().first())
                .unwrap();
            *record.lock().unwrap() = Some((trail.regions().to_vec(), trail.all_regions()));
            true
        })
        .then_http_response(aa_ok("start-policy-generation.json"));
    let aa = mock_analyzer(&[&rule]);
    let mut vars = vec![
        ("KEYCARD_TRAIL_ARN", TRAIL),
        ("KEYCARD_ACCESS_ROLE_ARN", ACCESS_ROLE),
    ];
    vars.extend_from_slice(extra);
    let mut input = start_input();
    if let Some(stack) = stack {
        input.role.stack = stack.to_owned();
    }
    keycard_chain::steps::start_generation::handle(&aa, &config("keycard-output", &vars), input)
        .await?;
    let sent = seen.lock().unwrap().clone().unwrap();
    Ok(sent)
}

#[tokio::test]
async fn start_always_names_the_trail_regions() {
    // `*`: allRegions true, no list.
    assert_eq!(
        sent_regions(&[("KEYCARD_TRAIL_REGIONS", "*")], None)
            .await
            .unwrap(),
        (vec![], Some(true))
    );
    // Nothing configured: the stack's region (the deployment's) and us-east-1, where IAM and
    // STS events are recorded.
    assert_eq!(
        sent_regions(&[("AWS_REGION", "eu-west-1")], None)
            .await
            .unwrap(),
        (
            vec!["eu-west-1".to_owned(), "us-east-1".to_owned()],
            Some(false)
        )
    );
    // A stack named by ARN: its own region.
    assert_eq!(
        sent_regions(
            &[("AWS_REGION", "eu-west-1")],
            Some(
                "arn:aws:cloudformation:ap-southeast-2:123456789012:stack/orders-service/0f1e2d3c-aaaa-bbbb-cccc-111122223333"
            )
        )
        .await
        .unwrap(),
        (
            vec!["ap-southeast-2".to_owned(), "us-east-1".to_owned()],
            Some(false)
        )
    );
    // Nothing to go on: refused, never sent with an undocumented default.
    let e = sent_regions(&[], None).await.unwrap_err();
    assert_eq!(e.name(), chain::INVALID_INPUT, "{e}");
}

fn request() -> GenerationRequest {
    GenerationRequest {
        principal_arn:
            "arn:aws:iam::123456789012:role/orders-service-OrdersWorkerRole-1QF8ZC7Y2T4MW".into(),
        trail_arn: TRAIL.into(),
        regions: TrailRegions::All,
        access_role_arn: ACCESS_ROLE.into(),
        start: "2026-07-03T06:00:04Z".parse().unwrap(),
        end: "2026-10-01T06:00:04Z".parse().unwrap(),
        client_token: "t".into(),
    }
}

#[tokio::test]
async fn a_running_generation_is_waited_out_with_the_quota_backoff() {
    // Given an account whose generation slot is taken at the first attempt
    let start = mock!(Client::start_policy_generation)
        .sequence()
        .http_response(aa_err(409, "ConflictException", "error-conflict.json"))
        .http_response(aa_ok("start-policy-generation.json"))
        .build();
    let aa = mock_analyzer(&[&start]);

    // When the CLI's start (with the state machine's delays) runs
    let mut slept = Vec::new();
    let job = start_generation_retrying(&aa, &request(), &START_RETRY_DELAYS, |d| {
        slept.push(d);
        std::future::ready(())
    })
    .await
    .unwrap();

    // Then it waited once, the first delay, and got the job
    assert_eq!(job, JOB);
    assert_eq!(start.num_calls(), 2);
    assert_eq!(slept, vec![Duration::from_secs(60)]);
}

#[tokio::test]
async fn a_slot_that_stays_taken_is_an_error_after_every_delay() {
    let start = mock!(Client::start_policy_generation)
        .sequence()
        .http_response(aa_err(409, "ConflictException", "error-conflict.json"))
        .times(3)
        .build();
    let aa = mock_analyzer(&[&start]);
    let delays = [Duration::from_secs(1), Duration::from_secs(2)];
    let mut slept = Vec::new();
    let e = start_generation_retrying(&aa, &request(), &delays, |d| {
        slept.push(d);
        std::future::ready(())
    })
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::QuotaExceeded);
    assert_eq!(e.code.as_deref(), Some("ConflictException"));
    assert_eq!(start.num_calls(), 3);
    assert_eq!(slept, delays.to_vec());

    // Errors waiting cannot fix are not retried.
    let denied = mock!(Client::start_policy_generation).then_http_response(aa_err(
        403,
        "AccessDeniedException",
        "error-throttling.json",
    ));
    let aa = mock_analyzer(&[&denied]);
    let e = start_generation_retrying(&aa, &request(), &delays, |_| std::future::ready(()))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::AccessDenied);
    assert_eq!(denied.num_calls(), 1);
}

/// The CLI's delays are the state machine's Retry on `Keycard.QuotaExceeded` for
/// StartGeneration, without the jitter: one backoff for the same condition.
#[test]
fn cli_start_delays_are_the_state_machines_quota_backoff() {
    let asl: Value =
        serde_json::from_str(&read_repo_file("statemachine/keycard.asl.json")).unwrap();
    let start = &asl["States"]["AnalyseRoles"]["ItemProcessor"]["States"]["StartGeneration"];
    let retrier = start["Retry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["ErrorEquals"]
                .as_array()
                .unwrap()
                .contains(&Value::from(chain::QUOTA_EXCEEDED))
        })
        .expect("StartGeneration retries Keycard.QuotaExceeded");
    let interval = retrier["IntervalSeconds"].as_f64().unwrap();
    let rate = retrier["BackoffRate"].as_f64().unwrap();
    let max = retrier["MaxDelaySeconds"].as_f64().unwrap_or(f64::INFINITY);
    let attempts = retrier["MaxAttempts"].as_u64().unwrap();
    let asl_delays: Vec<Duration> = (0..attempts)
        .map(|n| Duration::from_secs_f64((interval * rate.powi(n as i32)).min(max)))
        .collect();
    assert_eq!(asl_delays, START_RETRY_DELAYS.to_vec());
}

#[tokio::test]
async fn poll_sequence_in_progress_twice_then_succeeded_stores_the_result() {
    // Given a job that is still running at the first two polls
    let get = mock!(Client::get_generated_policy)
        .match_requests(|req| {
            req.job_id() == Some(JOB) && req.include_service_level_template() == Some(true)
        })
        .sequence()
        .http_response(aa_ok("get-generated-policy-in-progress.json"))
        .times(2)
        .http_response(aa_ok("get-generated-policy-succeeded.json"))
        .build();
    let aa = mock_analyzer(&[&get]);
    let store = MemoryStore::with_buckets(&["keycard-output"]);
    let cfg = app_config();
    let mut input = poll_input();
    input.job = Some(JobState {
        polls: 0,
        ..input.job.clone().unwrap()
    });

    // When the state machine polls three times
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let job = keycard_chain::steps::poll_generation::handle(&aa, &store, &cfg, input.clone())
            .await
            .unwrap();
        statuses.push((job.status.clone(), job.polls, job.result_key.clone()));
        input.job = Some(job);
    }

    // Then the Choice sees IN_PROGRESS, IN_PROGRESS, SUCCEEDED and the result is in S3
    let key = keys::generated(
        &input.run.execution_name,
        "orders-service",
        "OrdersWorkerRole",
    );
    assert_eq!(
        statuses,
        vec![
            ("IN_PROGRESS".to_owned(), 1, None),
            ("IN_PROGRESS".to_owned(), 2, None),
            ("SUCCEEDED".to_owned(), 3, Some(key.clone())),
        ]
    );
    assert_eq!(store.keys(), vec![key.clone()]);
    let stored: Value =
        serde_json::from_slice(&store.get("keycard-output", &key).unwrap()).unwrap();
    // The stored document is the API's own JSON shape.
    assert_eq!(stored["jobDetails"]["status"], "SUCCEEDED");
    assert_eq!(stored["jobDetails"]["jobId"], JOB);
    assert_eq!(stored["jobDetails"]["startedOn"], "2026-10-01T06:00:06Z");
    assert_eq!(stored["jobDetails"]["completedOn"], "2026-10-01T06:03:41Z");
    let props = &stored["generatedPolicyResult"]["properties"];
    assert_eq!(props["isComplete"], true);
    assert_eq!(
        props["principalArn"],
        "arn:aws:iam::123456789012:role/orders-service-OrdersWorkerRole-1QF8ZC7Y2T4MW"
    );
    assert_eq!(
        props["cloudTrailProperties"]["trailProperties"][0]["cloudTrailArn"],
        TRAIL
    );
    assert_eq!(
        props["cloudTrailProperties"]["startTime"],
        "2026-07-03T06:00:04Z"
    );
    let policy: Value = serde_json::from_str(
        stored["generatedPolicyResult"]["generatedPolicies"][0]["policy"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(policy["Statement"][0]["Action"][0], "dynamodb:GetItem");
    // The stored response is exactly what the API sent (modulo formatting).
    let sent: Value = serde_json::from_str(&fixture(
        "access-analyzer/get-generated-policy-succeeded.json",
    ))
    .unwrap();
    assert_eq!(stored, sent);
}

#[tokio::test]
async fn poll_reports_every_job_error_code_without_failing() {
    for (file, code) in [
        (
            "get-generated-policy-failed-authorization-error.json",
            "AUTHORIZATION_ERROR",
        ),
        (
            "get-generated-policy-failed-resource-not-found-error.json",
            "RESOURCE_NOT_FOUND_ERROR",
        ),
        (
            "get-generated-policy-failed-service-quota-exceeded-error.json",
            "SERVICE_QUOTA_EXCEEDED_ERROR",
        ),
        (
            "get-generated-policy-failed-service-error.json",
            "SERVICE_ERROR",
        ),
    ] {
        let get = mock!(Client::get_generated_policy).then_http_response(aa_ok(file));
        let aa = mock_analyzer(&[&get]);
        let store = MemoryStore::with_buckets(&["keycard-output"]);
        let job =
            keycard_chain::steps::poll_generation::handle(&aa, &store, &app_config(), poll_input())
                .await
                .unwrap();
        assert_eq!(job.status, "FAILED", "{file}");
        assert_eq!(job.polls, 3);
        assert_eq!(job.error_code.as_deref(), Some(code));
        assert!(job.error_message.as_deref().is_some_and(|m| !m.is_empty()));
        assert_eq!(job.result_key, None);
        assert!(store.keys().is_empty(), "nothing stored for a failed job");
    }
}

#[tokio::test]
async fn poll_reports_a_canceled_job() {
    let get = mock!(Client::get_generated_policy)
        .then_http_response(aa_ok("get-generated-policy-canceled.json"));
    let aa = mock_analyzer(&[&get]);
    let job = keycard_chain::steps::poll_generation::handle(
        &aa,
        &MemoryStore::with_buckets(&["keycard-output"]),
        &app_config(),
        poll_input(),
    )
    .await
    .unwrap();
    assert_eq!(job.status, "CANCELED");
    assert_eq!(job.error_code, None);
}

#[tokio::test]
async fn poll_throttling_and_server_errors_are_transient() {
    for (status, error_type) in [
        (429, "ThrottlingException"),
        (500, "InternalServerException"),
    ] {
        let get = mock!(Client::get_generated_policy).then_http_response(aa_err(
            status,
            error_type,
            "error-throttling.json",
        ));
        let aa = mock_analyzer(&[&get]);
        let e = keycard_chain::steps::poll_generation::handle(
            &aa,
            &MemoryStore::with_buckets(&["keycard-output"]),
            &app_config(),
            poll_input(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.name(), chain::TRANSIENT, "{error_type}");
    }
}

#[tokio::test]
async fn poll_without_a_job_is_invalid_input() {
    let aa = mock_analyzer(&[]);
    let e = keycard_chain::steps::poll_generation::handle(
        &aa,
        &MemoryStore::with_buckets(&["keycard-output"]),
        &app_config(),
        start_input(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.name(), chain::INVALID_INPUT);
}

fn cancel_input() -> RoleInput {
    serde_json::from_str(&read_repo_file("events/cancel-generation.json")).unwrap()
}

#[tokio::test]
async fn cancel_marks_the_job_canceled() {
    let cancel = mock!(Client::cancel_policy_generation)
        .match_requests(|req| req.job_id() == Some(JOB))
        .then_http_response(|| json_response(200, None, "{}"));
    let aa = mock_analyzer(&[&cancel]);
    let job = keycard_chain::steps::cancel_generation::handle(&aa, cancel_input())
        .await
        .unwrap();
    assert_eq!(job.status, "CANCELED");
    assert_eq!(job.polls, 30);
    assert_eq!(cancel.num_calls(), 1);
}

#[tokio::test]
async fn cancel_of_a_job_that_just_finished_is_recorded_not_failed() {
    let cancel = mock!(Client::cancel_policy_generation).then_http_response(aa_err(
        400,
        "ValidationException",
        "error-validation-cancel-finished.json",
    ));
    let aa = mock_analyzer(&[&cancel]);
    let job = keycard_chain::steps::cancel_generation::handle(&aa, cancel_input())
        .await
        .unwrap();
    assert_eq!(job.status, "IN_PROGRESS");
    assert!(
        job.error_message
            .as_deref()
            .is_some_and(|m| m.starts_with("not canceled") && m.contains("cannot be canceled")),
        "{job:?}"
    );
}

#[tokio::test]
async fn cancel_throttled_is_retried_by_the_state_machine() {
    let cancel = mock!(Client::cancel_policy_generation).then_http_response(aa_err(
        429,
        "ThrottlingException",
        "error-throttling.json",
    ));
    let aa = mock_analyzer(&[&cancel]);
    let e = keycard_chain::steps::cancel_generation::handle(&aa, cancel_input())
        .await
        .unwrap_err();
    assert_eq!(e.name(), chain::TRANSIENT);
}

#[tokio::test]
async fn adapter_classifies_errors_with_code_and_status() {
    let get = mock!(Client::get_generated_policy).then_http_response(aa_err(
        402,
        "ServiceQuotaExceededException",
        "error-service-quota-exceeded.json",
    ));
    let aa = mock_analyzer(&[&get]);
    let e = aa.generated_policy(JOB).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::QuotaExceeded);
    assert_eq!(e.code.as_deref(), Some("ServiceQuotaExceededException"));
    assert_eq!(e.status, Some(402));
    assert!(
        e.message
            .contains("maximum number of concurrent policy generations"),
        "{e}"
    );
}

#[tokio::test]
async fn validate_policy_findings_are_read() {
    let validate = mock!(Client::validate_policy)
        .match_requests(|req| {
            req.policy_type() == Some(&aws_sdk_accessanalyzer::types::PolicyType::IdentityPolicy)
        })
        .then_http_response(aa_ok("validate-policy.json"));
    let aa = mock_analyzer(&[&validate]);
    let findings = aa
        .validate_policy(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .await
        .unwrap();
    let summary: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f.finding_type.as_str(), f.issue_code.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("ERROR", "INVALID_ACTION"),
            ("SECURITY_WARNING", "PASS_ROLE_WITH_STAR_IN_RESOURCE")
        ]
    );
    assert!(findings[0].details.contains("sqs:ReceiveMessages"));
}

#[tokio::test]
async fn check_no_new_access_pass_and_fail() {
    let check = mock!(Client::check_no_new_access)
        .sequence()
        .http_response(aa_ok("check-no-new-access-fail.json"))
        .http_response(aa_ok("check-no-new-access-pass.json"))
        .build();
    let aa = mock_analyzer(&[&check]);
    let fail = aa.check_no_new_access("{}", "{}").await.unwrap();
    assert_eq!(fail.result, "FAIL");
    assert_eq!(
        fail.reasons,
        vec!["New access in the statement with index: 0."]
    );
    let pass = aa.check_no_new_access("{}", "{}").await.unwrap();
    assert_eq!(pass.result, "PASS");
    assert!(pass.reasons.is_empty());
}
