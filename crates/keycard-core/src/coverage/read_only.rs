//! CloudTrail's `readOnly` flag for an IAM action, as far as documented facts tell.
//!
//! A trail can record only read or only write management events (`ReadWriteType` `ReadOnly` /
//! `WriteOnly`, or advanced selectors on `readOnly`), and data events the same way. Whether a
//! granted action's calls would show under such a trail depends on the flag CloudTrail gives
//! them, which no dataset lists. The closest documented fact is the IAM catalog's access level:
//! CloudTrail defines read events as API operations that read resources without changing them
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-management-events-with-cloudtrail.html>),
//! and IAM's List and Read levels are the actions that read without editing.
//!
//! The catalog is wrong in documented places: AWS KMS cryptographic operations are `Write` in
//! IAM, but CloudTrail records them read-only. `data/cloudtrail-read-only.json` holds those
//! documented flags, and the services where the catalog's write level cannot be trusted; an
//! action whose flag is uncertain there (or that the catalog does not know) is never taken as
//! recorded by a trail that logs only one kind: keeping it is a review comment, removing it
//! wrongly is an outage.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::catalog::{AccessLevel, Catalog};

const READ_ONLY: &str = include_str!("../../../../data/cloudtrail-read-only.json");

/// What keycard knows of CloudTrail's `readOnly` flag on an action's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOnlyFlag {
    /// `readOnly: true`: recorded by trails that log read events.
    ReadOnly,
    /// `readOnly: false`: recorded by trails that log write events.
    Write,
    /// Not known (why, for the report): recorded for sure only by a trail that logs both.
    Uncertain(String),
}

impl ReadOnlyFlag {
    /// Whether a trail recording `read` and/or `write` events records this action's calls.
    pub fn recorded_by(&self, read: bool, write: bool) -> bool {
        match self {
            ReadOnlyFlag::ReadOnly => read,
            ReadOnlyFlag::Write => write,
            ReadOnlyFlag::Uncertain(_) => read && write,
        }
    }

    /// "read" / "write" / "read or write", for reasons.
    pub fn kind(&self) -> &'static str {
        match self {
            ReadOnlyFlag::ReadOnly => "read",
            ReadOnlyFlag::Write => "write",
            ReadOnlyFlag::Uncertain(_) => "read or write (uncertain)",
        }
    }
}

/// One documented flag (a row of `actions`).
#[derive(Debug, Clone, Deserialize)]
pub struct DocumentedFlag {
    pub action: String,
    pub read_only: bool,
    pub source: String,
    pub note: String,
}

/// A service whose catalog write levels do not predict the flag (a row of `services`).
#[derive(Debug, Clone, Deserialize)]
pub struct UncertainService {
    pub prefix: String,
    pub reason: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
struct ReadOnlyFile {
    actions: Vec<DocumentedFlag>,
    services: Vec<UncertainService>,
}

/// The embedded table, indexed by lower-cased action and prefix.
#[derive(Debug)]
pub struct ReadOnlyTable {
    actions: BTreeMap<String, DocumentedFlag>,
    services: BTreeMap<String, UncertainService>,
}

impl ReadOnlyTable {
    /// The embedded table. `Err` only if the embedded data is broken (a test prevents it);
    /// callers then take every flag as uncertain.
    pub fn embedded() -> Result<&'static ReadOnlyTable, &'static String> {
        static TABLE: OnceLock<Result<ReadOnlyTable, String>> = OnceLock::new();
        TABLE
            .get_or_init(|| ReadOnlyTable::parse(READ_ONLY))
            .as_ref()
    }

    pub fn parse(text: &str) -> Result<ReadOnlyTable, String> {
        let file: ReadOnlyFile = serde_json::from_str(text)
            .map_err(|e| format!("data/cloudtrail-read-only.json is not valid: {e}"))?;
        Ok(ReadOnlyTable {
            actions: file
                .actions
                .into_iter()
                .map(|r| (r.action.to_ascii_lowercase(), r))
                .collect(),
            services: file
                .services
                .into_iter()
                .map(|r| (r.prefix.to_ascii_lowercase(), r))
                .collect(),
        })
    }

    /// The flag of `action`: documented, else from the catalog's access level, else uncertain.
    pub fn flag(&self, catalog: &Catalog, action: &str) -> ReadOnlyFlag {
        if let Some(row) = self.actions.get(&action.to_ascii_lowercase()) {
            return if row.read_only {
                ReadOnlyFlag::ReadOnly
            } else {
                ReadOnlyFlag::Write
            };
        }
        let Some(level) = catalog.access_level(action) else {
            return ReadOnlyFlag::Uncertain(format!(
                "{action} is not in the IAM catalog, so its readOnly flag is not known"
            ));
        };
        if matches!(level, AccessLevel::List | AccessLevel::Read) {
            return ReadOnlyFlag::ReadOnly;
        }
        let prefix = action.split_once(':').map_or(action, |(p, _)| p);
        match self.services.get(&prefix.to_ascii_lowercase()) {
            Some(s) => ReadOnlyFlag::Uncertain(format!(
                "the IAM access level of {action} does not predict CloudTrail's readOnly flag: {} ({})",
                s.reason, s.source
            )),
            None => ReadOnlyFlag::Write,
        }
    }

