//! What [`find_grants`](super::find_grants) returns: grants, principals, statements and what
//! could not be read. `keycard check`, `keycard propose` and the reports all read these types,
//! so they live apart from the walk that fills them in.

use serde::Serialize;
use serde_json::Value as J;

use super::InvalidStatement;
use super::resource_policies::ResourcePolicy;
use crate::catalog::ActionSet;
use crate::template::node::Span;

/// Everything [`find_grants`](super::find_grants) found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Grants {
    pub grants: Vec<Grant>,
    /// Every principal (role, user, group) that receives grants or is defined in the template,
    /// in template order.
    pub principals: Vec<Principal>,
    /// Places whose permissions cannot be known from the template text alone.
    pub not_analysable: Vec<NotAnalysable>,
    /// Trust and resource policies (roles' trust, bucket, queue, topic, key, secret,
    /// repository policies, Lambda permissions): read by `keycard check`, never edited.
    pub resource_policies: Vec<ResourcePolicy>,
    /// Identity grants read but never rewritten (documents inside `Fn::Sub`): `keycard check`
    /// judges them, a proposal leaves them as they are (and lists them in `not_analysable`).
    pub read_only: Vec<Grant>,
    /// Statements IAM would reject (`Effect: allow`, no `Resource`, malformed `Fn::If`, …);
    /// each is also a `not_analysable` entry.
    pub invalid: Vec<InvalidStatement>,
}

impl Grants {
    /// Grants of one principal.
    pub fn of<'a>(&'a self, logical_id: &'a str) -> impl Iterator<Item = &'a Grant> + 'a {
        self.grants
            .iter()
            .filter(move |g| g.principal == logical_id)
    }

    pub fn principal(&self, logical_id: &str) -> Option<&Principal> {
        self.principals.iter().find(|p| p.logical_id == logical_id)
    }
}

/// How the physical name of a principal is known.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum PhysicalName {
    /// `RoleName: app-role`.
    Literal(String),
    /// `RoleName: !Sub ${AWS::StackName}-app` (long-form JSON, to be resolved with stack facts).
    Expression(J),
    /// No name given: CloudFormation generates `<stack>-<LogicalId>-<random>` (SAM's implicit
    /// roles are `<stack>-<Function>Role-<random>`).
    Generated,
}

/// A principal: an IAM role, user or group, declared or created implicitly by SAM.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Principal {
    /// Logical id of the principal (`AppRole`, or `ApiFunctionRole` for SAM's implicit role).
    pub logical_id: String,
    /// `AWS::IAM::Role`, `AWS::IAM::User` or `AWS::IAM::Group`.
    pub principal_type: String,
    /// Logical id of the resource that declares it (the function for an implicit role).
    pub declared_by: String,
    pub declared_by_type: String,
    /// Whether SAM creates this role (a function or state machine without `Role`).
    pub implicit: bool,
    /// `RoleName`/`UserName`/`GroupName` as written.
    pub name: PhysicalName,
    /// IAM `Path` as written (part of the role ARN), if any.
    pub iam_path: Option<J>,
    /// `PermissionsBoundary` as written, if any (noted, never changed).
    pub permissions_boundary: Option<J>,
    /// The resource's `Condition`, if it is only created under one.
    pub resource_condition: Option<String>,
    /// Managed policies SAM attaches to its implicit role without them appearing in the
    /// template: `AWSLambdaBasicExecutionRole` always, `AWSXrayWriteOnlyAccess` with
    /// `Tracing: Active`, `AWSLambdaVPCAccessExecutionRole` with `VpcConfig`.
    pub implicit_managed_policies: Vec<String>,
    /// For users: logical ids of the template's groups they belong to (their grants apply too).
    pub groups: Vec<String>,
    /// Pointer of the declaring resource.
    pub path: String,
    pub line: usize,
    pub column: usize,
}

/// What kind of construct a grant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// An entry of a role's/user's/group's `Policies` (`path` points at its `PolicyDocument`).
    InlinePolicy,
    /// `AWS::IAM::Policy`, `RolePolicy`, `UserPolicy`, `GroupPolicy` (`path` → `PolicyDocument`).
    PolicyResource,
    /// `AWS::IAM::ManagedPolicy` in the template (`path` → `PolicyDocument`).
    ManagedPolicyResource,
    /// A `ManagedPolicyArns` item that is not a managed policy of this template (`path` → item).
    ManagedPolicyArn,
    /// A SAM `Policies` item naming a managed policy (`path` → item).
    SamManagedPolicy,
    /// A SAM `Policies` item that is a policy template (`path` → item).
    SamPolicyTemplate,
    /// A SAM `Policies` item that is a policy document (`path` → item), or `Policies` being one.
    SamInlinePolicy,
    /// A SAM connector (`path` → the connector's `Permissions`).
    Connector,
}

