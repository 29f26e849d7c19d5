//! Plan, batch and reduce against the in-memory S3: a small generated trail, the Distributed
//! Map replayed (ItemReader listing, ItemBatcher cut, ResultWriter files), and the merged usage
//! compared with one process scanning the same files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use keycard_aws::ObjectStore;
use keycard_aws::memory::MemoryStore;
use keycard_core::cloudtrail::{ScanOptions, scan_dir};
use keycard_core::usage::Usage;
use serde_json::{Value, json};

use super::*;
use crate::contract::{ExecutionRef, INVALID_INPUT};

pub(crate) const TRAIL_BUCKET: &str = "aws-cloudtrail-logs-123456789012-3f2a1b0c";
pub(crate) const OUT: &str = "keycard-output";
const ACCOUNT: &str = "123456789012";

/// One role over four days in one region (keycard-tracegen, CloudTrail's real key layout).
pub(crate) fn generate(dir: &std::path::Path) {
    let scenario = json!({
        "seed": 7, "account": ACCOUNT, "regions": ["us-east-1"],
        "start": "2025-03-01T00:00:00Z", "end": "2025-03-05T00:00:00Z",
        "file_interval_minutes": 180, "digests": true,
        "principals": [{
            "name": "orders-ApiFunctionRole-1A2B3C4D5E6F",
            "session_name": "orders-ApiFunction-7G8H9I0J",
            "assumed_by": "lambda.amazonaws.com",
            "calls": [
                {"event_source": "dynamodb.amazonaws.com", "event_name": "GetItem", "schedule": "hourly",
                 "request_parameters": {"tableName": "orders"},
                 "resources": [{"accountId": ACCOUNT, "type": "AWS::DynamoDB::Table",
                                "ARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders"}]},
                {"event_source": "iam.amazonaws.com", "event_name": "PassRole", "schedule": "daily",
                 "request_parameters": {"roleName": "orders-worker"}}
            ]
        }],
        "malformed": {}
    });
    let scenario = keycard_tracegen::Scenario::from_json(&scenario.to_string()).unwrap();
    keycard_tracegen::generate(&scenario, dir).unwrap();
}

/// A store holding the generated trail under its relative paths, and the output bucket.
pub(crate) async fn trail_store(dir: &std::path::Path, page_size: usize) -> MemoryStore {
    let store = MemoryStore::with_page_size(page_size);
    store.create_bucket(TRAIL_BUCKET);
    store.create_bucket(OUT);
    upload_dir(&store, TRAIL_BUCKET, dir).await;
    store
}

/// Every file below `dir` put into `bucket` at its path relative to `dir` (the generator
/// writes CloudTrail's key layout).
pub(crate) async fn upload_dir(store: &MemoryStore, bucket: &str, dir: &std::path::Path) {
    let mut files = vec![dir.to_path_buf()];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let key = p
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let body = std::fs::read(&p).unwrap();
        store
            .put_object(bucket, &key, body, "application/gzip")
            .await
            .unwrap();
    }
}

/// `value` as a JSON object at `key` of the output bucket (a ResultWriter file or manifest).
pub(crate) async fn put_json(store: &MemoryStore, key: &str, value: &impl serde::Serialize) {
    let body = serde_json::to_vec(value).unwrap();
    store
        .put_object(OUT, key, body, "application/json")
        .await
        .unwrap();
}

/// Reduce over the ResultWriter manifest at `{base}/manifest.json` of the output bucket.
pub(crate) async fn reduce_at(
    store: &MemoryStore,
    plan: &PlanOutput,
    base: &str,
) -> Result<ReduceOutput, crate::contract::StepError> {
    let input = ReduceInput {
        settings: plan.settings.clone(),
        result_writer: ResultWriterDetails {
            bucket: OUT.into(),
            key: format!("{base}/manifest.json"),
        },
    };
    reduce(store, OUT, input).await
}

/// What one process scanning the trail below `root` over the plan's window finds: the usage the
/// chain's merged result must equal.
pub(crate) fn single_process_usage(root: &std::path::Path, plan: &PlanOutput) -> Usage {
    let options = ScanOptions {
        principals: None,
        start: Some(plan.settings.window_start),
        end: Some(plan.settings.window_end),
        threads: Some(1),
    };
    scan_dir(root, &options).unwrap().usage
}

