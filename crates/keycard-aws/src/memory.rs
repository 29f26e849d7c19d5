//! In-memory adapters: the capability traits with the behaviour the services document, and no
//! network, so every step handler is unit-tested without moto.
//!
//! They are stand-ins, not mocks: an object written is read back, a listing is paged the way
//! ListObjectsV2 pages, a stack is found by name or by stack id, a generation started twice with
//! one client token is one job. What they cannot know (which actions a role used) a test gives
//! them, shaped like the real responses.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::access_analyzer::{
    AccessCheck, GenerationJob, GenerationRequest, JobStatus, PolicyChecks, PolicyGeneration,
    ValidationFinding,
};
use crate::cloudformation::{DriftDetection, ResourceDrift, StackResource, Stacks, TemplateStage};
use crate::error::{AwsError, ErrorKind};
use crate::iam::{LivePolicies, RoleInfo, Roles};
use crate::s3::{
    Expected, MAX_UPLOAD_PARTS, MIN_PART_BYTES, ObjectInfo, ObjectRange, ObjectStore, TaggedObject,
    UploadedPart, WriteOutcome,
};

pub use crate::s3::ListPage;

// The notification adapters' stand-ins live beside their SDK adapters.
pub use crate::events::{MemoryEventBus, PutEvent};
pub use crate::sns::{MemoryTopic, Published};

/// ListObjectsV2 returns "up to 1,000 objects" per page (`MaxKeys`, API reference
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html>).
pub const LIST_PAGE_SIZE: usize = 1000;

fn error(
    service: &'static str,
    operation: &'static str,
    kind: ErrorKind,
    code: &str,
    message: String,
) -> AwsError {
    AwsError {
        service,
        operation,
        kind,
        code: Some(code.to_owned()),
        status: Some(match kind {
            ErrorKind::NotFound => 404,
            ErrorKind::AccessDenied => 403,
            ErrorKind::Conflict | ErrorKind::QuotaExceeded => 409,
            _ => 400,
        }),
        message,
    }
}

/// A lock that a panicked test thread poisoned is still the data: the stand-ins never hold a
/// lock across a panic point that could leave it half-written.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

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
        self.check_owner("ListObjectsV2", bucket)?;
        let buckets = lock(&self.buckets);
        let objects = buckets
            .get(bucket)
            .ok_or_else(|| Self::no_bucket("ListObjectsV2", bucket))?;
        // The token is the last entry served: `k<key>` or `p<common prefix>` (opaque to callers,
        // as S3's is).
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
            if entries == self.page_size {
                page.next = last;
                return Ok(page);
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
        Ok(page)
    }
}

impl ObjectStore for MemoryStore {
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        self.check_owner("GetObject", bucket)?;
        let body = {
            let buckets = lock(&self.buckets);
            let objects = buckets
                .get(bucket)
                .ok_or_else(|| Self::no_bucket("GetObject", bucket))?;
            objects.get(key).cloned()
        };
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
        self.check_owner("GetObject", bucket)?;
        let range = {
            let buckets = lock(&self.buckets);
            let objects = buckets
                .get(bucket)
                .ok_or_else(|| Self::no_bucket("GetObject", bucket))?;
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
        };
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
        self.check_owner("PutObject", bucket)?;
        let mut buckets = lock(&self.buckets);
        let objects = buckets
            .get_mut(bucket)
            .ok_or_else(|| Self::no_bucket("PutObject", bucket))?;
        objects.insert(key.to_owned(), body);
        Ok(())
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
        self.check_owner("PutObject", bucket)?;
        // One lock for the check and the write: S3 evaluates the condition atomically.
        let mut buckets = lock(&self.buckets);
        let objects = buckets
            .get_mut(bucket)
            .ok_or_else(|| Self::no_bucket("PutObject", bucket))?;
        let holds = match (expected, objects.get(key)) {
            (Expected::Absent, None) => true,
            (Expected::Unchanged(tag), Some(current)) => etag(current) == *tag,
            _ => false,
        };
        if !holds {
            return Ok(WriteOutcome::Superseded);
        }
        objects.insert(key.to_owned(), body);
        Ok(WriteOutcome::Written)
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
        self.check_owner("CreateMultipartUpload", bucket)?;
        if !lock(&self.buckets).contains_key(bucket) {
            return Err(Self::no_bucket("CreateMultipartUpload", bucket));
        }
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

/// One stack of [`MemoryStacks`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStack {
    pub name: String,
    /// The stack id (its ARN); CloudFormation accepts either as `StackName`.
    pub stack_id: String,
    pub resources: Vec<StackResource>,
    pub original: String,
    /// The template after transforms; the original when none is set (a plain template).
    pub processed: Option<String>,
    /// What the next drift detection finds.
    pub drifts: Vec<ResourceDrift>,
}

