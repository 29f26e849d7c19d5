//! Lossless rewrite: change chosen nodes, keep every other byte.
//!
//! Each [`Edit`] names a node by JSON pointer (the `path` of a grant, or any pointer into the
//! template). An edit becomes one splice of the original text: the node's byte range (or an
//! insertion point) and new text rendered in the file's own style — YAML block style at the
//! node's indentation, short-form tags when the file uses them, the file's quote character and
//! line ending; JSON with the file's indentation. Comments and formatting outside the spliced
//! ranges are untouched; comments inside a replaced node go with it.
//!
//! All paths refer to the template as loaded (not to the result of earlier edits in the same
//! call); edits whose ranges overlap are refused. After splicing, the new text is parsed again
//! and its value tree compared with the original tree with the edits applied as plain JSON: any
//! difference (a quoting mistake, an indentation slip, a neighbour that moved) is an error, so a
//! rewrite that succeeds changed exactly what was asked. The design follows zizmor's
//! `yamlpatch` (route to a span, patch only that span, re-parse), extended to JSON and to
//! CloudFormation's short-form tags.
//!
//! Files: `locate` (pointer to node), `plan` (edit to splice), `render` (values in the file's
//! style), `verify` (re-parse and compare); this module holds the [`Edit`] API and applies the
//! splices.

use serde_json::Value as J;

use super::Template;
use super::error::RewriteError;
use super::node::Value;

/// One change to a template. Values are JSON with long-form intrinsics
/// (`{"Fn::GetAtt": ["Table", "Arn"]}`); they are rendered in the file's style.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Replace the node at `path`.
    ///
    /// Before (`path` = `/Resources/Role/Properties/Policies/0/PolicyDocument/Statement`):
    /// ```yaml
    ///           Statement:
    ///             - Effect: Allow
    ///               Action: 's3:*'
    ///               Resource: '*'
    /// ```
    /// After, with `[{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource":
    /// {"Fn::Sub": "${Bucket.Arn}/*"}}]`:
    /// ```yaml
    ///           Statement:
    ///             - Effect: Allow
    ///               Action:
    ///                 - s3:GetObject
    ///               Resource: !Sub ${Bucket.Arn}/*
    /// ```
    Replace { path: String, value: J },
    /// Remove the sequence item or mapping entry at `path`. Removing the last item leaves `[]`
    /// (or `{}`), never a null.
    ///
    /// Before (`path` = `/Resources/Role/Properties/ManagedPolicyArns/0`):
    /// ```yaml
    ///       ManagedPolicyArns:
    ///         - arn:aws:iam::aws:policy/AdministratorAccess   # TODO narrow
    ///         - !Ref AppPolicy
    /// ```
    /// After:
    /// ```yaml
    ///       ManagedPolicyArns:
    ///         - !Ref AppPolicy
    /// ```
    Remove { path: String },
    /// Add `key: value` at the end of the mapping at `path` (an error if the key exists).
    ///
    /// Before (`path` = `/Resources`, key `AppPolicy`):
    /// ```yaml
    /// Resources:
    ///   Role:
    ///     Type: AWS::IAM::Role
    /// Outputs: {}
    /// ```
    /// After, with `{"Type": "AWS::IAM::ManagedPolicy", "Properties": {...}}`:
    /// ```yaml
    /// Resources:
    ///   Role:
    ///     Type: AWS::IAM::Role
    ///   AppPolicy:
    ///     Type: AWS::IAM::ManagedPolicy
    ///     Properties:
    ///       ...
    /// Outputs: {}
    /// ```
    Insert { path: String, key: String, value: J },
    /// Append an item to the sequence at `path`.
    ///
    /// Before (`path` = `/Resources/Role/Properties/ManagedPolicyArns`):
    /// ```yaml
    ///       ManagedPolicyArns:
    ///         - !Ref AppPolicy
    /// ```
    /// After, with `{"Ref": "ReadPolicy"}`:
    /// ```yaml
    ///       ManagedPolicyArns:
    ///         - !Ref AppPolicy
    ///         - !Ref ReadPolicy
    /// ```
    Push { path: String, value: J },
}

impl Edit {
    pub fn replace(path: &str, value: J) -> Edit {
        Edit::Replace {
            path: path.to_string(),
            value,
        }
    }

    pub fn remove(path: &str) -> Edit {
        Edit::Remove {
            path: path.to_string(),
        }
    }

