//! KC006: an AWS managed `*FullAccess` policy attached.

use crate::check::model::ManagedSite;

super::rule!(
    KC006,
    "full-access-managed-policy",
    Medium,
    "An AWS managed `*FullAccess` policy is attached.",
    "FullAccess managed policies grant every action of a service on every resource, including deletes. Scope the actions and resources.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html#aws-managed-policies"
);

pub(super) fn check(s: &ManagedSite<'_>) -> Option<String> {
    let name = s.aws_managed_name.as_deref()?;
    name.ends_with("FullAccess")
        .then(|| super::kc004_admin_managed_policy::attached(name, s))
}

#[cfg(test)]
mod tests {
    use super::super::testing::messages;
    use crate::check::RuleId;

    #[test]
    fn full_access_policies_by_sam_name() {
        let t = "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies: [AmazonS3FullAccess, AmazonS3ReadOnlyAccess]\n";
        assert_eq!(
            messages(RuleId::KC006, t),
            vec!["AWS managed policy AmazonS3FullAccess is attached to FRole"]
        );
    }
}
