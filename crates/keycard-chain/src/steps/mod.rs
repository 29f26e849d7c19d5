//! The step handlers of Access Analyzer mode (and the diff, write and summary steps both modes
//! share), in the order the state machine runs them. CloudTrail mode's own steps are in
//! [`crate::cloudtrail`].

pub mod cancel_generation;
pub mod diff;
pub mod discover;
pub mod notify;
pub mod poll_generation;
pub mod start_generation;
pub mod summarize;
pub mod write_proposal;
