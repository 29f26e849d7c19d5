//! Lambda entry point: wiring only. The handler is [`keycard_chain::steps::diff::handle`] (unit-tested
//! with in-memory adapters there, end to end against moto in `crates/keycard-chain-tests`).

#![warn(unreachable_pub)]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, clients) = keycard_chain::lambda::init().await?;
    let deps = keycard_chain::steps::diff::Deps {
        store: &clients.s3,
        stacks: &clients.stacks,
        roles: &clients.roles,
        checks: &clients.analyzer,
    };
    keycard_chain::lambda::serve(|input| keycard_chain::steps::diff::handle(&deps, &config, input))
        .await
}
