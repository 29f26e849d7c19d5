//! Lambda entry point: wiring only. The handler is [`keycard_chain::steps::summarize::handle`] (unit-tested
//! with in-memory adapters there, end to end against moto in `crates/keycard-chain-tests`).

#![warn(unreachable_pub)]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, clients) = keycard_chain::lambda::init().await?;
    keycard_chain::lambda::serve(|input| {
        keycard_chain::steps::summarize::handle(&clients.s3, &config, input)
    })
    .await
}
