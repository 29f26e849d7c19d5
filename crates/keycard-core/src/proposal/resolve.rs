//! Matching template principals to the role ARNs seen in the evidence.
//!
//! A wrong match would propose one role's permissions for another, so matching only accepts
//! what it can justify: an explicit `--role-arn` override, a stack lookup's physical id, a
//! `RoleName` that resolves fully, or CloudFormation's generated name
//! `<stack>-<LogicalId>-<suffix>`. Anything else is reported as unmatched, never guessed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::resources::{Arn, NameContext, resolve_name};

/// Longest IAM role name; CloudFormation truncates generated names to fit it.
const ROLE_NAME_MAX: usize = 64;

/// What is needed to match one principal.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalRef {
    /// The principal's logical id as reported (e.g. `ApiFunction`).
    pub logical_id: String,
    /// The logical id of the IAM role resource behind it (`ApiFunctionRole` for a SAM
    /// function's implicit role); CloudFormation's generated name uses this one.
    pub role_logical_id: String,
    /// `RoleName` (or `UserName`) as written, when set.
    pub name: Option<Value>,
    /// `Path` as written, when set.
    pub path: Option<Value>,
    /// Users are matched by `user/` ARNs.
    pub is_user: bool,
}

/// How a principal was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    Override,
    StackLookup,
    RoleName,
    GeneratedName,
}

/// The outcome for one principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Resolution {
    Matched { arn: String, by: MatchKind },
    Unmatched { reason: String },
}

impl Resolution {
    pub fn arn(&self) -> Option<&str> {
        match self {
            Resolution::Matched { arn, .. } => Some(arn),
            Resolution::Unmatched { .. } => None,
        }
    }
}

