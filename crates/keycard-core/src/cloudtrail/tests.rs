//! Scan tests over the hand-curated fixture tree (tests/fixtures/cloudtrail/tree, written by
//! make-fixtures.py there) and over generated corpora.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::mapping::{EventRef, Exceptions, Mapping};
use super::*;
use crate::catalog::Catalog;
use crate::usage::{EvidenceSource, PrincipalUsage, Window};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/cloudtrail")
}

fn tree() -> PathBuf {
    fixtures().join("tree")
}

fn t(s: &str) -> DateTime<Utc> {
    parse_event_time(s).unwrap()
}

const API: &str = "arn:aws:iam::111122223333:role/service-role/OrdersApiRole";
const WORKER: &str = "arn:aws:iam::111122223333:role/OrdersWorkerRole";

fn actions(p: &PrincipalUsage) -> Vec<(&str, u64)> {
    p.actions
        .iter()
        .map(|(k, v)| (k.as_str(), v.count))
        .collect()
}

fn resources<'a>(p: &'a PrincipalUsage, action: &str) -> Vec<&'a str> {
    p.actions[action]
        .resources
        .iter()
        .map(String::as_str)
        .collect()
}

#[test]
fn fixture_tree_every_identity_type_and_file_kind() {
    let result = scan_dir(&tree(), &ScanOptions::default()).unwrap();
    let f = &result.files;

    // Files: two gzip logs, one plain JSON log, one truncated copy; one digest skipped.
    assert_eq!(f.read, 4);
    assert_eq!(f.digests_skipped, 1);
    assert_eq!(f.malformed.len(), 1);
    assert!(
        f.malformed[0].path.contains("TrUnCaTeD"),
        "{:?}",
        f.malformed
    );
    assert!(f.malformed[0].reason.contains("gzip"), "{:?}", f.malformed);
    // The truncated copy's records are duplicates of file A, and the org trail re-delivered
    // event 1: everything it held counts once.
    assert!(f.duplicates >= 1);
    assert_eq!(f.events - f.duplicates, 26 + 7 + 1 - 1);
    assert_eq!(
        f.other_event_types, 4,
        "Insights, network activity, service event, sign-in"
    );
    let not_attributed: Vec<(&str, u64)> = f
        .not_attributed
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        not_attributed,
        vec![
            ("AWSAccount", 1),
            ("AWSService", 1),
            ("IdentityCenterUser", 1),
            ("SAMLUser", 1),
            ("WebIdentityUser", 1)
        ]
    );
    assert_eq!(f.no_permission_needed, 1, "sts:GetCallerIdentity");
    assert_eq!(f.earliest, Some(t("2025-06-01T10:01:00Z")));
    assert_eq!(f.latest, Some(t("2025-06-03T12:00:00Z")));

    let principals: Vec<&str> = result.usage.principals.keys().map(String::as_str).collect();
    assert_eq!(
        principals,
        vec![
            "arn:aws:iam::111122223333:role/OrdersWorkerRole",
            "arn:aws:iam::111122223333:role/service-role/OrdersApiRole",
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:user/bob",
            "arn:aws:iam::111122223333:user/ci/deployer",
        ],
        "the path-less AssumedRole record folded into the full role ARN; services not listed"
    );

    let api = &result.usage.principals[API];
    assert_eq!(
        actions(api),
        vec![
            ("dynamodb:GetItem", 1),
            ("dynamodb:Query", 1),
            ("kms:Decrypt", 1),
            ("lambda:InvokeFunction", 1),
            ("lambda:UpdateFunctionConfiguration", 1),
            ("s3:GetObject", 2),
            ("s3:GetObjectVersion", 1),
            ("s3:PutObject", 1),
            ("sns:ListTopics", 1),
            ("sqs:SendMessage", 1),
        ]
    );
    assert_eq!(
        resources(api, "s3:GetObject"),
        vec![
            "arn:aws:s3:::orders-archive-111122223333/2025/06/01/o-1.json",
            "arn:aws:s3:::orders-archive-111122223333/in/a b.json",
        ],
        "GetObject from the object call and from CopyObject's source; never the bucket ARN"
    );
    assert_eq!(
        resources(api, "s3:PutObject"),
        vec!["arn:aws:s3:::orders-archive-111122223333/out/a.json"]
    );
    assert_eq!(
        resources(api, "dynamodb:GetItem"),
        vec!["arn:aws:dynamodb:us-east-1:111122223333:table/orders"]
    );
    assert_eq!(
        resources(api, "sqs:SendMessage"),
        vec!["arn:aws:sqs:us-east-1:111122223333:orders-events"]
    );
    assert_eq!(
        resources(api, "kms:Decrypt"),
        vec!["arn:aws:kms:us-east-1:111122223333:key/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"]
    );
    assert_eq!(
        resources(api, "lambda:UpdateFunctionConfiguration"),
        vec!["arn:aws:lambda:us-east-1:111122223333:function:orders-worker"]
    );
    assert!(
        resources(api, "sns:ListTopics").is_empty(),
        "resources: null"
    );
    assert_eq!(
        api.actions["s3:GetObject"].first_seen,
        t("2025-06-01T10:02:00Z")
    );
    assert_eq!(
        api.actions["s3:GetObject"].last_seen,
        t("2025-06-01T10:04:00Z")
    );

    let denied: Vec<(&str, u64)> = api
        .denied
        .iter()
        .map(|(k, v)| (k.as_str(), v.count))
        .collect();
    assert_eq!(denied, vec![("s3:PutObject", 1)]);
    let unmapped: Vec<(&str, &str)> = api
        .unmapped
        .iter()
        .map(|u| (u.event_source.as_str(), u.event_name.as_str()))
        .collect();
    assert_eq!(
        unmapped,
        vec![
            ("dynamodb.amazonaws.com", "ExecuteStatement"),
            ("madeup.amazonaws.com", "DoSomethingNew")
        ]
    );
    assert!(
        api.unmapped[1]
            .reason
            .contains("not in the IAM action catalog")
    );
    assert_eq!(api.sources, BTreeSet::from([EvidenceSource::Cloudtrail]));
    assert_eq!(
        api.windows,
        vec![Window {
            start: t("2025-06-01T10:01:00Z"),
            end: t("2025-06-03T12:00:00Z")
        }]
    );

    let worker = &result.usage.principals[WORKER];
    assert_eq!(
        actions(worker),
        vec![
            ("cloudwatch:PutMetricData", 1),
            ("dynamodb:ConditionCheckItem", 1),
            ("dynamodb:PutItem", 1),
            ("logs:CreateLogStream", 1),
            ("s3:DeleteObject", 1),
            ("sqs:DeleteMessage", 1),
            ("sqs:ReceiveMessage", 1),
        ]
    );
    assert_eq!(
        resources(worker, "dynamodb:PutItem"),
        vec!["arn:aws:dynamodb:eu-west-1:111122223333:table/orders-eu"]
    );
    assert!(resources(worker, "s3:DeleteObject").is_empty());
    assert_eq!(
        resources(worker, "logs:CreateLogStream"),
        vec![
            "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/orders-worker:log-stream:2025/06/03/[$LATEST]abc"
        ]
    );
    assert_eq!(
        worker.denied["sqs:SendMessage"].count, 1,
        "ThrottlingException is kept apart too"
    );

    let user = |arn: &str| actions(&result.usage.principals[arn]);
    assert_eq!(
        user("arn:aws:iam::111122223333:user/ci/deployer"),
        vec![("cloudformation:DescribeStacks", 1)],
        "ConsoleLogin is a sign-in event, not an API call"
    );
    assert_eq!(
        user("arn:aws:iam::111122223333:root"),
        vec![("s3:ListAllMyBuckets", 1)]
    );
    assert_eq!(
        user("arn:aws:iam::111122223333:user/bob"),
        vec![("ec2:DescribeInstances", 1)],
        "a federation token's calls count for the IAM user that issued it"
    );
}

