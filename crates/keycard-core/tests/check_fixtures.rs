//! Data-driven test of `keycard check`'s rules: every folder under `tests/fixtures/check/`
//! holds a real-shaped template and `expected.txt`, one line per finding (a statement, a managed
//! policy attachment or a suppression): `RULE line:column resource path [suppressed]`, then each
//! rule it breaks with its message, indented, then `warning: …` lines.
//!
//! To review a changed expectation, run with `KEYCARD_BLESS=1` and read the diff in git.

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
    let bless = std::env::var_os("KEYCARD_BLESS").is_some();
    let mut failures = Vec::new();
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
        let got = render(&report);
        let expected_path = case.join("expected.txt");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} missing", expected_path.display()));
        if got != expected {
            failures.push(format!(
                "== {}\n-- expected\n{expected}-- got\n{got}",
                case.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_clean_fixture_is_really_clean() {
    // Guards the expectation file itself: a least-privilege template must stay finding-free.
    let text = std::fs::read_to_string(fixtures().join("clean/template.yaml")).unwrap();
    let report = check_template("template.yaml", &text, Catalog::embedded()).unwrap();
    assert_eq!(report.findings, vec![], "{report:#?}");
    assert!(report.warnings.is_empty());
}