/// Matches every principal against the ARNs present in the evidence.
pub fn resolve_principals(
    principals: &[PrincipalRef],
    evidence_arns: &BTreeSet<String>,
    ctx: &NameContext,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, Resolution> {
    let mut out = BTreeMap::new();
    for p in principals {
        out.insert(
            p.logical_id.clone(),
            resolve_one(p, evidence_arns, ctx, overrides),
        );
    }
    out
}

fn resolve_one(
    p: &PrincipalRef,
    evidence_arns: &BTreeSet<String>,
    ctx: &NameContext,
    overrides: &BTreeMap<String, String>,
) -> Resolution {
    if let Some(arn) = overrides
        .get(&p.logical_id)
        .or_else(|| overrides.get(&p.role_logical_id))
    {
        return Resolution::Matched {
            arn: arn.clone(),
            by: MatchKind::Override,
        };
    }
    let kind = if p.is_user { "user" } else { "role" };
    // Names of the evidence ARNs of the right kind (and account, when known).
    let candidates: Vec<(&String, &str)> = evidence_arns
        .iter()
        .filter_map(|arn| {
            let a = Arn::parse(arn)?;
            if a.service != "iam" {
                return None;
            }
            if let Some(acct) = &ctx.account_id
                && a.account != acct
            {
                return None;
            }
            let rest = a.resource.strip_prefix(kind)?.strip_prefix('/')?;
            // The name is the last path segment.
            Some((arn, rest.rsplit('/').next().unwrap_or(rest)))
        })
        .collect();
    let by_name = |name: &str, by: MatchKind| -> Resolution {
        let hits: Vec<&String> = candidates
            .iter()
            .filter(|(_, n)| *n == name)
            .map(|(arn, _)| *arn)
            .collect();
        match hits.as_slice() {
            [one] => Resolution::Matched {
                arn: (*one).clone(),
                by,
            },
            [] => match (&ctx.account_id, by) {
                // Known name and account: the ARN is certain even without activity.
                (Some(acct), MatchKind::RoleName | MatchKind::StackLookup) => {
                    let path = p
                        .path
                        .as_ref()
                        .and_then(|v| resolve_name(v, ctx))
                        .unwrap_or_else(|| "/".into());
                    Resolution::Matched {
                        arn: format!("arn:{}:iam::{acct}:{kind}{path}{name}", ctx.partition),
                        by,
                    }
                }
                _ => Resolution::Unmatched {
                    reason: format!("no {kind} named {name} in the evidence"),
                },
            },
            many => Resolution::Unmatched {
                reason: format!(
                    "{} ARNs named {name} in the evidence (different accounts?); pass --account-id or --role-arn",
                    many.len()
                ),
            },
        }
    };
    if let Some(physical) = ctx
        .physical_ids
        .get(&p.role_logical_id)
        .or_else(|| ctx.physical_ids.get(&p.logical_id))
    {
        if physical.starts_with("arn:") {
            return Resolution::Matched {
                arn: physical.clone(),
                by: MatchKind::StackLookup,
            };
        }
        return by_name(physical, MatchKind::StackLookup);
    }
    if let Some(name_value) = &p.name {
        return match resolve_name(name_value, ctx) {
            Some(name) => by_name(&name, MatchKind::RoleName),
            None => Resolution::Unmatched {
                reason: "RoleName uses values keycard cannot resolve; pass --stack-name/--account-id or --role-arn".into(),
            },
        };
    }
    let Some(stack) = &ctx.stack_name else {
        return Resolution::Unmatched {
            reason: "name is generated by CloudFormation; pass --stack-name or --role-arn".into(),
        };
    };
    let hits: Vec<&String> = candidates
        .iter()
        .filter(|(_, name)| is_generated_role_name(name, stack, &p.role_logical_id))
        .map(|(arn, _)| *arn)
        .collect();
    match hits.as_slice() {
        [one] => Resolution::Matched {
            arn: (*one).clone(),
            by: MatchKind::GeneratedName,
        },
        [] => Resolution::Unmatched {
            reason: format!(
                "no {kind} named {stack}-{}-<suffix> in the evidence",
                p.role_logical_id
            ),
        },
        many => Resolution::Unmatched {
            reason: format!(
                "{} {kind}s match {stack}-{}-<suffix>; pass --role-arn",
                many.len(),
                p.role_logical_id
            ),
        },
    }
}

/// Whether `name` is CloudFormation's generated name for a role: `<stack>-<LogicalId>-<suffix>`
/// with a 12-or-13 character suffix of letters and digits. When the full name would exceed 64
/// characters CloudFormation shortens the stack name and the logical id (keeping their
/// beginnings), so a truncated name is accepted when it is exactly 64 characters long and both
/// parts are non-empty prefixes of the originals.
pub fn is_generated_role_name(name: &str, stack: &str, logical_id: &str) -> bool {
    let Some((head, suffix)) = name.rsplit_once('-') else {
        return false;
    };
    if !(12..=13).contains(&suffix.len()) || !suffix.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    if head == format!("{stack}-{logical_id}") {
        return true;
    }
    if name.len() != ROLE_NAME_MAX
        || format!("{stack}-{logical_id}-{suffix}").len() <= ROLE_NAME_MAX
    {
        return false;
    }
    // Truncated: some split of `head` into a stack prefix and a logical-id prefix.
    head.match_indices('-').any(|(i, _)| {
        let (s, l) = (&head[..i], &head[i + 1..]);
        !s.is_empty() && !l.is_empty() && stack.starts_with(s) && logical_id.starts_with(l)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> NameContext {
        NameContext {
            stack_name: Some("orders-app".into()),
            account_id: Some("123456789012".into()),
            partition: "aws".into(),
            ..NameContext::default()
        }
    }

    fn p(logical: &str, role_logical: &str, name: Option<Value>) -> PrincipalRef {
        PrincipalRef {
            logical_id: logical.into(),
            role_logical_id: role_logical.into(),
            name,
            path: None,
            is_user: false,
        }
    }

    fn arns(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn matches_generated_names_role_names_and_overrides() {
        let evidence = arns(&[
            "arn:aws:iam::123456789012:role/orders-app-ApiFunctionRole-1AbCdEfGh2Ij",
            "arn:aws:iam::123456789012:role/orders-app-ApiFunctionRoleV2-1AbCdEfGh2Ik",
            "arn:aws:iam::123456789012:role/orders-app-worker",
            "arn:aws:iam::999999999999:role/orders-app-StateMachineRole-ZZZZZZZZZZZZ",
        ]);
        let principals = vec![
            p("ApiFunction", "ApiFunctionRole", None),
            p(
                "WorkerRole",
                "WorkerRole",
                Some(json!({"Fn::Sub": "${AWS::StackName}-worker"})),
            ),
            p("StateMachineRole", "StateMachineRole", None),
            p("Legacy", "Legacy", None),
        ];
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "Legacy".to_string(),
            "arn:aws:iam::123456789012:role/legacy".to_string(),
        );
        let r = resolve_principals(&principals, &evidence, &ctx(), &overrides);
        assert_eq!(
            r["ApiFunction"],
            Resolution::Matched {
                arn: "arn:aws:iam::123456789012:role/orders-app-ApiFunctionRole-1AbCdEfGh2Ij"
                    .into(),
                by: MatchKind::GeneratedName
            }
        );
        assert_eq!(
            r["WorkerRole"].arn(),
            Some("arn:aws:iam::123456789012:role/orders-app-worker")
        );
        // The other account's role is not taken.
        assert!(matches!(
            r["StateMachineRole"],
            Resolution::Unmatched { .. }
        ));
        assert_eq!(
            r["Legacy"],
            Resolution::Matched {
                arn: "arn:aws:iam::123456789012:role/legacy".into(),
                by: MatchKind::Override
            }
        );
    }

    #[test]
    fn without_a_stack_name_generated_names_are_not_guessed() {
        let evidence =
            arns(&["arn:aws:iam::123456789012:role/orders-app-ApiFunctionRole-1AbCdEfGh2Ij"]);
        let c = NameContext {
            partition: "aws".into(),
            ..NameContext::default()
        };
        let r = resolve_principals(
            &[p("ApiFunction", "ApiFunctionRole", None)],
            &evidence,
            &c,
            &BTreeMap::new(),
        );
        assert!(matches!(r["ApiFunction"], Resolution::Unmatched { .. }));
    }

    #[test]
    fn stack_lookup_physical_ids_win() {
        let evidence =
            arns(&["arn:aws:iam::123456789012:role/orders-app-ApiFunctionRole-1AbCdEfGh2Ij"]);
        let mut c = ctx();
        c.physical_ids.insert(
            "ApiFunctionRole".into(),
            "orders-app-ApiFunctionRole-1AbCdEfGh2Ij".into(),
        );
        c.physical_ids
            .insert("WorkerRole".into(), "orders-app-worker-x".into());
        let r = resolve_principals(
            &[
                p("ApiFunctionRole", "ApiFunctionRole", None),
                p("WorkerRole", "WorkerRole", None),
            ],
            &evidence,
            &c,
            &BTreeMap::new(),
        );
        assert_eq!(
            r["ApiFunctionRole"],
            Resolution::Matched {
                arn: "arn:aws:iam::123456789012:role/orders-app-ApiFunctionRole-1AbCdEfGh2Ij"
                    .into(),
                by: MatchKind::StackLookup
            }
        );
        // Known name and account: the ARN is certain even without activity.
        assert_eq!(
            r["WorkerRole"].arn(),
            Some("arn:aws:iam::123456789012:role/orders-app-worker-x")
        );
    }

    #[test]
    fn users_are_matched_by_user_arns_only() {
        let evidence = arns(&[
            "arn:aws:iam::123456789012:role/deployer",
            "arn:aws:iam::123456789012:user/ci/deployer",
        ]);
        let mut user = p("Deployer", "Deployer", Some(json!("deployer")));
        user.is_user = true;
        let r = resolve_principals(&[user], &evidence, &ctx(), &BTreeMap::new());
        assert_eq!(
            r["Deployer"].arn(),
            Some("arn:aws:iam::123456789012:user/ci/deployer")
        );
    }

    #[test]
    fn truncated_generated_names() {
        let stack = "a-very-long-stack-name-for-the-orders-application";
        let logical = "FulfilmentStateMachineExecutionRole";
        let name = "a-very-long-stack-name-for-the-or-FulfilmentStateMa-ABCDEFGHIJKL";
        assert_eq!(name.len(), 64);
        assert!(is_generated_role_name(name, stack, logical));
        assert!(!is_generated_role_name(name, stack, "OtherRole"));
        assert!(is_generated_role_name("s-R-ABCDEFGHIJKL", "s", "R"));
        assert!(!is_generated_role_name("s-R-ABC", "s", "R"));
    }
}
