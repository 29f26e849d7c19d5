//! Where a trail's objects are and which of them a window needs, decided from keys alone.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use keycard_aws::s3::{ObjectInfo, ObjectStore};
use serde::{Deserialize, Serialize};

use crate::contract::StepError;

/// CloudTrail delivers within minutes, but a file of events before `end` can land in the next
/// day's folder; a day of slack keeps late deliveries in.
const DELIVERY_SLACK: Duration = Duration::days(1);
/// A file delivered more than this before the window start holds no event of the window
/// (the same hour of clock slack as `keycard_core::cloudtrail::scan_dir`).
const EARLY_SLACK_SECONDS: i64 = 3600;

/// Where the trail's objects are: `s3://<bucket>/[<prefix>/]AWSLogs/[<o-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrailLocation {
    pub bucket: String,
    /// The trail's S3 key prefix, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Organization trails add the organization id after `AWSLogs/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Accounts to read; empty: every account of the trail.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Regions to read; empty: every region.
    #[serde(default)]
    pub regions: Vec<String>,
    /// The ARN of the trail that delivers here, whose configuration (event selectors, regions,
    /// logging status) the state machine reads to know what the logs can show. Absent: the
    /// stack's `TrailArn` parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trail_arn: Option<String>,
}

impl TrailLocation {
    /// Rejects what cannot be a trail location, so a typo fails the plan instead of listing
    /// nothing for an hour.
    pub fn validate(&self) -> Result<(), StepError> {
        let bad = |m: String| Err(StepError::InvalidInput(m));
        let b = &self.bucket;
        if b.len() < 3
            || b.len() > 63
            || !b
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        {
            return bad(format!("trail.bucket {b:?} is not an S3 bucket name"));
        }
        if let Some(p) = self
            .prefix
            .as_ref()
            .filter(|p| p.contains("//") || p.starts_with('/'))
        {
            return bad(format!("trail.prefix {p:?} is not a key prefix"));
        }
        if let Some(o) = &self.organization_id {
            let rest = o.strip_prefix("o-").unwrap_or_default();
            if !(10..=32).contains(&rest.len())
                || !rest
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            {
                return bad(format!(
                    "trail.organizationId {o:?} is not an organization id"
                ));
            }
        }
        for a in &self.accounts {
            if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) {
                return bad(format!(
                    "trail.accounts: {a:?} is not a 12-digit account id"
                ));
            }
        }
        if let Some(arn) = &self.trail_arn {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let ok = parts.len() == 6
                && parts[0] == "arn"
                && parts[1].starts_with("aws")
                && parts[2] == "cloudtrail"
                && parts[4].len() == 12
                && parts[4].chars().all(|c| c.is_ascii_digit())
                && parts[5]
                    .strip_prefix("trail/")
                    .is_some_and(|n| !n.is_empty());
            if !ok {
                return bad(format!(
                    "trail.trailArn {arn:?} is not a trail ARN (arn:aws:cloudtrail:<region>:<account>:trail/<name>)"
                ));
            }
        }
        for r in &self.regions {
            if r.is_empty()
                || !r
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return bad(format!("trail.regions: {r:?} is not a region name"));
            }
        }
        Ok(())
    }

    /// `[<prefix>/]AWSLogs/[<o-id>/]`: everything the trail delivers is under it.
    pub fn root(&self) -> String {
        let mut s = String::new();
        if let Some(p) = self
            .prefix
            .as_deref()
            .map(|p| p.trim_end_matches('/'))
            .filter(|p| !p.is_empty())
        {
            s.push_str(p);
            s.push('/');
        }
        s.push_str("AWSLogs/");
        if let Some(o) = &self.organization_id {
            s.push_str(o);
            s.push('/');
        }
        s
    }

    /// The prefix the Distributed Map lists: as narrow as one listing can be (one account's
    /// log folder, one region's when a single region is asked for). Keys outside the window
    /// are dropped by [`Selection`] without being downloaded.
    pub fn list_prefix(&self) -> String {
        let mut s = self.root();
        if let [account] = self.accounts.as_slice() {
            s.push_str(account);
            s.push_str("/CloudTrail/");
            if let [region] = self.regions.as_slice() {
                s.push_str(region);
                s.push('/');
            }
        }
        s
    }

    /// One prefix per account, region and day of `[start, end)` (with delivery slack): the
    /// ranged listing. Needs the accounts and regions spelled out.
    pub fn day_prefixes(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<String>, StepError> {
        if self.accounts.is_empty() || self.regions.is_empty() {
            return Err(StepError::InvalidInput(
                "a ranged listing needs trail.accounts and trail.regions".into(),
            ));
        }
        let (first, last) = day_range(start, end);
        let mut out = Vec::new();
        for account in &self.accounts {
            for region in &self.regions {
                let mut day = first;
                while day <= last {
                    out.push(format!(
                        "{}{account}/CloudTrail/{region}/{}/",
                        self.root(),
                        day.format("%Y/%m/%d")
                    ));
                    match day.succ_opt() {
                        Some(d) => day = d,
                        None => break,
                    }
                }
            }
        }
        Ok(out)
    }
}

