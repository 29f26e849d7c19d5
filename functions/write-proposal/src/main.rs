//! Lambda entry point of the write step; the work is in [`keycard_write_proposal::handle`].

use keycard_aws::chain::{StepError, WriteInput};
use keycard_aws::{Clients, Config};
use lambda_runtime::{Diagnostic, LambdaEvent, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let clients = Clients::load(&config).await;
    run(service_fn(|event: LambdaEvent<WriteInput>| {
        let (clients, config) = (&clients, &config);
        async move {
            keycard_write_proposal::handle(&clients.s3, config, event.payload)
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
