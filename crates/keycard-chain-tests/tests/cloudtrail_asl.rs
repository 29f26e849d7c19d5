//! `statemachine/cloudtrail-mode.asl.json` against the validators and against the Rust
//! payloads it moves around: every path it reads from the plan's output exists, the batch
//! input it builds parses as the children's settings, every error name it matches is one the
//! handlers report, and every `${…}` is substituted by template.yaml.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use keycard_chain::cloudtrail::{
    Batching, PlanInput, PlanOutput, ScanSettings, TrailLocation, TrailRequest,
};
use keycard_chain::contract::{ERROR_NAMES, ExecutionRef};
use keycard_chain_tests::{
    placeholders, read_repo_file, substituted_definition, tool, tools_required, unique,
};
use serde_json::{Value, json};

const CLOUDTRAIL_ASL: &str = "statemachine/cloudtrail-mode.asl.json";

fn asl_text() -> String {
    read_repo_file(CLOUDTRAIL_ASL)
}

fn asl() -> Value {
    serde_json::from_str(&asl_text()).unwrap()
}

/// A fresh folder under the system's temporary directory for one test's files.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("keycard-cloudtrail-asl"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The definition as CloudFormation hands it to Step Functions: validated after substitution,
/// since `arn:${Partition}:states:::…` is not an ARN until then.
#[test]
fn asl_validator_accepts_the_definition() {
    let Some(validator) = tool("asl-validator") else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.join("cloudtrail-mode.json");
    std::fs::write(&path, substituted_definition(CLOUDTRAIL_ASL)).unwrap();
    let out = Command::new(validator)
        .arg("--json-path")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Distributed Map fields statelint 1.30 (the newest release) does not know yet.
const DISTRIBUTED_ONLY: &[&str] = &[
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
    "Label",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
];

/// statelint predates Distributed Map: it must report nothing but those fields on the real
/// definition, and nothing at all once they are taken out (so every state, transition, path
/// and retrier is still checked by it).
#[test]
fn statelint_reports_nothing_but_distributed_map_fields() {
    let Some(statelint) = tool("statelint") else {
        return;
    };
    let dir = scratch_dir();
    let full = dir.join("cloudtrail-mode.json");
    std::fs::write(&full, substituted_definition(CLOUDTRAIL_ASL)).unwrap();
    let out = Command::new(&statelint).arg(&full).output().unwrap();
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = report
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("ERROR:"))
        .collect();
    let mut unexpected = Vec::new();
    let mut seen = BTreeSet::new();
    for p in &problems {
        let known = DISTRIBUTED_ONLY
            .iter()
            .find(|f| *p == format!("Field \"{f}\" not allowed in State Machine.States.ScanTrail"));
        match known {
            Some(f) => {
                seen.insert(*f);
            }
            None => unexpected.push(*p),
        }
    }
    assert!(unexpected.is_empty(), "statelint: {unexpected:#?}");
    assert_eq!(
        seen.len(),
        DISTRIBUTED_ONLY.len(),
        "statelint learned some Distributed Map fields; shrink DISTRIBUTED_ONLY: {report}"
    );

    let mut stripped: Value =
        serde_json::from_str(&substituted_definition(CLOUDTRAIL_ASL)).unwrap();
    let map = stripped["States"]["ScanTrail"].as_object_mut().unwrap();
    for f in DISTRIBUTED_ONLY {
        map.remove(*f);
    }
    map.insert("ItemsPath".into(), json!("$.items"));
    let path = dir.join("stripped.json");
    std::fs::write(&path, serde_json::to_string_pretty(&stripped).unwrap()).unwrap();
    let out = Command::new(&statelint).arg(&path).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn plan_output() -> PlanOutput {
    let input = PlanInput {
        request: TrailRequest {
            stacks: vec!["orders".into()],
            trail: TrailLocation {
                bucket: "aws-cloudtrail-logs-123456789012-3f2a1b0c".into(),
                prefix: None,
                organization_id: Some("o-a1b2c3d4e5".into()),
                accounts: vec![],
                regions: vec![],
                trail_arn: None,
            },
            window_days: Some(400),
            principals: None,
            batching: None,
        },
        execution: ExecutionRef {
            id: "arn:aws:states:us-east-1:123456789012:execution:keycard-cloudtrail:q4".into(),
            name: "q4".into(),
            start_time: "2026-10-01T06:00:00Z".parse().unwrap(),
        },
    };
    // The handler itself, over the in-memory S3 with one log object of the window.
    use keycard_aws::ObjectStore;
    let store = keycard_aws::memory::MemoryStore::with_buckets(&[
        "out",
        "aws-cloudtrail-logs-123456789012-3f2a1b0c",
    ]);
    let grant = keycard_chain::cloudtrail::TrailGrant {
        bucket: "aws-cloudtrail-logs-123456789012-3f2a1b0c".into(),
        owner: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        store
            .put_object(
                "aws-cloudtrail-logs-123456789012-3f2a1b0c",
                "AWSLogs/o-a1b2c3d4e5/123456789012/CloudTrail/us-east-1/2026/09/30/123456789012_CloudTrail_us-east-1_20260930T0105Z_AbCdEf0123456789.json.gz",
                Vec::new(),
                "application/gzip",
            )
            .await
            .unwrap();
        keycard_chain::cloudtrail::plan(&store, "out", &grant, input).await
    })
    .unwrap()
}

