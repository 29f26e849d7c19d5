//! `keycard check`: static analysis of the IAM a CloudFormation/SAM template writes.
//!
//! The job cfn-nag does for IAM, done with the IAM catalog's knowledge: a wildcard is judged by
//! what it expands to (is `s3:Put*` write? does `iam:*` contain escalation paths?), and
//! `Resource: "*"` is only a finding for actions that could have been scoped to an ARN.
//!
//! Findings carry file/line regions and a stable rule id ([`rules::RULES`]); suppressions live
//! in the template next to the resource they excuse, with a reason a reviewer can read:
//!
//! ```yaml
//! Metadata:
//!   keycard:
//!     suppress:
//!       - rule: KC002
//!         reason: "sqs:* on the one queue this function owns"
//! ```

pub mod extract;
pub mod render;
pub mod rules;
pub mod tree;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::{AccessLevel, Catalog};
use crate::policy::is_wildcard;
use extract::{PolicyKind, StatementSite, extract, flat_text};
pub use rules::{RULES, Rule, Severity, rule};
pub use tree::Pos;
use tree::{Kind, Node};

/// Why a file could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The template engine could not load it (its message names the file, line and column).
    #[error(transparent)]
    Load(#[from] crate::template::TemplateError),
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Rule id (`KC001`…).
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The file as named on the command line.
    pub file: String,
    pub start: Pos,
    pub end: Pos,
    /// Logical id of the resource the finding is written in.
    pub resource: String,
    /// JSON-pointer-style path of the offending node inside the template.
    pub path: String,
    /// The reason given when a suppression in the template applies to this finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

impl Finding {
    pub fn rule(&self) -> &'static Rule {
        // Findings are only ever created from the table, so the id is always found.
        rule(self.rule).unwrap_or(&RULES[0])
    }
}

/// The result for one template.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileReport {
    pub file: String,
    pub findings: Vec<Finding>,
    /// Parts of the template that could not be analysed (reported, never silently skipped).
    pub warnings: Vec<String>,
}

/// What the rules need to know about actions; implemented by the IAM catalog.
pub trait ActionInfo {
    /// Canonical actions matched by an action pattern (wildcards expanded); empty when none.
    fn expand(&self, pattern: &str) -> Vec<String>;
    /// The access level of a canonical action.
    fn access_level(&self, action: &str) -> Option<AccessLevel>;
    /// Whether the action can be limited to resource ARNs (it has resource types). Actions that
    /// cannot must use `Resource: "*"`, so that is no finding for them.
    fn resource_scoped(&self, action: &str) -> bool;
}

impl ActionInfo for Catalog {
    fn expand(&self, pattern: &str) -> Vec<String> {
        Catalog::expand(self, pattern).actions.into_iter().collect()
    }
    fn access_level(&self, action: &str) -> Option<AccessLevel> {
        Catalog::access_level(self, action)
    }
    fn resource_scoped(&self, action: &str) -> bool {
        !in_list(STAR_IN_PRACTICE, action)
            && self
                .action(action)
                .is_some_and(|a| !a.resource_types().is_empty())
    }
}

/// Actions whose only resource types are optional refinements that almost nobody uses (the
/// reference lists `dataset` for cloudwatch:PutMetricData): `Resource: "*"` is how they are
/// granted, so flagging it would only teach people to ignore KC010.
const STAR_IN_PRACTICE: &[&str] = &[
    "cloudwatch:PutMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
];

/// Actions that let a principal raise its own permissions (or another principal's) without
/// iam:PassRole. Compared case-insensitively.
const ESCALATION: &[&str] = &[
    "iam:AddUserToGroup",
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:CreatePolicyVersion",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
    "iam:PutGroupPolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:PutUserPermissionsBoundary",
    "iam:PutUserPolicy",
    "iam:SetDefaultPolicyVersion",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateLoginProfile",
    "lambda:UpdateFunctionCode",
    "glue:UpdateDevEndpoint",
    "ec2-instance-connect:SendSSHPublicKey",
    "ssm:SendCommand",
    "ssm:StartSession",
];

