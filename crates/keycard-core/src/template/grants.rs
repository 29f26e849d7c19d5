//! Finding every IAM grant in a template.
//!
//! A grant is one place a principal's permissions come from: an inline policy document, a
//! managed policy ARN, an `AWS::IAM::Policy`/`ManagedPolicy` attached by `!Ref` or by name, a SAM
//! `Policies` entry (managed policy, policy template or inline statements), a SAM connector.
//! Each grant carries a JSON pointer into the template (the handle the rewrite API takes back),
//! the statements as written, the effective actions through the IAM catalog, and flags.
//!
//! Nothing is silently skipped: constructs whose content is only known at deploy time
//! (`Fn::ForEach`, `Fn::Transform`, macros, parameters in action lists) are listed in
//! [`Grants::not_analysable`] with their position. `Fn::If` is followed into both branches and
//! the grant records the conditions it sits under.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value as J;

use super::node::{Node, Span, Style, Value, push_pointer};
use super::{Template, TemplateError};
use crate::catalog::{AccessLevel, ActionSet, Catalog};
use crate::managed_policies::{Lookup, ManagedPolicies};
use crate::sam_connector_profiles::{ProfileKind, SamConnectorProfiles, profile_replace};
use crate::sam_policy_templates::SamPolicyTemplates;

mod resource_policies;
mod sam_attachments;
mod sub_json;
mod validity;

pub use resource_policies::{PolicySite, ResourcePolicy, ResourcePolicyKind};
pub use validity::InvalidStatement;

/// Everything [`find_grants`] found.
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
pub enum Flag {
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
    /// JSON pointer of the node holding the grant; pass it to [`super::Edit`] to change it.
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
    pub flags: Vec<Flag>,
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

// ---------------------------------------------------------------------------------------------

const ROLE: &str = "AWS::IAM::Role";
const USER: &str = "AWS::IAM::User";
const GROUP: &str = "AWS::IAM::Group";
const SAM_FUNCTION: &str = "AWS::Serverless::Function";
const SAM_STATE_MACHINE: &str = "AWS::Serverless::StateMachine";

/// Function and state machine properties SAM does not accept in `Globals`. Source:
/// aws-sam-translator 1.115.0, `samtranslator/plugins/globals/globals.py`,
/// `Globals.supported_properties` ("Everything on Serverless::Function except Role, Policies,
/// FunctionName, Events"; a state machine supports only `PropagateTags` there), and the SAM
/// developer guide, "Globals section of the AWS SAM template", supported properties.
const SAM_GLOBALS_REFUSED: [&str; 2] = ["Role", "Policies"];

/// Finds every grant in the template. Never fails: what cannot be read is reported in
/// [`Grants::not_analysable`].
pub fn find_grants(t: &Template) -> Grants {
    let mut f = Finder {
        t,
        out: Grants::default(),
        catalog: Catalog::embedded(),
        expansions: std::collections::HashMap::new(),
        statements: 0,
    };
    f.run();
    f.resource_policies();
    validity::check(&mut f.out);
    f.out
}

struct Finder<'a> {
    t: &'a Template,
    out: Grants,
    catalog: &'static Catalog,
    /// Catalog expansions by (Action, NotAction) patterns: templates repeat the same lists
    /// (`s3:*`, a SAM template's actions) hundreds of times.
    expansions: std::collections::HashMap<(Vec<String>, Vec<String>), std::rc::Rc<Expanded>>,
    /// Statements read so far, against [`STATEMENT_BUDGET`].
    statements: usize,
}

/// Most statements read from one template, `Fn::If` branches and YAML aliases expanded. A
/// 1 MB template (CloudFormation's ceiling) holds at most about 20,000 one-line statements;
/// past this budget the text was built to be multiplied (nested aliased `Fn::If`s), and the
/// template is refused as too large to analyse rather than analysed in part.
pub const STATEMENT_BUDGET: usize = 50_000;

/// The `not_analysable` reason [`find_grants`] gives when [`STATEMENT_BUDGET`] is exceeded.
fn over_budget_reason() -> String {
    format!(
        "more than {STATEMENT_BUDGET} statements once Fn::If branches and aliases are expanded; the template is too large to analyse"
    )
}

/// [`find_grants`], refusing a template over [`STATEMENT_BUDGET`] with
/// [`TemplateError::TooLargeToAnalyse`] instead of returning a partial result.
pub fn try_find_grants(t: &Template) -> Result<Grants, TemplateError> {
    let grants = find_grants(t);
    let reason = over_budget_reason();
    if grants.not_analysable.iter().any(|n| n.reason == reason) {
        return Err(TemplateError::TooLargeToAnalyse {
            file: t.name().to_owned(),
            limit: STATEMENT_BUDGET,
        });
    }
    Ok(grants)
}

/// A memoised catalog expansion with the access levels the flags need.
#[derive(Default)]
struct Expanded {
    actions: ActionSet,
    unknown: Vec<String>,
    write: bool,
    permissions_management: bool,
}

/// A node reached through zero or more `Fn::If`s.
struct Branch<'a> {
    node: &'a Node,
    path: String,
    conditions: Vec<ConditionBranch>,
}

/// Where a grant is attached (principal id and type).
#[derive(Clone)]
struct Target {
    id: String,
    kind: String,
}

struct Context<'a> {
    source: &'a str,
    source_type: &'a str,
    conditions: Vec<ConditionBranch>,
}

impl<'a> Finder<'a> {
    fn run(&mut self) {
        let t = self.t;
        self.check_transforms();
        self.check_sam_globals();
        let resources: Vec<(&str, &Node)> = t.resources().collect();
        let res_path = "/Resources";

        // Principals first, so that attachments by name and `!Ref` can be resolved.
        for (id, res) in &resources {
            let path = push_pointer(res_path, id);
            if id.starts_with("Fn::ForEach::") {
                self.not_analysable(
                    res,
                    &path,
                    "Fn::ForEach (AWS::LanguageExtensions) generates resources at deploy time; grants inside are not analysed",
                );
                continue;
            }
            let ty = resource_type(res);
            match ty {
                ROLE | USER | GROUP => {
                    let name_key = match ty {
                        ROLE => "RoleName",
                        USER => "UserName",
                        _ => "GroupName",
                    };
                    let props = res.get("Properties");
                    self.out.principals.push(Principal {
                        logical_id: id.to_string(),
                        principal_type: ty.to_string(),
                        declared_by: id.to_string(),
                        declared_by_type: ty.to_string(),
                        implicit: false,
                        name: physical_name(props.and_then(|p| p.get(name_key))),
                        iam_path: props.and_then(|p| p.get("Path")).map(Node::to_json),
                        permissions_boundary: props
                            .and_then(|p| p.get("PermissionsBoundary"))
                            .map(Node::to_json),
                        resource_condition: res
                            .get("Condition")
                            .and_then(Node::as_str)
                            .map(str::to_string),
                        implicit_managed_policies: Vec::new(),
                        groups: Vec::new(),
                        path: path.clone(),
                        line: res.pos.line,
                        column: res.pos.column,
                    });
                }
                SAM_FUNCTION | SAM_STATE_MACHINE => {
                    let props = self.sam_properties(ty, res, &path);
                    if props.role.is_none() {
                        self.out.principals.push(Principal {
                            logical_id: format!("{id}Role"),
                            principal_type: ROLE.to_string(),
                            declared_by: id.to_string(),
                            declared_by_type: ty.to_string(),
                            implicit: true,
                            name: PhysicalName::Generated,
                            iam_path: None,
                            permissions_boundary: props
                                .permissions_boundary
                                .as_ref()
                                .map(|b| b.node.to_json()),
                            resource_condition: res
                                .get("Condition")
                                .and_then(Node::as_str)
                                .map(str::to_string),
                            implicit_managed_policies: props.implicit_managed_policies.clone(),
                            groups: Vec::new(),
                            path: path.clone(),
                            line: res.pos.line,
                            column: res.pos.column,
                        });
                    }
                }
                _ => {}
            }
        }

        // Users' group memberships (`Groups` on the user, `Users` on AWS::IAM::UserToGroupAddition).
        for i in 0..self.out.principals.len() {
            if self.out.principals[i].principal_type != USER {
                continue;
            }
            let id = self.out.principals[i].declared_by.clone();
            let Some(list) = t
                .root()
                .pointer(&push_pointer(&push_pointer(res_path, &id), "Properties"))
                .and_then(|p| p.get("Groups"))
                .and_then(Node::as_seq)
            else {
                continue;
            };
            let groups: Vec<String> = list
                .iter()
                .filter_map(|g| self.principal_by_ref_or_name(g, GROUP))
                .collect();
            self.out.principals[i].groups = groups;
        }

        for (id, res) in resources {
            if !id.starts_with("Fn::ForEach::") {
                self.resource_grants(id, res);
            }
        }
    }

