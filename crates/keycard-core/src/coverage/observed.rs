//! What the log files themselves show about the trail that wrote them.
//!
//! When the trail's configuration is not at hand, the records are the only witness: their
//! `eventCategory` (`Management` / `Data`), `readOnly`, `awsRegion` and, for data events,
//! `resources[].type` and ARN. [`ObservedTrail`] collects those facts during the scan (cheaply:
//! a few map look-ups per record) and is mergeable like the usage, so the S3 scanner's parts
//! and the Step Functions chain's partial results combine into the same facts.
//!
//! [`Coverage::infer`] then claims only what the files show: management reads are covered
//! when some read management event appears, a data resource type only for the resources
//! (buckets, tables, functions…) that appear in its data events, KMS and RDS Data API events
//! (the two sources a trail can exclude) only when some appear, global services only when
//! some of their events appear, regions only those seen, days only those with records.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::tables::CoverageTables;
use super::{
    Basis, Coverage, DataScope, EXCLUDABLE_SOURCES, GLOBAL_SERVICES, Gap, MIN_GAP_DAYS, Period,
    ReadWrite,
};

/// More distinct resources than this per data type are not tracked one by one; the type then
/// counts as recorded only for the resources tracked (never more).
const MAX_SCOPES_PER_TYPE: usize = 10_000;

/// Data events seen for one resource type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSeen {
    pub read: u64,
    pub write: u64,
    /// ARN prefixes with data events: `arn:aws:s3:::bucket/` for S3 objects, the resource's
    /// ARN for other types.
    pub scopes: BTreeSet<String>,
    /// More scopes were seen than tracked.
    #[serde(default)]
    pub truncated: bool,
}

/// The facts, mergeable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedTrail {
    pub management_read: u64,
    pub management_write: u64,
    /// Management records without a `readOnly` flag.
    #[serde(default)]
    pub management_unflagged: u64,
    /// Records from the excludable and global event sources, by source.
    #[serde(default)]
    pub sources: BTreeMap<String, u64>,
    #[serde(default)]
    pub data: BTreeMap<String, DataSeen>,
    /// Days (since 1970-01-01) with at least one record, per `awsRegion`.
    #[serde(default)]
    pub region_days: BTreeMap<String, BTreeSet<i64>>,
}

/// What one record says about the trail, as the scanner hands it over.
#[derive(Debug, Clone, Copy)]
pub struct RecordFacts<'a> {
    pub category: Option<&'a str>,
    pub management_event: Option<bool>,
    pub read_only: Option<bool>,
    pub event_source: &'a str,
    pub event_name: &'a str,
    pub region: &'a str,
    pub day: i64,
}

