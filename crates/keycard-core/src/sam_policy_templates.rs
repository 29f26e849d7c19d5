//! SAM policy templates (`S3ReadPolicy`, `DynamoDBCrudPolicy`, …): what each one grants.
//!
//! A SAM function's `Policies` may name a policy template instead of writing statements; SAM
//! expands it at deploy time. To see what such a function can do, keycard needs the same
//! definitions SAM uses. They are copied from aws-sam-translator's
//! `policy_templates_data/policy_templates.json` (Apache-2.0) by
//! `scripts/gen-sam-policy-templates` into `data/sam-policy-templates.json`, embedded here and
//! parsed once. Statements are kept as JSON values with their original intrinsics
//! (`{"Fn::Sub": ["arn:…:${bucketName}", {"bucketName": {"Ref": "BucketName"}}]}`), because the
//! resources are only known once the template's parameter values are filled in.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::catalog::{Catalog, Expansion};

/// The file compiled into the binary.
const EMBEDDED: &str = include_str!("../../../data/sam-policy-templates.json");

/// The only file format this loader understands.
const FORMAT: u32 = 1;

/// Errors loading or expanding SAM policy templates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamPolicyTemplateError {
    #[error("SAM policy templates file is invalid at line {line}, column {column}: {message}")]
    Invalid {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "SAM policy templates file has format {0}, expected {FORMAT}; re-run scripts/gen-sam-policy-templates"
    )]
    Format(u32),
    #[error("unknown SAM policy template {0:?}")]
    UnknownTemplate(String),
    #[error("SAM policy template {template} is missing parameter values for {}", missing.join(", "))]
    MissingParameters {
        template: String,
        missing: Vec<String>,
    },
}

#[derive(Deserialize)]
struct RawFile {
    format: u32,
    source: String,
    version: String,
    #[serde(default)]
    templates_version: String,
    templates: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawTemplate {
    #[serde(rename = "Description", default)]
    description: String,
    #[serde(rename = "Parameters", default)]
    parameters: Map<String, Value>,
    #[serde(rename = "Definition")]
    definition: RawDefinition,
}

#[derive(Deserialize)]
struct RawDefinition {
    #[serde(rename = "Statement")]
    statement: Vec<Value>,
}

/// One SAM policy template.
#[derive(Debug, Clone, PartialEq)]
pub struct SamPolicyTemplate {
    name: String,
    description: String,
    parameters: Vec<String>,
    statements: Vec<Value>,
}

impl SamPolicyTemplate {
    /// The template name as written in a SAM `Policies` list (`S3ReadPolicy`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// Parameter names in SAM's order (`BucketName`); every one must be given a value.
    pub fn parameters(&self) -> &[String] {
        &self.parameters
    }

    /// The statements with their original placeholders (`{"Ref": "BucketName"}` inside
    /// `Fn::Sub` variable maps).
    pub fn statements(&self) -> &[Value] {
        &self.statements
    }

    /// Every action pattern the template names, as written (`sqs:SendMessage*` stays a
    /// pattern), in first-seen order without duplicates.
    pub fn actions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for statement in &self.statements {
            let listed: Vec<&str> = match statement.get("Action") {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for action in listed {
                if !out.iter().any(|a| a == action) {
                    out.push(action.to_owned());
                }
            }
        }
        out
    }

    /// The template's actions expanded through the IAM catalog (wildcards resolved, canonical
    /// casing); names the catalog does not know are in `unknown`.
    pub fn effective_actions(&self, catalog: &Catalog) -> Expansion {
        catalog.expand_all(&self.actions())
    }

    /// The statements SAM would generate for these parameter values: every
    /// `{"Ref": "<Parameter>"}` is replaced by the value given for that parameter, exactly as
    /// aws-sam-translator does (only `Ref` to template parameters is resolved). Values may be
    /// intrinsics themselves (`{"Ref": "OrdersTable"}`) and are inserted unchanged;
    /// `${AWS::Region}`-style pseudo parameters and `Fn::Sub` strings are kept. Values for
    /// parameters the template does not declare are ignored, as SAM ignores them; a missing
    /// value is an error, as SAM rejects the template.
    pub fn expand(
        &self,
        params: &Map<String, Value>,
    ) -> Result<Vec<Value>, SamPolicyTemplateError> {
        let missing: Vec<String> = self
            .parameters
            .iter()
            .filter(|p| !params.contains_key(p.as_str()))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(SamPolicyTemplateError::MissingParameters {
                template: self.name.clone(),
                missing,
            });
        }
        Ok(self
            .statements
            .iter()
            .map(|s| resolve_refs(s, &self.parameters, params))
            .collect())
    }
}

