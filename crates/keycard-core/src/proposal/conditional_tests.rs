//! Narrowing grants under `Fn::If`, SAM connectors and what is left as written, through
//! [`super::propose`]; and the rewrite's cost (template loads) not growing with the roles.

use chrono::{TimeZone, Utc};

use super::*;
use crate::report::RoleStatus;
use crate::template::{Template, find_grants};
use crate::usage::{ActionUsage, PrincipalUsage, Window};

fn arn(role: &str) -> String {
    format!("arn:aws:iam::123456789012:role/app-{role}-ABCDEFGHIJKL")
}

/// Usage of several roles: (role logical id, actions).
fn usage(roles: &[(&str, &[&str])]) -> Usage {
    let t = Utc
        .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut u = Usage::default();
    for (role, actions) in roles {
        let mut pu = PrincipalUsage::default();
        for a in *actions {
            let mut au = ActionUsage::seen_once(t);
            au.count = 40;
            pu.actions.insert((*a).to_string(), au);
        }
        pu.windows.push(Window {
            start: t - chrono::Duration::days(90),
            end: t,
        });
        u.principals.insert(arn(role), pu);
    }
    u
}

fn input(template: &str, usage: Usage) -> ProposalInput {
    ProposalInput {
        template_name: "template.yaml".into(),
        template_text: template.into(),
        usage,
        resolution: RoleResolution {
            stack_name: Some("app".into()),
            account_id: Some("123456789012".into()),
            ..RoleResolution::default()
        },
        coverage: crate::coverage::Coverage::all_seen(),
        ..ProposalInput::default()
    }
}

const TRUST: &str = "      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
";

fn role(id: &str, policies: &str) -> String {
    format!("  {id}:\n    Type: AWS::IAM::Role\n    Properties:\n{TRUST}{policies}")
}

fn template(conditions: bool, resources: &[String]) -> String {
    let mut t = String::from("AWSTemplateFormatVersion: '2010-09-09'\n");
    if conditions {
        t.push_str(
            "Parameters:\n  Stage: {Type: String, Default: prod}\nConditions:\n  IsProd: !Equals [!Ref Stage, prod]\n",
        );
    }
    t.push_str("Resources:\n");
    for r in resources {
        t.push_str(r);
    }
    t
}

/// Effective Allow actions of a principal in the proposed template, in the deployment where
/// every condition is `branch`: statements under an `Fn::If` taking the other branch count
/// nowhere.
fn granted_when(
    proposed: &str,
    principal: &str,
    branch: bool,
) -> std::collections::BTreeSet<String> {
    let t = Template::load("p.yaml", proposed).unwrap();
    let g = find_grants(&t);
    g.of(principal)
        .filter(|g| g.conditions.iter().all(|c| c.branch == branch))
        .flat_map(|g| g.statements.iter())
        .filter(|s| s.is_allow() && s.conditions.iter().all(|c| c.branch == branch))
        .flat_map(|s| s.effective.iter().cloned())
        .collect()
}

#[test]
fn a_statement_under_fn_if_is_narrowed_in_its_branch_and_keeps_its_condition() {
    // Given a statement chosen per stage granting s3:* and sqs:*, and an unconditional one
    let policies = "      Policies:
        - PolicyName: worker
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Action: dynamodb:*
                Resource: '*'
              - !If
                - IsProd
                - Effect: Allow
                  Action: ['s3:*', 'sqs:*']
                  Resource: '*'
                - Effect: Allow
                  Action: s3:GetObject
                  Resource: '*'
              - Effect: Deny
                Action: s3:DeleteBucket
                Resource: '*'
";
    let text = template(true, &[role("WorkerRole", policies)]);
    // When the role used one action of each service
    let used: &[&str] = &["dynamodb:GetItem", "s3:GetObject", "sqs:SendMessage"];
    let p = propose(&input(&text, usage(&[("WorkerRole", used)]))).unwrap();
    // Then the unconditional statement keeps dynamodb:GetItem; the prod branch keeps s3 and
    // sqs as two statements under the same condition; the dev branch keeps its s3:GetObject
    // (used, and the only grant of it there); the Deny is as written
    let out = &p.template;
    assert_eq!(out.matches("- !If").count(), 2, "{out}");
    assert!(out.contains("- IsProd"), "{out}");
    assert!(out.contains("Action: sqs:SendMessage"), "{out}");
    assert!(out.contains("Action: s3:DeleteBucket"), "{out}");
    assert!(!out.contains("s3:*"), "{out}");
    let prod = granted_when(out, "WorkerRole", true);
    let dev = granted_when(out, "WorkerRole", false);
    assert_eq!(
        prod,
        ["dynamodb:GetItem", "s3:GetObject", "sqs:SendMessage"]
            .map(String::from)
            .into()
    );
    assert_eq!(
        dev,
        ["dynamodb:GetItem", "s3:GetObject"]
            .map(String::from)
            .into()
    );
    let r = &p.report.roles["WorkerRole"];
    assert_eq!(r.status, RoleStatus::Proposed);
    assert!(r.not_narrowed.is_empty());
}