/// Resolves a simple `$.a.b` path.
fn resolve<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let rest = path.strip_prefix("$.")?;
    rest.split('.').try_fold(v, |v, k| v.get(k))
}

#[test]
fn paths_read_from_the_plan_exist_and_batch_input_parses() {
    let plan = serde_json::to_value(plan_output()).unwrap();
    let asl = asl();
    let scan = &asl["States"]["ScanTrail"];
    // The map reads the item file from the output bucket (a substitution, not a path) at the
    // key the plan wrote, as JSON Lines.
    assert_eq!(
        scan["ItemReader"]["Parameters"]["Bucket"],
        "${OutputBucket}"
    );
    assert_eq!(scan["ItemReader"]["ReaderConfig"]["InputType"], "JSONL");
    assert_eq!(
        scan["ItemReader"]["Resource"],
        "arn:${Partition}:states:::s3:getObject"
    );
    let mut paths = vec![
        scan["ItemReader"]["Parameters"]["Key.$"].as_str().unwrap(),
        scan["ItemBatcher"]["MaxItemsPerBatchPath"]
            .as_str()
            .unwrap(),
        scan["ItemBatcher"]["MaxInputBytesPerBatchPath"]
            .as_str()
            .unwrap(),
        scan["MaxConcurrencyPath"].as_str().unwrap(),
        scan["ToleratedFailurePercentagePath"].as_str().unwrap(),
        scan["ResultWriter"]["Parameters"]["Prefix.$"]
            .as_str()
            .unwrap(),
        asl["States"]["AnalyseStacks"]["ItemsPath"]
            .as_str()
            .unwrap(),
        asl["States"]["Reduce"]["Parameters"]["settings.$"]
            .as_str()
            .unwrap(),
    ];
    let batch_input = scan["ItemBatcher"]["BatchInput"].as_object().unwrap();
    let mut built = serde_json::Map::new();
    for (k, v) in batch_input {
        let path = v.as_str().unwrap();
        paths.push(path);
        let value = resolve(&plan, path).unwrap_or_else(|| panic!("{path} not in the plan"));
        built.insert(k.trim_end_matches(".$").to_owned(), value.clone());
    }
    for p in paths {
        assert!(resolve(&plan, p).is_some(), "{p} is not in the plan output");
    }
    let settings: ScanSettings = serde_json::from_value(Value::Object(built)).unwrap();
    assert_eq!(settings.execution_name, "q4");
    assert_eq!(
        serde_json::from_value::<Batching>(plan["batching"].clone()).unwrap(),
        Batching::default()
    );
    // ItemBatcher's byte limit is 256 KB.
    assert!(plan["batching"]["maxInputBytesPerBatch"].as_u64().unwrap() <= 262_144);
}

fn error_names(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(names)) = m.get("ErrorEquals") {
                out.extend(names.iter().filter_map(|n| n.as_str().map(str::to_owned)));
            }
            m.values().for_each(|v| error_names(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| error_names(v, out)),
        _ => {}
    }
}

#[test]
fn every_matched_keycard_error_is_one_the_handlers_report() {
    let mut names = BTreeSet::new();
    error_names(&asl(), &mut names);
    assert!(names.contains("Keycard.Transient"));
    for n in names.iter().filter(|n| n.starts_with("Keycard.")) {
        assert!(ERROR_NAMES.contains(&n.as_str()), "{n} is never reported");
    }
    for n in names.iter().filter(|n| !n.starts_with("Keycard.")) {
        assert!(
            n.starts_with("Lambda.") || n.starts_with("States."),
            "{n} is not a Step Functions or Lambda error name"
        );
    }
}

