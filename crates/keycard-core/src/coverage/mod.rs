//! What the evidence *could* have seen: the coverage of a trail (or of Access Analyzer).
//!
//! A proposal may remove an action only when the evidence would have shown its use. A trail
//! created with the defaults records management events only: no S3 object calls, no DynamoDB
//! item calls, no Lambda Invoke. Removing `s3:GetObject` because such a trail never showed it is
//! an outage, so every granted action is classified here as *observable* (its calls would have
//! been recorded for the principal's resources) or *unobservable* (kept, marked, explained).
//!
//! Coverage comes from three places, and never claims more than its source shows:
//! * the trail's own configuration (`DescribeTrails` + `GetEventSelectors`, basic or advanced
//!   selectors): [`trail_config`];
//! * the log files themselves, when nothing else is known: [`observed`] collects what the
//!   records show while they are scanned, and [`Coverage::infer`] turns it into coverage;
//! * what the user states on the command line (`--data-events`, `--management-events`).
//!
//! Access Analyzer has a fixed coverage of its own ([`Coverage::access_analyzer`]): it reads
//! management events only and does not report data-event activity at action level.

pub mod observed;
pub mod read_only;
pub mod tables;
pub mod trail_config;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::cloudtrail::mapping::Exceptions;
pub use observed::ObservedTrail;
pub use read_only::{ReadOnlyFlag, read_only_flag};
pub use tables::CoverageTables;

/// Where a coverage description comes from, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Basis {
    /// Nothing is known about the trail: assumed to be a default trail (management events
    /// only), the most common setup.
    Assumed,
    /// Inferred from the records of the scanned log files.
    InferredFromFiles,
    /// Read from the trail's configuration (`trails` names them).
    TrailConfig { trails: Vec<String> },
    /// Stated on the command line.
    Stated,
    /// IAM Access Analyzer policy generation.
    AccessAnalyzer,
}

impl Basis {
    fn describe(&self) -> String {
        match self {
            Basis::Assumed => {
                "no trail configuration given (assumed: a default trail, management events only)"
                    .into()
            }
            Basis::InferredFromFiles => "the log files".into(),
            Basis::TrailConfig { trails } if trails.is_empty() => {
                "the trail's event selectors".into()
            }
            Basis::TrailConfig { trails } => {
                format!("the event selectors of {}", trails.join(", "))
            }
            Basis::Stated => "the command-line options".into(),
            Basis::AccessAnalyzer => "IAM Access Analyzer".into(),
        }
    }
}

/// Read and write halves of a kind of event (CloudTrail's `ReadWriteType` / `readOnly`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReadWrite {
    pub read: bool,
    pub write: bool,
}

impl ReadWrite {
    pub const BOTH: ReadWrite = ReadWrite {
        read: true,
        write: true,
    };
    pub const NONE: ReadWrite = ReadWrite {
        read: false,
        write: false,
    };

    /// Whether calls with this `readOnly` flag are recorded (an uncertain flag only when both
    /// kinds are).
    pub fn covers(self, flag: &ReadOnlyFlag) -> bool {
        flag.recorded_by(self.read, self.write)
    }

    pub fn union(self, o: ReadWrite) -> ReadWrite {
        ReadWrite {
            read: self.read || o.read,
            write: self.write || o.write,
        }
    }

    fn describe(self) -> &'static str {
        match (self.read, self.write) {
            (true, true) => "read and write",
            (true, false) => "read-only",
            (false, true) => "write-only",
            (false, false) => "no",
        }
    }
}

/// Which calls of one data resource type are recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataScope {
    pub read_write: ReadWrite,
    /// `None`: every resource of the type. `Some`: only resources whose ARN starts with one
    /// of these prefixes (selectors' `resources.ARN StartsWith`, or what the files showed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn_prefixes: Option<BTreeSet<String>>,
}