    /// Every grant held by one resource.
    fn resource_grants(&mut self, id: &str, res: &Node) {
        let res_path = "/Resources";
        let path = push_pointer(res_path, id);
        let ty = resource_type(res);
        let mut conditions = Vec::new();
        if let Some(c) = res.get("Condition").and_then(Node::as_str) {
            conditions.push(ConditionBranch {
                condition: c.to_string(),
                branch: true,
            });
        }
        let ctx = Context {
            source: id,
            source_type: ty,
            conditions,
        };
        let props = res.get("Properties");
        let props_path = push_pointer(&path, "Properties");
        match ty {
            ROLE | USER | GROUP => {
                let target = Target {
                    id: id.to_string(),
                    kind: ty.to_string(),
                };
                if let Some(p) = props {
                    self.inline_policies(&target, &ctx, p, &props_path);
                    self.managed_arns(&target, &ctx, p, &props_path);
                }
            }
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
                if let Some(p) = props {
                    let targets = self.attachments(p, &props_path);
                    self.policy_resource(id, ty, &ctx, p, &props_path, &targets);
                }
            }
            "AWS::IAM::RolePolicy" | "AWS::IAM::UserPolicy" | "AWS::IAM::GroupPolicy" => {
                if let Some(p) = props {
                    let (key, kind) = match ty {
                        "AWS::IAM::RolePolicy" => ("RoleName", ROLE),
                        "AWS::IAM::UserPolicy" => ("UserName", USER),
                        _ => ("GroupName", GROUP),
                    };
                    let targets = p
                        .get(key)
                        .map(|n| self.resolve_principals(n, kind, &push_pointer(&props_path, key)))
                        .unwrap_or_default();
                    self.policy_resource(id, ty, &ctx, p, &props_path, &targets);
                }
            }
            SAM_FUNCTION | SAM_STATE_MACHINE => {
                self.sam_resource(id, ty, res, &path, &ctx);
            }
            "AWS::Serverless::Connector" => {
                if let Some(p) = props {
                    let source = p.get("Source");
                    self.connector(&ctx, source, p, &props_path);
                }
            }
            _ => {}
        }
        // Embedded connectors on any resource.
        if let Some(conns) = res.get("Connectors").and_then(Node::as_map) {
            for e in conns {
                let cpath = push_pointer(&push_pointer(&path, "Connectors"), &e.key.text);
                if let Some(p) = e.value.get("Properties") {
                    let source = SourceRef::Id(id.to_string());
                    self.connector_with(&ctx, source, p, &push_pointer(&cpath, "Properties"));
                }
            }
        }
    }

    fn expand(&mut self, actions: Vec<String>, not_actions: Vec<String>) -> std::rc::Rc<Expanded> {
        let key = (actions, not_actions);
        if let Some(e) = self.expansions.get(&key) {
            return e.clone();
        }
        let expansion = self.catalog.effective(&key.0, &key.1);
        let level = |a: &String| self.catalog.access_level(a);
        let write = expansion
            .actions
            .iter()
            .any(|a| level(a) == Some(AccessLevel::Write));
        let permissions_management = expansion
            .actions
            .iter()
            .any(|a| level(a) == Some(AccessLevel::PermissionsManagement));
        let e = std::rc::Rc::new(Expanded {
            actions: ActionSet::from(expansion.actions),
            unknown: expansion.unknown,
            write,
            permissions_management,
        });
        self.expansions.insert(key, e.clone());
        e
    }

    fn not_analysable(&mut self, node: &Node, path: &str, reason: &str) {
        self.out.not_analysable.push(NotAnalysable {
            path: path.to_string(),
            line: node.pos.line,
            column: node.pos.column,
            reason: reason.to_string(),
        });
    }

    /// Macros and `Fn::Transform` change the template at deploy time.
    fn check_transforms(&mut self) {
        let t = self.t;
        if let Some(tr) = t.root().get("Transform") {
            let names: Vec<&Node> = match tr.as_seq() {
                Some(items) => items.iter().collect(),
                None => vec![tr],
            };
            for (i, n) in names.iter().enumerate() {
                let known = n.as_str().is_some_and(|s| {
                    s.starts_with("AWS::Serverless") || s == "AWS::LanguageExtensions"
                });
                if !known {
                    let path = if tr.as_seq().is_some() {
                        format!("/Transform/{i}")
                    } else {
                        "/Transform".to_string()
                    };
                    self.not_analysable(
                        n,
                        &path,
                        &format!(
                            "transform {} rewrites the template at deploy time; its effect on grants is not analysed",
                            n.as_written()
                        ),
                    );
                }
            }
        }
        let mut found = Vec::new();
        if let Some(res) = t.root().get("Resources")
            && has_key(res, "Fn::Transform", 0)
        {
            find_key(res, "Fn::Transform", "/Resources", 0, &mut found);
        }
        for (node, path) in found {
            self.not_analysable(
                node,
                &path,
                "Fn::Transform (a macro such as AWS::Include) inserts content at deploy time; grants it produces are not analysed",
            );
        }
    }

    // --- IAM resources ------------------------------------------------------------------------

    fn inline_policies(
        &mut self,
        target: &Target,
        ctx: &Context<'_>,
        props: &Node,
        props_path: &str,
    ) {
        let Some(policies) = props.get("Policies") else {
            return;
        };
        let path = push_pointer(props_path, "Policies");
        for list in branches(policies, &path, &ctx.conditions) {
            let Some(items) = list.node.as_seq() else {
                self.not_list(list.node, &list.path, "Policies");
                continue;
            };
            for (i, item) in items.iter().enumerate() {
                let ipath = push_pointer(&list.path, &i.to_string());
                for p in branches(item, &ipath, &list.conditions) {
                    let name = p.node.get("PolicyName").map(Node::as_written);
                    let Some(doc) = p.node.get("PolicyDocument") else {
                        self.not_analysable(p.node, &p.path, "policy without PolicyDocument");
                        continue;
                    };
                    let dpath = push_pointer(&p.path, "PolicyDocument");
                    self.document_grant(
                        target,
                        ctx,
                        GrantKind::InlinePolicy,
                        doc,
                        &dpath,
                        &p.conditions,
                        name,
                    );
                }
            }
        }
    }

    fn managed_arns(&mut self, target: &Target, ctx: &Context<'_>, props: &Node, props_path: &str) {
        let Some(arns) = props.get("ManagedPolicyArns") else {
            return;
        };
        let path = push_pointer(props_path, "ManagedPolicyArns");
        for list in branches(arns, &path, &ctx.conditions) {
            let Some(items) = list.node.as_seq() else {
                self.not_list(list.node, &list.path, "ManagedPolicyArns");
                continue;
            };
            for (i, item) in items.iter().enumerate() {
                let ipath = push_pointer(&list.path, &i.to_string());
                for a in branches(item, &ipath, &list.conditions) {
                    self.arn_grant(
                        target,
                        ctx,
                        a.node,
                        &a.path,
                        &a.conditions,
                        GrantKind::ManagedPolicyArn,
                    );
                }
            }
        }
    }

    /// One managed policy reference: a managed policy of this template (`!Ref P`) brings its
    /// document; anything else is an external ARN.
    fn arn_grant(
        &mut self,
        target: &Target,
        ctx: &Context<'_>,
        node: &Node,
        path: &str,
        conditions: &[ConditionBranch],
        kind: GrantKind,
    ) {
        if let Some(("Ref", arg)) = node.intrinsic()
            && let Some(rid) = arg.as_str()
            && let Some(res) = self.t.root().pointer(&push_pointer("/Resources", rid))
            && resource_type(res) == "AWS::IAM::ManagedPolicy"
        {
            // Reported from the managed policy's side (see `attachments`), once per principal.
            let _ = res;
            return;
        }
        let arn = node.as_written();
        let lookup = ManagedPolicies::embedded().lookup_arn(&arn_text(node));
        let (statements, flags) = self.aws_managed(lookup, node, path);
        let mut g = self.grant(target, ctx, kind, node, path, conditions);
        g.managed_policy_arns.push(arn);
        g.statements = statements;
        g.flags = flags;
        self.finish(g);
    }

    /// Statements and flags of an AWS managed policy reference, from the embedded dataset
    /// ([`crate::managed_policies`]). A reference to an AWS managed policy the dataset does not
    /// have (deprecated, newer than the dataset, misspelt) is flagged and listed as not
    /// analysable with the reason; its statements are never guessed.
    fn aws_managed(
        &mut self,
        lookup: Lookup<'_>,
        node: &Node,
        path: &str,
    ) -> (Vec<StatementRecord>, Vec<Flag>) {
        let mut statements = Vec::new();
        let mut flags = Vec::new();
        match lookup {
            Lookup::Found(policy) => {
                for (i, raw) in policy.statements().iter().enumerate() {
                    let fake = json_node(raw, node);
                    if let Some(rec) = self.statement(&fake, &format!("{path}#{i}"), &[]) {
                        statements.push(rec);
                    }
                }
                match policy.name() {
                    "AdministratorAccess" => flags.push(Flag::AdminManagedPolicy),
                    "PowerUserAccess" => flags.push(Flag::PowerUserManagedPolicy),
                    _ => {}
                }
            }
            Lookup::Unknown { name, hint } => {
                flags.push(Flag::ExternalPolicy);
                flags.push(Flag::UnknownManagedPolicy);
                let data = ManagedPolicies::embedded();
                self.not_analysable(
                    node,
                    path,
                    &format!(
                        "AWS managed policy {name} is not in {} {} (deprecated, newer than the dataset, or misspelt); what it grants is unknown{}",
                        data.source(),
                        data.version(),
                        hint.map(|h| format!(": {h}")).unwrap_or_default()
                    ),
                );
            }
            Lookup::NotAwsManaged => flags.push(Flag::ExternalPolicy),
        }
        (statements, flags)
    }

    /// Principals an `AWS::IAM::Policy`/`ManagedPolicy` is attached to through its own
    /// `Roles`/`Users`/`Groups`, plus roles/users/groups listing it in `ManagedPolicyArns`.
    fn attachments(
        &mut self,
        props: &Node,
        props_path: &str,
    ) -> Vec<(Target, Vec<ConditionBranch>)> {
        let mut out = Vec::new();
        for (key, kind) in [("Roles", ROLE), ("Users", USER), ("Groups", GROUP)] {
            if let Some(list) = props.get(key) {
                out.extend(self.resolve_principals(list, kind, &push_pointer(props_path, key)));
            }
        }
        out
    }

    /// Resolves `!Ref Role`, a role name (matched against `RoleName`), or a list of those.
    fn resolve_principals(
        &mut self,
        node: &Node,
        kind: &str,
        path: &str,
    ) -> Vec<(Target, Vec<ConditionBranch>)> {
        let mut out = Vec::new();
        for b in branches(node, path, &[]) {
            let items: Vec<(&Node, String)> = match b.node.as_seq() {
                Some(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n, push_pointer(&b.path, &i.to_string())))
                    .collect(),
                None => vec![(b.node, b.path.clone())],
            };
            for (item, ipath) in items {
                for ib in branches(item, &ipath, &b.conditions) {
                    match self.principal_by_ref_or_name(ib.node, kind) {
                        Some(id) => out.push((
                            Target {
                                id,
                                kind: kind.to_string(),
                            },
                            ib.conditions,
                        )),
                        None => {
                            let what = ib.node.as_written();
                            self.not_analysable(
                                ib.node,
                                &ib.path,
                                &format!(
                                    "attached to {what}, which is not a principal of this template"
                                ),
                            );
                        }
                    }
                }
            }
        }
        out
    }

    fn principal_by_ref_or_name(&self, node: &Node, kind: &str) -> Option<String> {
        if let Some(("Ref", arg)) = node.intrinsic() {
            let id = arg.as_str()?;
            return self
                .out
                .principals
                .iter()
                .find(|p| p.logical_id == id && p.principal_type == kind)
                .map(|p| p.logical_id.clone());
        }
        let name = node.as_str()?;
        self.out
            .principals
            .iter()
            .find(|p| p.principal_type == kind && p.name == PhysicalName::Literal(name.to_string()))
            .map(|p| p.logical_id.clone())
    }

    fn policy_resource(
        &mut self,
        id: &str,
        ty: &str,
        ctx: &Context<'_>,
        props: &Node,
        props_path: &str,
        targets: &[(Target, Vec<ConditionBranch>)],
    ) {
        let managed = ty == "AWS::IAM::ManagedPolicy";
        let kind = if managed {
            GrantKind::ManagedPolicyResource
        } else {
            GrantKind::PolicyResource
        };
        let mut targets: Vec<(Target, Vec<ConditionBranch>)> = targets.to_vec();
        if managed {
            // Principals listing this policy in ManagedPolicyArns (`!Ref Policy`).
            for (pid, pres) in self.t.resources() {
                let pty = resource_type(pres);
                if !matches!(pty, ROLE | USER | GROUP) {
                    continue;
                }
                let Some(arns) = pres
                    .get("Properties")
                    .and_then(|p| p.get("ManagedPolicyArns"))
                else {
                    continue;
                };
                for b in branches(arns, "", &[]) {
                    for item in b.node.as_seq().unwrap_or(&[]) {
                        for ib in branches(item, "", &b.conditions) {
                            if matches!(ib.node.intrinsic(), Some(("Ref", a)) if a.as_str() == Some(id))
                                && !targets.iter().any(|(t, _)| t.id == pid)
                            {
                                targets.push((
                                    Target {
                                        id: pid.to_string(),
                                        kind: pty.to_string(),
                                    },
                                    ib.conditions,
                                ));
                            }
                        }
                    }
                }
            }
        }
        if managed {
            for (target, conds) in self.sam_attachments(id) {
                if !targets.iter().any(|(t, _)| t.id == target.id) {
                    targets.push((target, conds));
                }
            }
        }
        let name = props
            .get(if managed {
                "ManagedPolicyName"
            } else {
                "PolicyName"
            })
            .map(Node::as_written);
        let Some(doc) = props.get("PolicyDocument") else {
            self.not_analysable(props, props_path, &format!("{id} has no PolicyDocument"));
            return;
        };
        let dpath = push_pointer(props_path, "PolicyDocument");
        if targets.is_empty() && !self.is_permissions_boundary(id) {
            self.not_analysable(
                doc,
                &dpath,
                &format!("{id} is not attached to any principal of this template"),
            );
        }
        for (target, conds) in targets {
            self.document_grant(&target, ctx, kind, doc, &dpath, &conds, name.clone());
        }
    }

    // --- Documents and statements ---------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn document_grant(
        &mut self,
        target: &Target,
        ctx: &Context<'_>,
        kind: GrantKind,
        doc: &Node,
        path: &str,
        conditions: &[ConditionBranch],
        policy_name: Option<String>,
    ) {
        let mut base = ctx.conditions.clone();
        for c in conditions {
            if !base.contains(c) {
                base.push(c.clone());
            }
        }
        for d in branches(doc, path, &[]) {
            let mut conds = base.clone();
            conds.extend(d.conditions.iter().cloned());
            if self.sub_document_grant(
                target,
                ctx,
                kind,
                d.node,
                &d.path,
                &conds,
                policy_name.clone(),
            ) {
                continue;
            }
            let (doc_node, is_string) = match &d.node.value {
                Value::String(s) => match serde_json::from_str::<J>(s) {
                    Ok(v) => (std::borrow::Cow::Owned(json_node(&v, d.node)), true),
                    Err(e) => {
                        self.not_analysable(
                            d.node,
                            &d.path,
                            &format!("policy document string is not valid JSON ({e})"),
                        );
                        continue;
                    }
                },
                _ => (std::borrow::Cow::Borrowed(d.node), false),
            };
            let statements = self.document_statements(&doc_node, &d.path, is_string);
            let mut g = self.grant(target, ctx, kind, d.node, &d.path, &conds);
            g.policy_name = policy_name.clone();
            g.statements = statements;
            g.document_is_json_string = is_string;
            self.finish(g);
        }
    }

    fn document_statements(
        &mut self,
        doc: &Node,
        path: &str,
        in_string: bool,
    ) -> Vec<StatementRecord> {
        let mut out = Vec::new();
        let Some(st) = doc.get("Statement") else {
            self.not_analysable(doc, path, "policy document without Statement");
            return out;
        };
        let spath = if in_string {
            path.to_string()
        } else {
            push_pointer(path, "Statement")
        };
        for b in branches(st, &spath, &[]) {
            let items: Vec<(&Node, String)> = match b.node.as_seq() {
                Some(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let p = if in_string {
                            b.path.clone()
                        } else {
                            push_pointer(&b.path, &i.to_string())
                        };
                        (n, p)
                    })
                    .collect(),
                None => vec![(b.node, b.path.clone())],
            };
            for (item, ipath) in items {
                for s in branches(item, &ipath, &b.conditions) {
                    if let Some(rec) = self.statement(s.node, &s.path, &s.conditions) {
                        out.push(rec);
                    }
                }
            }
        }
        out
    }

    fn statement(
        &mut self,
        node: &Node,
        path: &str,
        conditions: &[ConditionBranch],
    ) -> Option<StatementRecord> {
        self.statements += 1;
        if self.statements > STATEMENT_BUDGET {
            if self.statements == STATEMENT_BUDGET + 1 {
                self.not_analysable(node, path, &over_budget_reason());
            }
            return None;
        }
        if node.as_map().is_none() {
            self.not_analysable(
                node,
                path,
                &format!("statement is not a mapping: {}", node.as_written()),
            );
            return None;
        }
        let effect = node.get("Effect").map(Node::as_written).unwrap_or_default();
        let (actions, action_patterns, opaque) = items_as_written(node.get("Action"));
        let (not_actions, not_action_patterns, not_opaque) =
            items_as_written(node.get("NotAction"));
        let (resources, _, _) = items_as_written(node.get("Resource"));
        let (not_resources, _, _) = items_as_written(node.get("NotResource"));
        let mut unknown: Vec<String> = Vec::new();
        for a in opaque.iter().chain(not_opaque.iter()) {
            if !unknown.contains(a) {
                unknown.push(a.clone());
            }
            self.not_analysable(
                node,
                path,
                &format!("action {a} is only known at deploy time; its actions are not counted"),
            );
        }
        let expansion = if node.get("Action").is_none() && node.get("NotAction").is_none() {
            std::rc::Rc::new(Expanded::default())
        } else {
            self.expand(action_patterns, not_action_patterns)
        };
        for u in &expansion.unknown {
            if !unknown.contains(u) {
                unknown.push(u.clone());
            }
        }
        Some(StatementRecord {
            sid: node.get("Sid").map(Node::as_written),
            effect,
            actions,
            not_actions,
            resources,
            not_resources,
            resource: node.get("Resource").map(Node::to_json),
            not_resource: node.get("NotResource").map(Node::to_json),
            condition: node.get("Condition").map(Node::to_json),
            raw: node.to_json(),
            effective: expansion.actions.clone(),
            unknown,
            levels: (expansion.write, expansion.permissions_management),
            conditions: conditions.to_vec(),
            path: path.to_string(),
            line: node.pos.line,
            column: node.pos.column,
        })
    }

    // --- SAM ------------------------------------------------------------------------------------

    /// `Globals` properties SAM refuses and that would otherwise look like grants: the
    /// template does not transform, so they grant nothing and are reported.
    fn check_sam_globals(&mut self) {
        let t = self.t;
        for section in ["Function", "StateMachine"] {
            let path = push_pointer("/Globals", section);
            for key in SAM_GLOBALS_REFUSED {
                if let Some(node) = t
                    .root()
                    .get("Globals")
                    .and_then(|g| g.get(section))
                    .and_then(|s| s.get(key))
                {
                    self.not_analysable(
                        node,
                        &push_pointer(&path, key),
                        &format!(
                            "SAM does not support {key} in Globals.{section} (the transform fails with \"'{key}' is not a supported property of '{section}'\"); these grants apply to no function: move them onto each function"
                        ),
                    );
                }
            }
        }
    }

    /// Properties of a SAM function/state machine with `Globals` merged in: lists are
    /// concatenated (globals first), scalars overridden, as SAM does. `Role` and `Policies`
    /// are never taken from `Globals`: SAM refuses them there (see [`SAM_GLOBALS_REFUSED`]).
    fn sam_properties<'n>(&self, ty: &str, res: &'n Node, path: &str) -> SamProps<'n>
    where
        'a: 'n,
    {
        let section = if ty == SAM_FUNCTION {
            "Function"
        } else {
            "StateMachine"
        };
        let globals_path = push_pointer("/Globals", section);
        let globals: Option<&'n Node> = self.t.root().get("Globals").and_then(|g| g.get(section));
        let props: Option<&'n Node> = res.get("Properties");
        let props_path = push_pointer(path, "Properties");
        let pick = |key: &str| -> Option<Located<'n>> {
            props
                .and_then(|p| p.get(key))
                .map(|n| Located {
                    node: n,
                    path: push_pointer(&props_path, key),
                })
                .or_else(|| {
                    globals
                        .filter(|_| !SAM_GLOBALS_REFUSED.contains(&key))
                        .and_then(|g| g.get(key))
                        .map(|n| Located {
                            node: n,
                            path: push_pointer(&globals_path, key),
                        })
                })
        };
        let mut policies = Vec::new();
        if let Some(p) = props.and_then(|p| p.get("Policies")) {
            policies.push(Located {
                node: p,
                path: push_pointer(&props_path, "Policies"),
            });
        }
        let mut implicit_managed_policies = Vec::new();
        if ty == SAM_FUNCTION {
            implicit_managed_policies.push(
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole".to_string(),
            );
            if pick("Tracing").is_some_and(|n| n.node.as_str() == Some("Active")) {
                implicit_managed_policies
                    .push("arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess".to_string());
            }
            if pick("VpcConfig").is_some_and(|n| !n.node.is_no_value()) {
                implicit_managed_policies.push(
                    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
                        .to_string(),
                );
            }
        }
        SamProps {
            implicit_managed_policies,
            role: pick("Role").filter(|r| !r.node.is_no_value()),
            permissions_boundary: pick("PermissionsBoundary"),
            policies,
        }
    }

    fn sam_resource(&mut self, id: &str, ty: &str, res: &Node, path: &str, ctx: &Context<'_>) {
        let props = self.sam_properties(ty, res, path);
        if let Some(role) = &props.role {
            // SAM ignores Policies when a Role is given; the role's own grants are reported.
            if !props.policies.is_empty() {
                let at = &props.policies[0];
                self.not_analysable(
                    at.node,
                    &at.path,
                    &format!(
                        "{id} has a Role ({}), so SAM ignores its Policies",
                        role.node.as_written()
                    ),
                );
            }
            return;
        }
        let target = Target {
            id: format!("{id}Role"),
            kind: ROLE.to_string(),
        };
        for located in &props.policies {
            for list in branches(located.node, &located.path, &ctx.conditions) {
                match &list.node.value {
                    Value::Seq(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let ipath = push_pointer(&list.path, &i.to_string());
                            for b in branches(item, &ipath, &list.conditions) {
                                self.sam_policy_item(&target, ctx, b.node, &b.path, &b.conditions);
                            }
                        }
                    }
                    _ => {
                        self.sam_policy_item(&target, ctx, list.node, &list.path, &list.conditions)
                    }
                }
            }
        }
    }

    fn sam_policy_item(
        &mut self,
        target: &Target,
        ctx: &Context<'_>,
        node: &Node,
        path: &str,
        conditions: &[ConditionBranch],
    ) {
        match &node.value {
            // A managed policy name (`AmazonS3ReadOnlyAccess`) or ARN.
            Value::String(s) => {
                let mut g = self.grant(
                    target,
                    ctx,
                    GrantKind::SamManagedPolicy,
                    node,
                    path,
                    conditions,
                );
                // SAM resolves a name to the policy's full ARN, path included.
                let policies = ManagedPolicies::embedded();
                let lookup = if s.starts_with("arn:") {
                    policies.lookup_arn(s)
                } else {
                    policies.lookup_name(s)
                };
                let (statements, flags) = self.aws_managed(lookup, node, path);
                g.statements = statements;
                g.flags = flags;
                g.managed_policy_arns.push(s.clone());
                self.finish(g);
            }
            Value::Map(entries) => {
                if node.get("Statement").is_some() {
                    let mut g = self.grant(
                        target,
                        ctx,
                        GrantKind::SamInlinePolicy,
                        node,
                        path,
                        conditions,
                    );
                    g.statements = self.document_statements(node, path, false);
                    self.finish(g);
                } else if node.intrinsic().is_some() {
                    // `!Sub arn:...:policy/x`, `!Ref PolicyParam`, `!GetAtt`: a managed policy ARN.
                    self.arn_grant(
                        target,
                        ctx,
                        node,
                        path,
                        conditions,
                        GrantKind::SamManagedPolicy,
                    );
                } else if entries.len() == 1 {
                    let name = entries[0].key.text.clone();
                    let params = entries[0].value.to_json();
                    let mut g = self.grant(
                        target,
                        ctx,
                        GrantKind::SamPolicyTemplate,
                        node,
                        path,
                        conditions,
                    );
                    g.sam_policy_templates.push(SamTemplateRef {
                        name,
                        parameters: params,
                    });
                    g.statements =
                        self.sam_template_statements(&entries[0].key.text, &entries[0].value, path);
                    self.finish(g);
                } else {
                    self.not_analysable(node, path, "SAM Policies item is neither a policy name, a policy template nor a policy document");
                }
            }
            _ => self.not_analysable(
                node,
                path,
                &format!("unexpected SAM Policies item {}", node.as_written()),
            ),
        }
    }

    /// Statements of a SAM policy template, expanded with its parameters exactly as SAM does
    /// (`keycard_core::sam_policy_templates`, generated from aws-sam-translator).
    fn sam_template_statements(
        &mut self,
        name: &str,
        params: &Node,
        path: &str,
    ) -> Vec<StatementRecord> {
        let Some(template) = SamPolicyTemplates::embedded().get(name) else {
            self.not_analysable(
                params,
                path,
                &format!("unknown SAM policy template {name} (not in aws-sam-translator's list)"),
            );
            return Vec::new();
        };
        let values = match params.to_json() {
            J::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let statements = match template.expand(&values) {
            Ok(statements) => statements,
            Err(e) => {
                self.not_analysable(params, path, &e.to_string());
                return Vec::new();
            }
        };
        statements
            .iter()
            .enumerate()
            .filter_map(|(i, raw)| {
                let fake = json_node(raw, params);
                self.statement(&fake, &format!("{path}#{i}"), &[])
            })
            .collect()
    }

    // --- Connectors -------------------------------------------------------------------------------

    fn connector(
        &mut self,
        ctx: &Context<'_>,
        source: Option<&Node>,
        props: &Node,
        props_path: &str,
    ) {
        let src = match source {
            Some(s) => match s.get("Id").and_then(Node::as_str) {
                Some(id) => SourceRef::Id(id.to_string()),
                None => SourceRef::Other(s.as_written()),
            },
            None => SourceRef::Other("(none)".to_string()),
        };
        self.connector_with(ctx, src, props, props_path);
    }

    fn connector_with(
        &mut self,
        ctx: &Context<'_>,
        source: SourceRef,
        props: &Node,
        props_path: &str,
    ) {
        let perm_path = push_pointer(props_path, "Permissions");
        let at = props.get("Permissions").unwrap_or(props);
        let source_id = match source {
            SourceRef::Id(id) => id,
            SourceRef::Other(what) => {
                self.not_analysable(
                    at,
                    &perm_path,
                    &format!("connector source {what} is not a resource of this template"),
                );
                return;
            }
        };
        let Some(src_res) = self
            .t
            .root()
            .pointer(&push_pointer("/Resources", &source_id))
        else {
            self.not_analysable(
                at,
                &perm_path,
                &format!("connector source {source_id} is not in Resources"),
            );
            return;
        };
        let src_type = resource_type(src_res).to_string();
        let profiles = SamConnectorProfiles::embedded();
        let permissions: Vec<String> = props
            .get("Permissions")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect();
        let destinations: Vec<&Node> = match props.get("Destination") {
            Some(d) => match d.as_seq() {
                Some(items) => items.iter().collect(),
                None => vec![d],
            },
            None => Vec::new(),
        };
        let mut vars: BTreeMap<String, J> = BTreeMap::new();
        connector_vars(
            &mut vars,
            "Source",
            profiles.outputs(&src_type, &source_id),
            None,
        );
        // Statements per role: a profile puts its policy on the source's role, or (a table
        // stream read by a function) on the destination's.
        let mut by_target: Vec<(Target, Vec<StatementRecord>)> = Vec::new();
        for dest in destinations {
            let dest_id = dest.get("Id").and_then(Node::as_str);
            let (dest_type, outputs) = match dest_id {
                Some(did) => {
                    let dres = self.t.root().pointer(&push_pointer("/Resources", did));
                    let dty = dres.map(resource_type).unwrap_or("").to_string();
                    let out = profiles.outputs(&dty, did);
                    (dty, out)
                }
                None => {
                    // Given by `Type`/`Arn`/…: SAM takes every value as written.
                    let mut out = serde_json::Map::new();
                    for (var, key) in [("Arn", "Arn"), ("Id", "ResourceId"), ("Name", "Name")] {
                        if let Some(v) = dest.get(key) {
                            out.insert(var.to_string(), v.to_json());
                        }
                    }
                    (
                        dest.get("Type").map(Node::as_written).unwrap_or_default(),
                        out,
                    )
                }
            };
            let qualifier = dest.get("Qualifier").map(Node::to_json);
            connector_vars(&mut vars, "Destination", outputs, qualifier);
            let Some(profile) = profiles.get(&src_type, &dest_type) else {
                self.not_analysable(
                    dest,
                    &perm_path,
                    &format!(
                        "connector from {src_type} to {dest_type} is not in SAM's connector profiles"
                    ),
                );
                continue;
            };
            if let Some(why) = profile.rejects(&permissions) {
                self.not_analysable(dest, &perm_path, &why);
                continue;
            }
            if profile.kind() != &ProfileKind::IamRoleManagedPolicy {
                // A queue/topic policy or Lambda permission for a service principal: nothing is
                // granted to a principal of this template.
                continue;
            }
            let (role_id, role_res) = if profile.source_policy() {
                (source_id.as_str(), Some(src_res))
            } else {
                match dest_id {
                    Some(did) => (did, self.t.root().pointer(&push_pointer("/Resources", did))),
                    None => ("(destination without Id)", None),
                }
            };
            let Some(target) = role_res.and_then(|r| self.role_of(role_id, r)) else {
                let ty = role_res.map(resource_type).unwrap_or("");
                self.not_analysable(
                    at,
                    &perm_path,
                    &format!(
                        "the role of connector {} {role_id} ({ty}) cannot be determined",
                        if profile.source_policy() {
                            "source"
                        } else {
                            "destination"
                        }
                    ),
                );
                continue;
            };
            let mut statements = Vec::new();
            for category in profile.categories() {
                if !permissions.iter().any(|p| p == category) {
                    continue;
                }
                for raw in profile.statements(category) {
                    let raw = match profile_replace(&raw, &vars) {
                        Ok(r) => r,
                        Err(e) => {
                            self.not_analysable(dest, &perm_path, &e.to_string());
                            continue;
                        }
                    };
                    let fake = json_node(&raw, at);
                    // `…/Permissions#Read`: the category a statement comes from, so a proposal
                    // can keep a connector's needed categories only.
                    let spath = format!("{perm_path}#{category}");
                    if let Some(rec) = self.statement(&fake, &spath, &[]) {
                        statements.push(rec);
                    }
                }
            }
            match by_target.iter_mut().find(|(t, _)| t.id == target.id) {
                Some((_, list)) => list.extend(statements),
                None => by_target.push((target, statements)),
            }
        }
        for (target, statements) in by_target {
            if statements.is_empty() {
                continue;
            }
            let mut g = self.grant(
                &target,
                ctx,
                GrantKind::Connector,
                at,
                &perm_path,
                &ctx.conditions,
            );
            g.statements = statements;
            self.finish(g);
        }
    }

    /// Whether a managed policy of the template is some principal's `PermissionsBoundary`
    /// (a limit, not a grant: nothing to report).
    fn is_permissions_boundary(&self, id: &str) -> bool {
        let refers = |n: &Node| matches!(n.intrinsic(), Some(("Ref", a)) if a.as_str() == Some(id));
        let globals = self
            .t
            .root()
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .and_then(|f| f.get("PermissionsBoundary"))
            .is_some_and(refers);
        globals
            || self.t.resources().any(|(_, r)| {
                r.get("Properties")
                    .and_then(|p| p.get("PermissionsBoundary"))
                    .is_some_and(refers)
            })
    }

    /// The principal whose permissions a resource uses (SAM implicit role, or its `Role`).
    fn role_of(&self, id: &str, res: &Node) -> Option<Target> {
        let ty = resource_type(res);
        let role_node = match ty {
            SAM_FUNCTION | SAM_STATE_MACHINE => {
                let props = self.sam_properties(ty, res, &push_pointer("/Resources", id));
                match props.role {
                    None => {
                        return Some(Target {
                            id: format!("{id}Role"),
                            kind: ROLE.to_string(),
                        });
                    }
                    Some(r) => r.node,
                }
            }
            "AWS::Lambda::Function" => res.get("Properties")?.get("Role")?,
            "AWS::StepFunctions::StateMachine" => res.get("Properties")?.get("RoleArn")?,
            // SAM's connector profiles give an AppSync data source's role as `ServiceRoleArn`.
            "AWS::AppSync::DataSource" => res.get("Properties")?.get("ServiceRoleArn")?,
            _ => return None,
        };
        let rid = match role_node.intrinsic() {
            Some(("Fn::GetAtt", arg)) => arg.as_seq()?.first()?.as_str()?,
            Some(("Ref", arg)) => arg.as_str()?,
            _ => return None,
        };
        self.out
            .principals
            .iter()
            .find(|p| p.logical_id == rid && p.principal_type == ROLE)
            .map(|p| Target {
                id: p.logical_id.clone(),
                kind: ROLE.to_string(),
            })
    }

    // --- Grant assembly ---------------------------------------------------------------------------

    fn grant(
        &self,
        target: &Target,
        ctx: &Context<'_>,
        kind: GrantKind,
        node: &Node,
        path: &str,
        conditions: &[ConditionBranch],
    ) -> Grant {
        let mut conds = ctx.conditions.clone();
        for c in conditions {
            if !conds.contains(c) {
                conds.push(c.clone());
            }
        }
        Grant {
            principal: target.id.clone(),
            principal_type: target.kind.clone(),
            source: ctx.source.to_string(),
            source_type: ctx.source_type.to_string(),
            kind,
            path: path.to_string(),
            line: node.pos.line,
            column: node.pos.column,
            span: node.span,
            policy_name: None,
            managed_policy_arns: Vec::new(),
            sam_policy_templates: Vec::new(),
            statements: Vec::new(),
            effective_actions: ActionSet::new(),
            unknown_actions: Vec::new(),
            flags: Vec::new(),
            conditions: conds,
            document_is_json_string: false,
        }
    }

    /// Effective actions and flags from the statements.
    fn finish(&mut self, mut g: Grant) {
        let mut flags: BTreeSet<Flag> = g.flags.iter().copied().collect();
        if !g.conditions.is_empty() {
            flags.insert(Flag::Conditional);
        }
        for s in &g.statements {
            for u in &s.unknown {
                if !g.unknown_actions.contains(u) {
                    g.unknown_actions.push(u.clone());
                }
            }
            if !s.is_allow() {
                continue;
            }
            g.effective_actions.union_with(&s.effective);
            if s.actions.iter().any(|a| a.contains('*') || a.contains('?')) {
                flags.insert(Flag::WildcardAction);
            }
            if !s.not_actions.is_empty() {
                flags.insert(Flag::NotAction);
            }
            if !s.not_resources.is_empty() {
                flags.insert(Flag::NotResource);
            }
            if s.resources.iter().any(|r| r == "*") {
                if s.levels.0 {
                    flags.insert(Flag::WildcardResourceWrite);
                }
                if s.levels.1 {
                    flags.insert(Flag::WildcardResourcePermissionsManagement);
                }
            }
        }
        if !g.unknown_actions.is_empty() {
            flags.insert(Flag::UnknownAction);
        }
        g.flags = flags.into_iter().collect();
        self.out.grants.push(g);
    }

    fn not_list(&mut self, node: &Node, path: &str, what: &str) {
        // `Fn::Transform` here is already reported by `check_transforms`.
        if node.is_no_value() || node.get("Fn::Transform").is_some() {
            return;
        }
        self.not_analysable(
            node,
            path,
            &format!("{what} is not a list ({})", node.as_written()),
        );
    }
}

