//! Real-shaped CloudTrail records and digest files.
//!
//! Field order and shapes follow records delivered by CloudTrail (eventVersion 1.09/1.10):
//! `userIdentity` of an assumed role carries `sessionContext.sessionIssuer`, data events have
//! `eventCategory: Data` and `managementEvent: false`, AWS services assuming a role appear as
//! `AWSService` callers with the role in `resources[]`.

use keycard_core::catalog::{AccessLevel, Catalog};
use keycard_core::cloudtrail::record::Record;
use keycard_core::cloudtrail::{Resolved, resolve_record};
use keycard_core::coverage::{ReadOnlyFlag, read_only_flag};
use serde::Serialize;
use serde_json::{Value, json};

use crate::data_events::DataEventTable;
use crate::rng::Rng;
use crate::scenario::{CallSpec, PrincipalKind, PrincipalSpec, Scenario};
use crate::trail::{Classification, EventFacts};
use crate::{CallTruth, Ev, SERVICE_ASSUME, Summary, TracegenError, event_time, utc};

/// A log file written, for the digest that lists it.
pub(crate) struct Delivered {
    pub key: String,
    pub oldest: i64,
    pub newest: i64,
}

/// Per-principal values that stay the same across its records.
struct Identity {
    arn: String,
    user_identity: Value,
    source_ip: String,
    user_agent: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordOut<'a> {
    event_version: &'a str,
    user_identity: &'a Value,
    event_time: String,
    event_source: &'a str,
    event_name: &'a str,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: &'a str,
    user_agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
    request_parameters: Option<&'a Value>,
    response_elements: Option<&'a Value>,
    #[serde(rename = "requestID")]
    request_id: String,
    #[serde(rename = "eventID")]
    event_id: String,
    read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<&'a Value>,
    event_type: &'a str,
    management_event: bool,
    recipient_account_id: &'a str,
    event_category: &'a str,
}

/// What stays the same across one call's records: its classification and what the trail
/// profile looks at.
struct CallFacts {
    data: bool,
    read_only: bool,
    s3_object: bool,
    bucket: Option<String>,
    /// `resources[]` filled in from the request parameters ([`Classification::Documented`]
    /// only, for a data event whose call gives none).
    resources: Option<Value>,
}

pub(crate) struct Writer<'s> {
    scenario: &'s Scenario,
    identities: Vec<Identity>,
    /// Per principal: the AWSService identity and resources of its daily AssumeRole.
    service: Vec<Option<(Value, Value, Value)>>,
    /// Per principal, per call.
    calls: Vec<Vec<CallFacts>>,
    /// `readOnly` of the AWS-service `AssumeRole` records ([`read_only`]).
    service_assume_read_only: bool,
    rng: Rng,
}

/// One file's records as the trail delivers them.
pub(crate) struct FileBody {
    pub json: String,
    /// Records in `json` (those the profile let through).
    pub written: u64,
    /// eventTime of the oldest and newest record written.
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
}

impl<'s> Writer<'s> {
    pub(crate) fn new(scenario: &'s Scenario, rng: Rng) -> Result<Self, TracegenError> {
        let documented = scenario.classification == Classification::Documented;
        let table = if documented || scenario.trail.profile.needs_table() {
            Some(DataEventTable::bundled()?)
        } else {
            None
        };
        let calls = scenario
            .principals
            .iter()
            .map(|p| {
                p.calls
                    .iter()
                    .map(|c| call_facts(scenario, c, table, documented))
                    .collect()
            })
            .collect();
        let mut id_rng = rng.fork("identities");
        let identities = scenario
            .principals
            .iter()
            .map(|p| identity(scenario, p, &mut id_rng))
            .collect::<Vec<_>>();
        let service = scenario
            .principals
            .iter()
            .zip(&identities)
            .map(|(p, id)| {
                p.assumed_by.as_ref().map(|svc| {
                    let session = p.session_name.clone().unwrap_or_else(|| p.name.clone());
                    (
                        json!({"type": "AWSService", "invokedBy": svc}),
                        json!({"roleArn": id.arn, "roleSessionName": session}),
                        json!([{"accountId": scenario.account, "type": "AWS::IAM::Role", "ARN": id.arn}]),
                    )
                })
            })
            .collect();
        let service_assume_read_only = read_only(&json!({
            "eventSource": "sts.amazonaws.com",
            "eventName": "AssumeRole",
        }));
        Ok(Writer {
            scenario,
            identities,
            service,
            calls,
            service_assume_read_only,
            rng,
        })
    }

