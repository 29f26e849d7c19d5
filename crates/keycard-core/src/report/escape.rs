//! Text from inputs (role ARNs and names, actions, event names, file names) made safe to show.
//!
//! A CloudTrail record or a template can hold any character, and a role ARN with an ANSI escape
//! (`\x1b]0;…`, `\x1b[2J`) or a bidi override (U+202E, "Trojan Source") printed raw rewrites
//! the reader's terminal or reorders what a reviewer sees in a pull request. Every place that
//! prints such text (the CLI's terminal output, report.md, report.html) goes through
//! [`printable`] (or [`printable_lines`] for whole messages), so one rule decides what is
//! shown: control characters (C0, DEL, C1), bidi formatting characters and line/paragraph
//! separators are written as `\u{…}`, visibly, and everything else as it is.

use std::borrow::Cow;

/// Whether `c` is shown as an escape: it moves the cursor, starts a terminal sequence, breaks
/// a line or reorders text around it. Bidi formatting characters are those of Unicode's
/// Bidi_Control property (UAX #9, <https://www.unicode.org/reports/tr9/#Directional_Formatting_Characters>).
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// `s` with every character [`needs_escape`] names written as `\u{hex}`; borrowed when there
/// is none (the common case costs no allocation).
pub fn printable(s: &str) -> Cow<'_, str> {
    escape_except(s, |_| false)
}

/// [`printable`] for a message of several lines: line feeds stay.
pub fn printable_lines(s: &str) -> Cow<'_, str> {
    escape_except(s, |c| c == '\n')
}

fn escape_except(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| needs_escape(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) && !keep(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// HTML escaping for text and attribute values (double- or single-quoted), of text made
/// [`printable`] first: a control character or bidi override from an input is shown as
/// `\u{…}`, never applied. report.html and the deployed chain's run index both write through
/// it.
pub fn html(s: &str) -> String {
    let s = printable(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A Markdown code span holding `s` exactly: printable, fenced with more backticks than any
/// run inside it (CommonMark 6.1), padded with a space when it starts or ends with a backtick.
/// `|` is escaped so a span in a table cell stays in its cell (GFM tables); use [`md_code`]
/// outside tables, where the backslash would show.
pub fn md_code_cell(s: &str) -> String {
    md_code(&s.replace('|', "\\|"))
}

/// A Markdown code span holding `s` exactly, outside tables (see [`md_code_cell`]).
pub fn md_code(s: &str) -> String {
    let text = printable(s);
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_bidi_overrides_are_shown_escaped() {
        assert!(matches!(
            printable("arn:aws:iam::123456789012:role/app"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            printable("role/a\x1b]0;pwned\x07b"),
            "role/a\\u{1b}]0;pwned\\u{7}b"
        );
        assert_eq!(printable("a\u{202E}gnp.exe"), "a\\u{202e}gnp.exe");
        assert_eq!(printable("a\r\nb\u{85}"), "a\\u{d}\\u{a}b\\u{85}");
        assert_eq!(printable_lines("one\ntwo\x1b[2J"), "one\ntwo\\u{1b}[2J");
        // Other non-ASCII text is left alone.
        assert_eq!(printable("rôle/注文"), "rôle/注文");
    }

    #[test]
    fn markdown_code_spans_cannot_be_broken_out_of() {
        assert_eq!(md_code("s3:GetObject"), "`s3:GetObject`");
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("`x"), "`` `x ``");
        assert_eq!(md_code_cell("a|b"), "`a\\|b`");
        assert_eq!(md_code("x\u{1b}[31m"), "`x\\u{1b}[31m`");
    }
}
