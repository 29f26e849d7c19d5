//! The deployed app's configuration: one typed struct, built once at start-up.
//!
//! It is built from a lookup function rather than from the process environment directly, so
//! tests pass a map (no `std::env::set_var`, which is unsafe in edition 2024) and the Lambdas
//! pass `std::env::var`. template.yaml sets these variables on each function.

use std::collections::BTreeMap;

use keycard_core::proposal::MAX_RETENTION_DAYS;

/// Settings that are facts of the deployment (not of one run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The output bucket: manifests, generated policies, proposals, the ledger.
    /// `KEYCARD_BUCKET`, required.
    pub bucket: String,
    /// The CloudTrail trail Access Analyzer reads. `KEYCARD_TRAIL_ARN`.
    pub trail_arn: Option<String>,
    /// Regions of the trail to analyse. `KEYCARD_TRAIL_REGIONS`: a comma-separated list, or `*`
    /// for all regions; empty means the region of the stacks ([`Config::region`]) and the one
    /// where global service events are recorded (see
    /// `access_analyzer::TrailRegions::resolve`).
    pub trail_regions: Vec<String>,
    pub all_regions: bool,
    /// The deployment's region, where the target stacks are read. `AWS_REGION` (set by
    /// Lambda). Policy generation reads this region of the trail (plus the global-events one)
    /// when `KEYCARD_TRAIL_REGIONS` is empty.
    pub region: Option<String>,
    /// The role Access Analyzer assumes to read the trail. `KEYCARD_ACCESS_ROLE_ARN`.
    pub access_role_arn: Option<String>,
    /// Path-style S3 addressing. `KEYCARD_S3_FORCE_PATH_STYLE` (`true`/`false`); by default on
    /// exactly when a custom endpoint is configured (`AWS_ENDPOINT_URL`,
    /// `AWS_ENDPOINT_URL_S3`): S3-compatible stand-ins answer on one host name without
    /// per-bucket DNS, while AWS itself prefers virtual-hosted addressing.
    pub s3_force_path_style: bool,
    /// Days the usage ledger remembers an action. `KEYCARD_LEDGER_RETENTION_DAYS`; `None`
    /// leaves the core's default.
    pub ledger_retention_days: Option<u32>,
}

/// A configuration value that is missing or cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{var}={value:?} is not valid: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: &'static str,
    },
}

impl Config {
    /// Reads the configuration through `lookup` (variable name → value). Empty values count
    /// as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let bucket = get("KEYCARD_BUCKET").ok_or(ConfigError::Missing("KEYCARD_BUCKET"))?;
        let (trail_regions, all_regions) = match get("KEYCARD_TRAIL_REGIONS") {
            Some(v) if v == "*" => (Vec::new(), true),
            Some(v) => (
                v.split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned)
                    .collect(),
                false,
            ),
            None => (Vec::new(), false),
        };
        let custom_endpoint =
            get("AWS_ENDPOINT_URL_S3").is_some() || get("AWS_ENDPOINT_URL").is_some();
        let s3_force_path_style = match get("KEYCARD_S3_FORCE_PATH_STYLE") {
            None => custom_endpoint,
            Some(v) => parse_bool("KEYCARD_S3_FORCE_PATH_STYLE", &v)?,
        };
        let ledger_retention_days = match get("KEYCARD_LEDGER_RETENTION_DAYS") {
            None => None,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=MAX_RETENTION_DAYS).contains(d))
                .ok_or(ConfigError::Invalid {
                    var: "KEYCARD_LEDGER_RETENTION_DAYS",
                    value: v,
                    reason: "expected a number of days from 1 to 3650",
                })
                .map(Some)?,
        };
        Ok(Config {
            bucket,
            trail_arn: get("KEYCARD_TRAIL_ARN"),
            trail_regions,
            all_regions,
            region: get("AWS_REGION"),
            access_role_arn: get("KEYCARD_ACCESS_ROLE_ARN"),
            s3_force_path_style,
            ledger_retention_days,
        })
    }

    /// The process environment (what the Lambdas use).
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// A map of variables (what tests use).
    pub fn from_map(vars: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| vars.get(k).cloned())
    }

    /// The trail and access role, which policy generation cannot start without.
    pub fn generation_settings(&self) -> Result<(&str, &str), ConfigError> {
        let trail = self
            .trail_arn
            .as_deref()
            .ok_or(ConfigError::Missing("KEYCARD_TRAIL_ARN"))?;
        let role = self
            .access_role_arn
            .as_deref()
            .ok_or(ConfigError::Missing("KEYCARD_ACCESS_ROLE_ARN"))?;
        Ok((trail, role))
    }
}