impl DataScope {
    pub fn all() -> DataScope {
        DataScope {
            read_write: ReadWrite::BOTH,
            arn_prefixes: None,
        }
    }

    /// The union of two scopes of the same type.
    pub fn union(&self, o: &DataScope) -> DataScope {
        let arn_prefixes = match (&self.arn_prefixes, &o.arn_prefixes) {
            (None, _) | (_, None) => None,
            (Some(a), Some(b)) => Some(a.union(b).cloned().collect()),
        };
        DataScope {
            read_write: self.read_write.union(o.read_write),
            arn_prefixes,
        }
    }

    /// Whether a granted resource is inside the recorded scope. A `*`, a pattern broader than
    /// every prefix, or a resource the template does not resolve is not.
    fn covers(&self, resource: &GrantedResource) -> bool {
        let Some(prefixes) = &self.arn_prefixes else {
            return true;
        };
        match resource {
            GrantedResource::Unknown => false,
            GrantedResource::TemplateResource { recorded, .. } => *recorded,
            GrantedResource::Arn(arn) => {
                // The literal part before any wildcard must lie inside a recorded prefix.
                let literal = arn.split(['*', '?']).next().unwrap_or_default();
                let has_wildcard = literal.len() < arn.len();
                prefixes.iter().any(|p| {
                    literal.starts_with(p.as_str())
                        || (!has_wildcard && format!("{arn}/").starts_with(p.as_str()))
                })
            }
        }
    }
}

/// A span of days inside the evidence window with no log file (or no record) at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub days: i64,
    /// The regions the gap applies to (empty: every region the evidence has).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

/// Which days of the window the evidence really covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// Days with at least one record, in any region.
    pub covered_days: i64,
    pub gaps: Vec<Gap>,
}

/// A gap shorter than this is a quiet day, not a delivery gap worth reporting.
pub const MIN_GAP_DAYS: i64 = 3;

/// A week or more without a single record in any region is a delivery gap, not a quiet week:
/// an action used only then would not show, so no unseen action is removed while the window
/// holds one (choose a window without it with --start/--end, or fix the delivery).
pub const BLIND_GAP_DAYS: i64 = 7;

/// What the evidence records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub basis: Basis,
    /// Management events recorded (read and/or write).
    pub management: ReadWrite,
    /// Event sources whose management events are excluded (`kms.amazonaws.com`,
    /// `rdsdata.amazonaws.com`: the only two CloudTrail lets a trail exclude), or not shown by
    /// the files.
    pub excluded_sources: BTreeSet<String>,
    /// Data resource types recorded, with their scope. A type not listed is not recorded.
    pub data: BTreeMap<String, DataScope>,
    /// `None`: every region. `Some`: only these.
    pub regions: Option<BTreeSet<String>>,
    /// Whether events of global services (IAM, STS's global endpoint, CloudFront, Route 53)
    /// are recorded.
    pub global_service_events: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// Unit tests of the decision logic only: every action counts as observable.
    #[cfg(test)]
    #[serde(skip)]
    pub(crate) all_seen: bool,
}

/// Management event sources a trail can exclude (`ExcludeManagementEventSources`; advanced
/// selectors' `eventSource NotEquals`). Source:
/// <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_EventSelector.html>
pub const EXCLUDABLE_SOURCES: &[&str] = &["kms.amazonaws.com", "rdsdata.amazonaws.com"];

/// Services whose events are *global service events*, recorded only by trails that include
/// them (`IncludeGlobalServiceEvents`), logged as in us-east-1. Source:
/// <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-concepts.html#cloudtrail-concepts-global-service-events>
pub const GLOBAL_SERVICES: &[(&str, &str)] = &[
    ("iam", "iam.amazonaws.com"),
    ("sts", "sts.amazonaws.com"),
    ("cloudfront", "cloudfront.amazonaws.com"),
    ("route53", "route53.amazonaws.com"),
];

