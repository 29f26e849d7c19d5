//! The two CloudTrail facts coverage is built on, as data with a source per row:
//!
//! * `data/cloudtrail-data-events.json`: which API calls CloudTrail logs as *data events*, per
//!   data resource type (`AWS::S3::Object`, `AWS::DynamoDB::Table`, …), and the IAM actions
//!   those calls need. A trail records them only when its event selectors ask for them.
//! * `data/cloudtrail-not-recorded.json`: IAM actions no CloudTrail event ever shows
//!   (`iam:PassRole` is a permission checked inside another call, not a call of its own).
//!
//! Every action named in either table is checked against the IAM catalog by a test, and every
//! row carries the documentation page it comes from.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::Deserialize;

use crate::catalog::AccessLevel;

const DATA_EVENTS: &str = include_str!("../../../../data/cloudtrail-data-events.json");
const NOT_RECORDED: &str = include_str!("../../../../data/cloudtrail-not-recorded.json");

/// One data resource type of CloudTrail's documentation.
#[derive(Debug, Clone, Deserialize)]
pub struct DataEventType {
    /// `resources.type` in selectors and records (`AWS::S3::Object`).
    pub resource_type: String,
    /// `eventSource` of its records (`s3.amazonaws.com`).
    pub event_source: String,
    /// API operations logged as data events of this type (CloudTrail `eventName`).
    #[serde(default)]
    pub event_names: Vec<String>,
    /// The IAM actions those operations need.
    #[serde(default)]
    pub iam_actions: Vec<String>,
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
    /// The IAM service prefix of the type's actions (`null` where the table could not tell).
    #[serde(default)]
    pub iam_prefix: Option<String>,
    /// Whether `event_names` is the documentation's full list. When it is not (the docs give
    /// examples, or only the type's name), every action of `iam_prefix` on the catalog resource
    /// type of the same name is taken as a possible data event too, so an unlisted data-plane
    /// call is never taken as recorded by management events.
    #[serde(default = "yes")]
    pub complete: bool,
}

fn yes() -> bool {
    true
}

/// One action CloudTrail never records.
#[derive(Debug, Clone, Deserialize)]
pub struct NotRecorded {
    pub action: String,
    pub reason: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
struct DataEventsFile {
    resource_types: Vec<DataEventType>,
}

#[derive(Debug, Deserialize)]
struct NotRecordedFile {
    actions: Vec<NotRecorded>,
}

/// Both tables, indexed for lookups by IAM action (lower-cased).
#[derive(Debug)]
pub struct CoverageTables {
    pub data_types: Vec<DataEventType>,
    pub not_recorded: Vec<NotRecorded>,
    /// lower-cased IAM action → indexes into `data_types`.
    by_action: BTreeMap<String, Vec<usize>>,
    /// eventSource → eventName → indexes into `data_types` (nested so that a lookup by
    /// borrowed names allocates nothing: it runs for every data event of a scan).
    by_event: BTreeMap<String, BTreeMap<String, Vec<usize>>>,
    /// lower-cased IAM action → index into `not_recorded`.
    not_recorded_index: BTreeMap<String, usize>,
}

/// Why a coverage table could not be read (only reachable if the embedded data is broken,
/// which a test prevents; callers then treat every action as unobservable).
#[derive(Debug, Clone, thiserror::Error)]
pub enum TablesError {
    #[error("coverage table {file} is not valid: {message}")]
    Invalid { file: &'static str, message: String },
}

impl CoverageTables {
    /// The embedded tables. `Err` means the embedded data is broken: callers must then treat
    /// every action as unobservable rather than assume coverage.
    pub fn embedded() -> Result<&'static CoverageTables, &'static TablesError> {
        static TABLES: OnceLock<Result<CoverageTables, TablesError>> = OnceLock::new();
        TABLES
            .get_or_init(|| CoverageTables::parse(DATA_EVENTS, NOT_RECORDED))
            .as_ref()
    }

