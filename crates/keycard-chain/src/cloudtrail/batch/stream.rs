//! Trail objects streamed into the scanner in ranged pieces, with the bytes held bounded.
//!
//! The scanner (keycard-core) is synchronous and reads an object through `std::io::Read`; S3
//! is asynchronous. Each object is therefore scanned on a blocking thread whose reader takes
//! pieces from a channel of one, while this task fetches the next piece only once there is
//! room for it. Objects are scanned in the order given (the scanner's deduplication window
//! relies on delivery order), and the first piece of the next objects is fetched ahead, so
//! latency overlaps as it did when whole objects were downloaded.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use keycard_aws::error::{AwsError, ErrorKind};
use keycard_aws::s3::ObjectStore;
use keycard_core::cloudtrail::{MalformedFile, ScanOptions, Scanner};
use tokio::sync::mpsc;

use super::{FETCH_CONCURRENCY, Fetched, fetch_each};
use crate::contract::StepError;

/// Downloaded bytes not yet consumed by the decoder, and their high-water mark.
#[derive(Debug, Default)]
struct Gauge {
    held: AtomicU64,
    peak: AtomicU64,
}

impl Gauge {
    fn add(&self, n: u64) {
        let now = self.held.fetch_add(n, Ordering::SeqCst) + n;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }
}

/// One downloaded piece; counted in the gauge until dropped (consumed or abandoned).
struct Piece {
    bytes: Vec<u8>,
    gauge: Arc<Gauge>,
}

impl Piece {
    fn new(bytes: Vec<u8>, gauge: &Arc<Gauge>) -> Piece {
        gauge.add(bytes.len() as u64);
        Piece {
            bytes,
            gauge: Arc::clone(gauge),
        }
    }
}

impl Drop for Piece {
    fn drop(&mut self) {
        self.gauge
            .held
            .fetch_sub(self.bytes.len() as u64, Ordering::SeqCst);
    }
}

/// The first piece of an object and the object's size, or `None` when it vanished.
type First = Result<Option<(Piece, u64)>, AwsError>;

