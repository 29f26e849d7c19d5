//! Amazon EventBridge PutEvents: keycard's own events ("Keycard Proposal Ready", "Keycard Run
//! Failed") on an event bus, where a team's rules route them (chat, tickets, a pipeline that
//! opens the pull request).
//!
//! PutEvents answers HTTP 200 even when entries were refused: the response's
//! `FailedEntryCount` and each entry's `ErrorCode` say which ("PutEvents", EventBridge API
//! Reference, <https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html>).
//! A refused entry is an error here, so a notification is never lost silently.

use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::error::{AwsError, ErrorKind, classify};

const SERVICE: &str = "events";

/// PutEvents takes at most 10 entries per request (API reference, `Entries`: "Array Members:
/// Minimum number of 1 item. Maximum number of 10 items").
pub const MAX_ENTRIES_PER_CALL: usize = 10;

/// One event to put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEvent {
    /// `Source` (keycard's events use `keycard`; `aws.` prefixes are reserved for AWS).
    pub source: String,
    /// `DetailType`.
    pub detail_type: String,
    /// `Detail`: a JSON object, serialized.
    pub detail: String,
    /// `Resources`: ARNs the event is about (the execution, the stack).
    pub resources: Vec<String>,
}

/// Puts events on a bus.
pub trait EventBus: Send + Sync {
    /// Puts every event on `bus` (a name or ARN), in calls of at most
    /// [`MAX_ENTRIES_PER_CALL`]; an entry EventBridge refused is an error.
    fn put_events(
        &self,
        bus: &str,
        events: &[OutgoingEvent],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// [`EventBus`] over the EventBridge SDK.
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
}

impl EventBridgeBus {
    pub fn new(client: aws_sdk_eventbridge::Client) -> Self {
        EventBridgeBus { client }
    }
}

impl EventBus for EventBridgeBus {
    async fn put_events(&self, bus: &str, events: &[OutgoingEvent]) -> Result<(), AwsError> {
        for chunk in events.chunks(MAX_ENTRIES_PER_CALL) {
            let entries = chunk
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(bus)
                        .source(&e.source)
                        .detail_type(&e.detail_type)
                        .detail(&e.detail)
                        .set_resources(Some(e.resources.clone()))
                        .build()
                })
                .collect();
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(SERVICE, "PutEvents", e))?;
            if out.failed_entry_count() > 0 {
                let refused: Vec<(String, String)> = out
                    .entries()
                    .iter()
                    .filter_map(|r| {
                        r.error_code().map(|c| {
                            (
                                c.to_owned(),
                                r.error_message().unwrap_or_default().to_owned(),
                            )
                        })
                    })
                    .collect();
                return Err(refused_entries(out.failed_entry_count(), &refused));
            }
        }
        Ok(())
    }
}

/// The error for entries PutEvents refused: classified by the first entry's code, so a
/// throttled entry is retried like a throttled call.
fn refused_entries(count: i32, refused: &[(String, String)]) -> AwsError {
    let code = refused.first().map(|(c, _)| c.clone());
    let detail: Vec<String> = refused.iter().map(|(c, m)| format!("{c}: {m}")).collect();
    AwsError {
        service: SERVICE,
        operation: "PutEvents",
        kind: match classify(code.as_deref(), None) {
            ErrorKind::Other => ErrorKind::Transient,
            k => k,
        },
        code,
        status: None,
        message: format!("{count} entries refused ({})", detail.join("; ")),
    }
}

/// One event as [`MemoryEventBus`] received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutEvent {
    pub bus: String,
    pub event: OutgoingEvent,
}

/// EventBridge in memory: every event put, in order, and how many calls it took. A clone is
/// another client of the same bus.
#[derive(Debug, Clone, Default)]
pub struct MemoryEventBus {
    events: Arc<Mutex<Vec<PutEvent>>>,
    calls: Arc<Mutex<usize>>,
}

impl MemoryEventBus {
    /// Every event put so far.
    pub fn events(&self) -> Vec<PutEvent> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// PutEvents calls made.
    pub fn calls(&self) -> usize {
        *self
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl EventBus for MemoryEventBus {
    async fn put_events(&self, bus: &str, events: &[OutgoingEvent]) -> Result<(), AwsError> {
        for chunk in events.chunks(MAX_ENTRIES_PER_CALL) {
            for e in chunk {
                // The API's own checks: a Detail that is not a JSON object is refused.
                if !serde_json::from_str::<serde_json::Value>(&e.detail)
                    .is_ok_and(|v| v.is_object())
                {
                    return Err(refused_entries(
                        1,
                        &[("MalformedDetail".into(), "Detail is malformed.".into())],
                    ));
                }
            }
            *self
                .calls
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
            self.events
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(chunk.iter().map(|e| PutEvent {
                    bus: bus.to_owned(),
                    event: e.clone(),
                }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn event(n: usize) -> OutgoingEvent {
        OutgoingEvent {
            source: "keycard".into(),
            detail_type: "Keycard Proposal Ready".into(),
            detail: format!(r#"{{"n": {n}}}"#),
            resources: vec![],
        }
    }

    #[tokio::test]
    async fn eleven_events_take_two_calls() {
        let bus = MemoryEventBus::default();
        let events: Vec<OutgoingEvent> = (0..11).map(event).collect();
        bus.put_events("default", &events).await.unwrap();
        assert_eq!(bus.calls(), 2);
        assert_eq!(bus.events().len(), 11);
        let mut bad = event(0);
        bad.detail = "[1]".into();
        assert!(bus.put_events("default", &[bad]).await.is_err());
    }

    #[tokio::test]
    async fn a_refused_entry_is_an_error_named_by_its_code() {
        let partial = mock!(aws_sdk_eventbridge::Client::put_events).then_output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(
                    PutEventsResultEntry::builder()
                        .error_code("ThrottlingException")
                        .error_message("Rate exceeded")
                        .build(),
                )
                .build()
        });
        let client = mock_client!(aws_sdk_eventbridge, RuleMode::Sequential, [&partial]);
        let e = EventBridgeBus::new(client)
            .put_events("default", &[event(1)])
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Throttling);
        assert_eq!(e.code.as_deref(), Some("ThrottlingException"));
        assert!(e.message.contains("Rate exceeded"), "{e}");
    }

    #[tokio::test]
    async fn accepted_entries_are_success() {
        let ok = mock!(aws_sdk_eventbridge::Client::put_events).then_output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(0)
                .entries(PutEventsResultEntry::builder().event_id("e-1").build())
                .build()
        });
        let client = mock_client!(aws_sdk_eventbridge, RuleMode::Sequential, [&ok]);
        EventBridgeBus::new(client)
            .put_events("default", &[event(1)])
            .await
            .unwrap();
    }
}
