//! IAM Access Analyzer policy generation output → [`Usage`].
//!
//! Access Analyzer reads the same CloudTrail and answers with a *policy*, not with events: no
//! counts, no times, resources as templates (`arn:${Partition}:s3:::${BucketName}`), some
//! services only at service level, and some activity not at all. This module turns a
//! GetGeneratedPolicy response (the REST API's JSON: `jobDetails` + `generatedPolicyResult`,
//! or the `generatedPolicyResult` object alone) into the usage model, and writes down what the
//! evidence cannot show so later steps never drop it:
//!
//! * every action in the policy is used "at least once somewhere in the window": count 1,
//!   first/last seen = the window's bounds;
//! * resources are kept only when they are concrete ARNs (no `${…}` placeholder, not `*`);
//! * wildcards (`ec2:*`: the service came back at service level only) become `unobservable`
//!   entries (the prefix, or the pattern when narrower);
//! * what Access Analyzer never reports (`iam:PassRole`, not a CloudTrail event; the actions
//!   behind data events) is not activity of the role, so it is not written here: it is
//!   [`crate::coverage::Coverage::access_analyzer`]'s business, applied to every role whose
//!   evidence comes from Access Analyzer. A role with nothing observed in a complete
//!   generation therefore has no activity and is flagged as a removal candidate;
//! * only `isComplete: true` is a complete answer. `false` (AA left actions out) and a missing
//!   `isComplete` (the API model makes it optional) make everything unobservable (`*:*`): an
//!   answer that does not say it is complete cannot justify removing anything;
//! * a result without a usable `cloudTrailProperties` window (the API model requires
//!   `startTime` and `endTime` in it, but `cloudTrailProperties` itself is optional) is not
//!   evidence either: its actions are not recorded (they have no time to carry, and a made-up
//!   one would read as "last seen in 1970"), everything is unobservable (`*:*`);
//! * both cases say why, as an unmapped entry with event source `access-analyzer`, which the
//!   report lists with the role;
//! * a response whose `jobDetails.status` is not `SUCCEEDED` has no result to read;
//! * actions the catalog does not know are reported as unmapped, never invented.
//!
//! Field names and types follow the API model (botocore `accessanalyzer/2019-11-01`:
//! `GetGeneratedPolicyResponse` → `GeneratedPolicyResult` → `GeneratedPolicyProperties` →
//! `CloudTrailProperties`); `tests/fixtures/access-analyzer/service-2.extract.json` holds the
//! shapes.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use crate::catalog::Catalog;
use crate::usage::{ActionUsage, EvidenceSource, PrincipalUsage, UnmappedEvent, Usage, Window};

/// Why a GetGeneratedPolicy document could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessAnalyzerError {
    #[error("Access Analyzer result is not valid JSON: {0}")]
    Json(String),
    /// No result to read: the job has not succeeded, or the response has no
    /// `generatedPolicyResult`.
    #[error("Access Analyzer result has no generatedPolicyResult (job status: {status})")]
    NoResult { status: String },
    #[error("Access Analyzer result names no principal (properties.principalArn)")]
    NoPrincipal,
    #[error("generated policy {index} is not a policy document: {message}")]
    Policy { index: usize, message: String },
}

