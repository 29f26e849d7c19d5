//! Helpers for the rules' tests: run the whole check on a template text and look at one rule.

use crate::catalog::Catalog;
use crate::check::{RuleId, check_template};

/// Messages of `rule` over the template, in file order (suppressed ones left out).
pub(crate) fn messages(rule: RuleId, text: &str) -> Vec<String> {
    let report = match check_template("t.yaml", text, Catalog::embedded()) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    report
        .findings
        .iter()
        .flat_map(|f| &f.violations)
        .filter(|v| v.rule == rule && v.suppressed.is_none())
        .map(|v| v.message.clone())
        .collect()
}

/// A role whose one inline policy has these statements (YAML list items, 14 spaces in).
pub(crate) fn role_with(statements: &str) -> String {
    format!(
        "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      Policies:\n        - PolicyName: p\n          PolicyDocument:\n            Statement:\n{statements}"
    )
}

/// A role whose trust policy has these statements (YAML list items, 10 spaces in).
pub(crate) fn trusting(statements: &str) -> String {
    format!(
        "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Statement:\n{statements}"
    )
}
