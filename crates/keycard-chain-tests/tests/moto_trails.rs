//! The CloudTrail adapter (`keycard_aws::cloudtrail`) and the CLI's trail choice
//! (`keycard_chain::trail_config`) against moto server: a trail created, given advanced event
//! selectors and started through the real SDK, read back in the AWS CLI's shapes, and turned
//! into coverage by the diff step's own reader.

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_cloudtrail::types::{AdvancedEventSelector, AdvancedFieldSelector};
use keycard_aws::{CloudTrailTrails, Trails};
use keycard_chain::trail_config::{TrailChoice, read_trail_config, with_trail_config};
use keycard_chain_tests::{moto_endpoint, moto_sdk, unique};
use keycard_core::coverage::{Basis, Coverage, ReadWrite};

fn equals(field: &str, value: &str) -> AdvancedFieldSelector {
    AdvancedFieldSelector::builder()
        .field(field)
        .equals(value)
        .build()
        .unwrap()
}

/// A logging multi-region trail delivering to a new bucket under `prefix/`, recording
/// management events and S3 object data events under one bucket ARN prefix.
async fn trail(sdk: &aws_config::SdkConfig, prefix: &str) -> (String, String) {
    let bucket = unique("trail-logs");
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
    .create_bucket()
    .bucket(&bucket)
    .send()
    .await
    .unwrap();
    let ct = aws_sdk_cloudtrail::Client::new(sdk);
    let arn = ct
        .create_trail()
        .name(format!("{bucket}-trail"))
        .s3_bucket_name(&bucket)
        .s3_key_prefix(prefix)
        .is_multi_region_trail(true)
        .include_global_service_events(true)
        .send()
        .await
        .unwrap()
        .trail_arn
        .unwrap();
    let data = AdvancedEventSelector::builder()
        .name("S3 object events of the orders bucket")
        .field_selectors(equals("eventCategory", "Data"))
        .field_selectors(equals("resources.type", "AWS::S3::Object"))
        .field_selectors(
            AdvancedFieldSelector::builder()
                .field("resources.ARN")
                .starts_with("arn:aws:s3:::orders-docs/")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let management = AdvancedEventSelector::builder()
        .name("Management events")
        .field_selectors(equals("eventCategory", "Management"))
        .build()
        .unwrap();
    ct.put_event_selectors()
        .trail_name(&arn)
        .advanced_event_selectors(management)
        .advanced_event_selectors(data)
        .send()
        .await
        .unwrap();
    ct.start_logging().name(&arn).send().await.unwrap();
    (bucket, arn)
}

#[tokio::test]
async fn the_three_documents_read_back_as_the_cli_prints_them() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let sdk = moto_sdk(&endpoint).await;
    let (bucket, arn) = trail(&sdk, "app").await;
    let trails = CloudTrailTrails::from_sdk_config(&sdk);

    // moto lists every trail of the region whatever the name list says (AWS filters);
    // read_trail_config picks the named one itself, so this finds it the same way.
    let listed = trails
        .describe_trails(std::slice::from_ref(&arn))
        .await
        .unwrap();
    let t = listed["trailList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["TrailARN"] == arn.as_str())
        .unwrap_or_else(|| panic!("{arn} not listed: {listed}"));
    assert_eq!(t["TrailARN"], arn.as_str());
    assert_eq!(t["S3BucketName"], bucket.as_str());
    assert_eq!(t["S3KeyPrefix"], "app");
    assert_eq!(t["IsMultiRegionTrail"], true);

    let selectors = trails.event_selectors(&arn).await.unwrap();
    let advanced = selectors["AdvancedEventSelectors"].as_array().unwrap();
    assert_eq!(advanced.len(), 2, "{selectors}");
    assert_eq!(
        advanced[1]["FieldSelectors"][2],
        serde_json::json!({"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::orders-docs/"]})
    );

    let status = trails.trail_status(&arn).await.unwrap();
    assert_eq!(status["IsLogging"], true, "{status}");
}

#[tokio::test]
async fn the_trail_delivering_to_the_bucket_becomes_the_coverage() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let sdk = moto_sdk(&endpoint).await;
    let (bucket, arn) = trail(&sdk, "app").await;
    let trails = CloudTrailTrails::from_sdk_config(&sdk);
    let doc = read_trail_config(
        &trails,
        TrailChoice::DeliveringTo {
            bucket: &bucket,
            prefix: "app/AWSLogs/123456789012/",
        },
    )
    .await;
    assert_eq!(doc["trail"], arn.as_str(), "{doc}");
    let mut notes = Vec::new();
    let c = with_trail_config(Some(&doc), Coverage::default(), true, &mut notes);
    assert_eq!(
        c.basis,
        Basis::TrailConfig {
            trails: vec![arn.clone()]
        },
        "{notes:?}"
    );
    assert_eq!(c.management, ReadWrite::BOTH);
    let s3 = &c.data["AWS::S3::Object"];
    assert_eq!(
        s3.arn_prefixes
            .as_ref()
            .map(|p| p.iter().cloned().collect::<Vec<_>>()),
        Some(vec!["arn:aws:s3:::orders-docs/".to_owned()])
    );
    assert_eq!(c.regions, None, "a multi-region trail records every region");
}

#[tokio::test]
async fn an_unknown_trail_leaves_the_coverage_as_it_was() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let sdk = moto_sdk(&endpoint).await;
    let trails = CloudTrailTrails::from_sdk_config(&sdk);
    let missing = format!(
        "arn:aws:cloudtrail:us-east-1:123456789012:trail/{}",
        unique("no-such-trail")
    );
    let e = trails.event_selectors(&missing).await.unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    let doc = read_trail_config(&trails, TrailChoice::Named(&missing)).await;
    assert!(doc.get("error").is_some(), "{doc}");
    let mut notes = Vec::new();
    let inferred = Coverage::default();
    assert_eq!(
        with_trail_config(Some(&doc), inferred.clone(), true, &mut notes),
        inferred
    );
    assert_eq!(notes.len(), 1, "{notes:?}");
}