/// Parses a GetGeneratedPolicy response. `principal` overrides `properties.principalArn`
/// (useful when the stored result lacks it).
pub fn parse_generated_policy(
    text: &str,
    principal: Option<&str>,
) -> Result<Usage, AccessAnalyzerError> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| AccessAnalyzerError::Json(e.to_string()))?;
    // The API sends `generatedPolicyResult` (with `principalArn` only) while a job is still
    // running, and for failed and canceled jobs: only a SUCCEEDED job's result is evidence.
    if let Some(status) = doc.pointer("/jobDetails/status").and_then(Value::as_str)
        && status != "SUCCEEDED"
    {
        return Err(AccessAnalyzerError::NoResult {
            status: status.to_string(),
        });
    }
    let result = match doc.get("generatedPolicyResult") {
        Some(r) => r,
        None if doc.get("generatedPolicies").is_some() || doc.get("properties").is_some() => &doc,
        None => {
            let status = doc
                .pointer("/jobDetails/status")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string();
            return Err(AccessAnalyzerError::NoResult { status });
        }
    };
    let props = result.get("properties");
    let arn = principal
        .map(str::to_string)
        .or_else(|| {
            props
                .and_then(|p| p.get("principalArn"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .filter(|a| !a.is_empty())
        .ok_or(AccessAnalyzerError::NoPrincipal)?;
    let window = window(props.and_then(|p| p.get("cloudTrailProperties")));
    let complete = match props.and_then(|p| p.get("isComplete")) {
        Some(Value::Bool(true)) => Ok(()),
        Some(Value::Bool(false)) => Err(
            "isComplete is false: Access Analyzer left actions out of the generated policy, so \
             it cannot show what is unused; every granted action is kept"
                .to_string(),
        ),
        None | Some(Value::Null) => Err(
            "isComplete is missing: a result that does not say it is complete cannot show what \
             is unused; every granted action is kept"
                .to_string(),
        ),
        Some(other) => Err(format!(
            "isComplete is {other}, not a boolean: the result cannot show what is unused; \
             every granted action is kept"
        )),
    };

    let catalog = Catalog::embedded();
    let mut pu = PrincipalUsage::default();
    pu.sources.insert(EvidenceSource::AccessAnalyzer);
    if let Err(reason) = &complete {
        pu.unobservable.insert("*:*".to_string());
        pu.unmapped.push(note("isComplete", reason.clone()));
    }
    // Without a window the actions have no time to carry: they are not recorded at all.
    let seen = match window {
        Ok(w) => {
            pu.windows.push(w);
            Some((w.start, w.end))
        }
        Err(reason) => {
            pu.unobservable.insert("*:*".to_string());
            pu.unmapped.push(note("cloudTrailProperties", reason));
            None
        }
    };

    let policies = result
        .get("generatedPolicies")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (index, entry) in policies.iter().enumerate() {
        let bad = |message: String| AccessAnalyzerError::Policy { index, message };
        let policy: Value = match entry.get("policy") {
            Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| bad(e.to_string()))?,
            Some(v @ Value::Object(_)) => v.clone(),
            _ => return Err(bad("no policy field".to_string())),
        };
        let statements = match policy.get("Statement") {
            Some(Value::Array(a)) => a.clone(),
            Some(s @ Value::Object(_)) => vec![s.clone()],
            _ => return Err(bad("no Statement".to_string())),
        };
        for st in statements {
            if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
                continue;
            }
            let resources: BTreeSet<String> = strings(st.get("Resource"))
                .into_iter()
                .filter(|r| r != "*" && !r.contains("${") && r.starts_with("arn:"))
                .collect();
            for action in strings(st.get("Action")) {
                if action.contains('*') || action.contains('?') {
                    let entry = match action.split_once(':') {
                        Some((prefix, "*")) => prefix.to_ascii_lowercase(),
                        _ => action.clone(),
                    };
                    pu.unobservable.insert(entry);
                    continue;
                }
                match catalog.action(&action) {
                    Some(a) => {
                        let Some((first, last)) = seen else { continue };
                        let u =
                            pu.actions
                                .entry(a.name().to_string())
                                .or_insert_with(|| ActionUsage {
                                    first_seen: first,
                                    last_seen: last,
                                    count: 1,
                                    resources: BTreeSet::new(),
                                });
                        u.resources.extend(resources.iter().cloned());
                    }
                    None => {
                        let (source, name) = action.split_once(':').unwrap_or(("", &action));
                        pu.unmapped.push(UnmappedEvent {
                            event_source: format!("access-analyzer:{source}"),
                            event_name: name.to_string(),
                            reason: format!("{action} is not in the IAM action catalog"),
                            count: 1,
                        });
                    }
                }
            }
        }
    }
    pu.unmapped.sort();
    pu.unmapped.dedup();
    let mut usage = Usage::default();
    usage.principals.insert(arn, pu);
    Ok(usage)
}

/// The window of `cloudTrailProperties` (both bounds required by the API model), or why
/// there is none.
fn window(ct: Option<&Value>) -> Result<Window, String> {
    const KEPT: &str = "the result is not evidence; every granted action is kept";
    let Some(ct) = ct.filter(|c| !c.is_null()) else {
        return Err(format!(
            "no cloudTrailProperties: the result does not say which CloudTrail window it \
             read, so {KEPT}"
        ));
    };
    let bound = |field: &str| match ct.get(field) {
        None | Some(Value::Null) => Err(format!(
            "cloudTrailProperties.{field} is missing: the window read is unknown, so {KEPT}"
        )),
        Some(v) => time(v).ok_or_else(|| {
            format!("cloudTrailProperties.{field} ({v}) is not a timestamp, so {KEPT}")
        }),
    };
    let (start, end) = (bound("startTime")?, bound("endTime")?);
    if start > end {
        return Err(format!(
            "cloudTrailProperties.startTime {start} is after endTime {end}, so {KEPT}"
        ));
    }
    Ok(Window { start, end })
}

/// Why a result does not count as evidence, as the report lists it (with the role).
fn note(field: &str, reason: String) -> UnmappedEvent {
    UnmappedEvent {
        event_source: "access-analyzer".to_string(),
        event_name: field.to_string(),
        reason,
        count: 1,
    }
}

/// A string or a list of strings (IAM's `Action`/`Resource` spelling).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// RFC 3339 text, or epoch seconds (the CLI and SDKs differ).
fn time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.with_timezone(&Utc)),
        Value::Number(n) => n
            .as_f64()
            .and_then(|f| Utc.timestamp_opt(f as i64, 0).single()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::111122223333:role/service-role/OrdersApiRole";

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/access-analyzer")
            .join(name);
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn generated_policy_becomes_usage() {
        let usage = parse_generated_policy(&fixture("get-generated-policy.json"), None).unwrap();
        let pu = &usage.principals[ROLE];
        let actions: Vec<&str> = pu.actions.keys().map(String::as_str).collect();
        assert_eq!(
            actions,
            vec![
                "dynamodb:DescribeTable",
                "kms:Decrypt",
                "logs:CreateLogStream",
                "s3:GetBucketLocation",
                "s3:ListBucket",
                "sqs:GetQueueAttributes",
            ]
        );
        let w = pu.windows[0];
        assert_eq!(w.start.to_rfc3339(), "2025-03-01T00:00:00+00:00");
        assert_eq!(w.end.to_rfc3339(), "2025-05-30T00:00:00+00:00");
        let kms = &pu.actions["kms:Decrypt"];
        assert_eq!(
            (kms.count, kms.first_seen, kms.last_seen),
            (1, w.start, w.end)
        );
        assert_eq!(
            kms.resources.iter().collect::<Vec<_>>(),
            vec!["arn:aws:kms:us-east-1:111122223333:key/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"],
            "concrete ARNs are kept"
        );
        assert!(
            pu.actions["s3:ListBucket"].resources.is_empty(),
            "templated ARNs (${{BucketName}}) mean *"
        );
        assert!(pu.unobservable.contains("ec2"), "service-level only");
        // What Access Analyzer never reports is its coverage's business, not activity.
        assert!(!pu.unobservable.contains("iam:PassRole"));
        assert!(!pu.unobservable.contains("s3:GetObject"));
        let aa = crate::coverage::Coverage::access_analyzer();
        for never in [
            "iam:PassRole",
            "s3:GetObject",
            "s3:PutObject",
            "lambda:InvokeFunction",
        ] {
            assert!(aa.why_unobservable(never, &[]).is_some(), "{never}");
        }
        assert!(
            aa.why_unobservable(
                "s3:CreateBucket",
                &[crate::coverage::GrantedResource::Arn("*".into())]
            )
            .is_none()
        );
        assert!(!pu.unobservable.contains("*:*"), "complete result");
        assert_eq!(pu.unmapped.len(), 1);
        assert_eq!(pu.unmapped[0].event_name, "DescribeNothing");
        assert_eq!(pu.sources, BTreeSet::from([EvidenceSource::AccessAnalyzer]));
    }

    #[test]
    fn incomplete_results_make_everything_unobservable() {
        let text = fixture("get-generated-policy.json")
            .replace("\"isComplete\": true", "\"isComplete\": false");
        let usage = parse_generated_policy(&text, None).unwrap();
        assert!(usage.principals[ROLE].unobservable.contains("*:*"));
    }

    /// The AWS CLI's documented `get-generated-policy` output, verbatim: `isComplete: false`.
    #[test]
    fn cli_documented_example_is_incomplete_and_says_so() {
        let usage = parse_generated_policy(&fixture("get-generated-policy-cli-example.json"), None)
            .unwrap();
        let pu = &usage.principals["arn:aws:iam::111122223333:role/Admin"];
        assert!(
            pu.unobservable.contains("*:*"),
            "incomplete: everything kept"
        );
        assert_eq!(pu.windows.len(), 1);
        assert_eq!(
            pu.windows[0].start.to_rfc3339(),
            "2024-02-13T00:30:00+00:00"
        );
        assert_eq!(pu.windows[0].end.to_rfc3339(), "2024-02-14T22:44:40+00:00");
        assert!(pu.actions.contains_key("cloudtrail:LookupEvents"));
        assert!(pu.actions.contains_key("iam:GetRole"));
        let notes: Vec<(&str, &str)> = pu
            .unmapped
            .iter()
            .filter(|u| u.event_source == "access-analyzer")
            .map(|u| (u.event_name.as_str(), u.reason.as_str()))
            .collect();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].0, "isComplete");
        assert!(notes[0].1.starts_with("isComplete is false"), "{notes:?}");

        // The same answer marked complete is plain evidence.
        let complete = fixture("get-generated-policy-cli-example.json")
            .replace("\"isComplete\": false", "\"isComplete\": true");
        let usage = parse_generated_policy(&complete, None).unwrap();
        let pu = &usage.principals["arn:aws:iam::111122223333:role/Admin"];
        assert!(!pu.unobservable.contains("*:*"));
        assert!(pu.unmapped.is_empty(), "{:?}", pu.unmapped);
    }

    /// `isComplete` is optional in the API model: missing is not "complete".
    #[test]
    fn missing_is_complete_means_incomplete() {
        let text = fixture("get-generated-policy.json").replace("\"isComplete\": true,", "");
        assert!(!text.contains("isComplete"));
        let usage = parse_generated_policy(&text, None).unwrap();
        let pu = &usage.principals[ROLE];
        assert!(pu.unobservable.contains("*:*"));
        assert!(
            pu.unmapped
                .iter()
                .any(|u| u.event_name == "isComplete" && u.reason.contains("missing")),
            "{:?}",
            pu.unmapped
        );
        // The window is still known, so the actions still count as seen in it.
        assert!(pu.actions.contains_key("kms:Decrypt"));

        let null = fixture("get-generated-policy.json")
            .replace("\"isComplete\": true", "\"isComplete\": null");
        let usage = parse_generated_policy(&null, None).unwrap();
        assert!(usage.principals[ROLE].unobservable.contains("*:*"));
    }

    /// A result without a usable window is not evidence: nothing recorded at 1970, everything
    /// kept, and the reason is given.
    #[test]
    fn windowless_results_are_not_evidence() {
        let original = fixture("get-generated-policy.json");
        let without_ct = {
            let mut doc: Value = serde_json::from_str(&original).unwrap();
            doc["generatedPolicyResult"]["properties"]
                .as_object_mut()
                .unwrap()
                .remove("cloudTrailProperties");
            doc.to_string()
        };
        let cases = [
            (without_ct, "no cloudTrailProperties"),
            (
                original.replace("\"startTime\": \"2025-03-01T00:00:00Z\",", ""),
                "cloudTrailProperties.startTime is missing",
            ),
            (
                original.replace("\"2025-05-30T00:00:00Z\"\n", "\"yesterday\"\n"),
                "cloudTrailProperties.endTime (\"yesterday\") is not a timestamp",
            ),
            (
                original.replace("2025-03-01T00:00:00Z", "2025-06-01T00:00:00Z"),
                "is after endTime",
            ),
        ];
        for (text, why) in cases {
            assert_ne!(text, original, "{why}: the fixture changed");
            let usage = parse_generated_policy(&text, None).unwrap();
            let pu = &usage.principals[ROLE];
            assert!(pu.actions.is_empty(), "{why}: no action without a time");
            assert!(pu.windows.is_empty(), "{why}");
            assert!(pu.unobservable.contains("*:*"), "{why}: everything kept");
            let note = pu
                .unmapped
                .iter()
                .find(|u| u.event_name == "cloudTrailProperties")
                .unwrap_or_else(|| panic!("{why}: no note in {:?}", pu.unmapped));
            assert_eq!(note.event_source, "access-analyzer");
            assert!(note.reason.contains(why), "{why}: {}", note.reason);
            assert!(note.reason.contains("every granted action is kept"));
            let json = serde_json::to_string(&usage).unwrap();
            assert!(!json.contains("1970"), "{why}: {json}");
            // Still what the result can say: service-level entries, unknown actions.
            assert!(pu.unobservable.contains("ec2"));
            assert!(
                pu.unmapped
                    .iter()
                    .any(|u| u.event_name == "DescribeNothing")
            );
        }
    }

    /// While a job runs the API already sends `generatedPolicyResult` (principalArn only, as
    /// `GeneratedPolicyResult.properties` is required): that is no result.
    #[test]
    fn unfinished_jobs_have_no_result() {
        for status in ["IN_PROGRESS", "FAILED", "CANCELED"] {
            let text = format!(
                r#"{{"jobDetails": {{"jobId": "0d5c3a8e-6a1f-4b7e-9f0e-2c4d8b1a7e35", "status": "{status}",
                     "startedOn": "2026-10-01T06:00:06Z"}},
                    "generatedPolicyResult": {{"properties": {{"principalArn": "{ROLE}"}}}}}}"#
            );
            assert_eq!(
                parse_generated_policy(&text, None),
                Err(AccessAnalyzerError::NoResult {
                    status: status.into()
                })
            );
        }
    }

    #[test]
    fn bare_result_principal_override_and_errors() {
        let bare = r#"{"generatedPolicies":[{"policy":"{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"sqs:ListQueues\",\"Resource\":\"*\"}}"}],
                       "properties":{"isComplete":true,"cloudTrailProperties":{"startTime":1740787200,"endTime":1740873600,"trailProperties":[]}}}"#;
        assert_eq!(
            parse_generated_policy(bare, None),
            Err(AccessAnalyzerError::NoPrincipal)
        );
        let usage = parse_generated_policy(bare, Some("arn:aws:iam::1:role/r")).unwrap();
        let pu = &usage.principals["arn:aws:iam::1:role/r"];
        assert!(pu.actions.contains_key("sqs:ListQueues"));
        assert_eq!(pu.windows[0].start.timestamp(), 1_740_787_200);

        let running = r#"{"jobDetails":{"jobId":"j","status":"IN_PROGRESS","startedOn":"2025-05-30T00:00:00Z"}}"#;
        assert_eq!(
            parse_generated_policy(running, None),
            Err(AccessAnalyzerError::NoResult {
                status: "IN_PROGRESS".into()
            })
        );
        assert!(matches!(
            parse_generated_policy("{", None),
            Err(AccessAnalyzerError::Json(_))
        ));
        let broken = r#"{"generatedPolicies":[{"policy":"not json"}],"properties":{"principalArn":"arn:aws:iam::1:role/r"}}"#;
        assert!(matches!(
            parse_generated_policy(broken, None),
            Err(AccessAnalyzerError::Policy { index: 0, .. })
        ));
    }

    /// Access Analyzer evidence and CloudTrail evidence merge into one principal's usage.
    #[test]
    fn merges_with_cloudtrail_usage() {
        let mut aa = parse_generated_policy(&fixture("get-generated-policy.json"), None).unwrap();
        let ct = crate::cloudtrail::scan_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/cloudtrail/tree"),
            &crate::cloudtrail::ScanOptions::default(),
        )
        .unwrap();
        aa.merge(&ct.usage);
        let pu = &aa.principals[ROLE];
        assert!(pu.actions.contains_key("s3:GetObject"), "from CloudTrail");
        assert!(
            pu.actions.contains_key("dynamodb:DescribeTable"),
            "from Access Analyzer"
        );
        assert_eq!(pu.sources.len(), 2);
    }
}
