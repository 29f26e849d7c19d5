use super::*;

use crate::access_analyzer::{GenerationRequest, JobStatus, PolicyChecks, PolicyGeneration};
use crate::cloudformation::{Stacks, TemplateStage};
use crate::s3::{Expected, MIN_PART_BYTES, ObjectStore, UploadedPart, WriteOutcome};

async fn put_if(s: &MemoryStore, key: &str, body: &str, expected: Expected) -> WriteOutcome {
    s.put_object_if("out", key, body.into(), "application/json", &expected)
        .await
        .unwrap()
}

/// Two writers read the same ledger; the second to write is told it was superseded and
/// writes nothing, as with S3's `If-Match`; creating needs the key to be free.
#[tokio::test]
async fn conditional_writes_refuse_a_stale_or_taken_key() {
    let s = MemoryStore::with_buckets(&["out"]);
    let key = "ledger/orders.json";
    assert_eq!(s.get_object_tagged("out", key).await.unwrap(), None);
    assert_eq!(
        put_if(&s, key, "v1", Expected::Absent).await,
        WriteOutcome::Written
    );
    assert_eq!(
        put_if(&s, key, "v1'", Expected::Absent).await,
        WriteOutcome::Superseded
    );
    let a = s.get_object_tagged("out", key).await.unwrap().unwrap();
    let b = s.get_object_tagged("out", key).await.unwrap().unwrap();
    assert_eq!((a.bytes.as_slice(), &a.etag), (&b"v1"[..], &b.etag));
    assert_eq!(
        put_if(&s, key, "v2 by a", Expected::Unchanged(a.etag.clone())).await,
        WriteOutcome::Written
    );
    assert_eq!(
        put_if(&s, key, "v2 by b", Expected::Unchanged(b.etag.clone())).await,
        WriteOutcome::Superseded
    );
    assert_eq!(s.get("out", key).unwrap(), b"v2 by a");
    let c = s.get_object_tagged("out", key).await.unwrap().unwrap();
    assert_ne!(c.etag, a.etag);
    // A missing bucket is an error, not a lost race.
    let e = s
        .put_object_if("nope", key, vec![], "application/json", &Expected::Absent)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn listing_pages_like_list_objects_v2() {
    let s = MemoryStore::with_page_size(2);
    s.create_bucket("b");
    for k in ["a/1", "a/2", "a/3", "a/4", "a/5", "b/1"] {
        s.put_object("b", k, k.as_bytes().to_vec(), "text/plain")
            .await
            .unwrap();
    }
    let first = s.list_page("b", "a/", None, None).await.unwrap();
    assert_eq!(first.objects.len(), 2);
    let token = first.next.unwrap();
    let second = s.list_page("b", "a/", None, Some(&token)).await.unwrap();
    assert_eq!(second.objects[0].key, "a/3");
    let all = s.list_objects("b", "a/").await.unwrap();
    let keys: Vec<&str> = all.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["a/1", "a/2", "a/3", "a/4", "a/5"]);
    let third = s
        .list_page("b", "a/", None, second.next.as_deref())
        .await
        .unwrap();
    assert_eq!(third.objects.len(), 1);
    assert!(third.next.is_none());
    let e = s.list_objects("nope", "").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(s.get_object("b", "zzz").await.unwrap(), None);
}

#[tokio::test]
async fn a_delimiter_rolls_keys_up_into_folders_across_pages() {
    let s = MemoryStore::with_page_size(2);
    s.create_bucket("b");
    for k in [
        "AWSLogs/111111111111/CloudTrail/x",
        "AWSLogs/111111111111/CloudTrail/y",
        "AWSLogs/222222222222/CloudTrail/x",
        "AWSLogs/333333333333/CloudTrail/x",
        "AWSLogs/readme.txt",
    ] {
        s.put_object("b", k, Vec::new(), "text/plain")
            .await
            .unwrap();
    }
    let mut folders = Vec::new();
    let mut files = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let p = s
            .list_page("b", "AWSLogs/", Some("/"), token.as_deref())
            .await
            .unwrap();
        assert!(p.prefixes.len() + p.objects.len() <= 2, "{p:?}");
        folders.extend(p.prefixes);
        files.extend(p.objects.into_iter().map(|o| o.key));
        match p.next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(
        folders,
        [
            "AWSLogs/111111111111/",
            "AWSLogs/222222222222/",
            "AWSLogs/333333333333/"
        ]
    );
    assert_eq!(files, ["AWSLogs/readme.txt"]);
}

#[tokio::test]
async fn a_stated_owner_that_does_not_own_the_bucket_is_denied() {
    let s = MemoryStore::default();
    s.create_bucket_owned_by("org-trail-logs", "210987654321");
    s.put_object("org-trail-logs", "k", b"x".to_vec(), "text/plain")
        .await
        .unwrap();
    let right = s.clone().expecting_owner("org-trail-logs", "210987654321");
    assert!(
        right
            .get_object("org-trail-logs", "k")
            .await
            .unwrap()
            .is_some()
    );
    let wrong = s.clone().expecting_owner("org-trail-logs", "123456789012");
    for e in [
        wrong.get_object("org-trail-logs", "k").await.unwrap_err(),
        wrong.list_objects("org-trail-logs", "").await.unwrap_err(),
    ] {
        assert_eq!(e.kind, ErrorKind::AccessDenied);
    }
    // Other buckets are not affected by the stated owner.
    s.create_bucket("out");
    assert!(wrong.get_object("out", "none").await.unwrap().is_none());
}

