//! Rare-event safety inputs: keep-lists (template Metadata and a config file) and the usage
//! ledger.
//!
//! The ledger is nothing but the merge of every run's usage, trimmed to the retention period:
//! an action used once a year survives a quarterly run whose 90-day window missed it, with its
//! last-seen date as evidence.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{KeepEntry, KeepOrigin};
use crate::usage::{PrincipalUsage, Usage};

/// Errors reading a keep config file.
#[derive(Debug, thiserror::Error)]
pub enum KeepError {
    #[error(
        "keep file {name} is not valid JSON or YAML at line {line}, column {column}: {message}"
    )]
    Syntax {
        name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("keep file {name}: {message}")]
    Shape { name: String, message: String },
}

/// The keep config file: actions that must never be removed, per principal.
///
/// ```yaml
/// keep:
///   - principal: WorkerRole     # logical id, role name, role ARN, or "*" for every principal
///     actions: [s3:DeleteObject, kms:Decrypt]
///     reason: yearly archive purge (runs every January)
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepConfig {
    #[serde(default)]
    pub keep: Vec<KeepRule>,
}

/// One rule of the keep config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepRule {
    pub principal: String,
    pub actions: Vec<String>,
    #[serde(default)]
    pub reason: String,
}

impl KeepConfig {
    /// Parses the keep file from an already-parsed JSON value (the CLI parses YAML or JSON).
    pub fn from_value(name: &str, value: Value) -> Result<Self, KeepError> {
        serde_json::from_value(value).map_err(|e| KeepError::Shape {
            name: name.to_string(),
            message: e.to_string(),
        })
    }

    /// Parses a JSON keep file.
    pub fn from_json(name: &str, text: &str) -> Result<Self, KeepError> {
        let value: Value = serde_json::from_str(text).map_err(|e| KeepError::Syntax {
            name: name.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        Self::from_value(name, value)
    }

    /// The entries that apply to a principal, matched by logical id, role name or ARN.
    pub fn entries_for(&self, logical_id: &str, arn: Option<&str>) -> Vec<KeepEntry> {
        let role_name = arn.and_then(|a| a.rsplit('/').next());
        self.keep
            .iter()
            .filter(|r| {
                r.principal == "*"
                    || r.principal == logical_id
                    || Some(r.principal.as_str()) == arn
                    || Some(r.principal.as_str()) == role_name
            })
            .map(|r| KeepEntry {
                actions: r.actions.clone(),
                reason: if r.reason.is_empty() {
                    "keep file".into()
                } else {
                    r.reason.clone()
                },
                origin: KeepOrigin::Config,
            })
            .collect()
    }
}

/// Reads `Metadata: { keycard: { keep: [...], reason: "..." } }` of a resource.
pub fn keep_from_metadata(metadata: Option<&Value>) -> Option<KeepEntry> {
    let keycard = metadata?.get("keycard")?;
    let actions: Vec<String> = match keycard.get("keep")? {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => return None,
    };
    if actions.is_empty() {
        return None;
    }
    let reason = keycard
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("template Metadata keep-list")
        .to_string();
    Some(KeepEntry {
        actions,
        reason,
        origin: KeepOrigin::Template,
    })
}

/// The instant retention starts: `days` before `reference` (no reference: everything is within
/// retention). Checked, because an absurd retention or a hostile evidence time must be an
/// error, not an overflow panic.
pub(crate) fn retention_cutoff(
    reference: Option<DateTime<Utc>>,
    days: u32,
) -> Result<DateTime<Utc>, super::ProposalError> {
    let Some(reference) = reference else {
        return Ok(DateTime::<Utc>::MIN_UTC);
    };
    chrono::Duration::try_days(i64::from(days))
        .and_then(|d| reference.checked_sub_signed(d))
        .ok_or_else(|| {
            super::ProposalError::Option(format!(
                "a retention of {days} days before {} is before the earliest representable time",
                reference.format("%Y-%m-%d")
            ))
        })
}

/// The next ledger: the previous one merged with this run's usage, without anything last seen
/// before `cutoff`.
pub fn update_ledger(previous: Option<&Usage>, current: &Usage, cutoff: DateTime<Utc>) -> Usage {
    let mut ledger = previous.cloned().unwrap_or_default();
    ledger.merge(current);
    for pu in ledger.principals.values_mut() {
        // What a source could not observe is a fact about one run's evidence, not usage: kept in
        // the ledger it would pin a role's grants forever (an incomplete Access Analyzer answer
        // is `*:*`), so each run brings its own.
        pu.unobservable.clear();
        pu.actions.retain(|_, au| au.last_seen >= cutoff);
        pu.denied.retain(|_, au| au.last_seen >= cutoff);
        pu.windows.retain(|w| w.end >= cutoff);
        for w in &mut pu.windows {
            w.start = w.start.max(cutoff);
        }
    }
    ledger.principals.retain(|_, pu| !is_empty_principal(pu));
    ledger
}

fn is_empty_principal(pu: &PrincipalUsage) -> bool {
    pu.actions.is_empty() && pu.denied.is_empty() && pu.unobservable.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::ActionUsage;
    use chrono::{Duration, TimeZone};
    use serde_json::json;

    #[test]
    fn keep_file_matches_by_logical_id_name_arn_or_star() {
        let cfg = KeepConfig::from_json(
            "keep.json",
            r#"{"keep":[
                {"principal":"WorkerRole","actions":["s3:DeleteObject"],"reason":"purge"},
                {"principal":"orders-app-worker","actions":["kms:Decrypt"]},
                {"principal":"*","actions":["logs:PutLogEvents"],"reason":"logging"},
                {"principal":"Other","actions":["sqs:*"]}]}"#,
        )
        .unwrap_or_default();
        let e = cfg.entries_for(
            "WorkerRole",
            Some("arn:aws:iam::123456789012:role/orders-app-worker"),
        );
        assert_eq!(e.len(), 3);
        assert_eq!(e[1].reason, "keep file");
        assert!(e.iter().all(|k| k.origin == KeepOrigin::Config));
    }