struct Located<'n> {
    node: &'n Node,
    path: String,
}

struct SamProps<'n> {
    implicit_managed_policies: Vec<String>,
    role: Option<Located<'n>>,
    permissions_boundary: Option<Located<'n>>,
    policies: Vec<Located<'n>>,
}

enum SourceRef {
    Id(String),
    Other(String),
}

/// The ARN text of a managed policy reference, looking inside `Fn::Sub`
/// (`!Sub arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess`).
fn arn_text(node: &Node) -> String {
    match node.intrinsic() {
        Some(("Fn::Sub", arg)) => match (&arg.value, arg.as_seq()) {
            (Value::String(s), _) => s.clone(),
            (_, Some([first, ..])) => first.as_written(),
            _ => node.as_written(),
        },
        _ => node.as_written(),
    }
}

fn resource_type(res: &Node) -> &str {
    res.get("Type").and_then(Node::as_str).unwrap_or("")
}

fn physical_name(node: Option<&Node>) -> PhysicalName {
    match node {
        None => PhysicalName::Generated,
        Some(n) if n.is_no_value() => PhysicalName::Generated,
        Some(n) => match n.as_str() {
            Some(s) => PhysicalName::Literal(s.to_string()),
            None => PhysicalName::Expression(n.to_json()),
        },
    }
}

