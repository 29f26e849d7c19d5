//! The discover, diff, write and summarize steps against moto server (S3, CloudFormation,
//! IAM), with SDK mocks only where moto has nothing: drift detection and Access Analyzer.

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use aws_sdk_cloudformation::operation::describe_stack_drift_detection_status::DescribeStackDriftDetectionStatusOutput;
use aws_sdk_cloudformation::operation::describe_stack_resource_drifts::DescribeStackResourceDriftsOutput;
use aws_sdk_cloudformation::types::{
    DifferenceType, PropertyDifference, StackDriftDetectionStatus, StackDriftStatus,
    StackResourceDrift, StackResourceDriftStatus,
};
use aws_smithy_mocks::mock;
use chrono::{DateTime, Utc};
use keycard_aws::cloudformation::{DriftDetection, ResourceDrift, StackResource, TemplateStage};
use keycard_aws::{
    AccessAnalyzer, AwsError, CfnStacks, Clients, IamRoles, ObjectStore, Roles, S3Store, Stacks,
};
use keycard_chain::contract::{
    self as chain, DiffInput, DiscoverInput, ExecutionRef, RoleOutcome, Run, RunRequest, StackItem,
    WriteInput, keys,
};
use keycard_chain::steps::diff::{Deps, Staged};
use keycard_chain_tests::{
    create_stack, fixture, json_response, mock_analyzer, mock_stacks, moto_clients, moto_endpoint,
    read_repo_file, tool, unique,
};
use keycard_core::report::RoleStatus;
use keycard_core::usage::Usage;
use serde_json::Value;

fn execution(name: &str) -> ExecutionRef {
    ExecutionRef {
        id: format!(
            "arn:aws:states:us-east-1:123456789012:execution:KeycardStateMachine-Xk2JqN3pT9aB:{name}"
        ),
        name: name.to_owned(),
        start_time: "2026-10-01T06:00:04Z".parse().unwrap(),
    }
}

async fn physical_ids(clients: &Clients, stack: &str) -> BTreeMap<String, String> {
    clients
        .stacks
        .stack_resources(stack)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| Some((r.logical_id, r.physical_id?)))
        .collect()
}

async fn role_arn(clients: &Clients, name: &str) -> String {
    clients.roles.role(name).await.unwrap().arn
}

/// A JSON object a step wrote to the output bucket.
async fn stored<T: serde::de::DeserializeOwned>(clients: &Clients, bucket: &str, key: &str) -> T {
    serde_json::from_slice(&clients.s3.get_object(bucket, key).await.unwrap().unwrap()).unwrap()
}

/// The diff step's dependencies: moto for S3, stacks and roles, `checks` for Access Analyzer.
fn moto_deps<'a>(
    clients: &'a Clients,
    checks: &'a AccessAnalyzer,
) -> Deps<'a, S3Store, CfnStacks, IamRoles, AccessAnalyzer> {
    Deps {
        store: &clients.s3,
        stacks: &clients.stacks,
        roles: &clients.roles,
        checks,
    }
}

/// The diff step's input for `stack` without role outcomes or drift detection: the evidence is
/// the ledger, or the CloudTrail usage at `usage_key`.
fn diff_input(exec: &str, stack: &str, usage_key: Option<String>) -> DiffInput {
    DiffInput {
        run: run(exec),
        stack: StackItem {
            stack: stack.to_owned(),
            drift_detection_id: None,
        },
        role_outcomes: Vec::new(),
        usage_key,
        trail_config: None,
    }
}

