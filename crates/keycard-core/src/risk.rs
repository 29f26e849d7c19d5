//! The one risk table: IAM actions that let a principal raise its own permissions (privilege
//! escalation), actions that run code under a role the caller passes (with `iam:PassRole`, an
//! escalation path), reads of sensitive data, and AWS managed policies that amount to
//! administrator access.
//!
//! `keycard check` (rules KC012, KC020–KC024, KC004/KC005), `keycard propose` (the report's
//! risk flags, `proposal::risk`) and the reports read this table and nothing else, so a
//! reviewer sees the same judgement from every command.
//!
//! Every row names where the path is documented: Rhino Security Labs' "AWS IAM Privilege
//! Escalation – Methods and Mitigation" (the original 21 methods,
//! <https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/>),
//! cloudsplaining's `PRIVILEGE_ESCALATION_METHODS` and `READ_ONLY_DATA_EXFILTRATION_ACTIONS`
//! (salesforce/cloudsplaining `cloudsplaining/shared/constants.py`, which also carries the
//! pathfinding.cloud paths), NCC Group's PMapper edge checkers
//! (`principalmapper/graphing/*_edges.py`), or the AWS documentation.

use crate::policy::action_matches;

/// What kind of risk a row describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskKind {
    /// The action alone lets the principal gain permissions it was not given.
    Escalation,
    /// The action runs code or infrastructure under a role the caller passes: with
    /// `iam:PassRole` on that role, the caller acts with the role's permissions.
    PassRoleTarget,
    /// The action reads data that is commonly secret (objects, parameters, secrets, keys).
    SensitiveRead,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RiskRow {
    /// An IAM action or action pattern (`iam:Attach*Policy`), matched case-insensitively.
    pub pattern: &'static str,
    pub kind: RiskKind,
    /// Whether the risk exists only when the action is granted on every resource
    /// (`iam:PassRole`, `sts:AssumeRole`: scoped to named roles they are the standard pattern).
    pub only_on_any_resource: bool,
    /// Why it is a risk, one line for people.
    pub why: &'static str,
    /// Where the path is documented.
    pub source: &'static str,
}

macro_rules! row {
    ($pattern:literal, $kind:ident, $star:literal, $why:literal, $source:expr) => {
        RiskRow {
            pattern: $pattern,
            kind: RiskKind::$kind,
            only_on_any_resource: $star,
            why: $why,
            source: $source,
        }
    };
}

