//! The deployed chain end to end on this machine: moto's Step Functions interpreter runs
//! `statemachine/keycard.asl.json`, its Lambda calls reach the real handlers under
//! `cargo lambda watch`, Access Analyzer is the stand-in backed by keycard's CloudTrail engine.
//! One execution with the sample input of `events/` (waitSeconds 1).

use std::time::Duration;

use keycard_local::{EMAIL, LocalChain, Notified, Options, repo_root, sample_input};
use serde_json::{Value, json};

fn tools_required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("KEYCARD_REQUIRE_TOOLS").is_some()
}

fn installed(root: &std::path::Path, name: &str) -> bool {
    let p = root.join(".venv/bin").join(name);
    if p.exists() {
        return true;
    }
    assert!(
        !tools_required(),
        "{} is missing (scripts/test installs it from requirements-test.txt)",
        p.display()
    );
    eprintln!("SKIP: {} is not installed", p.display());
    false
}

/// Live (non-zombie) processes whose process group is `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: fields after the last ')'
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str()) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn the_chain_runs_end_to_end_and_writes_proposals() {
    let root = repo_root().canonicalize().unwrap();
    if !["moto_server", "cargo-lambda", "cfn-lint"]
        .iter()
        .all(|t| installed(&root, t))
    {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let options = Options::sample(&root, work.path()).unwrap();
    let mut chain = LocalChain::start(options).unwrap();
    chain.deploy().unwrap();
    let groups = chain.process_groups();
    assert_eq!(groups.len(), 2, "moto and cargo lambda watch run");
    assert!(groups.iter().all(|g| !group_members(*g).is_empty()));

    let name = format!("e2e-{}", std::process::id());
    let input = sample_input(&root, 1).unwrap();
    assert_eq!(
        input["stacks"],
        serde_json::json!(["orders-service", "billing-api"])
    );
    let run = chain.execute(&name, &input, Duration::from_secs(600));
    let run = match run {
        Ok(r) => r,
        Err(e) => {
            for log in ["moto.log", "cargo-lambda.log"] {
                let text = std::fs::read_to_string(work.path().join(log)).unwrap_or_default();
                let tail: String = text
                    .chars()
                    .rev()
                    .take(6000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                eprintln!("---- {log} ----\n{tail}");
            }
            panic!("{e}");
        }
    };
    let logs = || {
        let text =
            std::fs::read_to_string(work.path().join("cargo-lambda.log")).unwrap_or_default();
        text.chars()
            .rev()
            .take(8000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<String>()
    };
    assert_eq!(run.status, "SUCCEEDED", "{:?}\n{}", run.error, logs());

    // The polling loop ran: every analysed role was polled at least twice (IN_PROGRESS, then
    // SUCCEEDED), with a Wait between.
    let analysed = chain.roles.len() - 1;
    assert_eq!(
        analysed, 3,
        "orders-service: 2 roles, billing-api: 2 roles, one refused"
    );
    assert!(
        run.entered("PollGeneration") >= 2 * analysed,
        "PollGeneration entered {} times",
        run.entered("PollGeneration")
    );
    assert!(run.entered("WaitForGeneration") >= 2 * analysed);
    assert_eq!(run.entered("RoleSucceeded"), analysed);
    let analyzer = chain.analyzer.as_ref().unwrap();
    assert_eq!(
        analyzer
            .stats
            .started
            .load(std::sync::atomic::Ordering::Relaxed),
        analysed as u64
    );
    assert!(
        analyzer
            .stats
            .validations
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );

    // The broken role: caught by the Map's Catch, reported, the others carried on.
    assert_eq!(run.entered("RoleErrored"), 1);
    // The trail's configuration, read once by the AWS SDK tasks from moto's CloudTrail.
    for state in [
        "TrailToRead",
        "ReadTrail",
        "ReadEventSelectors",
        "ReadTrailStatus",
    ] {
        assert_eq!(run.entered(state), 1, "{state}\n{}", logs());
    }
    assert_eq!(
        analyzer
            .stats
            .denied
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let output = run.output.clone().expect("execution output");
    let text = output.to_string();
    assert!(
        text.contains("ReportsRole"),
        "summary names the refused role: {text}"
    );
    assert!(text.contains("Keycard.AccessDenied"), "{text}");

    // The artifacts of both stacks.
    let mut reports = std::collections::BTreeMap::new();
    for stack in ["orders-service", "billing-api"] {
        let prefix = format!("proposals/{stack}/{name}/");
        let files: Vec<&str> = run
            .keys
            .iter()
            .filter_map(|k| k.strip_prefix(&prefix))
            .collect();
        for want in [
            "template.yaml",
            "template.diff",
            "report.json",
            "report.md",
            "report.html",
        ] {
            assert!(
                files.contains(&want),
                "{prefix}{want} missing; have {files:?}"
            );
        }
        let report: Value = serde_json::from_slice(
            &chain
                .get_output(&format!("{prefix}report.json"))
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        let diff = String::from_utf8(
            chain
                .get_output(&format!("{prefix}template.diff"))
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        // The diff read that configuration: the trail records what Access Analyzer needs.
        let notes = report["coverage"]["notes"].to_string();
        assert!(
            notes.contains("narrowed by its configuration"),
            "{stack}: {notes}"
        );
        assert_eq!(report["coverage"]["basis"]["kind"], "access_analyzer");
        // The over-broad grants are narrowed from the evidence the stand-in generated.
        let removed = match stack {
            "orders-service" => "-                Action: sqs:*",
            _ => "-                  - cloudwatch:DeleteAlarms",
        };
        assert!(
            diff.contains(removed),
            "{stack}: {removed:?} not in the diff:\n{diff}"
        );
        let template = chain
            .get_output(&format!("{prefix}template.yaml"))
            .unwrap()
            .unwrap();
        let path = work.path().join(format!("{stack}-proposed.yaml"));
        std::fs::write(&path, &template).unwrap();
        let lint = std::process::Command::new(root.join(".venv/bin/cfn-lint"))
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            lint.status.success(),
            "cfn-lint on the proposed {stack} template:\n{}{}",
            String::from_utf8_lossy(&lint.stdout),
            String::from_utf8_lossy(&lint.stderr)
        );
        if stack == "billing-api" {
            let r = report.to_string();
            assert!(
                r.contains("ReportsRole"),
                "the billing-api report names the refused role"
            );
        }
        reports.insert(stack, report);
    }
    assert!(
        run.keys.iter().any(|k| k == "ledger/orders-service.json"),
        "{:?}",
        run.keys
    );
    // What Access Analyzer "generated" is what the trail holds for that role.
    let generated = chain
        .get_output(&format!(
            "runs/{name}/generated/billing-api/InvoiceApiRole.json"
        ))
        .unwrap()
        .expect("stored GetGeneratedPolicy result");
    let generated = String::from_utf8(generated).unwrap();
    assert!(
        generated.contains("cloudwatch:PutMetricData"),
        "{generated}"
    );
    assert!(generated.contains("dynamodb:DescribeTable"), "{generated}");
    assert!(
        !generated.contains("cloudwatch:DeleteAlarms"),
        "{generated}"
    );

    // What EventBridge does when the execution ends (scripts/local-chain does the same): the
    // status change reaches the notify function, whose events and email are read back from
    // what moto's rule and topic delivered.
    let notified = chain.notify(&run).unwrap();
    proposals_ready(&chain, &run, &reports, &notified);

    // A run that fails: a window beyond Access Analyzer's 90 days, refused by discovery.
    let failing = format!("{name}-invalid");
    let mut bad_input = input.clone();
    bad_input["windowDays"] = json!(120);
    let failed = chain
        .execute(&failing, &bad_input, Duration::from_secs(300))
        .unwrap();
    assert_eq!(failed.status, "FAILED", "{:?}\n{}", failed.error, logs());
    let notified = chain.notify(&failed).unwrap();
    run_failed(&failing, &notified);

    chain.stop();
    std::thread::sleep(Duration::from_millis(200));
    for pgid in groups {
        let left = group_members(pgid);
        assert!(
            left.is_empty(),
            "processes {left:?} of group {pgid} still run"
        );
    }
}

/// The notification of the succeeded run: one `Keycard Proposal Ready` event per stack with
/// its S3 keys and report.json's summary counts, one email with each report.md's summary and
/// the console link to each report.html, and the run index; all of it in what
/// `scripts/local-chain` prints.
fn proposals_ready(
    chain: &LocalChain,
    run: &keycard_local::ExecutionResult,
    reports: &std::collections::BTreeMap<&str, Value>,
    notified: &Notified,
) {
    let name = &run.name;
    let bucket = &chain.output_bucket;
    assert_eq!(notified.status_change["detail"]["status"], "SUCCEEDED");
    assert_eq!(
        notified.output["events"],
        json!(["Keycard Proposal Ready", "Keycard Proposal Ready"]),
        "{notified}"
    );
    assert_eq!(notified.output["emailed"], true, "{notified}");
    assert_eq!(notified.events.len(), 2, "{notified}");
    for (stack, report) in reports {
        let e = notified
            .events
            .iter()
            .find(|e| e["detail"]["stack"] == *stack)
            .unwrap_or_else(|| panic!("no event for {stack}: {notified}"));
        assert_eq!(e["source"], "keycard");
        assert_eq!(e["detail-type"], "Keycard Proposal Ready");
        let d = &e["detail"];
        assert_eq!(d["execution"], json!(name));
        assert_eq!(d["executionArn"], json!(run.arn));
        assert_eq!(d["bucket"], json!(bucket));
        let prefix = format!("proposals/{stack}/{name}/");
        assert_eq!(d["prefix"], json!(prefix));
        for (field, file) in [
            ("template", "template.yaml"),
            ("diff", "template.diff"),
            ("reportJson", "report.json"),
            ("reportMarkdown", "report.md"),
            ("reportHtml", "report.html"),
        ] {
            let key = format!("{prefix}{file}");
            assert_eq!(d["keys"][field], json!(key), "{stack}: {field}");
            assert!(run.keys.contains(&key), "{key} is not in the bucket");
        }
        // The counts are the report's own.
        assert_eq!(d["summary"], report["summary"], "{stack}");
        assert!(d["summary"]["principals"].as_u64().unwrap() > 0);
        let removed: usize = report["roles"]
            .as_object()
            .unwrap()
            .values()
            .map(|r| r["removed_actions"].as_array().map_or(0, Vec::len))
            .sum();
        assert!(removed > 0, "{stack}: the over-broad grants are removed");
        assert_eq!(d["removedActions"], json!(removed), "{stack}");
        assert_eq!(
            d["highestRiskRemovals"].as_array().unwrap().len(),
            removed.min(10),
            "{stack}"
        );
        assert_eq!(
            d["reportUrl"],
            json!(console_link(bucket, &format!("{prefix}report.html"))),
            "{stack}"
        );
    }

    // The run index links both reports.
    let index_key = notified.output["indexKey"].as_str().unwrap();
    let index = String::from_utf8(chain.get_output(index_key).unwrap().unwrap()).unwrap();
    for stack in reports.keys() {
        assert!(
            index.contains(&format!("../../{stack}/{name}/report.html")),
            "{stack} is not in the run index:\n{index}"
        );
    }

    // One email: per stack, report.md's summary and the console link to report.html.
    assert_eq!(notified.emails.len(), 1, "{notified}");
    let (subject, message) = &notified.emails[0];
    assert_eq!(subject, &format!("keycard: 2 proposals ready ({name})"));
    for stack in reports.keys() {
        let prefix = format!("proposals/{stack}/{name}/");
        let md = String::from_utf8(
            chain
                .get_output(&format!("{prefix}report.md"))
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        let summary: String = md
            .lines()
            .take_while(|l| !l.starts_with("## "))
            .collect::<Vec<_>>()
            .join("\n");
        let summary = summary.trim_end();
        assert!(summary.lines().count() > 2, "{stack}: {summary}");
        assert!(
            message.contains(summary),
            "{stack}: report.md's summary is not in the email:\n{summary}\n----\n{message}"
        );
        let link = console_link(bucket, &format!("{prefix}report.html"));
        assert!(
            message.contains(&format!("report.html: {link}")),
            "{link} is not in the email:\n{message}"
        );
    }
    assert!(
        message.contains(&format!("Run index: {}", console_link(bucket, index_key))),
        "{message}"
    );
    // The role Access Analyzer refused is named.
    assert!(message.contains("billing-api ReportsRole"), "{message}");

    // What scripts/local-chain prints shows the events and the email.
    let printed = notified.to_string();
    assert_eq!(
        printed
            .matches("event on the default bus (keycard / Keycard Proposal Ready)")
            .count(),
        2,
        "{printed}"
    );
    assert!(
        printed.contains(&format!(
            "email to {EMAIL} (via the SNS topic):\nSubject: {subject}\n\n{message}"
        )),
        "{printed}"
    );
}

/// The notification of the failed run: one `Keycard Run Failed` event with the error and the
/// cause, and the email saying so.
fn run_failed(execution: &str, notified: &Notified) {
    assert_eq!(notified.status_change["detail"]["status"], "FAILED");
    assert_eq!(
        notified.output["events"],
        json!(["Keycard Run Failed"]),
        "{notified}"
    );
    assert_eq!(notified.events.len(), 1, "{notified}");
    let e = &notified.events[0];
    assert_eq!(e["source"], "keycard");
    assert_eq!(e["detail-type"], "Keycard Run Failed");
    let d = &e["detail"];
    assert_eq!(d["execution"], json!(execution));
    assert_eq!(d["status"], "FAILED");
    assert_eq!(d["error"], "Keycard.InvalidInput", "{notified}");
    let cause = d["cause"].as_str().unwrap();
    assert!(
        cause.contains("windowDays must be between 1 and 90"),
        "{cause}"
    );
    assert_eq!(notified.emails.len(), 1, "{notified}");
    let (subject, message) = &notified.emails[0];
    assert_eq!(subject, &format!("keycard: run {execution} FAILED"));
    assert!(message.contains("Error: Keycard.InvalidInput"), "{message}");
    assert!(
        message.contains("windowDays must be between 1 and 90"),
        "{message}"
    );
    let printed = notified.to_string();
    assert!(
        printed.contains("event on the default bus (keycard / Keycard Run Failed)"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("Subject: {subject}")),
        "{printed}"
    );
}

/// The S3 console's page of an object of the output bucket (moto runs in us-east-1, partition
/// `aws`), as the notify step writes it: the key percent-encoded except for `/`.
fn console_link(bucket: &str, key: &str) -> String {
    let encoded: String = key
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("https://console.aws.amazon.com/s3/object/{bucket}?region=us-east-1&prefix={encoded}")
}