#[tokio::test]
async fn discover_lists_roles_with_iam_arns_respects_the_budget_and_reports_the_rest() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (clients, config, sdk) = moto_clients(&endpoint).await;
    // Given one real stack with two roles, and one stack that does not exist
    let stack = unique("orders-service");
    create_stack(&sdk, &stack, &fixture("stacks/orders-service.yaml")).await;
    let missing = unique("billing-api");
    let exec = unique("run");
    let input = DiscoverInput {
        request: RunRequest {
            stacks: vec![stack.clone(), missing.clone(), stack.clone()],
            window_days: Some(30),
            wait_seconds: Some(1),
            max_polls: Some(5),
            max_generations: Some(1),
        },
        execution: execution(&exec),
    };

    // When discovery runs
    let out = keycard_chain::steps::discover::handle(
        &clients.stacks,
        &clients.roles,
        &clients.s3,
        &config,
        input,
    )
    .await
    .unwrap();

    // Then one role is scheduled (the budget), with the ARN IAM reports (path included)
    let ids = physical_ids(&clients, &stack).await;
    assert_eq!(out.roles.len(), 1);
    let role = &out.roles[0];
    assert_eq!(role.stack, stack);
    assert_eq!(role.logical_id, "ApiRole", "roles in logical-id order");
    assert_eq!(
        role.role_arn,
        format!("arn:aws:iam::123456789012:role/service/{}", ids["ApiRole"])
    );
    // the other role and the missing stack are reported, not dropped
    let skipped: Vec<(&str, &str)> = out
        .skipped
        .iter()
        .map(|s| (s.stack.as_str(), s.logical_id.as_str()))
        .collect();
    assert_eq!(
        skipped,
        vec![(missing.as_str(), ""), (stack.as_str(), "OrdersWorkerRole")]
    );
    assert!(out.skipped[0].reason.starts_with("stack not found"));
    assert!(out.skipped[1].reason.contains("maxGenerations"));
    // the stack is listed once; moto has no drift detection, which is recorded, not fatal
    assert_eq!(
        out.stacks,
        vec![StackItem {
            stack: stack.clone(),
            drift_detection_id: None
        }]
    );
    assert_eq!((out.run.window_end - out.run.window_start).num_days(), 30);
    assert_eq!(out.run.wait_seconds, 1);

    // and the manifest holds all of it
    let manifest: Value = stored(&clients, &config.bucket, &keys::manifest(&exec)).await;
    assert_eq!(
        manifest["roles"][0]["roleArn"],
        Value::from(role.role_arn.clone())
    );
    assert_eq!(manifest["skipped"].as_array().unwrap().len(), 2);
    assert_eq!(manifest["driftErrors"][0][0], Value::from(stack.clone()));
    assert_eq!(manifest["maxGenerations"], 1);
}

#[tokio::test]
async fn discover_rejects_a_budget_above_the_daily_quota() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (clients, config, _) = moto_clients(&endpoint).await;
    let input = DiscoverInput {
        request: RunRequest {
            stacks: vec!["orders".into()],
            window_days: None,
            wait_seconds: None,
            max_polls: None,
            max_generations: Some(51),
        },
        execution: execution(&unique("run")),
    };
    let e = keycard_chain::steps::discover::handle(
        &clients.stacks,
        &clients.roles,
        &clients.s3,
        &config,
        input,
    )
    .await
    .unwrap_err();
    assert_eq!(e.name(), chain::INVALID_INPUT);
}

/// Templates and resources from moto, drift from SDK mocks (moto answers drift calls with 500).
struct MotoWithMockedDrift {
    moto: CfnStacks,
    drift: CfnStacks,
}

impl Stacks for MotoWithMockedDrift {
    async fn stack_resources(&self, stack: &str) -> Result<Vec<StackResource>, AwsError> {
        self.moto.stack_resources(stack).await
    }
    async fn template(&self, stack: &str, stage: TemplateStage) -> Result<String, AwsError> {
        self.moto.template(stack, stage).await
    }
    async fn detect_drift(&self, stack: &str, logical_ids: &[String]) -> Result<String, AwsError> {
        self.drift.detect_drift(stack, logical_ids).await
    }
    async fn drift_detection(&self, id: &str) -> Result<DriftDetection, AwsError> {
        self.drift.drift_detection(id).await
    }
    async fn resource_drifts(&self, stack: &str) -> Result<Vec<ResourceDrift>, AwsError> {
        self.drift.resource_drifts(stack).await
    }
}

fn run(exec: &str) -> Run {
    let started: DateTime<Utc> = "2026-10-01T06:00:04Z".parse().unwrap();
    Run {
        execution_id: execution(exec).id,
        execution_name: exec.to_owned(),
        started_at: started,
        window_start: "2026-07-03T06:00:04Z".parse().unwrap(),
        window_end: started,
        wait_seconds: 1,
        max_polls: 5,
        manifest_key: keys::manifest(exec),
    }
}

