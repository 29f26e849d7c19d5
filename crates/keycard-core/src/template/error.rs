//! Errors of the template engine. Every load error names the file and a line:column so that a
//! person can go straight to the problem; messages are lowercase and say what to do.

/// Why a template could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("{file}:{line}:{column}: invalid YAML: {message}")]
    InvalidYaml {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}:{column}: invalid JSON: {message}")]
    InvalidJson {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{file}:{line}:{column}: duplicate key `{key}` (first defined at line {first_line}, column {first_column}); CloudFormation rejects duplicate keys"
    )]
    DuplicateKey {
        file: String,
        key: String,
        line: usize,
        column: usize,
        first_line: usize,
        first_column: usize,
    },
    #[error("{file}:{line}:{column}: not a CloudFormation template: {reason}")]
    NotATemplate {
        file: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error(
        "{file}:{line}:{column}: alias expansion exceeds {limit} nodes (a YAML alias bomb?); refusing to expand"
    )]
    AliasBomb {
        file: String,
        line: usize,
        column: usize,
        limit: usize,
    },
    #[error(
        "{file}:1:1: template is {size} bytes, over the {limit} byte limit (CloudFormation accepts at most 1 MB from S3; 10 MB is keycard's ceiling)"
    )]
    TooLarge {
        file: String,
        size: usize,
        limit: usize,
    },
    #[error("{file}:{line}:{column}: not UTF-8 text (templates must be UTF-8)")]
    Encoding {
        file: String,
        line: usize,
        column: usize,
    },
    #[error(
        "{file}:1:1: too large to analyse: more than {limit} IAM statements once Fn::If branches and YAML aliases are expanded"
    )]
    TooLargeToAnalyse { file: String, limit: usize },
    #[error("{file}:{line}:{column}: nesting deeper than {limit} levels")]
    TooDeep {
        file: String,
        line: usize,
        column: usize,
        limit: usize,
    },
}

impl TemplateError {
    /// The 1-based (line, column) the error points at.
    pub fn position(&self) -> (usize, usize) {
        match self {
            TemplateError::InvalidYaml { line, column, .. }
            | TemplateError::InvalidJson { line, column, .. }
            | TemplateError::DuplicateKey { line, column, .. }
            | TemplateError::NotATemplate { line, column, .. }
            | TemplateError::AliasBomb { line, column, .. }
            | TemplateError::TooDeep { line, column, .. }
            | TemplateError::Encoding { line, column, .. } => (*line, *column),
            TemplateError::TooLarge { .. } | TemplateError::TooLargeToAnalyse { .. } => (1, 1),
        }
    }
}

/// Why an edit could not be applied. Nothing is written when any edit fails.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RewriteError {
    #[error("{file}: no node at `{path}`")]
    NoSuchNode { file: String, path: String },
    #[error("{file}: `{path}` is {found}, expected {expected}")]
    WrongKind {
        file: String,
        path: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{file}: key `{key}` already exists in `{path}`")]
    KeyExists {
        file: String,
        path: String,
        key: String,
    },
    #[error("{file}: edits overlap at `{first}` and `{second}`; apply them one after the other")]
    Overlap {
        file: String,
        first: String,
        second: String,
    },
    #[error(
        "{file}: `{path}` lies inside a YAML alias; replace the alias node itself or edit the anchored node"
    )]
    Alias { file: String, path: String },
    #[error("{file}: the rewritten template does not parse: {source}")]
    Reparse {
        file: String,
        #[source]
        source: Box<TemplateError>,
    },
    #[error("{file}: the rewritten template differs from the intended edit at `{path}`: {detail}")]
    Verification {
        file: String,
        path: String,
        detail: String,
    },
}
