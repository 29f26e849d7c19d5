//! Real-shaped CloudTrail records and digest files.
//!
//! Field order and shapes follow records delivered by CloudTrail (eventVersion 1.09/1.10):
//! `userIdentity` of an assumed role carries `sessionContext.sessionIssuer`, data events have
//! `eventCategory: Data` and `managementEvent: false`, AWS services assuming a role appear as
//! `AWSService` callers with the role in `resources[]`.

use serde::Serialize;
use serde_json::{Value, json};

use crate::rng::Rng;
use crate::scenario::{CallSpec, PrincipalKind, PrincipalSpec, Scenario};
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

pub(crate) struct Writer<'s> {
    scenario: &'s Scenario,
    identities: Vec<Identity>,
    /// Per principal: the AWSService identity and resources of its daily AssumeRole.
    service: Vec<Option<(Value, Value, Value)>>,
    rng: Rng,
}

impl<'s> Writer<'s> {
    pub fn new(scenario: &'s Scenario, rng: Rng) -> Self {
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
        Writer {
            scenario,
            identities,
            service,
            rng,
        }
    }

    /// The JSON text of one log file holding `group`, recording the truth in `summary`.
    pub fn file_body(
        &mut self,
        group: &[Ev],
        summary: &mut Summary,
    ) -> Result<String, TracegenError> {
        let mut out = String::with_capacity(group.len() * 1200 + 16);
        out.push_str("{\"Records\":[");
        for (n, ev) in group.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
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
                    read_only: true,
                    resources: Some(resources),
                    event_type: "AwsApiCall",
                    management_event: true,
                    recipient_account_id: &self.scenario.account,
                    event_category: "Management",
                };
                out.push_str(&serde_json::to_string(&rec)?);
                continue;
            }
            let call = &p.calls[ev.call as usize];
            let data = call.data_event.unwrap_or_else(|| is_data_event(call));
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
                read_only: is_read_only(&call.event_name),
                resources: call.resources.as_ref(),
                event_type: "AwsApiCall",
                management_event: !data,
                recipient_account_id: &self.scenario.account,
                event_category: if data { "Data" } else { "Management" },
            };
            out.push_str(&serde_json::to_string(&rec)?);

            let key = format!("{} {}", call.event_source, call.event_name);
            let at = utc(ev.time);
            let truth = summary
                .expected
                .entry(id.arn.clone())
                .or_default()
                .entry(key)
                .or_insert(CallTruth {
                    count: 0,
                    denied: 0,
                    first: at,
                    last: at,
                });
            if call.error_code.is_some() {
                truth.denied += 1;
            } else {
                truth.count += 1;
            }
            truth.first = truth.first.min(at);
            truth.last = truth.last.max(at);
        }
        out.push_str("]}");
        Ok(out)
    }
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

/// Which calls CloudTrail logs as data events when no explicit flag is given.
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

fn is_read_only(name: &str) -> bool {
    [
        "Get", "List", "Describe", "Head", "Lookup", "Query", "Scan", "BatchGet", "Select",
    ]
    .iter()
    .any(|p| name.starts_with(p))
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