/// A stored GetGeneratedPolicy result for `role_arn` (the sample, with the role's ARN).
fn generated_for(role_arn: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(&fixture(
        "access-analyzer/get-generated-policy-succeeded.json",
    ))
    .unwrap();
    v["generatedPolicyResult"]["properties"]["principalArn"] = Value::from(role_arn);
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test]
async fn diff_and_write_a_stack_with_one_observed_and_one_failed_role() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (clients, config, sdk) = moto_clients(&endpoint).await;
    let iam = aws_sdk_iam::Client::new(&sdk);

    // Given a deployed stack whose worker role has dynamodb:* and whose API role's generation
    // failed, plus a permission someone added to the worker role by hand
    let stack = unique("orders-service");
    let template = fixture("stacks/orders-service.yaml");
    create_stack(&sdk, &stack, &template).await;
    let ids = physical_ids(&clients, &stack).await;
    let worker = role_arn(&clients, &ids["OrdersWorkerRole"]).await;
    let api = role_arn(&clients, &ids["ApiRole"]).await;
    // moto's CloudFormation stores inline policies as Python reprs; put the same documents
    // back the way IAM stores them.
    for (role, name, doc) in [
        (
            &ids["OrdersWorkerRole"],
            "worker",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/orders"}]}"#,
        ),
        (
            &ids["ApiRole"],
            "api",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#,
        ),
        (
            &ids["OrdersWorkerRole"],
            "added-by-hand",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"}]}"#,
        ),
    ] {
        iam.put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(doc)
            .send()
            .await
            .unwrap();
    }
    let exec = unique("run");
    let result_key = keys::generated(&exec, &stack, "OrdersWorkerRole");
    clients
        .s3
        .put_object(
            &config.bucket,
            &result_key,
            generated_for(&worker),
            "application/json",
        )
        .await
        .unwrap();
    let outcomes = vec![
        RoleOutcome {
            stack: stack.clone(),
            logical_id: "OrdersWorkerRole".into(),
            role_arn: worker.clone(),
            outcome: "succeeded".into(),
            job_id: Some("0d5c3a8e-6a1f-4b7e-9f0e-2c4d8b1a7e35".into()),
            result_key: Some(result_key),
            polls: Some(4),
            error: None,
        },
        RoleOutcome {
            stack: stack.clone(),
            logical_id: "ApiRole".into(),
            role_arn: api.clone(),
            outcome: "failed".into(),
            job_id: Some("5b1f0c2d-93e4-4a8f-b7c6-1e2d3f4a5b6c".into()),
            result_key: None,
            polls: Some(3),
            error: Some(serde_json::json!({
                "code": "RESOURCE_NOT_FOUND_ERROR",
                "message": "The trail arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events could not be found."
            })),
        },
        // another stack's role: not this diff's business
        RoleOutcome {
            stack: "billing-api".into(),
            logical_id: "BillingRole".into(),
            role_arn: "arn:aws:iam::123456789012:role/billing-api-BillingRole-0AB1CD2EF3GH".into(),
            outcome: "succeeded".into(),
            job_id: None,
            result_key: Some("runs/x/generated/billing-api/BillingRole.json".into()),
            polls: Some(1),
            error: None,
        },
    ];
    // drift: finished, the worker role modified, over two pages
    let status = mock!(aws_sdk_cloudformation::Client::describe_stack_drift_detection_status)
        .match_requests(|r| {
            r.stack_drift_detection_id() == Some("b1e4a7c0-2f3d-11f1-9a8b-0e5c7d9f1a23")
        })
        .then_output(|| {
            DescribeStackDriftDetectionStatusOutput::builder()
                .stack_id(
                    "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-service/0f1e2d3c",
                )
                .stack_drift_detection_id("b1e4a7c0-2f3d-11f1-9a8b-0e5c7d9f1a23")
                .detection_status(StackDriftDetectionStatus::DetectionComplete)
                .stack_drift_status(StackDriftStatus::Drifted)
                .drifted_stack_resource_count(1)
                .build()
        });
    let drifts = mock!(aws_sdk_cloudformation::Client::describe_stack_resource_drifts)
        .sequence()
        .output(|| {
            DescribeStackResourceDriftsOutput::builder()
                .stack_resource_drifts(
                    StackResourceDrift::builder()
                        .logical_resource_id("OrdersQueue")
                        .resource_type("AWS::SQS::Queue")
                        .stack_resource_drift_status(StackResourceDriftStatus::InSync)
                        .build(),
                )
                .next_token("page-2")
                .build()
        })
        .output(|| {
            DescribeStackResourceDriftsOutput::builder()
                .stack_resource_drifts(
                    StackResourceDrift::builder()
                        .logical_resource_id("OrdersWorkerRole")
                        .resource_type("AWS::IAM::Role")
                        .stack_resource_drift_status(StackResourceDriftStatus::Modified)
                        .property_differences(
                            PropertyDifference::builder()
                                .property_path("/Policies/1")
                                .difference_type(DifferenceType::Add)
                                .expected_value("null")
                                .actual_value(r#"{"PolicyName":"added-by-hand"}"#)
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
        .build();
    let stacks = MotoWithMockedDrift {
        moto: clients.stacks.clone(),
        drift: mock_stacks(&[&status, &drifts]),
    };
    let validate = mock!(aws_sdk_accessanalyzer::Client::validate_policy)
        .then_http_response(|| json_response(200, None, r#"{"findings":[]}"#));
    let check =
        mock!(aws_sdk_accessanalyzer::Client::check_no_new_access).then_http_response(|| {
            json_response(
                200,
                None,
                &fixture("access-analyzer/check-no-new-access-pass.json"),
            )
        });
    let checks = mock_analyzer(&[&validate, &check]);

    // When the diff step runs
    let deps = Deps {
        store: &clients.s3,
        stacks: &stacks,
        roles: &clients.roles,
        checks: &checks,
    };
    let input = DiffInput {
        run: run(&exec),
        stack: StackItem {
            stack: stack.clone(),
            drift_detection_id: Some("b1e4a7c0-2f3d-11f1-9a8b-0e5c7d9f1a23".into()),
        },
        role_outcomes: outcomes,
        usage_key: None,
        trail_config: None,
    };
    let diff = keycard_chain::steps::diff::handle(&deps, &config, input)
        .await
        .unwrap();

    // Then the staged result holds the proposal and the deployment facts
    assert_eq!(diff.staged_key, keys::staged(&exec, &stack));
    let staged: Staged = stored(&clients, &config.bucket, &diff.staged_key).await;
    let roles = &staged.report.roles;
    let w = &roles["OrdersWorkerRole"];
    assert_eq!(w.status, RoleStatus::Proposed, "{w:?}");
    assert_eq!(w.arn.as_deref(), Some(worker.as_str()));
    assert!(
        w.removed_actions
            .iter()
            .any(|a| a == "dynamodb:DeleteTable"),
        "{:?}",
        w.removed_actions
    );
    assert!(w.proposed_actions.iter().any(|a| a == "dynamodb:GetItem"));
    // the role without evidence is left alone: unmatched, never "no activity"
    assert_eq!(roles["ApiRole"].status, RoleStatus::Unmatched);
    assert_ne!(staged.template, template);
    assert!(staged.diff.contains("dynamodb"), "{}", staged.diff);
    assert_eq!(staged.template_file, "template.yaml");

    let dep = &staged.deployment;
    let by_id: BTreeMap<&str, &keycard_chain::steps::diff::RoleEvidence> = dep
        .roles
        .iter()
        .map(|r| (r.logical_id.as_str(), r))
        .collect();
    assert_eq!(by_id.len(), 2, "only this stack's roles");
    assert!(by_id["OrdersWorkerRole"].evidence_used);
    assert!(!by_id["ApiRole"].evidence_used);
    assert_eq!(
        by_id["ApiRole"].detail.as_deref(),
        Some(
            "RESOURCE_NOT_FOUND_ERROR: The trail arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events could not be found."
        )
    );
    // the permission added by hand shows up
    assert_eq!(
        by_id["OrdersWorkerRole"].live_not_in_template,
        vec!["s3:DeleteBucket"]
    );
    let live_names: Vec<&str> = by_id["OrdersWorkerRole"]
        .live
        .as_ref()
        .unwrap()
        .policies
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(live_names, vec!["added-by-hand", "worker"]);
    // checks ran on the proposed role only
    let c = by_id["OrdersWorkerRole"].checks.as_ref().unwrap();
    assert_eq!(c.no_new_access.as_ref().unwrap().result, "PASS");
    assert!(by_id["ApiRole"].checks.is_none());
    assert_eq!((validate.num_calls(), check.num_calls()), (1, 1));
    // drift: IAM resources not in sync only, across both pages
    assert_eq!(dep.drift.status, "complete");
    assert_eq!(dep.drift.stack_drift_status.as_deref(), Some("DRIFTED"));
    assert_eq!(dep.drift.iam_resources.len(), 1);
    assert_eq!(dep.drift.iam_resources[0].logical_id, "OrdersWorkerRole");
    assert_eq!(dep.drift.iam_resources[0].differences[0].difference, "ADD");

    // When the write step runs
    let written = keycard_chain::steps::write_proposal::handle(
        &clients.s3,
        &config,
        WriteInput {
            run: run(&exec),
            diff: diff.clone(),
        },
    )
    .await
    .unwrap();

    // Then the artifacts are under proposals/<stack>/<execution>/ and the ledger is updated
    let prefix = format!("proposals/{stack}/{exec}/");
    assert_eq!(written.prefix, prefix);
    let listed: Vec<String> = clients
        .s3
        .list_objects(&config.bucket, &prefix)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key.trim_start_matches(&prefix).to_owned())
        .collect();
    assert_eq!(
        listed,
        vec![
            "deployment.json",
            "report.html",
            "report.json",
            "report.md",
            "template.diff",
            "template.yaml"
        ]
    );
    let get = |k: String| {
        let s3 = clients.s3.clone();
        let bucket = config.bucket.clone();
        async move { String::from_utf8(s3.get_object(&bucket, &k).await.unwrap().unwrap()).unwrap() }
    };
    let md = get(format!("{prefix}report.md")).await;
    assert!(md.contains(&format!("## Deployed stack `{stack}`")), "{md}");
    assert!(md.contains("**s3:DeleteBucket**"));
    assert!(md.contains("RESOURCE_NOT_FOUND_ERROR"));
    let report: Value = serde_json::from_str(&get(format!("{prefix}report.json")).await).unwrap();
    assert_eq!(report["roles"]["OrdersWorkerRole"]["status"], "proposed");
    let ledger: keycard_core::ledger::Ledger =
        serde_json::from_str(&get(keys::ledger(&stack)).await).unwrap();
    assert_eq!(ledger.format, "keycard-ledger");
    assert_eq!(ledger.stack.as_deref(), Some(stack.as_str()));
    let ledger = ledger.usage;
    assert!(ledger.principals.contains_key(&worker));
    assert!(
        !ledger.principals.contains_key(&api),
        "no evidence, nothing remembered"
    );
    let proposed = get(format!("{prefix}template.yaml")).await;
    assert_eq!(proposed, staged.template);

    // and the proposed template passes cfn-lint
    if let Some(cfn_lint) = tool("cfn-lint") {
        let dir = std::env::temp_dir().join(unique("keycard-proposal"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("template.yaml");
        std::fs::write(&path, &proposed).unwrap();
        let out = std::process::Command::new(cfn_lint)
            .arg(&path)
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "cfn-lint on the proposal:\n{}\n{proposed}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[tokio::test]
async fn diff_refuses_a_corrupt_ledger() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (clients, config, sdk) = moto_clients(&endpoint).await;
    let stack = unique("orders-service");
    create_stack(&sdk, &stack, &fixture("stacks/orders-service.yaml")).await;
    // Not JSON, another stack's ledger (a copied object), and JSON that is not a ledger.
    let bodies = [
        b"{\"principals\": [".to_vec(),
        keycard_core::ledger::Ledger::new(
            keycard_core::ledger::LedgerIdentity {
                stack: Some("billing".into()),
                account: Some("123456789012".into()),
            },
            Usage::default(),
        )
        .to_json()
        .into_bytes(),
        b"{\"roles\": {}, \"summary\": {}}".to_vec(),
    ];
    for body in bodies {
        clients
            .s3
            .put_object(
                &config.bucket,
                &keys::ledger(&stack),
                body,
                "application/json",
            )
            .await
            .unwrap();
        let checks = mock_analyzer(&[]);
        let input = diff_input(&unique("run"), &stack, None);
        let e = keycard_chain::steps::diff::handle(&moto_deps(&clients, &checks), &config, input)
            .await
            .unwrap_err();
        assert_eq!(e.name(), chain::INVALID_EVIDENCE, "{e}");
    }
}

#[tokio::test]
async fn diff_of_a_deleted_stack_is_not_found() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (clients, config, _) = moto_clients(&endpoint).await;
    let checks = mock_analyzer(&[]);
    let input = diff_input(&unique("run"), &unique("gone"), None);
    let e = keycard_chain::steps::diff::handle(&moto_deps(&clients, &checks), &config, input)
        .await
        .unwrap_err();
    assert_eq!(e.name(), chain::NOT_FOUND, "{e}");
}

#[tokio::test]
async fn diff_in_cloudtrail_mode_uses_the_merged_usage_for_every_role() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (clients, config, sdk) = moto_clients(&endpoint).await;
    let stack = unique("orders-service");
    create_stack(&sdk, &stack, &fixture("stacks/orders-service.yaml")).await;
    let ids = physical_ids(&clients, &stack).await;
    let worker = role_arn(&clients, &ids["OrdersWorkerRole"]).await;
    // Given the reduce step's usage: the worker read and wrote items, the API role did nothing
    let seen: DateTime<Utc> = "2026-09-14T10:21:07Z".parse().unwrap();
    let mut usage = Usage::default();
    let pu = usage.principals.entry(worker.clone()).or_default();
    for action in ["dynamodb:GetItem", "dynamodb:PutItem", "sqs:ReceiveMessage"] {
        pu.actions.insert(
            action.to_owned(),
            keycard_core::usage::ActionUsage::seen_once(seen),
        );
    }
    pu.sources
        .insert(keycard_core::usage::EvidenceSource::Cloudtrail);
    let exec = unique("run");
    let usage_key = format!("runs/{exec}/cloudtrail/usage.json");
    clients
        .s3
        .put_object(
            &config.bucket,
            &usage_key,
            serde_json::to_vec(&usage).unwrap(),
            "application/json",
        )
        .await
        .unwrap();
    let checks = mock_analyzer(&[
        &mock!(aws_sdk_accessanalyzer::Client::validate_policy)
            .then_http_response(|| json_response(200, None, r#"{"findings":[]}"#)),
        &mock!(aws_sdk_accessanalyzer::Client::check_no_new_access).then_http_response(|| {
            json_response(
                200,
                None,
                &fixture("access-analyzer/check-no-new-access-pass.json"),
            )
        }),
    ]);
    let deps = moto_deps(&clients, &checks);

    // When the diff runs with the usage key and no role outcomes (the CloudTrail ASL's input)
    let input = diff_input(&exec, &stack, Some(usage_key));
    let diff = keycard_chain::steps::diff::handle(&deps, &config, input)
        .await
        .unwrap();

    // Then every role of the stack is judged on the scan
    let staged: Staged = stored(&clients, &config.bucket, &diff.staged_key).await;
    let roles = &staged.report.roles;
    assert_eq!(roles["OrdersWorkerRole"].status, RoleStatus::Proposed);
    assert!(
        roles["OrdersWorkerRole"]
            .removed_actions
            .iter()
            .any(|a| a == "dynamodb:DeleteTable")
    );
    assert_eq!(
        roles["ApiRole"].status,
        RoleStatus::NoActivity,
        "the whole trail was read"
    );
    let outcomes: Vec<(&str, &str, bool)> = staged
        .deployment
        .roles
        .iter()
        .map(|r| (r.logical_id.as_str(), r.outcome.as_str(), r.evidence_used))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("ApiRole", "cloudtrail", false),
            ("OrdersWorkerRole", "cloudtrail", true)
        ]
    );

    // A missing usage object is an evidence error, not an empty proposal.
    let missing = Some(format!("runs/{exec}/cloudtrail/missing.json"));
    let e = keycard_chain::steps::diff::handle(&deps, &config, diff_input(&exec, &stack, missing))
        .await
        .unwrap_err();
    assert_eq!(e.name(), chain::INVALID_EVIDENCE);
}

#[tokio::test]
async fn summarize_counts_outcomes_and_writes_the_summary() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (clients, config, _) = moto_clients(&endpoint).await;
    let input: chain::SummaryInput =
        serde_json::from_str(&read_repo_file("events/summarize.json")).unwrap();
    let summary = keycard_chain::steps::summarize::handle(&clients.s3, &config, input.clone())
        .await
        .unwrap();
    assert_eq!(
        summary.roles,
        BTreeMap::from([
            ("failed".to_owned(), 1),
            ("skipped".to_owned(), 1),
            ("succeeded".to_owned(), 1)
        ])
    );
    let problems: Vec<(&str, &str)> = summary
        .problems
        .iter()
        .map(|p| (p.logical_id.as_str(), p.outcome.as_str()))
        .collect();
    assert_eq!(
        problems,
        vec![("ApiFunctionRole", "failed"), ("", "skipped")]
    );
    assert!(
        summary.problems[0]
            .detail
            .starts_with("RESOURCE_NOT_FOUND_ERROR: ")
    );
    assert_eq!(summary.stacks, input.stack_outcomes);
    let written: Value = stored(&clients, &config.bucket, &summary.summary_key).await;
    assert_eq!(written["execution"], "2026-q4-manual");
    assert_eq!(summary.summary_key, "runs/2026-q4-manual/summary.json");
}
