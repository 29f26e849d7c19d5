//! Telling people: what a finished execution of either state machine produced, or why it failed.
//!
//! An EventBridge rule sends the "Step Functions Execution Status Change" event of both state
//! machines (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) to the notify Lambda. The event's shape is
//! the Step Functions Developer Guide's ("EventBridge (CloudWatch Events) for Step Functions
//! execution status changes", <https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html>;
//! sample: `events/notify-succeeded.json`): `detail` carries `executionArn`,
//! `stateMachineArn`, `name`, `status`, `startDate`/`stopDate` (epoch milliseconds), and
//! `error`/`cause` for a failure. The execution's `output` is not used: Step Functions drops it
//! from the event beyond 248 KB, while the run's summary in S3 is always whole.
//!
//! * SUCCEEDED: the summary (`runs/<execution>/summary.json`) names every stack's proposal; each
//!   stack gets one `Keycard Proposal Ready` event (S3 keys, report.json's summary counts, the
//!   highest-risk removals) or `Keycard Proposal Failed` (why there is none); a run index
//!   (`proposals/_runs/<execution>/index.html`) links every stack's report; with a topic, one
//!   email carries each report.md's summary and the S3 console links.
//! * FAILED, TIMED_OUT, ABORTED: one `Keycard Run Failed` event with the error and cause, and
//!   the email.
//!
//! Events go to `KEYCARD_EVENT_BUS` (default: the account's default bus) with source `keycard`;
//! the email goes to `KEYCARD_NOTIFY_TOPIC_ARN` when set. A Distributed Map's child executions
//! (CloudTrail mode's batches) are ignored: their state machine ARN carries the map's label
//! (`stateMachine:<name>/<label>`, "Viewing a Distributed Map Run execution", Step Functions
//! Developer Guide), and the rule matches the parents' ARNs only anyway.

mod index;
mod message;
#[cfg(test)]
mod tests;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use keycard_aws::config::ConfigError;
use keycard_aws::{Config, EventBus, ObjectStore, OutgoingEvent, Topic};
use serde::{Deserialize, Serialize};

use crate::contract::{StepError, check_segment, keys, parse_json};
use crate::steps::summarize::Summary;

use index::render_index;
pub use message::{RiskyRemoval, StackNotice, highest_risk_removals};

/// The `source` of keycard's events (`aws.` sources are reserved for AWS services).
pub const SOURCE: &str = "keycard";
pub const PROPOSAL_READY: &str = "Keycard Proposal Ready";
pub const PROPOSAL_FAILED: &str = "Keycard Proposal Failed";
pub const RUN_FAILED: &str = "Keycard Run Failed";
/// The detail type Step Functions sends (EventBridge Events Reference, "AWS Step Functions
/// events").
pub const STATUS_CHANGE: &str = "Step Functions Execution Status Change";
/// The final statuses the rule forwards besides SUCCEEDED.
pub const FAILED_STATUSES: &[&str] = &["FAILED", "TIMED_OUT", "ABORTED"];

/// The notify Lambda's settings (template.yaml sets them on the function).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// `KEYCARD_EVENT_BUS`: the bus name or ARN keycard's events go to; `default` when unset.
    pub event_bus: String,
    /// `KEYCARD_NOTIFY_TOPIC_ARN`: the SNS topic of the email subscription, when
    /// `NotificationEmail` is set.
    pub topic_arn: Option<String>,
}

impl NotifySettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let topic_arn = get("KEYCARD_NOTIFY_TOPIC_ARN");
        if let Some(t) = &topic_arn
            && crate::contract::arn_field(t, 2).as_deref() != Some("sns")
        {
            return Err(ConfigError::Invalid {
                var: "KEYCARD_NOTIFY_TOPIC_ARN",
                value: t.clone(),
                reason: "expected an SNS topic ARN",
            });
        }
        Ok(NotifySettings {
            event_bus: get("KEYCARD_EVENT_BUS").unwrap_or_else(|| "default".to_owned()),
            topic_arn,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        NotifySettings::from_lookup(|k| std::env::var(k).ok())
    }
}

/// `detail` of a "Step Functions Execution Status Change" event (the fields keycard reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStatusChange {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE.
    pub status: String,
    #[serde(default)]
    pub start_date: Option<i64>,
    #[serde(default)]
    pub stop_date: Option<i64>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
}

/// The Lambda's input: the EventBridge envelope (`aws_lambda_events`) around the detail.
pub type StatusChangeEvent = EventBridgeEvent<ExecutionStatusChange>;

