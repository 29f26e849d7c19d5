//! The large benchmark corpus: many roles, months of history, ≥ the requested event count.
//!
//! Built as an ordinary [`Scenario`] so the benchmark exercises exactly the code paths the
//! examples do: frequent calls every N minutes (N chosen so the total reaches the target),
//! rare calls monthly and twice a year, a denied call per role each week, AWS-service
//! AssumeRole records, digests, and a few broken and duplicated files.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};

use crate::scenario::{CallSpec, MalformedSpec, PrincipalKind, PrincipalSpec, Scenario, Schedule};
use crate::trail::{Classification, TrailSpec};

/// Size of the large corpus.
#[derive(Debug, Clone)]
pub struct LargeOptions {
    /// At least this many events (the result overshoots by a few percent at most).
    pub events: u64,
    pub roles: usize,
    pub days: u32,
    pub seed: u64,
    pub account: String,
    pub regions: Vec<String>,
    pub start: DateTime<Utc>,
}

impl Default for LargeOptions {
    fn default() -> Self {
        LargeOptions {
            events: 1_000_000,
            roles: 50,
            days: 180,
            seed: 7,
            account: "123456789012".to_string(),
            regions: vec!["us-east-1".to_string(), "eu-west-1".to_string()],
            start: Utc
                .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        }
    }
}

