//! What the rules read: every statement the template writes (identity, trust, resource), each
//! once with the principals it reaches and its place in the file, and every managed policy
//! attachment — all taken from `template::find_grants`, the extractor `keycard propose` reads,
//! so `check` and `propose` never disagree on what a template grants.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as J;

use super::ActionInfo;
use crate::template::grants::{PolicySite, ResourcePolicyKind};
use crate::template::{Grant, GrantKind, Grants, PhysicalName, Pos, StatementRecord, Template};

/// The shared model of one template.
pub(crate) struct Model<'a> {
    pub grants: &'a Grants,
    pub info: &'a dyn ActionInfo,
    pub statements: Vec<StatementSite<'a>>,
    pub managed: Vec<ManagedSite<'a>>,
}

/// One statement as the rules see it.
pub(crate) struct StatementSite<'a> {
    pub site: PolicySite,
    /// For trust and resource policies, what holds the policy.
    pub policy: Option<ResourcePolicyKind>,
    pub record: &'a StatementRecord,
    /// Logical id of the resource the statement is written in (suppressions live there).
    pub resource: String,
    /// Identity statements: the principals (roles, users, groups) it ends up on.
    pub principals: Vec<String>,
    /// JSON pointer of the statement; `#N` marks statement N of a document that is not in the
    /// text as separate nodes (JSON string, SAM policy template expansion).
    pub path: String,
    pub start: Pos,
    pub end: Pos,
    /// The action patterns written, both branches of an `Fn::If` included.
    pub actions: Vec<String>,
    /// What `Resource` names, both branches of an `Fn::If` included.
    pub resources: Vec<ResourceRef>,
    /// The AWS managed policy the statement is published in, when it comes from one attached
    /// by name or ARN (its findings are reported at the attachment, see `check_template`).
    pub managed_policy: Option<String>,
}

/// What one `Resource` value covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResourceRef {
    /// `*`, or an ARN whose resource part is only wildcards (`arn:aws:s3:::*`,
    /// `arn:${AWS::Partition}:s3:::*/*`): every resource of `service` (of every service when
    /// `None`).
    Any { service: Option<String> },
    /// An ARN pattern with a wildcard (`…:function:orders-*`).
    Pattern(String),
    /// One named resource (an ARN, or `!GetAtt`/`!Ref` of a resource of this template).
    Exact(String),
    /// A role of this template (`!GetAtt Role.Arn`, `${Role.Arn}`, `…:role/<its RoleName>`).
    OwnRole(String),
    /// Only known at deploy time (`!Ref Parameter`, `!ImportValue`, …).
    Unknown(String),
}

/// A managed policy attachment (an ARN, or a SAM `Policies` name).
pub(crate) struct ManagedSite<'a> {
    pub grant: &'a Grant,
    /// The AWS managed policy's name when the reference names one
    /// (`arn:${AWS::Partition}:iam::aws:policy/job-function/ViewOnlyAccess` → `ViewOnlyAccess`).
    pub aws_managed_name: Option<String>,
    pub start: Pos,
    pub end: Pos,
}

