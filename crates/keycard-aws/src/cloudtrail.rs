//! A trail's own configuration: DescribeTrails, GetEventSelectors (basic and advanced
//! selectors) and GetTrailStatus, as JSON.
//!
//! The documents come back in the shapes the AWS CLI prints them (`trailList`, then each
//! response member under its API name: `EventSelectors`, `AdvancedEventSelectors`,
//! `IsLogging`, …; timestamps as RFC 3339 strings), because that is what
//! `keycard_core::coverage::trail_config::coverage_from_documents` reads from a user's
//! `--trail-config` files: one reader for a configuration typed by a person and one read by
//! keycard. Members the response leaves out stay out (an absent selector operator and an empty
//! one are not the same condition). Shapes: the CloudTrail API reference, `Trail`,
//! `EventSelector`, `DataResource`, `AdvancedEventSelector`, `AdvancedFieldSelector`,
//! `GetTrailStatus` (<https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/>).

use std::future::Future;

use aws_sdk_cloudtrail::primitives::{DateTime, DateTimeFormat};
use aws_sdk_cloudtrail::types::{AdvancedEventSelector, EventSelector, Trail};
use serde_json::{Map, Value, json};

use crate::error::AwsError;

const SERVICE: &str = "cloudtrail";

/// Read access to trail configurations.
pub trait Trails: Send + Sync {
    /// DescribeTrails (shadow trails included): the trails named (names or trail ARNs), or
    /// with none named every trail of the region plus the shadows of multi-region and
    /// organization trails. `{"trailList": [...]}`.
    fn describe_trails(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Value, AwsError>> + Send;

    /// GetEventSelectors of a trail (by ARN: a shadow trail is only found by its ARN).
    /// `{"TrailARN", "EventSelectors"?, "AdvancedEventSelectors"?}`.
    fn event_selectors(
        &self,
        trail_arn: &str,
    ) -> impl Future<Output = Result<Value, AwsError>> + Send;

    /// GetTrailStatus of a trail (by ARN, for the same reason). `{"IsLogging", …}`.
    fn trail_status(&self, trail_arn: &str)
    -> impl Future<Output = Result<Value, AwsError>> + Send;
}

/// [`Trails`] over the CloudTrail SDK.
#[derive(Debug, Clone)]
pub struct CloudTrailTrails {
    client: aws_sdk_cloudtrail::Client,
}

impl CloudTrailTrails {
    pub fn new(client: aws_sdk_cloudtrail::Client) -> Self {
        CloudTrailTrails { client }
    }

    /// Built apart from [`crate::Clients`]: only the CLI's AWS mode reads trails (the state
    /// machine reads them with SDK tasks), so the Lambdas never build this client.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        CloudTrailTrails::new(aws_sdk_cloudtrail::Client::new(sdk))
    }
}

impl Trails for CloudTrailTrails {
    async fn describe_trails(&self, names: &[String]) -> Result<Value, AwsError> {
        let mut request = self.client.describe_trails().include_shadow_trails(true);
        if !names.is_empty() {
            request = request.set_trail_name_list(Some(names.to_vec()));
        }
        let out = request
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeTrails", e))?;
        Ok(json!({ "trailList": out.trail_list().iter().map(trail).collect::<Vec<_>>() }))
    }

