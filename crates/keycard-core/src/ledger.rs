//! The usage ledger as a file: a [`Usage`] with a header saying what it is and whose it is.
//!
//! ```json
//! {"format": "keycard-ledger", "version": 1, "stack": "orders-app", "account": "123456789012",
//!  "usage": {"principals": {...}}}
//! ```
//!
//! The ledger is read and then rewritten on every run, so reading must be strict: any other
//! JSON (a report, a template, a keep file) is refused rather than taken for an empty ledger and
//! overwritten; a ledger of another stack or account is refused (one forged or misplaced entry
//! would keep, or flip, a role's grants); entries dated before CloudTrail existed or in the
//! future, and actions that are not IAM actions, are refused with their location.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::Catalog;
use crate::usage::{ActionUsage, Usage};

/// The `format` marker of a ledger file.
pub const FORMAT: &str = "keycard-ledger";
/// The ledger schema this version writes and reads.
pub const VERSION: u32 = 1;

/// The earliest plausible evidence time (CloudTrail launched in November 2013).
pub fn earliest_evidence() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2013, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// How far past `now` an evidence time may be (clock skew between hosts).
pub const FUTURE_SLACK_DAYS: i64 = 1;

/// Whose ledger it is. `None` is a value: a ledger written without a stack name is not the
/// ledger of stack `orders-app`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerIdentity {
    pub stack: Option<String>,
    pub account: Option<String>,
}

impl std::fmt::Display for LedgerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        write!(
            f,
            "stack {} in account {}",
            or_none(&self.stack),
            or_none(&self.account)
        )
    }
}

/// A ledger file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    pub format: String,
    pub version: u32,
    pub stack: Option<String>,
    pub account: Option<String>,
    pub usage: Usage,
}

/// Why a ledger file was refused.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "{name} is not a keycard ledger (not JSON: {message}); refusing to read or overwrite it"
    )]
    Syntax { name: String, message: String },
    #[error(
        "{name} is not a keycard ledger ({found}; a ledger starts {{\"format\": \"keycard-ledger\", \"version\": 1, …}}); refusing to read or overwrite it"
    )]
    NotALedger { name: String, found: String },
    #[error(
        "{name} is a usage file without a ledger header (format, version, stack, account), as keycard wrote ledgers before ledger version 1; adopt it explicitly for {expected} to convert it"
    )]
    Headerless {
        name: String,
        expected: LedgerIdentity,
    },
    #[error(
        "{name}: ledger version {found} is not supported (this keycard reads version {VERSION})"
    )]
    Version { name: String, found: String },
    #[error("{name} is the ledger of {found}, not of {expected}; refusing to use it")]
    Foreign {
        name: String,
        found: LedgerIdentity,
        expected: LedgerIdentity,
    },
    #[error("{name}{}: {location}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        name: String,
        line: Option<usize>,
        location: String,
        reason: String,
    },
}

/// How strictly [`read`] checks whose ledger it is.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The stack and account of this run.
    pub expected: LedgerIdentity,
    /// Entries after `now` + [`FUTURE_SLACK_DAYS`] are refused.
    pub now: DateTime<Utc>,
    /// Use a ledger of another stack or account (it is rewritten as this run's).
    pub accept_foreign: bool,
    /// Read a headerless ledger (a bare serialized `Usage`, as keycard wrote before version 1).
    pub adopt_headerless: bool,
}

impl Ledger {
    /// A ledger of `usage` for this stack and account.
    pub fn new(identity: LedgerIdentity, usage: Usage) -> Ledger {
        Ledger {
            format: FORMAT.to_string(),
            version: VERSION,
            stack: identity.stack,
            account: identity.account,
            usage,
        }
    }

    pub fn identity(&self) -> LedgerIdentity {
        LedgerIdentity {
            stack: self.stack.clone(),
            account: self.account.clone(),
        }
    }

