//! Tests of the step payloads, S3 key layout and error names: kept beside [`super`] in their own
//! file so the contract itself reads in one sitting.

use super::*;

fn execution() -> ExecutionRef {
    ExecutionRef {
        id: "arn:aws:states:us-east-1:123456789012:execution:keycard-chain:2026-q4".into(),
        name: "2026-q4".into(),
        start_time: "2026-10-01T06:00:00Z".parse().unwrap(),
    }
}

/// A request for one stack that leaves every setting to its default.
fn defaults_for(stack: &str) -> RunRequest {
    RunRequest {
        stacks: vec![stack.into()],
        window_days: None,
        wait_seconds: None,
        max_polls: None,
        max_generations: None,
    }
}

#[test]
fn run_defaults_and_window() {
    let run = Run::from_request(&defaults_for("orders"), &execution()).unwrap();
    assert_eq!(run.window_end, execution().start_time);
    assert_eq!((run.window_end - run.window_start).num_days(), 90);
    assert_eq!(run.wait_seconds, DEFAULT_WAIT_SECONDS);
    assert_eq!(run.max_polls, DEFAULT_MAX_POLLS);
    assert_eq!(run.manifest_key, "runs/2026-q4/manifest.json");
}

#[test]
fn window_beyond_access_analyzer_limit_is_rejected() {
    let req = RunRequest {
        window_days: Some(91),
        ..defaults_for("orders")
    };
    let e = Run::from_request(&req, &execution()).unwrap_err();
    assert_eq!(e.name(), INVALID_INPUT);
}

#[test]
fn execution_input_parses_from_the_documented_shape() {
    let input: DiscoverInput = serde_json::from_str(
        r#"{"request": {"stacks": ["orders-service"], "windowDays": 30, "waitSeconds": 1},
            "execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:keycard:manual-1",
                          "Name": "manual-1", "StartTime": "2026-11-29T03:00:00.123Z",
                          "RoleArn": "arn:aws:iam::123456789012:role/keycard-states"}}"#,
    )
    .unwrap();
    assert_eq!(input.request.window_days, Some(30));
    assert_eq!(input.execution.name, "manual-1");
}

#[test]
fn client_token_is_stable_per_execution_and_role() {
    let a = client_token("exec-1", "arn:aws:iam::123456789012:role/a");
    assert_eq!(
        a,
        client_token("exec-1", "arn:aws:iam::123456789012:role/a")
    );
    assert_ne!(
        a,
        client_token("exec-2", "arn:aws:iam::123456789012:role/a")
    );
    assert_ne!(
        a,
        client_token("exec-1", "arn:aws:iam::123456789012:role/b")
    );
    assert_eq!(a.len(), 64);
}

#[test]
fn a_stack_name_and_its_arn_are_one_identity() {
    let arn = "arn:aws:cloudformation:us-east-1:123456789012:stack/orders/0f1e2d3c-aaaa-bbbb-cccc-111122223333";
    assert_eq!(stack_identity(arn).unwrap(), "orders");
    assert_eq!(stack_identity("orders").unwrap(), "orders");
    assert_eq!(
        stack_identity("arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/orders/1").unwrap(),
        "orders"
    );
    for bad in [
        "",
        "../ledger/x",
        "orders/../../ledger",
        "1orders",
        "orders_v2",
        "arn:aws:s3:::orders",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/orders",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/../x/1",
    ] {
        let e = stack_identity(bad).unwrap_err();
        assert_eq!(e.name(), INVALID_INPUT, "{bad}");
    }
    assert!(stack_identity(&"a".repeat(129)).is_err());
}

#[test]
fn keys_from_the_state_are_checked_before_use() {
    let run = "runs/2026-q4/";
    assert!(check_key("usageKey", "runs/2026-q4/cloudtrail/usage.json", run).is_ok());
    for bad in [
        "",
        "/runs/2026-q4/x.json",
        "runs/2026-q4/../2026-q3/x.json",
        "runs/2026-q4/./x.json",
        "runs/2026-q4//x.json",
        "runs/2026-q3/x.json",
        "ledger/orders.json",
        "runs/2026-q4/x\n.json",
    ] {
        assert_eq!(
            check_key("k", bad, run).unwrap_err().name(),
            INVALID_INPUT,
            "{bad:?}"
        );
    }
    let long = format!("{run}{}", "a".repeat(MAX_KEY_BYTES));
    assert!(check_key("k", &long, run).is_err());
    assert!(check_logical_id("OrdersWorkerRole").is_ok());
    assert!(check_logical_id("../x").is_err());
    assert!(check_segment("executionName", "..").is_err());
}

#[test]
fn a_run_from_the_state_is_revalidated() {
    let run = Run::from_request(&defaults_for("orders"), &execution()).unwrap();
    assert!(run.validate().is_ok());
    let mut edited = run.clone();
    edited.execution_name = "../ledger".into();
    assert_eq!(edited.validate().unwrap_err().name(), INVALID_INPUT);
    let mut edited = run;
    edited.manifest_key = "ledger/orders.json".into();
    assert!(edited.validate().is_err());
}

#[test]
fn numeric_settings_are_range_checked() {
    let req = |wait: u32, polls: u32| RunRequest {
        wait_seconds: Some(wait),
        max_polls: Some(polls),
        ..defaults_for("orders")
    };
    assert!(Run::from_request(&req(MAX_WAIT_SECONDS, MAX_POLLS), &execution()).is_ok());
    for (w, p) in [
        (MAX_WAIT_SECONDS + 1, 1),
        (1, 0),
        (1, MAX_POLLS + 1),
        (u32::MAX, u32::MAX),
    ] {
        let e = Run::from_request(&req(w, p), &execution()).unwrap_err();
        assert_eq!(e.name(), INVALID_INPUT, "{w} {p}");
    }
}

#[test]
fn stack_names_for_keys() {
    assert_eq!(stack_key_name("orders"), "orders");
    assert_eq!(
        stack_key_name(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/orders/0f1e2d3c-aaaa-bbbb-cccc-111122223333"
        ),
        "orders"
    );
}

#[test]
fn every_error_kind_has_a_listed_name() {
    for kind in [
        ErrorKind::Throttling,
        ErrorKind::Transient,
        ErrorKind::QuotaExceeded,
        ErrorKind::NotFound,
        ErrorKind::AccessDenied,
        ErrorKind::InvalidRequest,
        ErrorKind::Conflict,
        ErrorKind::Malformed,
        ErrorKind::Other,
    ] {
        let e = StepError::Aws(AwsError {
            service: "s3",
            operation: "GetObject",
            kind,
            code: None,
            status: None,
            message: String::new(),
        });
        assert!(ERROR_NAMES.contains(&e.name()), "{kind:?}");
        assert_eq!(e.is_transient(), kind.is_transient());
    }
    for e in [
        StepError::InvalidInput(String::new()),
        StepError::Config(ConfigError::Missing("KEYCARD_BUCKET")),
        StepError::InvalidTemplate(String::new()),
        StepError::Proposal(String::new()),
        StepError::Evidence(String::new()),
    ] {
        assert!(ERROR_NAMES.contains(&e.name()));
        assert!(!e.is_transient());
    }
}
