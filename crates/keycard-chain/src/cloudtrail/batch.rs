//! The Distributed Map child: one ItemBatcher batch of trail objects into a partial usage.

use std::collections::BTreeSet;

use keycard_aws::error::{AwsError, ErrorKind};
use keycard_aws::s3::ObjectStore;
use keycard_core::cloudtrail::{FileStats, MalformedFile, ScanResult, Scanner};
use keycard_core::usage::Usage;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod stream;

use super::keys;
use super::layout::{KeyClass, Selection};
use super::plan::ScanSettings;
use crate::contract::{StepError, to_json_bytes};

/// GetObject requests in flight in one child: the child waits on S3 latency, not on the CPU.
pub(crate) const FETCH_CONCURRENCY: usize = 16;

/// Bytes of a trail object fetched per ranged GetObject (4 MiB). CloudTrail delivers a file
/// about every five minutes per account and region, a few KB to a few MB compressed, so nearly
/// every object is one request, as with a whole GetObject; a larger one is read piece by piece
/// as the decoder asks for it.
pub const PIECE_BYTES: u64 = 4 << 20;

/// The most compressed bytes one scan holds (68 MiB): the first pieces of the
/// `FETCH_CONCURRENCY` (16) objects fetched ahead, of which the one being inflated holds at most
/// one more piece (the next, fetched only once the decoder has taken the previous one).
pub const MAX_BYTES_IN_FLIGHT: u64 = (FETCH_CONCURRENCY as u64 + 1) * PIECE_BYTES;

/// One object of an ItemBatcher batch, as the `s3:listObjectsV2` ItemReader describes it
/// (`Etag`, `LastModified` and `StorageClass` are also sent and not needed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Size", default)]
    pub size: u64,
}

/// A child's input: `{"Items": [...], "BatchInput": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchEvent {
    #[serde(rename = "Items")]
    pub items: Vec<BatchItem>,
    #[serde(rename = "BatchInput")]
    pub settings: ScanSettings,
}

/// What one batch (or the whole run) read. Kept small: it travels in the state machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanCounts {
    /// Log objects downloaded and scanned.
    pub objects: u64,
    /// Objects listed but not downloaded (digests, other accounts/regions, outside the window,
    /// not CloudTrail files).
    pub skipped: u64,
    /// Bytes downloaded (compressed, as stored).
    pub bytes: u64,
    /// CloudTrail records read.
    pub events: u64,
    /// Objects that could not be read completely (malformed, truncated, vanished).
    pub failures: u64,
}

impl ScanCounts {
    pub(crate) fn add(&mut self, o: &ScanCounts) {
        self.objects += o.objects;
        self.skipped += o.skipped;
        self.bytes += o.bytes;
        self.events += o.events;
        self.failures += o.failures;
    }
}

/// A child's output: where its partial usage is, and its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchOutput {
    pub partial_key: String,
    #[serde(flatten)]
    pub counts: ScanCounts,
    /// True when the partial already existed (a retry or re-drive of a finished batch).
    pub reused: bool,
}

/// The stored result of one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Partial {
    pub execution_name: String,
    pub counts: ScanCounts,
    pub files: FileStats,
    pub usage: Usage,
}

/// The partial's key: the execution, the window and trail, and the batch's objects (sorted,
/// with sizes). Same batch, same key — whichever child, attempt or re-drive computes it.
pub fn partial_key(settings: &ScanSettings, items: &[BatchItem]) -> String {
    let mut h = Sha256::new();
    h.update(settings.execution_name.as_bytes());
    h.update([0]);
    h.update(settings.window_start.to_rfc3339().as_bytes());
    h.update([0]);
    h.update(settings.window_end.to_rfc3339().as_bytes());
    h.update([0]);
    h.update(settings.trail.bucket.as_bytes());
    h.update([0]);
    if let Some(p) = &settings.principals {
        let sorted: BTreeSet<&String> = p.iter().collect();
        for arn in sorted {
            h.update(arn.as_bytes());
            h.update([1]);
        }
    }
    h.update([0]);
    let mut sorted: Vec<&BatchItem> = items.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key).then(a.size.cmp(&b.size)));
    sorted.dedup();
    for i in sorted {
        h.update(i.key.as_bytes());
        h.update([0]);
        h.update(i.size.to_le_bytes());
    }
    let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    keys::partial(&settings.execution_name, &digest)
}

