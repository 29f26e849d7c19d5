//! Policy generation as the service behaves where the chain depends on it: idempotent starts
//! by `clientToken`, one job per account at a time, `IN_PROGRESS` for the first polls, then a
//! policy generated from the trail's log files with keycard's own CloudTrail engine; cancel.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use keycard_aws::{ObjectStore, S3Store};
use keycard_core::cloudtrail::{ScanOptions, Scanner};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::*;

fn parse_time(v: &Value, field: &str) -> Result<DateTime<Utc>, Reply> {
    // The SDK sends date-time strings; epoch seconds are accepted too.
    match v {
        Value::String(s) => s
            .parse::<DateTime<Utc>>()
            .map_err(|e| validation(&format!("{field}: {e}"))),
        Value::Number(n) => n
            .as_f64()
            .and_then(|f| DateTime::<Utc>::from_timestamp(f as i64, 0))
            .ok_or_else(|| validation(&format!("{field}: bad timestamp"))),
        _ => Err(validation(&format!("{field} is required"))),
    }
}

/// A job id shaped like the service's (a UUID), derived from the token or the request.
pub(super) fn job_id(seed: &str) -> String {
    let h: String = Sha256::digest(seed.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

pub(super) fn start_generation(state: &State, body: &Value) -> Reply {
    let Some(principal) = body
        .pointer("/policyGenerationDetails/principalArn")
        .and_then(Value::as_str)
    else {
        return validation("policyGenerationDetails.principalArn is required");
    };
    let Some(account) = principal
        .strip_prefix("arn:")
        .and_then(|r| r.split(':').nth(3))
        .filter(|a| a.len() == 12)
    else {
        return validation(&format!(
            "principalArn {principal:?} is not an IAM role ARN"
        ));
    };
    let details = body
        .get("cloudTrailDetails")
        .cloned()
        .unwrap_or(Value::Null);
    let trails = details
        .get("trails")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if trails.is_empty() {
        return validation("cloudTrailDetails.trails is required");
    }
    if details.get("accessRole").and_then(Value::as_str).is_none() {
        return validation("cloudTrailDetails.accessRole is required");
    }
    let start = match parse_time(
        details.get("startTime").unwrap_or(&Value::Null),
        "startTime",
    ) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let end = match details.get("endTime") {
        None | Some(Value::Null) => Utc::now(),
        Some(v) => match parse_time(v, "endTime") {
            Ok(t) => t,
            Err(r) => return r,
        },
    };
    if end <= start {
        return validation("endTime must be after startTime");
    }
    let token = body
        .get("clientToken")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if state.settings.deny_principals.contains(principal) {
        state.stats.denied.fetch_add(1, Ordering::Relaxed);
        return error(
            403,
            "AccessDeniedException",
            &format!(
                "User: arn:aws:sts::{account}:assumed-role/keycard-start-generation/keycard is not authorized to perform: access-analyzer:StartPolicyGeneration on resource: {principal} with an explicit deny in a service control policy"
            ),
        );
    }
    let Ok(mut jobs) = state.jobs.lock() else {
        return error(500, "InternalServerException", "state lock poisoned");
    };
    if let Some(t) = &token
        && let Some(j) = jobs.iter().find(|j| j.token.as_deref() == Some(t))
    {
        if j.principal != principal {
            return resource_error(
                409,
                "ConflictException",
                "clientToken was used with a different request",
                &j.id,
            );
        }
        return reply(200, &json!({ "jobId": j.id }));
    }
    if let Some(running) = jobs
        .iter()
        .find(|j| j.account == account && j.status == "IN_PROGRESS")
    {
        return resource_error(
            402,
            "ServiceQuotaExceededException",
            "You have reached the limit of concurrent policy generations for this account (1).",
            &running.id,
        );
    }
    let id = job_id(&format!(
        "{}|{principal}|{}",
        token.clone().unwrap_or_default(),
        jobs.len()
    ));
    jobs.push(Job {
        id: id.clone(),
        token,
        account: account.to_owned(),
        principal: principal.to_owned(),
        trails,
        start,
        end,
        started_on: Utc::now(),
        completed_on: None,
        status: "IN_PROGRESS",
        polls: 0,
        policies: Vec::new(),
        error: None,
    });
    state.stats.started.fetch_add(1, Ordering::Relaxed);
    reply(200, &json!({ "jobId": id }))
}

pub(super) fn get_generated_policy(state: &State, id: &str) -> Reply {
    state.stats.polls.fetch_add(1, Ordering::Relaxed);
    // Read the job, then scan outside the lock (the scan reads S3).
    let job = {
        let Ok(mut jobs) = state.jobs.lock() else {
            return error(500, "InternalServerException", "state lock poisoned");
        };
        let Some(job) = jobs.iter_mut().find(|j| j.id == id) else {
            return no_such_job(id);
        };
        if job.status == "IN_PROGRESS" {
            job.polls += 1;
        }
        job.clone()
    };
    let job = if job.status == "IN_PROGRESS" && job.polls > state.settings.in_progress_polls {
        let finished = complete(state, job);
        let Ok(mut jobs) = state.jobs.lock() else {
            return error(500, "InternalServerException", "state lock poisoned");
        };
        match jobs.iter_mut().find(|j| j.id == id) {
            // Canceled meanwhile: canceled stays.
            Some(j) if j.status == "IN_PROGRESS" => {
                *j = finished;
                j.clone()
            }
            Some(j) => j.clone(),
            None => finished,
        }
    } else {
        job
    };
    reply(200, &generated_policy_json(&job))
}

/// Runs the job: keycard's CloudTrail engine over the trail's objects in S3.
fn complete(state: &State, mut job: Job) -> Job {
    job.completed_on = Some(Utc::now());
    let mut sources = Vec::new();
    for t in &job.trails {
        let arn = t.get("cloudTrailArn").and_then(Value::as_str).unwrap_or("");
        match state.settings.trails.get(arn) {
            Some(s) => sources.push(s.clone()),
            None => {
                job.status = "FAILED";
                job.error = Some((
                    "RESOURCE_NOT_FOUND_ERROR",
                    format!("Trail {arn} was not found."),
                ));
                return job;
            }
        }
    }
    let opts = ScanOptions {
        principals: Some(BTreeSet::from([job.principal.clone()])),
        start: Some(job.start),
        end: Some(job.end),
        threads: Some(1),
    };
    let scanned = read_and_scan(&state.store, &sources, &opts);
    match scanned {
        Ok(usage) => {
            job.status = "SUCCEEDED";
            job.policies = policies_from(&usage, &job.principal);
        }
        Err(e) => {
            job.status = "FAILED";
            job.error = Some(("SERVICE_ERROR", e));
        }
    }
    job
}

fn read_and_scan(
    store: &S3Store,
    sources: &[TrailSource],
    opts: &ScanOptions,
) -> Result<keycard_core::usage::Usage, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut scanner = Scanner::new(opts);
    rt.block_on(async {
        for s in sources {
            let objects = store
                .list_objects(&s.bucket, &s.prefix)
                .await
                .map_err(|e| e.to_string())?;
            for o in objects {
                if let Some(bytes) = store
                    .get_object(&s.bucket, &o.key)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    scanner.scan_reader(&o.key, &bytes[..]);
                }
            }
        }
        Ok::<(), String>(())
    })?;
    Ok(scanner.finish().usage)
}

