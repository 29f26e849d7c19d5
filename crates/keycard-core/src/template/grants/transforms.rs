//! Macros and `Fn::Transform`: content inserted at deploy time, which no reading of the text can
//! see, so every place one occurs is reported as not analysable.

use super::Finder;
use crate::template::node::{Node, Value, push_pointer};

impl Finder<'_> {
    /// Macros and `Fn::Transform` change the template at deploy time.
    pub(super) fn check_transforms(&mut self) {
        let t = self.t;
        if let Some(tr) = t.root().get("Transform") {
            let names: Vec<&Node> = match tr.as_seq() {
                Some(items) => items.iter().collect(),
                None => vec![tr],
            };
            for (i, n) in names.iter().enumerate() {
                let known = n.as_str().is_some_and(|s| {
                    s.starts_with("AWS::Serverless") || s == "AWS::LanguageExtensions"
                });
                if !known {
                    let path = if tr.as_seq().is_some() {
                        format!("/Transform/{i}")
                    } else {
                        "/Transform".to_string()
                    };
                    self.not_analysable(
                        n,
                        &path,
                        &format!(
                            "transform {} rewrites the template at deploy time; its effect on grants is not analysed",
                            n.as_written()
                        ),
                    );
                }
            }
        }
        let mut found = Vec::new();
        if let Some(res) = t.root().get("Resources")
            && has_key(res, "Fn::Transform", 0)
        {
            find_key(res, "Fn::Transform", "/Resources", 0, &mut found);
        }
        for (node, path) in found {
            self.not_analysable(
                node,
                &path,
                "Fn::Transform (a macro such as AWS::Include) inserts content at deploy time; grants it produces are not analysed",
            );
        }
    }
}

/// Whether `key` appears anywhere below `node` (no allocation: the common answer is no).
fn has_key(node: &Node, key: &str, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .any(|e| e.key.text == key || has_key(&e.value, key, depth + 1)),
        Value::Seq(items) => items.iter().any(|i| has_key(i, key, depth + 1)),
        _ => false,
    }
}

fn find_key<'n>(
    node: &'n Node,
    key: &str,
    path: &str,
    depth: usize,
    out: &mut Vec<(&'n Node, String)>,
) {
    if depth > 64 {
        return;
    }
    match &node.value {
        Value::Map(entries) => {
            for e in entries {
                let p = push_pointer(path, &e.key.text);
                if e.key.text == key {
                    out.push((&e.value, p));
                } else {
                    find_key(&e.value, key, &p, depth + 1, out);
                }
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                find_key(
                    item,
                    key,
                    &push_pointer(path, &i.to_string()),
                    depth + 1,
                    out,
                );
            }
        }
        _ => {}
    }
}
