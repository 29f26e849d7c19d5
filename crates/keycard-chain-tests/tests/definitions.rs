//! The deployable definitions: statemachine/keycard.asl.json, template.yaml, samconfig.toml and
//! events/ against each other and against the handlers' contract (payload fields, error
//! names), plus the external validators (asl-validator, statelint, cfn-lint, sam validate).

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use keycard_aws::access_analyzer::JobStatus;
use keycard_chain::contract::{
    self as chain, DiffInput, DiscoverInput, JobState, RoleInput, RoleItem, RoleOutcome, Run,
    RunRequest, SummaryInput, WriteInput,
};
use keycard_chain_tests::{
    placeholders, read_repo_file, repo_root, substituted_definition, tool, unique,
};
use keycard_core::catalog::{AccessLevel, Catalog};
use keycard_core::template::Template;
use serde_json::{Value, json};

const ASL: &str = "statemachine/keycard.asl.json";

fn asl() -> Value {
    serde_json::from_str(&read_repo_file(ASL)).unwrap()
}

fn template() -> Value {
    let text = read_repo_file("template.yaml");
    Template::load("template.yaml", &text)
        .unwrap()
        .root()
        .to_json()
}

/// Every state of the definition, nested ones included, by name.
fn states(asl: &Value) -> BTreeMap<String, Value> {
    fn walk(states: &Value, out: &mut BTreeMap<String, Value>) {
        for (name, s) in states.as_object().unwrap() {
            out.insert(name.clone(), s.clone());
            if let Some(inner) = s.pointer("/ItemProcessor/States") {
                walk(inner, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&asl["States"], &mut out);
    out
}

/// A Step Functions AWS SDK integration task (`arn:aws:states:::aws-sdk:…`).
fn is_sdk_task(s: &Value) -> bool {
    s["Resource"]
        .as_str()
        .is_some_and(|r| r.starts_with("arn:${Partition}:states:::aws-sdk:"))
}

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().unwrap()
}

/// The Lambda service's own errors a Lambda task retries: the four the Step Functions console
/// and AWS CDK's `LambdaInvoke` (`retryOnServiceExceptions`) retry by default
/// (`Lambda.ClientExecutionTimeoutException`, `ServiceException`, `AWSLambdaException`,
/// `SdkClientException`), plus throttling (`TooManyRequestsException`).
const LAMBDA_SERVICE: &[&str] = &[
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
];

#[test]
fn every_placeholder_is_substituted_and_every_substitution_used() {
    let in_asl = placeholders(&read_repo_file(ASL));
    let t = template();
    let subs: BTreeSet<String> = t
        .pointer("/Resources/KeycardStateMachine/Properties/DefinitionSubstitutions")
        .and_then(Value::as_object)
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(in_asl, subs);
    assert_eq!(
        t.pointer("/Resources/KeycardStateMachine/Properties/DefinitionUri"),
        Some(&json!(ASL))
    );
}

/// The error names a state's Retry rules match, in order; `name` says which state has none.
fn retried<'a>(state: &'a Value, name: &str) -> Vec<&'a str> {
    state["Retry"]
        .as_array()
        .unwrap_or_else(|| panic!("{name} has no Retry"))
        .iter()
        .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn every_error_name_matched_is_emitted_by_the_handlers_and_only_transient_ones_are_retried() {
    let mut tasks = 0;
    for (name, s) in states(&asl()) {
        // The AWS SDK tasks that read the trail's configuration have their own test.
        if s["Type"] != "Task" || is_sdk_task(&s) {
            continue;
        }
        tasks += 1;
        let retried = retried(&s, &name);
        assert!(
            retried.contains(&chain::TRANSIENT),
            "{name} must retry {}",
            chain::TRANSIENT
        );
        for e in &retried {
            assert!(
                *e == chain::TRANSIENT || *e == chain::QUOTA_EXCEEDED || LAMBDA_SERVICE.contains(e),
                "{name} retries {e}, which trying again cannot fix"
            );
        }
        for r in s["Retry"].as_array().unwrap() {
            assert!(r["BackoffRate"].as_f64().unwrap() > 1.0, "{name}: backoff");
            assert!(r["MaxAttempts"].as_u64().unwrap() >= 2, "{name}");
        }
        let caught = s["Catch"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["ErrorEquals"].as_array().unwrap())
            .filter_map(Value::as_str);
        for e in retried.iter().copied().chain(caught) {
            assert!(
                e.starts_with("States.")
                    || LAMBDA_SERVICE.contains(&e)
                    || chain::ERROR_NAMES.contains(&e),
                "{name} matches {e}, which no handler emits"
            );
        }
    }
    assert_eq!(tasks, 8);
}

#[test]
fn one_bad_role_or_stack_never_sinks_the_run() {
    let a = asl();
    for map in ["AnalyseRoles", "AnalyseStacks"] {
        let inner = a["States"][map]["ItemProcessor"]["States"]
            .as_object()
            .unwrap();
        for (name, s) in inner {
            if s["Type"] == "Task" {
                let catches_all = s["Catch"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["ErrorEquals"] == json!(["States.ALL"])));
                assert!(catches_all, "{map}/{name} must catch States.ALL");
            }
            assert_ne!(
                s["Type"], "Fail",
                "{map}/{name}: a Fail state fails the whole Map"
            );
        }
    }
}

/// The trail's configuration is read once per run by three AWS SDK tasks (no Lambda, no SDK
/// crate), whose failures never fail the run, and the state machine's role may make exactly
/// those calls, as narrowly as IAM allows.
#[test]
fn trail_configuration_is_read_by_sdk_tasks_that_never_fail_the_run() {
    let a = asl();
    let top = a["States"].as_object().unwrap();
    assert_eq!(top["AnalyseRoles"]["Next"], "TrailToRead");
    let first = &top["TrailToRead"];
    assert_eq!(first["Type"], "Pass");
    assert_eq!(first["Result"], json!({"trail": "${TrailArn}"}));
    assert_eq!(first["ResultPath"], "$.trailConfig");
    let expected = [
        (
            "ReadTrail",
            "describeTrails",
            "$.trailConfig.describeTrails",
        ),
        (
            "ReadEventSelectors",
            "getEventSelectors",
            "$.trailConfig.eventSelectors",
        ),
        (
            "ReadTrailStatus",
            "getTrailStatus",
            "$.trailConfig.trailStatus",
        ),
    ];
    let mut next = first["Next"].as_str().unwrap();
    for (name, api, result_path) in expected {
        assert_eq!(next, name);
        let s = &top[name];
        assert_eq!(
            s["Resource"],
            format!("arn:${{Partition}}:states:::aws-sdk:cloudtrail:{api}")
        );
        assert_eq!(s["ResultPath"], result_path, "{name}");
        // Every parameter names the trail of TrailToRead (PascalCase, as the SDK integration
        // takes them).
        let params = s["Parameters"].as_object().unwrap();
        assert_eq!(params.len(), 1, "{name}");
        let (key, path) = params.iter().next().unwrap();
        assert!(key.ends_with(".$"), "{name}: {key}");
        assert!(
            path.as_str().unwrap().contains("$.trailConfig.trail"),
            "{name}"
        );
        assert!(
            s.get("Retry").is_none(),
            "{name}: a failure is noted, not retried"
        );
        let catch = s["Catch"].as_array().unwrap();
        assert_eq!(catch.len(), 1, "{name}");
        assert_eq!(catch[0]["ErrorEquals"], json!(["States.ALL"]), "{name}");
        assert_eq!(catch[0]["ResultPath"], "$.trailConfig.error", "{name}");
        assert_eq!(catch[0]["Next"], "AnalyseStacks", "{name}");
        next = s["Next"].as_str().unwrap();
    }
    assert_eq!(next, "AnalyseStacks");
    let sdk_tasks = states(&a).values().filter(|s| is_sdk_task(s)).count();
    assert_eq!(sdk_tasks, 3);

    // The role: the three calls, GetEventSelectors and GetTrailStatus on the trail only;
    // DescribeTrails has no resource type in the Service Authorization Reference, so only *.
    let t = template();
    let statements = t
        .pointer("/Resources/KeycardStateMachine/Properties/Policies/0/Statement")
        .and_then(Value::as_array)
        .unwrap();
    let catalog = Catalog::embedded();
    for (action, resource) in [
        ("cloudtrail:DescribeTrails", json!("*")),
        ("cloudtrail:GetEventSelectors", json!({"Ref": "TrailArn"})),
        ("cloudtrail:GetTrailStatus", json!({"Ref": "TrailArn"})),
    ] {
        let granted: Vec<&Value> = statements
            .iter()
            .filter(|st| {
                st["Action"] == json!(action)
                    || st["Action"]
                        .as_array()
                        .is_some_and(|a| a.contains(&json!(action)))
            })
            .collect();
        assert_eq!(granted.len(), 1, "{action}");
        assert_eq!(granted[0]["Resource"], resource, "{action}");
        let has_resource_types = !catalog.action(action).unwrap().resource_types().is_empty();
        assert_eq!(has_resource_types, resource != json!("*"), "{action}");
    }
}

