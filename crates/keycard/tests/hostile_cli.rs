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

/// `keycard propose … | true`: the reader is gone long before the summary is written (the
/// proposal takes a while), so every write meets a closed pipe.
#[test]
fn propose_into_a_closed_pipe_ends_quietly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for format in ["text", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let script = r#""$0" "$@" 2>"$KC_STDERR" | true; exit "${PIPESTATUS[0]}""#;
        let stderr_file = dir.path().join("stderr");
        let out = std::process::Command::new("bash")
            .current_dir(&root)
            .arg("-c")
            .arg(script)
            .arg(bin())
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
                "--format",
                format,
                "--out",
            ])
            .arg(dir.path().join("out"))
            .env("KC_STDERR", &stderr_file)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = std::fs::read_to_string(&stderr_file).unwrap_or_default();
        assert_eq!(
            out.status.code(),
            Some(0),
            "propose --format {format} | true: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(dir.path().join("out/report.json").is_file());
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

// ---- No input ever destroys another file ----

const ACCOUNT: &str = "123456789012";
const WORKER: &str = "arn:aws:iam::123456789012:role/orders-app-worker";

/// A temporary `app/` holding a copy of the orders-app template and a small usage file.
struct App {
    dir: tempfile::TempDir,
}

impl App {
    fn new() -> App {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("app")).unwrap();
        std::fs::copy(
            repo().join("examples/orders-app/template.yaml"),
            dir.path().join("app/template.yaml"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("usage.json"),
            usage_json("sqs:ReceiveMessage", "2026-10-01T00:00:00Z"),
        )
        .unwrap();
        App { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// `propose` on the copy with the usage file as evidence (no scan: fast).
    fn propose(&self, extra: &[&str]) -> Command {
        let mut cmd = keycard();
        cmd.current_dir(self.dir.path()).args([
            "propose",
            "--template",
            "app/template.yaml",
            "--usage",
            "usage.json",
            "--stack-name",
            "orders-app",
            "--account-id",
            ACCOUNT,
        ]);
        cmd.args(extra);
        cmd
    }
}

fn usage_json(action: &str, last_seen: &str) -> String {
    serde_json::json!({"principals": {WORKER: {"actions": {action: {
        "first_seen": "2026-01-01T00:00:00Z", "last_seen": last_seen, "count": 3}}}}})
    .to_string()
}

fn ledger_json(stack: &str, account: &str, usage: &str) -> String {
    let usage: serde_json::Value = serde_json::from_str(usage).unwrap();
    serde_json::to_string_pretty(&serde_json::json!({
        "format": "keycard-ledger", "version": 1, "stack": stack, "account": account,
        "usage": usage
    }))
    .unwrap()
}

fn stderr_of(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn out_on_the_templates_folder_is_refused() {
    let app = App::new();
    let before = std::fs::read(app.path("app/template.yaml")).unwrap();
    let (code, err) = stderr_of(&mut app.propose(&["--out", "app"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("app/template.yaml") && err.contains("--template") && err.contains("--out"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(app.path("app/template.yaml")).unwrap(),
        before
    );
    // The same through another spelling of the path.
    let (code, _) = stderr_of(&mut app.propose(&["--out", "./app/../app"]));
    assert_eq!(code, 2);
    assert_eq!(
        std::fs::read(app.path("app/template.yaml")).unwrap(),
        before
    );
}

#[test]
fn check_output_on_its_template_is_refused() {
    let app = App::new();
    let t = app.path("app/template.yaml");
    let before = std::fs::read(&t).unwrap();
    let (code, err) = stderr_of(
        keycard()
            .arg("check")
            .arg("-o")
            .arg(&t)
            .arg(&t)
            .args(["--fail-on", "never"]),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--output") && err.contains("template"),
        "{err}"
    );
    assert_eq!(std::fs::read(&t).unwrap(), before);
    // A hard link is the same file too.
    std::fs::hard_link(&t, app.path("link.yaml")).unwrap();
    let (code, _) = stderr_of(
        keycard()
            .arg("check")
            .arg("-o")
            .arg(app.path("link.yaml"))
            .arg(&t),
    );
    assert_eq!(code, 2);
    assert_eq!(std::fs::read(&t).unwrap(), before);
}

#[test]
fn ledger_on_an_input_or_an_artifact_is_refused() {
    let app = App::new();
    std::fs::write(app.path("keep.json"), r#"{"keep": []}"#).unwrap();
    for (ledger, extra, names) in [
        ("keep.json", vec!["--keep", "keep.json"], "--keep"),
        ("app/template.yaml", vec![], "--template"),
        ("usage.json", vec![], "--usage"),
        ("out/report.json", vec![], "--out"),
    ] {
        let mut args = vec!["--out", "out", "--ledger", ledger];
        args.extend(extra);
        let (code, err) = stderr_of(&mut app.propose(&args));
        assert_eq!(code, 2, "{ledger}: {err}");
        assert!(err.contains("--ledger") && err.contains(names), "{err}");
    }
    assert!(!app.path("out").exists());
}

#[test]
fn output_inside_the_cloudtrail_folder_is_refused() {
    let app = App::new();
    std::fs::create_dir(app.path("logs")).unwrap();
    let (code, err) = stderr_of(&mut app.propose(&["--cloudtrail", "logs", "--out", "logs/out"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("inside --cloudtrail"), "{err}");
    assert!(!app.path("logs/out").exists());
}

#[test]
fn non_ledger_json_is_refused_and_left_byte_identical() {
    let app = App::new();
    // An earlier run's report, the keep file, a template in JSON: none is a ledger.
    app.propose(&["--out", "out"]).assert().success();
    std::fs::write(app.path("keep.json"), "{\"keep\": []}\n").unwrap();
    std::fs::write(app.path("template.json"), "{\"Resources\": {}}\n").unwrap();
    std::fs::write(app.path("empty.json"), "{}").unwrap();
    for file in [
        "out/report.json",
        "keep.json",
        "template.json",
        "empty.json",
    ] {
        let before = std::fs::read(app.path(file)).unwrap();
        let (code, err) = stderr_of(&mut app.propose(&["--out", "out2", "--ledger", file]));
        assert_eq!(code, 2, "{file}: {err}");
        assert!(err.contains("is not a keycard ledger"), "{err}");
        assert_eq!(std::fs::read(app.path(file)).unwrap(), before, "{file}");
        assert!(!app.path("out2").exists());
    }
}

#[test]
fn foreign_and_forged_ledgers_are_refused() {
    let app = App::new();
    let usage = usage_json("s3:DeleteObject", "2026-08-01T00:00:00Z");
    // Another stack's ledger, another account's ledger.
    for (stack, account) in [("billing", ACCOUNT), ("orders-app", "210987654321")] {
        let text = ledger_json(stack, account, &usage);
        std::fs::write(app.path("ledger.json"), &text).unwrap();
        let (code, err) = stderr_of(&mut app.propose(&["--out", "out", "--ledger", "ledger.json"]));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("is the ledger of stack"), "{err}");
        assert!(err.contains("--force-ledger"), "{err}");
        assert_eq!(
            std::fs::read_to_string(app.path("ledger.json")).unwrap(),
            text
        );
    }
    // Forced: used, and rewritten as this stack's ledger.
    app.propose(&["--out", "out", "--ledger", "ledger.json", "--force-ledger"])
        .assert()
        .success();
    let ledger: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.path("ledger.json")).unwrap()).unwrap();
    assert_eq!(ledger["stack"], "orders-app");
    assert_eq!(ledger["account"], ACCOUNT);
    assert!(ledger["usage"]["principals"][WORKER]["actions"]["s3:DeleteObject"].is_object());

    // Forged entries: a date in 2099, one before CloudTrail, an action that is not IAM's.
    for (action, last, expect) in [
        ("s3:DeleteObject", "2099-01-01T00:00:00Z", "in the future"),
        ("s3:DeleteObject", "2010-01-01T00:00:00Z", "before 2013"),
        (
            "s3:DeleteEverything",
            "2026-08-01T00:00:00Z",
            "not an IAM action",
        ),
    ] {
        let text = ledger_json("orders-app", ACCOUNT, &usage_json(action, last));
        std::fs::write(app.path("ledger.json"), &text).unwrap();
        for force in [false, true] {
            let mut args = vec!["--out", "out", "--ledger", "ledger.json"];
            if force {
                args.push("--force-ledger");
            }
            let (code, err) = stderr_of(&mut app.propose(&args));
            assert_eq!(code, 2, "{err}");
            assert!(err.contains(expect), "{err}");
            // Located: file:line and the entry's path.
            assert!(err.contains("ledger.json:"), "{err}");
            assert!(err.contains(&format!("[\"{action}\"]")), "{err}");
            assert_eq!(
                std::fs::read_to_string(app.path("ledger.json")).unwrap(),
                text
            );
        }
    }
}

#[test]
fn a_headerless_ledger_needs_force_and_is_then_converted() {
    let app = App::new();
    let old = usage_json("s3:DeleteObject", "2026-08-01T00:00:00Z");
    std::fs::write(app.path("ledger.json"), &old).unwrap();
    let (code, err) = stderr_of(&mut app.propose(&["--out", "out", "--ledger", "ledger.json"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("without a ledger header"), "{err}");
    assert_eq!(
        std::fs::read_to_string(app.path("ledger.json")).unwrap(),
        old
    );
    app.propose(&["--out", "out", "--ledger", "ledger.json", "--force-ledger"])
        .assert()
        .success();
    let ledger: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.path("ledger.json")).unwrap()).unwrap();
    assert_eq!(ledger["format"], "keycard-ledger");
    assert_eq!(ledger["stack"], "orders-app");
}

#[test]
fn implausible_usage_files_are_refused() {
    let app = App::new();
    std::fs::write(
        app.path("usage.json"),
        usage_json("sqs:ReceiveMessage", "9999-12-31T00:00:00Z"),
    )
    .unwrap();
    let (code, err) = stderr_of(&mut app.propose(&["--out", "out"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("usage.json:") && err.contains("in the future"),
        "{err}"
    );
    assert!(!app.path("out").exists());
}

#[test]
fn an_earlier_runs_artifacts_are_replaced_as_a_set() {
    let app = App::new();
    // Given an --out holding an earlier run's artifacts, one of them from a JSON template
    std::fs::create_dir(app.path("out")).unwrap();
    std::fs::write(app.path("out/template.json"), "{}").unwrap();
    std::fs::write(app.path("out/report.json"), "old").unwrap();
    // When a YAML template is proposed into it
    app.propose(&["--out", "out"]).assert().success();
    // Then the folder holds exactly this run's artifacts, and no staging folder is left
    let mut names: Vec<String> = std::fs::read_dir(app.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "report.html",
            "report.json",
            "report.md",
            "template.diff",
            "template.yaml"
        ]
    );
    let mut top: Vec<String> = std::fs::read_dir(app.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["app", "out", "usage.json"]);
    // A folder with other files keeps them.
    std::fs::write(app.path("out/notes.txt"), "mine").unwrap();
    app.propose(&["--out", "out"]).assert().success();
    assert_eq!(
        std::fs::read_to_string(app.path("out/notes.txt")).unwrap(),
        "mine"
    );
    assert!(app.path("out/report.json").exists());
}
