//! Reads one policy generation job.
//!
//! The state machine's Choice branches on the returned `status`; the poll count lets it cancel
//! a job that takes too long. A finished job's result (which can be large: one statement per
//! service and action) goes to S3 in the API's JSON shape, and only its key travels on.

use crate::contract::{
    JobState, RoleInput, StepError, check_logical_id, keys, stack_identity, to_json_bytes,
};
use keycard_aws::access_analyzer::JobStatus;
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
    input.run.validate()?;
    let stack = stack_identity(&input.role.stack)?;
    let logical_id = check_logical_id(&input.role.logical_id)?;
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
        let key = keys::generated(&input.run.execution_name, stack, logical_id);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{INVALID_INPUT, RoleItem};
    use crate::testing::{self, World};

    #[tokio::test]
    async fn polls_until_the_job_succeeds_then_stores_its_result() {
        let w = World::new();
        let mut input = RoleInput {
            run: testing::run(),
            role: RoleItem {
                stack: testing::STACK_ID.into(),
                logical_id: "OrdersWorkerRole".into(),
                role_name: "orders-service-OrdersWorkerRole-1QF8ZC7Y2T4MW".into(),
                role_arn: w.worker_arn.clone(),
            },
            job: None,
        };
        let e = handle(&w.analyzer, &w.store, &w.config, input.clone())
            .await
            .unwrap_err();
        assert_eq!(e.name(), INVALID_INPUT);
        input.job = Some(
            crate::steps::start_generation::handle(&w.analyzer, &w.config, input.clone())
                .await
                .unwrap(),
        );
        let running = handle(&w.analyzer, &w.store, &w.config, input.clone())
            .await
            .unwrap();
        assert_eq!(
            (
                running.status.as_str(),
                running.polls,
                running.result_key.as_deref()
            ),
            ("IN_PROGRESS", 1, None)
        );
        w.analyzer
            .finish_with(&w.worker_arn, testing::generated_for(&w.worker_arn));
        input.job = Some(running);
        let done = handle(&w.analyzer, &w.store, &w.config, input)
            .await
            .unwrap();
        assert_eq!((done.status.as_str(), done.polls), ("SUCCEEDED", 2));
        let key = done.result_key.unwrap();
        assert_eq!(
            key,
            "runs/2026-q4/generated/orders-service/OrdersWorkerRole.json"
        );
        assert_eq!(w.json(&key), testing::generated_for(&w.worker_arn));
    }
}