#[test]
fn principal_filter_matches_without_path_and_lists_unseen_principals() {
    let requested = "arn:aws:iam::111122223333:role/ordersapirole";
    let unseen = "arn:aws:iam::111122223333:role/NeverUsed";
    let opts = ScanOptions {
        principals: Some(BTreeSet::from([requested.to_string(), unseen.to_string()])),
        threads: Some(1),
        ..ScanOptions::default()
    };
    let result = scan_dir(&tree(), &opts).unwrap();
    let keys: Vec<&str> = result.usage.principals.keys().map(String::as_str).collect();
    assert_eq!(keys, vec![unseen, requested]);
    let api = &result.usage.principals[requested];
    assert_eq!(
        api.actions["dynamodb:Query"].count, 1,
        "record with empty sessionIssuer"
    );
    assert_eq!(api.actions.len(), 10);
    assert!(result.usage.principals[unseen].actions.is_empty());
    assert_eq!(result.usage.principals[unseen].windows.len(), 1);
    assert!(result.files.other_principals > 0);
}

#[test]
fn window_filters_events_and_skips_old_files() {
    let opts = ScanOptions {
        start: Some(t("2025-06-02T00:00:00Z")),
        end: Some(t("2025-06-03T00:00:00Z")),
        ..ScanOptions::default()
    };
    let result = scan_dir(&tree(), &opts).unwrap();
    assert_eq!(
        result.files.skipped_before_start, 2,
        "file A and its truncated copy"
    );
    assert_eq!(
        result.files.outside_window, 2,
        "the plain file's event on 06-03, and the org trail's copy of event 1 (06-01): its \
         original was in a skipped file, so it is no duplicate here"
    );
    let keys: Vec<&str> = result.usage.principals.keys().map(String::as_str).collect();
    assert_eq!(keys, vec![WORKER]);
    let w = &result.usage.principals[WORKER];
    assert!(!w.actions.contains_key("logs:CreateLogStream"));
    assert_eq!(
        w.windows,
        vec![Window {
            start: t("2025-06-02T00:00:00Z"),
            end: t("2025-06-03T00:00:00Z")
        }],
        "the window is the one asked for, not the events' span"
    );
}

