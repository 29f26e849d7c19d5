//! Lambda entry point: wiring only. The handler is [`keycard_chain::steps::cancel_generation::handle`] (unit-tested
//! with in-memory adapters there, end to end against moto in `crates/keycard-chain-tests`).

#![warn(unreachable_pub)]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Only Access Analyzer is used; the configuration (the bucket) is still required so that
    // every function fails the same way when the deployment is misconfigured.
    let (_config, clients) = keycard_chain::lambda::init().await?;
    keycard_chain::lambda::serve(|input| {
        keycard_chain::steps::cancel_generation::handle(&clients.analyzer, input)
    })
    .await
}