    pub fn insert(path: &str, key: &str, value: J) -> Edit {
        Edit::Insert {
            path: path.to_string(),
            key: key.to_string(),
            value,
        }
    }

    pub fn push(path: &str, value: J) -> Edit {
        Edit::Push {
            path: path.to_string(),
            value,
        }
    }

    /// A new resource at the end of `Resources`, in the file's style (a blank line before it
    /// when the file separates resources with blank lines).
    pub fn add_resource(logical_id: &str, value: J) -> Edit {
        Edit::insert("/Resources", logical_id, value)
    }

    /// The pointer this edit targets.
    pub fn path(&self) -> &str {
        match self {
            Edit::Replace { path, .. }
            | Edit::Remove { path }
            | Edit::Insert { path, .. }
            | Edit::Push { path, .. } => path,
        }
    }
}

/// A planned change of the original text.
#[derive(Debug, Clone)]
struct Splice {
    start: usize,
    end: usize,
    text: String,
    path: String,
}

pub(crate) fn apply(t: &Template, edits: &[Edit]) -> Result<String, RewriteError> {
    let edits = &coalesce_removals(t, edits);
    let mut splices = Vec::with_capacity(edits.len());
    for edit in edits {
        splices.push(plan(t, edit)?);
    }
    // Stable sort keeps the caller's order for insertions at the same point.
    splices.sort_by_key(|s| (s.start, s.end));
    for w in splices.windows(2) {
        if w[1].start < w[0].end || (w[1].start == w[0].start && w[0].end > w[0].start) {
            return Err(RewriteError::Overlap {
                file: t.name().to_string(),
                first: w[0].path.clone(),
                second: w[1].path.clone(),
            });
        }
    }
    let text = t.text();
    let mut out = String::with_capacity(text.len() + 256);
    let mut at = 0;
    for s in &splices {
        out.push_str(&text[at..s.start]);
        out.push_str(&s.text);
        at = s.end;
    }
    out.push_str(&text[at..]);
    verify(t, edits, &splices, &out)?;
    Ok(out)
}

/// Removing every item of a sequence (or entry of a mapping) in one call becomes one
/// replacement by `[]` (`{}`), so that the key never ends up with no value (a null).
fn coalesce_removals(t: &Template, edits: &[Edit]) -> Vec<Edit> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut by_parent: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for e in edits {
        if let Edit::Remove { path } = e {
            let parent = parent_pointer(path);
            let last = &path[parent.len()..];
            by_parent.entry(parent).or_default().insert(last);
        }
    }
    let mut emptied: BTreeMap<String, J> = BTreeMap::new();
    for (parent, children) in by_parent {
        let Some(node) = t.node(&parent) else {
            continue;
        };
        let (len, empty) = match &node.value {
            Value::Seq(items) => (items.len(), J::Array(Vec::new())),
            Value::Map(entries) => (entries.len(), J::Object(serde_json::Map::new())),
            _ => continue,
        };
        let all_present = children.iter().all(|c| node.pointer(c).is_some());
        if len > 0 && children.len() == len && all_present && !parent.is_empty() {
            emptied.insert(parent, empty);
        }
    }
    if emptied.is_empty() {
        return edits.to_vec();
    }
    // Items pushed onto (or keys inserted into) an emptied collection become its new content:
    // a push after the list's end and a replacement of the whole list would overlap silently
    // (`Policies: []` followed by the pushed `- Statement:` lines, which does not parse).
    let mut out: Vec<Edit> = Vec::with_capacity(edits.len());
    for e in edits {
        match e {
            Edit::Remove { path } if emptied.contains_key(&parent_pointer(path)) => {}
            Edit::Push { path, value } if matches!(emptied.get(path), Some(J::Array(_))) => {
                if let Some(J::Array(items)) = emptied.get_mut(path) {
                    items.push(value.clone());
                }
            }
            Edit::Insert { path, key, value }
                if matches!(emptied.get(path), Some(J::Object(_))) =>
            {
                if let Some(J::Object(map)) = emptied.get_mut(path) {
                    map.insert(key.clone(), value.clone());
                }
            }
            _ => out.push(e.clone()),
        }
    }
    out.extend(
        emptied
            .into_iter()
            .map(|(path, value)| Edit::Replace { path, value }),
    );
    out
}

mod locate;
mod plan;
mod render;
mod verify;

#[cfg(test)]
mod tests;

use plan::{parent_pointer, plan};
use verify::verify;
