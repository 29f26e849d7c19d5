//! `keycard check`: static analysis of the IAM a CloudFormation/SAM template writes.
//!
//! The job cfn-nag does for IAM, done with the IAM catalog's knowledge: a wildcard is judged by
//! what it expands to (is `s3:Put*` write? does `iam:*` contain escalation paths?), and
//! `Resource: "*"` is only a finding for actions that could have been scoped to an ARN.
//!
//! The rules read the grants `keycard propose` reads (`template::find_grants`: identity
//! policies with SAM `Globals`, policy templates and connectors, trust and resource policies)
//! and the one risk table (`crate::risk`). Each rule is a file in [`rules`]. A statement that
//! breaks several rules is one finding listing them, at the statement.
//!
//! Findings carry file/line regions and stable rule ids ([`RuleId`]); suppressions live in the
//! template next to the resource they excuse, with a reason a reviewer can read:
//!
//! ```yaml
//! Metadata:
//!   keycard:
//!     suppress:
//!       - rule: KC002
//!         reason: "sqs:* on the one queue this function owns"
//! ```

mod model;
#[cfg(test)]
mod one_model_tests;
pub mod render;
pub mod rules;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::{AccessLevel, Catalog};
pub use crate::template::Pos;
use crate::template::{Template, find_grants};
use model::Model;
pub use rules::{RULES, Rule, RuleId, Severity};

/// Why a file could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The template engine could not load it (its message names the file, line and column).
    #[error(transparent)]
    Load(#[from] crate::template::TemplateError),
}

/// One rule a finding's statement (or attachment) breaks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub rule: RuleId,
    pub severity: Severity,
    pub message: String,
    /// The reason given when a suppression in the template applies to this rule here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

/// One finding: a statement, a managed policy attachment or a suppression, with every rule it
/// breaks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The rule that decides the finding's severity: the most severe unsuppressed one (the
    /// most severe of all when every one is suppressed).
    pub rule: RuleId,
    pub severity: Severity,
    /// The messages of the unsuppressed rules (of all rules when every one is suppressed).
    pub message: String,
    /// Every rule broken here, most severe first.
    pub violations: Vec<Violation>,
    /// The file as named on the command line.
    pub file: String,
    pub start: Pos,
    pub end: Pos,
    /// Logical id of the resource the finding is written in.
    pub resource: String,
    /// JSON-pointer-style path of the offending node inside the template.
    pub path: String,
    /// Set when every rule broken here is suppressed: the reasons given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

impl Finding {
    pub fn rule(&self) -> &'static Rule {
        self.rule.rule()
    }

    /// The rules that count (unsuppressed; all when the finding is suppressed), in order.
    pub fn rules(&self) -> Vec<RuleId> {
        let open: Vec<RuleId> = self
            .violations
            .iter()
            .filter(|v| v.suppressed.is_none())
            .map(|v| v.rule)
            .collect();
        if open.is_empty() {
            self.violations.iter().map(|v| v.rule).collect()
        } else {
            open
        }
    }

    /// Builds a finding from its violations (not empty), ordering them and choosing the rule
    /// that decides severity and message.
    fn new(
        mut violations: Vec<Violation>,
        file: &str,
        (start, end): (Pos, Pos),
        resource: &str,
        path: &str,
    ) -> Option<Finding> {
        violations.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
        let open: Vec<&Violation> = violations
            .iter()
            .filter(|v| v.suppressed.is_none())
            .collect();
        let shown: Vec<&Violation> = if open.is_empty() {
            violations.iter().collect()
        } else {
            open.clone()
        };
        let first = *shown.first()?;
        let suppressed = open.is_empty().then(|| {
            let mut reasons: Vec<&str> = violations
                .iter()
                .filter_map(|v| v.suppressed.as_deref())
                .collect();
            reasons.dedup();
            reasons.join("; ")
        });
        let message = if shown.len() == 1 {
            first.message.clone()
        } else {
            shown
                .iter()
                .map(|v| format!("{}: {}", v.rule, v.message))
                .collect::<Vec<_>>()
                .join("; ")
        };
        Some(Finding {
            rule: first.rule,
            severity: first.severity,
            message,
            file: file.to_string(),
            start,
            end,
            resource: resource.to_string(),
            path: path.to_string(),
            suppressed,
            violations,
        })
    }
}

