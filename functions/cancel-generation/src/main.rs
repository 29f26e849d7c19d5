//! Lambda entry point of this step; the work is in [`keycard_cancel_generation::handle`].

use keycard_aws::chain::{RoleInput, StepError};
use keycard_aws::{Clients, Config};
use lambda_runtime::{Diagnostic, LambdaEvent, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // Only the Access Analyzer client is used; the bucket is still required so that every
    // function fails the same way when the deployment is misconfigured.
    let config = Config::from_env()?;
    let clients = Clients::load(&config).await;
    run(service_fn(|event: LambdaEvent<RoleInput>| {
        let clients = &clients;
        async move {
            keycard_cancel_generation::handle(&clients.analyzer, event.payload)
                .await
                .map_err(diagnostic)
        }
    }))
    .await
}

/// The error name is what the state machine's Retry/Catch match.
fn diagnostic(e: StepError) -> Diagnostic {
    Diagnostic {
        error_type: e.name().to_owned(),
        error_message: e.to_string(),
    }
}
