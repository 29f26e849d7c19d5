//! Following `Fn::If` into both branches: a grant, statement or list under a condition is read
//! once per branch, with the conditions it sits under, so nothing a branch grants is missed.

use super::ConditionBranch;
use crate::template::node::{Node, push_pointer};

/// A node reached through zero or more `Fn::If`s.
pub(super) struct Branch<'a> {
    pub(super) node: &'a Node,
    pub(super) path: String,
    pub(super) conditions: Vec<ConditionBranch>,
}

/// Follows `Fn::If` into both branches (skipping `AWS::NoValue`).
pub(super) fn branches<'n>(
    node: &'n Node,
    path: &str,
    conditions: &[ConditionBranch],
) -> Vec<Branch<'n>> {
    let mut out = Vec::new();
    collect_branches(node, path.to_string(), conditions.to_vec(), &mut out, 0);
    out
}

pub(super) fn collect_branches<'n>(
    node: &'n Node,
    path: String,
    conditions: Vec<ConditionBranch>,
    out: &mut Vec<Branch<'n>>,
    depth: usize,
) {
    if node.is_no_value() {
        return;
    }
    if depth < 16
        && let Some(("Fn::If", arg)) = node.intrinsic()
        && let Some([cond, yes, no]) = arg
            .as_seq()
            .map(|s| s.get(..3).unwrap_or(&[]))
            .and_then(|s| <&[Node; 3]>::try_from(s).ok())
        && let Some(c) = cond.as_str()
    {
        let ifpath = push_pointer(&path, "Fn::If");
        for (i, branch, value) in [(1, yes, true), (2, no, false)] {
            let mut conds = conditions.clone();
            conds.push(ConditionBranch {
                condition: c.to_string(),
                branch: value,
            });
            collect_branches(
                branch,
                push_pointer(&ifpath, &i.to_string()),
                conds,
                out,
                depth + 1,
            );
        }
        return;
    }
    out.push(Branch {
        node,
        path,
        conditions,
    });
}
