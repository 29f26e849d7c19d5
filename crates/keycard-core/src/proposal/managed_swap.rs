//! An AWS managed policy that grants exactly what is kept stays an AWS managed policy.
//!
//! An over-broad AWS managed policy on an active role is normally replaced by explicit
//! statements narrowed to the evidence ([`super::build`]). When an AWS managed policy grants
//! exactly the actions kept from it, explicit statements only re-spell it: a reviewer reads
//! `AWSLambdaBasicExecutionRole` faster than three logs statements, and AWS maintains it. So:
//!
//! - the attached policy stays as it is when nothing it grants is removed
//!   ([`ManagedChoice::Keep`]);
//! - otherwise it is swapped for another AWS managed policy ([`ManagedChoice::Narrower`]) when
//!   that policy's expanded actions are exactly the actions kept from the original (after
//!   keep-lists and unobservable actions), which also makes them a subset of the original grant.
//!   Exactness covers resources and conditions too: every Allow statement of the narrower
//!   policy is unconditioned on `Resource: "*"`, and the original grants each of those actions
//!   the same way, so the swap never grants more and never breaks a call the original allowed.
//!   A policy with Deny statements on either side is never swapped (the Deny would change).
//!
//! Anything else gets explicit statements, as before.

use std::collections::BTreeSet;

use serde_json::Value;

use super::decide::Decision;
use super::model::{GrantSource, GrantStatement, PrincipalGrants, SourceKind};
use crate::catalog::Catalog;
use crate::managed_policies::{ManagedPolicies, ManagedPolicy};

/// What happens to one AWS managed policy of a principal.
#[derive(Debug, Clone, PartialEq)]
pub enum ManagedChoice {
    /// Nothing it grants is removed: it stays attached, unchanged.
    Keep { name: String },
    /// Swapped for `to`, which grants exactly the kept actions.
    Narrower {
        from: String,
        to: &'static ManagedPolicy,
        /// The actions `to` grants (= those kept from `from`).
        actions: BTreeSet<String>,
        /// Other AWS managed policies granting exactly the same, for the reviewer.
        alternatives: Vec<String>,
    },
}

impl ManagedChoice {
    /// One line for report.json / report.md: what was done and why.
    pub fn explain(&self, removed_from_original: usize) -> String {
        match self {
            ManagedChoice::Keep { name } => format!(
                "{name} kept as it is: every action it grants is kept (used, on a keep-list, or not observable), so explicit statements would grant the same"
            ),
            ManagedChoice::Narrower {
                from,
                to,
                actions,
                alternatives,
            } => format!(
                "{from} replaced by the AWS managed policy {}: it grants exactly the {} kept actions ({}) on the same resources, and none of the {removed_from_original} removed ones{}",
                to.name(),
                actions.len(),
                actions.iter().cloned().collect::<Vec<_>>().join(", "),
                if alternatives.is_empty() {
                    String::new()
                } else {
                    format!(" (also exact: {})", alternatives.join(", "))
                }
            ),
        }
    }
}