impl StatementSite<'_> {
    pub(super) fn is_allow(&self) -> bool {
        self.record.is_allow()
    }

    /// Whether the statement allows (nearly) everything: `Action: "*"` or `NotAction`.
    pub(super) fn allows_everything(&self) -> bool {
        self.actions.iter().any(|a| a == "*" || a == "*:*")
            || self.record.raw.get("NotAction").is_some()
    }

    /// Canonical actions the statement applies to.
    pub(super) fn effective(&self) -> impl Iterator<Item = &String> {
        self.record.effective.iter()
    }

    /// Whether the statement applies to this canonical action.
    pub(super) fn allows(&self, action: &str) -> bool {
        self.is_allow() && self.record.effective.contains(action)
    }

    /// Whether `Resource` names every resource `action` can act on: `*`, or an all-wildcard ARN
    /// of the action's service (`NotResource` is KC008's business).
    pub(super) fn on_any_resource(&self, action: &str) -> bool {
        let service = action.split(':').next().unwrap_or_default();
        self.resources.iter().any(|r| match r {
            ResourceRef::Any { service: None } => true,
            ResourceRef::Any { service: Some(s) } => s.eq_ignore_ascii_case(service),
            _ => false,
        })
    }

    /// How the findings name the "every resource" of [`Self::on_any_resource`].
    pub(super) fn any_resource_label(&self) -> String {
        let services: BTreeSet<&str> = self
            .resources
            .iter()
            .filter_map(|r| match r {
                ResourceRef::Any { service: Some(s) } => Some(s.as_str()),
                _ => None,
            })
            .collect();
        if self.resources.contains(&ResourceRef::Any { service: None }) || services.is_empty() {
            "on Resource \"*\"".to_string()
        } else {
            let services: Vec<&str> = services.into_iter().collect();
            format!("on every {} resource", services.join("/"))
        }
    }

    /// Whether every resource is named exactly (one ARN, or a resource of this template).
    pub(super) fn names_each_resource(&self) -> bool {
        self.record.not_resource.is_none()
            && !self.resources.is_empty()
            && self
                .resources
                .iter()
                .all(|r| matches!(r, ResourceRef::Exact(_) | ResourceRef::OwnRole(_)))
    }

    pub(super) fn has_condition(&self) -> bool {
        self.record.condition.as_ref().is_some_and(|c| match c {
            J::Object(m) => !m.is_empty(),
            _ => true,
        })
    }

    /// Whether `Condition` tests this key (under any operator; keys compare case-insensitively,
    /// as IAM compares them).
    pub(super) fn has_condition_key(&self, key: &str) -> bool {
        let Some(J::Object(ops)) = &self.record.condition else {
            return false;
        };
        ops.values().any(|keys| match keys {
            J::Object(k) => k.keys().any(|k| k.eq_ignore_ascii_case(key)),
            _ => false,
        })
    }

    /// The statement's `Principal` as written (trust and resource policies).
    pub(super) fn principal(&self) -> Option<&J> {
        self.record.raw.get("Principal")
    }
}

impl<'a> Model<'a> {
    pub(super) fn build(
        template: &'a Template,
        grants: &'a Grants,
        info: &'a dyn ActionInfo,
    ) -> Self {
        let roles = OwnRoles::of(grants);
        let mut statements: Vec<StatementSite<'a>> = Vec::new();
        let mut by_path: BTreeMap<String, usize> = BTreeMap::new();
        for g in grants
            .grants
            .iter()
            .chain(&grants.read_only)
            .filter(|g| written_in_template(g.kind))
        {
            for (path, record) in statement_paths(&g.statements) {
                if let Some(&i) = by_path.get(&path) {
                    if !statements[i].principals.contains(&g.principal) {
                        statements[i].principals.push(g.principal.clone());
                    }
                    continue;
                }
                by_path.insert(path.clone(), statements.len());
                statements.push(site(
                    template,
                    &roles,
                    PolicySite::Identity,
                    None,
                    record,
                    &g.source,
                    vec![g.principal.clone()],
                    path,
                ));
            }
        }
        for p in &grants.resource_policies {
            for (path, record) in statement_paths(&p.statements) {
                if by_path.insert(path.clone(), statements.len()).is_some() {
                    continue;
                }
                statements.push(site(
                    template,
                    &roles,
                    p.kind.site(),
                    Some(p.kind),
                    record,
                    &p.source,
                    Vec::new(),
                    path,
                ));
            }
        }
        let managed: Vec<ManagedSite<'a>> = grants
            .grants
            .iter()
            .filter(|g| !written_in_template(g.kind))
            .map(|g| {
                let bare_names = g.kind == GrantKind::SamManagedPolicy;
                let (start, end) = locate(template, &g.path, g.line, g.column);
                ManagedSite {
                    grant: g,
                    aws_managed_name: g.managed_policy_arns.first().and_then(|arn| {
                        let text = match serde_json::from_str::<J>(arn) {
                            Ok(v @ J::Object(_)) => flat_text(&v)?,
                            _ => arn.clone(),
                        };
                        aws_managed_name(&text, bare_names)
                    }),
                    start,
                    end,
                }
            })
            .collect();
        // An AWS managed policy's published statements (resolved by `find_grants` from the
        // embedded dataset) are judged by the same rules as statements written in the
        // template: a proposal that writes the policy out as explicit statements must never
        // rate worse than the attachment it replaces (issue 13).
        for m in &managed {
            let name = m
                .aws_managed_name
                .clone()
                .unwrap_or_else(|| m.grant.managed_policy_arns.join(", "));
            for record in &m.grant.statements {
                if let Some(&i) = by_path.get(&record.path) {
                    if !statements[i].principals.contains(&m.grant.principal) {
                        statements[i].principals.push(m.grant.principal.clone());
                    }
                    continue;
                }
                by_path.insert(record.path.clone(), statements.len());
                let mut s = site(
                    template,
                    &roles,
                    PolicySite::Identity,
                    None,
                    record,
                    &m.grant.source,
                    vec![m.grant.principal.clone()],
                    record.path.clone(),
                );
                s.managed_policy = Some(name.clone());
                statements.push(s);
            }
        }
        Model {
            grants,
            info,
            statements,
            managed,
        }
    }

