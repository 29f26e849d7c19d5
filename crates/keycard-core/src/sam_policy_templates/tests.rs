use super::*;
use serde_json::json;

fn sam() -> &'static SamPolicyTemplates {
    SamPolicyTemplates::embedded()
}

/// Actions SAM templates name that are not IAM actions. SQS authorizes its *Batch API calls
/// with the single-message action (`DeleteMessageBatch` needs `sqs:DeleteMessage`), so the
/// catalog rightly does not list them; SAM's SQSPollerPolicy names them anyway.
const KNOWN_UNKNOWN: &[(&str, &str)] = &[
    ("SQSPollerPolicy", "sqs:ChangeMessageVisibilityBatch"),
    ("SQSPollerPolicy", "sqs:DeleteMessageBatch"),
];

fn params(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[test]
fn embedded_templates_parse_and_record_their_version() {
    let parsed = SamPolicyTemplates::try_embedded();
    assert!(parsed.is_ok(), "{:?}", parsed.err());
    assert_eq!(sam().source(), "aws-sam-translator");
    assert!(sam().len() >= 70, "{}", sam().len());
    let version = sam().version();
    assert!(
        version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u64>().is_ok()),
        "{version:?}"
    );
    let attribution = include_str!("../../../../data/ATTRIBUTION.md");
    assert!(
        attribution.contains(&format!("`aws-sam-translator` {version}")),
        "data/ATTRIBUTION.md does not name aws-sam-translator {version}"
    );
}

#[test]
fn well_known_templates_grant_what_sam_documents() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "S3ReadPolicy",
            &["BucketName"],
            &[
                "s3:GetObject",
                "s3:ListBucket",
                "s3:GetBucketLocation",
                "s3:GetObjectVersion",
                "s3:GetLifecycleConfiguration",
            ],
        ),
        (
            "DynamoDBCrudPolicy",
            &["TableName"],
            &[
                "dynamodb:GetItem",
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "dynamodb:Scan",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:BatchGetItem",
                "dynamodb:DescribeTable",
                "dynamodb:ConditionCheckItem",
            ],
        ),
        (
            "SQSPollerPolicy",
            &["QueueName"],
            &[
                "sqs:ChangeMessageVisibility",
                "sqs:ChangeMessageVisibilityBatch",
                "sqs:DeleteMessage",
                "sqs:DeleteMessageBatch",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
        ),
        (
            "LambdaInvokePolicy",
            &["FunctionName"],
            &["lambda:InvokeFunction"],
        ),
        (
            "CloudWatchPutMetricPolicy",
            &[],
            &["cloudwatch:PutMetricData"],
        ),
        (
            "DynamoDBStreamReadPolicy",
            &["TableName", "StreamName"],
            &[
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
        ),
    ];
    for (name, parameters, actions) in cases {
        let t = sam().get(name);
        assert!(t.is_some(), "{name} missing");
        let mut got_params: Vec<&str> = t
            .map(|t| t.parameters().iter().map(String::as_str).collect())
            .unwrap_or_default();
        let mut want_params = parameters.to_vec();
        got_params.sort_unstable();
        want_params.sort_unstable();
        assert_eq!(got_params, want_params, "{name}");
        assert_eq!(sam().actions(name), *actions, "{name}");
    }
    assert!(sam().actions("NoSuchPolicy").is_empty());
    assert!(
        sam().get("s3readpolicy").is_none(),
        "names are case-sensitive in SAM"
    );
}

#[test]
fn wildcard_actions_stay_patterns_and_expand_through_the_catalog() {
    assert_eq!(sam().actions("SQSSendMessagePolicy"), ["sqs:SendMessage*"]);
    let e = sam()
        .get("SQSSendMessagePolicy")
        .map(|t| t.effective_actions(Catalog::embedded()))
        .unwrap_or_default();
    assert!(e.actions.contains("sqs:SendMessage"), "{e:?}");
    assert!(e.unknown.is_empty());
}