/// Decides whether the AWS managed policy `source` stays or is swapped for a narrower one,
/// given the actions `kept` for the principal. `None`: explicit statements replace it.
/// `prefer` breaks ties between equally exact policies ([`preferred_word`]).
pub fn choose(
    source: &GrantSource,
    kept: &BTreeSet<String>,
    prefer: Option<&str>,
) -> Option<ManagedChoice> {
    let SourceKind::AwsManaged { name } = &source.kind else {
        return None;
    };
    let granted: BTreeSet<&String> = source
        .statements
        .iter()
        .filter(|s| s.is_allow())
        .flat_map(|s| s.effective.iter())
        .collect();
    let kept_here: BTreeSet<String> = granted
        .iter()
        .filter(|a| kept.contains(a.as_str()))
        .map(|a| (*a).clone())
        .collect();
    if kept_here.is_empty() {
        // Nothing is kept: the policy goes, no replacement needed.
        return None;
    }
    if kept_here.len() == granted.len() {
        return Some(ManagedChoice::Keep { name: name.clone() });
    }
    if source.statements.iter().any(|s| !s.is_allow()) {
        return None;
    }
    // Actions the original grants unconditioned on every resource.
    let on_all: BTreeSet<&String> = source
        .statements
        .iter()
        .filter(|s| {
            s.is_allow()
                && s.condition.is_none()
                && s.not_resource.is_none()
                && s.resource_items().iter().any(|r| r.as_str() == Some("*"))
        })
        .flat_map(|s| s.effective.iter())
        .collect();
    if !kept_here.iter().all(|a| on_all.contains(a)) {
        return None;
    }
    let services: BTreeSet<String> = kept_here
        .iter()
        .filter_map(|a| a.split_once(':').map(|(s, _)| s.to_ascii_lowercase()))
        .collect();
    let catalog = Catalog::embedded();
    let mut exact: Vec<&'static ManagedPolicy> = ManagedPolicies::embedded()
        .iter()
        .filter(|p| p.name() != name && !p.is_service_linked())
        .filter(|p| p.statements().iter().all(unconditioned_allow_on_all))
        .filter(|p| p.services().is_subset(&services))
        .filter(|p| {
            let e = p.allowed_actions(catalog);
            e.unknown.is_empty() && e.actions == kept_here
        })
        .collect();
    // Several policies can grant the same actions (AWSLambdaBasicExecutionRole and
    // AWSAppSyncPushToCloudWatchLogs): the one named for the principal's service reads right;
    // otherwise the longest unchanged one (earliest last update), the general-purpose policy
    // that service-specific copies were modelled on; then the name.
    let preferred = |p: &ManagedPolicy| {
        prefer.is_some_and(|w| {
            p.name()
                .to_ascii_lowercase()
                .contains(&w.to_ascii_lowercase())
        })
    };
    exact.sort_by_key(|p| (!preferred(p), p.updated().to_string(), p.name().to_string()));
    let to = *exact.first()?;
    Some(ManagedChoice::Narrower {
        from: name.clone(),
        to,
        actions: kept_here,
        alternatives: exact[1..].iter().map(|p| p.name().to_string()).collect(),
    })
}

/// The word AWS managed policies for a principal's service carry in their names, used to pick
/// among equally exact policies: `Lambda` for a SAM function's role, `StepFunctions` for a
/// state machine's.
pub fn preferred_word(resource_type: &str) -> Option<&'static str> {
    match resource_type {
        "AWS::Serverless::Function" | "AWS::Lambda::Function" => Some("Lambda"),
        "AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine" => {
            Some("StepFunctions")
        }
        _ => None,
    }
}

/// Applies [`choose`] to every AWS managed policy of a principal that gets a proposal. A kept
/// policy becomes `Fixed` (left as it is); a swapped one becomes `Fixed` with the narrower
/// policy's grant, so building and the never-broader check see what the template will hold.
/// Neither is reported as replaced by explicit statements. Returns, per changed source id,
/// the choice and its explanation for the report.
pub fn apply(
    grants: &mut PrincipalGrants,
    decision: &mut Decision,
) -> Vec<(String, ManagedChoice, String)> {
    let kept: BTreeSet<String> = decision.kept.keys().cloned().collect();
    let prefer = preferred_word(&grants.resource_type);
    let mut out = Vec::new();
    for source in &mut grants.sources {
        let Some(choice) = choose(source, &kept, prefer) else {
            continue;
        };
        let granted: BTreeSet<&String> = source
            .statements
            .iter()
            .filter(|s| s.is_allow())
            .flat_map(|s| s.effective.iter())
            .collect();
        let removed = granted
            .iter()
            .filter(|a| !kept.contains(a.as_str()))
            .count();
        let why = choice.explain(removed);
        decision
            .replaced_sources
            .retain(|r| r.source != source.label);
        source.freeze(why.clone());
        if let ManagedChoice::Narrower { to, actions, .. } = &choice {
            source.label = to.name().to_string();
            source.statements = vec![GrantStatement::allow_all_resources(actions.iter().cloned())];
        }
        out.push((source.id.clone(), choice, why));
    }
    out
}

