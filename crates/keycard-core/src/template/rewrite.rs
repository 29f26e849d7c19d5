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

use serde_json::Value as J;

use super::error::RewriteError;
use super::intrinsics::short_name;
use super::node::{Node, Style, Value, push_pointer, split_pointer};
use super::yaml::looks_numeric;
use super::{Format, LoadOptions, SourceStyle, Template};

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

// ---------------------------------------------------------------------------------------------
// Locating nodes

#[derive(Clone, Copy)]
enum Slot {
    Root,
    /// Value of entry `i` of a mapping.
    Entry(usize),
    /// Item `i` of a sequence.
    Item(usize),
}

struct Located<'a> {
    node: &'a Node,
    parent: Option<&'a Node>,
    slot: Slot,
}

fn locate<'a>(t: &'a Template, path: &str) -> Result<Located<'a>, RewriteError> {
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

fn kind_name(n: &Node) -> &'static str {
    match n.value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Seq(_) => "a sequence",
        Value::Map(_) => "a mapping",
    }
}

// ---------------------------------------------------------------------------------------------
// Planning splices

fn plan(t: &Template, edit: &Edit) -> Result<Splice, RewriteError> {
    match edit {
        Edit::Replace { path, value } => {
            let loc = locate(t, path)?;
            if matches!(loc.slot, Slot::Root) {
                return Err(wrong(t, path, "a node below the root", "the root"));
            }
            Ok(replace(t, path, &loc, value))
        }
        Edit::Remove { path } => {
            let loc = locate(t, path)?;
            remove(t, path, &loc)
        }
        Edit::Insert { path, key, value } => {
            let loc = locate(t, path)?;
            refuse_alias(t, path, loc.node)?;
            if loc.node.get(key).is_some() {
                return Err(RewriteError::KeyExists {
                    file: t.name().to_string(),
                    path: path.clone(),
                    key: key.clone(),
                });
            }
            insert(t, path, &loc, key, value)
        }
        Edit::Push { path, value } => {
            let loc = locate(t, path)?;
            refuse_alias(t, path, loc.node)?;
            push(t, path, &loc, value)
        }
    }
}

fn refuse_alias(t: &Template, path: &str, node: &Node) -> Result<(), RewriteError> {
    if node.alias {
        return Err(RewriteError::Alias {
            file: t.name().to_string(),
            path: path.to_string(),
        });
    }
    Ok(())
}

fn wrong(t: &Template, path: &str, expected: &'static str, found: &'static str) -> RewriteError {
    RewriteError::WrongKind {
        file: t.name().to_string(),
        path: path.to_string(),
        expected,
        found,
    }
}

fn splice(start: usize, end: usize, text: String, path: &str) -> Splice {
    Splice {
        start,
        end,
        text,
        path: path.to_string(),
    }
}

/// Column (0-based, in characters) of a byte offset.
fn col(t: &Template, offset: usize) -> usize {
    t.pos(offset).column.saturating_sub(1)
}

/// Whether a node sits inside a flow collection (or is one), where block rendering is invalid.
fn in_flow(parent: Option<&Node>) -> bool {
    parent.is_some_and(|p| p.style == Style::Flow)
}

fn replace(t: &Template, path: &str, loc: &Located<'_>, value: &J) -> Splice {
    let node = loc.node;
    let style = t.style();
    if t.format() == Format::Json {
        let base = line_indent(t, node.span.start);
        let single_line = !t.source(node).contains('\n') && is_collection(node);
        let text = if single_line || !t.text().contains('\n') {
            json_inline(value)
        } else {
            json_pretty(value, &base, style)
        };
        return splice(node.span.start, node.span.end, text, path);
    }
    let r = YamlRenderer { style };
    if in_flow(loc.parent) {
        return splice(node.span.start, node.span.end, r.flow(value), path);
    }
    match (loc.slot, loc.parent) {
        (Slot::Entry(i), Some(parent)) => {
            let key = parent.as_map().map(|e| &e[i].key);
            if let Some(key) = key
                && let Some(colon_end) = colon_after(t.text(), key.span.end)
            {
                let between = t.text().get(colon_end..node.span.start).unwrap_or("");
                if node.span.start < colon_end || !between.contains('#') {
                    let mut out = String::new();
                    r.after_key(value, col(t, key.span.start), &mut out);
                    return splice(colon_end, node.span.end.max(colon_end), out, path);
                }
            }
            let mut out = String::new();
            r.standalone(value, col(t, node.span.start), &mut out);
            splice(node.span.start, node.span.end, out, path)
        }
        _ => {
            let mut out = String::new();
            r.in_seq(value, col(t, node.span.start), &mut out);
            let text = out.strip_prefix(' ').unwrap_or(&out).to_string();
            splice(node.span.start, node.span.end, text, path)
        }
    }
}

fn is_collection(n: &Node) -> bool {
    matches!(n.value, Value::Seq(_) | Value::Map(_))
}

/// The parent of `path` with the entry or item removed, re-rendered: the fallback for layouts
/// where a line-based removal is not safe (`- - a`, `- Key: v` first keys).
fn remove_by_rerender(
    t: &Template,
    path: &str,
    loc: &Located<'_>,
    parent_path: &str,
) -> Result<Splice, RewriteError> {
    let Some(parent) = loc.parent else {
        return Err(wrong(
            t,
            path,
            "a sequence item or mapping entry",
            "the root",
        ));
    };
    let mut value = parent.to_json();
    match (&mut value, loc.slot) {
        (J::Array(items), Slot::Item(i)) if i < items.len() => {
            items.remove(i);
        }
        (J::Object(map), Slot::Entry(i)) => {
            if let Some(key) = parent.as_map().and_then(|e| e.get(i)).map(|e| &e.key.text) {
                map.shift_remove(key);
            }
        }
        _ => {
            return Err(wrong(
                t,
                path,
                "a sequence item or mapping entry",
                "the root",
            ));
        }
    }
    let ploc = locate(t, parent_path)?;
    if matches!(ploc.slot, Slot::Root) {
        return Err(wrong(t, path, "a node below the root", "the root"));
    }
    Ok(replace(t, path, &ploc, &value))
}

fn parent_pointer(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => path[..i].to_string(),
        None => String::new(),
    }
}

