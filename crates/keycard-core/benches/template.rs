//! Template engine benchmark: load + find grants + one rewrite (with its built-in re-parse
//! verification) on a generated 1 MB SAM template. Target: under 50 ms in a release build.
//!
//! `cargo bench -p keycard-core --bench template` — prints the median and the slowest of the
//! runs, one phase per line, and exits non-zero when the median total misses the target.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]

use std::time::{Duration, Instant};

use keycard_core::template::{Edit, GrantKind, Template, find_grants};
use serde_json::json;

/// A SAM monolith shaped like `tests/fixtures/templates/large-generated-monolith.yaml`: functions
/// with policy templates, inline statements and managed policies, tables, buckets and worker
/// roles, until the text reaches `bytes`.
fn generate(bytes: usize) -> String {
    let services = [
        (
            "orders",
            "DynamoDBCrudPolicy",
            "TableName",
            "AWS::Serverless::SimpleTable",
        ),
        ("media", "S3CrudPolicy", "BucketName", "AWS::S3::Bucket"),
        (
            "events",
            "SQSSendMessagePolicy",
            "QueueName",
            "AWS::SQS::Queue",
        ),
        (
            "mail",
            "SNSPublishMessagePolicy",
            "TopicName",
            "AWS::SNS::Topic",
        ),
    ];
    let mut out = String::from(
        "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\nGlobals:\n  Function:\n    Runtime: python3.12\n    Timeout: 15\nResources:\n",
    );
    let mut i = 0;
    while out.len() < bytes {
        let (svc, tpl, param, ty) = services[i % services.len()];
        let res = format!("{svc}Store{i}");
        let value = match param {
            "QueueName" | "TopicName" => format!("!GetAtt {res}.{param}"),
            _ => format!("!Ref {res}"),
        };
        out.push_str(&format!(
            "  # {svc} shard {i}\n  {res}:\n    Type: {ty}\n\n  {svc}Handler{i}:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: functions/{svc}/\n      Handler: handler_{i}.main\n      Description: Handles {svc} shard {i}\n      Policies:\n        - {tpl}:\n            {param}: {value}\n        - Statement:\n            - Effect: Allow\n              Action:\n                - ssm:GetParameter\n                - ssm:GetParametersByPath\n              Resource: !Sub arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/{svc}/{i}/*\n      Environment:\n        Variables:\n          SERVICE: {svc}\n          SHARD: '{i}'\n\n"
        ));
        if i % 4 == 0 {
            out.push_str(&format!(
                "  {svc}WorkerRole{i}:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Version: '2012-10-17'\n        Statement:\n          - Effect: Allow\n            Principal:\n              Service: ecs-tasks.amazonaws.com\n            Action: sts:AssumeRole\n      ManagedPolicyArns:\n        - arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess\n      Policies:\n        - PolicyName: worker-{i}\n          PolicyDocument:\n            Version: '2012-10-17'\n            Statement:\n              - Effect: Allow\n                Action:\n                  - '{svc}:*'\n                  - s3:*\n                Resource: '*'\n\n"
            ));
        }
        i += 1;
    }
    out
}

fn main() {
    // `cargo bench` passes `--bench`; run as a test (`cargo test --benches`) it is a quick smoke
    // test without the time limit, since a debug build is no measure of speed.
    let bench = std::env::args().any(|a| a == "--bench");
    let text = generate(if bench { 1024 * 1024 } else { 64 * 1024 });
    let runs = if bench { 15 } else { 1 };
    let mut totals = Vec::with_capacity(runs);
    let mut phases = Vec::with_capacity(runs);
    let mut grants_found = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        let template = Template::load("bench.yaml", &text).unwrap();
        let t1 = Instant::now();
        let grants = find_grants(&template);
        let t2 = Instant::now();
        // One rewrite as a proposal makes it: narrow a worker role's inline policy.
        let target = grants
            .grants
            .iter()
            .rev()
            .find(|g| g.kind == GrantKind::InlinePolicy)
            .unwrap();
        let edit = Edit::replace(
            &target.path,
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject"],
                 "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::assets/*"}}]}),
        );
        let new_text = template.apply(&[edit]).unwrap();
        let t3 = Instant::now();
        assert_ne!(new_text, text);
        grants_found = grants.grants.len();
        totals.push(t3 - t0);
        phases.push((t1 - t0, t2 - t1, t3 - t2));
    }
    let mut sorted = totals.clone();
    sorted.sort();
    let median = sorted[runs / 2];
    let worst = sorted[runs - 1];
    let med = |f: fn(&(Duration, Duration, Duration)) -> Duration| {
        let mut v: Vec<Duration> = phases.iter().map(f).collect();
        v.sort();
        v[runs / 2]
    };
    println!(
        "template: {} bytes, {} lines, {grants_found} grants",
        text.len(),
        text.lines().count()
    );
    println!("  load            median {:>8.2?}", med(|p| p.0));
    println!("  find_grants     median {:>8.2?}", med(|p| p.1));
    println!("  rewrite+verify  median {:>8.2?}", med(|p| p.2));
    println!("  total           median {median:>8.2?}  worst {worst:>8.2?}  (target < 50 ms)");
    if bench && median > Duration::from_millis(50) {
        eprintln!("template benchmark: median {median:?} misses the 50 ms target");
        std::process::exit(1);
    }
}
