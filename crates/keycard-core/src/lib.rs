//! keycard's pure core: everything that decides, nothing that talks to AWS.
//!
//! The AWS adapters (`keycard-aws`), the Lambdas (`functions/`) and the CLI (`keycard`) all call
//! into this crate, so a proposal made on a laptop from a folder of CloudTrail logs and one made
//! by the deployed Step Functions chain come from the same code.

#![warn(unreachable_pub)]

pub mod access_analyzer;
pub mod catalog;
pub mod check;
pub mod cloudtrail;
pub mod coverage;
pub mod ledger;
pub mod limited_read;
pub mod managed_policies;
pub mod policy;
pub mod proposal;
pub mod report;
pub mod risk;
pub mod sam_connector_profiles;
pub mod sam_policy_templates;
pub mod template;
pub mod usage;
