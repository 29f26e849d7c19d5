//! KC010: write actions that support resource-level permissions, on every resource.

use std::collections::BTreeSet;

use crate::catalog::AccessLevel;
use crate::check::model::{Model, StatementSite};
use crate::template::grants::PolicySite;

super::rule!(
    KC010,
    "write-on-any-resource",
    Medium,
    "Write actions that support resource-level permissions are allowed on `Resource: \"*\"` (or an ARN that is only wildcards).",
    "These actions can be limited to specific ARNs; on `*` they reach every resource of that type in the account. Scope `Resource` to the resources the workload writes. A SAM policy template given `*` as its resource name (`S3CrudPolicy: {BucketName: \"*\"}`) is the same grant.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html"
);

pub(super) fn check(s: &StatementSite<'_>, m: &Model<'_>) -> Option<String> {
    level_on_any(s, m, AccessLevel::Write)
}

/// The actions of one access level the statement allows on every resource, as a message.
pub(super) fn level_on_any(
    s: &StatementSite<'_>,
    m: &Model<'_>,
    level: AccessLevel,
) -> Option<String> {
    if s.site != PolicySite::Identity || !s.is_allow() {
        return None;
    }
    let found: BTreeSet<&String> = s
        .effective()
        .filter(|a| {
            // PassRole and AssumeRole on `*` have rules of their own (KC021, KC022).
            !a.eq_ignore_ascii_case("iam:PassRole")
                && !a.eq_ignore_ascii_case("sts:AssumeRole")
                && s.on_any_resource(a)
                && m.info.resource_scoped(a)
                && m.info.access_level(a) == Some(level)
        })
        .collect();
    (!found.is_empty()).then(|| format!("{} {}", super::some(found), s.any_resource_label()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn writes_on_star_but_not_unscopable_actions() {
        let t = role_with(
            "              - Effect: Allow\n                Action: [s3:PutObject, xray:PutTraceSegments, s3:ListAllMyBuckets]\n                Resource: '*'\n",
        );
        assert_eq!(
            messages(RuleId::KC010, &t),
            vec!["s3:PutObject on Resource \"*\""]
        );
    }

    #[test]
    fn a_sam_policy_template_given_a_star_bucket_writes_every_bucket() {
        let t = "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies:\n        - S3CrudPolicy: {BucketName: '*'}\n";
        let m = messages(RuleId::KC010, t);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].contains("s3:PutObject") || m[0].contains("(+"),
            "{m:?}"
        );
        assert!(m[0].ends_with("on every s3 resource"), "{m:?}");
        let scoped = "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies:\n        - S3CrudPolicy: {BucketName: !Ref Bucket}\n";
        assert!(messages(RuleId::KC010, scoped).is_empty());
    }

    #[test]
    fn either_branch_of_a_value_level_if_in_resource_counts() {
        let t = role_with(
            "              - Effect: Allow\n                Action: s3:PutObject\n                Resource: !If [Open, '*', arn:aws:s3:::b/*]\n",
        );
        assert_eq!(messages(RuleId::KC010, &t).len(), 1);
    }
}
