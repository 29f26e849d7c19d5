//! The template value tree.
//!
//! Every node remembers where it came from (byte span, line:column) and how it was written
//! (quoting, block or flow, YAML tag), because the rewrite must change only the bytes of the
//! nodes it targets and render new values the way the rest of the file is written. Short-form
//! intrinsics (`!Ref X`) are normalised to the long form (`{"Ref": "X"}`) in the value while the
//! node keeps the tag, so analysis sees one shape and rendering can reproduce the other.

use serde::Serialize;

/// A byte range `[start, end)` into the template text (the text as given, BOM included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// A position for people: 1-based line, 1-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// How a node was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// Unquoted YAML scalar, or a JSON number/boolean/null.
    Plain,
    SingleQuoted,
    /// Double-quoted YAML scalar, or any JSON string.
    DoubleQuoted,
    /// YAML `|` block scalar.
    Literal,
    /// YAML `>` block scalar.
    Folded,
    /// YAML block collection (indentation-based).
    Block,
    /// YAML flow collection (`[..]`, `{..}`) or any JSON array/object.
    Flow,
}

/// A value of the tree. Numbers keep their spelling so that nothing is reformatted by accident.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A mapping key (always a scalar in CloudFormation) with its own location.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub text: String,
    pub span: Span,
    pub pos: Pos,
}

/// One `key: value` pair; order is kept as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Key,
    pub value: Node,
}

/// A node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    /// Bytes of the node as written, tag and anchor included, trailing blanks and comments
    /// excluded. For an empty (null) mapping value this is an empty span at the key.
    pub span: Span,
    pub pos: Pos,
    pub style: Style,
    /// The tag as written (`!Ref`, `!!str`, `!MyTag`); `None` for untagged and JSON nodes.
    pub tag: Option<String>,
    /// Whether this node is an expanded `*alias` (its span is the alias text).
    pub alias: bool,
}

/// Intrinsic functions CloudFormation recognises as single-key mappings.
pub(crate) fn is_intrinsic_key(key: &str) -> bool {
    key == "Ref" || key == "Condition" || key.starts_with("Fn::")
}

impl Node {
    pub(crate) fn new(value: Value, span: Span, pos: Pos, style: Style) -> Self {
        Node {
            value,
            span,
            pos,
            style,
            tag: None,
            alias: false,
        }
    }

    /// The value of `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// The entry of `key` when this node is a mapping (the last one if the key is duplicated,
    /// as YAML loaders keep the last value).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().rev().find(|e| e.key.text == key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// `Some((name, argument))` when the node is an intrinsic function call, in either form.
    pub fn intrinsic(&self) -> Option<(&str, &Node)> {
        match &self.value {
            Value::Map(entries) if entries.len() == 1 => {
                let e = &entries[0];
                is_intrinsic_key(&e.key.text).then_some((e.key.text.as_str(), &e.value))
            }
            _ => None,
        }
    }

    /// Whether the node is `{"Ref": "AWS::NoValue"}`.
    pub fn is_no_value(&self) -> bool {
        matches!(self.intrinsic(), Some(("Ref", arg)) if arg.as_str() == Some("AWS::NoValue"))
    }

    /// Whether this node was written as a YAML short-form intrinsic (`!Ref`, `!Sub`, ...).
    pub fn is_short_form(&self) -> bool {
        self.tag.as_deref().is_some_and(|t| {
            crate::template::intrinsics::long_name(t.trim_start_matches('!')).is_some()
        }) && self.intrinsic().is_some()
    }

    /// The node at a JSON-pointer path (`/Resources/Role/Properties/Policies/0`), relative to
    /// this node. `~1` and `~0` escapes are honoured.
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        let mut node = self;
        for token in split_pointer(pointer)? {
            node = node.child(&token)?;
        }
        Some(node)
    }

    /// The child named by one pointer token: a key of a mapping, an index of a sequence.
    pub fn child(&self, token: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(_) => self.get(token),
            Value::Seq(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
    }

    /// The value as JSON, intrinsics in long form. Unknown tags are dropped (the tagged value is
    /// kept), numbers that JSON cannot hold become strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => number_to_json(n),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => {
                let mut map = serde_json::Map::with_capacity(entries.len());
                for e in entries {
                    map.insert(e.key.text.clone(), e.value.to_json());
                }
                J::Object(map)
            }
        }
    }

    /// Compact JSON of the node, or the plain text for a string: the "as written" rendering
    /// used in grant records (`arn:aws:s3:::b/*`, `{"Fn::GetAtt":["Table","Arn"]}`).
    pub fn as_written(&self) -> String {
        match &self.value {
            Value::String(s) => s.clone(),
            _ => self.to_json().to_string(),
        }
    }

    /// Number of nodes in this subtree (used for the alias expansion limit).
    pub(crate) fn count(&self) -> usize {
        1 + match &self.value {
            Value::Seq(items) => items.iter().map(Node::count).sum(),
            Value::Map(entries) => entries.iter().map(|e| 1 + e.value.count()).sum(),
            _ => 0,
        }
    }
}

/// Converts a number as written into JSON; YAML spellings JSON lacks (`0x1F`, `.inf`) stay text.
pub(crate) fn number_to_json(n: &str) -> serde_json::Value {
    if let Ok(i) = n.parse::<i64>() {
        return serde_json::Value::from(i);
    }
    if let Ok(u) = n.parse::<u64>() {
        return serde_json::Value::from(u);
    }
    if let Ok(f) = n.parse::<f64>()
        && let Some(num) = serde_json::Number::from_f64(f)
    {
        return serde_json::Value::Number(num);
    }
    serde_json::Value::String(n.to_string())
}

/// Splits a JSON pointer into unescaped tokens; `None` when it does not start with `/`
/// (the empty pointer is the root).
pub fn split_pointer(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// Appends one token to a JSON pointer, escaping `~` and `/`.
pub fn push_pointer(pointer: &str, token: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + token.len() + 1);
    out.push_str(pointer);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_escapes_round_trip() {
        let p = push_pointer("/Resources", "a/b~c");
        assert_eq!(p, "/Resources/a~1b~0c");
        assert_eq!(
            split_pointer(&p),
            Some(vec!["Resources".to_string(), "a/b~c".to_string()])
        );
        assert_eq!(split_pointer("Resources"), None);
        assert_eq!(split_pointer(""), Some(vec![]));
    }

    #[test]
    fn numbers_keep_json_shape() {
        assert_eq!(number_to_json("12"), serde_json::json!(12));
        assert_eq!(number_to_json("1.5"), serde_json::json!(1.5));
        assert_eq!(number_to_json("0x1F"), serde_json::json!("0x1F"));
    }
}
