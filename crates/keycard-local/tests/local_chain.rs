//! The deployed chain end to end on this machine: moto's Step Functions interpreter runs
//! `statemachine/keycard.asl.json`, its Lambda calls reach the real handlers under
//! `cargo lambda watch`, Access Analyzer is the stand-in backed by keycard's CloudTrail engine.
//! One execution with the sample input of `events/` (waitSeconds 1).

use std::time::Duration;

use keycard_local::{LocalChain, Options, repo_root, sample_input};
use serde_json::Value;

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
