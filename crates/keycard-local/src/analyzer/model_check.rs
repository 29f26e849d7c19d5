//! The stand-in's answers against the API model.
//!
//! `tests/fixtures/access-analyzer/service-2.extract.json` is botocore's model of the
//! operations keycard calls (written by `scripts/extract-access-analyzer-model`, its version in
//! `_source`). Each answer is checked the way a strict client would read it: a success has the
//! operation's status and output shape, an error is one the operation lists, with its HTTP
//! status and its shape; within a shape, required members are present, no member is unknown,
//! enum values are legal, unions set exactly one member, and every value has its type
//! (timestamps in the model's format).

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::tests::{ROLE, TRAIL, call, start_body, state};
use super::*;

struct Model(Value);

impl Model {
    fn load() -> Model {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/access-analyzer/service-2.extract.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Model(serde_json::from_str(&text).unwrap())
    }

    fn shape(&self, name: &str) -> &Value {
        let s = &self.0["shapes"][name];
        assert!(s.is_object(), "shape {name} is not in the extract");
        s
    }

    /// Problems of one answer of `operation`; empty when it conforms.
    fn check_response(
        &self,
        operation: &str,
        status: u16,
        error_code: Option<&str>,
        body: &Value,
    ) -> Vec<String> {
        let op = &self.0["operations"][operation];
        assert!(
            op.is_object(),
            "operation {operation} is not in the extract"
        );
        let mut out = Vec::new();
        match error_code {
            None => {
                let want = op["http"]["responseCode"].as_u64().unwrap_or(200);
                if u64::from(status) != want {
                    out.push(format!(
                        "{operation}: status {status}, the model says {want}"
                    ));
                }
                match op["output"]["shape"].as_str() {
                    Some(shape) => self.check(shape, body, operation, &mut out),
                    None => out.push(format!("{operation}: the model has no output")),
                }
            }
            Some(code) => {
                let listed = op["errors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|e| e["shape"] == code);
                if !listed {
                    out.push(format!("{operation}: {code} is not one of its errors"));
                    return out;
                }
                let want = self.shape(code)["error"]["httpStatusCode"].as_u64();
                if want != Some(u64::from(status)) {
                    out.push(format!(
                        "{operation}: {code} with status {status}, the model says {want:?}"
                    ));
                }
                self.check(code, body, &format!("{operation}!{code}"), &mut out);
            }
        }
        out
    }

    fn check(&self, name: &str, v: &Value, path: &str, out: &mut Vec<String>) {
        let shape = self.shape(name);
        let mut bad = |what: String| out.push(format!("{path}: {what}"));
        match shape["type"].as_str().unwrap_or_default() {
            "structure" => {
                let Some(obj) = v.as_object() else {
                    return bad(format!("{name} must be an object, got {v}"));
                };
                let members = shape["members"].as_object().cloned().unwrap_or_default();
                // Members bound to headers, the URI or the query string are not in the body.
                let in_body = |m: &Value| m.get("location").is_none();
                for req in shape["required"].as_array().into_iter().flatten() {
                    let req = req.as_str().unwrap_or_default();
                    if members.get(req).is_some_and(in_body)
                        && obj.get(req).is_none_or(Value::is_null)
                    {
                        bad(format!("{name}.{req} is required"));
                    }
                }
                let mut set = 0;
                for (k, value) in obj {
                    match members.get(k) {
                        Some(m) if in_body(m) => {
                            if !value.is_null() {
                                set += 1;
                                let shape = m["shape"].as_str().unwrap_or_default();
                                self.check(shape, value, &format!("{path}.{k}"), out);
                            }
                        }
                        _ => out.push(format!("{path}: {name} has no member {k}")),
                    }
                }
                if shape["union"] == true && set != 1 {
                    out.push(format!(
                        "{path}: union {name} must set one member, sets {set}"
                    ));
                }
            }
            "list" => match v.as_array() {
                Some(items) => {
                    let member = shape["member"]["shape"].as_str().unwrap_or_default();
                    for (i, item) in items.iter().enumerate() {
                        self.check(member, item, &format!("{path}[{i}]"), out);
                    }
                }
                None => bad(format!("{name} must be a list, got {v}")),
            },
            "map" => match v.as_object() {
                Some(entries) => {
                    let value = shape["value"]["shape"].as_str().unwrap_or_default();
                    for (k, item) in entries {
                        self.check(value, item, &format!("{path}.{k}"), out);
                    }
                }
                None => bad(format!("{name} must be a map, got {v}")),
            },
            "string" => match v.as_str() {
                Some(s) => {
                    if let Some(values) = shape["enum"].as_array()
                        && !values.iter().any(|e| e == s)
                    {
                        bad(format!("{s:?} is not a {name} ({values:?})"));
                    }
                }
                None => bad(format!("{name} must be a string, got {v}")),
            },
            "boolean" if !v.is_boolean() => bad(format!("{name} must be a boolean, got {v}")),
            "integer" | "long" if !(v.is_i64() || v.is_u64()) => {
                bad(format!("{name} must be an integer, got {v}"))
            }
            "timestamp" => {
                let ok = match shape["timestampFormat"].as_str() {
                    Some("iso8601") => v
                        .as_str()
                        .is_some_and(|s| s.parse::<DateTime<Utc>>().is_ok()),
                    // rest-json's default in a body: epoch seconds.
                    _ => v.is_number(),
                };
                if !ok {
                    bad(format!("{v} is not a {name} timestamp"));
                }
            }
            _ => {}
        }
    }
}

/// One answer to check: the operation, what the stand-in said, and a label for the failure.
type Answer = (&'static str, &'static str, (u16, Option<String>, Value));

#[test]
fn the_model_extract_names_its_source_and_the_shapes_keycard_reads() {
    let m = Model::load();
    assert_eq!(m.0["_source"]["package"], "botocore");
    assert!(
        m.0["_source"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    // The fields the core parser and the adapter rely on.
    assert_eq!(
        m.shape("GeneratedPolicyProperties")["members"]["isComplete"]["shape"],
        "Boolean"
    );
    assert_eq!(
        m.shape("CloudTrailProperties")["required"],
        json!(["trailProperties", "startTime", "endTime"])
    );
    assert_eq!(
        m.shape("JobStatus")["enum"],
        json!(["IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELED"])
    );
    assert_eq!(
        m.shape("JobErrorCode")["enum"],
        json!([
            "AUTHORIZATION_ERROR",
            "RESOURCE_NOT_FOUND_ERROR",
            "SERVICE_QUOTA_EXCEEDED_ERROR",
            "SERVICE_ERROR"
        ])
    );
    assert!(m.shape("Trail")["members"]["allRegions"].is_object());
    assert!(
        m.0["operations"]["StartPolicyGeneration"]["errors"]
            .as_array()
            .unwrap()
            .contains(&json!({"shape": "ConflictException"}))
    );
}

/// The checker itself: it must see what it is meant to catch.
#[test]
fn the_checker_catches_wrong_shapes() {
    let m = Model::load();
    let bad_job = json!({
        "jobDetails": {"jobId": "j", "status": "DONE", "startedOn": "yesterday"},
        "generatedPolicyResult": {"properties": {"isComplete": "yes"}, "extra": 1}
    });
    let problems = m.check_response("GetGeneratedPolicy", 200, None, &bad_job);
    for want in [
        "\"DONE\" is not a JobStatus",
        "not a Timestamp timestamp",
        "GeneratedPolicyProperties.principalArn is required",
        "Boolean must be a boolean",
        "GeneratedPolicyResult has no member extra",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "{want}: {problems:#?}"
        );
    }
    let problems = m.check_response(
        "StartPolicyGeneration",
        409,
        Some("ConflictException"),
        &json!({"message": "m"}),
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("resourceId is required")),
        "{problems:#?}"
    );
    let problems = m.check_response(
        "GetGeneratedPolicy",
        404,
        Some("ResourceNotFoundException"),
        &json!({"message": "m"}),
    );
    assert!(
        problems.iter().any(|p| p.contains("not one of its errors")),
        "{problems:#?}"
    );
}

#[test]
fn every_answer_of_the_stand_in_has_the_models_shape() {
    let m = Model::load();
    let s = state(&[], &[ROLE]);
    let other = ROLE.replace("OrdersWorker", "Api");
    let third = ROLE.replace("OrdersWorker", "Audit");
    let mut answers: Vec<Answer> = Vec::new();

    // Generation: refused, started, idempotent, busy slot, token reused, bad requests.
    let start = |body: Value| call(&s, "PUT", "/policy/generation", body);
    answers.push((
        "StartPolicyGeneration",
        "denied",
        start(start_body(ROLE, "t0", TRAIL)),
    ));
    let started = start(start_body(&other, "t1", TRAIL));
    let id = started.2["jobId"].as_str().unwrap().to_owned();
    answers.push(("StartPolicyGeneration", "started", started));
    answers.push((
        "StartPolicyGeneration",
        "same token",
        start(start_body(&other, "t1", TRAIL)),
    ));
    answers.push((
        "StartPolicyGeneration",
        "slot taken",
        start(start_body(&third, "t2", TRAIL)),
    ));
    answers.push((
        "StartPolicyGeneration",
        "token reused",
        start(start_body(&third, "t1", TRAIL)),
    ));
    answers.push(("StartPolicyGeneration", "no principal", start(json!({}))));
    let raw = handle(
        &s,
        Message {
            method: "PUT".into(),
            target: "/policy/generation".into(),
            headers: Vec::new(),
            body: b"{".to_vec(),
        },
    );
    let code = raw
        .1
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-errortype"))
        .map(|(_, v)| v.clone());
    answers.push((
        "StartPolicyGeneration",
        "not JSON",
        (raw.0, code, serde_json::from_slice(&raw.2).unwrap()),
    ));

    // Polls: running, then failed (the trail is unknown), an unknown id; cancel: finished,
    // running, unknown.
    let path = format!("/policy/generation/{id}");
    answers.push((
        "GetGeneratedPolicy",
        "in progress",
        call(&s, "GET", &path, json!({})),
    ));
    answers.push((
        "GetGeneratedPolicy",
        "failed",
        call(&s, "GET", &path, json!({})),
    ));
    answers.push((
        "GetGeneratedPolicy",
        "unknown job",
        call(&s, "GET", "/policy/generation/nope", json!({})),
    ));
    answers.push((
        "CancelPolicyGeneration",
        "finished",
        call(&s, "PUT", &path, json!({})),
    ));
    let running = start(start_body(&third, "t3", TRAIL));
    let running_path = format!(
        "/policy/generation/{}",
        running.2["jobId"].as_str().unwrap()
    );
    answers.push((
        "CancelPolicyGeneration",
        "running",
        call(&s, "PUT", &running_path, json!({})),
    ));
    answers.push((
        "GetGeneratedPolicy",
        "canceled",
        call(&s, "GET", &running_path, json!({})),
    ));
    answers.push((
        "CancelPolicyGeneration",
        "unknown job",
        call(&s, "PUT", "/policy/generation/nope", json!({})),
    ));

    // Policy checks.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:ReceiveMessages"],"Resource":"*"}]}"#;
    let wide = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}"#;
    for (label, body) in [
        (
            "invalid action",
            json!({"policyDocument": doc, "policyType": "IDENTITY_POLICY"}),
        ),
        (
            "not JSON",
            json!({"policyDocument": "{", "policyType": "IDENTITY_POLICY"}),
        ),
        ("no document", json!({"policyType": "IDENTITY_POLICY"})),
    ] {
        answers.push((
            "ValidatePolicy",
            label,
            call(&s, "POST", "/policy/validation", body),
        ));
    }
    for (label, new, existing) in [("pass", doc, wide), ("fail", wide, doc)] {
        let body = json!({"newPolicyDocument": new, "existingPolicyDocument": existing, "policyType": "IDENTITY_POLICY"});
        answers.push((
            "CheckNoNewAccess",
            label,
            call(&s, "POST", "/policy/check-no-new-access", body),
        ));
    }

