//! The plan step: the request resolved into a window, a listing and a batching.

use chrono::{DateTime, Duration, Utc};
use keycard_aws::s3::ObjectStore;
use keycard_core::cloudtrail::ScanOptions;
use serde::{Deserialize, Serialize};

use super::grant::TrailGrant;
use super::items::{Listing, write_items};
use super::keys;
use super::layout::TrailLocation;
use crate::contract::{ExecutionRef, Run, StackItem, StepError, to_json_bytes};

/// Default window of CloudTrail mode: a year, so twice-a-year jobs are seen twice.
pub const DEFAULT_WINDOW_DAYS: u32 = 365;
/// Ten years: beyond anything a trail bucket keeps, and a guard against typos.
pub const MAX_WINDOW_DAYS: u32 = 3650;
/// Objects per child. Step Functions batches by count, not by object size, so the default is
/// sized for large CloudTrail objects: 200 × 25 MB is about 45 M events, roughly four minutes
/// at the engine's measured rate (docs/OPERATIONS.md, "CloudTrail mode: cost and scale");
/// typical 1 MB objects take seconds.
pub const DEFAULT_MAX_OBJECTS_PER_BATCH: u32 = 200;
/// Upper bound of a batch's *input* (the item list), which Step Functions caps at 256 KB.
pub const DEFAULT_MAX_INPUT_BYTES_PER_BATCH: u32 = 200_000;
/// Children running at once. Lambda's default account concurrency is 1000; keycard leaves
/// most of it to the workloads it analyses.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 100;
/// Share of failed children the map tolerates before the run fails. Zero by default: a
/// failed batch is missing evidence, and a proposal made without it could drop a permission
/// that was used. A failed run is re-driven (only the failed children run again; finished
/// partials are reused). A request may accept losses; the output then counts failed batches.
pub const DEFAULT_TOLERATED_FAILURE_PERCENTAGE: u32 = 0;

/// The execution input of CloudTrail mode (`events/cloudtrail-mode.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrailRequest {
    /// Names (or ARNs) of the target stacks.
    pub stacks: Vec<String>,
    pub trail: TrailLocation,
    /// Days of CloudTrail before the execution started; no 90-day limit here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_days: Option<u32>,
    /// Only these principals (role ARNs); `None`: every principal of the trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principals: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batching: Option<Batching>,
}

/// How the Distributed Map cuts and runs the work; read by the ASL's `…Path` fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Batching {
    pub max_objects_per_batch: u32,
    pub max_input_bytes_per_batch: u32,
    pub max_concurrency: u32,
    pub tolerated_failure_percentage: u32,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            max_objects_per_batch: DEFAULT_MAX_OBJECTS_PER_BATCH,
            max_input_bytes_per_batch: DEFAULT_MAX_INPUT_BYTES_PER_BATCH,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            tolerated_failure_percentage: DEFAULT_TOLERATED_FAILURE_PERCENTAGE,
        }
    }
}

/// Input of the plan step: `{"request.$": "$", "execution.$": "$$.Execution"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanInput {
    pub request: TrailRequest,
    pub execution: ExecutionRef,
}

/// What every child needs besides its items: the map's `BatchInput`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanSettings {
    pub execution_name: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub trail: TrailLocation,
    /// Always serialized (as null when unset): the ASL's `BatchInput` reads this path.
    #[serde(default)]
    pub principals: Option<Vec<String>>,
}

impl ScanSettings {
    /// Re-validates the settings a child or the reduce step gets back from the state: the
    /// execution name is a key segment, the trail a trail location, the window a window.
    pub fn validate(&self) -> Result<(), StepError> {
        crate::contract::check_segment("executionName", &self.execution_name)?;
        self.trail.validate()?;
        if self.window_start >= self.window_end {
            return Err(StepError::InvalidInput(format!(
                "window {} .. {} is empty",
                self.window_start, self.window_end
            )));
        }
        Ok(())
    }

