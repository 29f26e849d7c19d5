//! Planning: one [`Edit`] becomes one [`Splice`] of the original text (a byte range and the
//! text to put there), chosen so that only the edited node's bytes change. The text helpers
//! find key colons, sequence dashes and line ends around a node in the file as written.

use serde_json::Value as J;

use super::locate::{Located, Slot, kind_name, locate};
use super::render::{YamlRenderer, json_inline, json_pretty};
use super::{Edit, Splice};
use crate::template::error::RewriteError;
use crate::template::node::{Node, Style, Value};
use crate::template::{Template, TemplateFormat};

pub(super) fn plan(t: &Template, edit: &Edit) -> Result<Splice, RewriteError> {
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

pub(super) fn refuse_alias(t: &Template, path: &str, node: &Node) -> Result<(), RewriteError> {
    if node.alias {
        return Err(RewriteError::Alias {
            file: t.name().to_string(),
            path: path.to_string(),
        });
    }
    Ok(())
}

pub(super) fn wrong(
    t: &Template,
    path: &str,
    expected: &'static str,
    found: &'static str,
) -> RewriteError {
    RewriteError::WrongKind {
        file: t.name().to_string(),
        path: path.to_string(),
        expected,
        found,
    }
}

pub(super) fn splice(start: usize, end: usize, text: String, path: &str) -> Splice {
    Splice {
        start,
        end,
        text,
        path: path.to_string(),
    }
}

/// Column (0-based, in characters) of a byte offset.
pub(super) fn col(t: &Template, offset: usize) -> usize {
    t.pos(offset).column.saturating_sub(1)
}

/// Whether a node sits inside a flow collection (or is one), where block rendering is invalid.
pub(super) fn in_flow(parent: Option<&Node>) -> bool {
    parent.is_some_and(|p| p.style == Style::Flow)
}

pub(super) fn replace(t: &Template, path: &str, loc: &Located<'_>, value: &J) -> Splice {
    let node = loc.node;
    let style = t.style();
    if t.format() == TemplateFormat::Json {
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

pub(super) fn is_collection(n: &Node) -> bool {
    matches!(n.value, Value::Seq(_) | Value::Map(_))
}

/// The parent of `path` with the entry or item removed, re-rendered: the fallback for layouts
/// where a line-based removal is not safe (`- - a`, `- Key: v` first keys).
pub(super) fn remove_by_rerender(
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

pub(super) fn parent_pointer(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => path[..i].to_string(),
        None => String::new(),
    }
}

pub(super) fn remove(t: &Template, path: &str, loc: &Located<'_>) -> Result<Splice, RewriteError> {
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

pub(super) fn insert(
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
    if t.format() == TemplateFormat::Json || node.style == Style::Flow {
        let at = last.value.span.end;
        let key_json = J::String(key.to_string()).to_string();
        let multi_line = t.source(node).contains('\n');
        let out = if t.format() == TemplateFormat::Json && multi_line {
            let indent = line_indent(t, last.key.span.start);
            format!(
                ",{nl}{indent}{key_json}: {}",
                json_pretty(value, &indent, style)
            )
        } else if t.format() == TemplateFormat::Json {
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

pub(super) fn push(
    t: &Template,
    path: &str,
    loc: &Located<'_>,
    value: &J,
) -> Result<Splice, RewriteError> {
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
    if t.format() == TemplateFormat::Json || node.style == Style::Flow {
        let at = last.span.end;
        let out = if t.format() == TemplateFormat::Json && t.source(node).contains('\n') {
            let indent = line_indent(t, last.span.start);
            format!(",{nl}{indent}{}", json_pretty(value, &indent, style))
        } else if t.format() == TemplateFormat::Json {
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

/// Byte offset just after the `:` that follows a block mapping key.
pub(super) fn colon_after(text: &str, key_end: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = key_end;
    while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
        i += 1;
    }
    (bytes.get(i) == Some(&b':')).then_some(i + 1)
}

/// The `-` indicator before a block sequence item's content, if only blanks separate them.
pub(super) fn dash_before(text: &str, item_start: usize) -> Option<usize> {
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
pub(super) fn after_last_line(text: &str, offset: usize, nl: &str) -> (usize, String) {
    let at = line_end_incl(text, offset);
    let mut out = String::new();
    if at == text.len() && !text.ends_with('\n') {
        out.push_str(nl);
    }
    (at, out)
}

/// Ends an inserted block with a line break unless it is the file's unterminated last line.
pub(super) fn finish_line(text: &str, at: usize, nl: &str, out: &mut String) {
    if at < text.len() || text.ends_with('\n') {
        out.push_str(nl);
    }
}

/// End of the line holding `offset`, after its line break.
pub(super) fn line_end_incl(text: &str, offset: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = offset.min(bytes.len());
    while i < bytes.len() && bytes[i] != b'\n' {
        i += 1;
    }
    (i + 1).min(bytes.len())
}

/// Leading blanks of the line holding `offset`.
pub(super) fn line_indent(t: &Template, offset: usize) -> String {
    let start = t.lines().line_start(offset);
    t.text()[start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}
