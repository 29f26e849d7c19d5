//! The write step: a stack's proposal, for people to review, and the ledger, for the next run.
//!
//! Everything is rendered from the staged result of the diff step, so a retry writes the same
//! bytes to the same keys. Under `proposals/<stack>/<execution>/`: the proposed template, its
//! unified diff, report.json / report.md / report.html from the core's report model, and
//! deployment.json (evidence per role, drift, live IAM, Access Analyzer's checks), which
//! report.md also summarises. The ledger goes to `ledger/<stack>.json` with its header (format,
//! version, stack, account: `keycard_core::ledger`), replacing the version the diff step read
//! (the bucket is versioned, so earlier ledgers stay recoverable).
//!
//! Two runs of one state machine may overlap (a manual start during the schedule's run): both
//! read the same ledger, and the second write would drop the first run's evidence. So the
//! ledger is written first and conditionally (S3 `If-Match` on the ETag the diff step read,
//! `If-None-Match: *` when there was none). A run that finds a newer ledger fails with
//! `Keycard.LedgerConflict` before writing any artifact, and the state machine computes the
//! stack again from the newer ledger. A retry of this step after its own ledger write (a
//! timeout after S3 answered) finds its own bytes there and goes on.

use std::fmt::Write as _;

use crate::contract::{
    StepError, WriteInput, WriteOutput, check_key, keys, stack_identity, to_json_bytes,
};
use crate::steps::diff::{Deployment, Staged};
use keycard_aws::s3::{Expected, WriteOutcome};
use keycard_aws::{Config, ObjectStore};
use keycard_core::report::{render_html, render_markdown};

pub async fn handle<S: ObjectStore>(
    store: &S,
    config: &Config,
    input: WriteInput,
) -> Result<WriteOutput, StepError> {
    input.run.validate()?;
    let key = check_key(
        "diff.stagedKey",
        &input.diff.staged_key,
        &format!("{}staged/", input.run.folder()),
    )?;
    let bytes = store
        .get_object(&config.bucket, key)
        .await?
        .ok_or_else(|| {
            StepError::InvalidInput(format!(
                "staged proposal s3://{}/{key} does not exist",
                config.bucket
            ))
        })?;
    let staged: Staged = serde_json::from_slice(&bytes)
        .map_err(|e| StepError::InvalidInput(format!("staged proposal {key}: {e}")))?;

    // The staged object names the stack the proposal and the ledger are written for.
    stack_identity(&staged.stack)?;
    let prefix = keys::proposal_prefix(&staged.stack, &input.run.execution_name);
    let mut markdown = render_markdown(&staged.report);
    markdown.push('\n');
    markdown.push_str(&deployment_markdown(&staged.deployment));
    let template_type = if staged.template_file.ends_with(".json") {
        "application/json"
    } else {
        "application/yaml"
    };
    let files: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            staged.template_file.as_str(),
            staged.template.clone().into_bytes(),
            template_type,
        ),
        (
            "template.diff",
            staged.diff.clone().into_bytes(),
            "text/x-diff",
        ),
        (
            "report.json",
            staged.report.to_json().into_bytes(),
            "application/json",
        ),
        ("report.md", markdown.into_bytes(), "text/markdown"),
        (
            "report.html",
            render_html(&staged.report).into_bytes(),
            "text/html; charset=utf-8",
        ),
        (
            "deployment.json",
            to_json_bytes(&staged.deployment)?,
            "application/json",
        ),
    ];
    let ledger_key = write_ledger(store, &config.bucket, &staged).await?;
    let mut names = Vec::new();
    for (name, body, content_type) in files {
        store
            .put_object(
                &config.bucket,
                &format!("{prefix}{name}"),
                body,
                content_type,
            )
            .await?;
        names.push(name.to_owned());
    }
    Ok(WriteOutput {
        stack: staged.stack,
        prefix,
        files: names,
        ledger_key,
        principals: staged.report.summary.principals,
        proposed: staged.report.summary.proposed,
    })
}

/// Replaces the ledger version the diff step read with the staged one, or fails with
/// [`StepError::LedgerConflict`] if another run replaced it first. Returns the ledger's key.
async fn write_ledger<S: ObjectStore>(
    store: &S,
    bucket: &str,
    staged: &Staged,
) -> Result<String, StepError> {
    let key = keys::ledger(&staged.stack);
    let body = staged.ledger.to_json().into_bytes();
    let expected = match &staged.ledger_etag {
        Some(etag) => Expected::Unchanged(etag.clone()),
        None => Expected::Absent,
    };
    let outcome = store
        .put_object_if(bucket, &key, body.clone(), "application/json", &expected)
        .await?;
    if outcome == WriteOutcome::Superseded {
        // This step's own earlier attempt, or another run's write?
        let now = store.get_object_tagged(bucket, &key).await?;
        if now.is_none_or(|n| n.bytes != body) {
            let read = match &expected {
                Expected::Unchanged(etag) => format!("version {etag}"),
                Expected::Absent => "no ledger".to_owned(),
            };
            return Err(StepError::LedgerConflict(format!(
                "s3://{bucket}/{key} is not the ledger run {} read ({read}): another run of \
                 this state machine wrote it since; nothing was overwritten",
                staged.execution
            )));
        }
    }
    Ok(key)
}