/// Notable properties of a grant, for people and for `keycard check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantFlag {
    /// An Allow statement whose `Action` contains `*` or `?`.
    WildcardAction,
    /// An Allow statement with `NotAction` (grants everything else).
    NotAction,
    /// An Allow statement with `NotResource`.
    NotResource,
    /// `AdministratorAccess` attached.
    AdminManagedPolicy,
    /// `PowerUserAccess` attached.
    PowerUserManagedPolicy,
    /// `Resource: "*"` on an Allow statement granting a Write action.
    WildcardResourceWrite,
    /// `Resource: "*"` on an Allow statement granting a Permissions management action.
    WildcardResourcePermissionsManagement,
    /// Actions the catalog does not know (typos, retired or brand-new actions, or intrinsics).
    UnknownAction,
    /// The grant only exists under an `Fn::If` branch or a resource `Condition`.
    Conditional,
    /// A managed policy whose statements are not in the template (only its ARN is).
    ExternalPolicy,
    /// An AWS managed policy (`arn:…:iam::aws:policy/…` or a SAM name) that keycard's dataset
    /// of AWS managed policies does not have: deprecated, newer than the dataset, or misspelt.
    UnknownManagedPolicy,
}

/// A SAM policy template used in `Policies`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SamTemplateRef {
    pub name: String,
    /// The parameters as written (long-form JSON; `{}` for templates without parameters).
    pub parameters: J,
}

/// An `Fn::If` the grant sits under and the branch taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConditionBranch {
    pub condition: String,
    pub branch: bool,
}

/// One statement, as written and as the catalog understands it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementRecord {
    pub sid: Option<String>,
    /// `Allow` or `Deny` as written.
    pub effect: String,
    /// `Action` items as written (intrinsics as compact JSON).
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    /// `Resource` items as written (intrinsics as compact JSON).
    pub resources: Vec<String>,
    pub not_resources: Vec<String>,
    /// `Resource` exactly as written (long-form JSON), `None` when absent.
    pub resource: Option<J>,
    pub not_resource: Option<J>,
    pub condition: Option<J>,
    /// The whole statement as written (long-form JSON).
    pub raw: J,
    /// Canonical actions the statement applies to (wildcards expanded, NotAction complemented);
    /// shared with every statement naming the same patterns.
    pub effective: ActionSet,
    /// Action patterns that matched nothing in the catalog (or could not be read).
    pub unknown: Vec<String>,
    /// Conditions of `Fn::If` around this statement.
    pub conditions: Vec<ConditionBranch>,
    pub path: String,
    pub line: usize,
    pub column: usize,
    /// Whether `effective` holds a Write / a Permissions management action (for the flags).
    #[serde(skip)]
    pub(crate) levels: (bool, bool),
}

impl StatementRecord {
    pub fn is_allow(&self) -> bool {
        self.effect == "Allow"
    }
}

/// One grant. See the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grant {
    /// Logical id of the principal receiving the permissions.
    pub principal: String,
    pub principal_type: String,
    /// Logical id of the resource holding the grant.
    pub source: String,
    pub source_type: String,
    pub kind: GrantKind,
    /// JSON pointer of the node holding the grant; pass it to [`crate::template::Edit`] to
    /// change it.
    pub path: String,
    pub line: usize,
    pub column: usize,
    /// Byte span of that node.
    pub span: Span,
    /// `PolicyName` as written, for inline policies.
    pub policy_name: Option<String>,
    /// Managed policy ARNs as written.
    pub managed_policy_arns: Vec<String>,
    pub sam_policy_templates: Vec<SamTemplateRef>,
    pub statements: Vec<StatementRecord>,
    /// Union of the effective actions of the Allow statements (for AWS managed policies, of
    /// their published statements; empty for customer managed policies outside the template).
    pub effective_actions: ActionSet,
    pub unknown_actions: Vec<String>,
    pub flags: Vec<GrantFlag>,
    /// `Fn::If` branches and the resource `Condition` the grant depends on.
    pub conditions: Vec<ConditionBranch>,
    /// Whether the policy document is a JSON string inside the template (rewrite it with a
    /// string value).
    pub document_is_json_string: bool,
}

/// Something that could hold grants but cannot be analysed from the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotAnalysable {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}