    pub fn documented(&self) -> impl Iterator<Item = &DocumentedFlag> {
        self.actions.values()
    }

    pub fn services(&self) -> impl Iterator<Item = &UncertainService> {
        self.services.values()
    }
}

/// CloudTrail's `readOnly` flag on the records of `action` (see the module documentation).
pub fn read_only_flag(action: &str) -> ReadOnlyFlag {
    match ReadOnlyTable::embedded() {
        Ok(t) => t.flag(Catalog::embedded(), action),
        Err(e) => ReadOnlyFlag::Uncertain(e.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_rows_are_catalog_actions_with_documentation_sources() {
        let t = ReadOnlyTable::embedded().unwrap();
        let catalog = Catalog::embedded();
        assert!(t.documented().count() > 0 && t.services().count() > 0);
        for row in t.documented() {
            let level = catalog
                .access_level(&row.action)
                .unwrap_or_else(|| panic!("{} is not in the IAM catalog", row.action));
            // A row is only needed where the catalog's level says the opposite.
            let catalog_read = matches!(level, AccessLevel::List | AccessLevel::Read);
            assert_ne!(
                catalog_read, row.read_only,
                "{}: the catalog agrees",
                row.action
            );
            assert!(
                row.source.starts_with("https://docs.aws.amazon.com/"),
                "{}",
                row.action
            );
            assert!(!row.note.is_empty());
        }
        for s in t.services() {
            assert!(
                catalog.actions_of(&s.prefix).next().is_some(),
                "{}",
                s.prefix
            );
            assert!(
                s.source.starts_with("https://docs.aws.amazon.com/"),
                "{}",
                s.prefix
            );
        }
    }

    /// List and Read levels read; Write, Permissions management and Tagging write.
    #[test]
    fn the_catalog_level_decides_where_nothing_is_documented() {
        assert_eq!(
            read_only_flag("ec2:DescribeInstances"),
            ReadOnlyFlag::ReadOnly
        );
        assert_eq!(
            read_only_flag("s3:ListAllMyBuckets"),
            ReadOnlyFlag::ReadOnly
        );
        assert_eq!(
            read_only_flag("secretsmanager:GetSecretValue"),
            ReadOnlyFlag::ReadOnly
        );
        assert_eq!(read_only_flag("ec2:RunInstances"), ReadOnlyFlag::Write);
        assert_eq!(read_only_flag("iam:AttachRolePolicy"), ReadOnlyFlag::Write);
        assert_eq!(read_only_flag("sqs:TagQueue"), ReadOnlyFlag::Write);
    }

    /// KMS: GenerateDataKey is documented read-only although IAM calls it Write; the other
    /// Write-level KMS actions are uncertain; KMS reads stay reads.
    #[test]
    fn documented_flags_and_uncertain_services() {
        assert_eq!(
            read_only_flag("kms:GenerateDataKey"),
            ReadOnlyFlag::ReadOnly
        );
        assert_eq!(
            read_only_flag("KMS:generatedatakey"),
            ReadOnlyFlag::ReadOnly
        );
        assert!(matches!(
            read_only_flag("kms:Decrypt"),
            ReadOnlyFlag::Uncertain(_)
        ));
        assert!(matches!(
            read_only_flag("kms:CreateKey"),
            ReadOnlyFlag::Uncertain(_)
        ));
        assert_eq!(read_only_flag("kms:DescribeKey"), ReadOnlyFlag::ReadOnly);
        let ReadOnlyFlag::Uncertain(why) = read_only_flag("kms:Encrypt") else {
            panic!("kms:Encrypt should be uncertain");
        };
        assert!(why.contains("ct-generatedatakey"), "{why}");
    }

    #[test]
    fn an_action_the_catalog_does_not_know_is_uncertain() {
        let flag = read_only_flag("clinicaltrialstech:GetStudy");
        assert!(matches!(flag, ReadOnlyFlag::Uncertain(_)), "{flag:?}");
        assert!(!flag.recorded_by(false, true));
        assert!(!flag.recorded_by(true, false));
        assert!(flag.recorded_by(true, true));
    }

    #[test]
    fn a_broken_table_is_an_error() {
        assert!(ReadOnlyTable::parse("{}").is_err());
    }
}
