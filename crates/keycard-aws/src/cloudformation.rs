//! The deployed side of a stack: its resources, both stages of its template, and drift.
//!
//! The proposal edits the **Original** template (where SAM `Policies` are written) but SAM's
//! generated roles (`<Function>Role`) only exist in the **Processed** one, so the diff step
//! reads both. Drift detection is asynchronous on AWS's side: discovery starts it, the diff
//! step, minutes later, reads the result.

use std::future::Future;

use aws_sdk_cloudformation::types::TemplateStage as SdkStage;

use crate::error::AwsError;

const SERVICE: &str = "cloudformation";

/// One resource of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResource {
    pub logical_id: String,
    /// Physical id; `None` while a resource is being created or after a failed create.
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: Option<String>,
}

/// DetectStackDrift takes 1 to 200 `LogicalResourceIds` (CloudFormation API reference, and
/// botocore's cloudformation model: `LogicalResourceIds` min 1, max 200).
pub const MAX_DRIFT_RESOURCES: usize = 200;

/// Which stage of a stack's template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateStage {
    /// As submitted (with `Transform`).
    Original,
    /// After transforms (SAM resources expanded).
    Processed,
}

/// Where a drift detection is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftDetection {
    /// `DETECTION_IN_PROGRESS`, `DETECTION_COMPLETE` or `DETECTION_FAILED`.
    pub detection_status: String,
    /// `DRIFTED`, `IN_SYNC`, `NOT_CHECKED` or `UNKNOWN`, once detection has finished.
    pub stack_drift_status: Option<String>,
    pub reason: Option<String>,
}

impl DriftDetection {
    /// Whether resource drifts can be read now (a failed detection may still have checked
    /// some resources, so it counts as finished too).
    pub fn finished(&self) -> bool {
        self.detection_status != "DETECTION_IN_PROGRESS"
    }
}

/// One resource's drift.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResourceDrift {
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    /// `IN_SYNC`, `MODIFIED`, `DELETED` or `NOT_CHECKED`.
    pub status: String,
    pub differences: Vec<PropertyDifference>,
}

/// One property that differs between the template and the live resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PropertyDifference {
    pub path: String,
    /// `ADD`, `REMOVE` or `NOT_EQUAL`.
    pub difference: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
}