/// Follows `Fn::If` into both branches (skipping `AWS::NoValue`).
fn branches<'n>(node: &'n Node, path: &str, conditions: &[ConditionBranch]) -> Vec<Branch<'n>> {
    let mut out = Vec::new();
    collect_branches(node, path.to_string(), conditions.to_vec(), &mut out, 0);
    out
}

fn collect_branches<'n>(
    node: &'n Node,
    path: String,
    conditions: Vec<ConditionBranch>,
    out: &mut Vec<Branch<'n>>,
    depth: usize,
) {
    if node.is_no_value() {
        return;
    }
    if depth < 16
        && let Some(("Fn::If", arg)) = node.intrinsic()
        && let Some([cond, yes, no]) = arg
            .as_seq()
            .map(|s| s.get(..3).unwrap_or(&[]))
            .and_then(|s| <&[Node; 3]>::try_from(s).ok())
        && let Some(c) = cond.as_str()
    {
        let ifpath = push_pointer(&path, "Fn::If");
        for (i, branch, value) in [(1, yes, true), (2, no, false)] {
            let mut conds = conditions.clone();
            conds.push(ConditionBranch {
                condition: c.to_string(),
                branch: value,
            });
            collect_branches(
                branch,
                push_pointer(&ifpath, &i.to_string()),
                conds,
                out,
                depth + 1,
            );
        }
        return;
    }
    out.push(Branch {
        node,
        path,
        conditions,
    });
}

