//! SAM connector profiles: what a connector (`AWS::Serverless::Connector` or `Connectors:`)
//! grants for each source type, destination type and access category (`Read`, `Write`).
//!
//! SAM expands a connector from the profiles in aws-sam-translator's
//! `model/connector_profiles/profiles.json` (Apache-2.0). keycard must grant exactly what SAM
//! grants, so the table is not typed by hand: `scripts/gen-sam-connector-profiles` copies it into
//! `data/sam-connector-profiles.json`, which is embedded here and parsed once. Statements keep
//! SAM's `%{Destination.Arn}`-style variables; [`profile_replace`] fills them in exactly as
//! aws-sam-translator's `profile_replace` does.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

/// The file compiled into the binary.
const EMBEDDED: &str = include_str!("../../../data/sam-connector-profiles.json");

/// The only file format this loader understands.
const FORMAT: u32 = 1;

/// Errors loading connector profiles or filling in their variables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamConnectorProfileError {
    #[error("SAM connector profiles file is invalid at line {line}, column {column}: {message}")]
    Invalid {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "SAM connector profiles file has format {0}, expected {FORMAT}; re-run scripts/gen-sam-connector-profiles"
    )]
    Format(u32),
    #[error("SAM connector profile key {0:?} is not \"<source type> <destination type>\"")]
    Key(String),
    #[error("connector variable {0} has no value")]
    MissingVariable(String),
}

#[derive(Deserialize)]
struct RawFile {
    format: u32,
    source: String,
    version: String,
    #[serde(default)]
    profiles_version: String,
    profiles: Map<String, Value>,
    resources: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawProfile {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Properties")]
    properties: RawProperties,
}

#[derive(Deserialize)]
struct RawProperties {
    #[serde(rename = "SourcePolicy", default)]
    source_policy: bool,
    #[serde(rename = "AccessCategories")]
    access_categories: Map<String, Value>,
    #[serde(rename = "ValidAccessCategories", default)]
    valid_access_categories: Option<Vec<Vec<String>>>,
}

/// What SAM generates for a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileKind {
    /// An `AWS::IAM::ManagedPolicy` attached to the source's (or destination's) role: the only
    /// kind that grants something to a principal of the template.
    IamRoleManagedPolicy,
    /// An `AWS::SQS::QueuePolicy` for a service principal.
    SqsQueuePolicy,
    /// An `AWS::SNS::TopicPolicy` for a service principal.
    SnsTopicPolicy,
    /// An `AWS::Lambda::Permission` for a service principal.
    LambdaPermission,
    /// A kind added by a later aws-sam-translator release.
    Other(String),
}

impl ProfileKind {
    fn parse(s: &str) -> ProfileKind {
        match s {
            "AWS_IAM_ROLE_MANAGED_POLICY" => ProfileKind::IamRoleManagedPolicy,
            "AWS_SQS_QUEUE_POLICY" => ProfileKind::SqsQueuePolicy,
            "AWS_SNS_TOPIC_POLICY" => ProfileKind::SnsTopicPolicy,
            "AWS_LAMBDA_PERMISSION" => ProfileKind::LambdaPermission,
            other => ProfileKind::Other(other.to_owned()),
        }
    }
}

/// One source type → destination type profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorProfile {
    source_type: String,
    destination_type: String,
    kind: ProfileKind,
    source_policy: bool,
    categories: BTreeMap<String, Value>,
    valid_combinations: Option<Vec<Vec<String>>>,
}

impl ConnectorProfile {
    /// CloudFormation type of the source (`AWS::Lambda::Function`, never a SAM type).
    pub fn source_type(&self) -> &str {
        &self.source_type
    }

    pub fn destination_type(&self) -> &str {
        &self.destination_type
    }

    pub fn kind(&self) -> &ProfileKind {
        &self.kind
    }

    /// For [`ProfileKind::IamRoleManagedPolicy`]: whether the policy goes on the source's role
    /// (`true`) or the destination's (`false`, e.g. a table stream read by a function).
    pub fn source_policy(&self) -> bool {
        self.source_policy
    }

