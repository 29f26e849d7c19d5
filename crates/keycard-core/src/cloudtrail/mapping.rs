//! CloudTrail event → IAM action(s).
//!
//! Most events map mechanically: the eventSource host's first label is the IAM prefix and the
//! eventName is the action. The exceptions — an endpoint named differently from its prefix
//! (`monitoring` → `cloudwatch`), API names that differ from the action that authorizes them
//! (`ListObjectsV2` → `s3:ListBucket`), events that need several actions (`CopyObject`), events
//! that need none (`sts:GetCallerIdentity`) — are data, in `data/cloudtrail-exceptions.json`,
//! embedded at compile time. Every row is exercised by a case in
//! `tests/fixtures/cloudtrail/mapping-cases.json`, and a test fails when a row has no case.
//!
//! This module only proposes action names; whether they exist is the catalog's call (see
//! `cloudtrail::scan`), so a wrong guess surfaces as "unmapped" instead of an invented action.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::record::RequestParameters;

const EXCEPTIONS: &str = include_str!("../../../../data/cloudtrail-exceptions.json");

/// Where an action's resource ARNs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceRule {
    /// The service's own extraction from requestParameters and `resources[]`.
    Default,
    /// No certain resource (`*`).
    None,
    /// The object named by S3's `x-amz-copy-source`.
    CopySource,
    /// A requestParameters field holding an ARN.
    ArnParam(String),
    /// A requestParameters field holding a KMS key id or ARN.
    KmsKeyParam(String),
}

/// One action an event needs, and where its resources come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// `prefix:Action` as proposed (casing from the table or the eventName).
    pub action: String,
    pub resource: ResourceRule,
    /// Fixed resources decided by a rule (DynamoDB transaction items).
    pub fixed: Option<String>,
}

/// The outcome of mapping one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// The actions the event needs (one or more).
    Actions(Vec<Planned>),
    /// The API needs no permission at all (`sts:GetCallerIdentity`).
    NoPermission,
    /// No action can be derived; the reason says why.
    Unmapped(String),
}

/// What the mapper needs from an event.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'r, 'a> {
    pub source: &'r str,
    pub name: &'r str,
    pub params: Option<&'r RequestParameters<'a>>,
}

#[derive(Debug, Deserialize)]
struct Table {
    prefixes: Vec<PrefixRow>,
    events: Vec<EventRow>,
}

/// `eventSource` whose IAM prefix is not its first host label.
#[derive(Debug, Clone, Deserialize)]
pub struct PrefixRow {
    pub source: String,
    pub prefix: String,
    pub why: String,
}

/// One exceptions row.
#[derive(Debug, Clone, Deserialize)]
pub struct EventRow {
    pub source: String,
    /// eventName after suffix stripping, or `*` for every event of the source.
    pub event: String,
    /// requestParameters field that must be present (non-empty) for the row to apply.
    #[serde(default, rename = "if")]
    pub if_param: Option<String>,
    pub actions: Vec<ActionRow>,
    #[serde(default)]
    pub rule: Option<String>,
    pub why: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ActionRow {
    pub action: String,
    #[serde(default)]
    pub resource: Option<String>,
    /// Drop this action when its `arn_param`/`kms_key` parameter is absent.
    #[serde(default)]
    pub optional: bool,
}

/// The parsed exceptions table with its lookup indexes.
#[derive(Debug)]
pub struct Exceptions {
    pub prefixes: Vec<PrefixRow>,
    pub events: Vec<EventRow>,
    prefix_index: HashMap<String, usize>,
    /// source → event → row indexes in table order.
    event_index: HashMap<String, HashMap<String, Vec<usize>>>,
}

/// Errors in the exceptions table (only reachable through [`Exceptions::parse`] in tests; the
/// embedded table is checked by a test).
#[derive(Debug, thiserror::Error)]
pub enum ExceptionsError {
    #[error("exceptions table is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("exceptions row {row}: {message}")]
    Row { row: usize, message: String },
}

impl Exceptions {
    /// The embedded table; an unreadable table (prevented by a test) degrades to an empty one,
    /// which maps mechanically and lets the catalog reject what does not exist.
    pub fn embedded() -> &'static Exceptions {
        static TABLE: OnceLock<Exceptions> = OnceLock::new();
        TABLE.get_or_init(|| Exceptions::parse(EXCEPTIONS).unwrap_or_else(|_| Exceptions::empty()))
    }

    fn empty() -> Exceptions {
        Exceptions {
            prefixes: Vec::new(),
            events: Vec::new(),
            prefix_index: HashMap::new(),
            event_index: HashMap::new(),
        }
    }

