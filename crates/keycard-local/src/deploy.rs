//! [`LocalChain::deploy`]: what template.yaml would create (the output bucket, the state
//! machine) and what a real account already has (target stacks, a trail with generated logs,
//! the Access Analyzer access role), in moto. Apart from starting and running the chain
//! because it is the part that changes with the deployed template.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use keycard_aws::{ObjectStore, S3Store};
use serde_json::{Value, json};

use super::*;
use crate::analyzer::{AccessAnalyzerStandIn, AnalyzerSettings, TrailSource};
use crate::procs::Group;

impl LocalChain {
    /// Creates the output and trail buckets, the target stacks, the trail's logs, the Access
    /// Analyzer access role, starts the stand-in and `cargo lambda watch`, and creates the
    /// state machine.
    pub fn deploy(&mut self) -> Result<(), LocalError> {
        let s3 = self.s3();
        let cfn = aws_sdk_cloudformation::Client::new(&self.sdk);
        let iam = aws_sdk_iam::Client::new(&self.sdk);
        let stacks = self.options.stacks.clone();
        let (out_bucket, trail_bucket) = (self.output_bucket.clone(), self.trail_bucket.clone());
        let roles = self.rt.block_on(async {
            for b in [&out_bucket, &trail_bucket] {
                s3.create_bucket()
                    .bucket(b)
                    .send()
                    .await
                    .map_err(|e| aws("CreateBucket", e))?;
            }
            let access_role = iam
                .create_role()
                .role_name("keycard-access-analyzer-trail")
                .assume_role_policy_document(
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                        "Principal": {"Service": "access-analyzer.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]})
                    .to_string(),
                )
                .send()
                .await
                .map_err(|e| aws("CreateRole", e))?;
            let access_role_arn = access_role.role.map(|r| r.arn).unwrap_or_default();
            let mut roles = BTreeMap::new();
            for s in &stacks {
                cfn.create_stack()
                    .stack_name(&s.name)
                    .template_body(&s.template)
                    .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam)
                    .send()
                    .await
                    .map_err(|e| aws(&format!("CreateStack {}", s.name), e))?;
                let resources = cfn
                    .list_stack_resources()
                    .stack_name(&s.name)
                    .send()
                    .await
                    .map_err(|e| aws("ListStackResources", e))?;
                for r in resources.stack_resource_summaries() {
                    if r.resource_type() != Some("AWS::IAM::Role") {
                        continue;
                    }
                    let (Some(logical), Some(physical)) =
                        (r.logical_resource_id(), r.physical_resource_id())
                    else {
                        continue;
                    };
                    let role = iam
                        .get_role()
                        .role_name(physical)
                        .send()
                        .await
                        .map_err(|e| aws("GetRole", e))?;
                    if let Some(role) = role.role {
                        roles.insert((s.name.clone(), logical.to_owned()), role.arn);
                    }
                }
            }
            Ok::<_, LocalError>((roles, access_role_arn))
        })?;
        self.roles = roles.0;
        self.access_role_arn = roles.1;

        self.write_trail()?;
        self.create_trail()?;

        let deny = self
            .roles
            .iter()
            .filter(|((_, logical), _)| self.options.deny_logical_ids.contains(logical))
            .map(|(_, arn)| arn.clone())
            .collect();
        let store = S3Store::new(s3);
        self.analyzer = Some(
            AccessAnalyzerStandIn::start(
                AnalyzerSettings {
                    trails: BTreeMap::from([(
                        self.trail_arn.clone(),
                        TrailSource {
                            bucket: self.trail_bucket.clone(),
                            prefix: "AWSLogs/".into(),
                        },
                    )]),
                    in_progress_polls: self.options.in_progress_polls,
                    deny_principals: deny,
                },
                store,
            )
            .map_err(setup)?,
        );
        self.create_notifications()?;
        self.start_lambda_watch()?;
        self.create_state_machine()
    }

