//! JSON loader with byte spans.
//!
//! Hand-written rather than serde_json because a template needs what serde_json discards: the
//! byte span and line:column of every value and key, and duplicate keys (CloudFormation rejects
//! them; serde_json silently keeps the last). RFC 8259 grammar, a leading BOM allowed, depth
//! limited so that hostile input cannot exhaust the stack.

use std::collections::HashMap;

use super::DuplicateKey;
use super::Limits;
use super::error::TemplateError;
use super::lines::LineIndex;
use super::node::{Entry, Key, Node, Span, Style, Value};
use super::yaml::Loaded;

struct Parser<'a> {
    name: &'a str,
    text: &'a str,
    bytes: &'a [u8],
    lines: &'a LineIndex,
    limits: &'a Limits,
    i: usize,
    duplicates: Vec<DuplicateKey>,
}

pub(crate) fn load(
    name: &str,
    text: &str,
    lines: &LineIndex,
    limits: &Limits,
) -> Result<Loaded, TemplateError> {
    let mut p = Parser {
        name,
        text,
        bytes: text.as_bytes(),
        lines,
        limits,
        i: 0,
        duplicates: Vec::new(),
    };
    if text.starts_with('\u{feff}') {
        p.i = '\u{feff}'.len_utf8();
    }
    p.ws();
    let root = p.value(0)?;
    p.ws();
    if p.i < p.bytes.len() {
        return Err(p.error(p.i, "unexpected content after the top-level value"));
    }
    Ok(Loaded {
        root,
        duplicates: p.duplicates,
        anchors: false,
    })
}