fn remove(t: &Template, path: &str, loc: &Located<'_>) -> Result<Splice, RewriteError> {
    let Some(parent) = loc.parent else {
        return Err(wrong(
            t,
            path,
            "a sequence item or mapping entry",
            "the root",
        ));
    };
    let parent_path = parent_pointer(path);
    let parent_token = &parent_path[parent_pointer(&parent_path).len()..];
    if parent_token.starts_with("/Fn::") || parent_token == "/Ref" {
        // Removing an argument breaks the function (`Fn::If` needs exactly three).
        return Err(wrong(
            t,
            path,
            "a list item or mapping entry (for an Fn::If branch, replace it with {\"Ref\": \"AWS::NoValue\"})",
            "an intrinsic function argument",
        ));
    }
    let text = t.text();
    // (start of this element incl. key, end of its value, siblings' bounds)
    let (elem_start, count, index) = match (loc.slot, &parent.value) {
        (Slot::Item(i), Value::Seq(items)) => (items[i].span.start, items.len(), i),
        (Slot::Entry(i), Value::Map(entries)) => (entries[i].key.span.start, entries.len(), i),
        _ => {
            return Err(wrong(
                t,
                path,
                "a sequence item or mapping entry",
                "the root",
            ));
        }
    };
    let elem_end = loc.node.span.end.max(elem_start);
    if count == 1 {
        // Never leave `Key:` with nothing (a null): an empty collection says what is meant.
        return remove_by_rerender(t, path, loc, &parent_path);
    }
    if parent.style == Style::Flow {
        let bounds = |j: usize| match &parent.value {
            Value::Seq(items) => (items[j].span.start, items[j].span.end),
            Value::Map(entries) => (entries[j].key.span.start, entries[j].value.span.end),
            _ => (0, 0),
        };
        return Ok(if index == 0 {
            splice(elem_start, bounds(1).0, String::new(), path)
        } else {
            splice(bounds(index - 1).1, elem_end, String::new(), path)
        });
    }
    // Block style: remove whole lines when the element owns them.
    let own_start = match loc.slot {
        Slot::Item(_) => dash_before(text, elem_start),
        _ => Some(elem_start),
    };
    // The line is the one of the `-`: an item may start on the line after its dash (`-\n  Key:`).
    let line_start = own_start.map(|s| (t.lines().line_start(s), s));
    match line_start {
        Some((line_start, s)) if text[line_start..s].trim().is_empty() => {
            let end = line_end_incl(text, elem_end);
            Ok(splice(line_start, end, String::new(), path))
        }
        _ => remove_by_rerender(t, path, loc, &parent_path),
    }
}

fn insert(
    t: &Template,
    path: &str,
    loc: &Located<'_>,
    key: &str,
    value: &J,
) -> Result<Splice, RewriteError> {
    let node = loc.node;
    let style = t.style();
    let text = t.text();
    let entries = match &node.value {
        Value::Map(e) => e,
        Value::Null => {
            // `Properties:` with nothing: the mapping is created.
            let mut map = serde_json::Map::new();
            map.insert(key.to_string(), value.clone());
            return Ok(replace(t, path, loc, &J::Object(map)));
        }
        _ => return Err(wrong(t, path, "a mapping", kind_name(node))),
    };
    let Some(last) = entries.last() else {
        let mut map = serde_json::Map::new();
        map.insert(key.to_string(), value.clone());
        return Ok(replace(t, path, loc, &J::Object(map)));
    };
    let nl = &style.newline;
    if t.format() == Format::Json || node.style == Style::Flow {
        let at = last.value.span.end;
        let key_json = J::String(key.to_string()).to_string();
        let multi_line = t.source(node).contains('\n');
        let out = if t.format() == Format::Json && multi_line {
            let indent = line_indent(t, last.key.span.start);
            format!(
                ",{nl}{indent}{key_json}: {}",
                json_pretty(value, &indent, style)
            )
        } else if t.format() == Format::Json {
            format!(", {key_json}: {}", json_inline(value))
        } else {
            let r = YamlRenderer { style };
            format!(", {}: {}", r.flow_string(key), r.flow(value))
        };
        return Ok(splice(at, at, out, path));
    }
    let r = YamlRenderer { style };
    let key_col = col(t, entries[0].key.span.start);
    // New lines go after the line break of the last entry, so that an edit of that entry (even
    // one removing its lines) never overlaps the insertion.
    let (at, mut out) = after_last_line(text, last.value.span.end.max(last.key.span.end), nl);
    if path == "/Resources" && style.blank_between_resources {
        out.push_str(nl);
    }
    out.push_str(&" ".repeat(key_col));
    out.push_str(&r.key(key));
    out.push(':');
    r.after_key(value, key_col, &mut out);
    finish_line(text, at, nl, &mut out);
    Ok(splice(at, at, out, path))
}

fn push(t: &Template, path: &str, loc: &Located<'_>, value: &J) -> Result<Splice, RewriteError> {
    let node = loc.node;
    let style = t.style();
    let text = t.text();
    let items = match &node.value {
        Value::Seq(items) => items,
        Value::Null => return Ok(replace(t, path, loc, &J::Array(vec![value.clone()]))),
        _ => return Err(wrong(t, path, "a sequence", kind_name(node))),
    };
    let Some(last) = items.last() else {
        return Ok(replace(t, path, loc, &J::Array(vec![value.clone()])));
    };
    let nl = &style.newline;
    if t.format() == Format::Json || node.style == Style::Flow {
        let at = last.span.end;
        let out = if t.format() == Format::Json && t.source(node).contains('\n') {
            let indent = line_indent(t, last.span.start);
            format!(",{nl}{indent}{}", json_pretty(value, &indent, style))
        } else if t.format() == Format::Json {
            format!(", {}", json_inline(value))
        } else {
            format!(", {}", YamlRenderer { style }.flow(value))
        };
        return Ok(splice(at, at, out, path));
    }
    let Some(dash) = dash_before(text, items[0].span.start) else {
        let mut all = node.to_json();
        if let J::Array(a) = &mut all {
            a.push(value.clone());
        }
        return Ok(replace(t, path, loc, &all));
    };
    let dash_col = col(t, dash);
    let r = YamlRenderer { style };
    let (at, mut out) = after_last_line(text, last.span.end, nl);
    out.push_str(&" ".repeat(dash_col));
    out.push('-');
    r.in_seq(value, dash_col + 2, &mut out);
    finish_line(text, at, nl, &mut out);
    Ok(splice(at, at, out, path))
}

// ---------------------------------------------------------------------------------------------
// Text helpers

/// Byte offset just after the `:` that follows a block mapping key.
fn colon_after(text: &str, key_end: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = key_end;
    while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
        i += 1;
    }
    (bytes.get(i) == Some(&b':')).then_some(i + 1)
}

/// The `-` indicator before a block sequence item's content, if only blanks separate them.
fn dash_before(text: &str, item_start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = item_start;
    while i > 0 {
        i -= 1;
        match bytes[i] {
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            b'-' => return Some(i),
            _ => return None,
        }
    }
    None
}