/// Items of `Action`/`Resource` as written, the literal action patterns usable for catalog
/// expansion (both branches of an `Fn::If` count), and the items that yield no literal at all
/// (`!Ref Param`, `!Split`: only known at deploy time).
fn items_as_written(node: Option<&Node>) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut written = Vec::new();
    let mut patterns = Vec::new();
    let mut opaque = Vec::new();
    let Some(node) = node else {
        return (written, patterns, opaque);
    };
    let items: Vec<&Node> = match node.as_seq() {
        Some(items) => items.iter().collect(),
        None => vec![node],
    };
    for item in items {
        if item.is_no_value() {
            continue;
        }
        let text = item.as_written();
        if item.as_str().is_some() {
            patterns.push(text.clone());
            written.push(text);
            continue;
        }
        let before = patterns.len();
        for b in branches(item, "", &[]) {
            match b.node.as_seq() {
                Some(list) => {
                    patterns.extend(list.iter().filter_map(|n| n.as_str().map(str::to_string)))
                }
                None => {
                    if let Some(s) = b.node.as_str() {
                        patterns.push(s.to_string());
                    }
                }
            }
        }
        if patterns.len() == before {
            opaque.push(text.clone());
        }
        written.push(text);
    }
    (written, patterns, opaque)
}

/// A node tree for JSON that has no place in the text (a policy document inside a JSON
/// string, a SAM template's expansion): every node points at `at`.
fn json_node(v: &J, at: &Node) -> Node {
    let value = match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => Value::Number(n.to_string()),
        J::String(s) => Value::String(s.clone()),
        J::Array(items) => Value::Seq(items.iter().map(|i| json_node(i, at)).collect()),
        J::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| super::node::Entry {
                    key: super::node::Key {
                        text: k.clone(),
                        span: at.span,
                        pos: at.pos,
                    },
                    value: json_node(v, at),
                })
                .collect(),
        ),
    };
    Node::new(value, at.span, at.pos, Style::Flow)
}