    /// CloudTrail history for every role of the target stacks: each role uses some of what it
    /// was granted over the last 30 days (generated by keycard-tracegen, uploaded under
    /// `AWSLogs/` like a trail delivers it).
    fn write_trail(&self) -> Result<(), LocalError> {
        let end = Utc::now();
        let start = end - ChronoDuration::days(30);
        let mut principals = Vec::new();
        for ((_, logical), arn) in &self.roles {
            let (path, name) = role_path_and_name(arn);
            let calls = match logical.as_str() {
                "OrdersWorkerRole" => json!([
                    {"event_source": "dynamodb.amazonaws.com", "event_name": "DescribeTable", "schedule": "daily"},
                    {"event_source": "sqs.amazonaws.com", "event_name": "GetQueueAttributes", "schedule": "daily"},
                ]),
                "ApiRole" => json!([
                    {"event_source": "sqs.amazonaws.com", "event_name": "GetQueueUrl", "schedule": "daily"},
                ]),
                "InvoiceApiRole" => json!([
                    {"event_source": "dynamodb.amazonaws.com", "event_name": "DescribeTable", "schedule": "daily"},
                    {"event_source": "monitoring.amazonaws.com", "event_name": "PutMetricData", "schedule": "daily"},
                ]),
                _ => json!([
                    {"event_source": "dynamodb.amazonaws.com", "event_name": "ListTables", "schedule": "weekly"},
                ]),
            };
            principals.push(json!({"name": name, "path": path, "calls": calls}));
        }
        let scenario = json!({
            "seed": 7,
            "account": ACCOUNT,
            "regions": [REGION],
            "start": start.to_rfc3339(),
            "end": end.to_rfc3339(),
            "file_interval_minutes": 720,
            "trail_name": TRAIL_NAME,
            "bucket": self.trail_bucket,
            "principals": principals,
        });
        let scenario =
            keycard_tracegen::Scenario::from_json(&scenario.to_string()).map_err(setup)?;
        let dir = self.options.work_dir.join("cloudtrail");
        let _ = std::fs::remove_dir_all(&dir);
        keycard_tracegen::generate(&scenario, &dir).map_err(setup)?;
        let mut files = Vec::new();
        collect_files(&dir, &mut files).map_err(setup)?;
        let s3 = S3Store::new(self.s3());
        self.rt.block_on(async {
            for f in files {
                let key = f
                    .strip_prefix(&dir)
                    .map_err(setup)?
                    .to_string_lossy()
                    .replace('\\', "/");
                let body = std::fs::read(&f).map_err(setup)?;
                s3.put_object(&self.trail_bucket, &key, body, "application/octet-stream")
                    .await
                    .map_err(|e| aws("PutObject", e))?;
            }
            Ok(())
        })
    }

    /// The trail itself, in moto's CloudTrail: the state machine's AWS SDK tasks read its
    /// configuration (DescribeTrails, GetEventSelectors, GetTrailStatus) through the router,
    /// as they would in AWS. A default trail: every region, management events read and write,
    /// no data events.
    fn create_trail(&self) -> Result<(), LocalError> {
        self.cloudtrail(
            "CreateTrail",
            &json!({"Name": TRAIL_NAME, "S3BucketName": self.trail_bucket,
                "IsMultiRegionTrail": true, "IncludeGlobalServiceEvents": true}),
        )?;
        self.cloudtrail(
            "PutEventSelectors",
            &json!({"TrailName": TRAIL_NAME, "EventSelectors": [{"ReadWriteType": "All",
                "IncludeManagementEvents": true, "DataResources": []}]}),
        )?;
        self.cloudtrail("StartLogging", &json!({"Name": TRAIL_NAME}))?;
        Ok(())
    }