/// The Distributed Map child: scans one batch of trail objects into a partial usage.
///
/// Transient S3 failures fail the batch with `Keycard.Transient` (the ASL retries it; the
/// partial's key makes the retry idempotent). An object that vanished between listing and
/// reading (lifecycle expiry) is a recorded failure. A denied read (bucket policy, KMS key
/// policy) fails the batch: it would fail for every object and must not look like silence.
pub async fn scan_batch<S>(
    store: &S,
    output_bucket: &str,
    event: BatchEvent,
) -> Result<BatchOutput, StepError>
where
    S: ObjectStore + Clone + 'static,
{
    event.settings.validate()?;
    let key = partial_key(&event.settings, &event.items);
    // A partial that does not parse (an older format) is computed again.
    let done = store
        .get_object(output_bucket, &key)
        .await?
        .and_then(|bytes| serde_json::from_slice::<Partial>(&bytes).ok());
    if let Some(done) = done {
        return Ok(BatchOutput {
            partial_key: key,
            counts: done.counts,
            reused: true,
        });
    }
    let s = &event.settings;
    let selection = Selection::new(&s.trail, s.window_start, s.window_end);
    let mut counts = ScanCounts::default();
    let mut wanted: Vec<BatchItem> = Vec::new();
    let mut digests = 0u64;
    for item in &event.items {
        match selection.classify(&item.key) {
            KeyClass::Scan => wanted.push(item.clone()),
            KeyClass::Digest => {
                digests += 1;
                counts.skipped += 1;
            }
            KeyClass::OtherTrail | KeyClass::OutsideWindow | KeyClass::NotALog => {
                counts.skipped += 1
            }
        }
    }
    // Key order is delivery order within a region: the scanner's deduplication window can
    // slide, and the result does not depend on the order items arrived in.
    wanted.sort_by(|a, b| a.key.cmp(&b.key));
    wanted.dedup_by(|a, b| a.key == b.key);

    let mut scanner = Scanner::new(&s.scan_options());
    let keys: Vec<String> = wanted.into_iter().map(|i| i.key).collect();
    let fetched = scan_objects(store, &s.trail.bucket, &keys, &mut scanner, |_, _| {}).await?;
    counts.objects += fetched.objects;
    counts.bytes += fetched.bytes;
    let vanished = fetched.vanished;
    let ScanResult { usage, mut files } = scanner.finish();
    files.digests_skipped += digests;
    files.malformed.extend(vanished);
    files.malformed.sort();
    counts.events = files.events;
    counts.failures = files.malformed.len() as u64;
    let partial = Partial {
        execution_name: s.execution_name.clone(),
        counts: counts.clone(),
        files,
        usage,
    };
    store
        .put_object(
            output_bucket,
            &key,
            to_json_bytes(&partial)?,
            "application/json",
        )
        .await?;
    Ok(BatchOutput {
        partial_key: key,
        counts,
        reused: false,
    })
}

/// What [`scan_objects`] downloaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// Objects downloaded and scanned.
    pub objects: u64,
    /// Bytes downloaded (compressed, as stored). An object refused at the inflation cap is
    /// not downloaded past the point where the decoder stopped.
    pub bytes: u64,
    /// Objects listed but gone when read (lifecycle expiry, deletion): recorded, not fatal.
    pub vanished: Vec<MalformedFile>,
    /// The most downloaded bytes held at once, not yet consumed by the decoder: at most
    /// [`MAX_BYTES_IN_FLIGHT`] by construction.
    pub peak_buffered: u64,
}

/// Downloads `keys` from `bucket` and streams each through `scanner` in the order given,
/// calling `on_object(key, bytes)` after each. Shared by the Distributed Map child
/// ([`scan_batch`]) and the CLI's `--cloudtrail s3://…`, so both read a trail bucket the same
/// way. A failed read other than a vanished object is returned (a denial would fail for every
/// object and must not look like silence).
///
/// Memory is bounded whatever the objects: the first [`PIECE_BYTES`] of up to
/// `FETCH_CONCURRENCY` (16) objects are fetched ahead (ranged GetObject), and the rest of an
/// object is fetched one piece at a time as the gzip decoder asks for it, so at most
/// [`MAX_BYTES_IN_FLIGHT`] compressed bytes are held; keycard-core inflates at most
/// `MAX_OBJECT_BYTES` (256 MiB) of one object and then stops reading it, reported as a
/// malformed file. A 1 MB member inflating to 1 GiB, or 16 objects of hundreds of MB, stay
/// within the batch function's memory (1,769 MB in template.yaml).
pub async fn scan_objects<S, F>(
    store: &S,
    bucket: &str,
    keys: &[String],
    scanner: &mut Scanner,
    on_object: F,
) -> Result<Fetched, StepError>
where
    S: ObjectStore + Clone + 'static,
    F: FnMut(&str, u64) + Send,
{
    stream::scan_objects_in_pieces(store, bucket, keys, scanner, on_object, PIECE_BYTES).await
}

