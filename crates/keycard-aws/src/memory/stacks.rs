//! CloudFormation in memory: stacks by name or id, templates, resources and drift.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::cloudformation::{DriftDetection, ResourceDrift, StackResource, Stacks, TemplateStage};
use crate::error::{AwsError, ErrorKind};

use super::{error, lock};

/// One stack of [`MemoryStacks`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStack {
    pub name: String,
    /// The stack id (its ARN); CloudFormation accepts either as `StackName`.
    pub stack_id: String,
    pub resources: Vec<StackResource>,
    pub original: String,
    /// The template after transforms; the original when none is set (a plain template).
    pub processed: Option<String>,
    /// What the next drift detection finds.
    pub drifts: Vec<ResourceDrift>,
}

/// CloudFormation in memory.
#[derive(Debug, Default)]
pub struct MemoryStacks {
    stacks: Mutex<Vec<MemoryStack>>,
    detections: Mutex<BTreeMap<String, (String, DriftDetection)>>,
    /// Every DetectStackDrift request: the stack and its `LogicalResourceIds`.
    drift_requests: Mutex<Vec<(String, Vec<String>)>>,
}

impl MemoryStacks {
    pub fn add(&self, stack: MemoryStack) {
        lock(&self.stacks).push(stack);
    }

    /// The drift detections started so far: stack name and the resources asked for (empty:
    /// the whole stack).
    pub fn drift_requests(&self) -> Vec<(String, Vec<String>)> {
        lock(&self.drift_requests).clone()
    }

    fn find(&self, operation: &'static str, stack: &str) -> Result<MemoryStack, AwsError> {
        lock(&self.stacks)
            .iter()
            .find(|s| s.name == stack || s.stack_id == stack)
            .cloned()
            .ok_or_else(|| {
                // CloudFormation's answer for a missing stack is a 400 ValidationError "Stack
                // with id X does not exist"; the SDK adapter classifies it as NotFound.
                error(
                    "cloudformation",
                    operation,
                    ErrorKind::NotFound,
                    "ValidationError",
                    format!("Stack with id {stack} does not exist"),
                )
            })
    }
}

impl Stacks for MemoryStacks {
    async fn stack_resources(&self, stack: &str) -> Result<Vec<StackResource>, AwsError> {
        Ok(self.find("ListStackResources", stack)?.resources)
    }

    async fn template(&self, stack: &str, stage: TemplateStage) -> Result<String, AwsError> {
        let s = self.find("GetTemplate", stack)?;
        Ok(match stage {
            TemplateStage::Original => s.original,
            TemplateStage::Processed => s.processed.unwrap_or(s.original),
        })
    }

    async fn detect_drift(&self, stack: &str, logical_ids: &[String]) -> Result<String, AwsError> {
        let s = self.find("DetectStackDrift", stack)?;
        if logical_ids.len() > crate::cloudformation::MAX_DRIFT_RESOURCES {
            return Err(error(
                "cloudformation",
                "DetectStackDrift",
                ErrorKind::InvalidRequest,
                "ValidationError",
                format!(
                    "LogicalResourceIds: {} members, at most 200",
                    logical_ids.len()
                ),
            ));
        }
        lock(&self.drift_requests).push((s.name.clone(), logical_ids.to_vec()));
        let mut detections = lock(&self.detections);
        let id = format!("{:08x}-drift-{}", detections.len() + 1, s.name);
        let drifted = s.drifts.iter().any(|d| d.status != "IN_SYNC");
        detections.insert(
            id.clone(),
            (
                s.name,
                DriftDetection {
                    detection_status: "DETECTION_COMPLETE".to_owned(),
                    stack_drift_status: Some(
                        if drifted { "DRIFTED" } else { "IN_SYNC" }.to_owned(),
                    ),
                    reason: None,
                },
            ),
        );
        Ok(id)
    }

    async fn drift_detection(&self, detection_id: &str) -> Result<DriftDetection, AwsError> {
        lock(&self.detections)
            .get(detection_id)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| {
                error(
                    "cloudformation",
                    "DescribeStackDriftDetectionStatus",
                    ErrorKind::InvalidRequest,
                    "ValidationError",
                    format!("Drift detection {detection_id} does not exist"),
                )
            })
    }

    async fn resource_drifts(&self, stack: &str) -> Result<Vec<ResourceDrift>, AwsError> {
        Ok(self.find("DescribeStackResourceDrifts", stack)?.drifts)
    }
}
