//! Managed policies named by ARN (`ManagedPolicyArns`, SAM `Policies` names and ARNs): an AWS
//! managed policy brings its published statements from the embedded dataset; a customer managed
//! policy outside the template is only an ARN, flagged as external.

use super::{
    ConditionBranch, Context, Finder, GrantFlag, GrantKind, StatementRecord, Target, branches,
    json_node, resource_type,
};
use crate::managed_policies::{Lookup, ManagedPolicies};
use crate::template::node::{Node, Value, push_pointer};

impl Finder<'_> {
    pub(super) fn managed_arns(
        &mut self,
        target: &Target,
        ctx: &Context<'_>,
        props: &Node,
        props_path: &str,
    ) {
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
    pub(super) fn arn_grant(
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
    pub(super) fn aws_managed(
        &mut self,
        lookup: Lookup<'_>,
        node: &Node,
        path: &str,
    ) -> (Vec<StatementRecord>, Vec<GrantFlag>) {
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
                    "AdministratorAccess" => flags.push(GrantFlag::AdminManagedPolicy),
                    "PowerUserAccess" => flags.push(GrantFlag::PowerUserManagedPolicy),
                    _ => {}
                }
            }
            Lookup::Unknown { name, hint } => {
                flags.push(GrantFlag::ExternalPolicy);
                flags.push(GrantFlag::UnknownManagedPolicy);
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
            Lookup::NotAwsManaged => flags.push(GrantFlag::ExternalPolicy),
        }
        (statements, flags)
    }
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
