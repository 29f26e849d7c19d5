//! `keycard propose` on a SAM template whose grants sit under `Fn::If` (around a `Policies`
//! item, a whole policy, a statement, a `Resource`, an `Action`, an AWS managed policy) and in
//! a SAM connector, with CloudTrail records shaped like a real trail's
//! (tests/fixtures/narrowing/conditional-sam). The proposal narrows each branch and keeps its
//! condition, replaces the connector broader than used by explicit statements, lists what it
//! left as written, and passes cfn-lint (`.venv/bin/cfn-lint`;
//! skipped with a notice when missing, unless `CI` or `KEYCARD_REQUIRE_TOOLS` is set).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const CASE: &str = "tests/fixtures/narrowing/conditional-sam";

fn propose(out: &Path) -> (String, Value, String) {
    let output = Command::cargo_bin("keycard")
        .unwrap()
        .current_dir(repo_root())
        .args(["propose", "--template"])
        .arg(format!("{CASE}/template.yaml"))
        .arg("--cloudtrail")
        .arg(format!("{CASE}/cloudtrail"))
        .args([
            "--stack-name",
            "orders-intake",
            "--account-id",
            "123456789012",
        ])
        // The fixture's trail logs every data event and all management events.
        .args(["--data-events", "all", "--management-events", "read-write"])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let template = std::fs::read_to_string(out.join("template.yaml")).unwrap();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    (
        template,
        report,
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// The YAML text of one resource of a template: its key line and every line up to the next
/// key indented like it.
fn resource<'t>(template: &'t str, id: &str) -> &'t str {
    let start = template
        .find(&format!("\n  {id}:\n"))
        .unwrap_or_else(|| panic!("{id} not in\n{template}"))
        + 1;
    let rest = &template[start..];
    let mut len = 0;
    for (n, line) in rest.lines().enumerate() {
        let is_key = line.starts_with("  ") && !line.starts_with("   ") && line.ends_with(':');
        if n > 0 && is_key {
            break;
        }
        len += line.len() + 1;
    }
    &rest[..len.min(rest.len())]
}

#[test]
fn grants_under_fn_if_and_connectors_are_narrowed_and_what_is_left_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let (template, report, stdout) = propose(dir.path());

    // Given: ApiFunction has a DynamoDBCrudPolicy, in prod an S3CrudPolicy under Fn::If, and a
    // statement whose Resource is chosen by Fn::If; it used GetItem, PutItem, PutObject and
    // GetBucketLocation.
    let api = resource(&template, "ApiFunction");
    // Then: the prod-only template is a statement document under the same Fn::If, keeping what
    // only it granted (GetBucketLocation); PutObject stays in the statement present in every
    // stage, whose Resource keeps its Fn::If.
    assert!(api.contains("- !If\n          - IsProd\n"), "{api}");
    assert!(api.contains("s3:GetBucketLocation"), "{api}");
    assert!(!api.contains("S3CrudPolicy"), "{api}");
    assert!(api.contains("- !Ref AWS::NoValue"), "{api}");
    assert!(
        api.contains("Action: s3:PutObject\n              Resource: !If"),
        "{api}"
    );
    assert!(api.contains("arn:aws:s3:::orders-dev-receipts/*"), "{api}");
    assert!(!api.contains("s3:DeleteObject"), "{api}");
    assert!(!api.contains("DynamoDBCrudPolicy"), "{api}");
    assert!(!api.contains("dynamodb:DeleteItem"), "{api}");

    // ReportFunction: the connector only read objects, and even Read grants more
    // (s3:GetObject of five actions): it is replaced by the statement it needed, on the
    // bucket as the connector named it, and removed.
    let rep = resource(&template, "ReportFunction");
    assert!(!rep.contains("Connectors:"), "{rep}");
    assert!(
        rep.contains(
            "Action: s3:GetObject\n              Resource:\n                - !GetAtt ReceiptsBucket.Arn\n                - !Sub ${ReceiptsBucket.Arn}/*\n"
        ),
        "{rep}"
    );
    let flags = report["roles"]["ReportFunctionRole"]["flags"]
        .as_array()
        .unwrap();
    assert!(
        flags.iter().any(|f| f["kind"] == "connector_replaced"),
        "{flags:?}"
    );
    let replaced = report["roles"]["ReportFunctionRole"]["replaced_policies"]
        .as_array()
        .unwrap();
    assert!(
        replaced.iter().any(|r| r["kind"] == "sam_connector"),
        "{replaced:?}"
    );

    // WorkerRole: sqs:* narrowed; the prod-only s3:* statement narrowed under its Fn::If; the
    // Deny as written; the prod-only audit policy narrowed to the log action used.
    let worker = resource(&template, "WorkerRole");
    assert!(!worker.contains("sqs:*") && !worker.contains("s3:*") && !worker.contains("logs:*"));
    assert!(worker.contains("sqs:ReceiveMessage") && worker.contains("sqs:DeleteMessage"));
    assert!(
        worker.contains("- !If\n                - IsProd\n                - Sid: S3Access"),
        "{worker}"
    );
    assert!(worker.contains("Action: s3:DeleteBucket"), "{worker}");
    assert!(worker.contains("PolicyName: audit"), "{worker}");
    assert!(worker.contains("logs:CreateLogStream"), "{worker}");

    // AuditRole's Action is chosen by Fn::If: each branch narrowed to what was used (GetItem
    // in both, so the condition no longer chooses anything); the AWS managed policy chosen by
    // Fn::If is left as written and listed, and the report does not say everything is kept.
    let audit = resource(&template, "AuditRole");
    assert!(audit.contains("Action: dynamodb:GetItem\n"), "{audit}");
    assert!(!audit.contains("dynamodb:*"), "{audit}");
    assert!(audit.contains("AmazonDynamoDBReadOnlyAccess"), "{audit}");
    let roles = &report["roles"];
    assert_eq!(report["schema_version"], 3);
    assert_eq!(roles["AuditRole"]["status"], "proposed");
    let listed = roles["AuditRole"]["not_narrowed"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("ManagedPolicyArns"),
        "{listed:?}"
    );
    for id in ["ApiFunctionRole", "ReportFunctionRole", "WorkerRole"] {
        assert_eq!(roles[id]["status"], "proposed", "{id}");
        assert_eq!(roles[id]["not_narrowed"], Value::Array(vec![]), "{id}");
    }
    let removed = |id: &str| roles[id]["counts"]["removed"].as_u64().unwrap();
    assert!(removed("WorkerRole") > 300, "{}", removed("WorkerRole"));
    assert!(removed("ApiFunctionRole") > 10);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(!md.contains("Everything granted is kept"), "{md}");
    assert!(md.contains("**Not narrowed**"), "{md}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("<h3>Not narrowed</h3>"));
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("AuditRole") && l.contains("proposed")),
        "{stdout}"
    );
}

#[test]
fn the_proposal_passes_cfn_lint() {
    let cfn_lint = repo_root().join(".venv/bin/cfn-lint");
    if !cfn_lint.exists() {
        assert!(
            std::env::var_os("CI").is_none() && std::env::var_os("KEYCARD_REQUIRE_TOOLS").is_none(),
            "cfn-lint not found at {} (required because CI/KEYCARD_REQUIRE_TOOLS is set)",
            cfn_lint.display()
        );
        eprintln!("skipping: cfn-lint not found at {}", cfn_lint.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    propose(dir.path());
    for t in [
        dir.path().join("template.yaml"),
        repo_root().join(CASE).join("template.yaml"),
    ] {
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
