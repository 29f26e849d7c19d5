//! `AWS::IAM::Policy`, `AWS::IAM::ManagedPolicy` and `AWS::IAM::RolePolicy`/`UserPolicy`/
//! `GroupPolicy`: policies that are resources of their own and reach principals through
//! `Roles`/`Users`/`Groups`, a name, or (managed policies) a `ManagedPolicyArns` or SAM
//! `Policies` reference. One document becomes one grant per principal it reaches.

use super::{
    ConditionBranch, Context, Finder, GROUP, GrantKind, ROLE, Target, USER, branches, resource_type,
};
use crate::template::node::{Node, push_pointer};

impl Finder<'_> {
    /// Principals an `AWS::IAM::Policy`/`ManagedPolicy` is attached to through its own
    /// `Roles`/`Users`/`Groups`, plus roles/users/groups listing it in `ManagedPolicyArns`.
    pub(super) fn attachments(
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

    pub(super) fn policy_resource(
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

    /// Whether a managed policy of the template is some principal's `PermissionsBoundary`
    /// (a limit, not a grant: nothing to report).
    pub(super) fn is_permissions_boundary(&self, id: &str) -> bool {
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
}
