//! Matching template principals to the role ARNs seen in the evidence.
//!
//! A wrong match would propose one role's permissions for another, so matching only accepts
//! what it can justify: an explicit `--role-arn` override, a stack lookup's physical id, a
//! `RoleName` that resolves fully, or CloudFormation's generated name
//! `<stack>-<LogicalId>-<suffix>`. Anything else is reported as unmatched, never guessed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    let candidates = Candidates::new(evidence_arns, ctx);
    let mut out = BTreeMap::new();
    for p in principals {
        out.insert(
            p.logical_id.clone(),
            resolve_one(p, &candidates, ctx, overrides),
        );
    }
    out
}

#[cfg(test)]
thread_local! {
    /// Evidence ARNs parsed while resolving, on this thread: tests assert that it is the number
    /// of ARNs, not ARNs × principals.
    static ARN_PARSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Evidence ARNs parsed while resolving on this thread so far (tests only).
#[cfg(test)]
pub(crate) fn arn_parses() -> usize {
    ARN_PARSES.with(std::cell::Cell::get)
}

/// The evidence ARNs of one kind (`role` or `user`, of the account when known), parsed once for
/// every principal and indexed by name and by the head of a generated name. Filtering every
/// ARN for every principal made resolution quadratic in the number of roles (1,600 roles: 2.6
/// million ARN parses and name comparisons, each formatting `<stack>-<LogicalId>`).
#[derive(Default)]
struct KindCandidates<'e> {
    /// `(ARN, name)` in evidence order.
    all: Vec<(&'e String, &'e str)>,
    /// Indexes into `all` by name.
    by_name: HashMap<&'e str, Vec<usize>>,
    /// Indexes into `all` of the names shaped `<head>-<suffix>` (a 12 or 13 character
    /// alphanumeric suffix, as CloudFormation generates), by head.
    by_head: HashMap<&'e str, Vec<usize>>,
}

/// Role and user candidates.
struct Candidates<'e> {
    roles: KindCandidates<'e>,
    users: KindCandidates<'e>,
}

impl<'e> Candidates<'e> {
    fn new(evidence_arns: &'e BTreeSet<String>, ctx: &NameContext) -> Self {
        let mut c = Candidates {
            roles: KindCandidates::default(),
            users: KindCandidates::default(),
        };
        for arn in evidence_arns {
            #[cfg(test)]
            ARN_PARSES.with(|n| n.set(n.get() + 1));
            let Some(a) = Arn::parse(arn) else {
                continue;
            };
            if a.service != "iam" {
                continue;
            }
            if let Some(acct) = &ctx.account_id
                && a.account != acct
            {
                continue;
            }
            for (kind, list) in [("role", &mut c.roles), ("user", &mut c.users)] {
                if let Some(rest) = a
                    .resource
                    .strip_prefix(kind)
                    .and_then(|r| r.strip_prefix('/'))
                {
                    // The name is the last path segment.
                    list.push(arn, rest.rsplit('/').next().unwrap_or(rest));
                }
            }
        }
        c
    }

    fn of(&self, is_user: bool) -> &KindCandidates<'e> {
        if is_user { &self.users } else { &self.roles }
    }
}

impl<'e> KindCandidates<'e> {
    fn push(&mut self, arn: &'e String, name: &'e str) {
        let i = self.all.len();
        self.all.push((arn, name));
        self.by_name.entry(name).or_default().push(i);
        if let Some((head, suffix)) = name.rsplit_once('-')
            && generated_suffix(suffix)
        {
            self.by_head.entry(head).or_default().push(i);
        }
    }

    /// The ARNs whose name is `name`, in evidence order.
    fn named(&self, name: &str) -> Vec<&'e String> {
        self.arns(self.by_name.get(name).into_iter().flatten().copied())
    }

    /// The ARNs whose name [`is_generated_role_name`] accepts for `stack` and `logical_id`, in
    /// evidence order, found by lookups: the full head `<stack>-<LogicalId>`, and, when the full
    /// name would exceed 64 characters, every head CloudFormation's truncation could produce
    /// (a non-empty prefix of each, their lengths fixed by the suffix's).
    fn generated(&self, stack: &str, logical_id: &str) -> Vec<&'e String> {
        let mut hits: BTreeSet<usize> = BTreeSet::new();
        let full = format!("{stack}-{logical_id}");
        hits.extend(self.by_head.get(full.as_str()).into_iter().flatten());
        for suffix_len in 12..=13 {
            if full.len() + 1 + suffix_len <= ROLE_NAME_MAX {
                continue;
            }
            let head_len = ROLE_NAME_MAX - 1 - suffix_len;
            for i in 1..head_len.saturating_sub(1) {
                let (Some(s), Some(l)) = (stack.get(..i), logical_id.get(..head_len - 1 - i))
                else {
                    continue;
                };
                let head = format!("{s}-{l}");
                hits.extend(
                    self.by_head
                        .get(head.as_str())
                        .into_iter()
                        .flatten()
                        .filter(|j| self.all[**j].1.len() == ROLE_NAME_MAX),
                );
            }
        }
        self.arns(hits.into_iter())
    }

    fn arns(&self, indexes: impl Iterator<Item = usize>) -> Vec<&'e String> {
        indexes
            .filter_map(|i| self.all.get(i).map(|(arn, _)| *arn))
            .collect()
    }
}