/// The keys below `prefix` of `bucket` that the plan's selection keeps for scanning, in key
/// order: what the item file must hold.
pub(crate) async fn keys_to_scan(
    store: &MemoryStore,
    bucket: &str,
    prefix: &str,
    plan: &PlanOutput,
) -> Vec<String> {
    let selection = Selection::new(
        &plan.settings.trail,
        plan.settings.window_start,
        plan.settings.window_end,
    );
    store
        .list_objects(bucket, prefix)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| selection.classify(&o.key) == KeyClass::Scan)
        .map(|o| o.key)
        .collect()
}

pub(crate) fn plan_input(per_batch: u32) -> PlanInput {
    PlanInput {
        request: TrailRequest {
            stacks: vec!["orders".into()],
            trail: TrailLocation {
                bucket: TRAIL_BUCKET.into(),
                prefix: None,
                organization_id: None,
                accounts: vec![ACCOUNT.into()],
                regions: vec!["us-east-1".into()],
                trail_arn: None,
            },
            window_days: Some(2),
            principals: None,
            batching: Some(Batching {
                max_objects_per_batch: per_batch,
                ..Batching::default()
            }),
        },
        execution: ExecutionRef {
            id: "arn:aws:states:us-east-1:123456789012:execution:keycard-cloudtrail:ct-1".into(),
            name: "ct-1".into(),
            start_time: "2025-03-04T06:00:00Z".parse().unwrap(),
        },
    }
}

/// The grant of a stack deployed with `TrailBucketName` = the fixture's trail bucket.
pub(crate) fn grant() -> TrailGrant {
    TrailGrant {
        bucket: TRAIL_BUCKET.into(),
        owner: None,
    }
}

