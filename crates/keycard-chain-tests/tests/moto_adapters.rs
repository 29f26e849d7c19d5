//! The S3, CloudFormation and IAM adapters against moto server (real HTTP, real SDK).

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keycard_aws::cloudformation::TemplateStage;
use keycard_aws::{ErrorKind, ObjectStore, Roles, Stacks};
use keycard_chain_tests::{create_stack, fixture, moto_clients, moto_endpoint, unique};

#[tokio::test]
async fn s3_objects_round_trip_and_list_across_pages() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (clients, config, _) = moto_clients(&endpoint).await;
    let b = &config.bucket;

    // More than one ListObjectsV2 page (1000 keys) under the prefix, plus one outside it.
    for i in 0..1003 {
        clients
            .s3
            .put_object(
                b,
                &format!("runs/r1/generated/s/Role{i:04}.json"),
                b"{}".to_vec(),
                "application/json",
            )
            .await
            .unwrap();
    }
    clients
        .s3
        .put_object(
            b,
            "ledger/orders.json",
            br#"{"principals":{}}"#.to_vec(),
            "application/json",
        )
        .await
        .unwrap();

    let listed = clients.s3.list_objects(b, "runs/r1/").await.unwrap();
    assert_eq!(listed.len(), 1003);
    assert_eq!(listed[0].key, "runs/r1/generated/s/Role0000.json");
    assert_eq!(listed[1002].key, "runs/r1/generated/s/Role1002.json");
    assert!(listed.iter().all(|o| o.size == 2));

    assert_eq!(
        clients
            .s3
            .get_object(b, "ledger/orders.json")
            .await
            .unwrap()
            .as_deref(),
        Some(&br#"{"principals":{}}"#[..])
    );
    // A missing key is "no object"; a missing bucket is an error.
    assert_eq!(
        clients.s3.get_object(b, "ledger/none.json").await.unwrap(),
        None
    );
    let e = clients
        .s3
        .get_object(&unique("keycard-missing"), "ledger/orders.json")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(e.code.as_deref(), Some("NoSuchBucket"));
}

#[tokio::test]
async fn cloudformation_resources_and_both_template_stages() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (clients, _, sdk) = moto_clients(&endpoint).await;
    let stack = unique("orders-service");
    let template = fixture("stacks/orders-service.yaml");
    create_stack(&sdk, &stack, &template).await;

    let resources = clients.stacks.stack_resources(&stack).await.unwrap();
    let mut roles: Vec<(&str, &str)> = resources
        .iter()
        .filter(|r| r.resource_type == "AWS::IAM::Role")
        .map(|r| (r.logical_id.as_str(), r.resource_type.as_str()))
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        vec![
            ("ApiRole", "AWS::IAM::Role"),
            ("OrdersWorkerRole", "AWS::IAM::Role")
        ]
    );
    assert!(resources.iter().all(|r| r.physical_id.is_some()));
    assert!(
        resources
            .iter()
            .any(|r| r.resource_type == "AWS::SQS::Queue")
    );

    // moto returns the body as submitted for both stages (no transform in this template).
    let original = clients
        .stacks
        .template(&stack, TemplateStage::Original)
        .await
        .unwrap();
    assert_eq!(original, template);
    let processed = clients
        .stacks
        .template(&stack, TemplateStage::Processed)
        .await
        .unwrap();
    assert!(processed.contains("OrdersWorkerRole"));

    let e = clients
        .stacks
        .stack_resources(&unique("no-such-stack"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
}

/// A customer managed policy named `prefix` plus a unique suffix, and its ARN.
async fn create_policy(iam: &aws_sdk_iam::Client, prefix: &str, document: &str) -> String {
    let out = iam
        .create_policy()
        .policy_name(unique(prefix))
        .policy_document(document)
        .send()
        .await
        .unwrap();
    out.policy.unwrap().arn.unwrap()
}

/// moto's CloudFormation does not attach a role's `ManagedPolicyArns` and stores inline
/// `Policies` as Python reprs, so the live-read test sets the role up through the IAM API,
/// as a person editing the role in the console would.
#[tokio::test]
async fn iam_roles_and_their_live_policies() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (clients, _, sdk) = moto_clients(&endpoint).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let name = unique("orders-api");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name(&name)
        .path("/service/")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name(&name)
        .policy_name("added-by-hand")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:DeleteTable","dynamodb:Scan"],"Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let managed = create_policy(
        &iam,
        "orders-read",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query"],"Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/orders"}]}"#,
    )
    .await;
    let queue_full = create_policy(
        &iam,
        "orders-queue-full",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#,
    )
    .await;
    // A second version set as default, as an edit in the console would.
    iam.create_policy_version()
        .policy_arn(&queue_full)
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:*","sns:Publish"],"Resource":"*"}]}"#,
        )
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    for arn in [managed.as_str(), queue_full.as_str()] {
        iam.attach_role_policy()
            .role_name(&name)
            .policy_arn(arn)
            .send()
            .await
            .unwrap();
    }

    // The ARN comes from IAM, so the role's path is right.
    let role = clients.roles.role(&name).await.unwrap();
    assert_eq!(role.path, "/service/");
    assert_eq!(
        role.arn,
        format!("arn:aws:iam::123456789012:role/service/{name}")
    );

    let live = clients.roles.live_policies(&name).await.unwrap();
    let kinds: Vec<(&str, Option<&str>)> = live
        .policies
        .iter()
        .map(|p| (p.kind.as_str(), p.arn.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("inline", None),
            // by name: orders-queue-full-… before orders-read-…
            ("managed", Some(queue_full.as_str())),
            ("managed", Some(managed.as_str())),
        ]
    );
    assert_eq!(live.policies[0].name, "added-by-hand");
    assert_eq!(
        live.policies[0].document["Statement"][0]["Action"],
        serde_json::json!(["dynamodb:DeleteTable", "dynamodb:Scan"])
    );
    // The default version is read, not the first one.
    assert_eq!(
        live.policies[1].document["Statement"][0]["Action"],
        serde_json::json!(["sqs:*", "sns:Publish"])
    );
    assert_eq!(
        live.policies[2].document["Statement"][0]["Action"],
        serde_json::json!(["dynamodb:GetItem", "dynamodb:Query"])
    );

    let e = clients
        .roles
        .role(&unique("no-such-role"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
}
