//! A stack's roles as Access Analyzer and the usage engine see them: logical id, IAM name and
//! full ARN (with its path).
//!
//! Shared by the discovery Lambda and the CLI's AWS mode (`keycard propose --stack`), so both
//! resolve a stack's roles the same way: the `AWS::IAM::Role` resources of ListStackResources,
//! in logical-id order, each physical name read back from IAM (GetRole) because only IAM knows
//! the role's path, which is part of the ARN CloudTrail records.

use crate::contract::{RoleItem, SkippedRole};
use keycard_aws::cloudformation::StackResource;
use keycard_aws::error::AwsError;
use keycard_aws::iam::Roles;

/// The resource type whose instances are analysed.
pub const ROLE_TYPE: &str = "AWS::IAM::Role";

/// The roles among `resources` (one stack's, named `stack` in the results), in logical-id
/// order so that which roles fit a generation budget never depends on the API's order. A
/// role without a physical id yet, or deleted from IAM since, is skipped with the reason;
/// any other IAM failure is returned.
pub async fn stack_roles<R: Roles>(
    roles: &R,
    stack: &str,
    resources: &[StackResource],
) -> Result<(Vec<RoleItem>, Vec<SkippedRole>), AwsError> {
    let mut sorted: Vec<&StackResource> = resources
        .iter()
        .filter(|r| r.resource_type == ROLE_TYPE)
        .collect();
    sorted.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    for r in sorted {
        let Some(physical) = r.physical_id.as_deref() else {
            skipped.push(SkippedRole {
                stack: stack.to_owned(),
                logical_id: r.logical_id.clone(),
                role_arn: None,
                reason: format!(
                    "no physical role yet (resource status {})",
                    r.status.as_deref().unwrap_or("unknown")
                ),
            });
            continue;
        };
        match roles.role(physical).await {
            Ok(info) => found.push(RoleItem {
                stack: stack.to_owned(),
                logical_id: r.logical_id.clone(),
                role_name: info.name,
                role_arn: info.arn,
            }),
            Err(e) if e.is_not_found() => skipped.push(SkippedRole {
                stack: stack.to_owned(),
                logical_id: r.logical_id.clone(),
                role_arn: None,
                reason: format!("role {physical} no longer exists in IAM"),
            }),
            Err(e) => return Err(e),
        }
    }
    Ok((found, skipped))
}