    pub fn parse(text: &str) -> Result<Exceptions, ExceptionsError> {
        let table: Table = serde_json::from_str(text)?;
        let mut out = Exceptions::empty();
        for (i, p) in table.prefixes.iter().enumerate() {
            out.prefix_index.insert(p.source.clone(), i);
        }
        for (i, row) in table.events.iter().enumerate() {
            let bad = |message: String| ExceptionsError::Row { row: i, message };
            if let Some(rule) = &row.rule
                && !matches!(
                    rule.as_str(),
                    "partiql" | "apigateway-http" | "dynamodb-transact-write"
                )
            {
                return Err(bad(format!("unknown rule {rule}")));
            }
            for a in &row.actions {
                parse_resource(a.resource.as_deref()).map_err(bad)?;
                if !a.action.contains(':') {
                    return Err(bad(format!("action {} has no prefix", a.action)));
                }
            }
            out.event_index
                .entry(row.source.clone())
                .or_default()
                .entry(row.event.clone())
                .or_default()
                .push(i);
        }
        out.prefixes = table.prefixes;
        out.events = table.events;
        Ok(out)
    }

    /// The IAM prefix of an eventSource (`monitoring.amazonaws.com` → `cloudwatch`).
    pub fn prefix<'s>(&'s self, source: &'s str) -> &'s str {
        if let Some(&i) = self.prefix_index.get(source) {
            return &self.prefixes[i].prefix;
        }
        source.split('.').next().unwrap_or(source)
    }

    /// Maps one event, also returning the exceptions row that decided it (for coverage tests).
    pub fn map_with_row(&self, ev: EventRef<'_, '_>) -> (Mapping, Option<usize>) {
        if ev.source.is_empty() || ev.name.is_empty() {
            return (
                Mapping::Unmapped("record has no eventSource or eventName".to_string()),
                None,
            );
        }
        let name = strip_version_suffix(ev.name);
        let rows = self.event_index.get(ev.source).and_then(|by_event| {
            by_event
                .get(name)
                .or_else(|| by_event.get(ev.name))
                .or_else(|| by_event.get("*"))
        });
        if let Some(rows) = rows {
            for &i in rows {
                let row = &self.events[i];
                if let Some(p) = &row.if_param {
                    let present = ev
                        .params
                        .and_then(|params| params.by_name(p))
                        .and_then(|s| s.non_empty())
                        .is_some();
                    if !present {
                        continue;
                    }
                }
                return (apply_row(row, name, ev), Some(i));
            }
        }
        let prefix = self.prefix(ev.source);
        if !is_action_word(name) {
            return (
                Mapping::Unmapped(format!("eventName {:?} is not an action name", ev.name)),
                None,
            );
        }
        (
            Mapping::Actions(vec![Planned {
                action: format!("{prefix}:{name}"),
                resource: ResourceRule::Default,
                fixed: None,
            }]),
            None,
        )
    }

    /// Whether some row of the table names this event (its source with the event's name, the
    /// name without version suffix, or `*`). When none does, the event maps to
    /// `prefix:eventName` whatever its parameters, so a scan resolves it once.
    pub fn names_event(&self, source: &str, name: &str) -> bool {
        self.event_index.get(source).is_some_and(|by_event| {
            by_event.contains_key(strip_version_suffix(name))
                || by_event.contains_key(name)
                || by_event.contains_key("*")
        })
    }

    pub fn map(&self, ev: EventRef<'_, '_>) -> Mapping {
        self.map_with_row(ev).0
    }
}

fn parse_resource(spec: Option<&str>) -> Result<ResourceRule, String> {
    Ok(match spec {
        None | Some("default") => ResourceRule::Default,
        Some("none") => ResourceRule::None,
        Some("copy_source") => ResourceRule::CopySource,
        Some(s) => {
            if let Some(p) = s.strip_prefix("arn_param:") {
                check_param(p)?;
                ResourceRule::ArnParam(p.to_string())
            } else if let Some(p) = s.strip_prefix("kms_key:") {
                check_param(p)?;
                ResourceRule::KmsKeyParam(p.to_string())
            } else {
                return Err(format!("unknown resource rule {s}"));
            }
        }
    })
}

fn check_param(name: &str) -> Result<(), String> {
    RequestParameters::default()
        .by_name(name)
        .map(|_| ())
        .ok_or_else(|| format!("requestParameters field {name} is not read by the record parser"))
}

