//! `keycard propose` as a command: output formats, overrides and bad input (exit code 2 with a
//! message that says what to do).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn keycard() -> Command {
    let mut c = Command::cargo_bin("keycard").unwrap();
    c.current_dir(repo_root()).env("NO_COLOR", "1");
    c
}

const ORDERS: [&str; 4] = [
    "--template",
    "examples/orders-app/template.yaml",
    "--cloudtrail",
    "examples/orders-app/cloudtrail",
];

#[test]
fn format_json_prints_a_machine_readable_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let output = keycard()
        .arg("propose")
        .args(ORDERS)
        .args(["--stack-name", "orders-app", "--account-id", "123456789012"])
        .arg("--out")
        .arg(&out)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let v: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(v["roles"]["WorkerRole"]["status"], "proposed");
    assert_eq!(v["roles"]["WorkerRole"]["granted"], 22091);
    assert_eq!(v["roles"]["ReportingRole"]["status"], "no_activity");
    assert_eq!(v["summary"]["principals"], 4);
    for name in [
        "template.yaml",
        "template.diff",
        "report.json",
        "report.md",
        "report.html",
    ] {
        let path = v["artifacts"][name].as_str().unwrap();
        assert!(Path::new(path).is_file(), "{path}");
    }
}

#[test]
fn without_stack_name_generated_roles_are_reported_unmatched_and_role_arn_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    // Given no --stack-name, CloudFormation-generated role names cannot be matched
    keycard()
        .arg("propose")
        .args(ORDERS)
        .args(["--account-id", "123456789012", "--format", "json"])
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("WorkerRole: name is generated"))
        .stdout(predicate::str::contains("\"unmatched\""));
    // ... unless --role-arn says which role it is.
    let output = keycard()
        .arg("propose")
        .args(ORDERS)
        .args([
            "--account-id",
            "123456789012",
            "--role-arn",
            "WorkerRole=arn:aws:iam::123456789012:role/orders-app-WorkerRole-8HJK2L3M4N5P",
            "--format",
            "json",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(v["roles"]["WorkerRole"]["status"], "proposed");
    assert_eq!(v["roles"]["ApiFunctionRole"]["status"], "unmatched");
}

#[test]
fn a_yaml_keep_file_keeps_granted_actions_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let keep = dir.path().join("keep.yaml");
    std::fs::write(
        &keep,
        "# actions the evidence cannot show\nkeep:\n  - principal: StateMachineRole\n    actions: [states:StartExecution, iam:CreateRole]\n    reason: manual replays from the console\n",
    )
    .unwrap();
    let output = keycard()
        .arg("propose")
        .args(ORDERS)
        .args(["--stack-name", "orders-app", "--account-id", "123456789012"])
        .arg("--keep")
        .arg(&keep)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let role = &report["roles"]["StateMachineRole"];
    let kept: Vec<&str> = role["kept_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["action"].as_str().unwrap())
        .collect();
    // PowerUserAccess grants states:StartExecution but not iam:CreateRole: the keep-list never
    // adds a permission, it is reported instead.
    assert!(kept.contains(&"states:StartExecution"), "{kept:?}");
    assert!(!kept.contains(&"iam:CreateRole"));
    assert!(
        role["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "keep_list_unmatched")
    );
}

#[test]
fn a_window_limits_the_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    // The twice-a-year rotation (May 12) is outside a window starting in August.
    let output = keycard()
        .arg("propose")
        .args(ORDERS)
        .args(["--stack-name", "orders-app", "--account-id", "123456789012"])
        .args([
            "--start",
            "2026-08-01T00:00:00Z",
            "--end",
            "2026-10-31T00:00:00Z",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success());
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let removed = report["roles"]["WorkerRole"]["removed_actions"]
        .as_array()
        .unwrap();
    assert!(removed.contains(&Value::from("secretsmanager:PutSecretValue")));
    assert_eq!(report["window"]["start"], "2026-08-01T00:00:00Z");
}

#[test]
fn bad_input_exits_2_with_a_useful_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let bad_yaml = dir.path().join("bad.yaml");
    std::fs::write(&bad_yaml, "Resources:\n  Role: [\n").unwrap();
    let bad_keep = dir.path().join("keep.json");
    std::fs::write(&bad_keep, "{\"keep\": [\n").unwrap();

    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--template".into(),
                "no/such/template.yaml".into(),
                "--cloudtrail".into(),
                "examples/orders-app/cloudtrail".into(),
            ],
            "cannot read template",
        ),
        (
            vec![
                "--template".into(),
                bad_yaml.display().to_string(),
                "--cloudtrail".into(),
                "examples/orders-app/cloudtrail".into(),
            ],
            "bad.yaml:",
        ),
        (
            vec![
                "--template".into(),
                "examples/orders-app/template.yaml".into(),
                "--cloudtrail".into(),
                empty.display().to_string(),
            ],
            "no CloudTrail log files",
        ),
        (
            vec![
                "--template".into(),
                "examples/orders-app/template.yaml".into(),
                "--cloudtrail".into(),
                "examples/orders-app/cloudtrail".into(),
                "--keep".into(),
                bad_keep.display().to_string(),
            ],
            "keep file",
        ),
        (
            vec![
                "--template".into(),
                "examples/orders-app/template.yaml".into(),
                "--cloudtrail".into(),
                "examples/orders-app/cloudtrail".into(),
                "--role-arn".into(),
                "WorkerRole".into(),
            ],
            "LogicalId=arn",
        ),
        (
            vec![
                "--template".into(),
                "examples/orders-app/template.yaml".into(),
                "--cloudtrail".into(),
                "examples/orders-app/cloudtrail".into(),
                "--account-id".into(),
                "1234".into(),
            ],
            "12 digits",
        ),
        (
            vec![
                "--template".into(),
                "examples/orders-app/template.yaml".into(),
                "--cloudtrail".into(),
                "examples/orders-app/cloudtrail".into(),
                "--start".into(),
                "yesterday".into(),
            ],
            "RFC 3339",
        ),
        (
            vec![
                "--template".into(),
                "examples/orders-app/template.yaml".into(),
            ],
            "--cloudtrail",
        ),
    ];
    for (args, message) in cases {
        keycard()
            .arg("propose")
            .args(&args)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
}
