//! The never-broader invariant: a proposal never allows anything the current template does not.
//!
//! [`super::build`] derives every statement from an original one, so this holds by
//! construction; this module checks it again without trusting that code, for every proposal
//! made (a violation is an error, never a warning) and in the property tests.

use serde::{Deserialize, Serialize};

use super::build::{PrincipalPlan, ResourceSpec};
use super::model::PrincipalGrants;
use super::resources::pattern_covers;
use crate::policy::is_wildcard;

/// An (action, resource) pair of the proposal that no original statement allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error(
    "proposal for {principal} would allow {action} on {resource} (statement {sid}), which the template does not"
)]
pub struct Violation {
    pub principal: String,
    pub sid: String,
    pub action: String,
    pub resource: String,
}

/// Checks that every (action, resource, condition) of the plan is allowed by an original
/// Allow statement with the same Condition.
pub fn check_never_broader(
    grants: &PrincipalGrants,
    plan: &PrincipalPlan,
) -> Result<(), Violation> {
    let originals: Vec<_> = grants.allow_statements().map(|(_, st)| st).collect();
    for n in plan.all_statements() {
        for action in &n.actions {
            let violation = |resource: String| Violation {
                principal: grants.logical_id.clone(),
                sid: n.sid.clone(),
                action: action.clone(),
                resource,
            };
            if is_wildcard(action) {
                return Err(violation("(wildcard action)".into()));
            }
            let same_scope = |o: &crate::proposal::model::GrantStatement| {
                o.effective.contains(action) && o.condition == n.condition
            };
            match &n.resource {
                ResourceSpec::Original => {
                    let ok = originals.iter().filter(|o| same_scope(o)).any(|o| {
                        o.resource == n.original_resource && o.not_resource == n.not_resource
                    });
                    if !ok {
                        return Err(violation(
                            serde_json::to_string(&n.original_resource).unwrap_or_default(),
                        ));
                    }
                }
                ResourceSpec::Narrowed { resources } => {
                    if n.not_resource.is_some() {
                        return Err(violation("NotResource with narrowed Resource".into()));
                    }
                    for r in resources {
                        let ok = originals.iter().filter(|o| same_scope(o)).any(|o| {
                            o.not_resource.is_none()
                                && o.resource_items()
                                    .iter()
                                    .filter_map(|v| v.as_str())
                                    .any(|p| pattern_covers(p, &r.arn))
                        });
                        if !ok {
                            return Err(violation(r.arn.clone()));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Property tests: over random grants, usages, keep-lists and unobservable sets, every
    //! proposal is never broader than the original, and never drops an action used on an
    //! unconditioned grant.

    use std::collections::BTreeSet;

    use chrono::{Duration, TimeZone, Utc};
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::policy::{Effect, action_matches};
    use crate::proposal::build::{BuildContext, build};
    use crate::proposal::decide::{Evidence, decide};
    use crate::proposal::model::{GrantSource, GrantStatement, KeepEntry, KeepOrigin, SourceKind};
    use crate::proposal::resources::{
        NameContext, ResourceIndex, TemplateResource, resource_matches,
    };
    use crate::usage::{ActionUsage, PrincipalUsage};

    const UNIVERSE: &[&str] = &[
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "iam:PassRole",
        "iam:CreatePolicyVersion",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "lambda:InvokeFunction",
    ];
    const PATTERNS: &[&str] = &[
        "*",
        "s3:*",
        "s3:Get*",
        "s3:*Object",
        "dynamodb:*",
        "iam:*",
        "sqs:*",
        "lambda:Invoke*",
        "s3:GetObject",
        "dynamodb:GetItem",
        "iam:PassRole",
        "s3:?utObject",
    ];
    const RESOURCES: &[&str] = &[
        "*",
        "arn:aws:s3:::*",
        "arn:aws:s3:::orders/*",
        "arn:aws:s3:::orders",
        "arn:aws:dynamodb:eu-west-1:123456789012:table/*",
        "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-app-Orders-ABCDEFGH1234",
    ];
    const SEEN: &[&str] = &[
        "arn:aws:s3:::orders/2026/a.json",
        "arn:aws:s3:::orders",
        "arn:aws:s3:::other/x",
        "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-app-Orders-ABCDEFGH1234",
        "arn:aws:dynamodb:eu-west-1:123456789012:table/elsewhere",
        "arn:aws:sqs:eu-west-1:123456789012:jobs",
    ];

    fn effective(actions: &[String], not_actions: &[String]) -> BTreeSet<String> {
        UNIVERSE
            .iter()
            .filter(|a| {
                if !not_actions.is_empty() {
                    !not_actions.iter().any(|p| action_matches(p, a))
                } else {
                    actions.iter().any(|p| action_matches(p, a))
                }
            })
            .map(|a| a.to_string())
            .collect()
    }

    fn statement() -> impl Strategy<Value = GrantStatement> {
        (
            prop::bool::weighted(0.85),
            prop::collection::vec(prop::sample::select(PATTERNS), 1..4),
            prop::bool::weighted(0.15),
            prop::collection::vec(prop::sample::select(RESOURCES), 1..3),
            prop::option::weighted(0.2, prop::sample::select(&["a", "b"][..])),
            prop::bool::weighted(0.1),
        )
            .prop_map(
                |(allow, patterns, not_action, resources, cond, intrinsic)| {
                    let patterns: Vec<String> = patterns.into_iter().map(str::to_string).collect();
                    let (actions, not_actions) = if not_action {
                        (Vec::new(), patterns)
                    } else {
                        (patterns, Vec::new())
                    };
                    let mut res: Vec<Value> = resources.into_iter().map(|r| json!(r)).collect();
                    if intrinsic {
                        res.push(json!({"Fn::GetAtt": ["OrdersTable", "Arn"]}));
                    }
                    GrantStatement {
                        effect: if allow { Effect::Allow } else { Effect::Deny },
                        effective: effective(&actions, &not_actions),
                        actions,
                        not_actions,
                        resource: Some(if res.len() == 1 {
                            res.remove(0)
                        } else {
                            Value::Array(res)
                        }),
                        not_resource: None,
                        condition: cond
                            .map(|c| json!({"StringEquals": {"aws:RequestTag/team": c}})),
                        raw: None,
                    }
                },
            )
    }

    fn source() -> impl Strategy<Value = GrantSource> {
        (0u8..4, prop::collection::vec(statement(), 1..4)).prop_map(|(k, statements)| {
            let kind = match k {
                0 => SourceKind::Document { managed: false },
                1 => SourceKind::AwsManaged {
                    name: "AdministratorAccess".into(),
                },
                2 => SourceKind::SamPolicyTemplate {
                    name: "DynamoDBCrudPolicy".into(),
                },
                _ => SourceKind::Fixed,
            };
            GrantSource {
                id: String::new(),
                label: String::new(),
                kind,
                statements,
                attached_to: vec!["P".into()],
            }
        })
    }

    fn usage() -> impl Strategy<Value = PrincipalUsage> {
        (
            prop::collection::btree_map(
                prop::sample::select(UNIVERSE),
                (
                    0i64..500,
                    1u64..50,
                    prop::collection::btree_set(prop::sample::select(SEEN), 0..3),
                ),
                0..8,
            ),
            prop::collection::btree_set(
                prop::sample::select(&["s3", "iam:PassRole", "sqs:Send*"][..]),
                0..2,
            ),
        )
            .prop_map(|(actions, unobservable)| {
                let end = Utc
                    .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
                    .single()
                    .unwrap_or_default();
                let mut pu = PrincipalUsage::default();
                for (a, (age, count, seen)) in actions {
                    let mut au = ActionUsage::seen_once(end - Duration::days(age));
                    au.count = count;
                    au.resources = seen.into_iter().map(str::to_string).collect();
                    pu.actions.insert(a.to_string(), au);
                }
                pu.unobservable = unobservable.into_iter().map(str::to_string).collect();
                pu
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn proposals_are_never_broader_and_keep_what_was_used(
            mut sources in prop::collection::vec(source(), 1..4),
            current in usage(),
            ledger in prop::option::of(usage()),
            keep in prop::collection::vec(prop::sample::select(PATTERNS), 0..2),
        ) {
            for (i, s) in sources.iter_mut().enumerate() {
                s.id = format!("src{i}");
                s.label = format!("source {i}");
            }
            let grants = PrincipalGrants {
                logical_id: "P".into(),
                resource_type: "AWS::IAM::Role".into(),
                sources,
                keep: vec![KeepEntry {
                    actions: keep.into_iter().map(str::to_string).collect(),
                    reason: "test".into(),
                    origin: KeepOrigin::Template,
                }],
                permissions_boundary: false,
            };
            let end = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().unwrap_or_default();
            let ev = Evidence {
                current: Some(&current),
                ledger: ledger.as_ref(),
                retention_cutoff: end - Duration::days(400),
                window_end: end,
                window_days: 180,
                coverage: &crate::coverage::Coverage::all_seen(),
                recorded_resources: None,
                names: None,
            };
            let d = decide(&grants, &ev, &[]);
            let index = ResourceIndex::new(
                &[TemplateResource {
                    logical_id: "OrdersTable".into(),
                    resource_type: "AWS::DynamoDB::Table".into(),
                    properties: json!({}),
                }],
                &NameContext { stack_name: Some("orders-app".into()), partition: "aws".into(), ..NameContext::default() },
            );
            let ctx = BuildContext { index: &index, supports_resources: &|_| true };
            let plan = build(&grants, &d, &ctx);

            // Never broader.
            prop_assert!(check_never_broader(&grants, &plan).is_ok(), "{:?}", check_never_broader(&grants, &plan));
            // Nothing ungranted is ever written.
            let granted = grants.granted();
            prop_assert!(plan.actions().is_subset(&granted));
            // Everything kept stays granted (by a new statement or an unchanged source).
            let fixed: BTreeSet<String> = grants.sources.iter()
                .filter(|s| s.kind == SourceKind::Fixed)
                .flat_map(|s| s.statements.iter().filter(|st| st.is_allow()).flat_map(|st| st.effective.iter().cloned()))
                .collect();
            for action in d.kept.keys() {
                prop_assert!(plan.actions().contains(action) || fixed.contains(action), "kept {action} dropped");
            }
            // Every used resource of a kept action stays allowed when an unconditioned
            // literal-resource grant allowed it before.
            for (action, au) in &d.used {
                if !d.kept.contains_key(action) { continue; }
                for arn in &au.resources {
                    let allowed_before = grants.allow_statements().any(|(_, st)| {
                        st.condition.is_none() && st.effective.contains(action)
                            && st.resource_items().iter().all(|r| r.is_string())
                            && st.resource_items().iter().filter_map(|r| r.as_str()).any(|p| resource_matches(p, arn))
                    });
                    if !allowed_before { continue; }
                    let fixed_allows = grants.sources.iter().filter(|s| s.kind == SourceKind::Fixed)
                        .flat_map(|s| s.statements.iter())
                        .any(|st| st.is_allow() && st.effective.contains(action));
                    let allowed_after = fixed_allows || plan.all_statements().any(|n| {
                        n.condition.is_none() && n.actions.contains(action) && match &n.resource {
                            ResourceSpec::Original => true,
                            ResourceSpec::Narrowed { resources } => resources.iter().any(|r| resource_matches(&r.arn, arn)),
                        }
                    });
                    prop_assert!(allowed_after, "{action} on {arn} no longer allowed");
                }
            }
        }
    }

    #[test]
    fn detects_a_broader_statement() {
        use crate::proposal::build::{NarrowedResource, PrincipalPlan, ProposedStatement};
        let st = GrantStatement {
            effect: Effect::Allow,
            actions: vec!["s3:GetObject".into()],
            not_actions: vec![],
            effective: ["s3:GetObject".to_string()].into(),
            resource: Some(json!("arn:aws:s3:::orders/*")),
            not_resource: None,
            condition: None,
            raw: None,
        };
        let grants = PrincipalGrants {
            logical_id: "P".into(),
            resource_type: "AWS::IAM::Role".into(),
            sources: vec![GrantSource {
                id: "s".into(),
                label: "s".into(),
                kind: SourceKind::Document { managed: false },
                statements: vec![st],
                attached_to: vec![],
            }],
            keep: vec![],
            permissions_boundary: false,
        };
        let mut plan = PrincipalPlan::default();
        let proposed = |actions: &[&str], arn: &str| ProposedStatement {
            sid: "S3Access".into(),
            origin_sid: None,
            service: "s3".into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
            resource: ResourceSpec::Narrowed {
                resources: vec![NarrowedResource {
                    expr: json!(arn),
                    arn: arn.into(),
                }],
            },
            original_resource: None,
            not_resource: None,
            condition: None,
        };
        plan.documents.insert(
            0,
            vec![proposed(&["s3:GetObject"], "arn:aws:s3:::orders/*")],
        );
        assert!(check_never_broader(&grants, &plan).is_ok());
        plan.documents
            .insert(0, vec![proposed(&["s3:GetObject"], "arn:aws:s3:::*")]);
        assert!(check_never_broader(&grants, &plan).is_err());
        plan.documents.insert(
            0,
            vec![proposed(&["s3:PutObject"], "arn:aws:s3:::orders/*")],
        );
        assert!(check_never_broader(&grants, &plan).is_err());
        plan.documents
            .insert(0, vec![proposed(&["s3:Get*"], "arn:aws:s3:::orders/*")]);
        assert!(check_never_broader(&grants, &plan).is_err());
    }
}
