//! Byte offset → line:column, for positions in messages and grant records.

use super::node::Pos;

/// Start offsets of every line. Columns count characters (not bytes) so that they match what
/// an editor shows for non-ASCII text; a leading BOM is not counted.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = Vec::with_capacity(text.len() / 32 + 1);
        starts.push(0);
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { starts }
    }

    /// The position of byte `offset` (clamped to the text, moved back to a char boundary).
    pub fn pos(&self, text: &str, offset: usize) -> Pos {
        let mut offset = offset.min(text.len());
        while offset > 0 && !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts.get(line).copied().unwrap_or(0);
        let prefix = text.get(start..offset).unwrap_or("");
        let prefix = prefix.strip_prefix('\u{feff}').unwrap_or(prefix);
        Pos {
            line: line + 1,
            column: prefix.chars().count() + 1,
        }
    }

    /// Byte offset of the start of the line containing `offset`.
    pub fn line_start(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => self.starts[i],
            Err(i) => self.starts.get(i.saturating_sub(1)).copied().unwrap_or(0),
        }
    }
}

/// Converts the parser's character indices into byte offsets. Events arrive nearly in order, so
/// a cursor that walks from the last answer is linear overall and needs no table.
pub(crate) struct CharCursor<'a> {
    text: &'a str,
    ascii: bool,
    chars: usize,
    bytes: usize,
}

impl<'a> CharCursor<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        CharCursor {
            text,
            ascii: text.is_ascii(),
            chars: 0,
            bytes: 0,
        }
    }

    pub(super) fn byte(&mut self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.text.len());
        }
        while self.chars < char_index {
            match self.text[self.bytes..].chars().next() {
                Some(c) => {
                    self.bytes += c.len_utf8();
                    self.chars += 1;
                }
                None => return self.bytes,
            }
        }
        while self.chars > char_index {
            match self.text[..self.bytes].chars().next_back() {
                Some(c) => {
                    self.bytes -= c.len_utf8();
                    self.chars -= 1;
                }
                None => return 0,
            }
        }
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_and_skip_bom() {
        let text = "\u{feff}a: 1\nb: café x\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.pos(text, 3), Pos { line: 1, column: 1 });
        let x = text.find(" x").unwrap_or(0) + 1;
        assert_eq!(idx.pos(text, x), Pos { line: 2, column: 9 });
    }

    #[test]
    fn cursor_walks_both_ways() {
        let text = "é1é2";
        let mut c = CharCursor::new(text);
        assert_eq!(c.byte(3), 5);
        assert_eq!(c.byte(1), 2);
        assert_eq!(c.byte(9), text.len());
    }
}