/// `{"Effect": "Allow", "Action": …, "Resource": "*"}` with nothing else that narrows or widens.
fn unconditioned_allow_on_all(st: &Value) -> bool {
    let Some(obj) = st.as_object() else {
        return false;
    };
    let resource_all = match obj.get("Resource") {
        Some(Value::String(s)) => s == "*",
        Some(Value::Array(items)) => items.iter().all(|i| i.as_str() == Some("*")),
        _ => false,
    };
    obj.get("Effect").and_then(Value::as_str) == Some("Allow")
        && obj.contains_key("Action")
        && resource_all
        && obj
            .keys()
            .all(|k| matches!(k.as_str(), "Sid" | "Effect" | "Action" | "Resource"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proposal::model::GrantStatement;

    fn source_of(name: &str) -> GrantSource {
        let policy = ManagedPolicies::embedded().get(name).unwrap();
        let catalog = Catalog::embedded();
        let statements = policy
            .statements()
            .iter()
            .map(|raw| {
                let mut st = GrantStatement::allow_all_resources(std::iter::empty());
                let strings = |k: &str| -> Vec<String> {
                    match raw.get(k) {
                        Some(Value::String(s)) => vec![s.clone()],
                        Some(Value::Array(a)) => a
                            .iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect(),
                        _ => Vec::new(),
                    }
                };
                st.actions = strings("Action");
                st.not_actions = strings("NotAction");
                st.effective = catalog
                    .effective(&st.actions, &st.not_actions)
                    .actions
                    .into();
                st.resource = raw.get("Resource").cloned();
                st.condition = raw.get("Condition").cloned();
                st.raw = Some(raw.clone());
                if raw.get("Effect").and_then(Value::as_str) == Some("Deny") {
                    st.effect = crate::policy::Effect::Deny;
                }
                st
            })
            .collect();
        GrantSource {
            id: format!("/Resources/Role/Properties/ManagedPolicyArns/0#{name}"),
            label: name.into(),
            kind: SourceKind::AwsManaged { name: name.into() },
            statements,
            attached_to: vec!["Role".into()],
            fixed_reason: None,
        }
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_policy_whose_every_action_is_kept_stays() {
        let basic = source_of("AWSLambdaBasicExecutionRole");
        let kept = set(&[
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "s3:GetObject",
        ]);
        assert_eq!(
            choose(&basic, &kept, None),
            Some(ManagedChoice::Keep {
                name: "AWSLambdaBasicExecutionRole".into()
            })
        );
    }

    #[test]
    fn a_broad_policy_becomes_the_managed_policy_granting_exactly_what_is_kept() {
        // CloudWatchLogsFullAccess grants logs:* on *; the function kept only what
        // AWSLambdaBasicExecutionRole grants.
        let full = source_of("CloudWatchLogsFullAccess");
        let kept = set(&[
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ]);
        match choose(&full, &kept, preferred_word("AWS::Serverless::Function")) {
            Some(ManagedChoice::Narrower {
                from,
                to,
                actions,
                alternatives,
            }) => {
                assert_eq!(from, "CloudWatchLogsFullAccess");
                assert_eq!(to.name(), "AWSLambdaBasicExecutionRole");
                assert_eq!(actions, kept);
                // Equally exact policies are named for the reviewer.
                assert!(alternatives.contains(&"AWSAppSyncPushToCloudWatchLogs".to_string()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_swap_when_no_policy_is_exact_or_nothing_is_kept() {
        let s3 = source_of("AmazonS3FullAccess");
        // No AWS managed policy grants exactly s3:GetObject + s3:PutObject.
        assert_eq!(
            choose(&s3, &set(&["s3:GetObject", "s3:PutObject"]), None),
            None
        );
        assert_eq!(choose(&s3, &set(&["dynamodb:GetItem"]), None), None);
        // A kept set one action short of a managed policy is not that policy.
        let full = source_of("CloudWatchLogsFullAccess");
        assert_eq!(
            choose(
                &full,
                &set(&["logs:CreateLogStream", "logs:PutLogEvents"]),
                None
            ),
            None
        );
    }

    #[test]
    fn actions_granted_only_under_a_condition_or_on_named_resources_are_never_swapped() {
        // Kept actions the original grants only under a Condition, or only on some resources:
        // an AWS managed policy granting them unconditioned on * would be broader.
        let kept = set(&[
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ]);
        let mut logs = source_of("CloudWatchLogsFullAccess");
        for st in &mut logs.statements {
            st.condition = Some(serde_json::json!({"Bool": {"aws:SecureTransport": "true"}}));
        }
        assert_eq!(choose(&logs, &kept, None), None);
        let mut logs = source_of("CloudWatchLogsFullAccess");
        for st in &mut logs.statements {
            st.resource = Some(serde_json::json!(
                "arn:aws:logs:*:*:log-group:/aws/lambda/*"
            ));
        }
        assert_eq!(choose(&logs, &kept, None), None);
    }
}