#[test]
fn an_action_granted_outside_and_inside_fn_if_stays_outside_and_leaves_the_branch() {
    let policies = "      Policies:
        - PolicyName: worker
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: s3:GetObject
                Resource: '*'
              - !If
                - IsProd
                - Effect: Allow
                  Action: ['s3:GetObject', 's3:PutObject']
                  Resource: '*'
                - !Ref AWS::NoValue
";
    let text = template(true, &[role("WorkerRole", policies)]);
    let p = propose(&input(&text, usage(&[("WorkerRole", &["s3:GetObject"])]))).unwrap();
    // The unconditional statement is enough in every deployment; the branch had nothing else
    // used and becomes AWS::NoValue (the document keeps a statement in both).
    let prod = granted_when(&p.template, "WorkerRole", true);
    let dev = granted_when(&p.template, "WorkerRole", false);
    assert_eq!(prod, ["s3:GetObject".to_string()].into(), "{}", p.template);
    assert_eq!(dev, prod);
    assert!(!p.template.contains("s3:PutObject"), "{}", p.template);
}

#[test]
fn a_document_only_statements_under_fn_if_could_empty_is_left_as_written() {
    // Nothing outside the Fn::If: narrowing the unused dev branch away would leave the dev
    // deployment a policy without statements, which IAM refuses.
    let policies = "      Policies:
        - PolicyName: worker
          PolicyDocument:
            Statement:
              - !If
                - IsProd
                - Effect: Allow
                  Action: s3:*
                  Resource: '*'
                - Effect: Allow
                  Action: sqs:*
                  Resource: '*'
";
    let text = template(true, &[role("WorkerRole", policies)]);
    let p = propose(&input(&text, usage(&[("WorkerRole", &["s3:GetObject"])]))).unwrap();
    assert_eq!(p.template, text);
    let r = &p.report.roles["WorkerRole"];
    assert_eq!(r.status, RoleStatus::NotNarrowed);
    assert!(
        r.not_narrowed[0].reason.contains("Fn::If"),
        "{:?}",
        r.not_narrowed
    );
    let md = crate::report::render_markdown(&p.report);
    assert!(!md.contains("Everything granted is kept"), "{md}");
    assert!(md.contains("could not be narrowed"), "{md}");
}

#[test]
fn a_whole_policy_under_fn_if_is_narrowed_per_branch_and_an_emptied_branch_becomes_no_value() {
    let policies = "      Policies:
        - !If
          - IsProd
          - PolicyName: prod
            PolicyDocument:
              Statement:
                - Effect: Allow
                  Action: ['logs:*', 's3:*']
                  Resource: '*'
          - PolicyName: dev
            PolicyDocument:
              Statement:
                - Effect: Allow
                  Action: sqs:*
                  Resource: '*'
";
    let text = template(true, &[role("WorkerRole", policies)]);
    let p = propose(&input(&text, usage(&[("WorkerRole", &["s3:PutObject"])]))).unwrap();
    let out = &p.template;
    assert!(out.contains("PolicyName: prod"), "{out}");
    assert!(!out.contains("PolicyName: dev"), "{out}");
    assert!(out.contains("- !Ref AWS::NoValue"), "{out}");
    assert_eq!(
        granted_when(out, "WorkerRole", true),
        ["s3:PutObject".to_string()].into()
    );
    assert!(granted_when(out, "WorkerRole", false).is_empty());
}