/// Actions that run code or infrastructure under a role the caller passes: with iam:PassRole
/// they make an escalation path.
const PASS_ROLE_TARGETS: &[&str] = &[
    "lambda:CreateFunction",
    "lambda:UpdateFunctionConfiguration",
    "ec2:RunInstances",
    "ecs:RunTask",
    "ecs:RegisterTaskDefinition",
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "cloudformation:CreateChangeSet",
    "glue:CreateDevEndpoint",
    "glue:CreateJob",
    "codebuild:CreateProject",
    "codebuild:UpdateProject",
    "datapipeline:CreatePipeline",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateProcessingJob",
    "states:CreateStateMachine",
    "states:UpdateStateMachine",
];

fn in_list(list: &[&str], action: &str) -> bool {
    list.iter().any(|a| a.eq_ignore_ascii_case(action))
}

/// AWS managed policies by the rule they trigger.
fn managed_policy_rule(name: &str) -> Option<&'static str> {
    match name {
        "AdministratorAccess" => Some("KC004"),
        "PowerUserAccess" | "IAMFullAccess" => Some("KC005"),
        n if n.ends_with("FullAccess") => Some("KC006"),
        _ => None,
    }
}

/// Lists at most a few names, then how many more: findings must stay one readable line.
fn some(names: &BTreeSet<String>) -> String {
    const SHOWN: usize = 4;
    let shown: Vec<&str> = names.iter().take(SHOWN).map(String::as_str).collect();
    let mut s = shown.join(", ");
    let more = names.len().saturating_sub(SHOWN);
    if more > 0 {
        s.push_str(&format!(" (+{more} more)"));
    }
    s
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

struct Run<'a> {
    file: &'a str,
    info: &'a dyn ActionInfo,
    findings: Vec<Finding>,
}

impl Run<'_> {
    fn push(&mut self, id: &'static str, node: &Node, resource: &str, path: &str, message: String) {
        let severity = rule(id).map(|r| r.severity).unwrap_or(Severity::Low);
        self.findings.push(Finding {
            rule: id,
            severity,
            message,
            file: self.file.to_string(),
            start: node.start,
            end: node.end,
            resource: resource.to_string(),
            path: path.to_string(),
            suppressed: None,
        });
    }
}

/// Per principal, what its identity statements allow (for combination rules).
#[derive(Default)]
struct PrincipalGrants<'t> {
    /// The first statement granting iam:PassRole: where a combination finding points.
    pass_role: Option<(&'t Node, String, String)>,
    targets: BTreeSet<String>,
}

