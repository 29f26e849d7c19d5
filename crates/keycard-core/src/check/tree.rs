//! A small located-value tree for `keycard check`: every node remembers where it starts and
//! ends in the file, so a finding can point code-scanning tools at the exact line.
//!
//! Built on `saphyr-parser`'s event stream (the same parser the template engine uses): it is
//! maintained, reports spans for every event, and keeps YAML tags, which CloudFormation's short
//! form intrinsics (`!Ref`, `!Sub`, …) need. JSON templates parse through the same path since
//! JSON is YAML's flow syntax. The tree is read-only: rewriting templates is the template
//! engine's job, not check's.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Aliases may expand to at most this many nodes in total: a "billion laughs" template must
/// fail cleanly rather than exhaust memory.
const MAX_ALIAS_EXPANSION: usize = 100_000;
/// Nesting deeper than this is rejected (no template needs it; recursion must stay bounded).
const MAX_DEPTH: usize = 256;

/// A position in the source: 1-based line and column (columns in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A node with its source range (`end` exclusive).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub start: Pos,
    pub end: Pos,
}

/// A node's value. Short-form intrinsics become their long form (`!Ref X` is the mapping
/// `{Ref: X}`, `!GetAtt A.B` is `{Fn::GetAtt: A.B}`), so rules see one spelling.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A scalar as written; `quoted` tells `"*"` from a plain `*` where it matters (it rarely does).
    Scalar {
        value: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Key/value pairs in file order; keys keep their own positions.
    Map(Vec<(String, Pos, Node)>),
}

/// Why a template could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the file is empty")]
    Empty,
    #[error("aliases expand to more than {MAX_ALIAS_EXPANSION} nodes")]
    AliasBomb,
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("alias refers to an unknown anchor")]
    UnknownAnchor,
}

impl Node {
    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v),
            _ => None,
        }
    }

    /// The entries of a mapping (empty for other kinds).
    pub fn entries(&self) -> &[(String, Pos, Node)] {
        match &self.kind {
            Kind::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The string of a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Items of a sequence; a single non-sequence value is treated as a one-item list, which is
    /// how IAM reads `Action`, `Resource` and `Statement`.
    pub fn items(&self) -> Vec<&Node> {
        match &self.kind {
            Kind::Seq(items) => items.iter().collect(),
            _ => vec![self],
        }
    }

    /// When this node is a single-key intrinsic mapping (`Ref`, `Fn::…`, `Condition`), its name
    /// and argument.
    pub fn intrinsic(&self) -> Option<(&str, &Node)> {
        match &self.kind {
            Kind::Map(entries) if entries.len() == 1 => {
                let (k, _, v) = &entries[0];
                (k == "Ref" || k == "Condition" || k.starts_with("Fn::")).then_some((k.as_str(), v))
            }
            _ => None,
        }
    }

    /// Builds a node tree from a JSON value whose every part sits at `at` (used for policy
    /// documents written as JSON strings inside a template: the string is the finest location).
    pub fn from_json(value: &serde_json::Value, at: Pos, end: Pos) -> Node {
        let kind = match value {
            serde_json::Value::Null => Kind::Scalar {
                value: "null".into(),
                quoted: false,
            },
            serde_json::Value::Bool(b) => Kind::Scalar {
                value: b.to_string(),
                quoted: false,
            },
            serde_json::Value::Number(n) => Kind::Scalar {
                value: n.to_string(),
                quoted: false,
            },
            serde_json::Value::String(s) => Kind::Scalar {
                value: s.clone(),
                quoted: true,
            },
            serde_json::Value::Array(items) => {
                Kind::Seq(items.iter().map(|v| Node::from_json(v, at, end)).collect())
            }
            serde_json::Value::Object(map) => Kind::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), at, Node::from_json(v, at, end)))
                    .collect(),
            ),
        };
        Node {
            kind,
            start: at,
            end,
        }
    }
}

fn pos_of(span: &Span, end: bool) -> Pos {
    let m = if end { span.end } else { span.start };
    Pos {
        line: m.line(),
        column: m.col() + 1,
    }
}

/// The long-form name of a short-form tag: `!Ref` → `Ref`, `!Condition` → `Condition`, any other
/// `!X` → `Fn::X`. Unknown tags are kept the same way rather than rejected.
fn intrinsic_name(suffix: &str) -> String {
    match suffix {
        "Ref" | "Condition" => suffix.to_string(),
        other => format!("Fn::{other}"),
    }
}

/// Wraps `inner` in `{name: inner}` when the node carried a local `!Tag`.
fn wrap_tag(tag: Option<String>, inner: Node) -> Node {
    match tag {
        Some(suffix) => {
            let (start, end) = (inner.start, inner.end);
            let value = inner;
            Node {
                kind: Kind::Map(vec![(intrinsic_name(&suffix), start, value)]),
                start,
                end,
            }
        }
        None => inner,
    }
}

fn local_tag(tag: Option<&saphyr_parser::Tag>) -> Option<String> {
    tag.filter(|t| t.handle == "!").map(|t| t.suffix.clone())
}

