//! S3 in memory: objects, pages, owners, conditional writes and multipart uploads.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::error::{AwsError, ErrorKind};
use crate::s3::{
    Expected, MAX_UPLOAD_PARTS, MIN_PART_BYTES, ObjectInfo, ObjectRange, ObjectStore, TaggedObject,
    UploadedPart, WriteOutcome,
};

use super::{error, lock};
use crate::s3::ListPage;

/// ListObjectsV2 returns "up to 1,000 objects" per page (`MaxKeys`, API reference
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html>).
pub const LIST_PAGE_SIZE: usize = 1000;

/// The stand-in's ETag: a digest of the bytes, quoted as S3 quotes it, so that (as in S3 for
/// a single-part upload) the same bytes have the same tag and any change gives another.
fn etag(bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    bytes.hash(&mut h);
    format!("\"{:016x}{:016x}\"", h.finish(), bytes.len())
}

/// Bucket → key → body.
type Buckets = BTreeMap<String, BTreeMap<String, Vec<u8>>>;
/// (bucket, key) → a byte count.
type PerObject = BTreeMap<(String, String), u64>;

/// The account that owns a bucket created without naming one.
pub const DEFAULT_ACCOUNT: &str = "123456789012";

/// A multipart upload in progress: where it goes and the parts uploaded so far.
#[derive(Debug, Clone)]
struct Upload {
    bucket: String,
    key: String,
    parts: BTreeMap<u32, Vec<u8>>,
}

/// S3 in memory: buckets must exist (as in S3, a missing bucket is an error, a missing key is
/// not), keys are listed in UTF-8 binary order, in pages. A clone is another client of the
/// same store, as a cloned SDK client is.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    buckets: Arc<Mutex<Buckets>>,
    page_size: usize,
    reads: Arc<Mutex<PerObject>>,
    largest: Arc<Mutex<PerObject>>,
    /// Bucket → the account that owns it (the store's side: shared by every client).
    owners: Arc<Mutex<BTreeMap<String, String>>>,
    /// Bucket → the owner this client states (`ExpectedBucketOwner`; this client only).
    expected: Arc<BTreeMap<String, String>>,
    uploads: Arc<Mutex<BTreeMap<String, Upload>>>,
    next_upload: Arc<Mutex<u64>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::with_page_size(LIST_PAGE_SIZE)
    }
}

impl MemoryStore {
    /// A store whose listings page every `page_size` keys (tests of paging use small pages).
    pub fn with_page_size(page_size: usize) -> MemoryStore {
        MemoryStore {
            buckets: Arc::new(Mutex::new(BTreeMap::new())),
            page_size: page_size.max(1),
            reads: Arc::new(Mutex::new(BTreeMap::new())),
            largest: Arc::new(Mutex::new(BTreeMap::new())),
            owners: Arc::new(Mutex::new(BTreeMap::new())),
            expected: Arc::default(),
            uploads: Arc::new(Mutex::new(BTreeMap::new())),
            next_upload: Arc::new(Mutex::new(0)),
        }
    }

    /// A store with these buckets already created.
    pub fn with_buckets(buckets: &[&str]) -> MemoryStore {
        let s = MemoryStore::default();
        for b in buckets {
            s.create_bucket(b);
        }
        s
    }

    pub fn create_bucket(&self, bucket: &str) {
        lock(&self.buckets).entry(bucket.to_owned()).or_default();
    }

    /// A bucket of another account (an organization trail's log archive).
    pub fn create_bucket_owned_by(&self, bucket: &str, account: &str) {
        self.create_bucket(bucket);
        lock(&self.owners).insert(bucket.to_owned(), account.to_owned());
    }

    /// This client states `account` as the owner of `bucket` on every request, as
    /// `S3Store::expecting_owner` does; a request to a bucket another account owns is denied
    /// (403), the way S3 answers a mismatched `ExpectedBucketOwner`.
    pub fn expecting_owner(mut self, bucket: &str, account: &str) -> MemoryStore {
        Arc::make_mut(&mut self.expected).insert(bucket.to_owned(), account.to_owned());
        self
    }

    /// Multipart uploads neither completed nor aborted.
    pub fn open_uploads(&self) -> usize {
        lock(&self.uploads).len()
    }

    fn check_owner(&self, operation: &'static str, bucket: &str) -> Result<(), AwsError> {
        let Some(expected) = self.expected.get(bucket) else {
            return Ok(());
        };
        let owner = lock(&self.owners)
            .get(bucket)
            .cloned()
            .unwrap_or_else(|| DEFAULT_ACCOUNT.to_owned());
        if *expected == owner {
            Ok(())
        } else {
            Err(error(
                "s3",
                operation,
                ErrorKind::AccessDenied,
                "AccessDenied",
                format!("Access Denied: {bucket} is not owned by {expected}"),
            ))
        }
    }