/// [`super::scan_objects`] with the piece size as a parameter (tests use small pieces).
pub(super) async fn scan_objects_in_pieces<S, F>(
    store: &S,
    bucket: &str,
    keys: &[String],
    scanner: &mut Scanner,
    mut on_object: F,
    piece: u64,
) -> Result<Fetched, StepError>
where
    S: ObjectStore + Clone + 'static,
    F: FnMut(&str, u64) + Send,
{
    let gauge = Arc::new(Gauge::default());
    // The scanner moves to each object's blocking thread and back; a placeholder holds its
    // place meanwhile.
    let mut owned = std::mem::replace(scanner, Scanner::new(&ScanOptions::default()));
    let mut out = Fetched::default();
    let mut failure: Option<StepError> = None;
    'chunks: for chunk in keys.chunks(FETCH_CONCURRENCY) {
        let firsts = match first_pieces(store, bucket, chunk, piece, &gauge).await {
            Ok(f) => f,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        for (key, first) in chunk.iter().zip(firsts) {
            match first {
                Ok(Some((first, total))) => {
                    let (back, read) =
                        stream_object(store, bucket, key, owned, first, total, piece, &gauge).await;
                    let Some(back) = back else {
                        // The scanner is lost with its thread; the caller gets the error.
                        return Err(task_failed(key));
                    };
                    owned = back;
                    match read {
                        Ok(bytes) => {
                            out.objects += 1;
                            out.bytes += bytes;
                            on_object(key, bytes);
                        }
                        Err(e) => {
                            failure = Some(StepError::Aws(e));
                            break 'chunks;
                        }
                    }
                }
                Ok(None) => out.vanished.push(vanished(key)),
                Err(e) => {
                    failure = Some(StepError::Aws(e));
                    break 'chunks;
                }
            }
        }
    }
    *scanner = owned;
    out.peak_buffered = gauge.peak.load(Ordering::SeqCst);
    match failure {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn vanished(key: &str) -> MalformedFile {
    MalformedFile {
        path: key.to_owned(),
        reason: "listed but gone when read (expired or deleted)".into(),
    }
}

fn task_failed(key: &str) -> StepError {
    StepError::Aws(AwsError {
        service: "s3",
        operation: "GetObject",
        kind: ErrorKind::Transient,
        code: None,
        status: None,
        message: format!("the task reading {key} ended abnormally"),
    })
}

/// The first `piece` bytes of each of `keys`, fetched concurrently, in the order of `keys`.
async fn first_pieces<S>(
    store: &S,
    bucket: &str,
    keys: &[String],
    piece: u64,
    gauge: &Arc<Gauge>,
) -> Result<Vec<First>, StepError>
where
    S: ObjectStore + Clone + 'static,
{
    fetch_each(keys, |key| {
        let store = store.clone();
        let bucket = bucket.to_owned();
        let gauge = Arc::clone(gauge);
        async move {
            store
                .get_object_range(&bucket, &key, 0, piece)
                .await
                .map(|r| r.map(|r| (Piece::new(r.bytes, &gauge), r.total_size)))
        }
    })
    .await
}

/// Scans one object, `first` being its first piece and `total` its size, and gives the
/// scanner back (`None` if its thread panicked) with the bytes downloaded, or the failure
/// that must fail the scan (a transient or denied read of a later piece). An object that
/// vanishes or shrinks between pieces is not a failure: its reader reports a broken stream,
/// which the scanner records as a malformed file with the records read before the break.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site, each argument distinct"
)]
async fn stream_object<S>(
    store: &S,
    bucket: &str,
    key: &str,
    mut scanner: Scanner,
    first: Piece,
    total: u64,
    piece: u64,
    gauge: &Arc<Gauge>,
) -> (Option<Scanner>, Result<u64, AwsError>)
where
    S: ObjectStore,
{
    let mut offset = first.bytes.len() as u64;
    let name = key.to_owned();
    if first.bytes.is_empty() || offset >= total {
        // The usual case: the whole object came in its first piece.
        let scan = tokio::task::spawn_blocking(move || {
            scanner.scan_reader(&name, first.bytes.as_slice());
            drop(first);
            scanner
        });
        return (scan.await.ok(), Ok(offset));
    }
    let (tx, rx) = mpsc::channel::<std::io::Result<Piece>>(1);
    let scan = tokio::task::spawn_blocking(move || {
        scanner.scan_reader(&name, PieceReader::new(first, rx));
        scanner
    });
    let mut failure = None;
    while offset < total {
        // Room first, then the request: the decoder holds one piece and at most one more is
        // downloaded. A closed channel means the decoder stopped reading (the inflation cap,
        // a broken stream): nothing more is downloaded.
        let Ok(slot) = tx.reserve().await else {
            break;
        };
        match store.get_object_range(bucket, key, offset, piece).await {
            Ok(Some(r)) if !r.bytes.is_empty() => {
                offset += r.bytes.len() as u64;
                slot.send(Ok(Piece::new(r.bytes, gauge)));
            }
            Ok(Some(_)) => {
                slot.send(Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the object ended at byte {offset} of the {total} listed"),
                )));
                break;
            }
            Ok(None) => {
                slot.send(Err(std::io::Error::other(format!(
                    "the object was deleted after {offset} of its {total} bytes were read"
                ))));
                break;
            }
            Err(e) => {
                slot.send(Err(std::io::Error::other(e.to_string())));
                failure = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let scanner = scan.await.ok();
    (scanner, failure.map_or(Ok(offset), Err))
}

/// An object's pieces, from the channel, as one byte stream.
struct PieceReader {
    current: Option<Piece>,
    pos: usize,
    rx: mpsc::Receiver<std::io::Result<Piece>>,
}

impl PieceReader {
    fn new(first: Piece, rx: mpsc::Receiver<std::io::Result<Piece>>) -> PieceReader {
        PieceReader {
            current: Some(first),
            pos: 0,
            rx,
        }
    }
}

impl Read for PieceReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(p) = &self.current {
                let rest = p.bytes.get(self.pos..).unwrap_or_default();
                if !rest.is_empty() {
                    let n = rest.len().min(out.len());
                    out[..n].copy_from_slice(&rest[..n]);
                    self.pos += n;
                    return Ok(n);
                }
            }
            // Give the consumed piece back before waiting for the next one.
            self.current = None;
            self.pos = 0;
            match self.rx.blocking_recv() {
                Some(Ok(next)) => self.current = Some(next),
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::io::Write;

    use keycard_aws::memory::MemoryStore;
    use keycard_core::cloudtrail::scan_sources;
    use serde_json::json;

    use super::*;

    const BUCKET: &str = "aws-cloudtrail-logs-111122223333-9e8d7c6b";

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// The key CloudTrail gives a delivery (`AWSLogs/<account>/CloudTrail/<region>/<date>/…`).
    fn key(n: usize) -> String {
        format!(
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2025/06/03/111122223333_CloudTrail_eu-west-1_20250603T{:02}{:02}Z_{n:016x}.json.gz",
            n / 12 % 24,
            n % 12 * 5
        )
    }

    /// One delivery of `records` events by `roles` Lambda roles, shaped like CloudTrail's.
    fn delivery(file: usize, records: usize, roles: usize) -> Vec<u8> {
        let records: Vec<_> = (0..records)
            .map(|i| {
                let role = format!("orders-Worker{}Role-K3Y9C4RD0X1Q", i % roles);
                let name = ["GetItem", "PutItem", "Query"][i % 3];
                json!({
                    "eventVersion": "1.09",
                    "userIdentity": {
                        "type": "AssumedRole",
                        "principalId": format!("AROA{:016X}:orders-Worker", i % roles),
                        "arn": format!("arn:aws:sts::111122223333:assumed-role/{role}/orders-Worker"),
                        "accountId": "111122223333",
                        "sessionContext": {"sessionIssuer": {
                            "type": "Role",
                            "arn": format!("arn:aws:iam::111122223333:role/{role}"),
                            "accountId": "111122223333",
                            "userName": role
                        }}
                    },
                    "eventTime": format!("2025-06-03T12:{:02}:{:02}Z", i / 60 % 60, i % 60),
                    "eventSource": "dynamodb.amazonaws.com",
                    "eventName": name,
                    "awsRegion": "eu-west-1",
                    "sourceIPAddress": "lambda.amazonaws.com",
                    "requestParameters": {"tableName": format!("orders-{}", i % 7)},
                    "eventID": format!("{file:08x}-{i:04x}-4000-8000-{:012x}", file * 100_000 + i),
                    "readOnly": i % 3 != 1,
                    "eventType": "AwsApiCall",
                    "managementEvent": true,
                    "recipientAccountId": "111122223333",
                    "eventCategory": "Management"
                })
            })
            .collect();
        gzip(json!({ "Records": records }).to_string().as_bytes())
    }

    /// A gzip bomb: 400 members of 1 MiB of spaces each, about 400 KB that inflate to 400 MiB
    /// (past keycard-core's 256 MiB per-object cap), then a good delivery. The bomb is
    /// refused at the cap, the scan goes on, and the bomb is not downloaded past the point
    /// where the decoder stopped, nor more than one piece at a time.
    #[tokio::test]
    async fn a_gzip_bomb_is_streamed_refused_at_the_cap_and_not_downloaded_whole() {
        let member = gzip(&vec![b' '; 1 << 20]);
        let bomb = member.repeat(400);
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        let store = MemoryStore::with_buckets(&[BUCKET]);
        let keys = vec![key(0), key(1)];
        store
            .put_object(BUCKET, &keys[0], bomb.clone(), "application/gzip")
            .await
            .unwrap();
        store
            .put_object(BUCKET, &keys[1], delivery(1, 3, 3), "application/gzip")
            .await
            .unwrap();

        let piece = 16 << 10;
        let mut scanner = Scanner::new(&ScanOptions::default());
        let fetched = scan_objects_in_pieces(&store, BUCKET, &keys, &mut scanner, |_, _| {}, piece)
            .await
            .unwrap();
        let result = scanner.finish();

        let refused = result
            .files
            .malformed
            .iter()
            .find(|m| m.path == keys[0])
            .unwrap();
        assert!(
            refused
                .reason
                .starts_with("larger than 256 MiB once decompressed"),
            "{}",
            refused.reason
        );
        assert_eq!(result.files.events, 3);
        assert_eq!(result.usage.principals.len(), 3);
        assert_eq!(fetched.objects, 2);
        let read = store.bytes_read(BUCKET, &keys[0]);
        assert!(
            read < bomb.len() as u64 * 3 / 4,
            "{read} of {} bytes downloaded",
            bomb.len()
        );
        assert!(store.largest_read(BUCKET, &keys[0]) <= piece);
        assert_eq!(fetched.bytes, read + store.bytes_read(BUCKET, &keys[1]));
        assert!(fetched.peak_buffered <= (FETCH_CONCURRENCY as u64 + 1) * piece);
    }

    /// More objects than are fetched at once, each several pieces long: the scan equals one
    /// process reading the same bytes whole, every byte is downloaded once, a piece at a
    /// time, and the bytes held never exceed the first pieces of one round plus one.
    /// (Downloading each object whole, as before, held 16 whole objects: several times the
    /// bound asserted here.)
    #[tokio::test]
    async fn many_large_objects_are_read_piece_by_piece_with_bounded_bytes_held() {
        let store = MemoryStore::with_buckets(&[BUCKET]);
        let mut objects = Vec::new();
        for n in 0..FETCH_CONCURRENCY + 4 {
            let body = delivery(n, 300, 5);
            store
                .put_object(BUCKET, &key(n), body.clone(), "application/gzip")
                .await
                .unwrap();
            objects.push((key(n), body));
        }
        let piece = 1 << 10;
        let smallest = objects.iter().map(|(_, b)| b.len() as u64).min().unwrap();
        assert!(smallest > 3 * piece, "{smallest}");
        let keys: Vec<String> = objects.iter().map(|(k, _)| k.clone()).collect();

        let mut scanner = Scanner::new(&ScanOptions::default());
        let mut reported = Vec::new();
        let fetched = scan_objects_in_pieces(
            &store,
            BUCKET,
            &keys,
            &mut scanner,
            |k, n| reported.push((k.to_owned(), n)),
            piece,
        )
        .await
        .unwrap();
        let streamed = scanner.finish();
        let whole = scan_sources(
            objects.iter().map(|(k, b)| (k.clone(), b.as_slice())),
            &ScanOptions::default(),
        );

        assert_eq!(streamed.files.events, 300 * objects.len() as u64);
        assert_eq!(streamed.files.malformed, vec![]);
        assert_eq!(
            serde_json::to_value(&streamed.usage).unwrap(),
            serde_json::to_value(&whole.usage).unwrap()
        );
        let total: u64 = objects.iter().map(|(_, b)| b.len() as u64).sum();
        assert_eq!(fetched.bytes, total);
        assert_eq!(fetched.objects, objects.len() as u64);
        for (k, b) in &objects {
            assert_eq!(store.bytes_read(BUCKET, k), b.len() as u64, "{k}");
            assert!(store.largest_read(BUCKET, k) <= piece, "{k}");
        }
        assert_eq!(
            reported,
            objects
                .iter()
                .map(|(k, b)| (k.clone(), b.len() as u64))
                .collect::<Vec<_>>()
        );
        let bound = (FETCH_CONCURRENCY as u64 + 1) * piece;
        assert!(
            fetched.peak_buffered > 0 && fetched.peak_buffered <= bound,
            "{} > {bound}",
            fetched.peak_buffered
        );
        // Whole downloads, 16 at a time, held the 16 largest objects at once.
        let mut sizes: Vec<u64> = objects.iter().map(|(_, b)| b.len() as u64).collect();
        sizes.sort_unstable();
        let whole: u64 = sizes.iter().rev().take(FETCH_CONCURRENCY).sum();
        assert!(whole > 2 * bound, "{whole} <= 2 × {bound}");
    }

    /// An object whose gzip stream breaks across pieces (truncated) is a malformed file, the
    /// records before the break counted, not a failed scan; an object gone before its first
    /// piece is "vanished".
    #[tokio::test]
    async fn a_truncated_object_is_malformed_and_one_gone_before_is_vanished() {
        let store = MemoryStore::with_buckets(&[BUCKET]);
        let body = delivery(0, 300, 2);
        let truncated = body[..body.len() / 2].to_vec();
        assert!(
            truncated.len() > 2 << 10,
            "several pieces: {}",
            truncated.len()
        );
        store
            .put_object(BUCKET, &key(0), truncated, "application/gzip")
            .await
            .unwrap();
        let keys = vec![key(0), key(1)];
        let mut scanner = Scanner::new(&ScanOptions::default());
        let fetched =
            scan_objects_in_pieces(&store, BUCKET, &keys, &mut scanner, |_, _| {}, 1 << 10)
                .await
                .unwrap();
        let result = scanner.finish();
        assert_eq!(fetched.objects, 1);
        assert_eq!(fetched.vanished.len(), 1);
        assert_eq!(fetched.vanished[0].path, key(1));
        let broken = &result.files.malformed;
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert_eq!(broken[0].path, key(0));
        assert!(
            broken[0].reason.starts_with("gzip stream broken"),
            "{broken:?}"
        );
    }
}