    let mut problems = Vec::new();
    for (op, label, (status, code, body)) in &answers {
        for p in m.check_response(op, *status, code.as_deref(), body) {
            problems.push(format!("{label}: {p}\n  {body}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The scenario did reach what it names.
    let status = |label: &str| {
        answers
            .iter()
            .find(|a| a.1 == label)
            .map(|a| (a.2.0, a.2.1.clone()))
            .unwrap()
    };
    assert_eq!(
        status("denied"),
        (403, Some("AccessDeniedException".into()))
    );
    assert_eq!(
        status("slot taken"),
        (402, Some("ServiceQuotaExceededException".into()))
    );
    assert_eq!(
        status("token reused"),
        (409, Some("ConflictException".into()))
    );
    assert_eq!(status("failed").0, 200);
}

/// A finished job (the stand-in's scan needs S3, so the job is built here and rendered by the
/// same function that answers GetGeneratedPolicy).
#[test]
fn a_finished_job_has_the_models_shape_and_says_it_is_complete() {
    let m = Model::load();
    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let mut job = Job {
        id: job_id("x"),
        token: None,
        account: "123456789012".into(),
        principal: ROLE.into(),
        trails: vec![json!({"cloudTrailArn": TRAIL, "allRegions": true})],
        start: t("2026-09-01T00:00:00Z"),
        end: t("2026-11-29T00:00:00Z"),
        started_on: t("2026-11-29T00:00:05Z"),
        completed_on: Some(t("2026-11-29T00:03:41Z")),
        status: "SUCCEEDED",
        polls: 2,
        policies: vec![
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}"#.into(),
        ],
        error: None,
    };
    let body = generated_policy_json(&job);
    let problems = m.check_response("GetGeneratedPolicy", 200, None, &body);
    assert!(problems.is_empty(), "{problems:#?}");
    let props = &body["generatedPolicyResult"]["properties"];
    assert_eq!(props["isComplete"], true);
    assert_eq!(
        props["cloudTrailProperties"]["startTime"],
        "2026-09-01T00:00:00Z"
    );
    assert_eq!(
        props["cloudTrailProperties"]["trailProperties"][0]["allRegions"],
        true
    );
    // What the core parser reads from it: a complete answer with a window.
    let usage =
        keycard_core::access_analyzer::parse_generated_policy(&body.to_string(), None).unwrap();
    let pu = &usage.principals[ROLE];
    assert!(!pu.unobservable.contains("*:*"));
    assert_eq!(pu.windows.len(), 1);

    // Every job error code the stand-in uses is the model's.
    for code in ["RESOURCE_NOT_FOUND_ERROR", "SERVICE_ERROR"] {
        job.status = "FAILED";
        job.error = Some((code, "m".into()));
        let problems = m.check_response(
            "GetGeneratedPolicy",
            200,
            None,
            &generated_policy_json(&job),
        );
        assert!(problems.is_empty(), "{code}: {problems:#?}");
    }
}