fn apply_row(row: &EventRow, name: &str, ev: EventRef<'_, '_>) -> Mapping {
    match row.rule.as_deref() {
        Some("partiql") => return partiql(ev),
        Some("apigateway-http") => return apigateway_http(name),
        Some("dynamodb-transact-write") => return transact_write(ev),
        _ => {}
    }
    if row.actions.is_empty() {
        return Mapping::NoPermission;
    }
    let mut out = Vec::with_capacity(row.actions.len());
    for a in &row.actions {
        // Parsing cannot fail here: `Exceptions::parse` rejected bad rules already.
        let resource = parse_resource(a.resource.as_deref()).unwrap_or(ResourceRule::None);
        if a.optional {
            let param = match &resource {
                ResourceRule::ArnParam(p) | ResourceRule::KmsKeyParam(p) => Some(p.as_str()),
                _ => None,
            };
            let present = param
                .and_then(|p| ev.params.and_then(|params| params.by_name(p)))
                .and_then(|s| s.non_empty())
                .is_some();
            if !present {
                continue;
            }
        }
        out.push(Planned {
            action: a.action.clone(),
            resource,
            fixed: None,
        });
    }
    Mapping::Actions(out)
}

/// DynamoDB PartiQL: the statement's verb decides the action. CloudTrail may redact the
/// statement; then the event is unmapped rather than guessed.
fn partiql(ev: EventRef<'_, '_>) -> Mapping {
    let statement = ev
        .params
        .and_then(|p| p.statement.non_empty())
        .unwrap_or_default();
    let verb = statement
        .trim_start()
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let action = match verb.as_str() {
        "SELECT" => "dynamodb:PartiQLSelect",
        "INSERT" => "dynamodb:PartiQLInsert",
        "UPDATE" => "dynamodb:PartiQLUpdate",
        "DELETE" => "dynamodb:PartiQLDelete",
        _ => {
            return Mapping::Unmapped(
                "PartiQL statement not readable in the record (needs PartiQLSelect/Insert/Update/Delete by verb)"
                    .to_string(),
            );
        }
    };
    Mapping::Actions(vec![Planned {
        action: action.to_string(),
        resource: ResourceRule::None,
        fixed: None,
    }])
}

/// API Gateway's management API is authorized by HTTP verb; the verb follows from the API
/// name's leading word in every REST API operation.
fn apigateway_http(name: &str) -> Mapping {
    const VERBS: &[(&str, &str)] = &[
        ("Get", "GET"),
        ("Create", "POST"),
        ("Generate", "POST"),
        ("Test", "POST"),
        ("Import", "PUT"),
        ("Put", "PUT"),
        ("Tag", "PUT"),
        ("Update", "PATCH"),
        ("Delete", "DELETE"),
        ("Flush", "DELETE"),
        ("Untag", "DELETE"),
    ];
    for (word, verb) in VERBS {
        if let Some(rest) = name.strip_prefix(word)
            && rest.starts_with(|c: char| c.is_ascii_uppercase())
        {
            return Mapping::Actions(vec![Planned {
                action: format!("apigateway:{verb}"),
                resource: ResourceRule::None,
                fixed: None,
            }]);
        }
    }
    Mapping::Unmapped(format!(
        "API Gateway operation {name} has no known HTTP verb"
    ))
}

fn transact_write(ev: EventRef<'_, '_>) -> Mapping {
    let Some(params) = ev.params else {
        return Mapping::Unmapped("TransactWriteItems without transactItems".to_string());
    };
    let mut out: Vec<Planned> = Vec::new();
    for item in params.transact_items.0.iter().filter_map(|i| i.get()) {
        for (part, action) in [
            (&item.put, "dynamodb:PutItem"),
            (&item.update, "dynamodb:UpdateItem"),
            (&item.delete, "dynamodb:DeleteItem"),
            (&item.condition_check, "dynamodb:ConditionCheckItem"),
        ] {
            if let Some(t) = part.get() {
                let planned = Planned {
                    action: action.to_string(),
                    resource: ResourceRule::Default,
                    fixed: t.table_name.non_empty().map(str::to_string),
                };
                if !out.contains(&planned) {
                    out.push(planned);
                }
            }
        }
    }
    if out.is_empty() {
        return Mapping::Unmapped(
            "TransactWriteItems items not in the record (needs PutItem/UpdateItem/DeleteItem/ConditionCheckItem)"
                .to_string(),
        );
    }
    Mapping::Actions(out)
}

