//! Coverage from a trail's configuration: the JSON of `DescribeTrails`, `GetEventSelectors`
//! and `GetTrailStatus`, as the AWS API (and the AWS CLI's `--output json`) returns it.
//!
//! Selectors are read conservatively: a selector with a condition keycard does not model
//! (`eventName`, `userIdentity.arn`, `resources.ARN NotStartsWith`, …) narrows what is recorded
//! in a way keycard cannot evaluate, so it adds no coverage at all (and a note says so). A
//! source is excluded unless every management selector records it. Shapes: the CloudTrail API
//! reference, `EventSelector`, `AdvancedEventSelector`, `AdvancedFieldSelector`, `DataResource`,
//! `Trail` (<https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/>).
//!
//! # Field casing under Step Functions
//!
//! What AWS documents about field names when the state machine reads the trail configuration
//! through Step Functions' AWS SDK integrations (`arn:aws:states:::aws-sdk:cloudtrail:…`), and
//! why both casings are accepted.
//!
//! * Documented: "Parameters in Step Functions are expressed in PascalCase, even if the native
//!   service API is in camelCase", and the API field `Equals` is named `EqualsValue` in a state
//!   machine (Step Functions Developer Guide, "Learning to use AWS service SDK integrations in
//!   Step Functions", <https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html>);
//!   "AWS SDK integrations work exactly like an API call using the AWS SDK"
//!   (<https://docs.aws.amazon.com/step-functions/latest/dg/integrate-services.html>).
//! * Not documented: the casing of the *result*. The guide's naming rules speak of parameters
//!   only. Public reports of real runs say the result's keys start with an upper-case letter
//!   too (LocalStack issue 9853, a definition validated on AWS: "Every key in the task response"
//!   must start upper-case there; aws-sdk-js issue 4294: DynamoDB's `BOOL`/`NULL` come back as
//!   `Bool`/`Nul` from Step Functions, which the service team called expected behaviour of
//!   the page above). DescribeTrails' only camelCase member, `trailList`, would then arrive as
//!   `TrailList`; `GetEventSelectors` and `GetTrailStatus` members are PascalCase in the API
//!   already, except `Equals` (`EqualsValue` in a state machine).
//!
//! So the readers accept both `trailList` and `TrailList`, both `Equals` and `EqualsValue`, and
//! the tests hold one fixture of each shape: the AWS CLI's printed examples and the shape the
//! reports above describe.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Basis, Coverage, DataScope, EXCLUDABLE_SOURCES, ReadWrite};

/// Why a trail configuration document could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrailConfigError {
    #[error(
        "not a CloudTrail configuration: expected the output of describe-trails (trailList), get-event-selectors (EventSelectors or AdvancedEventSelectors) or get-trail-status"
    )]
    Unrecognised,
    #[error("{field}: {message}")]
    Field { field: String, message: String },
}

/// The coverage a trail configuration describes, with notes on anything read conservatively.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailCoverage {
    pub coverage: Coverage,
    pub notes: Vec<String>,
}

