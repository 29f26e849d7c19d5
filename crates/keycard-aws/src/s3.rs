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

/// Reads and writes whole objects.
pub trait ObjectStore: Send + Sync {
    /// The object's bytes, or `None` when the key does not exist (a first run has no ledger).
    /// Without `s3:ListBucket`, S3 answers a missing key with AccessDenied, which stays an
    /// error.
    fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, AwsError>> + Send;

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