/// The generated policy: one statement per service, actions sorted, `Resource: "*"` (what
/// the service returns without resource placeholders). Empty when nothing was seen.
pub(super) fn policies_from(usage: &keycard_core::usage::Usage, principal: &str) -> Vec<String> {
    let Some(p) = usage.principals.get(principal) else {
        return Vec::new();
    };
    let mut by_service: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for action in p.actions.keys() {
        let service = action.split(':').next().unwrap_or(action);
        by_service.entry(service).or_default().push(action);
    }
    if by_service.is_empty() {
        return Vec::new();
    }
    let statements: Vec<Value> = by_service
        .values()
        .map(|actions| {
            let action = if actions.len() == 1 {
                json!(actions[0])
            } else {
                json!(actions)
            };
            json!({"Effect": "Allow", "Action": action, "Resource": "*"})
        })
        .collect();
    vec![json!({"Version": "2012-10-17", "Statement": statements}).to_string()]
}

pub(super) fn generated_policy_json(job: &Job) -> Value {
    let mut details = json!({
        "jobId": job.id,
        "status": job.status,
        "startedOn": iso(job.started_on),
    });
    if let Some(t) = job.completed_on {
        details["completedOn"] = json!(iso(t));
    }
    if let Some((code, message)) = &job.error {
        details["jobError"] = json!({"code": code, "message": message});
    }
    let mut result = json!({
        "properties": {
            "principalArn": job.principal,
        }
    });
    if job.status == "SUCCEEDED" {
        let trail_properties: Vec<Value> = job
            .trails
            .iter()
            .map(|t| {
                json!({
                    "cloudTrailArn": t.get("cloudTrailArn").cloned().unwrap_or(Value::Null),
                    "regions": t.get("regions").cloned().unwrap_or_else(|| json!([])),
                    "allRegions": t.get("allRegions").cloned().unwrap_or(json!(false)),
                })
            })
            .collect();
        result["properties"]["isComplete"] = json!(true);
        result["properties"]["cloudTrailProperties"] = json!({
            "trailProperties": trail_properties,
            "startTime": iso(job.start),
            "endTime": iso(job.end),
        });
        let policies: Vec<Value> = job.policies.iter().map(|p| json!({"policy": p})).collect();
        result["generatedPolicies"] = Value::Array(policies);
    }
    json!({"jobDetails": details, "generatedPolicyResult": result})
}

pub(super) fn cancel_generation(state: &State, id: &str) -> Reply {
    let Ok(mut jobs) = state.jobs.lock() else {
        return error(500, "InternalServerException", "state lock poisoned");
    };
    let Some(job) = jobs.iter_mut().find(|j| j.id == id) else {
        return no_such_job(id);
    };
    if job.status != "IN_PROGRESS" {
        return validation(&format!(
            "Cannot cancel job {id} because it is in {} state.",
            job.status
        ));
    }
    job.status = "CANCELED";
    job.completed_on = Some(Utc::now());
    state.stats.canceled.fetch_add(1, Ordering::Relaxed);
    reply(200, &json!({}))
}
