//! Generator tests: layout, record shape, ground truth and determinism.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::*;

const SCENARIO: &str = r#"{
    "seed": 11,
    "account": "111122223333",
    "regions": ["us-east-1", "eu-west-1"],
    "start": "2025-03-01T00:00:00Z",
    "end": "2025-03-15T00:00:00Z",
    "principals": [
        {"name": "orders-ApiFunctionRole-1A2B3C", "path": "/service-role/",
         "assumed_by": "lambda.amazonaws.com",
         "calls": [
            {"event_source": "dynamodb.amazonaws.com", "event_name": "GetItem", "schedule": "hourly",
             "request_parameters": {"tableName": "orders"}},
            {"event_source": "s3.amazonaws.com", "event_name": "PutObject", "schedule": "daily", "count": 3,
             "region": "eu-west-1",
             "request_parameters": {"bucketName": "orders-archive", "key": "2025/03/01/o.json"}},
            {"event_source": "lambda.amazonaws.com", "event_name": "UpdateFunctionConfiguration20150331v2",
             "schedule": "once"},
            {"event_source": "s3.amazonaws.com", "event_name": "DeleteObject", "schedule": "weekly",
             "error_code": "AccessDenied", "error_message": "Access Denied",
             "request_parameters": {"bucketName": "orders-archive", "key": "x"}}
        ]},
        {"name": "deployer", "kind": "user", "calls": [
            {"event_source": "cloudformation.amazonaws.com", "event_name": "DescribeStacks",
             "schedule": {"at": ["2025-03-02T10:00:00Z", "2025-04-01T00:00:00Z"]}}
        ]}
    ],
    "malformed": {"truncated": 1, "invalid_json": 1, "duplicates": 1}
}"#;

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

fn records(path: &Path) -> Vec<Value> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["Records"].as_array().unwrap().clone()
}

#[test]
fn writes_the_s3_layout_with_digests_and_broken_copies() {
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::from_json(SCENARIO).unwrap();
    let summary = generate(&s, dir.path()).unwrap();
    let files = files_under(dir.path());

    let logs: Vec<&String> = files
        .iter()
        .filter(|f| f.contains("/CloudTrail/"))
        .collect();
    let digests: Vec<&String> = files
        .iter()
        .filter(|f| f.contains("/CloudTrail-Digest/"))
        .collect();
    assert_eq!(digests.len() as u64, summary.digest_files);
    assert!(summary.digest_files > 0);
    assert_eq!(
        logs.len() as u64,
        summary.log_files + 3,
        "good files plus truncated, invalid and duplicate copies"
    );
    for f in &logs {
        // AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<ts>_<rand>.json.gz
        let parts: Vec<&str> = f.split('/').collect();
        assert_eq!(parts.len(), 8, "{f}");
        assert_eq!(parts[0], "AWSLogs");
        assert_eq!(parts[1], "111122223333");
        let name: Vec<&str> = parts[7].split('_').collect();
        assert_eq!(name[0], "111122223333");
        assert_eq!(name[1], "CloudTrail");
        assert_eq!(name[2], parts[3]);
        assert_eq!(name[3].len(), "20250301T0105Z".len());
        assert_eq!(
            &name[3][..8],
            format!("{}{}{}", parts[4], parts[5], parts[6])
        );
        assert!(
            name[4].ends_with(".json.gz") && name[4].len() == 16 + 8,
            "{f}"
        );
    }
    for d in &digests {
        assert!(
            d.contains("_CloudTrail-Digest_") && d.contains("_management-events_"),
            "{d}"
        );
    }
    assert_eq!(summary.malformed_files.len(), 2);
}

