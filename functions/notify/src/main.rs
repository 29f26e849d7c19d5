//! Lambda entry point: wiring only. The handler is [`keycard_chain::steps::notify::handle`]
//! (unit-tested with in-memory adapters there, end to end against moto in
//! `crates/keycard-chain-tests` and in the local chain). EventBridge invokes it with the
//! "Step Functions Execution Status Change" event of either state machine.

// The handler's future (its S3 reads and EventBridge/SNS sends, inside `lambda_runtime`'s
// service) is nested deeper than rustc's default query depth of 128 when it computes main's
// layout ("queries overflow the depth limit!", depth 130); rustc's own suggested fix.
#![recursion_limit = "256"]
#![warn(unreachable_pub)]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, clients) = keycard_chain::lambda::init().await?;
    let settings = keycard_chain::steps::notify::NotifySettings::from_env()?;
    let notify = keycard_aws::NotifyClients::load().await;
    keycard_chain::lambda::serve(|event| {
        keycard_chain::steps::notify::handle(
            &clients.s3,
            &notify.events,
            &notify.topic,
            &config,
            &settings,
            event,
        )
    })
    .await
}
