//! Pipeline tests through [`super::propose`] on small templates: splitting into managed
//! policies, quotas that cannot be met, shared policies, unmatched principals.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};

use super::*;
use crate::catalog::Catalog;
use crate::template::{Template, find_grants};
use crate::usage::{ActionUsage, PrincipalUsage, Window};

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/big-app-WorkerRole-ABCDEFGHIJKL";

const ADMIN_TEMPLATE: &str = "\
Resources:
  WorkerRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/AdministratorAccess
";

fn usage_of(arn: &str, actions: impl IntoIterator<Item = String>) -> Usage {
    let t = Utc
        .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut pu = PrincipalUsage::default();
    for a in actions {
        let mut au = ActionUsage::seen_once(t);
        au.count = 100;
        pu.actions.insert(a, au);
    }
    pu.windows.push(Window {
        start: t - chrono::Duration::days(120),
        end: t,
    });
    let mut u = Usage::default();
    u.principals.insert(arn.to_string(), pu);
    u
}

/// Many distinct used actions (long names first, so the replacement is big).
fn many_actions(n: usize) -> Vec<String> {
    let mut all: Vec<String> = Catalog::embedded()
        .all_actions()
        .map(|a| a.name().to_string())
        .collect();
    all.sort_by_key(|a| std::cmp::Reverse(a.len()));
    all.truncate(n);
    all
}

fn input(template: &str, usage: Usage) -> ProposalInput {
    ProposalInput {
        template_name: "template.yaml".into(),
        template_text: template.into(),
        usage,
        resolution: RoleResolution {
            stack_name: Some("big-app".into()),
            account_id: Some("123456789012".into()),
            ..RoleResolution::default()
        },
        // These tests are about narrowing; coverage has its own tests below.
        coverage: crate::coverage::Coverage::all_seen(),
        ..ProposalInput::default()
    }
}

#[test]
fn a_big_replacement_is_split_into_managed_policies_within_limits() {
    // Given an admin role that really used 700 different actions
    let used = many_actions(700);
    let inp = input(ADMIN_TEMPLATE, usage_of(ROLE_ARN, used.clone()));
    // When proposing
    let p = propose(&inp).unwrap();
    // Then the replacement went to several managed policies, each within 6,144 characters
    let t = Template::load("template.yaml", &p.template).unwrap();
    let policies: Vec<(String, serde_json::Value)> = t
        .resources()
        .filter(|(_, n)| n.to_json()["Type"] == "AWS::IAM::ManagedPolicy")
        .map(|(id, n)| (id.to_string(), n.to_json()))
        .collect();
    assert!(policies.len() >= 2, "{} policies", policies.len());
    assert!(policies.len() <= 10);
    for (id, p) in &policies {
        assert!(id.starts_with("WorkerRoleKeycardPolicy"));
        let doc = &p["Properties"]["PolicyDocument"];
        assert!(
            size::estimate_size(doc) <= size::MANAGED_POLICY_LIMIT,
            "{id}"
        );
        assert_eq!(p["Properties"]["Roles"][0]["Ref"], "WorkerRole");
    }
    // and together they grant exactly what was used (as the template engine reads them).
    let grants = find_grants(&t);
    let granted: BTreeSet<String> = grants
        .of("WorkerRole")
        .flat_map(|g| g.statements.iter())
        .flat_map(|s| s.effective.iter().cloned())
        .collect();
    let used: BTreeSet<String> = used.into_iter().collect();
    assert_eq!(granted, used);
    assert!(!p.template.contains("AdministratorAccess"));
    let role = &p.report.roles["WorkerRole"];
    assert_eq!(role.status, crate::report::RoleStatus::Proposed);
    assert!(role.policies.iter().filter(|s| s.kind == "managed").count() >= 2);
}

#[test]
fn a_replacement_that_cannot_fit_is_reported_and_not_written() {
    let mut inp = input(ADMIN_TEMPLATE, usage_of(ROLE_ARN, many_actions(700)));
    inp.options.max_managed_policies = 1;
    let p = propose(&inp).unwrap();
    assert_eq!(p.template, ADMIN_TEMPLATE);
    assert!(p.diff.is_empty() || !p.diff.contains("+"), "{}", p.diff);
    let role = &p.report.roles["WorkerRole"];
    assert_eq!(role.status, crate::report::RoleStatus::DoesNotFit);
    assert!(role.flags.iter().any(|f| f.kind == "does_not_fit"));
}

