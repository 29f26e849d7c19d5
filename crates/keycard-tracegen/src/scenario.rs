//! The scenario file: who calls what, how often, over which dates.
//!
//! The format is JSON (documented with a full example in the crate README). Every field that
//! has a sensible default may be left out, so a scenario for a test is a dozen lines.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::TracegenError;
use crate::trail::{Classification, TrailSpec, is_default_classification};

/// A whole synthetic account's CloudTrail history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seed of every random choice (times within a period, IDs, file-name suffixes).
    #[serde(default)]
    pub seed: u64,
    /// The 12-digit account the trail belongs to.
    pub account: String,
    /// Regions the trail delivers for; calls default to the first one.
    #[serde(default = "default_regions")]
    pub regions: Vec<String>,
    /// When set (`o-` followed by 10–32 characters), files use the organization-trail layout
    /// `AWSLogs/<org-id>/<account>/CloudTrail/…`.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// First instant covered (inclusive).
    pub start: DateTime<Utc>,
    /// Last instant covered (exclusive).
    pub end: DateTime<Utc>,
    /// Minutes of events per log file (CloudTrail delivers roughly every 5 minutes; larger
    /// values give fewer, bigger files).
    #[serde(default = "default_interval")]
    pub file_interval_minutes: u32,
    /// Write a digest file per region and hour under `CloudTrail-Digest/`.
    #[serde(default = "yes")]
    pub digests: bool,
    /// Name of the trail (appears in digest file names).
    #[serde(default = "default_trail")]
    pub trail_name: String,
    /// Bucket name written into digest files.
    #[serde(default)]
    pub bucket: Option<String>,
    pub principals: Vec<PrincipalSpec>,
    /// Broken files to add: each is a damaged copy of a generated file, so the events it still
    /// holds are duplicates and a reader that deduplicates on eventID counts the same totals.
    #[serde(default)]
    pub malformed: MalformedSpec,
    /// What the trail records (profile and delivery gaps); default: everything.
    #[serde(default, skip_serializing_if = "TrailSpec::is_default")]
    pub trail: TrailSpec,
    /// How calls without `data_event` are classified; default: the original heuristic.
    #[serde(default, skip_serializing_if = "is_default_classification")]
    pub classification: Classification,
}

fn default_regions() -> Vec<String> {
    vec!["us-east-1".to_string()]
}
fn default_interval() -> u32 {
    60
}
fn yes() -> bool {
    true
}
fn default_trail() -> String {
    "management-events".to_string()
}

/// One IAM role (seen as AssumedRole sessions) or IAM user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalSpec {
    /// Role or user name (without path).
    pub name: String,
    #[serde(default)]
    pub kind: PrincipalKind,
    /// IAM path, e.g. `/service-role/`; defaults to `/`.
    #[serde(default = "default_path")]
    pub path: String,
    /// Role session name; defaults to the role name (what Lambda uses is the function name).
    #[serde(default)]
    pub session_name: Option<String>,
    /// userAgent of the calls; defaults to an AWS SDK for Rust on Lambda.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// An AWS service principal (e.g. `lambda.amazonaws.com`) that assumes this role once a
    /// day: written as AWSService `sts:AssumeRole` records with the role in `resources[]`,
    /// which must not count as the role's own use.
    #[serde(default)]
    pub assumed_by: Option<String>,
    pub calls: Vec<CallSpec>,
}

fn default_path() -> String {
    "/".to_string()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    #[default]
    Role,
    User,
}

/// One API call a principal makes on a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    /// e.g. `dynamodb.amazonaws.com`.
    pub event_source: String,
    /// e.g. `GetItem`, `Invoke`, `UpdateFunctionConfiguration20150331v2`.
    pub event_name: String,
    pub schedule: Schedule,
    /// Events per occurrence (a burst of calls a few seconds apart).
    #[serde(default = "one")]
    pub count: u32,
    /// Region of the call; defaults to the scenario's first region.
    #[serde(default)]
    pub region: Option<String>,
    /// `requestParameters`, written verbatim (null when absent).
    #[serde(default)]
    pub request_parameters: Option<Value>,
    /// `responseElements`, written verbatim (null when absent).
    #[serde(default)]
    pub response_elements: Option<Value>,
    /// `resources[]` entries (`{"accountId", "type", "ARN"}`), written verbatim.
    #[serde(default)]
    pub resources: Option<Value>,
    /// Makes every occurrence a failed call with this errorCode (e.g. `AccessDenied`).
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    /// Data event (eventCategory `Data`, managementEvent false). Defaults by a heuristic: S3
    /// object calls, Lambda Invoke, DynamoDB item calls.
    #[serde(default)]
    pub data_event: Option<bool>,
}

fn one() -> u32 {
    1
}

