//! Reads one policy generation job.
//!
//! The state machine's Choice branches on the returned `status`; the poll count lets it cancel
//! a job that takes too long. A finished job's result (which can be large: one statement per
//! service and action) goes to S3 in the API's JSON shape, and only its key travels on.

use keycard_aws::access_analyzer::JobStatus;
use keycard_aws::chain::{JobState, RoleInput, StepError, keys, stack_key_name, to_json_bytes};
use keycard_aws::{Config, ObjectStore, PolicyGeneration};

pub async fn handle<G, S>(
    analyzer: &G,
    store: &S,
    config: &Config,
    input: RoleInput,
) -> Result<JobState, StepError>
where
    G: PolicyGeneration,
    S: ObjectStore,
{
    let previous = input
        .job
        .ok_or_else(|| StepError::InvalidInput("no job to poll ($.job is missing)".into()))?;
    let job = analyzer.generated_policy(&previous.job_id).await?;
    let mut state = JobState {
        job_id: previous.job_id,
        polls: previous.polls.saturating_add(1),
        status: job.status.as_str().to_owned(),
        result_key: None,
        error_code: job.error.as_ref().map(|e| e.code.clone()),
        error_message: job.error.as_ref().map(|e| e.message.clone()),
    };
    if job.status == JobStatus::Succeeded {
        let key = keys::generated(
            &input.run.execution_name,
            stack_key_name(&input.role.stack),
            &input.role.logical_id,
        );
        store
            .put_object(
                &config.bucket,
                &key,
                to_json_bytes(&job.api_json)?,
                "application/json",
            )
            .await?;
        state.result_key = Some(key);
    }
    Ok(state)
}