/// Whether `key` appears anywhere below `node` (no allocation: the common answer is no).
fn has_key(node: &Node, key: &str, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .any(|e| e.key.text == key || has_key(&e.value, key, depth + 1)),
        Value::Seq(items) => items.iter().any(|i| has_key(i, key, depth + 1)),
        _ => false,
    }
}

fn find_key<'n>(
    node: &'n Node,
    key: &str,
    path: &str,
    depth: usize,
    out: &mut Vec<(&'n Node, String)>,
) {
    if depth > 64 {
        return;
    }
    match &node.value {
        Value::Map(entries) => {
            for e in entries {
                let p = push_pointer(path, &e.key.text);
                if e.key.text == key {
                    out.push((&e.value, p));
                } else {
                    find_key(&e.value, key, &p, depth + 1, out);
                }
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                find_key(
                    item,
                    key,
                    &push_pointer(path, &i.to_string()),
                    depth + 1,
                    out,
                );
            }
        }
        _ => {}
    }
}

/// Sets SAM's `%{Source.Arn}`-style variables of one side of a connector from the resource's
/// outputs (`Arn`, `Id` → `ResourceId`, `Name`, `Qualifier`); a `Qualifier` written on the
/// reference wins, as in SAM. Values a side does not have are removed, so a profile that needs
/// one reports it missing.
fn connector_vars(
    vars: &mut BTreeMap<String, J>,
    side: &str,
    outputs: serde_json::Map<String, J>,
    qualifier: Option<J>,
) {
    for (out, var) in [
        ("Arn", "Arn"),
        ("Id", "ResourceId"),
        ("Name", "Name"),
        ("Qualifier", "Qualifier"),
    ] {
        let key = format!("{side}.{var}");
        let value = if var == "Qualifier" && qualifier.is_some() {
            qualifier.clone()
        } else {
            outputs.get(out).cloned()
        };
        match value {
            Some(v) => vars.insert(key, v),
            None => vars.remove(&key),
        };
    }
}

