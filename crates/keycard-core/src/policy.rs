//! The IAM policy document model.
//!
//! IAM accepts several spellings of the same thing (`Statement` as one object or a list,
//! `Action` as a string or a list). The model keeps which spelling was used so that a document
//! written back out looks like the one read in, and counts size the way IAM does (whitespace
//! outside strings is not counted), because that is what the 6,144 / 10,240 limits measure.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Errors reading a policy document.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy document is not valid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("policy document has no Statement")]
    NoStatement,
}

/// A value IAM accepts either as a single item or as a list; the spelling is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.as_slice().iter()
    }
}

impl<T> From<Vec<T>> for OneOrMany<T> {
    fn from(v: Vec<T>) -> Self {
        OneOrMany::Many(v)
    }
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// One statement. Fields that are usually intrinsic-bearing in templates (`Resource`,
/// `Condition`, `Principal`) are kept as raw JSON values so nothing is lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "Sid", skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
    #[serde(rename = "Effect")]
    pub effect: Effect,
    #[serde(rename = "Principal", skip_serializing_if = "Option::is_none", default)]
    pub principal: Option<Value>,
    #[serde(
        rename = "NotPrincipal",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub not_principal: Option<Value>,
    #[serde(rename = "Action", skip_serializing_if = "Option::is_none", default)]
    pub action: Option<OneOrMany<String>>,
    #[serde(rename = "NotAction", skip_serializing_if = "Option::is_none", default)]
    pub not_action: Option<OneOrMany<String>>,
    #[serde(rename = "Resource", skip_serializing_if = "Option::is_none", default)]
    pub resource: Option<Value>,
    #[serde(
        rename = "NotResource",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub not_resource: Option<Value>,
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none", default)]
    pub condition: Option<Value>,
}

impl Statement {
    /// The action patterns of `Action` (empty when the statement uses `NotAction`).
    pub fn actions(&self) -> &[String] {
        self.action.as_ref().map(OneOrMany::as_slice).unwrap_or(&[])
    }

    /// The action patterns of `NotAction`.
    pub fn not_actions(&self) -> &[String] {
        self.not_action
            .as_ref()
            .map(OneOrMany::as_slice)
            .unwrap_or(&[])
    }

    /// Whether this statement applies to `action` (case-insensitive, wildcards honoured).
    pub fn covers_action(&self, action: &str) -> bool {
        if let Some(list) = &self.action {
            list.iter().any(|p| action_matches(p, action))
        } else if let Some(list) = &self.not_action {
            !list.iter().any(|p| action_matches(p, action))
        } else {
            false
        }
    }
}

/// A whole policy document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDocument {
    #[serde(rename = "Version", skip_serializing_if = "Option::is_none", default)]
    pub version: Option<String>,
    #[serde(rename = "Id", skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    #[serde(rename = "Statement")]
    pub statement: OneOrMany<Statement>,
}

impl PolicyDocument {
    /// Parses a policy from JSON text, reporting the position of a syntax error.
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        serde_json::from_str(text).map_err(|e| PolicyError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    }

    /// Converts a JSON value (for example a node of a template) into a policy.
    pub fn from_value(value: &Value) -> Result<Self, PolicyError> {
        if value.get("Statement").is_none() {
            return Err(PolicyError::NoStatement);
        }
        serde_json::from_value(value.clone()).map_err(|e| PolicyError::Json {
            line: 0,
            column: 0,
            message: e.to_string(),
        })
    }

    pub fn statements(&self) -> &[Statement] {
        self.statement.as_slice()
    }

    /// Compact JSON, the form IAM stores and counts.
    pub fn to_compact_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Size as IAM counts it for its quotas: characters excluding whitespace outside strings.
    pub fn iam_size(&self) -> usize {
        iam_size(&self.to_compact_json())
    }
}

/// Counts characters of a JSON policy text as IAM does for its size quotas: every character
/// except whitespace that is not inside a string.
pub fn iam_size(json: &str) -> usize {
    let mut in_string = false;
    let mut escaped = false;
    let mut n = 0;
    for c in json.chars() {
        if in_string {
            n += 1;
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            n += 1;
        } else if !c.is_whitespace() {
            n += 1;
        }
    }
    n
}

/// IAM action matching: case-insensitive, `*` matches any run of characters, `?` exactly one.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    wildcard_match(pattern.as_bytes(), action.as_bytes(), false)
}

/// Iterative wildcard matcher (no recursion, so no stack blow-up on hostile patterns): `*`
/// matches any run of bytes, `?` exactly one. IAM compares actions case-insensitively and
/// resource ARNs case-sensitively, so the caller picks: `case_sensitive` is `false` for
/// actions ([`action_matches`]) and `true` for ARNs (`proposal::resources::resource_matches`).
pub(crate) fn wildcard_match(p: &[u8], s: &[u8], case_sensitive: bool) -> bool {
    let same = |a: u8, b: u8| {
        if case_sensitive {
            a == b
        } else {
            a.eq_ignore_ascii_case(&b)
        }
    };
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<usize> = None;
    let mut mark = 0usize;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || same(p[pi], s[si])) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether an action pattern contains a wildcard.
pub fn is_wildcard(pattern: &str) -> bool {
    pattern.contains('*') || pattern.contains('?')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_case_insensitively_with_wildcards() {
        assert!(action_matches("s3:Get*", "s3:GetObject"));
        assert!(action_matches("S3:get*", "s3:GetObject"));
        assert!(action_matches("*", "iam:PassRole"));
        assert!(action_matches("s3:?etObject", "s3:GetObject"));
        assert!(!action_matches("s3:Get*", "s3:PutObject"));
        assert!(!action_matches("s3:GetObject", "s3:GetObjectAcl"));
        assert!(action_matches("s3:*Object*", "s3:GetObjectAcl"));
        assert!(!action_matches("s3:?", "s3:"));
    }

    #[test]
    fn parses_both_statement_spellings_and_keeps_them() {
        let one = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
        let doc = PolicyDocument::from_json(one).unwrap();
        assert_eq!(doc.statements().len(), 1);
        assert_eq!(doc.to_compact_json(), one);
        let many = r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","NotAction":["iam:*","sts:*"],"NotResource":"arn:aws:s3:::b","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
        let doc = PolicyDocument::from_json(many).unwrap();
        assert_eq!(doc.statements()[0].effect, Effect::Deny);
        assert_eq!(doc.statements()[0].not_actions().len(), 2);
        assert_eq!(doc.to_compact_json(), many);
    }

    #[test]
    fn not_action_covers_the_complement() {
        let doc = PolicyDocument::from_json(
            r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#,
        )
        .unwrap();
        let st = &doc.statements()[0];
        assert!(st.covers_action("s3:GetObject"));
        assert!(!st.covers_action("IAM:PassRole"));
    }

    #[test]
    fn reports_syntax_error_position() {
        let err = PolicyDocument::from_json("{\n  \"Statement\": [\n}").unwrap_err();
        match err {
            PolicyError::Json { line, .. } => assert_eq!(line, 3),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn size_excludes_whitespace_outside_strings() {
        assert_eq!(
            iam_size(r#"{ "a b" : [ 1 , 2 ] }"#),
            r#"{"a b":[1,2]}"#.len()
        );
        assert_eq!(iam_size("{\"x\\\" y\": 1}"), "{\"x\\\" y\":1}".len());
    }
}
