//! The CLI as a person or a CI job meets it: help, completions, `check` in every format, bad
//! input and exit codes. Runs the real binary (assert_cmd).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(case: &str) -> PathBuf {
    let dir = repo().join("tests/fixtures/check").join(case);
    let yaml = dir.join("template.yaml");
    if yaml.exists() {
        yaml
    } else {
        dir.join("template.json")
    }
}

/// The binary, run from the repository root with a clean colour environment.
fn keycard() -> Command {
    let mut cmd = Command::cargo_bin("keycard").unwrap();
    cmd.current_dir(repo())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    cmd
}

fn stdout_json(cmd: &mut Command) -> (Value, i32) {
    let out = cmd.output().unwrap();
    let code = out.status.code().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (json, code)
}

// ---------------------------------------------------------------------------------------------
// help, version, completions

#[test]
fn top_level_help_lists_commands_and_exit_codes() {
    keycard()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: keycard"))
        .stdout(predicate::str::contains("propose"))
        .stdout(predicate::str::contains("check"))
        .stdout(predicate::str::contains("completions"))
        .stdout(predicate::str::contains("Exit codes:"))
        .stdout(predicate::str::contains("NO_COLOR"))
        .stdout(predicate::str::contains("--quiet"));
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["usage", "grants", "propose", "check", "completions"] {
        keycard()
            .args([sub, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!("Usage: keycard {sub}")));
    }
    keycard()
        .args(["check", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--fail-on"))
        .stdout(predicate::str::contains("sarif"))
        .stdout(predicate::str::contains("reason"));
}

#[test]
fn version_is_printed() {
    keycard()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("keycard "));
}

#[test]
fn usage_errors_exit_2() {
    keycard()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Usage"));
    keycard().arg("frobnicate").assert().code(2);
    keycard()
        .args(["check", "--format", "xml", "x.yaml"])
        .assert()
        .code(2);
    keycard()
        .arg("check")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("TEMPLATE"));
    keycard()
        .args(["--quiet", "--verbose", "check", "x"])
        .assert()
        .code(2);
}

#[test]
fn completions_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef keycard"),
        ("fish", "complete -c keycard"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion"),
    ] {
        keycard()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains(marker))
            .stdout(predicate::str::contains("fail-on"));
    }
    keycard().args(["completions", "tcsh"]).assert().code(2);
}

// ---------------------------------------------------------------------------------------------
// check: text

#[test]
fn check_text_reports_findings_with_positions_and_fails() {
    keycard()
        .args(["check", "tests/fixtures/check/sam-overprovisioned/template.yaml"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "tests/fixtures/check/sam-overprovisioned/template.yaml:32:11  critical  KC004  ApiFunction: AWS managed policy AdministratorAccess",
        ))
        // PowerUserAccess by name (KC005), and by its statements (KC010, issue 13).
        .stdout(predicate::str::contains("KC005,KC010  FulfilmentStateMachine"))
        .stdout(predicate::str::contains("\x1b[").not())
        .stderr(predicate::str::contains("findings ("));
}

#[test]
fn check_clean_template_exits_0_with_no_output() {
    keycard()
        .args(["check"])
        .arg(fixture("clean"))
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("0 findings in 1 template"));
}

#[test]
fn fail_on_sets_the_threshold() {
    // suppressions/: after suppressions, one critical (KC004), one medium (KC012) and two low
    // (KC090) remain.
    let t = fixture("suppressions");
    keycard().arg("check").arg(&t).assert().code(1);
    keycard()
        .args(["check", "--fail-on", "critical"])
        .arg(&t)
        .assert()
        .code(1);
    keycard()
        .args(["check", "--fail-on", "never"])
        .arg(&t)
        .assert()
        .code(0);
    // trust-policies/ has critical and high findings only.
    let t = fixture("trust-policies");
    keycard()
        .args(["check", "--fail-on", "high"])
        .arg(&t)
        .assert()
        .code(1);
    // clean passes at every threshold.
    keycard()
        .args(["check", "--fail-on", "low"])
        .arg(fixture("clean"))
        .assert()
        .code(0);
}

