//! The Distributed Map's item file: the trail's log objects of the window, listed by the plan
//! step into the stack's own output bucket.
//!
//! Why not let the map list the trail bucket itself (ItemReader `s3:listObjectsV2`)? The Step
//! Functions Developer Guide, "ItemReader (Map)", *Requirements for account and region*: "Your
//! Amazon S3 buckets must be in the same AWS account and AWS Region as your state machine ...
//! Step Functions only supports listing objects in Amazon S3 buckets that are in both the same
//! AWS account and the same AWS Region as the state machine"
//! (<https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html>). An
//! organization trail delivers to a bucket of the log-archive account, so the map cannot list
//! it; a Lambda can (ListObjectsV2 across accounts, granted by the bucket policy). The plan
//! step lists, and the map reads the result as a JSON Lines file (`InputType: JSONL`, read
//! with GetObject from the stack's own bucket) whose lines have the shape the `listObjectsV2`
//! reader gave each item (`{"Key", "Size"}`), so the children are unchanged.
//!
//! Scale: an organization's year is millions of objects. The listing runs one ListObjectsV2
//! sequence per account, region and month folder of the window, [`LIST_CONCURRENCY`] at once
//! (accounts and regions found with `Delimiter: /` when the request does not name them), keeps
//! only the objects the scan would read ([`Selection`]: no digests, nothing outside the window),
//! and streams the lines to S3 in multipart parts of [`PART_BYTES`], so the function holds a
//! few folders' keys and one part, never the whole list. The guide's limit for one item file,
//! 10 GB ("Step Functions supports 10 GB as the maximum size of an individual file in Amazon
//! S3"), is about 60 million objects; a larger window is refused with what to narrow.

use std::collections::VecDeque;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use keycard_aws::error::{AwsError, ErrorKind};
use keycard_aws::s3::{ListPage, MAX_UPLOAD_PARTS, ObjectInfo, ObjectStore, UploadedPart};
use serde::{Deserialize, Serialize};

use super::batch::BatchItem;
use super::layout::{KeyClass, Selection, TrailLocation, day_range};
use crate::contract::StepError;

/// ListObjectsV2 sequences in flight: the listing waits on S3 latency, not on the CPU.
pub const LIST_CONCURRENCY: usize = 32;
/// Multipart part size of the item file: above S3's 5 MiB minimum, and 10,000 parts (S3's
/// maximum) are far beyond the 10 GB Step Functions reads.
pub const PART_BYTES: usize = 8 * 1024 * 1024;
/// "Step Functions supports 10 GB as the maximum size of an individual file in Amazon S3"
/// (ItemReader (Map), JSON Lines file), counted in decimal bytes to stay on the safe side.
pub const MAX_ITEMS_FILE_BYTES: u64 = 10_000_000_000;

/// What the listing found, and where the item file is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    /// The item file in the output bucket, which the map's ItemReader reads.
    pub items_key: String,
    /// Log objects in the item file: what the children will download.
    pub objects: u64,
    /// Their stored (compressed) size.
    pub bytes: u64,
    /// Objects listed and left out (outside the window, not CloudTrail log files).
    pub skipped: u64,
    /// Account folders and account × region folders read.
    pub accounts: u64,
    pub regions: u64,
    /// ListObjectsV2 requests made.
    pub requests: u64,
}