#[test]
fn records_are_real_shaped_and_match_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::from_json(SCENARIO).unwrap();
    let summary = generate(&s, dir.path()).unwrap();
    let broken: Vec<&str> = summary
        .malformed_files
        .iter()
        .map(|(p, _)| p.as_str())
        .chain(summary.duplicate_files.iter().map(String::as_str))
        .collect();

    let mut counted: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let mut events = 0;
    let mut service_assumes = 0;
    for f in files_under(dir.path()) {
        if !f.contains("/CloudTrail/") || broken.contains(&f.as_str()) {
            continue;
        }
        for r in records(&dir.path().join(&f)) {
            events += 1;
            for field in [
                "eventVersion",
                "eventTime",
                "eventSource",
                "eventName",
                "awsRegion",
                "sourceIPAddress",
                "userAgent",
                "requestID",
                "eventID",
                "readOnly",
                "eventType",
                "managementEvent",
                "recipientAccountId",
                "eventCategory",
            ] {
                assert!(r.get(field).is_some(), "{field} missing in {r}");
            }
            let ui = &r["userIdentity"];
            let principal = match ui["type"].as_str().unwrap() {
                "AssumedRole" => ui["sessionContext"]["sessionIssuer"]["arn"]
                    .as_str()
                    .unwrap(),
                "IAMUser" => ui["arn"].as_str().unwrap(),
                "AWSService" => {
                    service_assumes += 1;
                    assert_eq!(r["resources"][0]["type"], "AWS::IAM::Role");
                    continue;
                }
                other => panic!("unexpected identity {other}"),
            };
            let key = format!(
                "{} {}",
                r["eventSource"].as_str().unwrap(),
                r["eventName"].as_str().unwrap()
            );
            let e = counted.entry((principal.to_string(), key)).or_default();
            if r.get("errorCode").is_some() {
                e.1 += 1
            } else {
                e.0 += 1
            }
            if r["eventSource"] == "s3.amazonaws.com" {
                assert_eq!(r["eventCategory"], "Data");
                assert_eq!(r["managementEvent"], false);
            }
        }
    }
    assert_eq!(events, summary.events);
    assert!(service_assumes >= 13, "one AWSService AssumeRole a day");
    let role = "arn:aws:iam::111122223333:role/service-role/orders-ApiFunctionRole-1A2B3C";
    let truth = &summary.expected[role];
    assert_eq!(truth["dynamodb.amazonaws.com GetItem"].count, 14 * 24);
    assert_eq!(truth["s3.amazonaws.com PutObject"].count, 14 * 3);
    assert_eq!(
        truth["lambda.amazonaws.com UpdateFunctionConfiguration20150331v2"].count,
        1
    );
    assert_eq!(truth["s3.amazonaws.com DeleteObject"].count, 0);
    assert_eq!(truth["s3.amazonaws.com DeleteObject"].denied, 2);
    let user = &summary.expected["arn:aws:iam::111122223333:user/deployer"];
    assert_eq!(
        user["cloudformation.amazonaws.com DescribeStacks"].count, 1,
        "April is out of range"
    );
    for (arn, calls) in &summary.expected {
        for (key, t) in calls {
            assert_eq!(
                counted[&(arn.clone(), key.clone())],
                (t.count, t.denied),
                "{arn} {key}"
            );
        }
    }
}

#[test]
fn same_seed_writes_identical_bytes_and_org_layout_nests_the_account() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let s = Scenario::from_json(SCENARIO).unwrap();
    generate(&s, a.path()).unwrap();
    generate(&s, b.path()).unwrap();
    let fa = files_under(a.path());
    assert_eq!(fa, files_under(b.path()));
    for f in &fa {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap()
        );
    }

    let mut org = s.clone();
    org.organization_id = Some("o-a1b2c3d4e5".to_string());
    let c = tempfile::tempdir().unwrap();
    generate(&org, c.path()).unwrap();
    assert!(
        files_under(c.path())
            .iter()
            .all(|f| f.starts_with("AWSLogs/o-a1b2c3d4e5/111122223333/"))
    );
}