#[test]
fn suppressed_findings_show_only_when_verbose() {
    let t = fixture("suppressions");
    keycard()
        .args(["check"])
        .arg(&t)
        .assert()
        .stdout(predicate::str::contains("KC002").not())
        // BatchRole's statement is partly suppressed (KC003, KC010) and still a finding (KC012).
        .stdout(predicate::str::contains("KC012  BatchRole"))
        .stdout(predicate::str::contains("KC010").not())
        .stderr(predicate::str::contains("1 suppressed"));
    keycard()
        .args(["check", "--verbose"])
        .arg(&t)
        .assert()
        .stdout(predicate::str::contains(
            "(suppressed: sqs:* is scoped to the one queue this function owns)",
        ))
        .stdout(predicate::str::contains(
            "Suppressions are reviewed decisions",
        ))
        .stdout(predicate::str::contains(
            "KC010 suppressed: batch import job, reviewed by security (SEC-1432)",
        ));
}

#[test]
fn colour_only_when_asked_and_never_with_no_color() {
    let t = fixture("sam-overprovisioned");
    keycard()
        .args(["check", "--color", "always"])
        .arg(&t)
        .assert()
        .stdout(predicate::str::contains("\x1b[1;31mcritical"));
    keycard()
        .args(["check", "--color", "auto"])
        .arg(&t)
        .env("NO_COLOR", "1")
        .assert()
        .stdout(predicate::str::contains("\x1b[").not());
}

#[test]
fn quiet_prints_results_but_no_summary() {
    keycard()
        .args(["--quiet", "check"])
        .arg(fixture("sam-overprovisioned"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("KC004"))
        .stderr("");
}

// ---------------------------------------------------------------------------------------------
// check: JSON and SARIF

#[test]
fn check_json_has_files_findings_and_summary() {
    let (json, code) = stdout_json(
        keycard()
            .args(["check", "--format", "json"])
            .arg(fixture("iam-escalation"))
            .arg(fixture("clean")),
    );
    assert_eq!(code, 1);
    assert_eq!(json["version"], 2);
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[1]["findings"].as_array().unwrap().len(), 0);
    // One finding per statement, listing every rule the statement breaks.
    let findings = files[0]["findings"].as_array().unwrap();
    let rules: Vec<&str> = findings
        .iter()
        .flat_map(|f| f["violations"].as_array().unwrap())
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    for want in [
        "KC007", "KC008", "KC011", "KC020", "KC021", "KC022", "KC023",
    ] {
        assert!(rules.contains(&want), "{want} missing from {rules:?}");
    }
    let first = &files[0]["findings"][0];
    assert!(first["start"]["line"].as_u64().unwrap() > 0);
    assert!(first["path"].as_str().unwrap().starts_with("/Resources/"));
    assert_eq!(json["summary"]["findings"], findings.len());
    assert!(findings.len() < rules.len(), "{rules:?}");
}

fn sarif_validator() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(repo().join("tests/schemas/sarif-2.1.0-rtm.5.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_valid_sarif(validator: &jsonschema::Validator, sarif: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF schema violations:\n{}",
        errors.join("\n")
    );
}

#[test]
fn sarif_output_validates_against_the_sarif_2_1_0_schema() {
    let validator = sarif_validator();
    let all: Vec<PathBuf> = [
        "sam-overprovisioned",
        "iam-escalation",
        "trust-policies",
        "suppressions",
        "conditions-and-strings",
        "clean",
    ]
    .iter()
    .map(|c| fixture(c))
    .collect();
    let (sarif, code) = stdout_json(keycard().args(["check", "--format", "sarif"]).args(&all));
    assert_eq!(code, 1);
    assert_valid_sarif(&validator, &sarif);

    let run = &sarif["runs"][0];
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(run["tool"]["driver"]["name"], "keycard");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "KC001"));
    let results = run["results"].as_array().unwrap();
    assert!(results.len() >= 20, "{}", results.len());
    for r in results {
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(
            loc["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .ends_with("template.yaml")
                || loc["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .ends_with("template.json")
        );
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
    }
    // Suppressed findings stay in the log, marked in-source with their justification.
    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["suppressions"][0]["kind"], "inSource");
    // BatchRole's statement: KC003 and KC010 are suppressed with their reason, KC012 is not,
    // so the result stands and lists the reviewed rules.
    assert!(results.iter().any(|r| {
        r["properties"]["suppressedRules"]
            .as_array()
            .is_some_and(|s| {
                s.iter()
                    .any(|x| x["justification"].as_str().unwrap().contains("SEC-1432"))
            })
    }));
    // The broken JSON-string policy is reported as a tool notification, not dropped.
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert!(notes.iter().any(|n| {
        n["message"]["text"]
            .as_str()
            .unwrap()
            .contains("BrokenPolicy")
    }));
}

