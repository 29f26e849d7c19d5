//! Object storage: the chain's only shared memory.
//!
//! Step Functions payloads are limited to 256 KB, so every step writes what it produced to the
//! output bucket and passes the key on. The trait is as small as the steps need.

use std::future::Future;

use aws_sdk_s3::primitives::ByteStream;

use crate::error::AwsError;

const SERVICE: &str = "s3";

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

    /// Every object under `prefix`, in key order, across all pages.
    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<ObjectInfo>, AwsError>> + Send;
}

/// [`ObjectStore`] over the S3 SDK.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Store { client }
    }
}

impl ObjectStore for S3Store {
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        let out = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let e = AwsError::from_sdk(SERVICE, "GetObject", e);
                // A missing key is an answer (no ledger yet); a missing bucket is a broken
                // deployment and must fail.
                return if e.code.as_deref() == Some("NoSuchKey") {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
        };
        let bytes = out.body.collect().await.map_err(|e| AwsError {
            service: SERVICE,
            operation: "GetObject",
            kind: crate::error::ErrorKind::Transient,
            code: None,
            status: None,
            message: format!("reading the body of s3://{bucket}/{key}: {e}"),
        })?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    async fn get_object_range(
        &self,
        bucket: &str,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<ObjectRange>, AwsError> {
        let end = start.saturating_add(len.max(1)) - 1;
        let out = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes={start}-{end}"))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let e = AwsError::from_sdk(SERVICE, "GetObject", e);
                return match e.code.as_deref() {
                    Some("NoSuchKey") => Ok(None),
                    // A range starting at or past the end (an empty object, or the last
                    // piece already read): S3 answers 416 InvalidRange; the size is then
                    // read with HeadObject.
                    Some("InvalidRange") => {
                        let head = self
                            .client
                            .head_object()
                            .bucket(bucket)
                            .key(key)
                            .send()
                            .await
                            .map_err(|e| AwsError::from_sdk(SERVICE, "HeadObject", e))?;
                        let total_size = head
                            .content_length()
                            .and_then(|n| u64::try_from(n).ok())
                            .unwrap_or(0);
                        Ok(Some(ObjectRange {
                            bytes: Vec::new(),
                            total_size,
                        }))
                    }
                    _ => Err(e),
                };
            }
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
        let bytes = out.body.collect().await.map_err(|e| AwsError {
            service: SERVICE,
            operation: "GetObject",
            kind: crate::error::ErrorKind::Transient,
            code: None,
            status: None,
            message: format!("reading the body of s3://{bucket}/{key}: {e}"),
        })?;
        Ok(Some(ObjectRange {
            bytes: bytes.into_bytes().to_vec(),
            total_size,
        }))
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
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "PutObject", e))?;
        Ok(())
    }

    async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, AwsError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk(SERVICE, "ListObjectsV2", e))?;
            for obj in page.contents() {
                if let Some(key) = obj.key() {
                    out.push(ObjectInfo {
                        key: key.to_owned(),
                        size: obj.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}
