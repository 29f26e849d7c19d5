//! Discovery: which roles the run will analyse.
//!
//! For every target stack: its `AWS::IAM::Role` resources (ListStackResources, all pages), each
//! physical role name turned into an ARN by IAM (paths included), and drift detection started
//! so that its result is ready when the diff step needs it, minutes later. Access Analyzer
//! starts at most 50 policy generations a day per account, so the run takes at most
//! `maxGenerations` roles and reports the rest as skipped. Everything is written to the run
//! manifest; the state machine gets the small lists it maps over.

use std::collections::BTreeMap;

use crate::contract::{
    DAILY_GENERATION_QUOTA, DEFAULT_MAX_GENERATIONS, DiscoverInput, DiscoverOutput, RoleItem, Run,
    SkippedRole, StackItem, StepError, stack_identity, to_json_bytes,
};
use crate::discovery::stack_roles;
use keycard_aws::cloudformation::{MAX_DRIFT_RESOURCES, StackResource, Stacks};
use keycard_aws::{Config, ObjectStore, Roles};
use serde::Serialize;

/// The run manifest: everything discovery decided, for the summary and for people.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    run: &'a Run,
    stacks: &'a [StackItem],
    roles: &'a [RoleItem],
    skipped: &'a [SkippedRole],
    /// Stacks whose drift detection could not be started, and why.
    drift_errors: &'a [(String, String)],
    max_generations: u32,
}

