//! Object storage: the chain's only shared memory.
//!
//! Step Functions payloads are limited to 256 KB, so every step writes what it produced to the
//! output bucket and passes the key on. The trait is as small as the steps need.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::error::AwsError;

const SERVICE: &str = "s3";

/// Multipart upload limits (Amazon S3 User Guide, "Amazon S3 multipart upload limits",
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html>): part numbers run from
/// 1 to 10,000, and every part but the last is at least 5 MiB.
pub const MAX_UPLOAD_PARTS: u32 = 10_000;
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// A byte range of an object, and the object's whole size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRange {
    pub bytes: Vec<u8>,
    /// The object's size, from the response's `Content-Range` (`bytes 0-99/1234`).
    pub total_size: u64,
}

/// One ListObjectsV2 page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ObjectInfo>,
    /// `CommonPrefixes`: with a delimiter, the "folders" one level below the prefix, each
    /// ending with the delimiter.
    pub prefixes: Vec<String>,
    /// `NextContinuationToken`: present when the listing was truncated.
    pub next: Option<String>,
}

/// A part of a multipart upload, as CompleteMultipartUpload names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    pub number: u32,
    pub etag: String,
}

/// An object's bytes and its entity tag, read together so that a later write can require the
/// object to be unchanged ([`ObjectStore::put_object_if`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedObject {
    pub bytes: Vec<u8>,
    /// The `ETag` response header, as S3 sent it (quotes included): an opaque version marker
    /// (not always an MD5, e.g. with SSE-KMS), compared by S3 itself.
    pub etag: String,
}

/// What a conditional write expects at its key (S3 conditional writes: "How to prevent object
/// overwrites with conditional writes",
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// No object (`If-None-Match: *`): the write creates it.
    Absent,
    /// The object as read, by its ETag (`If-Match`): the write replaces exactly that version.
    Unchanged(String),
}

/// How a conditional write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Written,
    /// The key no longer holds what was expected (S3's 412 PreconditionFailed, or NoSuchKey
    /// for `If-Match` on an object deleted since): another writer got there first, and
    /// nothing was written.
    Superseded,
}

/// Reads and writes whole objects, and reads large ones piece by piece.
pub trait ObjectStore: Send + Sync {
    /// The object's bytes, or `None` when the key does not exist (a first run has no ledger).
    /// Without `s3:ListBucket`, S3 answers a missing key with AccessDenied, which stays an
    /// error.
    fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, AwsError>> + Send;

    /// At most `len` bytes from offset `start` (GetObject with `Range: bytes=start-end`, RFC 9110
    /// §14.1.2), so a reader of a file of gigabytes holds one piece at a time. `None` when the
    /// key does not exist; a `start` at or past the end gives no bytes and the size.
    fn get_object_range(
        &self,
        bucket: &str,
        key: &str,
        start: u64,
        len: u64,
    ) -> impl Future<Output = Result<Option<ObjectRange>, AwsError>> + Send;

    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// [`ObjectStore::get_object`] with the object's ETag, for a read-modify-write.
    fn get_object_tagged(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<TaggedObject>, AwsError>> + Send;

    /// Writes the object only if the key holds what `expected` says, atomically (S3 evaluates
    /// the condition and the write together). Two writers that read the same version cannot
    /// both replace it: the second gets [`WriteOutcome::Superseded`] instead of overwriting.
    /// Conditional writes need no permission beyond `s3:PutObject` (the user guide's
    /// conditional-writes pages list none; `s3:if-match`/`s3:if-none-match` are condition keys
    /// a bucket policy may use to require them).
    fn put_object_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        expected: &Expected,
    ) -> impl Future<Output = Result<WriteOutcome, AwsError>> + Send;

    /// Every object under `prefix`, in key order, across all pages.
    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<ObjectInfo>, AwsError>> + Send;

    /// One page of a listing (ListObjectsV2 `Prefix`, `Delimiter`, `ContinuationToken`), for a
    /// caller that must not hold millions of keys at once, or wants the "folders" below a
    /// prefix (`delimiter` `/`).
    fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        continuation: Option<&str>,
    ) -> impl Future<Output = Result<ListPage, AwsError>> + Send;

    /// CreateMultipartUpload: an object written in parts (an object larger than one Lambda
    /// should hold), returning the upload id.
    fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;

    /// UploadPart: part `number` (1 to [`MAX_UPLOAD_PARTS`]; every part but the last at least
    /// [`MIN_PART_BYTES`]), returning its ETag.
    fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;

    /// CompleteMultipartUpload: the object becomes the parts, in order.
    fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// AbortMultipartUpload: the parts are discarded (a failed writer leaves no half object
    /// and no stored parts).
    fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// [`ObjectStore`] over the S3 SDK.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    /// Bucket → the account that must own it (`ExpectedBucketOwner`).
    owners: Arc<BTreeMap<String, String>>,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Store {
            client,
            owners: Arc::default(),
        }
    }

    /// Every request to `bucket` carries `ExpectedBucketOwner: account`. A bucket in another
    /// account (an organization trail's log archive) is named by a string anyone can claim
    /// once it is deleted; with the owner stated, S3 answers a request to a bucket "the
    /// account ID that you provide does not match" with 403 instead of serving or taking
    /// data (S3 API reference, `x-amz-expected-bucket-owner` of every operation used here).
    pub fn expecting_owner(mut self, bucket: &str, account: &str) -> Self {
        Arc::make_mut(&mut self.owners).insert(bucket.to_owned(), account.to_owned());
        self
    }

    fn owner(&self, bucket: &str) -> Option<String> {
        self.owners.get(bucket).cloned()
    }
}