    /// The access categories the profile accepts (`Read`, `Write`), sorted.
    pub fn categories(&self) -> impl Iterator<Item = &str> {
        self.categories.keys().map(String::as_str)
    }

    /// Why SAM would reject these `Permissions`, if it would: unknown category, empty list, or
    /// a combination the profile's `ValidAccessCategories` does not allow.
    pub fn rejects(&self, permissions: &[String]) -> Option<String> {
        let valid = self
            .categories
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if permissions.is_empty() {
            return Some(format!(
                "connector Permissions is empty; valid values are: {valid}"
            ));
        }
        if let Some(p) = permissions
            .iter()
            .find(|p| !self.categories.contains_key(p.as_str()))
        {
            return Some(format!(
                "connector permission {p} is not valid from {} to {}; valid values are: {valid}",
                self.source_type, self.destination_type
            ));
        }
        if let Some(combos) = &self.valid_combinations {
            let mut given: Vec<&str> = permissions.iter().map(String::as_str).collect();
            given.sort_unstable();
            given.dedup();
            let ok = combos.iter().any(|c| {
                let mut c: Vec<&str> = c.iter().map(String::as_str).collect();
                c.sort_unstable();
                c == given
            });
            if !ok {
                return Some(format!(
                    "connector permissions {} are not a valid combination from {} to {}",
                    given.join(" + "),
                    self.source_type,
                    self.destination_type
                ));
            }
        }
        None
    }

