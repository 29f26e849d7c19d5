//! Trail profiles: what the trail that wrote the corpus was configured to record.
//!
//! A real trail rarely records everything: a trail created with default settings logs
//! management events only, some log write-only management events, data events for a few
//! buckets, one region, exclude KMS, or simply miss a month of delivery. The generator decides
//! what each principal really did first (the ground truth, the same under every profile) and
//! then writes only the records the profile's trail would have delivered, so tests can check
//! that keycard never removes an action the evidence could not see.
//!
//! Scenario JSON: `"trail": {"profile": "management_only"}`, with the profile's parameters
//! beside `profile` and, for any profile, `"gaps": [{"start": …, "end": …}]`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// CloudTrail's global service events: recorded in us-east-1 and delivered only to trails
/// that include global service events.
/// <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-concepts.html#cloudtrail-concepts-global-service-events>
pub const GLOBAL_SERVICE_SOURCES: [&str; 4] = [
    "iam.amazonaws.com",
    "sts.amazonaws.com",
    "cloudfront.amazonaws.com",
    "signin.amazonaws.com",
];

/// The event sources a trail can exclude from its management events
/// (`ExcludeManagementEventSources`; the documented values are these two).
/// <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-management-events-with-cloudtrail.html>
pub const EXCLUDABLE_MANAGEMENT_SOURCES: [&str; 2] = ["kms.amazonaws.com", "rdsdata.amazonaws.com"];

/// The trail's configuration and delivery gaps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrailSpec {
    #[serde(flatten)]
    pub profile: TrailProfile,
    /// Time ranges in which no log file is delivered (and no event that happened in them is
    /// written), whatever the profile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<DeliveryGap>,
}

/// What the trail records. `All` is the generator's historical behaviour (every management
/// and data event in every region) and the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "profile", rename_all = "snake_case", deny_unknown_fields)]
pub enum TrailProfile {
    /// Every management and data event, every region, global service events included.
    #[default]
    All,
    /// A trail created with default settings: management events, read and write, no data
    /// events.
    ManagementOnly,
    /// Management events with `ReadWriteType: WriteOnly`: only `readOnly: false` management
    /// events, no data events.
    WriteOnly,
    /// Management events plus S3 object data events (`AWS::S3::Object`) for these buckets
    /// only; no other data event type.
    DataEventsSomeBuckets { buckets: Vec<String> },
    /// A single-region trail: only events whose `awsRegion` is `region` (default: the
    /// scenario's first region), management and data; global service events only when
    /// `include_global_service_events` (default true).
    SingleRegion {
        #[serde(default)]
        region: Option<String>,
        #[serde(default = "yes")]
        include_global_service_events: bool,
    },
    /// Management events without the excluded sources (`ExcludeManagementEventSources`;
    /// default `["kms.amazonaws.com"]`, `rdsdata.amazonaws.com` may be added); no data events.
    KmsExcluded {
        #[serde(default = "default_excluded")]
        exclude_management_event_sources: Vec<String>,
    },
}

fn yes() -> bool {
    true
}

fn default_excluded() -> Vec<String> {
    vec!["kms.amazonaws.com".to_string()]
}

/// A time range with no log file delivered: `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryGap {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// How the generator decides whether a call is a data event when the scenario does not say
/// (`calls[].data_event`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// tracegen's original rule of thumb (S3 object calls, Lambda `Invoke*`, DynamoDB item
    /// calls), and `resources` only as the scenario writes them. The default, so that the
    /// committed corpora (examples/*/cloudtrail) and every test corpus reproduce byte for
    /// byte; it misses documented data events such as SNS `Publish`, SQS and CloudWatch
    /// `PutMetricData`.
    #[default]
    Heuristic,
    /// `data/cloudtrail-data-events.json` decides, and a data event whose call has no
    /// `resources` gets the documented ones (S3 object and bucket, DynamoDB table, Lambda
    /// function, SNS topic, SQS queue) from its request parameters. Use this with any
    /// profile other than `all`.
    Documented,
}

impl Classification {
    fn is_default(&self) -> bool {
        *self == Classification::Heuristic
    }
}

pub(crate) fn is_default_classification(c: &Classification) -> bool {
    c.is_default()
}

impl TrailSpec {
    pub(crate) fn is_default(&self) -> bool {
        *self == TrailSpec::default()
    }

    /// A trail with this profile and no gaps.
    pub fn with_profile(profile: TrailProfile) -> TrailSpec {
        TrailSpec {
            profile,
            gaps: Vec::new(),
        }
    }

    /// Whether a log file covering events from `interval_start` and delivered at `delivered`
    /// (Unix seconds) falls in a gap and is not written.
    pub(crate) fn file_in_gap(&self, interval_start: i64, delivered: i64) -> bool {
        self.gaps
            .iter()
            .any(|g| interval_start < g.end.timestamp() && delivered >= g.start.timestamp())
    }