#[test]
fn missing_and_empty_folders_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        scan_dir(&dir.path().join("nope"), &ScanOptions::default()),
        Err(CloudTrailError::Missing(_))
    ));
    std::fs::write(dir.path().join("README.txt"), "not a log").unwrap();
    assert!(matches!(
        scan_dir(dir.path(), &ScanOptions::default()),
        Err(CloudTrailError::Empty(_))
    ));
    assert!(matches!(
        scan_dir(&dir.path().join("README.txt"), &ScanOptions::default()),
        Err(CloudTrailError::NotADirectory(_))
    ));
}

#[test]
fn scanner_reads_streams_like_files() {
    // Given the same files as byte streams (what the S3 adapter passes)
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in walkdir::WalkDir::new(tree()).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let name = display_path(&tree(), entry.path());
            files.push((name, std::fs::read(entry.path()).unwrap()));
        }
    }
    // When scanned through the streaming API
    let streamed = scan_sources(
        files.iter().map(|(n, b)| (n.clone(), &b[..])),
        &ScanOptions::default(),
    );
    // Then usage is identical to the folder scan
    let from_dir = scan_dir(&tree(), &ScanOptions::default()).unwrap();
    assert_eq!(streamed.usage, from_dir.usage);
    assert_eq!(streamed.files.read, from_dir.files.read);
    assert_eq!(streamed.files.digests_skipped, 1);
    assert_eq!(streamed.files.malformed, from_dir.files.malformed);
}

