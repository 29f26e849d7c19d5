//! Finds the IAM that a template writes, with locations: identity policy statements, managed
//! policy attachments and role trust policies, each tied to the resource it is written in (for
//! suppressions) and to the principal it ends up on (for combination rules).

use super::tree::{Kind, Node, Pos};

/// Where something was found: the resource it is written in and a JSON-pointer-style path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Logical id of the resource the text belongs to (suppressions live in its Metadata).
    pub resource: String,
    /// Logical ids of the principals the grant ends up on (a role, user or group; for a SAM
    /// function without `Role`, its implicit `<Function>Role`).
    pub principals: Vec<String>,
    pub path: String,
}

/// What a policy document is for: the rules differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a role, user or group: what the principal may do.
    Identity,
    /// A role's `AssumeRolePolicyDocument`: who may become the role.
    Trust,
    /// A resource's own policy (bucket, queue, topic, key, secret): who may use the resource.
    Resource,
}

/// One policy statement.
#[derive(Debug)]
pub struct StatementSite<'t> {
    pub site: Site,
    pub node: &'t Node,
    pub kind: PolicyKind,
}

/// One managed policy reference (an ARN, or a SAM policy name).
#[derive(Debug)]
pub struct ManagedSite<'t> {
    pub site: Site,
    pub node: &'t Node,
    /// The policy name when the reference names an AWS managed policy
    /// (`arn:${AWS::Partition}:iam::aws:policy/job-function/ViewOnlyAccess` → `ViewOnlyAccess`).
    pub aws_managed_name: Option<String>,
}

/// Everything `check` looks at in one template.
#[derive(Debug, Default)]
pub struct Extracted<'t> {
    pub statements: Vec<StatementSite<'t>>,
    pub managed: Vec<ManagedSite<'t>>,
    /// Policy documents that were written as JSON strings but do not parse; reported as input
    /// problems by the caller rather than skipped silently.
    pub unreadable: Vec<(Site, Pos, String)>,
}

