//! SAM functions and state machines that attach a managed policy of the template by `!Ref`
//! in `Policies` (`Policies: [!Ref SharedPolicy]`): SAM puts the reference in the
//! `ManagedPolicyArns` of the role it generates (SAM specification, `Policies`: "the ARN of an
//! AWS managed policy or customer managed policy"), so the policy's statements are that role's
//! grants, as they are for a role listing it in `ManagedPolicyArns`.

use super::{ConditionBranch, Finder, ROLE, SAM_FUNCTION, SAM_STATE_MACHINE, Target, branches};
use crate::template::node::{Node, push_pointer};

impl Finder<'_> {
    /// The implicit roles of SAM resources whose `Policies` (or `Globals`) name the managed
    /// policy `id` by `!Ref`. A resource with a `Role` is left out: SAM ignores its `Policies`.
    pub(super) fn sam_attachments(&self, id: &str) -> Vec<(Target, Vec<ConditionBranch>)> {
        let mut out: Vec<(Target, Vec<ConditionBranch>)> = Vec::new();
        for (rid, res) in self.t.resources() {
            let ty = res.get("Type").and_then(Node::as_str).unwrap_or_default();
            if ty != SAM_FUNCTION && ty != SAM_STATE_MACHINE {
                continue;
            }
            let props = self.sam_properties(ty, res, &push_pointer("/Resources", rid));
            if props.role.is_some() {
                continue;
            }
            for located in &props.policies {
                for list in branches(located.node, "", &[]) {
                    let items: Vec<&Node> = match list.node.as_seq() {
                        Some(items) => items.iter().collect(),
                        None => vec![list.node],
                    };
                    for item in items {
                        for b in branches(item, "", &list.conditions) {
                            let refers = matches!(
                                b.node.intrinsic(),
                                Some(("Ref", a)) if a.as_str() == Some(id)
                            );
                            let role = format!("{rid}Role");
                            if refers && !out.iter().any(|(t, _)| t.id == role) {
                                out.push((
                                    Target {
                                        id: role,
                                        kind: ROLE.to_string(),
                                    },
                                    b.conditions,
                                ));
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::template::{GrantKind, Template, find_grants};

    #[test]
    fn a_sam_function_referencing_a_managed_policy_of_the_template_receives_it() {
        let t = Template::load(
            "t.yaml",
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  Shared:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n        Statement: [{Effect: Allow, Action: sqs:SendMessage, Resource: '*'}]\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies:\n        - !Ref Shared\n  WithRole:\n    Type: AWS::Serverless::Function\n    Properties:\n      Role: arn:aws:iam::123456789012:role/x\n      Policies: [!Ref Shared]\n",
        )
        .unwrap();
        let g = find_grants(&t);
        let shared: Vec<&str> = g
            .grants
            .iter()
            .filter(|g| g.kind == GrantKind::ManagedPolicyResource)
            .map(|g| g.principal.as_str())
            .collect();
        assert_eq!(shared, vec!["FnRole"]);
        assert!(
            g.not_analysable
                .iter()
                .all(|n| !n.reason.contains("not attached")),
            "{:?}",
            g.not_analysable
        );
    }
}
