//! Reading policy documents and statements, wherever they come from (the template text, a JSON
//! string, a SAM template's expansion, a managed policy's published version): every site goes
//! through [`Finder::statement`], so one statement is read one way, counted against
//! [`STATEMENT_BUDGET`](super::STATEMENT_BUDGET) and expanded through the catalog once.

use serde_json::Value as J;

use super::{
    ConditionBranch, Context, Finder, GrantKind, STATEMENT_BUDGET, StatementRecord, Target,
    branches, over_budget_reason,
};
use crate::catalog::{AccessLevel, ActionSet};
use crate::template::node::{Entry, Key, Node, Style, Value, push_pointer};

/// A memoised catalog expansion with the access levels the flags need.
#[derive(Default)]
pub(super) struct Expanded {
    pub(super) actions: ActionSet,
    pub(super) unknown: Vec<String>,
    pub(super) write: bool,
    pub(super) permissions_management: bool,
}

impl Finder<'_> {
    pub(super) fn expand(
        &mut self,
        actions: Vec<String>,
        not_actions: Vec<String>,
    ) -> std::rc::Rc<Expanded> {
        let key = (actions, not_actions);
        if let Some(e) = self.expansions.get(&key) {
            return e.clone();
        }
        let expansion = self.catalog.effective(&key.0, &key.1);
        let level = |a: &String| self.catalog.access_level(a);
        let write = expansion
            .actions
            .iter()
            .any(|a| level(a) == Some(AccessLevel::Write));
        let permissions_management = expansion
            .actions
            .iter()
            .any(|a| level(a) == Some(AccessLevel::PermissionsManagement));
        let e = std::rc::Rc::new(Expanded {
            actions: ActionSet::from(expansion.actions),
            unknown: expansion.unknown,
            write,
            permissions_management,
        });
        self.expansions.insert(key, e.clone());
        e
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn document_grant(
        &mut self,
        target: &Target,
        ctx: &Context<'_>,
        kind: GrantKind,
        doc: &Node,
        path: &str,
        conditions: &[ConditionBranch],
        policy_name: Option<String>,
    ) {
        let mut base = ctx.conditions.clone();
        for c in conditions {
            if !base.contains(c) {
                base.push(c.clone());
            }
        }
        for d in branches(doc, path, &[]) {
            let mut conds = base.clone();
            conds.extend(d.conditions.iter().cloned());
            if self.sub_document_grant(
                target,
                ctx,
                kind,
                d.node,
                &d.path,
                &conds,
                policy_name.clone(),
            ) {
                continue;
            }
            let (doc_node, is_string) = match &d.node.value {
                Value::String(s) => match serde_json::from_str::<J>(s) {
                    Ok(v) => (std::borrow::Cow::Owned(json_node(&v, d.node)), true),
                    Err(e) => {
                        self.not_analysable(
                            d.node,
                            &d.path,
                            &format!("policy document string is not valid JSON ({e})"),
                        );
                        continue;
                    }
                },
                _ => (std::borrow::Cow::Borrowed(d.node), false),
            };
            let statements = self.document_statements(&doc_node, &d.path, is_string);
            let mut g = self.grant(target, ctx, kind, d.node, &d.path, &conds);
            g.policy_name = policy_name.clone();
            g.statements = statements;
            g.document_is_json_string = is_string;
            self.finish(g);
        }
    }

    pub(super) fn document_statements(
        &mut self,
        doc: &Node,
        path: &str,
        in_string: bool,
    ) -> Vec<StatementRecord> {
        let mut out = Vec::new();
        let Some(st) = doc.get("Statement") else {
            self.not_analysable(doc, path, "policy document without Statement");
            return out;
        };
        let spath = if in_string {
            path.to_string()
        } else {
            push_pointer(path, "Statement")
        };
        for b in branches(st, &spath, &[]) {
            let items: Vec<(&Node, String)> = match b.node.as_seq() {
                Some(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let p = if in_string {
                            b.path.clone()
                        } else {
                            push_pointer(&b.path, &i.to_string())
                        };
                        (n, p)
                    })
                    .collect(),
                None => vec![(b.node, b.path.clone())],
            };
            for (item, ipath) in items {
                for s in branches(item, &ipath, &b.conditions) {
                    if let Some(rec) = self.statement(s.node, &s.path, &s.conditions) {
                        out.push(rec);
                    }
                }
            }
        }
        out
    }

    pub(super) fn statement(
        &mut self,
        node: &Node,
        path: &str,
        conditions: &[ConditionBranch],
    ) -> Option<StatementRecord> {
        self.statements += 1;
        if self.statements > STATEMENT_BUDGET {
            if self.statements == STATEMENT_BUDGET + 1 {
                self.not_analysable(node, path, &over_budget_reason());
            }
            return None;
        }
        if node.as_map().is_none() {
            self.not_analysable(
                node,
                path,
                &format!("statement is not a mapping: {}", node.as_written()),
            );
            return None;
        }
        let effect = node.get("Effect").map(Node::as_written).unwrap_or_default();
        let (actions, action_patterns, opaque) = items_as_written(node.get("Action"));
        let (not_actions, not_action_patterns, not_opaque) =
            items_as_written(node.get("NotAction"));
        let (resources, _, _) = items_as_written(node.get("Resource"));
        let (not_resources, _, _) = items_as_written(node.get("NotResource"));
        let mut unknown: Vec<String> = Vec::new();
        for a in opaque.iter().chain(not_opaque.iter()) {
            if !unknown.contains(a) {
                unknown.push(a.clone());
            }
            self.not_analysable(
                node,
                path,
                &format!("action {a} is only known at deploy time; its actions are not counted"),
            );
        }
        let expansion = if node.get("Action").is_none() && node.get("NotAction").is_none() {
            std::rc::Rc::new(Expanded::default())
        } else {
            self.expand(action_patterns, not_action_patterns)
        };
        for u in &expansion.unknown {
            if !unknown.contains(u) {
                unknown.push(u.clone());
            }
        }
        Some(StatementRecord {
            sid: node.get("Sid").map(Node::as_written),
            effect,
            actions,
            not_actions,
            resources,
            not_resources,
            resource: node.get("Resource").map(Node::to_json),
            not_resource: node.get("NotResource").map(Node::to_json),
            condition: node.get("Condition").map(Node::to_json),
            raw: node.to_json(),
            effective: expansion.actions.clone(),
            unknown,
            levels: (expansion.write, expansion.permissions_management),
            conditions: conditions.to_vec(),
            path: path.to_string(),
            line: node.pos.line,
            column: node.pos.column,
        })
    }
}

