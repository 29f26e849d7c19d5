//! keycard's Step Functions chain, apart from AWS itself.
//!
//! * [`contract`]: what travels between the states — payloads, the output bucket's key
//!   layout, the `Keycard.*` error names the ASL's Retry/Catch match;
//! * [`steps`] and [`cloudtrail`]: every step handler, a plain async function over the small
//!   capability traits of `keycard_aws` (`ObjectStore`, `Stacks`, `Roles`,
//!   `PolicyGeneration`, `PolicyChecks`). The SDK adapters run them in AWS and against moto;
//!   the in-memory adapters (`keycard_aws::memory`) run them in unit tests;
//! * [`stack_input`]: a deployed stack as the pipeline's input, one builder for the diff step
//!   and the CLI's AWS mode;
//! * [`trail_config`]: the trail's configuration read for the CLI's AWS mode, into the same
//!   document the state machine's SDK tasks give the diff step;
//! * `lambda` (feature `lambda`): the one wiring of a handler to `lambda_runtime`, so each
//!   `functions/*/src/main.rs` is a few lines and every step reports errors the same way.
//!
//! Nothing here calls the AWS SDK directly: that is `keycard_aws`, which holds only adapters.

#![warn(unreachable_pub)]

pub mod cloudtrail;
pub mod contract;
pub mod discovery;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod stack_input;
pub mod steps;
#[cfg(test)]
mod testing;
pub mod trail_config;
