//! Hostile and careless input against the real binary (issue 14): no input ever destroys another
//! file, no panic. Each test names the case it guards.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn keycard() -> Command {
    let mut cmd = Command::cargo_bin("keycard").unwrap();
    cmd.current_dir(repo()).env("NO_COLOR", "1");
    cmd
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("keycard")
}

/// A template with `roles` roles, each with an inline policy: big enough output that a reader
/// closing after one line breaks the pipe.
fn many_roles_template(roles: usize) -> String {
    let mut t = String::from("Resources:\n");
    for i in 0..roles {
        write!(
            t,
            "  Role{i}:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {{}}\n      Policies:\n        - PolicyName: p\n          PolicyDocument:\n            Statement:\n              - Effect: Allow\n                Action: [s3:GetObject, s3:PutObject]\n                Resource: '*'\n"
        )
        .unwrap();
    }
    t
}

/// A plain CloudTrail file with one event for each of `roles` roles.
fn many_roles_trail(roles: usize) -> String {
    let records: Vec<serde_json::Value> = (0..roles)
        .map(|i| {
            serde_json::json!({
                "eventVersion": "1.09",
                "userIdentity": {
                    "type": "AssumedRole",
                    "arn": format!("arn:aws:sts::111122223333:assumed-role/Role{i}/s"),
                    "accountId": "111122223333",
                    "sessionContext": {"sessionIssuer": {
                        "type": "Role",
                        "arn": format!("arn:aws:iam::111122223333:role/Role{i}"),
                        "accountId": "111122223333",
                        "userName": format!("Role{i}")
                    }}
                },
                "eventTime": "2025-06-03T12:00:00Z",
                "eventSource": "s3.amazonaws.com",
                "eventName": "ListBuckets",
                "awsRegion": "eu-west-1",
                "eventID": format!("e0000000-0000-4000-8000-{i:012}"),
                "eventType": "AwsApiCall",
                "managementEvent": true,
                "recipientAccountId": "111122223333"
            })
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}

/// Runs `keycard ARGS | head -1` in bash; returns keycard's exit status and its stderr.
fn piped_to_head(args: &[&str]) -> (i32, String) {
    let script = r#""$0" "$@" 2>"$KC_STDERR" | head -1 >/dev/null; exit "${PIPESTATUS[0]}""#;
    let dir = tempfile::tempdir().unwrap();
    let stderr_file = dir.path().join("stderr");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(bin())
        .args(args)
        .env("KC_STDERR", &stderr_file)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = std::fs::read_to_string(&stderr_file).unwrap_or_default();
    (out.status.code().unwrap_or(-1), stderr)
}

#[test]
fn grants_piped_to_head_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("template.yaml");
    std::fs::write(&t, many_roles_template(1500)).unwrap();
    for format in ["text", "json"] {
        let (code, stderr) = piped_to_head(&["grants", t.to_str().unwrap(), "--format", format]);
        assert_eq!(code, 0, "grants --format {format} | head: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains("Broken pipe"), "{stderr}");
    }
}

#[test]
fn usage_piped_to_head_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("trail");
    std::fs::create_dir(&trail).unwrap();
    std::fs::write(
        trail.join("111122223333_CloudTrail_eu-west-1_20250603T1205Z_Abc.json"),
        many_roles_trail(1500),
    )
    .unwrap();
    for format in ["text", "json"] {
        let (code, stderr) = piped_to_head(&[
            "--quiet",
            "usage",
            "--cloudtrail",
            trail.to_str().unwrap(),
            "--format",
            format,
        ]);
        assert_eq!(code, 0, "usage --format {format} | head: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains("Broken pipe"), "{stderr}");
    }
}

#[test]
fn retention_days_out_of_range_is_a_clean_usage_error() {
    let out = tempfile::tempdir().unwrap();
    for days in ["100000000", "0", "3651", "-5"] {
        keycard()
            .args([
                "propose",
                "--template",
                "examples/orders-app/template.yaml",
                "--cloudtrail",
                "examples/orders-app/cloudtrail",
                "--stack-name",
                "orders-app",
                "--account-id",
                "123456789012",
                "--out",
            ])
            .arg(out.path().join("o"))
            .arg(format!("--retention-days={days}"))
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--retention-days"))
            .stderr(predicate::str::contains("panicked").not());
    }
    // Nothing was written.
    assert!(!out.path().join("o").exists());
}

#[test]
fn threads_are_capped() {
    for n in ["257", "20000", "0"] {
        keycard()
            .args([
                "usage",
                "--cloudtrail",
                "tests/fixtures/cloudtrail/tree",
                "--threads",
                n,
            ])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("from 1 to 256"));
    }
    keycard()
        .args([
            "usage",
            "--cloudtrail",
            "tests/fixtures/cloudtrail/tree",
            "--threads",
            "256",
            "--format",
            "json",
        ])
        .assert()
        .success();
    keycard()
        .args(["usage", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 to 256"));
}