#[test]
fn sarif_of_a_clean_template_is_valid_and_empty() {
    let (sarif, code) = stdout_json(
        keycard()
            .args(["check", "--format", "sarif"])
            .arg(fixture("clean")),
    );
    assert_eq!(code, 0);
    assert_valid_sarif(&sarif_validator(), &sarif);
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 0);
}

#[test]
fn the_schema_check_is_not_vacuous() {
    // A log missing `version` and with a bad level must be rejected by the same validator.
    let bad = serde_json::json!({
        "runs": [{ "tool": { "driver": { "name": "keycard" } },
                   "results": [{ "message": { "text": "x" }, "level": "fatal" }] }]
    });
    assert!(!sarif_validator().is_valid(&bad));
}

#[test]
fn output_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports/keycard.sarif");
    keycard()
        .args(["check", "--format", "sarif", "-o"])
        .arg(&out)
        .arg(fixture("trust-policies"))
        .assert()
        .code(1)
        .stdout("");
    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    // Three trust findings, and LambdaRole's AWSLambdaBasicExecutionRole (KC010: logs writes
    // on every log group, judged by its statements).
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 4);
}

#[test]
fn rules_can_be_listed() {
    keycard()
        .args(["check", "--list-rules"])
        .assert()
        .success()
        .stdout(predicate::str::contains("KC023"))
        .stdout(predicate::str::contains("privilege-escalation-combination"));
    let (json, code) = stdout_json(keycard().args(["check", "--list-rules", "--format", "json"]));
    assert_eq!(code, 0);
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .all(|r| r["rationale"].as_str().unwrap().len() > 40)
    );
}

// ---------------------------------------------------------------------------------------------
// check: bad input

#[test]
fn missing_file_exits_2_but_checks_the_others() {
    keycard()
        .args(["check", "does/not/exist.yaml"])
        .arg(fixture("sam-overprovisioned"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot read template does/not/exist.yaml: No such file or directory",
        ))
        .stdout(predicate::str::contains("KC004"));
}

#[test]
fn an_unreadable_template_is_in_json_and_sarif_not_only_on_stderr() {
    // Given a missing file and a clean template,
    let (json, code) = stdout_json(
        keycard()
            .args(["check", "--format", "json", "does/not/exist.yaml"])
            .arg(fixture("clean")),
    );
    // then JSON names the file with its error,
    assert_eq!(code, 2);
    assert!(
        json["files"][0]["error"]
            .as_str()
            .unwrap()
            .contains("does/not/exist.yaml")
    );
    assert_eq!(json["summary"]["unreadable"], 1);
    // and SARIF says the run failed, with an error notification a code-scanning upload shows.
    let (sarif, code) = stdout_json(
        keycard()
            .args(["check", "--format", "sarif", "does/not/exist.yaml"])
            .arg(fixture("clean")),
    );
    assert_eq!(code, 2);
    assert_valid_sarif(&sarif_validator(), &sarif);
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    assert!(
        invocation["toolExecutionNotifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["level"] == "error"
                && n["message"]["text"]
                    .as_str()
                    .unwrap()
                    .contains("does/not/exist.yaml"))
    );
}

#[test]
fn invalid_statements_are_findings_and_fail_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("invalid.yaml");
    std::fs::write(
        &path,
        "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]\n      Policies:\n        - PolicyName: p\n          PolicyDocument:\n            Statement:\n              - Effect: allow\n                Action: s3:GetObject\n                Resource: arn:aws:s3:::b/*\n",
    )
    .unwrap();
    keycard()
        .arg("check")
        .arg(&path)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("KC040"))
        .stdout(predicate::str::contains("`allow` must be written `Allow`"));
    keycard()
        .arg("grants")
        .arg(&path)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "invalid statement: Effect `allow`",
        ));
}

