//! KC004: the AWS managed policy AdministratorAccess attached.

use crate::check::model::ManagedSite;
use crate::risk::{AdminLevel, admin_level};

super::rule!(
    KC004,
    "admin-managed-policy",
    Critical,
    "The AWS managed policy AdministratorAccess is attached.",
    "AdministratorAccess allows every action on every resource. Replace it with a policy of the actions the principal uses.",
    "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AdministratorAccess.html"
);

pub(super) fn check(s: &ManagedSite<'_>) -> Option<String> {
    let name = s.aws_managed_name.as_deref()?;
    (admin_level(name) == Some(AdminLevel::Administrator)).then(|| attached(name, s))
}

/// The message of the managed-policy rules.
pub(super) fn attached(name: &str, s: &ManagedSite<'_>) -> String {
    format!(
        "AWS managed policy {name} is attached to {}",
        s.grant.principal
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::messages;
    use crate::check::RuleId;

    #[test]
    fn administrator_access_by_arn_join_or_sam_name() {
        let t = "Conditions:\n  C: !Equals [a, b]\nResources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      ManagedPolicyArns:\n        - !If [C, !Join ['', ['arn:', !Ref AWS::Partition, ':iam::aws:policy/AdministratorAccess']], !Ref AWS::NoValue]\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies: [AdministratorAccess]\n";
        assert_eq!(
            messages(RuleId::KC004, t),
            vec![
                "AWS managed policy AdministratorAccess is attached to R",
                "AWS managed policy AdministratorAccess is attached to FRole"
            ]
        );
    }
}