    /// The file's text: pretty JSON and a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// Reads a ledger file (see the module docs for what is refused).
pub fn read(name: &str, text: &str, opts: &ReadOptions) -> Result<Ledger, LedgerError> {
    let value: Value = serde_json::from_str(text).map_err(|e| LedgerError::Syntax {
        name: name.to_string(),
        message: e.to_string(),
    })?;
    let Value::Object(obj) = &value else {
        return Err(LedgerError::NotALedger {
            name: name.to_string(),
            found: format!("a JSON {}", kind(&value)),
        });
    };
    let ledger = match obj.get("format") {
        Some(Value::String(f)) if f == FORMAT => {
            match obj.get("version") {
                Some(Value::Number(n)) if n.as_u64() == Some(u64::from(VERSION)) => {}
                other => {
                    return Err(LedgerError::Version {
                        name: name.to_string(),
                        found: other.map_or_else(|| "(missing)".into(), Value::to_string),
                    });
                }
            }
            let ledger: Ledger =
                serde_json::from_value(value.clone()).map_err(|e| LedgerError::NotALedger {
                    name: name.to_string(),
                    found: format!("a malformed ledger: {e}"),
                })?;
            if ledger.identity() != opts.expected && !opts.accept_foreign {
                return Err(LedgerError::Foreign {
                    name: name.to_string(),
                    found: ledger.identity(),
                    expected: opts.expected.clone(),
                });
            }
            ledger
        }
        None if is_headerless_usage(obj) => {
            if !opts.adopt_headerless {
                return Err(LedgerError::Headerless {
                    name: name.to_string(),
                    expected: opts.expected.clone(),
                });
            }
            let usage: Usage =
                serde_json::from_value(value.clone()).map_err(|e| LedgerError::NotALedger {
                    name: name.to_string(),
                    found: format!("a malformed usage file: {e}"),
                })?;
            Ledger::new(opts.expected.clone(), usage)
        }
        _ => {
            return Err(LedgerError::NotALedger {
                name: name.to_string(),
                found: describe(obj),
            });
        }
    };
    check_usage(&ledger.usage, opts.now)
        .map_err(|p| p.into_error(name, text, "usage.principals"))?;
    Ok(ledger)
}

/// Reads a usage file given as evidence: a bare serialized [`Usage`] or a ledger (whoever's:
/// evidence named on the command line is the user's choice). Entries are checked as in a
/// ledger.
pub fn read_usage(name: &str, text: &str, now: DateTime<Utc>) -> Result<Usage, LedgerError> {
    let value: Value = serde_json::from_str(text).map_err(|e| LedgerError::Syntax {
        name: name.to_string(),
        message: e.to_string(),
    })?;
    let is_ledger = value.get("format").is_some();
    if is_ledger {
        let opts = ReadOptions {
            expected: LedgerIdentity::default(),
            now,
            accept_foreign: true,
            adopt_headerless: false,
        };
        return read(name, text, &opts).map(|l| l.usage);
    }
    match &value {
        Value::Object(obj) if is_headerless_usage(obj) => {}
        Value::Object(obj) => {
            return Err(LedgerError::NotALedger {
                name: name.to_string(),
                found: describe(obj),
            });
        }
        other => {
            return Err(LedgerError::NotALedger {
                name: name.to_string(),
                found: format!("a JSON {}", kind(other)),
            });
        }
    }
    let usage: Usage = serde_json::from_value(value).map_err(|e| LedgerError::NotALedger {
        name: name.to_string(),
        found: format!("a malformed usage file: {e}"),
    })?;
    check_usage(&usage, now).map_err(|p| p.into_error(name, text, "principals"))?;
    Ok(usage)
}

/// A problem in a usage's entries: the keys leading to it (principal, map, action, field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryProblem {
    pub keys: Vec<String>,
    pub reason: String,
}

impl EntryProblem {
    /// The error, located by its keys under `root` and by its line in `text`.
    pub fn into_error(self, name: &str, text: &str, root: &str) -> LedgerError {
        let line = line_of(text, &self.keys);
        let mut location = root.to_string();
        for (i, k) in self.keys.iter().enumerate() {
            // Principal ARNs and action names are map keys, window numbers indexes; the rest
            // are fields.
            if i == 0 || i == 2 {
                let key = if k.parse::<usize>().is_ok() {
                    k.clone()
                } else {
                    serde_json::to_string(k).unwrap_or_default()
                };
                location.push_str(&format!("[{key}]"));
            } else {
                location.push('.');
                location.push_str(k);
            }
        }
        LedgerError::Invalid {
            name: name.to_string(),
            line,
            location,
            reason: self.reason,
        }
    }
}

/// Checks every entry of a usage: IAM actions of the catalog (or `*`), times within
/// [2013, `now` + 1 day], first seen not after last seen, windows in order.
pub fn check_usage(usage: &Usage, now: DateTime<Utc>) -> Result<(), EntryProblem> {
    let catalog = Catalog::embedded();
    let earliest = earliest_evidence();
    let latest = now
        .checked_add_signed(Duration::days(FUTURE_SLACK_DAYS))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let time = |t: DateTime<Utc>| -> Result<(), String> {
        if t < earliest {
            Err(format!(
                "{} is before {} (no CloudTrail evidence is that old)",
                t.to_rfc3339(),
                earliest.format("%Y-%m-%d")
            ))
        } else if t > latest {
            Err(format!(
                "{} is in the future (after {})",
                t.to_rfc3339(),
                latest.to_rfc3339()
            ))
        } else {
            Ok(())
        }
    };
    let problem = |keys: &[&str], reason: String| EntryProblem {
        keys: keys.iter().map(|k| (*k).to_string()).collect(),
        reason,
    };
    for (arn, pu) in &usage.principals {
        for (map, actions) in [("actions", &pu.actions), ("denied", &pu.denied)] {
            for (action, au) in actions {
                if action != "*" && !catalog.contains(action) {
                    return Err(problem(
                        &[arn, map, action],
                        format!("{action} is not an IAM action in the catalog"),
                    ));
                }
                check_action_times(au, &time)
                    .map_err(|(field, reason)| problem(&[arn, map, action, field], reason))?;
            }
        }
        for (i, w) in pu.windows.iter().enumerate() {
            let index = i.to_string();
            for (field, t) in [("start", w.start), ("end", w.end)] {
                time(t).map_err(|r| problem(&[arn, "windows", &index, field], r))?;
            }
            if w.start > w.end {
                return Err(problem(
                    &[arn, "windows", &index],
                    "the window starts after it ends".into(),
                ));
            }
        }
    }
    Ok(())
}

