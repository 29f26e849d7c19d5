//! Trail profiles: each profile writes exactly the records its trail would deliver, the ground
//! truth does not depend on the profile, gaps have no files, and output is deterministic.
//! The data/management classification is checked against data/cloudtrail-data-events.json.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use keycard_tracegen::{
    Classification, DeliveryGap, Scenario, Summary, TrailProfile, TrailSpec, example_profiles,
    example_scenario, generate, write_example_corpora,
};

const ACCOUNT: &str = "111122223333";

const SCENARIO: &str = r#"{
    "seed": 5,
    "account": "111122223333",
    "regions": ["us-east-1", "eu-west-1"],
    "start": "2025-03-01T00:00:00Z",
    "end": "2025-03-29T00:00:00Z",
    "file_interval_minutes": 360,
    "classification": "documented",
    "principals": [
        {"name": "app-role", "assumed_by": "lambda.amazonaws.com", "calls": [
            {"event_source": "s3.amazonaws.com", "event_name": "GetObject", "schedule": "daily", "count": 2,
             "request_parameters": {"bucketName": "bucket-a", "key": "in/a.json"}},
            {"event_source": "s3.amazonaws.com", "event_name": "PutObject", "schedule": "daily",
             "region": "eu-west-1", "request_parameters": {"bucketName": "bucket-b", "key": "out/b.json"}},
            {"event_source": "dynamodb.amazonaws.com", "event_name": "GetItem", "schedule": "hourly",
             "request_parameters": {"tableName": "orders"}},
            {"event_source": "sqs.amazonaws.com", "event_name": "SendMessage", "schedule": "daily",
             "request_parameters": {"queueUrl": "https://sqs.us-east-1.amazonaws.com/111122223333/jobs"}},
            {"event_source": "sns.amazonaws.com", "event_name": "Publish", "schedule": "daily",
             "request_parameters": {"topicArn": "arn:aws:sns:us-east-1:111122223333:events"}},
            {"event_source": "lambda.amazonaws.com", "event_name": "Invoke", "schedule": "daily",
             "request_parameters": {"functionName": "worker"}},
            {"event_source": "kms.amazonaws.com", "event_name": "Decrypt", "schedule": "daily"},
            {"event_source": "kms.amazonaws.com", "event_name": "DescribeKey", "schedule": "weekly"},
            {"event_source": "rdsdata.amazonaws.com", "event_name": "ExecuteStatement", "schedule": "daily"},
            {"event_source": "iam.amazonaws.com", "event_name": "GetRole", "schedule": "weekly"},
            {"event_source": "ec2.amazonaws.com", "event_name": "RunInstances", "schedule": "weekly",
             "region": "eu-west-1"},
            {"event_source": "cloudformation.amazonaws.com", "event_name": "DescribeStacks", "schedule": "daily"},
            {"event_source": "s3.amazonaws.com", "event_name": "DeleteObject", "schedule": "weekly",
             "error_code": "AccessDenied", "request_parameters": {"bucketName": "bucket-a", "key": "x"}}
        ]},
        {"name": "deployer", "kind": "user", "calls": [
            {"event_source": "iam.amazonaws.com", "event_name": "CreateRole", "schedule": "once"}
        ]}
    ]
}"#;

fn scenario_with(trail: TrailSpec) -> Scenario {
    let mut s = Scenario::from_json(SCENARIO).unwrap();
    s.trail = trail;
    s.validate().unwrap();
    s
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every record of the log files (no broken copies in these scenarios), as (JSON text, value).
fn records(dir: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for f in files_under(dir) {
        if !f.to_string_lossy().contains("/CloudTrail/") {
            continue;
        }
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        for r in v["Records"].as_array().unwrap() {
            out.push((serde_json::to_string(r).unwrap(), r.clone()));
        }
    }
    out
}

/// data/cloudtrail-data-events.json, read independently of the generator:
/// (eventSource, eventName) → resource types, and the IAM prefixes of incomplete rows.
struct Table {
    by_call: BTreeMap<(String, String), Vec<String>>,
    incomplete_prefixes: BTreeSet<String>,
}

fn table() -> Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/cloudtrail-data-events.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut by_call: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut incomplete_prefixes = BTreeSet::new();
    for row in v["resource_types"].as_array().unwrap() {
        let ty = row["resource_type"].as_str().unwrap().to_string();
        let source = row["event_source"].as_str().unwrap().to_string();
        if let (false, Some(p)) = (row["complete"] != false, row["iam_prefix"].as_str()) {
            incomplete_prefixes.insert(p.to_string());
        }
        for n in row["event_names"].as_array().unwrap() {
            by_call
                .entry((source.clone(), n.as_str().unwrap().to_string()))
                .or_default()
                .push(ty.clone());
        }
    }
    Table {
        by_call,
        incomplete_prefixes,
    }
}