/// Items of `Action`/`Resource` as written, the literal action patterns usable for catalog
/// expansion (both branches of an `Fn::If` count), and the items that yield no literal at all
/// (`!Ref Param`, `!Split`: only known at deploy time).
fn items_as_written(node: Option<&Node>) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut written = Vec::new();
    let mut patterns = Vec::new();
    let mut opaque = Vec::new();
    let Some(node) = node else {
        return (written, patterns, opaque);
    };
    let items: Vec<&Node> = match node.as_seq() {
        Some(items) => items.iter().collect(),
        None => vec![node],
    };
    for item in items {
        if item.is_no_value() {
            continue;
        }
        let text = item.as_written();
        if item.as_str().is_some() {
            patterns.push(text.clone());
            written.push(text);
            continue;
        }
        let before = patterns.len();
        for b in branches(item, "", &[]) {
            match b.node.as_seq() {
                Some(list) => {
                    patterns.extend(list.iter().filter_map(|n| n.as_str().map(str::to_string)))
                }
                None => {
                    if let Some(s) = b.node.as_str() {
                        patterns.push(s.to_string());
                    }
                }
            }
        }
        if patterns.len() == before {
            opaque.push(text.clone());
        }
        written.push(text);
    }
    (written, patterns, opaque)
}

/// A node tree for JSON that has no place in the text (a policy document inside a JSON
/// string, a SAM template's expansion): every node points at `at`.
pub(super) fn json_node(v: &J, at: &Node) -> Node {
    let value = match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => Value::Number(n.to_string()),
        J::String(s) => Value::String(s.clone()),
        J::Array(items) => Value::Seq(items.iter().map(|i| json_node(i, at)).collect()),
        J::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| Entry {
                    key: Key {
                        text: k.clone(),
                        span: at.span,
                        pos: at.pos,
                    },
                    value: json_node(v, at),
                })
                .collect(),
        ),
    };
    Node::new(value, at.span, at.pos, Style::Flow)
}
