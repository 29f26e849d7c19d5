//! The ledger's guard against overlapping runs, against moto server (real HTTP, real SDK):
//! conditional PutObject with `If-None-Match: *` and `If-Match: <ETag>` (issue 15). moto
//! honours both headers on PutObject (its `put_object` answers 412 PreconditionFailed, and
//! NoSuchKey for `If-Match` on a missing key), so the S3 adapter is tested here as it talks
//! to S3; the write step's handling of a lost race is tested with the in-memory store beside
//! it (keycard-chain `steps/write_proposal.rs`).

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keycard_aws::ObjectStore;
use keycard_aws::s3::{Expected, WriteOutcome};
use keycard_chain_tests::{moto_clients, moto_endpoint};

#[tokio::test]
async fn conditional_puts_create_once_and_replace_only_the_version_read() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (clients, config, _) = moto_clients(&endpoint).await;
    let (s3, b) = (&clients.s3, &config.bucket);
    let key = "ledger/orders-service.json";
    let put = |body: &str, expected: Expected| {
        let body = body.as_bytes().to_vec();
        async move {
            s3.put_object_if(b, key, body, "application/json", &expected)
                .await
                .unwrap()
        }
    };

    // First run: no ledger yet, so the write requires the key to be free.
    assert_eq!(s3.get_object_tagged(b, key).await.unwrap(), None);
    assert_eq!(put("v1", Expected::Absent).await, WriteOutcome::Written);
    // A second "first" write (another run that also found no ledger) is refused.
    assert_eq!(
        put("v1 again", Expected::Absent).await,
        WriteOutcome::Superseded
    );

    // Two runs read the same version; the first to write wins, the second is refused and
    // leaves the winner's bytes.
    let a = s3.get_object_tagged(b, key).await.unwrap().unwrap();
    let late = s3.get_object_tagged(b, key).await.unwrap().unwrap();
    assert_eq!(a.bytes, b"v1");
    assert!(a.etag.starts_with('"'), "S3's ETag is quoted: {}", a.etag);
    assert_eq!(
        put("v2 by a", Expected::Unchanged(a.etag.clone())).await,
        WriteOutcome::Written
    );
    assert_eq!(
        put("v2 by late", Expected::Unchanged(late.etag.clone())).await,
        WriteOutcome::Superseded
    );
    assert_eq!(
        s3.get_object(b, key).await.unwrap().as_deref(),
        Some(&b"v2 by a"[..])
    );

    // The ETag read now replaces the new version.
    let now = s3.get_object_tagged(b, key).await.unwrap().unwrap();
    assert_ne!(now.etag, a.etag);
    assert_eq!(
        put("v3", Expected::Unchanged(now.etag)).await,
        WriteOutcome::Written
    );

    // A ledger deleted since it was read: `If-Match` finds nothing to match.
    assert_eq!(
        put("v1", Expected::Unchanged(a.etag.clone())).await,
        WriteOutcome::Superseded
    );
    let gone = "ledger/deleted.json";
    s3.put_object(b, gone, b"x".to_vec(), "application/json")
        .await
        .unwrap();
    let read = s3.get_object_tagged(b, gone).await.unwrap().unwrap();
    let raw = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&keycard_chain_tests::moto_sdk(&endpoint).await)
            .force_path_style(true)
            .build(),
    );
    raw.delete_object()
        .bucket(b)
        .key(gone)
        .send()
        .await
        .unwrap();
    assert_eq!(
        s3.put_object_if(
            b,
            gone,
            b"y".to_vec(),
            "application/json",
            &Expected::Unchanged(read.etag)
        )
        .await
        .unwrap(),
        WriteOutcome::Superseded
    );
    assert_eq!(s3.get_object(b, gone).await.unwrap(), None);
}
