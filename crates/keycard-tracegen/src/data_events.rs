//! Which calls CloudTrail records as data events, from `data/cloudtrail-data-events.json`.
//!
//! The table is keycard's transcription of CloudTrail's documented data event types (each row
//! cites its AWS page). The generator reads it rather than keeping its own list, so a corpus
//! written with [`Classification::Documented`](crate::Classification::Documented) classifies
//! every call the way the coverage model that reads the corpus does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::Deserialize;

use crate::TracegenError;

const TABLE_JSON: &str = include_str!("../../../data/cloudtrail-data-events.json");

#[derive(Debug, Deserialize)]
struct TableFile {
    resource_types: Vec<ResourceTypeRow>,
}

#[derive(Debug, Deserialize)]
struct ResourceTypeRow {
    resource_type: String,
    event_source: String,
    event_names: Vec<String>,
}

/// The parsed table: `(eventSource, eventName)` → the `resources.type` values CloudTrail lists
/// the call under (in file order).
#[derive(Debug)]
pub struct DataEventTable {
    by_call: BTreeMap<(String, String), Vec<String>>,
    resource_types: BTreeSet<String>,
}

impl DataEventTable {
    /// The bundled table (parsed once).
    pub fn bundled() -> Result<&'static DataEventTable, TracegenError> {
        static TABLE: OnceLock<Result<DataEventTable, String>> = OnceLock::new();
        TABLE
            .get_or_init(|| DataEventTable::parse(TABLE_JSON))
            .as_ref()
            .map_err(|e| TracegenError::Scenario(format!("data/cloudtrail-data-events.json: {e}")))
    }

    fn parse(text: &str) -> Result<DataEventTable, String> {
        let file: TableFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut by_call: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        let mut resource_types = BTreeSet::new();
        for row in file.resource_types {
            resource_types.insert(row.resource_type.clone());
            if row.event_source.is_empty() {
                continue;
            }
            for name in row.event_names {
                by_call
                    .entry((row.event_source.clone(), name))
                    .or_default()
                    .push(row.resource_type.clone());
            }
        }
        Ok(DataEventTable {
            by_call,
            resource_types,
        })
    }

    /// The resource types under which CloudTrail records this call as a data event; empty for
    /// a management event (or a call the table does not list).
    pub fn resource_types_of(&self, event_source: &str, event_name: &str) -> &[String] {
        self.by_call
            .get(&(event_source.to_string(), event_name.to_string()))
            .map_or(&[], Vec::as_slice)
    }

    /// Whether CloudTrail records this call as a data event.
    pub fn is_data_event(&self, event_source: &str, event_name: &str) -> bool {
        !self.resource_types_of(event_source, event_name).is_empty()
    }

    /// Whether the table knows this `resources.type` value.
    pub fn knows_resource_type(&self, resource_type: &str) -> bool {
        self.resource_types.contains(resource_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_table_parses_and_knows_the_common_types() {
        let t = DataEventTable::bundled().unwrap();
        for ty in [
            "AWS::S3::Object",
            "AWS::DynamoDB::Table",
            "AWS::Lambda::Function",
            "AWS::SNS::Topic",
            "AWS::SQS::Queue",
        ] {
            assert!(t.knows_resource_type(ty), "{ty}");
        }
        assert!(t.is_data_event("s3.amazonaws.com", "GetObject"));
        assert!(
            t.resource_types_of("s3.amazonaws.com", "GetObject")
                .contains(&"AWS::S3::Object".to_string())
        );
        assert!(!t.is_data_event("s3.amazonaws.com", "CreateBucket"));
        assert!(!t.is_data_event("iam.amazonaws.com", "GetRole"));
    }
}
