//! AWS managed policies end to end: a SAM function with `Policies: [AmazonS3FullAccess,
//! AWSLambdaBasicExecutionRole]` and a role with `ManagedPolicyArns` written as
//! `!Sub arn:${AWS::Partition}:iam::aws:policy/…`, evidence from a CloudTrail file shaped like
//! real ones (tests/fixtures/managed-policies, made by its make-trail.py). `keycard grants`
//! counts what the policies grant; `keycard propose` replaces the broad ones by explicit
//! statements, keeps the one whose every action is kept, swaps CloudWatchLogsFullAccess for the
//! AWS managed policy granting exactly what is kept, and says which it did and why.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const FIXTURE: &str = "tests/fixtures/managed-policies";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn keycard() -> Command {
    let mut c = Command::cargo_bin("keycard").unwrap();
    c.current_dir(repo_root()).env("NO_COLOR", "1");
    c
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

fn flag<'a>(role: &'a Value, kind: &str) -> Option<&'a str> {
    role["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
        .map(|f| f["message"].as_str().unwrap())
}

#[test]
fn grants_counts_what_aws_managed_policies_grant() {
    let output = keycard()
        .args([
            "grants",
            &format!("{FIXTURE}/template.yaml"),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let v: Value = serde_json::from_slice(&output.stdout).unwrap();
    let counts: Vec<(&str, u64)> = v["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["principal"].as_str().unwrap(),
                g["effective_action_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts.len(), 4, "{counts:?}");
    // AmazonS3FullAccess (s3:*, s3-object-lambda:*), AWSLambdaBasicExecutionRole (3 logs
    // actions), AmazonDynamoDBFullAccess and CloudWatchLogsFullAccess: none looks empty.
    assert!(counts[0].1 > 100, "{counts:?}");
    assert_eq!(counts[1].1, 3);
    assert!(counts[2].1 > 100 && counts[3].1 > 100, "{counts:?}");
}

#[test]
fn broad_aws_managed_policies_are_narrowed_kept_or_swapped_and_the_report_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let output = keycard()
        .arg("propose")
        .args(["--template", &format!("{FIXTURE}/template.yaml")])
        .args(["--cloudtrail", &format!("{FIXTURE}/cloudtrail")])
        .args(["--stack-name", "uploads", "--account-id", "123456789012"])
        // The trail behind these files records every management and data event.
        .args(["--data-events", "all", "--management-events", "read-write"])
        .args(["--keep", &format!("{FIXTURE}/keep.yaml")])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let proposed = std::fs::read_to_string(out.join("template.yaml")).unwrap();
    for gone in [
        "AmazonS3FullAccess",
        "AmazonDynamoDBFullAccess",
        "CloudWatchLogsFullAccess",
    ] {
        assert!(!proposed.contains(gone), "{gone} still in:\n{proposed}");
    }
    // Kept as it is on the function; written as the role's original !Sub on the role.
    assert!(
        proposed.contains("        - AWSLambdaBasicExecutionRole\n"),
        "{proposed}"
    );
    assert!(
        proposed.contains(
            "- !Sub arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        ),
        "{proposed}"
    );
    // The explicit replacement is narrowed to what the evidence shows.
    assert!(
        proposed.contains("Resource: !Sub ${UploadsBucket.Arn}/*"),
        "{proposed}"
    );
    assert!(
        proposed.contains("Resource: !GetAtt UploadsTable.Arn"),
        "{proposed}"
    );

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let function = &report["roles"]["UploadFunctionRole"];
    assert_eq!(function["status"], "proposed");
    let kept = flag(function, "managed_policy_kept").unwrap();
    assert!(
        kept.starts_with("AWSLambdaBasicExecutionRole kept as it is"),
        "{kept}"
    );
    let replaced = function["replaced_policies"].as_array().unwrap();
    assert_eq!(replaced.len(), 1);
    assert_eq!(replaced[0]["source"], "AmazonS3FullAccess");
    assert_eq!(replaced[0]["kind"], "aws_managed_policy");
    assert_eq!(
        strings(&replaced[0]["replaced_by"]),
        ["s3:GetObject", "s3:PutObject"]
    );
    let removed = strings(&function["removed_actions"]);
    assert!(removed.contains(&"s3:DeleteBucket"));

    let writer = &report["roles"]["TableWriterRole"];
    let narrowed = flag(writer, "managed_policy_narrowed").unwrap();
    assert!(
        narrowed.starts_with(
            "CloudWatchLogsFullAccess replaced by the AWS managed policy AWSLambdaBasicExecutionRole: it grants exactly the 3 kept actions"
        ),
        "{narrowed}"
    );
    let replaced = writer["replaced_policies"].as_array().unwrap();
    assert_eq!(replaced.len(), 1);
    assert_eq!(replaced[0]["source"], "AmazonDynamoDBFullAccess");
    let proposed_actions = strings(&writer["proposed_actions"]);
    for a in [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ] {
        assert!(
            proposed_actions.contains(&a),
            "{a} not in {proposed_actions:?}"
        );
    }
    assert!(!proposed_actions.contains(&"dynamodb:DeleteTable"));
    assert!(!proposed_actions.contains(&"logs:DeleteLogGroup"));

    // Never more than the template granted; a policy kept or swapped on purpose is not
    // "left as written".
    for role in [function, writer] {
        assert_eq!(role["status"], "proposed");
        assert!(
            role["not_narrowed"].as_array().is_none_or(Vec::is_empty),
            "{}",
            role["not_narrowed"]
        );
        let granted = strings(&role["granted_actions"]);
        for a in strings(&role["proposed_actions"]) {
            assert!(granted.contains(&a), "{a} proposed but not granted");
        }
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("**managed policy narrowed**"), "{md}");
    assert!(md.contains("**managed policy kept**"), "{md}");
}