    /// Identity statements that reach a principal.
    pub(super) fn statements_of<'m>(
        &'m self,
        principal: &'m str,
    ) -> impl Iterator<Item = &'m StatementSite<'a>> + 'm {
        self.statements.iter().filter(move |s| {
            s.site == PolicySite::Identity && s.principals.iter().any(|p| p == principal)
        })
    }
}

/// Grants whose statements are written in the template. Managed policy ARNs bring statements
/// from outside it (AWS's published policies): they are judged by name (KC004–KC006) and by
/// those statements, reported at the attachment.
fn written_in_template(kind: GrantKind) -> bool {
    !matches!(
        kind,
        GrantKind::ManagedPolicyArn | GrantKind::SamManagedPolicy
    )
}

/// Each statement with a path of its own: statements of a JSON-string document share the
/// document's path, so the N-th of them gets `#N`.
fn statement_paths(statements: &[StatementRecord]) -> Vec<(String, &StatementRecord)> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for s in statements {
        *count.entry(&s.path).or_default() += 1;
    }
    statements
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let path = if count.get(s.path.as_str()).copied().unwrap_or(0) > 1 {
                format!("{}#{i}", s.path)
            } else {
                s.path.clone()
            };
            (path, s)
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn site<'a>(
    template: &Template,
    roles: &OwnRoles,
    site: PolicySite,
    policy: Option<ResourcePolicyKind>,
    record: &'a StatementRecord,
    resource: &str,
    principals: Vec<String>,
    path: String,
) -> StatementSite<'a> {
    let (start, end) = locate(template, &path, record.line, record.column);
    let mut actions = Vec::new();
    if let Some(a) = record.raw.get("Action") {
        literals(a, &mut actions, 0);
    }
    let mut resources = Vec::new();
    if let Some(r) = &record.resource {
        resource_refs(r, roles, &mut resources, 0);
    }
    StatementSite {
        site,
        policy,
        record,
        resource: resource.to_string(),
        principals,
        path,
        start,
        end,
        actions,
        resources,
        managed_policy: None,
    }
}

/// Start and end of the node at `path` (before any `#N`), or the recorded position.
pub(crate) fn locate(template: &Template, path: &str, line: usize, column: usize) -> (Pos, Pos) {
    let base = path.split('#').next().unwrap_or(path);
    match template.node(base) {
        Some(n) => (n.pos, template.pos(n.span.end)),
        None => {
            let p = Pos { line, column };
            (p, p)
        }
    }
}

/// Strings of a value, both branches of `Fn::If` included (`Action: !If [C, s3:*, s3:Get*]`).
fn literals(v: &J, out: &mut Vec<String>, depth: usize) {
    if depth > 16 {
        return;
    }
    match v {
        J::String(s) => out.push(s.trim().to_string()),
        J::Array(items) => items.iter().for_each(|i| literals(i, out, depth + 1)),
        J::Object(m) => {
            if let Some(J::Array(args)) = m.get("Fn::If") {
                args.iter()
                    .skip(1)
                    .take(2)
                    .for_each(|b| literals(b, out, depth + 1));
            }
        }
        _ => {}
    }
}

/// The roles of this template, by logical id and by literal name.
struct OwnRoles {
    ids: BTreeSet<String>,
    names: BTreeMap<String, String>,
}

