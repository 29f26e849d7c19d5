//! `keycard grants` as scripts and later checks use it: the JSON contract, the text table, and
//! positioned errors with exit code 2 on bad input. Runs the real binary (assert_cmd).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn template(name: &str) -> String {
    format!("tests/fixtures/templates/{name}")
}

fn keycard() -> Command {
    let mut cmd = Command::cargo_bin("keycard").unwrap();
    cmd.current_dir(repo()).env("NO_COLOR", "1");
    cmd
}

fn grants_json(name: &str) -> Value {
    let out = keycard()
        .args(["grants", &template(name), "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn json_contract_has_every_documented_field() {
    let v = grants_json("iam-role-inline-policies.yaml");
    let grants = v["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 2);
    let g = &grants[0];
    for key in [
        "principal",
        "principal_type",
        "source",
        "path",
        "line",
        "managed_policy_arns",
        "sam_policy_templates",
        "statements",
        "flags",
    ] {
        assert!(g.get(key).is_some(), "missing {key} in {g:#}");
    }
    assert_eq!(g["principal"], "WorkerRole");
    assert_eq!(g["principal_type"], "AWS::IAM::Role");
    assert_eq!(g["source"], "WorkerRole");
    assert_eq!(
        g["path"],
        "/Resources/WorkerRole/Properties/Policies/0/PolicyDocument"
    );
    assert_eq!(g["line"], 34);
    let st = &g["statements"][0];
    assert_eq!(st["effect"], "Allow");
    assert_eq!(st["actions"], json!(["s3:*"]));
    assert_eq!(st["not_actions"], json!([]));
    // Intrinsics as compact JSON.
    assert_eq!(
        st["resources"],
        json!([
            "{\"Fn::GetAtt\":[\"IngestBucket\",\"Arn\"]}",
            "{\"Fn::Sub\":\"${IngestBucket.Arn}/*\"}"
        ])
    );
    assert_eq!(g["flags"], json!(["wildcard_action"]));
    let second = &grants[1];
    assert_eq!(second["statements"][1]["resources"], json!(["*"]));
    assert_eq!(second["flags"], json!(["wildcard_resource_write"]));
}

#[test]
fn sam_templates_managed_policies_and_implicit_roles() {
    let v = grants_json("sam-api-dynamodb-crud.yaml");
    let grants = v["grants"].as_array().unwrap();
    assert_eq!(grants[0]["principal"], "CreateOrderFunctionRole");
    assert_eq!(grants[0]["principal_type"], "AWS::IAM::Role");
    assert_eq!(grants[0]["source"], "CreateOrderFunction");
    assert_eq!(
        grants[0]["sam_policy_templates"],
        json!(["DynamoDBCrudPolicy"])
    );
    assert_eq!(grants[0]["line"], 32);
    assert_eq!(
        grants[2]["managed_policy_arns"],
        json!(["AWSXrayWriteOnlyAccess"])
    );
    let admin = grants_json("iam-role-admin.yaml");
    let g = &admin["grants"][0];
    assert_eq!(
        g["managed_policy_arns"],
        json!(["arn:aws:iam::aws:policy/AdministratorAccess"])
    );
    assert!(
        g["flags"]
            .as_array()
            .unwrap()
            .contains(&json!("admin_managed_policy"))
    );
}

#[test]
fn json_templates_and_not_analysable_places() {
    let v = grants_json("cfn-json-conditions.json");
    assert_eq!(v["format"], "json");
    let paths: Vec<&str> = v["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/Resources/JobRole/Properties/ManagedPolicyArns/0/Fn::If/1"));
    assert!(paths.contains(&"/Resources/JobRole/Properties/ManagedPolicyArns/0/Fn::If/2"));
    let out = keycard()
        .args([
            "grants",
            &template("foreach-language-extensions.yaml"),
            "--format",
            "json",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "foreach-language-extensions.yaml:9:5: not analysed: Fn::ForEach",
        ));
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["not_analysable"][0]["line"], 9);
}

#[test]
fn text_output_is_a_table() {
    keycard()
        .args(["grants", &template("iam-role-admin.yaml")])
        .assert()
        .success()
        .stdout(predicate::str::contains("PRINCIPAL"))
        .stdout(predicate::str::contains("PipelineDeployRole"))
        .stdout(predicate::str::contains("admin_managed_policy"));
}

#[test]
fn bad_input_exits_2_with_file_line_column() {
    for (file, expected) in [
        (
            "invalid/duplicate-keys.yaml",
            "invalid/duplicate-keys.yaml:7:7: duplicate key `RoleName`",
        ),
        (
            "invalid/trailing-comma.json",
            "invalid/trailing-comma.json:5:5: invalid JSON",
        ),
        (
            "invalid/no-resources.yaml",
            "invalid/no-resources.yaml:1:1: not a CloudFormation template",
        ),
        (
            "invalid/alias-bomb.yaml",
            "invalid/alias-bomb.yaml:6:20: alias expansion",
        ),
    ] {
        keycard()
            .args(["grants", &template(file), "--format", "json"])
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(format!(
                "tests/fixtures/templates/{expected}"
            )));
    }
    keycard()
        .args(["grants", "tests/fixtures/templates/does-not-exist.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does-not-exist.yaml"));
}