impl Table {
    fn types(&self, source: &str, name: &str) -> &[String] {
        self.by_call
            .get(&(source.to_string(), name.to_string()))
            .map_or(&[], Vec::as_slice)
    }
}

const GLOBAL: [&str; 4] = [
    "iam.amazonaws.com",
    "sts.amazonaws.com",
    "cloudfront.amazonaws.com",
    "signin.amazonaws.com",
];

/// The test's own reading of what a trail with `profile` delivers.
fn allowed(profile: &TrailProfile, r: &Value, t: &Table) -> bool {
    let data = r["eventCategory"] == "Data";
    let source = r["eventSource"].as_str().unwrap();
    let name = r["eventName"].as_str().unwrap();
    let read_only = r["readOnly"].as_bool().unwrap();
    match profile {
        TrailProfile::All => true,
        TrailProfile::ManagementOnly => !data,
        TrailProfile::WriteOnly => !data && !read_only,
        TrailProfile::DataEventsSomeBuckets { buckets } => {
            !data
                || (t.types(source, name).iter().any(|x| x == "AWS::S3::Object")
                    && buckets
                        .iter()
                        .any(|b| r["requestParameters"]["bucketName"] == b.as_str()))
        }
        TrailProfile::SingleRegion {
            region,
            include_global_service_events,
        } => {
            r["awsRegion"] == region.as_deref().unwrap_or("us-east-1")
                && (*include_global_service_events || !GLOBAL.contains(&source))
        }
        TrailProfile::KmsExcluded {
            exclude_management_event_sources,
        } => !data && !exclude_management_event_sources.iter().any(|s| s == source),
    }
}

fn principal_of(r: &Value) -> Option<String> {
    let ui = &r["userIdentity"];
    match ui["type"].as_str()? {
        "AssumedRole" => Some(
            ui["sessionContext"]["sessionIssuer"]["arn"]
                .as_str()?
                .to_string(),
        ),
        "IAMUser" => Some(ui["arn"].as_str()?.to_string()),
        _ => None,
    }
}

/// Checks the fields that say what a record is, and returns principal → call → (ok, denied).
fn check_shape(
    recs: &[(String, Value)],
    s: &Scenario,
    t: &Table,
) -> BTreeMap<String, BTreeMap<String, (u64, u64)>> {
    let mut counted: BTreeMap<String, BTreeMap<String, (u64, u64)>> = BTreeMap::new();
    for (_, r) in recs {
        let cat = r["eventCategory"].as_str().unwrap();
        assert!(cat == "Management" || cat == "Data", "{r}");
        assert_eq!(r["managementEvent"], cat == "Management", "{r}");
        assert!(r["readOnly"].is_boolean(), "{r}");
        assert_eq!(r["recipientAccountId"], ACCOUNT);
        assert!(
            s.regions.iter().any(|x| r["awsRegion"] == x.as_str()),
            "{r}"
        );
        let source = r["eventSource"].as_str().unwrap();
        let name = r["eventName"].as_str().unwrap();
        // Documented classification: Data exactly when the table lists the call.
        assert_eq!(
            cat == "Data",
            !t.types(source, name).is_empty(),
            "{source} {name}"
        );
        if cat == "Data" {
            let types: Vec<&str> = r["resources"]
                .as_array()
                .unwrap_or_else(|| panic!("data event without resources: {r}"))
                .iter()
                .map(|x| x["type"].as_str().unwrap())
                .collect();
            assert!(
                types
                    .iter()
                    .any(|ty| t.types(source, name).iter().any(|d| d == ty)),
                "{source} {name}: {types:?} has no documented type"
            );
            if types.contains(&"AWS::S3::Object") {
                let bucket = r["requestParameters"]["bucketName"].as_str().unwrap();
                let key = r["requestParameters"]["key"].as_str().unwrap();
                assert_eq!(
                    r["resources"][0]["ARN"],
                    format!("arn:aws:s3:::{bucket}/{key}")
                );
            }
        }
        if let Some(p) = principal_of(r) {
            let e = counted
                .entry(p)
                .or_default()
                .entry(format!("{source} {name}"))
                .or_default();
            if r.get("errorCode").is_some() {
                e.1 += 1;
            } else {
                e.0 += 1;
            }
        }
    }
    counted
}