/// The table. Order matters only for [`escalation`]: the first matching row names the flag.
pub const RISKS: &[RiskRow] = &[
    // --- Escalation on its own ----------------------------------------------------------------
    row!(
        "iam:PassRole",
        Escalation,
        true,
        "hands a role to a service; on * it can pass any role, including admin ones",
        "AWS IAM User Guide, Granting a user permissions to pass a role to an AWS service (id_roles_use_passrole.html); Rhino Security Labs methods 3-10"
    ),
    row!(
        "iam:CreatePolicyVersion",
        Escalation,
        false,
        "rewrites a managed policy and makes the new version default",
        "cloudsplaining CreateNewPolicyVersion; Rhino Security Labs method 1"
    ),
    row!(
        "iam:SetDefaultPolicyVersion",
        Escalation,
        false,
        "switches a managed policy to an older, possibly broader version",
        "cloudsplaining SetExistingDefaultPolicyVersion; Rhino Security Labs method 2"
    ),
    row!(
        "iam:Attach*Policy",
        Escalation,
        false,
        "attaches any managed policy, AdministratorAccess included",
        "cloudsplaining AttachUserPolicy, AttachGroupPolicy, AttachRolePolicy; Rhino Security Labs methods 11-13"
    ),
    row!(
        "iam:Put*Policy",
        Escalation,
        false,
        "writes an inline policy granting anything",
        "cloudsplaining PutUserPolicy, PutGroupPolicy, PutRolePolicy; Rhino Security Labs methods 14-16"
    ),
    row!(
        "iam:CreateAccessKey",
        Escalation,
        false,
        "mints long-lived credentials for another user",
        "cloudsplaining CreateAccessKey; Rhino Security Labs method 4"
    ),
    row!(
        "iam:CreateLoginProfile",
        Escalation,
        false,
        "sets a console password for another user",
        "cloudsplaining CreateLoginProfile; Rhino Security Labs method 5"
    ),
    row!(
        "iam:UpdateLoginProfile",
        Escalation,
        false,
        "changes another user's console password",
        "cloudsplaining UpdateLoginProfile; Rhino Security Labs method 6"
    ),
    row!(
        "iam:UpdateAssumeRolePolicy",
        Escalation,
        false,
        "lets any principal assume a role",
        "cloudsplaining UpdateRolePolicyToAssumeIt; Rhino Security Labs method 18"
    ),
    row!(
        "iam:AddUserToGroup",
        Escalation,
        false,
        "joins a more privileged group",
        "cloudsplaining AddUserToGroup; Rhino Security Labs method 17"
    ),
    row!(
        "iam:Delete*PermissionsBoundary",
        Escalation,
        false,
        "removes the permissions boundary that caps a role or user",
        "AWS IAM User Guide, Permissions boundaries for IAM entities (access_policies_boundaries.html): the delegation example denies iam:DeleteUserPermissionsBoundary and iam:DeleteRolePermissionsBoundary"
    ),
    row!(
        "iam:Put*PermissionsBoundary",
        Escalation,
        false,
        "replaces the permissions boundary that caps a role or user with a broader one",
        "AWS IAM User Guide, Permissions boundaries for IAM entities (access_policies_boundaries.html): the delegation example limits iam:PutUserPermissionsBoundary to one boundary policy"
    ),
    row!(
        "sts:AssumeRole",
        Escalation,
        true,
        "on * it can become any role that trusts the account",
        "PMapper principalmapper/graphing/sts_edges.py; cloudsplaining CreatePolicyVersionThenAssumeRole"
    ),
    row!(
        "lambda:UpdateFunctionCode",
        Escalation,
        false,
        "runs arbitrary code under the function's role",
        "cloudsplaining EditExistingLambdaFunctionWithRole; Rhino Security Labs method 21"
    ),
    row!(
        "glue:UpdateDevEndpoint",
        Escalation,
        false,
        "runs code under the endpoint's role",
        "cloudsplaining UpdateExistingGlueDevEndpoint; Rhino Security Labs method 20"
    ),
    row!(
        "ec2-instance-connect:SendSSHPublicKey",
        Escalation,
        false,
        "logs in to an instance and uses its instance profile",
        "cloudsplaining EC2InstanceConnectSendSSHPublicKey (pathfinding.cloud)"
    ),
    row!(
        "ssm:SendCommand",
        Escalation,
        false,
        "runs commands on instances under their roles",
        "PMapper principalmapper/graphing/ssm_edges.py"
    ),
    row!(
        "ssm:StartSession",
        Escalation,
        false,
        "opens a shell on instances and uses their roles",
        "PMapper principalmapper/graphing/ssm_edges.py"
    ),
    // --- With iam:PassRole ------------------------------------------------------------------
    row!(
        "lambda:CreateFunction",
        PassRoleTarget,
        false,
        "with iam:PassRole, runs code under any passable role",
        "cloudsplaining PassExistingRoleToNewLambdaThenInvoke; Rhino Security Labs method 8"
    ),
    row!(
        "lambda:UpdateFunctionConfiguration",
        PassRoleTarget,
        false,
        "swaps layers or role of a function",
        "PMapper principalmapper/graphing/lambda_edges.py (UpdateFunctionConfiguration with iam:PassRole)"
    ),
    row!(
        "cloudformation:CreateStack",
        PassRoleTarget,
        false,
        "with iam:PassRole, deploys anything as a service role",
        "cloudsplaining PassExistingRoleToCloudFormation; Rhino Security Labs method 10"
    ),
    row!(
        "cloudformation:UpdateStack",
        PassRoleTarget,
        false,
        "with iam:PassRole, redeploys a stack as a service role",
        "PMapper principalmapper/graphing/cloudformation_edges.py"
    ),
    row!(
        "cloudformation:CreateChangeSet",
        PassRoleTarget,
        false,
        "with iam:PassRole, prepares a deployment as a service role",
        "cloudsplaining ExecuteCloudFormationChangeSet (pathfinding.cloud cloudformation-005); PMapper cloudformation_edges.py"
    ),
    row!(
        "ec2:RunInstances",
        PassRoleTarget,
        false,
        "with iam:PassRole, runs an instance with any passable profile",
        "cloudsplaining CreateEC2WithExistingIP; Rhino Security Labs method 3"
    ),
    row!(
        "ecs:RunTask",
        PassRoleTarget,
        false,
        "with iam:PassRole, runs a task under any passable task role",
        "cloudsplaining PassExistingRoleToNewECSTaskViaRunTask; PMapper principalmapper/graphing/ecs_edges.py"
    ),
    row!(
        "ecs:RegisterTaskDefinition",
        PassRoleTarget,
        false,
        "with iam:PassRole, defines a task that runs under any passable role",
        "cloudsplaining PassExistingRoleToNewECSTaskViaRunTask, PassExistingRoleToNewECSService"
    ),
    row!(
        "glue:CreateDevEndpoint",
        PassRoleTarget,
        false,
        "with iam:PassRole, runs an endpoint under any passable role",
        "cloudsplaining PassExistingRoleToNewGlueDevEndpoint; Rhino Security Labs method 19"
    ),
    row!(
        "glue:CreateJob",
        PassRoleTarget,
        false,
        "with iam:PassRole, runs a job under any passable role",
        "cloudsplaining PassExistingRoleToNewGlueJobThenRun"
    ),
    row!(
        "codebuild:CreateProject",
        PassRoleTarget,
        false,
        "with iam:PassRole, builds under any passable service role",
        "cloudsplaining PassExistingRoleToNewCodeBuildProjectThenBuild; PMapper codebuild_edges.py"
    ),
    row!(
        "codebuild:UpdateProject",
        PassRoleTarget,
        false,
        "with iam:PassRole, switches a project to any passable service role",
        "PMapper principalmapper/graphing/codebuild_edges.py"
    ),
    row!(
        "datapipeline:CreatePipeline",
        PassRoleTarget,
        false,
        "with iam:PassRole, runs a pipeline under any passable role",
        "cloudsplaining PassExistingRoleToNewDataPipeline; Rhino Security Labs method 9"
    ),
    row!(
        "sagemaker:CreateNotebookInstance",
        PassRoleTarget,
        false,
        "with iam:PassRole, runs a notebook under any passable role",
        "cloudsplaining PassExistingRoleToNewSageMakerNotebookInstance; PMapper sagemaker_edges.py"
    ),
    row!(
        "sagemaker:CreateTrainingJob",
        PassRoleTarget,
        false,
        "with iam:PassRole, runs a training job under any passable role",
        "cloudsplaining PassExistingRoleToNewSageMakerTrainingJob"
    ),
    row!(
        "sagemaker:CreateProcessingJob",
        PassRoleTarget,
        false,
        "with iam:PassRole, runs a processing job under any passable role",
        "cloudsplaining PassExistingRoleToNewSageMakerProcessingJob"
    ),
    row!(
        "states:CreateStateMachine",
        PassRoleTarget,
        false,
        "with iam:PassRole, runs AWS SDK calls under any passable role",
        "AWS Step Functions API Reference, CreateStateMachine (roleArn: the role the state machine runs as; AWS SDK service integrations call any API with it)"
    ),
    row!(
        "states:UpdateStateMachine",
        PassRoleTarget,
        false,
        "with iam:PassRole, switches a state machine to any passable role",
        "AWS Step Functions API Reference, UpdateStateMachine (roleArn)"
    ),
    // --- Sensitive reads ---------------------------------------------------------------------
    row!(
        "s3:GetObject",
        SensitiveRead,
        true,
        "reads every object of every bucket the account can reach",
        "cloudsplaining READ_ONLY_DATA_EXFILTRATION_ACTIONS"
    ),
    row!(
        "ssm:GetParameter",
        SensitiveRead,
        true,
        "reads every SSM parameter, SecureString values included",
        "cloudsplaining READ_ONLY_DATA_EXFILTRATION_ACTIONS"
    ),
    row!(
        "ssm:GetParameters",
        SensitiveRead,
        true,
        "reads every SSM parameter, SecureString values included",
        "cloudsplaining READ_ONLY_DATA_EXFILTRATION_ACTIONS"
    ),
    row!(
        "ssm:GetParametersByPath",
        SensitiveRead,
        true,
        "reads every SSM parameter, SecureString values included",
        "cloudsplaining READ_ONLY_DATA_EXFILTRATION_ACTIONS"
    ),
    row!(
        "secretsmanager:GetSecretValue",
        SensitiveRead,
        true,
        "reads every secret whose resource policy allows the account",
        "cloudsplaining READ_ONLY_DATA_EXFILTRATION_ACTIONS"
    ),
    row!(
        "kms:Decrypt",
        SensitiveRead,
        true,
        "decrypts with every key whose key policy allows the account",
        "AWS KMS Developer Guide, Best practices for IAM policies (iam-policies-best-practices.html): name the keys in Resource"
    ),
];

