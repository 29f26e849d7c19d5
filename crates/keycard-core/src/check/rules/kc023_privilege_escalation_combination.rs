//! KC023: a principal that can pass any role (PassRole on `*` or a role pattern, no
//! iam:PassedToService) and also start compute that runs under a passed role.

use std::collections::BTreeSet;

use crate::check::model::{Model, ResourceRef, StatementSite};
use crate::risk::pass_role_target;
use crate::template::grants::PolicySite;

super::rule!(
    KC023,
    "privilege-escalation-combination",
    Critical,
    "A principal can pass any role to compute it controls (iam:PassRole on `*` or a role pattern, with lambda:CreateFunction, ec2:RunInstances, ecs:RunTask, …).",
    "Passing a role to code the principal writes or starts runs that code with the passed role's permissions: a classic escalation path (Rhino Security Labs, cloudsplaining, PMapper). PassRole limited to the template's own roles is the standard pattern and is not reported; otherwise scope PassRole to those roles, or at least limit the service with iam:PassedToService (then KC024).",
    "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/"
);

pub(super) fn check(s: &StatementSite<'_>, m: &Model<'_>) -> Option<String> {
    (!s.has_condition_key("iam:PassedToService"))
        .then(|| combination(s, m))
        .flatten()
}

/// When `s` grants iam:PassRole on roles it does not name one by one, the principals that also
/// start compute, with those actions, as a message.
pub(super) fn combination(s: &StatementSite<'_>, m: &Model<'_>) -> Option<String> {
    if s.site != PolicySite::Identity || !s.allows("iam:PassRole") || !passes_unnamed_roles(s) {
        return None;
    }
    let lines: Vec<String> = s
        .principals
        .iter()
        .filter_map(|p| {
            let targets: BTreeSet<&String> = m
                .statements_of(p)
                // `*` and NotAction statements are KC001/KC007 findings of their own.
                .filter(|t| t.is_allow() && !t.allows_everything())
                .flat_map(|t| t.effective())
                .filter(|a| pass_role_target(a).is_some())
                .collect();
            (!targets.is_empty()).then(|| {
                format!(
                    "{p} can pass roles (iam:PassRole) and also {}",
                    super::some(targets)
                )
            })
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("; "))
}

/// PassRole on `*`, `NotResource`, a role pattern or a value only known at deploy time; not
/// on this template's roles or role ARNs written out.
fn passes_unnamed_roles(s: &StatementSite<'_>) -> bool {
    s.record.not_resource.is_some()
        || s.resources.iter().any(|r| {
            matches!(
                r,
                ResourceRef::Any { .. } | ResourceRef::Pattern(_) | ResourceRef::Unknown(_)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn pass_any_role_and_create_functions() {
        let t = role_with(
            "              - Effect: Allow\n                Action: iam:PassRole\n                Resource: arn:aws:iam::123456789012:role/batch-*\n              - Effect: Allow\n                Action: [lambda:CreateFunction, ecs:RunTask]\n                Resource: '*'\n",
        );
        assert_eq!(
            messages(RuleId::KC023, &t),
            vec!["R can pass roles (iam:PassRole) and also ecs:RunTask, lambda:CreateFunction"]
        );
    }

    #[test]
    fn passing_the_templates_own_task_role_is_the_standard_pattern() {
        let t = "Resources:\n  TaskRole:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: ecs-tasks.amazonaws.com}, Action: sts:AssumeRole}]}\n  Launcher:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}\n      Policies:\n        - PolicyName: run\n          PolicyDocument:\n            Statement:\n              - Effect: Allow\n                Action: iam:PassRole\n                Resource: !GetAtt TaskRole.Arn\n              - Effect: Allow\n                Action: ecs:RunTask\n                Resource: '*'\n";
        assert!(messages(RuleId::KC023, t).is_empty());
        assert!(messages(RuleId::KC021, t).is_empty());
    }
}