/// First and last folder day that can hold events of `[start, end)`.
pub(crate) fn day_range(start: DateTime<Utc>, end: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let first = (start - Duration::seconds(EARLY_SLACK_SECONDS)).date_naive();
    let last = (end + DELIVERY_SLACK).date_naive();
    (first, last)
}

/// What a key in the trail bucket is, as far as the scan is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    /// A log object to download and scan.
    Scan,
    /// A digest file (integrity hashes, no events).
    Digest,
    /// Another account or region than the ones asked for.
    OtherTrail,
    /// A folder day or delivery time that cannot hold events of the window.
    OutsideWindow,
    /// Not in the CloudTrail layout (other files in the bucket, folder markers).
    NotALog,
}

/// Decides per key, without downloading anything, whether an object belongs to the scan.
#[derive(Debug, Clone)]
pub struct Selection {
    root: String,
    accounts: BTreeSet<String>,
    regions: BTreeSet<String>,
    first_day: NaiveDate,
    last_day: NaiveDate,
    earliest_delivery: i64,
}

impl Selection {
    pub fn new(trail: &TrailLocation, start: DateTime<Utc>, end: DateTime<Utc>) -> Selection {
        let (first_day, last_day) = day_range(start, end);
        Selection {
            root: trail.root(),
            accounts: trail.accounts.iter().cloned().collect(),
            regions: trail.regions.iter().cloned().collect(),
            first_day,
            last_day,
            earliest_delivery: start.timestamp() - EARLY_SLACK_SECONDS,
        }
    }

    pub fn classify(&self, key: &str) -> KeyClass {
        let Some(rest) = key.strip_prefix(&self.root) else {
            return KeyClass::NotALog;
        };
        // <account>/CloudTrail[-Digest]/<region>/YYYY/MM/DD/<file>
        let parts: Vec<&str> = rest.split('/').collect();
        let [account, kind, region, y, m, d, file] = parts.as_slice() else {
            return KeyClass::NotALog;
        };
        if file.is_empty() {
            return KeyClass::NotALog;
        }
        match *kind {
            "CloudTrail-Digest" => return KeyClass::Digest,
            "CloudTrail" => {}
            _ => return KeyClass::NotALog,
        }
        if file.contains("_CloudTrail-Digest_") {
            return KeyClass::Digest;
        }
        if !(file.ends_with(".json.gz") || file.ends_with(".json")) {
            return KeyClass::NotALog;
        }
        // An account folder is a 12-digit account id; anything else under the root is not
        // CloudTrail's (a stray folder must not be scanned as some account's logs).
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return KeyClass::NotALog;
        }
        if (!self.accounts.is_empty() && !self.accounts.contains(*account))
            || (!self.regions.is_empty() && !self.regions.contains(*region))
        {
            return KeyClass::OtherTrail;
        }
        let day = match (y.parse(), m.parse(), d.parse()) {
            (Ok(y), Ok(m), Ok(d)) => NaiveDate::from_ymd_opt(y, m, d),
            _ => None,
        };
        let Some(day) = day else {
            return KeyClass::NotALog;
        };
        if day < self.first_day || day > self.last_day {
            return KeyClass::OutsideWindow;
        }
        match keycard_core::cloudtrail::delivery_time(file) {
            Some(t) if t < self.earliest_delivery => KeyClass::OutsideWindow,
            _ => KeyClass::Scan,
        }
    }
}