/// Reads one or more documents (any mix of describe-trails, get-event-selectors and
/// get-trail-status output) into one coverage.
pub fn coverage_from_documents(docs: &[Value]) -> Result<TrailCoverage, TrailConfigError> {
    let mut notes = Vec::new();
    let mut trails: Vec<String> = Vec::new();
    let mut saw_selectors = false;
    let mut selected = Selected::default();
    let mut regions: Option<BTreeSet<String>> = None;
    let mut all_regions = false;
    let mut global = true;
    let mut saw_trail = false;

    for doc in docs {
        let mut recognised = false;
        // `trailList` as the API and the AWS CLI write it; `TrailList` as a Step Functions
        // AWS SDK integration returns it. The module documentation says what is documented.
        if let Some(list) = doc
            .get("trailList")
            .or_else(|| doc.get("TrailList"))
            .and_then(Value::as_array)
        {
            recognised = true;
            for t in list {
                saw_trail = true;
                if let Some(arn) = t.get("TrailARN").and_then(Value::as_str) {
                    trails.push(arn.to_string());
                }
                let multi = t
                    .get("IsMultiRegionTrail")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if multi {
                    all_regions = true;
                } else if let Some(home) = t.get("HomeRegion").and_then(Value::as_str) {
                    regions
                        .get_or_insert_with(BTreeSet::new)
                        .insert(home.to_string());
                } else {
                    notes.push(
                        "a single-region trail without HomeRegion: its region is unknown".into(),
                    );
                }
                if !t
                    .get("IncludeGlobalServiceEvents")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                {
                    global = false;
                }
            }
        }
        type SelectorReader =
            fn(usize, &Value, &mut Selected, &mut Vec<String>) -> Result<(), TrailConfigError>;
        let readers: [(&str, SelectorReader); 2] = [
            ("EventSelectors", basic_selector),
            ("AdvancedEventSelectors", advanced_selector),
        ];
        for (key, read) in readers {
            let Some(sels) = doc.get(key).and_then(Value::as_array) else {
                continue;
            };
            recognised = true;
            saw_selectors = true;
            if let Some(arn) = doc.get("TrailARN").and_then(Value::as_str) {
                trails.push(arn.to_string());
            }
            for (i, s) in sels.iter().enumerate() {
                read(i, s, &mut selected, &mut notes)?;
            }
        }
        if let Some(logging) = doc.get("IsLogging").and_then(Value::as_bool) {
            recognised = true;
            if !logging {
                notes.push(format!(
                    "the trail is not logging (StopLoggingTime {}): days after it are not covered",
                    doc.get("StopLoggingTime")
                        .map(Value::to_string)
                        .unwrap_or_else(|| "unknown".into())
                ));
            }
            if let Some(err) = doc
                .get("LatestDeliveryError")
                .and_then(Value::as_str)
                .filter(|e| !e.is_empty())
            {
                notes.push(format!("the trail reports a delivery error: {err}"));
            }
        }
        if !recognised {
            return Err(TrailConfigError::Unrecognised);
        }
    }
    if !saw_selectors {
        // DescribeTrails alone: a trail without custom selectors records management events,
        // read and write, and no data events (the API's default selector).
        selected.management = ReadWrite::BOTH;
        notes.push("no event selectors given: assumed the default (management events, read and write, no data events); pass get-event-selectors output too".into());
    }
    if !saw_trail {
        notes.push(
            "no describe-trails output given: regions and global service events assumed recorded"
                .into(),
        );
    }
    trails.sort();
    trails.dedup();
    let Selected {
        management,
        excluded_everywhere,
        data,
    } = selected;
    let excluded = excluded_everywhere.unwrap_or_default();
    Ok(TrailCoverage {
        coverage: Coverage {
            basis: Basis::TrailConfig { trails },
            management,
            excluded_sources: excluded,
            data,
            regions: if all_regions || !saw_trail {
                None
            } else {
                regions.or_else(|| Some(BTreeSet::new()))
            },
            global_service_events: global,
            period: None,
            #[cfg(test)]
            all_seen: false,
        },
        notes,
    })
}

fn field_err(field: String, message: impl Into<String>) -> TrailConfigError {
    TrailConfigError::Field {
        field,
        message: message.into(),
    }
}

