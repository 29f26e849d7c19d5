//! Notifications against moto: the notify step with the SDK adapters (S3, EventBridge
//! PutEvents, SNS Publish), its events routed by an EventBridge rule to an SQS queue and its
//! email delivered to the topic's subscriptions; and template.yaml's re-propose rule (its
//! pattern, as the template builds it, run by moto's EventBridge on the sample CloudFormation
//! event of `events/`, and its input transformer's template).

#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use keycard_aws::{NotifyClients, ObjectStore};
use keycard_chain::contract::keys;
use keycard_chain::steps::notify::{
    self, NotifySettings, PROPOSAL_READY, RUN_FAILED, StatusChangeEvent,
};
use keycard_chain::steps::summarize::Summary;
use keycard_chain_tests::{fixture, moto_clients, moto_endpoint, read_repo_file, unique};
use keycard_core::proposal::{ProposalInput, RoleResolution, propose};
use keycard_core::report::{render_html, render_markdown};
use keycard_core::template::Template;
use serde_json::{Value, json};

/// SQS over its JSON protocol, straight to moto (no SQS SDK crate in the workspace).
struct Sqs {
    addr: SocketAddr,
}

impl Sqs {
    fn new(endpoint: &str) -> Sqs {
        let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
        Sqs {
            addr: host.parse().unwrap_or_else(|e| panic!("{endpoint}: {e}")),
        }
    }

    fn call(&self, operation: &str, body: &Value) -> Value {
        let resp = keycard_local::http::request(
            self.addr,
            "POST",
            "/",
            &[
                ("Content-Type".into(), "application/x-amz-json-1.0".into()),
                ("X-Amz-Target".into(), format!("AmazonSQS.{operation}")),
                (
                    "Authorization".into(),
                    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0".into(),
                ),
            ],
            body.to_string().as_bytes(),
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("SQS {operation}: {e}"));
        assert_eq!(
            resp.status(),
            200,
            "SQS {operation}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        serde_json::from_slice(&resp.body).unwrap_or(Value::Null)
    }

    /// A new queue: (URL, ARN).
    fn queue(&self, name: &str) -> (String, String) {
        let url = self.call("CreateQueue", &json!({"QueueName": name}))["QueueUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        let arn = self.call(
            "GetQueueAttributes",
            &json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
        )["Attributes"]["QueueArn"]
            .as_str()
            .unwrap()
            .to_owned();
        (url, arn)
    }

    /// Every message body waiting in the queue.
    fn drain(&self, url: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let got = self.call(
                "ReceiveMessage",
                &json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 300}),
            );
            let Some(messages) = got["Messages"].as_array().filter(|m| !m.is_empty()) else {
                return out;
            };
            out.extend(
                messages
                    .iter()
                    .map(|m| m["Body"].as_str().unwrap_or_default().to_owned()),
            );
        }
    }
}

fn sample(name: &str, execution: &str) -> StatusChangeEvent {
    let mut e: StatusChangeEvent =
        serde_json::from_str(&read_repo_file(&format!("events/{name}"))).unwrap();
    e.detail.name = execution.to_owned();
    e.detail.execution_arn =
        format!("arn:aws:states:us-east-1:123456789012:execution:keycard-chain:{execution}");
    e
}