    fn start_lambda_watch(&mut self) -> Result<(), LocalError> {
        let root = self.options.root.clone();
        let analyzer = self
            .analyzer
            .as_ref()
            .map(|a| a.addr)
            .ok_or_else(|| setup("the Access Analyzer stand-in is not running"))?;
        let mut vars: Vec<(&str, String)> = moto_env();
        vars.extend([
            ("AWS_ENDPOINT_URL", format!("http://{}", self.moto)),
            (
                "AWS_ENDPOINT_URL_ACCESSANALYZER",
                format!("http://{analyzer}"),
            ),
            ("KEYCARD_BUCKET", self.output_bucket.clone()),
            ("KEYCARD_TRAIL_ARN", self.trail_arn.clone()),
            ("KEYCARD_TRAIL_REGIONS", REGION.into()),
            ("KEYCARD_ACCESS_ROLE_ARN", self.access_role_arn.clone()),
            ("KEYCARD_S3_FORCE_PATH_STYLE", "true".into()),
            (
                "KEYCARD_NOTIFY_TOPIC_ARN",
                self.notifications
                    .as_ref()
                    .map(|n| n.topic_arn.clone())
                    .unwrap_or_default(),
            ),
            ("RUST_LOG", "info".into()),
        ]);
        let env_file = self.options.work_dir.join("functions.env");
        let text: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(&env_file, text).map_err(setup)?;
        let lambda_bin = tool(&root, "cargo-lambda")?;
        let mut cmd = Command::new(lambda_bin);
        clear_aws_env(&mut cmd);
        cmd.current_dir(&root)
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "--quiet",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(self.lambda.port().to_string())
            .arg("--env-file")
            .arg(&env_file);
        for (k, v) in &vars {
            cmd.env(k, v);
        }
        let mut group = Group::spawn(
            "cargo lambda watch",
            cmd,
            &self.options.work_dir.join("cargo-lambda.log"),
        )
        .map_err(setup)?;
        procs::wait_for_port(self.lambda, &mut group, Duration::from_secs(120)).map_err(setup)?;
        self.lambda_watch = Some(group);
        Ok(())
    }

    fn create_state_machine(&mut self) -> Result<(), LocalError> {
        let root = &self.options.root;
        let asl =
            std::fs::read_to_string(root.join("statemachine/keycard.asl.json")).map_err(setup)?;
        let template = std::fs::read_to_string(root.join("template.yaml")).map_err(setup)?;
        // The local account is in the standard partition (template.yaml substitutes
        // `AWS::Partition`).
        let parameters = BTreeMap::from([
            ("TrailArn", self.trail_arn.clone()),
            ("Partition", "aws".to_owned()),
        ]);
        let definition = for_moto(&substitute(
            &asl,
            &function_binaries(&template, &asl)?,
            &parameters,
        ))?;
        if definition.contains("${") {
            return Err(setup("the ASL still has an unsubstituted ${…}"));
        }
        let out = self.states(
            "CreateStateMachine",
            &json!({
                "name": format!("keycard-{}", unique_suffix()),
                "definition": definition,
                "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/keycard-state-machine"),
                "type": "STANDARD",
            }),
        )?;
        self.state_machine_arn = out
            .get("stateMachineArn")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(())
    }
}

/// `/service/`, `name` from `arn:aws:iam::123456789012:role/service/name`.
fn role_path_and_name(arn: &str) -> (String, String) {
    let rest = arn.split_once(":role/").map(|(_, r)| r).unwrap_or(arn);
    match rest.rsplit_once('/') {
        Some((path, name)) => (format!("/{path}/"), name.to_owned()),
        None => ("/".to_owned(), rest.to_owned()),
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            collect_files(&p, out)?;
        } else {
            out.push(p);
        }
    }
    out.sort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_paths() {
        assert_eq!(
            role_path_and_name("arn:aws:iam::123456789012:role/service/api-role"),
            ("/service/".into(), "api-role".into())
        );
        assert_eq!(
            role_path_and_name("arn:aws:iam::123456789012:role/a"),
            ("/".into(), "a".into())
        );
    }
}
