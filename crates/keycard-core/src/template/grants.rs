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
//!
//! One private module per source kind (`inline_policies`, `policy_resources`, `managed_arns`,
//! `sam_policies`, `sam_attachments`, `connectors`, `resource_policies`, `sub_json`), so a reader
//! looking for how one construct is read opens one file; `statements` reads every document for
//! all of them, `principals` resolves who receives each grant, and this module walks the
//! resources and assembles each grant.

use std::collections::BTreeSet;

use super::node::{Node, push_pointer};
use super::{Template, TemplateError};
use crate::catalog::{ActionSet, Catalog};

mod branches;
mod connectors;
mod inline_policies;
mod managed_arns;
mod model;
mod policy_resources;
mod principals;
mod resource_policies;
mod sam_attachments;
mod sam_policies;
mod statements;
mod sub_json;
mod transforms;
mod validity;

use branches::branches;
use connectors::SourceRef;
use statements::{Expanded, json_node};

pub use model::{
    ConditionBranch, Grant, GrantFlag, GrantKind, Grants, NotAnalysable, PhysicalName, Principal,
    SamTemplateRef, StatementRecord,
};
pub use resource_policies::{PolicySite, ResourcePolicy, ResourcePolicyKind};
pub use validity::InvalidStatement;

const ROLE: &str = "AWS::IAM::Role";
const USER: &str = "AWS::IAM::User";
const GROUP: &str = "AWS::IAM::Group";
const SAM_FUNCTION: &str = "AWS::Serverless::Function";
const SAM_STATE_MACHINE: &str = "AWS::Serverless::StateMachine";

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

impl Finder<'_> {
    fn run(&mut self) {
        let t = self.t;
        self.check_transforms();
        self.check_sam_globals();
        let resources: Vec<(&str, &Node)> = t.resources().collect();
        for (id, res) in &resources {
            if id.starts_with("Fn::ForEach::") {
                self.not_analysable(
                    res,
                    &push_pointer("/Resources", id),
                    "Fn::ForEach (AWS::LanguageExtensions) generates resources at deploy time; grants inside are not analysed",
                );
            }
        }
        // Principals first, so that attachments by name and `!Ref` can be resolved.
        self.collect_principals(&resources);
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

    fn not_analysable(&mut self, node: &Node, path: &str, reason: &str) {
        self.out.not_analysable.push(NotAnalysable {
            path: path.to_string(),
            line: node.pos.line,
            column: node.pos.column,
            reason: reason.to_string(),
        });
    }

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
        let mut flags: BTreeSet<GrantFlag> = g.flags.iter().copied().collect();
        if !g.conditions.is_empty() {
            flags.insert(GrantFlag::Conditional);
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
                flags.insert(GrantFlag::WildcardAction);
            }
            if !s.not_actions.is_empty() {
                flags.insert(GrantFlag::NotAction);
            }
            if !s.not_resources.is_empty() {
                flags.insert(GrantFlag::NotResource);
            }
            if s.resources.iter().any(|r| r == "*") {
                if s.levels.0 {
                    flags.insert(GrantFlag::WildcardResourceWrite);
                }
                if s.levels.1 {
                    flags.insert(GrantFlag::WildcardResourcePermissionsManagement);
                }
            }
        }
        if !g.unknown_actions.is_empty() {
            flags.insert(GrantFlag::UnknownAction);
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

fn resource_type(res: &Node) -> &str {
    res.get("Type").and_then(Node::as_str).unwrap_or("")
}