    /// The policy statements of one category, with their `%{…}` variables (empty for a
    /// category that is not a statement list, as for Lambda permissions).
    pub fn statements(&self, category: &str) -> Vec<Value> {
        self.categories
            .get(category)
            .and_then(|c| c.get("Statement"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// Every action of one category as written, in first-seen order without duplicates
    /// (a Lambda permission's single `Action` included).
    pub fn actions(&self, category: &str) -> Vec<String> {
        let Some(c) = self.categories.get(category) else {
            return Vec::new();
        };
        let mut found: Vec<&Value> = Vec::new();
        match c.get("Statement").and_then(Value::as_array) {
            Some(statements) => found.extend(statements.iter().filter_map(|s| s.get("Action"))),
            None => found.extend(c.get("Action")),
        }
        let mut out: Vec<String> = Vec::new();
        for v in found {
            let listed: Vec<&str> = match v {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for a in listed {
                if !out.iter().any(|o| o == a) {
                    out.push(a.to_owned());
                }
            }
        }
        out
    }
}

/// All connector profiles of one aws-sam-translator release.
#[derive(Debug, Clone, PartialEq)]
pub struct SamConnectorProfiles {
    source: String,
    version: String,
    profiles_version: String,
    profiles: BTreeMap<(String, String), ConnectorProfile>,
    resources: BTreeMap<String, Value>,
}

static EMBEDDED_PROFILES: OnceLock<Result<SamConnectorProfiles, SamConnectorProfileError>> =
    OnceLock::new();
static EMPTY: OnceLock<SamConnectorProfiles> = OnceLock::new();

impl SamConnectorProfiles {
    /// The profiles compiled into the binary, parsed on first use. A test guarantees the file
    /// parses; should it not, this is empty (every connector then reports as not analysable)
    /// rather than a panic, and [`SamConnectorProfiles::try_embedded`] gives the error.
    pub fn embedded() -> &'static SamConnectorProfiles {
        match SamConnectorProfiles::try_embedded() {
            Ok(p) => p,
            Err(_) => EMPTY.get_or_init(|| SamConnectorProfiles {
                source: String::new(),
                version: String::new(),
                profiles_version: String::new(),
                profiles: BTreeMap::new(),
                resources: BTreeMap::new(),
            }),
        }
    }

    /// The embedded profiles, or why they could not be read.
    pub fn try_embedded() -> Result<&'static SamConnectorProfiles, &'static SamConnectorProfileError>
    {
        EMBEDDED_PROFILES
            .get_or_init(|| SamConnectorProfiles::parse(EMBEDDED))
            .as_ref()
    }

    /// Parses a file written by `scripts/gen-sam-connector-profiles`.
    pub fn parse(text: &str) -> Result<SamConnectorProfiles, SamConnectorProfileError> {
        let invalid = |e: serde_json::Error, key: Option<&str>| SamConnectorProfileError::Invalid {
            line: e.line(),
            column: e.column(),
            message: match key {
                Some(k) => format!("profile {k}: {e}"),
                None => e.to_string(),
            },
        };
        let raw: RawFile = serde_json::from_str(text).map_err(|e| invalid(e, None))?;
        if raw.format != FORMAT {
            return Err(SamConnectorProfileError::Format(raw.format));
        }
        let mut profiles = BTreeMap::new();
        for (key, value) in raw.profiles {
            let Some((src, dest)) = key.split_once(' ') else {
                return Err(SamConnectorProfileError::Key(key));
            };
            let p: RawProfile =
                serde_json::from_value(value).map_err(|e| invalid(e, Some(&key)))?;
            profiles.insert(
                (src.to_owned(), dest.to_owned()),
                ConnectorProfile {
                    source_type: src.to_owned(),
                    destination_type: dest.to_owned(),
                    kind: ProfileKind::parse(&p.kind),
                    source_policy: p.properties.source_policy,
                    categories: p.properties.access_categories.into_iter().collect(),
                    valid_combinations: p.properties.valid_access_categories,
                },
            );
        }
        Ok(SamConnectorProfiles {
            source: raw.source,
            version: raw.version,
            profiles_version: raw.profiles_version,
            profiles,
            resources: raw.resources.into_iter().collect(),
        })
    }

    /// `aws-sam-translator`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The aws-sam-translator release the profiles come from.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn profiles_version(&self) -> &str {
        &self.profiles_version
    }

    /// The profile for a source and destination type; SAM types are looked up as the
    /// CloudFormation types SAM turns them into (see [`cfn_type`]).
    pub fn get(&self, source_type: &str, destination_type: &str) -> Option<&ConnectorProfile> {
        self.profiles.get(&(
            cfn_type(source_type).to_owned(),
            cfn_type(destination_type).to_owned(),
        ))
    }

    pub fn iter(&self) -> impl Iterator<Item = &ConnectorProfile> {
        self.profiles.values()
    }

    /// SAM's `%{Source.Arn}`-style values for a resource of this template: the `Outputs`
    /// (`Arn`, `Name`, `Qualifier`, …) of its `CfnResourceProperties`, with `%{logicalId}`
    /// filled in. Empty for a type SAM has no properties for.
    pub fn outputs(&self, resource_type: &str, logical_id: &str) -> Map<String, Value> {
        let Some(outputs) = self
            .resources
            .get(cfn_type(resource_type))
            .and_then(|r| r.get("Outputs"))
            .and_then(Value::as_object)
        else {
            return Map::new();
        };
        let vars = BTreeMap::from([("logicalId".to_owned(), Value::String(logical_id.to_owned()))]);
        outputs
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), profile_replace(v, &vars).ok()?)))
            .collect()
    }
}

/// The CloudFormation type SAM turns a SAM resource type into, keeping its logical id (what
/// the connector profiles are keyed by); other types are returned unchanged.
pub fn cfn_type(resource_type: &str) -> &str {
    match resource_type {
        "AWS::Serverless::Function" => "AWS::Lambda::Function",
        "AWS::Serverless::StateMachine" => "AWS::StepFunctions::StateMachine",
        "AWS::Serverless::SimpleTable" => "AWS::DynamoDB::Table",
        "AWS::Serverless::Api" => "AWS::ApiGateway::RestApi",
        "AWS::Serverless::HttpApi" => "AWS::ApiGatewayV2::Api",
        other => other,
    }
}

