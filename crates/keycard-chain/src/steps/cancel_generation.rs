//! Cancels a policy generation job that ran out of polls.
//!
//! The role is then reported as timed out. Canceling frees the account's single generation
//! slot for the next role (the canceled job still counts against the daily quota). A job that
//! finished or failed between the last poll and this call cannot be canceled any more; that
//! is not an error, the role is still reported as timed out and the answer is recorded.

use crate::contract::{JobState, RoleInput, StepError};
use keycard_aws::{ErrorKind, PolicyGeneration};

pub async fn handle<G: PolicyGeneration>(
    analyzer: &G,
    input: RoleInput,
) -> Result<JobState, StepError> {
    let mut job = input
        .job
        .ok_or_else(|| StepError::InvalidInput("no job to cancel ($.job is missing)".into()))?;
    match analyzer.cancel_generation(&job.job_id).await {
        Ok(()) => {
            job.status = "CANCELED".to_owned();
        }
        Err(e) if e.is_transient() || e.kind == ErrorKind::QuotaExceeded => return Err(e.into()),
        Err(e) if e.kind == ErrorKind::AccessDenied => return Err(e.into()),
        Err(e) => {
            job.error_message = Some(format!("not canceled: {e}"));
        }
    }
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::RoleItem;
    use crate::testing::{self, World};

    #[tokio::test]
    async fn cancels_a_running_job_and_records_one_that_finished_meanwhile() {
        let w = World::new();
        let mut input = RoleInput {
            run: testing::run(),
            role: RoleItem {
                stack: testing::STACK.into(),
                logical_id: "ApiRole".into(),
                role_name: "orders-service-ApiRole-7HQ2M3N4P5R6".into(),
                role_arn: w.api_arn.clone(),
            },
            job: None,
        };
        assert!(
            handle(&w.analyzer, input.clone()).await.is_err(),
            "no job to cancel"
        );
        input.job = Some(
            crate::steps::start_generation::handle(&w.analyzer, &w.config, input.clone())
                .await
                .unwrap(),
        );
        let canceled = handle(&w.analyzer, input.clone()).await.unwrap();
        assert_eq!(canceled.status, "CANCELED");
        assert_eq!(canceled.error_message, None);
        // Canceling again: the job is no longer running, which is recorded, not an error.
        let again = handle(&w.analyzer, input).await.unwrap();
        assert!(again.error_message.unwrap().starts_with("not canceled"));
    }
}