/// Insertion point at the start of the line after `offset`, and the text to begin with: nothing,
/// or a line break when the file ends without one.
fn after_last_line(text: &str, offset: usize, nl: &str) -> (usize, String) {
    let at = line_end_incl(text, offset);
    let mut out = String::new();
    if at == text.len() && !text.ends_with('\n') {
        out.push_str(nl);
    }
    (at, out)
}

/// Ends an inserted block with a line break unless it is the file's unterminated last line.
fn finish_line(text: &str, at: usize, nl: &str, out: &mut String) {
    if at < text.len() || text.ends_with('\n') {
        out.push_str(nl);
    }
}

/// End of the line holding `offset`, after its line break.
fn line_end_incl(text: &str, offset: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = offset.min(bytes.len());
    while i < bytes.len() && bytes[i] != b'\n' {
        i += 1;
    }
    (i + 1).min(bytes.len())
}

/// Leading blanks of the line holding `offset`.
fn line_indent(t: &Template, offset: usize) -> String {
    let start = t.lines().line_start(offset);
    t.text()[start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// JSON on one line with `, ` and `: ` separators (JSON is valid YAML flow syntax).
pub(crate) fn json_inline(v: &J) -> String {
    let mut out = String::new();
    inline_into(v, &mut out);
    out
}

fn inline_into(v: &J, out: &mut String) {
    match v {
        J::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                inline_into(item, out);
            }
            out.push(']');
        }
        J::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&J::String(k.clone()).to_string());
                out.push_str(": ");
                inline_into(item, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Pretty JSON whose continuation lines start at `base` and nest by the file's indent.
fn json_pretty(v: &J, base: &str, style: &SourceStyle) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(style.indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    if v.serialize(&mut ser).is_err() {
        return json_inline(v);
    }
    let pretty = String::from_utf8(buf).unwrap_or_else(|_| json_inline(v));
    let sep = format!("{}{base}", style.newline);
    pretty.replace('\n', &sep)
}

struct YamlRenderer<'a> {
    style: &'a SourceStyle,
}

impl YamlRenderer<'_> {
    fn nl(&self, col: usize, out: &mut String) {
        out.push_str(&self.style.newline);
        for _ in 0..col {
            out.push(' ');
        }
    }

    fn unit(&self) -> usize {
        self.style.indent.len().max(1)
    }

    /// `Some((tag, argument))` when `v` should be written as a short-form intrinsic.
    fn short<'v>(&self, v: &'v J) -> Option<(&'static str, &'v J)> {
        if !self.style.short_form {
            return None;
        }
        let J::Object(map) = v else { return None };
        if map.len() != 1 {
            return None;
        }
        let (k, arg) = map.iter().next()?;
        let name = short_name(k)?;
        // `Ref` and `Condition` are intrinsics only with a string argument (a policy's
        // `Condition` block is a mapping).
        if matches!(name, "Ref" | "Condition") && !arg.is_string() {
            return None;
        }
        Some((name, arg))
    }

    /// A value that fits on the current line, if `v` is one.
    fn inline(&self, v: &J) -> Option<String> {
        match v {
            J::Null => Some("null".to_string()),
            J::Bool(b) => Some(b.to_string()),
            J::Number(n) => Some(n.to_string()),
            J::String(s) if literal_ok(s) => None,
            J::String(s) => Some(self.string(s)),
            J::Array(a) if a.is_empty() => Some("[]".to_string()),
            J::Object(m) if m.is_empty() => Some("{}".to_string()),
            _ => {
                let (name, arg) = self.short(v)?;
                if name == "GetAtt"
                    && let J::Array(parts) = arg
                    && let [J::String(res), J::String(att)] = parts.as_slice()
                    && !res.contains('.')
                    && plain_ok(res)
                    && plain_ok(att)
                {
                    return Some(format!("!GetAtt {res}.{att}"));
                }
                let arg = self.inline(arg)?;
                Some(format!("!{name} {arg}"))
            }
        }
    }

    /// A multi-line string as a literal block scalar (`|`), content at column `col`.
    fn literal(&self, s: &str, col: usize, out: &mut String) {
        out.push_str(" |");
        let body = s.trim_end_matches('\n');
        match s.len() - body.len() {
            0 => out.push('-'),
            1 => {}
            _ => out.push('+'),
        }
        for line in body.split('\n') {
            if line.is_empty() {
                out.push_str(&self.style.newline);
            } else {
                self.nl(col, out);
                out.push_str(line);
            }
        }
        // Kept (`|+`) trailing line breaks beyond the first are written as empty lines.
        for _ in 1..(s.len() - body.len()) {
            out.push_str(&self.style.newline);
        }
    }

    /// What follows `key:` for a key at column `key_col`.
    fn after_key(&self, v: &J, key_col: usize, out: &mut String) {
        if let Some(s) = self.inline(v) {
            out.push(' ');
            out.push_str(&s);
            return;
        }
        if let J::String(s) = v {
            self.literal(s, key_col + self.unit(), out);
            return;
        }
        if let Some((name, arg)) = self.short(v) {
            out.push_str(" !");
            out.push_str(name);
            if let J::String(s) = arg {
                self.literal(s, key_col + self.unit(), out);
                return;
            }
            self.nl(key_col + self.unit(), out);
            self.block(arg, key_col + self.unit(), out);
            return;
        }
        match v {
            J::Array(_) => {
                let c = key_col + self.style.seq_indent;
                self.nl(c, out);
                self.block(v, c, out);
            }
            _ => {
                let c = key_col + self.unit();
                self.nl(c, out);
                self.block(v, c, out);
            }
        }
    }

    /// What follows a `-` whose content starts at column `col`.
    fn in_seq(&self, v: &J, col: usize, out: &mut String) {
        if let J::String(s) = v
            && literal_ok(s)
        {
            self.literal(s, col, out);
            return;
        }
        out.push(' ');
        if let Some(s) = self.inline(v) {
            out.push_str(&s);
            return;
        }
        if let Some((name, arg)) = self.short(v) {
            out.push('!');
            out.push_str(name);
            if let J::String(s) = arg {
                self.literal(s, col, out);
                return;
            }
            self.nl(col, out);
            self.block(arg, col, out);
            return;
        }
        self.block(v, col, out);
    }

    /// YAML flow style (inside `[..]`/`{..}`): plain scalars where safe, short-form tags when
    /// the file uses them.
    fn flow(&self, v: &J) -> String {
        match v {
            J::String(s) => self.flow_string(s),
            J::Array(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| self.flow(i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            J::Object(map) => {
                if let Some((name, arg)) = self.short(v) {
                    if name == "GetAtt"
                        && let Some(s) = self.inline(v)
                        && !s.contains(['[', ']', '{', '}', ','])
                    {
                        return s;
                    }
                    return format!("!{name} {}", self.flow(arg));
                }
                format!(
                    "{{{}}}",
                    map.iter()
                        .map(|(k, v)| format!("{}: {}", self.flow_string(k), self.flow(v)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            other => other.to_string(),
        }
    }

    fn flow_string(&self, s: &str) -> String {
        if plain_ok(s) && !s.contains(['[', ']', '{', '}', ',']) {
            s.to_string()
        } else if s.chars().any(|c| c.is_control() || needs_escape(c)) {
            double_quoted(s)
        } else {
            self.quoted(s)
        }
    }

    /// A value on a line of its own at column `col` (the cursor is already there).
    fn standalone(&self, v: &J, col: usize, out: &mut String) {
        let mut s = String::new();
        self.in_seq(v, col, &mut s);
        out.push_str(s.strip_prefix(' ').unwrap_or(&s));
    }

    /// A block collection whose first line starts at the cursor, at column `col`.
    fn block(&self, v: &J, col: usize, out: &mut String) {
        match v {
            J::Array(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.nl(col, out);
                    }
                    out.push('-');
                    self.in_seq(item, col + 2, out);
                }
            }
            J::Object(map) if !map.is_empty() => {
                for (i, (k, item)) in map.iter().enumerate() {
                    if i > 0 {
                        self.nl(col, out);
                    }
                    out.push_str(&self.key(k));
                    out.push(':');
                    self.after_key(item, col, out);
                }
            }
            other => {
                if let Some(s) = self.inline(other) {
                    out.push_str(&s);
                }
            }
        }
    }

    fn key(&self, k: &str) -> String {
        if plain_ok(k) {
            k.to_string()
        } else {
            self.quoted(k)
        }
    }

    fn string(&self, s: &str) -> String {
        if plain_ok(s) {
            s.to_string()
        } else {
            self.quoted(s)
        }
    }

    fn quoted(&self, s: &str) -> String {
        let needs_escapes = s.chars().any(|c| c.is_control() || needs_escape(c));
        if self.style.quote == '\'' && !needs_escapes {
            return format!("'{}'", s.replace('\'', "''"));
        }
        double_quoted(s)
    }
}

/// Characters YAML cannot hold unescaped: outside its printable set, a BOM, or line breaks
/// that YAML 1.1 readers (PyYAML, hence cfn-lint) honour (NEL, LS, PS).
fn needs_escape(c: char) -> bool {
    let printable = matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
    !printable || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}')
}

/// A YAML double-quoted scalar; every character YAML cannot hold literally is escaped.
fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if c.is_control() || needs_escape(c) => {
                let code = c as u32;
                if code <= 0xFF {
                    out.push_str(&format!("\\x{code:02X}"));
                } else if code <= 0xFFFF {
                    out.push_str(&format!("\\u{code:04X}"));
                } else {
                    out.push_str(&format!("\\U{code:08X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether a string reads best as a literal block: several lines, nothing a literal block
/// cannot hold (carriage returns, other control characters, leading blanks).
fn literal_ok(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\n', '\t'])
        && !s
            .chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\t') || needs_escape(c))
}

/// Whether `s` can be written as a plain YAML scalar and read back as the same string by
/// YAML 1.1 and 1.2 parsers alike (CloudFormation, cfn-lint and the AWS CLI disagree on
/// `yes`/`no`, dates and octal), so the test is deliberately conservative.
fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) || first.is_whitespace() {
        return false;
    }
    if s.ends_with(|c: char| c.is_whitespace() || c == ':') {
        return false;
    }
    if s.contains(": ")
        || s.contains(" #")
        || s.contains('\t')
        || s.chars().any(|c| c.is_control() || needs_escape(c))
    {
        return false;
    }
    if first.is_ascii_digit() || ((first == '+' || first == '.') && s.len() > 1) {
        return false;
    }
    if looks_numeric(s) {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    !matches!(
        lower.as_str(),
        "y" | "n"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "true"
            | "false"
            | "null"
            | "~"
            | ".inf"
            | ".nan"
            | "<<"
            | "="
    ) && !s.starts_with("---")
        && !s.starts_with("...")
}

// ---------------------------------------------------------------------------------------------
// Verification

/// Re-parses `new_text` and checks that its tree equals the original tree with `edits` applied:
/// the two trees are walked together; subtrees without an edit must be equal node for node,
/// edited nodes must equal the requested values, and containers with removals or additions
/// must hold exactly the expected children, in order.
fn verify(
    t: &Template,
    edits: &[Edit],
    splices: &[Splice],
    new_text: &str,
) -> Result<(), RewriteError> {
    if let Some(regions) = local_regions(t, edits, splices, new_text) {
        return verify_regions(t, &VerifyPlan::new(edits), &regions, new_text);
    }
    verify_full(t, edits, new_text)
}

/// Re-parses the whole rewritten text and walks both trees.
fn verify_full(t: &Template, edits: &[Edit], new_text: &str) -> Result<(), RewriteError> {
    let plan = VerifyPlan::new(edits);
    let options = LoadOptions {
        allow_duplicate_keys: !t.duplicate_keys().is_empty(),
        ..LoadOptions::default()
    };
    let reparsed =
        Template::load_with(t.name(), new_text, &options).map_err(|e| RewriteError::Reparse {
            file: t.name().to_string(),
            source: Box::new(e),
        })?;
    check(t.root(), reparsed.root(), "", &plan).map_err(|(path, detail)| {
        RewriteError::Verification {
            file: t.name().to_string(),
            path,
            detail,
        }
    })
}

/// A resource entry of the rewritten text to verify on its own: `id` is `Some` for an existing
/// resource (compared with the original entry), `None` for one added by the edits.
struct Region<'a> {
    id: Option<&'a str>,
    start: usize,
    end: usize,
    /// Column of the resource key; every other line of the region must be indented further.
    key_col: usize,
}

/// When every edit stays inside entries of a block-style `Resources` mapping (or adds
/// resources), the rewritten entries can be verified on their own: the bytes around them are
/// the original bytes (splices write nowhere else), and an entry whose lines are all indented
/// under its key and which parses as one `key: value` cannot change how its neighbours parse.
/// That turns a full re-parse of a large template into a re-parse of the edited resources.
/// `None` means "re-parse everything" (JSON, anchors, flow style, edits elsewhere).
fn local_regions<'a>(
    t: &'a Template,
    edits: &'a [Edit],
    splices: &[Splice],
    new_text: &str,
) -> Option<Vec<Region<'a>>> {
    if t.format() != Format::Yaml || t.has_anchors() || !t.duplicate_keys().is_empty() {
        return None;
    }
    let resources = t.root().get("Resources")?;
    if resources.style != Style::Block {
        return None;
    }
    let text = t.text();
    let mut ids: Vec<&str> = Vec::new();
    for e in edits {
        let rest = e.path().strip_prefix("/Resources")?;
        if rest.is_empty() {
            // `Edit::add_resource`.
            if matches!(e, Edit::Insert { .. }) {
                continue;
            }
            return None;
        }
        let mut tokens = rest.split('/');
        match (tokens.next(), tokens.next()) {
            (Some(""), Some(id)) => {
                if matches!(e, Edit::Remove { .. }) && tokens.next().is_none() {
                    return None;
                }
                if id.contains('~') {
                    return None;
                }
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            _ => return None,
        }
    }
    // Two insertions at one point: their order decides the layout; not worth the reasoning.
    for (i, s) in splices.iter().enumerate() {
        if s.start == s.end
            && splices[i + 1..]
                .iter()
                .any(|o| o.start == o.end && o.start == s.start)
        {
            return None;
        }
    }
    // New position of an original offset: shifted by every splice that ends before it.
    // `own` decides whether an insertion exactly at `x` counts (it does for the end of the
    // resource it belongs to).
    let shift = |x: usize, own: &dyn Fn(&Splice) -> bool| -> usize {
        let mut delta: isize = 0;
        for s in splices {
            let is_insert_at_x = s.start == s.end && s.start == x;
            if s.end <= x && (!is_insert_at_x || own(s)) {
                delta += s.text.len() as isize - (s.end - s.start) as isize;
            }
        }
        x.saturating_add_signed(delta)
    };
    let inside = |s: &Splice, id: &str| {
        let prefix = push_pointer("/Resources", id);
        s.path == prefix || s.path.starts_with(&format!("{prefix}/"))
    };
    let mut regions = Vec::new();
    let mut covered: Vec<(usize, usize)> = Vec::new();
    for id in ids {
        let entries = resources.as_map()?;
        let entry = entries.iter().rev().find(|e| e.key.text == id)?;
        let start = t.lines().line_start(entry.key.span.start);
        if !text[start..entry.key.span.start].bytes().all(|b| b == b' ') {
            return None;
        }
        let end = text[entry.value.span.end.max(entry.key.span.end)..]
            .find('\n')
            .map_or(text.len(), |i| {
                entry.value.span.end.max(entry.key.span.end) + i + 1
            });
        covered.push((start, end));
        let key = entry.key.text.as_str();
        regions.push(Region {
            id: Some(key),
            start: shift(start, &|_| true),
            end: shift(end, &|s| inside(s, key)),
            key_col: entry.key.span.start - start,
        });
    }
    let key_col = resources
        .as_map()?
        .first()
        .map(|e| e.key.span.start - t.lines().line_start(e.key.span.start))?;
    for s in splices {
        if s.path != "/Resources" && covered.iter().any(|&(a, b)| a <= s.start && s.end <= b) {
            continue;
        }
        if s.start != s.end || s.path != "/Resources" {
            return None;
        }
        let start = shift(s.start, &|_| false);
        regions.push(Region {
            id: None,
            start,
            end: start + s.text.len(),
            key_col,
        });
    }
    if regions
        .iter()
        .any(|r| r.end > new_text.len() || r.start > r.end)
    {
        return None;
    }
    Some(regions)
}

fn verify_regions(
    t: &Template,
    plan: &VerifyPlan<'_>,
    regions: &[Region<'_>],
    new_text: &str,
) -> Result<(), RewriteError> {
    let fail = |path: &str, detail: String| RewriteError::Verification {
        file: t.name().to_string(),
        path: path.to_string(),
        detail,
    };
    let mut added: Vec<(&str, &J)> = plan
        .inserted
        .get("/Resources")
        .map(|v| v.to_vec())
        .unwrap_or_default();
    for r in regions {
        let Some(snippet) = new_text.get(r.start..r.end) else {
            return Err(fail(
                "/Resources",
                "an edited region does not line up with the rewritten text".to_string(),
            ));
        };
        // Every line after the key line sits under the key (blank and comment lines aside).
        let mut lines = snippet.split('\n').filter(|l| !l.trim().is_empty());
        let first = lines.next().unwrap_or("");
        let first_col = first.len() - first.trim_start_matches(' ').len();
        let escapes = first_col != r.key_col
            || lines.any(|l| {
                let body = l.trim_start_matches(' ');
                let col = l.len() - body.len();
                col <= r.key_col && !body.starts_with('#')
            });
        if escapes {
            return Err(fail(
                "/Resources",
                "an edited resource is not indented under its key".to_string(),
            ));
        }
        let lines_index = super::LineIndex::new(snippet);
        let loaded = super::yaml::load(t.name(), snippet, &lines_index, &super::Limits::default())
            .map_err(|e| RewriteError::Reparse {
                file: t.name().to_string(),
                source: Box::new(e),
            })?;
        let entries = loaded.root.as_map().unwrap_or(&[]);
        let [entry] = entries else {
            return Err(fail(
                "/Resources",
                format!(
                    "an edited region holds {} entries instead of one",
                    entries.len()
                ),
            ));
        };
        let path = push_pointer("/Resources", &entry.key.text);
        match r.id {
            Some(id) => {
                if entry.key.text != id {
                    return Err(fail(&path, format!("resource {id} was renamed")));
                }
                let Some(old) = t.root().get("Resources").and_then(|res| res.get(id)) else {
                    return Err(fail(&path, "resource vanished".to_string()));
                };
                check(old, &entry.value, &path, plan).map_err(|(p, d)| fail(&p, d))?;
            }
            None => {
                let Some(i) = added.iter().position(|(k, _)| *k == entry.key.text) else {
                    return Err(fail(&path, "unexpected resource".to_string()));
                };
                let (_, value) = added.remove(i);
                if let Some((p, d)) = first_difference(value, &entry.value.to_json(), &path) {
                    return Err(fail(&p, d));
                }
            }
        }
    }
    if let Some((k, _)) = added.first() {
        return Err(fail("/Resources", format!("resource {k} was not added")));
    }
    Ok(())
}

#[derive(Default)]
struct VerifyPlan<'e> {
    replaced: std::collections::HashMap<&'e str, &'e J>,
    removed: std::collections::HashSet<&'e str>,
    inserted: std::collections::HashMap<&'e str, Vec<(&'e str, &'e J)>>,
    pushed: std::collections::HashMap<&'e str, Vec<&'e J>>,
    /// Every proper ancestor of an edited path (where the walk must look closer).
    ancestors: std::collections::HashSet<String>,
}

impl<'e> VerifyPlan<'e> {
    fn new(edits: &'e [Edit]) -> Self {
        let mut plan = VerifyPlan::default();
        let container = |plan: &mut VerifyPlan<'e>, path: &str| {
            let mut p = path.to_string();
            plan.ancestors.insert(p.clone());
            while !p.is_empty() {
                p = parent_pointer(&p);
                plan.ancestors.insert(p.clone());
            }
        };
        for e in edits {
            match e {
                Edit::Replace { path, value } => {
                    plan.replaced.insert(path, value);
                    container(&mut plan, &parent_pointer(path));
                }
                Edit::Remove { path } => {
                    plan.removed.insert(path);
                    container(&mut plan, &parent_pointer(path));
                }
                Edit::Insert { path, key, value } => {
                    plan.inserted.entry(path).or_default().push((key, value));
                    container(&mut plan, path);
                }
                Edit::Push { path, value } => {
                    plan.pushed.entry(path).or_default().push(value);
                    container(&mut plan, path);
                }
            }
        }
        plan
    }
}

type Mismatch = (String, String);

fn check(old: &Node, new: &Node, path: &str, plan: &VerifyPlan<'_>) -> Result<(), Mismatch> {
    if let Some(value) = plan.replaced.get(path) {
        return match first_difference(value, &new.to_json(), path) {
            None => Ok(()),
            Some(d) => Err(d),
        };
    }
    if !plan.ancestors.contains(path) {
        return if same(old, new) {
            Ok(())
        } else {
            Err(first_difference(&old.to_json(), &new.to_json(), path)
                .unwrap_or_else(|| (path.to_string(), "nodes differ".to_string())))
        };
    }
    let fail = |detail: String| Err((path.to_string(), detail));
    match (&old.value, &new.value) {
        (Value::Map(_) | Value::Null, Value::Map(new_entries)) => {
            let old_entries = old.as_map().unwrap_or(&[]);
            let mut expected: Vec<(&str, Option<&Node>, Option<&J>)> = Vec::new();
            for e in old_entries {
                let child = push_pointer(path, &e.key.text);
                if !plan.removed.contains(child.as_str()) {
                    expected.push((&e.key.text, Some(&e.value), None));
                }
            }
            for (k, v) in plan.inserted.get(path).map(Vec::as_slice).unwrap_or(&[]) {
                expected.push((k, None, Some(v)));
            }
            if expected.len() != new_entries.len()
                || expected
                    .iter()
                    .zip(new_entries)
                    .any(|((k, _, _), e)| *k != e.key.text)
            {
                let want: Vec<&str> = expected.iter().map(|(k, _, _)| *k).collect();
                let got: Vec<&str> = new_entries.iter().map(|e| e.key.text.as_str()).collect();
                return fail(format!("keys {want:?} expected, found {got:?}"));
            }
            for ((k, old_child, value), e) in expected.iter().zip(new_entries) {
                let child = push_pointer(path, k);
                match (old_child, value) {
                    (Some(o), _) => check(o, &e.value, &child, plan)?,
                    (None, Some(v)) => {
                        if let Some(d) = first_difference(v, &e.value.to_json(), &child) {
                            return Err(d);
                        }
                    }
                    (None, None) => {}
                }
            }
            Ok(())
        }
        (Value::Seq(_) | Value::Null, Value::Seq(new_items)) => {
            let old_items = old.as_seq().unwrap_or(&[]);
            let mut expected: Vec<(usize, Option<&Node>, Option<&J>)> = Vec::new();
            for (i, item) in old_items.iter().enumerate() {
                let child = push_pointer(path, &i.to_string());
                if !plan.removed.contains(child.as_str()) {
                    expected.push((i, Some(item), None));
                }
            }
            for v in plan.pushed.get(path).map(Vec::as_slice).unwrap_or(&[]) {
                expected.push((usize::MAX, None, Some(v)));
            }
            if expected.len() != new_items.len() {
                return fail(format!(
                    "{} items expected, found {}",
                    expected.len(),
                    new_items.len()
                ));
            }
            for (j, ((i, old_child, value), n)) in expected.iter().zip(new_items).enumerate() {
                match (old_child, value) {
                    (Some(o), _) => check(o, n, &push_pointer(path, &i.to_string()), plan)?,
                    (None, Some(v)) => {
                        let at = push_pointer(path, &j.to_string());
                        if let Some(d) = first_difference(v, &n.to_json(), &at) {
                            return Err(d);
                        }
                    }
                    (None, None) => {}
                }
            }
            Ok(())
        }
        _ if same(old, new) => Ok(()),
        _ => fail(format!(
            "expected {}, found {}",
            old.to_json(),
            new.to_json()
        )),
    }
}

/// Structural equality of two subtrees (values and key order; spans and styles ignored).
fn same(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y || number_eq(x, y),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| p.key.text == q.key.text && same(&p.value, &q.value))
        }
        _ => false,
    }
}