/// Checks one template. `file` is how findings name it (as given on the command line).
pub fn check_template(
    file: &str,
    text: &str,
    info: &dyn ActionInfo,
) -> Result<FileReport, CheckError> {
    let template = crate::template::Template::load(file, text)?;
    let root = Node::from_template(template.root(), &template);
    // What the template engine cannot analyse (Fn::Transform includes, Fn::ForEach loops…)
    // cannot be checked either: say so rather than report a clean template.
    let mut not_analysable = crate::template::find_grants(&template).not_analysable;
    // A node reported for itself and for a part of it (a PolicyDocument that is an
    // `Fn::Transform`) is one problem: keep the more precise report.
    let paths: Vec<String> = not_analysable.iter().map(|n| n.path.clone()).collect();
    not_analysable.retain(|n| {
        !paths
            .iter()
            .any(|p| p.len() > n.path.len() && p.starts_with(&format!("{}/", n.path)))
    });
    let arena = extract::Arena::parse_string_documents(&root);
    let found = extract(&root, &arena);
    let mut run = Run {
        file,
        info,
        findings: Vec::new(),
    };
    let mut warnings: Vec<String> = not_analysable
        .iter()
        .map(|n| {
            format!(
                "{file}:{}:{}: {}: not analysed: {}",
                n.line, n.column, n.path, n.reason
            )
        })
        .collect();
    for (site, pos, reason) in &found.unreadable {
        if !not_analysable.iter().any(|n| n.path == site.path) {
            warnings.push(format!(
                "{file}:{}:{}: {}: not analysed: {reason}",
                pos.line, pos.column, site.path
            ));
        }
    }

    let mut principals: BTreeMap<String, PrincipalGrants<'_>> = BTreeMap::new();
    for st in &found.statements {
        match st.kind {
            PolicyKind::Trust => trust_statement(&mut run, st),
            PolicyKind::Resource => resource_statement(&mut run, st),
            PolicyKind::Identity => identity_statement(&mut run, st, &mut principals),
        }
    }
    for (principal, grants) in &principals {
        if let Some((node, resource, path)) = &grants.pass_role
            && !grants.targets.is_empty()
        {
            run.push(
                "KC023",
                node,
                resource,
                path,
                format!(
                    "{principal} can pass roles (iam:PassRole) and also {}",
                    some(&grants.targets)
                ),
            );
        }
    }
    for m in &found.managed {
        if let Some(name) = &m.aws_managed_name
            && let Some(id) = managed_policy_rule(name)
        {
            run.push(
                id,
                m.node,
                &m.site.resource,
                &m.site.path,
                format!(
                    "AWS managed policy {name} is attached to {}",
                    m.site.principals.join(", ")
                ),
            );
        }
    }

    apply_suppressions(&mut run, &root);
    let mut findings = run.findings;
    findings.sort_by(|a, b| {
        (a.start, a.rule, &a.path, &a.message).cmp(&(b.start, b.rule, &b.path, &b.message))
    });
    findings.dedup_by(|a, b| {
        a.rule == b.rule && a.path == b.path && a.start == b.start && a.message == b.message
    });
    Ok(FileReport {
        file: file.to_string(),
        findings,
        warnings,
    })
}

fn scalar_items(node: Option<&Node>) -> Vec<&Node> {
    node.map(Node::items).unwrap_or_default()
}

