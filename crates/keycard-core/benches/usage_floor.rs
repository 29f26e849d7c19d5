//! Floors for `keycard usage`, and keycard's engine alone, on the same files (one thread).
//!
//! ```sh
//! cargo bench -p keycard-core --bench usage_floor -- [--physical|--value|--engine] <cloudtrail-dir>
//! ```
//!
//! * `--physical` (the default): the physical floor. Inflate each file with flate2 (the same
//!   zlib-rs backend keycard uses), then deserialize it with serde_json into borrowed, typed,
//!   strict structs holding only the fields keycard reads (eventTime, eventSource, eventName,
//!   awsRegion, userIdentity.type/arn/accountId/sessionContext.sessionIssuer.arn, errorCode,
//!   eventID, eventType, eventCategory, readOnly, managementEvent, recipientAccountId, the
//!   requestParameters keycard's mapping reads, resources[].ARN/type), every other field
//!   skipped, records streamed and counted. No deduplication, no mapping, no accumulation: what
//!   any reader of these fields has to pay, so keycard's CPU divided by this one's is its
//!   overhead for everything it does with them.
//! * `--value`: the naive floor of earlier measurements, a `serde_json::Value` tree per file.
//! * `--engine`: keycard's CloudTrail engine (`cloudtrail::scan_dir`, one worker thread, no
//!   principal filter, no window), the work `keycard usage --threads 1` does before rendering.
//!   With `--dump`, the whole scan result goes to stderr as JSON.
//!
//! Files are found as keycard finds them (`*.json.gz` / `*.json`, digests skipped) and read
//! the same way (`BufReader`, `MultiGzDecoder`, one reused buffer). Each mode prints one JSON
//! line with what it read. `scripts/bench-usage` measures CPU time, peak RSS and (with
//! valgrind) instruction counts around this binary.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::time::Instant;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Physical,
    Value,
    Engine,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = if args.iter().any(|a| a == "--value") {
        Mode::Value
    } else if args.iter().any(|a| a == "--engine") {
        Mode::Engine
    } else {
        Mode::Physical
    };
    let Some(dir) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: usage_floor [--physical|--value|--engine] <cloudtrail-dir>");
        std::process::exit(2);
    };
    let started = Instant::now();
    let (files, records, bad, check) = match mode {
        Mode::Engine => engine(Path::new(dir), args.iter().any(|a| a == "--dump")),
        Mode::Physical | Mode::Value => floor(Path::new(dir), mode),
    };
    let secs = started.elapsed().as_secs_f64();
    let mode = match mode {
        Mode::Physical => "physical",
        Mode::Value => "value",
        Mode::Engine => "engine",
    };
    println!(
        "{{\"mode\": \"{mode}\", \"files\": {files}, \"records\": {records}, \"unreadable\": {bad}, \"check\": {check}, \"seconds\": {secs:.3}, \"records_per_second\": {:.0}}}",
        records as f64 / secs.max(1e-9)
    );
}

/// keycard's engine, one thread: (files, records, malformed files, principals). `dump`: also
/// write the whole result as JSON to stderr (to check that an optimisation changed nothing).
fn engine(dir: &Path, dump: bool) -> (u64, u64, u64, u64) {
    let opts = keycard_core::cloudtrail::ScanOptions {
        threads: Some(1),
        ..Default::default()
    };
    match keycard_core::cloudtrail::scan_dir(dir, &opts) {
        Ok(r) => {
            if dump {
                eprintln!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            }
            (
                r.files.read,
                r.files.events,
                r.files.malformed.len() as u64,
                r.usage.principals.len() as u64,
            )
        }
        Err(e) => {
            eprintln!("usage_floor: {e}");
            std::process::exit(1);
        }
    }
}

/// (files, records, unreadable files, a checksum of the fields read so none is optimised out).
fn floor(dir: &Path, mode: Mode) -> (u64, u64, u64, u64) {
    let (mut files, mut records, mut bad, mut check) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        let name = path.to_string_lossy();
        if !entry.file_type().is_file()
            || name.contains("CloudTrail-Digest")
            || !(name.ends_with(".json.gz") || name.ends_with(".json"))
        {
            continue;
        }
        files += 1;
        buf.clear();
        let Ok(file) = std::fs::File::open(path) else {
            bad += 1;
            continue;
        };
        let read = if name.ends_with(".gz") {
            flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)).read_to_end(&mut buf)
        } else {
            std::io::BufReader::new(file).read_to_end(&mut buf)
        };
        // Like keycard, a broken gzip stream still has what was inflated before the break parsed.
        let parsed = match mode {
            Mode::Value => match serde_json::from_slice::<serde_json::Value>(&buf) {
                Ok(v) => {
                    records += v["Records"].as_array().map_or(0, |a| a.len() as u64);
                    true
                }
                Err(_) => false,
            },
            _ => {
                let mut de = serde_json::Deserializer::from_slice(&buf);
                let mut seen = Seen::default();
                let parsed = FileSeed(&mut seen).deserialize(&mut de).is_ok();
                records += seen.records;
                check = check.wrapping_add(seen.check);
                parsed
            }
        };
        if read.is_err() || !parsed {
            bad += 1;
        }
    }
    (files, records, bad, check)
}