/// One entry of the palette of calls roles are built from.
fn palette(
    i: usize,
    role: &str,
    account: &str,
    region: &str,
) -> (&'static str, &'static str, Value, Option<Value>) {
    let table = format!("{role}-table");
    let bucket = format!("{role}-bucket-{account}");
    match i % 12 {
        0 => (
            "dynamodb",
            "GetItem",
            json!({"tableName": table, "key": {"pk": "HIDDEN_DUE_TO_SECURITY_REASONS"}}),
            None,
        ),
        1 => (
            "dynamodb",
            "PutItem",
            json!({"tableName": table, "item": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
            None,
        ),
        2 => (
            "s3",
            "GetObject",
            json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{region}.amazonaws.com"), "key": "data/object.json"}),
            None,
        ),
        3 => (
            "s3",
            "PutObject",
            json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{region}.amazonaws.com"), "key": "out/result.json"}),
            None,
        ),
        4 => (
            "sqs",
            "SendMessage",
            json!({"queueUrl": format!("https://sqs.{region}.amazonaws.com/{account}/{role}-queue")}),
            None,
        ),
        5 => (
            "sqs",
            "DeleteMessageBatch",
            json!({"queueUrl": format!("https://sqs.{region}.amazonaws.com/{account}/{role}-queue")}),
            None,
        ),
        6 => (
            "kms",
            "Decrypt",
            json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
            Some(
                json!([{"accountId": account, "type": "AWS::KMS::Key", "ARN": format!("arn:aws:kms:{region}:{account}:key/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d")}]),
            ),
        ),
        7 => (
            "sns",
            "Publish",
            json!({"topicArn": format!("arn:aws:sns:{region}:{account}:{role}-topic")}),
            None,
        ),
        8 => (
            "logs",
            "CreateLogStream",
            json!({"logGroupName": format!("/aws/lambda/{role}"), "logStreamName": "2025/01/01/[$LATEST]0123456789abcdef"}),
            None,
        ),
        9 => (
            "secretsmanager",
            "GetSecretValue",
            json!({"secretId": format!("arn:aws:secretsmanager:{region}:{account}:secret:{role}-secret-AbCdEf")}),
            None,
        ),
        10 => (
            "lambda",
            "Invoke",
            json!({"functionName": format!("arn:aws:lambda:{region}:{account}:function:{role}-worker"), "invocationType": "Event"}),
            Some(
                json!([{"accountId": account, "type": "AWS::Lambda::Function", "ARN": format!("arn:aws:lambda:{region}:{account}:function:{role}-worker")}]),
            ),
        ),
        _ => (
            "ssm",
            "GetParameter",
            json!({"name": format!("/{role}/config"), "withDecryption": true}),
            None,
        ),
    }
}

/// Builds the large scenario described in the module docs.
pub fn large_scenario(o: &LargeOptions) -> Scenario {
    const FREQUENT_PER_ROLE: usize = 5;
    let roles = o.roles.max(1);
    let minutes = i64::from(o.days.max(1)) * 1440;
    let frequent_calls = (roles * FREQUENT_PER_ROLE) as i64;
    // occurrences per call = minutes / every; total ≈ frequent_calls × minutes / every ≥ target.
    let target = o.events.max(1) as i64;
    let (every, count) = {
        let every = frequent_calls * minutes / target;
        if every >= 1 {
            (every as u32, 1)
        } else {
            let count = (target + frequent_calls * minutes - 1) / (frequent_calls * minutes);
            (1, count as u32)
        }
    };
    let region0 = o
        .regions
        .first()
        .cloned()
        .unwrap_or_else(|| "us-east-1".to_string());
    let principals = (0..roles)
        .map(|r| {
            let name = format!("svc{r:03}-FunctionRole-{}", 1000 + r * 37);
            let region = o.regions.get(r % o.regions.len().max(1)).cloned().unwrap_or_else(|| region0.clone());
            let mut calls: Vec<CallSpec> = (0..FREQUENT_PER_ROLE)
                .map(|k| {
                    let (service, event_name, params, resources) =
                        palette(r + k, &name, &o.account, &region);
                    CallSpec {
                        event_source: format!("{service}.amazonaws.com"),
                        event_name: event_name.to_string(),
                        schedule: Schedule::EveryMinutes(every),
                        count,
                        region: Some(region.clone()),
                        request_parameters: Some(params),
                        response_elements: None,
                        resources,
                        error_code: None,
                        error_message: None,
                        data_event: None,
                    }
                })
                .collect();
            let rare = |source: &str, name: &str, schedule: Schedule, params: Value| CallSpec {
                event_source: source.to_string(),
                event_name: name.to_string(),
                schedule,
                count: 1,
                region: Some(region.clone()),
                request_parameters: Some(params),
                response_elements: None,
                resources: None,
                error_code: None,
                error_message: None,
                data_event: None,
            };
            calls.push(rare(
                "lambda.amazonaws.com",
                "UpdateFunctionConfiguration20150331v2",
                Schedule::TwiceAYear,
                json!({"functionName": format!("{name}-worker"), "timeout": 30}),
            ));
            calls.push(rare(
                "dynamodb.amazonaws.com",
                "DescribeTable",
                Schedule::Monthly,
                json!({"tableName": format!("{name}-table")}),
            ));
            let mut denied = rare(
                "s3.amazonaws.com",
                "DeleteObject",
                Schedule::Weekly,
                json!({"bucketName": format!("{name}-bucket-{}", o.account), "key": "data/object.json"}),
            );
            denied.error_code = Some("AccessDenied".to_string());
            denied.error_message = Some("Access Denied".to_string());
            calls.push(denied);
            PrincipalSpec {
                name,
                kind: PrincipalKind::Role,
                path: if r % 4 == 0 { "/service-role/".to_string() } else { "/".to_string() },
                session_name: None,
                user_agent: None,
                assumed_by: Some("lambda.amazonaws.com".to_string()),
                calls,
            }
        })
        .collect();
    Scenario {
        seed: o.seed,
        account: o.account.clone(),
        regions: o.regions.clone(),
        organization_id: None,
        start: o.start,
        end: o.start + Duration::days(i64::from(o.days.max(1))),
        file_interval_minutes: 60,
        digests: true,
        trail_name: "management-events".to_string(),
        bucket: None,
        principals,
        malformed: MalformedSpec {
            truncated: 2,
            invalid_json: 1,
            duplicates: 3,
        },
        trail: TrailSpec::default(),
        classification: Classification::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_scenario_is_valid_and_sized() {
        let s = large_scenario(&LargeOptions {
            events: 20_000,
            roles: 4,
            days: 10,
            ..LargeOptions::default()
        });
        s.validate().unwrap();
        assert_eq!(s.principals.len(), 4);
        // 4 roles × 5 frequent calls × 14400 minutes / every ≥ 20k.
        let Schedule::EveryMinutes(every) = s.principals[0].calls[0].schedule else {
            panic!("frequent calls run every N minutes");
        };
        assert!(20 * 14_400 / i64::from(every) >= 20_000);
    }
}