impl ObjectStore for S3Store {
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        let request = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_expected_bucket_owner(self.owner(bucket));
        let Some(out) = send_get(request).await? else {
            return Ok(None);
        };
        let bytes = read_body(out.body, bucket, key).await?;
        Ok(Some(bytes))
    }

    async fn get_object_range(
        &self,
        bucket: &str,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<ObjectRange>, AwsError> {
        let end = start.saturating_add(len.max(1)) - 1;
        let request = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes={start}-{end}"))
            .set_expected_bucket_owner(self.owner(bucket));
        let out = match send_get(request).await {
            Ok(Some(out)) => out,
            Ok(None) => return Ok(None),
            // A range starting at or past the end (an empty object, or the last piece already
            // read): S3 answers 416 InvalidRange; the size is then read with HeadObject.
            Err(e) if e.code.as_deref() == Some("InvalidRange") => {
                let head = self
                    .client
                    .head_object()
                    .bucket(bucket)
                    .key(key)
                    .set_expected_bucket_owner(self.owner(bucket))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk(SERVICE, "HeadObject", e))?;
                let total_size = head
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0);
                return Ok(Some(ObjectRange {
                    bytes: Vec::new(),
                    total_size,
                }));
            }
            Err(e) => return Err(e),
        };
        let total_size = out
            .content_range()
            .and_then(|r| r.rsplit('/').next())
            .and_then(|n| n.parse::<u64>().ok())
            .or_else(|| out.content_length().and_then(|n| u64::try_from(n).ok()))
            .ok_or_else(|| {
                AwsError::malformed(
                    SERVICE,
                    "GetObject",
                    format!(
                        "s3://{bucket}/{key}: a ranged read without Content-Range or Content-Length"
                    ),
                )
            })?;
        let bytes = read_body(out.body, bucket, key).await?;
        Ok(Some(ObjectRange { bytes, total_size }))
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .set_expected_bucket_owner(self.owner(bucket))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "PutObject", e))?;
        Ok(())
    }

    async fn get_object_tagged(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<TaggedObject>, AwsError> {
        let request = self.client.get_object().bucket(bucket).key(key);
        let Some(out) = send_get(request).await? else {
            return Ok(None);
        };
        // GetObject always answers with an ETag (API reference, GetObject response
        // headers); without one no conditional write could follow.
        let etag = out.e_tag().map(str::to_owned).ok_or_else(|| {
            AwsError::malformed(
                SERVICE,
                "GetObject",
                format!("s3://{bucket}/{key}: a response without ETag"),
            )
        })?;
        let bytes = read_body(out.body, bucket, key).await?;
        Ok(Some(TaggedObject { bytes, etag }))
    }

    async fn put_object_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        expected: &Expected,
    ) -> Result<WriteOutcome, AwsError> {
        let request = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        let request = match expected {
            Expected::Absent => request.if_none_match("*"),
            Expected::Unchanged(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(_) => Ok(WriteOutcome::Written),
            Err(e) => conditional_put_error(AwsError::from_sdk(SERVICE, "PutObject", e), expected),
        }
    }

    async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, AwsError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_expected_bucket_owner(self.owner(bucket))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk(SERVICE, "ListObjectsV2", e))?;
            out.extend(page.contents().iter().filter_map(object_info));
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        continuation: Option<&str>,
    ) -> Result<ListPage, AwsError> {
        let page = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_owned))
            .set_continuation_token(continuation.map(str::to_owned))
            .set_expected_bucket_owner(self.owner(bucket))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "ListObjectsV2", e))?;
        Ok(ListPage {
            objects: page.contents().iter().filter_map(object_info).collect(),
            prefixes: page
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned))
                .collect(),
            next: page
                .is_truncated()
                .unwrap_or(false)
                .then(|| page.next_continuation_token().map(str::to_owned))
                .flatten(),
        })
    }

    async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
    ) -> Result<String, AwsError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .set_expected_bucket_owner(self.owner(bucket))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "CreateMultipartUpload", e))?;
        out.upload_id().map(str::to_owned).ok_or_else(|| {
            AwsError::malformed(
                SERVICE,
                "CreateMultipartUpload",
                format!("s3://{bucket}/{key}: no UploadId in the response"),
            )
        })
    }

    async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        body: Vec<u8>,
    ) -> Result<String, AwsError> {
        let out = self
            .client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(i32::try_from(number).unwrap_or(i32::MAX))
            .body(ByteStream::from(body))
            .set_expected_bucket_owner(self.owner(bucket))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "UploadPart", e))?;
        out.e_tag().map(str::to_owned).ok_or_else(|| {
            AwsError::malformed(
                SERVICE,
                "UploadPart",
                format!("s3://{bucket}/{key}: no ETag for part {number}"),
            )
        })
    }

    async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), AwsError> {
        let parts = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(i32::try_from(p.number).unwrap_or(i32::MAX))
                    .e_tag(&p.etag)
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .set_expected_bucket_owner(self.owner(bucket))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "CompleteMultipartUpload", e))?;
        Ok(())
    }

    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), AwsError> {
        self.client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .set_expected_bucket_owner(self.owner(bucket))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "AbortMultipartUpload", e))?;
        Ok(())
    }
}