fn written_counts(summary: &Summary) -> BTreeMap<String, BTreeMap<String, (u64, u64)>> {
    summary
        .written
        .iter()
        .map(|(p, calls)| {
            (
                p.clone(),
                calls
                    .iter()
                    .map(|(k, t)| (k.clone(), (t.count, t.denied)))
                    .collect(),
            )
        })
        .collect()
}

fn profiles() -> Vec<TrailProfile> {
    vec![
        TrailProfile::All,
        TrailProfile::ManagementOnly,
        TrailProfile::WriteOnly,
        TrailProfile::DataEventsSomeBuckets {
            buckets: vec!["bucket-a".to_string()],
        },
        TrailProfile::SingleRegion {
            region: Some("eu-west-1".to_string()),
            include_global_service_events: true,
        },
        TrailProfile::SingleRegion {
            region: None,
            include_global_service_events: false,
        },
        TrailProfile::SingleRegion {
            region: None,
            include_global_service_events: true,
        },
        TrailProfile::KmsExcluded {
            exclude_management_event_sources: vec!["kms.amazonaws.com".to_string()],
        },
        TrailProfile::KmsExcluded {
            exclude_management_event_sources: vec![
                "kms.amazonaws.com".to_string(),
                "rdsdata.amazonaws.com".to_string(),
            ],
        },
    ]
}