/// Lists the trail's log objects of `[start, end)` into the JSON Lines item file
/// `output_bucket/items_key`. A run over no log object at all is refused: it is a wrong bucket,
/// prefix or organization id far more often than a silent trail, and proposing from no
/// evidence would remove everything.
pub async fn write_items<S>(
    store: &S,
    output_bucket: &str,
    items_key: &str,
    trail: &TrailLocation,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Listing, StepError>
where
    S: ObjectStore + Clone + 'static,
{
    write_items_in_parts(
        store,
        output_bucket,
        items_key,
        trail,
        start,
        end,
        PART_BYTES,
    )
    .await
}

/// [`write_items`] with a given part size (tests cut parts at S3's 5 MiB minimum).
pub(crate) async fn write_items_in_parts<S>(
    store: &S,
    output_bucket: &str,
    items_key: &str,
    trail: &TrailLocation,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    part_bytes: usize,
) -> Result<Listing, StepError>
where
    S: ObjectStore + Clone + 'static,
{
    let mut writer = ItemsWriter {
        store,
        bucket: output_bucket,
        key: items_key,
        part_bytes,
        buf: Vec::new(),
        upload: None,
        parts: Vec::new(),
        written: 0,
    };
    let mut listing = Listing {
        items_key: items_key.to_owned(),
        ..Listing::default()
    };
    let listed = list_into(store, trail, start, end, &mut writer, &mut listing).await;
    let finished = match listed {
        Ok(()) if listing.objects == 0 => Err(StepError::InvalidInput(format!(
            "no CloudTrail log object of the window {start} .. {end} under s3://{}/{} \
             ({} accounts, {} account regions listed): check trail.prefix, \
             trail.organizationId, trail.accounts and trail.regions",
            trail.bucket,
            trail.root(),
            listing.accounts,
            listing.regions
        ))),
        Ok(()) => writer.finish().await,
        Err(e) => Err(e),
    };
    match finished {
        Ok(()) => Ok(listing),
        Err(e) => {
            writer.abort().await;
            Err(e)
        }
    }
}

async fn list_into<S>(
    store: &S,
    trail: &TrailLocation,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    writer: &mut ItemsWriter<'_, S>,
    listing: &mut Listing,
) -> Result<(), StepError>
where
    S: ObjectStore + Clone + 'static,
{
    let bucket = &trail.bucket;
    let root = trail.root();
    let accounts = if trail.accounts.is_empty() {
        let (names, requests) = folders(store, bucket, &root).await?;
        listing.requests += requests;
        names
            .into_iter()
            .filter(|a| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()))
            .collect()
    } else {
        trail.accounts.clone()
    };
    listing.accounts = accounts.len() as u64;

    // Each account's regions: the request's, or the account's CloudTrail folders.
    let regions: Vec<(String, Vec<String>)> = if trail.regions.is_empty() {
        let tasks = accounts.iter().map(|account| {
            let store = store.clone();
            let bucket = bucket.clone();
            let prefix = format!("{root}{account}/CloudTrail/");
            let account = account.clone();
            async move {
                let (names, requests) = folders(&store, &bucket, &prefix).await?;
                Ok::<_, StepError>((account, names, requests))
            }
        });
        let mut out = Vec::new();
        for (account, names, requests) in in_order(tasks).await? {
            listing.requests += requests;
            let names = names
                .into_iter()
                .filter(|r| {
                    r.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                })
                .collect();
            out.push((account, names));
        }
        out
    } else {
        accounts
            .iter()
            .map(|a| (a.clone(), trail.regions.clone()))
            .collect()
    };
    // Accounts and regions in key order (the request may name them in any order), so the
    // item file is in key order.
    let mut regions = regions;
    regions.sort();
    regions.dedup_by(|a, b| a.0 == b.0);
    for (_, r) in &mut regions {
        r.sort();
        r.dedup();
    }
    listing.regions = regions.iter().map(|(_, r)| r.len() as u64).sum();

    let (first_day, last_day) = day_range(start, end);
    let months = months(first_day, last_day);
    let selection = Selection::new(trail, start, end);
    let prefixes = regions.iter().flat_map(|(account, regions)| {
        let root = &root;
        let months = &months;
        regions.iter().flat_map(move |region| {
            months
                .iter()
                .map(move |(y, m)| format!("{root}{account}/CloudTrail/{region}/{y:04}/{m:02}/"))
        })
    });
    let tasks = prefixes.map(|prefix| {
        let store = store.clone();
        let bucket = bucket.clone();
        async move { list_all(&store, &bucket, &prefix).await }
    });
    // Folders are listed LIST_CONCURRENCY at a time and written in key order, so the same
    // request always gives the same item file (and the same batches).
    each_in_order(tasks, async |(objects, requests)| {
        listing.requests += requests;
        for o in objects {
            if selection.classify(&o.key) == KeyClass::Scan {
                writer
                    .push(&BatchItem {
                        key: o.key,
                        size: o.size,
                    })
                    .await?;
                listing.objects += 1;
                listing.bytes += o.size;
            } else {
                listing.skipped += 1;
            }
        }
        Ok(())
    })
    .await
}

/// Runs `tasks` [`LIST_CONCURRENCY`] at a time, results in the order given.
async fn in_order<T, F>(tasks: impl Iterator<Item = F>) -> Result<Vec<T>, StepError>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, StepError>> + Send + 'static,
{
    let mut out = Vec::new();
    each_in_order(tasks, async |t| {
        out.push(t);
        Ok(())
    })
    .await?;
    Ok(out)
}

/// Runs `tasks` [`LIST_CONCURRENCY`] at a time and hands each result to `take` in the order
/// given, as soon as it and those before it are done: the item file is written while later
/// folders are still being listed, never holding every listing at once.
async fn each_in_order<T, F>(
    mut tasks: impl Iterator<Item = F>,
    mut take: impl AsyncFnMut(T) -> Result<(), StepError>,
) -> Result<(), StepError>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, StepError>> + Send + 'static,
{
    let mut pending = VecDeque::new();
    loop {
        while pending.len() < LIST_CONCURRENCY {
            match tasks.next() {
                Some(t) => pending.push_back(tokio::spawn(t)),
                None => break,
            }
        }
        let Some(next) = pending.pop_front() else {
            return Ok(());
        };
        take(next.await.map_err(task_failed)??).await?;
    }
}

fn task_failed(e: tokio::task::JoinError) -> StepError {
    StepError::Aws(AwsError {
        service: "s3",
        operation: "ListObjectsV2",
        kind: ErrorKind::Transient,
        code: None,
        status: None,
        message: format!("a listing task ended abnormally: {e}"),
    })
}

