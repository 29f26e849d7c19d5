//! Notifications on the local chain: what template.yaml's notify wiring does in AWS, on moto.
//!
//! moto's Step Functions emits no EventBridge events, so after an execution ends
//! [`LocalChain::notify`] builds the "Step Functions Execution Status Change" event Step
//! Functions would send (the shape of `events/notify-*.json`, from DescribeExecution) and
//! invokes the real notify handler with it under `cargo lambda watch`, as the EventBridge rule
//! would. The handler puts its events on moto's default bus, where a rule on `source: keycard`
//! delivers them to an SQS queue, and publishes the email to an SNS topic that has the email
//! subscription and, because moto sends no mail, an SQS subscription that shows what was sent.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{ACCOUNT, ExecutionResult, LocalChain, LocalError, REGION, aws, http, setup};

/// Where the notifications go, created by [`LocalChain::deploy`].
#[derive(Debug, Clone)]
pub struct Notifications {
    pub topic_arn: String,
    /// Receives every event of source `keycard` on the default bus.
    events_queue: String,
    /// Subscribed to the topic beside the email address.
    mail_queue: String,
    /// The notify function's binary (template.yaml's NotifyFunction).
    pub binary: String,
}

/// What one execution's notification produced.
#[derive(Debug, Clone)]
pub struct Notified {
    /// The status change event the handler was invoked with.
    pub status_change: Value,
    /// The handler's output (`NotifyOutput`).
    pub output: Value,
    /// Events delivered by the rule on `source: keycard`, as EventBridge shapes them.
    pub events: Vec<Value>,
    /// `(subject, message)` of every email the topic sent.
    pub emails: Vec<(String, String)>,
}

/// The address the local topic's email subscription names (moto delivers nothing to it).
pub const EMAIL: &str = "iam-reviewers@example.com";

/// What `scripts/local-chain` prints for one notification: the handler's output, every event
/// the rule on `source: keycard` delivered and every email the topic sent. The end-to-end test
/// checks this text, so what the script shows is what was tested.
impl std::fmt::Display for Notified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "notify: {}", self.output)?;
        for e in &self.events {
            let detail = serde_json::to_string_pretty(&e["detail"]).map_err(|_| std::fmt::Error)?;
            writeln!(
                f,
                "event on the default bus ({} / {}):\n{detail}",
                e["source"].as_str().unwrap_or_default(),
                e["detail-type"].as_str().unwrap_or_default(),
            )?;
        }
        for (subject, message) in &self.emails {
            writeln!(
                f,
                "email to {EMAIL} (via the SNS topic):\nSubject: {subject}\n\n{message}"
            )?;
        }
        Ok(())
    }
}

impl LocalChain {
    /// An SQS call (awsJson1_0) straight to moto.
    fn sqs(&self, operation: &str, body: &Value) -> Result<Value, LocalError> {
        self.json_call(
            "sqs",
            "1.0",
            &format!("AmazonSQS.{operation}"),
            operation,
            body,
        )
    }

    fn queue(&self, name: &str) -> Result<(String, String), LocalError> {
        let url = self.sqs("CreateQueue", &json!({"QueueName": name}))?["QueueUrl"]
            .as_str()
            .ok_or_else(|| setup("CreateQueue returned no QueueUrl"))?
            .to_owned();
        let arn = self.sqs(
            "GetQueueAttributes",
            &json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
        )?["Attributes"]["QueueArn"]
            .as_str()
            .ok_or_else(|| setup("GetQueueAttributes returned no QueueArn"))?
            .to_owned();
        Ok((url, arn))
    }

