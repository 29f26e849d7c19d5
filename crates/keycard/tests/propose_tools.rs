//! Proposals checked by external tools: every proposed template passes cfn-lint, and report.html
//! renders its chart and tables in headless Debian chromium.
//!
//! The tools live at `.venv/bin/cfn-lint` and `/usr/bin/chromium`. When `CI` or
//! `KEYCARD_REQUIRE_TOOLS` is set a missing tool fails the test; otherwise it is skipped with a
//! notice.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tools_required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("KEYCARD_REQUIRE_TOOLS").is_some()
}

/// The tool's path, or `None` (after a skip notice) when it is missing and not required.
fn tool(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(
        !tools_required(),
        "{what} not found at {} (required because CI/KEYCARD_REQUIRE_TOOLS is set)",
        path.display()
    );
    eprintln!("skipping: {what} not found at {}", path.display());
    None
}

/// Runs `keycard propose` on an example into a fresh folder; returns the folder.
fn propose(example: &str, template: &str, extra: &[&str], out: &Path) {
    let root = repo_root();
    let output = Command::cargo_bin("keycard")
        .unwrap()
        .current_dir(&root)
        .arg("propose")
        .arg("--template")
        .arg(format!("examples/{example}/{template}"))
        .arg("--cloudtrail")
        .arg(format!("examples/{example}/cloudtrail"))
        .args(extra)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn proposals(dir: &Path) -> Vec<PathBuf> {
    let orders = dir.join("orders-app");
    propose(
        "orders-app",
        "template.yaml",
        &["--stack-name", "orders-app", "--account-id", "123456789012"],
        &orders,
    );
    let ingest = dir.join("ingest-pipeline");
    propose(
        "ingest-pipeline",
        "template.json",
        &[
            "--stack-name",
            "ingest-pipeline",
            "--account-id",
            "210987654321",
            "--keep",
            "examples/ingest-pipeline/keep.json",
            "--usage",
            "examples/ingest-pipeline/ledger.json",
        ],
        &ingest,
    );
    vec![orders, ingest]
}

#[test]
fn every_proposal_passes_cfn_lint() {
    let Some(cfn_lint) = tool(repo_root().join(".venv/bin/cfn-lint"), "cfn-lint") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let outs = proposals(dir.path());
    let mut templates: Vec<PathBuf> = outs
        .iter()
        .map(|o| {
            let yaml = o.join("template.yaml");
            if yaml.exists() {
                yaml
            } else {
                o.join("template.json")
            }
        })
        .collect();
    // The originals pass too (otherwise the proposal's result would mean little).
    templates.push(repo_root().join("examples/orders-app/template.yaml"));
    templates.push(repo_root().join("examples/ingest-pipeline/template.json"));
    for t in templates {
        let out = Process::new(&cfn_lint).arg(&t).output().unwrap();
        assert!(
            out.status.success(),
            "cfn-lint failed on {}:\n{}{}",
            t.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_proposal_split_into_managed_policies_passes_cfn_lint() {
    let Some(cfn_lint) = tool(repo_root().join(".venv/bin/cfn-lint"), "cfn-lint") else {
        return;
    };
    // Given an admin role (SAM function's implicit role) that used 700 different actions
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.yaml");
    std::fs::write(
        &template,
        "\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Busy:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      InlineCode: 'def handler(e, c): return e'
      Policies:
        - AdministratorAccess
",
    )
    .unwrap();
    let mut actions: Vec<String> = keycard_core::catalog::Catalog::embedded()
        .all_actions()
        .map(|a| a.name().to_string())
        .collect();
    actions.sort_by_key(|a| std::cmp::Reverse(a.len()));
    actions.truncate(700);
    let used: serde_json::Map<String, serde_json::Value> = actions
        .iter()
        .map(|a| {
            (
                a.clone(),
                serde_json::json!({"first_seen": "2026-09-01T00:00:00Z",
                    "last_seen": "2026-10-01T00:00:00Z", "count": 40}),
            )
        })
        .collect();
    let usage = serde_json::json!({"principals": {
        "arn:aws:iam::123456789012:role/big-app-BusyRole-ABCDEFGHIJKL": {
            "actions": used,
            "windows": [{"start": "2026-07-01T00:00:00Z", "end": "2026-10-01T00:00:00Z"}],
            "sources": ["cloudtrail"]
        }
    }});
    let usage_file = dir.path().join("usage.json");
    std::fs::write(&usage_file, usage.to_string()).unwrap();
    let out = dir.path().join("out");
    // When proposing
    let output = Command::cargo_bin("keycard")
        .unwrap()
        .args([
            "propose",
            "--quiet",
            "--stack-name",
            "big-app",
            "--account-id",
            "123456789012",
        ])
        .arg("--template")
        .arg(&template)
        .arg("--usage")
        .arg(&usage_file)
        // The usage stands for a trail that logs everything (this test is about splitting).
        .args(["--data-events", "all"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Then the replacement is split into managed policies attached to the implicit role, and
    // the template is valid.
    let proposed = std::fs::read_to_string(out.join("template.yaml")).unwrap();
    assert!(
        proposed.contains("BusyRoleKeycardPolicy2:"),
        "{proposed:.3000}"
    );
    assert!(proposed.contains("Type: AWS::IAM::ManagedPolicy"));
    assert!(!proposed.contains("- AdministratorAccess"));
    let lint = Process::new(&cfn_lint)
        .arg(out.join("template.yaml"))
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "cfn-lint: {}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
}

/// Loads a file in headless chromium and returns the DOM after scripts ran.
fn dump_dom(chromium: &Path, html: &Path, profile: &Path) -> String {
    let out = Process::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The value of `name="…"` on the element with `id="render-status"`.
fn status_attr(dom: &str, name: &str) -> Option<usize> {
    let start = dom.find("id=\"render-status\"")?;
    let tag_start = dom[..start].rfind('<')?;
    let tag_end = start + dom[start..].find('>')?;
    let tag = &dom[tag_start..tag_end];
    let key = format!("{name}=\"");
    let v = &tag[tag.find(&key)? + key.len()..];
    v[..v.find('"')?].parse().ok()
}

#[test]
fn report_html_renders_chart_and_tables_in_chromium() {
    let Some(chromium) = tool(PathBuf::from("/usr/bin/chromium"), "chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let outs = proposals(dir.path());
    for out in outs {
        let html = out.join("report.html").canonicalize().unwrap();
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        let roles = report["roles"].as_object().unwrap().len();
        let profile = tempfile::tempdir().unwrap();
        let dom = dump_dom(&chromium, &html, profile.path());
        // The inline script ran and counted what the browser rendered: three bars per role,
        // the summary table plus the per-role tables, one summary row per role at least.
        assert!(
            dom.contains("rendered: "),
            "script did not run:\n{dom:.2000}"
        );
        assert_eq!(status_attr(&dom, "data-bars"), Some(roles * 3), "bars");
        assert!(
            status_attr(&dom, "data-tables").unwrap_or(0) > roles,
            "tables"
        );
        assert!(status_attr(&dom, "data-rows").unwrap_or(0) >= roles, "rows");
        // Self-contained: nothing is fetched from elsewhere.
        let source = std::fs::read_to_string(&html).unwrap();
        for external in ["<link", "src=\"http", "href=\"http", "@import", "url(http"] {
            assert!(!source.contains(external), "external asset: {external}");
        }
    }
}