fn number_eq(x: &str, y: &str) -> bool {
    matches!((x.parse::<f64>(), y.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
}

/// The first place two trees differ (key order included), as a pointer and a description.
fn first_difference(expected: &J, actual: &J, at: &str) -> Option<(String, String)> {
    match (expected, actual) {
        (J::Object(a), J::Object(b)) => {
            let ka: Vec<&String> = a.keys().collect();
            let kb: Vec<&String> = b.keys().collect();
            if ka != kb {
                return Some((at.to_string(), format!("keys {ka:?} became {kb:?}")));
            }
            a.iter()
                .find_map(|(k, v)| first_difference(v, &b[k], &push_pointer(at, k)))
        }
        (J::Array(a), J::Array(b)) => {
            if a.len() != b.len() {
                return Some((
                    at.to_string(),
                    format!("{} items became {}", a.len(), b.len()),
                ));
            }
            a.iter()
                .zip(b)
                .enumerate()
                .find_map(|(i, (x, y))| first_difference(x, y, &push_pointer(at, &i.to_string())))
        }
        (a, b) if a == b => None,
        (J::Number(a), J::Number(b)) if a.as_f64() == b.as_f64() => None,
        (a, b) => Some((at.to_string(), format!("expected {a}, found {b}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(text: &str) -> Template {
        Template::load("t.yaml", text).unwrap()
    }

    const ROLE: &str = "\
AWSTemplateFormatVersion: '2010-09-09'
# the app role
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/AdministratorAccess # too broad
        - !Ref Extra
      Policies:
        - PolicyName: app
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: 's3:*'
                Resource: '*'
  Extra:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: {Statement: [{Effect: Allow, Action: 'sqs:*', Resource: '*'}]}
Outputs:
  RoleArn:
    Value: !GetAtt Role.Arn
";

    #[test]
    fn replace_statement_list_in_block_style() {
        let t = load(ROLE);
        let out = t
            .apply(&[Edit::replace(
                "/Resources/Role/Properties/Policies/0/PolicyDocument/Statement",
                json!([{"Effect": "Allow", "Action": ["s3:GetObject"],
                        "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}}]),
            )])
            .unwrap();
        assert!(
            out.contains(
                "            Statement:\n              - Effect: Allow\n                Action:\n                  - s3:GetObject\n                Resource: !Sub ${Bucket.Arn}/*\n  Extra:"
            ),
            "{out}"
        );
        assert!(out.starts_with("AWSTemplateFormatVersion: '2010-09-09'\n# the app role\n"));
    }

    #[test]
    fn remove_keeps_neighbours_and_never_leaves_null() {
        let t = load(ROLE);
        let out = t
            .apply(&[Edit::remove(
                "/Resources/Role/Properties/ManagedPolicyArns/0",
            )])
            .unwrap();
        assert!(out.contains("      ManagedPolicyArns:\n        - !Ref Extra\n      Policies:"));
        let t2 = load(&out);
        let out2 = t2
            .apply(&[Edit::remove(
                "/Resources/Role/Properties/ManagedPolicyArns/0",
            )])
            .unwrap();
        assert!(out2.contains("      ManagedPolicyArns: []\n"), "{out2}");
    }

    /// Shaped like cfn-lint's test/fixtures/templates/good/transform/function_use_s3_uri.yaml:
    /// every AWS managed policy of a SAM function removed and a statement pushed in their place.
    /// The push once landed after a `Policies: []` replacement ("did not find expected key").
    #[test]
    fn removing_every_item_and_pushing_one_replaces_the_list() {
        let text = "\
Resources:
  Function:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Policies:
        - arn:aws:iam::aws:policy/CloudWatchLambdaInsightsExecutionRolePolicy
        - arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole
      Layers:
        - !FindInMap [RegionMap, !Ref AWS::Region, \"InsightsArn\"]
";
        let policies = "/Resources/Function/Properties/Policies";
        let statement = json!({"Statement": [{"Effect": "Allow",
            "Action": "logs:CreateLogGroup", "Resource": "*"}]});
        let out = load(text)
            .apply(&[
                Edit::push(policies, statement),
                Edit::remove(&format!("{policies}/0")),
                Edit::remove(&format!("{policies}/1")),
            ])
            .unwrap();
        assert!(
            out.contains("      Policies:\n        - Statement:\n            - Effect: Allow\n              Action: logs:CreateLogGroup\n              Resource: \"*\"\n      Layers:\n"),
            "{out}"
        );
        assert!(!out.contains("[]"), "{out}");
    }

    /// Shaped like the CIS benchmark Quick Start (cfn-lint's test/fixtures/templates/quickstart/
    /// cis_benchmark.yaml): a `---` marker, an indented comment banner, and policies whose `-`
    /// stands alone on its line. Removing such an item once sliced from the item's line back to
    /// its dash (a panic).
    #[test]
    fn remove_item_whose_dash_stands_on_its_own_line() {
        let text = "\
---

  #======================================
  # AWS CloudFormation template for CIS
  #======================================

  AWSTemplateFormatVersion: 2010-09-09
  Resources:
    MasterConfigRole:
      Type: AWS::IAM::Role
      Properties:
        AssumeRolePolicyDocument: {}
        Policies:
          -
            PolicyName: KmsRead
            PolicyDocument:
              Statement:
                - Effect: Allow
                  Action: kms:ListKeys
                  Resource: \"*\"

          -
            PolicyName: S3ReadOnly
            PolicyDocument:
              Statement:
                - Effect: Allow
                  Action: s3:Get*
                  Resource: \"*\"
";
        let t = load(text);
        let out = t
            .apply(&[Edit::remove(
                "/Resources/MasterConfigRole/Properties/Policies/1",
            )])
            .unwrap();
        assert!(!out.contains("S3ReadOnly"), "{out}");
        assert!(
            out.ends_with("          -\n            PolicyName: KmsRead\n            PolicyDocument:\n              Statement:\n                - Effect: Allow\n                  Action: kms:ListKeys\n                  Resource: \"*\"\n\n"),
            "{out}"
        );
        let out = load(text)
            .apply(&[Edit::remove(
                "/Resources/MasterConfigRole/Properties/Policies/0",
            )])
            .unwrap();
        assert!(
            out.contains("        Policies:\n\n          -\n            PolicyName: S3ReadOnly\n"),
            "{out}"
        );
        assert!(!out.contains("KmsRead"), "{out}");
    }

    #[test]
    fn removing_every_item_in_one_call_leaves_an_empty_list() {
        let t = load(ROLE);
        let out = t
            .apply(&[
                Edit::remove("/Resources/Role/Properties/ManagedPolicyArns/1"),
                Edit::remove("/Resources/Role/Properties/ManagedPolicyArns/0"),
            ])
            .unwrap();
        assert!(
            out.contains("      ManagedPolicyArns: []\n      Policies:"),
            "{out}"
        );
    }

    #[test]
    fn removals_in_one_call_use_original_indices() {
        let text = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      ManagedPolicyArns:\n        - a\n        - b\n        - c\n";
        let t = load(text);
        let out = t
            .apply(&[
                Edit::remove("/Resources/R/Properties/ManagedPolicyArns/0"),
                Edit::remove("/Resources/R/Properties/ManagedPolicyArns/2"),
            ])
            .unwrap();
        assert!(
            out.ends_with("      ManagedPolicyArns:\n        - b\n"),
            "{out}"
        );
    }

    #[test]
    fn add_resource_and_push_in_flow_and_block() {
        let t = load(ROLE);
        let out = t
            .apply(&[
                Edit::add_resource(
                    "ReadPolicy",
                    json!({"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": ["sqs:ReceiveMessage"],
                                       "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}}]}}}),
                ),
                Edit::push(
                    "/Resources/Role/Properties/ManagedPolicyArns",
                    json!({"Ref": "ReadPolicy"}),
                ),
                Edit::push(
                    "/Resources/Extra/Properties/PolicyDocument/Statement",
                    json!({"Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*"}),
                ),
            ])
            .unwrap();
        assert!(
            out.contains("        - !Ref Extra\n        - !Ref ReadPolicy\n"),
            "{out}"
        );
        assert!(out.contains(
            "  ReadPolicy:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n        Version: '2012-10-17'\n        Statement:\n          - Effect: Allow\n            Action:\n              - sqs:ReceiveMessage\n            Resource: !GetAtt Queue.Arn\nOutputs:"
        ), "{out}");
        assert!(
            out.contains(
                "Resource: '*'}, {Effect: Deny, Action: sqs:DeleteQueue, Resource: '*'}]}"
            ),
            "{out}"
        );
    }

    #[test]
    fn json_replace_uses_file_indentation() {
        let text = "{\n    \"Resources\": {\n        \"Role\": {\n            \"Type\": \"AWS::IAM::Role\",\n            \"Properties\": {\n                \"ManagedPolicyArns\": [\n                    \"arn:aws:iam::aws:policy/PowerUserAccess\",\n                    {\"Ref\": \"P\"}\n                ]\n            }\n        }\n    }\n}\n";
        let t = Template::load("t.json", text).unwrap();
        let out = t
            .apply(&[Edit::replace(
                "/Resources/Role/Properties/ManagedPolicyArns",
                json!([{"Ref": "P"}, {"Ref": "Q"}]),
            )])
            .unwrap();
        assert!(out.contains("\"ManagedPolicyArns\": [\n                    {\n                        \"Ref\": \"P\"\n                    },"), "{out}");
        let out = t
            .apply(&[Edit::remove(
                "/Resources/Role/Properties/ManagedPolicyArns/0",
            )])
            .unwrap();
        assert!(
            out.contains(
                "\"ManagedPolicyArns\": [\n                    {\"Ref\": \"P\"}\n                ]"
            ),
            "{out}"
        );
    }

    #[test]
    fn quoting_survives_the_reparse() {
        let t = load(ROLE);
        for s in [
            "yes",
            "*",
            "2012-10-17",
            "a: b",
            "x #y",
            "-",
            "0777",
            "",
            "it's",
            "tab\there",
            "multi\nline",
            "~",
            "@x",
        ] {
            let out = t
                .apply(&[
                    Edit::replace("/Outputs/RoleArn/Value", json!(s)),
                    Edit::push("/Resources/Role/Properties/ManagedPolicyArns", json!(s)),
                    Edit::push(
                        "/Resources/Extra/Properties/PolicyDocument/Statement",
                        json!({"Sid": s, "Resource": [s, {"Fn::Sub": s}]}),
                    ),
                ])
                .unwrap_or_else(|e| panic!("{s:?}: {e}"));
            let t2 = load(&out);
            assert_eq!(
                t2.node("/Outputs/RoleArn/Value").unwrap().to_json(),
                json!(s)
            );
            assert_eq!(
                t2.node("/Resources/Role/Properties/ManagedPolicyArns/2")
                    .unwrap()
                    .to_json(),
                json!(s)
            );
        }
    }

    #[test]
    fn verification_catches_collateral_and_missing_changes() {
        let t = load(ROLE);
        let edit = Edit::replace(
            "/Resources/Role/Properties/ManagedPolicyArns/0",
            json!("arn:aws:iam::aws:policy/ReadOnlyAccess"),
        );
        let good = t.apply(std::slice::from_ref(&edit)).unwrap();
        let edits = std::slice::from_ref(&edit);
        assert!(verify_full(&t, edits, &good).is_ok());
        // A neighbour changed too.
        let collateral = good.replace("PolicyName: app", "PolicyName: other");
        let err = verify_full(&t, edits, &collateral).unwrap_err();
        assert!(
            matches!(&err, RewriteError::Verification { path, .. } if path == "/Resources/Role/Properties/Policies/0/PolicyName"),
            "{err}"
        );
        // The edit did not happen.
        let err = verify_full(&t, edits, ROLE).unwrap_err();
        assert!(matches!(err, RewriteError::Verification { .. }), "{err}");
        // An item vanished.
        let removed = good.replace("        - !Ref Extra\n", "");
        let err = verify_full(&t, edits, &removed).unwrap_err();
        assert!(matches!(err, RewriteError::Verification { .. }), "{err}");
        // Not YAML any more.
        let broken = good.replace("Resources:", "Resources: [");
        assert!(matches!(
            verify_full(&t, &[], &broken),
            Err(RewriteError::Reparse { .. })
        ));
    }

    #[test]
    fn local_verification_checks_the_edited_resources() {
        let t = load(ROLE);
        let edits = [
            Edit::replace(
                "/Resources/Role/Properties/ManagedPolicyArns/0",
                json!("arn:aws:iam::aws:policy/ReadOnlyAccess"),
            ),
            Edit::add_resource("Queue", json!({"Type": "AWS::SQS::Queue"})),
        ];
        let splices: Vec<Splice> = edits.iter().map(|e| plan(&t, e).unwrap()).collect();
        let good = t.apply(&edits).unwrap();
        let regions = local_regions(&t, &edits, &splices, &good).unwrap();
        assert_eq!(regions.len(), 2);
        assert!(verify(&t, &edits, &splices, &good).is_ok());
        // A same-length change elsewhere in the edited resource is caught.
        let collateral = good.replace("PolicyName: app", "PolicyName: apq");
        let err = verify(&t, &edits, &splices, &collateral).unwrap_err();
        assert!(matches!(err, RewriteError::Verification { .. }), "{err}");
        // A rendering that escapes its resource's indentation is caught.
        let escaped = good.replace("    Type: AWS::SQS::Queue", "  Type:  AWS::SQS::Queue");
        let err = verify(&t, &edits, &splices, &escaped).unwrap_err();
        assert!(matches!(err, RewriteError::Verification { .. }), "{err}");
        // An insertion after a resource's last line belongs to that resource.
        let props = [Edit::insert(
            "/Resources/Extra/Properties",
            "Description",
            json!("extra"),
        )];
        let splices: Vec<Splice> = props.iter().map(|e| plan(&t, e).unwrap()).collect();
        let text = t.apply(&props).unwrap();
        assert!(
            text.contains("      Description: extra\nOutputs:"),
            "{text}"
        );
        assert_eq!(
            local_regions(&t, &props, &splices, &text).map(|r| r.len()),
            Some(1)
        );
        // Edits outside Resources use the full re-parse.
        let outputs = [Edit::replace("/Outputs/RoleArn/Value", json!("x"))];
        let splices: Vec<Splice> = outputs.iter().map(|e| plan(&t, e).unwrap()).collect();
        let text = t.apply(&outputs).unwrap();
        assert!(local_regions(&t, &outputs, &splices, &text).is_none());
    }

    #[test]
    fn overlapping_edits_are_refused() {
        let t = load(ROLE);
        let err = t
            .apply(&[
                Edit::replace("/Resources/Role/Properties/Policies", json!([])),
                Edit::replace("/Resources/Role/Properties/Policies/0", json!({})),
            ])
            .unwrap_err();
        assert!(matches!(err, RewriteError::Overlap { .. }), "{err}");
    }

    #[test]
    fn no_edit_is_byte_identical() {
        let t = load(ROLE);
        assert_eq!(t.apply(&[]).unwrap(), ROLE);
    }
}
