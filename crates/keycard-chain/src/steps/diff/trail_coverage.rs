//! What the evidence could have seen, from the trail's own configuration when the state
//! machine read it (`trailConfig`: its DescribeTrails, GetEventSelectors and GetTrailStatus
//! tasks).
//!
//! * CloudTrail mode: the configuration replaces the coverage inferred from the records; the
//!   delivery gaps still come from the scan (the configuration says what the trail records,
//!   the files say when it delivered), as `keycard propose --trail-config` does.
//! * Access Analyzer mode: Access Analyzer reads the trail's management events only, so its
//!   coverage stays [`Coverage::access_analyzer`], narrowed by what the trail does not record
//!   (write-only management events, one region, excluded sources, no global service events).
//!
//! A configuration that could not be read (a task's caught `{Error, Cause}`, under `error`) or
//! not be understood leaves the coverage as it was and says why in the notes.

use keycard_core::coverage::Coverage;
use keycard_core::coverage::trail_config::coverage_from_documents;
use serde_json::Value;

/// The documents of `trailConfig`, in the order `coverage_from_documents` reads them.
const DOCUMENTS: &[&str] = &["describeTrails", "eventSelectors", "trailStatus"];

/// `coverage` after the trail configuration, if any; notes go to `notes`.
pub fn with_trail_config(
    trail_config: Option<&Value>,
    coverage: Coverage,
    cloudtrail_mode: bool,
    notes: &mut Vec<String>,
) -> Coverage {
    let Some(config) = trail_config else {
        return coverage;
    };
    let trail = config
        .get("trail")
        .and_then(Value::as_str)
        .unwrap_or("the trail");
    // The state machine's Catch puts `{Error, Cause}` under `error`.
    let caught = config.get("error").unwrap_or(config);
    if let Some(error) = caught.get("Error").and_then(Value::as_str) {
        let cause = caught
            .get("Cause")
            .and_then(Value::as_str)
            .map(|c| format!(": {}", c.chars().take(300).collect::<String>()))
            .unwrap_or_default();
        notes.push(format!(
            "the configuration of {trail} could not be read ({error}{cause}); {}",
            kept(cloudtrail_mode)
        ));
        return coverage;
    }
    let docs: Vec<Value> = DOCUMENTS
        .iter()
        .filter_map(|k| config.get(*k).cloned())
        .collect();
    if docs.len() < DOCUMENTS.len() {
        notes.push(format!(
            "the configuration of {trail} is incomplete (expected {}); {}",
            DOCUMENTS.join(", "),
            kept(cloudtrail_mode)
        ));
        return coverage;
    }
    // `TrailList` as the state machine's aws-sdk task returns it, `trailList` as the API and
    // the AWS CLI do: the Step Functions guide documents the casing of parameters, not of
    // results (keycard_core::coverage::trail_config's documentation says what is known).
    let listed = docs[0]
        .get("TrailList")
        .or_else(|| docs[0].get("trailList"))
        .and_then(Value::as_array)
        .is_some_and(|l| !l.is_empty());
    if !listed {
        notes.push(format!(
            "DescribeTrails did not return {trail}; {}",
            kept(cloudtrail_mode)
        ));
        return coverage;
    }
    let read = match coverage_from_documents(&docs) {
        Ok(read) => read,
        Err(e) => {
            notes.push(format!(
                "the configuration of {trail} is not usable ({e}); {}",
                kept(cloudtrail_mode)
            ));
            return coverage;
        }
    };
    notes.extend(read.notes);
    if cloudtrail_mode {
        let mut c = read.coverage;
        c.period = coverage.period;
        notes.push(format!(
            "coverage read from the configuration of {trail} (DescribeTrails, GetEventSelectors, GetTrailStatus); delivery gaps from the scanned files"
        ));
        c
    } else {
        narrow_access_analyzer(coverage, &read.coverage, trail, notes)
    }
}

fn kept(cloudtrail_mode: bool) -> &'static str {
    if cloudtrail_mode {
        "coverage is inferred from the scanned records instead"
    } else {
        "Access Analyzer's own coverage is used, not narrowed by the trail's settings"
    }
}

/// Access Analyzer sees at most what the trail records.
fn narrow_access_analyzer(
    mut aa: Coverage,
    trail: &Coverage,
    name: &str,
    notes: &mut Vec<String>,
) -> Coverage {
    aa.management.read &= trail.management.read;
    aa.management.write &= trail.management.write;
    aa.excluded_sources
        .extend(trail.excluded_sources.iter().cloned());
    aa.global_service_events &= trail.global_service_events;
    aa.regions = match (aa.regions.take(), &trail.regions) {
        (None, r) => r.clone(),
        (Some(a), None) => Some(a),
        (Some(a), Some(t)) => Some(a.intersection(t).cloned().collect()),
    };
    notes.push(format!(
        "Access Analyzer reads the management events {name} records: coverage narrowed by its configuration (DescribeTrails, GetEventSelectors, GetTrailStatus)"
    ));
    aa
}
