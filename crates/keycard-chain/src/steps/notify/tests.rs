//! The notify step over the in-memory world: the real diff, write and summary steps produce the
//! run it reports, and `events/notify-*.json` are the events it receives.

use keycard_aws::ObjectStore;
use keycard_aws::memory::{MemoryEventBus, MemoryTopic};
use serde_json::{Value, json};

use super::*;
use crate::contract::SummaryInput;
use crate::testing::{self, World};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:keycard-notifications";

fn sample(name: &str) -> StatusChangeEvent {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn settings(topic: bool) -> NotifySettings {
    NotifySettings::from_lookup(|k| match k {
        "KEYCARD_NOTIFY_TOPIC_ARN" if topic => Some(TOPIC.to_owned()),
        _ => None,
    })
    .unwrap()
}

/// A run of the orders-service stack through diff, write and summary, plus a stack whose diff
/// failed (as the ASL's Catch records it), with a problem whose text is markup.
async fn finished_run(w: &World) {
    let written = testing::written(w).await;
    let mut outcomes = testing::outcomes(w).await;
    outcomes[1].error =
        Some(json!({"code": "AUTHORIZATION_ERROR", "message": "<script>alert(1)</script>"}));
    crate::steps::summarize::handle(
        &w.store,
        &w.config,
        SummaryInput {
            run: testing::run(),
            skipped: vec![],
            role_outcomes: outcomes,
            stack_outcomes: vec![
                serde_json::to_value(&written).unwrap(),
                json!({"stack": "billing-api", "outcome": "error", "error": {
                    "Error": "Keycard.InvalidTemplate",
                    "Cause": "{\"errorType\":\"Keycard.InvalidTemplate\",\"errorMessage\":\"invalid template: template.yaml:3:1: duplicate key Resources\"}"}}),
            ],
        },
    )
    .await
    .unwrap();
}

/// The notify step over `w` receiving `event`, with a topic configured or not, and the bus and
/// topic it sent to (fresh for each call, so a test sees only this event's sends).
async fn notify(
    w: &World,
    topic: bool,
    event: StatusChangeEvent,
) -> (Result<NotifyOutput, StepError>, MemoryEventBus, MemoryTopic) {
    let (bus, sns) = (MemoryEventBus::default(), MemoryTopic::default());
    let out = handle(&w.store, &bus, &sns, &w.config, &settings(topic), event).await;
    (out, bus, sns)
}

/// The report.json the write step stored for the orders-service stack.
fn stored_report(w: &World) -> Value {
    w.json("proposals/orders-service/2026-q4/report.json")
}

fn detail(e: &keycard_aws::memory::PutEvent) -> Value {
    serde_json::from_str(&e.event.detail).unwrap()
}

#[tokio::test]
async fn a_finished_run_sends_one_event_per_stack_an_index_and_one_email() {
    // Given a run that wrote one proposal and failed one stack
    let w = World::new();
    finished_run(&w).await;

    // When its SUCCEEDED event arrives
    let (out, bus, topic) = notify(&w, true, sample("notify-succeeded.json")).await;
    let out = out.unwrap();

    // Then each stack has its event, on the default bus, from source keycard
    assert_eq!(out.events, [PROPOSAL_READY, PROPOSAL_FAILED]);
    assert!(out.emailed);
    let events = bus.events();
    assert!(
        events
            .iter()
            .all(|e| e.bus == "default" && e.event.source == SOURCE)
    );
    let ready = detail(&events[0]);
    assert_eq!(ready["stack"], "orders-service");
    assert_eq!(ready["execution"], "2026-q4");
    assert_eq!(ready["prefix"], "proposals/orders-service/2026-q4/");
    assert_eq!(
        ready["keys"]["reportHtml"],
        "proposals/orders-service/2026-q4/report.html"
    );
    assert_eq!(
        ready["keys"]["template"],
        "proposals/orders-service/2026-q4/template.yaml"
    );
    // the counts are report.json's summary
    let report = stored_report(&w);
    assert_eq!(ready["summary"], report["summary"]);
    assert!(report["summary"]["removed_actions"].as_u64().unwrap() > 0);
    // dynamodb:* narrowed: its permissions-management actions are named first
    let removals = ready["highestRiskRemovals"].as_array().unwrap();
    assert_eq!(removals.len(), message::RISKY_REMOVALS_SHOWN);
    assert_eq!(
        removals[0],
        json!({"principal": "OrdersWorkerRole", "action": "dynamodb:DeleteResourcePolicy", "risk": "permissions_management"})
    );
    assert_eq!(removals[9]["risk"], "write", "{removals:?}");
    assert_eq!(
        ready["removedActions"],
        report["roles"]["OrdersWorkerRole"]["removed_actions"]
            .as_array()
            .unwrap()
            .len()
    );
    assert_eq!(
        ready["reportUrl"],
        "https://console.aws.amazon.com/s3/object/keycard-output?region=us-east-1&prefix=proposals/orders-service/2026-q4/report.html"
    );
    let failed = detail(&events[1]);
    assert_eq!(failed["stack"], "billing-api");
    assert_eq!(
        failed["problem"],
        "Keycard.InvalidTemplate: invalid template: template.yaml:3:1: duplicate key Resources"
    );

    // The run index links every report, relative and through the console, escaped
    assert_eq!(
        out.index_key.as_deref(),
        Some("proposals/_runs/2026-q4/index.html")
    );
    let index = String::from_utf8(
        w.store
            .get(testing::BUCKET, "proposals/_runs/2026-q4/index.html")
            .unwrap(),
    )
    .unwrap();
    assert!(index.contains("href=\"../../orders-service/2026-q4/report.html\""));
    assert!(index.contains("&amp;prefix=proposals/orders-service/2026-q4/report.html"));
    assert!(index.contains("no proposal: Keycard.InvalidTemplate"));
    assert!(!index.contains("<script>"), "{index}");
    assert!(index.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // And the email carries report.md's summary and the console links
    let mail = &topic.published()[0];
    assert_eq!(mail.topic_arn, TOPIC);
    assert_eq!(mail.subject, "keycard: 1 proposal ready (2026-q4)");
    assert!(
        mail.message.contains("# keycard proposal:"),
        "{}",
        mail.message
    );
    assert!(mail.message.contains("| Principal | Status |"));
    assert!(!mail.message.contains("\n## "), "only the summary part");
    assert!(
        mail.message
            .contains("report.html: https://console.aws.amazon.com/s3/object/")
    );
    assert!(mail.message.contains("Run index: https://"));
    assert!(
        mail.message
            .contains("== billing-api ==\nNo proposal: Keycard.InvalidTemplate")
    );
}

#[tokio::test]
async fn a_failed_run_sends_run_failed_with_the_cause() {
    let w = World::new();
    let (out, bus, topic) = notify(&w, true, sample("notify-failed.json")).await;
    let out = out.unwrap();
    assert_eq!(out.events, [RUN_FAILED]);
    let d = detail(&bus.events()[0]);
    assert_eq!(d["status"], "FAILED");
    assert_eq!(d["error"], "Keycard.InvalidInput");
    assert!(
        d["cause"]
            .as_str()
            .unwrap()
            .contains("windowDays must be between 1 and 90")
    );
    assert!(d["executionUrl"]
        .as_str()
        .unwrap()
        .starts_with("https://console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn%3Aaws%3Astates"));
    assert_eq!(
        bus.events()[0].event.resources,
        [d["executionArn"].as_str().unwrap()]
    );
    let mail = &topic.published()[0];
    assert_eq!(mail.subject, "keycard: run 2026-q4 FAILED");
    assert!(mail.message.contains("Error: Keycard.InvalidInput"));
    assert!(
        w.store
            .get(testing::BUCKET, "proposals/_runs/2026-q4/index.html")
            .is_none()
    );

    // TIMED_OUT and ABORTED carry no error of their own: the status says it
    for status in ["TIMED_OUT", "ABORTED"] {
        let mut e = sample("notify-failed.json");
        e.detail.status = status.into();
        e.detail.error = None;
        e.detail.cause = None;
        let (out, bus, topic) = notify(&w, false, e).await;
        let out = out.unwrap();
        assert_eq!(out.events, [RUN_FAILED]);
        assert!(
            !out.emailed && topic.published().is_empty(),
            "no topic, no email"
        );
        assert_eq!(detail(&bus.events()[0])["error"], status);
    }
}

#[tokio::test]
async fn a_succeeded_execution_without_a_summary_is_said_as_failed() {
    let w = World::new();
    let (out, bus, _) = notify(&w, false, sample("notify-succeeded.json")).await;
    assert_eq!(out.unwrap().events, [RUN_FAILED]);
    let d = detail(&bus.events()[0]);
    assert_eq!(d["error"], "Keycard.NoSummary");
    assert!(
        d["cause"]
            .as_str()
            .unwrap()
            .contains("runs/2026-q4/summary.json")
    );
}

#[tokio::test]
async fn children_other_statuses_and_other_events_send_nothing() {
    let w = World::new();
    let mut child = sample("notify-failed.json");
    child.detail.state_machine_arn =
        "arn:aws:states:us-east-1:123456789012:stateMachine:keycard-cloudtrail/ScanTrail:1f2e3d4c"
            .into();
    let mut running = sample("notify-succeeded.json");
    running.detail.status = "RUNNING".into();
    for e in [child, running] {
        let (out, bus, topic) = notify(&w, true, e).await;
        let out = out.unwrap();
        assert!(out.ignored.is_some() && out.events.is_empty() && !out.emailed);
        assert!(bus.events().is_empty() && topic.published().is_empty());
    }

    let mut other = sample("notify-succeeded.json");
    other.source = "aws.cloudformation".into();
    let (out, bus, topic) = notify(&w, true, other).await;
    assert_eq!(out.unwrap_err().name(), crate::contract::INVALID_INPUT);
    assert!(bus.events().is_empty() && topic.published().is_empty());
}

#[tokio::test]
async fn a_summary_pointing_outside_the_runs_proposal_folder_is_refused() {
    let w = World::new();
    let summary = json!({"execution": "2026-q4", "windowStart": "", "windowEnd": "",
        "roles": {}, "problems": [], "summaryKey": "runs/2026-q4/summary.json",
        "stacks": [{"stack": "orders-service", "prefix": "ledger/", "files": ["orders-service.json"],
            "ledgerKey": "ledger/orders-service.json", "principals": 1, "proposed": 1}]});
    w.store
        .put_object(
            testing::BUCKET,
            "runs/2026-q4/summary.json",
            summary.to_string().into_bytes(),
            "application/json",
        )
        .await
        .unwrap();
    let (out, bus, _) = notify(&w, false, sample("notify-succeeded.json")).await;
    assert_eq!(out.unwrap_err().name(), crate::contract::INVALID_INPUT);
    assert!(bus.events().is_empty());
}

#[tokio::test]
async fn removals_are_ranked_by_keycards_risk_table_then_access_level() {
    let w = World::new();
    finished_run(&w).await;
    let mut report = stored_report(&w);
    let role = report["roles"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap();
    role["removed_actions"] = json!([
        "s3:ListAllMyBuckets",
        "s3:PutObject",
        "lambda:CreateFunction",
        "s3:GetObject",
        "iam:PutRolePolicy",
        "s3:PutBucketTagging",
        "iam:CreateServiceLinkedRole"
    ]);
    for other in report["roles"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .skip(1)
    {
        other["removed_actions"] = json!([]);
    }
    let report: keycard_core::report::Report = serde_json::from_value(report).unwrap();
    let ranked: Vec<(String, String)> = highest_risk_removals(&report)
        .into_iter()
        .map(|r| (r.action, r.risk))
        .collect();
    let ranked: Vec<(&str, &str)> = ranked
        .iter()
        .map(|(a, r)| (a.as_str(), r.as_str()))
        .collect();
    assert_eq!(ranked[0], ("iam:PutRolePolicy", "privilege_escalation"));
    assert_eq!(
        ranked[1],
        ("lambda:CreateFunction", "runs_code_as_passed_role")
    );
    assert_eq!(ranked[2], ("s3:GetObject", "sensitive_read"));
    assert_eq!(ranked.last(), Some(&("s3:ListAllMyBuckets", "list")));
    let pos = |a: &str| ranked.iter().position(|(x, _)| *x == a).unwrap();
    assert!(pos("s3:PutObject") < pos("s3:PutBucketTagging"));
}

#[test]
fn settings_default_to_the_default_bus_and_check_the_topic() {
    let s = NotifySettings::from_lookup(|_| None).unwrap();
    assert_eq!(s.event_bus, "default");
    assert_eq!(s.topic_arn, None);
    assert!(
        NotifySettings::from_lookup(|k| (k == "KEYCARD_NOTIFY_TOPIC_ARN")
            .then(|| "arn:aws:sqs:us-east-1:123456789012:q".to_owned()))
        .is_err()
    );
}

#[test]
fn console_links_follow_the_partition() {
    let place = |p: &str, r: &str| Place {
        partition: p.into(),
        region: r.into(),
    };
    assert_eq!(
        message::s3_console_url(
            &place("aws-cn", "cn-north-1"),
            "b",
            "proposals/a b/report.html"
        )
        .unwrap(),
        "https://console.amazonaws.cn/s3/object/b?region=cn-north-1&prefix=proposals/a%20b/report.html"
    );
    assert!(
        message::s3_console_url(&place("aws-us-gov", "us-gov-west-1"), "b", "k")
            .unwrap()
            .starts_with("https://console.amazonaws-us-gov.com/")
    );
    assert_eq!(
        message::s3_console_url(&place("aws-iso", "us-iso-east-1"), "b", "k"),
        None
    );
}
