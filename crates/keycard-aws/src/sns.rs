//! Amazon SNS Publish: the optional email that tells a person a proposal is ready, or that a
//! run failed.
//!
//! Limits the caller must respect, from the Publish API reference
//! (<https://docs.aws.amazon.com/sns/latest/api/API_Publish.html>): `Subject` is "ASCII text
//! that begins with a letter, number, or punctuation mark; must not include line breaks or
//! control characters; and must be less than 100 characters long"; `Message` is at most
//! 262,144 bytes. [`email_subject`] and [`MAX_MESSAGE_BYTES`] hold them.

use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::error::AwsError;

const SERVICE: &str = "sns";

/// Publish's message size limit (256 KB).
pub const MAX_MESSAGE_BYTES: usize = 262_144;
/// Publish's subject limit: "less than 100 characters".
pub const MAX_SUBJECT_CHARS: usize = 99;

/// Publishes a message to a topic.
pub trait Topic: Send + Sync {
    fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        message: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// [`Topic`] over the SNS SDK.
#[derive(Debug, Clone)]
pub struct SnsTopic {
    client: aws_sdk_sns::Client,
}

impl SnsTopic {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        SnsTopic { client }
    }
}

impl Topic for SnsTopic {
    async fn publish(&self, topic_arn: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        self.client
            .publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "Publish", e))?;
        Ok(())
    }
}

/// A subject SNS accepts: printable ASCII only (anything else becomes `?`), starting with a
/// letter, digit or punctuation, at most [`MAX_SUBJECT_CHARS`] characters.
pub fn email_subject(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim_start()
        .to_owned();
    if out.is_empty() {
        out.push_str("keycard");
    }
    if out.chars().count() > MAX_SUBJECT_CHARS {
        out = out.chars().take(MAX_SUBJECT_CHARS - 3).collect();
        out.push_str("...");
    }
    out
}

/// `message` cut at a character boundary so that it fits [`MAX_MESSAGE_BYTES`] with a line
/// saying it was cut.
pub fn fit_message(message: &str) -> String {
    const NOTE: &str = "\n\n[cut: SNS messages are limited to 256 KB; the reports have the rest]\n";
    if message.len() <= MAX_MESSAGE_BYTES {
        return message.to_owned();
    }
    let mut end = MAX_MESSAGE_BYTES - NOTE.len();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{NOTE}", &message[..end])
}

/// One message as [`MemoryTopic`] received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub topic_arn: String,
    pub subject: String,
    pub message: String,
}

/// SNS in memory: what was published, with Publish's own checks on subject and size. A clone
/// is another client of the same topics.
#[derive(Debug, Clone, Default)]
pub struct MemoryTopic {
    published: Arc<Mutex<Vec<Published>>>,
}

impl MemoryTopic {
    pub fn published(&self) -> Vec<Published> {
        self.published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Topic for MemoryTopic {
    async fn publish(&self, topic_arn: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        let invalid = |why: &str| AwsError {
            service: SERVICE,
            operation: "Publish",
            kind: crate::error::ErrorKind::InvalidRequest,
            code: Some("InvalidParameter".into()),
            status: Some(400),
            message: why.to_owned(),
        };
        if subject.chars().count() > MAX_SUBJECT_CHARS
            || subject.chars().any(|c| !(c.is_ascii_graphic() || c == ' '))
            || subject.starts_with(' ')
        {
            return Err(invalid("Invalid parameter: Subject"));
        }
        if message.is_empty() || message.len() > MAX_MESSAGE_BYTES {
            return Err(invalid("Invalid parameter: Message too long"));
        }
        self.published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Published {
                topic_arn: topic_arn.to_owned(),
                subject: subject.to_owned(),
                message: message.to_owned(),
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_what_sns_accepts() {
        assert_eq!(
            email_subject("keycard: 2 proposals ready"),
            "keycard: 2 proposals ready"
        );
        assert_eq!(email_subject("  rôle\nx"), "r?le?x");
        assert_eq!(email_subject(""), "keycard");
        let long = email_subject(&"a".repeat(300));
        assert_eq!(long.chars().count(), MAX_SUBJECT_CHARS);
        assert!(long.ends_with("..."));
    }

    #[tokio::test]
    async fn long_messages_are_cut_to_fit() {
        let topic = MemoryTopic::default();
        let big = "é".repeat(MAX_MESSAGE_BYTES);
        assert!(topic.publish("arn:t", "s", &big).await.is_err());
        let fitted = fit_message(&big);
        assert!(fitted.len() <= MAX_MESSAGE_BYTES);
        assert!(fitted.ends_with("the reports have the rest]\n"));
        topic.publish("arn:t", "s", &fitted).await.unwrap();
        assert!(topic.publish("arn:t", "bad\nsubject", "m").await.is_err());
        assert_eq!(topic.published().len(), 1);
    }
}