fn read_write_type(v: Option<&Value>, field: &str) -> Result<ReadWrite, TrailConfigError> {
    match v.and_then(Value::as_str).unwrap_or("All") {
        "All" => Ok(ReadWrite::BOTH),
        "ReadOnly" => Ok(ReadWrite {
            read: true,
            write: false,
        }),
        "WriteOnly" => Ok(ReadWrite {
            read: false,
            write: true,
        }),
        other => Err(field_err(
            field.to_string(),
            format!("unknown ReadWriteType `{other}`"),
        )),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// What the selectors read so far record, across every selector of every document.
#[derive(Debug, Default)]
struct Selected {
    management: ReadWrite,
    /// Sources excluded by every management selector so far (`None`: no management selector).
    excluded_everywhere: Option<BTreeSet<String>>,
    data: BTreeMap<String, DataScope>,
}

impl Selected {
    /// A management selector: its read/write kinds are recorded, and a source stays excluded
    /// only if every management selector excludes it.
    fn add_management(&mut self, rw: ReadWrite, excluded: BTreeSet<String>) {
        self.management = self.management.union(rw);
        self.excluded_everywhere = Some(match self.excluded_everywhere.take() {
            None => excluded,
            Some(prev) => prev.intersection(&excluded).cloned().collect(),
        });
    }

    /// A data resource type, its scope joined with what other selectors record for it.
    fn add_data(&mut self, rt: &str, scope: DataScope) {
        let merged = match self.data.get(rt) {
            Some(prev) => prev.union(&scope),
            None => scope,
        };
        self.data.insert(rt.to_string(), merged);
    }
}

fn basic_selector(
    i: usize,
    s: &Value,
    selected: &mut Selected,
    notes: &mut Vec<String>,
) -> Result<(), TrailConfigError> {
    let rw = read_write_type(
        s.get("ReadWriteType"),
        &format!("EventSelectors[{i}].ReadWriteType"),
    )?;
    if s.get("IncludeManagementEvents")
        .and_then(Value::as_bool)
        .unwrap_or(true)
    {
        selected.add_management(
            rw,
            strings(s.get("ExcludeManagementEventSources"))
                .into_iter()
                .collect(),
        );
    }
    for (j, dr) in s
        .get("DataResources")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let field = format!("EventSelectors[{i}].DataResources[{j}]");
        let Some(rt) = dr.get("Type").and_then(Value::as_str) else {
            return Err(field_err(field, "no Type"));
        };
        let values = strings(dr.get("Values"));
        if values.is_empty() {
            notes.push(format!(
                "{field}: no Values, so nothing of {rt} is recorded"
            ));
            continue;
        }
        let all = values.iter().any(|v| is_whole_service(v));
        selected.add_data(
            rt,
            DataScope {
                read_write: rw,
                arn_prefixes: if all {
                    None
                } else {
                    Some(values.into_iter().collect())
                },
            },
        );
    }
    Ok(())
}

/// `arn:aws:s3`, `arn:aws:s3:::`, `arn:aws-cn:lambda`: every resource of the service (the
/// basic selectors' way of saying "all").
fn is_whole_service(v: &str) -> bool {
    let parts: Vec<&str> = v.split(':').collect();
    parts.len() >= 3 && parts[0] == "arn" && parts[3..].iter().all(|p| p.is_empty())
}

fn advanced_selector(
    i: usize,
    s: &Value,
    selected: &mut Selected,
    notes: &mut Vec<String>,
) -> Result<(), TrailConfigError> {
    let name = s
        .get("Name")
        .and_then(Value::as_str)
        .map(|n| format!("`{n}`"))
        .unwrap_or_else(|| format!("AdvancedEventSelectors[{i}]"));
    let fields = s
        .get("FieldSelectors")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut category: Option<String> = None;
    let mut rw = ReadWrite::BOTH;
    let mut types: Vec<String> = Vec::new();
    let mut prefixes: Option<BTreeSet<String>> = None;
    let mut excluded: BTreeSet<String> = BTreeSet::new();
    let mut unmodelled: Vec<String> = Vec::new();
    for f in fields {
        let field = f.get("Field").and_then(Value::as_str).unwrap_or_default();
        // `EqualsValue`: the name Step Functions' AWS SDK integrations give `Equals`.
        let equals = strings(f.get("Equals").or_else(|| f.get("EqualsValue")));
        let starts = strings(f.get("StartsWith"));
        let not_equals = strings(f.get("NotEquals"));
        let other_ops = ["EndsWith", "NotStartsWith", "NotEndsWith"]
            .iter()
            .any(|op| f.get(*op).is_some());
        match field {
            "eventCategory" if !equals.is_empty() && equals.len() == 1 => {
                category = equals.into_iter().next();
            }
            "readOnly" if equals.len() == 1 => {
                rw = match equals[0].as_str() {
                    "true" => ReadWrite {
                        read: true,
                        write: false,
                    },
                    "false" => ReadWrite {
                        read: false,
                        write: true,
                    },
                    _ => ReadWrite::NONE,
                };
            }
            "resources.type" if !equals.is_empty() && !other_ops => types = equals,
            "resources.ARN"
                if !other_ops
                    && not_equals.is_empty()
                    && (!equals.is_empty() || !starts.is_empty()) =>
            {
                prefixes = Some(equals.into_iter().chain(starts).collect());
            }
            "eventSource"
                if equals.is_empty()
                    && starts.is_empty()
                    && !other_ops
                    && not_equals
                        .iter()
                        .all(|s| EXCLUDABLE_SOURCES.contains(&s.as_str())) =>
            {
                excluded.extend(not_equals);
            }
            other => unmodelled.push(other.to_string()),
        }
    }
    if !unmodelled.is_empty() {
        notes.push(format!(
            "selector {name}: conditions on {} are not modelled, so keycard takes nothing from it as recorded",
            unmodelled.join(", ")
        ));
        return Ok(());
    }
    match category.as_deref() {
        Some("Management") => {
            selected.add_management(rw, excluded);
        }
        Some("Data") => {
            if types.is_empty() {
                notes.push(format!("selector {name}: a data selector without resources.type records nothing keycard can use"));
            }
            for t in types {
                selected.add_data(
                    &t,
                    DataScope {
                        read_write: rw,
                        arn_prefixes: prefixes.clone(),
                    },
                );
            }
        }
        Some(other) => notes.push(format!(
            "selector {name}: eventCategory {other} is no API use keycard reads"
        )),
        None => notes.push(format!("selector {name}: no eventCategory condition")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The AWS CLI's documented `get-event-selectors` output for a trail with basic selectors
    /// (cloudtrail get-event-selectors, example 1).
    #[test]
    fn basic_selectors_as_the_cli_prints_them() {
        let doc = json!({
            "EventSelectors": [{
                "IncludeManagementEvents": true,
                "DataResources": [
                    {"Values": ["arn:aws:s3:::amzn-s3-demo-bucket/"], "Type": "AWS::S3::Object"},
                    {"Values": ["arn:aws:lambda"], "Type": "AWS::Lambda::Function"}
                ],
                "ExcludeManagementEventSources": ["kms.amazonaws.com"],
                "ReadWriteType": "All"
            }],
            "TrailARN": "arn:aws:cloudtrail:us-east-1:123456789012:trail/Trail1"
        });
        let c = coverage_from_documents(&[doc]).unwrap().coverage;
        assert_eq!(c.management, ReadWrite::BOTH);
        assert!(c.excluded_sources.contains("kms.amazonaws.com"));
        assert_eq!(c.data["AWS::Lambda::Function"].arn_prefixes, None);
        assert_eq!(
            c.data["AWS::S3::Object"].arn_prefixes,
            Some(["arn:aws:s3:::amzn-s3-demo-bucket/".to_string()].into())
        );
    }

    /// Advanced selectors as `get-event-selectors` prints them: management events without KMS,
    /// S3 object data events on one bucket, write-only.
    #[test]
    fn advanced_selectors() {
        let doc = json!({
            "TrailARN": "arn:aws:cloudtrail:us-east-1:123456789012:trail/Trail2",
            "AdvancedEventSelectors": [
                {"Name": "Management events selector", "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]}
                ]},
                {"Name": "S3 writes", "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    {"Field": "readOnly", "Equals": ["false"]},
                    {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::amzn-s3-demo-bucket/"]}
                ]},
                {"Name": "Odd one", "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]},
                    {"Field": "eventName", "Equals": ["PutItem"]}
                ]}
            ]
        });
        let tc = coverage_from_documents(&[doc]).unwrap();
        let c = tc.coverage;
        assert_eq!(c.management, ReadWrite::BOTH);
        assert!(c.excluded_sources.contains("kms.amazonaws.com"));
        let s3 = &c.data["AWS::S3::Object"];
        assert_eq!(
            s3.read_write,
            ReadWrite {
                read: false,
                write: true
            }
        );
        assert!(
            !c.data.contains_key("AWS::DynamoDB::Table"),
            "eventName narrows: nothing assumed"
        );
        assert!(tc.notes.iter().any(|n| n.contains("eventName")));
    }

    #[test]
    fn describe_trails_sets_regions_and_global_events() {
        let doc = json!({"trailList": [{
            "Name": "Trail1", "S3BucketName": "amzn-s3-demo-bucket",
            "IncludeGlobalServiceEvents": false, "IsMultiRegionTrail": false,
            "HomeRegion": "eu-west-1",
            "TrailARN": "arn:aws:cloudtrail:eu-west-1:123456789012:trail/Trail1",
            "LogFileValidationEnabled": false, "HasCustomEventSelectors": false,
            "IsOrganizationTrail": false
        }]});
        let c = coverage_from_documents(&[doc]).unwrap().coverage;
        assert_eq!(c.regions, Some(["eu-west-1".to_string()].into()));
        assert!(!c.global_service_events);
        assert_eq!(c.management, ReadWrite::BOTH);
        assert!(c.data.is_empty());
    }

    /// The same configuration as a Step Functions AWS SDK integration returns it: response
    /// members in PascalCase (`TrailList`: not documented for results, reported from real runs)
    /// and `Equals` named `EqualsValue` (documented); see the module documentation.
    #[test]
    fn step_functions_sdk_integration_shapes() {
        let trails = json!({"TrailList": [{
            "Name": "management-events", "HomeRegion": "eu-west-1",
            "IsMultiRegionTrail": false, "IncludeGlobalServiceEvents": true,
            "TrailARN": "arn:aws:cloudtrail:eu-west-1:123456789012:trail/management-events"
        }]});
        let selectors = json!({
            "TrailARN": "arn:aws:cloudtrail:eu-west-1:123456789012:trail/management-events",
            "AdvancedEventSelectors": [{"Name": "writes", "FieldSelectors": [
                {"Field": "eventCategory", "EqualsValue": ["Management"]},
                {"Field": "readOnly", "EqualsValue": ["false"]}
            ]}]
        });
        let c = coverage_from_documents(&[trails, selectors])
            .unwrap()
            .coverage;
        assert_eq!(c.regions, Some(["eu-west-1".to_string()].into()));
        assert_eq!(
            c.management,
            ReadWrite {
                read: false,
                write: true
            }
        );
    }

    #[test]
    fn a_source_is_excluded_only_when_every_management_selector_excludes_it() {
        let doc = json!({"EventSelectors": [
            {"ReadWriteType": "All", "IncludeManagementEvents": true, "ExcludeManagementEventSources": ["kms.amazonaws.com"]},
            {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": true, "ExcludeManagementEventSources": []}
        ]});
        let c = coverage_from_documents(&[doc]).unwrap().coverage;
        assert!(c.excluded_sources.is_empty());
    }

    #[test]
    fn other_json_is_refused() {
        assert_eq!(
            coverage_from_documents(&[json!({"Records": []})]),
            Err(TrailConfigError::Unrecognised)
        );
        assert!(
            coverage_from_documents(&[json!({"EventSelectors": [{"ReadWriteType": "Sometimes"}]})])
                .is_err()
        );
    }
}

/// The outputs printed in the AWS CLI's own CloudTrail examples, read verbatim from
/// `tests/fixtures/trail-config/aws-cli-examples` (see its README for the source of each).
#[cfg(test)]
mod aws_cli_examples {
    use super::*;
    use std::path::PathBuf;

    fn example(name: &str) -> Value {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/trail-config/aws-cli-examples")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn covers(c: &Coverage, data_type: &str, arn: &str) -> bool {
        c.data.get(data_type).is_some_and(|scope| {
            scope
                .arn_prefixes
                .as_ref()
                .is_none_or(|ps| ps.iter().any(|p| arn.starts_with(p.as_str())))
        })
    }

    #[test]
    fn get_event_selectors_default_trail_records_management_events_only() {
        let tc = coverage_from_documents(&[example("get-event-selectors.json")]).unwrap();
        assert_eq!(tc.coverage.management, ReadWrite::BOTH);
        assert!(tc.coverage.data.is_empty());
        assert!(tc.coverage.excluded_sources.is_empty());
        assert_eq!(
            tc.coverage.basis,
            Basis::TrailConfig {
                trails: vec!["arn:aws:cloudtrail:us-east-1:123456789012:trail/Trail1".into()]
            }
        );
    }

    #[test]
    fn describe_trails_two_single_region_trails_cover_their_home_region() {
        let tc = coverage_from_documents(&[example("describe-trails.json")]).unwrap();
        assert_eq!(tc.coverage.regions, Some(["us-east-1".to_string()].into()));
        assert!(tc.coverage.global_service_events);
        // No selectors given: the documented default selector, and a note asking for them.
        assert_eq!(tc.coverage.management, ReadWrite::BOTH);
        assert!(tc.coverage.data.is_empty());
        assert!(tc.notes.iter().any(|n| n.contains("get-event-selectors")));
    }

    #[test]
    fn a_logging_trail_status_adds_no_warning() {
        let tc = coverage_from_documents(&[
            example("describe-trails.json"),
            example("get-event-selectors.json"),
            example("get-trail-status.json"),
        ])
        .unwrap();
        assert!(
            !tc.notes.iter().any(|n| n.contains("not logging")),
            "{:?}",
            tc.notes
        );
        assert_eq!(tc.coverage.regions, Some(["us-east-1".to_string()].into()));
    }

    /// Example 1 of `put-event-selectors`: of the three data selectors, only the Lambda one can
    /// be read as recorded; the S3 and SNS ones filter on `eventName` (and `NotStartsWith`),
    /// so S3 objects and SNS topics stay unobserved rather than assumed recorded.
    #[test]
    fn advanced_example_keeps_event_name_filtered_selectors_unobserved() {
        let tc = coverage_from_documents(&[example("put-event-selectors-advanced.json")]).unwrap();
        let c = &tc.coverage;
        assert_eq!(c.management, ReadWrite::BOTH);
        assert!(covers(
            c,
            "AWS::Lambda::Function",
            "arn:aws:lambda:us-east-1:123456789012:function:myFunction"
        ));
        assert!(!covers(
            c,
            "AWS::Lambda::Function",
            "arn:aws:lambda:us-east-1:123456789012:function:otherFunction"
        ));
        assert!(!c.data.contains_key("AWS::S3::Object"));
        assert!(!c.data.contains_key("AWS::SNS::Topic"));
        assert_eq!(
            tc.notes
                .iter()
                .filter(|n| n.contains("eventName") && n.contains("not modelled"))
                .count(),
            2,
            "{:?}",
            tc.notes
        );
    }

    #[test]
    fn basic_example_scopes_s3_to_the_listed_prefixes() {
        let c = coverage_from_documents(&[example("put-event-selectors-basic.json")])
            .unwrap()
            .coverage;
        assert!(covers(
            &c,
            "AWS::S3::Object",
            "arn:aws:s3:::mybucket/prefix/a.json"
        ));
        assert!(covers(
            &c,
            "AWS::S3::Object",
            "arn:aws:s3:::mybucket2/prefix2/b"
        ));
        assert!(!covers(
            &c,
            "AWS::S3::Object",
            "arn:aws:s3:::mybucket/other/a.json"
        ));
        assert!(!covers(
            &c,
            "AWS::S3::Object",
            "arn:aws:s3:::otherbucket/prefix/a"
        ));
        assert!(covers(
            &c,
            "AWS::Lambda::Function",
            "arn:aws:lambda:us-west-2:123456789012:function:hello-world-python-function"
        ));
        assert!(!c.data.contains_key("AWS::DynamoDB::Table"));
    }

    #[test]
    fn basic_example_as_printed_in_the_docs_is_not_json() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/trail-config/aws-cli-examples/put-event-selectors-basic.as-printed.json");
        let err =
            serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap_err();
        assert_eq!(err.line(), 19);
    }

    #[test]
    fn whole_service_values_cover_every_bucket_and_function() {
        let c = coverage_from_documents(&[example("put-event-selectors-all-s3-lambda.json")])
            .unwrap()
            .coverage;
        assert_eq!(c.data["AWS::S3::Object"].arn_prefixes, None);
        assert_eq!(c.data["AWS::Lambda::Function"].arn_prefixes, None);
        assert_eq!(c.data["AWS::S3::Object"].read_write, ReadWrite::BOTH);
    }
}