/// What the Lambda did (its return value, in its log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyOutput {
    pub execution: String,
    pub status: String,
    /// Detail types of the events put, in order.
    pub events: Vec<String>,
    /// Whether the email was published.
    pub emailed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_key: Option<String>,
    /// Why nothing was sent (a child execution, a status that is not final).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

/// Where the execution ran: for the console links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    pub partition: String,
    pub region: String,
}

pub async fn handle<S: ObjectStore, B: EventBus, T: Topic>(
    store: &S,
    bus: &B,
    topic: &T,
    config: &Config,
    settings: &NotifySettings,
    event: StatusChangeEvent,
) -> Result<NotifyOutput, StepError> {
    if event.source != "aws.states" || event.detail_type != STATUS_CHANGE {
        return Err(StepError::InvalidInput(format!(
            "expected a {STATUS_CHANGE:?} event from aws.states, got {:?} from {:?}",
            event.detail_type, event.source
        )));
    }
    let d = event.detail;
    let mut out = NotifyOutput {
        execution: d.name.clone(),
        status: d.status.clone(),
        events: Vec::new(),
        emailed: false,
        index_key: None,
        ignored: None,
    };
    if is_map_child(&d.state_machine_arn) {
        out.ignored = Some("a Distributed Map child execution".into());
        return Ok(out);
    }
    let place = Place {
        partition: crate::contract::arn_field(&d.execution_arn, 1)
            .unwrap_or_else(|| "aws".to_owned()),
        region: crate::contract::arn_field(&d.execution_arn, 3)
            .or(event.region)
            .or_else(|| config.region.clone())
            .unwrap_or_default(),
    };
    let (events, email) = if d.status == "SUCCEEDED" {
        match succeeded(store, config, &place, &d).await? {
            Finished::Ran(run) => {
                out.index_key = Some(run.index_key.clone());
                (run.events, run.email)
            }
            Finished::NoSummary(failure) => message::run_failed(config, &place, &d, &failure),
        }
    } else if FAILED_STATUSES.contains(&d.status.as_str()) {
        message::run_failed(config, &place, &d, &message::Failure::of_execution(&d))
    } else {
        out.ignored = Some(format!("status {} is not final", d.status));
        return Ok(out);
    };
    bus.put_events(&settings.event_bus, &events).await?;
    out.events = events.iter().map(|e| e.detail_type.clone()).collect();
    if let Some(arn) = &settings.topic_arn {
        topic.publish(arn, &email.subject, &email.body).await?;
        out.emailed = true;
    }
    Ok(out)
}

/// `arn:…:stateMachine:<name>/<map label>`: a Distributed Map's child execution.
fn is_map_child(state_machine_arn: &str) -> bool {
    state_machine_arn
        .rsplit_once(":stateMachine:")
        .is_some_and(|(_, name)| name.contains('/'))
}

/// A successful execution's events and email, and the index written.
struct Ran {
    events: Vec<OutgoingEvent>,
    email: message::Email,
    index_key: String,
}

enum Finished {
    Ran(Ran),
    /// SUCCEEDED without a summary: said as a failed run, so nobody waits for proposals.
    NoSummary(message::Failure),
}

async fn succeeded<S: ObjectStore>(
    store: &S,
    config: &Config,
    place: &Place,
    d: &ExecutionStatusChange,
) -> Result<Finished, StepError> {
    let execution = check_segment("the execution name", &d.name)?;
    let summary_key = keys::summary(execution);
    let Some(bytes) = store.get_object(&config.bucket, &summary_key).await? else {
        return Ok(Finished::NoSummary(message::Failure {
            error: "Keycard.NoSummary".into(),
            cause: format!(
                "the execution succeeded but wrote no run summary at s3://{}/{summary_key}",
                config.bucket
            ),
        }));
    };
    let summary: Summary = parse_json(&summary_key, &bytes)?;
    let mut stacks = Vec::new();
    for outcome in &summary.stacks {
        stacks.push(message::read_stack(store, config, execution, outcome).await?);
    }
    let index_key = keys::run_index(execution);
    let html = render_index(&config.bucket, place, d, &summary, &stacks);
    store
        .put_object(
            &config.bucket,
            &index_key,
            html.into_bytes(),
            "text/html; charset=utf-8",
        )
        .await?;
    let events = stacks
        .iter()
        .map(|s| message::stack_event(config, place, d, &index_key, s))
        .collect::<Result<Vec<_>, _>>()?;
    let email = message::run_email(config, place, d, &summary, &stacks, &index_key);
    Ok(Finished::Ran(Ran {
        events,
        email,
        index_key,
    }))
}
