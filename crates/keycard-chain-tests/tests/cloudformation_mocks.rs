//! CloudFormation calls moto cannot answer (drift detection) or does not paginate: the
//! adapter against SDK mocks.

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::operation::describe_stack_drift_detection_status::DescribeStackDriftDetectionStatusOutput;
use aws_sdk_cloudformation::operation::detect_stack_drift::{
    DetectStackDriftError, DetectStackDriftOutput,
};
use aws_sdk_cloudformation::operation::list_stack_resources::ListStackResourcesOutput;
use aws_sdk_cloudformation::types::{
    ResourceStatus, StackDriftDetectionStatus, StackResourceSummary,
};
use aws_smithy_mocks::mock;
use keycard_aws::{ErrorKind, Stacks};
use keycard_chain_tests::mock_stacks;

fn summary(id: &str, ty: &str, physical: Option<&str>) -> StackResourceSummary {
    StackResourceSummary::builder()
        .logical_resource_id(id)
        .resource_type(ty)
        .set_physical_resource_id(physical.map(str::to_owned))
        .resource_status(ResourceStatus::CreateComplete)
        .last_updated_timestamp(aws_sdk_cloudformation::primitives::DateTime::from_secs(
            1_790_000_000,
        ))
        .build()
}

#[tokio::test]
async fn stack_resources_follow_every_page() {
    let list = mock!(Client::list_stack_resources)
        .match_requests(|r| r.stack_name() == Some("orders-service"))
        .sequence()
        .output(|| {
            ListStackResourcesOutput::builder()
                .stack_resource_summaries(summary(
                    "ApiFunctionRole",
                    "AWS::IAM::Role",
                    Some("orders-service-ApiFunctionRole-8J2KD0WQ5LRX"),
                ))
                .next_token("eyJwYWdlIjoyfQ==")
                .build()
        })
        .output(|| {
            ListStackResourcesOutput::builder()
                .stack_resource_summaries(summary("OrdersQueue", "AWS::SQS::Queue", None))
                .build()
        })
        .build();
    let stacks = mock_stacks(&[&list]);
    let resources = stacks.stack_resources("orders-service").await.unwrap();
    assert_eq!(list.num_calls(), 2);
    let ids: Vec<(&str, Option<&str>)> = resources
        .iter()
        .map(|r| (r.logical_id.as_str(), r.physical_id.as_deref()))
        .collect();
    assert_eq!(
        ids,
        vec![
            (
                "ApiFunctionRole",
                Some("orders-service-ApiFunctionRole-8J2KD0WQ5LRX")
            ),
            ("OrdersQueue", None)
        ]
    );
    assert_eq!(resources[0].status.as_deref(), Some("CREATE_COMPLETE"));
}

#[tokio::test]
async fn drift_detection_start_and_progress() {
    // The detection is limited to the resources named (LogicalResourceIds).
    let detect = mock!(Client::detect_stack_drift)
        .match_requests(|r| {
            r.stack_name() == Some("orders-service")
                && r.logical_resource_ids() == ["OrdersWorkerRole".to_owned()]
        })
        .then_output(|| {
            DetectStackDriftOutput::builder()
                .stack_drift_detection_id("b1e4a7c0-2f3d-11f1-9a8b-0e5c7d9f1a23")
                .build()
        });
    let status = mock!(Client::describe_stack_drift_detection_status)
        .sequence()
        .output(|| {
            DescribeStackDriftDetectionStatusOutput::builder()
                .stack_id(
                    "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-service/0f1e2d3c",
                )
                .stack_drift_detection_id("b1e4a7c0-2f3d-11f1-9a8b-0e5c7d9f1a23")
                .detection_status(StackDriftDetectionStatus::DetectionInProgress)
                .build()
        })
        .output(|| {
            DescribeStackDriftDetectionStatusOutput::builder()
                .stack_id(
                    "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-service/0f1e2d3c",
                )
                .stack_drift_detection_id("b1e4a7c0-2f3d-11f1-9a8b-0e5c7d9f1a23")
                .detection_status(StackDriftDetectionStatus::DetectionFailed)
                .detection_status_reason(
                    "Failed to detect drift on resource [OrdersTopic]: unsupported resource type",
                )
                .build()
        })
        .build();
    let stacks = mock_stacks(&[&detect, &status]);
    let id = stacks
        .detect_drift("orders-service", &["OrdersWorkerRole".to_owned()])
        .await
        .unwrap();
    assert_eq!(id, "b1e4a7c0-2f3d-11f1-9a8b-0e5c7d9f1a23");
    let first = stacks.drift_detection(&id).await.unwrap();
    assert_eq!(first.detection_status, "DETECTION_IN_PROGRESS");
    assert!(!first.finished());
    // A failed detection may still have checked some resources: it counts as finished.
    let second = stacks.drift_detection(&id).await.unwrap();
    assert_eq!(second.detection_status, "DETECTION_FAILED");
    assert!(second.finished());
    assert!(
        second
            .reason
            .as_deref()
            .unwrap()
            .contains("unsupported resource type")
    );
}

#[tokio::test]
async fn drift_detection_refused_is_classified() {
    let detect = mock!(Client::detect_stack_drift).then_error(|| {
        DetectStackDriftError::generic(
            aws_sdk_cloudformation::error::ErrorMetadata::builder()
                .code("ValidationError")
                .message("Stack with id orders-service does not exist")
                .build(),
        )
    });
    let stacks = mock_stacks(&[&detect]);
    let e = stacks
        .detect_drift("orders-service", &[])
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
}