#[test]
fn bad_yaml_exits_2_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.yaml");
    std::fs::write(
        &bad,
        "Resources:\n  Role:\n    Type: [AWS::IAM::Role\n    Properties: {}\n",
    )
    .unwrap();
    keycard()
        .arg("check")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::is_match(r"broken\.yaml:\d+:\d+: invalid YAML").unwrap());
}

#[test]
fn non_templates_and_empty_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 4] = [
        ("list.yaml", "- a\n- b\n", "not a CloudFormation template"),
        ("empty.yaml", "", "not a CloudFormation template"),
        ("binary.json", "\u{0}\u{1}\u{2}", "binary.json:1:1: invalid"),
        (
            "dupes.yaml",
            "Resources:\n  A:\n    Type: AWS::SQS::Queue\n  A:\n    Type: AWS::SNS::Topic\n",
            "dupes.yaml:4:3: duplicate key `A`",
        ),
    ];
    for (name, text, message) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        keycard()
            .arg("check")
            .arg(&path)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
}

#[test]
fn non_utf8_template_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.yaml");
    std::fs::write(&path, b"Resources:\n  R:\n    Type: caf\xe9\n").unwrap();
    keycard()
        .arg("check")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("latin1.yaml"));
}

// ---------------------------------------------------------------------------------------------
// The README's promises

/// The first command of the README, as written there.
fn readme_quickstart() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .expect("README has a ```sh block");
    block.lines().next().unwrap().to_string()
}

#[test]
fn readme_quickstart_runs_exactly_as_written() {
    let command = readme_quickstart();
    // `cargo run -p keycard -- <args>` is this binary with <args>; the arguments hold no
    // quoting, so splitting on whitespace is what a shell does with them.
    let args = command
        .strip_prefix("cargo run -p keycard -- ")
        .unwrap_or_else(|| panic!("README quick start changed shape: {command}"));
    let args: Vec<&str> = args.split_whitespace().collect();
    assert!(!command.contains(['"', '\'', '\\', '$']), "{command}");
    let out_dir = args
        .iter()
        .position(|a| *a == "--out")
        .map(|i| repo().join(args[i + 1]))
        .expect("--out");
    let _ = std::fs::remove_dir_all(&out_dir);
    keycard()
        .args(&args)
        .assert()
        .success()
        .stdout(predicate::str::contains("PRINCIPAL"))
        .stdout(predicate::str::contains("→"));
    for artifact in [
        "template.yaml",
        "template.diff",
        "report.json",
        "report.md",
        "report.html",
    ] {
        assert!(
            out_dir.join(artifact).is_file(),
            "{artifact} missing in {}",
            out_dir.display()
        );
    }
}

#[test]
fn keycard_checks_its_own_template_clean() {
    // keycard's own SAM app must be least privilege by its own rules.
    let template = repo().join("template.yaml");
    let text = std::fs::read_to_string(&template).unwrap();
    assert!(
        text.contains("Policies:"),
        "template.yaml grants nothing to check"
    );
    let (json, code) = stdout_json(keycard().args(["check", "--format", "json", "template.yaml"]));
    assert_eq!(
        json["files"][0]["findings"],
        serde_json::json!([]),
        "{json:#}"
    );
    assert_eq!(json["files"][0]["warnings"], serde_json::json!([]));
    assert_eq!(code, 0);
}

// ---------------------------------------------------------------------------------------------
// Every command: JSON for scripts, exit 2 on bad input

const EXAMPLE_TEMPLATE: &str = "examples/orders-app/template.yaml";
const EXAMPLE_TRAIL: &str = "examples/orders-app/cloudtrail";

