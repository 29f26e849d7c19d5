//! Coverage end to end: a proposal made from a management-events-only trail (the default for a
//! new trail) never removes an action the role really used.
//!
//! The evidence is a copy of a bundled example's CloudTrail with every data event left out,
//! which is what the same account's default trail would have delivered. The ground truth is
//! the full trail: every granted action a role used there must stay in the proposal made from
//! the copy, and each data-event action must be marked unobservable with its reason.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Copies the log files under `from` into `to`, keeping only management events (as plain
/// `.json`, which the reader takes like `.json.gz`).
fn management_only_copy(from: &Path, to: &Path) -> (usize, usize) {
    let (mut kept, mut dropped) = (0, 0);
    let mut stack = vec![from.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".json.gz") || path.to_string_lossy().contains("CloudTrail-Digest") {
                continue;
            }
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap())
                .read_to_string(&mut text)
                .unwrap_or_default();
            let Ok(mut doc) = serde_json::from_str::<Value>(&text) else {
                continue; // the example's deliberately broken files
            };
            let records = doc["Records"].as_array_mut().unwrap();
            let before = records.len();
            records.retain(|r| r["eventCategory"] != "Data");
            kept += records.len();
            dropped += before - records.len();
            let rel = path.strip_prefix(from).unwrap();
            let target = to.join(rel.with_file_name(name.trim_end_matches(".gz")));
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(&target, serde_json::to_string(&doc).unwrap()).unwrap();
        }
    }
    (kept, dropped)
}

