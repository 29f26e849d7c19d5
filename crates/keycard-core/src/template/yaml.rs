//! YAML loader with byte spans.
//!
//! Built on `saphyr-parser`'s event API: it is the maintained successor of yaml-rust/yaml-rust2,
//! pure Rust, YAML 1.2, and every event carries a span (character indices, line, column), which
//! is what a lossless rewrite needs. Its scalar events already include the tag (`!Ref X`), flow
//! collection ends cover the closing bracket, and block collections are closed by empty spans, so
//! block ends are taken from the last child. Two quirks are corrected here: block scalar (`|`,
//! `>`) spans start at the content rather than at the indicator, and some scalar spans include
//! trailing blanks. The higher-level `saphyr` crate (and serde_yaml, now unmaintained) drop the
//! positions, which is why the tree is built from events.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as PSpan, Tag};

use super::error::TemplateError;
use super::intrinsics::apply_tag;
use super::lines::{CharCursor, LineIndex};
use super::node::{Entry, Key, Node, Pos, Span, Style, Value};
use super::{DuplicateKey, Limits};

/// Output of a loader: the root node and every duplicated key met on the way.
pub(crate) struct Loaded {
    pub root: Node,
    pub duplicates: Vec<DuplicateKey>,
    /// Whether the text defines YAML anchors (aliases can tie distant nodes together).
    pub anchors: bool,
}

enum Kind {
    Seq(Vec<Node>),
    Map {
        entries: Vec<Entry>,
        pending: Option<Key>,
        index: Option<HashMap<String, usize>>,
    },
}

struct Frame {
    kind: Kind,
    start: usize,
    pos: Pos,
    style: Style,
    tag: Option<String>,
    anchor: usize,
    /// `(start, end)` of the collection's closing bracket, for flow collections.
    end: usize,
}

struct Builder<'a> {
    name: &'a str,
    text: &'a str,
    lines: &'a LineIndex,
    limits: &'a Limits,
    cursor: CharCursor<'a>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    expanded: usize,
    duplicates: Vec<DuplicateKey>,
    root: Option<Node>,
    documents: usize,
    prev_end: usize,
    /// Position of the current event's start, from the parser (line, column in characters,
    /// BOM not counted): cheaper than recomputing it from the byte offset.
    marker: Pos,
}

/// Parses `text` (the whole file, BOM included) into a tree.
pub(crate) fn load(
    name: &str,
    text: &str,
    lines: &LineIndex,
    limits: &Limits,
) -> Result<Loaded, TemplateError> {
    let mut b = Builder {
        name,
        text,
        lines,
        limits,
        cursor: CharCursor::new(text),
        stack: Vec::new(),
        anchors: HashMap::new(),
        expanded: 0,
        duplicates: Vec::new(),
        root: None,
        documents: 0,
        prev_end: 0,
        marker: Pos::default(),
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(ev) => ev,
            Err(e) => {
                let at = b.cursor.byte(e.marker().index());
                return Err(b.yaml_error(at, e.info().to_string()));
            }
        };
        b.event(event, span)?;
    }
    let root = b.root.take().unwrap_or_else(|| {
        Node::new(
            Value::Null,
            Span::default(),
            lines.pos(text, 0),
            Style::Plain,
        )
    });
    Ok(Loaded {
        root,
        duplicates: b.duplicates,
        anchors: !b.anchors.is_empty(),
    })
}