/// A granted resource as the classifier sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GrantedResource {
    /// An ARN or ARN pattern (`*` included).
    Arn(String),
    /// A resource of the template itself (`!Ref OrdersTable`, `!Sub ${Bucket.Arn}/*`): its
    /// physical name is not known here, but whether the evidence records data events on that
    /// resource is (the scopes are matched to the template's resources beforehand).
    TemplateResource { logical_id: String, recorded: bool },
    /// An expression the template does not resolve (a `!GetAtt`, an import): its scope is
    /// unknown, so it is never taken as covered by a partial selector.
    Unknown,
}

/// Why an action's use would not show in the evidence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unobservable {
    pub action: String,
    pub reason: String,
}

impl Default for Coverage {
    /// A default trail: what CloudTrail records when nothing says otherwise.
    fn default() -> Self {
        Coverage::default_trail(Basis::Assumed)
    }
}

impl Coverage {
    /// What a trail created with CloudTrail's defaults records: management events, read and
    /// write, every region, global service events, no data events.
    pub fn default_trail(basis: Basis) -> Coverage {
        Coverage {
            basis,
            management: ReadWrite::BOTH,
            excluded_sources: BTreeSet::new(),
            data: BTreeMap::new(),
            regions: None,
            global_service_events: true,
            period: None,
            #[cfg(test)]
            all_seen: false,
        }
    }

    /// Unit tests of the decision logic: a coverage under which every action is observable
    /// (no real trail is like this: `iam:PassRole` is never recorded).
    #[cfg(test)]
    pub(crate) fn all_seen() -> Coverage {
        Coverage {
            all_seen: true,
            ..Coverage::everything(Basis::Stated)
        }
    }

    /// Everything recorded: management and every documented data event type, every resource.
    /// Only for a trail that really logs all of it (`--data-events all`).
    pub fn everything(basis: Basis) -> Coverage {
        let mut c = Coverage::default_trail(basis);
        if let Ok(t) = CoverageTables::embedded() {
            for dt in &t.data_types {
                c.data.insert(dt.resource_type.clone(), DataScope::all());
            }
        }
        c
    }

    /// IAM Access Analyzer's view: it generates policies from management events only and does
    /// not report data-event activity at action level. Source:
    /// <https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-policy-generation.html>
    pub fn access_analyzer() -> Coverage {
        Coverage::default_trail(Basis::AccessAnalyzer)
    }

