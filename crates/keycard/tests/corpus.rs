//! A sample of the real-template corpus (tests/fixtures/corpus/, public templates from the source
//! distributions of CloudFormation tooling; ATTRIBUTION.md there) under the assertions
//! `scripts/corpus-check` makes on the whole corpus (docs/CORPUS.md):
//!
//! - keycard loads a template exactly when PyYAML, with cfn-lint's tag handling, loads it as a
//!   template (the verdict is precomputed by the script into expectations.json, so this test
//!   needs no Python), and a refusal is a `file:line:column:` error with exit code 2;
//! - `keycard propose` with one synthetic CloudTrail record per role (also in expectations.json)
//!   succeeds without a panic, and the proposed template loads again;
//! - `keycard check` on the proposal is never more severe for any principal than on the
//!   template it replaces (the assertion `propose_examples` makes on the bundled examples,
//!   shared in `tests/severity/`), with no exception: an AWS managed policy the proposal
//!   writes out as explicit statements was already judged by those statements (issue 13).
//!
//! Refresh the sample with `scripts/corpus-check --write-sample`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

mod severity;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/corpus")
}

fn keycard() -> Command {
    let mut cmd = Command::cargo_bin("keycard").unwrap();
    cmd.env("NO_COLOR", "1").env("RUST_BACKTRACE", "0");
    cmd
}

fn expectations() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(corpus().join("expectations.json")).unwrap();
    match serde_json::from_str(&text).unwrap() {
        Value::Object(map) => map,
        other => panic!("expectations.json is not an object: {other}"),
    }
}

/// `keycard grants --format json`: Ok(grants JSON) or Err(stderr), after checking it did not panic.
fn run_grants(path: &Path) -> Result<Value, String> {
    let out = keycard()
        .args(["grants", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{}: {stderr}", path.display());
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", path.display());
        Err(stderr)
    }
}

/// Loading agrees with PyYAML; refusals say where.
fn check_load(name: &str, case: &Value) -> Option<Value> {
    let path = corpus().join(name);
    // PyYAML's verdict, except where keycard refuses on purpose (`known_difference` says why).
    let pyyaml = case["keycard_loads"].as_bool().unwrap();
    match run_grants(&path) {
        Ok(grants) => {
            assert!(
                pyyaml,
                "{name}: keycard loads what it should refuse (PyYAML: {}; known difference: {})",
                case["pyyaml_reason"], case["known_difference"]
            );
            Some(grants)
        }
        Err(stderr) => {
            assert!(
                !pyyaml,
                "{name}: PyYAML loads it, keycard refuses: {stderr}"
            );
            let positioned = stderr.lines().any(|l| {
                let l = l.strip_prefix("error: ").unwrap_or(l);
                l.split(": ").next().is_some_and(|head| {
                    let mut parts = head.rsplitn(3, ':');
                    let col = parts.next().unwrap_or("");
                    let line = parts.next().unwrap_or("");
                    col.parse::<usize>().is_ok() && line.parse::<usize>().is_ok()
                })
            });
            assert!(
                positioned,
                "{name}: refusal without file:line:column: {stderr}"
            );
            None
        }
    }
}

/// What `check_propose` found.
#[derive(Default)]
struct Proposed {
    narrowed: usize,
}

/// `keycard propose` with the synthetic evidence: no failure, the proposal re-parses, and
/// `check` finds nothing more severe on it for any principal.
fn check_propose(name: &str, case: &Value, grants: &Value) -> Proposed {
    let principals: Vec<&str> = grants["grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["principal"].as_str())
        .collect();
    let role_arns = case["role_arns"].as_object().unwrap();
    for role in role_arns.keys() {
        assert!(
            principals.contains(&role.as_str()),
            "{name}: the evidence names {role}, which `grants` no longer reports; \
             refresh with scripts/corpus-check --write-sample"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("cloudtrail");
    std::fs::create_dir_all(&trail).unwrap();
    let records = json!({"Records": case["cloudtrail"]});
    std::fs::write(trail.join("trail.json"), records.to_string()).unwrap();
    let out_dir = dir.path().join("out");
    let mut cmd = keycard();
    cmd.args(["-q", "propose", "--template"])
        .arg(corpus().join(name))
        .arg("--cloudtrail")
        .arg(&trail)
        .args(["--stack-name", "corpus", "--account-id", "123456789012"])
        .args(["--region", "us-east-1", "--format", "json", "--out"])
        .arg(&out_dir);
    for (role, arn) in role_arns {
        cmd.arg("--role-arn")
            .arg(format!("{role}={}", arn.as_str().unwrap()));
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    assert!(out.status.success(), "{name}: propose failed: {stderr}");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        out_dir.join("report.json").exists(),
        "{name}: no report.json"
    );
    let mut found = Proposed::default();
    for file in ["template.yaml", "template.json"] {
        let proposed = out_dir.join(file);
        if !proposed.exists() {
            continue;
        }
        if let Err(e) = run_grants(&proposed) {
            panic!("{name}: the proposed {file} does not load: {e}");
        }
        severity::assert_never_more_severe(name, &corpus().join(name), &proposed);
    }
    found.narrowed = summary["roles"]
        .as_object()
        .map(|roles| {
            roles
                .values()
                .filter(|r| r["status"] == "proposed" && r["removed"].as_u64() > Some(0))
                .count()
        })
        .unwrap_or(0);
    found
}

#[test]
fn corpus_sample_loads_like_pyyaml_and_proposals_reparse() {
    let cases = expectations();
    assert!(
        cases.len() >= 20,
        "the sample has {} templates",
        cases.len()
    );
    let (mut loaded, mut refused, mut narrowed) = (0, 0, 0);
    for (name, case) in &cases {
        match check_load(name, case) {
            Some(grants) => {
                loaded += 1;
                let found = check_propose(name, case, &grants);
                narrowed += found.narrowed;
            }
            None => refused += 1,
        }
    }
    // The sample keeps both sides of the agreement, and evidence that narrows something.
    assert!(
        loaded > 0 && refused > 0,
        "loaded {loaded}, refused {refused}"
    );
    assert!(narrowed > 0, "no role narrowed on the sample");
}
