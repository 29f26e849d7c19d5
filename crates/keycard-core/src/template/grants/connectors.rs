//! SAM connectors (`AWS::Serverless::Connector` and embedded `Connectors`): the statements of
//! SAM's connector profiles, filled in with the two sides' ARNs and names, granted to the role
//! the profile names (the source's, or for a stream read the destination's).

use std::collections::BTreeMap;

use serde_json::Value as J;

use super::{Context, Finder, GrantKind, StatementRecord, Target, json_node, resource_type};
use crate::sam_connector_profiles::{ProfileKind, SamConnectorProfiles, profile_replace};
use crate::template::node::{Node, push_pointer};

impl Finder<'_> {
    pub(super) fn connector(
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

    pub(super) fn connector_with(
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
}

pub(super) enum SourceRef {
    Id(String),
    Other(String),
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
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::template::{Grant, Grants, Template, find_grants};

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