#[cfg(test)]
mod connector_tests {
    use super::*;

    fn grants(yaml: &str) -> Grants {
        find_grants(&Template::load("t.yaml", yaml).unwrap())
    }

    fn connectors(g: &Grants) -> Vec<&Grant> {
        g.grants
            .iter()
            .filter(|g| g.kind == GrantKind::Connector)
            .collect()
    }

    const FUNCTION: &str = "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n      CodeUri: src/\n";

    #[test]
    fn function_to_table_read_write_grants_sams_statements_to_the_implicit_role() {
        let g = grants(&format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n{FUNCTION}  Orders:\n    Type: AWS::DynamoDB::Table\n  Conn:\n    Type: AWS::Serverless::Connector\n    Properties:\n      Source: {{Id: Fn}}\n      Destination: {{Id: Orders}}\n      Permissions: [Read, Write]\n"
        ));
        let c = connectors(&g);
        assert_eq!(c.len(), 1, "{:#?}", g.not_analysable);
        assert_eq!(c[0].principal, "FnRole");
        let profile = SamConnectorProfiles::embedded()
            .get("AWS::Lambda::Function", "AWS::DynamoDB::Table")
            .unwrap();
        let mut want: BTreeSet<String> = profile.actions("Read").into_iter().collect();
        want.extend(profile.actions("Write"));
        let got: BTreeSet<String> = c[0]
            .statements
            .iter()
            .flat_map(|s| s.actions.clone())
            .collect();
        assert_eq!(got, want);
        assert!(got.contains("dynamodb:GetItem") && got.contains("dynamodb:PutItem"));
        assert!(
            c[0].statements[0]
                .resources
                .iter()
                .any(|r| r.contains("Orders"))
        );
    }

    #[test]
    fn function_to_bucket_write_only_grants_write() {
        let g = grants(&format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  Uploads:\n    Type: AWS::S3::Bucket\n{FUNCTION}    Connectors:\n      Up:\n        Properties:\n          Destination: {{Id: Uploads}}\n          Permissions: [Write]\n"
        ));
        let c = connectors(&g);
        assert_eq!(c.len(), 1, "{:#?}", g.not_analysable);
        let actions: Vec<&String> = c[0].statements.iter().flat_map(|s| &s.actions).collect();
        assert!(actions.iter().any(|a| *a == "s3:PutObject"), "{actions:?}");
        assert!(!actions.iter().any(|a| *a == "s3:GetObject"), "{actions:?}");
    }

    #[test]
    fn table_stream_read_goes_on_the_destination_functions_role() {
        let g = grants(&format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n{FUNCTION}  Orders:\n    Type: AWS::DynamoDB::Table\n    Connectors:\n      Stream:\n        Properties:\n          Destination: {{Id: Fn}}\n          Permissions: [Read]\n"
        ));
        let c = connectors(&g);
        assert_eq!(c.len(), 1, "{:#?}", g.not_analysable);
        assert_eq!(c[0].principal, "FnRole");
        let s = &c[0].statements[0];
        assert!(s.actions.contains(&"dynamodb:GetRecords".to_owned()));
        assert!(
            s.resources.iter().any(|r| r.contains("/stream/*")),
            "{:?}",
            s.resources
        );
    }

    #[test]
    fn rule_to_queue_is_a_queue_policy_not_a_role_grant_and_unknown_pairs_are_reported() {
        let g = grants(
            "Resources:\n  Jobs:\n    Type: AWS::SQS::Queue\n  Stream:\n    Type: AWS::Kinesis::Stream\n  Rule:\n    Type: AWS::Events::Rule\n    Connectors:\n      ToJobs:\n        Properties:\n          Destination: {Id: Jobs}\n          Permissions: [Write]\n",
        );
        assert!(connectors(&g).is_empty());
        assert!(g.not_analysable.is_empty(), "{:#?}", g.not_analysable);
        let g = grants(&format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  Stream:\n    Type: AWS::Kinesis::Stream\n{FUNCTION}    Connectors:\n      S:\n        Properties:\n          Destination: {{Id: Stream}}\n          Permissions: [Read]\n"
        ));
        assert!(connectors(&g).is_empty());
        assert!(
            g.not_analysable
                .iter()
                .any(|n| n.reason.contains("AWS::Kinesis::Stream")),
            "{:#?}",
            g.not_analysable
        );
    }

    #[test]
    fn invalid_permissions_are_reported_as_sam_rejects_them() {
        let g = grants(&format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n{FUNCTION}    Connectors:\n      T:\n        Properties:\n          Destination: {{Id: Topic}}\n          Permissions: [Read]\n"
        ));
        assert!(connectors(&g).is_empty());
        assert!(
            g.not_analysable.iter().any(|n| n.reason.contains("Read")),
            "{:#?}",
            g.not_analysable
        );
    }

    #[test]
    fn destination_by_type_and_arn_uses_the_arn_as_written() {
        let g = grants(&format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n{FUNCTION}    Connectors:\n      Q:\n        Properties:\n          Destination:\n            Type: AWS::SQS::Queue\n            Arn: arn:aws:sqs:us-east-1:123456789012:jobs\n          Permissions: [Write]\n"
        ));
        let c = connectors(&g);
        assert_eq!(c.len(), 1, "{:#?}", g.not_analysable);
        assert!(
            c[0].statements[0]
                .actions
                .contains(&"sqs:SendMessage".to_owned())
        );
        assert_eq!(
            c[0].statements[0].resources,
            ["arn:aws:sqs:us-east-1:123456789012:jobs"]
        );
    }
}
