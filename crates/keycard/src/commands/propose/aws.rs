//! `keycard propose --stack`: the deployed pipeline's inputs, read from AWS by the CLI.
//!
//! The same adapters the Lambdas use (`keycard_aws`) and the same input builder as the diff
//! step (`keycard_chain::stack_input`: GetTemplate (Original) and ListStackResources from
//! CloudFormation, each role's ARN from IAM, the account-id rule); the trail's configuration
//! (`keycard_chain::trail_config`, what the state machine's SDK tasks read); and the evidence either
//! from Access Analyzer policy generation (one role after another: the service runs one job per
//! account at a time) or from keycard's own scan of the trail bucket
//! (`keycard_chain::cloudtrail::scan_objects`, the Distributed Map child's reader). The tokio
//! runtime exists only in this mode; the local mode never starts one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keycard_aws::access_analyzer::{
    GenerationRequest, JobStatus, START_RETRY_DELAYS, TrailRegions, start_generation_retrying,
};
use keycard_aws::{
    AwsError, Clients, CloudTrailTrails, Config, ErrorKind, ObjectStore, PolicyGeneration,
};
use keycard_chain::cloudtrail::scan_objects;
use keycard_chain::contract::{MAX_WINDOW_DAYS, RoleItem, arn_field, client_token};
use keycard_chain::stack_input::{DeployedStack, Observed, Place};
use keycard_chain::trail_config::{TrailChoice, read_trail_config};
use keycard_core::cloudtrail::{ScanOptions, Scanner};
use keycard_core::report::EvidenceStats;
use keycard_core::usage::{Usage, Window};
use tokio::runtime::Runtime;

use super::{Args, Gathered, evidence_stats};
use crate::ui::Ui;

/// Where the evidence comes from in AWS mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Evidence {
    /// StartPolicyGeneration per role on this trail, read through this role.
    AccessAnalyzer { trail: String, access_role: String },
    /// Log objects under `s3://bucket/prefix`.
    S3 { bucket: String, prefix: String },
    /// A local folder of log files (the stack's template and roles still come from AWS).
    Local(std::path::PathBuf),
    /// Only `--usage`/`--ledger` files.
    None,
}

/// Splits `s3://bucket/prefix` (the prefix may be empty).
pub(super) fn parse_s3_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    Some((bucket.to_owned(), prefix.to_owned()))
}

/// Settings of the Access Analyzer loop.
#[derive(Debug, Clone)]
pub(super) struct GenerationSettings {
    pub trail_arn: String,
    /// The trail's regions to read, always named (the API documents no default).
    pub regions: TrailRegions,
    pub access_role_arn: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Time between two GetGeneratedPolicy calls of one job.
    pub poll_interval: Duration,
    /// Polls before a job is canceled and its role left without evidence.
    pub max_polls: u32,
    /// Makes the client tokens of this run distinct from any other run's (AA returns the
    /// same job for the same token).
    pub run_id: String,
    /// Pauses before trying StartPolicyGeneration again while the account's generation slot
    /// is busy or its quota reached ([`START_RETRY_DELAYS`], the state machine's backoff).
    pub start_retry: Vec<Duration>,
}

/// One role's outcome of policy generation.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RoleGeneration {
    pub role: RoleItem,
    /// The role's usage, when the job succeeded and its result parsed.
    pub usage: Option<Usage>,
    /// Why there is no usage.
    pub problem: Option<String>,
}

