//! Cancels a policy generation job that ran out of polls.
//!
//! The role is then reported as timed out. Canceling frees the account's single generation
//! slot for the next role (the canceled job still counts against the daily quota). A job that
//! finished or failed between the last poll and this call cannot be canceled any more; that
//! is not an error, the role is still reported as timed out and the answer is recorded.

use keycard_aws::chain::{JobState, RoleInput, StepError};
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