/// The deployment section of report.md: what a reviewer must know that the template alone
/// does not show.
pub fn deployment_markdown(d: &Deployment) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Deployed stack `{}` (run `{}`)\n",
        d.stack, d.execution
    );
    let _ = writeln!(
        s,
        "Evidence: IAM Access Analyzer policy generation over CloudTrail from {} to {}.\n",
        d.window_start.format("%Y-%m-%d"),
        d.window_end.format("%Y-%m-%d")
    );
    let _ = writeln!(
        s,
        "| Role | Evidence | Live policies | Allowed live, not in template | ValidatePolicy | CheckNoNewAccess |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in &d.roles {
        let evidence = if r.evidence_used {
            "used".to_owned()
        } else {
            format!(
                "**none** ({}{}): left unchanged",
                r.outcome,
                r.detail
                    .as_deref()
                    .map(|x| format!(": {}", cell(x)))
                    .unwrap_or_default()
            )
        };
        let live = match (&r.live, &r.live_error) {
            (Some(l), _) => l
                .policies
                .iter()
                .map(|p| format!("{} ({})", cell(&p.name), p.kind))
                .collect::<Vec<_>>()
                .join(", "),
            (None, Some(e)) => format!("not read: {}", cell(e)),
            (None, None) => String::new(),
        };
        let extra = if r.live_not_in_template.is_empty() {
            "none".to_owned()
        } else {
            format!("**{}**", r.live_not_in_template.join(", "))
        };
        let (validate, no_new) = match &r.checks {
            None => ("-".to_owned(), "-".to_owned()),
            Some(c) => {
                let v = if c.findings.is_empty() {
                    "no findings".to_owned()
                } else {
                    c.findings
                        .iter()
                        .map(|f| format!("{} {}", f.finding_type, f.issue_code))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let n = match (&c.no_new_access, &c.error) {
                    (Some(a), _) => a.result.clone(),
                    (None, Some(e)) => format!("not checked: {}", cell(e)),
                    (None, None) => "-".to_owned(),
                };
                (v, n)
            }
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            r.logical_id, evidence, live, extra, validate, no_new
        );
    }
    let _ = writeln!(
        s,
        "\nValidatePolicy and CheckNoNewAccess run on action-level documents (every proposed or granted action on `Resource: \"*\"`)."
    );
    if !d.generated_roles.is_empty() {
        let _ = writeln!(
            s,
            "\nRoles generated by a transform (edit them through the resource that generates them): {}.",
            d.generated_roles.join(", ")
        );
    }
    let _ = writeln!(s, "\n### Drift (IAM resources)\n");
    let _ = writeln!(
        s,
        "Detection: {}{}{}.",
        d.drift.status,
        d.drift
            .stack_drift_status
            .as_deref()
            .map(|x| format!(", stack {x}"))
            .unwrap_or_default(),
        d.drift
            .reason
            .as_deref()
            .map(|x| format!(" ({})", cell(x)))
            .unwrap_or_default()
    );
    for r in &d.drift.iam_resources {
        let _ = writeln!(
            s,
            "- `{}` ({}): {}",
            r.logical_id, r.resource_type, r.status
        );
        for p in &r.differences {
            let _ = writeln!(s, "  - `{}` {}", p.path, p.difference);
        }
    }
    if !d.problems.is_empty() {
        let _ = writeln!(s, "\n### Not checked\n");
        for p in &d.problems {
            let _ = writeln!(s, "- {}", cell(p));
        }
    }
    s
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, World};

    #[tokio::test]
    async fn writes_the_proposal_files_and_the_ledger() {
        let w = World::new();
        let out = testing::written(&w).await;
        assert_eq!(out.prefix, "proposals/orders-service/2026-q4/");
        for f in [
            "template.yaml",
            "report.json",
            "report.md",
            "deployment.json",
        ] {
            assert!(
                out.files.iter().any(|k| k.ends_with(f)),
                "{f} in {:?}",
                out.files
            );
        }
        for k in &out.files {
            assert!(
                w.store
                    .get(testing::BUCKET, &format!("{}{k}", out.prefix))
                    .is_some(),
                "{k} written"
            );
        }
        assert_eq!(out.ledger_key, "ledger/orders-service.json");
        let ledger = w.json(&out.ledger_key);
        assert!(ledger.to_string().contains("orders-service"));
        let md = String::from_utf8(
            w.store
                .get(testing::BUCKET, &format!("{}report.md", out.prefix))
                .unwrap(),
        )
        .unwrap();
        assert!(
            md.contains("s3:DeleteBucket"),
            "the hand-added permission is reported:\n{md}"
        );
    }

    fn input(diff: crate::contract::DiffOutput) -> WriteInput {
        WriteInput {
            run: testing::run(),
            diff,
        }
    }

    /// Two runs overlap on one stack: both computed their proposal from the same ledger
    /// (here, none yet). The other run writes its ledger first; this run's write then finds a
    /// newer ledger and fails with `Keycard.LedgerConflict`, overwriting nothing and writing
    /// no artifact. Computed again from the newer ledger (the state machine goes back to the
    /// diff step), the write succeeds and keeps the other run's evidence.
    #[tokio::test]
    async fn a_run_that_lost_the_race_for_the_ledger_overwrites_nothing() {
        let w = World::new();
        let diff = testing::diffed(&w).await;
        let staged = w.json(&diff.staged_key);
        assert!(staged.get("ledgerEtag").is_none(), "no ledger was read");

        // The other run's ledger: the same, plus an action seen once, ten days earlier.
        let mut other = staged["ledger"].clone();
        let (arn, _) = other["usage"]["principals"]
            .as_object()
            .unwrap()
            .iter()
            .next()
            .unwrap();
        let arn = arn.clone();
        other["usage"]["principals"][&arn]["actions"]["s3:GetBucketPolicy"] = serde_json::json!({
            "first_seen": "2026-09-21T00:00:00Z", "last_seen": "2026-09-21T00:00:00Z",
            "count": 1, "resources": []
        });
        let other = serde_json::to_vec(&other).unwrap();
        let ledger_key = "ledger/orders-service.json";
        w.store
            .put_object(
                testing::BUCKET,
                ledger_key,
                other.clone(),
                "application/json",
            )
            .await
            .unwrap();

        let e = handle(&w.store, &w.config, input(diff)).await.unwrap_err();
        assert_eq!(e.name(), crate::contract::LEDGER_CONFLICT, "{e}");
        assert!(e.to_string().contains("another run"), "{e}");
        assert_eq!(w.store.get(testing::BUCKET, ledger_key).unwrap(), other);
        let artifacts: Vec<String> = w
            .store
            .keys()
            .into_iter()
            .filter(|k| k.starts_with("proposals/"))
            .collect();
        assert_eq!(artifacts, Vec::<String>::new());

        let again = testing::diffed(&w).await;
        assert!(w.json(&again.staged_key).get("ledgerEtag").is_some());
        let out = handle(&w.store, &w.config, input(again)).await.unwrap();
        let ledger = w.json(&out.ledger_key);
        assert!(
            ledger["usage"]["principals"][&arn]["actions"]
                .get("s3:GetBucketPolicy")
                .is_some(),
            "{ledger}"
        );
    }

    /// A retry of the step after its own ledger write (S3 answered, the Lambda timed out)
    /// finds its own bytes and completes; the first write of a ledger needs the key free.
    #[tokio::test]
    async fn a_retry_after_its_own_ledger_write_completes() {
        let w = World::new();
        let diff = testing::diffed(&w).await;
        let first = handle(&w.store, &w.config, input(diff.clone()))
            .await
            .unwrap();
        let ledger = w.store.get(testing::BUCKET, &first.ledger_key).unwrap();
        let retried = handle(&w.store, &w.config, input(diff)).await.unwrap();
        assert_eq!(retried, first);
        assert_eq!(
            w.store.get(testing::BUCKET, &first.ledger_key).unwrap(),
            ledger
        );
    }

    #[tokio::test]
    async fn a_missing_staged_result_is_invalid_input() {
        let w = World::new();
        let diff = crate::contract::DiffOutput {
            stack: testing::STACK.into(),
            staged_key: "runs/2026-q4/staged/orders-service.json".into(),
            principals: 0,
            proposed: 0,
        };
        let e = handle(
            &w.store,
            &w.config,
            WriteInput {
                run: testing::run(),
                diff,
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.name(), crate::contract::INVALID_INPUT);
    }

    #[tokio::test]
    async fn a_staged_key_outside_the_run_is_refused_before_any_read() {
        let w = World::new();
        for key in [
            "ledger/orders-service.json",
            "runs/2026-q4/staged/../../../ledger/x.json",
            "runs/2026-q3/staged/orders-service.json",
        ] {
            let diff = crate::contract::DiffOutput {
                stack: testing::STACK.into(),
                staged_key: key.into(),
                principals: 0,
                proposed: 0,
            };
            let e = handle(
                &w.store,
                &w.config,
                WriteInput {
                    run: testing::run(),
                    diff,
                },
            )
            .await
            .unwrap_err();
            assert_eq!(e.name(), crate::contract::INVALID_INPUT, "{key}");
            assert_eq!(w.store.bytes_read(testing::BUCKET, key), 0);
        }
    }
}