    /// The JSON text of one log file holding the records of `group` the trail profile
    /// delivers (none when `deliver` is false: the file falls in a delivery gap), recording
    /// the truth (every event) and what was written in `summary`.
    ///
    /// Every record is built, delivered or not, so the random stream (event IDs, request
    /// IDs) is the same under every profile: a record a profile delivers is byte-identical
    /// to the same record under `all`.
    pub(crate) fn file_body(
        &mut self,
        group: &[Ev],
        deliver: bool,
        summary: &mut Summary,
    ) -> Result<FileBody, TracegenError> {
        let profile = &self.scenario.trail.profile;
        let home_region = self.scenario.regions.first().map_or("", String::as_str);
        let mut out = String::with_capacity(group.len() * 1200 + 16);
        out.push_str("{\"Records\":[");
        let mut body = FileBody {
            json: String::new(),
            written: 0,
            oldest: None,
            newest: None,
        };
        for ev in group {
            let p = &self.scenario.principals[ev.principal as usize];
            let id = &self.identities[ev.principal as usize];
            let region = &self.scenario.regions[usize::from(ev.region)];
            let event_id = self.rng.uuid();
            if ev.call == SERVICE_ASSUME {
                let Some((who, params, resources)) = &self.service[ev.principal as usize] else {
                    continue;
                };
                let svc = p.assumed_by.as_deref().unwrap_or("lambda.amazonaws.com");
                let response = json!({"credentials": {
                    "accessKeyId": format!("ASIA{}", self.rng.hex(16, true)),
                    "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE",
                    "expiration": event_time(ev.time + 12 * 3600),
                }});
                let rec = RecordOut {
                    event_version: "1.08",
                    user_identity: who,
                    event_time: event_time(ev.time),
                    event_source: "sts.amazonaws.com",
                    event_name: "AssumeRole",
                    aws_region: region,
                    source_ip_address: svc,
                    user_agent: svc,
                    error_code: None,
                    error_message: None,
                    request_parameters: Some(params),
                    response_elements: Some(&response),
                    request_id: self.rng.uuid(),
                    event_id,
                    read_only: self.service_assume_read_only,
                    resources: Some(resources),
                    event_type: "AwsApiCall",
                    management_event: true,
                    recipient_account_id: &self.scenario.account,
                    event_category: "Management",
                };
                let facts = EventFacts {
                    data: false,
                    read_only: self.service_assume_read_only,
                    event_source: rec.event_source,
                    region,
                    s3_object: false,
                    bucket: None,
                };
                if deliver && profile.records(&facts, home_region) {
                    push_record(&mut out, &mut body, ev.time, &rec)?;
                }
                continue;
            }
            let call = &p.calls[ev.call as usize];
            let facts = &self.calls[ev.principal as usize][ev.call as usize];
            let data = facts.data;
            let request_id = if call.event_source == "s3.amazonaws.com" {
                self.rng.hex(16, true)
            } else {
                self.rng.uuid()
            };
            let rec = RecordOut {
                event_version: if data { "1.10" } else { "1.09" },
                user_identity: &id.user_identity,
                event_time: event_time(ev.time),
                event_source: &call.event_source,
                event_name: &call.event_name,
                aws_region: region,
                source_ip_address: &id.source_ip,
                user_agent: &id.user_agent,
                error_code: call.error_code.as_deref(),
                error_message: call.error_code.as_ref().map(|_| {
                    call.error_message
                        .as_deref()
                        .unwrap_or("User is not authorized to perform this operation")
                }),
                request_parameters: call.request_parameters.as_ref(),
                response_elements: if call.error_code.is_some() {
                    None
                } else {
                    call.response_elements.as_ref()
                },
                request_id,
                event_id,
                read_only: facts.read_only,
                resources: call.resources.as_ref().or(facts.resources.as_ref()),
                event_type: "AwsApiCall",
                management_event: !data,
                recipient_account_id: &self.scenario.account,
                event_category: if data { "Data" } else { "Management" },
            };
            let delivered = deliver
                && profile.records(
                    &EventFacts {
                        data,
                        read_only: facts.read_only,
                        event_source: &call.event_source,
                        region,
                        s3_object: facts.s3_object,
                        bucket: facts.bucket.as_deref(),
                    },
                    home_region,
                );
            if delivered {
                push_record(&mut out, &mut body, ev.time, &rec)?;
            }

            let key = format!("{} {}", call.event_source, call.event_name);
            let at = utc(ev.time);
            let denied = call.error_code.is_some();
            tally(&mut summary.expected, &id.arn, &key, at, denied);
            if delivered {
                tally(&mut summary.written, &id.arn, &key, at, denied);
            }
        }
        out.push_str("]}");
        body.json = out;
        Ok(body)
    }
}