struct Builder<'a> {
    events: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: std::collections::HashMap<usize, Node>,
    expanded: usize,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<Option<(Event<'a>, Span)>, YamlError> {
        match self.events.next() {
            None => Ok(None),
            Some(Ok(ev)) => Ok(Some(ev)),
            Some(Err(e)) => Err(YamlError::Syntax {
                line: e.marker().line(),
                column: e.marker().col() + 1,
                message: e.info().to_string(),
            }),
        }
    }

    /// Reads one node whose first event has already been taken.
    fn node(&mut self, first: Event<'a>, span: Span, depth: usize) -> Result<Node, YamlError> {
        if depth > MAX_DEPTH {
            return Err(YamlError::TooDeep);
        }
        let start = pos_of(&span, false);
        match first {
            Event::Scalar(value, style, anchor, tag) => {
                let node = Node {
                    kind: Kind::Scalar {
                        value: value.into_owned(),
                        quoted: !matches!(style, ScalarStyle::Plain),
                    },
                    start,
                    end: pos_of(&span, true),
                };
                let node = wrap_tag(local_tag(tag.as_deref()), node);
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::SequenceStart(anchor, tag) => {
                let tag = local_tag(tag.as_deref());
                let mut items = Vec::new();
                let end;
                loop {
                    let Some((ev, sp)) = self.next()? else {
                        return Err(eof());
                    };
                    if matches!(ev, Event::SequenceEnd) {
                        end = pos_of(&sp, true);
                        break;
                    }
                    items.push(self.node(ev, sp, depth + 1)?);
                }
                let node = wrap_tag(
                    tag,
                    Node {
                        kind: Kind::Seq(items),
                        start,
                        end,
                    },
                );
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(anchor, tag) => {
                let tag = local_tag(tag.as_deref());
                let mut entries = Vec::new();
                let end;
                loop {
                    let Some((ev, sp)) = self.next()? else {
                        return Err(eof());
                    };
                    if matches!(ev, Event::MappingEnd) {
                        end = pos_of(&sp, true);
                        break;
                    }
                    let key = self.node(ev, sp, depth + 1)?;
                    let key_text = match &key.kind {
                        Kind::Scalar { value, .. } => value.clone(),
                        _ => String::from("<complex key>"),
                    };
                    let Some((ev, sp)) = self.next()? else {
                        return Err(eof());
                    };
                    let value = self.node(ev, sp, depth + 1)?;
                    entries.push((key_text, key.start, value));
                }
                let node = wrap_tag(
                    tag,
                    Node {
                        kind: Kind::Map(entries),
                        start,
                        end,
                    },
                );
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or(YamlError::UnknownAnchor)?;
                self.expanded += count(&node);
                if self.expanded > MAX_ALIAS_EXPANSION {
                    return Err(YamlError::AliasBomb);
                }
                Ok(node)
            }
            _ => Err(YamlError::Syntax {
                line: start.line,
                column: start.column,
                message: "unexpected YAML event".into(),
            }),
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }
}

fn eof() -> YamlError {
    YamlError::Syntax {
        line: 0,
        column: 0,
        message: "unexpected end of file".into(),
    }
}

fn count(node: &Node) -> usize {
    1 + match &node.kind {
        Kind::Scalar { .. } => 0,
        Kind::Seq(items) => items.iter().map(count).sum(),
        Kind::Map(entries) => entries.iter().map(|(_, _, v)| count(v)).sum(),
    }
}

/// Parses the first document of a YAML or JSON text into a located tree.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut b = Builder {
        events: Parser::new_from_str(text),
        anchors: std::collections::HashMap::new(),
        expanded: 0,
    };
    loop {
        let Some((ev, sp)) = b.next()? else {
            return Err(YamlError::Empty);
        };
        match ev {
            Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => continue,
            Event::StreamEnd | Event::DocumentEnd => return Err(YamlError::Empty),
            other => return b.node(other, sp, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_and_long_forms_of_short_tags() {
        let text = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: !Sub '${AWS::StackName}-api'\n      Arn: !GetAtt Bucket.Arn\n";
        let root = parse(text).unwrap();
        let role = root.get("Resources").unwrap().get("Role").unwrap();
        assert_eq!(role.start, Pos { line: 3, column: 5 });
        let ty = role.get("Type").unwrap();
        assert_eq!(ty.as_str(), Some("AWS::IAM::Role"));
        assert_eq!(
            ty.start,
            Pos {
                line: 3,
                column: 11
            }
        );
        let name = role.get("Properties").unwrap().get("RoleName").unwrap();
        let (f, arg) = name.intrinsic().unwrap();
        assert_eq!(f, "Fn::Sub");
        assert_eq!(arg.as_str(), Some("${AWS::StackName}-api"));
        assert_eq!(name.start.line, 5);
    }

    #[test]
    fn reads_json_with_positions() {
        let text = "{\n  \"Resources\": {\n    \"R\": {\"Type\": \"AWS::IAM::Policy\"}\n  }\n}\n";
        let root = parse(text).unwrap();
        let r = root.get("Resources").unwrap().get("R").unwrap();
        assert_eq!(r.get("Type").unwrap().start.line, 3);
    }

    #[test]
    fn reports_syntax_errors_with_position() {
        let err = parse("Resources:\n  A: [1, 2\n  B: x\n").unwrap_err();
        assert!(
            matches!(err, YamlError::Syntax { line, .. } if line >= 2),
            "{err:?}"
        );
        assert_eq!(parse("").unwrap_err(), YamlError::Empty);
        assert_eq!(parse("# only a comment\n").unwrap_err(), YamlError::Empty);
    }

    #[test]
    fn expands_aliases_but_refuses_bombs() {
        let ok = parse("a: &x [1, 2]\nb: *x\n").unwrap();
        assert_eq!(ok.get("b").unwrap().items().len(), 2);
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let prev = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        assert_eq!(parse(&bomb).unwrap_err(), YamlError::AliasBomb);
    }

    #[test]
    fn refuses_unbounded_nesting() {
        let deep = "[".repeat(5000) + &"]".repeat(5000);
        assert!(parse(&deep).is_err());
    }
}
