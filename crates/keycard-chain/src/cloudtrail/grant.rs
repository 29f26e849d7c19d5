//! The trail bucket this deployment was granted, checked at the door of every run.
//!
//! The stack's roles may read one trail bucket (template.yaml's `TrailBucketName`, and the
//! bucket policy of the log-archive account for an organization trail). An execution input
//! naming another bucket would only fail later, as AccessDenied on the first listing or
//! somewhere in thousands of children; the plan step refuses it first, with a message that
//! says which bucket the stack may read. When the bucket's owner is known
//! (`TrailBucketOwner`), every request to it states that owner (`ExpectedBucketOwner`), so a
//! bucket name re-created by another account after deletion is never read or listed.

use keycard_aws::S3Store;
use keycard_aws::config::ConfigError;

use super::layout::TrailLocation;
use crate::contract::StepError;

/// `KEYCARD_TRAIL_BUCKET`: the bucket the stack's roles were granted (TrailBucketName).
pub const BUCKET_VAR: &str = "KEYCARD_TRAIL_BUCKET";
/// `KEYCARD_TRAIL_BUCKET_OWNER`: the account that owns it (TrailBucketOwner), empty when not
/// stated.
pub const OWNER_VAR: &str = "KEYCARD_TRAIL_BUCKET_OWNER";

/// The trail bucket a deployment may read, and its owner when stated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailGrant {
    pub bucket: String,
    pub owner: Option<String>,
}

impl TrailGrant {
    /// Reads the grant through `lookup` (variable name → value); empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<TrailGrant, ConfigError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let bucket = get(BUCKET_VAR).ok_or(ConfigError::Missing(BUCKET_VAR))?;
        let owner = match get(OWNER_VAR) {
            None => None,
            Some(v) if v.len() == 12 && v.chars().all(|c| c.is_ascii_digit()) => Some(v),
            Some(v) => {
                return Err(ConfigError::Invalid {
                    var: OWNER_VAR,
                    value: v,
                    reason: "expected a 12-digit account id, or nothing",
                });
            }
        };
        Ok(TrailGrant { bucket, owner })
    }

    /// The process environment (what the Lambdas use).
    pub fn from_env() -> Result<TrailGrant, ConfigError> {
        TrailGrant::from_lookup(|k| std::env::var(k).ok())
    }

    /// Refuses a run over another bucket than the granted one, naming both.
    pub fn check(&self, trail: &TrailLocation) -> Result<(), StepError> {
        if trail.bucket == self.bucket {
            return Ok(());
        }
        Err(StepError::InvalidInput(format!(
            "trail.bucket {:?} is not the trail bucket this stack may read ({:?}, the stack's \
             TrailBucketName parameter): start the run with that bucket, or update the stack \
             with TrailBucketName={:?} and that bucket's policy (README, \"Organization trails\")",
            trail.bucket, self.bucket, trail.bucket
        )))
    }

    /// The S3 client with the bucket's owner stated on every request to it, when known.
    pub fn store(&self, s3: S3Store) -> S3Store {
        match &self.owner {
            Some(owner) => s3.expecting_owner(&self.bucket, owner),
            None => s3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::INVALID_INPUT;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_grant_is_read_from_the_functions_environment() {
        let g = TrailGrant::from_lookup(lookup(&[
            (BUCKET_VAR, "org-trail-logs-210987654321"),
            (OWNER_VAR, "210987654321"),
        ]))
        .unwrap();
        assert_eq!(g.bucket, "org-trail-logs-210987654321");
        assert_eq!(g.owner.as_deref(), Some("210987654321"));
        let g = TrailGrant::from_lookup(lookup(&[(BUCKET_VAR, "b"), (OWNER_VAR, " ")])).unwrap();
        assert_eq!(g.owner, None);
        assert_eq!(
            TrailGrant::from_lookup(lookup(&[])),
            Err(ConfigError::Missing(BUCKET_VAR))
        );
        assert!(matches!(
            TrailGrant::from_lookup(lookup(&[(BUCKET_VAR, "b"), (OWNER_VAR, "o-a1b2c3d4e5")])),
            Err(ConfigError::Invalid { .. })
        ));
    }

    #[test]
    fn another_bucket_than_the_granted_one_is_refused_by_name() {
        let g = TrailGrant {
            bucket: "org-trail-logs".into(),
            owner: None,
        };
        let mut t = crate::cloudtrail::fixtures::trail();
        t.bucket = "org-trail-logs".into();
        assert!(g.check(&t).is_ok());
        t.bucket = "someone-elses-logs".into();
        let e = g.check(&t).unwrap_err();
        assert_eq!(e.name(), INVALID_INPUT);
        let m = e.to_string();
        assert!(
            m.contains("someone-elses-logs") && m.contains("org-trail-logs"),
            "{m}"
        );
        assert!(m.contains("TrailBucketName"), "{m}");
    }
}
