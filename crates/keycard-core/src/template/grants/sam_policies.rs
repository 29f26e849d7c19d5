//! SAM functions and state machines: `Policies` (managed policy names and ARNs, policy
//! templates, inline statements) granted to the role SAM creates, with `Globals` merged as SAM
//! merges them, and the `Globals` SAM refuses reported instead of read.

use serde_json::Value as J;

use super::{
    ConditionBranch, Context, Finder, GrantKind, ROLE, SAM_FUNCTION, SamTemplateRef,
    StatementRecord, Target, branches, json_node,
};
use crate::managed_policies::ManagedPolicies;
use crate::sam_policy_templates::SamPolicyTemplates;
use crate::template::node::{Node, Value, push_pointer};

/// Function and state machine properties SAM does not accept in `Globals`. Source:
/// aws-sam-translator 1.115.0, `samtranslator/plugins/globals/globals.py`,
/// `Globals.supported_properties` ("Everything on Serverless::Function except Role, Policies,
/// FunctionName, Events"; a state machine supports only `PropagateTags` there), and the SAM
/// developer guide, "Globals section of the AWS SAM template", supported properties.
const SAM_GLOBALS_REFUSED: [&str; 2] = ["Role", "Policies"];

impl<'a> Finder<'a> {
    /// `Globals` properties SAM refuses and that would otherwise look like grants: the
    /// template does not transform, so they grant nothing and are reported.
    pub(super) fn check_sam_globals(&mut self) {
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
    pub(super) fn sam_properties<'n>(&self, ty: &str, res: &'n Node, path: &str) -> SamProps<'n>
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

    pub(super) fn sam_resource(
        &mut self,
        id: &str,
        ty: &str,
        res: &Node,
        path: &str,
        ctx: &Context<'_>,
    ) {
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

    pub(super) fn sam_policy_item(
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
                    // So is a `!Sub '{"Statement": …}'` document, as SAM reads it; it is reported.
                    self.sub_document_in_sam_policies(node, path);
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
    pub(super) fn sam_template_statements(
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
}

pub(super) struct Located<'n> {
    pub(super) node: &'n Node,
    pub(super) path: String,
}

pub(super) struct SamProps<'n> {
    pub(super) implicit_managed_policies: Vec<String>,
    pub(super) role: Option<Located<'n>>,
    pub(super) permissions_boundary: Option<Located<'n>>,
    pub(super) policies: Vec<Located<'n>>,
}