/// Read access to CloudFormation stacks, plus starting drift detection (a read-only check of
/// the live resources; it changes nothing).
pub trait Stacks: Send + Sync {
    /// Every resource of the stack, across all pages of ListStackResources.
    fn stack_resources(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<StackResource>, AwsError>> + Send;

    fn template(
        &self,
        stack: &str,
        stage: TemplateStage,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;

    /// Starts drift detection of the stack's resources named in `logical_ids` (DetectStackDrift
    /// `LogicalResourceIds`, 1 to [`MAX_DRIFT_RESOURCES`]; empty: every resource); returns its
    /// id. CloudFormation reads each checked resource with the caller's permissions, so a
    /// caller that may read only some resource types names those resources.
    fn detect_drift(
        &self,
        stack: &str,
        logical_ids: &[String],
    ) -> impl Future<Output = Result<String, AwsError>> + Send;

    fn drift_detection(
        &self,
        detection_id: &str,
    ) -> impl Future<Output = Result<DriftDetection, AwsError>> + Send;

    /// Drift of every resource of the stack (the last completed detection), all pages.
    fn resource_drifts(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<ResourceDrift>, AwsError>> + Send;
}

/// [`Stacks`] over the CloudFormation SDK.
#[derive(Debug, Clone)]
pub struct CfnStacks {
    client: aws_sdk_cloudformation::Client,
}

impl CfnStacks {
    pub fn new(client: aws_sdk_cloudformation::Client) -> Self {
        CfnStacks { client }
    }
}

impl Stacks for CfnStacks {
    async fn stack_resources(&self, stack: &str) -> Result<Vec<StackResource>, AwsError> {
        let mut pages = self
            .client
            .list_stack_resources()
            .stack_name(stack)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| not_found_if_missing("ListStackResources", e))?;
            for r in page.stack_resource_summaries() {
                let (Some(logical_id), Some(resource_type)) =
                    (r.logical_resource_id(), r.resource_type())
                else {
                    return Err(AwsError::malformed(
                        SERVICE,
                        "ListStackResources",
                        "a resource summary without LogicalResourceId or ResourceType",
                    ));
                };
                out.push(StackResource {
                    logical_id: logical_id.to_owned(),
                    physical_id: r.physical_resource_id().map(str::to_owned),
                    resource_type: resource_type.to_owned(),
                    status: r.resource_status().map(|s| s.as_str().to_owned()),
                });
            }
        }
        Ok(out)
    }

    async fn template(&self, stack: &str, stage: TemplateStage) -> Result<String, AwsError> {
        let sdk_stage = match stage {
            TemplateStage::Original => SdkStage::Original,
            TemplateStage::Processed => SdkStage::Processed,
        };
        let out = self
            .client
            .get_template()
            .stack_name(stack)
            .template_stage(sdk_stage)
            .send()
            .await
            .map_err(|e| not_found_if_missing("GetTemplate", e))?;
        out.template_body
            .ok_or_else(|| AwsError::malformed(SERVICE, "GetTemplate", "no TemplateBody"))
    }

    async fn detect_drift(&self, stack: &str, logical_ids: &[String]) -> Result<String, AwsError> {
        let out = self
            .client
            .detect_stack_drift()
            .stack_name(stack)
            .set_logical_resource_ids((!logical_ids.is_empty()).then(|| logical_ids.to_vec()))
            .send()
            .await
            .map_err(|e| not_found_if_missing("DetectStackDrift", e))?;
        out.stack_drift_detection_id.ok_or_else(|| {
            AwsError::malformed(SERVICE, "DetectStackDrift", "no StackDriftDetectionId")
        })
    }

    async fn drift_detection(&self, detection_id: &str) -> Result<DriftDetection, AwsError> {
        let out = self
            .client
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(detection_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeStackDriftDetectionStatus", e))?;
        let status = out.detection_status.ok_or_else(|| {
            AwsError::malformed(
                SERVICE,
                "DescribeStackDriftDetectionStatus",
                "no DetectionStatus",
            )
        })?;
        Ok(DriftDetection {
            detection_status: status.as_str().to_owned(),
            stack_drift_status: out.stack_drift_status.map(|s| s.as_str().to_owned()),
            reason: out.detection_status_reason,
        })
    }

    async fn resource_drifts(&self, stack: &str) -> Result<Vec<ResourceDrift>, AwsError> {
        let mut pages = self
            .client
            .describe_stack_resource_drifts()
            .stack_name(stack)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| not_found_if_missing("DescribeStackResourceDrifts", e))?;
            for d in page.stack_resource_drifts() {
                out.push(ResourceDrift {
                    logical_id: d.logical_resource_id().unwrap_or_default().to_owned(),
                    physical_id: d.physical_resource_id().map(str::to_owned),
                    resource_type: d.resource_type().unwrap_or_default().to_owned(),
                    status: d
                        .stack_resource_drift_status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_else(|| "UNKNOWN".to_owned()),
                    differences: d
                        .property_differences()
                        .iter()
                        .map(|p| PropertyDifference {
                            path: p.property_path().unwrap_or_default().to_owned(),
                            difference: p
                                .difference_type()
                                .map(|t| t.as_str().to_owned())
                                .unwrap_or_default(),
                            expected: p.expected_value().map(str::to_owned),
                            actual: p.actual_value().map(str::to_owned),
                        })
                        .collect(),
                });
            }
        }
        Ok(out)
    }
}

/// CloudFormation reports a missing stack as a `ValidationError` ("Stack with id X does not
/// exist"); callers need to tell that apart from a malformed request.
fn not_found_if_missing<E>(
    operation: &'static str,
    err: aws_sdk_cloudformation::error::SdkError<
        E,
        aws_sdk_cloudformation::config::http::HttpResponse,
    >,
) -> AwsError
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    let mut e = AwsError::from_sdk(SERVICE, operation, err);
    if e.code.as_deref() == Some("ValidationError") && e.message.contains("does not exist") {
        e.kind = crate::error::ErrorKind::NotFound;
    }
    e
}
