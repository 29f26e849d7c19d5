//! The trail's own configuration for `keycard propose --stack`: the CLI's counterpart of the
//! state machine's three AWS SDK tasks (DescribeTrails, GetEventSelectors, GetTrailStatus).
//!
//! [`read_trail_config`] returns the same `trailConfig` document those tasks leave for the diff
//! step — `{trail, describeTrails, eventSelectors, trailStatus}`, or `{trail, error: {Error,
//! Cause}}` when the configuration could not be read — so [`with_trail_config`] turns it into
//! coverage for both, with the same rules: a configuration that cannot be read, or a trail that
//! cannot be told apart from others, leaves the coverage as the evidence itself shows it (a note
//! says why), never broader.
//!
//! Which trail: the one named (`--trail`), else the one whose logs are the `--cloudtrail
//! s3://BUCKET/PREFIX` location. CloudTrail delivers a trail's log files under
//! `BUCKET/[S3KeyPrefix/]AWSLogs/[OrganizationId/]AccountId/CloudTrail/Region/…` ("Finding your
//! CloudTrail log files",
//! <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/get-and-view-cloudtrail-log-files.html>),
//! so a trail delivers to the location when the bucket is its `S3BucketName` and the prefix
//! lies on the path to (or below) its `[S3KeyPrefix/]AWSLogs/`.

use keycard_aws::{AwsError, Trails};
use serde_json::{Value, json};

pub use crate::steps::diff::trail_coverage::with_trail_config;

/// Which trail's configuration to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailChoice<'a> {
    /// A trail name or trail ARN (an ARN finds shadow and organization trails too).
    Named(&'a str),
    /// The trail whose log files are under `s3://bucket/prefix`.
    DeliveringTo { bucket: &'a str, prefix: &'a str },
}

impl TrailChoice<'_> {
    fn describe(&self) -> String {
        match self {
            TrailChoice::Named(name) => (*name).to_owned(),
            TrailChoice::DeliveringTo { bucket, prefix } => {
                format!("the trail delivering to s3://{bucket}/{prefix}")
            }
        }
    }
}

/// The `trailConfig` document of the chosen trail (see the module docs). Never fails: every
/// failure is the document's `error`, which the coverage reads as "not known".
pub async fn read_trail_config<T: Trails>(trails: &T, choice: TrailChoice<'_>) -> Value {
    let label = choice.describe();
    let names: Vec<String> = match choice {
        TrailChoice::Named(name) => vec![name.to_owned()],
        TrailChoice::DeliveringTo { .. } => Vec::new(),
    };
    let listed = match trails.describe_trails(&names).await {
        Ok(doc) => doc,
        Err(e) => return failed(&label, &e),
    };
    let candidates: Vec<&Value> = listed
        .get("trailList")
        .and_then(Value::as_array)
        .map(|l| l.iter().collect())
        .unwrap_or_default();
    let mut chosen: Vec<&Value> = candidates
        .iter()
        .copied()
        .filter(|t| match choice {
            TrailChoice::Named(name) => {
                field(t, "TrailARN") == Some(name) || field(t, "Name") == Some(name)
            }
            TrailChoice::DeliveringTo { bucket, prefix } => delivers_to(t, bucket, prefix),
        })
        .collect();
    chosen.sort_by_key(|t| field(t, "TrailARN"));
    chosen.dedup_by_key(|t| field(t, "TrailARN"));
    let trail = match chosen.as_slice() {
        [one] => *one,
        [] => {
            let seen: Vec<&str> = candidates.iter().filter_map(|t| field(t, "Name")).collect();
            return error_doc(
                &label,
                "NoMatchingTrail",
                &format!(
                    "DescribeTrails lists no such trail (trails seen: {})",
                    if seen.is_empty() {
                        "none".to_owned()
                    } else {
                        seen.join(", ")
                    }
                ),
            );
        }
        many => {
            let names: Vec<&str> = many.iter().filter_map(|t| field(t, "TrailARN")).collect();
            return error_doc(
                &label,
                "AmbiguousTrail",
                &format!(
                    "{} trails match ({}); pass --trail to name one",
                    many.len(),
                    names.join(", ")
                ),
            );
        }
    };
    let Some(arn) = field(trail, "TrailARN") else {
        return error_doc(
            &label,
            "NoTrailArn",
            "DescribeTrails gave the trail no TrailARN",
        );
    };
    let selectors = match trails.event_selectors(arn).await {
        Ok(doc) => doc,
        Err(e) => return failed(arn, &e),
    };
    let status = match trails.trail_status(arn).await {
        Ok(doc) => doc,
        Err(e) => return failed(arn, &e),
    };
    json!({
        "trail": arn,
        "describeTrails": {"trailList": [trail]},
        "eventSelectors": selectors,
        "trailStatus": status,
    })
}