    pub(crate) fn scan_options(&self) -> ScanOptions {
        ScanOptions {
            principals: self
                .principals
                .as_ref()
                .map(|p| p.iter().cloned().collect()),
            start: Some(self.window_start),
            end: Some(self.window_end),
            threads: Some(1),
        }
    }
}

/// Output of the plan step: the state the rest of the execution reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanOutput {
    /// The same run record as Access Analyzer mode, so the diff and write steps are shared.
    pub run: Run,
    pub stacks: Vec<StackItem>,
    /// The trail's log objects of the window, listed into the item file the map reads
    /// (`listing.itemsKey`, in the output bucket).
    pub listing: Listing,
    pub map_results_prefix: String,
    pub batching: Batching,
    pub settings: ScanSettings,
}

/// Resolves the request into the plan: checks it at the door (the trail bucket must be the
/// one the stack was granted), lists the window's log objects into the map's item file
/// ([`super::items`]) and stores the plan at [`keys::plan`].
pub async fn plan<S>(
    store: &S,
    output_bucket: &str,
    grant: &TrailGrant,
    input: PlanInput,
) -> Result<PlanOutput, StepError>
where
    S: ObjectStore + Clone + 'static,
{
    let PlanInput { request, execution } = input;
    request.trail.validate()?;
    grant.check(&request.trail)?;
    if request.stacks.is_empty() {
        return Err(StepError::InvalidInput("stacks is empty".into()));
    }
    let days = request.window_days.unwrap_or(DEFAULT_WINDOW_DAYS);
    if days == 0 || days > MAX_WINDOW_DAYS {
        return Err(StepError::InvalidInput(format!(
            "windowDays must be between 1 and {MAX_WINDOW_DAYS}, got {days}"
        )));
    }
    let batching = request.batching.clone().unwrap_or_default();
    if batching.max_objects_per_batch == 0
        || batching.max_concurrency == 0
        || batching.max_input_bytes_per_batch == 0
        || batching.max_input_bytes_per_batch > 256 * 1024
        || batching.tolerated_failure_percentage > 100
    {
        return Err(StepError::InvalidInput(format!(
            "batching {batching:?}: counts must be positive, input bytes at most 262144, the failure percentage at most 100"
        )));
    }
    // The Access Analyzer mode's run checks: safe execution name, window ending at the start.
    let aa = crate::contract::RunRequest {
        stacks: request.stacks.clone(),
        window_days: Some(1),
        wait_seconds: Some(0),
        max_polls: Some(1),
        max_generations: None,
    };
    let mut run = Run::from_request(&aa, &execution)?;
    run.window_start = execution.start_time - Duration::days(i64::from(days));
    run.wait_seconds = 0;
    run.max_polls = 0;
    run.manifest_key = keys::plan(&execution.name);
    // Boxed: the listing's future is deep (spawned listings inside a streamed upload), and
    // the Lambda's async main would otherwise exceed the compiler's layout depth.
    let listing = Box::pin(write_items(
        store,
        output_bucket,
        &keys::items(&execution.name),
        &request.trail,
        run.window_start,
        run.window_end,
    ))
    .await?;
    let settings = ScanSettings {
        execution_name: execution.name.clone(),
        window_start: run.window_start,
        window_end: run.window_end,
        trail: request.trail.clone(),
        principals: request.principals.clone(),
    };
    let out = PlanOutput {
        stacks: request
            .stacks
            .iter()
            .map(|s| StackItem {
                stack: s.clone(),
                drift_detection_id: None,
            })
            .collect(),
        listing,
        map_results_prefix: keys::map_results(&execution.name),
        batching,
        settings,
        run,
    };
    store
        .put_object(
            output_bucket,
            &out.run.manifest_key,
            to_json_bytes(&out)?,
            "application/json",
        )
        .await?;
    Ok(out)
}
