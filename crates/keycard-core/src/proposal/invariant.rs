//! The never-broader invariant: a proposal never allows anything the current template does not.
//!
//! [`super::build`] derives every statement from an original one, so this holds by
//! construction; this module checks it again without trusting that code, for every proposal
//! made (a violation is an error, never a warning) and in the property tests.

use serde::{Deserialize, Serialize};

use super::build::{PrincipalPlan, ProposedStatement, ResourceSpec};
use super::model::{GrantStatement, PrincipalGrants};
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
/// Allow statement with the same Condition, in the same deployments: a statement written into
/// a document (or a connector) derives from that same source, from a statement under the same
/// `Fn::If` branch when it is written under one ([`ProposedStatement::branch`]) and from one
/// outside every `Fn::If` of the document otherwise; a replacement statement (written into a
/// new policy, under no condition) derives from a replaced source, which is never under `Fn::If`.
pub fn check_never_broader(
    grants: &PrincipalGrants,
    plan: &PrincipalPlan,
) -> Result<(), Violation> {
    for (i, statements) in &plan.documents {
        let Some(source) = grants.sources.get(*i) else {
            if let Some(n) = statements.first() {
                return Err(violation(grants, n, "(unknown source)".into()));
            }
            continue;
        };
        for n in statements {
            let originals: Vec<&GrantStatement> = source
                .statements
                .iter()
                .filter(|st| st.is_allow() && st.branch == n.branch)
                .collect();
            check_statement(grants, n, &originals)?;
        }
    }
    let replaced: Vec<&GrantStatement> = grants
        .sources
        .iter()
        .filter(|s| s.is_replaceable())
        .flat_map(|s| s.statements.iter())
        .filter(|st| st.is_allow() && st.branch.is_none())
        .collect();
    for n in &plan.replacement {
        check_statement(grants, n, &replaced)?;
    }
    // A SAM policy template written instead of replacement statements: each of its (action,
    // Resource) pairs, region and account open, inside an unconditioned replaced statement.
    let unconditioned: Vec<&GrantStatement> = replaced
        .iter()
        .copied()
        .filter(|st| !st.conditional && st.condition.is_none())
        .collect();
    for t in &plan.policy_templates {
        if let Err((action, resource)) = super::policy_template_swap::within(&unconditioned, t) {
            return Err(Violation {
                principal: grants.logical_id.clone(),
                sid: t.name.clone(),
                action,
                resource,
            });
        }
    }
    Ok(())
}

fn violation(grants: &PrincipalGrants, n: &ProposedStatement, what: String) -> Violation {
    Violation {
        principal: grants.logical_id.clone(),
        sid: n.sid.clone(),
        action: n.actions.iter().next().cloned().unwrap_or_default(),
        resource: what,
    }
}