fn field<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// Whether the trail's log files are at (or under) `s3://bucket/prefix`.
fn delivers_to(trail: &Value, bucket: &str, prefix: &str) -> bool {
    if field(trail, "S3BucketName") != Some(bucket) {
        return false;
    }
    let root = match field(trail, "S3KeyPrefix").map(|p| p.trim_matches('/')) {
        Some(p) if !p.is_empty() => format!("{p}/AWSLogs/"),
        _ => "AWSLogs/".to_owned(),
    };
    prefix.starts_with(&root) || root.starts_with(prefix)
}

fn failed(label: &str, e: &AwsError) -> Value {
    let code = e.code.clone().unwrap_or_else(|| format!("{:?}", e.kind));
    error_doc(label, &code, &e.to_string())
}

/// The shape of a state machine Catch: `{trail, error: {Error, Cause}}`.
fn error_doc(label: &str, error: &str, cause: &str) -> Value {
    json!({"trail": label, "error": {"Error": error, "Cause": cause}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use keycard_aws::ErrorKind;
    use keycard_core::coverage::{Basis, Coverage};

    const ORG: &str = "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail";
    const DATA: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/data-events";

    /// Trails as DescribeTrails lists them, selectors per trail ARN, and a failure to inject.
    #[derive(Default)]
    struct FakeTrails {
        trails: Vec<Value>,
        selectors: BTreeMap<String, Value>,
        deny: Option<&'static str>,
        calls: Mutex<Vec<String>>,
    }

    fn denied(operation: &'static str) -> AwsError {
        AwsError {
            service: "cloudtrail",
            operation,
            kind: ErrorKind::AccessDenied,
            code: Some("AccessDeniedException".into()),
            status: Some(400),
            message: "User is not authorized to perform: cloudtrail:GetEventSelectors".into(),
        }
    }

    impl Trails for FakeTrails {
        async fn describe_trails(&self, names: &[String]) -> Result<Value, AwsError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("DescribeTrails {names:?}"));
            if self.deny == Some("DescribeTrails") {
                return Err(denied("DescribeTrails"));
            }
            let list: Vec<&Value> = self
                .trails
                .iter()
                .filter(|t| {
                    names.is_empty()
                        || names
                            .iter()
                            .any(|n| field(t, "TrailARN") == Some(n) || field(t, "Name") == Some(n))
                })
                .collect();
            Ok(json!({ "trailList": list }))
        }

        async fn event_selectors(&self, trail_arn: &str) -> Result<Value, AwsError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("GetEventSelectors {trail_arn}"));
            if self.deny == Some("GetEventSelectors") {
                return Err(denied("GetEventSelectors"));
            }
            Ok(self.selectors.get(trail_arn).cloned().unwrap_or_else(|| {
                json!({"TrailARN": trail_arn, "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": true, "DataResources": [], "ExcludeManagementEventSources": []}]})
            }))
        }

        async fn trail_status(&self, trail_arn: &str) -> Result<Value, AwsError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("GetTrailStatus {trail_arn}"));
            Ok(json!({"IsLogging": true, "LatestDeliveryTime": "2026-10-01T05:57:12Z"}))
        }
    }

    fn trail(arn: &str, bucket: &str, prefix: Option<&str>) -> Value {
        let mut t = json!({
            "Name": arn.rsplit('/').next().unwrap(),
            "S3BucketName": bucket,
            "IncludeGlobalServiceEvents": true,
            "IsMultiRegionTrail": true,
            "HomeRegion": "us-east-1",
            "TrailARN": arn,
        });
        if let Some(p) = prefix {
            t["S3KeyPrefix"] = Value::from(p);
        }
        t
    }

    /// An organization trail (a shadow in this member account) and this account's own trail
    /// with S3 data events, each in its own bucket.
    fn account() -> FakeTrails {
        FakeTrails {
            trails: vec![
                trail(ORG, "org-trail-logs", None),
                trail(DATA, "data-event-logs", Some("app")),
            ],
            selectors: BTreeMap::from([(
                DATA.to_owned(),
                json!({"TrailARN": DATA, "AdvancedEventSelectors": [
                    {"Name": "Management events", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
                    {"Name": "S3 data events", "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Data"]},
                        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}
                    ]}
                ]}),
            )]),
            ..FakeTrails::default()
        }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn the_trail_delivering_to_the_scanned_prefix_is_read() {
        let fake = account();
        let doc = rt().block_on(read_trail_config(
            &fake,
            TrailChoice::DeliveringTo {
                bucket: "data-event-logs",
                prefix: "app/AWSLogs/123456789012/CloudTrail/us-east-1/",
            },
        ));
        assert_eq!(doc["trail"], DATA);
        assert_eq!(doc["describeTrails"]["trailList"][0]["TrailARN"], DATA);
        assert_eq!(
            fake.calls.lock().unwrap().as_slice(),
            [
                "DescribeTrails []".to_owned(),
                format!("GetEventSelectors {DATA}"),
                format!("GetTrailStatus {DATA}")
            ]
        );
        // The diff step's reader takes it as the trail's coverage: S3 data events recorded.
        let mut notes = Vec::new();
        let c = with_trail_config(Some(&doc), Coverage::default(), true, &mut notes);
        assert!(matches!(c.basis, Basis::TrailConfig { .. }), "{notes:?}");
        assert!(c.data.contains_key("AWS::S3::Object"));
    }

    #[test]
    fn a_bucket_root_or_an_organization_prefix_matches_too() {
        let t = trail(ORG, "org-trail-logs", None);
        for prefix in ["", "AWSLogs/", "AWSLogs/o-a1b2c3d4e5/123456789012/"] {
            assert!(delivers_to(&t, "org-trail-logs", prefix), "{prefix}");
        }
        assert!(!delivers_to(&t, "org-trail-logs", "elsewhere/AWSLogs/"));
        assert!(!delivers_to(&t, "other-bucket", ""));
        let t = trail(DATA, "data-event-logs", Some("app/"));
        assert!(delivers_to(
            &t,
            "data-event-logs",
            "app/AWSLogs/123456789012/"
        ));
        assert!(delivers_to(&t, "data-event-logs", "ap"));
        assert!(!delivers_to(&t, "data-event-logs", "AWSLogs/"));
    }

    #[test]
    fn a_named_trail_is_asked_for_by_name() {
        let fake = account();
        let doc = rt().block_on(read_trail_config(&fake, TrailChoice::Named(ORG)));
        assert_eq!(doc["trail"], ORG);
        assert_eq!(
            fake.calls.lock().unwrap()[0],
            format!("DescribeTrails [{ORG:?}]")
        );
    }

    #[test]
    fn two_trails_in_one_bucket_are_not_guessed_between() {
        let mut fake = account();
        fake.trails.push(trail(
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/other",
            "data-event-logs",
            Some("other"),
        ));
        let doc = rt().block_on(read_trail_config(
            &fake,
            TrailChoice::DeliveringTo {
                bucket: "data-event-logs",
                prefix: "",
            },
        ));
        assert_eq!(doc["error"]["Error"], "AmbiguousTrail");
        // Coverage stays as the records showed it, with the reason in the notes.
        let mut notes = Vec::new();
        let inferred = Coverage::default();
        let c = with_trail_config(Some(&doc), inferred.clone(), true, &mut notes);
        assert_eq!(c, inferred);
        assert!(notes[0].contains("pass --trail"), "{notes:?}");
    }

    #[test]
    fn no_trail_for_the_location_is_said_so() {
        let fake = account();
        let doc = rt().block_on(read_trail_config(
            &fake,
            TrailChoice::DeliveringTo {
                bucket: "copied-logs",
                prefix: "AWSLogs/",
            },
        ));
        assert_eq!(doc["error"]["Error"], "NoMatchingTrail");
        assert!(
            doc["error"]["Cause"]
                .as_str()
                .unwrap()
                .contains("org-trail, data-events")
        );
    }

    #[test]
    fn a_denied_call_leaves_the_coverage_as_it_was() {
        for operation in ["DescribeTrails", "GetEventSelectors"] {
            let fake = FakeTrails {
                deny: Some(operation),
                ..account()
            };
            let doc = rt().block_on(read_trail_config(&fake, TrailChoice::Named(DATA)));
            assert_eq!(
                doc["error"]["Error"], "AccessDeniedException",
                "{operation}"
            );
            let mut notes = Vec::new();
            // Access Analyzer mode: its own coverage, not narrowed and never widened.
            let aa = Coverage::access_analyzer();
            let c = with_trail_config(Some(&doc), aa.clone(), false, &mut notes);
            assert_eq!(c, aa);
            assert!(notes[0].contains("could not be read"), "{notes:?}");
        }
    }
}
