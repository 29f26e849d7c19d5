//! Lambda entry point of the diff step; the work is in [`keycard_diff::handle`].

use keycard_aws::chain::{DiffInput, StepError};
use keycard_aws::{Clients, Config};
use lambda_runtime::{Diagnostic, LambdaEvent, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let clients = Clients::load(&config).await;
    run(service_fn(|event: LambdaEvent<DiffInput>| {
        let (clients, config) = (&clients, &config);
        async move {
            let deps = keycard_diff::Deps {
                store: &clients.s3,
                stacks: &clients.stacks,
                roles: &clients.roles,
                checks: &clients.analyzer,
            };
            keycard_diff::handle(&deps, config, event.payload)
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