/// One proposed statement against the original statements it may derive from.
fn check_statement(
    grants: &PrincipalGrants,
    n: &ProposedStatement,
    originals: &[&GrantStatement],
) -> Result<(), Violation> {
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
        let same_scope =
            |o: &&&GrantStatement| o.effective.contains(action) && o.condition == n.condition;
        match &n.resource {
            ResourceSpec::Original => {
                let ok = originals
                    .iter()
                    .filter(same_scope)
                    .any(|o| o.resource == n.original_resource && o.not_resource == n.not_resource);
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
                    let ok = originals.iter().filter(same_scope).any(|o| {
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
                        effective: effective(&actions, &not_actions).into(),
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
                        conditional: false,
                        branch: None,
                    }
                },
            )
    }

    /// Where a statement of a document sits: outside any `Fn::If`, or under one of the two
    /// branches of a statement-level `Fn::If`.
    const BRANCHES: &[Option<&str>] = &[None, Some("/s/0/Fn::If/1"), Some("/s/0/Fn::If/2")];

    fn source() -> impl Strategy<Value = GrantSource> {
        (
            0u8..6,
            prop::collection::vec(
                (
                    statement(),
                    prop::sample::select(BRANCHES),
                    prop::sample::select(&["Read", "Write"][..]),
                ),
                1..4,
            ),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(k, placed, under_if)| {
                let mut statements: Vec<GrantStatement> = Vec::new();
                let mut categories = Vec::new();
                for (mut st, branch, category) in placed {
                    // Statement-level `Fn::If` only exists in documents.
                    if k == 0 {
                        st.branch = branch.map(str::to_string);
                    }
                    // A whole document under `Fn::If` (or a resource Condition).
                    st.conditional = st.branch.is_some() || (k == 0 && under_if);
                    statements.push(st);
                    categories.push(category.to_string());
                }
                let kind = match k {
                    0 => SourceKind::Document { managed: false },
                    1 => SourceKind::AwsManaged {
                        name: "AdministratorAccess".into(),
                    },
                    2 => SourceKind::SamPolicyTemplate {
                        name: "DynamoDBCrudPolicy".into(),
                    },
                    3 => SourceKind::Connector {
                        kept_because: None,
                        categories: vec!["Read".into(), "Write".into()],
                        statement_categories: categories,
                    },
                    _ => SourceKind::Fixed,
                };
                GrantSource {
                    id: String::new(),
                    label: String::new(),
                    kind,
                    statements,
                    attached_to: vec!["P".into()],
                    fixed_reason: None,
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
                    depends_on: Vec::new(),
                }],
                &NameContext { stack_name: Some("orders-app".into()), partition: "aws".into(), ..NameContext::default() },
            );
            let ctx = BuildContext { index: &index, supports_resources: &|_| true, avoid: Default::default() };
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
            // ...in every deployment: a kept action granted under an `Fn::If` branch (or in a
            // conditional document) stays granted there, or by a statement present in every
            // deployment.
            let everywhere = |action: &str| {
                fixed.contains(action)
                    || plan.replacement.iter().any(|n| n.actions.contains(action))
                    || plan.documents.iter().any(|(i, ns)| {
                        // Not a whole document under `Fn::If`, and outside its `Fn::If`s.
                        let whole = grants.sources[*i]
                            .statements
                            .iter()
                            .any(|st| st.conditional && st.branch.is_none());
                        !whole
                            && ns
                                .iter()
                                .any(|n| n.branch.is_none() && n.actions.contains(action))
                    })
            };
            for (si, s) in grants.sources.iter().enumerate() {
                if !s.is_document() { continue; }
                for st in s.statements.iter().filter(|st| st.is_allow() && st.conditional) {
                    for action in st.effective.iter().filter(|a| d.kept.contains_key(*a)) {
                        let there = plan.documents.get(&si).is_some_and(|ns| {
                            ns.iter().any(|n| n.branch == st.branch && n.actions.contains(action))
                        });
                        prop_assert!(there || everywhere(action), "kept {action} lost under {:?}", st.branch);
                    }
                }
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
            conditional: false,
            branch: None,
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
                fixed_reason: None,
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
            branch: None,
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

        // Under a statement-level Fn::If, a statement derives only from its own branch: taken
        // out of the branch it would hold in the other deployment too.
        let mut branched = grants.clone();
        branched.sources[0].statements[0].branch = Some("/Statement/0/Fn::If/1".into());
        branched.sources[0].statements[0].conditional = true;
        let mut in_branch = proposed(&["s3:GetObject"], "arn:aws:s3:::orders/*");
        in_branch.branch = Some("/Statement/0/Fn::If/1".into());
        plan.documents.insert(0, vec![in_branch.clone()]);
        assert!(check_never_broader(&branched, &plan).is_ok());
        plan.documents.insert(
            0,
            vec![proposed(&["s3:GetObject"], "arn:aws:s3:::orders/*")],
        );
        assert!(check_never_broader(&branched, &plan).is_err());
        in_branch.branch = Some("/Statement/0/Fn::If/2".into());
        plan.documents.insert(0, vec![in_branch]);
        assert!(check_never_broader(&branched, &plan).is_err());

        // Statements of one source never land in another (a document under Fn::If would
        // otherwise leak into an unconditional one), nor in the replacement.
        let mut two = grants.clone();
        two.sources.push(GrantSource {
            id: "t".into(),
            label: "t".into(),
            kind: SourceKind::Document { managed: false },
            statements: vec![],
            attached_to: vec![],
            fixed_reason: None,
        });
        let mut plan = PrincipalPlan::default();
        plan.documents.insert(
            1,
            vec![proposed(&["s3:GetObject"], "arn:aws:s3:::orders/*")],
        );
        assert!(check_never_broader(&two, &plan).is_err());
        let plan = PrincipalPlan {
            replacement: vec![proposed(&["s3:GetObject"], "arn:aws:s3:::orders/*")],
            ..PrincipalPlan::default()
        };
        assert!(check_never_broader(&two, &plan).is_err());
    }
}