impl ObservedTrail {
    /// Counts one record. `resources` are its `resources[]` entries as (type, ARN).
    pub fn record<'r>(
        &mut self,
        facts: RecordFacts<'_>,
        resources: impl Iterator<Item = (&'r str, &'r str)>,
    ) {
        if !facts.region.is_empty() {
            match self.region_days.get_mut(facts.region) {
                Some(days) => {
                    days.insert(facts.day);
                }
                None => {
                    self.region_days
                        .insert(facts.region.to_string(), BTreeSet::from([facts.day]));
                }
            }
        }
        let tables = CoverageTables::embedded().ok();
        let is_data = match (facts.category, facts.management_event) {
            (Some("Data"), _) => true,
            (Some("Management"), _) => false,
            (Some(_), _) => return,
            (None, Some(m)) => !m,
            (None, None) => tables.is_some_and(|t| {
                t.first_data_type_of_event(facts.event_source, facts.event_name)
                    .is_some()
            }),
        };
        if !is_data {
            match facts.read_only {
                Some(true) => self.management_read += 1,
                Some(false) => self.management_write += 1,
                None => self.management_unflagged += 1,
            }
            if EXCLUDABLE_SOURCES.contains(&facts.event_source)
                || GLOBAL_SERVICES
                    .iter()
                    .any(|(_, s)| *s == facts.event_source)
            {
                match self.sources.get_mut(facts.event_source) {
                    Some(n) => *n += 1,
                    None => {
                        self.sources.insert(facts.event_source.to_string(), 1);
                    }
                }
            }
            return;
        }
        let Some(tables) = tables else { return };
        let mut typed = false;
        for (kind, arn) in resources {
            if !tables.is_data_type(kind) {
                continue;
            }
            typed = true;
            self.data_seen(kind, arn, facts.read_only);
        }
        if !typed {
            // No typed resource: attribute it to the documented type of the call, with no
            // resource scope (so it proves the type is logged for nothing in particular).
            if let Some(dt) = tables.first_data_type_of_event(facts.event_source, facts.event_name)
            {
                let rt = dt.resource_type.as_str();
                let seen = match self.data.get_mut(rt) {
                    Some(s) => s,
                    None => self.data.entry(rt.to_string()).or_default(),
                };
                match facts.read_only {
                    Some(true) => seen.read += 1,
                    _ => seen.write += 1,
                }
            }
        }
    }

    fn data_seen(&mut self, kind: &str, arn: &str, read_only: Option<bool>) {
        let seen = match self.data.get_mut(kind) {
            Some(s) => s,
            None => self.data.entry(kind.to_string()).or_default(),
        };
        match read_only {
            Some(true) => seen.read += 1,
            // Unflagged counts as write: it proves nothing about reads.
            _ => seen.write += 1,
        }
        let scope = scope_of(kind, arn);
        if scope.is_empty() || seen.scopes.contains(scope) {
            return;
        }
        if seen.scopes.len() >= MAX_SCOPES_PER_TYPE {
            seen.truncated = true;
            return;
        }
        seen.scopes.insert(scope.to_string());
    }

    pub fn merge(&mut self, o: &ObservedTrail) {
        self.management_read += o.management_read;
        self.management_write += o.management_write;
        self.management_unflagged += o.management_unflagged;
        for (s, n) in &o.sources {
            *self.sources.entry(s.clone()).or_default() += n;
        }
        for (t, d) in &o.data {
            let mine = self.data.entry(t.clone()).or_default();
            mine.read += d.read;
            mine.write += d.write;
            mine.truncated |= d.truncated;
            for s in &d.scopes {
                if mine.scopes.len() >= MAX_SCOPES_PER_TYPE && !mine.scopes.contains(s) {
                    mine.truncated = true;
                } else {
                    mine.scopes.insert(s.clone());
                }
            }
        }
        for (r, days) in &o.region_days {
            self.region_days
                .entry(r.clone())
                .or_default()
                .extend(days.iter().copied());
        }
    }

    pub fn is_empty(&self) -> bool {
        self == &ObservedTrail::default()
    }
}

/// The recorded scope a data event's resource proves: the bucket for S3 objects (a selector
/// scopes object events by bucket prefix), the resource itself otherwise.
fn scope_of<'a>(kind: &str, arn: &'a str) -> &'a str {
    if kind == "AWS::S3::Object" {
        // arn:aws:s3:::bucket/key → arn:aws:s3:::bucket/
        if let Some(rest) = arn.strip_prefix("arn:")
            && let Some(slash) = rest.find('/')
        {
            return &arn[..4 + slash + 1];
        }
    }
    arn
}

fn day_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(86_400)
}

