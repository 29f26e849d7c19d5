//! The diff step with the trail configuration the state machines read through their AWS SDK
//! tasks (`trailConfig`: DescribeTrails, GetEventSelectors, GetTrailStatus, in the shapes
//! Step Functions returns them): what the report says the evidence could see, per mode.
//! S3, CloudFormation and IAM are moto; Access Analyzer's checks are an in-memory double.

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use keycard_aws::access_analyzer::{AccessCheck, ValidationFinding};
use keycard_aws::{AwsError, Clients, Config, ObjectStore, PolicyChecks, Roles, Stacks};
use keycard_chain::contract::{DiffInput, Run, StackItem, keys};
use keycard_chain::steps::diff::{Deps, Staged};
use keycard_chain_tests::{create_stack, fixture, moto_clients, moto_endpoint, unique};
use keycard_core::coverage::{Basis, ReadWrite};
use keycard_core::report::{Report, RoleStatus};
use keycard_core::usage::{ActionUsage, EvidenceSource, Usage};
use serde_json::{Value, json};

const TRAIL: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events";

/// ValidatePolicy and CheckNoNewAccess with nothing to say.
struct QuietChecks;

impl PolicyChecks for QuietChecks {
    async fn validate_policy(&self, _: &str) -> Result<Vec<ValidationFinding>, AwsError> {
        Ok(Vec::new())
    }
    async fn check_no_new_access(&self, _: &str, _: &str) -> Result<AccessCheck, AwsError> {
        Ok(AccessCheck {
            result: "PASS".into(),
            message: None,
            reasons: Vec::new(),
        })
    }
}

fn run(exec: &str) -> Run {
    let started: DateTime<Utc> = "2026-10-01T06:00:04Z".parse().unwrap();
    Run {
        execution_id: format!(
            "arn:aws:states:us-east-1:123456789012:execution:KeycardStateMachine-Xk2JqN3pT9aB:{exec}"
        ),
        execution_name: exec.to_owned(),
        started_at: started,
        window_start: "2026-07-03T06:00:04Z".parse().unwrap(),
        window_end: started,
        wait_seconds: 1,
        max_polls: 5,
        manifest_key: keys::manifest(exec),
    }
}

/// `trailConfig` as the three SDK tasks leave it: the responses with Step Functions' casing
/// (`TrailList`), the values of the AWS CLI's documented examples (describe-trails,
/// get-event-selectors, get-trail-status) for this account's trail.
fn trail_config(multi_region: bool, selectors: Value) -> Value {
    json!({
        "trail": TRAIL,
        "describeTrails": {"TrailList": [{
            "IncludeGlobalServiceEvents": true,
            "Name": "management-events",
            "TrailARN": TRAIL,
            "LogFileValidationEnabled": false,
            "IsMultiRegionTrail": multi_region,
            "S3BucketName": "amzn-s3-demo-bucket",
            "HomeRegion": "us-east-1"
        }]},
        "eventSelectors": selectors,
        "trailStatus": {
            "LatestDeliveryAttemptTime": "2026-10-01T05:57:12Z",
            "LatestDeliveryTime": 1790834232.869,
            "TimeLoggingStarted": "2025-03-10T11:34:51Z",
            "LatestDeliveryAttemptSucceeded": "2026-10-01T05:57:12Z",
            "IsLogging": true,
            "StartLoggingTime": 1741606491.695
        }
    })
}

/// get-event-selectors of a trail created with the defaults: management events, no data.
fn default_selectors() -> Value {
    json!({
        "EventSelectors": [{"IncludeManagementEvents": true, "DataResources": [], "ReadWriteType": "All"}],
        "TrailARN": TRAIL
    })
}

struct Setup {
    clients: Clients,
    config: Config,
    stack: String,
    worker: String,
}

/// A deployed orders-service stack, its worker role's ARN.
async fn setup(endpoint: &str) -> Setup {
    let (clients, config, sdk) = moto_clients(endpoint).await;
    let stack = unique("orders-service");
    create_stack(&sdk, &stack, &fixture("stacks/orders-service.yaml")).await;
    let physical = clients
        .stacks
        .stack_resources(&stack)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.logical_id == "OrdersWorkerRole")
        .and_then(|r| r.physical_id)
        .unwrap();
    let worker = clients.roles.role(&physical).await.unwrap().arn;
    Setup {
        clients,
        config,
        stack,
        worker,
    }
}