    pub fn parse(data_events: &str, not_recorded: &str) -> Result<CoverageTables, TablesError> {
        let data: DataEventsFile =
            serde_json::from_str(data_events).map_err(|e| TablesError::Invalid {
                file: "data/cloudtrail-data-events.json",
                message: e.to_string(),
            })?;
        let nr: NotRecordedFile =
            serde_json::from_str(not_recorded).map_err(|e| TablesError::Invalid {
                file: "data/cloudtrail-not-recorded.json",
                message: e.to_string(),
            })?;
        let mut by_action: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut by_event: BTreeMap<String, BTreeMap<String, Vec<usize>>> = BTreeMap::new();
        let catalog = crate::catalog::Catalog::embedded();
        for (i, t) in data.resource_types.iter().enumerate() {
            let mut actions: BTreeSet<String> = t
                .iam_actions
                .iter()
                .map(|a| a.to_ascii_lowercase())
                .collect();
            if !t.complete
                && let Some(prefix) = &t.iam_prefix
            {
                // AWS::Kinesis::Stream → the catalog's `stream` resource of `kinesis`.
                let wanted = t
                    .resource_type
                    .rsplit("::")
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let norm = |s: &str| s.to_ascii_lowercase().replace(['-', '_'], "");
                // CloudTrail's definition: management events are control-plane operations
                // (creating, deleting, configuring, tagging resources), data events the
                // operations performed on or within a resource
                // (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-concepts.html).
                // So configuring verbs and permission/tagging/list levels stay management.
                let control_plane = |name: &str| {
                    let n = name.split_once(':').map(|(_, n)| n).unwrap_or(name);
                    ["Create", "Delete", "Update", "Tag", "Untag", "Describe"]
                        .iter()
                        .any(|v| n.starts_with(v))
                };
                for a in catalog.actions_of(prefix) {
                    if matches!(a.access_level(), AccessLevel::Read | AccessLevel::Write)
                        && !control_plane(a.name())
                        && a.resource_types().iter().any(|r| norm(r.name()) == wanted)
                    {
                        actions.insert(a.name().to_ascii_lowercase());
                    }
                }
            }
            for a in actions {
                by_action.entry(a).or_default().push(i);
            }
            for e in &t.event_names {
                by_event
                    .entry(t.event_source.clone())
                    .or_default()
                    .entry(e.clone())
                    .or_default()
                    .push(i);
            }
        }
        let not_recorded_index = nr
            .actions
            .iter()
            .enumerate()
            .map(|(i, r)| (r.action.to_ascii_lowercase(), i))
            .collect();
        Ok(CoverageTables {
            data_types: data.resource_types,
            not_recorded: nr.actions,
            by_action,
            by_event,
            not_recorded_index,
        })
    }

    /// The data resource types whose logged calls need `action` (empty: a management action).
    pub fn data_types_of(&self, action: &str) -> Vec<&DataEventType> {
        self.by_action
            .get(&action.to_ascii_lowercase())
            .map(|ix| ix.iter().map(|&i| &self.data_types[i]).collect())
            .unwrap_or_default()
    }

    /// The data resource types an event belongs to, by its source and name.
    pub fn data_types_of_event(&self, source: &str, name: &str) -> Vec<&DataEventType> {
        self.event_rows(source, name)
            .iter()
            .map(|&i| &self.data_types[i])
            .collect()
    }

    /// The first of [`Self::data_types_of_event`], without allocating.
    pub fn first_data_type_of_event(&self, source: &str, name: &str) -> Option<&DataEventType> {
        self.event_rows(source, name)
            .first()
            .map(|&i| &self.data_types[i])
    }

    fn event_rows(&self, source: &str, name: &str) -> &[usize] {
        self.by_event
            .get(source)
            .and_then(|by_name| by_name.get(name))
            .map_or(&[], Vec::as_slice)
    }

    /// Whether `resource_type` is a data resource type of the table.
    pub fn is_data_type(&self, resource_type: &str) -> bool {
        self.data_types
            .iter()
            .any(|t| t.resource_type == resource_type)
    }

    /// The row saying CloudTrail never records `action`, if any.
    pub fn not_recorded(&self, action: &str) -> Option<&NotRecorded> {
        self.not_recorded_index
            .get(&action.to_ascii_lowercase())
            .map(|&i| &self.not_recorded[i])
    }

