//! End-to-end proposals on the bundled example apps, compared with reviewed snapshots in
//! tests/fixtures/proposals/<example>/.
//!
//! Each case runs the real binary on the example's template and generated CloudTrail (more than
//! 90 days, with rare and denied calls), then checks the artifacts: the proposed template and a
//! digest of report.json against snapshots, plus the properties a reviewer relies on.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

mod severity;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One example: where it is and how it is run.
struct Case {
    name: &'static str,
    template: &'static str,
    args: &'static [&'static str],
    /// Copied to a temporary ledger file before the run (the run updates it).
    ledger: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        name: "orders-app",
        template: "template.yaml",
        args: &[
            "--stack-name",
            "orders-app",
            "--account-id",
            "123456789012",
            "--trail-config",
            "examples/orders-app/trail.json",
        ],
        ledger: None,
    },
    Case {
        name: "ingest-pipeline",
        template: "template.json",
        args: &[
            "--stack-name",
            "ingest-pipeline",
            "--account-id",
            "210987654321",
            "--keep",
            "examples/ingest-pipeline/keep.json",
            "--trail-config",
            "examples/ingest-pipeline/trail.json",
        ],
        ledger: Some("examples/ingest-pipeline/ledger.json"),
    },
];

/// Runs `keycard propose` for a case into `out`; returns stdout.
fn run_case(case: &Case, out: &Path) -> String {
    let root = repo_root();
    let mut cmd = Command::cargo_bin("keycard").unwrap();
    cmd.current_dir(&root)
        .arg("propose")
        .arg("--template")
        .arg(format!("examples/{}/{}", case.name, case.template))
        .arg("--cloudtrail")
        .arg(format!("examples/{}/cloudtrail", case.name))
        .args(case.args)
        .arg("--out")
        .arg(out)
        .env("NO_COLOR", "1");
    if let Some(ledger) = case.ledger {
        let copy = out.with_extension("ledger.json");
        std::fs::copy(root.join(ledger), &copy).unwrap();
        cmd.arg("--ledger").arg(&copy);
    }
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "{} failed: {}",
        case.name,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn unobservable(role: &Value) -> Vec<String> {
    role["unobservable_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["action"].as_str().unwrap().to_string())
        .collect()
}

/// Per service: how many actions are kept as unobservable, and the first one's reason.
fn unobservable_summary(role: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for u in role["unobservable_actions"].as_array().unwrap() {
        let action = u["action"].as_str().unwrap();
        let service = action.split(':').next().unwrap().to_string();
        let entry = out
            .entry(service)
            .or_insert_with(|| json!({"count": 0, "example": action, "reason": u["reason"]}));
        entry["count"] = json!(entry["count"].as_u64().unwrap() + 1);
    }
    Value::Object(out)
}

/// The part of report.json a reviewer reads, without the long action lists.
fn digest(report: &Value) -> Value {
    let roles: serde_json::Map<String, Value> = report["roles"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, r)| {
            (
                id.clone(),
                json!({
                    "status": r["status"],
                    "arn": r["arn"],
                    "matched_by": r["matched_by"],
                    "counts": r["counts"],
                    // Kept for evidence; what is kept only as unobservable is summarised
                    // (an AdministratorAccess role keeps ~900 data-plane actions of services
                    // the example trail does not log): per service, the count and one reason.
                    "proposed_actions": r["proposed_actions"].as_array().unwrap().iter()
                        .filter(|a| !unobservable(r).contains(&a.as_str().unwrap().to_string()))
                        .collect::<Vec<_>>(),
                    "kept_actions": r["kept_actions"].as_array().unwrap().iter()
                        .filter(|k| k["reason"] != "unobservable")
                        .collect::<Vec<_>>(),
                    "unobservable_actions": unobservable_summary(r),
                    "denied_attempts": r["denied_attempts"],
                    "used_not_granted": r["used_not_granted"],
                    "replaced_policies": r["replaced_policies"].as_array().unwrap().iter()
                        .map(|p| json!({"source": p["source"], "grants": p["grants"], "replaced_by": p["replaced_by"]}))
                        .collect::<Vec<_>>(),
                    "flags": r["flags"].as_array().unwrap().iter()
                        .map(|f| format!("{} [{}] {}", f["kind"].as_str().unwrap(), f["severity"].as_str().unwrap(), f["message"].as_str().unwrap()))
                        .collect::<Vec<_>>(),
                    "policies": r["policies"],
                }),
            )
        })
        .collect();
    json!({
        "window": report["window"],
        "sources": report["sources"],
        "summary": report["summary"],
        "roles": roles,
        "unattributed_principals": report["unattributed_principals"],
    })
}

#[test]
fn examples_match_reviewed_snapshots() {
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(case.name);
        // Given the example app and its CloudTrail; when proposing
        run_case(case, &out);
        // Then every artifact is there
        let template = std::fs::read_to_string(out.join(case.template)).unwrap();
        for f in ["template.diff", "report.json", "report.md", "report.html"] {
            assert!(out.join(f).is_file(), "{}: {f} missing", case.name);
        }
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        // and they match what was reviewed.
        let settings = {
            let mut s = insta::Settings::clone_current();
            s.set_snapshot_path(repo_root().join("tests/fixtures/proposals").join(case.name));
            s.set_prepend_module_to_snapshot(false);
            s.set_omit_expression(true);
            s
        };
        settings.bind(|| {
            insta::assert_snapshot!("proposed_template", template);
            insta::assert_json_snapshot!("report_digest", digest(&report));
        });
    }
}