#[test]
fn expand_substitutes_parameters_like_sam() {
    // Given a plain bucket name
    let got = sam().expand(
        "S3ReadPolicy",
        &params(json!({"BucketName": "orders-archive"})),
    );
    // Then the Ref inside the Fn::Sub variable map is replaced and everything else is kept.
    let expected = vec![json!({
        "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion", "s3:GetLifecycleConfiguration"],
        "Effect": "Allow",
        "Resource": [
            {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${bucketName}", {"bucketName": "orders-archive"}]},
            {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${bucketName}/*", {"bucketName": "orders-archive"}]}
        ]
    })];
    assert_eq!(got, Ok(expected));

    // Given an intrinsic as the value, it is inserted unchanged.
    let got = sam()
        .expand(
            "DynamoDBCrudPolicy",
            &params(json!({"TableName": {"Ref": "OrdersTable"}, "Extra": 1})),
        )
        .unwrap_or_default();
    assert_eq!(
        got[0]["Resource"][0],
        json!({"Fn::Sub": ["arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${tableName}", {"tableName": {"Ref": "OrdersTable"}}]})
    );

    // A template without parameters expands as is.
    let got = sam().expand("CloudWatchPutMetricPolicy", &Map::new());
    assert_eq!(
        got,
        Ok(vec![
            json!({"Action": ["cloudwatch:PutMetricData"], "Effect": "Allow", "Resource": "*"})
        ])
    );
}

#[test]
fn expand_reports_missing_parameters_and_unknown_templates() {
    assert_eq!(
        sam().expand(
            "DynamoDBStreamReadPolicy",
            &params(json!({"TableName": "t"}))
        ),
        Err(SamPolicyTemplateError::MissingParameters {
            template: "DynamoDBStreamReadPolicy".into(),
            missing: vec!["StreamName".into()],
        })
    );
    assert_eq!(
        sam().expand("S3ReadPolicyy", &Map::new()),
        Err(SamPolicyTemplateError::UnknownTemplate(
            "S3ReadPolicyy".into()
        ))
    );
}

/// Every `Ref` and `${var}` in a template must resolve to a declared parameter, a Sub variable
/// or an AWS pseudo parameter; otherwise expansion would leave a dangling reference.
fn check_references(name: &str, value: &Value, declared: &[String], sub_vars: &[String]) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("Ref") {
                assert!(
                    declared.contains(r) || r.starts_with("AWS::"),
                    "{name}: Ref {r} is not a parameter"
                );
            }
            if let Some(Value::Array(sub)) = map.get("Fn::Sub") {
                let vars: Vec<String> = sub
                    .get(1)
                    .and_then(Value::as_object)
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                if let Some(text) = sub.first() {
                    check_references(name, text, declared, &vars);
                }
                if let Some(map) = sub.get(1) {
                    check_references(name, map, declared, &[]);
                }
                return;
            }
            for v in map.values() {
                check_references(name, v, declared, sub_vars);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| check_references(name, v, declared, sub_vars)),
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                let after = &rest[start + 2..];
                let end = after.find('}').unwrap_or(after.len());
                let var = &after[..end];
                assert!(
                    var.starts_with("AWS::") || sub_vars.iter().any(|v| v == var),
                    "{name}: ${{{var}}} is not defined"
                );
                rest = &after[end..];
            }
        }
        _ => {}
    }
}

#[test]
fn every_template_is_well_formed_and_its_actions_are_in_the_catalog() {
    let catalog = Catalog::embedded();
    let mut unknown_seen: Vec<(String, String)> = Vec::new();
    for t in sam().iter() {
        let name = t.name();
        assert!(!t.statements().is_empty(), "{name} has no statements");
        assert!(!t.description().is_empty(), "{name} has no description");
        for s in t.statements() {
            assert_eq!(s["Effect"], "Allow", "{name}");
            assert!(
                s.get("Resource").is_some(),
                "{name}: statement without Resource"
            );
            let actions = &s["Action"];
            assert!(
                actions.is_string()
                    || actions
                        .as_array()
                        .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string)),
                "{name}: Action is {actions}"
            );
        }
        check_references(
            name,
            &Value::Array(t.statements().to_vec()),
            t.parameters(),
            &[],
        );

        let effective = t.effective_actions(catalog);
        assert!(!effective.actions.is_empty(), "{name}: no known action");
        for u in effective.unknown {
            unknown_seen.push((name.to_owned(), u));
        }

        // Filling every parameter leaves no Ref to a template parameter behind.
        let values: Map<String, Value> = t
            .parameters()
            .iter()
            .map(|p| (p.clone(), json!(format!("value-of-{p}"))))
            .collect();
        let expanded = t.expand(&values).unwrap_or_default();
        assert_eq!(expanded.len(), t.statements().len(), "{name}");
        let text = serde_json::to_string(&expanded).unwrap_or_default();
        for p in t.parameters() {
            assert!(
                !text.contains(&format!("{{\"Ref\":\"{p}\"}}")),
                "{name}: Ref {p} left"
            );
            assert!(
                text.contains(&format!("value-of-{p}")),
                "{name}: parameter {p} unused"
            );
        }
    }
    // The known-unknown list is exact: a catalog refresh that adds these actions, or a SAM
    // refresh that adds new non-IAM names, fails here and the list is updated deliberately.
    let expected: Vec<(String, String)> = KNOWN_UNKNOWN
        .iter()
        .map(|(t, a)| ((*t).to_owned(), (*a).to_owned()))
        .collect();
    assert_eq!(unknown_seen, expected);
}

#[test]
fn rejects_malformed_files_with_positions() {
    let bad_json = SamPolicyTemplates::parse("{\"format\":1,\n\"templates\":{");
    assert!(
        matches!(
            bad_json,
            Err(SamPolicyTemplateError::Invalid { line: 2, .. })
        ),
        "{bad_json:?}"
    );
    let bad_format =
        SamPolicyTemplates::parse(r#"{"format":2,"source":"s","version":"1","templates":{}}"#);
    assert_eq!(bad_format, Err(SamPolicyTemplateError::Format(2)));
    let bad_template = SamPolicyTemplates::parse(
        r#"{"format":1,"source":"s","version":"1","templates":{"X":{"Definition":{"Statement":{}}}}}"#,
    );
    let msg = bad_template
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("template X"), "{msg}");
}

#[test]
fn data_file_is_one_template_per_line() {
    // Keeps refresh diffs readable; the generator writes it this way.
    let lines: Vec<&str> = EMBEDDED.lines().collect();
    assert_eq!(lines.len(), sam().len() + 2);
    assert!(lines[0].ends_with(r#""templates":{"#));
    assert_eq!(lines.last().copied(), Some("}}"));
}
