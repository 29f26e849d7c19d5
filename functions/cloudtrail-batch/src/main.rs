//! Lambda entry point: wiring only. The handler is [`keycard_chain::cloudtrail::scan_batch`] (unit-tested
//! with in-memory adapters there, end to end against moto in `crates/keycard-chain-tests`).

// The handler's future (the streamed scan's concurrent ranged S3 reads inside `lambda_runtime`'s service) is nested deeper
// than rustc's default query depth of 128 when it computes main's layout ("queries overflow the
// depth limit!", depth 130); rustc's own suggested fix.
#![recursion_limit = "256"]
#![warn(unreachable_pub)]

use keycard_chain::cloudtrail::{BatchEvent, TrailGrant, scan_batch};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, clients) = keycard_chain::lambda::init().await?;
    // The trail bucket the stack was granted, and its owner stated on every request to it;
    // a batch naming another bucket (an edited state) is refused like the plan refuses it.
    let grant = TrailGrant::from_env()?;
    let s3 = grant.store(clients.s3.clone());
    let (s3, grant, bucket) = (&s3, &grant, &config.bucket);
    keycard_chain::lambda::serve(|input: BatchEvent| async move {
        grant.check(&input.settings.trail)?;
        scan_batch(s3, bucket, input).await
    })
    .await
}