/// A finished run in the output bucket: the orders-service fixture's real report (no evidence
/// read, so every role keeps its grants) and the run summary naming it.
async fn finished_run(store: &impl ObjectStore, bucket: &str, execution: &str) {
    let proposal = propose(&ProposalInput {
        template_name: "template.yaml".into(),
        template_text: fixture("stacks/orders-service.yaml"),
        resolution: RoleResolution {
            stack_name: Some("orders-service".into()),
            account_id: Some("123456789012".into()),
            ..RoleResolution::default()
        },
        ..ProposalInput::default()
    })
    .unwrap();
    let prefix = keys::proposal_prefix("orders-service", execution);
    let files = [
        (
            "template.yaml",
            proposal.template.clone(),
            "application/yaml",
        ),
        ("template.diff", proposal.diff.clone(), "text/plain"),
        ("report.json", proposal.report.to_json(), "application/json"),
        (
            "report.md",
            render_markdown(&proposal.report),
            "text/markdown",
        ),
        ("report.html", render_html(&proposal.report), "text/html"),
    ];
    for (name, body, kind) in &files {
        store
            .put_object(
                bucket,
                &format!("{prefix}{name}"),
                body.clone().into_bytes(),
                kind,
            )
            .await
            .unwrap();
    }
    let summary = Summary {
        execution: execution.to_owned(),
        window_start: "2026-07-03T06:00:00+00:00".into(),
        window_end: "2026-10-01T06:00:00+00:00".into(),
        roles: BTreeMap::from([("succeeded".to_owned(), 2)]),
        stacks: vec![json!({"stack": "orders-service", "prefix": prefix,
            "files": files.iter().map(|f| f.0).collect::<Vec<_>>(),
            "ledgerKey": "ledger/orders-service.json", "principals": 2, "proposed": 0})],
        problems: vec![],
        summary_key: keys::summary(execution),
    };
    store
        .put_object(
            bucket,
            &keys::summary(execution),
            serde_json::to_vec(&summary).unwrap(),
            "application/json",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn notify_puts_events_a_rule_routes_and_publishes_the_email_to_the_topic() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (clients, config, sdk) = moto_clients(&endpoint).await;
    let notifiers = NotifyClients::from_sdk_config(&sdk);
    let eb = aws_sdk_eventbridge::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = Sqs::new(&endpoint);

    // Given a bus whose rule sends keycard's events to a queue
    let bus = unique("keycard-bus");
    eb.create_event_bus().name(&bus).send().await.unwrap();
    let (events_url, events_arn) = sqs.queue(&unique("keycard-events"));
    let rule = unique("keycard-to-queue");
    eb.put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(r#"{"source": ["keycard"]}"#)
        .send()
        .await
        .unwrap();
    eb.put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&events_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // and a topic with the email subscription and a queue that receives what it sends
    let topic = sns
        .create_topic()
        .name(unique("keycard-notifications"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("email")
        .endpoint("iam-reviewers@example.com")
        .send()
        .await
        .unwrap();
    let (mail_url, mail_arn) = sqs.queue(&unique("keycard-mail"));
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&mail_arn)
        .send()
        .await
        .unwrap();
    let settings = NotifySettings::from_lookup(|k| match k {
        "KEYCARD_EVENT_BUS" => Some(bus.clone()),
        "KEYCARD_NOTIFY_TOPIC_ARN" => Some(topic.clone()),
        _ => None,
    })
    .unwrap();

    // When a run that wrote a proposal finishes
    let execution = unique("run");
    finished_run(&clients.s3, &config.bucket, &execution).await;
    let out = notify::handle(
        &clients.s3,
        &notifiers.events,
        &notifiers.topic,
        &config,
        &settings,
        sample("notify-succeeded.json", &execution),
    )
    .await
    .unwrap();

    // Then the rule delivered the Proposal Ready event, as EventBridge shapes it
    assert_eq!(out.events, [PROPOSAL_READY]);
    let delivered: Vec<Value> = sqs
        .drain(&events_url)
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let e = &delivered[0];
    assert_eq!(e["source"], "keycard");
    assert_eq!(e["detail-type"], PROPOSAL_READY);
    assert_eq!(e["detail"]["stack"], "orders-service");
    assert_eq!(
        e["detail"]["keys"]["reportHtml"],
        format!("proposals/orders-service/{execution}/report.html")
    );
    assert_eq!(e["detail"]["summary"]["principals"], 2);
    // the index is in the bucket
    let index = clients
        .s3
        .get_object(&config.bucket, &keys::run_index(&execution))
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8(index)
            .unwrap()
            .contains(&format!("../../orders-service/{execution}/report.html"))
    );
    // and the topic's subscribers got the email
    let mail = sqs.drain(&mail_url);
    assert_eq!(mail.len(), 1);
    let envelope: Value = serde_json::from_str(&mail[0]).unwrap();
    assert_eq!(
        envelope["Subject"],
        format!("keycard: 1 proposal ready ({execution})")
    );
    let text = envelope["Message"].as_str().unwrap();
    assert!(text.contains("# keycard proposal:"), "{text}");
    assert!(text.contains("report.html: https://console.aws.amazon.com/s3/object/"));

    // And a failed run sends Run Failed the same way
    let failed = notify::handle(
        &clients.s3,
        &notifiers.events,
        &notifiers.topic,
        &config,
        &settings,
        sample("notify-failed.json", &unique("run")),
    )
    .await
    .unwrap();
    assert_eq!(failed.events, [RUN_FAILED]);
    let delivered = sqs.drain(&events_url);
    assert_eq!(delivered.len(), 1);
    let e: Value = serde_json::from_str(&delivered[0]).unwrap();
    assert_eq!(e["detail"]["error"], "Keycard.InvalidInput");
    assert_eq!(sqs.drain(&mail_url).len(), 1);
}

/// `Fn::Sub` of template.yaml's re-propose rule, resolved as CloudFormation would for a
/// deployment with these target stacks and the parameters' defaults.
fn resolve_sub(sub: &Value, params: &BTreeMap<&str, String>) -> String {
    let (text, vars) = match sub {
        Value::String(s) => (s.clone(), BTreeMap::new()),
        Value::Array(a) => {
            let mut vars = BTreeMap::new();
            for (k, v) in a[1].as_object().unwrap() {
                let join = &v["Fn::Join"];
                let delimiter = join[0].as_str().unwrap();
                assert_eq!(join[1], json!({"Ref": "TargetStacks"}));
                vars.insert(
                    k.clone(),
                    params["TargetStacks"]
                        .split(',')
                        .collect::<Vec<_>>()
                        .join(delimiter),
                );
            }
            (a[0].as_str().unwrap().to_owned(), vars)
        }
        other => panic!("not a Fn::Sub: {other}"),
    };
    let mut out = text;
    for (k, v) in vars.iter() {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    for (k, v) in params {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    assert!(!out.contains("${"), "unresolved: {out}");
    out
}

#[tokio::test]
async fn the_repropose_rule_matches_only_a_completed_update_of_a_target_stack() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let sdk = keycard_chain_tests::moto_sdk(&endpoint).await;
    let eb = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = Sqs::new(&endpoint);

    // Given template.yaml's rule, its pattern and target input as CloudFormation builds them
    let text = read_repo_file("template.yaml");
    let t = Template::load("template.yaml", &text).unwrap();
    let template = t.root().to_json();
    let rule = &template["Resources"]["StackUpdateRule"]["Properties"];
    let params = BTreeMap::from([
        ("TargetStacks", "orders-service,billing-api".to_owned()),
        ("AWS::AccountId", "123456789012".to_owned()),
        ("AWS::Region", "us-east-1".to_owned()),
        ("WindowDays", "90".to_owned()),
        ("WaitSeconds", "60".to_owned()),
        ("MaxPolls", "30".to_owned()),
        ("MaxGenerations", "40".to_owned()),
    ]);
    let pattern = resolve_sub(&rule["EventPattern"]["Fn::Sub"], &params);
    serde_json::from_str::<Value>(&pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    let target = &rule["Targets"][0];
    let transformer = &target["InputTransformer"];
    let input_template = resolve_sub(&transformer["InputTemplate"]["Fn::Sub"], &params);

    // run by moto's EventBridge, with a queue standing in for the state machine
    let bus = unique("keycard-cfn-bus");
    eb.create_event_bus().name(&bus).send().await.unwrap();
    let (url, arn) = sqs.queue(&unique("keycard-starts"));
    let name = unique("keycard-repropose");
    eb.put_rule()
        .name(&name)
        .event_bus_name(&bus)
        .event_pattern(&pattern)
        .send()
        .await
        .unwrap();
    // The target is the queue, without the transformer: moto's input transformer inserts an
    // in-quotes string differently from EventBridge, so the input is checked below by the
    // documented rule instead.
    eb.put_targets()
        .rule(&name)
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("run")
                .arn(&arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // When CloudFormation reports an update of a target stack, a rollback of it, and an update
    // of a stack whose name merely starts like a target's
    let sample: Value =
        serde_json::from_str(&read_repo_file("events/stack-update-complete.json")).unwrap();
    let stack_id = sample["detail"]["stack-id"].as_str().unwrap().to_owned();
    let mut rollback = sample.clone();
    rollback["detail"]["status-details"]["status"] = json!("UPDATE_ROLLBACK_COMPLETE");
    let mut lookalike = sample.clone();
    lookalike["detail"]["stack-id"] =
        json!(stack_id.replace("stack/orders-service/", "stack/orders-service-v2/"));
    for e in [&sample, &rollback, &lookalike] {
        let put = eb
            .put_events()
            .entries(
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(&bus)
                    .source(e["source"].as_str().unwrap())
                    .detail_type(e["detail-type"].as_str().unwrap())
                    .detail(e["detail"].to_string())
                    .set_resources(Some(vec![
                        e["detail"]["stack-id"].as_str().unwrap().to_owned(),
                    ]))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(put.failed_entry_count(), 0);
    }

    // Then exactly one event matches: the target stack's update
    let matched: Vec<Value> = sqs
        .drain(&url)
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    assert_eq!(matched.len(), 1, "{matched:?}");
    assert_eq!(matched[0]["detail"]["stack-id"], json!(stack_id));

    // and its target is the Access Analyzer mode state machine, with the stack id as input
    assert_eq!(
        transformer["InputPathsMap"],
        json!({"stack": "$.detail.stack-id"})
    );
    assert!(input_template.contains("<stack>"), "{input_template}");
    assert_eq!(target["Arn"], json!({"Ref": "KeycardStateMachine"}));
}