#[test]
fn orders_app_proposal_is_least_privilege_and_safe() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("orders");
    let stdout = run_case(&CASES[0], &out);
    let template = std::fs::read_to_string(out.join("template.yaml")).unwrap();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let roles = &report["roles"];

    // Admin and power-user attachments are gone, replaced by explicit statements.
    assert!(!template.contains("policy/AdministratorAccess"));
    assert!(!template.contains("policy/PowerUserAccess"));
    assert!(!template.contains("Action: s3:*"));
    assert!(template.contains("!GetAtt OrdersTable.Arn"));
    // Portable: no literal account or region. The worker's log group is in the stack's own
    // partition, region and account; its name stays the function's physical name, because
    // `${WorkerFunction}` in WorkerRole's policy would be circular (the function's Role is
    // WorkerRole), and CloudFormation refuses a circular template.
    for literal in ["123456789012", "eu-west-1", "${WorkerFunction}"] {
        assert!(!template.contains(literal), "{literal} in the proposal");
    }
    assert!(template.contains(
        "!Sub arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/orders-app-WorkerFunction-Z9Y8X7W6V5U4:log-stream:*"
    ));
    // The untouched parts are byte-identical (comments and the state machine definition).
    assert!(template.contains("# Processes queued orders: writes them, stores receipts"));
    assert!(template.contains("Resource: arn:aws:states:::lambda:invoke"));

    let worker = &roles["WorkerRole"];
    assert_eq!(worker["status"], "proposed");
    let kept = |role: &Value, action: &str| -> Value {
        role["kept_actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["action"] == action)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // The monthly and the twice-a-year actions survive, marked rare, with their last use.
    let scan = kept(worker, "dynamodb:Scan");
    assert_eq!(scan["reason"], "used");
    assert_eq!(scan["rare"], true);
    let rotate = kept(worker, "secretsmanager:PutSecretValue");
    assert_eq!(rotate["rare"], true);
    assert!(
        rotate["last_seen"]
            .as_str()
            .unwrap()
            .starts_with("2026-05-12")
    );
    // The template keep-list holds the January purge, without evidence.
    let purge = kept(worker, "s3:DeleteObject");
    assert_eq!(purge["reason"], "keep_list");
    assert!(purge["last_seen"].is_null());
    // Denied attempts are reported and never granted.
    let denied = worker["denied_attempts"].as_array().unwrap();
    assert!(
        denied
            .iter()
            .any(|d| d["action"] == "dynamodb:DeleteTable" && d["granted"] == false)
    );
    // Escalation paths granted by AdministratorAccess are flagged and removed.
    assert!(
        worker["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "privilege_escalation"
                && f["action"] == "iam:PassRole"
                && f["kept"] == false)
    );

    // The role nobody used gets no proposal, only a flag; its policy is unchanged.
    assert_eq!(roles["ReportingRole"]["status"], "no_activity");
    assert!(template.contains("- athena:*"));

    // The summary table names every principal and where the artifacts went.
    for id in [
        "ApiFunctionRole",
        "WorkerRole",
        "StateMachineRole",
        "ReportingRole",
    ] {
        assert!(stdout.contains(id), "{id} missing from:\n{stdout}");
    }
    // Eleven actions kept on evidence or by the role's keep entry; the rest are data-plane
    // actions of resource types the example trail does not log (its trail.json), and
    // logs:PutLogEvents, which CloudTrail never records, each kept as unobservable with its
    // reason.
    let worker_counts = &worker["counts"];
    assert_eq!(
        worker_counts["kept"].as_u64().unwrap() - worker_counts["unobservable"].as_u64().unwrap(),
        11,
        "{worker_counts}"
    );
    assert!(
        worker["unobservable_actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| {
                let why = u["reason"].as_str().unwrap();
                why.contains("data event") || why.contains("never records")
            }),
    );
    assert!(
        stdout.contains(&format!("22091 → {}", worker_counts["proposed"])),
        "{stdout}"
    );
    assert!(stdout.contains(&out.display().to_string()));

    // Proposing again on the proposal, with the same evidence, changes nothing: least privilege
    // is a fixed point.
    let again = dir.path().join("again");
    let output = Command::cargo_bin("keycard")
        .unwrap()
        .current_dir(repo_root())
        .arg("propose")
        .arg("--template")
        .arg(out.join("template.yaml"))
        .args([
            "--cloudtrail",
            "examples/orders-app/cloudtrail",
            "--stack-name",
            "orders-app",
            "--account-id",
            "123456789012",
            "--quiet",
        ])
        .arg("--out")
        .arg(&again)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        std::fs::read_to_string(again.join("template.diff")).unwrap(),
        ""
    );
    assert_eq!(
        std::fs::read_to_string(again.join("template.yaml")).unwrap(),
        template
    );
}