    #[test]
    fn bad_keep_files_are_reported_with_position() {
        match KeepConfig::from_json("k.json", "{\n \"keep\": [\n") {
            Err(KeepError::Syntax { line, .. }) => assert_eq!(line, 3),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            KeepConfig::from_json("k.json", r#"{"keep":[{"actions":[]}]}"#),
            Err(KeepError::Shape { .. })
        ));
    }

    #[test]
    fn reads_metadata_keep_lists() {
        let m = json!({"keycard": {"keep": ["s3:DeleteObject"], "reason": "yearly purge"}});
        let e = keep_from_metadata(Some(&m));
        assert_eq!(
            e,
            Some(KeepEntry {
                actions: vec!["s3:DeleteObject".into()],
                reason: "yearly purge".into(),
                origin: KeepOrigin::Template
            })
        );
        assert_eq!(keep_from_metadata(Some(&json!({"other": 1}))), None);
        assert_eq!(keep_from_metadata(None), None);
    }

    #[test]
    fn ledger_is_a_trimmed_union() {
        let t0 = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let mut old = Usage::default();
        let pu = old.principals.entry("arn:r".into()).or_default();
        pu.actions
            .insert("s3:GetObject".into(), ActionUsage::seen_once(t0));
        pu.actions.insert(
            "s3:PutObject".into(),
            ActionUsage::seen_once(t0 - Duration::days(500)),
        );
        let mut cur = Usage::default();
        cur.principals
            .entry("arn:r".into())
            .or_default()
            .actions
            .insert(
                "s3:GetObject".into(),
                ActionUsage::seen_once(t0 + Duration::days(30)),
            );
        let ledger = update_ledger(Some(&old), &cur, t0 - Duration::days(400));
        let actions = &ledger.principals["arn:r"].actions;
        assert_eq!(actions.len(), 1);
        assert_eq!(actions["s3:GetObject"].count, 2);
        assert_eq!(actions["s3:GetObject"].last_seen, t0 + Duration::days(30));
    }

    #[test]
    fn ledger_does_not_carry_what_a_run_could_not_observe() {
        // Given a run whose evidence (an incomplete Access Analyzer answer) observed nothing at
        // action level, and one action used
        let t0 = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let mut cur = Usage::default();
        let pu = cur.principals.entry("arn:r".into()).or_default();
        pu.unobservable.insert("*:*".into());
        pu.actions
            .insert("s3:GetObject".into(), ActionUsage::seen_once(t0));
        let mut only_unobservable = Usage::default();
        only_unobservable
            .principals
            .entry("arn:quiet".into())
            .or_default()
            .unobservable
            .insert("s3".into());
        cur.merge(&only_unobservable);
        // When the ledger is updated
        let ledger = update_ledger(None, &cur, t0 - Duration::days(400));
        // Then usage is remembered but the blind spots are not, so later runs are not pinned
        assert!(ledger.principals["arn:r"].unobservable.is_empty());
        assert!(
            ledger.principals["arn:r"]
                .actions
                .contains_key("s3:GetObject")
        );
        assert!(!ledger.principals.contains_key("arn:quiet"));
    }

    #[test]
    fn retention_cutoff_is_checked_not_a_panic() {
        let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        assert_eq!(
            retention_cutoff(Some(t0), 400).unwrap(),
            t0 - Duration::days(400)
        );
        assert_eq!(
            retention_cutoff(None, 400).unwrap(),
            DateTime::<Utc>::MIN_UTC
        );
        // 100 million days overflows the calendar: an option error, not a panic.
        let err = retention_cutoff(Some(t0), 100_000_000).unwrap_err();
        assert!(err.to_string().contains("100000000 days"), "{err}");
        assert!(retention_cutoff(Some(DateTime::<Utc>::MIN_UTC), 1).is_err());
    }
}
