//! KC005: a near-administrator AWS managed policy attached (PowerUserAccess, IAMFullAccess, …).

use crate::check::model::ManagedSite;
use crate::risk::{AdminLevel, admin_level};

super::rule!(
    KC005,
    "power-user-managed-policy",
    High,
    "A power-user or IAM-administration AWS managed policy is attached (PowerUserAccess, IAMFullAccess, AdministratorAccess-Amplify).",
    "PowerUserAccess allows everything outside IAM and Organizations; IAMFullAccess lets the principal grant itself anything. Both are far beyond what a workload needs.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_job-functions.html"
);

pub(super) fn check(s: &ManagedSite<'_>) -> Option<String> {
    let name = s.aws_managed_name.as_deref()?;
    (admin_level(name) == Some(AdminLevel::NearAdministrator))
        .then(|| super::kc004_admin_managed_policy::attached(name, s))
}

#[cfg(test)]
mod tests {
    use super::super::testing::messages;
    use crate::check::RuleId;

    #[test]
    fn power_user_and_iam_full_access() {
        let t = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      ManagedPolicyArns:\n        - arn:aws:iam::aws:policy/PowerUserAccess\n        - !Sub arn:${AWS::Partition}:iam::aws:policy/IAMFullAccess\n        - arn:aws:iam::aws:policy/ReadOnlyAccess\n";
        assert_eq!(messages(RuleId::KC005, t).len(), 2);
    }
}