fn propose(template: &str, trail: &Path, args: &[&str], out: &Path) -> Value {
    let output = Command::cargo_bin("keycard")
        .unwrap()
        .current_dir(repo_root())
        .args(["--quiet", "propose", "--template", template, "--cloudtrail"])
        .arg(trail)
        .args(args)
        .arg("--out")
        .arg(out)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_management_events_only_trail_never_removes_what_roles_used() {
    for (example, template, args) in [
        (
            "orders-app",
            "examples/orders-app/template.yaml",
            &["--stack-name", "orders-app", "--account-id", "123456789012"][..],
        ),
        (
            "ingest-pipeline",
            "examples/ingest-pipeline/template.json",
            &[
                "--stack-name",
                "ingest-pipeline",
                "--account-id",
                "210987654321",
            ][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let full_trail = repo_root()
            .join("examples")
            .join(example)
            .join("cloudtrail");
        // Given a default trail's view of the example: management events only
        let default_trail = dir.path().join("default-trail");
        let (kept, dropped) = management_only_copy(&full_trail, &default_trail);
        assert!(
            kept > 0 && dropped > 0,
            "{example}: {kept} kept, {dropped} dropped"
        );

        // The ground truth: what each role used, from the full trail (data events included)
        let truth = propose(template, &full_trail, args, &dir.path().join("full"));
        // When proposing from the default trail alone
        let report = propose(template, &default_trail, args, &dir.path().join("default"));

        // Then the report says data events were not seen, and how to see them
        let gaps = report["coverage"]["gaps"].as_array().unwrap();
        assert!(
            gaps.iter()
                .any(|g| g["what"].as_str().unwrap().contains("no S3 data events")),
            "{example}: {gaps:#?}"
        );
        for (id, role) in report["roles"].as_object().unwrap() {
            let truth_role = &truth["roles"][id];
            let used = strings(&truth_role["used_actions"]);
            let granted = strings(&role["granted_actions"]);
            let removed = strings(&role["removed_actions"]);
            // And no action the role really used is removed
            for action in used.iter().filter(|a| granted.contains(a)) {
                assert!(
                    !removed.contains(action),
                    "{example} {id}: {action} was used (full trail) but removed on a default trail"
                );
            }
            // And every used data-event action that the default trail could not show is
            // marked unobservable, with a reason naming data events
            let seen_now = strings(&role["used_actions"]);
            let unobservable = role["unobservable_actions"].as_array().unwrap();
            for action in used
                .iter()
                .filter(|a| granted.contains(a) && !seen_now.contains(a))
            {
                let entry = unobservable
                    .iter()
                    .find(|u| u["action"] == action.as_str())
                    .unwrap_or_else(|| panic!("{example} {id}: {action} not marked unobservable"));
                assert!(
                    entry["reason"].as_str().unwrap().contains("data event"),
                    "{example} {id}: {entry}"
                );
            }
        }
    }
}

#[test]
fn a_stated_trail_with_data_events_keeps_proposals_tight() {
    // Given the example's own trail configuration (data events for S3, DynamoDB, Lambda,
    // SQS and SNS), as `aws cloudtrail get-event-selectors` prints it
    let dir = tempfile::tempdir().unwrap();
    let trail = repo_root().join("examples/orders-app/cloudtrail");
    let report = propose(
        "examples/orders-app/template.yaml",
        &trail,
        &[
            "--stack-name",
            "orders-app",
            "--account-id",
            "123456789012",
            "--trail-config",
            "examples/orders-app/trail.json",
        ],
        dir.path(),
    );
    // Then the API role's s3:* on * is narrowed to what it used: no S3 object action is kept
    // merely because the trail could not see it
    let api = &report["roles"]["ApiFunctionRole"];
    let unobservable = api["unobservable_actions"].as_array().unwrap();
    assert!(
        !unobservable
            .iter()
            .any(|u| u["action"].as_str().unwrap().starts_with("s3:")),
        "{unobservable:#?}"
    );
    assert!(strings(&api["removed_actions"]).contains(&"s3:DeleteBucket".to_string()));
    assert_eq!(report["coverage"]["basis"]["kind"], "trail_config");
}

#[test]
fn usage_shows_what_the_files_cover() {
    // Given a default trail's view of the example (management events only)
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("default-trail");
    management_only_copy(&repo_root().join("examples/orders-app/cloudtrail"), &copy);
    // When asking what the roles did
    let output = Command::cargo_bin("keycard")
        .unwrap()
        .args(["usage", "--format", "json", "--cloudtrail"])
        .arg(&copy)
        .output()
        .unwrap();
    assert!(output.status.success());
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    // Then the coverage says there are no data events, and what to enable
    let coverage = &json["coverage"];
    assert_eq!(coverage["basis"]["kind"], "inferred_from_files");
    assert_eq!(coverage["data"], serde_json::json!({}));
    assert!(
        coverage["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["fix"].as_str().unwrap().contains("AWS::S3::Object")),
        "{coverage:#}"
    );
    // And the text form prints one line per gap
    let text = Command::cargo_bin("keycard")
        .unwrap()
        .args(["usage", "--cloudtrail"])
        .arg(&copy)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("coverage gap: no S3 data events"), "{text}");
}

/// Every trail profile keycard-tracegen knows (management only, write-only, data events on one
/// bucket, single region without global events, KMS excluded, a month-long delivery gap), on
/// both examples: no action a role used (the proposal on the full trail says which) is removed
/// by the proposal made from what that trail delivered.
#[test]
fn no_trail_profile_makes_a_proposal_remove_a_used_action() {
    let dir = tempfile::tempdir().unwrap();
    let corpora = keycard_tracegen::write_example_corpora(dir.path()).unwrap();
    let args_of = |example: &str, account: &str| -> Vec<String> {
        vec![
            "--stack-name".into(),
            example.into(),
            "--account-id".into(),
            account.into(),
        ]
    };
    let template_of = |example: &str| match example {
        "orders-app" => "examples/orders-app/template.yaml",
        _ => "examples/ingest-pipeline/template.json",
    };
    let mut checked = 0;
    for full in corpora.iter().filter(|c| c.variant == "all") {
        let args = args_of(&full.example, &full.account);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let truth = propose(
            template_of(&full.example),
            &full.cloudtrail,
            &args,
            &dir.path().join(format!("{}-truth", full.example)),
        );
        for c in corpora
            .iter()
            .filter(|c| c.example == full.example && c.variant != "all")
        {
            let report = propose(
                template_of(&c.example),
                &c.cloudtrail,
                &args,
                &dir.path().join(format!("{}-{}", c.example, c.variant)),
            );
            for (id, role) in report["roles"].as_object().unwrap() {
                let used = strings(&truth["roles"][id]["used_actions"]);
                let removed = strings(&role["removed_actions"]);
                for action in &used {
                    assert!(
                        !removed.contains(action),
                        "{} under {}: {id} used {action} (full trail) but the proposal removes it",
                        c.example,
                        c.variant
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} profile corpora checked");
}