/// The `DefinitionSubstitutions` keys of the state machine resource whose `DefinitionUri`
/// is this definition, read from template.yaml's text (block style, as written there).
fn substitutions_in_template(template: &str) -> Option<BTreeSet<String>> {
    let lines: Vec<&str> = template.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == "DefinitionUri: statemachine/cloudtrail-mode.asl.json")?;
    let indent = |l: &str| l.len() - l.trim_start().len();
    let props_indent = indent(lines[at]);
    // Search the resource's properties (same indentation) around DefinitionUri.
    let start = (0..at)
        .rev()
        .find(|&i| !lines[i].trim().is_empty() && indent(lines[i]) < props_indent)?;
    let end = (at + 1..lines.len())
        .find(|&i| !lines[i].trim().is_empty() && indent(lines[i]) < props_indent)
        .unwrap_or(lines.len());
    let subs = (start..end).find(|&i| {
        indent(lines[i]) == props_indent && lines[i].trim() == "DefinitionSubstitutions:"
    })?;
    let mut keys = BTreeSet::new();
    for l in &lines[subs + 1..end] {
        if l.trim().is_empty() || l.trim().starts_with('#') {
            continue;
        }
        if indent(l) <= props_indent {
            break;
        }
        if let Some((k, _)) = l
            .trim()
            .split_once(':')
            .filter(|_| indent(l) == props_indent + 2)
        {
            keys.insert(k.trim().to_owned());
        }
    }
    Some(keys)
}

#[test]
fn every_placeholder_is_substituted_by_the_template() {
    let wanted = placeholders(&asl_text());
    assert!(wanted.contains("CloudTrailBatchFunctionArn"));
    let template = read_repo_file("template.yaml");
    match substitutions_in_template(&template) {
        Some(have) => {
            let missing: Vec<&String> = wanted.difference(&have).collect();
            assert!(
                missing.is_empty(),
                "not in DefinitionSubstitutions: {missing:?}"
            );
        }
        None => {
            assert!(
                !tools_required(),
                "template.yaml has no state machine with DefinitionUri: statemachine/cloudtrail-mode.asl.json"
            );
            eprintln!("skipped: template.yaml does not wire the CloudTrail mode state machine yet");
        }
    }
}

/// The sample inputs in events/ are the shapes the handlers read, and consistent with each
/// other (the sample batch's objects are ones its settings select).
#[test]
fn sample_events_parse() {
    let read = |name: &str| read_repo_file(&format!("events/{name}"));
    let request: TrailRequest = serde_json::from_str(&read("cloudtrail-mode.json")).unwrap();
    request.trail.validate().unwrap();
    assert_eq!(request.batching, Some(Batching::default()));
    let batch: keycard_chain::cloudtrail::BatchEvent =
        serde_json::from_str(&read("cloudtrail-batch.json")).unwrap();
    let s = &batch.settings;
    let selection =
        keycard_chain::cloudtrail::Selection::new(&s.trail, s.window_start, s.window_end);
    for item in &batch.items {
        assert_eq!(
            selection.classify(&item.key),
            keycard_chain::cloudtrail::KeyClass::Scan,
            "{}",
            item.key
        );
    }
    let reduce: keycard_chain::cloudtrail::ReduceInput =
        serde_json::from_str(&read("cloudtrail-reduce.json")).unwrap();
    assert_eq!(reduce.settings, batch.settings);
    assert_eq!(s.trail, request.trail);
}