    /// Every IAM action behind data events (lower-cased), for tests and reports.
    pub fn data_actions(&self) -> BTreeSet<&str> {
        self.by_action.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn embedded_tables_parse_and_every_action_is_in_the_catalog() {
        let t = CoverageTables::embedded().unwrap();
        assert!(!t.data_types.is_empty());
        let catalog = Catalog::embedded();
        for dt in &t.data_types {
            assert!(
                dt.source.starts_with("https://docs.aws.amazon.com/"),
                "{}: source {}",
                dt.resource_type,
                dt.source
            );
            assert!(
                dt.resource_type.starts_with("AWS::"),
                "{}",
                dt.resource_type
            );
            assert!(
                dt.event_source.is_empty() || dt.event_source.ends_with(".amazonaws.com"),
                "{}",
                dt.event_source
            );
            for a in &dt.iam_actions {
                assert!(
                    catalog.action(a).is_some(),
                    "{}: {a} is not in the IAM catalog",
                    dt.resource_type
                );
            }
        }
        for r in &t.not_recorded {
            assert!(
                catalog.action(&r.action).is_some(),
                "{} not in catalog",
                r.action
            );
            assert!(
                r.source.starts_with("https://docs.aws.amazon.com/"),
                "{}",
                r.action
            );
            assert!(!r.reason.is_empty());
        }
    }

    /// The rows everyone relies on: S3 object reads and writes, DynamoDB items, Lambda Invoke
    /// are data events; PassRole is never recorded.
    #[test]
    fn well_known_rows_are_present() {
        let t = CoverageTables::embedded().unwrap();
        let types = |a: &str| -> Vec<String> {
            t.data_types_of(a)
                .iter()
                .map(|d| d.resource_type.clone())
                .collect()
        };
        assert!(types("s3:GetObject").contains(&"AWS::S3::Object".to_string()));
        assert!(types("s3:PutObject").contains(&"AWS::S3::Object".to_string()));
        assert!(types("dynamodb:GetItem").contains(&"AWS::DynamoDB::Table".to_string()));
        assert!(types("lambda:InvokeFunction").contains(&"AWS::Lambda::Function".to_string()));
        assert!(types("s3:CreateBucket").is_empty(), "a management event");
        assert!(t.not_recorded("iam:PassRole").is_some());
        // An incomplete row (the docs name the type, not its calls) takes every action on the
        // catalog resource of that name as a possible data event.
        assert!(
            types("kinesis:PutRecord").contains(&"AWS::Kinesis::Stream".to_string()),
            "{:?}",
            types("kinesis:PutRecord")
        );
        assert!(
            !t.data_types_of_event("s3.amazonaws.com", "GetObject")
                .is_empty()
        );
    }

    /// Every row, by its shape: a listed action maps back to its row; an incomplete row with an
    /// IAM prefix takes only that prefix's actions; a row with operations but no IAM mapping
    /// (EMR WAL, Timestream Query) is still found by its records; a row with no IAM prefix maps
    /// no action at all and says why (the coverage model then keeps that service's actions as
    /// actions the catalog does not know).
    #[test]
    fn every_row_maps_as_its_shape_says() {
        let t = CoverageTables::embedded().unwrap();
        let catalog = Catalog::embedded();
        let mut unmapped = 0;
        for dt in &t.data_types {
            let rt = &dt.resource_type;
            let mapped: Vec<&str> = t
                .data_actions()
                .into_iter()
                .filter(|a| t.data_types_of(a).iter().any(|d| &d.resource_type == rt))
                .collect();
            for a in &dt.iam_actions {
                assert!(
                    t.data_types_of(a).iter().any(|d| &d.resource_type == rt),
                    "{rt}: {a} does not map back"
                );
            }
            for e in &dt.event_names {
                assert!(
                    t.data_types_of_event(&dt.event_source, e)
                        .iter()
                        .any(|d| &d.resource_type == rt),
                    "{rt}: event {e} not found"
                );
            }
            match &dt.iam_prefix {
                Some(prefix) => {
                    assert!(
                        catalog.actions_of(prefix).next().is_some(),
                        "{rt}: {prefix} is not a catalog service"
                    );
                    if !dt.complete {
                        for a in &mapped {
                            assert!(
                                a.starts_with(&format!("{}:", prefix.to_ascii_lowercase()))
                                    || dt.iam_actions.iter().any(|x| x.eq_ignore_ascii_case(a)),
                                "{rt}: {a} is not of {prefix}"
                            );
                        }
                    } else {
                        assert_eq!(mapped.len(), dt.iam_actions.len(), "{rt}: {mapped:?}");
                    }
                }
                None => {
                    unmapped += 1;
                    assert!(dt.iam_actions.is_empty() && mapped.is_empty(), "{rt}");
                    let note = dt.note.as_deref().unwrap_or_default();
                    assert!(
                        note.contains("Unmapped") || note.contains("not in data/iam-catalog.tsv"),
                        "{rt}: an unmapped row must say why: {note}"
                    );
                }
            }
        }
        // Issue 11 left 18 types without an IAM prefix; 4 are mapped through the catalog now,
        // 14 stay unmapped (their notes say why). A new unmapped row needs its reason too.
        assert!(unmapped <= 14, "{unmapped} unmapped data event types");
    }
}