/// AWS managed policies that amount to (near-)administrator access, with the check rule
/// severity they deserve. Source: the AWS Managed Policy Reference (each policy's page) and the
/// IAM User Guide, AWS managed policies for job functions (access_policies_job-functions.html).
pub const ADMIN_LIKE_MANAGED_POLICIES: &[(&str, AdminLevel)] = &[
    ("AdministratorAccess", AdminLevel::Administrator),
    ("PowerUserAccess", AdminLevel::NearAdministrator),
    ("IAMFullAccess", AdminLevel::NearAdministrator),
    ("AdministratorAccess-Amplify", AdminLevel::NearAdministrator),
];

/// How close a managed policy is to administrator access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminLevel {
    /// Every action on every resource.
    Administrator,
    /// Everything but IAM (PowerUserAccess), or the power to grant itself anything (IAM
    /// administration).
    NearAdministrator,
}

fn matching(kind: impl Fn(RiskKind) -> bool, action: &str) -> Option<&'static RiskRow> {
    RISKS
        .iter()
        .find(|r| kind(r.kind) && action_matches(r.pattern, action))
}

/// The escalation row an action falls under: escalation on its own or as a PassRole target.
pub fn escalation(action: &str) -> Option<&'static RiskRow> {
    matching(|k| k != RiskKind::SensitiveRead, action)
}