impl Parser<'_> {
    fn error(&self, at: usize, message: &str) -> TemplateError {
        let pos = self.lines.pos(self.text, at);
        TemplateError::InvalidJson {
            file: self.name.to_string(),
            line: pos.line,
            column: pos.column,
            message: message.to_string(),
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.bytes.get(self.i) {
            self.i += 1;
        }
    }

    fn node(&self, value: Value, start: usize, style: Style) -> Node {
        Node::new(
            value,
            Span::new(start, self.i),
            self.lines.pos(self.text, start),
            style,
        )
    }

    fn value(&mut self, depth: usize) -> Result<Node, TemplateError> {
        let start = self.i;
        if depth >= self.limits.depth {
            let pos = self.lines.pos(self.text, start);
            return Err(TemplateError::TooDeep {
                file: self.name.to_string(),
                line: pos.line,
                column: pos.column,
                limit: self.limits.depth,
            });
        }
        match self.bytes.get(self.i) {
            None => Err(self.error(start, "unexpected end of input, expected a value")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => {
                let s = self.string()?;
                Ok(self.node(Value::String(s), start, Style::DoubleQuoted))
            }
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error(start, "expected a value")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Node, TemplateError> {
        let start = self.i;
        if self.bytes[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(self.node(value, start, Style::Plain))
        } else {
            Err(self.error(start, "expected a value"))
        }
    }

    fn number(&mut self) -> Result<Node, TemplateError> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.bytes.get(p.i).is_some_and(u8::is_ascii_digit) {
                p.i += 1;
            }
            p.i > s
        };
        if self.bytes.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        if self.bytes.get(self.i) == Some(&b'0') {
            self.i += 1;
        } else if !digits(self) {
            return Err(self.error(start, "invalid number"));
        }
        if self.bytes.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !digits(self) {
                return Err(self.error(self.i, "invalid number: digits expected after `.`"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.i) {
                self.i += 1;
            }
            if !digits(self) {
                return Err(self.error(self.i, "invalid number: exponent digits expected"));
            }
        }
        let text = self.text[start..self.i].to_string();
        Ok(self.node(Value::Number(text), start, Style::Plain))
    }

    fn string(&mut self) -> Result<String, TemplateError> {
        let start = self.i;
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            let run = self.i;
            while let Some(&b) = self.bytes.get(self.i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(&self.text[run..self.i]);
            match self.bytes.get(self.i) {
                None => return Err(self.error(start, "unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let esc = self.i;
                    self.i += 1;
                    let c = match self.bytes.get(self.i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let hi = self.hex4(esc)?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if self.bytes[self.i..].starts_with(b"\\u") {
                                    self.i += 2;
                                    let lo = self.hex4(esc)?;
                                    if !(0xDC00..0xE000).contains(&lo) {
                                        return Err(self.error(esc, "invalid surrogate pair"));
                                    }
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    return Err(self.error(esc, "lone surrogate in \\u escape"));
                                }
                            } else {
                                hi
                            };
                            let Some(c) = char::from_u32(code) else {
                                return Err(self.error(esc, "invalid \\u escape"));
                            };
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.error(esc, "invalid escape")),
                    };
                    self.i += 1;
                    out.push(c);
                }
                Some(_) => {
                    return Err(self.error(
                        self.i,
                        "control character in string (tabs and newlines must be escaped in JSON)",
                    ));
                }
            }
        }
    }

    fn hex4(&mut self, esc: usize) -> Result<u32, TemplateError> {
        let Some(digits) = self.text.get(self.i..self.i + 4) else {
            return Err(self.error(esc, "invalid \\u escape"));
        };
        let Ok(v) = u32::from_str_radix(digits, 16) else {
            return Err(self.error(esc, "invalid \\u escape"));
        };
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.error(esc, "invalid \\u escape"));
        }
        self.i += 4;
        Ok(v)
    }

    fn array(&mut self, depth: usize) -> Result<Node, TemplateError> {
        let start = self.i;
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.bytes.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(self.node(Value::Seq(items), start, Style::Flow));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.bytes.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(self.node(Value::Seq(items), start, Style::Flow));
                }
                _ => return Err(self.error(self.i, "expected `,` or `]` in array")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Node, TemplateError> {
        let start = self.i;
        self.i += 1;
        let mut entries: Vec<Entry> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        self.ws();
        if self.bytes.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(self.node(Value::Map(entries), start, Style::Flow));
        }
        loop {
            self.ws();
            let key_start = self.i;
            if self.bytes.get(self.i) != Some(&b'"') {
                return Err(self.error(self.i, "expected a string key"));
            }
            let text = self.string()?;
            let key = Key {
                text,
                span: Span::new(key_start, self.i),
                pos: self.lines.pos(self.text, key_start),
            };
            self.ws();
            if self.bytes.get(self.i) != Some(&b':') {
                return Err(self.error(self.i, "expected `:` after key"));
            }
            self.i += 1;
            self.ws();
            let value = self.value(depth + 1)?;
            if let Some(&first) = seen.get(&key.text) {
                self.duplicates.push(DuplicateKey {
                    key: key.text.clone(),
                    first: entries[first].key.pos,
                    second: key.pos,
                });
            } else {
                seen.insert(key.text.clone(), entries.len());
            }
            entries.push(Entry { key, value });
            self.ws();
            match self.bytes.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(self.node(Value::Map(entries), start, Style::Flow));
                }
                _ => return Err(self.error(self.i, "expected `,` or `}` in object")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Loaded, TemplateError> {
        let lines = LineIndex::new(text);
        load("t.json", text, &lines, &Limits::default())
    }

    #[test]
    fn values_match_serde_json() {
        let text = r#"{"a": [1, -2.5e3, true, null, "x\u00e9\ud83d\ude00\n"], "b": {"c": {}}}"#;
        let ours = parse(text).unwrap().root.to_json();
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn spans_and_positions() {
        let text = "{\n  \"A\": {\"B\": [1, 2]}\n}";
        let root = parse(text).unwrap().root;
        let b = root.pointer("/A/B").unwrap();
        assert_eq!(&text[b.span.start..b.span.end], "[1, 2]");
        assert_eq!((b.pos.line, b.pos.column), (2, 14));
    }

    #[test]
    fn errors_are_positioned() {
        let err = parse("{\n  \"A\": [1,]\n}").err().unwrap();
        assert!(
            matches!(
                err,
                TemplateError::InvalidJson {
                    line: 2,
                    column: 11,
                    ..
                }
            ),
            "{err}"
        );
        assert!(parse("{\"a\": \"tab\there\"}").is_err());
        assert!(parse("[").is_err());
        assert!(parse("{} x").is_err());
    }

    #[test]
    fn duplicates_recorded() {
        let loaded = parse("{\"A\": 1, \"A\": 2}").unwrap();
        assert_eq!(loaded.duplicates.len(), 1);
        assert_eq!(
            loaded.root.get("A").unwrap().to_json(),
            serde_json::json!(2)
        );
    }
}
