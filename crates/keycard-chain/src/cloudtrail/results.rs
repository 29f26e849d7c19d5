//! The Distributed Map's ResultWriter output, read record by record.
//!
//! The format is Step Functions' (ResultWriter, "Exporting to Amazon S3",
//! <https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html>):
//! `manifest.json` is `{"DestinationBucket", "MapRunArn", "ResultFiles": {"FAILED": [{"Key",
//! "Size"}], "PENDING": [...], "SUCCEEDED": [...]}}`, and each listed file (`SUCCEEDED_0.json`,
//! `FAILED_0.json`, …, up to 5 GB each) holds one record per child execution: a JSON array
//! (`OutputType` JSON, the default) or JSON Lines (`OutputType` JSONL). With `Transformation`
//! NONE, the default when exporting, every record repeats the child's whole `Input` (here an
//! ItemBatcher batch of up to 256 KB) beside its `Output`, `Status`, `Name`, `Error`, `Cause`.
//!
//! At the scale of docs/OPERATIONS.md (20 M objects, 28,600 children) that is gigabytes, so a file
//! is never held whole: it is fetched in ranged GETs of [`READ_CHUNK`] bytes, handed to a parser on
//! a blocking thread through a channel of two pieces, and each record is deserialized with only the
//! fields keycard needs. `Input` and the other fields are skipped by serde's `IgnoredAny` path,
//! which reads through a string without allocating it.

use std::io::Read;
use std::sync::mpsc::{Receiver, sync_channel};

use keycard_aws::s3::ObjectStore;
use serde::Deserialize;
use serde::de::{self, SeqAccess, Visitor};

use crate::contract::StepError;

/// Bytes per ranged GET of a result file: what the reader holds of it at a time (plus one
/// piece in flight).
pub const READ_CHUNK: u64 = 1 << 20;

/// One child execution as the ResultWriter records it: only what reduce reads.
#[derive(Debug, Deserialize)]
pub struct ChildRecord {
    #[serde(rename = "Output", default)]
    pub output: Option<String>,
    #[serde(rename = "Error", default)]
    pub error: Option<String>,
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
}

/// What consumes the records of one file, on the parser's thread.
pub trait RecordSink: Send + 'static {
    fn record(&mut self, record: ChildRecord) -> Result<(), StepError>;
}

/// Feeds every record of `s3://bucket/key` to `sink`, one at a time, and gives the sink back.
pub async fn for_each_record<S, T>(
    store: &S,
    bucket: &str,
    key: &str,
    sink: T,
) -> Result<T, StepError>
where
    S: ObjectStore,
    T: RecordSink,
{
    let (tx, rx) = sync_channel::<Vec<u8>>(2);
    let what = key.to_owned();
    let parser =
        tokio::task::spawn_blocking(move || parse_records(&what, PieceReader::new(rx), sink));
    let mut offset = 0u64;
    let fetched: Result<(), StepError> = async {
        loop {
            let piece = store
                .get_object_range(bucket, key, offset, READ_CHUNK)
                .await?
                .ok_or_else(|| super::reduce::missing(bucket, key))?;
            if piece.bytes.is_empty() {
                return Ok(());
            }
            offset += piece.bytes.len() as u64;
            // A closed channel means the parser stopped on an error, reported below.
            if tx.send(piece.bytes).is_err() || offset >= piece.total_size {
                return Ok(());
            }
        }
    }
    .await;
    drop(tx);
    let parsed = parser.await.map_err(|e| {
        StepError::Evidence(format!("reading {key}: the parser ended abnormally: {e}"))
    })?;
    // A failed download ends the parser's input early; its error is the one that matters.
    fetched?;
    parsed
}

/// The pieces from the channel as one byte stream.
struct PieceReader {
    rx: Receiver<Vec<u8>>,
    piece: Vec<u8>,
    pos: usize,
}

impl PieceReader {
    fn new(rx: Receiver<Vec<u8>>) -> Self {
        PieceReader {
            rx,
            piece: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for PieceReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.piece.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.piece = next;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let rest = self.piece.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// Parses a JSON array or JSON Lines of records from `reader`.
fn parse_records<R: Read, T: RecordSink>(
    what: &str,
    mut reader: R,
    mut sink: T,
) -> Result<T, StepError> {
    let bad = |e: String| StepError::InvalidInput(format!("ResultWriter file {what}: {e}"));
    let mut first = [0u8; 1];
    loop {
        match reader.read(&mut first) {
            Ok(0) => return Ok(sink),
            Ok(_) if first[0].is_ascii_whitespace() => continue,
            Ok(_) => break,
            Err(e) => return Err(bad(e.to_string())),
        }
    }
    let input = std::io::Cursor::new(first).chain(reader);
    let mut failure: Option<StepError> = None;
    if first[0] == b'[' {
        let mut de = serde_json::Deserializer::from_reader(input);
        let visited = de::Deserializer::deserialize_seq(
            &mut de,
            EachRecord {
                sink: &mut sink,
                failure: &mut failure,
            },
        );
        if let Some(e) = failure {
            return Err(e);
        }
        visited
            .and_then(|()| de.end())
            .map_err(|e| bad(e.to_string()))?;
    } else {
        for r in serde_json::Deserializer::from_reader(input).into_iter::<ChildRecord>() {
            sink.record(r.map_err(|e| bad(e.to_string()))?)?;
        }
    }
    Ok(sink)
}

/// Visits the array's elements one by one instead of collecting them.
struct EachRecord<'a, T> {
    sink: &'a mut T,
    failure: &'a mut Option<StepError>,
}

impl<'de, T: RecordSink> Visitor<'de> for EachRecord<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of child execution records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(r) = seq.next_element::<ChildRecord>()? {
            if let Err(e) = self.sink.record(r) {
                *self.failure = Some(e);
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Names(Vec<String>);

    impl RecordSink for Names {
        fn record(&mut self, r: ChildRecord) -> Result<(), StepError> {
            let name = r.name.unwrap_or_default();
            if name == "stop" {
                return Err(StepError::Evidence("stop".into()));
            }
            self.0.push(name);
            Ok(())
        }
    }

    #[test]
    fn arrays_and_json_lines_are_read_record_by_record() {
        let array =
            br#" [{"Name":"a","Input":"{\"Items\":[1,2]}","Status":"SUCCEEDED"},{"Name":"b"}] "#;
        let names = parse_records("f", &array[..], Names::default()).unwrap();
        assert_eq!(names.0, ["a", "b"]);
        let lines = b"{\"Name\":\"a\"}\n{\"Name\":\"b\",\"Input\":\"x\"}\n";
        assert_eq!(
            parse_records("f", &lines[..], Names::default()).unwrap().0,
            ["a", "b"]
        );
        assert!(
            parse_records("f", &b""[..], Names::default())
                .unwrap()
                .0
                .is_empty()
        );
        assert!(parse_records("f", &b"[{\"Name\":\"a\"},"[..], Names::default()).is_err());
        let e = parse_records("f", &br#"[{"Name":"stop"}]"#[..], Names::default()).err();
        assert!(matches!(e, Some(StepError::Evidence(_))));
    }
}