#[test]
fn each_profile_writes_exactly_what_its_trail_delivers() {
    let t = table();
    let all_dir = tempfile::tempdir().unwrap();
    let all_summary = generate(&scenario_with(TrailSpec::default()), all_dir.path()).unwrap();
    let all_records = records(all_dir.path());
    assert_eq!(all_summary.expected, all_summary.written);
    assert_eq!(all_summary.unwritten_events, 0);

    for profile in profiles() {
        // Given a trail with this profile
        let s = scenario_with(TrailSpec::with_profile(profile.clone()));
        let dir = tempfile::tempdir().unwrap();
        // When the generator writes the scenario
        let summary = generate(&s, dir.path()).unwrap();
        let recs = records(dir.path());
        let name = format!("{profile:?}");

        // Then the ground truth is the same as under `all`
        assert_eq!(summary.expected, all_summary.expected, "{name}");
        // and the files hold exactly the records of `all` the profile allows, byte for byte
        let want: BTreeSet<&str> = all_records
            .iter()
            .filter(|(_, r)| allowed(&profile, r, &t))
            .map(|(text, _)| text.as_str())
            .collect();
        let got: BTreeSet<&str> = recs.iter().map(|(text, _)| text.as_str()).collect();
        assert_eq!(got.len(), recs.len(), "{name}: duplicate records");
        assert_eq!(got, want, "{name}");
        assert!(!recs.is_empty(), "{name}");
        assert_eq!(summary.events, recs.len() as u64, "{name}");
        assert_eq!(
            summary.events + summary.unwritten_events,
            all_summary.events,
            "{name}"
        );
        // with the real fields, and `written` says what the files hold.
        assert_eq!(
            check_shape(&recs, &s, &t),
            written_counts(&summary),
            "{name}"
        );

        let cats: BTreeSet<&str> = recs
            .iter()
            .map(|(_, r)| r["eventCategory"].as_str().unwrap())
            .collect();
        let sources: BTreeSet<&str> = recs
            .iter()
            .map(|(_, r)| r["eventSource"].as_str().unwrap())
            .collect();
        let regions: BTreeSet<&str> = recs
            .iter()
            .map(|(_, r)| r["awsRegion"].as_str().unwrap())
            .collect();
        match &profile {
            TrailProfile::All => {
                assert_eq!(cats, BTreeSet::from(["Data", "Management"]));
                assert_eq!(regions, BTreeSet::from(["eu-west-1", "us-east-1"]));
            }
            TrailProfile::ManagementOnly | TrailProfile::KmsExcluded { .. } => {
                assert_eq!(cats, BTreeSet::from(["Management"]), "{name}")
            }
            TrailProfile::WriteOnly => {
                assert_eq!(cats, BTreeSet::from(["Management"]));
                assert!(recs.iter().all(|(_, r)| r["readOnly"] == false));
                assert!(sources.contains("ec2.amazonaws.com"));
            }
            TrailProfile::DataEventsSomeBuckets { .. } => {
                let data_sources: BTreeSet<&str> = recs
                    .iter()
                    .filter(|(_, r)| r["eventCategory"] == "Data")
                    .map(|(_, r)| r["requestParameters"]["bucketName"].as_str().unwrap())
                    .collect();
                assert_eq!(data_sources, BTreeSet::from(["bucket-a"]));
            }
            TrailProfile::SingleRegion {
                region,
                include_global_service_events,
            } => {
                assert_eq!(regions.len(), 1);
                assert_eq!(
                    regions.contains("eu-west-1"),
                    region.as_deref() == Some("eu-west-1")
                );
                // The scenario's IAM calls are in us-east-1, where global service events are
                // recorded: only a us-east-1 trail that includes them sees them.
                assert_eq!(
                    sources.contains("iam.amazonaws.com"),
                    *include_global_service_events && region.is_none(),
                    "{name}"
                );
            }
        }
        if let TrailProfile::KmsExcluded {
            exclude_management_event_sources: ex,
        } = &profile
        {
            assert!(!sources.contains("kms.amazonaws.com"));
            assert_eq!(
                sources.contains("rdsdata.amazonaws.com"),
                !ex.iter().any(|x| x == "rdsdata.amazonaws.com")
            );
        }
        // Whatever a principal did that the trail hides is reported as unseen.
        for (arn, key) in summary.unseen_calls() {
            assert!(summary.expected[&arn][&key].count > 0);
            assert!(
                !recs
                    .iter()
                    .any(|(_, r)| principal_of(r).as_deref() == Some(arn.as_str())
                        && format!(
                            "{} {}",
                            r["eventSource"].as_str().unwrap(),
                            r["eventName"].as_str().unwrap()
                        ) == key
                        && r.get("errorCode").is_none()),
                "{name}: {arn} {key}"
            );
        }
    }
}

#[test]
fn a_delivery_gap_has_no_files_and_no_events() {
    let gap = DeliveryGap {
        start: "2025-03-10T00:00:00Z".parse().unwrap(),
        end: "2025-03-17T00:00:00Z".parse().unwrap(),
    };
    let all_dir = tempfile::tempdir().unwrap();
    let all_summary = generate(&scenario_with(TrailSpec::default()), all_dir.path()).unwrap();
    for profile in [TrailProfile::All, TrailProfile::ManagementOnly] {
        let s = scenario_with(TrailSpec {
            profile: profile.clone(),
            gaps: vec![gap.clone()],
        });
        let dir = tempfile::tempdir().unwrap();
        let summary = generate(&s, dir.path()).unwrap();
        assert_eq!(summary.expected, all_summary.expected);
        assert!(summary.gap_log_files > 0);
        let (start, end) = (gap.start.timestamp(), gap.end.timestamp());
        let mut before = 0;
        let mut after = 0;
        for f in files_under(dir.path()) {
            // …_<YYYYMMDDTHHMM[SS]Z>[_suffix].json.gz: the delivery time in the name.
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let stamp = name
                .trim_end_matches(".json.gz")
                .split('_')
                .find(|p| p.len() >= 14 && p.as_bytes()[8] == b'T' && p.ends_with('Z'))
                .unwrap_or_else(|| panic!("{name}"));
            let fmt = if stamp.len() == 14 {
                "%Y%m%dT%H%MZ"
            } else {
                "%Y%m%dT%H%M%SZ"
            };
            let at = chrono::NaiveDateTime::parse_from_str(stamp, fmt)
                .unwrap()
                .and_utc()
                .timestamp();
            assert!(!(start..end).contains(&at), "{name} delivered in the gap");
            if at < start {
                before += 1;
            } else {
                after += 1;
            }
        }
        assert!(before > 0 && after > 0);
        for (_, r) in records(dir.path()) {
            let at = chrono::DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap())
                .unwrap()
                .timestamp();
            assert!(!(start..end).contains(&at), "{r}");
        }
        // A daily call's events of the gap week are missing from what was written.
        let role = format!("arn:aws:iam::{ACCOUNT}:role/app-role");
        let w = &summary.written[&role];
        let e = &summary.expected[&role];
        assert!(
            w["cloudformation.amazonaws.com DescribeStacks"].count
                < e["cloudformation.amazonaws.com DescribeStacks"].count
        );
    }
}