/// CloudTrail mode: the reduce step's usage (the worker read orders and received messages),
/// then the diff with `trail_config`; returns the staged report.
async fn cloudtrail_diff(s: &Setup, trail_config: Option<Value>) -> Report {
    let seen: DateTime<Utc> = "2026-09-14T10:21:07Z".parse().unwrap();
    let mut usage = Usage::default();
    let pu = usage.principals.entry(s.worker.clone()).or_default();
    for action in [
        "dynamodb:GetItem",
        "dynamodb:DescribeTable",
        "sqs:ReceiveMessage",
    ] {
        pu.actions
            .insert(action.to_owned(), ActionUsage::seen_once(seen));
    }
    pu.sources.insert(EvidenceSource::Cloudtrail);
    let exec = unique("run");
    let usage_key = format!("runs/{exec}/cloudtrail/usage.json");
    s.clients
        .s3
        .put_object(
            &s.config.bucket,
            &usage_key,
            serde_json::to_vec(&usage).unwrap(),
            "application/json",
        )
        .await
        .unwrap();
    let input = DiffInput {
        run: run(&exec),
        stack: StackItem {
            stack: s.stack.clone(),
            drift_detection_id: None,
        },
        role_outcomes: Vec::new(),
        usage_key: Some(usage_key),
        trail_config,
    };
    diff(s, input).await
}

async fn diff(s: &Setup, input: DiffInput) -> Report {
    let deps = Deps {
        store: &s.clients.s3,
        stacks: &s.clients.stacks,
        roles: &s.clients.roles,
        checks: &QuietChecks,
    };
    let out = keycard_chain::steps::diff::handle(&deps, &s.config, input)
        .await
        .unwrap();
    let staged: Staged = serde_json::from_slice(
        &s.clients
            .s3
            .get_object(&s.config.bucket, &out.staged_key)
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    // What write-proposal writes as report.json parses back to the same report.
    let json: Value = serde_json::from_str(&staged.report.to_json()).unwrap();
    assert!(json["coverage"]["basis"]["kind"].is_string());
    staged.report
}

fn unobservable<'r>(report: &'r Report, role: &str) -> Vec<(&'r str, &'r str)> {
    report.roles[role]
        .unobservable_actions
        .iter()
        .map(|u| (u.action.as_str(), u.reason.as_str()))
        .collect()
}

#[tokio::test]
async fn cloudtrail_mode_management_only_trail_keeps_every_data_event_action() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    // Given a trail with the default selectors (no data events)
    let s = setup(&endpoint).await;

    // When the diff runs with its configuration
    let report = cloudtrail_diff(&s, Some(trail_config(true, default_selectors()))).await;

    // Then the coverage is the trail's, and item and message actions are kept as unobservable
    let c = &report.coverage.coverage;
    assert_eq!(
        c.basis,
        Basis::TrailConfig {
            trails: vec![TRAIL.into()]
        }
    );
    assert_eq!(c.management, ReadWrite::BOTH);
    assert!(c.data.is_empty());
    assert_eq!(c.regions, None, "a multi-region trail");
    let worker = &report.roles["OrdersWorkerRole"];
    assert_eq!(worker.status, RoleStatus::Proposed);
    let kept = unobservable(&report, "OrdersWorkerRole");
    for action in [
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "sqs:DeleteMessage",
    ] {
        let reason = kept
            .iter()
            .find(|(a, _)| *a == action)
            .map(|(_, r)| *r)
            .unwrap_or_else(|| panic!("{action} not unobservable: {kept:?}"));
        assert!(reason.contains("data event"), "{action}: {reason}");
        assert!(
            !worker.removed_actions.iter().any(|a| a == action),
            "{action}"
        );
    }
    // A management write the trail records and the role never made is removed.
    assert!(
        worker
            .removed_actions
            .iter()
            .any(|a| a == "dynamodb:DeleteTable")
    );
    assert!(
        report
            .coverage
            .notes
            .iter()
            .any(|n| n.contains("configuration of") && n.contains(TRAIL)),
        "{:?}",
        report.coverage.notes
    );
}

#[tokio::test]
async fn cloudtrail_mode_trail_with_dynamodb_data_events_narrows_item_actions() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    // Given advanced selectors: management events, and DynamoDB data events on every table
    let s = setup(&endpoint).await;
    let selectors = json!({
        "TrailARN": TRAIL,
        "AdvancedEventSelectors": [
            {"Name": "Management events selector", "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Management"]}
            ]},
            {"Name": "DynamoDB data events", "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]}
            ]}
        ]
    });

    // When the diff runs with it
    let report = cloudtrail_diff(&s, Some(trail_config(true, selectors))).await;

    // Then unused item actions are removed, queue actions are still unobservable
    let c = &report.coverage.coverage;
    assert!(c.data.contains_key("AWS::DynamoDB::Table"));
    let worker = &report.roles["OrdersWorkerRole"];
    for action in ["dynamodb:PutItem", "dynamodb:DeleteItem"] {
        assert!(
            worker.removed_actions.iter().any(|a| a == action),
            "{action}: {:?}",
            worker.removed_actions
        );
    }
    assert!(
        worker
            .proposed_actions
            .iter()
            .any(|a| a == "dynamodb:GetItem")
    );
    let kept = unobservable(&report, "OrdersWorkerRole");
    assert!(
        kept.iter().any(|(a, _)| *a == "sqs:DeleteMessage"),
        "{kept:?}"
    );
    assert!(
        !kept.iter().any(|(a, _)| a.starts_with("dynamodb:")),
        "{kept:?}"
    );
}

