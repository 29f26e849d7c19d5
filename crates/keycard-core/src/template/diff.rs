//! Unified diff of a rewrite, for people and for pull-request comments.

use similar::{Algorithm, TextDiff};

/// Patience diff: it anchors on lines that occur once in both texts (every resource's key line)
/// and runs Myers only between anchors. Plain Myers costs (lines × differences), which grows
/// with the square of the roles when every role is rewritten (1,600 roles: most of a
/// proposal's time); git offers the same algorithm as `--patience`.
const ALGORITHM: Algorithm = Algorithm::Patience;

/// A unified diff (`--- a/name`, `+++ b/name`, 3 lines of context) of `old` → `new`; empty
/// when they are equal. Line endings are compared as written, so a CRLF file diffs cleanly.
pub fn unified_diff(old: &str, new: &str, name: &str) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::configure()
        .algorithm(ALGORITHM)
        .diff_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .missing_newline_hint(true)
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::cmp::Ordering;
    use std::hash::{Hash, Hasher};

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

    thread_local! {
        static COMPARISONS: Cell<usize> = const { Cell::new(0) };
    }

    /// A line that counts how often the diff algorithm compares it.
    #[derive(Debug, Clone, Copy)]
    struct Counted<'a>(&'a str);

    impl PartialEq for Counted<'_> {
        fn eq(&self, other: &Self) -> bool {
            COMPARISONS.with(|c| c.set(c.get() + 1));
            self.0 == other.0
        }
    }
    impl Eq for Counted<'_> {}
    impl PartialOrd for Counted<'_> {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Counted<'_> {
        fn cmp(&self, other: &Self) -> Ordering {
            COMPARISONS.with(|c| c.set(c.get() + 1));
            self.0.cmp(other.0)
        }
    }
    impl Hash for Counted<'_> {
        fn hash<H: Hasher>(&self, state: &mut H) {
            self.0.hash(state);
        }
    }

    /// A template of `n` roles, every one of them rewritten the way a proposal does.
    fn roles(n: usize, rewritten: bool) -> String {
        (0..n)
            .map(|i| {
                let statement = if rewritten {
                    "              - Effect: Allow\n                Action:\n                  - s3:GetObject\n                Resource: '*'\n"
                } else {
                    "              - Effect: Allow\n                Action: ['s3:*', 'sqs:*']\n                Resource: '*'\n"
                };
                format!(
                    "  Worker{i}Role:\n    Type: AWS::IAM::Role\n    Properties:\n      Policies:\n        - PolicyName: worker\n          PolicyDocument:\n            Statement:\n{statement}"
                )
            })
            .collect()
    }

    #[test]
    fn line_comparisons_grow_linearly_with_the_rewritten_roles() {
        let per_role = |n: usize| {
            let (old, new) = (roles(n, false), roles(n, true));
            let a: Vec<Counted<'_>> = old.lines().map(Counted).collect();
            let b: Vec<Counted<'_>> = new.lines().map(Counted).collect();
            let before = COMPARISONS.with(Cell::get);
            let ops = similar::capture_diff_slices(ALGORITHM, &a, &b);
            assert!(!ops.is_empty());
            (COMPARISONS.with(Cell::get) - before) / n
        };
        let (few, many) = (per_role(3), per_role(40));
        // Myers compares about (lines × differences): ×13 per role from 3 to 40 roles.
        assert!(
            many <= 2 * few,
            "{few} comparisons per role at 3 roles, {many} at 40"
        );
    }
}