impl Builder<'_> {
    fn yaml_error(&self, at: usize, message: String) -> TemplateError {
        let pos = self.lines.pos(self.text, at);
        TemplateError::InvalidYaml {
            file: self.name.to_string(),
            line: pos.line,
            column: pos.column,
            message,
        }
    }

    fn bytes(&mut self, span: PSpan) -> (usize, usize) {
        let start = self.cursor.byte(span.start.index());
        let end = self.cursor.byte(span.end.index());
        (start, end.max(start))
    }

    fn event(&mut self, event: Event<'_>, span: PSpan) -> Result<(), TemplateError> {
        let (start, end) = self.bytes(span);
        self.marker = Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 && self.root.as_ref().is_some_and(|r| !r.is_null()) {
                    let pos = self.lines.pos(self.text, start);
                    return Err(TemplateError::NotATemplate {
                        file: self.name.to_string(),
                        line: pos.line,
                        column: pos.column,
                        reason: "a second YAML document starts here; a template is one document"
                            .to_string(),
                    });
                }
            }
            Event::Alias(id) => {
                let Some((node, count)) = self.anchors.get(&id) else {
                    return Err(self.yaml_error(start, "alias of an unknown anchor".to_string()));
                };
                self.expanded = self.expanded.saturating_add(*count);
                if self.expanded > self.limits.alias_nodes {
                    let pos = self.lines.pos(self.text, start);
                    return Err(TemplateError::AliasBomb {
                        file: self.name.to_string(),
                        line: pos.line,
                        column: pos.column,
                        limit: self.limits.alias_nodes,
                    });
                }
                let mut node = node.clone();
                let end = trim_end(self.text, start, end);
                node.span = Span::new(start, end);
                node.pos = self.marker;
                node.alias = true;
                self.prev_end = end;
                self.complete(node, 0, start)?;
            }
            Event::Scalar(value, style, anchor, tag) => {
                self.scalar(value, style, anchor, tag.map(|t| tag_text(&t)), start, end)?;
                self.prev_end = end;
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(Kind::Seq(Vec::new()), start, end, anchor, tag)?;
            }
            Event::MappingStart(anchor, tag) => {
                let kind = Kind::Map {
                    entries: Vec::new(),
                    pending: None,
                    index: None,
                };
                self.open(kind, start, end, anchor, tag)?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.prev_end = end;
                if let Some(frame) = self.stack.pop() {
                    self.close(frame, end)?;
                }
            }
        }
        Ok(())
    }

    fn open(
        &mut self,
        kind: Kind,
        start: usize,
        end: usize,
        anchor: usize,
        tag: Option<Cow<'_, Tag>>,
    ) -> Result<(), TemplateError> {
        if self.stack.len() >= self.limits.depth {
            let pos = self.lines.pos(self.text, start);
            return Err(TemplateError::TooDeep {
                file: self.name.to_string(),
                line: pos.line,
                column: pos.column,
                limit: self.limits.depth,
            });
        }
        if let Some(Frame {
            kind: Kind::Map { pending: None, .. },
            ..
        }) = self.stack.last()
        {
            return Err(self.yaml_error(
                start,
                "a collection used as a mapping key; CloudFormation keys are strings".to_string(),
            ));
        }
        let opener = self.text[start..end].trim_end();
        let style = if opener.ends_with('[') || opener.ends_with('{') {
            Style::Flow
        } else {
            Style::Block
        };
        // An indentless block sequence (`Key:\n- a`) is reported at its first item's content;
        // its first byte is the `-` before it.
        let span_start = start;
        let mut start = start;
        if matches!(kind, Kind::Seq(_))
            && style == Style::Block
            && start == end
            && self.text.as_bytes().get(start) != Some(&b'-')
        {
            let bytes = self.text.as_bytes();
            let mut i = start;
            while i > 0 && bytes[i - 1] == b' ' {
                i -= 1;
            }
            if i > 0 && bytes[i - 1] == b'-' {
                start = i - 1;
            }
        }
        let pos = if start == span_start {
            self.marker
        } else {
            self.lines.pos(self.text, start)
        };
        self.stack.push(Frame {
            kind,
            start,
            pos,
            style,
            tag: tag.map(|t| tag_text(&t)),
            anchor,
            end: start,
        });
        self.prev_end = end;
        Ok(())
    }

    fn close(&mut self, frame: Frame, end: usize) -> Result<(), TemplateError> {
        let (value, last_end) = match frame.kind {
            Kind::Seq(items) => {
                let last = items.last().map(|n| n.span.end);
                (Value::Seq(items), last)
            }
            Kind::Map { entries, .. } => {
                let last = entries.last().map(|e| e.value.span.end.max(e.key.span.end));
                (Value::Map(entries), last)
            }
        };
        let end = match frame.style {
            Style::Flow => end,
            _ => last_end.unwrap_or(frame.end).max(frame.start),
        };
        let mut node = Node::new(value, Span::new(frame.start, end), frame.pos, frame.style);
        if let Some(tag) = frame.tag {
            node = apply_tag(tag, node);
        }
        self.complete(node, frame.anchor, frame.start)
    }

    fn scalar(
        &mut self,
        value: Cow<'_, str>,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<String>,
        start: usize,
        end: usize,
    ) -> Result<(), TemplateError> {
        let mut start = start;
        let style = match style {
            ScalarStyle::Plain => Style::Plain,
            ScalarStyle::SingleQuoted => Style::SingleQuoted,
            ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
            ScalarStyle::Literal => Style::Literal,
            ScalarStyle::Folded => Style::Folded,
        };
        if matches!(style, Style::Literal | Style::Folded) {
            start = header_start(self.text, self.prev_end.min(start), start);
        }
        let end = trim_end(self.text, start, end);
        let span = Span::new(start, end);
        let pos = if matches!(style, Style::Literal | Style::Folded) {
            self.lines.pos(self.text, start)
        } else {
            self.marker
        };

        // A scalar in key position becomes a key, with its text as written.
        if let Some(Frame {
            kind: Kind::Map { pending, .. },
            ..
        }) = self.stack.last_mut()
            && pending.is_none()
        {
            if anchor != 0 {
                // Anchored keys cannot be aliased usefully in CloudFormation; keep the text.
            }
            // `[!ImportValue Fn::Sub: x]` makes a function the key of a mapping: PyYAML (cfn-lint's
            // loader) fails on the unhashable key, and CloudFormation keys are strings.
            if let Some(t) = tag.as_deref()
                && !t.starts_with("!!")
                && !t.starts_with("!<")
            {
                return Err(self.yaml_error(
                    start,
                    format!(
                        "a function (`{t}`) used as a mapping key; CloudFormation keys are strings"
                    ),
                ));
            }
            *pending = Some(Key {
                text: value.into_owned(),
                span,
                pos,
            });
            return Ok(());
        }

        let value = match tag.as_deref() {
            Some("!!str") | Some("!<tag:yaml.org,2002:str>") => Value::String(value.into_owned()),
            Some("!!int") | Some("!!float") => Value::Number(value.into_owned()),
            Some("!!bool") => Value::Bool(matches!(value.as_ref(), "true" | "True" | "TRUE")),
            Some("!!null") => Value::Null,
            _ if style == Style::Plain => resolve_plain(value),
            _ => Value::String(value.into_owned()),
        };
        let empty_null = matches!(value, Value::Null) && tag.is_none() && span.is_empty();
        let mut node = Node::new(value, span, pos, style);
        if let Some(tag) = tag {
            if tag.starts_with("!!") || tag.starts_with("!<") {
                node.tag = Some(tag);
            } else {
                node = apply_tag(tag, node);
            }
        }
        if empty_null {
            node.span = Span::new(start, start);
        }
        self.complete(node, anchor, start)
    }

    /// Places a finished node into its parent (or makes it the document root).
    fn complete(&mut self, node: Node, anchor: usize, at: usize) -> Result<(), TemplateError> {
        if anchor != 0 {
            let count = node.count();
            self.anchors.insert(anchor, (node.clone(), count));
        }
        let Some(frame) = self.stack.last_mut() else {
            if self.root.as_ref().is_none_or(Node::is_null) {
                self.root = Some(node);
            }
            return Ok(());
        };
        match &mut frame.kind {
            Kind::Seq(items) => items.push(node),
            Kind::Map {
                entries,
                pending,
                index,
            } => {
                let Some(key) = pending.take() else {
                    // An alias in key position.
                    return Err(self.yaml_error(
                        at,
                        "an alias used as a mapping key; CloudFormation keys are strings"
                            .to_string(),
                    ));
                };
                let first = find_key(entries, index, &key.text);
                if let Some(i) = first {
                    let first = &entries[i].key;
                    self.duplicates.push(DuplicateKey {
                        key: key.text.clone(),
                        first: first.pos,
                        second: key.pos,
                    });
                }
                if let Some(index) = index {
                    index.insert(key.text.clone(), entries.len());
                }
                entries.push(Entry { key, value: node });
            }
        }
        Ok(())
    }
}