#[test]
fn every_command_speaks_json() {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("proposal");
    let runs: Vec<Vec<String>> = vec![
        vec!["usage".into(), "--cloudtrail".into(), EXAMPLE_TRAIL.into()],
        vec!["grants".into(), EXAMPLE_TEMPLATE.into()],
        vec![
            "propose".into(),
            "--template".into(),
            EXAMPLE_TEMPLATE.into(),
            "--cloudtrail".into(),
            EXAMPLE_TRAIL.into(),
            "--stack-name".into(),
            "orders-app".into(),
            "--account-id".into(),
            "123456789012".into(),
            "--out".into(),
            out_dir.display().to_string(),
        ],
        vec![
            "check".into(),
            "--fail-on".into(),
            "never".into(),
            EXAMPLE_TEMPLATE.into(),
        ],
    ];
    for args in runs {
        let (json, code) = stdout_json(keycard().args(&args).arg("--format").arg("json"));
        assert_eq!(code, 0, "{args:?}");
        assert!(json.is_object(), "{args:?}: {json}");
    }
}

#[test]
fn every_command_exits_2_on_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let empty_trail = dir.path().join("empty-trail");
    std::fs::create_dir(&empty_trail).unwrap();
    let bad_yaml = dir.path().join("bad.yaml");
    std::fs::write(&bad_yaml, "Resources:\n  Api:\n    Type: [AWS::IAM::Role\n").unwrap();
    let missing = dir.path().join("missing.yaml");
    let out = dir.path().join("out");
    let p = |p: &Path| p.display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["usage".into(), "--cloudtrail".into(), p(&empty_trail)],
            "no CloudTrail log files",
        ),
        (
            vec!["usage".into(), "--cloudtrail".into(), p(&missing)],
            "does not exist",
        ),
        (vec!["grants".into(), p(&missing)], "missing.yaml"),
        (vec!["grants".into(), p(&bad_yaml)], "invalid YAML"),
        (
            vec![
                "propose".into(),
                "--template".into(),
                p(&bad_yaml),
                "--cloudtrail".into(),
                EXAMPLE_TRAIL.into(),
                "--out".into(),
                p(&out),
            ],
            "invalid YAML",
        ),
        (
            vec![
                "propose".into(),
                "--template".into(),
                EXAMPLE_TEMPLATE.into(),
                "--cloudtrail".into(),
                p(&empty_trail),
                "--out".into(),
                p(&out),
            ],
            "no CloudTrail log files",
        ),
        (vec!["check".into(), p(&bad_yaml)], "invalid YAML"),
    ];
    for (args, message) in cases {
        keycard()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
}

#[test]
fn a_proposal_removes_the_worst_findings() {
    // Given the over-provisioned example and its CloudTrail evidence
    let (before, _) = stdout_json(keycard().args(["check", "--format", "json", EXAMPLE_TEMPLATE]));
    let rules = |report: &Value| -> Vec<String> {
        report["files"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    let before = rules(&before);
    assert!(before.iter().any(|r| r == "KC004"), "{before:?}");
    assert!(before.iter().any(|r| r == "KC005"), "{before:?}");

    // When keycard proposes least privilege
    let dir = tempfile::tempdir().unwrap();
    keycard()
        .args([
            "--quiet",
            "propose",
            "--template",
            EXAMPLE_TEMPLATE,
            "--cloudtrail",
            EXAMPLE_TRAIL,
            "--stack-name",
            "orders-app",
            "--account-id",
            "123456789012",
            "--trail-config",
            "examples/orders-app/trail.json",
            "--out",
        ])
        .arg(dir.path())
        .assert()
        .success();

    // Then the proposed template has no admin or power-user grant left and fewer findings
    let (after, _) = stdout_json(
        keycard()
            .args(["check", "--format", "json"])
            .arg(dir.path().join("template.yaml")),
    );
    let after = rules(&after);
    for gone in ["KC001", "KC004", "KC005"] {
        assert!(
            !after.iter().any(|r| r == gone),
            "{gone} still in {after:?}"
        );
    }
    // (The total may grow: AdministratorAccess is one finding, while the data-plane actions
    // the example trail does not log stay kept per service, each with its own finding.)
    assert!(!after.is_empty() || before.is_empty());
}

#[test]
fn check_reads_a_template_from_stdin() {
    let text = std::fs::read_to_string(fixture("trust-policies")).unwrap();
    keycard()
        .args(["check", "-"])
        .write_stdin(text)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "<stdin>:11:13  critical  KC030  PublicRole",
        ));
}
