//! Policy templates chosen through [`crate::proposal::propose`] on SAM templates, and the
//! never-broader comparison on its own.

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::proposal::{ProposalInput, RoleResolution, propose};
use crate::report::RoleStatus;
use crate::template::Template;
use crate::usage::{ActionUsage, PrincipalUsage, Usage, Window};

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/app-FnRole-ABCDEFGHIJKL";
const TABLE_ARN: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/app-Orders-1A2B3C4D5E6F";
const READS: [&str; 5] = [
    "dynamodb:BatchGetItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
];

/// FnRole's usage: each action once a day for 90 days, on `resource` when given.
fn usage(actions: &[&str], resource: Option<&str>) -> Usage {
    let t = Utc
        .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut pu = PrincipalUsage::default();
    for a in actions {
        let mut au = ActionUsage::seen_once(t);
        au.count = 90;
        au.resources.extend(resource.map(str::to_string));
        pu.actions.insert((*a).to_string(), au);
    }
    pu.windows.push(Window {
        start: t - chrono::Duration::days(90),
        end: t,
    });
    let mut u = Usage::default();
    u.principals.insert(ROLE_ARN.into(), pu);
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
            region: Some("eu-west-1".into()),
            ..RoleResolution::default()
        },
        coverage: crate::coverage::Coverage::all_seen(),
        ..ProposalInput::default()
    }
}

fn function(policies: &str) -> String {
    format!(
        "Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{{AttributeName: pk, AttributeType: S}}]
      KeySchema: [{{AttributeName: pk, KeyType: HASH}}]
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src
      Policies:
{policies}"
    )
}

fn policies_of(proposed: &str) -> Value {
    Template::load("p.yaml", proposed)
        .unwrap()
        .node("/Resources/Fn/Properties/Policies")
        .map(|n| n.to_json())
        .unwrap_or_default()
}

#[test]
fn a_crud_template_whose_reads_alone_are_used_becomes_the_read_template() {
    // Given DynamoDBCrudPolicy on the function's table, and only its reads used
    let text = function("        - DynamoDBCrudPolicy:\n            TableName: !Ref Orders\n");
    let p = propose(&input(&text, usage(&READS, None))).unwrap();
    // Then SAM's own narrower template replaces it, for the same table
    assert_eq!(
        policies_of(&p.template),
        json!([{"DynamoDBReadPolicy": {"TableName": {"Ref": "Orders"}}}]),
        "{}",
        p.template
    );
    let r = &p.report.roles["FnRole"];
    assert_eq!(r.status, RoleStatus::Proposed);
    let flag = r
        .flags
        .iter()
        .find(|f| f.kind == "sam_policy_template")
        .unwrap_or_else(|| panic!("{:?}", r.flags));
    assert!(
        flag.message.contains("DynamoDBReadPolicy"),
        "{}",
        flag.message
    );
    assert!(
        flag.message.contains("Fn DynamoDBCrudPolicy"),
        "{}",
        flag.message
    );
    let mut proposed = r.proposed_actions.clone();
    proposed.sort();
    assert_eq!(proposed, READS.map(String::from).to_vec());
}

#[test]
fn an_aws_managed_policy_narrowed_to_one_tables_reads_becomes_the_read_template() {
    let text = function("        - AmazonDynamoDBFullAccess\n");
    let p = propose(&input(&text, usage(&READS, Some(TABLE_ARN)))).unwrap();
    assert_eq!(
        policies_of(&p.template),
        json!([{"DynamoDBReadPolicy": {"TableName": {"Ref": "Orders"}}}]),
        "{}",
        p.template
    );
}

#[test]
fn a_kept_set_that_is_not_a_templates_stays_explicit() {
    // GetItem and Query are not DynamoDBReadPolicy (which adds Scan, BatchGetItem,
    // DescribeTable): explicit statements, no template
    let text = function("        - DynamoDBCrudPolicy:\n            TableName: !Ref Orders\n");
    let used = usage(&["dynamodb:GetItem", "dynamodb:Query"], None);
    let p = propose(&input(&text, used)).unwrap();
    let policies = policies_of(&p.template);
    assert!(policies[0].get("Statement").is_some(), "{}", p.template);
    assert!(!p.template.contains("DynamoDBReadPolicy"), "{}", p.template);
    let r = &p.report.roles["FnRole"];
    assert!(!r.flags.iter().any(|f| f.kind == "sam_policy_template"));
}

#[test]
fn a_table_outside_the_template_stays_explicit() {
    // A literal table name is not a resource of the template: nothing to write `!Ref` to
    let text = function("        - DynamoDBCrudPolicy:\n            TableName: legacy-orders\n");
    let p = propose(&input(&text, usage(&READS, None))).unwrap();
    assert!(!p.template.contains("DynamoDBReadPolicy"), "{}", p.template);
}

#[test]
fn an_original_pinned_to_one_region_never_becomes_the_stacks_region() {
    // DynamoDBReadPolicy writes ${AWS::Region}; an original allowing the table only in
    // eu-west-1 would grant, in another region, what it never granted there.
    let use_ = TemplateUse {
        name: "DynamoDBReadPolicy".into(),
        parameter: "TableName".into(),
        value: json!({"Ref": "Orders"}),
        resource: "Orders".into(),
        name_in_check: "orders".into(),
        partition: "aws".into(),
        own_arn: format!("arn:aws:dynamodb:{OPEN_REGION}:{OPEN_ACCOUNT}:table/orders"),
        arn_is: json!({"Fn::GetAtt": ["Orders", "Arn"]}),
        actions: ["dynamodb:GetItem".to_string()].into(),
        statements: vec![ResolvedStatement {
            actions: ["dynamodb:GetItem".to_string()].into(),
            resources: vec![format!(
                "arn:aws:dynamodb:{OPEN_REGION}:{OPEN_ACCOUNT}:table/orders"
            )],
        }],
    };
    let mut pinned = GrantStatement::allow_all_resources(["dynamodb:GetItem".to_string()]);
    pinned.resource = Some(json!("arn:aws:dynamodb:eu-west-1:*:table/*"));
    assert!(within(&[&pinned], &use_).is_err());
    let mut open = pinned.clone();
    open.resource = Some(json!("arn:aws:dynamodb:*:*:table/*"));
    assert_eq!(within(&[&open], &use_), Ok(()));
    // The table's own ARN, written as the intrinsic, is the same resource
    let mut getatt = pinned.clone();
    getatt.resource = Some(json!({"Fn::GetAtt": ["Orders", "Arn"]}));
    assert_eq!(within(&[&getatt], &use_), Ok(()));
    // A Condition on the original is never dropped by a template
    let mut conditioned = open.clone();
    conditioned.condition = Some(json!({"Bool": {"aws:SecureTransport": "true"}}));
    assert!(within(&[&conditioned], &use_).is_err());
}