    fn no_upload(operation: &'static str, upload_id: &str) -> AwsError {
        error(
            "s3",
            operation,
            ErrorKind::NotFound,
            "NoSuchUpload",
            format!("The specified multipart upload does not exist: {upload_id}"),
        )
    }

    /// The object's bytes, if written (a test's look, not counted as a read).
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        lock(&self.buckets).get(bucket)?.get(key).cloned()
    }

    /// Every key of every bucket, in order.
    pub fn keys(&self) -> Vec<String> {
        lock(&self.buckets)
            .values()
            .flat_map(|objects| objects.keys().cloned())
            .collect()
    }

    /// Bytes served for this object so far by `get_object` and `get_object_range`: a test
    /// proves a reader streamed (each byte once) or never downloaded an object.
    pub fn bytes_read(&self, bucket: &str, key: &str) -> u64 {
        lock(&self.reads)
            .get(&(bucket.to_owned(), key.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// The most bytes of this object served by one read: a streaming reader's piece size, the
    /// object's size for a reader that took it whole.
    pub fn largest_read(&self, bucket: &str, key: &str) -> u64 {
        lock(&self.largest)
            .get(&(bucket.to_owned(), key.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Adds `n` served bytes to the object's count.
    fn count(&self, bucket: &str, key: &str, n: usize) {
        let id = (bucket.to_owned(), key.to_owned());
        let mut largest = lock(&self.largest);
        let l = largest.entry(id.clone()).or_default();
        *l = (*l).max(n as u64);
        *lock(&self.reads).entry(id).or_default() += n as u64;
    }

    /// `f` over the bucket's objects, after the checks S3 makes first on every request to a
    /// bucket: a stated owner that does not match is denied (403), a missing bucket is
    /// NoSuchBucket. One lock for the look and `f`, so a conditional write is atomic.
    fn in_bucket<R>(
        &self,
        operation: &'static str,
        bucket: &str,
        f: impl FnOnce(&mut BTreeMap<String, Vec<u8>>) -> R,
    ) -> Result<R, AwsError> {
        self.check_owner(operation, bucket)?;
        let mut buckets = lock(&self.buckets);
        let objects = buckets
            .get_mut(bucket)
            .ok_or_else(|| Self::no_bucket(operation, bucket))?;
        Ok(f(objects))
    }

    fn no_bucket(operation: &'static str, bucket: &str) -> AwsError {
        error(
            "s3",
            operation,
            ErrorKind::NotFound,
            "NoSuchBucket",
            format!("The specified bucket does not exist: {bucket}"),
        )
    }

    /// One ListObjectsV2 page: entries under `prefix` after the continuation token, at most the
    /// page size. With a delimiter, keys with the delimiter after the prefix roll up into one
    /// common prefix each, which counts as one entry of the page, as in S3.
    fn page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        continuation: Option<&str>,
    ) -> Result<ListPage, AwsError> {
        let page_size = self.page_size;
        self.in_bucket("ListObjectsV2", bucket, |objects| {
            // The token is the last entry served: `k<key>` or `p<common prefix>` (opaque to
            // callers, as S3's is).
            let (lower, skip_prefix) = match continuation {
                Some(t) if t.starts_with('p') => {
                    (std::ops::Bound::Excluded(t[1..].to_owned()), Some(&t[1..]))
                }
                Some(t) => (
                    std::ops::Bound::Excluded(t.get(1..).unwrap_or_default().to_owned()),
                    None,
                ),
                None => (std::ops::Bound::Included(prefix.to_owned()), None),
            };
            let mut page = ListPage::default();
            let mut entries = 0;
            let mut last = None;
            for (k, v) in objects
                .range((lower, std::ops::Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(prefix))
            {
                if skip_prefix.is_some_and(|p| k.starts_with(p)) {
                    continue;
                }
                let rolled = delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                    let rest = &k[prefix.len()..];
                    rest.find(d)
                        .map(|i| format!("{prefix}{}", &rest[..i + d.len()]))
                });
                if let Some(cp) = &rolled
                    && page.prefixes.last() == Some(cp)
                {
                    continue;
                }
                if entries == page_size {
                    page.next = last;
                    return page;
                }
                entries += 1;
                match rolled {
                    Some(cp) => {
                        last = Some(format!("p{cp}"));
                        page.prefixes.push(cp);
                    }
                    None => {
                        last = Some(format!("k{k}"));
                        page.objects.push(ObjectInfo {
                            key: k.clone(),
                            size: v.len() as u64,
                        });
                    }
                }
            }
            page
        })
    }
}

impl ObjectStore for MemoryStore {
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        let body = self.in_bucket("GetObject", bucket, |objects| objects.get(key).cloned())?;
        if let Some(b) = &body {
            self.count(bucket, key, b.len());
        }
        Ok(body)
    }

    async fn get_object_range(
        &self,
        bucket: &str,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<ObjectRange>, AwsError> {
        let range = self.in_bucket("GetObject", bucket, |objects| {
            objects.get(key).map(|body| {
                let total = body.len();
                let from = usize::try_from(start).unwrap_or(usize::MAX).min(total);
                let to = from
                    .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
                    .min(total);
                ObjectRange {
                    bytes: body.get(from..to).unwrap_or_default().to_vec(),
                    total_size: total as u64,
                }
            })
        })?;
        if let Some(r) = &range {
            self.count(bucket, key, r.bytes.len());
        }
        Ok(range)
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), AwsError> {
        self.in_bucket("PutObject", bucket, |objects| {
            objects.insert(key.to_owned(), body);
        })
    }

    async fn get_object_tagged(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<TaggedObject>, AwsError> {
        Ok(self
            .get_object(bucket, key)
            .await?
            .map(|bytes| TaggedObject {
                etag: etag(&bytes),
                bytes,
            }))
    }

    async fn put_object_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
        expected: &Expected,
    ) -> Result<WriteOutcome, AwsError> {
        // One lock for the check and the write: S3 evaluates the condition atomically.
        self.in_bucket("PutObject", bucket, |objects| {
            let holds = match (expected, objects.get(key)) {
                (Expected::Absent, None) => true,
                (Expected::Unchanged(tag), Some(current)) => etag(current) == *tag,
                _ => false,
            };
            if !holds {
                return WriteOutcome::Superseded;
            }
            objects.insert(key.to_owned(), body);
            WriteOutcome::Written
        })
    }

    async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, AwsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.page(bucket, prefix, None, token.as_deref())?;
            out.extend(page.objects);
            match page.next {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        continuation: Option<&str>,
    ) -> Result<ListPage, AwsError> {
        self.page(bucket, prefix, delimiter, continuation)
    }

    async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        _content_type: &str,
    ) -> Result<String, AwsError> {
        self.in_bucket("CreateMultipartUpload", bucket, |_| ())?;
        let id = {
            let mut n = lock(&self.next_upload);
            *n += 1;
            format!("upload-{n}")
        };
        lock(&self.uploads).insert(
            id.clone(),
            Upload {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                parts: BTreeMap::new(),
            },
        );
        Ok(id)
    }

    async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        body: Vec<u8>,
    ) -> Result<String, AwsError> {
        self.check_owner("UploadPart", bucket)?;
        if !(1..=MAX_UPLOAD_PARTS).contains(&number) {
            return Err(error(
                "s3",
                "UploadPart",
                ErrorKind::InvalidRequest,
                "InvalidArgument",
                format!("Part number must be an integer between 1 and 10000, got {number}"),
            ));
        }
        let mut uploads = lock(&self.uploads);
        let upload = uploads
            .get_mut(upload_id)
            .filter(|u| u.bucket == bucket && u.key == key)
            .ok_or_else(|| Self::no_upload("UploadPart", upload_id))?;
        let etag = format!("\"{upload_id}-{number}-{}\"", body.len());
        upload.parts.insert(number, body);
        Ok(etag)
    }

    async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), AwsError> {
        self.check_owner("CompleteMultipartUpload", bucket)?;
        let upload = lock(&self.uploads)
            .get(upload_id)
            .filter(|u| u.bucket == bucket && u.key == key)
            .cloned()
            .ok_or_else(|| Self::no_upload("CompleteMultipartUpload", upload_id))?;
        let bad = |code: &str, message: String| {
            Err(error(
                "s3",
                "CompleteMultipartUpload",
                ErrorKind::InvalidRequest,
                code,
                message,
            ))
        };
        if parts.is_empty() {
            return bad("MalformedXML", "no parts".into());
        }
        let mut body = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 && parts[i - 1].number >= p.number {
                return bad(
                    "InvalidPartOrder",
                    format!("part {} out of order", p.number),
                );
            }
            let Some(bytes) = upload.parts.get(&p.number) else {
                return bad("InvalidPart", format!("part {} was not uploaded", p.number));
            };
            if p.etag != format!("\"{upload_id}-{}-{}\"", p.number, bytes.len()) {
                return bad("InvalidPart", format!("part {}: ETag mismatch", p.number));
            }
            if i + 1 < parts.len() && bytes.len() < MIN_PART_BYTES {
                return bad(
                    "EntityTooSmall",
                    format!("part {} is {} bytes, under 5 MiB", p.number, bytes.len()),
                );
            }
            body.extend_from_slice(bytes);
        }
        lock(&self.uploads).remove(upload_id);
        lock(&self.buckets)
            .get_mut(bucket)
            .ok_or_else(|| Self::no_bucket("CompleteMultipartUpload", bucket))?
            .insert(key.to_owned(), body);
        Ok(())
    }

    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), AwsError> {
        self.check_owner("AbortMultipartUpload", bucket)?;
        let mut uploads = lock(&self.uploads);
        match uploads.get(upload_id) {
            Some(u) if u.bucket == bucket && u.key == key => {
                uploads.remove(upload_id);
                Ok(())
            }
            _ => Err(Self::no_upload("AbortMultipartUpload", upload_id)),
        }
    }
}
