//! `keycard usage` end to end: the JSON contract other checks rely on, filters, exit codes.
//! Runs the real binary on the hand-curated fixture tree (tests/fixtures/cloudtrail/tree).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const TREE: &str = "tests/fixtures/cloudtrail/tree";
const API: &str = "arn:aws:iam::111122223333:role/service-role/OrdersApiRole";

fn keycard() -> Command {
    let mut cmd = Command::cargo_bin("keycard").unwrap();
    cmd.current_dir(repo()).env("NO_COLOR", "1");
    cmd
}

fn usage_json(extra: &[&str]) -> Value {
    let out = keycard()
        .args(["usage", "--cloudtrail", TREE, "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn json_contract() {
    let v = usage_json(&[]);
    // principals → ARN → actions → action → {first_seen, last_seen, count, resources}
    let api = &v["principals"][API];
    let get = &api["actions"]["s3:GetObject"];
    assert_eq!(get["count"], 2);
    assert_eq!(get["first_seen"], "2025-06-01T10:02:00Z");
    assert_eq!(get["last_seen"], "2025-06-01T10:04:00Z");
    assert_eq!(
        get["resources"],
        serde_json::json!([
            "arn:aws:s3:::orders-archive-111122223333/2025/06/01/o-1.json",
            "arn:aws:s3:::orders-archive-111122223333/in/a b.json"
        ])
    );
    assert_eq!(api["denied"]["s3:PutObject"]["count"], 1);
    let unmapped = api["unmapped"].as_array().unwrap();
    assert_eq!(unmapped.len(), 2);
    assert_eq!(unmapped[0]["event_name"], "ExecuteStatement");
    assert!(unmapped[0]["reason"].as_str().unwrap().contains("PartiQL"));
    // Every principal seen is listed; AWS services, other accounts and SAML/web identities not.
    let mut keys: Vec<&str> = v["principals"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "arn:aws:iam::111122223333:role/OrdersWorkerRole",
            API,
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:user/bob",
            "arn:aws:iam::111122223333:user/ci/deployer",
        ]
    );
    // files: counts and malformed files with reasons
    let files = &v["files"];
    assert_eq!(files["read"], 4);
    assert_eq!(files["digests_skipped"], 1);
    let malformed = files["malformed"].as_array().unwrap();
    assert_eq!(malformed.len(), 1);
    assert!(
        malformed[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("TrUnCaTeD0000001.json.gz")
    );
    assert!(malformed[0]["reason"].as_str().unwrap().contains("gzip"));
}

#[test]
fn principal_and_window_filters() {
    let v = usage_json(&[
        "--principal",
        "arn:aws:iam::111122223333:role/OrdersWorkerRole",
        "--principal",
        "arn:aws:iam::111122223333:role/Unused",
        "--start",
        "2025-06-02T00:00:00Z",
        "--end",
        "2025-06-04T00:00:00Z",
    ]);
    let p = v["principals"].as_object().unwrap();
    assert_eq!(p.len(), 2);
    let worker = &p["arn:aws:iam::111122223333:role/OrdersWorkerRole"];
    assert_eq!(worker["actions"]["logs:CreateLogStream"]["count"], 1);
    assert_eq!(worker["windows"][0]["start"], "2025-06-02T00:00:00Z");
    assert_eq!(
        p["arn:aws:iam::111122223333:role/Unused"]["actions"],
        serde_json::json!({}),
        "asked-for principals are listed even when never seen"
    );
}

#[test]
fn text_output_lists_actions_and_problems() {
    keycard()
        .args(["usage", "--cloudtrail", TREE, "--principal", API])
        .assert()
        .success()
        .stdout(predicate::str::contains("s3:GetObject"))
        .stdout(predicate::str::contains("denied s3:PutObject"))
        .stdout(predicate::str::contains(
            "unmapped madeup.amazonaws.com DoSomethingNew",
        ))
        .stderr(predicate::str::contains("TrUnCaTeD0000001.json.gz"));
}

#[test]
fn missing_or_empty_folders_fail_clearly() {
    keycard()
        .args([
            "usage",
            "--cloudtrail",
            "does/not/exist",
            "--format",
            "json",
        ])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("does not exist"));
    let empty = tempfile::tempdir().unwrap();
    keycard()
        .args(["usage", "--cloudtrail"])
        .arg(empty.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no CloudTrail log files"));
}

#[test]
fn bad_arguments_are_rejected() {
    keycard()
        .args([
            "usage",
            "--cloudtrail",
            TREE,
            "--principal",
            "OrdersApiRole",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not an IAM role"));
    keycard()
        .args(["usage", "--cloudtrail", TREE, "--start", "yesterday"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("RFC 3339"));
    keycard()
        .args([
            "usage",
            "--cloudtrail",
            TREE,
            "--start",
            "2025-06-02T00:00:00Z",
            "--end",
            "2025-06-01T00:00:00Z",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("must be after"));
}
