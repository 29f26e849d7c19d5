//! Notifications against moto: the notify step with the SDK adapters (S3, EventBridge
//! PutEvents, SNS Publish), its events routed by an EventBridge rule to an SQS queue and its
//! email delivered to the topic's subscriptions; and template.yaml's re-propose rule (its
//! pattern and input transformer, as the template builds them, run by moto's EventBridge on
//! CloudFormation events received in a real account and on the documentation's example).

#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use keycard_aws::{NotifyClients, ObjectStore};
use keycard_chain::contract::{ExecutionRef, Run, RunRequest, keys, stack_identity};
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

/// A JSON file of the repository.
fn repo_json(rel: &str) -> Value {
    serde_json::from_str(&read_repo_file(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[tokio::test]
async fn the_repropose_rule_starts_one_run_for_the_updated_stack() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let sdk = keycard_chain_tests::moto_sdk(&endpoint).await;
    let eb = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = Sqs::new(&endpoint);

    // Given template.yaml's rule as CloudFormation builds it for a deployment whose target
    // stacks include the stack of the received events (tests/fixtures/cloudformation-events),
    // with the parameters' defaults, in moto's account and region: PutEvents stamps the
    // envelope with the caller's, as EventBridge does.
    let text = read_repo_file("template.yaml");
    let t = Template::load("template.yaml", &text).unwrap();
    let template = t.root().to_json();
    let default = |p: &str| {
        let v = &template["Parameters"][p]["Default"];
        v.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string())
    };
    let params = BTreeMap::from([
        ("TargetStacks", "orders-service,cf-event-testing".to_owned()),
        ("AWS::AccountId", "123456789012".to_owned()),
        ("AWS::Region", "us-east-1".to_owned()),
        ("WindowDays", default("WindowDays")),
        ("WaitSeconds", default("WaitSeconds")),
        ("MaxPolls", default("MaxPolls")),
        ("MaxGenerations", default("MaxGenerations")),
    ]);
    let rule = &template["Resources"]["StackUpdateRule"]["Properties"];
    let pattern = resolve_sub(&rule["EventPattern"]["Fn::Sub"], &params);
    serde_json::from_str::<Value>(&pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    let target = &rule["Targets"][0];
    assert_eq!(target["Arn"], json!({"Ref": "KeycardStateMachine"}));
    let transformer = &target["InputTransformer"];
    let input_template = resolve_sub(&transformer["InputTemplate"]["Fn::Sub"], &params);
    let mut input =
        aws_sdk_eventbridge::types::InputTransformer::builder().input_template(&input_template);
    for (k, v) in transformer["InputPathsMap"].as_object().unwrap() {
        input = input.input_paths_map(k, v.as_str().unwrap());
    }

    // run by moto's EventBridge, with a queue standing in for the state machine: the queue
    // receives the execution input the target's input transformer makes
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
    eb.put_targets()
        .rule(&name)
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("run")
                .arn(&arn)
                .input_transformer(input.build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // When CloudFormation sends what it sent for a real stack's create, update and delete
    let received = repo_json("tests/fixtures/cloudformation-events/received-events.json");
    let received = received.as_array().unwrap();
    let update = &received[1];
    assert_eq!(
        update["detail"]["status-details"]["status"],
        "UPDATE_COMPLETE"
    );
    assert_eq!(
        &repo_json("events/stack-update-complete.json"),
        update,
        "the README's sample is the received update"
    );
    let stack_id = update["detail"]["stack-id"].as_str().unwrap().to_owned();
    // and a rollback of that stack, an update of a stack whose name merely starts like a
    // target's, and the documentation's example, as published (a create) and as an update
    let mut rollback = update.clone();
    rollback["detail"]["status-details"]["status"] = json!("UPDATE_ROLLBACK_COMPLETE");
    let mut lookalike = update.clone();
    lookalike["detail"]["stack-id"] =
        json!(stack_id.replace("stack/cf-event-testing/", "stack/cf-event-testing-v2/"));
    let docs =
        repo_json("tests/fixtures/cloudformation-events/stack-status-change.aws-docs-example.json");
    let mut docs_params = params.clone();
    docs_params.insert("TargetStacks", "teststack".to_owned());
    let mut docs_update = docs.clone();
    docs_update["detail"]["status-details"]["status"] = json!("UPDATE_COMPLETE");
    let mut sent = received.iter().collect::<Vec<_>>();
    sent.extend([&rollback, &lookalike]);
    for e in sent {
        let put = eb
            .put_events()
            .entries(
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(&bus)
                    .source(e["source"].as_str().unwrap())
                    .detail_type(e["detail-type"].as_str().unwrap())
                    .detail(e["detail"].to_string())
                    .set_resources(Some(
                        e["resources"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|r| r.as_str().unwrap().to_owned())
                            .collect(),
                    ))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(put.failed_entry_count(), 0);
    }

    // Then exactly one run starts, for the updated stack alone, with the schedule's settings
    let starts = sqs.drain(&url);
    assert_eq!(starts.len(), 1, "{starts:?}");
    let request: RunRequest = serde_json::from_str(&starts[0])
        .unwrap_or_else(|e| panic!("not the execution input: {e}: {}", starts[0]));
    assert_eq!(request.stacks, [stack_id]);
    assert_eq!(
        stack_identity(&request.stacks[0]).unwrap(),
        "cf-event-testing"
    );
    let number = |p: &str| Some(default(p).parse::<u32>().unwrap());
    assert_eq!(request.window_days, number("WindowDays"));
    assert_eq!(request.wait_seconds, number("WaitSeconds"));
    assert_eq!(request.max_polls, number("MaxPolls"));
    assert_eq!(request.max_generations, number("MaxGenerations"));
    // and discovery takes it as a run
    let execution = ExecutionRef {
        id: "arn:aws:states:us-east-1:123456789012:execution:keycard-chain:repropose".into(),
        name: "repropose".into(),
        start_time: chrono::Utc::now(),
    };
    Run::from_request(&request, &execution).unwrap();

    // The documentation's example writes the stack id without the stack's unique id
    // (`stack/teststack`); a rule built for `teststack` leaves it alone, published or as an
    // update, and the chain would not take that id as a stack ARN either. Real events carry
    // the unique id (the received events above).
    let docs_rule = unique("keycard-repropose-docs");
    let docs_pattern = resolve_sub(&rule["EventPattern"]["Fn::Sub"], &docs_params);
    eb.put_rule()
        .name(&docs_rule)
        .event_bus_name(&bus)
        .event_pattern(&docs_pattern)
        .send()
        .await
        .unwrap();
    eb.put_targets()
        .rule(&docs_rule)
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
    let docs_id = docs["detail"]["stack-id"].as_str().unwrap().to_owned();
    for e in [&docs, &docs_update] {
        let put = eb
            .put_events()
            .entries(
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(&bus)
                    .source(e["source"].as_str().unwrap())
                    .detail_type(e["detail-type"].as_str().unwrap())
                    .detail(e["detail"].to_string())
                    .resources(&docs_id)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(put.failed_entry_count(), 0);
    }
    assert_eq!(sqs.drain(&url), Vec::<String>::new());
    assert!(stack_identity(&docs_id).is_err());
}
