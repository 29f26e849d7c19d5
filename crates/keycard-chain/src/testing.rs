//! A deployed world in memory for the handlers' unit tests: the orders-service stack of
//! `crates/keycard-chain-tests/fixtures` (the one the moto tests deploy), its two roles in IAM,
//! the output bucket, and Access Analyzer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use keycard_aws::Config;
use keycard_aws::cloudformation::StackResource;
use keycard_aws::iam::{LivePolicies, LivePolicy};
use keycard_aws::memory::{MemoryAnalyzer, MemoryRoles, MemoryStack, MemoryStacks, MemoryStore};
use serde_json::Value;

use crate::contract::{ExecutionRef, Run, RunRequest};

pub(crate) const BUCKET: &str = "keycard-output";
pub(crate) const ACCOUNT: &str = "123456789012";
pub(crate) const STACK: &str = "orders-service";
pub(crate) const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-service/0f1e2d3c-aaaa-bbbb-cccc-111122223333";
pub(crate) const TEMPLATE: &str =
    include_str!("../../keycard-chain-tests/fixtures/stacks/orders-service.yaml");
const GENERATED: &str = include_str!(
    "../../keycard-chain-tests/fixtures/access-analyzer/get-generated-policy-succeeded.json"
);

pub(crate) struct World {
    pub store: MemoryStore,
    pub stacks: MemoryStacks,
    pub roles: MemoryRoles,
    pub analyzer: MemoryAnalyzer,
    pub config: Config,
    pub worker_arn: String,
    pub api_arn: String,
}