    /// Sets which data resource types are recorded from `--data-events` (`s3,dynamodb`,
    /// `all`, `none`): a service prefix stands for every data type of that service.
    pub fn with_stated_data_events(mut self, spec: &str) -> Result<Coverage, String> {
        let tables = CoverageTables::embedded().map_err(|e| e.to_string())?;
        self.data.clear();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.to_ascii_lowercase().as_str() {
                "none" => {}
                "all" => {
                    for dt in &tables.data_types {
                        self.data.insert(dt.resource_type.clone(), DataScope::all());
                    }
                }
                other => {
                    let matching: Vec<&tables::DataEventType> = tables
                        .data_types
                        .iter()
                        .filter(|dt| {
                            dt.resource_type.eq_ignore_ascii_case(other)
                                || dt
                                    .iam_prefix
                                    .as_deref()
                                    .is_some_and(|p| p.eq_ignore_ascii_case(other))
                        })
                        .collect();
                    if matching.is_empty() {
                        let known: BTreeSet<&str> = tables
                            .data_types
                            .iter()
                            .filter_map(|dt| dt.iam_prefix.as_deref())
                            .collect();
                        return Err(format!(
                            "unknown data event kind `{item}`: use all, none, a resource type (AWS::S3::Object) or one of {}",
                            known.into_iter().collect::<Vec<_>>().join(", ")
                        ));
                    }
                    for dt in matching {
                        self.data.insert(dt.resource_type.clone(), DataScope::all());
                    }
                }
            }
        }
        self.basis = Basis::Stated;
        Ok(self)
    }

    /// Why `action`, granted on `resources`, would not show in this evidence; `None` when its
    /// calls would have been recorded.
    pub fn why_unobservable(&self, action: &str, resources: &[GrantedResource]) -> Option<String> {
        #[cfg(test)]
        if self.all_seen {
            return None;
        }
        let tables = match CoverageTables::embedded() {
            Ok(t) => t,
            Err(e) => return Some(format!("coverage tables unreadable ({e})")),
        };
        if let Some(row) = tables.not_recorded(action) {
            // keycard's own CloudTrail engine derives iam:PassRole from the recorded calls that
            // pass a role (CreateFunction, RunInstances, CreateStack…: the exceptions table,
            // each row tested), so on trail evidence it is as observable as those write
            // management events. Access Analyzer derives nothing: there it stays unobservable.
            let derived =
                action.eq_ignore_ascii_case("iam:PassRole") && self.basis != Basis::AccessAnalyzer;
            if !derived {
                return Some(format!(
                    "CloudTrail never records it: {} ({})",
                    row.reason, row.source
                ));
            }
        }
        if let Some(g) = self.period.as_ref().and_then(|p| {
            p.gaps
                .iter()
                .find(|g| g.regions.is_empty() && g.days >= BLIND_GAP_DAYS)
        }) {
            return Some(format!(
                "the evidence has no records at all from {} to {} ({} days): a use in that time would not show",
                g.first_day, g.last_day, g.days
            ));
        }
        // An action the IAM catalog does not know (a service or action newer than the catalog,
        // or one of the data event types no catalog service matches: data/cloudtrail-data-events.json
        // says which) cannot be placed: management or data event, read or write. It is never
        // taken as recorded.
        if !Catalog::embedded().contains(action) {
            return Some(format!(
                "{action} is not in the IAM catalog, so whether CloudTrail records its calls (as management or data events, read or write) is not known"
            ));
        }
        let flag = read_only_flag(action);
        let data_types = tables.data_types_of(action);
        if !data_types.is_empty() {
            let mut partial: Vec<String> = Vec::new();
            for dt in &data_types {
                let Some(scope) = self.data.get(&dt.resource_type) else {
                    continue;
                };
                if !scope.read_write.covers(&flag) {
                    partial.push(format!(
                        "{} data events are recorded {} only, and this is a {} event{}",
                        dt.resource_type,
                        scope.read_write.describe(),
                        flag.kind(),
                        uncertain_why(&flag)
                    ));
                    continue;
                }
                if resources.is_empty() || resources.iter().all(|r| scope.covers(r)) {
                    return self.region_gap(resources);
                }
                let prefixes = scope
                    .arn_prefixes
                    .as_ref()
                    .map(|p| p.iter().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                partial.push(format!(
                    "{} data events are recorded only for {prefixes}, and the grant covers {}",
                    dt.resource_type,
                    describe_resources(resources)
                ));
            }
            let types: Vec<&str> = data_types
                .iter()
                .map(|d| d.resource_type.as_str())
                .collect();
            return Some(if partial.is_empty() {
                format!(
                    "a data event ({}), and no such data events are recorded according to {}",
                    types.join(", "),
                    self.basis.describe()
                )
            } else {
                format!("a data event: {}", partial.join("; "))
            });
        }
        // A management event.
        let prefix = action.split_once(':').map(|(p, _)| p).unwrap_or(action);
        let source = event_source_of(prefix);
        if self.excluded_sources.contains(&source) {
            return Some(format!(
                "management events of {source} are not in {}",
                self.basis.describe()
            ));
        }
        if !self.management.covers(&flag) {
            return Some(format!(
                "a {} management event, and {} records {} management events{}",
                flag.kind(),
                self.basis.describe(),
                self.management.describe(),
                uncertain_why(&flag)
            ));
        }
        if !self.global_service_events && GLOBAL_SERVICES.iter().any(|(p, _)| *p == prefix) {
            return Some(format!(
                "a global service event ({source}), and {} does not include global service events",
                self.basis.describe()
            ));
        }
        self.region_gap(resources)
    }

    /// Every ARN prefix some data type is recorded for (to match them to template resources).
    pub fn recorded_scopes(&self) -> BTreeSet<&str> {
        self.data
            .values()
            .filter_map(|d| d.arn_prefixes.as_ref())
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// Resources in a region the evidence does not record.
    fn region_gap(&self, resources: &[GrantedResource]) -> Option<String> {
        let regions = self.regions.as_ref()?;
        let outside: BTreeSet<&str> = resources
            .iter()
            .filter_map(|r| match r {
                GrantedResource::Arn(a) => a.split(':').nth(3),
                _ => None,
            })
            .filter(|region| {
                !region.is_empty() && !region.contains('*') && !regions.contains(*region)
            })
            .collect();
        if outside.is_empty() {
            return None;
        }
        Some(format!(
            "granted on resources in {}, and the evidence records only {}",
            outside.into_iter().collect::<Vec<_>>().join(", "),
            regions.iter().cloned().collect::<Vec<_>>().join(", ")
        ))
    }

    /// Lines a person should read: what this evidence cannot see, and how to make it see.
    pub fn gaps(&self) -> Vec<CoverageGap> {
        let mut out = Vec::new();
        let tables = CoverageTables::embedded().ok();
        if let Some(t) = tables {
            let mut missing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for dt in &t.data_types {
                if !self.data.contains_key(&dt.resource_type) {
                    let svc = dt.iam_prefix.as_deref().unwrap_or("");
                    missing.entry(svc).or_default().push(&dt.resource_type);
                }
            }
            // The services whose data events matter most first, the rest in one line.
            for (svc, types) in &missing {
                if MAIN_DATA_SERVICES.contains(svc) {
                    out.push(CoverageGap {
                        kind: "data_events".into(),
                        what: format!("no {} data events ({})", svc_name(svc), types.join(", ")),
                        consequence: format!("{} data-plane actions are kept as unobservable", svc_name(svc)),
                        fix: format!(
                            "log data events for {} (an advanced event selector with eventCategory = Data and resources.type = {}); data events are billed per 100,000 events",
                            types.join(", "),
                            types.first().copied().unwrap_or_default()
                        ),
                    });
                }
            }
            let others: Vec<&str> = missing
                .iter()
                .filter(|(svc, _)| !MAIN_DATA_SERVICES.contains(svc))
                .flat_map(|(_, t)| t.iter().copied())
                .collect();
            if !others.is_empty() && missing.len() < t.data_types.len() + 1 {
                out.push(CoverageGap {
                    kind: "data_events".into(),
                    what: format!("no data events of {} other resource types", others.len()),
                    consequence: "their data-plane actions are kept as unobservable".into(),
                    fix: "log their data events if those actions should be narrowed".into(),
                });
            }
            for (rt, scope) in &self.data {
                if let Some(p) = &scope.arn_prefixes {
                    out.push(CoverageGap {
                        kind: "data_events_partial".into(),
                        what: format!(
                            "{rt} data events only for {}",
                            p.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                        consequence: "its actions granted on other resources (or on *) are kept as unobservable".into(),
                        fix: format!("log {rt} data events for every resource, or state it with --data-events if the trail does"),
                    });
                }
                if scope.read_write != ReadWrite::BOTH {
                    out.push(CoverageGap {
                        kind: "data_events_partial".into(),
                        what: format!("{rt} data events {} only", scope.read_write.describe()),
                        consequence: "actions of the other kind are kept as unobservable".into(),
                        fix: "log both read and write data events".into(),
                    });
                }
            }
        }
        if self.management != ReadWrite::BOTH {
            out.push(CoverageGap {
                kind: "management_events".into(),
                what: format!("management events: {}", self.management.describe()),
                consequence: "management actions of the missing kind are kept as unobservable"
                    .into(),
                fix: "set the trail's management events to ReadWriteType All".into(),
            });
        }
        for s in &self.excluded_sources {
            out.push(CoverageGap {
                kind: "excluded_source".into(),
                what: format!("no management events from {s}"),
                consequence: format!("{} actions are kept as unobservable", prefix_of_source(s)),
                fix: format!("remove {s} from the trail's excluded management event sources (KMS events are numerous: check the cost)"),
            });
        }
        if !self.global_service_events {
            out.push(CoverageGap {
                kind: "global_service_events".into(),
                what: "no global service events".into(),
                consequence: "IAM, STS (global endpoint), CloudFront and Route 53 actions are kept as unobservable".into(),
                fix: "include global service events (IncludeGlobalServiceEvents) in the trail".into(),
            });
        }
        if let Some(r) = &self.regions {
            out.push(CoverageGap {
                kind: "regions".into(),
                what: format!("only {}", r.iter().cloned().collect::<Vec<_>>().join(", ")),
                consequence: "calls in other regions are not seen; actions granted on resources of other regions are kept".into(),
                fix: "use a multi-region trail".into(),
            });
        }
        if let Some(p) = &self.period {
            for g in &p.gaps {
                out.push(CoverageGap {
                    kind: "delivery_gap".into(),
                    what: format!(
                        "no log files from {} to {} ({} days){}",
                        g.first_day,
                        g.last_day,
                        g.days,
                        if g.regions.is_empty() {
                            String::new()
                        } else {
                            format!(" in {}", g.regions.join(", "))
                        }
                    ),
                    consequence: "actions used only during the gap are not seen; the window counts only covered days".into(),
                    fix: "check the trail's delivery (GetTrailStatus) and the bucket's lifecycle rules".into(),
                });
            }
        }
        out
    }
}

/// Services whose missing data events get a gap line of their own (the data planes most roles
/// use); the other data types are summed up in one line.
const MAIN_DATA_SERVICES: &[&str] = &["s3", "dynamodb", "lambda", "sqs", "sns", "kinesis"];

/// One thing the evidence cannot see, for the report and the CLI summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageGap {
    pub kind: String,
    pub what: String,
    pub consequence: String,
    pub fix: String,
}

impl fmt::Display for CoverageGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.consequence)
    }
}