/// A failed conditional PutObject, by what S3 documents for it (API reference, PutObject
/// `If-Match` and `If-None-Match`): 412 PreconditionFailed means the key no longer holds what
/// was expected; 409 ConditionalRequestConflict means a conflicting write was in progress and
/// the request should be tried again (transient: the retry then sees the other write, or
/// succeeds). `If-Match` on a key deleted since it was read answers NoSuchKey: superseded too.
fn conditional_put_error(e: AwsError, expected: &Expected) -> Result<WriteOutcome, AwsError> {
    match (e.status, e.code.as_deref()) {
        (Some(412), _) | (_, Some("PreconditionFailed")) => Ok(WriteOutcome::Superseded),
        (_, Some("NoSuchKey")) if matches!(expected, Expected::Unchanged(_)) => {
            Ok(WriteOutcome::Superseded)
        }
        (_, Some("ConditionalRequestConflict")) => Err(AwsError {
            kind: crate::error::ErrorKind::Transient,
            ..e
        }),
        _ => Err(e),
    }
}

/// Sends a GetObject; a missing key (`NoSuchKey`) is `None`, an answer (a first run has no
/// ledger yet), while a missing bucket is a broken deployment and stays an error. The three
/// GetObject variants share this one mapping; the ranged read looks at the error for
/// `InvalidRange` itself.
async fn send_get(
    request: aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder,
) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>, AwsError> {
    match request.send().await {
        Ok(out) => Ok(Some(out)),
        Err(e) => {
            let e = AwsError::from_sdk(SERVICE, "GetObject", e);
            if e.code.as_deref() == Some("NoSuchKey") {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// A listed object as [`ObjectInfo`], for the whole listing and the single page alike; an
/// entry without a key (never sent by S3, but optional in the SDK's model) is skipped, and a
/// missing or negative size reads as 0.
fn object_info(o: &aws_sdk_s3::types::Object) -> Option<ObjectInfo> {
    Some(ObjectInfo {
        key: o.key()?.to_owned(),
        size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
    })
}

/// A GetObject body read to the end. A connection that breaks mid-body is transient (the caller
/// retries); the three GetObject variants share this one mapping.
async fn read_body(body: ByteStream, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
    let bytes = body.collect().await.map_err(|e| AwsError {
        service: SERVICE,
        operation: "GetObject",
        kind: crate::error::ErrorKind::Transient,
        code: None,
        status: None,
        message: format!("reading the body of s3://{bucket}/{key}: {e}"),
    })?;
    Ok(bytes.into_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(status: u16, code: &str) -> AwsError {
        AwsError {
            service: SERVICE,
            operation: "PutObject",
            kind: crate::error::classify(Some(code), Some(status)),
            code: Some(code.to_owned()),
            status: Some(status),
            message: "At least one of the pre-conditions you specified did not hold".into(),
        }
    }

    #[test]
    fn conditional_put_errors_are_told_apart() {
        let tag = Expected::Unchanged("\"9b2cf535f27731c974343645a3985328\"".into());
        assert_eq!(
            conditional_put_error(failed(412, "PreconditionFailed"), &tag),
            Ok(WriteOutcome::Superseded)
        );
        assert_eq!(
            conditional_put_error(failed(412, "PreconditionFailed"), &Expected::Absent),
            Ok(WriteOutcome::Superseded)
        );
        assert_eq!(
            conditional_put_error(failed(404, "NoSuchKey"), &tag),
            Ok(WriteOutcome::Superseded)
        );
        // A missing bucket is a broken deployment, not a lost race.
        let e = conditional_put_error(failed(404, "NoSuchBucket"), &tag).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("NoSuchBucket"));
        let e = conditional_put_error(failed(409, "ConditionalRequestConflict"), &tag).unwrap_err();
        assert!(e.is_transient());
        let e = conditional_put_error(failed(403, "AccessDenied"), &Expected::Absent).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::AccessDenied);
    }
}
