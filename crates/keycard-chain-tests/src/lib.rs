//! Shared helpers of the chain's tests: moto server, Access Analyzer responses, external tools.
//!
//! moto implements S3, CloudFormation (plain templates) and IAM over HTTP, so the adapters and
//! handlers are tested against it exactly as they run in AWS. Access Analyzer and drift
//! detection have no local implementation: those tests use aws-smithy-mocks with responses
//! shaped like the real API (raw REST-JSON bodies for Access Analyzer, so the SDK's own
//! deserializer reads them).

#![warn(unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use keycard_aws::{Clients, Config};

/// The repository root (this crate is `crates/keycard-chain-tests`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether a missing external tool or service must fail the test instead of skipping it.
pub fn tools_required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("KEYCARD_REQUIRE_TOOLS").is_some()
}

/// `.venv/bin/<name>` or `node_modules/.bin/<name>`, or `None` (with a skip notice) when it is
/// not installed and tools are not required.
///
/// # Panics
/// When the tool is missing and `CI` or `KEYCARD_REQUIRE_TOOLS` is set.
pub fn tool(name: &str) -> Option<PathBuf> {
    let root = repo_root();
    for dir in [".venv/bin", "node_modules/.bin"] {
        let p = root.join(dir).join(name);
        if p.exists() {
            return Some(p);
        }
    }
    assert!(
        !tools_required(),
        "{name} is not installed in .venv/bin or node_modules/.bin (run scripts/test)"
    );
    eprintln!("SKIP: {name} is not installed (run scripts/test to install the test tools)");
    None
}

/// moto server's endpoint from `AWS_ENDPOINT_URL` (set by scripts/test), or `None` with a
/// skip notice.
///
/// # Panics
/// When it is unset and `CI` or `KEYCARD_REQUIRE_TOOLS` is set.
pub fn moto_endpoint() -> Option<String> {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !tools_required(),
                "AWS_ENDPOINT_URL is not set: these tests need moto server (scripts/test starts it)"
            );
            eprintln!(
                "SKIP: AWS_ENDPOINT_URL is not set; start moto (.venv/bin/moto_server -H 127.0.0.1 -p 5123) and export AWS_ENDPOINT_URL=http://127.0.0.1:5123"
            );
            None
        }
    }
}

/// A name no other test (or earlier run against the same moto) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The app's configuration for a test, built the same way the Lambdas build theirs.
pub fn config(bucket: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars: BTreeMap<String, String> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    vars.insert("KEYCARD_BUCKET".into(), bucket.into());
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
        vars.entry("AWS_ENDPOINT_URL".into()).or_insert(url);
    }
    match Config::from_map(&vars) {
        Ok(c) => c,
        Err(e) => panic!("test configuration: {e}"),
    }
}

/// The SDK configuration for moto: fixed test credentials and region, one attempt per call
/// (moto answers unimplemented operations with 500, which would otherwise be retried).
pub async fn moto_sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .load()
        .await
}

/// The app's clients against moto, plus a bucket created for the test.
pub async fn moto_clients(endpoint: &str) -> (Clients, Config, aws_config::SdkConfig) {
    let sdk = moto_sdk(endpoint).await;
    let bucket = unique("keycard-out");
    let config = config(&bucket, &[]);
    let clients = Clients::from_sdk_config(&sdk, &config);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    if let Err(e) = s3.create_bucket().bucket(&bucket).send().await {
        panic!("create bucket {bucket}: {e:?}");
    }
    (clients, config, sdk)
}

/// Creates a stack from a plain CloudFormation template (moto never expands SAM).
pub async fn create_stack(sdk: &aws_config::SdkConfig, name: &str, template: &str) {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    if let Err(e) = cfn
        .create_stack()
        .stack_name(name)
        .template_body(template)
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam)
        .send()
        .await
    {
        panic!("create stack {name}: {e:?}");
    }
}

/// A REST-JSON response as Access Analyzer sends it; `error_type` sets `x-amzn-errortype`.
pub fn json_response(status: u16, error_type: Option<&str>, body: &str) -> HttpResponse {
    let status = StatusCode::try_from(status).unwrap_or_else(|_| panic!("status {status}"));
    let mut resp = HttpResponse::new(status, SdkBody::from(body.to_owned()));
    resp.headers_mut()
        .insert("content-type", "application/json".to_owned());
    if let Some(t) = error_type {
        resp.headers_mut().insert("x-amzn-errortype", t.to_owned());
    }
    resp
}

/// An Access Analyzer adapter whose client answers with `rules`, in order, without retries.
pub fn mock_analyzer(rules: &[&aws_smithy_mocks::Rule]) -> keycard_aws::AccessAnalyzer {
    let client = aws_smithy_mocks::mock_client!(
        aws_sdk_accessanalyzer,
        aws_smithy_mocks::RuleMode::Sequential,
        rules,
        |c| c.retry_config(aws_sdk_accessanalyzer::config::retry::RetryConfig::disabled())
    );
    keycard_aws::AccessAnalyzer::new(client)
}

/// A CloudFormation adapter whose client answers with `rules`, in order, without retries.
pub fn mock_stacks(rules: &[&aws_smithy_mocks::Rule]) -> keycard_aws::CfnStacks {
    let client = aws_smithy_mocks::mock_client!(
        aws_sdk_cloudformation,
        aws_smithy_mocks::RuleMode::Sequential,
        rules,
        |c| c.retry_config(aws_sdk_cloudformation::config::retry::RetryConfig::disabled())
    );
    keycard_aws::CfnStacks::new(client)
}

/// Reads a file of the repository.
pub fn read_repo_file(rel: &str) -> String {
    let p = repo_root().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The `${Name}` placeholders of a text (an ASL definition's DefinitionSubstitutions names).
pub fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { break };
        out.insert(after[..end].to_owned());
        rest = &after[end..];
    }
    out
}

/// The ASL definition at `rel` with every placeholder replaced the way DefinitionSubstitutions
/// does at deploy time (function ARNs, the trail ARN, the partition, the output bucket, the
/// scan concurrency), so the validators check real ARNs (`arn:${Partition}:states:::…` is not
/// one until then). Both state machines' definitions go through this one table.
///
/// # Panics
/// When the file cannot be read, or a placeholder is left.
pub fn substituted_definition(rel: &str) -> String {
    let mut text = read_repo_file(rel);
    for p in placeholders(&text) {
        let value = match p.as_str() {
            "Partition" => "aws".to_owned(),
            "TrailArn" => {
                "arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events".to_owned()
            }
            "OutputBucket" => "keycard-output-123456789012".to_owned(),
            "ScanConcurrency" => "100".to_owned(),
            _ => format!("arn:aws:lambda:us-east-1:123456789012:function:keycard-{p}"),
        };
        text = text.replace(&format!("${{{p}}}"), &value);
    }
    assert!(!text.contains("${"), "{rel}: an unsubstituted placeholder");
    text
}

/// The in-memory S3 of `keycard_aws::memory`: the handlers' S3 side where the test is about
/// something else (Access Analyzer sequences), so those tests run without moto.
pub use keycard_aws::memory::MemoryStore;

/// A fixture of `crates/keycard-chain-tests/fixtures/`.
pub fn fixture(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
