//! YAML short-form intrinsic functions (`!Ref`, `!GetAtt A.B`, `!Sub`, ...).
//!
//! CloudFormation accepts `!Name arg` as a spelling of `{"Fn::Name": arg}` (`Ref` and
//! `Condition` keep their names). The loader normalises every short form it knows to the long
//! form so that analysis deals with one shape, and leaves any other tag on the node unchanged
//! (an opaque value, not an error: a template might be processed by a tool that knows it).

use super::node::{Entry, Key, Node, Value};

/// Short-form tag name (without `!`) → long-form key.
const SHORT_FORMS: &[(&str, &str)] = &[
    ("Ref", "Ref"),
    ("Condition", "Condition"),
    ("Sub", "Fn::Sub"),
    ("GetAtt", "Fn::GetAtt"),
    ("If", "Fn::If"),
    ("Join", "Fn::Join"),
    ("Select", "Fn::Select"),
    ("Split", "Fn::Split"),
    ("FindInMap", "Fn::FindInMap"),
    ("ImportValue", "Fn::ImportValue"),
    ("Base64", "Fn::Base64"),
    ("Cidr", "Fn::Cidr"),
    ("GetAZs", "Fn::GetAZs"),
    ("Equals", "Fn::Equals"),
    ("And", "Fn::And"),
    ("Or", "Fn::Or"),
    ("Not", "Fn::Not"),
    ("Transform", "Fn::Transform"),
    ("Length", "Fn::Length"),
    ("ToJsonString", "Fn::ToJsonString"),
];

/// The long-form key of a short-form tag name (`"GetAtt"` → `"Fn::GetAtt"`).
pub fn long_name(short: &str) -> Option<&'static str> {
    SHORT_FORMS
        .iter()
        .find(|(s, _)| *s == short)
        .map(|(_, l)| *l)
}

/// The short-form tag name of a long-form key (`"Fn::GetAtt"` → `"GetAtt"`).
pub fn short_name(long: &str) -> Option<&'static str> {
    SHORT_FORMS
        .iter()
        .find(|(_, l)| *l == long)
        .map(|(s, _)| *s)
}

/// Wraps `inner` (the tagged value as parsed) into the long-form mapping when `tag` is a known
/// short form; otherwise returns it with the tag recorded.
pub(crate) fn apply_tag(tag: String, mut inner: Node) -> Node {
    let short = tag.strip_prefix('!').filter(|s| !s.starts_with('!'));
    let Some(long) = short.and_then(long_name) else {
        inner.tag = Some(tag);
        return inner;
    };
    // `!GetAtt Resource.Attribute`: split at the first dot; attributes may contain dots
    // (`!GetAtt Db.Endpoint.Address`).
    if long == "Fn::GetAtt"
        && let Value::String(s) = &inner.value
        && let Some((resource, attribute)) = s.split_once('.')
    {
        let part = |text: &str| {
            Node::new(
                Value::String(text.to_string()),
                inner.span,
                inner.pos,
                inner.style,
            )
        };
        inner.value = Value::Seq(vec![part(resource), part(attribute)]);
    }
    let span = inner.span;
    let pos = inner.pos;
    let style = inner.style;
    let key = Key {
        text: long.to_string(),
        span,
        pos,
    };
    let mut node = Node::new(
        Value::Map(vec![Entry { key, value: inner }]),
        span,
        pos,
        style,
    );
    node.tag = Some(tag);
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::node::{Pos, Span, Style};

    fn scalar(s: &str) -> Node {
        Node::new(
            Value::String(s.to_string()),
            Span::new(0, s.len()),
            Pos { line: 1, column: 1 },
            Style::Plain,
        )
    }

    #[test]
    fn getatt_dotted_splits_at_first_dot() {
        let n = apply_tag("!GetAtt".into(), scalar("Db.Endpoint.Address"));
        assert_eq!(
            n.to_json(),
            serde_json::json!({"Fn::GetAtt": ["Db", "Endpoint.Address"]})
        );
        assert!(n.is_short_form());
    }

    #[test]
    fn unknown_tag_is_kept_opaque() {
        let n = apply_tag("!Custom".into(), scalar("x"));
        assert_eq!(n.to_json(), serde_json::json!("x"));
        assert_eq!(n.tag.as_deref(), Some("!Custom"));
        assert!(!n.is_short_form());
    }

    #[test]
    fn every_short_form_round_trips_names() {
        for (s, l) in SHORT_FORMS {
            assert_eq!(long_name(s), Some(*l));
            assert_eq!(short_name(l), Some(*s));
        }
    }
}