/// JSON-pointer escaping of one path segment.
fn seg(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Unwraps `Fn::If [cond, a, b]` into both branches (recursively) and drops `!Ref AWS::NoValue`,
/// so a grant behind a condition is checked whichever way the condition goes.
fn branches<'t>(node: &'t Node, path: String, out: &mut Vec<(&'t Node, String)>) {
    match node.intrinsic() {
        Some(("Fn::If", arg)) => {
            if let Kind::Seq(items) = &arg.kind {
                for (i, branch) in items.iter().enumerate().skip(1).take(2) {
                    branches(branch, format!("{path}/Fn::If/{i}"), out);
                }
            }
        }
        Some(("Ref", arg)) if arg.as_str() == Some("AWS::NoValue") => {}
        _ => out.push((node, path)),
    }
}

/// Owned nodes parsed from JSON-string policy documents; they must outlive the borrows taken
/// from them, so the caller keeps this arena alive alongside the [`Extracted`] value.
#[derive(Debug, Default)]
pub struct Arena {
    docs: Vec<Node>,
}

impl Arena {
    /// Parses every JSON-string policy document of the template up front, keyed by its
    /// position, so extraction can borrow them.
    pub fn parse_string_documents(root: &Node) -> Arena {
        let mut arena = Arena::default();
        collect_string_docs(root, &mut arena);
        arena
    }

    fn find(&self, at: Pos) -> Option<&Node> {
        self.docs.iter().find(|d| d.start == at)
    }
}

fn collect_string_docs(node: &Node, arena: &mut Arena) {
    match &node.kind {
        Kind::Map(entries) => {
            for (k, _, v) in entries {
                if matches!(
                    k.as_str(),
                    "PolicyDocument" | "AssumeRolePolicyDocument" | "KeyPolicy" | "ResourcePolicy"
                ) && let Some(text) = v.as_str()
                    && let Ok(value) = serde_json::from_str::<serde_json::Value>(text)
                {
                    arena.docs.push(Node::from_json(&value, v.start, v.end));
                }
                collect_string_docs(v, arena);
            }
        }
        Kind::Seq(items) => items.iter().for_each(|i| collect_string_docs(i, arena)),
        Kind::Scalar { .. } => {}
    }
}

/// The logical id a `!Ref X` / `!GetAtt X.Arn` points at.
fn referenced_id(node: &Node) -> Option<String> {
    match node.intrinsic() {
        Some(("Ref", arg)) => arg.as_str().map(str::to_string),
        Some(("Fn::GetAtt", arg)) => match &arg.kind {
            Kind::Scalar { value, .. } => value.split('.').next().map(str::to_string),
            Kind::Seq(items) => items.first().and_then(Node::as_str).map(str::to_string),
            Kind::Map(_) => None,
        },
        _ => None,
    }
}

/// The text of an ARN-ish value with intrinsics flattened: `!Sub` gives its template string,
/// `!Join` the concatenation (with `${X}` for `Ref`s). Enough to recognise AWS managed policies.
pub fn flat_text(node: &Node) -> Option<String> {
    if let Some(s) = node.as_str() {
        return Some(s.to_string());
    }
    match node.intrinsic()? {
        ("Fn::Sub", arg) => match &arg.kind {
            Kind::Scalar { value, .. } => Some(value.clone()),
            Kind::Seq(items) => items.first().and_then(Node::as_str).map(str::to_string),
            Kind::Map(_) => None,
        },
        ("Fn::Join", arg) => {
            let items = match &arg.kind {
                Kind::Seq(items) if items.len() == 2 => items,
                _ => return None,
            };
            let sep = items[0].as_str()?;
            let parts: Vec<String> = items[1]
                .items()
                .into_iter()
                .map(|p| match p.intrinsic() {
                    Some(("Ref", r)) => format!("${{{}}}", r.as_str().unwrap_or("?")),
                    _ => flat_text(p).unwrap_or_default(),
                })
                .collect();
            Some(parts.join(sep))
        }
        ("Ref", arg) => arg.as_str().map(|r| format!("${{{r}}}")),
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

/// Walks the template. `arena` must come from [`Arena::parse_string_documents`] on the same root.
pub fn extract<'t>(root: &'t Node, arena: &'t Arena) -> Extracted<'t> {
    let mut out = Extracted::default();
    let Some(resources) = root.get("Resources") else {
        return out;
    };
    let attached = managed_policy_attachments(resources);
    for (id, _, res) in resources.entries() {
        let ty = res.get("Type").and_then(Node::as_str).unwrap_or_default();
        let Some(props) = res.get("Properties") else {
            continue;
        };
        let base = format!("/Resources/{}/Properties", seg(id));
        let site = |principals: Vec<String>, path: String| Site {
            resource: id.clone(),
            principals,
            path,
        };
        match ty {
            "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
                let me = vec![id.clone()];
                if ty == "AWS::IAM::Role"
                    && let Some(doc) = props.get("AssumeRolePolicyDocument")
                {
                    let path = format!("{base}/AssumeRolePolicyDocument");
                    document(
                        doc,
                        &site(me.clone(), path),
                        PolicyKind::Trust,
                        arena,
                        &mut out,
                    );
                }
                if let Some(policies) = props.get("Policies") {
                    let mut list = Vec::new();
                    branches(policies, format!("{base}/Policies"), &mut list);
                    for (policies, ppath) in list {
                        for (i, p) in policies.items().into_iter().enumerate() {
                            let mut entries = Vec::new();
                            branches(p, format!("{ppath}/{i}"), &mut entries);
                            for (p, path) in entries {
                                if let Some(doc) = p.get("PolicyDocument") {
                                    let path = format!("{path}/PolicyDocument");
                                    document(
                                        doc,
                                        &site(me.clone(), path),
                                        PolicyKind::Identity,
                                        arena,
                                        &mut out,
                                    );
                                }
                            }
                        }
                    }
                }
                if let Some(arns) = props.get("ManagedPolicyArns") {
                    managed_list(
                        arns,
                        &format!("{base}/ManagedPolicyArns"),
                        &me,
                        id,
                        false,
                        &mut out,
                    );
                }
            }
            "AWS::IAM::Policy"
            | "AWS::IAM::ManagedPolicy"
            | "AWS::IAM::RolePolicy"
            | "AWS::IAM::UserPolicy"
            | "AWS::IAM::GroupPolicy" => {
                let mut principals = Vec::new();
                for key in [
                    "Roles",
                    "Users",
                    "Groups",
                    "RoleName",
                    "UserName",
                    "GroupName",
                ] {
                    if let Some(list) = props.get(key) {
                        for item in list.items() {
                            match referenced_id(item) {
                                Some(target) => principals.push(target),
                                None => {
                                    if let Some(name) = item.as_str() {
                                        principals.push(format!("name:{name}"));
                                    }
                                }
                            }
                        }
                    }
                }
                if let Some(holders) = attached.get(id.as_str()) {
                    principals.extend(holders.iter().cloned());
                }
                if principals.is_empty() {
                    principals.push(id.clone());
                }
                if let Some(doc) = props.get("PolicyDocument") {
                    let path = format!("{base}/PolicyDocument");
                    document(
                        doc,
                        &site(principals, path),
                        PolicyKind::Identity,
                        arena,
                        &mut out,
                    );
                }
            }
            "AWS::S3::BucketPolicy"
            | "AWS::SQS::QueuePolicy"
            | "AWS::SNS::TopicPolicy"
            | "AWS::KMS::Key"
            | "AWS::SecretsManager::ResourcePolicy" => {
                let key = match ty {
                    "AWS::KMS::Key" => "KeyPolicy",
                    "AWS::SecretsManager::ResourcePolicy" => "ResourcePolicy",
                    _ => "PolicyDocument",
                };
                if let Some(doc) = props.get(key) {
                    let path = format!("{base}/{key}");
                    document(
                        doc,
                        &site(vec![], path),
                        PolicyKind::Resource,
                        arena,
                        &mut out,
                    );
                }
            }
            "AWS::Serverless::Function" | "AWS::Serverless::StateMachine" => {
                // An explicit Role replaces SAM's generated one; Policies are then ignored by SAM.
                if props.get("Role").is_some() {
                    continue;
                }
                let me = vec![format!("{id}Role")];
                if let Some(policies) = props.get("Policies") {
                    let mut list = Vec::new();
                    branches(policies, format!("{base}/Policies"), &mut list);
                    for (policies, ppath) in list {
                        let is_list = matches!(policies.kind, Kind::Seq(_));
                        for (i, p) in policies.items().into_iter().enumerate() {
                            let ipath = if is_list {
                                format!("{ppath}/{i}")
                            } else {
                                ppath.clone()
                            };
                            let mut entries = Vec::new();
                            branches(p, ipath, &mut entries);
                            for (p, path) in entries {
                                sam_policy(p, &path, &me, id, arena, &mut out);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Which principals attach each `AWS::IAM::ManagedPolicy` of the template from their side
/// (`ManagedPolicyArns: [!Ref P]` on a role, user or group; `Policies: [!Ref P]` on a SAM
/// function), so the policy's statements count for those principals' combination rules.
fn managed_policy_attachments(resources: &Node) -> std::collections::BTreeMap<&str, Vec<String>> {
    let mut out: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    let managed: Vec<&str> = resources
        .entries()
        .iter()
        .filter(|(_, _, r)| r.get("Type").and_then(Node::as_str) == Some("AWS::IAM::ManagedPolicy"))
        .map(|(id, _, _)| id.as_str())
        .collect();
    for (id, _, res) in resources.entries() {
        let ty = res.get("Type").and_then(Node::as_str).unwrap_or_default();
        let (key, holder) = match ty {
            "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
                ("ManagedPolicyArns", id.clone())
            }
            "AWS::Serverless::Function" | "AWS::Serverless::StateMachine" => {
                ("Policies", format!("{id}Role"))
            }
            _ => continue,
        };
        let Some(list) = res.get("Properties").and_then(|p| p.get(key)) else {
            continue;
        };
        let mut items = Vec::new();
        branches(list, String::new(), &mut items);
        for (list, _) in items {
            for item in list.items() {
                let mut refs = Vec::new();
                branches(item, String::new(), &mut refs);
                for (item, _) in refs {
                    if let Some(target) = referenced_id(item)
                        && let Some(m) = managed.iter().find(|m| **m == target)
                    {
                        out.entry(m).or_default().push(holder.clone());
                    }
                }
            }
        }
    }
    out
}

/// One entry of a SAM `Policies` list: a managed policy name or ARN, an inline policy document,
/// or a SAM policy template (scoped by design, so not checked here).
fn sam_policy<'t>(
    p: &'t Node,
    path: &str,
    me: &[String],
    id: &str,
    arena: &'t Arena,
    out: &mut Extracted<'t>,
) {
    let site = Site {
        resource: id.to_string(),
        principals: me.to_vec(),
        path: path.to_string(),
    };
    if p.get("Statement").is_some() {
        document(p, &site, PolicyKind::Identity, arena, out);
    } else if p.as_str().is_some() || p.intrinsic().is_some() {
        let name = flat_text(p).and_then(|t| aws_managed_name(&t, true));
        out.managed.push(ManagedSite {
            site,
            node: p,
            aws_managed_name: name,
        });
    }
}

fn managed_list<'t>(
    arns: &'t Node,
    path: &str,
    me: &[String],
    id: &str,
    bare: bool,
    out: &mut Extracted<'t>,
) {
    let mut lists = Vec::new();
    branches(arns, path.to_string(), &mut lists);
    for (list, lpath) in lists {
        for (i, item) in list.items().into_iter().enumerate() {
            let mut entries = Vec::new();
            branches(item, format!("{lpath}/{i}"), &mut entries);
            for (item, ipath) in entries {
                let name = flat_text(item).and_then(|t| aws_managed_name(&t, bare));
                out.managed.push(ManagedSite {
                    site: Site {
                        resource: id.to_string(),
                        principals: me.to_vec(),
                        path: ipath,
                    },
                    node: item,
                    aws_managed_name: name,
                });
            }
        }
    }
}

/// A policy document: its statements (one object or a list, each possibly behind `Fn::If`).
fn document<'t>(
    doc: &'t Node,
    site: &Site,
    kind: PolicyKind,
    arena: &'t Arena,
    out: &mut Extracted<'t>,
) {
    let mut docs = Vec::new();
    branches(doc, site.path.clone(), &mut docs);
    for (doc, path) in docs {
        let doc = if let Some(text) = doc.as_str() {
            match arena.find(doc.start) {
                Some(parsed) => parsed,
                None => {
                    let reason = match serde_json::from_str::<serde_json::Value>(text) {
                        Err(e) => format!("policy document string is not valid JSON: {e}"),
                        Ok(_) => "policy document string could not be read".to_string(),
                    };
                    out.unreadable.push((
                        Site {
                            path,
                            ..site.clone()
                        },
                        doc.start,
                        reason,
                    ));
                    continue;
                }
            }
        } else {
            doc
        };
        let Some(statements) = doc.get("Statement") else {
            continue;
        };
        let is_list = matches!(statements.kind, Kind::Seq(_));
        for (i, st) in statements.items().into_iter().enumerate() {
            let spath = if is_list {
                format!("{path}/Statement/{i}")
            } else {
                format!("{path}/Statement")
            };
            let mut sts = Vec::new();
            branches(st, spath, &mut sts);
            for (st, spath) in sts {
                if matches!(st.kind, Kind::Map(_)) {
                    out.statements.push(StatementSite {
                        site: Site {
                            path: spath,
                            ..site.clone()
                        },
                        node: st,
                        kind,
                    });
                }
            }
        }
    }
}