    fn drain(&self, url: &str) -> Result<Vec<String>, LocalError> {
        let mut out = Vec::new();
        loop {
            let got = self.sqs(
                "ReceiveMessage",
                &json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 300}),
            )?;
            let Some(messages) = got["Messages"].as_array().filter(|m| !m.is_empty()) else {
                return Ok(out);
            };
            out.extend(
                messages
                    .iter()
                    .filter_map(|m| m["Body"].as_str().map(str::to_owned)),
            );
        }
    }

    /// The topic with its email and queue subscriptions, and the rule that routes keycard's
    /// events to a queue. Called by `deploy` before the handlers start (the topic's ARN is
    /// the notify function's `KEYCARD_NOTIFY_TOPIC_ARN`).
    pub(crate) fn create_notifications(&mut self) -> Result<(), LocalError> {
        let template =
            std::fs::read_to_string(self.options.root.join("template.yaml")).map_err(setup)?;
        let binary = crate::definition::function_binary(&template, "NotifyFunction")?;
        let suffix = crate::unique_suffix();
        let (events_queue, events_arn) = self.queue(&format!("keycard-events-{suffix}"))?;
        let (mail_queue, mail_arn) = self.queue(&format!("keycard-mail-{suffix}"))?;
        let eb = aws_sdk_eventbridge::Client::new(&self.sdk);
        let sns = aws_sdk_sns::Client::new(&self.sdk);
        let rule = format!("keycard-events-{suffix}");
        let topic_arn = self.rt.block_on(async {
            eb.put_rule()
                .name(&rule)
                .event_pattern(r#"{"source": ["keycard"]}"#)
                .send()
                .await
                .map_err(|e| aws("PutRule", e))?;
            let target = aws_sdk_eventbridge::types::Target::builder()
                .id("events-queue")
                .arn(&events_arn)
                .build()
                .map_err(setup)?;
            eb.put_targets()
                .rule(&rule)
                .targets(target)
                .send()
                .await
                .map_err(|e| aws("PutTargets", e))?;
            let topic = sns
                .create_topic()
                .name(format!("keycard-notifications-{suffix}"))
                .send()
                .await
                .map_err(|e| aws("CreateTopic", e))?
                .topic_arn
                .ok_or_else(|| setup("CreateTopic returned no TopicArn"))?;
            for (protocol, endpoint) in [("email", EMAIL), ("sqs", mail_arn.as_str())] {
                sns.subscribe()
                    .topic_arn(&topic)
                    .protocol(protocol)
                    .endpoint(endpoint)
                    .send()
                    .await
                    .map_err(|e| aws("Subscribe", e))?;
            }
            Ok::<String, LocalError>(topic)
        })?;
        self.notifications = Some(Notifications {
            topic_arn,
            events_queue,
            mail_queue,
            binary,
        });
        Ok(())
    }

    /// Invokes the notify handler with the status change event of `result`'s execution, as
    /// the EventBridge rule on both state machines would, and collects what it sent.
    pub fn notify(&self, result: &ExecutionResult) -> Result<Notified, LocalError> {
        let n = self
            .notifications
            .as_ref()
            .ok_or_else(|| setup("deploy() first"))?;
        let described = self.states("DescribeExecution", &json!({"executionArn": result.arn}))?;
        let status_change = status_change_event(&described);
        let resp = http::request(
            self.lambda,
            "POST",
            &format!("/2015-03-31/functions/{}/invocations", n.binary),
            &[("Content-Type".into(), "application/json".into())],
            status_change.to_string().as_bytes(),
            Duration::from_secs(600),
        )
        .map_err(|e| aws("Invoke notify", e))?;
        let output: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        if resp.status() != 200 {
            return Err(LocalError::Execution(format!(
                "the notify function failed (HTTP {}): {output}",
                resp.status()
            )));
        }
        let events = self
            .drain(&n.events_queue)?
            .iter()
            .filter_map(|b| serde_json::from_str(b).ok())
            .collect();
        let emails = self
            .drain(&n.mail_queue)?
            .iter()
            .filter_map(|b| serde_json::from_str::<Value>(b).ok())
            .map(|env| {
                (
                    env["Subject"].as_str().unwrap_or_default().to_owned(),
                    env["Message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        Ok(Notified {
            status_change,
            output,
            events,
            emails,
        })
    }
}

/// A DescribeExecution timestamp (epoch seconds, possibly fractional) in milliseconds, as the
/// status change event carries it.
fn millis(v: &Value) -> Value {
    v.as_f64()
        .map(|s| json!((s * 1000.0).round() as i64))
        .unwrap_or(Value::Null)
}

/// The "Step Functions Execution Status Change" event Step Functions sends for an execution
/// (Step Functions Developer Guide, "EventBridge (CloudWatch Events) for Step Functions
/// execution status changes"), built from its DescribeExecution response.
pub fn status_change_event(described: &Value) -> Value {
    let arn = described["executionArn"].clone();
    let field = |k: &str| described.get(k).cloned().unwrap_or(Value::Null);
    let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({
        "version": "0",
        "id": format!("local-{}", crate::unique_suffix()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": field("stateMachineArn"),
            "name": field("name"),
            "status": field("status"),
            "startDate": millis(&field("startDate")),
            "stopDate": millis(&field("stopDate")),
            "input": field("input"),
            "output": field("output"),
            "error": field("error"),
            "cause": field("cause"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_has_the_documented_shape() {
        let described = json!({
            "executionArn": "arn:aws:states:us-east-1:123456789012:execution:keycard-x:run-1",
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:keycard-x",
            "name": "run-1", "status": "FAILED", "startDate": 1790834400.5,
            "stopDate": 1790834533.0, "input": "{}", "error": "Keycard.InvalidInput", "cause": "c"
        });
        let e = status_change_event(&described);
        let sample: Value = serde_json::from_str(
            &std::fs::read_to_string(crate::repo_root().join("events/notify-failed.json")).unwrap(),
        )
        .unwrap();
        let keys = |v: &Value| {
            v.as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(keys(&e), keys(&sample));
        for k in [
            "executionArn",
            "stateMachineArn",
            "name",
            "status",
            "error",
            "cause",
        ] {
            assert!(
                sample["detail"].get(k).is_some() && e["detail"].get(k).is_some(),
                "{k}"
            );
        }
        assert_eq!(e["detail"]["startDate"], 1790834400500_i64);
        assert_eq!(e["detail"]["output"], Value::Null);
    }
}
