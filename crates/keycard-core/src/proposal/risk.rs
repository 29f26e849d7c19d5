//! Privilege-escalation flags of a proposal: the grants that let a principal give itself (or a
//! role it can pass) more than it has. A reviewer must see these first, and whether they were
//! ever used, because an unused escalation path is the cheapest risk to remove.
//!
//! The table itself is [`crate::risk`], shared with `keycard check`; this module only answers
//! the questions the proposal asks of it.

use crate::risk;

/// The escalation pattern an action falls under (escalation on its own, or a PassRole target),
/// with its rationale.
pub fn escalation_reason(action: &str) -> Option<(&'static str, &'static str)> {
    risk::escalation(action).map(|r| (r.pattern, r.why))
}

/// Whether an action is only risky when granted on `*` (PassRole, AssumeRole).
pub fn risky_only_on_star(action: &str) -> bool {
    risk::escalation(action).is_some_and(|r| r.only_on_any_resource)
}

/// AWS managed policies that amount to (near-)administrator access.
pub fn is_admin_like_managed_policy(name: &str) -> bool {
    risk::admin_level(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_escalation_actions_case_insensitively() {
        assert!(escalation_reason("iam:AttachRolePolicy").is_some());
        assert!(escalation_reason("IAM:putrolepolicy").is_some());
        assert!(escalation_reason("iam:PassRole").is_some());
        assert!(escalation_reason("ecs:RunTask").is_some());
        assert!(escalation_reason("iam:GetRole").is_none());
        assert!(escalation_reason("s3:PutObject").is_none());
        assert!(escalation_reason("s3:GetObject").is_none());
        assert!(risky_only_on_star("iam:passrole"));
        assert!(!risky_only_on_star("iam:CreatePolicyVersion"));
        assert!(is_admin_like_managed_policy("AdministratorAccess-Amplify"));
        assert!(!is_admin_like_managed_policy("ReadOnlyAccess"));
    }
}
