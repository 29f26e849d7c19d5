//! KC033: a resource policy or Lambda permission that lets anyone use the resource.

use serde_json::Value as J;

use crate::check::model::{Model, StatementSite};
use crate::template::grants::{PolicySite, ResourcePolicyKind};

super::rule!(
    KC033,
    "resource-policy-open-to-everyone",
    Critical,
    "A resource policy (S3 bucket, SQS queue, SNS topic, KMS key, secret, ECR repository) or a Lambda permission allows everyone (`*`) without conditions.",
    "Anyone, in any AWS account or none, can use the resource as the statement allows. Name the principals, or add conditions such as aws:SourceArn, aws:SourceAccount or aws:PrincipalOrgID; a deliberately public bucket or function URL deserves a suppression with its reason.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_identity-vs-resource.html"
);

/// Conditions that say how something is reached, not who may reach it: a Lambda permission's
/// `FunctionUrlAuthType: NONE` is a public URL, not a restriction (Lambda developer guide,
/// "Control access to Lambda function URLs").
const NOT_A_RESTRICTION: &[&str] = &["lambda:FunctionUrlAuthType"];

pub(super) fn check(s: &StatementSite<'_>, _: &Model<'_>) -> Option<String> {
    if s.site != PolicySite::Resource || !s.is_allow() || restricted(s) {
        return None;
    }
    if !everyone(s.principal()?) {
        return None;
    }
    let what = if s.actions.is_empty() {
        "its actions".to_string()
    } else {
        s.actions.join(", ")
    };
    Some(match s.policy {
        Some(ResourcePolicyKind::LambdaPermission) => {
            format!(
                "Lambda permission allows {what} to everyone (Principal \"*\") without conditions"
            )
        }
        _ => format!(
            "resource policy allows {what} to everyone (Principal \"*\") without conditions"
        ),
    })
}

fn restricted(s: &StatementSite<'_>) -> bool {
    let Some(J::Object(ops)) = &s.record.condition else {
        return false;
    };
    ops.values().any(|keys| match keys {
        J::Object(k) => k
            .keys()
            .any(|k| !NOT_A_RESTRICTION.iter().any(|n| n.eq_ignore_ascii_case(k))),
        _ => true,
    })
}

/// `"*"` or `{"AWS": "*"}` (also in a list).
fn everyone(principal: &J) -> bool {
    if principal.as_str().map(str::trim) == Some("*") {
        return true;
    }
    principal.get("AWS").is_some_and(|aws| {
        super::kc030_trust_open_to_everyone::items(aws)
            .iter()
            .any(|i| i.as_str().map(str::trim) == Some("*"))
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::messages;
    use crate::check::RuleId;

    #[test]
    fn a_public_bucket_policy_but_not_one_limited_by_source() {
        let t = "Resources:\n  P:\n    Type: AWS::S3::BucketPolicy\n    Properties:\n      Bucket: b\n      PolicyDocument:\n        Statement:\n          - Effect: Allow\n            Principal: '*'\n            Action: s3:GetObject\n            Resource: arn:aws:s3:::b/*\n          - Effect: Allow\n            Principal: {AWS: '*'}\n            Action: s3:PutObject\n            Resource: arn:aws:s3:::b/*\n            Condition: {StringEquals: {aws:PrincipalOrgID: o-1}}\n";
        assert_eq!(
            messages(RuleId::KC033, t),
            vec![
                "resource policy allows s3:GetObject to everyone (Principal \"*\") without conditions"
            ]
        );
    }

    #[test]
    fn lambda_permissions_open_to_everyone() {
        let t = "Resources:\n  Url:\n    Type: AWS::Lambda::Permission\n    Properties:\n      Action: lambda:InvokeFunctionUrl\n      FunctionName: !Ref Fn\n      Principal: '*'\n      FunctionUrlAuthType: NONE\n  FromBucket:\n    Type: AWS::Lambda::Permission\n    Properties:\n      Action: lambda:InvokeFunction\n      FunctionName: !Ref Fn\n      Principal: '*'\n      SourceArn: !GetAtt Bucket.Arn\n";
        assert_eq!(
            messages(RuleId::KC033, t),
            vec![
                "Lambda permission allows lambda:InvokeFunctionUrl to everyone (Principal \"*\") without conditions"
            ]
        );
    }
}
