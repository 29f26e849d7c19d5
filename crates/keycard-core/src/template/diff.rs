//! Unified diff of a rewrite, for people and for pull-request comments.

use similar::TextDiff;

/// A unified diff (`--- a/name`, `+++ b/name`, 3 lines of context) of `old` → `new`; empty
/// when they are equal. Line endings are compared as written, so a CRLF file diffs cleanly.
pub fn unified_diff(old: &str, new: &str, name: &str) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .missing_newline_hint(true)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_has_headers_and_hunks() {
        let d = unified_diff("a\nb\nc\n", "a\nB\nc\n", "t.yaml");
        assert!(
            d.starts_with("--- a/t.yaml\n+++ b/t.yaml\n@@ -1,3 +1,3 @@\n"),
            "{d}"
        );
        assert!(d.contains("-b\n+B\n"));
        assert_eq!(unified_diff("x", "x", "t"), "");
    }
}