/// Resolves a state's JSONPath `Parameters` against `state` (literal values kept).
fn build(params: &Value, state: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in params.as_object().unwrap() {
        match k.strip_suffix(".$") {
            Some(name) => {
                let path = v.as_str().unwrap();
                let value = resolve(state, path).unwrap_or_else(|| panic!("{path} not in state"));
                out.insert(name.to_owned(), value.clone());
            }
            None => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// The shared steps (E's diff and summarize) accept what this state machine sends them.
#[test]
fn shared_steps_accept_what_cloudtrail_mode_sends() {
    let asl = asl();
    let mut state = serde_json::to_value(plan_output()).unwrap();
    state["scan"] = json!({"MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:keycard-cloudtrail/ScanTrail:1",
                           "ResultWriterDetails": {"Bucket": "out", "Key": "runs/q4/cloudtrail/map/1/manifest.json"}});
    let reduce_in: keycard_chain::cloudtrail::ReduceInput =
        serde_json::from_value(build(&asl["States"]["Reduce"]["Parameters"], &state)).unwrap();
    assert_eq!(reduce_in.settings.execution_name, "q4");
    state["reduce"] = json!({"usageKey": "runs/q4/cloudtrail/usage.json"});
    assert_eq!(asl["States"]["Reduce"]["Next"], "TrailToRead");
    // No trailArn in the input: the stack's TrailArn parameter is read.
    assert_eq!(trail_to_read(&asl, &state), json!({"trail": "${TrailArn}"}));
    let trail = "arn:aws:cloudtrail:us-east-1:111122223333:trail/organization-trail";
    let mut named = state.clone();
    named["settings"]["trail"]["trailArn"] = json!(trail);
    assert_eq!(trail_to_read(&asl, &named), json!({"trail": trail}));
    // What the three SDK tasks leave (Step Functions' casing), or what their Catch leaves.
    state["trailConfig"] = json!({"trail": trail,
        "describeTrails": {"TrailList": []}, "eventSelectors": {"EventSelectors": []},
        "trailStatus": {"IsLogging": true}});
    let stacks = &asl["States"]["AnalyseStacks"];
    // One Map item, as ItemSelector builds it.
    let mut item = build(
        &json!({"run.$": "$.run", "usageKey.$": "$.reduce.usageKey", "trailConfig.$": "$.trailConfig"}),
        &state,
    );
    item["stack"] = state["stacks"][0].clone();
    // ledgerConflicts: the count of diffs redone after a conditional ledger write was refused,
    // starting at 0.
    item["ledgerConflicts"] = json!(0);
    let selector = stacks["ItemSelector"].as_object().unwrap();
    assert_eq!(selector["ledgerConflicts"], 0);
    assert_eq!(
        selector.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "run.$",
            "stack.$",
            "usageKey.$",
            "trailConfig.$",
            "ledgerConflicts"
        ])
    );
    let diff: keycard_chain::contract::DiffInput = serde_json::from_value(build(
        &stacks["ItemProcessor"]["States"]["Diff"]["Parameters"],
        &item,
    ))
    .unwrap();
    assert_eq!(
        diff.usage_key.as_deref(),
        Some("runs/q4/cloudtrail/usage.json")
    );
    assert!(diff.role_outcomes.is_empty());
    assert_eq!(diff.trail_config.as_ref(), Some(&state["trailConfig"]));
    state["stackOutcomes"] = json!([]);
    let summary: keycard_chain::contract::SummaryInput =
        serde_json::from_value(build(&asl["States"]["Summarize"]["Parameters"], &state)).unwrap();
    assert_eq!(summary.run.execution_name, "q4");
}

/// `$.trailConfig` after `TrailToRead` and its Pass states, for a state after `Reduce`.
fn trail_to_read(asl: &Value, state: &Value) -> Value {
    let choice = &asl["States"]["TrailToRead"];
    assert_eq!(choice["Type"], "Choice");
    let rule = &choice["Choices"][0];
    assert_eq!(rule["Variable"], "$.settings.trail.trailArn");
    assert_eq!(rule["IsPresent"], true);
    let next = if resolve(state, "$.settings.trail.trailArn").is_some() {
        rule["Next"].as_str().unwrap()
    } else {
        choice["Default"].as_str().unwrap()
    };
    let pass = &asl["States"][next];
    assert_eq!(pass["Type"], "Pass");
    assert_eq!(pass["ResultPath"], "$.trailConfig");
    assert_eq!(pass["Next"], "ReadTrail");
    match pass.get("Parameters") {
        Some(params) => build(params, state),
        None => pass["Result"].clone(),
    }
}

/// Issue 15: every service integration ARN takes the stack's partition (`${Partition}`,
/// substituted with `AWS::Partition`), so the definition deploys in aws-cn and aws-us-gov.
#[test]
fn service_integrations_name_no_partition() {
    let text = asl_text();
    assert!(
        !text.contains("arn:aws:"),
        "a literal arn:aws: in the definition"
    );
    assert!(text.contains("\"arn:${Partition}:states:::s3:getObject\""));
    let template = read_repo_file("template.yaml");
    assert!(
        template.contains("        Partition: !Ref AWS::Partition"),
        "DefinitionSubstitutions: Partition"
    );
}

/// The same three AWS SDK tasks as Access Analyzer mode read the trail's configuration, and
/// none of them can fail the run; the role may call them on the stack's trail only.
#[test]
fn trail_configuration_tasks_never_fail_the_run() {
    let asl = asl();
    let mut next = "ReadTrail";
    for api in ["describeTrails", "getEventSelectors", "getTrailStatus"] {
        let s = &asl["States"][next];
        assert_eq!(
            s["Resource"],
            format!("arn:${{Partition}}:states:::aws-sdk:cloudtrail:{api}")
        );
        assert!(s.get("Retry").is_none(), "{next}");
        assert_eq!(
            s["Catch"],
            json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.trailConfig.error", "Next": "AnalyseStacks"}]),
            "{next}"
        );
        next = s["Next"].as_str().unwrap();
    }
    assert_eq!(next, "AnalyseStacks");
    let template = read_repo_file("template.yaml");
    let cloudtrail_sm = template
        .split("\n  CloudTrailStateMachine:\n")
        .nth(1)
        .and_then(|rest| rest.split("\nOutputs:").next())
        .unwrap();
    for needle in [
        "- cloudtrail:GetEventSelectors",
        "- cloudtrail:GetTrailStatus",
        "Resource: !Ref TrailArn",
        "Action: cloudtrail:DescribeTrails",
        "TrailArn: !Ref TrailArn",
    ] {
        assert!(
            cloudtrail_sm.contains(needle),
            "CloudTrailStateMachine: {needle}"
        );
    }
}