#[test]
fn access_analyzer_pacing_one_generation_at_a_time_bounded_polls() {
    let a = asl();
    let roles = &a["States"]["AnalyseRoles"];
    assert_eq!(roles["MaxConcurrency"], 1);
    assert_eq!(roles["ItemsPath"], "$.roles");
    let inner = &roles["ItemProcessor"]["States"];
    assert_eq!(
        inner["WaitForGeneration"]["SecondsPath"],
        "$.run.waitSeconds"
    );
    // The Choice compares the statuses the poll step returns, each one.
    let choice = &inner["GenerationStatus"];
    let mut statuses = BTreeSet::new();
    let mut bounded = false;
    for c in choice["Choices"].as_array().unwrap() {
        for cond in std::iter::once(c).chain(c["And"].as_array().into_iter().flatten()) {
            if cond["Variable"] == "$.job.status" {
                statuses.insert(cond["StringEquals"].as_str().unwrap().to_owned());
            }
            if cond["Variable"] == "$.job.polls" {
                assert_eq!(cond["NumericGreaterThanEqualsPath"], "$.run.maxPolls");
                bounded = c["Next"] == "CancelGeneration";
            }
        }
    }
    let api: BTreeSet<String> = [
        JobStatus::InProgress,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Canceled,
    ]
    .iter()
    .map(|s| s.as_str().to_owned())
    .collect();
    assert_eq!(statuses, api);
    assert!(bounded, "out of polls must lead to CancelGeneration");
    assert_eq!(inner["CancelGeneration"]["Next"], "RoleTimedOut");
}

