//! Rendering JSON values in the file's own style: YAML block style at the node's indentation,
//! short-form tags when the file uses them, the file's quote character, scalars quoted
//! conservatively enough that YAML 1.1 and 1.2 readers read back the same string; JSON with
//! the file's indentation.

use serde_json::Value as J;

use crate::template::SourceStyle;
use crate::template::intrinsics::short_name;
use crate::template::yaml::looks_numeric;

/// JSON on one line with `, ` and `: ` separators (JSON is valid YAML flow syntax).
pub(crate) fn json_inline(v: &J) -> String {
    let mut out = String::new();
    inline_into(v, &mut out);
    out
}

pub(super) fn inline_into(v: &J, out: &mut String) {
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
pub(super) fn json_pretty(v: &J, base: &str, style: &SourceStyle) -> String {
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

pub(super) struct YamlRenderer<'a> {
    pub(super) style: &'a SourceStyle,
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
    pub(super) fn after_key(&self, v: &J, key_col: usize, out: &mut String) {
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
    pub(super) fn in_seq(&self, v: &J, col: usize, out: &mut String) {
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
    pub(super) fn flow(&self, v: &J) -> String {
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

    pub(super) fn flow_string(&self, s: &str) -> String {
        if plain_ok(s) && !s.contains(['[', ']', '{', '}', ',']) {
            s.to_string()
        } else if s.chars().any(|c| c.is_control() || needs_escape(c)) {
            double_quoted(s)
        } else {
            self.quoted(s)
        }
    }

    /// A value on a line of its own at column `col` (the cursor is already there).
    pub(super) fn standalone(&self, v: &J, col: usize, out: &mut String) {
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

    pub(super) fn key(&self, k: &str) -> String {
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
pub(super) fn needs_escape(c: char) -> bool {
    let printable = matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
    !printable || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}')
}

/// A YAML double-quoted scalar; every character YAML cannot hold literally is escaped.
pub(super) fn double_quoted(s: &str) -> String {
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
pub(super) fn literal_ok(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\n', '\t'])
        && !s
            .chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\t') || needs_escape(c))
}

/// Whether `s` can be written as a plain YAML scalar and read back as the same string by
/// YAML 1.1 and 1.2 parsers alike (CloudFormation, cfn-lint and the AWS CLI disagree on
/// `yes`/`no`, dates and octal), so the test is deliberately conservative.
pub(super) fn plain_ok(s: &str) -> bool {
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