#[test]
fn managed_policy_quota_is_validated() {
    let mut inp = input(ADMIN_TEMPLATE, Usage::default());
    inp.options.max_managed_policies = 21;
    assert!(matches!(propose(&inp), Err(ProposalError::Option(_))));
}

const SHARED_TEMPLATE: &str = "\
Resources:
  A:
    Type: AWS::IAM::Role
    Properties:
      RoleName: role-a
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
  B:
    Type: AWS::IAM::Role
    Properties:
      RoleName: role-b
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
  Shared:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      Roles: [!Ref A, !Ref B]
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Action: ['s3:GetObject', 's3:PutObject', 'sqs:SendMessage']
            Resource: '*'
";

#[test]
fn a_shared_policy_becomes_the_union_of_its_principals_needs() {
    let mut usage = usage_of(
        "arn:aws:iam::123456789012:role/role-a",
        ["s3:GetObject".to_string()],
    );
    usage.merge(&usage_of(
        "arn:aws:iam::123456789012:role/role-b",
        ["sqs:SendMessage".to_string()],
    ));
    let p = propose(&input(SHARED_TEMPLATE, usage)).unwrap();
    assert!(p.template.contains("s3:GetObject"));
    assert!(p.template.contains("sqs:SendMessage"));
    assert!(!p.template.contains("s3:PutObject"));
}

#[test]
fn a_shared_policy_stays_when_one_principal_has_no_proposal() {
    // Role B has no activity: the policy it shares with A must not shrink under it.
    let usage = usage_of(
        "arn:aws:iam::123456789012:role/role-a",
        ["s3:GetObject".to_string()],
    );
    let p = propose(&input(SHARED_TEMPLATE, usage)).unwrap();
    assert_eq!(p.template, SHARED_TEMPLATE);
    let a = &p.report.roles["A"];
    assert!(a.flags.iter().any(|f| f.kind == "shared_policy_unchanged"));
    assert_eq!(
        p.report.roles["B"].status,
        crate::report::RoleStatus::NoActivity
    );
}

#[test]
fn unmatched_principals_are_reported_not_guessed() {
    // No stack name: a generated role name cannot be matched.
    let mut inp = input(ADMIN_TEMPLATE, usage_of(ROLE_ARN, many_actions(3)));
    inp.resolution.stack_name = None;
    let p = propose(&inp).unwrap();
    assert_eq!(p.template, ADMIN_TEMPLATE);
    assert_eq!(
        p.report.roles["WorkerRole"].status,
        crate::report::RoleStatus::Unmatched
    );
    assert_eq!(p.report.unattributed_principals, vec![ROLE_ARN.to_string()]);
    // An override matches it.
    inp.resolution
        .role_arns
        .insert("WorkerRole".into(), ROLE_ARN.into());
    let p = propose(&inp).unwrap();
    assert_eq!(
        p.report.roles["WorkerRole"].status,
        crate::report::RoleStatus::Proposed
    );
}

#[test]
fn invalid_templates_are_errors() {
    let inp = input("Resources: [\n", Usage::default());
    assert!(matches!(propose(&inp), Err(ProposalError::Template(_))));
}

#[test]
fn an_emptied_policy_that_others_depend_on_is_left_unchanged() {
    let template = "\
Resources:
  A:
    Type: AWS::IAM::Role
    Properties:
      RoleName: role-a
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
      Policies:
        - PolicyName: used
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: s3:GetObject
                Resource: '*'
  Unused:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: unused
      Roles: [!Ref A]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: sqs:*
            Resource: '*'
  Fn:
    Type: AWS::Lambda::Function
    DependsOn: Unused
    Properties:
      Role: !GetAtt A.Arn
      Runtime: python3.12
      Handler: x.handler
      Code: {ZipFile: 'def handler(e, c): pass'}
";
    let usage = usage_of(
        "arn:aws:iam::123456789012:role/role-a",
        ["s3:GetObject".to_string()],
    );
    let p = propose(&input(template, usage)).unwrap();
    // The unused policy stays (deleting it would break DependsOn), and is flagged.
    assert!(p.template.contains("Action: sqs:*"));
    assert!(p.template.contains("DependsOn: Unused"));
    let a = &p.report.roles["A"];
    assert!(a.flags.iter().any(|f| f.kind == "policy_unchanged"));
    // Without the DependsOn, it is removed.
    let without = template.replace("    DependsOn: Unused\n", "");
    let usage = usage_of(
        "arn:aws:iam::123456789012:role/role-a",
        ["s3:GetObject".to_string()],
    );
    let p = propose(&input(&without, usage)).unwrap();
    assert!(!p.template.contains("Unused:"));
    assert!(!p.template.contains("sqs:*"));
}