    async fn event_selectors(&self, trail_arn: &str) -> Result<Value, AwsError> {
        let out = self
            .client
            .get_event_selectors()
            .trail_name(trail_arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "GetEventSelectors", e))?;
        let mut doc = Map::new();
        put_str(&mut doc, "TrailARN", out.trail_arn());
        if let Some(selectors) = out.event_selectors.as_ref() {
            doc.insert(
                "EventSelectors".into(),
                selectors.iter().map(event_selector).collect(),
            );
        }
        if let Some(selectors) = out.advanced_event_selectors.as_ref() {
            doc.insert(
                "AdvancedEventSelectors".into(),
                selectors.iter().map(advanced_selector).collect(),
            );
        }
        Ok(Value::Object(doc))
    }

    async fn trail_status(&self, trail_arn: &str) -> Result<Value, AwsError> {
        let out = self
            .client
            .get_trail_status()
            .name(trail_arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "GetTrailStatus", e))?;
        let mut doc = Map::new();
        if let Some(logging) = out.is_logging() {
            doc.insert("IsLogging".into(), Value::Bool(logging));
        }
        put_str(&mut doc, "LatestDeliveryError", out.latest_delivery_error());
        put_time(&mut doc, "LatestDeliveryTime", out.latest_delivery_time());
        put_time(&mut doc, "StartLoggingTime", out.start_logging_time());
        put_time(&mut doc, "StopLoggingTime", out.stop_logging_time());
        put_str(
            &mut doc,
            "LatestDeliveryAttemptTime",
            out.latest_delivery_attempt_time(),
        );
        put_str(&mut doc, "TimeLoggingStarted", out.time_logging_started());
        put_str(&mut doc, "TimeLoggingStopped", out.time_logging_stopped());
        Ok(Value::Object(doc))
    }
}

fn put_str(doc: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        doc.insert(key.into(), Value::from(v));
    }
}

fn put_bool(doc: &mut Map<String, Value>, key: &str, value: Option<bool>) {
    if let Some(v) = value {
        doc.insert(key.into(), Value::Bool(v));
    }
}

fn put_time(doc: &mut Map<String, Value>, key: &str, value: Option<&DateTime>) {
    if let Some(t) = value.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()) {
        doc.insert(key.into(), Value::from(t));
    }
}

fn put_list(doc: &mut Map<String, Value>, key: &str, value: &Option<Vec<String>>) {
    if let Some(v) = value {
        doc.insert(key.into(), Value::from(v.clone()));
    }
}

/// A `Trail` of DescribeTrails.
fn trail(t: &Trail) -> Value {
    let mut doc = Map::new();
    put_str(&mut doc, "Name", t.name());
    put_str(&mut doc, "S3BucketName", t.s3_bucket_name());
    put_str(&mut doc, "S3KeyPrefix", t.s3_key_prefix());
    put_bool(
        &mut doc,
        "IncludeGlobalServiceEvents",
        t.include_global_service_events(),
    );
    put_bool(&mut doc, "IsMultiRegionTrail", t.is_multi_region_trail());
    put_str(&mut doc, "HomeRegion", t.home_region());
    put_str(&mut doc, "TrailARN", t.trail_arn());
    put_bool(
        &mut doc,
        "LogFileValidationEnabled",
        t.log_file_validation_enabled(),
    );
    put_str(&mut doc, "KmsKeyId", t.kms_key_id());
    put_bool(
        &mut doc,
        "HasCustomEventSelectors",
        t.has_custom_event_selectors(),
    );
    put_bool(&mut doc, "HasInsightSelectors", t.has_insight_selectors());
    put_bool(&mut doc, "IsOrganizationTrail", t.is_organization_trail());
    Value::Object(doc)
}

