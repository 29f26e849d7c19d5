//! Lambda entry point: wiring only. The handler is [`keycard_chain::cloudtrail::plan()`]
//! (unit-tested with in-memory adapters there, end to end against moto in
//! `crates/keycard-chain-tests`).

#![warn(unreachable_pub)]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, clients) = keycard_chain::lambda::init().await?;
    // The trail bucket the stack was granted, and its owner stated on every request to it.
    let grant = keycard_chain::cloudtrail::TrailGrant::from_env()?;
    let s3 = grant.store(clients.s3.clone());
    keycard_chain::lambda::serve(|input| {
        keycard_chain::cloudtrail::plan(&s3, &config.bucket, &grant, input)
    })
    .await
}