/// The items the map's ItemReader reads from the plan's item file (JSON Lines, one item a
/// line), in order.
pub(crate) fn items_of(store: &MemoryStore, plan: &PlanOutput) -> Vec<BatchItem> {
    let file = store
        .get(OUT, &plan.listing.items_key)
        .expect("the item file");
    file.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// The item file cut into ItemBatcher batches, one child each, run with `store` (the
/// batch function's client).
pub(crate) async fn run_map(store: &MemoryStore, plan: &PlanOutput) -> Vec<BatchOutput> {
    let items = items_of(store, plan);
    let mut outputs = Vec::new();
    for chunk in items.chunks(plan.batching.max_objects_per_batch as usize) {
        let event = BatchEvent {
            items: chunk.to_vec(),
            settings: plan.settings.clone(),
        };
        outputs.push(scan_batch(store, OUT, event).await.unwrap());
    }
    outputs
}

/// A plan over the smallest trail: one log object of the window (for the reduce tests, which
/// need a plan and no scan).
pub(crate) async fn plan_over_one_object(store: &MemoryStore) -> PlanOutput {
    store.create_bucket(TRAIL_BUCKET);
    store
        .put_object(
            TRAIL_BUCKET,
            "AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/03/123456789012_CloudTrail_us-east-1_20250303T0105Z_AbCdEf0123456789.json.gz",
            Vec::new(),
            "application/gzip",
        )
        .await
        .unwrap();
    plan(store, OUT, &grant(), plan_input(5)).await.unwrap()
}

/// One child execution record as the ResultWriter writes it (Transformation NONE): the
/// child's input and output as JSON strings, plus the execution's metadata.
pub(crate) fn child_record(i: usize, input: &str, output: &BatchOutput) -> Value {
    json!({
        "ExecutionArn": format!("arn:aws:states:us-east-1:123456789012:execution:keycard-cloudtrail/ScanTrail:8f2b1c3d-{i}"),
        "Input": input, "InputDetails": {"Included": true},
        "Name": format!("8f2b1c3d-{i}"),
        "Output": serde_json::to_string(output).unwrap(), "OutputDetails": {"Included": true},
        "RedriveCount": 0, "RedriveStatus": "NOT_REDRIVABLE",
        "StartDate": "2025-03-04T06:00:01.123Z", "StopDate": "2025-03-04T06:00:09.456Z",
        "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:keycard-cloudtrail/ScanTrail",
        "Status": "SUCCEEDED"
    })
}

#[tokio::test]
async fn plan_batch_and_reduce_equal_a_single_process_scan() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    // Pages of 7 keys: the map's listing crosses many ListObjectsV2 pages.
    let store = trail_store(dir.path(), 7).await;

    let plan = plan(&store, OUT, &grant(), plan_input(5)).await.unwrap();
    assert!(
        store.get(OUT, "runs/ct-1/cloudtrail/plan.json").is_some(),
        "the plan is stored"
    );
    // The item file holds exactly the objects of the window the children must read, in key
    // order: what Selection keeps of the region's folder.
    let listed = items_of(&store, &plan);
    let region = "AWSLogs/123456789012/CloudTrail/us-east-1/";
    let expected = keys_to_scan(&store, TRAIL_BUCKET, region, &plan).await;
    let keys: Vec<&str> = listed.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, expected);
    assert_eq!(plan.listing.objects, listed.len() as u64);
    assert!(
        plan.listing.skipped > 0,
        "days outside the window are left out"
    );

    let outputs = run_map(&store, &plan).await;
    assert!(outputs.len() > 3, "{} batches", outputs.len());
    assert!(outputs.iter().all(|o| !o.reused));

    // A retried child finds its partial and reads no trail object again.
    let first: Vec<BatchItem> = listed[..5].iter().rev().cloned().collect();
    let read_before: u64 = listed
        .iter()
        .map(|o| store.bytes_read(TRAIL_BUCKET, &o.key))
        .sum();
    let again = scan_batch(
        &store,
        OUT,
        BatchEvent {
            items: first,
            settings: plan.settings.clone(),
        },
    )
    .await
    .unwrap();
    assert!(again.reused);
    assert_eq!(again.partial_key, outputs[0].partial_key);
    let read_after: u64 = listed
        .iter()
        .map(|o| store.bytes_read(TRAIL_BUCKET, &o.key))
        .sum();
    assert_eq!(read_before, read_after);

    let records: Vec<Value> = outputs
        .iter()
        .enumerate()
        .map(|(i, o)| child_record(i, "{}", o))
        .collect();
    let base = format!("{}/8f2b1c3d", plan.map_results_prefix);
    put_json(&store, &format!("{base}/SUCCEEDED_0.json"), &records).await;
    let failed = json!([{"Name": "x-9", "Status": "FAILED", "Error": "Keycard.AccessDenied",
        "Cause": "{\"errorType\":\"Keycard.AccessDenied\",\"errorMessage\":\"kms:Decrypt denied\"}"}]);
    put_json(&store, &format!("{base}/FAILED_0.json"), &failed).await;
    let manifest = json!({"DestinationBucket": OUT, "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:keycard-cloudtrail/ScanTrail:8f2b1c3d",
        "ResultFiles": {"FAILED": [{"Key": format!("{base}/FAILED_0.json"), "Size": 1}], "PENDING": [],
                        "SUCCEEDED": [{"Key": format!("{base}/SUCCEEDED_0.json"), "Size": 1}]}});
    put_json(&store, &format!("{base}/manifest.json"), &manifest).await;

    let reduced = reduce_at(&store, &plan, &base).await.unwrap();
    assert_eq!(
        reduced.batches,
        BatchCounts {
            succeeded: outputs.len() as u64,
            failed: 1,
            pending: 0
        }
    );
    assert!(
        reduced.problems[0].contains("kms:Decrypt denied"),
        "{:?}",
        reduced.problems
    );
    let merged: Usage =
        serde_json::from_slice(&store.get(OUT, &reduced.usage_key).unwrap()).unwrap();
    assert_eq!(merged, single_process_usage(dir.path(), &plan));
    assert_eq!(reduced.principals, 1);
    assert_eq!(
        reduced.counts.objects + reduced.counts.skipped,
        listed.len() as u64
    );
}

#[tokio::test]
async fn plan_refuses_what_cannot_be_a_run() {
    let store = MemoryStore::with_buckets(&[OUT]);
    let mut input = plan_input(5);
    input.request.stacks.clear();
    assert_eq!(
        plan(&store, OUT, &grant(), input).await.unwrap_err().name(),
        INVALID_INPUT
    );
    let mut input = plan_input(0);
    input.request.window_days = Some(3651);
    assert_eq!(
        plan(&store, OUT, &grant(), input).await.unwrap_err().name(),
        INVALID_INPUT
    );
    assert!(store.keys().is_empty());
}