/// `: <why>` for an uncertain flag, nothing otherwise.
fn uncertain_why(flag: &ReadOnlyFlag) -> String {
    match flag {
        ReadOnlyFlag::Uncertain(why) => format!(": {why}"),
        _ => String::new(),
    }
}

/// The event source of an IAM prefix (`rds-data` → `rdsdata.amazonaws.com`).
pub fn event_source_of(prefix: &str) -> String {
    Exceptions::embedded()
        .prefixes
        .iter()
        .find(|p| p.prefix == prefix)
        .map(|p| p.source.clone())
        .unwrap_or_else(|| format!("{prefix}.amazonaws.com"))
}

fn prefix_of_source(source: &str) -> String {
    Exceptions::embedded().prefix(source).to_string()
}

fn svc_name(prefix: &str) -> String {
    match prefix {
        "s3" => "S3".into(),
        "dynamodb" => "DynamoDB".into(),
        "lambda" => "Lambda".into(),
        "sqs" => "SQS".into(),
        "sns" => "SNS".into(),
        "kinesis" => "Kinesis".into(),
        other => other.to_string(),
    }
}

fn describe_resources(resources: &[GrantedResource]) -> String {
    let parts: Vec<String> = resources
        .iter()
        .map(|r| match r {
            GrantedResource::Arn(a) => a.clone(),
            GrantedResource::TemplateResource { logical_id, .. } => {
                format!("{logical_id} (no data events on it in the evidence)")
            }
            GrantedResource::Unknown => "a resource the template does not resolve".into(),
        })
        .collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests;