fn date_of(day: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(day.saturating_mul(86_400), 0)
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

impl Coverage {
    /// Coverage as far as the files show it, over `[start, end]` (the evidence window).
    pub fn infer(
        o: &ObservedTrail,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Coverage {
        let mut c = Coverage::default_trail(Basis::InferredFromFiles);
        c.management = ReadWrite {
            read: o.management_read > 0,
            write: o.management_write > 0,
        };
        for s in EXCLUDABLE_SOURCES {
            if !o.sources.contains_key(*s) {
                c.excluded_sources.insert((*s).to_string());
            }
        }
        // STS has regional endpoints too, whose events every trail records in their region:
        // seeing sts.amazonaws.com proves nothing about global service events. IAM, CloudFront
        // and Route 53 events only exist as global service events.
        c.global_service_events = GLOBAL_SERVICES
            .iter()
            .filter(|(prefix, _)| *prefix != "sts")
            .any(|(_, s)| o.sources.contains_key(*s));
        for (t, d) in &o.data {
            if d.scopes.is_empty() {
                continue;
            }
            c.data.insert(
                t.clone(),
                DataScope {
                    read_write: ReadWrite {
                        read: d.read > 0,
                        write: d.write > 0,
                    },
                    // A seen resource proves itself and what lies below it (a table's
                    // indexes), not every ARN it is a prefix of: `table/Orders` must not cover
                    // `table/Orders2`. So each scope ends at a `/` boundary.
                    arn_prefixes: Some(
                        d.scopes
                            .iter()
                            .map(|s| {
                                if s.ends_with('/') {
                                    s.clone()
                                } else {
                                    format!("{s}/")
                                }
                            })
                            .collect(),
                    ),
                },
            );
        }
        if !o.region_days.is_empty() {
            c.regions = Some(o.region_days.keys().cloned().collect());
        }
        c.period = period(o, start, end);
        c
    }
}

/// Covered days and delivery gaps inside the window.
fn period(
    o: &ObservedTrail,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Option<Period> {
    let all: BTreeSet<i64> = o.region_days.values().flatten().copied().collect();
    let first = start.map(day_of).or_else(|| all.first().copied())?;
    let last = end
        .map(|e| day_of(e - Duration::seconds(1)).max(first))
        .or_else(|| all.last().copied())?;
    let covered_days = all.range(first..=last).count() as i64;
    let mut gaps = Vec::new();
    // Gaps over every region together first.
    push_gaps(&all, first, last, &[], &mut gaps);
    // Then per region, where a region stops delivering while others go on.
    if o.region_days.len() > 1 {
        for (region, days) in &o.region_days {
            let mut per = Vec::new();
            push_gaps(days, first, last, std::slice::from_ref(region), &mut per);
            for g in per {
                if !gaps.iter().any(|a: &Gap| {
                    a.regions.is_empty() && a.first_day <= g.first_day && g.last_day <= a.last_day
                }) {
                    gaps.push(g);
                }
            }
        }
    }
    Some(Period {
        first_day: date_of(first),
        last_day: date_of(last),
        covered_days,
        gaps,
    })
}

fn push_gaps(days: &BTreeSet<i64>, first: i64, last: i64, regions: &[String], out: &mut Vec<Gap>) {
    // A region whose first record comes late (or last record early) has a gap at the edge too.
    let mut prev = first - 1;
    for &d in days.range(first..=last).chain(std::iter::once(&(last + 1))) {
        let missing = d - prev - 1;
        if missing >= MIN_GAP_DAYS {
            out.push(Gap {
                first_day: date_of(prev + 1),
                last_day: date_of(d - 1),
                days: missing,
                regions: regions.to_vec(),
            });
        }
        prev = d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn facts<'a>(
        cat: &'a str,
        ro: bool,
        source: &'a str,
        name: &'a str,
        day: i64,
    ) -> RecordFacts<'a> {
        RecordFacts {
            category: Some(cat),
            management_event: Some(cat == "Management"),
            read_only: Some(ro),
            event_source: source,
            event_name: name,
            region: "eu-west-1",
            day,
        }
    }

    #[test]
    fn management_only_files_cover_no_data_events() {
        let mut o = ObservedTrail::default();
        o.record(
            facts(
                "Management",
                true,
                "dynamodb.amazonaws.com",
                "DescribeTable",
                20_000,
            ),
            std::iter::empty(),
        );
        o.record(
            facts(
                "Management",
                false,
                "sns.amazonaws.com",
                "CreateTopic",
                20_000,
            ),
            std::iter::empty(),
        );
        let c = Coverage::infer(&o, None, None);
        assert_eq!(c.management, ReadWrite::BOTH);
        assert!(c.data.is_empty());
        assert!(
            c.excluded_sources.contains("kms.amazonaws.com"),
            "no KMS events seen"
        );
        assert!(!c.global_service_events, "no IAM events seen");
        // Regional STS events prove nothing about global service events.
        o.record(
            facts(
                "Management",
                true,
                "sts.amazonaws.com",
                "AssumeRole",
                20_000,
            ),
            std::iter::empty(),
        );
        assert!(!Coverage::infer(&o, None, None).global_service_events);
        assert!(c.why_unobservable("s3:GetObject", &[]).is_some());
        assert!(c.why_unobservable("dynamodb:DescribeTable", &[]).is_none());
    }

    #[test]
    fn s3_data_events_prove_only_their_buckets() {
        let mut o = ObservedTrail::default();
        o.record(
            facts("Data", true, "s3.amazonaws.com", "GetObject", 20_000),
            [
                ("AWS::S3::Object", "arn:aws:s3:::receipts/2026/a.pdf"),
                ("AWS::S3::Bucket", "arn:aws:s3:::receipts"),
            ]
            .into_iter(),
        );
        let c = Coverage::infer(&o, None, None);
        let scope = &c.data["AWS::S3::Object"];
        assert_eq!(
            scope.arn_prefixes,
            Some(["arn:aws:s3:::receipts/".to_string()].into())
        );
        use super::super::GrantedResource::*;
        assert!(
            c.why_unobservable("s3:GetObject", &[Arn("arn:aws:s3:::receipts/*".into())])
                .is_none()
        );
        assert!(
            c.why_unobservable("s3:GetObject", &[Arn("arn:aws:s3:::other/*".into())])
                .is_some()
        );
        assert!(
            c.why_unobservable("s3:GetObject", &[Arn("*".into())])
                .is_some()
        );
        assert!(c.why_unobservable("s3:GetObject", &[Unknown]).is_some());
        // Only reads were seen: writes on the same bucket are not proven recorded.
        assert!(
            c.why_unobservable("s3:PutObject", &[Arn("arn:aws:s3:::receipts/*".into())])
                .is_some()
        );
    }

    #[test]
    fn a_seen_table_covers_itself_and_its_indexes_not_a_namesake() {
        let mut o = ObservedTrail::default();
        let table = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders";
        o.record(
            facts("Data", true, "dynamodb.amazonaws.com", "GetItem", 20_000),
            [("AWS::DynamoDB::Table", table)].into_iter(),
        );
        let c = Coverage::infer(&o, None, None);
        use super::super::GrantedResource::Arn;
        assert!(
            c.why_unobservable("dynamodb:GetItem", &[Arn(table.into())])
                .is_none()
        );
        assert!(
            c.why_unobservable("dynamodb:Query", &[Arn(format!("{table}/index/*"))])
                .is_none()
        );
        assert!(
            c.why_unobservable("dynamodb:GetItem", &[Arn(format!("{table}2"))])
                .is_some(),
            "table/Orders2 is another table"
        );
    }

    #[test]
    fn gaps_inside_the_window_are_found() {
        let mut o = ObservedTrail::default();
        for day in (20_000..20_010).chain(20_040..20_050) {
            o.record(
                facts(
                    "Management",
                    true,
                    "ec2.amazonaws.com",
                    "DescribeInstances",
                    day,
                ),
                std::iter::empty(),
            );
        }
        let start = Utc.timestamp_opt(20_000 * 86_400, 0).unwrap();
        let end = Utc.timestamp_opt(20_050 * 86_400, 0).unwrap();
        let c = Coverage::infer(&o, Some(start), Some(end));
        let p = c.period.unwrap();
        assert_eq!(p.covered_days, 20);
        assert_eq!(p.gaps.len(), 1);
        assert_eq!(p.gaps[0].days, 30);
    }

    #[test]
    fn merge_is_the_same_as_one_pass() {
        let recs = [
            facts("Management", true, "kms.amazonaws.com", "Decrypt", 1),
            facts("Management", false, "iam.amazonaws.com", "CreateRole", 2),
            facts("Data", false, "lambda.amazonaws.com", "Invoke", 3),
        ];
        let res = [(
            "AWS::Lambda::Function",
            "arn:aws:lambda:eu-west-1:1:function:f",
        )];
        let mut one = ObservedTrail::default();
        let mut a = ObservedTrail::default();
        let mut b = ObservedTrail::default();
        for (i, r) in recs.iter().enumerate() {
            one.record(*r, res.iter().copied());
            if i % 2 == 0 {
                a.record(*r, res.iter().copied())
            } else {
                b.record(*r, res.iter().copied())
            }
        }
        a.merge(&b);
        assert_eq!(a, one);
        let c = Coverage::infer(&one, None, None);
        assert!(!c.excluded_sources.contains("kms.amazonaws.com"));
        assert!(c.global_service_events);
    }
}
