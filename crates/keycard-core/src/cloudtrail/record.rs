//! Typed, borrowed, lenient parsing of CloudTrail records.
//!
//! Two constraints shape this module. Speed: a year of CloudTrail is millions of records, so
//! records are deserialized straight from the inflated bytes into borrowed `&str`/`Cow` fields
//! and every field keycard does not use is skipped by serde without being built. And
//! robustness: real files contain shapes nobody documents (`"resources": null`, an empty
//! `sessionIssuer`, Insights records without `eventSource`, a field that is a string in one
//! service and an object in another), so every field here accepts *any* JSON value and keeps
//! it only when it has the expected shape. A record can therefore never fail to deserialize;
//! only broken JSON syntax stops a file, and that is reported with the file.
//!
//! The `Records` array is streamed with a visitor: one record is alive at a time, whatever the
//! file size.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A string field that tolerates any JSON value: strings are kept (borrowed when the input
/// has no escapes), anything else becomes `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Str<'a>(pub Option<Cow<'a, str>>);

impl<'a> Str<'a> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The value when present and not empty.
    pub fn non_empty(&self) -> Option<&str> {
        self.get().filter(|s| !s.is_empty())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Owned(v))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Str(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Str(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Str(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Str(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Str(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Str(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Str(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Str(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An object field that tolerates any JSON value: objects are parsed as `T` (whose fields are
/// lenient themselves), anything else (null, a string, an array) becomes `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obj<T>(pub Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<T> Obj<T> {
    pub fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|t| Obj(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Obj(None))
            }
            fn visit_borrowed_str<E>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A list field that tolerates any JSON value: arrays are parsed element by element (each
/// element lenient through `T`), anything else becomes an empty list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<T>()? {
                    out.push(v);
                }
                Ok(List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List(Vec::new()))
            }
            fn visit_borrowed_str<E>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// One CloudTrail record, only the fields keycard uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Record<'a> {
    #[serde(borrow)]
    pub event_time: Str<'a>,
    #[serde(borrow)]
    pub event_source: Str<'a>,
    #[serde(borrow)]
    pub event_name: Str<'a>,
    #[serde(borrow)]
    pub aws_region: Str<'a>,
    #[serde(borrow)]
    pub user_identity: Obj<UserIdentity<'a>>,
    #[serde(borrow)]
    pub error_code: Str<'a>,
    #[serde(borrow, rename = "eventID")]
    pub event_id: Str<'a>,
    #[serde(borrow)]
    pub event_type: Str<'a>,
    #[serde(borrow)]
    pub event_category: Str<'a>,
    #[serde(borrow)]
    pub recipient_account_id: Str<'a>,
    /// Boxed: the parameters are most of a record's size, and a record is moved several times
    /// on its way from the parser to the accumulator.
    #[serde(borrow)]
    pub request_parameters: Obj<Box<RequestParameters<'a>>>,
    #[serde(borrow)]
    pub resources: List<Obj<ResourceRef<'a>>>,
    /// `readOnly`: whether the call only reads (what a trail's ReadWriteType filters on).
    pub read_only: LenientBool,
    /// `managementEvent`: false for data events (older records have no `eventCategory`).
    pub management_event: LenientBool,
}

impl<'a> Record<'a> {
    /// `requestParameters`, when it is an object.
    pub fn params(&self) -> Option<&RequestParameters<'a>> {
        self.request_parameters.get().map(|b| &**b)
    }
}

/// A boolean field that tolerates other JSON (a string "true"/"false" is read, anything else
/// is absent), so one odd record never fails a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LenientBool(pub Option<bool>);

impl<'de> Deserialize<'de> for LenientBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientBool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E>(self, b: bool) -> Result<LenientBool, E> {
                Ok(LenientBool(Some(b)))
            }
            fn visit_str<E>(self, s: &str) -> Result<LenientBool, E> {
                Ok(LenientBool(match s {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                }))
            }
            fn visit_i64<E>(self, _: i64) -> Result<LenientBool, E> {
                Ok(LenientBool(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<LenientBool, E> {
                Ok(LenientBool(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<LenientBool, E> {
                Ok(LenientBool(None))
            }
            fn visit_unit<E>(self) -> Result<LenientBool, E> {
                Ok(LenientBool(None))
            }
            fn visit_none<E>(self) -> Result<LenientBool, E> {
                Ok(LenientBool(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LenientBool, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientBool(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientBool, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientBool(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// `userIdentity`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Str<'a>,
    #[serde(borrow)]
    pub arn: Str<'a>,
    #[serde(borrow)]
    pub account_id: Str<'a>,
    #[serde(borrow)]
    pub invoked_by: Str<'a>,
    #[serde(borrow)]
    pub session_context: Obj<SessionContext<'a>>,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SessionContext<'a> {
    #[serde(borrow)]
    pub session_issuer: Obj<SessionIssuer<'a>>,
}

/// `userIdentity.sessionContext.sessionIssuer`: the role (or IAM user, for federation
/// tokens) whose permissions the session uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SessionIssuer<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Str<'a>,
    #[serde(borrow)]
    pub arn: Str<'a>,
    #[serde(borrow)]
    pub account_id: Str<'a>,
    #[serde(borrow)]
    pub user_name: Str<'a>,
}

/// One `resources[]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ResourceRef<'a> {
    #[serde(borrow, rename = "ARN")]
    pub arn: Str<'a>,
    #[serde(borrow, rename = "type")]
    pub kind: Str<'a>,
}

/// The `requestParameters` fields the mapping and resource extraction read. Names follow the
/// services' own casing, which is why some differ only by case (`roleArn`, `roleARN`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RequestParameters<'a> {
    #[serde(borrow, rename = "bucketName")]
    pub bucket_name: Str<'a>,
    #[serde(borrow)]
    pub key: Str<'a>,
    #[serde(borrow, rename = "versionId")]
    pub version_id: Str<'a>,
    #[serde(borrow, rename = "x-amz-copy-source")]
    pub copy_source: Str<'a>,
    #[serde(borrow, rename = "tableName")]
    pub table_name: Str<'a>,
    #[serde(borrow, rename = "functionName")]
    pub function_name: Str<'a>,
    #[serde(borrow, rename = "queueUrl")]
    pub queue_url: Str<'a>,
    #[serde(borrow, rename = "topicArn")]
    pub topic_arn: Str<'a>,
    #[serde(borrow, rename = "targetArn")]
    pub target_arn: Str<'a>,
    #[serde(borrow, rename = "secretId")]
    pub secret_id: Str<'a>,
    #[serde(borrow, rename = "keyId")]
    pub key_id: Str<'a>,
    #[serde(borrow, rename = "sourceKeyId")]
    pub source_key_id: Str<'a>,
    #[serde(borrow, rename = "destinationKeyId")]
    pub destination_key_id: Str<'a>,
    #[serde(borrow, rename = "logGroupName")]
    pub log_group_name: Str<'a>,
    #[serde(borrow, rename = "logStreamName")]
    pub log_stream_name: Str<'a>,
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow, rename = "stateMachineArn")]
    pub state_machine_arn: Str<'a>,
    #[serde(borrow, rename = "streamName")]
    pub stream_name: Str<'a>,
    #[serde(borrow, rename = "streamARN")]
    pub stream_arn: Str<'a>,
    #[serde(borrow, rename = "deliveryStreamName")]
    pub delivery_stream_name: Str<'a>,
    #[serde(borrow, rename = "repositoryName")]
    pub repository_name: Str<'a>,
    #[serde(borrow, rename = "roleArn")]
    pub role_arn: Str<'a>,
    #[serde(borrow, rename = "roleARN")]
    pub role_arn_upper: Str<'a>,
    #[serde(borrow)]
    pub role: Str<'a>,
    #[serde(borrow, rename = "executionRoleArn")]
    pub execution_role_arn: Str<'a>,
    #[serde(borrow, rename = "taskRoleArn")]
    pub task_role_arn: Str<'a>,
    #[serde(borrow)]
    pub statement: Str<'a>,
    #[serde(borrow, rename = "transactItems")]
    pub transact_items: List<Obj<TransactItem<'a>>>,
}

impl RequestParameters<'_> {
    /// A parameter by its CloudTrail name, for the exceptions table's `param:` references.
    /// `None` for names this parser does not read (the table test checks every name it uses).
    pub fn by_name(&self, name: &str) -> Option<&Str<'_>> {
        Some(match name {
            "bucketName" => &self.bucket_name,
            "key" => &self.key,
            "versionId" => &self.version_id,
            "x-amz-copy-source" => &self.copy_source,
            "tableName" => &self.table_name,
            "functionName" => &self.function_name,
            "queueUrl" => &self.queue_url,
            "topicArn" => &self.topic_arn,
            "targetArn" => &self.target_arn,
            "secretId" => &self.secret_id,
            "keyId" => &self.key_id,
            "sourceKeyId" => &self.source_key_id,
            "destinationKeyId" => &self.destination_key_id,
            "logGroupName" => &self.log_group_name,
            "logStreamName" => &self.log_stream_name,
            "name" => &self.name,
            "stateMachineArn" => &self.state_machine_arn,
            "streamName" => &self.stream_name,
            "streamARN" => &self.stream_arn,
            "deliveryStreamName" => &self.delivery_stream_name,
            "repositoryName" => &self.repository_name,
            "roleArn" => &self.role_arn,
            "roleARN" => &self.role_arn_upper,
            "role" => &self.role,
            "executionRoleArn" => &self.execution_role_arn,
            "taskRoleArn" => &self.task_role_arn,
            "statement" => &self.statement,
            _ => return None,
        })
    }
}

/// One item of DynamoDB `TransactWriteItems` (`{"put": {"tableName": …}}` and friends).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TransactItem<'a> {
    #[serde(borrow)]
    pub put: Obj<TableRef<'a>>,
    #[serde(borrow)]
    pub update: Obj<TableRef<'a>>,
    #[serde(borrow)]
    pub delete: Obj<TableRef<'a>>,
    #[serde(borrow)]
    pub condition_check: Obj<TableRef<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TableRef<'a> {
    #[serde(borrow)]
    pub table_name: Str<'a>,
}

/// Why a file's content could not be (completely) read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFailure {
    /// Records delivered to the callback before the failure (they count).
    pub records: u64,
    pub message: String,
}

/// Streams every record of a CloudTrail file's JSON to `each`, one at a time.
///
/// Accepts the delivered shape `{"Records": [...]}` (other top-level keys are skipped) and,
/// for exports, a bare top-level array of records. Returns the number of records, or how far it
/// got before the JSON broke off.
pub fn for_each_record<'de, F>(bytes: &'de [u8], mut each: F) -> Result<u64, ParseFailure>
where
    F: FnMut(Record<'de>),
{
    let mut count = 0u64;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = TopLevel {
        each: &mut each,
        count: &mut count,
    }
    .deserialize(&mut de)
    .and_then(|found| {
        de.end()?;
        Ok(found)
    });
    match result {
        Ok(true) => Ok(count),
        Ok(false) => Err(ParseFailure {
            records: count,
            message: "no Records array (not a CloudTrail log file)".to_string(),
        }),
        Err(e) => Err(ParseFailure {
            records: count,
            message: if e.is_eof() {
                format!("JSON ends early (truncated file?) after {count} records: {e}")
            } else {
                format!("invalid JSON after {count} records: {e}")
            },
        }),
    }
}

struct TopLevel<'f, F> {
    each: &'f mut F,
    count: &'f mut u64,
}

impl<'de, F: FnMut(Record<'de>)> DeserializeSeed<'de> for TopLevel<'_, F> {
    /// Whether a Records array was found.
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Record<'de>)> Visitor<'de> for TopLevel<'_, F> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail log file object with Records")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<Str<'de>>()? {
            if key.get() == Some("Records") && !found {
                found = map.next_value_seed(RecordsSeed {
                    each: &mut *self.each,
                    count: &mut *self.count,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        RecordsSeed {
            each: self.each,
            count: self.count,
        }
        .visit_seq(seq)
    }
}

struct RecordsSeed<'f, F> {
    each: &'f mut F,
    count: &'f mut u64,
}

impl<'de, F: FnMut(Record<'de>)> DeserializeSeed<'de> for RecordsSeed<'_, F> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Record<'de>)> Visitor<'de> for RecordsSeed<'_, F> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while let Some(rec) = seq.next_element::<Obj<Record<'de>>>()? {
            // Elements that are not objects (null, numbers) are not records; skip them.
            if let Some(rec) = rec.0 {
                *self.count += 1;
                (self.each)(rec);
            }
        }
        Ok(true)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        // `"Records": null` — an empty file, as CloudTrail writes when a period had no events.
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (eventName, sessionIssuer.arn) of each record.
    type Seen = Vec<(Option<String>, Option<String>)>;

    fn collect(json: &str) -> Result<Seen, ParseFailure> {
        let mut out = Vec::new();
        for_each_record(json.as_bytes(), |r| {
            out.push((
                r.event_name.get().map(str::to_owned),
                r.user_identity
                    .get()
                    .and_then(|u| u.session_context.get())
                    .and_then(|s| s.session_issuer.get())
                    .and_then(|i| i.arn.get().map(str::to_owned)),
            ))
        })?;
        Ok(out)
    }

    #[test]
    fn odd_shapes_never_fail_a_record() {
        let json = r#"{"Records":[
            {"eventName":"GetObject","resources":null,"requestParameters":null,
             "userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{}}}},
            {"eventName":7,"userIdentity":"weird","resources":{"ARN":"x"},"requestParameters":"s"},
            {"eventVersion":"1.07","eventType":"AwsCloudTrailInsight","insightDetails":{"state":"Start"}},
            null,
            {"eventName":"Invoke","userIdentity":{"sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/r"}}},
             "resources":[null, {"ARN": 5}, {"ARN":"arn:aws:lambda:us-east-1:1:function:f"}]}
        ],"extra":{"ignored":[1,2,3]}}"#;
        let got = collect(json).unwrap();
        assert_eq!(got.len(), 4, "null element skipped");
        assert_eq!(got[0].0.as_deref(), Some("GetObject"));
        assert_eq!(got[1].0, None, "non-string eventName reads as absent");
        assert_eq!(got[3].1.as_deref(), Some("arn:aws:iam::1:role/r"));
    }

    #[test]
    fn resources_keep_only_well_formed_entries() {
        let json = r#"{"Records":[{"resources":[null, {"ARN": 5}, {"ARN":"arn:a","type":"T"}]}]}"#;
        let mut arns = Vec::new();
        for_each_record(json.as_bytes(), |r| {
            for res in &r.resources.0 {
                if let Some(a) = res.get().and_then(|x| x.arn.get()) {
                    arns.push(a.to_string());
                }
            }
        })
        .unwrap();
        assert_eq!(arns, vec!["arn:a"]);
    }

    #[test]
    fn escaped_strings_are_owned_and_plain_ones_borrowed() {
        let json =
            r#"{"Records":[{"eventName":"Get\u004fbject","eventSource":"s3.amazonaws.com"}]}"#;
        for_each_record(json.as_bytes(), |r| {
            assert!(matches!(r.event_name.0, Some(Cow::Owned(ref s)) if s == "GetObject"));
            assert!(matches!(r.event_source.0, Some(Cow::Borrowed(_))));
        })
        .unwrap();
    }

    #[test]
    fn truncated_json_reports_records_read() {
        let json = r#"{"Records":[{"eventName":"A"},{"eventName":"B"},{"eventNa"#;
        let err = collect(json).unwrap_err();
        assert_eq!(err.records, 2);
        assert!(err.message.contains("truncated"), "{}", err.message);
        let err = collect(r#"{"Records":[{"eventName":"A"}]} trailing"#).unwrap_err();
        assert!(err.message.contains("invalid JSON"));
        let err = collect(r#"{"digestStartTime":"x","logFiles":[]}"#).unwrap_err();
        assert!(err.message.contains("no Records"));
        assert_eq!(collect(r#"{"Records":null}"#).unwrap().len(), 0);
        assert_eq!(collect(r#"[{"eventName":"A"}]"#).unwrap().len(), 1);
        assert!(collect("").is_err());
        assert!(collect("\"str\"").is_err());
    }
}