fn identity_statement<'t>(
    run: &mut Run<'_>,
    st: &StatementSite<'t>,
    principals: &mut BTreeMap<String, PrincipalGrants<'t>>,
) {
    let node = st.node;
    if node.get("Effect").and_then(Node::as_str) != Some("Allow") {
        return;
    }
    let res = st.site.resource.as_str();
    let path = st.site.path.as_str();
    if let Some(na) = node.get("NotAction") {
        run.push(
            "KC007",
            na,
            res,
            &format!("{path}/NotAction"),
            "Allow with NotAction grants every action except the listed ones".into(),
        );
    }
    if let Some(nr) = node.get("NotResource") {
        run.push(
            "KC008",
            nr,
            res,
            &format!("{path}/NotResource"),
            "Allow with NotResource grants the actions on every resource except the listed ones"
                .into(),
        );
    }
    let Some(action_node) = node.get("Action") else {
        return;
    };
    let is_list = matches!(action_node.kind, Kind::Seq(_));
    let mut effective = BTreeSet::new();
    let mut everything = false;
    for (i, a) in action_node.items().into_iter().enumerate() {
        let apath = if is_list {
            format!("{path}/Action/{i}")
        } else {
            format!("{path}/Action")
        };
        let Some(pattern) = a.as_str() else {
            continue; // an intrinsic: nothing known statically
        };
        let pattern = pattern.trim();
        if pattern == "*" || pattern == "*:*" {
            run.push(
                "KC001",
                a,
                res,
                &apath,
                format!("`{pattern}` allows every action"),
            );
            everything = true;
            continue;
        }
        let Some((service, name)) = pattern.split_once(':') else {
            run.push(
                "KC009",
                a,
                res,
                &apath,
                format!("`{pattern}` is not an action (service:Action)"),
            );
            continue;
        };
        let expanded = run.info.expand(pattern);
        if name == "*" {
            run.push(
                "KC002",
                a,
                res,
                &apath,
                format!(
                    "`{pattern}` allows all {} of {service}",
                    plural(expanded.len(), "action")
                ),
            );
        } else if is_wildcard(pattern) {
            run.push(
                "KC003",
                a,
                res,
                &apath,
                format!(
                    "`{pattern}` matches {} today and any added later",
                    plural(expanded.len(), "action")
                ),
            );
        }
        if expanded.is_empty() {
            run.push(
                "KC009",
                a,
                res,
                &apath,
                format!("`{pattern}` matches no known IAM action"),
            );
        }
        effective.extend(expanded);
    }
    if everything {
        return; // KC001 says it all; listing every consequence of `*` is noise
    }

    let resources = scalar_items(node.get("Resource"));
    let star = resources
        .iter()
        .find(|r| r.as_str().map(str::trim) == Some("*"));
    let lower = |a: &str| a.to_ascii_lowercase();
    if let Some(star) = star {
        let rpath = format!("{path}/Resource");
        let mut writes = BTreeSet::new();
        let mut perms = BTreeSet::new();
        for a in &effective {
            let l = lower(a);
            if l == "iam:passrole" || l == "sts:assumerole" || !run.info.resource_scoped(a) {
                continue;
            }
            match run.info.access_level(a) {
                Some(AccessLevel::Write) => {
                    writes.insert(a.clone());
                }
                Some(AccessLevel::PermissionsManagement) => {
                    perms.insert(a.clone());
                }
                _ => {}
            }
        }
        if !perms.is_empty() {
            run.push(
                "KC011",
                star,
                res,
                &rpath,
                format!("{} on Resource \"*\"", some(&perms)),
            );
        }
        if !writes.is_empty() {
            run.push(
                "KC010",
                star,
                res,
                &rpath,
                format!("{} on Resource \"*\"", some(&writes)),
            );
        }
        if effective.iter().any(|a| lower(a) == "iam:passrole") {
            run.push(
                "KC021",
                star,
                res,
                &rpath,
                "iam:PassRole on Resource \"*\"".into(),
            );
        }
        if effective.iter().any(|a| lower(a) == "sts:assumerole") {
            run.push(
                "KC022",
                star,
                res,
                &rpath,
                "sts:AssumeRole on Resource \"*\"".into(),
            );
        }
    }
    let escalations: BTreeSet<String> = effective
        .iter()
        .filter(|a| in_list(ESCALATION, a))
        .cloned()
        .collect();
    if !escalations.is_empty() {
        run.push(
            "KC020",
            action_node,
            res,
            &format!("{path}/Action"),
            format!("allows {}", some(&escalations)),
        );
    }
    for p in &st.site.principals {
        let g = principals.entry(p.clone()).or_default();
        if g.pass_role.is_none() && effective.iter().any(|a| lower(a) == "iam:passrole") {
            g.pass_role = Some((action_node, res.to_string(), format!("{path}/Action")));
        }
        g.targets.extend(
            effective
                .iter()
                .filter(|a| in_list(PASS_ROLE_TARGETS, a))
                .cloned(),
        );
    }
}

fn trust_statement(run: &mut Run<'_>, st: &StatementSite<'_>) {
    let node = st.node;
    if node.get("Effect").and_then(Node::as_str) != Some("Allow") {
        return;
    }
    if node.get("Condition").is_some() {
        return; // conditions (ExternalId, PrincipalOrgID, token subject…) are what the rules ask for
    }
    let res = st.site.resource.as_str();
    let path = st.site.path.as_str();
    let Some(principal) = node.get("Principal") else {
        return;
    };
    let ppath = format!("{path}/Principal");
    if principal.as_str().map(str::trim) == Some("*") {
        run.push(
            "KC030",
            principal,
            res,
            &ppath,
            "trust policy Principal is \"*\"".into(),
        );
        return;
    }
    for (kind, _, value) in principal.entries() {
        for item in value.items() {
            match kind.as_str() {
                "AWS" => {
                    let Some(text) = flat_text(item) else {
                        continue; // !GetAtt of a role in this stack: same account
                    };
                    if text.trim() == "*" {
                        run.push(
                            "KC030",
                            item,
                            res,
                            &ppath,
                            "trust policy admits AWS principal \"*\"".into(),
                        );
                    } else if !text.contains("${AWS::AccountId}") {
                        run.push(
                            "KC031",
                            item,
                            res,
                            &ppath,
                            format!("trust policy admits {text} without conditions"),
                        );
                    }
                }
                "Federated" => {
                    let text = flat_text(item).unwrap_or_else(|| "a federated provider".into());
                    run.push(
                        "KC032",
                        item,
                        res,
                        &ppath,
                        format!("trust policy admits {text} without conditions"),
                    );
                }
                _ => {}
            }
        }
    }
}

