use super::verify::{local_regions, verify_full};
use super::*;
use serde_json::json;

fn load(text: &str) -> Template {
    Template::load("t.yaml", text).unwrap()
}

const ROLE: &str = "\
AWSTemplateFormatVersion: '2010-09-09'
# the app role
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/AdministratorAccess # too broad
        - !Ref Extra
      Policies:
        - PolicyName: app
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: 's3:*'
                Resource: '*'
  Extra:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: {Statement: [{Effect: Allow, Action: 'sqs:*', Resource: '*'}]}
Outputs:
  RoleArn:
    Value: !GetAtt Role.Arn
";

#[test]
fn replace_statement_list_in_block_style() {
    let t = load(ROLE);
    let out = t
        .apply(&[Edit::replace(
            "/Resources/Role/Properties/Policies/0/PolicyDocument/Statement",
            json!([{"Effect": "Allow", "Action": ["s3:GetObject"],
                        "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}}]),
        )])
        .unwrap();
    assert!(
            out.contains(
                "            Statement:\n              - Effect: Allow\n                Action:\n                  - s3:GetObject\n                Resource: !Sub ${Bucket.Arn}/*\n  Extra:"
            ),
            "{out}"
        );
    assert!(out.starts_with("AWSTemplateFormatVersion: '2010-09-09'\n# the app role\n"));
}

#[test]
fn remove_keeps_neighbours_and_never_leaves_null() {
    let t = load(ROLE);
    let out = t
        .apply(&[Edit::remove(
            "/Resources/Role/Properties/ManagedPolicyArns/0",
        )])
        .unwrap();
    assert!(out.contains("      ManagedPolicyArns:\n        - !Ref Extra\n      Policies:"));
    let t2 = load(&out);
    let out2 = t2
        .apply(&[Edit::remove(
            "/Resources/Role/Properties/ManagedPolicyArns/0",
        )])
        .unwrap();
    assert!(out2.contains("      ManagedPolicyArns: []\n"), "{out2}");
}

/// Shaped like cfn-lint's test/fixtures/templates/good/transform/function_use_s3_uri.yaml:
/// every AWS managed policy of a SAM function removed and a statement pushed in their place.
/// The push once landed after a `Policies: []` replacement ("did not find expected key").
#[test]
fn removing_every_item_and_pushing_one_replaces_the_list() {
    let text = "\
Resources:
  Function:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Policies:
        - arn:aws:iam::aws:policy/CloudWatchLambdaInsightsExecutionRolePolicy
        - arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole
      Layers:
        - !FindInMap [RegionMap, !Ref AWS::Region, \"InsightsArn\"]
";
    let policies = "/Resources/Function/Properties/Policies";
    let statement = json!({"Statement": [{"Effect": "Allow",
            "Action": "logs:CreateLogGroup", "Resource": "*"}]});
    let out = load(text)
        .apply(&[
            Edit::push(policies, statement),
            Edit::remove(&format!("{policies}/0")),
            Edit::remove(&format!("{policies}/1")),
        ])
        .unwrap();
    assert!(
            out.contains("      Policies:\n        - Statement:\n            - Effect: Allow\n              Action: logs:CreateLogGroup\n              Resource: \"*\"\n      Layers:\n"),
            "{out}"
        );
    assert!(!out.contains("[]"), "{out}");
}

/// Shaped like the CIS benchmark Quick Start (cfn-lint's test/fixtures/templates/quickstart/
/// cis_benchmark.yaml): a `---` marker, an indented comment banner, and policies whose `-`
/// stands alone on its line. Removing such an item once sliced from the item's line back to
/// its dash (a panic).
#[test]
fn remove_item_whose_dash_stands_on_its_own_line() {
    let text = "\
---

  #======================================
  # AWS CloudFormation template for CIS
  #======================================

  AWSTemplateFormatVersion: 2010-09-09
  Resources:
    MasterConfigRole:
      Type: AWS::IAM::Role
      Properties:
        AssumeRolePolicyDocument: {}
        Policies:
          -
            PolicyName: KmsRead
            PolicyDocument:
              Statement:
                - Effect: Allow
                  Action: kms:ListKeys
                  Resource: \"*\"

          -
            PolicyName: S3ReadOnly
            PolicyDocument:
              Statement:
                - Effect: Allow
                  Action: s3:Get*
                  Resource: \"*\"
";
    let t = load(text);
    let out = t
        .apply(&[Edit::remove(
            "/Resources/MasterConfigRole/Properties/Policies/1",
        )])
        .unwrap();
    assert!(!out.contains("S3ReadOnly"), "{out}");
    assert!(
            out.ends_with("          -\n            PolicyName: KmsRead\n            PolicyDocument:\n              Statement:\n                - Effect: Allow\n                  Action: kms:ListKeys\n                  Resource: \"*\"\n\n"),
            "{out}"
        );
    let out = load(text)
        .apply(&[Edit::remove(
            "/Resources/MasterConfigRole/Properties/Policies/0",
        )])
        .unwrap();
    assert!(
        out.contains("        Policies:\n\n          -\n            PolicyName: S3ReadOnly\n"),
        "{out}"
    );
    assert!(!out.contains("KmsRead"), "{out}");
}

#[test]
fn removing_every_item_in_one_call_leaves_an_empty_list() {
    let t = load(ROLE);
    let out = t
        .apply(&[
            Edit::remove("/Resources/Role/Properties/ManagedPolicyArns/1"),
            Edit::remove("/Resources/Role/Properties/ManagedPolicyArns/0"),
        ])
        .unwrap();
    assert!(
        out.contains("      ManagedPolicyArns: []\n      Policies:"),
        "{out}"
    );
}

#[test]
fn removals_in_one_call_use_original_indices() {
    let text = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      ManagedPolicyArns:\n        - a\n        - b\n        - c\n";
    let t = load(text);
    let out = t
        .apply(&[
            Edit::remove("/Resources/R/Properties/ManagedPolicyArns/0"),
            Edit::remove("/Resources/R/Properties/ManagedPolicyArns/2"),
        ])
        .unwrap();
    assert!(
        out.ends_with("      ManagedPolicyArns:\n        - b\n"),
        "{out}"
    );
}

#[test]
fn add_resource_and_push_in_flow_and_block() {
    let t = load(ROLE);
    let out = t
        .apply(&[
            Edit::add_resource(
                "ReadPolicy",
                json!({"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": ["sqs:ReceiveMessage"],
                                       "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}}]}}}),
            ),
            Edit::push(
                "/Resources/Role/Properties/ManagedPolicyArns",
                json!({"Ref": "ReadPolicy"}),
            ),
            Edit::push(
                "/Resources/Extra/Properties/PolicyDocument/Statement",
                json!({"Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*"}),
            ),
        ])
        .unwrap();
    assert!(
        out.contains("        - !Ref Extra\n        - !Ref ReadPolicy\n"),
        "{out}"
    );
    assert!(out.contains(
            "  ReadPolicy:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n        Version: '2012-10-17'\n        Statement:\n          - Effect: Allow\n            Action:\n              - sqs:ReceiveMessage\n            Resource: !GetAtt Queue.Arn\nOutputs:"
        ), "{out}");
    assert!(
        out.contains("Resource: '*'}, {Effect: Deny, Action: sqs:DeleteQueue, Resource: '*'}]}"),
        "{out}"
    );
}

#[test]
fn json_replace_uses_file_indentation() {
    let text = "{\n    \"Resources\": {\n        \"Role\": {\n            \"Type\": \"AWS::IAM::Role\",\n            \"Properties\": {\n                \"ManagedPolicyArns\": [\n                    \"arn:aws:iam::aws:policy/PowerUserAccess\",\n                    {\"Ref\": \"P\"}\n                ]\n            }\n        }\n    }\n}\n";
    let t = Template::load("t.json", text).unwrap();
    let out = t
        .apply(&[Edit::replace(
            "/Resources/Role/Properties/ManagedPolicyArns",
            json!([{"Ref": "P"}, {"Ref": "Q"}]),
        )])
        .unwrap();
    assert!(out.contains("\"ManagedPolicyArns\": [\n                    {\n                        \"Ref\": \"P\"\n                    },"), "{out}");
    let out = t
        .apply(&[Edit::remove(
            "/Resources/Role/Properties/ManagedPolicyArns/0",
        )])
        .unwrap();
    assert!(
        out.contains(
            "\"ManagedPolicyArns\": [\n                    {\"Ref\": \"P\"}\n                ]"
        ),
        "{out}"
    );
}

#[test]
fn quoting_survives_the_reparse() {
    let t = load(ROLE);
    for s in [
        "yes",
        "*",
        "2012-10-17",
        "a: b",
        "x #y",
        "-",
        "0777",
        "",
        "it's",
        "tab\there",
        "multi\nline",
        "~",
        "@x",
    ] {
        let out = t
            .apply(&[
                Edit::replace("/Outputs/RoleArn/Value", json!(s)),
                Edit::push("/Resources/Role/Properties/ManagedPolicyArns", json!(s)),
                Edit::push(
                    "/Resources/Extra/Properties/PolicyDocument/Statement",
                    json!({"Sid": s, "Resource": [s, {"Fn::Sub": s}]}),
                ),
            ])
            .unwrap_or_else(|e| panic!("{s:?}: {e}"));
        let t2 = load(&out);
        assert_eq!(
            t2.node("/Outputs/RoleArn/Value").unwrap().to_json(),
            json!(s)
        );
        assert_eq!(
            t2.node("/Resources/Role/Properties/ManagedPolicyArns/2")
                .unwrap()
                .to_json(),
            json!(s)
        );
    }
}

#[test]
fn verification_catches_collateral_and_missing_changes() {
    let t = load(ROLE);
    let edit = Edit::replace(
        "/Resources/Role/Properties/ManagedPolicyArns/0",
        json!("arn:aws:iam::aws:policy/ReadOnlyAccess"),
    );
    let good = t.apply(std::slice::from_ref(&edit)).unwrap();
    let edits = std::slice::from_ref(&edit);
    assert!(verify_full(&t, edits, &good).is_ok());
    // A neighbour changed too.
    let collateral = good.replace("PolicyName: app", "PolicyName: other");
    let err = verify_full(&t, edits, &collateral).unwrap_err();
    assert!(
        matches!(&err, RewriteError::Verification { path, .. } if path == "/Resources/Role/Properties/Policies/0/PolicyName"),
        "{err}"
    );
    // The edit did not happen.
    let err = verify_full(&t, edits, ROLE).unwrap_err();
    assert!(matches!(err, RewriteError::Verification { .. }), "{err}");
    // An item vanished.
    let removed = good.replace("        - !Ref Extra\n", "");
    let err = verify_full(&t, edits, &removed).unwrap_err();
    assert!(matches!(err, RewriteError::Verification { .. }), "{err}");
    // Not YAML any more.
    let broken = good.replace("Resources:", "Resources: [");
    assert!(matches!(
        verify_full(&t, &[], &broken),
        Err(RewriteError::Reparse { .. })
    ));
}

#[test]
fn local_verification_checks_the_edited_resources() {
    let t = load(ROLE);
    let edits = [
        Edit::replace(
            "/Resources/Role/Properties/ManagedPolicyArns/0",
            json!("arn:aws:iam::aws:policy/ReadOnlyAccess"),
        ),
        Edit::add_resource("Queue", json!({"Type": "AWS::SQS::Queue"})),
    ];
    let splices: Vec<Splice> = edits.iter().map(|e| plan(&t, e).unwrap()).collect();
    let good = t.apply(&edits).unwrap();
    let regions = local_regions(&t, &edits, &splices, &good).unwrap();
    assert_eq!(regions.len(), 2);
    assert!(verify(&t, &edits, &splices, &good).is_ok());
    // A same-length change elsewhere in the edited resource is caught.
    let collateral = good.replace("PolicyName: app", "PolicyName: apq");
    let err = verify(&t, &edits, &splices, &collateral).unwrap_err();
    assert!(matches!(err, RewriteError::Verification { .. }), "{err}");
    // A rendering that escapes its resource's indentation is caught.
    let escaped = good.replace("    Type: AWS::SQS::Queue", "  Type:  AWS::SQS::Queue");
    let err = verify(&t, &edits, &splices, &escaped).unwrap_err();
    assert!(matches!(err, RewriteError::Verification { .. }), "{err}");
    // An insertion after a resource's last line belongs to that resource.
    let props = [Edit::insert(
        "/Resources/Extra/Properties",
        "Description",
        json!("extra"),
    )];
    let splices: Vec<Splice> = props.iter().map(|e| plan(&t, e).unwrap()).collect();
    let text = t.apply(&props).unwrap();
    assert!(
        text.contains("      Description: extra\nOutputs:"),
        "{text}"
    );
    assert_eq!(
        local_regions(&t, &props, &splices, &text).map(|r| r.len()),
        Some(1)
    );
    // Edits outside Resources use the full re-parse.
    let outputs = [Edit::replace("/Outputs/RoleArn/Value", json!("x"))];
    let splices: Vec<Splice> = outputs.iter().map(|e| plan(&t, e).unwrap()).collect();
    let text = t.apply(&outputs).unwrap();
    assert!(local_regions(&t, &outputs, &splices, &text).is_none());
}

#[test]
fn overlapping_edits_are_refused() {
    let t = load(ROLE);
    let err = t
        .apply(&[
            Edit::replace("/Resources/Role/Properties/Policies", json!([])),
            Edit::replace("/Resources/Role/Properties/Policies/0", json!({})),
        ])
        .unwrap_err();
    assert!(matches!(err, RewriteError::Overlap { .. }), "{err}");
}

#[test]
fn no_edit_is_byte_identical() {
    let t = load(ROLE);
    assert_eq!(t.apply(&[]).unwrap(), ROLE);
}