#[tokio::test]
async fn a_trail_configuration_that_could_not_be_read_changes_nothing_and_says_why() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let s = setup(&endpoint).await;
    let baseline = cloudtrail_diff(&s, None).await;

    // Given the Catch of ReadEventSelectors: the trail was not found
    let mut caught = trail_config(true, default_selectors());
    caught["error"] = json!({
        "Error": "CloudTrail.TrailNotFoundException",
        "Cause": "Unknown trail: arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events for the user: 123456789012 (Service: CloudTrail, Status Code: 400, Request ID: 7c5a3b1e-2f4d-4c8e-9a6b-0d1e2f3a4b5c)"
    });
    let report = cloudtrail_diff(&s, Some(caught)).await;

    // Then the coverage is what it is without it, and a note says why
    assert_eq!(report.coverage.coverage, baseline.coverage.coverage);
    assert!(
        report
            .coverage
            .notes
            .iter()
            .any(|n| n
                .contains("could not be read (CloudTrail.TrailNotFoundException: Unknown trail")),
        "{:?}",
        report.coverage.notes
    );
}

#[tokio::test]
async fn access_analyzer_mode_is_narrowed_by_a_write_only_single_region_trail() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    // Given a generated policy for the worker role, and a single-region trail that records
    // write management events only
    let s = setup(&endpoint).await;
    let exec = unique("run");
    let result_key = format!("runs/{exec}/generated/{}/OrdersWorkerRole.json", s.stack);
    let mut generated: Value = serde_json::from_str(&fixture(
        "access-analyzer/get-generated-policy-succeeded.json",
    ))
    .unwrap();
    generated["generatedPolicyResult"]["properties"]["principalArn"] = json!(s.worker);
    s.clients
        .s3
        .put_object(
            &s.config.bucket,
            &result_key,
            serde_json::to_vec(&generated).unwrap(),
            "application/json",
        )
        .await
        .unwrap();
    let outcome = json!({"stack": s.stack, "logicalId": "OrdersWorkerRole", "roleArn": s.worker,
        "outcome": "succeeded", "jobId": "0d5c3a8e-6a1f-4b7e-9f0e-2c4d8b1a7e35",
        "resultKey": result_key, "polls": 2});
    let write_only = json!({
        "EventSelectors": [{"IncludeManagementEvents": true, "DataResources": [], "ReadWriteType": "WriteOnly"}],
        "TrailARN": TRAIL
    });
    let input = DiffInput {
        run: run(&exec),
        stack: StackItem {
            stack: s.stack.clone(),
            drift_detection_id: None,
        },
        role_outcomes: vec![serde_json::from_value(outcome).unwrap()],
        usage_key: None,
        trail_config: Some(trail_config(false, write_only)),
    };

    // When the diff runs
    let report = diff(&s, input).await;

    // Then the coverage is still Access Analyzer's, without reads and outside us-east-1
    let c = &report.coverage.coverage;
    assert_eq!(c.basis, Basis::AccessAnalyzer);
    assert_eq!(
        c.management,
        ReadWrite {
            read: false,
            write: true
        }
    );
    assert_eq!(c.regions, Some(["us-east-1".to_owned()].into()));
    assert!(c.data.is_empty(), "Access Analyzer reports no data events");
    let kept = unobservable(&report, "OrdersWorkerRole");
    let reason = kept
        .iter()
        .find(|(a, _)| *a == "dynamodb:DescribeTable")
        .map(|(_, r)| *r)
        .unwrap_or_else(|| panic!("a read management event: {kept:?}"));
    assert!(reason.contains("write-only"), "{reason}");
    assert!(
        !report.roles["OrdersWorkerRole"]
            .removed_actions
            .iter()
            .any(|a| a == "dynamodb:DescribeTable")
    );
    assert!(
        report
            .coverage
            .notes
            .iter()
            .any(|n| n.contains("narrowed by its configuration")),
        "{:?}",
        report.coverage.notes
    );
}