mod properties {
    //! Over random evidence for the bundled example, the pipeline never fails and the proposed
    //! template (re-read by the template engine) never grants a principal an action it did not
    //! have.

    use super::*;
    use proptest::prelude::*;

    const TEMPLATE: &str = include_str!("../../../../examples/orders-app/template.yaml");
    const ROLES: &[&str] = &[
        "arn:aws:iam::123456789012:role/orders-app-ApiFunctionRole-1QX8R7T2K9ZL",
        "arn:aws:iam::123456789012:role/orders-app-WorkerRole-8HJK2L3M4N5P",
        "arn:aws:iam::123456789012:role/orders-app-fulfilment",
        "arn:aws:iam::123456789012:role/orders-app-reporting",
    ];
    const ACTIONS: &[&str] = &[
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:PutItem",
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "iam:PassRole",
        "iam:CreateRole",
        "sns:Publish",
        "lambda:InvokeFunction",
        "athena:StartQueryExecution",
        "kms:Decrypt",
    ];
    const ARNS: &[&str] = &[
        "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-app-OrdersTable-1M2N3B4V5C6X",
        "arn:aws:s3:::orders-app-receipts-123456789012/r/1.pdf",
        "arn:aws:s3:::someone-else/x",
        "arn:aws:sqs:eu-west-1:123456789012:orders-app-OrdersQueue-a1B2c3D4e5F6",
        "arn:aws:iam::123456789012:role/admin",
    ];

    fn usage() -> impl Strategy<Value = Usage> {
        prop::collection::btree_map(
            prop::sample::select(ROLES),
            (
                prop::collection::btree_map(
                    prop::sample::select(ACTIONS),
                    (
                        0i64..450,
                        prop::collection::btree_set(prop::sample::select(ARNS), 0..3),
                    ),
                    0..6,
                ),
                prop::collection::btree_set(
                    prop::sample::select(&["s3", "iam:PassRole"][..]),
                    0..2,
                ),
            ),
            0..4,
        )
        .prop_map(|principals| {
            let end = Utc
                .with_ymd_and_hms(2026, 10, 31, 0, 0, 0)
                .single()
                .unwrap_or_default();
            let mut u = Usage::default();
            for (arn, (actions, unobservable)) in principals {
                let mut pu = PrincipalUsage::default();
                for (a, (age, arns)) in actions {
                    let mut au = ActionUsage::seen_once(end - chrono::Duration::days(age));
                    au.resources = arns.into_iter().map(str::to_string).collect();
                    pu.actions.insert(a.to_string(), au);
                }
                pu.unobservable = unobservable.into_iter().map(str::to_string).collect();
                pu.windows.push(Window {
                    start: end - chrono::Duration::days(200),
                    end,
                });
                u.principals.insert(arn.to_string(), pu);
            }
            u
        })
    }

