//! The one wiring of a step handler to the Lambda runtime.
//!
//! Every `functions/*/src/main.rs` calls [`init`] and then [`serve`] with its handler, so the
//! input is read and the error is named the same way in every step:
//! * the event is taken as raw JSON and parsed here into the handler's input type, so a
//!   malformed input fails as `Keycard.InvalidInput` (which the state machine catches) instead
//!   of the runtime's own deserialization error, which no Catch names;
//! * a [`StepError`] becomes a [`Diagnostic`] whose `errorType` is [`StepError::name`]: the
//!   name the ASL's Retry and Catch match.

use std::future::Future;

use keycard_aws::{Clients, Config};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::contract::{StepError, parse_value};

/// Logging, the deployment's configuration (`Config::from_env`, which fails the cold start
/// with a clear message when a variable is missing or out of range) and the SDK clients.
pub async fn init() -> Result<(Config, Clients), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let clients = Clients::load(&config).await;
    Ok((config, clients))
}

/// Runs `handler` for every invocation until the runtime stops.
pub async fn serve<In, Out, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    In: DeserializeOwned,
    Out: Serialize,
    F: Fn(In) -> Fut,
    Fut: Future<Output = Result<Out, StepError>>,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        invoke(handler, event.payload).await.map_err(diagnostic)
    }))
    .await
}

/// One invocation: the input parsed at the door, then the handler.
pub async fn invoke<In, Out, F, Fut>(handler: &F, payload: Value) -> Result<Out, StepError>
where
    In: DeserializeOwned,
    F: Fn(In) -> Fut,
    Fut: Future<Output = Result<Out, StepError>>,
{
    let input: In = parse_value("the step's input", payload)?;
    handler(input).await
}

/// The error response Step Functions sees: `errorType` is what Retry/Catch match.
pub fn diagnostic(e: StepError) -> Diagnostic {
    Diagnostic {
        error_type: e.name().to_owned(),
        error_message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{INVALID_INPUT, RoleInput};

    async fn echo(input: RoleInput) -> Result<String, StepError> {
        Ok(input.role.logical_id)
    }

    #[tokio::test]
    async fn a_malformed_input_is_a_named_invalid_input() {
        let e = invoke(&echo, serde_json::json!({"run": 3}))
            .await
            .unwrap_err();
        let d = diagnostic(e);
        assert_eq!(d.error_type, INVALID_INPUT);
        assert!(
            d.error_message.contains("the step's input"),
            "{}",
            d.error_message
        );
    }
}
