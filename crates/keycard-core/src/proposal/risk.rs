//! Privilege-escalation actions: the grants that let a principal give itself (or a role it can
//! pass) more than it has. A reviewer must see these first, and whether they were ever used,
//! because an unused escalation path is the cheapest risk to remove.

use crate::policy::action_matches;

/// Actions (patterns) that allow privilege escalation, with why. Sources: the well-known IAM
/// escalation paths (policy versions, attaching or writing policies, passing roles to compute,
/// changing code that runs under another role, minting credentials).
pub const ESCALATION_ACTIONS: &[(&str, &str)] = &[
    (
        "iam:PassRole",
        "hands a role to a service; on * it can pass any role, including admin ones",
    ),
    (
        "iam:CreatePolicyVersion",
        "rewrites a managed policy and makes the new version default",
    ),
    (
        "iam:SetDefaultPolicyVersion",
        "switches a managed policy to an older, possibly broader version",
    ),
    (
        "iam:Attach*Policy",
        "attaches any managed policy, AdministratorAccess included",
    ),
    (
        "iam:Put*Policy",
        "writes an inline policy granting anything",
    ),
    (
        "iam:CreateAccessKey",
        "mints long-lived credentials for another user",
    ),
    (
        "iam:CreateLoginProfile",
        "sets a console password for another user",
    ),
    (
        "iam:UpdateLoginProfile",
        "changes another user's console password",
    ),
    (
        "iam:UpdateAssumeRolePolicy",
        "lets any principal assume a role",
    ),
    ("iam:AddUserToGroup", "joins a more privileged group"),
    (
        "sts:AssumeRole",
        "on * it can become any role that trusts the account",
    ),
    (
        "lambda:UpdateFunctionCode",
        "runs arbitrary code under the function's role",
    ),
    (
        "lambda:CreateFunction",
        "with iam:PassRole, runs code under any passable role",
    ),
    (
        "lambda:UpdateFunctionConfiguration",
        "swaps layers or role of a function",
    ),
    (
        "cloudformation:CreateStack",
        "with iam:PassRole, deploys anything as a service role",
    ),
    (
        "ec2:RunInstances",
        "with iam:PassRole, runs an instance with any passable profile",
    ),
    (
        "glue:UpdateDevEndpoint",
        "runs code under the endpoint's role",
    ),
    (
        "ssm:SendCommand",
        "runs commands on instances under their roles",
    ),
];

/// Actions whose risk depends on being granted on every resource.
const RISKY_ONLY_ON_STAR: &[&str] = &["iam:PassRole", "sts:AssumeRole"];

/// The escalation pattern an action falls under, with its rationale.
pub fn escalation_reason(action: &str) -> Option<(&'static str, &'static str)> {
    ESCALATION_ACTIONS
        .iter()
        .find(|(pattern, _)| action_matches(pattern, action))
        .copied()
}

/// Whether an action is only risky when granted on `*` (PassRole, AssumeRole).
pub fn risky_only_on_star(action: &str) -> bool {
    RISKY_ONLY_ON_STAR
        .iter()
        .any(|p| p.eq_ignore_ascii_case(action))
}

/// AWS managed policies that amount to (near-)administrator access.
pub fn is_admin_like_managed_policy(name: &str) -> bool {
    matches!(
        name,
        "AdministratorAccess" | "PowerUserAccess" | "IAMFullAccess" | "AdministratorAccess-Amplify"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_escalation_actions_case_insensitively() {
        assert!(escalation_reason("iam:AttachRolePolicy").is_some());
        assert!(escalation_reason("IAM:putrolepolicy").is_some());
        assert!(escalation_reason("iam:PassRole").is_some());
        assert!(escalation_reason("iam:GetRole").is_none());
        assert!(escalation_reason("s3:PutObject").is_none());
        assert!(risky_only_on_star("iam:passrole"));
        assert!(!risky_only_on_star("iam:CreatePolicyVersion"));
    }
}
