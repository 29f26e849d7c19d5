//! The template engine's grants → the proposal's model, and the plan → template edits.

use super::{Proposal, ProposalError, ProposalInput};

/// Loads the template, plans, rewrites, checks and reports.
pub fn propose(input: &ProposalInput) -> Result<Proposal, ProposalError> {
    let _ = input;
    Err(ProposalError::Option(
        "template engine not integrated yet".into(),
    ))
}