/// The folder names one level below `prefix` (`Delimiter: /`), and the requests made.
async fn folders<S: ObjectStore>(
    store: &S,
    bucket: &str,
    prefix: &str,
) -> Result<(Vec<String>, u64), StepError> {
    let mut names = Vec::new();
    let requests = each_page(store, bucket, prefix, Some("/"), |page| {
        names.extend(page.prefixes.iter().filter_map(|p| {
            p.strip_prefix(prefix)
                .map(|n| n.trim_end_matches('/').to_owned())
                .filter(|n| !n.is_empty())
        }));
    })
    .await?;
    Ok((names, requests))
}

/// Every object under `prefix`, page by page, and the requests made.
async fn list_all<S: ObjectStore>(
    store: &S,
    bucket: &str,
    prefix: &str,
) -> Result<(Vec<ObjectInfo>, u64), StepError> {
    let mut out = Vec::new();
    let requests = each_page(store, bucket, prefix, None, |page| out.extend(page.objects)).await?;
    Ok((out, requests))
}

/// Hands every page of a listing to `take`, following the continuation tokens, and returns the
/// requests made: the folders and the objects are listed, and their requests counted, one way.
async fn each_page<S: ObjectStore>(
    store: &S,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    mut take: impl FnMut(ListPage),
) -> Result<u64, StepError> {
    let mut token: Option<String> = None;
    let mut requests = 0;
    loop {
        let mut page = store
            .list_page(bucket, prefix, delimiter, token.as_deref())
            .await?;
        requests += 1;
        token = page.next.take();
        take(page);
        if token.is_none() {
            return Ok(requests);
        }
    }
}

/// Every (year, month) from `first` to `last`, inclusive.
fn months(first: NaiveDate, last: NaiveDate) -> Vec<(i32, u32)> {
    let mut out = Vec::new();
    let (mut y, mut m) = (first.year(), first.month());
    while (y, m) <= (last.year(), last.month()) {
        out.push((y, m));
        if m == 12 {
            (y, m) = (y + 1, 1);
        } else {
            m += 1;
        }
    }
    out
}

/// Writes JSON lines to one S3 object: a single PutObject when it stays under one part, a
/// multipart upload otherwise.
struct ItemsWriter<'a, S> {
    store: &'a S,
    bucket: &'a str,
    key: &'a str,
    part_bytes: usize,
    buf: Vec<u8>,
    upload: Option<String>,
    parts: Vec<UploadedPart>,
    written: u64,
}

/// The item file's media type.
const JSON_LINES: &str = "application/jsonl";

impl<S: ObjectStore> ItemsWriter<'_, S> {
    async fn push(&mut self, item: &BatchItem) -> Result<(), StepError> {
        let before = self.buf.len();
        serde_json::to_writer(&mut self.buf, item)
            .map_err(|e| StepError::InvalidInput(format!("serializing an item: {e}")))?;
        self.buf.push(b'\n');
        self.written += (self.buf.len() - before) as u64;
        if self.written > MAX_ITEMS_FILE_BYTES {
            return Err(StepError::InvalidInput(
                "the window's log objects need an item file over Step Functions' 10 GB \
                 (more than about 60 million objects): narrow windowDays, trail.accounts or \
                 trail.regions, or run once per account group"
                    .into(),
            ));
        }
        if self.buf.len() >= self.part_bytes {
            self.flush_part().await?;
        }
        Ok(())
    }

    async fn flush_part(&mut self) -> Result<(), StepError> {
        let id = match &self.upload {
            Some(id) => id.clone(),
            None => {
                let id = self
                    .store
                    .create_upload(self.bucket, self.key, JSON_LINES)
                    .await?;
                self.upload = Some(id.clone());
                id
            }
        };
        let number = self.parts.len() as u32 + 1;
        if number > MAX_UPLOAD_PARTS {
            return Err(StepError::InvalidInput(format!(
                "the item file needs more than {MAX_UPLOAD_PARTS} parts"
            )));
        }
        let body = std::mem::take(&mut self.buf);
        let etag = self
            .store
            .upload_part(self.bucket, self.key, &id, number, body)
            .await?;
        self.parts.push(UploadedPart { number, etag });
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), StepError> {
        match self.upload.clone() {
            None => {
                let body = std::mem::take(&mut self.buf);
                self.store
                    .put_object(self.bucket, self.key, body, JSON_LINES)
                    .await?;
            }
            Some(id) => {
                if !self.buf.is_empty() {
                    self.flush_part().await?;
                }
                self.store
                    .complete_upload(self.bucket, self.key, &id, &self.parts)
                    .await?;
                self.upload = None;
            }
        }
        Ok(())
    }

    /// Discards a started upload, so no parts are left stored (the bucket's lifecycle rule
    /// would abort it after a day anyway). A failure to abort is not worth more than the
    /// error that led here.
    async fn abort(&mut self) {
        if let Some(id) = self.upload.take() {
            let _ = self.store.abort_upload(self.bucket, self.key, &id).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_cover_the_days_across_a_year_end() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            months(d("2024-11-30"), d("2025-02-01")),
            [(2024, 11), (2024, 12), (2025, 1), (2025, 2)]
        );
        assert_eq!(months(d("2025-03-01"), d("2025-03-09")), [(2025, 3)]);
    }
}
