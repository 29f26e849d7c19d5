//! Lambda entry point: wiring only. The handler is [`keycard_chain::cloudtrail::reduce()`]
//! (unit-tested with in-memory adapters there, end to end against moto in
//! `crates/keycard-chain-tests`).

// The handler's future (reduce's concurrent S3 fetches inside `lambda_runtime`'s service) is
// nested deeper than rustc's default query depth of 128 when it computes main's layout
// ("queries overflow the depth limit!", depth 130); rustc's own suggested fix.
#![recursion_limit = "256"]
#![warn(unreachable_pub)]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, clients) = keycard_chain::lambda::init().await?;
    keycard_chain::lambda::serve(|input| {
        keycard_chain::cloudtrail::reduce(&clients.s3, &config.bucket, input)
    })
    .await
}
