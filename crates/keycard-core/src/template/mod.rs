//! The template engine: load a CloudFormation/SAM template with positions, find every IAM grant,
//! rewrite chosen nodes without touching any other byte, and diff the result.
//!
//! ```
//! use keycard_core::template::{Edit, Template, find_grants, unified_diff};
//!
//! let text = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {}\n      ManagedPolicyArns:\n        - arn:aws:iam::aws:policy/AdministratorAccess\n";
//! let template = Template::load("template.yaml", text)?;
//! let grants = find_grants(&template);
//! let admin = &grants.grants[0];
//! assert_eq!(admin.path, "/Resources/Role/Properties/ManagedPolicyArns/0");
//! let new_text = template.apply(&[Edit::replace(
//!     &admin.path,
//!     serde_json::json!({"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess"}),
//! )])?;
//! assert!(new_text.contains("- !Sub arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess\n"));
//! print!("{}", unified_diff(text, &new_text, "template.yaml"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules: [`node`] (the value tree with spans), `yaml`/`json` (loaders), [`intrinsics`]
//! (short-form tags), [`grants`] (finding grants), [`rewrite`] (edits, rendering, verification),
//! [`diff`] (unified diff), [`error`].

pub mod diff;
pub mod error;
pub mod grants;
pub mod intrinsics;
mod json;
mod lines;
pub mod node;
pub mod rewrite;
mod yaml;

pub use diff::unified_diff;
pub use error::{RewriteError, TemplateError};
pub use grants::{
    Grant, GrantFlag, GrantKind, Grants, NotAnalysable, PhysicalName, Principal, STATEMENT_BUDGET,
    SamTemplateRef, StatementRecord, find_grants, try_find_grants,
};
pub use lines::LineIndex;
pub use node::{Entry, Key, Node, Pos, Span, Style, Value};
pub use rewrite::Edit;

/// Input limits. The defaults are what `Template::load` uses.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest template accepted, in bytes (10 MiB: ten times what CloudFormation takes from S3).
    pub max_bytes: usize,
    /// Most nodes that aliases may expand to in total (alias bombs stop here).
    pub alias_nodes: usize,
    /// Deepest nesting accepted (keeps recursion bounded on hostile input).
    pub depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 10 * 1024 * 1024,
            alias_nodes: 250_000,
            depth: 200,
        }
    }
}

/// How to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Keep going when a mapping repeats a key (the last value wins, every repeat is listed in
    /// [`Template::duplicate_keys`]). Off by default because CloudFormation rejects such
    /// templates; `keycard check` turns it on to report them all at once.
    pub allow_duplicate_keys: bool,
    pub limits: Limits,
}

/// A key defined twice in the same mapping.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DuplicateKey {
    pub key: String,
    pub first: Pos,
    pub second: Pos,
}

/// The syntax a template is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateFormat {
    Yaml,
    Json,
}

impl TemplateFormat {
    /// The proposal artifact's file name: `template.yaml` or `template.json`.
    pub fn file_name(self) -> &'static str {
        match self {
            TemplateFormat::Yaml => "template.yaml",
            TemplateFormat::Json => "template.json",
        }
    }
}

/// The writing habits of a file, detected at load time so that new values look like the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStyle {
    /// One indentation step (`"  "`, `"    "`, `"\t"` in JSON).
    pub indent: String,
    /// YAML: columns between a key and the `-` of its block sequence value (0 = indentless).
    pub seq_indent: usize,
    /// YAML: whether intrinsics are written as `!Ref` (short form) rather than `Ref:`.
    pub short_form: bool,
    /// YAML: the quote used for strings that need quoting.
    pub quote: char,
    /// `"\n"` or `"\r\n"`.
    pub newline: String,
    /// YAML: whether resources are separated by a blank line.
    pub blank_between_resources: bool,
}

/// A loaded template. The text is kept exactly as given; the tree points into it.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    text: String,
    format: TemplateFormat,
    root: Node,
    lines: LineIndex,
    duplicates: Vec<DuplicateKey>,
    style: SourceStyle,
    anchors: bool,
}

