//! A deployed stack as the proposal pipeline's input, built the same way by the diff step and
//! by `keycard propose --stack`.
//!
//! Both read a stack from CloudFormation and IAM and must hand the core the same
//! [`ProposalInput`]; the rules that make a proposal safe live here, once:
//! * the template is GetTemplate's **Original** stage: the file the team deployed, where SAM
//!   `Policies` still live, so the proposal edits their own bytes. GetTemplate returns a string
//!   in either syntax; the artifact's name (`template.json` / `template.yaml`) follows it;
//! * other resources' physical ids (ListStackResources) resolve names in the template (a queue's
//!   URL, a table's generated name). Roles and users are deliberately left out: a role is
//!   matched only through the ARN IAM returned for it, so a role that could not be read is
//!   reported unmatched and keeps its grants instead of being matched by a constructed ARN;
//! * which roles have evidence: with keycard's scan of the trail every role of the stack was
//!   looked for, so a role absent from the usage really was idle; with Access Analyzer only the
//!   roles whose policy generation succeeded have any;
//! * the account-id rule: the account goes to the pipeline only when every role was observed.
//!   With an account, a role name resolves to a certain ARN even without activity, which the
//!   proposal reads as "idle: a removal candidate"; a role whose generation failed must read as
//!   "no evidence" instead, and missing evidence must never read as unused.

use std::collections::BTreeMap;

use keycard_aws::cloudformation::{StackResource, TemplateStage};
use keycard_aws::{AwsError, Roles, Stacks};
use keycard_core::proposal::{ProposalInput, RoleResolution};

use crate::contract::{RoleItem, SkippedRole, stack_key_name};
use crate::discovery::stack_roles;

/// A deployed stack, read once from CloudFormation (template, resources) and IAM (role ARNs).
#[derive(Debug, Clone, PartialEq)]
pub struct DeployedStack {
    /// The stack's name (a stack ARN's name part).
    pub name: String,
    /// `template.json` or `template.yaml`, after the deployed template's syntax.
    pub template_name: &'static str,
    /// The Original template, exactly as deployed.
    pub template_text: String,
    pub resources: Vec<StackResource>,
    /// The stack's roles with their IAM ARNs, in logical-id order.
    pub roles: Vec<RoleItem>,
    /// Roles without a physical role yet, or deleted from IAM since, with the reason.
    pub skipped: Vec<SkippedRole>,
}

/// Which of the stack's roles the evidence observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed<'a> {
    /// keycard's own scan of the trail: every role of the stack was looked for, so a role
    /// absent from the usage was idle.
    EveryRole,
    /// Only these roles (logical id → role ARN) have evidence: Access Analyzer's roles whose
    /// generation succeeded. The others stay unmatched and keep their grants.
    Only(&'a BTreeMap<String, String>),
}

/// Where the stack runs, for `${AWS::AccountId}`, `${AWS::Region}` and `${AWS::Partition}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// Used only when every role was observed (the account-id rule, see the module docs).
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub partition: Option<String>,
}

/// `template.json` when the text is JSON (GetTemplate returns JSON templates as they were
/// submitted, so the first non-blank character tells), `template.yaml` otherwise.
pub fn template_file_name(text: &str) -> &'static str {
    if text.trim_start().starts_with('{') {
        "template.json"
    } else {
        "template.yaml"
    }
}

impl DeployedStack {
    /// Reads `stack` (a name or a stack ARN): GetTemplate (Original), ListStackResources, and
    /// each role's ARN from IAM (`discovery::stack_roles`, the discovery step's own code, so
    /// generated names and role paths need no guessing).
    pub async fn read<C: Stacks, R: Roles>(
        stacks: &C,
        roles: &R,
        stack: &str,
    ) -> Result<DeployedStack, AwsError> {
        let name = stack_key_name(stack).to_owned();
        let template_text = stacks.template(stack, TemplateStage::Original).await?;
        let resources = stacks.stack_resources(stack).await?;
        let (found, skipped) = stack_roles(roles, &name, &resources).await?;
        Ok(DeployedStack {
            name,
            template_name: template_file_name(&template_text),
            template_text,
            resources,
            roles: found,
            skipped,
        })
    }

