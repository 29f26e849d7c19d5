//! Starts Access Analyzer policy generation for one role.
//!
//! The window is the run's (fixed at discovery), the trail and access role are the
//! deployment's. The trail's regions are always named: the deployment's `KEYCARD_TRAIL_REGIONS`
//! (`*` for all), or else the region the role's stack lives in plus the one where global
//! service events are recorded (`TrailRegions::resolve`); the API documents no default. The
//! client token is derived from the execution and the role, so when this Lambda is retried
//! after a lost response Access Analyzer returns the job it already started instead of
//! spending another of the 50 daily generations. A generation already running in the account
//! (`ConflictException`) comes back as `Keycard.QuotaExceeded`, which the state machine
//! retries with its long backoff.

use crate::contract::{JobState, RoleInput, StepError, arn_field, client_token};
use keycard_aws::access_analyzer::{GenerationRequest, TrailRegions};
use keycard_aws::{Config, PolicyGeneration};

pub async fn handle<G: PolicyGeneration>(
    analyzer: &G,
    config: &Config,
    input: RoleInput,
) -> Result<JobState, StepError> {
    input.run.validate()?;
    let (trail_arn, access_role_arn) = config.generation_settings()?;
    let regions = trail_regions(config, &input)?;
    let request = GenerationRequest {
        principal_arn: input.role.role_arn.clone(),
        trail_arn: trail_arn.to_owned(),
        regions,
        access_role_arn: access_role_arn.to_owned(),
        start: input.run.window_start,
        end: input.run.window_end,
        client_token: client_token(&input.run.execution_id, &input.role.role_arn),
    };
    let job_id = analyzer.start_generation(&request).await?;
    Ok(JobState {
        job_id,
        polls: 0,
        status: "IN_PROGRESS".to_owned(),
        result_key: None,
        error_code: None,
        error_message: None,
    })
}

/// The stack's region is its ARN's when the run names stacks by ARN, the deployment's
/// otherwise (discovery reads the stacks with the deployment's CloudFormation client).
fn trail_regions(config: &Config, input: &RoleInput) -> Result<TrailRegions, StepError> {
    let stack_region = arn_field(&input.role.stack, 3).or_else(|| config.region.clone());
    let partition = arn_field(&input.role.role_arn, 1).unwrap_or_else(|| "aws".to_owned());
    TrailRegions::resolve(
        config.all_regions,
        &config.trail_regions,
        stack_region.as_slice(),
        &partition,
    )
    .ok_or_else(|| {
        StepError::InvalidInput(
            "no trail region to analyse: KEYCARD_TRAIL_REGIONS is empty and the stack's region \
             is unknown (AWS_REGION is not set)"
                .to_owned(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{QUOTA_EXCEEDED, RoleItem};
    use crate::testing::{self, World};

    fn input(w: &World, logical_id: &str, arn: &str) -> RoleInput {
        let _ = w;
        RoleInput {
            run: testing::run(),
            role: RoleItem {
                stack: testing::STACK.into(),
                logical_id: logical_id.into(),
                role_name: arn.rsplit('/').next().unwrap_or_default().into(),
                role_arn: arn.into(),
            },
            job: None,
        }
    }

    #[tokio::test]
    async fn a_retry_gets_the_same_job_and_a_second_role_waits_for_the_slot() {
        let w = World::new();
        let job = handle(
            &w.analyzer,
            &w.config,
            input(&w, "OrdersWorkerRole", &w.worker_arn),
        )
        .await
        .unwrap();
        assert_eq!((job.status.as_str(), job.polls), ("IN_PROGRESS", 0));
        let again = handle(
            &w.analyzer,
            &w.config,
            input(&w, "OrdersWorkerRole", &w.worker_arn),
        )
        .await
        .unwrap();
        assert_eq!(
            again.job_id, job.job_id,
            "the client token makes a retry idempotent"
        );
        let e = handle(&w.analyzer, &w.config, input(&w, "ApiRole", &w.api_arn))
            .await
            .unwrap_err();
        assert_eq!(e.name(), QUOTA_EXCEEDED);
        assert_eq!(w.analyzer.jobs().len(), 1);
    }
}