#[tokio::test]
async fn multipart_uploads_follow_the_part_rules() {
    let s = MemoryStore::with_buckets(&["b"]);
    let id = s
        .create_upload("b", "big", "application/x-ndjson")
        .await
        .unwrap();
    let big = vec![b'a'; MIN_PART_BYTES];
    let e1 = s
        .upload_part("b", "big", &id, 1, big.clone())
        .await
        .unwrap();
    let e2 = s
        .upload_part("b", "big", &id, 2, b"tail".to_vec())
        .await
        .unwrap();
    assert!(s.upload_part("b", "big", &id, 0, Vec::new()).await.is_err());
    let parts = [
        UploadedPart {
            number: 1,
            etag: e1.clone(),
        },
        UploadedPart {
            number: 2,
            etag: e2.clone(),
        },
    ];
    // Out of order, or a small part before the last: refused as S3 refuses them.
    let swapped = [parts[1].clone(), parts[0].clone()];
    assert!(s.complete_upload("b", "big", &id, &swapped).await.is_err());
    s.complete_upload("b", "big", &id, &parts).await.unwrap();
    let body = s.get("b", "big").unwrap();
    assert_eq!(body.len(), MIN_PART_BYTES + 4);
    assert!(body.ends_with(b"tail"));
    assert_eq!(s.open_uploads(), 0);

    let id = s.create_upload("b", "small", "text/plain").await.unwrap();
    let a = s
        .upload_part("b", "small", &id, 1, b"a".to_vec())
        .await
        .unwrap();
    let b = s
        .upload_part("b", "small", &id, 2, b"b".to_vec())
        .await
        .unwrap();
    let e = s
        .complete_upload(
            "b",
            "small",
            &id,
            &[
                UploadedPart { number: 1, etag: a },
                UploadedPart { number: 2, etag: b },
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("EntityTooSmall"));
    s.abort_upload("b", "small", &id).await.unwrap();
    assert_eq!(s.open_uploads(), 0);
    assert!(s.get("b", "small").is_none());
}

#[tokio::test]
async fn ranges_read_pieces_and_count_bytes() {
    let s = MemoryStore::with_buckets(&["b"]);
    s.put_object("b", "k", b"0123456789".to_vec(), "text/plain")
        .await
        .unwrap();
    let r = s.get_object_range("b", "k", 8, 5).await.unwrap().unwrap();
    assert_eq!((r.bytes.as_slice(), r.total_size), (&b"89"[..], 10));
    let past = s.get_object_range("b", "k", 10, 5).await.unwrap().unwrap();
    assert!(past.bytes.is_empty());
    assert_eq!(s.bytes_read("b", "k"), 2);
}

#[tokio::test]
async fn stacks_are_found_by_name_or_id() {
    let stacks = MemoryStacks::default();
    stacks.add(MemoryStack {
        name: "orders".into(),
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/orders/0f1e2d3c-aaaa-bbbb-cccc-111122223333".into(),
        original: "Resources: {}".into(),
        ..MemoryStack::default()
    });
    let by_id = stacks
        .template("arn:aws:cloudformation:us-east-1:123456789012:stack/orders/0f1e2d3c-aaaa-bbbb-cccc-111122223333", TemplateStage::Processed)
        .await
        .unwrap();
    assert_eq!(by_id, "Resources: {}");
    let id = stacks.detect_drift("orders", &[]).await.unwrap();
    assert_eq!(
        stacks
            .drift_detection(&id)
            .await
            .unwrap()
            .stack_drift_status
            .as_deref(),
        Some("IN_SYNC")
    );
    assert!(
        stacks
            .stack_resources("billing")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn one_generation_at_a_time_and_tokens_are_idempotent() {
    let aa = MemoryAnalyzer::default();
    let req = |principal: &str, token: &str| GenerationRequest {
        principal_arn: principal.into(),
        trail_arn: "arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events".into(),
        regions: crate::access_analyzer::TrailRegions::All,
        access_role_arn: "arn:aws:iam::123456789012:role/keycard-trail-access".into(),
        start: "2026-09-01T00:00:00Z".parse().unwrap(),
        end: "2026-10-01T00:00:00Z".parse().unwrap(),
        client_token: token.into(),
    };
    let a = aa
        .start_generation(&req("arn:aws:iam::123456789012:role/a", "t1"))
        .await
        .unwrap();
    assert_eq!(
        aa.start_generation(&req("arn:aws:iam::123456789012:role/a", "t1"))
            .await
            .unwrap(),
        a
    );
    let busy = aa
        .start_generation(&req("arn:aws:iam::123456789012:role/b", "t2"))
        .await
        .unwrap_err();
    assert_eq!(busy.kind, ErrorKind::QuotaExceeded);
    aa.cancel_generation(&a).await.unwrap();
    assert_eq!(
        aa.generated_policy(&a).await.unwrap().status,
        JobStatus::Canceled
    );
    assert!(aa.cancel_generation(&a).await.is_err());
}

#[tokio::test]
async fn no_new_access_compares_actions_with_wildcards() {
    let aa = MemoryAnalyzer::default();
    let doc = |a: &[&str]| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": a, "Resource": "*"}]}).to_string()
    };
    let pass = aa
        .check_no_new_access(&doc(&["s3:GetObject"]), &doc(&["s3:Get*"]))
        .await
        .unwrap();
    assert_eq!(pass.result, "PASS");
    let fail = aa
        .check_no_new_access(&doc(&["s3:PutObject"]), &doc(&["s3:Get*"]))
        .await
        .unwrap();
    assert_eq!(fail.result, "FAIL");
    assert_eq!(
        aa.validate_policy("{").await.unwrap()[0].finding_type,
        "ERROR"
    );
}
