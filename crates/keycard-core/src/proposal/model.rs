//! The proposal's own view of what a principal is granted.
//!
//! The template engine reports grants in the shape of the template (paths, spans, SAM
//! constructs); the decision logic only needs statements with their effective action sets and
//! where they came from. Keeping this small model separate lets the decision logic and the
//! never-broader invariant be tested (and property-tested) without a template at all.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::ActionSet;
pub use crate::policy::Effect;

/// One statement of a grant, as the decision logic sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantStatement {
    pub effect: Effect,
    /// `Action` patterns as written (empty when the statement uses `NotAction`).
    #[serde(default)]
    pub actions: Vec<String>,
    /// `NotAction` patterns as written.
    #[serde(default)]
    pub not_actions: Vec<String>,
    /// Canonical actions this statement applies to (wildcards expanded, `NotAction`
    /// complemented over the catalog).
    #[serde(default)]
    pub effective: ActionSet,
    /// `Resource` exactly as written (intrinsics kept in long form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_resource: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
    /// The statement exactly as written, so statements keycard does not change (Deny) are
    /// written back byte-for-byte equivalent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
    /// Whether the statement exists only in some deployments: under an `Fn::If` branch (of its
    /// policy, its list item, or itself) or in a resource with a `Condition`. An action kept
    /// from it alone would be missing in the other deployments.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub conditional: bool,
    /// The statement's path when it sits under an `Fn::If` inside its document's `Statement`
    /// (`…/Statement/1/Fn::If/2`): what is derived from it is written back under that branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

impl GrantStatement {
    /// An Allow statement over `actions` (already canonical) on `Resource: "*"`.
    pub fn allow_all_resources(actions: impl IntoIterator<Item = String>) -> Self {
        let effective: ActionSet = actions.into_iter().collect();
        GrantStatement {
            effect: Effect::Allow,
            actions: effective.iter().cloned().collect(),
            not_actions: Vec::new(),
            effective,
            resource: Some(Value::String("*".into())),
            not_resource: None,
            condition: None,
            raw: None,
            conditional: false,
            branch: None,
        }
    }

    pub fn is_allow(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// Resource elements as written, one per list item (an intrinsic counts as one).
    pub fn resource_items(&self) -> Vec<&Value> {
        match &self.resource {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v) => vec![v],
            None => Vec::new(),
        }
    }
}

/// How a grant reaches a principal; decides how the proposal can change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceKind {
    /// A policy document in the template that can be rewritten in place (role `Policies`,
    /// `AWS::IAM::Policy`, a SAM inline statement document, or an `AWS::IAM::ManagedPolicy`
    /// when `managed`). The flag matters for IAM's size quotas, which differ.
    Document { managed: bool },
    /// An AWS managed policy attached by ARN (AdministratorAccess, PowerUserAccess, …): it
    /// cannot be edited, only detached and replaced by explicit statements.
    AwsManaged { name: String },
    /// A SAM policy template (`DynamoDBCrudPolicy`, …): replaced by explicit statements.
    SamPolicyTemplate { name: String },
    /// A SAM connector's `Permissions` (`Read`, `Write`): narrowed by dropping the categories
    /// none of whose statements is needed. `categories` are those written, in order;
    /// `statement_categories` gives the category of each statement of the source.
    Connector {
        categories: Vec<String>,
        statement_categories: Vec<String>,
        /// Why the connector's policy may not be replaced by explicit statements on the role,
        /// when it may not ([`super::connector_swap`]): it also writes a resource policy, its
        /// policy goes on the destination's role, other resources depend on it, …
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kept_because: Option<String>,
    },
    /// A SAM connector whose identity policy on the role is replaced by explicit statements
    /// ([`super::connector_swap`]): the connector goes, what is kept of it is written into the
    /// principal's own policy.
    ReplacedConnector,
    /// Anything keycard cannot rewrite (a customer managed policy outside the template, an
    /// `Action` chosen with an intrinsic): left exactly as it is, with the reason in
    /// [`GrantSource::fixed_reason`].
    Fixed,
}

/// One place a principal's permissions come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantSource {
    /// Stable id of the source within the template (used to group edits).
    pub id: String,
    /// What a reviewer should read, e.g. `ApiFunction Policies[1]` or `AdministratorAccess`.
    pub label: String,
    pub kind: SourceKind,
    pub statements: Vec<GrantStatement>,
    /// Logical ids of every principal this source is attached to (shared policies).
    #[serde(default)]
    pub attached_to: Vec<String>,
    /// Why a `Fixed` source is left as it is, in words (the report's `not_narrowed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_reason: Option<String>,
}

impl GrantSource {
    /// Whether keycard may change this source at all.
    pub fn is_replaceable(&self) -> bool {
        matches!(
            self.kind,
            SourceKind::AwsManaged { .. }
                | SourceKind::SamPolicyTemplate { .. }
                | SourceKind::ReplacedConnector
        )
    }

    pub fn is_document(&self) -> bool {
        matches!(self.kind, SourceKind::Document { .. })
    }

    /// Whether the source is rewritten in place (a document, or a connector's `Permissions`).
    pub fn is_rewritten_in_place(&self) -> bool {
        matches!(
            self.kind,
            SourceKind::Document { .. } | SourceKind::Connector { .. }
        )
    }

    /// Leaves the source as it is, saying why.
    pub fn freeze(&mut self, reason: impl Into<String>) {
        self.kind = SourceKind::Fixed;
        self.fixed_reason = Some(reason.into());
    }
}

/// An entry of a keep-list: actions that must survive even without evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepEntry {
    /// Action names or patterns (`s3:DeleteObject`, `s3:Delete*`).
    pub actions: Vec<String>,
    pub reason: String,
    pub origin: KeepOrigin,
}

/// Where a keep-list entry was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepOrigin {
    /// `Metadata: { keycard: { keep: [...] } }` in the template.
    Template,
    /// The keep config file.
    Config,
}

/// Everything a principal is granted, in the proposal's model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrincipalGrants {
    pub logical_id: String,
    /// CloudFormation type of the principal resource (`AWS::IAM::Role`,
    /// `AWS::Serverless::Function`, …).
    pub resource_type: String,
    pub sources: Vec<GrantSource>,
    /// Keep entries from the template (the principal's or an attached policy's Metadata).
    #[serde(default)]
    pub keep: Vec<KeepEntry>,
    /// Whether the principal has a PermissionsBoundary (never changed, only reported).
    #[serde(default)]
    pub permissions_boundary: bool,
}

impl PrincipalGrants {
    /// Every Allow statement, with the index of its source.
    pub fn allow_statements(&self) -> impl Iterator<Item = (usize, &GrantStatement)> {
        self.sources.iter().enumerate().flat_map(|(i, s)| {
            s.statements
                .iter()
                .filter(|st| st.is_allow())
                .map(move |st| (i, st))
        })
    }

    /// Union of the effective actions of every Allow statement. The sets are united first
    /// (shared bitsets, no copies), so a thousand `*` statements make one set of names, not a
    /// thousand collected and then deduplicated.
    pub fn granted(&self) -> BTreeSet<String> {
        let mut all = ActionSet::new();
        for (_, st) in self.allow_statements() {
            all.union_with(&st.effective);
        }
        all.iter().cloned().collect()
    }
}