pub async fn handle<C, R, S>(
    stacks: &C,
    roles: &R,
    store: &S,
    config: &Config,
    input: DiscoverInput,
) -> Result<DiscoverOutput, StepError>
where
    C: Stacks,
    R: Roles,
    S: ObjectStore,
{
    let run = Run::from_request(&input.request, &input.execution)?;
    let max_generations = input
        .request
        .max_generations
        .unwrap_or(DEFAULT_MAX_GENERATIONS);
    if max_generations > DAILY_GENERATION_QUOTA {
        return Err(StepError::InvalidInput(format!(
            "maxGenerations {max_generations} is above Access Analyzer's daily quota of {DAILY_GENERATION_QUOTA}"
        )));
    }
    // One target per stack identity: a stack named by name and by ARN is one stack with one
    // set of keys; two different ARNs of one name would share keys, so they are refused.
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let mut targets: Vec<&String> = Vec::new();
    for s in &input.request.stacks {
        let name = stack_identity(s)?;
        match seen.get(name) {
            None => {
                seen.insert(name, s);
                targets.push(s);
            }
            Some(prev)
                if *prev == s.as_str() || !prev.starts_with("arn:") || !s.starts_with("arn:") => {}
            Some(prev) => {
                return Err(StepError::InvalidInput(format!(
                    "stacks {prev:?} and {s:?} have the same name: their proposals and ledgers would share keys"
                )));
            }
        }
    }
    if targets.is_empty() {
        return Err(StepError::InvalidInput("no target stacks".into()));
    }

    let mut stack_items = Vec::new();
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let mut drift_errors = Vec::new();
    for stack in targets {
        let name = stack_identity(stack)?.to_owned();
        let resources = match stacks.stack_resources(stack).await {
            Ok(r) => r,
            Err(e) if e.is_not_found() => {
                skipped.push(SkippedRole {
                    stack: name,
                    logical_id: String::new(),
                    role_arn: None,
                    reason: format!("stack not found: {e}"),
                });
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let (roles_found, roles_skipped) = stack_roles(roles, &name, &resources).await?;
        found.extend(roles_found);
        skipped.extend(roles_skipped);
        // Drift detection is a side check: a stack in a state that cannot be checked must not
        // stop the run, so a failure is recorded and the diff step reports it. Only the IAM
        // resources are checked: CloudFormation reads each checked resource with this role's
        // permissions, which read IAM and nothing else (docs/OPERATIONS.md, "Drift"), and
        // they are the resources a proposal changes; every other resource is "not checked".
        let iam = iam_resources(&resources);
        let drift_detection_id = if iam.is_empty() {
            drift_errors.push((
                name.clone(),
                "drift not checked: the stack has no IAM resources".to_owned(),
            ));
            None
        } else {
            if iam.len() > MAX_DRIFT_RESOURCES {
                drift_errors.push((
                    name.clone(),
                    format!(
                        "drift checked for the first {MAX_DRIFT_RESOURCES} of {} IAM resources (DetectStackDrift's limit); the rest not checked",
                        iam.len()
                    ),
                ));
            }
            let ids = &iam[..iam.len().min(MAX_DRIFT_RESOURCES)];
            match stacks.detect_drift(stack, ids).await {
                Ok(id) => Some(id),
                Err(e) => {
                    drift_errors.push((name.clone(), e.to_string()));
                    None
                }
            }
        };
        stack_items.push(StackItem {
            stack: name,
            drift_detection_id,
        });
    }

    let budget = usize::try_from(max_generations).unwrap_or(usize::MAX);
    let over_budget = found.split_off(budget.min(found.len()));
    skipped.extend(over_budget.into_iter().map(|r| SkippedRole {
        reason: format!(
            "not analysed: this run starts at most {max_generations} Access Analyzer policy generations (maxGenerations; the account quota is {DAILY_GENERATION_QUOTA} a day)"
        ),
        stack: r.stack,
        logical_id: r.logical_id,
        role_arn: Some(r.role_arn),
    }));

    let manifest = Manifest {
        run: &run,
        stacks: &stack_items,
        roles: &found,
        skipped: &skipped,
        drift_errors: &drift_errors,
        max_generations,
    };
    store
        .put_object(
            &config.bucket,
            &run.manifest_key,
            to_json_bytes(&manifest)?,
            "application/json",
        )
        .await?;
    Ok(DiscoverOutput {
        run,
        roles: found,
        stacks: stack_items,
        skipped,
    })
}

/// The logical ids of the stack's IAM resources (`AWS::IAM::*`: roles, policies, managed
/// policies, users, groups, instance profiles), in logical id order: what drift is checked for.
fn iam_resources(resources: &[StackResource]) -> Vec<String> {
    let mut ids: Vec<String> = resources
        .iter()
        .filter(|r| r.resource_type.starts_with("AWS::IAM::"))
        .map(|r| r.logical_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{INVALID_INPUT, RunRequest};
    use crate::testing::{self, World};

    fn request(stacks: &[&str], max_generations: Option<u32>) -> DiscoverInput {
        DiscoverInput {
            request: RunRequest {
                stacks: stacks.iter().map(|s| (*s).to_owned()).collect(),
                window_days: Some(30),
                wait_seconds: None,
                max_polls: None,
                max_generations,
            },
            execution: testing::execution(),
        }
    }

    #[tokio::test]
    async fn roles_in_logical_id_order_within_the_budget_and_a_missing_stack_reported() {
        let w = World::new();
        let out = handle(
            &w.stacks,
            &w.roles,
            &w.store,
            &w.config,
            request(&[testing::STACK, "billing"], Some(1)),
        )
        .await
        .unwrap();
        let roles: Vec<&str> = out.roles.iter().map(|r| r.logical_id.as_str()).collect();
        assert_eq!(roles, ["ApiRole"]);
        assert_eq!(out.roles[0].role_arn, w.api_arn);
        let skipped: Vec<(&str, &str)> = out
            .skipped
            .iter()
            .map(|s| (s.stack.as_str(), s.logical_id.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [("billing", ""), (testing::STACK, "OrdersWorkerRole")]
        );
        assert!(
            out.skipped[1].reason.contains("maxGenerations"),
            "{}",
            out.skipped[1].reason
        );
        assert_eq!(out.stacks.len(), 1);
        assert!(out.stacks[0].drift_detection_id.is_some());
        let manifest = w.json(&out.run.manifest_key);
        assert_eq!(manifest["maxGenerations"], 1);
        assert_eq!(manifest["roles"][0]["logicalId"], "ApiRole");
    }

    /// Issue 15: drift detection reads each checked resource with discovery's permissions,
    /// which read IAM only; it is started for the stack's IAM resources alone, so no other
    /// resource type's check fails for lack of access.
    #[tokio::test]
    async fn drift_is_detected_for_the_iam_resources_only() {
        let w = World::new();
        handle(
            &w.stacks,
            &w.roles,
            &w.store,
            &w.config,
            request(&[testing::STACK], None),
        )
        .await
        .unwrap();
        let requests = w.stacks.drift_requests();
        assert_eq!(requests.len(), 1);
        let (stack, ids) = &requests[0];
        assert_eq!(stack, testing::STACK);
        let resources = w.stacks.stack_resources(testing::STACK).await.unwrap();
        let iam: Vec<&str> = resources
            .iter()
            .filter(|r| r.resource_type.starts_with("AWS::IAM::"))
            .map(|r| r.logical_id.as_str())
            .collect();
        assert!(
            !iam.is_empty() && iam.len() < resources.len(),
            "{resources:?}"
        );
        let mut want = iam.clone();
        want.sort_unstable();
        assert_eq!(ids, &want);
    }

    #[test]
    fn iam_resources_are_the_aws_iam_types() {
        let r = |id: &str, t: &str| StackResource {
            logical_id: id.into(),
            physical_id: None,
            resource_type: t.into(),
            status: None,
        };
        let ids = iam_resources(&[
            r("WorkerRole", "AWS::IAM::Role"),
            r("Queue", "AWS::SQS::Queue"),
            r("ApiPolicy", "AWS::IAM::ManagedPolicy"),
            r("Fn", "AWS::Lambda::Function"),
        ]);
        assert_eq!(ids, ["ApiPolicy", "WorkerRole"]);
    }

    #[tokio::test]
    async fn more_generations_than_the_daily_quota_is_invalid_input() {
        let w = World::new();
        let e = handle(
            &w.stacks,
            &w.roles,
            &w.store,
            &w.config,
            request(&[testing::STACK], Some(51)),
        )
        .await
        .unwrap_err();
        assert_eq!(e.name(), INVALID_INPUT);
        assert!(
            w.store.keys().is_empty(),
            "nothing written for a refused run"
        );
    }

    #[tokio::test]
    async fn a_stack_named_by_name_and_by_arn_is_one_target() {
        let w = World::new();
        let out = handle(
            &w.stacks,
            &w.roles,
            &w.store,
            &w.config,
            request(&[testing::STACK, testing::STACK_ID], None),
        )
        .await
        .unwrap();
        assert_eq!(out.stacks.len(), 1);
        assert_eq!(out.roles.len(), 2, "each role once");
        let other = "arn:aws:cloudformation:eu-west-1:123456789012:stack/orders-service/99999999-aaaa-bbbb-cccc-111122223333";
        let e = handle(
            &w.stacks,
            &w.roles,
            &w.store,
            &w.config,
            request(&[testing::STACK_ID, other], None),
        )
        .await
        .unwrap_err();
        assert_eq!(e.name(), INVALID_INPUT);
        let e = handle(
            &w.stacks,
            &w.roles,
            &w.store,
            &w.config,
            request(&["../ledger/orders"], None),
        )
        .await
        .unwrap_err();
        assert_eq!(e.name(), INVALID_INPUT);
    }
}
