//! Starts Access Analyzer policy generation for one role.
//!
//! The window is the run's (fixed at discovery), the trail and access role are the
//! deployment's. The client token is derived from the execution and the role, so when this
//! Lambda is retried after a lost response Access Analyzer returns the job it already started
//! instead of spending another of the 50 daily generations.

use keycard_aws::access_analyzer::GenerationRequest;
use keycard_aws::chain::{JobState, RoleInput, StepError, client_token};
use keycard_aws::{Config, PolicyGeneration};

pub async fn handle<G: PolicyGeneration>(
    analyzer: &G,
    config: &Config,
    input: RoleInput,
) -> Result<JobState, StepError> {
    let (trail_arn, access_role_arn) = config.generation_settings()?;
    let request = GenerationRequest {
        principal_arn: input.role.role_arn.clone(),
        trail_arn: trail_arn.to_owned(),
        regions: config.trail_regions.clone(),
        all_regions: config.all_regions,
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