#[derive(Default)]
struct Seen {
    records: u64,
    check: u64,
}

type S<'a> = Option<Cow<'a, str>>;

/// Only the fields keycard reads; strict types (a field of another JSON type fails the file,
/// which keycard's lenient parser would tolerate: the floor does not pay for that).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rec<'a> {
    #[serde(borrow)]
    event_time: S<'a>,
    #[serde(borrow)]
    event_source: S<'a>,
    #[serde(borrow)]
    event_name: S<'a>,
    #[serde(borrow)]
    aws_region: S<'a>,
    #[serde(borrow)]
    user_identity: Option<UserIdentity<'a>>,
    #[serde(borrow)]
    error_code: S<'a>,
    #[serde(borrow, rename = "eventID")]
    event_id: S<'a>,
    #[serde(borrow)]
    event_type: S<'a>,
    #[serde(borrow)]
    event_category: S<'a>,
    read_only: Option<bool>,
    management_event: Option<bool>,
    #[serde(borrow)]
    recipient_account_id: S<'a>,
    #[serde(borrow)]
    request_parameters: Option<Params<'a>>,
    #[serde(borrow)]
    resources: Option<Vec<Resource<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity<'a> {
    #[serde(borrow, rename = "type")]
    kind: S<'a>,
    #[serde(borrow)]
    arn: S<'a>,
    #[serde(borrow)]
    account_id: S<'a>,
    #[serde(borrow)]
    session_context: Option<SessionContext<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    #[serde(borrow)]
    session_issuer: Option<Issuer<'a>>,
}

#[derive(Deserialize)]
struct Issuer<'a> {
    #[serde(borrow)]
    arn: S<'a>,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(borrow, rename = "ARN")]
    arn: S<'a>,
    #[serde(borrow, rename = "type")]
    kind: S<'a>,
}

/// The requestParameters keycard's mapping and resource extraction read.
#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow, rename = "bucketName")]
    bucket_name: S<'a>,
    /// A string for S3, an object for DynamoDB items: the one field that needs a lenient type.
    #[serde(borrow, default)]
    key: AnyStr<'a>,
    #[serde(borrow, rename = "tableName")]
    table_name: S<'a>,
    #[serde(borrow, rename = "functionName")]
    function_name: S<'a>,
    #[serde(borrow, rename = "queueUrl")]
    queue_url: S<'a>,
    #[serde(borrow, rename = "topicArn")]
    topic_arn: S<'a>,
    #[serde(borrow, rename = "secretId")]
    secret_id: S<'a>,
    #[serde(borrow, rename = "keyId")]
    key_id: S<'a>,
    #[serde(borrow, rename = "logGroupName")]
    log_group_name: S<'a>,
    #[serde(borrow)]
    name: S<'a>,
    #[serde(borrow, rename = "roleArn")]
    role_arn: S<'a>,
}

/// A string, or any other JSON value read as absent.
#[derive(Default)]
struct AnyStr<'a>(S<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for AnyStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnyStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(AnyStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(AnyStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(AnyStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnyStr(None))
            }
        }
        d.deserialize_any(V)
    }
}

fn len(s: &S<'_>) -> u64 {
    s.as_ref().map_or(0, |s| s.len() as u64)
}

impl Rec<'_> {
    /// Touches every field read, so the optimiser keeps them.
    fn check(&self) -> u64 {
        let mut n = len(&self.event_time)
            + len(&self.event_source)
            + len(&self.event_name)
            + len(&self.aws_region)
            + len(&self.error_code)
            + len(&self.event_id)
            + len(&self.event_type)
            + len(&self.event_category)
            + len(&self.recipient_account_id)
            + u64::from(self.read_only == Some(true))
            + u64::from(self.management_event == Some(true));
        if let Some(u) = &self.user_identity {
            n += len(&u.kind) + len(&u.arn) + len(&u.account_id);
            if let Some(i) = u
                .session_context
                .as_ref()
                .and_then(|s| s.session_issuer.as_ref())
            {
                n += len(&i.arn);
            }
        }
        if let Some(p) = &self.request_parameters {
            n += len(&p.bucket_name)
                + len(&p.key.0)
                + len(&p.table_name)
                + len(&p.function_name)
                + len(&p.queue_url)
                + len(&p.topic_arn)
                + len(&p.secret_id)
                + len(&p.key_id)
                + len(&p.log_group_name)
                + len(&p.name)
                + len(&p.role_arn);
        }
        for r in self.resources.iter().flatten() {
            n += len(&r.arn) + len(&r.kind);
        }
        n
    }
}

/// `{"Records": [...]}`, the array streamed one record at a time, other keys skipped.
struct FileSeed<'s>(&'s mut Seen);

impl<'de> DeserializeSeed<'de> for FileSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail log file")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "Records" {
                map.next_value_seed(RecordsSeed(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct RecordsSeed<'s>(&'s mut Seen);

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(rec) = seq.next_element::<Rec<'de>>()? {
            self.0.records += 1;
            self.0.check = self.0.check.wrapping_add(rec.check());
        }
        Ok(())
    }
}
