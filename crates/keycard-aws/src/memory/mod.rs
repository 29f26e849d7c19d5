//! In-memory adapters: the capability traits with the behaviour the services document, and no
//! network, so every step handler is unit-tested without moto.
//!
//! They are stand-ins, not mocks: an object written is read back, a listing is paged the way
//! ListObjectsV2 pages, a stack is found by name or by stack id, a generation started twice with
//! one client token is one job. What they cannot know (which actions a role used) a test gives
//! them, shaped like the real responses.

mod analyzer;
mod roles;
mod stacks;
mod store;

use std::sync::Mutex;

use crate::error::{AwsError, ErrorKind};

pub use analyzer::MemoryAnalyzer;
pub use roles::MemoryRoles;
pub use stacks::{MemoryStack, MemoryStacks};
pub use store::{DEFAULT_ACCOUNT, LIST_PAGE_SIZE, MemoryStore};

pub use crate::s3::ListPage;

// The notification adapters' stand-ins live beside their SDK adapters.
pub use crate::events::{MemoryEventBus, PutEvent};
pub use crate::sns::{MemoryTopic, Published};

pub(super) fn error(
    service: &'static str,
    operation: &'static str,
    kind: ErrorKind,
    code: &str,
    message: String,
) -> AwsError {
    AwsError {
        service,
        operation,
        kind,
        code: Some(code.to_owned()),
        status: Some(match kind {
            ErrorKind::NotFound => 404,
            ErrorKind::AccessDenied => 403,
            ErrorKind::Conflict | ErrorKind::QuotaExceeded => 409,
            _ => 400,
        }),
        message,
    }
}

/// A lock that a panicked test thread poisoned is still the data: the stand-ins never hold a
/// lock across a panic point that could leave it half-written.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