/// Linear search for small mappings, a hash index once a mapping grows (a `Resources` section
/// with thousands of entries would otherwise make loading quadratic).
fn find_key(
    entries: &[Entry],
    index: &mut Option<HashMap<String, usize>>,
    key: &str,
) -> Option<usize> {
    if index.is_none() && entries.len() >= 16 {
        let mut map = HashMap::with_capacity(entries.len() * 2);
        for (i, e) in entries.iter().enumerate() {
            map.entry(e.key.text.clone()).or_insert(i);
        }
        *index = Some(map);
    }
    match index {
        Some(map) => map.get(key).copied(),
        None => entries.iter().position(|e| e.key.text == key),
    }
}

/// Resolves an untagged plain scalar with the YAML 1.2 core schema.
fn resolve_plain(value: Cow<'_, str>) -> Value {
    match value.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        s if looks_numeric(s) => Value::Number(value.into_owned()),
        _ => Value::String(value.into_owned()),
    }
}

/// Core-schema int and float spellings.
pub(crate) fn looks_numeric(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(oct) = s.strip_prefix("0o") {
        return !oct.is_empty() && oct.chars().all(|c| c.is_digit(8));
    }
    if matches!(body, ".inf" | ".Inf" | ".INF") || matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let digits = mantissa.replacen('.', "", 1);
    let mantissa_ok = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && mantissa.matches('.').count() <= 1;
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// Finds where a block scalar really starts (its tag, anchor or `|`/`>` indicator) by scanning
/// forward from the end of the previous event, skipping the `:`/`-` indicators, blanks and
/// comments that can sit in between.
fn header_start(text: &str, from: usize, content: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = from;
    let mut after_blank = true;
    while i < content {
        match bytes[i] {
            b' ' | b'\t' | b'\r' | b'\n' => after_blank = true,
            b'#' if after_blank => {
                while i < content && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b':' | b'-' | b'?' | b',' => after_blank = false,
            _ => return i,
        }
        i += 1;
    }
    content
}

fn trim_end(text: &str, start: usize, mut end: usize) -> usize {
    let bytes = text.as_bytes();
    while end > start && matches!(bytes[end - 1], b' ' | b'\t' | b'\r' | b'\n') {
        end -= 1;
    }
    end
}

fn tag_text(tag: &Tag) -> String {
    match tag.handle.as_str() {
        "!" => format!("!{}", tag.suffix),
        "tag:yaml.org,2002:" => format!("!!{}", tag.suffix),
        "" => format!("!<{}>", tag.suffix),
        h => format!("{h}{}", tag.suffix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Loaded, TemplateError> {
        let lines = LineIndex::new(text);
        load("t.yaml", text, &lines, &Limits::default())
    }

    fn slice<'a>(text: &'a str, n: &Node) -> &'a str {
        &text[n.span.start..n.span.end]
    }

    #[test]
    fn spans_cover_tags_quotes_and_block_scalars() {
        let text = "A:\n  B: !GetAtt Foo.Arn\n  C: 'single' \n  D: |\n    l1\n    l2\n  E:\n  F: [a, !Ref b]\n  G:\n    - x\n    - y  # c\n";
        let root = parse(text).map(|l| l.root).unwrap();
        let a = root.get("A").unwrap();
        assert_eq!(slice(text, a.get("B").unwrap()), "!GetAtt Foo.Arn");
        assert_eq!(slice(text, a.get("C").unwrap()), "'single'");
        assert_eq!(slice(text, a.get("D").unwrap()), "|\n    l1\n    l2");
        assert!(a.get("E").unwrap().is_null());
        assert_eq!(slice(text, a.get("F").unwrap()), "[a, !Ref b]");
        assert_eq!(slice(text, a.get("G").unwrap()), "- x\n    - y");
        assert_eq!(a.get("G").unwrap().style, Style::Block);
        let text2 = "A:\n  S:\n  - x\n  - y\n";
        let s = parse(text2).map(|l| l.root).unwrap();
        let seq = s.pointer("/A/S").unwrap();
        assert_eq!(slice(text2, seq), "- x\n  - y");
        assert_eq!(seq.pos.column, 3);
        assert_eq!(a.get("F").unwrap().style, Style::Flow);
        assert_eq!(a.get("B").unwrap().pos.line, 2);
        assert_eq!(a.get("B").unwrap().pos.column, 6);
    }

    #[test]
    fn duplicate_keys_are_recorded_with_both_positions() {
        let loaded = parse("A: 1\nB: 2\nA: 3\n").unwrap();
        assert_eq!(loaded.duplicates.len(), 1);
        assert_eq!(loaded.duplicates[0].first.line, 1);
        assert_eq!(loaded.duplicates[0].second.line, 3);
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(matches!(parse(&text), Err(TemplateError::AliasBomb { .. })));
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        for (s, numeric) in [
            ("12", true),
            ("-1.5e3", true),
            ("0x1F", true),
            ("2012-10-17", false),
            ("1.2.3", false),
            ("e5", false),
            (".", false),
        ] {
            assert_eq!(looks_numeric(s), numeric, "{s}");
        }
    }

    /// Each case is YAML that libyaml (PyYAML, cfn-lint) loads and YAML 1.2 strictly refuses;
    /// shapes from public templates (issue 13, `scripts/corpus-check`).
    #[test]
    fn accepts_what_libyaml_accepts() {
        // A flow sequence whose `]` sits left of its items.
        let text = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      ManagedPolicyArns: [\n          \"arn:aws:iam::aws:policy/ReadOnlyAccess\",\n          \"arn:aws:iam::aws:policy/AmazonS3FullAccess\"\n      ]\n      Path: /\n";
        let root = parse(text).unwrap().root;
        let arns = root
            .pointer("/Resources/Role/Properties/ManagedPolicyArns")
            .unwrap();
        assert_eq!(arns.as_seq().map(<[Node]>::len), Some(2));
        assert!(slice(text, arns).starts_with('[') && slice(text, arns).ends_with("\n      ]"));
        assert_eq!(arns.style, Style::Flow);
        let path = root.pointer("/Resources/Role/Properties/Path").unwrap();
        assert_eq!((path.pos.line, path.pos.column), (9, 13));

        // A flow mapping (JSON-like) whose keys and closing brace sit left of the opening line.
        let text = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties: {\n      Path: /,\n    Description: x\n} \n";
        let root = parse(text).unwrap().root;
        let desc = root
            .pointer("/Resources/Role/Properties/Description")
            .unwrap();
        assert_eq!(desc.as_str(), Some("x"));
        assert_eq!((desc.pos.line, desc.pos.column), (6, 18));

        // `!Join` arguments closed on a line of their own, left of the items.
        let text = "Resources:\n  R:\n    Properties:\n      Arn: !Join ['', [\n          'arn:aws:iam::aws:policy/', 'ReadOnlyAccess'\n        ]]\n";
        let root = parse(text).unwrap().root;
        let arn = root.pointer("/Resources/R/Properties/Arn").unwrap();
        assert!(arn.get("Fn::Join").is_some());
        assert!(slice(text, arn).starts_with("!Join [") && slice(text, arn).ends_with("]]"));

        // A multi-line quoted scalar continued at a lower indentation: folded as libyaml does.
        let text = "Resources:\n  Role:\n    Properties:\n      Description: \"a long description that\n  continues at a lower indentation\"\n      Path: '/service/\nfoo/'\n";
        let root = parse(text).unwrap().root;
        let props = root.pointer("/Resources/Role/Properties").unwrap();
        let desc = props.get("Description").unwrap();
        assert_eq!(
            desc.as_str(),
            Some("a long description that continues at a lower indentation")
        );
        assert!(slice(text, desc).ends_with("indentation\""));
        assert_eq!(props.get("Path").unwrap().as_str(), Some("/service/ foo/"));

        // A comment right after a quoted scalar (cfn-lint-npm testData invalid_sub_reference).
        let text = "Resources:\n  MyBucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub \"${MyBucket}-Logs\"#\n";
        let root = parse(text).unwrap().root;
        let name = root
            .pointer("/Resources/MyBucket/Properties/BucketName")
            .unwrap();
        assert_eq!(slice(text, name), "!Sub \"${MyBucket}-Logs\"");

        // A quoted scalar's span stops at its closing quote, before blanks and a comment.
        let text = "Resources:\n  B:\n    Properties:\n      Name: 'logs'  # the bucket's name\n";
        let root = parse(text).unwrap().root;
        let name = root.pointer("/Resources/B/Properties/Name").unwrap();
        assert_eq!(slice(text, name), "'logs'");

        // Comment banners, a `---` marker with an indented document, and a `...` end marker.
        let text = "# =====\n# banner\n# =====\n---\n\n  # indented banner\n  AWSTemplateFormatVersion: 2010-09-09\n  Resources:\n    Role:\n      Type: AWS::IAM::Role\n...\n";
        let root = parse(text).unwrap().root;
        let ty = root.pointer("/Resources/Role/Type").unwrap();
        assert_eq!(slice(text, ty), "AWS::IAM::Role");
        assert_eq!((ty.pos.line, ty.pos.column), (10, 13));
    }

    /// What PyYAML refuses stays refused, with a position: a function as a mapping key (cfn-lint's
    /// test/fixtures/templates/bad/core/parse_invalid_map.yaml), a bracket never closed, a block
    /// mapping key left of its siblings.
    #[test]
    fn refuses_what_libyaml_refuses() {
        let text = "Resources:\n  G:\n    Properties:\n      Subnets: !Join [ ',', [ !ImportValue Fn::Sub: \"${Net}-A\" ] ]\n";
        let err = parse(text).err().unwrap();
        assert!(
            matches!(
                err,
                TemplateError::InvalidYaml {
                    line: 4,
                    column: 31,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("`!ImportValue`"), "{err}");
        let err = parse("Resources:\n  R: [a,\n").err().unwrap();
        assert!(matches!(err, TemplateError::InvalidYaml { .. }), "{err}");
        let err = parse("Resources:\n    R: 1\n  S: 2\n").err().unwrap();
        assert!(
            matches!(err, TemplateError::InvalidYaml { line: 3, .. }),
            "{err}"
        );
        let err = parse("Resources:\n  R: \"x\"y\n").err().unwrap();
        assert!(
            matches!(err, TemplateError::InvalidYaml { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn errors_carry_positions() {
        let err = parse("A: [1, 2\nB: x\n").err().unwrap();
        assert!(
            matches!(err, TemplateError::InvalidYaml { line: 2, .. }),
            "{err}"
        );
    }
}