pub(crate) fn config() -> Config {
    let vars: BTreeMap<String, String> = [
        ("KEYCARD_BUCKET", BUCKET),
        (
            "KEYCARD_TRAIL_ARN",
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events",
        ),
        (
            "KEYCARD_ACCESS_ROLE_ARN",
            "arn:aws:iam::123456789012:role/keycard-trail-access",
        ),
        ("AWS_REGION", "us-east-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Config::from_map(&vars).unwrap()
}

pub(crate) fn execution() -> ExecutionRef {
    ExecutionRef {
        id: "arn:aws:states:us-east-1:123456789012:execution:keycard-chain:2026-q4".into(),
        name: "2026-q4".into(),
        start_time: "2026-10-01T06:00:00Z".parse().unwrap(),
    }
}

pub(crate) fn run() -> Run {
    let request = RunRequest {
        stacks: vec![STACK.into()],
        window_days: None,
        wait_seconds: Some(1),
        max_polls: Some(5),
        max_generations: None,
    };
    Run::from_request(&request, &execution()).unwrap()
}

fn resource(logical: &str, physical: &str, kind: &str) -> StackResource {
    StackResource {
        logical_id: logical.into(),
        physical_id: Some(physical.into()),
        resource_type: kind.into(),
        status: Some("CREATE_COMPLETE".into()),
    }
}

fn policy(name: &str, document: &str) -> LivePolicy {
    LivePolicy {
        name: name.into(),
        kind: "inline".into(),
        arn: None,
        document: serde_json::from_str(document).unwrap(),
    }
}

/// The stored GetGeneratedPolicy result of the fixture, for `role_arn`.
pub(crate) fn generated_for(role_arn: &str) -> Value {
    let mut v: Value = serde_json::from_str(GENERATED).unwrap();
    v["generatedPolicyResult"]["properties"]["principalArn"] = Value::from(role_arn);
    v
}

impl World {
    pub(crate) fn new() -> World {
        let store = MemoryStore::with_buckets(&[BUCKET]);
        let roles = MemoryRoles::default();
        let worker = roles.add(
            ACCOUNT,
            "/",
            "orders-service-OrdersWorkerRole-1QF8ZC7Y2T4MW",
            LivePolicies {
                policies: vec![
                    policy("worker", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/orders"}]}"#),
                    policy("added-by-hand", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"}]}"#),
                ],
            },
        );
        let api = roles.add(
            ACCOUNT,
            "/service/",
            "orders-service-ApiRole-7HQ2M3N4P5R6",
            LivePolicies {
                policies: vec![policy("api", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#)],
            },
        );
        let stacks = MemoryStacks::default();
        stacks.add(MemoryStack {
            name: STACK.into(),
            stack_id: STACK_ID.into(),
            resources: vec![
                resource("ApiRole", &api.name, "AWS::IAM::Role"),
                resource("OrdersQueue", "https://sqs.us-east-1.amazonaws.com/123456789012/orders-service-OrdersQueue-9ZXY", "AWS::SQS::Queue"),
                resource("OrdersReadPolicy", "arn:aws:iam::123456789012:policy/orders-service-OrdersReadPolicy-2KJH", "AWS::IAM::ManagedPolicy"),
                resource("OrdersTable", "orders-service-OrdersTable-1A2B3C", "AWS::DynamoDB::Table"),
                resource("OrdersWorkerRole", &worker.name, "AWS::IAM::Role"),
            ],
            original: TEMPLATE.into(),
            processed: None,
            drifts: Vec::new(),
        });
        World {
            store,
            stacks,
            roles,
            analyzer: MemoryAnalyzer::default(),
            config: config(),
            worker_arn: worker.arn,
            api_arn: api.arn,
        }
    }

    /// A stored object as JSON.
    pub(crate) fn json(&self, key: &str) -> Value {
        serde_json::from_slice(
            &self
                .store
                .get(BUCKET, key)
                .unwrap_or_else(|| panic!("{key} not written")),
        )
        .unwrap()
    }
}

/// Both role outcomes of a run where the worker's generation succeeded (its result stored
/// where the poll step stores it) and the API role's failed.
pub(crate) async fn outcomes(w: &World) -> Vec<crate::contract::RoleOutcome> {
    use crate::contract::{RoleOutcome, keys};
    use keycard_aws::ObjectStore;
    let run = run();
    let key = keys::generated(&run.execution_name, STACK, "OrdersWorkerRole");
    w.store
        .put_object(
            BUCKET,
            &key,
            serde_json::to_vec(&generated_for(&w.worker_arn)).unwrap(),
            "application/json",
        )
        .await
        .unwrap();
    vec![
        RoleOutcome {
            stack: STACK.into(),
            logical_id: "OrdersWorkerRole".into(),
            role_arn: w.worker_arn.clone(),
            outcome: "succeeded".into(),
            job_id: Some("0d5c3a8e-6a1f-4b7e-9f0e-2c4d8b1a7e35".into()),
            result_key: Some(key),
            polls: Some(3),
            error: None,
        },
        RoleOutcome {
            stack: STACK.into(),
            logical_id: "ApiRole".into(),
            role_arn: w.api_arn.clone(),
            outcome: "failed".into(),
            job_id: Some("5b0e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4".into()),
            result_key: None,
            polls: Some(2),
            error: Some(
                serde_json::json!({"code": "AUTHORIZATION_ERROR", "message": "Access denied to the trail's bucket"}),
            ),
        },
    ]
}

/// The diff step over [`outcomes`], drift detection started as discovery starts it.
pub(crate) async fn diffed(w: &World) -> crate::contract::DiffOutput {
    use crate::contract::{DiffInput, StackItem};
    use keycard_aws::Stacks;
    let drift = w.stacks.detect_drift(STACK, &[]).await.unwrap();
    let input = DiffInput {
        run: run(),
        stack: StackItem {
            stack: STACK.into(),
            drift_detection_id: Some(drift),
        },
        role_outcomes: outcomes(w).await,
        usage_key: None,
        trail_config: None,
    };
    let deps = crate::steps::diff::Deps {
        store: &w.store,
        stacks: &w.stacks,
        roles: &w.roles,
        checks: &w.analyzer,
    };
    crate::steps::diff::handle(&deps, &w.config, input)
        .await
        .unwrap()
}

/// The write step over [`diffed`]: the proposal files and the ledger stored.
pub(crate) async fn written(w: &World) -> crate::contract::WriteOutput {
    let input = crate::contract::WriteInput {
        run: run(),
        diff: diffed(w).await,
    };
    crate::steps::write_proposal::handle(&w.store, &w.config, input)
        .await
        .unwrap()
}