/// The row of an action that only escalates on its own (not a PassRole target).
pub fn escalation_alone(action: &str) -> Option<&'static RiskRow> {
    matching(|k| k == RiskKind::Escalation, action)
}

/// The row of an action that runs code under a passed role.
pub fn pass_role_target(action: &str) -> Option<&'static RiskRow> {
    matching(|k| k == RiskKind::PassRoleTarget, action)
}

/// The row of a sensitive read.
pub fn sensitive_read(action: &str) -> Option<&'static RiskRow> {
    matching(|k| k == RiskKind::SensitiveRead, action)
}

/// How close an AWS managed policy (by name) is to administrator access.
pub fn admin_level(managed_policy_name: &str) -> Option<AdminLevel> {
    ADMIN_LIKE_MANAGED_POLICIES
        .iter()
        .find(|(n, _)| *n == managed_policy_name)
        .map(|(_, l)| *l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn every_pattern_names_real_actions_and_has_a_source() {
        let catalog = Catalog::embedded();
        for r in RISKS {
            assert!(
                !catalog.expand(r.pattern).actions.is_empty(),
                "{} matches no action",
                r.pattern
            );
            assert!(r.source.len() > 10 && !r.why.is_empty(), "{}", r.pattern);
        }
    }

    #[test]
    fn classifies_actions_case_insensitively() {
        assert_eq!(
            escalation("IAM:putrolepolicy").map(|r| r.pattern),
            Some("iam:Put*Policy")
        );
        assert_eq!(
            escalation("iam:PutRolePermissionsBoundary").map(|r| r.pattern),
            Some("iam:Put*PermissionsBoundary")
        );
        assert!(escalation("ecs:RunTask").is_some());
        assert!(escalation_alone("ecs:RunTask").is_none());
        assert!(pass_role_target("sagemaker:CreateTrainingJob").is_some());
        assert!(escalation("iam:GetRole").is_none());
        assert!(escalation("s3:GetObject").is_none());
        assert!(sensitive_read("s3:getobject").is_some());
        assert!(sensitive_read("ssm:GetParametersByPath").is_some());
        assert!(escalation("sts:AssumeRole").is_some_and(|r| r.only_on_any_resource));
        assert_eq!(
            admin_level("AdministratorAccess"),
            Some(AdminLevel::Administrator)
        );
        assert_eq!(admin_level("ReadOnlyAccess"), None);
    }
}