#[test]
fn same_seed_and_profile_write_identical_bytes() {
    let s = scenario_with(TrailSpec {
        profile: TrailProfile::DataEventsSomeBuckets {
            buckets: vec!["bucket-b".to_string()],
        },
        gaps: vec![DeliveryGap {
            start: "2025-03-05T00:00:00Z".parse().unwrap(),
            end: "2025-03-08T00:00:00Z".parse().unwrap(),
        }],
    });
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    generate(&s, a.path()).unwrap();
    generate(&s, b.path()).unwrap();
    let fa = files_under(a.path());
    let fb = files_under(b.path());
    assert_eq!(fa.len(), fb.len());
    assert!(!fa.is_empty());
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(x.strip_prefix(a.path()), y.strip_prefix(b.path()));
        assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap());
    }
}

#[test]
fn trail_round_trips_through_scenario_json() {
    let s = scenario_with(TrailSpec {
        profile: TrailProfile::SingleRegion {
            region: Some("eu-west-1".to_string()),
            include_global_service_events: false,
        },
        gaps: vec![],
    });
    let text = serde_json::to_string(&s).unwrap();
    assert!(
        text.contains(r#""trail":{"profile":"single_region""#),
        "{text}"
    );
    assert_eq!(Scenario::from_json(&text).unwrap(), s);
    // The default trail and classification are not written, so printed scenarios are unchanged.
    let plain = Scenario {
        trail: TrailSpec::default(),
        classification: Classification::Heuristic,
        ..s
    };
    let text = serde_json::to_string(&plain).unwrap();
    assert!(!text.contains("\"trail\"") && !text.contains("\"classification\""));
}

/// The rule for generators: what they encode is checked against the documented source. Every
/// call of the bundled examples is classified against data/cloudtrail-data-events.json.
#[test]
fn bundled_scenarios_classify_calls_as_the_data_event_table_does() {
    let t = table();
    let mut heuristic_differs = BTreeSet::new();
    for example in ["orders-app", "ingest-pipeline"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples")
            .join(example)
            .join("scenario.json");
        let committed = Scenario::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(
            committed.classification,
            Classification::Documented,
            "{example}: the committed corpus follows the documented table"
        );
        let documented = example_scenario(example).unwrap();
        assert_eq!(documented.classification, Classification::Documented);

        // Generate the documented variant and read back each call's category.
        let dir = tempfile::tempdir().unwrap();
        generate(&documented, dir.path()).unwrap();
        let mut category: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for (_, r) in records(dir.path()) {
            category
                .entry((
                    r["eventSource"].as_str().unwrap().to_string(),
                    r["eventName"].as_str().unwrap().to_string(),
                ))
                .or_default()
                .insert(r["eventCategory"].as_str().unwrap().to_string());
        }
        for p in &committed.principals {
            for c in &p.calls {
                let key = (c.event_source.clone(), c.event_name.clone());
                let listed = !t.types(&c.event_source, &c.event_name).is_empty();
                let prefix = c.event_source.trim_end_matches(".amazonaws.com");
                let table_incomplete = t.incomplete_prefixes.contains(prefix);
                // An explicit flag must agree with the table, unless the table does not know
                // the service's data events (a type marked incomplete, e.g. Kinesis streams).
                if let Some(flag) = c.data_event {
                    assert!(
                        flag == listed || (flag && table_incomplete),
                        "{example}: {} {} is data_event {flag}, the table says {listed}",
                        c.event_source,
                        c.event_name
                    );
                }
                let want = if c.data_event.unwrap_or(listed) {
                    "Data"
                } else {
                    "Management"
                };
                assert_eq!(
                    category[&key],
                    BTreeSet::from([want.to_string()]),
                    "{example}: {key:?}"
                );
                // Record where the original heuristic (the committed corpora) differs.
                let committed_data = c.data_event.unwrap_or_else(|| heuristic(c));
                if committed_data != c.data_event.unwrap_or(listed) {
                    heuristic_differs
                        .insert(format!("{example}: {} {}", c.event_source, c.event_name));
                }
            }
        }
    }
    // Where the generator's original rule of thumb would have differed from the documented
    // table (the bundled scenarios now use the documented classification, so their committed
    // corpora follow the table; this pins the list so a new difference is noticed).
    assert_eq!(
        heuristic_differs,
        BTreeSet::from([
            "ingest-pipeline: monitoring.amazonaws.com PutMetricData".to_string(),
            "orders-app: sns.amazonaws.com Publish".to_string(),
        ])
    );
}

/// The generator's original rule of thumb, restated (the default classification).
fn heuristic(c: &keycard_tracegen::CallSpec) -> bool {
    let n = c.event_name.as_str();
    match c.event_source.as_str() {
        "s3.amazonaws.com" => {
            n.contains("Object")
                || matches!(
                    n,
                    "UploadPart" | "CreateMultipartUpload" | "CompleteMultipartUpload"
                )
        }
        "lambda.amazonaws.com" => n.starts_with("Invoke"),
        "dynamodb.amazonaws.com" => matches!(
            n,
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

#[test]
fn example_corpora_cover_every_profile_and_keep_the_truth() {
    let out = tempfile::tempdir().unwrap();
    let corpora = write_example_corpora(out.path()).unwrap();
    for example in ["orders-app", "ingest-pipeline"] {
        let mine: Vec<_> = corpora.iter().filter(|c| c.example == example).collect();
        let variants: Vec<&str> = mine.iter().map(|c| c.variant.as_str()).collect();
        assert_eq!(
            variants,
            [
                "all",
                "management_only",
                "write_only",
                "data_events_some_buckets",
                "single_region",
                "kms_excluded",
                "delivery_gap"
            ]
        );
        assert_eq!(
            example_profiles(&example_scenario(example).unwrap()).len(),
            mine.len()
        );
        let all = mine[0];
        assert!(all.summary.unseen_calls().is_empty());
        for c in &mine {
            assert_eq!(
                c.summary.expected, all.summary.expected,
                "{example}/{}",
                c.variant
            );
            assert!(
                c.cloudtrail.join("AWSLogs").is_dir(),
                "{}",
                c.cloudtrail.display()
            );
            let on_disk: Summary =
                serde_json::from_str(&std::fs::read_to_string(&c.summary_path).unwrap()).unwrap();
            assert_eq!(on_disk.written, c.summary.written);
            assert_eq!(on_disk.trail, c.trail);
            if matches!(
                c.variant.as_str(),
                "management_only" | "write_only" | "kms_excluded"
            ) {
                assert!(
                    !c.summary.unseen_calls().is_empty(),
                    "{example}/{}",
                    c.variant
                );
            }
        }
    }
    // The issue's cases: a default trail hides the data-plane calls roles make every day.
    let unseen = |variant: &str| -> Vec<String> {
        corpora
            .iter()
            .find(|c| c.example == "orders-app" && c.variant == variant)
            .unwrap()
            .summary
            .unseen_calls()
            .into_iter()
            .map(|(_, k)| k)
            .collect()
    };
    let mgmt = unseen("management_only");
    for call in [
        "s3.amazonaws.com GetObject",
        "sqs.amazonaws.com ReceiveMessage",
        "sns.amazonaws.com Publish",
        "dynamodb.amazonaws.com GetItem",
        "lambda.amazonaws.com Invoke",
    ] {
        assert!(mgmt.iter().any(|k| k == call), "{call} in {mgmt:?}");
    }
    // The May delivery gap hides the twice-a-year secret rotation (May 12).
    assert!(
        unseen("delivery_gap")
            .iter()
            .any(|k| k == "secretsmanager.amazonaws.com PutSecretValue")
    );
}