/// The result for one template.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileReport {
    pub file: String,
    pub findings: Vec<Finding>,
    /// Parts of the template that could not be analysed (reported, never silently skipped).
    pub warnings: Vec<String>,
    /// Why the template could not be checked at all (it could not be read or loaded); a report
    /// with an error has no findings and must not pass for clean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl FileReport {
    /// The report of a template that could not be read or loaded.
    pub fn failed(file: &str, error: String) -> FileReport {
        FileReport {
            file: file.to_string(),
            error: Some(error),
            ..FileReport::default()
        }
    }
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
        !STAR_IN_PRACTICE
            .iter()
            .any(|a| a.eq_ignore_ascii_case(action))
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

/// Checks one template. `file` is how findings name it (as given on the command line).
pub fn check_template(
    file: &str,
    text: &str,
    info: &dyn ActionInfo,
) -> Result<FileReport, CheckError> {
    let template = Template::load(file, text)?;
    let grants = find_grants(&template);
    let model = Model::build(&template, &grants, info);

    let mut findings = Vec::new();
    // Violations of AWS managed policy statements, by the attachment they come from.
    let mut from_managed: BTreeMap<&str, Vec<(RuleId, String)>> = BTreeMap::new();
    for s in &model.statements {
        let broken = rules::statement_violations(s, &model);
        if let Some(name) = &s.managed_policy {
            let attachment = s.path.split('#').next().unwrap_or(&s.path);
            let at = from_managed.entry(attachment).or_default();
            for (rule, message) in broken {
                at.push((rule, format!("AWS managed policy {name}: {message}")));
            }
            continue;
        }
        let violations: Vec<Violation> = broken
            .into_iter()
            .map(|(rule, message)| violation(rule, message))
            .collect();
        findings.extend(Finding::new(
            violations,
            file,
            (s.start, s.end),
            &s.resource,
            &s.path,
        ));
    }
    for m in &model.managed {
        let by_name = rules::managed_violation(m);
        // KC004/KC005 name what KC001 (`Action: "*"`) and KC007 (`NotAction`) find in
        // AdministratorAccess and PowerUserAccess, at the same severity: said once, by name.
        let name_severity = by_name.as_ref().map(|(rule, _)| rule.rule().severity);
        let said_by_name = |rule: RuleId| {
            matches!(rule, RuleId::KC001 | RuleId::KC007)
                && name_severity.is_some_and(|s| s >= rule.rule().severity)
        };
        let mut violations: Vec<Violation> = by_name
            .into_iter()
            .map(|(rule, message)| violation(rule, message))
            .collect();
        if let Some(broken) = from_managed.get(m.grant.path.as_str()) {
            violations.extend(
                one_per_rule(broken)
                    .filter(|(rule, _)| !said_by_name(*rule))
                    .map(|(rule, message)| violation(rule, message)),
            );
        }
        findings.extend(Finding::new(
            violations,
            file,
            (m.start, m.end),
            &m.grant.source,
            &m.grant.path,
        ));
    }
    let suppressions = rules::kc090_invalid_suppression::read(&template);
    for bad in &suppressions.invalid {
        findings.extend(Finding::new(
            vec![violation(RuleId::KC090, bad.message.clone())],
            file,
            bad.at,
            &bad.resource,
            &bad.path,
        ));
    }
    for f in &mut findings {
        let mut changed = false;
        for v in &mut f.violations {
            if v.rule != RuleId::KC090
                && let Some(reason) = suppressions.granted.get(&(f.resource.clone(), v.rule))
            {
                v.suppressed = Some(reason.clone());
                changed = true;
            }
        }
        if changed
            && let Some(updated) = Finding::new(
                std::mem::take(&mut f.violations),
                file,
                (f.start, f.end),
                &f.resource,
                &f.path,
            )
        {
            *f = updated;
        }
    }
    findings.sort_by(|a, b| (a.start, &a.path, a.rule).cmp(&(b.start, &b.path, b.rule)));

    Ok(FileReport {
        file: file.to_string(),
        findings,
        warnings: warnings(file, &model),
        error: None,
    })
}