/// How often a call happens between `start` and `end`. Each call gets its own random offset
/// within the period, so two daily calls do not happen at the same minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    Hourly,
    Daily,
    Weekly,
    Monthly,
    /// Every ~182 days (a rare action: the reason keycard keeps a ledger).
    TwiceAYear,
    /// Once, at a random time in the range.
    Once,
    /// Every N minutes.
    EveryMinutes(u32),
    /// At exactly these instants (those outside the range are dropped).
    At(Vec<DateTime<Utc>>),
}

/// Broken files to add; see [`Scenario::malformed`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MalformedSpec {
    /// gzip streams cut in half.
    #[serde(default)]
    pub truncated: u32,
    /// Valid gzip whose JSON stops mid-record.
    #[serde(default)]
    pub invalid_json: u32,
    /// Exact copies under another name (duplicate delivery, e.g. two trails).
    #[serde(default)]
    pub duplicates: u32,
}

impl Scenario {
    /// Parses and validates a scenario file's text.
    pub fn from_json(text: &str) -> Result<Scenario, TracegenError> {
        let scenario: Scenario =
            serde_json::from_str(text).map_err(|e| TracegenError::Scenario(e.to_string()))?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Checks what serde cannot: account and org-id shapes, a non-empty range, known regions.
    pub fn validate(&self) -> Result<(), TracegenError> {
        let bad = |m: String| Err(TracegenError::Scenario(m));
        if self.account.len() != 12 || !self.account.bytes().all(|b| b.is_ascii_digit()) {
            return bad(format!("account {:?} is not a 12-digit id", self.account));
        }
        if let Some(org) = &self.organization_id {
            let ok = org.starts_with("o-")
                && (12..=34).contains(&org.len())
                && org[2..]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !ok {
                return bad(format!("organization_id {org:?} is not like o-a1b2c3d4e5"));
            }
        }
        if self.end <= self.start {
            return bad("end must be after start".to_string());
        }
        if self.regions.is_empty() {
            return bad("regions must not be empty".to_string());
        }
        if self.file_interval_minutes == 0 || self.file_interval_minutes > 24 * 60 {
            return bad("file_interval_minutes must be 1..=1440".to_string());
        }
        self.trail
            .validate(&self.regions)
            .map_err(TracegenError::Scenario)?;
        for p in &self.principals {
            if p.name.is_empty() || p.name.contains('/') {
                return bad(format!("principal name {:?} must be a bare name", p.name));
            }
            if !p.path.starts_with('/') || !p.path.ends_with('/') {
                return bad(format!("path {:?} must start and end with /", p.path));
            }
            for c in &p.calls {
                if !c.event_source.ends_with(".amazonaws.com") {
                    return bad(format!(
                        "event_source {:?} should look like service.amazonaws.com",
                        c.event_source
                    ));
                }
                if let Some(r) = c.region.as_ref().filter(|r| !self.regions.contains(r)) {
                    return bad(format!("call region {r} is not in regions"));
                }
                if let Schedule::EveryMinutes(0) = c.schedule {
                    return bad("every-minutes must be at least 1".to_string());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{
        "account": "123456789012",
        "start": "2025-01-01T00:00:00Z",
        "end": "2025-01-03T00:00:00Z",
        "principals": [{"name": "app-role", "calls": [
            {"event_source": "s3.amazonaws.com", "event_name": "GetObject", "schedule": "daily"},
            {"event_source": "sqs.amazonaws.com", "event_name": "SendMessage", "schedule": {"every-minutes": 30}}
        ]}]
    }"#;

    #[test]
    fn minimal_scenario_gets_defaults() {
        let s = Scenario::from_json(MINIMAL).unwrap();
        assert_eq!(s.regions, vec!["us-east-1"]);
        assert_eq!(s.file_interval_minutes, 60);
        assert!(s.digests);
        assert_eq!(s.principals[0].path, "/");
        assert_eq!(
            s.principals[0].calls[1].schedule,
            Schedule::EveryMinutes(30)
        );
    }

    #[test]
    fn rejects_bad_shapes() {
        for (from, to) in [
            ("123456789012", "12345"),
            ("\"2025-01-03T00:00:00Z\"", "\"2024-01-03T00:00:00Z\""),
            ("\"daily\"", "\"sometimes\""),
            ("\"name\": \"app-role\"", "\"name\": \"a/b\""),
        ] {
            let text = MINIMAL.replacen(from, to, 1);
            assert!(Scenario::from_json(&text).is_err(), "accepted {to}");
        }
        let org = MINIMAL.replacen(
            "\"account\"",
            "\"organization_id\": \"org-1\", \"account\"",
            1,
        );
        assert!(Scenario::from_json(&org).is_err());
    }
}