#[test]
fn schedules_land_where_expected() {
    let start = 1_740_787_200; // 2025-03-01
    let day = 86_400;
    let mut rng = Rng::new(3);
    let daily = occurrences(&Schedule::Daily, start, start + 10 * day, &mut rng);
    assert_eq!(daily.len(), 10);
    assert!(daily.windows(2).all(|w| w[1] > w[0]));
    let monthly = occurrences(&Schedule::Monthly, start, start + 200 * day, &mut rng);
    assert!((6..=7).contains(&monthly.len()), "{}", monthly.len());
    let rare = occurrences(&Schedule::TwiceAYear, start, start + 365 * day, &mut rng);
    assert!((2..=3).contains(&rare.len()));
    let once = occurrences(&Schedule::Once, start, start + day, &mut rng);
    assert_eq!(once.len(), 1);
    assert!((start..start + day).contains(&once[0]));
}

/// Every record the generator writes for its own scenarios (both bundled examples and the large
/// corpus, whose palette holds every call it builds, with the AWS-service `AssumeRole`
/// records) carries the `readOnly` flag keycard's coverage model gives the actions keycard maps
/// it to: read-only only when no action is a write for keycard, a write only when one is.
/// Where keycard's flag is uncertain, the IAM catalog's access level decides.
#[test]
fn read_only_agrees_with_keycard_for_every_event_written() {
    use keycard_core::catalog::{AccessLevel, Catalog};
    use keycard_core::cloudtrail::record::Record;
    use keycard_core::cloudtrail::{Resolved, resolve_record};
    use keycard_core::coverage::{ReadOnlyFlag, read_only_flag};

    let reads = |action: &str| match read_only_flag(action) {
        ReadOnlyFlag::ReadOnly => true,
        ReadOnlyFlag::Write => false,
        ReadOnlyFlag::Uncertain(_) => matches!(
            Catalog::embedded().access_level(action),
            Some(AccessLevel::List | AccessLevel::Read)
        ),
    };
    let mut scenarios: Vec<Scenario> = corpus::EXAMPLE_SCENARIOS
        .iter()
        .map(|(name, _)| example_scenario(name).unwrap())
        .collect();
    scenarios.push(large_scenario(&LargeOptions {
        events: 3_000,
        roles: 12,
        days: 2,
        ..LargeOptions::default()
    }));
    // event → readOnly written, over every scenario.
    let mut seen: BTreeMap<String, bool> = BTreeMap::new();
    for (i, s) in scenarios.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let summary = generate(s, dir.path()).unwrap();
        let broken: Vec<&str> = summary
            .malformed_files
            .iter()
            .map(|(p, _)| p.as_str())
            .collect();
        for f in files_under(dir.path()) {
            if !f.contains("/CloudTrail/") || broken.contains(&f.as_str()) {
                continue;
            }
            for r in records(&dir.path().join(&f)) {
                let written = r["readOnly"].as_bool().unwrap();
                let text = r.to_string();
                let rec: Record<'_> = serde_json::from_str(&text).unwrap();
                let key = format!("{} {}", r["eventSource"], r["eventName"]);
                let expected = match resolve_record(&rec).0 {
                    Resolved::Actions(actions) => {
                        !actions.is_empty() && actions.keys().all(|a| reads(a))
                    }
                    // No action keycard could judge: written as a write.
                    Resolved::NoPermission | Resolved::Unmapped(_) => false,
                };
                assert_eq!(written, expected, "scenario {i}: {key}: {r}");
                if let Some(before) = seen.insert(key.clone(), written) {
                    assert_eq!(before, written, "{key} written both ways");
                }
            }
        }
    }
    // The calls whose flag the old rule of thumb on eventName got wrong, and the large
    // palette's, are all there.
    for (event, read_only) in [
        (r#""sqs.amazonaws.com" "ReceiveMessage""#, true),
        (r#""sts.amazonaws.com" "AssumeRole""#, false),
        (r#""kms.amazonaws.com" "Decrypt""#, false),
        (r#""dynamodb.amazonaws.com" "GetItem""#, true),
        (r#""s3.amazonaws.com" "ListObjectsV2""#, true),
        (r#""s3.amazonaws.com" "PutObject""#, false),
        (r#""ssm.amazonaws.com" "GetParameter""#, true),
        (r#""lambda.amazonaws.com" "Invoke""#, false),
    ] {
        assert_eq!(seen.get(event), Some(&read_only), "{event}: {seen:?}");
    }
}