/// The statements of one AWS managed policy as one violation per rule: the first statement's
/// message, and how many more statements break the rule (a `*FullAccess` policy has several).
fn one_per_rule(broken: &[(RuleId, String)]) -> impl Iterator<Item = (RuleId, String)> + '_ {
    let mut by_rule: BTreeMap<RuleId, (&str, usize)> = BTreeMap::new();
    for (rule, message) in broken {
        by_rule.entry(*rule).or_insert((message, 0)).1 += 1;
    }
    by_rule.into_iter().map(|(rule, (message, n))| {
        let message = match n {
            0 | 1 => message.to_string(),
            n => format!("{message} (and {} more of its statements)", n - 1),
        };
        (rule, message)
    })
}

fn violation(rule: RuleId, message: String) -> Violation {
    Violation {
        rule,
        severity: rule.rule().severity,
        message,
        suppressed: None,
    }
}

/// What the template engine could not analyse (`Fn::Transform` includes, `Fn::ForEach` loops…):
/// it cannot be checked either, so it is said rather than reported clean. Invalid statements are
/// findings (KC040) and documents read from `Fn::Sub` are checked, so neither is a warning here.
fn warnings(file: &str, m: &Model<'_>) -> Vec<String> {
    let g = m.grants;
    let mut not_analysable: Vec<&crate::template::NotAnalysable> = g
        .not_analysable
        .iter()
        .filter(|n| {
            !g.invalid
                .iter()
                .any(|i| i.path == n.path && n.reason.ends_with(&i.problem))
        })
        .filter(|n| !(n.reason.contains("Fn::Sub") && g.read_only.iter().any(|r| r.path == n.path)))
        .collect();
    // A node reported for itself and for a part of it (a PolicyDocument that is an
    // `Fn::Transform`) is one problem: keep the more precise report.
    let paths: Vec<String> = not_analysable.iter().map(|n| n.path.clone()).collect();
    not_analysable.retain(|n| {
        !paths
            .iter()
            .any(|p| p.len() > n.path.len() && p.starts_with(&format!("{}/", n.path)))
    });
    let mut seen = BTreeMap::new();
    not_analysable
        .iter()
        .filter(|n| {
            seen.insert((n.path.clone(), n.reason.clone()), ())
                .is_none()
        })
        .map(|n| {
            format!(
                "{file}:{}:{}: {}: not analysed: {}",
                n.line, n.column, n.path, n.reason
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_of(text: &str) -> Vec<RuleId> {
        check_template("t.yaml", text, Catalog::embedded())
            .unwrap()
            .findings
            .iter()
            .filter(|f| f.suppressed.is_none())
            .flat_map(|f| f.rules())
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
        assert_eq!(rules_of(&t), Vec::<RuleId>::new());
    }

    #[test]
    fn a_statement_breaking_several_rules_is_one_finding_listing_them() {
        let t = role_with(
            "              - Effect: Allow\n                Action: [iam:PutRolePolicy, iam:CreatePolicyVersion]\n                Resource: '*'\n",
        );
        let report = check_template("t.yaml", &t, Catalog::embedded()).unwrap();
        assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
        let f = &report.findings[0];
        assert_eq!(f.rules(), vec![RuleId::KC011, RuleId::KC020]);
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.path,
            "/Resources/R/Properties/Policies/0/PolicyDocument/Statement/0"
        );
        assert!(f.message.contains("KC020: allows"), "{}", f.message);
    }

    #[test]
    fn a_star_statement_reports_once() {
        let t = role_with(
            "              - Effect: Allow\n                Action: '*'\n                Resource: '*'\n",
        );
        assert_eq!(rules_of(&t), vec![RuleId::KC001]);
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

    fn worst(text: &str) -> Option<Severity> {
        check_template("t.json", text, Catalog::embedded())
            .unwrap()
            .findings
            .iter()
            .map(|f| f.severity)
            .max()
    }

    #[test]
    fn an_aws_managed_policy_is_judged_by_its_statements_at_the_attachment() {
        let t = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      ManagedPolicyArns:\n        - !Sub arn:${AWS::Partition}:iam::aws:policy/AmazonDynamoDBFullAccess\n";
        let report = check_template("t.yaml", t, Catalog::embedded()).unwrap();
        assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
        let f = &report.findings[0];
        assert_eq!(f.path, "/Resources/R/Properties/ManagedPolicyArns/0");
        assert_eq!((f.start.line, f.start.column), (6, 11));
        // The name still says what it is; the statements say how bad it is (the dataset's
        // AmazonDynamoDBFullAccess allows dynamodb:* and iam:PassRole among others on "*").
        let rules: Vec<RuleId> = f.violations.iter().map(|v| v.rule).collect();
        assert!(rules.contains(&RuleId::KC006), "{rules:?}");
        assert!(rules.contains(&RuleId::KC002), "{rules:?}");
        assert!(f.severity >= Severity::High, "{f:#?}");
        assert!(
            f.violations
                .iter()
                .filter(|v| v.rule != RuleId::KC006)
                .all(|v| v
                    .message
                    .starts_with("AWS managed policy AmazonDynamoDBFullAccess: ")),
            "{f:#?}"
        );
    }

    #[test]
    fn a_managed_policy_suppression_names_the_rules_its_statements_break() {
        let t = "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      keycard:\n        suppress:\n          - rule: KC010\n            reason: logs on every group, reviewed\n    Properties:\n      Policies: [AWSLambdaBasicExecutionRole]\n";
        let report = check_template("t.yaml", t, Catalog::embedded()).unwrap();
        let kc010: Vec<&Violation> = report
            .findings
            .iter()
            .flat_map(|f| &f.violations)
            .filter(|v| v.rule == RuleId::KC010)
            .collect();
        assert_eq!(kc010.len(), 1, "{:#?}", report.findings);
        assert!(kc010[0].suppressed.is_some());
        assert!(
            kc010[0]
                .message
                .starts_with("AWS managed policy AWSLambdaBasicExecutionRole: "),
            "{}",
            kc010[0].message
        );
    }

    /// Issue 13's done-when, for every AWS managed policy keycard knows: a role that has the
    /// policy attached is rated at least as severe as the same role with the policy's
    /// statements written out inline (what a proposal writes when it replaces the policy).
    #[test]
    fn an_attachment_is_never_rated_below_its_statements_written_out() {
        let data = crate::managed_policies::ManagedPolicies::embedded();
        let mut compared = 0;
        for policy in data.iter().filter(|p| !p.is_service_linked()) {
            let attached = serde_json::json!({"Resources": {"R": {
                "Type": "AWS::IAM::Role",
                "Properties": {"ManagedPolicyArns": [policy.arn()]}
            }}});
            let written_out = serde_json::json!({"Resources": {"R": {
                "Type": "AWS::IAM::Role",
                "Properties": {"Policies": [{
                    "PolicyName": "p",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": policy.statements()}
                }]}
            }}});
            let before = worst(&attached.to_string());
            let after = worst(&written_out.to_string());
            assert!(
                after <= before,
                "{}: {before:?} attached, {after:?} written out",
                policy.name()
            );
            compared += 1;
        }
        assert!(compared > 500, "only {compared} policies compared");
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