/// Evaluates a payload template (`Parameters`/`ItemSelector`) against a state, for the simple
/// `$.a.b` and `$$.…` paths the definition uses.
fn evaluate(template: &Value, state: &Value, context: &Value) -> Value {
    match template {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                if let Some(field) = k.strip_suffix(".$") {
                    let path = v.as_str().unwrap();
                    let (root, rest) = match path.strip_prefix("$$") {
                        Some(rest) => (context, rest),
                        None => (state, path.strip_prefix('$').unwrap()),
                    };
                    let pointer = rest.replace('.', "/");
                    let value = root
                        .pointer(&pointer)
                        .unwrap_or_else(|| panic!("{path} does not exist in {root}"));
                    out.insert(field.to_owned(), value.clone());
                } else {
                    out.insert(k.clone(), evaluate(v, state, context));
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn sample_run() -> Value {
    let input: RoleInput =
        serde_json::from_str(&read_repo_file("events/poll-generation.json")).unwrap();
    serde_json::to_value(input.run).unwrap()
}

fn sample_role() -> Value {
    let input: RoleInput =
        serde_json::from_str(&read_repo_file("events/poll-generation.json")).unwrap();
    serde_json::to_value(input.role).unwrap()
}

fn job(status: &str) -> Value {
    serde_json::to_value(JobState {
        job_id: "0d5c3a8e-6a1f-4b7e-9f0e-2c4d8b1a7e35".into(),
        polls: 3,
        status: status.into(),
        result_key: (status == "SUCCEEDED").then(|| "runs/x/generated/s/R.json".into()),
        error_code: (status == "FAILED").then(|| "SERVICE_ERROR".into()),
        error_message: (status == "FAILED").then(|| "An internal error occurred.".into()),
    })
    .unwrap()
}

#[test]
fn payload_paths_exist_in_the_handlers_types_and_outcomes_parse() {
    let a = asl();
    let all = states(&a);
    let context = json!({"Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:k:e",
        "Name": "e", "StartTime": "2026-10-01T06:00:04Z"}, "Map": {"Item": {"Value": {}}}});
    let caught = json!({"Error": "Keycard.NotFound", "Cause": "{\"errorType\":\"Keycard.NotFound\",\"errorMessage\":\"gone\"}"});
    // Inside the role Map: {run, role} from the ItemSelector, then job, then maybe error.
    let role_state = |job_status: Option<&str>| {
        let mut s = json!({"run": sample_run(), "role": sample_role(), "error": caught.clone()});
        if let Some(st) = job_status {
            s["job"] = job(st);
        }
        s
    };
    for (name, status) in [
        ("RoleSucceeded", Some("SUCCEEDED")),
        ("RoleFailed", Some("FAILED")),
        ("RoleCanceled", Some("CANCELED")),
        ("RoleTimedOut", Some("CANCELED")),
        ("RoleSkipped", None),
        ("RoleErrored", None),
    ] {
        let out = evaluate(&all[name]["Parameters"], &role_state(status), &context);
        let outcome: RoleOutcome =
            serde_json::from_value(out.clone()).unwrap_or_else(|e| panic!("{name}: {e}: {out}"));
        assert_eq!(outcome.stack, "orders-service", "{name}");
        if name == "RoleSucceeded" {
            assert!(outcome.result_key.is_some());
        }
        if name == "RoleFailed" {
            assert_eq!(
                chain::describe_error(outcome.error.as_ref().unwrap()),
                "SERVICE_ERROR: An internal error occurred."
            );
        }
        if name == "RoleErrored" {
            assert_eq!(
                chain::describe_error(outcome.error.as_ref().unwrap()),
                "Keycard.NotFound: gone"
            );
        }
    }
    // Task inputs parse as the handlers' input types.
    for name in [
        "StartGeneration",
        "PollGeneration",
        "CancelGeneration",
        "CancelAfterError",
    ] {
        let out = evaluate(
            &all[name]["Parameters"],
            &role_state(Some("IN_PROGRESS")),
            &context,
        );
        let _: RoleInput = serde_json::from_value(out).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let disc = evaluate(
        &all["Discover"]["Parameters"],
        &serde_json::from_str(&read_repo_file("events/start-execution.json")).unwrap(),
        &context,
    );
    let _: DiscoverInput = serde_json::from_value(disc).unwrap();
    // After discovery: {run, roles, stacks, skipped}; the Maps' selectors and later tasks.
    let role_item: RoleItem = serde_json::from_value(sample_role()).unwrap();
    let diff_input: DiffInput = serde_json::from_str(&read_repo_file("events/diff.json")).unwrap();
    let after = json!({
        "run": sample_run(), "roles": [role_item], "stacks": [diff_input.stack],
        "skipped": [], "roleOutcomes": diff_input.role_outcomes,
        "stackOutcomes": [], "trailConfig": diff_input.trail_config,
    });
    let item_ctx = |item: Value| {
        let mut c = context.clone();
        c["Map"]["Item"]["Value"] = item;
        c
    };
    let role_sel = evaluate(
        &a["States"]["AnalyseRoles"]["ItemSelector"],
        &after,
        &item_ctx(sample_role()),
    );
    let _: RoleInput = serde_json::from_value(role_sel).unwrap();
    let stack_sel = evaluate(
        &a["States"]["AnalyseStacks"]["ItemSelector"],
        &after,
        &item_ctx(serde_json::to_value(&diff_input.stack).unwrap()),
    );
    let diff_in = evaluate(&all["Diff"]["Parameters"], &stack_sel, &context);
    let diff_in: DiffInput = serde_json::from_value(diff_in).unwrap();
    assert_eq!(
        diff_in.trail_config, diff_input.trail_config,
        "the trail configuration reaches the diff"
    );
    let mut with_diff = stack_sel.clone();
    with_diff["diff"] = json!({"stack": "orders-service", "stagedKey": "runs/e/staged/orders-service.json", "principals": 2, "proposed": 1});
    let _: WriteInput = serde_json::from_value(evaluate(
        &all["WriteProposal"]["Parameters"],
        &with_diff,
        &context,
    ))
    .unwrap();
    let mut failed_stack = stack_sel;
    failed_stack["error"] = caught;
    let f = evaluate(&all["StackFailed"]["Parameters"], &failed_stack, &context);
    assert_eq!(f["stack"], "orders-service");
    let _: SummaryInput =
        serde_json::from_value(evaluate(&all["Summarize"]["Parameters"], &after, &context))
            .unwrap();
}

#[test]
fn asl_validator_and_statelint_accept_the_definition() {
    let path = std::env::temp_dir().join(format!("{}.asl.json", unique("keycard")));
    std::fs::write(&path, substituted_definition(ASL)).unwrap();
    if let Some(v) = tool("asl-validator") {
        let out = Command::new(v)
            .arg("--json-path")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "asl-validator:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if let Some(lint) = tool("statelint") {
        let out = Command::new(lint).arg(&path).output().unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "statelint:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn cfn_lint_its_serverless_rules_and_sam_validate_accept_the_template() {
    let path = repo_root().join("template.yaml");
    if let Some(cfn_lint) = tool("cfn-lint") {
        let out = Command::new(&cfn_lint).arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "cfn-lint:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        // The Serverless Rules (cfn-lint-serverless, requirements-test.txt): tracing, log
        // retention, dead-letter queues. The template's only suppression says why.
        let out = Command::new(&cfn_lint)
            .arg(&path)
            .args(["-a", "cfn_lint_serverless.rules"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cfn-lint -a cfn_lint_serverless.rules:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if let Some(sam) = tool("sam") {
        let out = Command::new(sam)
            .args(["validate", "--lint", "--template-file"])
            .arg(&path)
            .env("SAM_CLI_TELEMETRY", "0")
            .current_dir(repo_root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sam validate --lint:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Binary names declared by the Lambda crates in functions/.
fn lambda_binaries() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(repo_root().join("functions")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        if let Some(bin) = text.split("[[bin]]").nth(1) {
            let name = bin
                .lines()
                .find_map(|l| l.trim().strip_prefix("name = "))
                .unwrap()
                .trim_matches('"');
            assert!(out.insert(name.to_owned()), "binary {name} declared twice");
        }
    }
    out
}

/// What cfn-lint does not check on SAM functions.
#[test]
fn functions_run_rust_on_arm64_with_sane_timeouts_and_unique_binaries() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    let mut used = BTreeSet::new();
    for (id, r) in resources(&t) {
        if r["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let prop = |k: &str| r["Properties"].get(k).or_else(|| globals.get(k)).cloned();
        assert_eq!(prop("Runtime"), Some(json!("provided.al2023")), "{id}");
        assert_eq!(prop("Architectures"), Some(json!(["arm64"])), "{id}");
        assert_eq!(prop("Handler"), Some(json!("bootstrap")), "{id}");
        assert_eq!(
            prop("CodeUri"),
            Some(json!(".")),
            "{id}: the workspace root"
        );
        let timeout = prop("Timeout").and_then(|v| v.as_u64()).unwrap();
        assert!((3..=900).contains(&timeout), "{id}: Timeout {timeout}");
        let memory = prop("MemorySize").and_then(|v| v.as_u64()).unwrap();
        assert!((128..=10240).contains(&memory), "{id}: MemorySize {memory}");
        assert_eq!(r["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
        let bin = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        assert!(used.insert(bin.to_owned()), "{id}: binary {bin} used twice");
        assert!(
            r["Properties"]["Policies"].is_array(),
            "{id}: explicit least-privilege policies"
        );
    }
    assert_eq!(
        used,
        lambda_binaries(),
        "every Lambda crate is deployed, nothing else"
    );
    // Every substitution is the ARN of one of these functions, the trail or the partition.
    let subs = t
        .pointer("/Resources/KeycardStateMachine/Properties/DefinitionSubstitutions")
        .unwrap()
        .as_object()
        .unwrap();
    for (k, v) in subs {
        if k == "TrailArn" {
            assert_eq!(v, &json!({"Ref": "TrailArn"}), "the trail parameter");
            continue;
        }
        if k == "Partition" {
            assert_eq!(v, &json!({"Ref": "AWS::Partition"}), "the partition");
            continue;
        }
        let target = v["Fn::GetAtt"][0].as_str().unwrap_or_default();
        assert_eq!(
            resources(&t)[target]["Type"],
            "AWS::Serverless::Function",
            "{k}"
        );
        assert_eq!(v["Fn::GetAtt"][1], "Arn", "{k}");
    }
}

#[test]
fn schedule_is_quarterly_by_default_and_sends_the_documented_input() {
    let t = template();
    let params = t["Parameters"].as_object().unwrap();
    let expr = params["ScheduleExpression"]["Default"].as_str().unwrap();
    // EventBridge cron: six fields, day-of-month and day-of-week not both set.
    let fields: Vec<&str> = expr
        .strip_prefix("cron(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap()
        .split(' ')
        .collect();
    assert_eq!(fields.len(), 6, "{expr}");
    assert_eq!(fields[3], "1,4,7,10", "quarterly");
    assert!(fields[2] == "?" || fields[4] == "?", "{expr}");
    let event = &t["Resources"]["KeycardStateMachine"]["Properties"]["Events"]["QuarterlyRun"];
    assert_eq!(event["Type"], "Schedule");
    assert_eq!(
        event["Properties"]["Schedule"],
        json!({"Ref": "ScheduleExpression"})
    );
    // The input, as CloudFormation renders it with the defaults and two target stacks.
    let sub = event["Properties"]["Input"]["Fn::Sub"].as_array().unwrap();
    let mut input = sub[0].as_str().unwrap().to_owned();
    let join = &sub[1]["Stacks"]["Fn::Join"];
    input = input.replace(
        "${Stacks}",
        &["orders-service", "billing-api"].join(join[0].as_str().unwrap()),
    );
    for p in placeholders(&input) {
        let default = &params[&p]["Default"];
        let text = match default {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        input = input.replace(&format!("${{{p}}}"), &text);
    }
    let scheduled: RunRequest = serde_json::from_str(&input).unwrap();
    let manual: RunRequest =
        serde_json::from_str(&read_repo_file("events/start-execution.json")).unwrap();
    assert_eq!(
        scheduled, manual,
        "the schedule sends what events/start-execution.json documents"
    );
}

#[test]
fn every_sample_event_is_a_valid_step_input() {
    let parse = |f: &str| read_repo_file(&format!("events/{f}"));
    let request: RunRequest = serde_json::from_str(&parse("start-execution.json")).unwrap();
    let discover: DiscoverInput = serde_json::from_str(&parse("discover-roles.json")).unwrap();
    assert_eq!(discover.request, request);
    let run = Run::from_request(&discover.request, &discover.execution).unwrap();
    for f in [
        "start-generation.json",
        "poll-generation.json",
        "cancel-generation.json",
    ] {
        let input: RoleInput = serde_json::from_str(&parse(f)).unwrap();
        assert_eq!(
            input.run, run,
            "{f}: the run discovery makes of discover-roles.json"
        );
    }
    let poll: RoleInput = serde_json::from_str(&parse("poll-generation.json")).unwrap();
    assert!(poll.job.is_some());
    let _: DiffInput = serde_json::from_str(&parse("diff.json")).unwrap();
    let _: WriteInput = serde_json::from_str(&parse("write-proposal.json")).unwrap();
    let _: SummaryInput = serde_json::from_str(&parse("summarize.json")).unwrap();
    let names: BTreeSet<String> = std::fs::read_dir(repo_root().join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let expected: BTreeSet<String> = [
        "start-execution.json",
        "discover-roles.json",
        "start-generation.json",
        "poll-generation.json",
        "cancel-generation.json",
        "diff.json",
        "write-proposal.json",
        "summarize.json",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert!(expected.is_subset(&names), "{names:?}");
}

/// Every action any of keycard's own roles is granted.
fn granted_actions(t: &Value) -> Vec<(String, String)> {
    fn collect(id: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                if let Some(a) = m.get("Action") {
                    let allow = m.get("Effect") == Some(&json!("Allow"));
                    let actions: Vec<&str> = match a {
                        Value::String(s) => vec![s.as_str()],
                        Value::Array(xs) => xs.iter().filter_map(Value::as_str).collect(),
                        _ => Vec::new(),
                    };
                    if allow {
                        out.extend(actions.into_iter().map(|x| (id.to_owned(), x.to_owned())));
                    }
                }
                for v in m.values() {
                    collect(id, v, out);
                }
            }
            Value::Array(xs) => xs.iter().for_each(|x| collect(id, x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (id, r) in resources(t) {
        let props = &r["Properties"];
        for key in ["Policies", "PolicyDocument"] {
            if let Some(p) = props.get(key) {
                collect(id, p, &mut out);
            }
        }
    }
    out
}

#[test]
fn keycard_never_writes_iam_or_deploys_stacks() {
    let t = template();
    let catalog = Catalog::embedded();
    let granted = granted_actions(&t);
    assert!(granted.len() > 20, "{granted:?}");
    for (id, action) in granted {
        assert!(!action.contains('*'), "{id}: wildcard action {action}");
        assert!(catalog.contains(&action), "{id}: unknown action {action}");
        let service = action.split(':').next().unwrap();
        let level = catalog.access_level(&action).unwrap();
        if service == "iam" {
            assert!(
                matches!(level, AccessLevel::Read | AccessLevel::List) || action == "iam:PassRole",
                "{id}: {action} writes IAM"
            );
        }
        if service == "cloudformation" {
            assert!(
                matches!(level, AccessLevel::Read | AccessLevel::List)
                    || action == "cloudformation:DetectStackDrift",
                "{id}: {action} can change a stack"
            );
        }
        if action == "iam:PassRole" {
            assert_eq!(id, "StartGenerationFunction");
        }
    }
    // PassRole only of the trail role, only to Access Analyzer.
    let start =
        &t["Resources"]["StartGenerationFunction"]["Properties"]["Policies"][0]["Statement"];
    let pass = start
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Action"] == "iam:PassRole")
        .unwrap();
    assert_eq!(
        pass["Resource"],
        json!({"Fn::GetAtt": ["AccessAnalyzerTrailRole", "Arn"]})
    );
    assert_eq!(
        pass["Condition"]["StringEquals"]["iam:PassedToService"],
        "access-analyzer.amazonaws.com"
    );
}

#[test]
fn keycard_check_reports_nothing_on_the_template() {
    let text = read_repo_file("template.yaml");
    let report =
        keycard_core::check::check_template("template.yaml", &text, Catalog::embedded()).unwrap();
    let open: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .map(|f| format!("{} {} {}: {}", f.rule, f.resource, f.path, f.message))
        .collect();
    assert!(
        open.is_empty(),
        "keycard check template.yaml:\n{}",
        open.join("\n")
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn output_bucket_is_private_encrypted_versioned_tls_only_and_expires_runs() {
    let t = template();
    let b = &t["Resources"]["OutputBucket"]["Properties"];
    assert_eq!(b["VersioningConfiguration"]["Status"], "Enabled");
    let bpa = &b["PublicAccessBlockConfiguration"];
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(bpa[k], true, "{k}");
    }
    assert!(b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        ["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        .is_string());
    let rules = b["LifecycleConfiguration"]["Rules"].as_array().unwrap();
    let prefixes: BTreeSet<&str> = rules.iter().filter_map(|r| r["Prefix"].as_str()).collect();
    for p in [
        keycard_chain::contract::keys::RUNS,
        keycard_chain::contract::keys::PROPOSALS,
    ] {
        assert!(prefixes.contains(p), "lifecycle for {p}");
    }
    let policy =
        &t["Resources"]["OutputBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(policy["Effect"], "Deny");
    assert_eq!(policy["Condition"]["Bool"]["aws:SecureTransport"], "false");
}

#[test]
fn samconfig_enables_the_rust_builder() {
    let text = read_repo_file("samconfig.toml");
    assert!(text.contains("[default.build.parameters]"));
    let build = text.split("[default.build.parameters]").nth(1).unwrap();
    let build = build.split("\n[").next().unwrap();
    assert!(
        build.contains("beta_features = true"),
        "rust-cargolambda is a SAM beta feature"
    );
    assert!(text.contains("capabilities = \"CAPABILITY_IAM\""));
}

/// The `Statement` lists of a resource's `Policies` (SAM) or `Policies[].PolicyDocument` (IAM).
fn policy_statements(t: &Value, id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for p in t["Resources"][id]["Properties"]["Policies"]
        .as_array()
        .unwrap_or_else(|| panic!("{id} has no Policies"))
    {
        let doc = p.get("PolicyDocument").unwrap_or(p);
        out.extend(doc["Statement"].as_array().unwrap().iter().cloned());
    }
    out
}

/// Whether a statement allows `action` (a string or a list of them).
fn allows(statement: &Value, action: &str) -> bool {
    statement["Effect"] == "Allow"
        && (statement["Action"] == json!(action)
            || statement["Action"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(action))))
}

/// `Fn::Sub` text of a statement's single `Resource`.
fn sub_resource(statement: &Value) -> &str {
    statement["Resource"]["Fn::Sub"]
        .as_str()
        .unwrap_or_else(|| panic!("not one !Sub resource: {statement}"))
}

/// Issue 15, defect 1: an account has at most one analyzer with the account as zone of trust,
/// so creating one by default fails in every account that already has one (Security Hub, CIS
/// baselines). Nothing keycard calls takes an analyzer, so none is created unless asked for.
#[test]
fn no_access_analyzer_analyzer_unless_asked_for() {
    let t = template();
    let param = &t["Parameters"]["CreateAnalyzer"];
    assert_eq!(param["Default"], "false", "no analyzer by default");
    assert_eq!(
        t["Conditions"]["CreateAnalyzer"],
        json!({"Fn::Equals": [{"Ref": "CreateAnalyzer"}, "true"]})
    );
    let analyzers: Vec<&String> = resources(&t)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::AccessAnalyzer::Analyzer")
        .map(|(id, _)| id)
        .collect();
    for id in &analyzers {
        assert_eq!(
            t["Resources"][id.as_str()]["Condition"],
            "CreateAnalyzer",
            "{id} is created only when CreateAnalyzer is true"
        );
    }
    // Whatever refers to an analyzer exists only with it.
    for (id, output) in t["Outputs"].as_object().unwrap() {
        let text = output.to_string();
        if analyzers.iter().any(|a| text.contains(&format!("\"{a}\""))) {
            assert_eq!(output["Condition"], "CreateAnalyzer", "output {id}");
        }
    }
    // No function is told about an analyzer: none of the calls takes one.
    let text = read_repo_file("template.yaml");
    assert!(
        !text.contains("ANALYZER_ARN"),
        "an analyzer ARN handed to a function"
    );
}

/// Issue 15, defect 2: the service role's trust policy is the one the IAM User Guide documents
/// for policy generation ("Generate policies based on access activity", permissions required
/// for the service role), with nothing added: a condition Access Analyzer does not satisfy when
/// it assumes the role turns every generation into AUTHORIZATION_ERROR. Its permissions are
/// the documented ones, scoped to the trail and its bucket.
#[test]
fn access_analyzer_trail_role_follows_the_documented_service_role() {
    let t = template();
    let role = &t["Resources"]["AccessAnalyzerTrailRole"]["Properties"];
    assert_eq!(
        role["AssumeRolePolicyDocument"],
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "access-analyzer.amazonaws.com"},
                "Action": "sts:AssumeRole"
            }]
        })
    );
    let statements = policy_statements(&t, "AccessAnalyzerTrailRole");
    let bucket = json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::${TrailBucketName}"});
    let objects = json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::${TrailBucketName}/*"});
    for (action, resource) in [
        ("cloudtrail:GetTrail", json!({"Ref": "TrailArn"})),
        ("iam:GenerateServiceLastAccessedDetails", json!("*")),
        ("iam:GetServiceLastAccessedDetails", json!("*")),
        ("s3:ListBucket", bucket.clone()),
        ("s3:GetBucketLocation", bucket),
        ("s3:GetObject", objects),
    ] {
        let granted: Vec<&Value> = statements.iter().filter(|s| allows(s, action)).collect();
        assert_eq!(granted.len(), 1, "{action}");
        assert_eq!(granted[0]["Resource"], resource, "{action}");
    }
}

/// Issue 15, defect 4: an organization trail's bucket is in the log-archive account, and a
/// Distributed Map lists only buckets of its own account and region (Step Functions Developer
/// Guide, "ItemReader (Map)"). The plan function lists the trail bucket (and only it), the
/// batch function reads its objects, the state machine reads only the item file in the output
/// bucket; both functions know the granted bucket and its owner, and the outputs name the roles
/// the bucket policy must allow (README, "Organization trails").
#[test]
fn cloudtrail_mode_reads_the_trail_bucket_from_its_functions_only() {
    let t = template();
    let bucket = json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::${TrailBucketName}"});
    let objects = json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::${TrailBucketName}/*"});
    for (function, action, resource) in [
        ("CloudTrailPlanFunction", "s3:ListBucket", &bucket),
        ("CloudTrailBatchFunction", "s3:GetObject", &objects),
    ] {
        let granted: Vec<Value> = policy_statements(&t, function)
            .into_iter()
            .filter(|s| allows(s, action) && s["Resource"] == *resource)
            .collect();
        assert_eq!(granted.len(), 1, "{function} {action}");
        let vars = &t["Resources"][function]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            vars["KEYCARD_TRAIL_BUCKET"],
            json!({"Ref": "TrailBucketName"})
        );
        assert_eq!(
            vars["KEYCARD_TRAIL_BUCKET_OWNER"],
            json!({"Ref": "TrailBucketOwner"})
        );
    }
    let plan_objects = policy_statements(&t, "CloudTrailPlanFunction")
        .into_iter()
        .any(|s| s["Resource"] == objects);
    assert!(!plan_objects, "the plan lists, it never reads a log object");
    let sm = policy_statements(&t, "CloudTrailStateMachine");
    assert!(
        sm.iter()
            .all(|s| !s.to_string().contains("TrailBucketName")),
        "the map never touches the trail bucket"
    );
    let reads_items = sm.iter().any(|s| {
        allows(s, "s3:GetObject")
            && s["Resource"] == json!({"Fn::Sub": "${OutputBucket.Arn}/runs/*"})
    });
    assert!(reads_items, "the ItemReader reads the item file");
    assert_eq!(
        t["Parameters"]["TrailBucketOwner"]["AllowedPattern"],
        "^([0-9]{12})?$"
    );
    for (output, role) in [
        ("CloudTrailPlanRoleArn", "CloudTrailPlanFunctionRole"),
        ("CloudTrailBatchRoleArn", "CloudTrailBatchFunctionRole"),
    ] {
        assert_eq!(
            t["Outputs"][output]["Value"],
            json!({"Fn::GetAtt": [role, "Arn"]})
        );
    }
}

/// Issue 15, defect 3: re-driving a failed CloudTrail mode run (README "Failures") re-drives
/// the map run's child executions, which the Step Functions Developer Guide ("IAM policies for
/// using Distributed Map states", "Redriving Map Runs") authorizes as `states:RedriveExecution`
/// on `execution:<state machine>/<map label>:*`; running the map needs `StartExecution` on the
/// state machine and `DescribeExecution` on `execution:<state machine>:*`.
#[test]
fn cloudtrail_mode_may_run_and_redrive_its_map_children() {
    let t = template();
    let asl: Value =
        serde_json::from_str(&read_repo_file("statemachine/cloudtrail-mode.asl.json")).unwrap();
    let distributed: Vec<(&String, &Value)> = asl["States"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| {
            s.pointer("/ItemProcessor/ProcessorConfig/Mode") == Some(&json!("DISTRIBUTED"))
        })
        .collect();
    assert_eq!(distributed.len(), 1);
    let label = distributed[0].1["Label"].as_str().unwrap();
    let sm = &t["Resources"]["CloudTrailStateMachine"]["Properties"];
    assert_eq!(
        sm["Name"],
        json!({"Fn::Sub": "${AWS::StackName}-cloudtrail"})
    );
    let arn = |kind: &str, rest: &str| {
        format!(
            "arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:{kind}:${{AWS::StackName}}-cloudtrail{rest}"
        )
    };
    let statements = policy_statements(&t, "CloudTrailStateMachine");
    let resources_of = |action: &str| -> BTreeSet<String> {
        statements
            .iter()
            .filter(|s| allows(s, action))
            .map(|s| sub_resource(s).to_owned())
            .collect()
    };
    assert_eq!(
        resources_of("states:StartExecution"),
        BTreeSet::from([arn("stateMachine", "")])
    );
    assert!(resources_of("states:DescribeExecution").contains(&arn("execution", ":*")));
    assert_eq!(
        resources_of("states:RedriveExecution"),
        BTreeSet::from([arn("execution", &format!("/{label}:*"))]),
        "re-drive is authorized on the map's child executions"
    );
    assert!(
        !read_repo_file("template.yaml").contains(":mapRun:"),
        "RedriveExecution is not authorized on map run ARNs"
    );
}

const CLOUDTRAIL_ASL: &str = "statemachine/cloudtrail-mode.asl.json";

fn cloudtrail_asl() -> Value {
    serde_json::from_str(&read_repo_file(CLOUDTRAIL_ASL)).unwrap()
}

/// Issue 15, defect 6: every task that invokes a Lambda function, in both state machines,
/// retries every Lambda service error (a timed-out Invoke call included).
#[test]
fn every_lambda_task_of_both_state_machines_retries_the_lambda_service_errors() {
    let mut tasks = 0;
    for (file, asl) in [(ASL, asl()), (CLOUDTRAIL_ASL, cloudtrail_asl())] {
        for (name, s) in states(&asl) {
            let invokes_lambda = s["Resource"]
                .as_str()
                .is_some_and(|r| r.starts_with("${") && r.ends_with("FunctionArn}"));
            if !invokes_lambda {
                continue;
            }
            tasks += 1;
            let retried = retried(&s, &format!("{file} {name}"));
            for e in LAMBDA_SERVICE {
                assert!(retried.contains(e), "{file} {name} does not retry {e}");
            }
        }
    }
    assert_eq!(tasks, 8 + 6, "Lambda tasks of both state machines");
}

/// Issue 15, defect 6: JSON logs with a retention for every function and both state machines,
/// X-Ray on both, and the log delivery permissions Step Functions needs.
#[test]
fn functions_and_state_machines_log_json_with_retention_and_are_traced() {
    let t = template();
    let params = &t["Parameters"];
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Tracing"], "Active");
    assert_eq!(globals["LoggingConfig"]["LogFormat"], "JSON");
    assert_eq!(
        globals["LoggingConfig"]["ApplicationLogLevel"],
        json!({"Ref": "LogLevel"})
    );
    // Every allowed level logs errors; lambda_runtime's subscriber parses each of them.
    let levels: BTreeSet<&str> = params["LogLevel"]["AllowedValues"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        levels.contains("ERROR") && !levels.contains("FATAL"),
        "{levels:?}"
    );
    assert!(
        globals["Environment"]["Variables"]
            .get("RUST_LOG")
            .is_none()
    );
    let sm_levels = params["StateMachineLogLevel"]["AllowedValues"].clone();
    assert_eq!(sm_levels, json!(["ALL", "ERROR"]), "ERROR at least");

    // One log group per function, named as Lambda names its default group, with a retention.
    let groups: BTreeMap<String, &Value> = resources(&t)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Logs::LogGroup")
        .map(|(id, r)| (id.clone(), &r["Properties"]))
        .collect();
    for g in groups.values() {
        assert_eq!(g["RetentionInDays"], json!({"Ref": "LogRetentionDays"}));
    }
    let names: BTreeSet<String> = groups
        .values()
        .filter_map(|g| g["LogGroupName"]["Fn::Sub"].as_str())
        .map(str::to_owned)
        .collect();
    let mut functions = 0;
    for (id, r) in resources(&t) {
        if r["Type"] == "AWS::Serverless::Function" {
            functions += 1;
            assert!(
                names.contains(&format!("/aws/lambda/${{{id}}}")),
                "{id} has no log group with a retention"
            );
        }
    }
    assert_eq!(functions, 11);

    // Both state machines: logging (no execution data) into a group of this stack, tracing,
    // and the delivery actions the Step Functions guide lists for CloudWatch Logs.
    for id in ["KeycardStateMachine", "CloudTrailStateMachine"] {
        let p = &t["Resources"][id]["Properties"];
        assert_eq!(p["Tracing"]["Enabled"], true, "{id}");
        let logging = &p["Logging"];
        assert_eq!(
            logging["Level"],
            json!({"Ref": "StateMachineLogLevel"}),
            "{id}"
        );
        assert_eq!(logging["IncludeExecutionData"], false, "{id}");
        let group =
            logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
                .as_str()
                .unwrap();
        assert!(groups.contains_key(group), "{id}: {group}");
        assert!(
            groups[group]["LogGroupName"]["Fn::Sub"]
                .as_str()
                .unwrap()
                .starts_with("/aws/vendedlogs/states/"),
            "{id}"
        );
        let statements = policy_statements(&t, id);
        for action in [
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups",
        ] {
            assert!(
                statements
                    .iter()
                    .any(|s| allows(s, action) && s["Resource"] == "*"),
                "{id}: {action}"
            );
        }
    }
}

/// Issue 15, defect 6: a scheduled start EventBridge cannot deliver is retried, then kept in a
/// dead-letter queue only that rule may write to.
#[test]
fn the_schedule_retries_then_dead_letters() {
    let t = template();
    let event = &t["Resources"]["KeycardStateMachine"]["Properties"]["Events"]["QuarterlyRun"]["Properties"];
    let retry = &event["RetryPolicy"];
    assert!(retry["MaximumRetryAttempts"].as_u64().unwrap() >= 1);
    // EventBridge's bounds: 0..=185 attempts, 60..=86400 seconds.
    assert!(retry["MaximumRetryAttempts"].as_u64().unwrap() <= 185);
    let age = retry["MaximumEventAgeInSeconds"].as_u64().unwrap();
    assert!((60..=86_400).contains(&age), "{age}");
    let queue = event["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap();
    assert_eq!(t["Resources"][queue]["Type"], "AWS::SQS::Queue");
    let policy = resources(&t)
        .values()
        .find(|r| {
            r["Type"] == "AWS::SQS::QueuePolicy"
                && r["Properties"]["Queues"] == json!([{"Ref": queue}])
        })
        .expect("the dead-letter queue has a queue policy");
    let statements = policy["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    // the schedule's rule, and the re-propose rule's when it exists
    assert_eq!(statements.len(), 2);
    let repropose = &statements[1]["Fn::If"];
    assert_eq!(repropose[0], "ReproposeOnStackUpdate");
    assert_eq!(
        repropose[1]["Condition"]["ArnEquals"]["aws:SourceArn"],
        json!({"Fn::GetAtt": ["StackUpdateRule", "Arn"]})
    );
    assert_eq!(repropose[2], json!({"Ref": "AWS::NoValue"}));
    let s = &statements[0];
    assert_eq!(s["Principal"], json!({"Service": "events.amazonaws.com"}));
    assert_eq!(s["Action"], "sqs:SendMessage");
    // SAM names the rule it generates for the event <StateMachine><Event>.
    assert_eq!(
        s["Condition"]["ArnEquals"]["aws:SourceArn"],
        json!({"Fn::GetAtt": ["KeycardStateMachineQuarterlyRun", "Arn"]})
    );
}

/// Issue 15, defect 6: ARNs are built with `${AWS::Partition}` (aws-cn, aws-us-gov), never
/// with a literal `arn:aws:`.
#[test]
fn template_arns_name_no_partition() {
    let text = read_repo_file("template.yaml");
    for (n, line) in text.lines().enumerate() {
        let code = line.split(" #").next().unwrap_or_default();
        assert!(
            !code.contains("arn:aws:"),
            "template.yaml:{}: a literal arn:aws: ({line})",
            n + 1
        );
    }
    // The trail ARN parameter accepts every partition.
    let pattern = template()["Parameters"]["TrailArn"]["AllowedPattern"].clone();
    assert_eq!(
        pattern,
        "^arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:[0-9]{12}:trail/.+$"
    );
}

/// A number the CloudTrail mode ASL reads at `path` after running `Plan`'s successor states on
/// `state`, with `${ScanConcurrency}` substituted as CloudFormation would: the three states
/// between Plan and ScanTrail (a Pass with `States.StringToJson`, a Choice, a Pass).
fn scan_concurrency_after_plan(requested: u64, reserved: u64) -> u64 {
    let asl = cloudtrail_asl();
    let top = &asl["States"];
    let mut state = json!({"batching": {"maxConcurrency": requested}});
    let mut name = top["Plan"]["Next"].as_str().unwrap().to_owned();
    let mut steps = 0;
    while name != "ScanTrail" {
        steps += 1;
        assert!(steps < 5, "Plan does not lead to ScanTrail");
        let s = &top[&name];
        match s["Type"].as_str().unwrap() {
            "Pass" if s.get("Parameters").is_some() => {
                let params = s["Parameters"].as_object().unwrap();
                assert_eq!(params.len(), 1);
                let (key, expr) = params.iter().next().unwrap();
                let field = key.strip_suffix(".$").unwrap();
                assert_eq!(
                    expr, "States.StringToJson('${ScanConcurrency}')",
                    "the template parameter, as a number"
                );
                let target = s["ResultPath"]
                    .as_str()
                    .unwrap()
                    .strip_prefix("$.")
                    .unwrap();
                let mut limits = serde_json::Map::new();
                limits.insert(field.to_owned(), json!(reserved));
                state[target] = Value::Object(limits);
            }
            "Pass" => {
                let from = s["InputPath"].as_str().unwrap().strip_prefix('$').unwrap();
                let to = s["ResultPath"].as_str().unwrap().strip_prefix('$').unwrap();
                let value = state.pointer(&from.replace('.', "/")).unwrap().clone();
                *state.pointer_mut(&to.replace('.', "/")).unwrap() = value;
            }
            "Choice" => {
                let rules = s["Choices"].as_array().unwrap();
                assert_eq!(rules.len(), 1);
                let r = &rules[0];
                let get = |p: &str| {
                    state
                        .pointer(&p.strip_prefix('$').unwrap().replace('.', "/"))
                        .and_then(Value::as_u64)
                        .unwrap()
                };
                let left = get(r["Variable"].as_str().unwrap());
                let right = get(r["NumericGreaterThanPath"].as_str().unwrap());
                name = if left > right {
                    r["Next"].as_str().unwrap().to_owned()
                } else {
                    s["Default"].as_str().unwrap().to_owned()
                };
                continue;
            }
            other => panic!("{name}: unexpected {other} state"),
        }
        name = s["Next"].as_str().unwrap().to_owned();
    }
    assert_eq!(
        top["ScanTrail"]["MaxConcurrencyPath"], "$.batching.maxConcurrency",
        "the map runs at the capped concurrency"
    );
    state["batching"]["maxConcurrency"].as_u64().unwrap()
}

/// Issue 15, defect 6: the batch function has reserved concurrency (a scan cannot starve the
/// workloads it analyses), and the map never runs more children at once than that reservation
/// (more would only be throttled): one parameter feeds both, and the state machine caps the
/// requested maxConcurrency at it.
#[test]
fn the_scan_runs_within_the_batch_functions_reserved_concurrency() {
    let t = template();
    let param = &t["Parameters"]["ScanConcurrency"];
    assert_eq!(param["Type"], "Number");
    assert!(param["MinValue"].as_u64().unwrap() >= 1);
    // Distributed Map runs at most 10,000 children at once.
    assert!(param["MaxValue"].as_u64().unwrap() <= 10_000);
    let batch = &t["Resources"]["CloudTrailBatchFunction"]["Properties"];
    assert_eq!(
        batch["ReservedConcurrentExecutions"],
        json!({"Ref": "ScanConcurrency"})
    );
    assert_eq!(
        t["Resources"]["CloudTrailStateMachine"]["Properties"]["DefinitionSubstitutions"]["ScanConcurrency"],
        json!({"Ref": "ScanConcurrency"})
    );
    // The sample input's concurrency runs as asked with the default reservation.
    let sample: Value =
        serde_json::from_str(&read_repo_file("events/cloudtrail-mode.json")).unwrap();
    let asked = sample["batching"]["maxConcurrency"].as_u64().unwrap();
    let default = param["Default"].as_u64().unwrap();
    assert!(asked <= default);
    assert_eq!(scan_concurrency_after_plan(asked, default), asked);
    assert_eq!(scan_concurrency_after_plan(1_000, 100), 100);
    assert_eq!(scan_concurrency_after_plan(100, 100), 100);
    assert_eq!(scan_concurrency_after_plan(7, 250), 7);
}

/// Step Functions' quota on one Standard execution's history ("Step Functions service quotas":
/// 25,000 events; an execution that would exceed it fails).
const HISTORY_EVENT_LIMIT: u64 = 25_000;

/// Events a Lambda task adds to the history with the `Resource: <function ARN>` integration
/// (Developer Guide, "HistoryEvent" types): TaskStateEntered, LambdaFunctionScheduled,
/// LambdaFunctionStarted, LambdaFunctionSucceeded, TaskStateExited. Each retried attempt adds
/// LambdaFunctionFailed (or TimedOut), Scheduled and Started again.
const LAMBDA_TASK_EVENTS: u64 = 5;
const EVENTS_PER_RETRY: u64 = 3;
/// Entered and Exited: Pass, Wait, Choice.
const PLAIN_STATE_EVENTS: u64 = 2;
/// An AWS SDK task: TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded, TaskStateExited.
const SDK_TASK_EVENTS: u64 = 5;
/// An inline Map state: MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited;
/// per iteration MapIterationStarted and MapIterationSucceeded.
const MAP_EVENTS: u64 = 4;
const MAP_ITERATION_EVENTS: u64 = 2;

fn param_max(t: &Value, name: &str) -> u64 {
    t["Parameters"][name]["MaxValue"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} has no MaxValue"))
}

/// Retries of one task's retriers if every one of them is used up.
fn all_retries(s: &Value) -> u64 {
    s["Retry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["MaxAttempts"].as_u64().unwrap())
        .sum()
}

/// Seconds one task's retriers wait in total if every attempt is used (before jitter, which
/// only shortens waits).
fn all_backoff_seconds(s: &Value) -> f64 {
    let mut total = 0.0;
    for r in s["Retry"].as_array().into_iter().flatten() {
        let mut wait = r["IntervalSeconds"].as_f64().unwrap();
        let cap = r["MaxDelaySeconds"].as_f64().unwrap_or(f64::MAX);
        for _ in 0..r["MaxAttempts"].as_u64().unwrap() {
            total += wait.min(cap);
            wait *= r["BackoffRate"].as_f64().unwrap();
        }
    }
    total
}

/// Issue 15, defect 6: one Access Analyzer mode execution at the largest parameters the
/// template allows (WaitSeconds, MaxPolls, MaxGenerations at their MaxValue, every job timing
/// out, every StartGeneration using all its retries) stays under the 25,000-event history and
/// the state machine's TimeoutSeconds, with the largest number of target stacks the state
/// machine accepts. The state machine refuses larger inputs (CheckRunBudget) with the same
/// bounds, so a hand-started run cannot exceed them either.
#[test]
fn one_access_analyzer_run_fits_its_history_and_timeout() {
    let t = template();
    let a = asl();
    let all = states(&a);
    let wait = param_max(&t, "WaitSeconds");
    let polls = param_max(&t, "MaxPolls");
    let roles = param_max(&t, "MaxGenerations");
    assert_eq!(roles, 50, "Access Analyzer's daily quota");

    // The guard after discovery uses exactly these bounds.
    let guard = &a["States"]["CheckRunBudget"];
    assert_eq!(a["States"]["Discover"]["Next"], "CheckRunBudget");
    assert_eq!(guard["Default"], "AnalyseRoles");
    let rule = &guard["Choices"][0];
    assert_eq!(a["States"][rule["Next"].as_str().unwrap()]["Type"], "Fail");
    assert_eq!(
        a["States"][rule["Next"].as_str().unwrap()]["Error"],
        chain::INVALID_INPUT
    );
    let mut bounds = BTreeMap::new();
    for c in rule["Or"].as_array().unwrap() {
        let var = c["Variable"].as_str().unwrap().to_owned();
        bounds.insert(var, c.clone());
    }
    assert_eq!(bounds["$.run.maxPolls"]["NumericGreaterThan"], polls);
    assert_eq!(bounds["$.run.waitSeconds"]["NumericGreaterThan"], wait);
    assert_eq!(bounds[&format!("$.roles[{roles}]")]["IsPresent"], true);
    let stacks_bound = bounds
        .keys()
        .find_map(|k| k.strip_prefix("$.stacks[")?.strip_suffix(']'))
        .map(|n| n.parse::<u64>().unwrap())
        .expect("a bound on the number of stacks");

    // History events.
    let lambda = |_state: &str, retries: u64| LAMBDA_TASK_EVENTS + retries * EVENTS_PER_RETRY;
    let start = &all["StartGeneration"];
    let per_role = MAP_ITERATION_EVENTS
        + lambda("StartGeneration", all_retries(start))
        + polls * (PLAIN_STATE_EVENTS + lambda("PollGeneration", 0) + PLAIN_STATE_EVENTS)
        + lambda("CancelGeneration", 0)
        + PLAIN_STATE_EVENTS;
    // A stack may use up one retrier of its diff (the transient one).
    let per_stack = MAP_ITERATION_EVENTS
        + lambda(
            "Diff",
            all["Diff"]["Retry"][0]["MaxAttempts"].as_u64().unwrap(),
        )
        + lambda("WriteProposal", 0);
    let fixed = 2 // ExecutionStarted, ExecutionSucceeded
        + lambda("Discover", all_retries(&all["Discover"]))
        + PLAIN_STATE_EVENTS // CheckRunBudget
        + MAP_EVENTS // AnalyseRoles
        + PLAIN_STATE_EVENTS // TrailToRead
        + 3 * SDK_TASK_EVENTS
        + MAP_EVENTS // AnalyseStacks
        + lambda("Summarize", all_retries(&all["Summarize"]));
    let events = fixed + roles * per_role + stacks_bound * per_stack;
    assert!(
        events <= HISTORY_EVENT_LIMIT,
        "{events} history events at {roles} roles x {polls} polls and {stacks_bound} stacks"
    );

    // Duration, every Lambda taking its whole timeout.
    let timeout_of = |state: &str| {
        let arn = all[state]["Resource"].as_str().unwrap();
        let key = arn.trim_start_matches("${").trim_end_matches('}');
        let function = t["Resources"]["KeycardStateMachine"]["Properties"]
            ["DefinitionSubstitutions"][key]["Fn::GetAtt"][0]
            .as_str()
            .unwrap();
        t["Resources"][function]["Properties"]["Timeout"]
            .as_u64()
            .or_else(|| t["Globals"]["Function"]["Timeout"].as_u64())
            .unwrap() as f64
    };
    let attempts = |state: &str| (1 + all_retries(&all[state])) as f64;
    let role_seconds = timeout_of("StartGeneration") * attempts("StartGeneration")
        + all_backoff_seconds(start)
        + polls as f64 * (wait as f64 + timeout_of("PollGeneration"))
        + timeout_of("CancelGeneration");
    let concurrency = a["States"]["AnalyseStacks"]["MaxConcurrency"]
        .as_u64()
        .unwrap();
    let stack_seconds = timeout_of("Diff") + timeout_of("WriteProposal");
    let seconds = timeout_of("Discover")
        + roles as f64 * role_seconds
        + stacks_bound.div_ceil(concurrency) as f64 * stack_seconds
        + timeout_of("Summarize");
    let limit = a["TimeoutSeconds"].as_u64().unwrap() as f64;
    assert!(
        seconds < limit,
        "{seconds} s at the parameters' maxima, TimeoutSeconds {limit}"
    );
    // Standard workflows run at most a year.
    assert!(limit <= 365.0 * 86_400.0);
}

/// Both state machines have a timeout: a stuck run ends (and can be re-driven) instead of
/// holding Access Analyzer's single generation slot or the scan's concurrency for a year.
#[test]
fn both_state_machines_time_out() {
    for (file, asl) in [(ASL, asl()), (CLOUDTRAIL_ASL, cloudtrail_asl())] {
        let timeout = asl["TimeoutSeconds"]
            .as_u64()
            .unwrap_or_else(|| panic!("{file} has no TimeoutSeconds"));
        assert!(
            (86_400..=31 * 86_400).contains(&timeout),
            "{file}: {timeout}"
        );
    }
}

/// The regions where Access Analyzer allows 5 policy generations a day, not 50 (IAM User
/// Guide, "IAM Access Analyzer quotas"), refuse a larger MaxGenerations at deploy time.
#[test]
fn max_generations_is_five_where_the_daily_quota_is_five() {
    let t = template();
    let rule = &t["Rules"]["FiveGenerationsADayRegions"];
    assert_eq!(
        rule["RuleCondition"]["Fn::Contains"],
        json!([
            ["af-south-1", "ap-east-1", "ap-southeast-3", "eu-south-1", "me-south-1"],
            {"Ref": "AWS::Region"}
        ])
    );
    assert_eq!(
        rule["Assertions"][0]["Assert"]["Fn::Contains"],
        json!([["1", "2", "3", "4", "5"], {"Ref": "MaxGenerations"}])
    );
}