/// Replaces `{"Ref": name}` for the template's own parameters.
fn resolve_refs(value: &Value, declared: &[String], params: &Map<String, Value>) -> Value {
    match value {
        Value::Object(map) => {
            if map.len() == 1
                && let Some(Value::String(name)) = map.get("Ref")
                && declared.iter().any(|d| d == name)
                && let Some(v) = params.get(name)
            {
                return v.clone();
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), resolve_refs(v, declared, params)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| resolve_refs(v, declared, params))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// All SAM policy templates of one aws-sam-translator release.
#[derive(Debug, Clone, PartialEq)]
pub struct SamPolicyTemplates {
    source: String,
    version: String,
    templates_version: String,
    templates: BTreeMap<String, SamPolicyTemplate>,
}

static EMBEDDED_TEMPLATES: OnceLock<Result<SamPolicyTemplates, SamPolicyTemplateError>> =
    OnceLock::new();
static EMPTY: OnceLock<SamPolicyTemplates> = OnceLock::new();

impl SamPolicyTemplates {
    /// The templates compiled into the binary, parsed on first use.
    ///
    /// A test guarantees the embedded file parses; should it ever not, this returns an empty set
    /// (every template then reports as unknown) rather than panicking, and
    /// [`SamPolicyTemplates::try_embedded`] gives the error.
    pub fn embedded() -> &'static SamPolicyTemplates {
        match SamPolicyTemplates::try_embedded() {
            Ok(t) => t,
            Err(_) => EMPTY.get_or_init(|| SamPolicyTemplates {
                source: String::new(),
                version: String::new(),
                templates_version: String::new(),
                templates: BTreeMap::new(),
            }),
        }
    }

    /// The embedded templates, or why they could not be read.
    pub fn try_embedded() -> Result<&'static SamPolicyTemplates, &'static SamPolicyTemplateError> {
        EMBEDDED_TEMPLATES
            .get_or_init(|| SamPolicyTemplates::parse(EMBEDDED))
            .as_ref()
    }

    /// Parses a file written by `scripts/gen-sam-policy-templates`.
    pub fn parse(text: &str) -> Result<SamPolicyTemplates, SamPolicyTemplateError> {
        let invalid = |e: serde_json::Error, name: Option<&str>| SamPolicyTemplateError::Invalid {
            line: e.line(),
            column: e.column(),
            message: match name {
                Some(n) => format!("template {n}: {e}"),
                None => e.to_string(),
            },
        };
        let raw: RawFile = serde_json::from_str(text).map_err(|e| invalid(e, None))?;
        if raw.format != FORMAT {
            return Err(SamPolicyTemplateError::Format(raw.format));
        }
        let mut templates = BTreeMap::new();
        for (name, value) in raw.templates {
            let t: RawTemplate =
                serde_json::from_value(value).map_err(|e| invalid(e, Some(&name)))?;
            templates.insert(
                name.clone(),
                SamPolicyTemplate {
                    name,
                    description: t.description,
                    parameters: t.parameters.keys().cloned().collect(),
                    statements: t.definition.statement,
                },
            );
        }
        Ok(SamPolicyTemplates {
            source: raw.source,
            version: raw.version,
            templates_version: raw.templates_version,
            templates,
        })
    }

    /// The package the definitions came from (`aws-sam-translator`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The aws-sam-translator release (`1.115.0`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The `Version` field of SAM's own file.
    pub fn templates_version(&self) -> &str {
        &self.templates_version
    }

    /// Looks a template up by its exact name (SAM template names are case-sensitive).
    pub fn get(&self, name: &str) -> Option<&SamPolicyTemplate> {
        self.templates.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.templates.contains_key(name)
    }

    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// All templates, sorted by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &SamPolicyTemplate> + '_ {
        self.templates.values()
    }

    /// Template names, sorted.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.templates.keys().map(String::as_str)
    }

    /// The statements of template `name` with parameter values filled in (see
    /// [`SamPolicyTemplate::expand`]).
    pub fn expand(
        &self,
        name: &str,
        params: &Map<String, Value>,
    ) -> Result<Vec<Value>, SamPolicyTemplateError> {
        self.get(name)
            .ok_or_else(|| SamPolicyTemplateError::UnknownTemplate(name.to_owned()))?
            .expand(params)
    }

    /// The action patterns of template `name` as written; empty for an unknown template.
    pub fn actions(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(SamPolicyTemplate::actions)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