fn parse_bool(var: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid {
            var,
            value: v.to_owned(),
            reason: "expected true or false",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn minimal_configuration() {
        let c = Config::from_map(&vars(&[("KEYCARD_BUCKET", "keycard-output")])).unwrap();
        assert_eq!(c.bucket, "keycard-output");
        assert_eq!(c.trail_arn, None);
        assert!(!c.all_regions && c.trail_regions.is_empty());
        assert!(
            !c.s3_force_path_style,
            "AWS itself: virtual-hosted addressing"
        );
        assert_eq!(c.ledger_retention_days, None);
        assert_eq!(
            c.generation_settings(),
            Err(ConfigError::Missing("KEYCARD_TRAIL_ARN"))
        );
    }

    #[test]
    fn full_configuration() {
        let c = Config::from_map(&vars(&[
            ("KEYCARD_BUCKET", "keycard-output"),
            (
                "KEYCARD_TRAIL_ARN",
                "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-trail",
            ),
            ("KEYCARD_TRAIL_REGIONS", "us-east-1, eu-west-1,"),
            (
                "KEYCARD_ACCESS_ROLE_ARN",
                "arn:aws:iam::123456789012:role/keycard-access-analyzer",
            ),
            ("KEYCARD_LEDGER_RETENTION_DAYS", "365"),
            ("AWS_REGION", "eu-west-1"),
        ]))
        .unwrap();
        assert_eq!(c.trail_regions, vec!["us-east-1", "eu-west-1"]);
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.ledger_retention_days, Some(365));
        let (trail, role) = c.generation_settings().unwrap();
        assert!(trail.ends_with("trail/org-trail"));
        assert!(role.ends_with("role/keycard-access-analyzer"));
    }

    #[test]
    fn star_means_all_regions() {
        let c = Config::from_map(&vars(&[
            ("KEYCARD_BUCKET", "b"),
            ("KEYCARD_TRAIL_REGIONS", "*"),
        ]))
        .unwrap();
        assert!(c.all_regions);
        assert!(c.trail_regions.is_empty());
    }

    #[test]
    fn path_style_follows_custom_endpoints_unless_set() {
        let c = Config::from_map(&vars(&[
            ("KEYCARD_BUCKET", "b"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5123"),
        ]))
        .unwrap();
        assert!(c.s3_force_path_style);
        let c = Config::from_map(&vars(&[
            ("KEYCARD_BUCKET", "b"),
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:5123"),
            ("KEYCARD_S3_FORCE_PATH_STYLE", "false"),
        ]))
        .unwrap();
        assert!(!c.s3_force_path_style);
    }

    #[test]
    fn bad_values_are_errors() {
        assert_eq!(
            Config::from_map(&vars(&[])),
            Err(ConfigError::Missing("KEYCARD_BUCKET"))
        );
        assert_eq!(
            Config::from_map(&vars(&[("KEYCARD_BUCKET", "  ")])),
            Err(ConfigError::Missing("KEYCARD_BUCKET"))
        );
        assert!(matches!(
            Config::from_map(&vars(&[
                ("KEYCARD_BUCKET", "b"),
                ("KEYCARD_S3_FORCE_PATH_STYLE", "maybe")
            ])),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            Config::from_map(&vars(&[
                ("KEYCARD_BUCKET", "b"),
                ("KEYCARD_LEDGER_RETENTION_DAYS", "0")
            ])),
            Err(ConfigError::Invalid { .. })
        ));
        // Beyond ten years (and far beyond: the diff step's date arithmetic) is refused here.
        for v in ["3651", "100000000", "-1", "4294967296"] {
            assert!(matches!(
                Config::from_map(&vars(&[
                    ("KEYCARD_BUCKET", "b"),
                    ("KEYCARD_LEDGER_RETENTION_DAYS", v)
                ])),
                Err(ConfigError::Invalid { .. })
            ));
        }
    }
}
