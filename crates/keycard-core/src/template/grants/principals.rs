//! The principals of a template (roles, users, groups, and the roles SAM creates for functions
//! and state machines without `Role`) and the ways a grant names one: `!Ref`, a physical name,
//! a `!GetAtt Role.Arn`. Principals are read before any grant so that every attachment can be
//! resolved against them.

use super::{
    ConditionBranch, Finder, GROUP, PhysicalName, Principal, ROLE, SAM_FUNCTION, SAM_STATE_MACHINE,
    Target, USER, branches, resource_type,
};
use crate::template::node::{Node, push_pointer};

impl Finder<'_> {
    /// Every principal the template declares, in template order, then users' group
    /// memberships (`Groups` on the user).
    pub(super) fn collect_principals(&mut self, resources: &[(&str, &Node)]) {
        let t = self.t;
        let res_path = "/Resources";
        for (id, res) in resources {
            if id.starts_with("Fn::ForEach::") {
                continue;
            }
            let path = push_pointer(res_path, id);
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
    }

    /// Resolves `!Ref Role`, a role name (matched against `RoleName`), or a list of those.
    pub(super) fn resolve_principals(
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

    pub(super) fn principal_by_ref_or_name(&self, node: &Node, kind: &str) -> Option<String> {
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

    /// The principal whose permissions a resource uses (SAM implicit role, or its `Role`).
    pub(super) fn role_of(&self, id: &str, res: &Node) -> Option<Target> {
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
