//! The `Policies` property of `AWS::IAM::Role`, `User` and `Group`: named inline documents,
//! each a grant of the principal that holds it.

use super::{Context, Finder, GrantKind, Target, branches};
use crate::template::node::{Node, push_pointer};

impl Finder<'_> {
    pub(super) fn inline_policies(
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
}