/// Lists the log objects of the window with one ListObjectsV2 per account, region and day
/// (see [`TrailLocation::day_prefixes`]), digests and out-of-window deliveries left out,
/// in key order.
pub async fn list_window<S: ObjectStore>(
    store: &S,
    trail: &TrailLocation,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<ObjectInfo>, StepError> {
    let selection = Selection::new(trail, start, end);
    let mut out = Vec::new();
    for prefix in trail.day_prefixes(start, end)? {
        for o in store.list_objects(&trail.bucket, &prefix).await? {
            if selection.classify(&o.key) == KeyClass::Scan {
                out.push(o);
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudtrail::fixtures::{at, trail};

    #[test]
    fn prefixes_for_both_layouts() {
        let mut t = trail();
        assert_eq!(t.root(), "AWSLogs/");
        assert_eq!(t.list_prefix(), "AWSLogs/123456789012/CloudTrail/");
        t.regions.truncate(1);
        assert_eq!(
            t.list_prefix(),
            "AWSLogs/123456789012/CloudTrail/us-east-1/"
        );
        t.organization_id = Some("o-a1b2c3d4e5".into());
        t.prefix = Some("org/".into());
        assert_eq!(
            t.list_prefix(),
            "org/AWSLogs/o-a1b2c3d4e5/123456789012/CloudTrail/us-east-1/"
        );
        t.accounts.push("210987654321".into());
        assert_eq!(t.list_prefix(), "org/AWSLogs/o-a1b2c3d4e5/");
    }

    #[test]
    fn day_prefixes_cover_the_window_with_slack() {
        let t = trail();
        let p = t
            .day_prefixes(at("2025-03-01T00:30:00Z"), at("2025-03-03T00:00:00Z"))
            .unwrap();
        // Feb 28 (an hour before the start), Mar 1–3, and Mar 4 (late deliveries): 5 days × 2 regions.
        assert_eq!(p.len(), 10);
        assert_eq!(
            p[0],
            "AWSLogs/123456789012/CloudTrail/us-east-1/2025/02/28/"
        );
        assert_eq!(
            p[4],
            "AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/04/"
        );
        assert_eq!(
            p[5],
            "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/02/28/"
        );
        let mut all = t.clone();
        all.regions.clear();
        assert!(
            all.day_prefixes(at("2025-03-01T00:00:00Z"), at("2025-03-02T00:00:00Z"))
                .is_err()
        );
    }

    #[test]
    fn keys_are_classified_without_reading_them() {
        let sel = Selection::new(
            &trail(),
            at("2025-03-01T00:00:00Z"),
            at("2025-03-10T00:00:00Z"),
        );
        let cases = [
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/02/123456789012_CloudTrail_us-east-1_20250302T0105Z_AbCdEf0123456789.json.gz",
                KeyClass::Scan,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/03/10/123456789012_CloudTrail_eu-west-1_20250310T0005Z_AbCdEf0123456789.json.gz",
                KeyClass::Scan,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/12/123456789012_CloudTrail_us-east-1_20250312T0105Z_AbCdEf0123456789.json.gz",
                KeyClass::OutsideWindow,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/02/28/123456789012_CloudTrail_us-east-1_20250228T2205Z_AbCdEf0123456789.json.gz",
                KeyClass::OutsideWindow,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/02/28/123456789012_CloudTrail_us-east-1_20250228T2335Z_AbCdEf0123456789.json.gz",
                KeyClass::Scan,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/ap-south-1/2025/03/02/123456789012_CloudTrail_ap-south-1_20250302T0105Z_AbCdEf0123456789.json.gz",
                KeyClass::OtherTrail,
            ),
            (
                "AWSLogs/210987654321/CloudTrail/us-east-1/2025/03/02/210987654321_CloudTrail_us-east-1_20250302T0105Z_AbCdEf0123456789.json.gz",
                KeyClass::OtherTrail,
            ),
            (
                "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2025/03/02/123456789012_CloudTrail-Digest_us-east-1_management-events_us-east-1_20250302T010500Z.json.gz",
                KeyClass::Digest,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/02/",
                KeyClass::NotALog,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/13/02/x.json.gz",
                KeyClass::NotALog,
            ),
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/02/notes.txt",
                KeyClass::NotALog,
            ),
            (
                "other/AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/02/x.json.gz",
                KeyClass::NotALog,
            ),
            (
                "AWSLogs/o-a1b2c3d4e5/123456789012/CloudTrail/us-east-1/2025/03/02/x.json.gz",
                KeyClass::NotALog,
            ),
            (
                "AWSLogs/backup/CloudTrail/us-east-1/2025/03/02/x.json.gz",
                KeyClass::NotALog,
            ),
        ];
        for (key, want) in cases {
            assert_eq!(sel.classify(key), want, "{key}");
        }
    }

    #[test]
    fn bad_locations_are_rejected() {
        let mut t = trail();
        t.bucket = "Bad_Bucket".into();
        assert!(t.validate().is_err());
        let mut t = trail();
        t.accounts = vec!["1234".into()];
        assert!(t.validate().is_err());
        let mut t = trail();
        t.organization_id = Some("org-1".into());
        assert!(t.validate().is_err());
        let mut t = trail();
        t.regions = vec!["US East".into()];
        assert!(t.validate().is_err());
        for bad in [
            "management-events",
            "arn:aws:s3:::bucket",
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/",
        ] {
            let mut t = trail();
            t.trail_arn = Some(bad.into());
            assert!(t.validate().is_err(), "{bad}");
        }
        let mut t = trail();
        t.trail_arn = Some("arn:aws-cn:cloudtrail:cn-north-1:123456789012:trail/org-trail".into());
        assert!(t.validate().is_ok());
        assert!(trail().validate().is_ok());
    }
}