/// CloudFormation in memory.
#[derive(Debug, Default)]
pub struct MemoryStacks {
    stacks: Mutex<Vec<MemoryStack>>,
    detections: Mutex<BTreeMap<String, (String, DriftDetection)>>,
    /// Every DetectStackDrift request: the stack and its `LogicalResourceIds`.
    drift_requests: Mutex<Vec<(String, Vec<String>)>>,
}

impl MemoryStacks {
    pub fn add(&self, stack: MemoryStack) {
        lock(&self.stacks).push(stack);
    }

    /// The drift detections started so far: stack name and the resources asked for (empty:
    /// the whole stack).
    pub fn drift_requests(&self) -> Vec<(String, Vec<String>)> {
        lock(&self.drift_requests).clone()
    }

    fn find(&self, operation: &'static str, stack: &str) -> Result<MemoryStack, AwsError> {
        lock(&self.stacks)
            .iter()
            .find(|s| s.name == stack || s.stack_id == stack)
            .cloned()
            .ok_or_else(|| {
                // CloudFormation's answer for a missing stack is a 400 ValidationError "Stack
                // with id X does not exist"; the SDK adapter classifies it as NotFound.
                error(
                    "cloudformation",
                    operation,
                    ErrorKind::NotFound,
                    "ValidationError",
                    format!("Stack with id {stack} does not exist"),
                )
            })
    }
}

impl Stacks for MemoryStacks {
    async fn stack_resources(&self, stack: &str) -> Result<Vec<StackResource>, AwsError> {
        Ok(self.find("ListStackResources", stack)?.resources)
    }

    async fn template(&self, stack: &str, stage: TemplateStage) -> Result<String, AwsError> {
        let s = self.find("GetTemplate", stack)?;
        Ok(match stage {
            TemplateStage::Original => s.original,
            TemplateStage::Processed => s.processed.unwrap_or(s.original),
        })
    }

    async fn detect_drift(&self, stack: &str, logical_ids: &[String]) -> Result<String, AwsError> {
        let s = self.find("DetectStackDrift", stack)?;
        if logical_ids.len() > crate::cloudformation::MAX_DRIFT_RESOURCES {
            return Err(error(
                "cloudformation",
                "DetectStackDrift",
                ErrorKind::InvalidRequest,
                "ValidationError",
                format!(
                    "LogicalResourceIds: {} members, at most 200",
                    logical_ids.len()
                ),
            ));
        }
        lock(&self.drift_requests).push((s.name.clone(), logical_ids.to_vec()));
        let mut detections = lock(&self.detections);
        let id = format!("{:08x}-drift-{}", detections.len() + 1, s.name);
        let drifted = s.drifts.iter().any(|d| d.status != "IN_SYNC");
        detections.insert(
            id.clone(),
            (
                s.name,
                DriftDetection {
                    detection_status: "DETECTION_COMPLETE".to_owned(),
                    stack_drift_status: Some(
                        if drifted { "DRIFTED" } else { "IN_SYNC" }.to_owned(),
                    ),
                    reason: None,
                },
            ),
        );
        Ok(id)
    }

    async fn drift_detection(&self, detection_id: &str) -> Result<DriftDetection, AwsError> {
        lock(&self.detections)
            .get(detection_id)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| {
                error(
                    "cloudformation",
                    "DescribeStackDriftDetectionStatus",
                    ErrorKind::InvalidRequest,
                    "ValidationError",
                    format!("Drift detection {detection_id} does not exist"),
                )
            })
    }

    async fn resource_drifts(&self, stack: &str) -> Result<Vec<ResourceDrift>, AwsError> {
        Ok(self.find("DescribeStackResourceDrifts", stack)?.drifts)
    }
}

