//! Data-driven test of `keycard check`'s rules: every folder under `tests/fixtures/check/`
//! holds a real-shaped template and, beside it, the insta snapshot `findings.snap`: one line per
//! finding (a statement, a managed policy attachment or a suppression):
//! `RULE line:column resource path [suppressed]`, then each rule it breaks with its message,
//! indented, then `warning: …` lines.
//!
//! The snapshots are insta's, like every other expected output in the workspace (issue 12: one
//! snapshot system): review a changed expectation with `cargo insta review`.

use std::path::{Path, PathBuf};

use keycard_core::catalog::Catalog;
use keycard_core::check::{FileReport, check_template};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/check")
}

fn render(report: &FileReport) -> String {
    let mut out = String::new();
    for f in &report.findings {
        out.push_str(&format!(
            "{} {}:{} {} {}{}\n",
            f.rule,
            f.start.line,
            f.start.column,
            f.resource,
            f.path,
            if f.suppressed.is_some() {
                " suppressed"
            } else {
                ""
            },
        ));
        for v in &f.violations {
            out.push_str(&format!(
                "    {} {}{}\n",
                v.rule,
                v.message,
                if v.suppressed.is_some() {
                    " (suppressed)"
                } else {
                    ""
                }
            ));
        }
    }
    for w in &report.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

#[test]
fn every_fixture_gives_its_expected_findings() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 6, "fixtures missing: {cases:?}");
    for case in &cases {
        let template = ["template.yaml", "template.json"]
            .iter()
            .map(|n| case.join(n))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{} has no template", case.display()));
        let name = template.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&template).unwrap();
        let report = check_template(&name, &text, Catalog::embedded())
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let findings = render(&report);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(case);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.bind(|| insta::assert_snapshot!("findings", findings));
    }
}

#[test]
fn the_clean_fixture_is_really_clean() {
    // Guards the expectation file itself: a least-privilege template must stay finding-free.
    let text = std::fs::read_to_string(fixtures().join("clean/template.yaml")).unwrap();
    let report = check_template("template.yaml", &text, Catalog::embedded()).unwrap();
    assert_eq!(report.findings, vec![], "{report:#?}");
    assert!(report.warnings.is_empty());
}
