//! The bundled examples' CloudTrail under every trail profile, for end-to-end tests.
//!
//! [`write_example_corpora`] writes, for `examples/orders-app` and `examples/ingest-pipeline`,
//! one corpus per profile of [`example_profiles`] into a folder of the caller's choosing, with
//! the generator's [`Summary`] (ground truth and what was written) beside each. A test can then
//! run `keycard propose` on each corpus and check that no action a role really used (the
//! truth) is removed, whatever the trail could see.
//!
//! The corpora use [`Classification::Documented`]: SNS `Publish`, CloudWatch `PutMetricData`
//! and the other documented data events are data events, as a real trail records them; the
//! bundled scenarios say so too, so the `all` corpus here is the committed
//! `examples/*/cloudtrail`.

use std::path::{Path, PathBuf};

use chrono::{Datelike, TimeZone, Utc};

use crate::scenario::Scenario;
use crate::trail::{Classification, DeliveryGap, TrailProfile, TrailSpec};
use crate::{Summary, TracegenError, generate};

/// The bundled examples' scenarios (name, scenario JSON).
pub const EXAMPLE_SCENARIOS: [(&str, &str); 2] = [
    (
        "orders-app",
        include_str!("../../../examples/orders-app/scenario.json"),
    ),
    (
        "ingest-pipeline",
        include_str!("../../../examples/ingest-pipeline/scenario.json"),
    ),
];

/// One corpus written by [`write_example_corpora`].
#[derive(Debug, Clone)]
pub struct ProfileCorpus {
    /// `orders-app` or `ingest-pipeline` (the folder under `examples/`).
    pub example: String,
    /// The variant's name, also its folder: a profile name (`management_only`, …) or
    /// `delivery_gap`.
    pub variant: String,
    /// The account the logs belong to (keycard's `--account-id`).
    pub account: String,
    /// The trail the corpus was written for.
    pub trail: TrailSpec,
    /// The CloudTrail folder to give keycard (`<out>/<example>/<variant>/cloudtrail`).
    pub cloudtrail: PathBuf,
    /// `<out>/<example>/<variant>/summary.json`: the [`Summary`] as JSON.
    pub summary_path: PathBuf,
    pub summary: Summary,
}

/// A bundled example's scenario with documented classification (see the module docs).
pub fn example_scenario(example: &str) -> Result<Scenario, TracegenError> {
    let (_, text) = EXAMPLE_SCENARIOS
        .iter()
        .find(|(name, _)| *name == example)
        .ok_or_else(|| TracegenError::Scenario(format!("no bundled example {example:?}")))?;
    let mut scenario = Scenario::from_json(text)?;
    scenario.classification = Classification::Documented;
    Ok(scenario)
}

/// The trail variants every example is written under, by name:
///
/// | variant | trail |
/// |---|---|
/// | `all` | everything (management and data events, every region) |
/// | `management_only` | a trail with default settings |
/// | `write_only` | write-only management events |
/// | `data_events_some_buckets` | management events + S3 object events of the alphabetically first bucket the scenario's S3 calls use |
/// | `single_region` | the scenario's first region, without global service events (IAM, STS, …) |
/// | `kms_excluded` | management events without `kms.amazonaws.com` |
/// | `delivery_gap` | everything, but no log file in the calendar month after the start month |
pub fn example_profiles(scenario: &Scenario) -> Vec<(String, TrailSpec)> {
    let mut buckets: Vec<String> = scenario
        .principals
        .iter()
        .flat_map(|p| &p.calls)
        .filter(|c| c.event_source == "s3.amazonaws.com")
        .filter_map(|c| c.request_parameters.as_ref()?.get("bucketName")?.as_str())
        .map(str::to_string)
        .collect();
    buckets.sort();
    buckets.dedup();
    buckets.truncate(1);

    let mut out: Vec<(String, TrailSpec)> = [
        TrailProfile::All,
        TrailProfile::ManagementOnly,
        TrailProfile::WriteOnly,
        TrailProfile::DataEventsSomeBuckets { buckets },
        TrailProfile::SingleRegion {
            region: scenario.regions.first().cloned(),
            include_global_service_events: false,
        },
        TrailProfile::KmsExcluded {
            exclude_management_event_sources: vec!["kms.amazonaws.com".to_string()],
        },
    ]
    .into_iter()
    .filter(|p| !matches!(p, TrailProfile::DataEventsSomeBuckets { buckets } if buckets.is_empty()))
    .map(|p| (p.name().to_string(), TrailSpec::with_profile(p)))
    .collect();
    if let Some(gap) = month_after_start(scenario) {
        out.push((
            "delivery_gap".to_string(),
            TrailSpec {
                profile: TrailProfile::All,
                gaps: vec![gap],
            },
        ));
    }
    out
}

/// The calendar month after the scenario's start month, if it ends before the scenario does.
fn month_after_start(scenario: &Scenario) -> Option<DeliveryGap> {
    let first_of = |y: i32, m: u32| {
        let (y, m) = if m > 12 { (y + 1, m - 12) } else { (y, m) };
        Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()
    };
    let s = scenario.start;
    let start = first_of(s.year(), s.month() + 1)?;
    let end = first_of(s.year(), s.month() + 2)?;
    (end <= scenario.end).then_some(DeliveryGap { start, end })
}

/// Writes both bundled examples under every variant of [`example_profiles`] into
/// `out/<example>/<variant>/{cloudtrail/, summary.json}` and returns what was written.
/// Existing files under `out` are not removed: give it an empty folder.
pub fn write_example_corpora(out: &Path) -> Result<Vec<ProfileCorpus>, TracegenError> {
    let mut corpora = Vec::new();
    for (example, _) in EXAMPLE_SCENARIOS {
        let base = example_scenario(example)?;
        for (variant, trail) in example_profiles(&base) {
            let mut scenario = base.clone();
            scenario.trail = trail.clone();
            let dir = out.join(example).join(&variant);
            let cloudtrail = dir.join("cloudtrail");
            let summary = generate(&scenario, &cloudtrail)?;
            let summary_path = dir.join("summary.json");
            std::fs::write(&summary_path, serde_json::to_string_pretty(&summary)?).map_err(
                |source| TracegenError::Io {
                    path: summary_path.clone(),
                    source,
                },
            )?;
            corpora.push(ProfileCorpus {
                example: example.to_string(),
                variant,
                account: scenario.account.clone(),
                trail,
                cloudtrail,
                summary_path,
                summary,
            });
        }
    }
    Ok(corpora)
}
