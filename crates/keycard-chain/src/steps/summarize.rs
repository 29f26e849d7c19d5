//! The run summary: what was analysed, what was proposed, what failed or was skipped.
//!
//! It is the execution's output (what a person sees in the console) and is also written to
//! `runs/<execution>/summary.json`. Nothing in it is large: counts, keys, and one line per
//! problem.

use std::collections::BTreeMap;

use crate::contract::{self as chain, StepError, SummaryInput, keys, to_json_bytes};
use keycard_aws::{Config, ObjectStore};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A role that was not analysed to the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleProblem {
    pub stack: String,
    pub logical_id: String,
    pub outcome: String,
    pub detail: String,
}

/// The execution output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub execution: String,
    pub window_start: String,
    pub window_end: String,
    /// Role outcomes by name (`succeeded`, `failed`, `timed_out`, …), plus `skipped` for
    /// roles discovery did not schedule.
    pub roles: BTreeMap<String, usize>,
    /// One entry per stack: where its proposal is, or why there is none.
    pub stacks: Vec<Value>,
    pub problems: Vec<RoleProblem>,
    pub summary_key: String,
}

pub async fn handle<S: ObjectStore>(
    store: &S,
    config: &Config,
    input: SummaryInput,
) -> Result<Summary, StepError> {
    input.run.validate()?;
    let mut roles: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for o in &input.role_outcomes {
        *roles.entry(o.outcome.clone()).or_default() += 1;
        if o.outcome != "succeeded" {
            problems.push(RoleProblem {
                stack: o.stack.clone(),
                logical_id: o.logical_id.clone(),
                outcome: o.outcome.clone(),
                detail: o
                    .error
                    .as_ref()
                    .map(chain::describe_error)
                    .unwrap_or_default(),
            });
        }
    }
    if !input.skipped.is_empty() {
        roles.insert("skipped".to_owned(), input.skipped.len());
    }
    for s in &input.skipped {
        problems.push(RoleProblem {
            stack: s.stack.clone(),
            logical_id: s.logical_id.clone(),
            outcome: "skipped".to_owned(),
            detail: s.reason.clone(),
        });
    }
    let key = keys::summary(&input.run.execution_name);
    let summary = Summary {
        execution: input.run.execution_name.clone(),
        window_start: input.run.window_start.to_rfc3339(),
        window_end: input.run.window_end.to_rfc3339(),
        roles,
        stacks: input.stack_outcomes.clone(),
        problems,
        summary_key: key.clone(),
    };
    store
        .put_object(
            &config.bucket,
            &key,
            to_json_bytes(&summary)?,
            "application/json",
        )
        .await?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::SkippedRole;
    use crate::testing::{self, World};

    #[tokio::test]
    async fn counts_outcomes_and_lists_every_problem() {
        let w = World::new();
        let input = SummaryInput {
            run: testing::run(),
            skipped: vec![SkippedRole {
                stack: "billing".into(),
                logical_id: String::new(),
                role_arn: None,
                reason: "stack not found".into(),
            }],
            role_outcomes: testing::outcomes(&w).await,
            stack_outcomes: vec![
                serde_json::json!({"stack": "orders-service", "prefix": "proposals/orders-service/2026-q4/"}),
            ],
        };
        let s = handle(&w.store, &w.config, input).await.unwrap();
        assert_eq!(s.roles.get("succeeded"), Some(&1));
        assert_eq!(s.roles.get("failed"), Some(&1));
        assert_eq!(s.roles.get("skipped"), Some(&1));
        let problems: Vec<(&str, &str)> = s
            .problems
            .iter()
            .map(|p| (p.logical_id.as_str(), p.outcome.as_str()))
            .collect();
        assert_eq!(problems, [("ApiRole", "failed"), ("", "skipped")]);
        assert!(
            s.problems[0]
                .detail
                .starts_with("AUTHORIZATION_ERROR: Access denied")
        );
        assert_eq!(w.json(&s.summary_key)["execution"], "2026-q4");
    }
}
