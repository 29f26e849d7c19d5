//! CloudTrail mode over an organization trail whose bucket is in another account (the
//! log-archive account), against the in-memory S3: the plan lists the bucket into the item
//! file, the children read the trail cross-account, and the merged usage equals one process
//! scanning the same files. The bucket's owner is stated on every request
//! (`ExpectedBucketOwner`), and a wrong owner or another bucket is refused at the door.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use keycard_aws::ObjectStore;
use keycard_aws::memory::MemoryStore;
use keycard_aws::s3::MIN_PART_BYTES;
use keycard_core::usage::Usage;
use serde_json::json;

use super::items::write_items_in_parts;
use super::tests::{
    OUT, child_record, items_of, keys_to_scan, put_json, reduce_at, run_map, single_process_usage,
    upload_dir,
};
use super::*;
use crate::contract::{ACCESS_DENIED, ExecutionRef, INVALID_INPUT};

const ORG_BUCKET: &str = "aws-controltower-logs-210987654321-us-east-1";
const LOG_ARCHIVE: &str = "210987654321";
const ORG: &str = "o-a1b2c3d4e5";
const MEMBERS: [&str; 2] = ["123456789012", "345678901234"];

/// Two member accounts of one organization, two regions each, delivered under the trail's
/// prefix `org` as an organization trail does: `org/AWSLogs/<o-id>/<account>/CloudTrail/…`.
fn generate_org(dir: &std::path::Path) {
    let logs = dir.join("org");
    for (i, account) in MEMBERS.iter().enumerate() {
        let scenario = json!({
            "seed": 11 + i as u64, "account": account, "organization_id": ORG,
            "regions": ["us-east-1", "eu-west-1"],
            "start": "2025-02-26T00:00:00Z", "end": "2025-03-05T00:00:00Z",
            "file_interval_minutes": 240, "digests": true,
            "principals": [{
                "name": format!("orders-WorkerRole-{i}A2B3C4D5E6F"),
                "session_name": "orders-Worker-7G8H9I0J",
                "assumed_by": "lambda.amazonaws.com",
                "calls": [
                    {"event_source": "sqs.amazonaws.com", "event_name": "ReceiveMessage", "schedule": "hourly",
                     "request_parameters": {"queueUrl": format!("https://sqs.us-east-1.amazonaws.com/{account}/orders")}},
                    {"event_source": "kms.amazonaws.com", "event_name": "Decrypt", "schedule": "daily",
                     "region": "eu-west-1", "request_parameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}}
                ]
            }],
            "malformed": {}
        });
        let scenario = keycard_tracegen::Scenario::from_json(&scenario.to_string()).unwrap();
        keycard_tracegen::generate(&scenario, &logs).unwrap();
    }
}

/// The log-archive account's bucket holding the generated trail (plus what real buckets also
/// hold: another organization's folder, a non-account folder, a stray file), and keycard's own
/// output bucket in its account.
async fn org_store(dir: &std::path::Path) -> MemoryStore {
    let store = MemoryStore::with_page_size(9);
    store.create_bucket_owned_by(ORG_BUCKET, LOG_ARCHIVE);
    store.create_bucket(OUT);
    upload_dir(&store, ORG_BUCKET, dir).await;
    for key in [
        "org/AWSLogs/o-zzzzzzzzzz/123456789012/CloudTrail/us-east-1/2025/03/02/123456789012_CloudTrail_us-east-1_20250302T0105Z_AbCdEf0123456789.json.gz",
        "org/AWSLogs/o-a1b2c3d4e5/not-an-account/CloudTrail/us-east-1/2025/03/02/x.json.gz",
        "org/AWSLogs/o-a1b2c3d4e5/README.txt",
    ] {
        store
            .put_object(ORG_BUCKET, key, b"not a log".to_vec(), "text/plain")
            .await
            .unwrap();
    }
    store
}

fn org_trail() -> TrailLocation {
    TrailLocation {
        bucket: ORG_BUCKET.into(),
        prefix: Some("org".into()),
        organization_id: Some(ORG.into()),
        accounts: Vec::new(),
        regions: Vec::new(),
        trail_arn: Some(format!(
            "arn:aws:cloudtrail:us-east-1:{LOG_ARCHIVE}:trail/org-trail"
        )),
    }
}

fn org_grant() -> TrailGrant {
    TrailGrant {
        bucket: ORG_BUCKET.into(),
        owner: Some(LOG_ARCHIVE.into()),
    }
}

/// keycard's client of the store, stating the grant's owner as `TrailGrant::store` does for
/// the SDK client.
fn stating_owner(grant: &TrailGrant, store: &MemoryStore) -> MemoryStore {
    let owner = grant.owner.as_deref().unwrap();
    store.clone().expecting_owner(&grant.bucket, owner)
}

fn org_plan_input() -> PlanInput {
    PlanInput {
        request: TrailRequest {
            stacks: vec!["orders".into()],
            trail: org_trail(),
            window_days: Some(5),
            principals: None,
            batching: Some(Batching {
                max_objects_per_batch: 7,
                ..Batching::default()
            }),
        },
        execution: ExecutionRef {
            id: "arn:aws:states:us-east-1:123456789012:execution:keycard-cloudtrail:org-1".into(),
            name: "org-1".into(),
            start_time: "2025-03-04T06:00:00Z".parse().unwrap(),
        },
    }
}

#[tokio::test]
async fn an_organization_trail_in_another_account_is_planned_scanned_and_reduced() {
    // Given an organization trail in the log-archive account's bucket,
    let dir = tempfile::tempdir().unwrap();
    generate_org(dir.path());
    let store = org_store(dir.path()).await;
    // and keycard's clients stating that account as the bucket's owner (TrailBucketOwner).
    let keycard = stating_owner(&org_grant(), &store);

    // When the plan lists it, accounts and regions found from the bucket's folders,
    let plan = plan(&keycard, OUT, &org_grant(), org_plan_input())
        .await
        .unwrap();
    // then the item file, in keycard's own bucket, holds each log object of the window once.
    assert_eq!((plan.listing.accounts, plan.listing.regions), (2, 4));
    let items = items_of(&store, &plan);
    assert_eq!(items.len() as u64, plan.listing.objects);
    let expected = keys_to_scan(&store, ORG_BUCKET, "", &plan).await;
    let mut listed: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
    listed.sort_unstable();
    assert_eq!(listed, expected);
    assert!(
        listed
            .iter()
            .all(|k| k.starts_with("org/AWSLogs/o-a1b2c3d4e5/") && !k.contains("not-an-account")),
        "{listed:?}"
    );

    // When the children read the objects cross-account and reduce merges their partials,
    let outputs = run_map(&keycard, &plan).await;
    assert!(outputs.len() > 5, "{} batches", outputs.len());
    let records: Vec<_> = outputs
        .iter()
        .enumerate()
        .map(|(i, o)| child_record(i, "{}", o))
        .collect();
    let base = format!("{}/5d2c9e1a", plan.map_results_prefix);
    let ok = format!("{base}/SUCCEEDED_0.json");
    put_json(&keycard, &ok, &records).await;
    let manifest = json!({"DestinationBucket": OUT, "ResultFiles": {"FAILED": [], "PENDING": [],
        "SUCCEEDED": [{"Key": ok, "Size": 1}]}});
    put_json(&keycard, &format!("{base}/manifest.json"), &manifest).await;
    let reduced = reduce_at(&keycard, &plan, &base).await.unwrap();

    // then the usage is what one process scanning the same files finds, for both accounts.
    let merged: Usage =
        serde_json::from_slice(&store.get(OUT, &reduced.usage_key).unwrap()).unwrap();
    let root = dir.path().join("org/AWSLogs").join(ORG);
    assert_eq!(merged, single_process_usage(&root, &plan));
    assert_eq!(reduced.principals, 2);
    assert_eq!(reduced.counts.objects, items.len() as u64);
}

#[tokio::test]
async fn a_bucket_of_another_owner_or_name_is_refused_at_the_door() {
    let dir = tempfile::tempdir().unwrap();
    generate_org(dir.path());
    let store = org_store(dir.path()).await;

    // A stack deployed for another bucket: refused before anything is listed or written.
    let other = TrailGrant {
        bucket: "aws-cloudtrail-logs-123456789012-3f2a1b0c".into(),
        owner: None,
    };
    let e = plan(&store, OUT, &other, org_plan_input())
        .await
        .unwrap_err();
    assert_eq!(e.name(), INVALID_INPUT);
    assert!(e.to_string().contains(ORG_BUCKET), "{e}");
    assert!(store.get(OUT, "runs/org-1/cloudtrail/plan.json").is_none());

    // The right name, but owned by another account than the stack states: S3's 403.
    let wrong_owner = TrailGrant {
        bucket: ORG_BUCKET.into(),
        owner: Some("999999999999".into()),
    };
    let keycard = stating_owner(&wrong_owner, &store);
    let e = plan(&keycard, OUT, &wrong_owner, org_plan_input())
        .await
        .unwrap_err();
    assert_eq!(e.name(), ACCESS_DENIED);

    // A trail prefix that holds nothing: a clear refusal, not an empty run.
    let mut input = org_plan_input();
    input.request.trail.organization_id = Some("o-0000000000".into());
    let e = plan(&store, OUT, &org_grant(), input).await.unwrap_err();
    assert_eq!(e.name(), INVALID_INPUT);
    assert!(e.to_string().contains("trail.organizationId"), "{e}");
}

/// An item file larger than one part goes up as a multipart upload of S3-valid parts (the
/// in-memory store refuses parts under 5 MiB but the last), and reads back line for line.
#[tokio::test]
async fn a_large_item_file_is_uploaded_in_parts() {
    const OBJECTS: usize = 40_000;
    let store = MemoryStore::default();
    store.create_bucket_owned_by(ORG_BUCKET, LOG_ARCHIVE);
    store.create_bucket(OUT);
    for i in 0..OBJECTS {
        let (h, m) = (i / 60 % 24, i % 60);
        let key = format!(
            "org/AWSLogs/{ORG}/123456789012/CloudTrail/us-east-1/2025/03/02/123456789012_CloudTrail_us-east-1_20250302T{h:02}{m:02}Z_{i:016x}.json.gz"
        );
        store
            .put_object(ORG_BUCKET, &key, Vec::new(), "application/gzip")
            .await
            .unwrap();
    }
    let mut trail = org_trail();
    trail.accounts = vec!["123456789012".into()];
    trail.regions = vec!["us-east-1".into()];
    let listing = write_items_in_parts(
        &store,
        OUT,
        "runs/big/cloudtrail/items.jsonl",
        &trail,
        "2025-03-01T00:00:00Z".parse().unwrap(),
        "2025-03-04T00:00:00Z".parse().unwrap(),
        MIN_PART_BYTES,
    )
    .await
    .unwrap();
    assert_eq!(listing.objects, OBJECTS as u64);
    let file = store.get(OUT, "runs/big/cloudtrail/items.jsonl").unwrap();
    assert!(
        file.len() > MIN_PART_BYTES,
        "{} bytes: two parts",
        file.len()
    );
    let keys: Vec<String> = file
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<BatchItem>(l).unwrap().key)
        .collect();
    let mut expected: Vec<String> = store
        .list_objects(ORG_BUCKET, "org/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(store.open_uploads(), 0);
}