#[test]
fn ingest_pipeline_uses_ledger_keep_file_and_shared_policy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ingest");
    run_case(&CASES[1], &out);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let transform = &report["roles"]["TransformRole"];
    let crawler = transform["kept_actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["action"] == "glue:StartCrawler")
        .unwrap();
    // Seen only in the ledger, 9 months before the window ends: kept, with evidence.
    assert_eq!(crawler["reason"], "ledger");
    assert_eq!(crawler["last_seen"], "2026-01-12T03:00:11Z");
    // Out of retention in the ledger: gone.
    assert!(
        transform["removed_actions"]
            .as_array()
            .unwrap()
            .contains(&json!("glue:DeleteTable"))
    );
    // The keep file's entries are honoured.
    let ingest = &report["roles"]["IngestRole"];
    assert!(
        ingest["kept_actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["action"] == "kinesis:MergeShards" && k["reason"] == "keep_list")
    );
    // The ledger file now holds this run's usage and no expired entries.
    let ledger: Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("ledger.json")).unwrap())
            .unwrap();
    assert_eq!(ledger["format"], "keycard-ledger");
    assert_eq!(ledger["version"], 1);
    assert_eq!(ledger["stack"], "ingest-pipeline");
    assert_eq!(ledger["account"], "210987654321");
    let transform_ledger = &ledger["usage"]["principals"]["arn:aws:iam::210987654321:role/ingest-pipeline-TransformRole-H7G6F5D4S3A2"]
        ["actions"];
    assert!(transform_ledger.get("glue:StartCrawler").is_some());
    assert!(transform_ledger.get("glue:DeleteTable").is_none());
    assert!(transform_ledger.get("s3:PutObject").is_some());

    // Deny and Condition are kept as written; the boundary is untouched.
    let template = std::fs::read_to_string(out.join("template.json")).unwrap();
    // Portable: the stack's own account and region (learnt from its resources' ARNs) are
    // pseudo parameters; a bucket of the template is its Arn attribute.
    for literal in ["210987654321", "us-east-1"] {
        assert!(!template.contains(literal), "{literal} in the proposal");
    }
    assert!(template.contains("\"Fn::Sub\": \"${CuratedBucket.Arn}/*\""));
    assert!(template.contains("\"Sid\": \"DenyInsecureTransport\""));
    assert!(template.contains("\"s3:x-amz-server-side-encryption\": \"aws:kms\""));
    assert!(template.contains("policy/pipeline-boundary"));
    assert!(!template.contains("iam:PassRole"));
}

#[test]
fn readme_quickstart_runs_exactly_as_written() {
    // The README's first command, run from the repository root as a reader would.
    let output = Command::cargo_bin("keycard")
        .unwrap()
        .current_dir(repo_root())
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
            "out/orders-app",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("KEPT FOR RARE USE"));
    assert!(stdout.contains("Artifacts in out/orders-app"));
    assert!(repo_root().join("out/orders-app/report.html").is_file());
}

/// A proposal never makes `keycard check` more severe for any principal than the template it
/// replaces (issue 13: what is kept as unobservable must not turn into new findings).
#[test]
fn check_is_never_more_severe_on_a_proposal() {
    let root = repo_root();
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(case.name);
        run_case(case, &out);
        severity::assert_never_more_severe(
            case.name,
            &root.join(format!("examples/{}/{}", case.name, case.template)),
            &out.join(case.template),
        );
    }
}