impl OwnRoles {
    fn of(grants: &Grants) -> Self {
        let roles = grants
            .principals
            .iter()
            .filter(|p| p.principal_type == "AWS::IAM::Role");
        let mut ids = BTreeSet::new();
        let mut names = BTreeMap::new();
        for p in roles {
            ids.insert(p.logical_id.clone());
            if let PhysicalName::Literal(n) = &p.name {
                names.insert(n.clone(), p.logical_id.clone());
            }
        }
        OwnRoles { ids, names }
    }

    /// The role a text names: `${Role.Arn}`, `…:role/${Role}` or `…:role/<literal name>`.
    fn in_text(&self, text: &str) -> Option<String> {
        for id in &self.ids {
            if text == format!("${{{id}.Arn}}") || text.ends_with(&format!(":role/${{{id}}}")) {
                return Some(id.clone());
            }
        }
        let (_, name) = text.rsplit_once(":role/")?;
        let name = name.rsplit('/').next().unwrap_or(name);
        self.names.get(name).cloned()
    }
}

/// Classifies every value of a `Resource`.
fn resource_refs(v: &J, roles: &OwnRoles, out: &mut Vec<ResourceRef>, depth: usize) {
    if depth > 16 {
        return;
    }
    match v {
        J::String(s) => out.push(match roles.in_text(s) {
            Some(id) => ResourceRef::OwnRole(id),
            None => classify(s),
        }),
        J::Array(items) => items
            .iter()
            .for_each(|i| resource_refs(i, roles, out, depth + 1)),
        J::Object(m) => {
            if let Some(J::Array(args)) = m.get("Fn::If") {
                args.iter()
                    .skip(1)
                    .take(2)
                    .for_each(|b| resource_refs(b, roles, out, depth + 1));
                return;
            }
            if let Some(r) = m.get("Ref").and_then(J::as_str) {
                match r {
                    "AWS::NoValue" => {}
                    _ if roles.ids.contains(r) => out.push(ResourceRef::OwnRole(r.to_string())),
                    _ => out.push(ResourceRef::Unknown(v.to_string())),
                }
                return;
            }
            if let Some(att) = m.get("Fn::GetAtt") {
                let id = match att {
                    J::Array(a) => a.first().and_then(J::as_str),
                    J::String(s) => s.split('.').next(),
                    _ => None,
                };
                out.push(match id {
                    Some(id) if roles.ids.contains(id) => ResourceRef::OwnRole(id.to_string()),
                    _ => ResourceRef::Exact(v.to_string()),
                });
                return;
            }
            match flat_text(v) {
                Some(text) => out.push(match roles.in_text(&text) {
                    Some(id) => ResourceRef::OwnRole(id),
                    None => classify(&text),
                }),
                None => out.push(ResourceRef::Unknown(v.to_string())),
            }
        }
        _ => out.push(ResourceRef::Unknown(v.to_string())),
    }
}

/// `*`, an all-wildcard ARN, a pattern or one resource.
pub(crate) fn classify(text: &str) -> ResourceRef {
    let text = text.trim();
    if text == "*" {
        return ResourceRef::Any { service: None };
    }
    let parts = arn_parts(text);
    if parts.len() == 6 && parts[0] == "arn" {
        let resource = parts[5];
        if !resource.is_empty() && resource.chars().all(|c| c == '*' || c == '/') {
            let service = parts[2];
            return ResourceRef::Any {
                service: (service != "*" && !service.is_empty()).then(|| service.to_string()),
            };
        }
    }
    if text.contains('*') || text.contains('?') {
        ResourceRef::Pattern(text.to_string())
    } else {
        ResourceRef::Exact(text.to_string())
    }
}