    /// The stack's part of the pipeline input: template and role resolution. The caller adds
    /// the evidence (usage, ledger, coverage) and the options with struct update syntax.
    pub fn proposal_input(&self, observed: Observed<'_>, place: &Place) -> ProposalInput {
        let (role_arns, account_id) = match observed {
            Observed::EveryRole => (
                self.roles
                    .iter()
                    .map(|r| (r.logical_id.clone(), r.role_arn.clone()))
                    .collect(),
                place.account_id.clone(),
            ),
            Observed::Only(roles) => (roles.clone(), None),
        };
        let physical_ids = self
            .resources
            .iter()
            .filter(|r| r.resource_type != "AWS::IAM::Role" && r.resource_type != "AWS::IAM::User")
            .filter_map(|r| Some((r.logical_id.clone(), r.physical_id.clone()?)))
            .collect();
        ProposalInput {
            template_name: self.template_name.to_owned(),
            template_text: self.template_text.clone(),
            resolution: RoleResolution {
                stack_name: Some(self.name.clone()),
                account_id,
                region: place.region.clone(),
                partition: place.partition.clone(),
                role_arns,
                physical_ids,
            },
            ..ProposalInput::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, World};
    use keycard_core::proposal::propose;
    use keycard_core::report::RoleStatus;

    fn place() -> Place {
        Place {
            account_id: Some(testing::ACCOUNT.into()),
            region: Some("us-east-1".into()),
            partition: Some("aws".into()),
        }
    }

    #[tokio::test]
    async fn reads_the_original_template_resources_and_role_arns() {
        let w = World::new();
        let s = DeployedStack::read(&w.stacks, &w.roles, testing::STACK_ID)
            .await
            .unwrap();
        assert_eq!(s.name, testing::STACK);
        assert_eq!(s.template_name, "template.yaml");
        assert_eq!(s.template_text, testing::TEMPLATE);
        assert_eq!(s.resources.len(), 5);
        let roles: Vec<(&str, &str)> = s
            .roles
            .iter()
            .map(|r| (r.logical_id.as_str(), r.role_arn.as_str()))
            .collect();
        // Logical-id order, and the path IAM knows (`/service/`) in the ARN.
        assert_eq!(
            roles,
            [
                ("ApiRole", w.api_arn.as_str()),
                ("OrdersWorkerRole", w.worker_arn.as_str())
            ]
        );
        assert!(w.api_arn.contains(":role/service/"));
        assert!(s.skipped.is_empty());
    }

    #[tokio::test]
    async fn a_missing_stack_is_not_found() {
        let w = World::new();
        let e = DeployedStack::read(&w.stacks, &w.roles, "billing")
            .await
            .unwrap_err();
        assert!(e.is_not_found(), "{e}");
    }

    #[tokio::test]
    async fn every_role_observed_gives_every_arn_and_the_account() {
        let w = World::new();
        let s = DeployedStack::read(&w.stacks, &w.roles, testing::STACK)
            .await
            .unwrap();
        let input = s.proposal_input(Observed::EveryRole, &place());
        let r = &input.resolution;
        assert_eq!(r.account_id.as_deref(), Some(testing::ACCOUNT));
        assert_eq!(r.stack_name.as_deref(), Some(testing::STACK));
        assert_eq!(r.role_arns.len(), 2);
        assert_eq!(r.role_arns["OrdersWorkerRole"], w.worker_arn);
        // Names of other resources, never the roles' or the policies' own.
        assert_eq!(
            r.physical_ids
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["OrdersQueue", "OrdersReadPolicy", "OrdersTable"]
        );
        assert_eq!(input.template_name, "template.yaml");
    }

    #[tokio::test]
    async fn a_role_without_evidence_stays_unmatched_even_when_the_account_is_known() {
        // Given Access Analyzer evidence for the worker only (the API role's generation failed)
        let w = World::new();
        let s = DeployedStack::read(&w.stacks, &w.roles, testing::STACK)
            .await
            .unwrap();
        let only = BTreeMap::from([("OrdersWorkerRole".to_owned(), w.worker_arn.clone())]);
        // When the input is built, with the account at hand
        let input = s.proposal_input(Observed::Only(&only), &place());
        // Then the account is withheld and only the worker has an ARN
        assert_eq!(input.resolution.account_id, None);
        assert_eq!(input.resolution.role_arns, only);
        // and the proposal reports the API role unmatched (grants kept), not idle.
        let proposal = propose(&input).unwrap();
        assert_eq!(
            proposal.report.roles.get("ApiRole").map(|r| r.status),
            Some(RoleStatus::Unmatched)
        );
        assert_ne!(
            proposal
                .report
                .roles
                .get("OrdersWorkerRole")
                .map(|r| r.status),
            Some(RoleStatus::Unmatched)
        );
    }

    #[tokio::test]
    async fn a_role_deleted_from_iam_is_skipped_with_the_reason() {
        let w = World::new();
        let roles = keycard_aws::memory::MemoryRoles::default();
        let s = DeployedStack::read(&w.stacks, &roles, testing::STACK)
            .await
            .unwrap();
        assert!(s.roles.is_empty());
        assert_eq!(s.skipped.len(), 2);
        assert!(s.skipped[0].reason.contains("no longer exists in IAM"));
        // A role IAM did not return is matched by nothing: no ARN, no physical id.
        let input = s.proposal_input(Observed::EveryRole, &place());
        assert!(input.resolution.role_arns.is_empty());
        assert!(!input.resolution.physical_ids.contains_key("ApiRole"));
    }

    #[test]
    fn json_and_yaml_templates_are_told_apart() {
        assert_eq!(
            template_file_name("  \n{\"Resources\": {}}"),
            "template.json"
        );
        assert_eq!(template_file_name("Resources: {}\n"), "template.yaml");
        assert_eq!(
            template_file_name("# {not json}\nResources: {}"),
            "template.yaml"
        );
    }
}