#[cfg(test)]
thread_local! {
    /// Whole-template loads on this thread, so tests can assert that a pipeline parses the
    /// template a constant number of times (not once per edit or per role).
    static WHOLE_LOADS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Whole-template loads made on this thread so far (tests only).
#[cfg(test)]
pub(crate) fn whole_loads() -> usize {
    WHOLE_LOADS.with(std::cell::Cell::get)
}

impl Template {
    /// Loads a YAML or JSON template (JSON when the first non-blank character is `{` and the
    /// text parses as JSON, as CloudFormation decides). Duplicate keys are an error.
    pub fn load(name: &str, text: &str) -> Result<Template, TemplateError> {
        Self::load_with(name, text, &LoadOptions::default())
    }

    /// [`Template::load`] from bytes: invalid UTF-8 is reported with its position.
    pub fn load_bytes(name: &str, bytes: &[u8]) -> Result<Template, TemplateError> {
        if bytes.len() > Limits::default().max_bytes {
            return Err(TemplateError::TooLarge {
                file: name.to_string(),
                size: bytes.len(),
                limit: Limits::default().max_bytes,
            });
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::load(name, text),
            Err(e) => {
                let good = &bytes[..e.valid_up_to()];
                let line = good.iter().filter(|b| **b == b'\n').count() + 1;
                let line_start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                let column = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
                Err(TemplateError::Encoding {
                    file: name.to_string(),
                    line,
                    column,
                })
            }
        }
    }

    /// [`Template::load`] with options.
    pub fn load_with(
        name: &str,
        text: &str,
        options: &LoadOptions,
    ) -> Result<Template, TemplateError> {
        #[cfg(test)]
        WHOLE_LOADS.with(|n| n.set(n.get() + 1));
        let limits = &options.limits;
        if text.len() > limits.max_bytes {
            return Err(TemplateError::TooLarge {
                file: name.to_string(),
                size: text.len(),
                limit: limits.max_bytes,
            });
        }
        let lines = LineIndex::new(text);
        let body = text.trim_start_matches('\u{feff}').trim_start();
        // Text that starts with `{` is JSON. A `.json` file that is not valid JSON gets the JSON
        // error; other names fall back to YAML (whose flow syntax also starts with `{`).
        let json_name = name.to_ascii_lowercase().ends_with(".json");
        let (format, loaded) = if body.starts_with('{') {
            match json::load(name, text, &lines, limits) {
                Ok(l) => (TemplateFormat::Json, l),
                Err(json_err @ TemplateError::InvalidJson { .. }) if !json_name => {
                    match yaml::load(name, text, &lines, limits) {
                        Ok(l) => (TemplateFormat::Yaml, l),
                        Err(_) => return Err(json_err),
                    }
                }
                Err(e) => return Err(e),
            }
        } else {
            (
                TemplateFormat::Yaml,
                yaml::load(name, text, &lines, limits)?,
            )
        };
        if !options.allow_duplicate_keys
            && let Some(d) = loaded.duplicates.first()
        {
            return Err(TemplateError::DuplicateKey {
                file: name.to_string(),
                key: d.key.clone(),
                line: d.second.line,
                column: d.second.column,
                first_line: d.first.line,
                first_column: d.first.column,
            });
        }
        check_is_template(name, &loaded.root)?;
        let style = detect_style(text, format, &loaded.root);
        Ok(Template {
            name: name.to_string(),
            text: text.to_string(),
            format,
            root: loaded.root,
            lines,
            duplicates: loaded.duplicates,
            style,
            anchors: loaded.anchors,
        })
    }

    /// The name used in messages (usually the path as given).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The text exactly as loaded.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn format(&self) -> TemplateFormat {
        self.format
    }

    pub fn root(&self) -> &Node {
        &self.root
    }

    pub fn style(&self) -> &SourceStyle {
        &self.style
    }

    /// Duplicate keys seen (only non-empty with [`LoadOptions::allow_duplicate_keys`]).
    pub fn duplicate_keys(&self) -> &[DuplicateKey] {
        &self.duplicates
    }

    /// The node at a JSON pointer (`/Resources/Role/Properties`).
    pub fn node(&self, pointer: &str) -> Option<&Node> {
        self.root.pointer(pointer)
    }

    /// Line:column of a byte offset.
    pub fn pos(&self, offset: usize) -> Pos {
        self.lines.pos(&self.text, offset)
    }

    /// The source bytes of a node.
    pub fn source(&self, node: &Node) -> &str {
        self.text.get(node.span.start..node.span.end).unwrap_or("")
    }

    /// `(logical id, resource node)` for every entry of `Resources`, in order.
    pub fn resources(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.root
            .get("Resources")
            .and_then(Node::as_map)
            .unwrap_or(&[])
            .iter()
            .map(|e| (e.key.text.as_str(), &e.value))
    }

    /// Whether the template uses the SAM transform.
    pub fn is_sam(&self) -> bool {
        let Some(t) = self.root.get("Transform") else {
            return false;
        };
        let is_sam = |n: &Node| n.as_str().is_some_and(|s| s.starts_with("AWS::Serverless"));
        is_sam(t) || t.as_seq().is_some_and(|s| s.iter().any(is_sam))
    }

    /// Applies edits and returns the new text; see [`rewrite`] for the operations. The result is
    /// re-parsed and compared with the intended change before it is returned.
    pub fn apply(&self, edits: &[Edit]) -> Result<String, RewriteError> {
        rewrite::apply(self, edits)
    }

    /// Whether the YAML text defines anchors.
    pub(crate) fn has_anchors(&self) -> bool {
        self.anchors
    }

    pub(crate) fn lines(&self) -> &LineIndex {
        &self.lines
    }
}