/// Whether a statement's `Principal` is everyone: `"*"` or `{"AWS": "*"}` (also in a list).
fn everyone(principal: &Node) -> bool {
    if principal.as_str().map(str::trim) == Some("*") {
        return true;
    }
    principal.get("AWS").is_some_and(|aws| {
        aws.items()
            .iter()
            .any(|i| i.as_str().map(str::trim) == Some("*"))
    })
}

/// A resource policy (bucket, queue, topic, key, secret) that lets anyone use the resource.
/// Conditions (aws:SourceArn, aws:PrincipalOrgID, aws:SecureTransport…) are left to the
/// author's judgement; only the unconditioned grant is certain to be open.
fn resource_statement(run: &mut Run<'_>, st: &StatementSite<'_>) {
    let node = st.node;
    if node.get("Effect").and_then(Node::as_str) != Some("Allow") || node.get("Condition").is_some()
    {
        return;
    }
    if let Some(principal) = node.get("Principal")
        && everyone(principal)
    {
        let actions: Vec<String> = node
            .get("Action")
            .map(Node::items)
            .unwrap_or_default()
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        let what = if actions.is_empty() {
            "its actions".to_string()
        } else {
            actions.join(", ")
        };
        run.push(
            "KC033",
            principal,
            &st.site.resource,
            &format!("{}/Principal", st.site.path),
            format!(
                "resource policy allows {what} to everyone (Principal \"*\") without conditions"
            ),
        );
    }
}

