//! Verification: the rewritten text is parsed again and compared with the original tree with
//! the edits applied, so a rewrite that succeeds changed exactly what was asked (a quoting
//! mistake, an indentation slip or a neighbour that moved is an error, never a silent change).
//! Edits inside block-style resources are verified resource by resource, which keeps large
//! templates fast.

use serde_json::Value as J;

use super::plan::parent_pointer;
use super::{Edit, Splice};
use crate::template::error::RewriteError;
use crate::template::node::{Node, Style, Value, push_pointer};
use crate::template::{LoadOptions, Template, TemplateFormat};

/// Re-parses `new_text` and checks that its tree equals the original tree with `edits` applied:
/// the two trees are walked together; subtrees without an edit must be equal node for node,
/// edited nodes must equal the requested values, and containers with removals or additions
/// must hold exactly the expected children, in order.
pub(super) fn verify(
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
pub(super) fn verify_full(
    t: &Template,
    edits: &[Edit],
    new_text: &str,
) -> Result<(), RewriteError> {
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
pub(super) struct Region<'a> {
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
pub(super) fn local_regions<'a>(
    t: &'a Template,
    edits: &'a [Edit],
    splices: &[Splice],
    new_text: &str,
) -> Option<Vec<Region<'a>>> {
    if t.format() != TemplateFormat::Yaml || t.has_anchors() || !t.duplicate_keys().is_empty() {
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

pub(super) fn verify_regions(
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
        let lines_index = crate::template::LineIndex::new(snippet);
        let loaded = crate::template::yaml::load(
            t.name(),
            snippet,
            &lines_index,
            &crate::template::Limits::default(),
        )
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
pub(super) struct VerifyPlan<'e> {
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

pub(super) type Mismatch = (String, String);

pub(super) fn check(
    old: &Node,
    new: &Node,
    path: &str,
    plan: &VerifyPlan<'_>,
) -> Result<(), Mismatch> {
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
pub(super) fn same(a: &Node, b: &Node) -> bool {
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

pub(super) fn number_eq(x: &str, y: &str) -> bool {
    matches!((x.parse::<f64>(), y.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
}

/// The first place two trees differ (key order included), as a pointer and a description.
pub(super) fn first_difference(expected: &J, actual: &J, at: &str) -> Option<(String, String)> {
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