/// The six `:`-separated parts of an ARN, the last one holding the rest; a `${AWS::Partition}`
/// reference is one part (its colons are not separators).
fn arn_parts(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if parts.len() == 5 {
            break;
        }
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The text of an ARN-ish value with intrinsics flattened: `Fn::Sub` gives its template string
/// with literal variables substituted (SAM policy templates expand to
/// `{"Fn::Sub": ["arn:${AWS::Partition}:s3:::${bucketName}", {"bucketName": "*"}]}`),
/// `Fn::Join` the concatenation (`${X}` for a `Ref`, `${X.Attr}` for a `GetAtt`).
pub(crate) fn flat_text(v: &J) -> Option<String> {
    flat(v, 0)
}

fn flat(v: &J, depth: usize) -> Option<String> {
    if depth > 16 {
        return None;
    }
    match v {
        J::String(s) => Some(s.clone()),
        J::Object(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next()?;
            match (k.as_str(), arg) {
                ("Fn::Sub", J::String(s)) => Some(s.clone()),
                ("Fn::Sub", J::Array(a)) => {
                    let mut text = a.first()?.as_str()?.to_string();
                    if let Some(J::Object(vars)) = a.get(1) {
                        for (name, value) in vars {
                            if let Some(v) = flat(value, depth + 1) {
                                text = text.replace(&format!("${{{name}}}"), &v);
                            }
                        }
                    }
                    Some(text)
                }
                ("Fn::Join", J::Array(a)) if a.len() == 2 => {
                    let sep = a[0].as_str()?;
                    let parts = a[1].as_array()?;
                    let texts: Option<Vec<String>> =
                        parts.iter().map(|p| flat(p, depth + 1)).collect();
                    Some(texts?.join(sep))
                }
                ("Ref", J::String(r)) => Some(format!("${{{r}}}")),
                ("Fn::GetAtt", J::Array(a)) => {
                    let names: Option<Vec<&str>> = a.iter().map(J::as_str).collect();
                    Some(format!("${{{}}}", names?.join(".")))
                }
                ("Fn::GetAtt", J::String(s)) => Some(format!("${{{s}}}")),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The AWS managed policy name in an ARN (`arn:aws:iam::aws:policy/service-role/X` → `X`), or
/// the text itself when it is a bare name (SAM accepts `Policies: [AmazonS3FullAccess]`).
fn aws_managed_name(text: &str, bare_names_allowed: bool) -> Option<String> {
    if let Some(idx) = text.find(":iam::aws:policy/") {
        let rest = &text[idx + ":iam::aws:policy/".len()..];
        return rest.rsplit('/').next().map(str::to_string);
    }
    (bare_names_allowed
        && !text.starts_with("arn:")
        && !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_+=,.@".contains(c)))
    .then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resources_are_classified_by_what_they_cover() {
        assert_eq!(classify("*"), ResourceRef::Any { service: None });
        assert_eq!(
            classify("arn:${AWS::Partition}:s3:::*/*"),
            ResourceRef::Any {
                service: Some("s3".into())
            }
        );
        assert!(matches!(
            classify("arn:aws:lambda:us-east-1:1:function:orders-*"),
            ResourceRef::Pattern(_)
        ));
        assert!(matches!(
            classify("arn:aws:sqs:us-east-1:1:work"),
            ResourceRef::Exact(_)
        ));
    }

    #[test]
    fn sub_variables_and_joins_are_flattened() {
        assert_eq!(
            flat_text(
                &json!({"Fn::Sub": ["arn:${AWS::Partition}:s3:::${bucketName}/*", {"bucketName": "*"}]})
            ),
            Some("arn:${AWS::Partition}:s3:::*/*".into())
        );
        assert_eq!(
            flat_text(
                &json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/AdministratorAccess"]]})
            ),
            Some("arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess".into())
        );
        assert_eq!(flat_text(&json!({"Fn::ImportValue": "x"})), None);
    }

    #[test]
    fn own_roles_are_recognised_in_every_spelling() {
        let roles = OwnRoles {
            ids: ["TaskRole".to_string()].into(),
            names: [("app-task".to_string(), "TaskRole".to_string())].into(),
        };
        for v in [
            json!({"Fn::GetAtt": ["TaskRole", "Arn"]}),
            json!({"Fn::Sub": "${TaskRole.Arn}"}),
            json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${TaskRole}"}),
            json!("arn:aws:iam::123456789012:role/app-task"),
        ] {
            let mut out = Vec::new();
            resource_refs(&v, &roles, &mut out, 0);
            assert_eq!(out, vec![ResourceRef::OwnRole("TaskRole".into())], "{v}");
        }
        let mut out = Vec::new();
        resource_refs(
            &json!({"Fn::If": ["C", "*", {"Ref": "AWS::NoValue"}]}),
            &roles,
            &mut out,
            0,
        );
        assert_eq!(out, vec![ResourceRef::Any { service: None }]);
    }
}