/// Fills in `%{Name}` variables the way aws-sam-translator's `profile_replace` does: a string
/// that is exactly `%{Name}` becomes the value; a string containing it becomes
/// `{"Fn::Sub": [text with ${Name}, {Name: value}]}` (the variable name stripped to
/// alphanumerics). A variable without a value is an error, as SAM rejects the connector.
pub fn profile_replace(
    value: &Value,
    vars: &BTreeMap<String, Value>,
) -> Result<Value, SamConnectorProfileError> {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), profile_replace(v, vars)?)))
            .collect::<Result<Map<_, _>, _>>()
            .map(Value::Object),
        Value::Array(items) => items
            .iter()
            .map(|v| profile_replace(v, vars))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::String(s) => replace_str(s, vars),
        other => Ok(other.clone()),
    }
}

fn replace_str(s: &str, vars: &BTreeMap<String, Value>) -> Result<Value, SamConnectorProfileError> {
    let mut text = s.to_owned();
    let mut sub_vars = Map::new();
    let mut from = 0;
    while let Some(start) = text[from..].find("%{").map(|i| i + from) {
        let Some(len) = text[start + 2..].find('}') else {
            break;
        };
        let name = text[start + 2..start + 2 + len].to_owned();
        let whole = start == 0 && start + 3 + len == text.len();
        let Some(v) = vars.get(&name) else {
            return Err(SamConnectorProfileError::MissingVariable(name));
        };
        if whole && sub_vars.is_empty() {
            return Ok(v.clone());
        }
        let sanitized: String = name.chars().filter(|c| c.is_alphanumeric()).collect();
        text.replace_range(start..start + 3 + len, &format!("${{{sanitized}}}"));
        sub_vars.insert(sanitized.clone(), v.clone());
        from = start + 3 + sanitized.len();
    }
    if text.contains("${") {
        if sub_vars.is_empty() {
            return Ok(serde_json::json!({"Fn::Sub": text}));
        }
        return Ok(serde_json::json!({"Fn::Sub": [text, Value::Object(sub_vars)]}));
    }
    Ok(Value::String(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn profiles() -> &'static SamConnectorProfiles {
        SamConnectorProfiles::try_embedded().unwrap()
    }

    #[test]
    fn embedded_file_parses_and_names_its_release() {
        let p = profiles();
        assert_eq!(p.source(), "aws-sam-translator");
        assert_eq!(p.version(), "1.115.0");
        assert!(p.iter().count() >= 30, "{}", p.iter().count());
    }

    #[test]
    fn function_to_table_read_and_write_come_from_sam() {
        let p = profiles()
            .get("AWS::Serverless::Function", "AWS::DynamoDB::Table")
            .unwrap();
        assert_eq!(p.kind(), &ProfileKind::IamRoleManagedPolicy);
        assert!(p.source_policy());
        assert_eq!(p.categories().collect::<Vec<_>>(), ["Read", "Write"]);
        let read = p.actions("Read");
        assert!(read.contains(&"dynamodb:GetItem".to_owned()), "{read:?}");
        assert!(read.contains(&"dynamodb:Query".to_owned()), "{read:?}");
        assert!(!read.contains(&"dynamodb:PutItem".to_owned()), "{read:?}");
        let write = p.actions("Write");
        assert!(write.contains(&"dynamodb:PutItem".to_owned()), "{write:?}");
        assert!(
            write.contains(&"dynamodb:DeleteItem".to_owned()),
            "{write:?}"
        );
    }

    #[test]
    fn function_to_bucket_write_covers_objects() {
        let p = profiles()
            .get("AWS::Serverless::Function", "AWS::S3::Bucket")
            .unwrap();
        let write = p.actions("Write");
        assert!(write.contains(&"s3:PutObject".to_owned()), "{write:?}");
        assert!(!write.contains(&"s3:GetObject".to_owned()), "{write:?}");
        let text = serde_json::to_string(&p.statements("Write")).unwrap();
        assert!(text.contains("%{Destination.Arn}/*"), "{text}");
    }

    #[test]
    fn rule_to_queue_is_a_queue_policy_and_state_machine_pairs_check_combinations() {
        let q = profiles()
            .get("AWS::Events::Rule", "AWS::SQS::Queue")
            .unwrap();
        assert_eq!(q.kind(), &ProfileKind::SqsQueuePolicy);
        assert_eq!(q.actions("Write"), ["sqs:SendMessage"]);
        let sm = profiles()
            .get(
                "AWS::Serverless::StateMachine",
                "AWS::Serverless::StateMachine",
            )
            .unwrap();
        assert_eq!(sm.rejects(&["Read".to_owned()]), None);
        assert_eq!(sm.rejects(&["Read".to_owned(), "Write".to_owned()]), None);
        assert!(sm.rejects(&["Write".to_owned()]).is_some());
        assert!(sm.rejects(&[]).is_some());
        assert!(sm.rejects(&["Delete".to_owned()]).is_some());
        assert!(
            profiles()
                .get("AWS::Serverless::Function", "AWS::Kinesis::Stream")
                .is_none()
        );
    }

    #[test]
    fn lambda_permission_action_is_listed() {
        let p = profiles()
            .get("AWS::Serverless::Api", "AWS::Serverless::Function")
            .unwrap();
        assert_eq!(p.kind(), &ProfileKind::LambdaPermission);
        assert_eq!(p.actions("Write"), ["lambda:InvokeFunction"]);
        assert!(p.statements("Write").is_empty());
    }

    #[test]
    fn every_profile_action_is_in_the_iam_catalog() {
        let catalog = Catalog::embedded();
        let mut unknown = Vec::new();
        for p in profiles().iter() {
            for c in p.categories() {
                let e = catalog.expand_all(&p.actions(c));
                for u in e.unknown {
                    unknown.push(format!(
                        "{} -> {} {c}: {u:?}",
                        p.source_type(),
                        p.destination_type()
                    ));
                }
            }
        }
        assert!(unknown.is_empty(), "{unknown:#?}");
    }

    #[test]
    fn outputs_and_replacement_follow_sam() {
        let out = profiles().outputs("AWS::Serverless::Function", "Handler");
        assert_eq!(
            out["Arn"],
            serde_json::json!({"Fn::GetAtt": ["Handler", "Arn"]})
        );
        let topic = profiles().outputs("AWS::SNS::Topic", "Alerts");
        assert_eq!(topic["Arn"], serde_json::json!({"Ref": "Alerts"}));
        let vars = BTreeMap::from([(
            "Destination.Arn".to_owned(),
            serde_json::json!({"Fn::GetAtt": ["Uploads", "Arn"]}),
        )]);
        assert_eq!(
            profile_replace(
                &serde_json::json!(["%{Destination.Arn}", "%{Destination.Arn}/*"]),
                &vars
            )
            .unwrap(),
            serde_json::json!([
                {"Fn::GetAtt": ["Uploads", "Arn"]},
                {"Fn::Sub": ["${DestinationArn}/*", {"DestinationArn": {"Fn::GetAtt": ["Uploads", "Arn"]}}]}
            ])
        );
        assert_eq!(
            profile_replace(&serde_json::json!("%{Destination.Name}"), &vars),
            Err(SamConnectorProfileError::MissingVariable(
                "Destination.Name".to_owned()
            ))
        );
        assert_eq!(
            profile_replace(&serde_json::json!("arn:${AWS::Partition}:x"), &vars).unwrap(),
            serde_json::json!({"Fn::Sub": "arn:${AWS::Partition}:x"})
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(SamConnectorProfiles::parse("").is_err());
        assert!(SamConnectorProfiles::parse("{\"format\":2}").is_err());
        assert!(matches!(
            SamConnectorProfiles::parse(
                r#"{"format":1,"source":"s","version":"v","profiles":{"nospace":{}},"resources":{}}"#
            ),
            Err(SamConnectorProfileError::Key(_))
        ));
    }
}
