//! A read-only view of a template for the rules: every node with the range it covers in the
//! file, so a finding can point code-scanning tools at the exact line.
//!
//! Templates are loaded by the template engine (`crate::template`: YAML and JSON, short-form
//! intrinsics in long form, anchors with a limit, duplicate keys rejected); this module only
//! turns its tree into start/end positions and the few accessors the rules use, and builds the
//! same view for policy documents that a template holds as JSON strings.

pub use crate::template::Pos;
use crate::template::{self, Template};

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
    /// A scalar (string, number, boolean; null is the empty string) as text.
    Scalar {
        value: String,
    },
    Seq(Vec<Node>),
    /// Key/value pairs in file order; keys keep their own positions.
    Map(Vec<(String, Pos, Node)>),
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
        let scalar = |value: String| Kind::Scalar { value };
        let kind = match value {
            serde_json::Value::Null => scalar(String::new()),
            serde_json::Value::Bool(b) => scalar(b.to_string()),
            serde_json::Value::Number(n) => scalar(n.to_string()),
            serde_json::Value::String(s) => scalar(s.clone()),
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

impl Node {
    /// The view of one node of a loaded template (and, recursively, its children).
    pub fn from_template(node: &template::Node, tpl: &Template) -> Node {
        let start = node.pos;
        let end = tpl.pos(node.span.end);
        let scalar = |value: String| Kind::Scalar { value };
        let kind = match &node.value {
            template::Value::Null => scalar(String::new()),
            template::Value::Bool(b) => scalar(b.to_string()),
            template::Value::Number(n) => scalar(n.clone()),
            template::Value::String(s) => scalar(s.clone()),
            template::Value::Seq(items) => {
                Kind::Seq(items.iter().map(|n| Node::from_template(n, tpl)).collect())
            }
            template::Value::Map(entries) => Kind::Map(
                entries
                    .iter()
                    .map(|e| {
                        (
                            e.key.text.clone(),
                            e.key.pos,
                            Node::from_template(&e.value, tpl),
                        )
                    })
                    .collect(),
            ),
        };
        Node { kind, start, end }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(text: &str) -> Node {
        let tpl = Template::load("t.yaml", text).unwrap();
        Node::from_template(tpl.root(), &tpl)
    }

    #[test]
    fn keeps_positions_and_long_forms_of_short_tags() {
        let root = view(
            "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: !Sub '${AWS::StackName}-api'\n      Arn: !GetAtt Bucket.Arn\n",
        );
        let role = root.get("Resources").unwrap().get("Role").unwrap();
        let ty = role.get("Type").unwrap();
        assert_eq!(ty.as_str(), Some("AWS::IAM::Role"));
        assert_eq!(
            ty.start,
            Pos {
                line: 3,
                column: 11
            }
        );
        assert_eq!(
            ty.end,
            Pos {
                line: 3,
                column: 25
            }
        );
        let name = role.get("Properties").unwrap().get("RoleName").unwrap();
        let (f, arg) = name.intrinsic().unwrap();
        assert_eq!(f, "Fn::Sub");
        assert_eq!(arg.as_str(), Some("${AWS::StackName}-api"));
        assert_eq!(name.start.line, 5);
        let (f, _) = role
            .get("Properties")
            .unwrap()
            .get("Arn")
            .unwrap()
            .intrinsic()
            .unwrap();
        assert_eq!(f, "Fn::GetAtt");
    }

    #[test]
    fn reads_json_with_positions() {
        let root =
            view("{\n  \"Resources\": {\n    \"R\": {\"Type\": \"AWS::IAM::Policy\"}\n  }\n}\n");
        let r = root.get("Resources").unwrap().get("R").unwrap();
        assert_eq!(
            r.get("Type").unwrap().start,
            Pos {
                line: 3,
                column: 19
            }
        );
    }

    #[test]
    fn json_string_documents_sit_at_the_string() {
        let at = Pos { line: 7, column: 3 };
        let end = Pos {
            line: 7,
            column: 40,
        };
        let value =
            serde_json::json!({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"]}]});
        let node = Node::from_json(&value, at, end);
        let action = &node.get("Statement").unwrap().items()[0]
            .get("Action")
            .unwrap()
            .items()[0];
        assert_eq!(action.as_str(), Some("s3:GetObject"));
        assert_eq!((action.start, action.end), (at, end));
    }
}