/// Reduce at the scale of docs/OPERATIONS.md ("CloudTrail mode: cost and scale"): 30,000 children,
/// each record repeating an ItemBatcher input of a few kilobytes (a real one is up to 256 KB, which
/// only makes the file larger). The SUCCEEDED file is read in pieces of `READ_CHUNK` bytes, each
/// byte once, never whole.
#[tokio::test]
async fn reduce_streams_thirty_thousand_children() {
    use super::results::READ_CHUNK;
    const CHILDREN: usize = 30_000;
    let store = MemoryStore::with_buckets(&[OUT]);
    let plan = plan_over_one_object(&store).await;
    let exec = &plan.settings.execution_name;
    // One small partial per child, as the children write them.
    let partial = serde_json::to_vec(&Partial {
        execution_name: exec.clone(),
        counts: ScanCounts {
            objects: 1,
            ..ScanCounts::default()
        },
        files: keycard_core::cloudtrail::FileStats::default(),
        usage: Usage::default(),
    })
    .unwrap();
    // The ItemBatcher input each record repeats: 4 listed objects (a real one is 200).
    let items: Vec<Value> = (0..4)
        .map(|i| json!({"Etag": "\"9b2cf535f27731c974343645a3985328\"", "Key": format!("AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/03/123456789012_CloudTrail_us-east-1_20250303T{i:04}Z_AbCdEf0123456789.json.gz"), "LastModified": 1_740_787_200, "Size": 81_234, "StorageClass": "STANDARD"}))
        .collect();
    let input = json!({"Items": items, "BatchInput": plan.settings}).to_string();
    let mut file = Vec::with_capacity(CHILDREN * (input.len() + 900));
    file.push(b'[');
    for i in 0..CHILDREN {
        let key = keys::partial(exec, &format!("{i:064x}"));
        store
            .put_object(OUT, &key, partial.clone(), "application/json")
            .await
            .unwrap();
        let out = BatchOutput {
            partial_key: key,
            counts: ScanCounts {
                objects: 1,
                ..ScanCounts::default()
            },
            reused: false,
        };
        if i > 0 {
            file.push(b',');
        }
        serde_json::to_writer(&mut file, &child_record(i, &input, &out)).unwrap();
    }
    file.push(b']');
    let size = file.len() as u64;
    assert!(size > 30 * READ_CHUNK, "a file of {size} bytes");
    let base = format!("{}/8f2b1c3d", plan.map_results_prefix);
    let ok = format!("{base}/SUCCEEDED_0.json");
    store
        .put_object(OUT, &ok, file, "application/json")
        .await
        .unwrap();
    let manifest = json!({"DestinationBucket": OUT, "ResultFiles": {"FAILED": [], "PENDING": [], "SUCCEEDED": [{"Key": ok, "Size": size}]}});
    put_json(&store, &format!("{base}/manifest.json"), &manifest).await;

    let reduced = reduce_at(&store, &plan, &base).await.unwrap();
    assert_eq!(reduced.batches.succeeded, CHILDREN as u64);
    assert_eq!(reduced.counts.objects, CHILDREN as u64);
    assert_eq!(
        store.bytes_read(OUT, &ok),
        size,
        "each byte of the results read once"
    );
    assert_eq!(
        store.largest_read(OUT, &ok),
        READ_CHUNK,
        "never more than one piece at a time"
    );
}

#[tokio::test]
async fn reduce_reads_only_this_runs_result_files() {
    let store = MemoryStore::with_buckets(&[OUT]);
    let plan = plan_over_one_object(&store).await;
    for (bucket, key) in [
        (OUT, "ledger/orders.json".to_owned()),
        (
            OUT,
            "runs/other-run/cloudtrail/map/x/manifest.json".to_owned(),
        ),
        (
            OUT,
            format!("{}/../../../ledger/x.json", plan.map_results_prefix),
        ),
        (
            TRAIL_BUCKET,
            format!("{}/x/manifest.json", plan.map_results_prefix),
        ),
    ] {
        let e = reduce(
            &store,
            OUT,
            ReduceInput {
                settings: plan.settings.clone(),
                result_writer: ResultWriterDetails {
                    bucket: bucket.into(),
                    key: key.clone(),
                },
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.name(), INVALID_INPUT, "{bucket} {key}");
    }
}