/// The first statement of a role's first inline policy in the proposed template, as JSON.
fn first_statement(proposed: &str, role: &str) -> serde_json::Value {
    let t = Template::load("p.yaml", proposed).unwrap();
    t.node(&format!(
        "/Resources/{role}/Properties/Policies/0/PolicyDocument/Statement/0"
    ))
    .map(|n| n.to_json())
    .unwrap_or_default()
}

#[test]
fn an_action_chosen_by_fn_if_is_narrowed_per_branch_with_the_same_evidence() {
    // Given `Action: !If [IsProd, [s3:*], [s3:GetObject, s3:PutObject]]` beside a logs grant
    let policies = "      Policies:
        - PolicyName: worker
          PolicyDocument:
            Statement:
              - Sid: Uploads
                Effect: Allow
                Action: !If [IsProd, ['s3:*'], ['s3:GetObject', 's3:PutObject']]
                Resource: arn:aws:s3:::app-uploads/*
              - Effect: Allow
                Action: logs:*
                Resource: '*'
";
    let text = template(true, &[role("WorkerRole", policies)]);
    // When the role read and deleted objects (a prod-only cleanup) and wrote logs
    let used: &[&str] = &["s3:GetObject", "s3:DeleteObject", "logs:PutLogEvents"];
    let p = propose(&input(&text, usage(&[("WorkerRole", used)]))).unwrap();
    // Then each branch keeps what the evidence shows it grants, under the same condition:
    // prod GetObject and DeleteObject, the other deployments GetObject (never DeleteObject,
    // which they were never granted); the Sid and Resource stay
    let st = first_statement(&p.template, "WorkerRole");
    assert_eq!(
        st,
        serde_json::json!({"Sid": "Uploads", "Effect": "Allow",
            "Action": {"Fn::If": ["IsProd", ["s3:DeleteObject", "s3:GetObject"], "s3:GetObject"]},
            "Resource": "arn:aws:s3:::app-uploads/*"}),
        "{}",
        p.template
    );
    assert!(!p.template.contains("s3:PutObject"), "{}", p.template);
    let r = &p.report.roles["WorkerRole"];
    assert_eq!(r.status, RoleStatus::Proposed);
    assert!(r.not_narrowed.is_empty(), "{:?}", r.not_narrowed);
}

#[test]
fn an_fn_if_item_of_an_action_list_is_narrowed_and_disappears_when_both_branches_agree() {
    let policies = "      Policies:
        - PolicyName: worker
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action:
                  - s3:GetObject
                  - s3:PutObject
                  - !If [IsProd, s3:DeleteObject, !Ref AWS::NoValue]
                Resource: arn:aws:s3:::app-uploads/*
";
    let text = template(true, &[role("WorkerRole", policies)]);
    // Only reads: both deployments keep s3:GetObject, the condition chooses nothing any more
    let p = propose(&input(&text, usage(&[("WorkerRole", &["s3:GetObject"])]))).unwrap();
    let st = first_statement(&p.template, "WorkerRole");
    assert_eq!(st["Action"], "s3:GetObject", "{}", p.template);
    assert!(!p.template.contains("IsProd, s3"), "{}", p.template);
    // Reads and the prod-only delete: the statement is chosen per deployment
    let used: &[&str] = &["s3:GetObject", "s3:DeleteObject"];
    let p = propose(&input(&text, usage(&[("WorkerRole", used)]))).unwrap();
    let st = first_statement(&p.template, "WorkerRole");
    let branches = st["Fn::If"].as_array().cloned().unwrap_or_default();
    assert_eq!(branches.len(), 3, "{}", p.template);
    assert_eq!(branches[0], "IsProd");
    assert_eq!(
        branches[1]["Action"],
        serde_json::json!(["s3:DeleteObject", "s3:GetObject"])
    );
    assert_eq!(branches[2]["Action"], "s3:GetObject");
    assert_eq!(branches[2]["Resource"], "arn:aws:s3:::app-uploads/*");
}

#[test]
fn a_managed_policy_under_fn_if_and_an_action_from_a_parameter_are_listed_as_not_narrowed() {
    let policies = "      ManagedPolicyArns:
        - !If [IsProd, arn:aws:iam::aws:policy/AdministratorAccess, !Ref AWS::NoValue]
      Policies:
        - PolicyName: audit
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: !If [IsProd, ['dynamodb:*'], ['dynamodb:GetItem']]
                Resource: '*'
        - PolicyName: extra
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: !Split [',', !Ref Stage]
                Resource: '*'
";
    let text = template(true, &[role("AuditRole", policies)]);
    let p = propose(&input(
        &text,
        usage(&[("AuditRole", &["dynamodb:GetItem"])]),
    ))
    .unwrap();
    // The Action chosen by Fn::If is narrowed (both deployments keep GetItem only)
    assert_eq!(
        first_statement(&p.template, "AuditRole")["Action"],
        "dynamodb:GetItem",
        "{}",
        p.template
    );
    // AdministratorAccess (prod) still grants everything, so nothing counts as removed
    let r = &p.report.roles["AuditRole"];
    assert_eq!(r.status, RoleStatus::NotNarrowed);
    let reasons: Vec<&str> = r.not_narrowed.iter().map(|n| n.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons.iter().any(|x| x.contains("intrinsic")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|x| x.contains("ManagedPolicyArns")),
        "{reasons:?}"
    );
    assert!(r.flags.iter().any(|f| f.kind == "not_narrowed"));
    let json = p.report.to_json();
    assert!(json.contains("\"not_narrowed\""), "{json}");
}

const ORDERS_FUNCTION: &str = "Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src
    Connectors:
      OrdersAccess:
        Properties:
          Destination:
            Id: Orders
          Permissions:
            - Read
            - Write
";

#[test]
fn a_connector_broader_than_used_is_replaced_by_explicit_statements() {
    // Read on a table is six actions; the function only queried
    let used = usage(&[("FnRole", &["dynamodb:Query"])]);
    let p = propose(&input(ORDERS_FUNCTION, used)).unwrap();
    let out = &p.template;
    assert!(!out.contains("Connectors:"), "{out}");
    let t = Template::load("p.yaml", out).unwrap();
    assert_eq!(
        t.node("/Resources/Fn/Properties/Policies/0/Statement/0")
            .map(|n| n.to_json())
            .unwrap_or_default(),
        serde_json::json!({"Sid": "DynamodbAccess", "Effect": "Allow", "Action": "dynamodb:Query",
            "Resource": [{"Fn::GetAtt": ["Orders", "Arn"]}, {"Fn::Sub": "${Orders.Arn}/index/*"}]}),
        "{out}"
    );
    let r = &p.report.roles["FnRole"];
    assert_eq!(r.proposed_actions, vec!["dynamodb:Query".to_string()]);
    assert!(
        r.flags.iter().any(|f| f.kind == "connector_replaced"),
        "{:?}",
        r.flags
    );
    let replaced = &r.replaced_policies;
    assert_eq!(replaced.len(), 1, "{replaced:?}");
    assert_eq!(replaced[0].kind, "sam_connector");
    assert_eq!(replaced[0].grants, 13);
    assert!(r.not_narrowed.is_empty(), "{:?}", r.not_narrowed);
}

#[test]
fn a_connector_whose_kept_categories_are_exactly_what_is_used_keeps_its_narrower_permissions() {
    let text = "Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src
    Connectors:
      JobsAccess:
        Properties:
          Destination:
            Id: Jobs
          Permissions:
            - Read
            - Write
";
    // Read is ReceiveMessage and GetQueueAttributes (data/sam-connector-profiles.json)
    let used = usage(&[("FnRole", &["sqs:ReceiveMessage", "sqs:GetQueueAttributes"])]);
    let p = propose(&input(text, used)).unwrap();
    assert!(
        p.template.contains("Permissions:\n            - Read\n"),
        "{}",
        p.template
    );
    assert!(!p.template.contains("- Write"), "{}", p.template);
    let r = &p.report.roles["FnRole"];
    assert!(
        r.flags.iter().any(|f| f.kind == "connector_narrowed"),
        "{:?}",
        r.flags
    );
    assert!(r.not_narrowed.is_empty(), "{:?}", r.not_narrowed);
}

#[test]
fn a_connector_something_depends_on_keeps_its_categories_and_says_why() {
    let text = format!(
        "{ORDERS_FUNCTION}  Alarm:\n    Type: AWS::CloudWatch::Alarm\n    DependsOn: FnOrdersAccess\n    Properties:\n      MetricName: Errors\n"
    );
    let used = usage(&[("FnRole", &["dynamodb:Query"])]);
    let p = propose(&input(&text, used)).unwrap();
    assert!(
        p.template.contains("Permissions:\n            - Read\n"),
        "{}",
        p.template
    );
    let r = &p.report.roles["FnRole"];
    assert_eq!(r.not_narrowed.len(), 1, "{:?}", r.not_narrowed);
    let why = &r.not_narrowed[0].reason;
    assert!(why.contains("dynamodb:GetItem"), "{why}");
    assert!(why.contains("Alarm refers to FnOrdersAccess"), "{why}");
}

#[test]
fn a_connector_whose_destination_depends_on_the_function_is_not_written_into_its_role() {
    // The state machine's definition names the function, the function starts it: written
    // into FnRole's own policy, the role would depend on the machine and the machine on it.
    let text = "Transform: AWS::Serverless-2016-10-31
Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Work
        States:
          Work: {Type: Task, Resource: !GetAtt Fn.Arn, End: true}
      Policies:
        - LambdaInvokePolicy: {FunctionName: !Ref Fn}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src
    Connectors:
      Starts:
        Properties:
          Destination:
            Id: Machine
          Permissions:
            - Write
";
    let used = usage(&[("FnRole", &["states:StartExecution"])]);
    let p = propose(&input(text, used)).unwrap();
    assert!(p.template.contains("Connectors:"), "{}", p.template);
    let r = &p.report.roles["FnRole"];
    assert_eq!(r.not_narrowed.len(), 1, "{:?}", r.not_narrowed);
    assert!(
        r.not_narrowed[0].reason.contains("circular"),
        "{:?}",
        r.not_narrowed
    );
}

#[test]
fn policies_in_sam_globals_are_reported_not_granted() {
    // SAM refuses Policies in Globals: the template does not transform, nothing is granted.
    let text = "Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Policies:
      - AmazonS3FullAccess
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      CodeUri: src
";
    let t = Template::load("t.yaml", text).unwrap();
    let g = find_grants(&t);
    assert!(g.grants.iter().all(|g| !g.path.starts_with("/Globals")));
    assert!(
        g.not_analysable
            .iter()
            .any(|n| n.path == "/Globals/Function/Policies"
                && n.reason.contains("not a supported property")),
        "{:?}",
        g.not_analysable
    );
}

#[test]
fn the_template_is_loaded_a_constant_number_of_times_whatever_the_number_of_roles() {
    let loads = |n: usize| {
        let roles: Vec<String> = (0..n)
            .map(|i| {
                role(
                    &format!("Worker{i}Role"),
                    "      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: ['s3:*', 'sqs:*']
                Resource: '*'
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/AdministratorAccess
",
                )
            })
            .collect();
        let text = template(false, &roles);
        let ids: Vec<String> = (0..n).map(|i| format!("Worker{i}Role")).collect();
        let used: Vec<(&str, &[&str])> = ids
            .iter()
            .map(|id| (id.as_str(), &["s3:GetObject", "sqs:SendMessage"][..]))
            .collect();
        let before = crate::template::whole_loads();
        let p = propose(&input(&text, usage(&used))).unwrap();
        assert_eq!(p.report.summary.proposed, n);
        assert!(!p.template.contains("AdministratorAccess"));
        crate::template::whole_loads() - before
    };
    let few = loads(3);
    assert_eq!(loads(40), few);
    assert!(few <= 3, "{few} whole-template loads");
}