fn check_action_times(
    au: &ActionUsage,
    time: &dyn Fn(DateTime<Utc>) -> Result<(), String>,
) -> Result<(), (&'static str, String)> {
    time(au.first_seen).map_err(|r| ("first_seen", r))?;
    time(au.last_seen).map_err(|r| ("last_seen", r))?;
    if au.first_seen > au.last_seen {
        return Err(("first_seen", "first seen after last seen".into()));
    }
    Ok(())
}

/// A bare serialized `Usage`: an object whose only key is `principals`, an object.
fn is_headerless_usage(obj: &serde_json::Map<String, Value>) -> bool {
    obj.len() == 1 && obj.get("principals").is_some_and(Value::is_object)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// What a JSON object that is not a ledger looks like, for the message.
fn describe(obj: &serde_json::Map<String, Value>) -> String {
    if obj.contains_key("Resources") {
        return "it looks like a CloudFormation template".into();
    }
    if obj.contains_key("keep") {
        return "it looks like a keep file".into();
    }
    if obj.contains_key("roles") && obj.contains_key("summary") {
        return "it looks like a keycard report".into();
    }
    if obj.is_empty() {
        return "an empty object".into();
    }
    let keys: Vec<&str> = obj.keys().take(5).map(String::as_str).collect();
    format!(
        "an object with {}{}",
        keys.join(", "),
        if obj.len() > 5 { ", …" } else { "" }
    )
}

/// The 1-based line of the entry at `keys`, found by looking for each key (as a JSON string
/// followed by a colon) after the previous one. Approximate for hand-edited files, exact for
/// the files keycard writes; `None` when a key is not found.
fn line_of(text: &str, keys: &[String]) -> Option<usize> {
    let mut at = 0;
    for k in keys {
        if k.parse::<usize>().is_ok() {
            continue; // an array index, not written in the text
        }
        let needle = serde_json::to_string(k).ok()?;
        let mut from = at;
        loop {
            let i = from + text.get(from..)?.find(&needle)?;
            let after = text.get(i + needle.len()..)?.trim_start();
            if after.starts_with(':') {
                at = i + needle.len();
                break;
            }
            from = i + needle.len();
        }
    }
    Some(text.get(..at)?.matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
    }

    fn me() -> LedgerIdentity {
        LedgerIdentity {
            stack: Some("orders-app".into()),
            account: Some("123456789012".into()),
        }
    }

    fn opts() -> ReadOptions {
        ReadOptions {
            expected: me(),
            now: now(),
            accept_foreign: false,
            adopt_headerless: false,
        }
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/worker";

    fn usage_json(action: &str, last: &str) -> String {
        format!(
            r#"{{"principals": {{"{ROLE}": {{"actions": {{"{action}": {{"first_seen": "2026-01-01T00:00:00Z", "last_seen": "{last}", "count": 2}}}}}}}}}}"#
        )
    }

    fn ledger_json(identity: &LedgerIdentity, usage: &str) -> String {
        format!(
            r#"{{"format": "keycard-ledger", "version": 1, "stack": {}, "account": {}, "usage": {usage}}}"#,
            serde_json::to_string(&identity.stack).unwrap(),
            serde_json::to_string(&identity.account).unwrap()
        )
    }

    #[test]
    fn round_trips_and_reads_its_own_output() {
        let usage: Usage =
            serde_json::from_str(&usage_json("s3:GetObject", "2026-05-01T00:00:00Z")).unwrap();
        let ledger = Ledger::new(me(), usage);
        let text = ledger.to_json();
        assert!(text.starts_with("{\n  \"format\": \"keycard-ledger\",\n  \"version\": 1,"));
        assert_eq!(read("l.json", &text, &opts()).unwrap(), ledger);
    }

    #[test]
    fn other_json_is_not_a_ledger() {
        for (text, expect) in [
            (r#"{"Resources": {}}"#, "CloudFormation template"),
            (r#"{"keep": []}"#, "keep file"),
            (r#"{"roles": {}, "summary": {}}"#, "keycard report"),
            ("{}", "empty object"),
            ("[1]", "JSON array"),
            (r#"{"format": "other"}"#, "an object with format"),
            ("Resources: {}", "not JSON"),
        ] {
            let err = read("x.json", text, &opts()).unwrap_err().to_string();
            assert!(err.contains(expect), "{text}: {err}");
            assert!(err.contains("refusing"), "{err}");
        }
        let err = read(
            "x.json",
            r#"{"format": "keycard-ledger", "version": 2}"#,
            &opts(),
        )
        .unwrap_err();
        assert!(matches!(err, LedgerError::Version { .. }), "{err}");
        let mut extra: Value =
            serde_json::from_str(&Ledger::new(me(), Usage::default()).to_json()).unwrap();
        extra["surprise"] = Value::Bool(true);
        assert!(matches!(
            read("x.json", &extra.to_string(), &opts()),
            Err(LedgerError::NotALedger { .. })
        ));
    }

    #[test]
    fn another_stacks_ledger_is_refused_unless_accepted() {
        let other = LedgerIdentity {
            stack: Some("billing".into()),
            account: Some("123456789012".into()),
        };
        let text = ledger_json(&other, r#"{"principals": {}}"#);
        let err = read("l.json", &text, &opts()).unwrap_err().to_string();
        assert!(
            err.contains("stack billing") && err.contains("stack orders-app"),
            "{err}"
        );
        let mut forced = opts();
        forced.accept_foreign = true;
        assert_eq!(read("l.json", &text, &forced).unwrap().identity(), other);
    }

    #[test]
    fn headerless_usage_is_adopted_only_when_asked() {
        let text = usage_json("s3:GetObject", "2026-05-01T00:00:00Z");
        assert!(matches!(
            read("l.json", &text, &opts()),
            Err(LedgerError::Headerless { .. })
        ));
        let mut adopt = opts();
        adopt.adopt_headerless = true;
        let l = read("l.json", &text, &adopt).unwrap();
        assert_eq!(l.identity(), me());
        assert!(
            l.usage.principals[ROLE]
                .actions
                .contains_key("s3:GetObject")
        );
    }

    #[test]
    fn implausible_entries_are_refused_with_their_location() {
        for (action, last, expect) in [
            ("s3:GetObject", "2099-01-01T00:00:00Z", "in the future"),
            ("s3:GetObject", "2026-06-03T00:00:00Z", "in the future"),
            ("s3:GetObject", "2012-12-31T00:00:00Z", "before 2013-01-01"),
            ("s3:Teleport", "2026-05-01T00:00:00Z", "not an IAM action"),
        ] {
            let text = ledger_json(&me(), &usage_json(action, last));
            let err = read("l.json", &text, &opts()).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(expect), "{msg}");
            assert!(msg.starts_with("l.json:1: usage.principals[\""), "{msg}");
            assert!(msg.contains(&format!("[\"{action}\"]")), "{msg}");
        }
        // `*` is accepted (an Access Analyzer answer may name it), and a day of clock skew.
        let text = ledger_json(&me(), &usage_json("*", "2026-06-01T12:00:00Z"));
        read("l.json", &text, &opts()).unwrap();
    }

    #[test]
    fn lines_point_at_the_entry_in_pretty_json() {
        let usage: Usage =
            serde_json::from_str(&usage_json("s3:GetObject", "2099-05-01T00:00:00Z")).unwrap();
        let text = Ledger::new(me(), usage).to_json();
        let err = read("l.json", &text, &opts()).unwrap_err();
        let LedgerError::Invalid { line, location, .. } = err else {
            panic!("{err}");
        };
        let expected = text
            .lines()
            .position(|l| l.contains("\"last_seen\""))
            .unwrap()
            + 1;
        assert_eq!(line, Some(expected));
        assert_eq!(
            location,
            format!("usage.principals[\"{ROLE}\"].actions[\"s3:GetObject\"].last_seen")
        );
    }

    #[test]
    fn usage_files_are_checked_too() {
        let ok = usage_json("s3:GetObject", "2026-05-01T00:00:00Z");
        assert!(read_usage("u.json", &ok, now()).is_ok());
        let ledger = ledger_json(
            &LedgerIdentity {
                stack: Some("elsewhere".into()),
                account: None,
            },
            &ok,
        );
        assert!(read_usage("u.json", &ledger, now()).is_ok());
        let bad = usage_json("s3:GetObject", "9999-12-31T00:00:00Z");
        let err = read_usage("u.json", &bad, now()).unwrap_err().to_string();
        assert!(
            err.contains("principals[") && err.contains("future"),
            "{err}"
        );
        assert!(read_usage("u.json", r#"{"Resources": {}}"#, now()).is_err());
    }
}