/// IAM roles in memory.
#[derive(Debug, Default)]
pub struct MemoryRoles {
    roles: Mutex<BTreeMap<String, (RoleInfo, LivePolicies)>>,
}

impl MemoryRoles {
    /// A role named `name` under `path` of `account` (ARN `arn:aws:iam::<account>:role<path><name>`).
    pub fn add(&self, account: &str, path: &str, name: &str, live: LivePolicies) -> RoleInfo {
        let info = RoleInfo {
            name: name.to_owned(),
            arn: format!("arn:aws:iam::{account}:role{path}{name}"),
            path: path.to_owned(),
        };
        lock(&self.roles).insert(name.to_owned(), (info.clone(), live));
        info
    }

    fn find(
        &self,
        operation: &'static str,
        name: &str,
    ) -> Result<(RoleInfo, LivePolicies), AwsError> {
        lock(&self.roles).get(name).cloned().ok_or_else(|| {
            error(
                "iam",
                operation,
                ErrorKind::NotFound,
                "NoSuchEntity",
                format!("The role with name {name} cannot be found."),
            )
        })
    }
}

impl Roles for MemoryRoles {
    async fn role(&self, name: &str) -> Result<RoleInfo, AwsError> {
        Ok(self.find("GetRole", name)?.0)
    }

    async fn live_policies(&self, role_name: &str) -> Result<LivePolicies, AwsError> {
        Ok(self.find("ListRolePolicies", role_name)?.1)
    }
}

#[derive(Debug, Clone)]
struct Job {
    id: String,
    principal: String,
    token: String,
    status: JobStatus,
}

/// IAM Access Analyzer in memory: policy generation with the account's one running job and
/// idempotent client tokens, and the two policy checks.
#[derive(Debug, Default)]
pub struct MemoryAnalyzer {
    jobs: Mutex<Vec<Job>>,
    /// Principal ARN → the GetGeneratedPolicy response (REST JSON) its job finishes with.
    results: Mutex<BTreeMap<String, Value>>,
}

impl MemoryAnalyzer {
    /// The job of `principal_arn` finishes with `api_json` (GetGeneratedPolicy's REST JSON,
    /// `generatedPolicyResult` and `jobDetails`). A principal without one stays in progress.
    pub fn finish_with(&self, principal_arn: &str, api_json: Value) {
        lock(&self.results).insert(principal_arn.to_owned(), api_json);
    }

    /// Every job started, as `(job id, principal, status)`.
    pub fn jobs(&self) -> Vec<(String, String, JobStatus)> {
        lock(&self.jobs)
            .iter()
            .map(|j| (j.id.clone(), j.principal.clone(), j.status))
            .collect()
    }

    fn job(&self, operation: &'static str, job_id: &str) -> Result<Job, AwsError> {
        lock(&self.jobs)
            .iter()
            .find(|j| j.id == job_id)
            .cloned()
            .ok_or_else(|| {
                error(
                    "accessanalyzer",
                    operation,
                    ErrorKind::NotFound,
                    "ResourceNotFoundException",
                    format!("job {job_id} not found"),
                )
            })
    }
}