/// Reads `Metadata.keycard.suppress` of every resource and marks matching findings. Accepted:
/// `suppress: [{rule: KC002, reason: "…"}]`, or `suppress: [KC002]` with a sibling `reason`.
/// A suppression without a reason, or naming an unknown rule, is not applied and is reported
/// (KC090), which itself cannot be suppressed.
fn apply_suppressions(run: &mut Run<'_>, root: &Node) {
    let mut granted: BTreeMap<(String, &'static str), String> = BTreeMap::new();
    let Some(resources) = root.get("Resources") else {
        return;
    };
    for (id, _, res) in resources.entries() {
        let Some(keycard) = res.get("Metadata").and_then(|m| m.get("keycard")) else {
            continue;
        };
        let Some(list) = keycard.get("suppress") else {
            continue;
        };
        let shared_reason = keycard.get("reason").and_then(Node::as_str);
        let base = format!("/Resources/{id}/Metadata/keycard/suppress");
        for (i, item) in list.items().into_iter().enumerate() {
            let (rule_id, reason) = match &item.kind {
                Kind::Scalar { value, .. } => (Some(value.as_str()), shared_reason),
                Kind::Map(_) => (
                    item.get("rule").and_then(Node::as_str),
                    item.get("reason").and_then(Node::as_str).or(shared_reason),
                ),
                Kind::Seq(_) => (None, None),
            };
            let ipath = format!("{base}/{i}");
            let Some(rule_id) = rule_id else {
                run.push(
                    "KC090",
                    item,
                    id,
                    &ipath,
                    "suppression names no rule (`rule: KCnnn`)".into(),
                );
                continue;
            };
            let known = rule(rule_id).filter(|r| r.id != "KC090");
            let Some(known) = known else {
                run.push(
                    "KC090",
                    item,
                    id,
                    &ipath,
                    format!("suppression names unknown rule {rule_id}"),
                );
                continue;
            };
            match reason.map(str::trim).filter(|r| !r.is_empty()) {
                Some(reason) => {
                    granted.insert((id.clone(), known.id), reason.to_string());
                }
                None => run.push(
                    "KC090",
                    item,
                    id,
                    &ipath,
                    format!(
                        "suppression of {} has no reason, so it is not applied",
                        known.id
                    ),
                ),
            }
        }
    }
    for f in &mut run.findings {
        if f.rule != "KC090"
            && let Some(reason) = granted.get(&(f.resource.clone(), f.rule))
        {
            f.suppressed = Some(reason.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_of(text: &str) -> Vec<&'static str> {
        check_template("t.yaml", text, Catalog::embedded())
            .unwrap()
            .findings
            .iter()
            .filter(|f| f.suppressed.is_none())
            .map(|f| f.rule)
            .collect()
    }

    fn role_with(statement: &str) -> String {
        format!(
            "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      Policies:\n        - PolicyName: p\n          PolicyDocument:\n            Statement:\n{statement}"
        )
    }

    #[test]
    fn deny_statements_are_never_findings() {
        let t = role_with(
            "              - Effect: Deny\n                Action: '*'\n                NotResource: '*'\n",
        );
        assert_eq!(rules_of(&t), Vec::<&str>::new());
    }

    #[test]
    fn action_case_and_intrinsics_are_handled() {
        let t = role_with(
            "              - Effect: Allow\n                Action: [IAM:passrole, !Ref ActionParam]\n                Resource: '*'\n",
        );
        assert_eq!(rules_of(&t), vec!["KC021"]);
    }

    #[test]
    fn scoped_writes_and_unscopable_actions_are_clean() {
        let t = role_with(
            "              - Effect: Allow\n                Action: [s3:PutObject]\n                Resource: !Sub arn:${AWS::Partition}:s3:::b/*\n              - Effect: Allow\n                Action: [xray:PutTraceSegments, s3:ListAllMyBuckets]\n                Resource: '*'\n",
        );
        assert_eq!(rules_of(&t), Vec::<&str>::new());
    }

    #[test]
    fn a_star_statement_reports_once() {
        let t = role_with(
            "              - Effect: Allow\n                Action: '*'\n                Resource: '*'\n",
        );
        assert_eq!(rules_of(&t), vec!["KC001"]);
    }

    #[test]
    fn malformed_shapes_do_not_panic() {
        for t in [
            "Resources: {}\n",
            "Resources:\n  R: 5\n",
            "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties: [1]\n",
            "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      Policies: 7\n      ManagedPolicyArns: {a: b}\n      AssumeRolePolicyDocument: {Statement: [1, [2], {Effect: Allow, Principal: [x]}]}\n",
            "Resources:\n  R:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies: !If [C]\n",
            "Resources:\n  R:\n    Type: AWS::IAM::Policy\n    Properties:\n      PolicyDocument: {Statement: {Effect: Allow, Action: {x: y}, Resource: [[]]}}\n      Roles: !Ref X\n",
            "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Metadata: {keycard: {suppress: {rule: KC001}}}\n",
        ] {
            let report = check_template("t.yaml", t, Catalog::embedded());
            assert!(report.is_ok(), "{t}: {report:?}");
        }
    }

    #[test]
    fn templates_without_resources_are_input_errors() {
        for t in [
            "[1, 2]\n",
            "AWSTemplateFormatVersion: '2010-09-09'\n",
            "Resources: [a]\n",
        ] {
            assert!(matches!(
                check_template("t.yaml", t, Catalog::embedded()),
                Err(CheckError::Load(
                    crate::template::TemplateError::NotATemplate { .. }
                ))
            ));
        }
    }

    proptest::proptest! {
        /// Whatever bytes arrive, check answers with a report or an error, never a panic.
        #[test]
        fn never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
            let _ = check_template("t.yaml", &text, Catalog::embedded());
        }

        #[test]
        fn never_panics_on_yaml_shaped_noise(
            lines in proptest::collection::vec("( {0,8})(Resources|Type|Properties|Policies|Statement|Effect|Action|Resource|Principal|AWS|- |!Ref |!If |\\*|\\[|\\]|\\{|\\}|:|'|AWS::IAM::Role|Allow)*", 0..20)
        ) {
            let _ = check_template("t.yaml", &lines.join("\n"), Catalog::embedded());
        }
    }
}