    /// Checks the parameters against the scenario's regions.
    pub(crate) fn validate(&self, regions: &[String]) -> Result<(), String> {
        for g in &self.gaps {
            if g.end <= g.start {
                return Err(format!("trail gap {} .. {} is empty", g.start, g.end));
            }
        }
        match &self.profile {
            TrailProfile::DataEventsSomeBuckets { buckets } if buckets.is_empty() => {
                Err("data_events_some_buckets needs at least one bucket".to_string())
            }
            TrailProfile::SingleRegion {
                region: Some(r), ..
            } if !regions.contains(r) => Err(format!("trail region {r} is not in regions")),
            TrailProfile::KmsExcluded {
                exclude_management_event_sources: s,
            } => {
                if s.is_empty() {
                    return Err("kms_excluded needs at least one excluded source".to_string());
                }
                match s
                    .iter()
                    .find(|x| !EXCLUDABLE_MANAGEMENT_SOURCES.contains(&x.as_str()))
                {
                    Some(x) => Err(format!(
                        "{x} cannot be excluded from management events (only {})",
                        EXCLUDABLE_MANAGEMENT_SOURCES.join(", ")
                    )),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

/// What the profile looks at in one record.
pub(crate) struct EventFacts<'a> {
    pub data: bool,
    pub read_only: bool,
    pub event_source: &'a str,
    pub region: &'a str,
    /// An S3 call CloudTrail lists under `AWS::S3::Object` (and a data event).
    pub s3_object: bool,
    /// `requestParameters.bucketName` of an S3 call.
    pub bucket: Option<&'a str>,
}

impl TrailProfile {
    /// Whether a trail with this profile delivers the record. `home_region` is the region a
    /// single-region trail defaults to (the scenario's first).
    pub(crate) fn records(&self, e: &EventFacts<'_>, home_region: &str) -> bool {
        match self {
            TrailProfile::All => true,
            TrailProfile::ManagementOnly => !e.data,
            TrailProfile::WriteOnly => !e.data && !e.read_only,
            TrailProfile::DataEventsSomeBuckets { buckets } => {
                !e.data || (e.s3_object && e.bucket.is_some_and(|b| buckets.iter().any(|x| x == b)))
            }
            TrailProfile::SingleRegion {
                region,
                include_global_service_events,
            } => {
                let home = region.as_deref().unwrap_or(home_region);
                e.region == home
                    && (*include_global_service_events
                        || !GLOBAL_SERVICE_SOURCES.contains(&e.event_source))
            }
            TrailProfile::KmsExcluded {
                exclude_management_event_sources,
            } => {
                !e.data
                    && !exclude_management_event_sources
                        .iter()
                        .any(|s| s == e.event_source)
            }
        }
    }

    /// Whether deciding needs the data event table (to tell S3 object calls apart).
    pub(crate) fn needs_table(&self) -> bool {
        matches!(self, TrailProfile::DataEventsSomeBuckets { .. })
    }

    /// The profile's name as written in the scenario (`management_only`, …).
    pub fn name(&self) -> &'static str {
        match self {
            TrailProfile::All => "all",
            TrailProfile::ManagementOnly => "management_only",
            TrailProfile::WriteOnly => "write_only",
            TrailProfile::DataEventsSomeBuckets { .. } => "data_events_some_buckets",
            TrailProfile::SingleRegion { .. } => "single_region",
            TrailProfile::KmsExcluded { .. } => "kms_excluded",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_from_scenario_json() {
        let t: TrailSpec = serde_json::from_str(r#"{"profile": "management_only"}"#).unwrap();
        assert_eq!(t.profile, TrailProfile::ManagementOnly);
        let t: TrailSpec = serde_json::from_str(
            r#"{"profile": "data_events_some_buckets", "buckets": ["a"],
                "gaps": [{"start": "2026-06-01T00:00:00Z", "end": "2026-07-01T00:00:00Z"}]}"#,
        )
        .unwrap();
        assert_eq!(
            t.profile,
            TrailProfile::DataEventsSomeBuckets {
                buckets: vec!["a".to_string()]
            }
        );
        assert_eq!(t.gaps.len(), 1);
        let t: TrailSpec = serde_json::from_str(r#"{"profile": "single_region"}"#).unwrap();
        assert_eq!(
            t.profile,
            TrailProfile::SingleRegion {
                region: None,
                include_global_service_events: true
            }
        );
        let t: TrailSpec = serde_json::from_str(r#"{"profile": "kms_excluded"}"#).unwrap();
        assert_eq!(
            t.profile,
            TrailProfile::KmsExcluded {
                exclude_management_event_sources: vec!["kms.amazonaws.com".to_string()]
            }
        );
        // Round trip.
        let back: TrailSpec = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn typos_and_bad_parameters_are_rejected() {
        for bad in [
            r#"{"profile": "managment_only"}"#,
            r#"{"profile": "single_region", "regoin": "eu-west-1"}"#,
            r#"{"profile": "data_events_some_buckets"}"#,
        ] {
            assert!(serde_json::from_str::<TrailSpec>(bad).is_err(), "{bad}");
        }
        let regions = vec!["eu-west-1".to_string()];
        for bad in [
            r#"{"profile": "data_events_some_buckets", "buckets": []}"#,
            r#"{"profile": "single_region", "region": "us-east-1"}"#,
            r#"{"profile": "kms_excluded", "exclude_management_event_sources": ["s3.amazonaws.com"]}"#,
            r#"{"profile": "all", "gaps": [{"start": "2026-06-01T00:00:00Z", "end": "2026-06-01T00:00:00Z"}]}"#,
        ] {
            let t: TrailSpec = serde_json::from_str(bad).unwrap();
            assert!(t.validate(&regions).is_err(), "{bad}");
        }
    }
}