impl PolicyGeneration for MemoryAnalyzer {
    async fn start_generation(&self, request: &GenerationRequest) -> Result<String, AwsError> {
        let mut jobs = lock(&self.jobs);
        if let Some(same) = jobs.iter().find(|j| j.token == request.client_token) {
            return Ok(same.id.clone());
        }
        let results = lock(&self.results);
        // A job whose result is known has finished; one without is still running and holds
        // the account's single generation slot (ConflictException, reported as a quota).
        if jobs
            .iter()
            .any(|j| j.status == JobStatus::InProgress && !results.contains_key(&j.principal))
        {
            return Err(error(
                "accessanalyzer",
                "StartPolicyGeneration",
                ErrorKind::QuotaExceeded,
                "ConflictException",
                "a policy generation is already in progress".to_owned(),
            ));
        }
        let id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            jobs.len() + 1,
            jobs.len() + 1
        );
        jobs.push(Job {
            id: id.clone(),
            principal: request.principal_arn.clone(),
            token: request.client_token.clone(),
            status: JobStatus::InProgress,
        });
        Ok(id)
    }

    async fn generated_policy(&self, job_id: &str) -> Result<GenerationJob, AwsError> {
        let job = self.job("GetGeneratedPolicy", job_id)?;
        let result = lock(&self.results).get(&job.principal).cloned();
        let (status, api_json) = match (job.status, result) {
            (JobStatus::InProgress, Some(api_json)) => (JobStatus::Succeeded, api_json),
            (status, _) => (
                status,
                serde_json::json!({"jobDetails": {"jobId": job.id, "status": status.as_str()}}),
            ),
        };
        Ok(GenerationJob {
            job_id: job.id,
            status,
            error: None,
            api_json,
        })
    }

    async fn cancel_generation(&self, job_id: &str) -> Result<(), AwsError> {
        let finished = lock(&self.results)
            .contains_key(&self.job("CancelPolicyGeneration", job_id)?.principal);
        let mut jobs = lock(&self.jobs);
        let Some(job) = jobs.iter_mut().find(|j| j.id == job_id) else {
            return Ok(());
        };
        if job.status != JobStatus::InProgress || finished {
            return Err(error(
                "accessanalyzer",
                "CancelPolicyGeneration",
                ErrorKind::InvalidRequest,
                "ValidationException",
                format!("job {job_id} is not in progress"),
            ));
        }
        job.status = JobStatus::Canceled;
        Ok(())
    }
}

/// The Allow statements' actions of an identity policy, `None` when it is not one.
fn allowed_actions(document: &str) -> Option<BTreeSet<String>> {
    let doc: Value = serde_json::from_str(document).ok()?;
    let statements = match doc.get("Statement")? {
        Value::Array(a) => a.clone(),
        v @ Value::Object(_) => vec![v.clone()],
        _ => return None,
    };
    let mut out = BTreeSet::new();
    for st in statements {
        if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        match st.get("Action") {
            Some(Value::String(s)) => {
                out.insert(s.to_ascii_lowercase());
            }
            Some(Value::Array(a)) => {
                out.extend(
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_ascii_lowercase),
                );
            }
            _ => {}
        }
    }
    Some(out)
}

/// IAM's action wildcards: `*` any run of characters, `?` one character, case-insensitive.
fn wildcard_match(pattern: &str, action: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], a) || (!a.is_empty() && go(p, &a[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x == y => go(&p[1..], &a[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), action.as_bytes())
}

impl PolicyChecks for MemoryAnalyzer {
    /// An identity policy that cannot be read gets ValidatePolicy's `ERROR` with the issue code
    /// the service uses for unparseable JSON; a readable one no finding.
    async fn validate_policy(&self, document: &str) -> Result<Vec<ValidationFinding>, AwsError> {
        Ok(match allowed_actions(document) {
            Some(_) => Vec::new(),
            None => vec![ValidationFinding {
                finding_type: "ERROR".to_owned(),
                issue_code: "JSON_PARSE_ERROR".to_owned(),
                details: "the policy is not a JSON identity policy with a Statement".to_owned(),
                learn_more: "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html".to_owned(),
            }],
        })
    }

    /// Action-level: `FAIL` when `new` allows an action no pattern of `existing` matches (the
    /// documents keycard checks are action lists on `Resource: "*"`).
    async fn check_no_new_access(
        &self,
        new: &str,
        existing: &str,
    ) -> Result<AccessCheck, AwsError> {
        let (Some(new), Some(existing)) = (allowed_actions(new), allowed_actions(existing)) else {
            return Err(error(
                "accessanalyzer",
                "CheckNoNewAccess",
                ErrorKind::InvalidRequest,
                "ValidationException",
                "a policy document is not valid JSON".to_owned(),
            ));
        };
        let added: Vec<String> = new
            .iter()
            .filter(|a| !existing.iter().any(|p| wildcard_match(p, a)))
            .cloned()
            .collect();
        Ok(if added.is_empty() {
            AccessCheck {
                result: "PASS".to_owned(),
                message: Some("The modified permissions grant no new access compared to your existing policy.".to_owned()),
                reasons: Vec::new(),
            }
        } else {
            AccessCheck {
                result: "FAIL".to_owned(),
                message: Some(
                    "The modified permissions grant new access compared to your existing policy."
                        .to_owned(),
                ),
                reasons: added
                    .into_iter()
                    .map(|a| format!("new action {a}"))
                    .collect(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