    fn effective(text: &str) -> std::collections::BTreeMap<String, BTreeSet<String>> {
        let t = Template::load("template.yaml", text).unwrap();
        let g = find_grants(&t);
        g.principals
            .iter()
            .map(|p| {
                let set = g
                    .of(&p.logical_id)
                    .flat_map(|gr| gr.statements.iter())
                    .filter(|s| s.is_allow())
                    .flat_map(|s| s.effective.iter().cloned())
                    .collect();
                (p.logical_id.clone(), set)
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]
        #[test]
        fn the_example_proposal_is_never_broader(current in usage(), ledger in prop::option::of(usage())) {
            let mut inp = input(TEMPLATE, current);
            inp.resolution.stack_name = Some("orders-app".into());
            inp.ledger = ledger;
            let p = propose(&inp);
            prop_assert!(p.is_ok(), "{:?}", p.err());
            let p = p.unwrap();
            let before = effective(TEMPLATE);
            let after = effective(&p.template);
            for (id, actions) in &after {
                let old = before.get(id).cloned().unwrap_or_default();
                prop_assert!(actions.is_subset(&old), "{id} gained {:?}", actions.difference(&old).collect::<Vec<_>>());
            }
            // Principals with no activity keep everything.
            for (id, r) in &p.report.roles {
                if r.status == crate::report::RoleStatus::NoActivity {
                    prop_assert_eq!(after.get(id), before.get(id));
                }
            }
        }
    }
}

#[test]
fn documents_with_actions_from_parameters_are_left_unchanged() {
    let template = "\
Parameters:
  ExtraActions:
    Type: CommaDelimitedList
    Default: sqs:SendMessage
Resources:
  A:
    Type: AWS::IAM::Role
    Properties:
      RoleName: role-a
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: !Ref ExtraActions
                Resource: '*'
              - Effect: Allow
                Action: s3:*
                Resource: '*'
";
    let usage = usage_of(
        "arn:aws:iam::123456789012:role/role-a",
        ["s3:GetObject".to_string()],
    );
    let p = propose(&input(template, usage)).unwrap();
    assert_eq!(p.template, template);
}

#[test]
fn a_template_without_iam_is_returned_unchanged() {
    let template = "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n";
    let p = propose(&input(template, usage_of(ROLE_ARN, many_actions(2)))).unwrap();
    assert_eq!(p.template, template);
    assert!(p.report.roles.is_empty());
    assert_eq!(p.report.unattributed_principals, vec![ROLE_ARN.to_string()]);
}

#[test]
fn a_single_managed_policy_in_sam_policies_is_replaced_not_lost() {
    // `Policies: AdministratorAccess` (a scalar, not a list) must become a list holding the
    // replacement, not disappear with the admin policy.
    let template = "\
Transform: AWS::Serverless-2016-10-31
Resources:
  Busy:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      InlineCode: 'def handler(e, c): return e'
      Policies: AdministratorAccess
";
    let arn = "arn:aws:iam::123456789012:role/big-app-BusyRole-ABCDEFGHIJKL";
    let p = propose(&input(
        template,
        usage_of(arn, ["s3:GetObject".to_string()]),
    ))
    .unwrap();
    assert!(
        !p.template.contains("AdministratorAccess"),
        "{}",
        p.template
    );
    assert!(p.template.contains("s3:GetObject"), "{}", p.template);
    let t = Template::load("template.yaml", &p.template).unwrap();
    let granted: BTreeSet<String> = find_grants(&t)
        .of("BusyRole")
        .flat_map(|g| g.statements.iter())
        .flat_map(|s| s.effective.iter().cloned())
        .collect();
    assert_eq!(granted, ["s3:GetObject".to_string()].into());

    // The same with a single inline document that is narrowed in place.
    let template = template.replace(
        "      Policies: AdministratorAccess\n",
        "      Policies:\n        Statement:\n          - Effect: Allow\n            Action: sqs:*\n            Resource: '*'\n",
    );
    let usage = usage_of(arn, ["sqs:SendMessage".to_string()]);
    let p = propose(&input(&template, usage)).unwrap();
    assert!(p.template.contains("sqs:SendMessage"), "{}", p.template);
    assert!(!p.template.contains("sqs:*"), "{}", p.template);
}

#[test]
fn a_policy_document_written_as_a_json_string_stays_a_json_string() {
    let template = r#"{
  "Resources": {
    "A": {
      "Type": "AWS::IAM::Role",
      "Properties": {
        "RoleName": "role-a",
        "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "Policies": [{
          "PolicyName": "p",
          "PolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}"
        }]
      }
    }
  }
}
"#;
    let usage = usage_of(
        "arn:aws:iam::123456789012:role/role-a",
        ["s3:GetObject".to_string()],
    );
    let p = propose(&input(template, usage)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&p.template).unwrap();
    let doc = v["Resources"]["A"]["Properties"]["Policies"][0]["PolicyDocument"]
        .as_str()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(doc).unwrap();
    assert_eq!(doc["Version"], "2012-10-17");
    assert_eq!(doc["Statement"][0]["Action"], "s3:GetObject");
}