#[test]
fn odd_files_are_reported_not_fatal() {
    let mut s = Scanner::new(&ScanOptions::default());
    s.scan_reader("a.json", &b""[..]);
    s.scan_reader("b.json", &br#"{"digestStartTime":"x"}"#[..]);
    s.scan_reader("c.json.gz", &[0x1f, 0x8b, 0x08, 0x00][..]);
    s.scan_reader("d.json", &b"\xff\xfe garbage"[..]);
    s.scan_reader("e.json", &br#"{"Records":[]}"#[..]);
    let r = s.finish();
    assert_eq!(r.files.read, 5);
    let reasons: Vec<(&str, &str)> = r
        .files
        .malformed
        .iter()
        .map(|m| (m.path.as_str(), m.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].1.contains("empty"));
    assert!(reasons[1].1.contains("no Records"));
    assert!(reasons[2].1.contains("gzip"));
    assert!(reasons[3].1.contains("invalid JSON"));
}

#[test]
fn implausible_event_times_are_not_evidence() {
    // Given two forged records (year 1 and year 9999) beside a genuine one
    let rec = |time: &str, id: &str| {
        format!(
            r#"{{"eventTime":"{time}","eventID":"{id}","eventSource":"sqs.amazonaws.com","eventName":"CreateQueue","awsRegion":"eu-west-1","recipientAccountId":"111122223333","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app-Role/s","accountId":"111122223333","sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"arn:aws:iam::111122223333:role/app-Role","accountId":"111122223333"}}}}}}}}"#
        )
    };
    let body = format!(
        r#"{{"Records":[{},{},{}]}}"#,
        rec("0001-01-01T00:00:00Z", "a"),
        rec("9999-12-31T23:59:59Z", "b"),
        rec("2026-06-01T10:00:00Z", "c")
    );
    let mut s = Scanner::new(&ScanOptions::default());
    s.scan_reader("x.json", body.as_bytes());
    let r = s.finish();
    // Then they are counted as implausible, and the window is the genuine record's alone
    assert_eq!(r.files.implausible_time, 2);
    assert_eq!(r.files.earliest, Some(t("2026-06-01T10:00:00Z")));
    assert_eq!(r.files.latest, Some(t("2026-06-01T10:00:00Z")));
    let p = &r.usage.principals["arn:aws:iam::111122223333:role/app-Role"];
    assert_eq!(p.actions["sqs:CreateQueue"].count, 1);
}

#[test]
fn delivery_times_and_event_times() {
    assert_eq!(
        delivery_time("111122223333_CloudTrail_us-east-1_20250601T1035Z_Qk3v9XbZ1m2N4p5R.json.gz"),
        Some(t("2025-06-01T10:35:00Z").timestamp())
    );
    assert_eq!(delivery_time("notes.json"), None);
    assert_eq!(delivery_time("x_20251301T1035Z_y.json"), None);
    assert_eq!(
        parse_event_time("2025-06-01T10:35:07Z"),
        Some(t("2025-06-01T10:35:07Z"))
    );
    assert_eq!(
        parse_event_time("2025-06-01T10:35:07.123+02:00").map(|d| d.timestamp()),
        Some(t("2025-06-01T08:35:07Z").timestamp())
    );
    assert_eq!(parse_event_time("2025-13-01T10:35:07Z"), None);
    assert_eq!(parse_event_time("yesterday"), None);
}

#[test]
fn generated_corpus_matches_the_generators_truth() {
    // Given a generated account with rare calls, denied calls, AWS-service AssumeRole records,
    // digests and broken copies
    let scenario = keycard_tracegen::large_scenario(&keycard_tracegen::LargeOptions {
        events: 10_000,
        roles: 6,
        days: 20,
        seed: 99,
        ..keycard_tracegen::LargeOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let truth = keycard_tracegen::generate(&scenario, dir.path()).unwrap();

    // When keycard scans it with two threads
    let result = scan_dir(
        dir.path(),
        &ScanOptions {
            threads: Some(2),
            ..ScanOptions::default()
        },
    )
    .unwrap();

    // Then every principal's counts equal what was written
    assert_eq!(result.files.malformed.len(), truth.malformed_files.len());
    assert_eq!(result.files.digests_skipped, truth.digest_files);
    assert_eq!(result.files.events - result.files.duplicates, truth.events);
    for (arn, calls) in &truth.expected {
        let pu = &result.usage.principals[arn];
        for (key, want) in calls {
            let (source, name) = key.split_once(' ').unwrap();
            let mapped = match Exceptions::embedded().map(EventRef {
                source,
                name,
                params: None,
            }) {
                Mapping::Actions(a) => a,
                other => panic!("{key} mapped to {other:?}"),
            };
            let action = Catalog::embedded().canonical(&mapped[0].action).unwrap();
            if want.count > 0 {
                let got = &pu.actions[&action];
                assert_eq!(got.count, want.count, "{arn} {key}");
                assert_eq!(got.first_seen, want.first, "{arn} {key}");
                assert_eq!(got.last_seen, want.last, "{arn} {key}");
            }
            if want.denied > 0 {
                assert_eq!(pu.denied[&action].count, want.denied, "{arn} {key}");
            }
        }
    }
    let service = result
        .files
        .not_attributed
        .get("AWSService")
        .copied()
        .unwrap_or(0);
    assert!(
        (6 * 19..=6 * 20).contains(&service),
        "one AWSService AssumeRole per role per day (the last may fall after the end): {service}"
    );
    assert!(
        result
            .usage
            .principals
            .values()
            .all(|p| !p.actions.contains_key("sts:AssumeRole"))
    );
}

#[test]
fn one_thread_and_many_threads_agree() {
    let scenario = keycard_tracegen::large_scenario(&keycard_tracegen::LargeOptions {
        events: 8_000,
        roles: 3,
        days: 12,
        seed: 5,
        ..keycard_tracegen::LargeOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    keycard_tracegen::generate(&scenario, dir.path()).unwrap();
    let run = |threads| {
        scan_dir(
            dir.path(),
            &ScanOptions {
                threads: Some(threads),
                ..ScanOptions::default()
            },
        )
        .unwrap()
    };
    let one = run(1);
    let four = run(4);
    assert_eq!(one.usage, four.usage);
    assert_eq!(one.files, four.files);
}

/// Every case in tests/fixtures/cloudtrail/mapping-cases.json maps to exactly the expected
/// actions and resources, and every exceptions row and prefix row is exercised by a case.
#[test]
fn mapping_cases_cover_every_exceptions_row() {
    let text = std::fs::read_to_string(fixtures().join("mapping-cases.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let table = Exceptions::embedded();
    let mut rows_hit = vec![0usize; table.events.len()];
    let mut prefixes_hit = vec![0usize; table.prefixes.len()];
    let mut failures = Vec::new();
    for (i, case) in doc["cases"].as_array().unwrap().iter().enumerate() {
        let body = serde_json::json!({ "Records": [case["record"]] }).to_string();
        let expect = &case["expect"];
        let label = format!(
            "case {i} {} {}",
            case["record"]["eventSource"], case["record"]["eventName"]
        );
        record::for_each_record(body.as_bytes(), |rec| {
            let (resolved, row) = resolve_record(&rec);
            if let Some(row) = row {
                rows_hit[row] += 1;
            }
            let source = rec.event_source.get().unwrap_or_default();
            if let Some(p) = table.prefixes.iter().position(|p| p.source == source) {
                prefixes_hit[p] += 1;
            }
            let ok = if let Some(actions) = expect.get("actions") {
                let want: BTreeMap<String, Vec<String>> =
                    serde_json::from_value(actions.clone()).unwrap();
                let want: BTreeMap<String, Vec<String>> = want
                    .into_iter()
                    .map(|(k, mut v)| {
                        v.sort();
                        (k, v)
                    })
                    .collect();
                resolved == Resolved::Actions(want)
            } else if expect.get("no_permission").is_some() {
                resolved == Resolved::NoPermission
            } else if let Some(reason) = expect["unmapped"].as_str() {
                matches!(&resolved, Resolved::Unmapped(r) if r.iter().any(|r| r.contains(reason)))
            } else {
                false
            };
            if !ok {
                failures.push(format!("{label}: got {resolved:?}, want {expect}"));
            }
        })
        .unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let uncovered: Vec<String> = rows_hit
        .iter()
        .enumerate()
        .filter(|(_, n)| **n == 0)
        .map(|(i, _)| format!("{} {}", table.events[i].source, table.events[i].event))
        .chain(
            prefixes_hit
                .iter()
                .enumerate()
                .filter(|(_, n)| **n == 0)
                .map(|(i, _)| table.prefixes[i].source.clone()),
        )
        .collect();
    assert!(uncovered.is_empty(), "rows without a case: {uncovered:?}");
}

/// Property tests standing in for a fuzz target: the record parser and the whole per-record
/// pipeline (attribution, mapping, resources, accumulation) on arbitrary input.
mod fuzz {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    /// Arbitrary JSON, biased towards CloudTrail field names so lenient fields are hit with
    /// wrong types (`"resources": "x"`, `"userIdentity": [..]`, `"eventTime": 5`).
    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[a-zA-Z0-9:/._-]{0,12}".prop_map(Value::from),
            prop_oneof![
                Just("AssumedRole"),
                Just("IAMUser"),
                Just("Root"),
                Just("FederatedUser"),
                Just("AWSService"),
                Just("arn:aws:iam::1:role/r"),
                Just("arn:aws:sts::1:assumed-role/r/s"),
                Just("s3.amazonaws.com"),
                Just("GetObject"),
                Just("CopyObject"),
                Just("2025-06-01T10:00:00Z"),
                Just("AwsApiCall"),
                Just("https://sqs.us-east-1.amazonaws.com/123456789012/q"),
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("userIdentity".to_string()),
                            Just("type".to_string()),
                            Just("arn".to_string()),
                            Just("sessionContext".to_string()),
                            Just("sessionIssuer".to_string()),
                            Just("eventTime".to_string()),
                            Just("eventSource".to_string()),
                            Just("eventName".to_string()),
                            Just("eventID".to_string()),
                            Just("errorCode".to_string()),
                            Just("requestParameters".to_string()),
                            Just("resources".to_string()),
                            Just("ARN".to_string()),
                            Just("bucketName".to_string()),
                            Just("key".to_string()),
                            Just("x-amz-copy-source".to_string()),
                            Just("queueUrl".to_string()),
                            Just("transactItems".to_string()),
                            "[a-z]{1,6}",
                        ],
                        inner,
                    ),
                    0..6,
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Any well-formed JSON array of values is read without error: every object is a
        /// record, whatever its fields hold, and the pipeline accepts it.
        #[test]
        fn any_json_records_parse_and_scan(records in prop::collection::vec(arb_json(), 0..8)) {
            let objects = records.iter().filter(|r| r.is_object()).count() as u64;
            let body = json!({ "Records": records }).to_string();
            let n = record::for_each_record(body.as_bytes(), |rec| {
                let _ = resolve_record(&rec);
            });
            prop_assert_eq!(n, Ok(objects));
            let mut scanner = Scanner::new(&ScanOptions::default());
            scanner.scan_reader("x.json", body.as_bytes());
            let r = scanner.finish();
            prop_assert!(r.files.malformed.is_empty());
            prop_assert_eq!(r.files.events, objects);
        }

        /// Arbitrary bytes never panic; they are either records or a reported malformed file.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut scanner = Scanner::new(&ScanOptions::default());
            scanner.scan_reader("x.json", &bytes[..]);
            let mut gz = vec![0x1f, 0x8b];
            gz.extend_from_slice(&bytes);
            scanner.scan_reader("y.json.gz", &gz[..]);
            let r = scanner.finish();
            prop_assert_eq!(r.files.read, 2);
        }

        /// A real file cut anywhere yields the records before the cut and a reason.
        #[test]
        fn truncated_real_files_keep_the_records_before_the_cut(cut in 0usize..100) {
            let path = tree().join("AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/eu-west-1/2025/06/02/111122223333_CloudTrail_eu-west-1_20250602T0810Z_Zr8Tn5Wq2Lk7Hs3D.json.gz");
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
                &mut text,
            ).unwrap();
            let at = text.len() * cut / 100;
            let result = record::for_each_record(&text.as_bytes()[..at], |_| {});
            match &result {
                Ok(n) => prop_assert!(*n <= 7),
                Err(f) => prop_assert!(f.records <= 7 && !f.message.is_empty()),
            }
            if cut < 100 {
                prop_assert!(result.is_err());
            }
        }
    }
}
