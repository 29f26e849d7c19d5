//! From a JSON pointer to the node it names, with its parent and its place in the parent: what
//! every edit needs before it can choose a byte range. Aliases are refused on the way down, so
//! an edit never changes an anchored original (and every other alias of it) by accident.

use crate::template::Template;
use crate::template::error::RewriteError;
use crate::template::node::{Node, Value, split_pointer};

#[derive(Clone, Copy)]
pub(super) enum Slot {
    Root,
    /// Value of entry `i` of a mapping.
    Entry(usize),
    /// Item `i` of a sequence.
    Item(usize),
}

pub(super) struct Located<'a> {
    pub(super) node: &'a Node,
    pub(super) parent: Option<&'a Node>,
    pub(super) slot: Slot,
}

pub(super) fn locate<'a>(t: &'a Template, path: &str) -> Result<Located<'a>, RewriteError> {
    let no_node = || RewriteError::NoSuchNode {
        file: t.name().to_string(),
        path: path.to_string(),
    };
    let tokens = split_pointer(path).ok_or_else(no_node)?;
    let mut node = t.root();
    let mut parent = None;
    let mut slot = Slot::Root;
    // Descending through an alias would edit the anchored original (and every other alias of
    // it); replacing or removing the alias node itself is fine.
    for token in &tokens {
        if node.alias {
            return Err(RewriteError::Alias {
                file: t.name().to_string(),
                path: path.to_string(),
            });
        }
        let (child, s) = match &node.value {
            Value::Map(entries) => {
                let i = entries
                    .iter()
                    .rposition(|e| &e.key.text == token)
                    .ok_or_else(no_node)?;
                (&entries[i].value, Slot::Entry(i))
            }
            Value::Seq(items) => {
                let i = token.parse::<usize>().map_err(|_| no_node())?;
                (items.get(i).ok_or_else(no_node)?, Slot::Item(i))
            }
            _ => return Err(no_node()),
        };
        parent = Some(node);
        node = child;
        slot = s;
    }
    Ok(Located { node, parent, slot })
}

pub(super) fn kind_name(n: &Node) -> &'static str {
    match n.value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Seq(_) => "a sequence",
        Value::Map(_) => "a mapping",
    }
}