fn check_is_template(name: &str, root: &Node) -> Result<(), TemplateError> {
    let fail = |node: &Node, reason: &str| TemplateError::NotATemplate {
        file: name.to_string(),
        line: node.pos.line,
        column: node.pos.column,
        reason: reason.to_string(),
    };
    if root.as_map().is_none() {
        return Err(fail(root, "the top level is not a mapping"));
    }
    match root.get("Resources") {
        None => Err(fail(root, "there is no `Resources` section")),
        Some(r) if r.as_map().is_none() => Err(fail(r, "`Resources` is not a mapping")),
        Some(_) => Ok(()),
    }
}

fn detect_style(text: &str, format: TemplateFormat, root: &Node) -> SourceStyle {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" }.to_string();
    match format {
        TemplateFormat::Json => {
            let indent = text
                .lines()
                .skip(1)
                .find_map(|l| {
                    let ws: String = l.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
                    (!ws.is_empty() && l.len() > ws.len()).then_some(ws)
                })
                .unwrap_or_else(|| "  ".to_string());
            SourceStyle {
                indent,
                seq_indent: 2,
                short_form: false,
                quote: '"',
                newline,
                blank_between_resources: false,
            }
        }
        TemplateFormat::Yaml => {
            let mut stats = YamlStats::default();
            stats.walk(root, 0);
            let unit = stats.indent.unwrap_or(2).clamp(1, 8);
            let blank_between_resources =
                root.get("Resources")
                    .and_then(Node::as_map)
                    .is_some_and(|entries| {
                        entries.windows(2).any(|w| {
                            let gap = text
                                .get(w[0].value.span.end..w[1].key.span.start)
                                .unwrap_or("");
                            gap.matches('\n').count() >= 2
                        })
                    });
            SourceStyle {
                indent: " ".repeat(unit),
                seq_indent: stats.seq_indent.unwrap_or(unit),
                short_form: stats.short >= stats.long,
                quote: if stats.double > stats.single {
                    '"'
                } else {
                    '\''
                },
                newline,
                blank_between_resources,
            }
        }
    }
}

#[derive(Default)]
struct YamlStats {
    indent: Option<usize>,
    seq_indent: Option<usize>,
    short: usize,
    long: usize,
    single: usize,
    double: usize,
}

impl YamlStats {
    /// Enough evidence on every habit: the rest of a large file will not change the verdict.
    fn settled(&self) -> bool {
        self.indent.is_some()
            && self.seq_indent.is_some()
            && self.short + self.long >= 64
            && self.single + self.double >= 64
    }

    fn walk(&mut self, node: &Node, depth: usize) {
        if depth > 64 || self.settled() {
            return;
        }
        if node.intrinsic().is_some() {
            if node.tag.is_some() {
                self.short += 1;
            } else {
                self.long += 1;
            }
        }
        match node.style {
            Style::SingleQuoted => self.single += 1,
            Style::DoubleQuoted => self.double += 1,
            _ => {}
        }
        match &node.value {
            Value::Map(entries) => {
                for e in entries {
                    if node.style == Style::Block
                        && e.value.style == Style::Block
                        && e.value.tag.is_none()
                        && !e.value.alias
                        && e.value.pos.line > e.key.pos.line
                    {
                        match &e.value.value {
                            Value::Map(_) if self.indent.is_none() => {
                                let d = e.value.pos.column.saturating_sub(e.key.pos.column);
                                if d > 0 {
                                    self.indent = Some(d);
                                }
                            }
                            Value::Seq(_) if self.seq_indent.is_none() => {
                                self.seq_indent =
                                    Some(e.value.pos.column.saturating_sub(e.key.pos.column));
                            }
                            _ => {}
                        }
                    }
                    self.walk(&e.value, depth + 1);
                }
            }
            Value::Seq(items) => {
                for i in items {
                    self.walk(i, depth + 1);
                }
            }
            _ => {}
        }
    }
}