fn push_record(
    out: &mut String,
    body: &mut FileBody,
    time: i64,
    rec: &RecordOut<'_>,
) -> Result<(), TracegenError> {
    if body.written > 0 {
        out.push(',');
    }
    out.push_str(&serde_json::to_string(rec)?);
    body.written += 1;
    body.oldest = Some(body.oldest.map_or(time, |t| t.min(time)));
    body.newest = Some(body.newest.map_or(time, |t| t.max(time)));
    Ok(())
}

/// Counts one call in a principal → call → truth map.
pub(crate) fn tally(
    map: &mut std::collections::BTreeMap<String, std::collections::BTreeMap<String, CallTruth>>,
    arn: &str,
    key: &str,
    at: chrono::DateTime<chrono::Utc>,
    denied: bool,
) {
    let truth = map
        .entry(arn.to_string())
        .or_default()
        .entry(key.to_string())
        .or_insert(CallTruth {
            count: 0,
            denied: 0,
            first: at,
            last: at,
        });
    if denied {
        truth.denied += 1;
    } else {
        truth.count += 1;
    }
    truth.first = truth.first.min(at);
    truth.last = truth.last.max(at);
}

fn call_facts(
    scenario: &Scenario,
    call: &CallSpec,
    table: Option<&DataEventTable>,
    documented: bool,
) -> CallFacts {
    let types: &[String] = table.map_or(&[], |t| {
        t.resource_types_of(&call.event_source, &call.event_name)
    });
    let data = call.data_event.unwrap_or_else(|| {
        if documented {
            !types.is_empty()
        } else {
            is_data_event(call)
        }
    });
    let bucket = (call.event_source == "s3.amazonaws.com")
        .then(|| {
            call.request_parameters
                .as_ref()
                .and_then(|p| p.get("bucketName"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .flatten();
    let region = call
        .region
        .as_deref()
        .or(scenario.regions.first().map(String::as_str))
        .unwrap_or("us-east-1");
    let resources = (documented && data && call.resources.is_none())
        .then(|| documented_resources(call, &scenario.account, region, types))
        .flatten();
    // The fields keycard's mapping reads, as this call's records carry them.
    let read_only = read_only(&json!({
        "eventSource": call.event_source,
        "eventName": call.event_name,
        "awsRegion": region,
        "recipientAccountId": scenario.account,
        "requestParameters": call.request_parameters,
        "resources": call.resources.as_ref().or(resources.as_ref()),
    }));
    CallFacts {
        data,
        read_only,
        s3_object: data && types.iter().any(|t| t == "AWS::S3::Object"),
        bucket,
        resources,
    }
}

/// The `resources[]` CloudTrail writes on a data event of the common types, from the call's
/// request parameters (shapes of the AWS docs' example records: an S3 object event names the
/// object and its bucket).
fn documented_resources(
    call: &CallSpec,
    account: &str,
    region: &str,
    types: &[String],
) -> Option<Value> {
    let params = call.request_parameters.as_ref()?;
    let param = |k: &str| params.get(k).and_then(Value::as_str);
    let one = |ty: &str, arn: String| Some(json!([{"accountId": account, "type": ty, "ARN": arn}]));
    let has = |ty: &str| types.iter().any(|t| t == ty);
    if has("AWS::S3::Object") {
        let bucket = param("bucketName")?;
        let bucket_entry = json!({"accountId": account, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")});
        return Some(match param("key") {
            Some(key) => json!([
                {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
                bucket_entry
            ]),
            None => json!([bucket_entry]),
        });
    }
    if has("AWS::DynamoDB::Table") {
        let t = param("tableName")?;
        let arn = if t.starts_with("arn:") {
            t.to_string()
        } else {
            format!("arn:aws:dynamodb:{region}:{account}:table/{t}")
        };
        return one("AWS::DynamoDB::Table", arn);
    }
    if has("AWS::Lambda::Function") {
        let f = param("functionName")?;
        let arn = if f.starts_with("arn:") {
            f.to_string()
        } else {
            format!("arn:aws:lambda:{region}:{account}:function:{f}")
        };
        return one("AWS::Lambda::Function", arn);
    }
    if has("AWS::SNS::Topic") {
        return one("AWS::SNS::Topic", param("topicArn")?.to_string());
    }
    if has("AWS::SQS::Queue") {
        // https://sqs.<region>.amazonaws.com/<account>/<name>
        let url = param("queueUrl")?;
        let mut parts = url.trim_end_matches('/').rsplit('/');
        let name = parts.next()?;
        let owner = parts.next()?;
        return one(
            "AWS::SQS::Queue",
            format!("arn:aws:sqs:{region}:{owner}:{name}"),
        );
    }
    None
}

fn identity(scenario: &Scenario, p: &PrincipalSpec, rng: &mut Rng) -> Identity {
    let account = &scenario.account;
    let source_ip = format!(
        "3.{}.{}.{}",
        80 + rng.below(20),
        rng.below(256),
        1 + rng.below(254)
    );
    let user_agent = p.user_agent.clone().unwrap_or_else(|| {
        "aws-sdk-rust/1.3.9 os/linux lang/rust/1.94.1 exec-env/AWS_Lambda_provided.al2023"
            .to_string()
    });
    match p.kind {
        PrincipalKind::Role => {
            let arn = format!("arn:aws:iam::{account}:role{}{}", p.path, p.name);
            let session = p.session_name.clone().unwrap_or_else(|| p.name.clone());
            let role_id = format!("AROA{}", rng.hex(17, true));
            let user_identity = json!({
                "type": "AssumedRole",
                "principalId": format!("{role_id}:{session}"),
                "arn": format!("arn:aws:sts::{account}:assumed-role/{}/{session}", p.name),
                "accountId": account,
                "accessKeyId": format!("ASIA{}", rng.hex(16, true)),
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": role_id,
                        "arn": arn,
                        "accountId": account,
                        "userName": p.name,
                    },
                    "webIdFederationData": {},
                    "attributes": {
                        "creationDate": event_time(scenario.start.timestamp()),
                        "mfaAuthenticated": "false",
                    },
                },
            });
            Identity {
                arn,
                user_identity,
                source_ip,
                user_agent,
            }
        }
        PrincipalKind::User => {
            let arn = format!("arn:aws:iam::{account}:user{}{}", p.path, p.name);
            let user_identity = json!({
                "type": "IAMUser",
                "principalId": format!("AIDA{}", rng.hex(17, true)),
                "arn": arn,
                "accountId": account,
                "accessKeyId": format!("AKIA{}", rng.hex(16, true)),
                "userName": p.name,
            });
            Identity {
                arn,
                user_identity,
                source_ip,
                user_agent,
            }
        }
    }
}

/// [`Classification::Heuristic`]: tracegen's original rule of thumb for data events (kept so
/// committed corpora reproduce; the documented table is [`DataEventTable`]).
fn is_data_event(call: &CallSpec) -> bool {
    let name = call.event_name.as_str();
    match call.event_source.as_str() {
        "s3.amazonaws.com" => {
            name.contains("Object")
                || matches!(
                    name,
                    "UploadPart" | "CreateMultipartUpload" | "CompleteMultipartUpload"
                )
        }
        "lambda.amazonaws.com" => name.starts_with("Invoke"),
        "dynamodb.amazonaws.com" => matches!(
            name,
            "GetItem"
                | "PutItem"
                | "UpdateItem"
                | "DeleteItem"
                | "Query"
                | "Scan"
                | "BatchGetItem"
                | "BatchWriteItem"
                | "TransactGetItems"
                | "TransactWriteItems"
                | "ExecuteStatement"
        ),
        _ => false,
    }
}

/// CloudTrail's `readOnly` flag on a record (given as the JSON of the fields keycard's mapping
/// reads), decided the way keycard decides which trails record an action: keycard's own engine
/// maps the record to IAM actions ([`resolve_record`]), and the record reads only when every
/// action's flag is read-only ([`read_only_flag`]: a documented flag, else the IAM catalog's
/// access level). So a profile that drops read or write events drops exactly the calls keycard
/// expects such a trail to miss.
///
/// Where keycard's flag is uncertain (Write-level KMS actions) it takes the action as recorded
/// only by a trail that logs both kinds, so either value agrees with it; the catalog's access
/// level decides there. A record keycard maps to no action (none needed, or unmapped) has no
/// flag in keycard's model; it is written as a write.
pub(crate) fn read_only(record: &Value) -> bool {
    let text = record.to_string();
    let Ok(rec) = serde_json::from_str::<Record<'_>>(&text) else {
        return false;
    };
    let Resolved::Actions(actions) = resolve_record(&rec).0 else {
        return false;
    };
    !actions.is_empty()
        && actions.keys().all(|action| match read_only_flag(action) {
            ReadOnlyFlag::ReadOnly => true,
            ReadOnlyFlag::Write => false,
            ReadOnlyFlag::Uncertain(_) => Catalog::embedded()
                .access_level(action)
                .is_some_and(|l| matches!(l, AccessLevel::List | AccessLevel::Read)),
        })
}

/// A digest file's JSON. Hash values and signatures are random hex of the right length: keycard
/// skips digests, and a real validator would reject these anyway (there is no signing key).
pub(crate) fn digest_body(
    scenario: &Scenario,
    key: &str,
    start: i64,
    end: i64,
    files: &[Delivered],
    previous: Option<&str>,
    rng: &mut Rng,
) -> Result<String, TracegenError> {
    let bucket = scenario.bucket.clone().unwrap_or_else(|| {
        format!(
            "aws-cloudtrail-logs-{}-{}",
            scenario.account,
            rng.hex(8, false)
        )
    });
    let oldest = files.iter().map(|f| f.oldest).min().unwrap_or(start);
    let newest = files.iter().map(|f| f.newest).max().unwrap_or(end);
    let log_files: Vec<Value> = files
        .iter()
        .map(|f| {
            json!({
                "s3Bucket": bucket,
                "s3Object": f.key,
                "hashValue": rng.hex(64, false),
                "hashAlgorithm": "SHA-256",
                "newestEventTime": event_time(f.newest),
                "oldestEventTime": event_time(f.oldest),
            })
        })
        .collect();
    let body = json!({
        "awsAccountId": scenario.account,
        "digestStartTime": event_time(start),
        "digestEndTime": event_time(end),
        "digestS3Bucket": bucket,
        "digestS3Object": key,
        "digestPublicKeyFingerprint": rng.hex(32, false),
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": event_time(newest),
        "oldestEventTime": event_time(oldest),
        "previousDigestS3Bucket": previous.map(|_| bucket.clone()),
        "previousDigestS3Object": previous,
        "previousDigestHashValue": previous.map(|_| rng.hex(64, false)),
        "previousDigestHashAlgorithm": previous.map(|_| "SHA-256"),
        "previousDigestSignature": previous.map(|_| rng.hex(512, false)),
        "logFiles": log_files,
    });
    Ok(serde_json::to_string(&body)?)
}