/// A download task that panicked or was cancelled: transient (the step is retried), never a
/// silently missing object.
fn download_task_ended(e: tokio::task::JoinError) -> StepError {
    StepError::Aws(AwsError {
        service: "s3",
        operation: "GetObject",
        kind: ErrorKind::Transient,
        code: None,
        status: None,
        message: format!("a download task ended abnormally: {e}"),
    })
}

/// A key whose download task never reported back (cannot happen while every spawned task is
/// joined; an error rather than a panic if it ever does).
fn no_download_result(key: &str) -> StepError {
    StepError::Aws(AwsError::malformed(
        "s3",
        "GetObject",
        format!("no result for {key}"),
    ))
}

/// Runs `fetch` on each of `keys` concurrently (callers pass chunks of at most
/// [`FETCH_CONCURRENCY`]), results in the order of `keys`. Whole objects for reduce and first
/// pieces for the streamed scan are fetched this one way, so a task that ended abnormally fails
/// both alike.
pub(crate) async fn fetch_each<T, Fut>(
    keys: &[String],
    fetch: impl Fn(String) -> Fut,
) -> Result<Vec<T>, StepError>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for (i, key) in keys.iter().enumerate() {
        let fetching = fetch(key.clone());
        tasks.spawn(async move { (i, fetching.await) });
    }
    let mut slots: Vec<Option<T>> = (0..keys.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, res) = joined.map_err(download_task_ended)?;
        if let Some(slot) = slots.get_mut(i) {
            *slot = Some(res);
        }
    }
    slots
        .into_iter()
        .zip(keys)
        .map(|(slot, key)| slot.ok_or_else(|| no_download_result(key)))
        .collect()
}

/// Downloads `keys` concurrently (at most [`FETCH_CONCURRENCY`] at once; callers pass chunks
/// of that size), results in the order of `keys`.
pub(crate) async fn fetch_chunk<S>(
    store: &S,
    bucket: &str,
    keys: &[String],
) -> Result<Vec<Result<Option<Vec<u8>>, AwsError>>, StepError>
where
    S: ObjectStore + Clone + 'static,
{
    fetch_each(keys, |key| {
        let store = store.clone();
        let bucket = bucket.to_owned();
        async move { store.get_object(&bucket, &key).await }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudtrail::fixtures::{at, trail};

    #[test]
    fn partial_key_depends_on_contents_not_order() {
        let settings = ScanSettings {
            execution_name: "2026-q4".into(),
            window_start: at("2025-03-01T00:00:00Z"),
            window_end: at("2025-03-10T00:00:00Z"),
            trail: trail(),
            principals: None,
        };
        let a = BatchItem {
            key: "a".into(),
            size: 1,
        };
        let b = BatchItem {
            key: "b".into(),
            size: 2,
        };
        let k1 = partial_key(&settings, &[a.clone(), b.clone()]);
        assert_eq!(k1, partial_key(&settings, &[b.clone(), a.clone()]));
        assert!(k1.starts_with("runs/2026-q4/cloudtrail/partials/"));
        assert_ne!(k1, partial_key(&settings, std::slice::from_ref(&a)));
        let mut other = settings.clone();
        other.execution_name = "2027-q1".into();
        assert_ne!(
            k1.rsplit('/').next(),
            partial_key(&other, &[a.clone(), b.clone()])
                .rsplit('/')
                .next()
        );
        let bigger = BatchItem {
            key: "b".into(),
            size: 3,
        };
        assert_ne!(k1, partial_key(&settings, &[a, bigger]));
    }

    #[test]
    fn batch_event_parses_the_item_batcher_shape() {
        let e: BatchEvent = serde_json::from_str(
            r#"{"Items":[{"Etag":"\"0c5c1f2f1b5e4c8a9f0e1d2c3b4a5968\"","Key":"AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/02/f.json.gz","LastModified":1740877500,"Size":2048,"StorageClass":"STANDARD"}],
                "BatchInput":{"executionName":"run-1","windowStart":"2025-03-01T00:00:00Z","windowEnd":"2025-03-10T00:00:00Z",
                              "trail":{"bucket":"aws-cloudtrail-logs-123456789012-3f2a1b0c","accounts":["123456789012"],"regions":["us-east-1"]}}}"#,
        )
        .unwrap();
        assert_eq!(e.items[0].size, 2048);
        assert_eq!(e.settings.trail.regions, vec!["us-east-1"]);
    }
}