/// Whether `suffix` has the shape of the random part of a generated name.
fn generated_suffix(suffix: &str) -> bool {
    (12..=13).contains(&suffix.len()) && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn resolve_one(
    p: &PrincipalRef,
    candidates: &Candidates<'_>,
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
    let candidates = candidates.of(p.is_user);
    let by_name = |name: &str, by: MatchKind| -> Resolution {
        let hits = candidates.named(name);
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
    let hits = candidates.generated(stack, &p.role_logical_id);
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
    if !generated_suffix(suffix) {
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
    fn indexed_generated_name_lookup_agrees_with_the_predicate() {
        // Every (stack, logical id) pair against every name: the index must find exactly the
        // names `is_generated_role_name` accepts, truncated ones included.
        let stacks = [
            "s",
            "orders-app",
            "a-very-long-stack-name-for-the-orders-application",
        ];
        let logicals = [
            "R",
            "ApiFunctionRole",
            "FulfilmentStateMachineExecutionRole",
            "FulfilmentStateMachineExecutionRoleV2",
        ];
        let mut names: Vec<String> = vec![
            "s-R-ABCDEFGHIJKL".into(),
            "s-R-ABC".into(),
            "orders-app-worker".into(),
            "a-very-long-stack-name-for-the-or-FulfilmentStateMa-ABCDEFGHIJKL".into(),
            "a-very-long-stack-name-for-the-o-FulfilmentStateMac-ABCDEFGHIJKLM".into(),
        ];
        for s in stacks {
            for l in logicals {
                for suffix in ["ABCDEFGHIJKL", "1AbCdEfGh2IjK"] {
                    let full = format!("{s}-{l}-{suffix}");
                    names.push(full.clone());
                    if full.len() > ROLE_NAME_MAX {
                        // CloudFormation's shortening, at several split points.
                        let head = ROLE_NAME_MAX - 1 - suffix.len();
                        for keep in [1, 5, 20, 33] {
                            if keep < s.len() && head - 1 - keep <= l.len() && head > keep + 1 {
                                names.push(format!(
                                    "{}-{}-{suffix}",
                                    &s[..keep],
                                    &l[..head - 1 - keep]
                                ));
                            }
                        }
                    }
                }
            }
        }
        let evidence: BTreeSet<String> = names
            .iter()
            .map(|n| format!("arn:aws:iam::123456789012:role/{n}"))
            .collect();
        let c = Candidates::new(&evidence, &ctx());
        let mut matched = 0;
        for s in stacks {
            for l in logicals {
                let want: Vec<&String> = evidence
                    .iter()
                    .filter(|arn| {
                        let name = arn.rsplit('/').next().unwrap_or("");
                        is_generated_role_name(name, s, l)
                    })
                    .collect();
                matched += want.len();
                assert_eq!(c.roles.generated(s, l), want, "{s} {l}");
            }
        }
        assert!(matched > stacks.len() * logicals.len(), "{matched}");
    }

    #[test]
    fn each_evidence_arn_is_parsed_once_whatever_the_number_of_principals() {
        let parses = |n: usize| {
            let evidence: BTreeSet<String> = (0..n)
                .map(|i| format!("arn:aws:iam::123456789012:role/orders-app-W{i}Role-ABCDEFGHIJKL"))
                .collect();
            let principals: Vec<PrincipalRef> = (0..n)
                .map(|i| p(&format!("W{i}Role"), &format!("W{i}Role"), None))
                .collect();
            let before = arn_parses();
            let r = resolve_principals(&principals, &evidence, &ctx(), &BTreeMap::new());
            assert_eq!(r.values().filter(|r| r.arn().is_some()).count(), n);
            arn_parses() - before
        };
        assert_eq!(parses(3), 3);
        assert_eq!(parses(40), 40);
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