/// A basic `EventSelector`.
fn event_selector(s: &EventSelector) -> Value {
    let mut doc = Map::new();
    put_str(
        &mut doc,
        "ReadWriteType",
        s.read_write_type().map(|rw| rw.as_str()),
    );
    put_bool(
        &mut doc,
        "IncludeManagementEvents",
        s.include_management_events(),
    );
    if let Some(resources) = s.data_resources.as_ref() {
        let resources: Vec<Value> = resources
            .iter()
            .map(|r| {
                let mut dr = Map::new();
                put_str(&mut dr, "Type", r.r#type.as_deref());
                put_list(&mut dr, "Values", &r.values);
                Value::Object(dr)
            })
            .collect();
        doc.insert("DataResources".into(), Value::from(resources));
    }
    put_list(
        &mut doc,
        "ExcludeManagementEventSources",
        &s.exclude_management_event_sources,
    );
    Value::Object(doc)
}

/// An `AdvancedEventSelector` with its `AdvancedFieldSelector`s, operators as sent.
fn advanced_selector(s: &AdvancedEventSelector) -> Value {
    let mut doc = Map::new();
    put_str(&mut doc, "Name", s.name());
    let fields: Vec<Value> = s
        .field_selectors()
        .iter()
        .map(|f| {
            let mut fs = Map::new();
            fs.insert("Field".into(), Value::from(f.field()));
            put_list(&mut fs, "Equals", &f.equals);
            put_list(&mut fs, "StartsWith", &f.starts_with);
            put_list(&mut fs, "EndsWith", &f.ends_with);
            put_list(&mut fs, "NotEquals", &f.not_equals);
            put_list(&mut fs, "NotStartsWith", &f.not_starts_with);
            put_list(&mut fs, "NotEndsWith", &f.not_ends_with);
            Value::Object(fs)
        })
        .collect();
    doc.insert("FieldSelectors".into(), Value::from(fields));
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsOutput;
    use aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput;
    use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
    use aws_sdk_cloudtrail::types::{
        AdvancedFieldSelector, DataResource, ReadWriteType, Trail as SdkTrail,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use keycard_core::coverage::trail_config::coverage_from_documents;

    const ARN: &str = "arn:aws:cloudtrail:us-east-2:123456789012:trail/my-trail";

    fn adapter(rules: &[&aws_smithy_mocks::Rule]) -> CloudTrailTrails {
        CloudTrailTrails::new(mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::Sequential,
            rules
        ))
    }

    /// The AWS CLI's documented describe-trails example (a multi-region trail with a key
    /// prefix), read back in the CLI's shape.
    #[tokio::test]
    async fn describe_trails_as_the_cli_prints_it() {
        let rule = mock!(aws_sdk_cloudtrail::Client::describe_trails).then_output(|| {
            DescribeTrailsOutput::builder()
                .trail_list(
                    SdkTrail::builder()
                        .name("my-trail")
                        .s3_bucket_name("amzn-s3-demo-bucket")
                        .s3_key_prefix("my-prefix")
                        .include_global_service_events(true)
                        .is_multi_region_trail(true)
                        .home_region("us-east-2")
                        .trail_arn(ARN)
                        .log_file_validation_enabled(false)
                        .has_custom_event_selectors(false)
                        .is_organization_trail(false)
                        .build(),
                )
                .build()
        });
        let doc = adapter(&[&rule]).describe_trails(&[]).await.unwrap();
        assert_eq!(
            doc,
            json!({"trailList": [{
                "Name": "my-trail",
                "S3BucketName": "amzn-s3-demo-bucket",
                "S3KeyPrefix": "my-prefix",
                "IncludeGlobalServiceEvents": true,
                "IsMultiRegionTrail": true,
                "HomeRegion": "us-east-2",
                "TrailARN": ARN,
                "LogFileValidationEnabled": false,
                "HasCustomEventSelectors": false,
                "IsOrganizationTrail": false
            }]})
        );
    }

    /// Basic selectors (the CLI's get-event-selectors example 1) keep `ReadWriteType`,
    /// data resources and the excluded sources; the core reads them as recorded.
    #[tokio::test]
    async fn basic_selectors_keep_what_the_core_reads() {
        let rule = mock!(aws_sdk_cloudtrail::Client::get_event_selectors).then_output(|| {
            GetEventSelectorsOutput::builder()
                .trail_arn(ARN)
                .event_selectors(
                    aws_sdk_cloudtrail::types::EventSelector::builder()
                        .read_write_type(ReadWriteType::All)
                        .include_management_events(true)
                        .data_resources(
                            DataResource::builder()
                                .r#type("AWS::S3::Object")
                                .values("arn:aws:s3:::amzn-s3-demo-bucket/")
                                .build(),
                        )
                        .exclude_management_event_sources("kms.amazonaws.com")
                        .build(),
                )
                .build()
        });
        let doc = adapter(&[&rule]).event_selectors(ARN).await.unwrap();
        assert_eq!(doc["EventSelectors"][0]["ReadWriteType"], "All");
        assert_eq!(
            doc["EventSelectors"][0]["DataResources"][0]["Values"],
            json!(["arn:aws:s3:::amzn-s3-demo-bucket/"])
        );
        assert!(doc.get("AdvancedEventSelectors").is_none());
        let c = coverage_from_documents(&[doc]).unwrap().coverage;
        assert!(c.data.contains_key("AWS::S3::Object"));
        assert!(c.excluded_sources.contains("kms.amazonaws.com"));
    }

    /// Advanced selectors keep only the operators that were sent: an absent `NotStartsWith`
    /// must not turn into an empty one (which the core would take for a condition it cannot
    /// evaluate).
    #[tokio::test]
    async fn advanced_selectors_keep_only_the_operators_sent() {
        let rule = mock!(aws_sdk_cloudtrail::Client::get_event_selectors).then_output(|| {
            GetEventSelectorsOutput::builder()
                .trail_arn(ARN)
                .advanced_event_selectors(
                    AdvancedEventSelector::builder()
                        .name("Log all S3 data events on one bucket")
                        .field_selectors(
                            AdvancedFieldSelector::builder()
                                .field("eventCategory")
                                .equals("Data")
                                .build()
                                .unwrap(),
                        )
                        .field_selectors(
                            AdvancedFieldSelector::builder()
                                .field("resources.type")
                                .equals("AWS::S3::Object")
                                .build()
                                .unwrap(),
                        )
                        .field_selectors(
                            AdvancedFieldSelector::builder()
                                .field("resources.ARN")
                                .starts_with("arn:aws:s3:::amzn-s3-demo-bucket/")
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
        });
        let doc = adapter(&[&rule]).event_selectors(ARN).await.unwrap();
        assert_eq!(
            doc["AdvancedEventSelectors"][0]["FieldSelectors"][2],
            json!({"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::amzn-s3-demo-bucket/"]})
        );
        let read = coverage_from_documents(&[doc]).unwrap();
        let s3 = &read.coverage.data["AWS::S3::Object"];
        assert_eq!(
            s3.arn_prefixes.as_ref().map(|p| p.len()),
            Some(1),
            "{:?}",
            read.notes
        );
    }

    #[tokio::test]
    async fn trail_status_times_are_rfc3339() {
        let rule = mock!(aws_sdk_cloudtrail::Client::get_trail_status).then_output(|| {
            GetTrailStatusOutput::builder()
                .is_logging(false)
                .stop_logging_time(DateTime::from_secs(1_790_834_232))
                .latest_delivery_error("AccessDenied")
                .build()
        });
        let doc = adapter(&[&rule]).trail_status(ARN).await.unwrap();
        assert_eq!(
            doc,
            json!({
                "IsLogging": false,
                "LatestDeliveryError": "AccessDenied",
                "StopLoggingTime": "2026-10-01T05:57:12Z"
            })
        );
        let read = coverage_from_documents(&[doc]).unwrap();
        assert!(
            read.notes.iter().any(|n| n.contains("not logging")),
            "{:?}",
            read.notes
        );
    }

    #[tokio::test]
    async fn an_unknown_trail_is_not_found() {
        let rule = mock!(aws_sdk_cloudtrail::Client::get_event_selectors).then_error(|| {
            aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsError::TrailNotFoundException(
                aws_sdk_cloudtrail::types::error::TrailNotFoundException::builder()
                    .message("Unknown trail")
                    .meta(
                        aws_sdk_cloudtrail::error::ErrorMetadata::builder()
                            .code("TrailNotFoundException")
                            .message("Unknown trail")
                            .build(),
                    )
                    .build(),
            )
        });
        let e = adapter(&[&rule]).event_selectors(ARN).await.unwrap_err();
        assert_eq!(e.code.as_deref(), Some("TrailNotFoundException"));
        assert!(e.is_not_found(), "{e:?}");
    }
}