/// Runs policy generation for each role in turn: start, poll until finished (canceling a job
/// that outlives `max_polls`), convert with `keycard_core::access_analyzer`. A role whose job
/// fails keeps no evidence (it will be reported unmatched, never as unused); an error that is
/// not about one role (credentials, throttling left after the SDK's retries) stops the run.
/// A start refused because a generation is already running in the account or a quota is
/// reached is tried again after each of `start_retry`; once that is exhausted, the remaining
/// roles are not waited for again. `report(role, status, poll)` is told of every poll (and of
/// each wait, as `WAITING`), for the progress line.
pub(super) async fn generate_usage<G: PolicyGeneration>(
    analyzer: &G,
    roles: &[RoleItem],
    settings: &GenerationSettings,
    mut report: impl FnMut(&RoleItem, &str, u32),
) -> Result<Vec<RoleGeneration>, AwsError> {
    let mut out = Vec::new();
    let mut quota_exhausted = false;
    for role in roles {
        let request = GenerationRequest {
            principal_arn: role.role_arn.clone(),
            trail_arn: settings.trail_arn.clone(),
            regions: settings.regions.clone(),
            access_role_arn: settings.access_role_arn.clone(),
            start: settings.start,
            end: settings.end,
            client_token: client_token(&settings.run_id, &role.role_arn),
        };
        let delays: &[Duration] = if quota_exhausted {
            &[]
        } else {
            &settings.start_retry
        };
        let started = start_generation_retrying(analyzer, &request, delays, |d| {
            report(role, "WAITING", 0);
            // A blocking wait: the CLI's runtime has one thread and nothing else to do.
            std::thread::sleep(d);
            std::future::ready(())
        })
        .await;
        let job_id = match started {
            Ok(id) => id,
            Err(e) if !e.is_transient() => {
                quota_exhausted |= e.kind == ErrorKind::QuotaExceeded;
                out.push(RoleGeneration {
                    role: role.clone(),
                    usage: None,
                    problem: Some(format!("policy generation not started: {e}")),
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        report(role, "STARTED", 0);
        let mut polls = 0u32;
        let generation = loop {
            if polls > 0 {
                // A blocking wait: the CLI's runtime has one thread and nothing else to do.
                std::thread::sleep(settings.poll_interval);
            }
            polls += 1;
            let job = analyzer.generated_policy(&job_id).await?;
            report(role, job.status.as_str(), polls);
            match job.status {
                JobStatus::InProgress if polls >= settings.max_polls => {
                    // Canceling frees the account's one generation slot for the next role.
                    let canceled = analyzer.cancel_generation(&job_id).await;
                    break RoleGeneration {
                        role: role.clone(),
                        usage: None,
                        problem: Some(format!(
                            "policy generation {job_id} still running after {polls} polls; canceled{}",
                            canceled
                                .err()
                                .map(|e| format!(" (cancel failed: {e})"))
                                .unwrap_or_default()
                        )),
                    };
                }
                JobStatus::InProgress => continue,
                JobStatus::Succeeded => {
                    let text = job.api_json.to_string();
                    break match keycard_core::access_analyzer::parse_generated_policy(
                        &text,
                        Some(&role.role_arn),
                    ) {
                        Ok(u) => RoleGeneration {
                            role: role.clone(),
                            usage: Some(u),
                            problem: None,
                        },
                        Err(e) => RoleGeneration {
                            role: role.clone(),
                            usage: None,
                            problem: Some(format!("generated policy not usable: {e}")),
                        },
                    };
                }
                JobStatus::Failed | JobStatus::Canceled => {
                    break RoleGeneration {
                        role: role.clone(),
                        usage: None,
                        problem: Some(format!(
                            "policy generation {}{}",
                            job.status.as_str().to_ascii_lowercase(),
                            job.error
                                .map(|e| format!(": {}", e.describe()))
                                .unwrap_or_default()
                        )),
                    };
                }
            }
        };
        out.push(generation);
    }
    Ok(out)
}

/// A spinner on terminals; on anything else (logs, CI), one line per status change, not one
/// per poll.
struct StatusLine<'a> {
    bar: Option<ProgressBar>,
    ui: &'a Ui,
    last: String,
    started: Instant,
}

impl<'a> StatusLine<'a> {
    fn new(ui: &'a Ui) -> Self {
        let bar = (ui.interactive && !ui.quiet).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}  {elapsed}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        StatusLine {
            bar,
            ui,
            last: String::new(),
            started: Instant::now(),
        }
    }

    /// Shows `msg`; without a terminal only when `state` differs from the last one shown.
    fn set(&mut self, state: String, msg: String) {
        match &self.bar {
            Some(bar) => bar.set_message(msg),
            None if state != self.last => {
                self.ui
                    .info(&format!("[{:>4}s] {msg}", self.started.elapsed().as_secs()));
                self.last = state;
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A bar of objects read on terminals, hidden otherwise.
fn object_progress(ui: &Ui, objects: u64) -> ProgressBar {
    if !ui.interactive || ui.quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(objects), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} reading S3 [{bar:30}] {pos}/{len} objects  {elapsed}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Reads the stack and the evidence from AWS.
pub(super) fn gather(
    stack: &str,
    evidence: Evidence,
    args: &Args,
    ui: &Ui,
) -> anyhow::Result<Gathered> {
    let rt: Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = &args.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    let sdk = rt.block_on(loader.load());
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .ok_or_else(|| anyhow!("no AWS region: pass --region or set AWS_REGION"))?;
    // The CLI writes to no output bucket; the configuration is read for its S3 addressing
    // (path-style when a custom endpoint is set), the one rule the Lambdas follow too.
    let config = Config::from_lookup(|k| match k {
        "KEYCARD_BUCKET" => Some("unused-by-the-cli".to_owned()),
        _ => std::env::var(k).ok(),
    })?;
    let clients = Clients::from_sdk_config(&sdk, &config);

    let deployed = rt
        .block_on(DeployedStack::read(&clients.stacks, &clients.roles, stack))
        .map_err(|e| {
            if e.is_not_found() {
                anyhow!("stack {stack} does not exist in {region} ({e})")
            } else {
                anyhow!("cannot read stack {stack} from CloudFormation and IAM: {e}")
            }
        })?;
    for s in &deployed.skipped {
        ui.warn(&format!("{}: {}", s.logical_id, s.reason));
    }
    let name = deployed.name.clone();
    let roles = &deployed.roles;
    ui.debug(&format!(
        "stack {name}: {} resources, {} roles",
        deployed.resources.len(),
        roles.len()
    ));
    let role_arns: BTreeSet<String> = roles.iter().map(|r| r.role_arn.clone()).collect();

    let mut usage = Usage::default();
    let mut stats = None;
    let mut window = None;
    // Roles with evidence, by logical id: in Access Analyzer mode only the roles whose job
    // succeeded (a role without evidence must be reported unmatched, never as unused); with
    // CloudTrail every role was observed.
    let mut observed: BTreeMap<String, String> = BTreeMap::new();
    let access_analyzer = matches!(evidence, Evidence::AccessAnalyzer { .. });
    // What the trail records, unless --trail-config files say it: --trail, else the trail
    // delivering to the scanned bucket. Read before the evidence, whose reading consumes it.
    let choice = match (&args.aws.trail, &evidence) {
        _ if !args.coverage.trail_config.is_empty() => None,
        (_, Evidence::None) => None,
        (Some(trail), _) => Some(TrailChoice::Named(trail)),
        (None, Evidence::S3 { bucket, prefix }) => {
            Some(TrailChoice::DeliveringTo { bucket, prefix })
        }
        (None, _) => None,
    };
    let trail_config = choice.map(|choice| {
        let trails = CloudTrailTrails::from_sdk_config(&sdk);
        let doc = rt.block_on(read_trail_config(&trails, choice));
        ui.debug(&format!("trail configuration: {doc}"));
        doc
    });
    match evidence {
        Evidence::AccessAnalyzer { trail, access_role } => {
            let end = args.end.unwrap_or_else(Utc::now);
            let start = args
                .start
                .unwrap_or(end - chrono::Duration::days(i64::from(MAX_WINDOW_DAYS)));
            if end - start > chrono::Duration::days(i64::from(MAX_WINDOW_DAYS)) {
                bail!(
                    "Access Analyzer reads at most {MAX_WINDOW_DAYS} days of CloudTrail; --start {start} is further back"
                );
            }
            // The stack's region (and the global-events one) unless KEYCARD_TRAIL_REGIONS
            // names the regions (`*`: all of them).
            let partition = roles
                .first()
                .and_then(|r| arn_field(&r.role_arn, 1))
                .unwrap_or_else(|| "aws".to_owned());
            let regions = TrailRegions::resolve(
                config.all_regions,
                &config.trail_regions,
                std::slice::from_ref(&region),
                &partition,
            )
            .ok_or_else(|| anyhow!("no trail region to analyse"))?;
            let settings = GenerationSettings {
                trail_arn: trail,
                regions,
                access_role_arn: access_role,
                start,
                end,
                poll_interval: Duration::from_secs(args.aws.poll_seconds),
                max_polls: args.aws.max_polls,
                run_id: format!("keycard-cli/{name}/{}", Utc::now().timestamp_millis()),
                start_retry: START_RETRY_DELAYS.to_vec(),
            };
            let mut line = StatusLine::new(ui);
            let total = roles.len();
            let mut index: BTreeMap<String, usize> = BTreeMap::new();
            for (i, r) in roles.iter().enumerate() {
                index.insert(r.role_arn.clone(), i + 1);
            }
            let result = rt.block_on(generate_usage(
                &clients.analyzer,
                roles,
                &settings,
                |role, status, poll| {
                    let n = index.get(&role.role_arn).copied().unwrap_or(0);
                    line.set(
                        format!("{} {status}", role.role_arn),
                        format!(
                            "Access Analyzer policy generation {n}/{total}: {} {} (poll {poll})",
                            role.logical_id,
                            status.to_ascii_lowercase().replace('_', " ")
                        ),
                    );
                },
            ));
            line.finish();
            for g in result.context("Access Analyzer policy generation")? {
                match (g.usage, g.problem) {
                    (Some(u), _) => {
                        usage.merge(&u);
                        observed.insert(g.role.logical_id.clone(), g.role.role_arn.clone());
                    }
                    (None, problem) => ui.warn(&format!(
                        "{}: no evidence ({})",
                        g.role.logical_id,
                        problem.unwrap_or_default()
                    )),
                }
            }
            window = Some(Window { start, end });
        }
        Evidence::S3 { bucket, prefix } => {
            let (u, s) = scan_s3(&rt, &clients, &bucket, &prefix, &role_arns, args, ui)?;
            usage = u;
            stats = Some(s);
        }
        Evidence::Local(dir) => {
            let (u, s) = super::scan(&dir, args, ui)?;
            usage = u;
            stats = Some(s);
        }
        Evidence::None => {}
    }
    // The stack's part of the input, built as the diff step builds it: with Access Analyzer
    // only the roles whose generation succeeded have ARNs and the account is withheld.
    let observed_roles = if access_analyzer {
        if args.account_id.is_some() {
            ui.warn("--account-id is not used to match roles with Access Analyzer evidence: a role whose generation did not succeed stays unmatched, never idle");
        }
        Observed::Only(&observed)
    } else {
        Observed::EveryRole
    };
    let any_arn = roles.first().map(|r| r.role_arn.as_str()).unwrap_or("");
    let place = Place {
        account_id: args.account_id.clone().or_else(|| arn_field(any_arn, 4)),
        region: Some(region),
        partition: arn_field(any_arn, 1),
    };
    Ok(Gathered {
        base: deployed.proposal_input(observed_roles, &place),
        usage,
        evidence: stats,
        window,
        trail_config,
    })
}

/// Reads the log objects under `s3://bucket/prefix` (digests and non-log keys left out) with
/// the Distributed Map child's reader.
fn scan_s3(
    rt: &Runtime,
    clients: &Clients,
    bucket: &str,
    prefix: &str,
    principals: &BTreeSet<String>,
    args: &Args,
    ui: &Ui,
) -> anyhow::Result<(Usage, EvidenceStats)> {
    let listed = rt
        .block_on(clients.s3.list_objects(bucket, prefix))
        .map_err(|e| anyhow!("cannot list s3://{bucket}/{prefix}: {e}"))?;
    let mut digests = 0u64;
    let keys: Vec<String> = listed
        .into_iter()
        .filter_map(|o| {
            if o.key.contains("CloudTrail-Digest") {
                digests += 1;
                None
            } else if o.key.ends_with(".json.gz") || o.key.ends_with(".json") {
                Some(o.key)
            } else {
                None
            }
        })
        .collect();
    if keys.is_empty() {
        bail!("no CloudTrail log files under s3://{bucket}/{prefix}");
    }
    let opts = ScanOptions {
        principals: (!principals.is_empty()).then(|| principals.clone()),
        start: args.start,
        end: args.end,
        threads: None,
    };
    let mut scanner = Scanner::new(&opts);
    let progress = object_progress(ui, keys.len() as u64);
    let fetched = rt.block_on(scan_objects(
        &clients.s3,
        bucket,
        &keys,
        &mut scanner,
        |_, _| progress.inc(1),
    ));
    progress.finish_and_clear();
    let fetched = fetched.map_err(|e| anyhow!("reading s3://{bucket}/{prefix}: {e}"))?;
    let mut result = scanner.finish();
    result.files.digests_skipped += digests;
    result.files.malformed.extend(fetched.vanished);
    let f = &result.files;
    ui.debug(&format!(
        "read {} objects ({} bytes, {} digests skipped), {} events, {} malformed",
        fetched.objects,
        fetched.bytes,
        f.digests_skipped,
        f.events,
        f.malformed.len()
    ));
    let stats = evidence_stats(f, ui);
    Ok((result.usage, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Mutex;

    use keycard_aws::access_analyzer::{GenerationJob, JobError};

    /// Answers StartPolicyGeneration from a script, every job SUCCEEDED (or FAILED for the
    /// role named in `fail`) with the repository's generated-policy fixture.
    struct FakeAnalyzer {
        starts: Mutex<Vec<Result<String, AwsError>>>,
        requests: Mutex<Vec<GenerationRequest>>,
        fail: Option<String>,
    }

    fn busy() -> AwsError {
        AwsError {
            service: "accessanalyzer",
            operation: "StartPolicyGeneration",
            kind: ErrorKind::QuotaExceeded,
            code: Some("ConflictException".into()),
            status: Some(409),
            message: "A policy generation is already in progress for this account.".into(),
        }
    }

    impl PolicyGeneration for FakeAnalyzer {
        async fn start_generation(&self, request: &GenerationRequest) -> Result<String, AwsError> {
            self.requests.lock().unwrap().push(request.clone());
            self.starts.lock().unwrap().remove(0)
        }

        async fn generated_policy(&self, job_id: &str) -> Result<GenerationJob, AwsError> {
            let text = std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../tests/fixtures/access-analyzer/get-generated-policy.json"),
            )
            .unwrap();
            let failed = self.fail.as_deref() == Some(job_id);
            Ok(GenerationJob {
                job_id: job_id.to_owned(),
                status: if failed {
                    JobStatus::Failed
                } else {
                    JobStatus::Succeeded
                },
                error: failed.then(|| JobError {
                    code: "AUTHORIZATION_ERROR".into(),
                    message: "Access denied.".into(),
                }),
                api_json: serde_json::from_str(&text).unwrap(),
            })
        }

        async fn cancel_generation(&self, _job_id: &str) -> Result<(), AwsError> {
            Ok(())
        }
    }

    fn role(id: &str) -> RoleItem {
        RoleItem {
            stack: "orders".into(),
            logical_id: id.into(),
            role_name: format!("orders-{id}"),
            role_arn: format!("arn:aws:iam::111122223333:role/orders-{id}"),
        }
    }

    fn settings() -> GenerationSettings {
        GenerationSettings {
            trail_arn: "arn:aws:cloudtrail:eu-west-1:111122223333:trail/t".into(),
            regions: TrailRegions::Only(vec!["eu-west-1".into(), "us-east-1".into()]),
            access_role_arn: "arn:aws:iam::111122223333:role/aa".into(),
            start: "2025-03-01T00:00:00Z".parse().unwrap(),
            end: "2025-05-30T00:00:00Z".parse().unwrap(),
            poll_interval: Duration::ZERO,
            max_polls: 3,
            run_id: "test".into(),
            start_retry: vec![Duration::ZERO; 2],
        }
    }

    fn run(fake: &FakeAnalyzer, roles: &[RoleItem]) -> (Vec<RoleGeneration>, Vec<String>) {
        let mut seen = Vec::new();
        let out = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(generate_usage(fake, roles, &settings(), |r, status, _| {
                seen.push(format!("{} {status}", r.logical_id))
            }))
            .unwrap();
        (out, seen)
    }

    #[test]
    fn a_running_generation_is_waited_for_and_regions_are_named() {
        let fake = FakeAnalyzer {
            starts: Mutex::new(vec![Err(busy()), Ok("job-a".into())]),
            requests: Mutex::new(Vec::new()),
            fail: None,
        };
        let (out, seen) = run(&fake, &[role("Api")]);
        assert!(out[0].usage.is_some(), "{:?}", out[0].problem);
        assert_eq!(seen[..2], ["Api WAITING", "Api STARTED"]);
        let requests = fake.requests.lock().unwrap();
        assert_eq!(requests.len(), 2, "started again after the wait");
        assert_eq!(
            requests[0].regions,
            TrailRegions::Only(vec!["eu-west-1".into(), "us-east-1".into()])
        );
    }

    #[test]
    fn once_the_slot_stays_taken_later_roles_are_not_waited_for() {
        let fake = FakeAnalyzer {
            starts: Mutex::new(vec![Err(busy()), Err(busy()), Err(busy()), Err(busy())]),
            requests: Mutex::new(Vec::new()),
            fail: None,
        };
        let (out, _) = run(&fake, &[role("Api"), role("Worker")]);
        assert_eq!(fake.requests.lock().unwrap().len(), 3 + 1);
        for g in &out {
            assert!(g.usage.is_none());
            assert!(
                g.problem
                    .as_deref()
                    .is_some_and(|p| p.contains("ConflictException")),
                "{g:?}"
            );
        }
    }

    #[test]
    fn a_failed_job_says_what_its_error_code_means() {
        let fake = FakeAnalyzer {
            starts: Mutex::new(vec![Ok("job-a".into())]),
            requests: Mutex::new(Vec::new()),
            fail: Some("job-a".into()),
        };
        let (out, _) = run(&fake, &[role("Api")]);
        let problem = out[0].problem.as_deref().unwrap();
        assert!(
            problem.starts_with(
                "policy generation failed: AUTHORIZATION_ERROR: Access denied. (the access role"
            ),
            "{problem}"
        );
    }

    #[test]
    fn s3_urls() {
        assert_eq!(
            parse_s3_url("s3://trail-bucket/AWSLogs/123456789012/"),
            Some(("trail-bucket".into(), "AWSLogs/123456789012/".into()))
        );
        assert_eq!(
            parse_s3_url("s3://trail-bucket"),
            Some(("trail-bucket".into(), String::new()))
        );
        assert_eq!(parse_s3_url("s3://"), None);
        assert_eq!(parse_s3_url("/var/logs"), None);
    }

    #[test]
    fn arn_fields() {
        let arn = "arn:aws-us-gov:iam::123456789012:role/app/Worker";
        assert_eq!(arn_field(arn, 1).as_deref(), Some("aws-us-gov"));
        assert_eq!(arn_field(arn, 4).as_deref(), Some("123456789012"));
        assert_eq!(arn_field(arn, 3), None);
        assert_eq!(arn_field("Worker", 4), None);
    }
}