/// Strips API version suffixes some services append to eventName: Lambda's
/// `UpdateFunctionConfiguration20150331v2`, `Invoke20150331`, CloudFront's
/// `CreateDistribution2020_05_31`. Names like `ListObjectsV2` are left alone (no 8-digit date).
pub fn strip_version_suffix(name: &str) -> &str {
    let b = name.as_bytes();
    let mut end = b.len();
    // optional `v<digits>`
    let mut i = end;
    while i > 0 && b[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i < end && i > 0 && b[i - 1] == b'v' {
        end = i - 1;
    }
    // a date: YYYYMMDD or YYYY_MM_DD starting with 19 or 20
    let date_len = |s: &[u8]| -> Option<usize> {
        let n = s.len();
        if n >= 8 && s[n - 8..].iter().all(u8::is_ascii_digit) {
            return Some(8);
        }
        if n >= 10 {
            let t = &s[n - 10..];
            let shape = t.iter().enumerate().all(|(k, c)| {
                if k == 4 || k == 7 {
                    *c == b'_'
                } else {
                    c.is_ascii_digit()
                }
            });
            if shape {
                return Some(10);
            }
        }
        None
    };
    match date_len(&b[..end]) {
        Some(len) => {
            let start = end - len;
            let year_ok = b[start..].starts_with(b"19") || b[start..].starts_with(b"20");
            // The remaining name must end in a letter: `Foo20150331`, not `Foo120150331`.
            if year_ok && start > 0 && b[start - 1].is_ascii_alphabetic() {
                &name[..start]
            } else {
                name
            }
        }
        None => name,
    }
}

/// IAM action names are ASCII letters and digits.
fn is_action_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_parses_and_every_action_exists_in_the_catalog() {
        let t = Exceptions::parse(EXCEPTIONS).unwrap();
        assert!(t.events.len() > 50);
        let catalog = crate::catalog::Catalog::embedded();
        for row in &t.events {
            for a in &row.actions {
                assert!(
                    catalog.contains(&a.action),
                    "{} {} → {} is not an IAM action",
                    row.source,
                    row.event,
                    a.action
                );
            }
        }
        for p in &t.prefixes {
            assert!(
                catalog.service(&p.prefix).is_some(),
                "no IAM prefix {}",
                p.prefix
            );
        }
    }

    #[test]
    fn bad_tables_are_rejected() {
        let row = |extra: &str| {
            format!(
                r#"{{"prefixes":[],"events":[{{"source":"s3.amazonaws.com","event":"X","actions":[{extra}],"why":"w"}}]}}"#
            )
        };
        assert!(Exceptions::parse(&row(r#"{"action":"s3:GetObject"}"#)).is_ok());
        assert!(Exceptions::parse(&row(r#"{"action":"GetObject"}"#)).is_err());
        assert!(
            Exceptions::parse(&row(r#"{"action":"s3:A","resource":"arn_param:nope"}"#)).is_err()
        );
        assert!(Exceptions::parse(&row(r#"{"action":"s3:A","resource":"sideways"}"#)).is_err());
        assert!(Exceptions::parse("[]").is_err());
    }

    #[test]
    fn version_suffixes() {
        for (raw, want) in [
            (
                "UpdateFunctionConfiguration20150331v2",
                "UpdateFunctionConfiguration",
            ),
            ("Invoke20150331", "Invoke"),
            ("ListTags20170331", "ListTags"),
            ("GetFunction20150331v2", "GetFunction"),
            ("CreateDistribution2020_05_31", "CreateDistribution"),
            ("ListObjectsV2", "ListObjectsV2"),
            ("GetObject", "GetObject"),
            ("DescribeInstances", "DescribeInstances"),
            ("Ec2v2", "Ec2v2"),
            ("X12345678", "X12345678"),
            ("20150331", "20150331"),
            ("", ""),
        ] {
            assert_eq!(strip_version_suffix(raw), want, "{raw}");
        }
    }

    #[test]
    fn mechanical_mapping_and_prefixes() {
        let t = Exceptions::embedded();
        let ev = |source, name| EventRef {
            source,
            name,
            params: None,
        };
        assert_eq!(
            t.map(ev("dynamodb.amazonaws.com", "GetItem")),
            Mapping::Actions(vec![Planned {
                action: "dynamodb:GetItem".into(),
                resource: ResourceRule::Default,
                fixed: None
            }])
        );
        assert!(matches!(
            t.map(ev("s3.amazonaws.com", "")),
            Mapping::Unmapped(_)
        ));
        assert!(matches!(
            t.map(ev("s3.amazonaws.com", "Get Object")),
            Mapping::Unmapped(_)
        ));
        assert_eq!(t.prefix("monitoring.amazonaws.com"), "cloudwatch");
        assert_eq!(t.prefix("sqs.amazonaws.com"), "sqs");
    }
}
