//! The rule table: ids, severities and the reason each rule exists.
//!
//! Ids are stable (they appear in suppressions people commit and in code-scanning history), so a
//! rule is never renumbered; a retired rule keeps its id unused.

use serde::Serialize;

/// How bad a finding is. Ordered: `Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// SARIF `level`: code-scanning tools show errors and warnings prominently, notes quietly.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low => "note",
        }
    }

    /// GitHub code scanning's numeric `security-severity` (critical ≥ 9, high ≥ 7, medium ≥ 4).
    pub fn security_severity(self) -> &'static str {
        match self {
            Severity::Critical => "9.5",
            Severity::High => "8.0",
            Severity::Medium => "5.5",
            Severity::Low => "3.0",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: &'static str,
    /// A short kebab-case name (SARIF `name`).
    pub name: &'static str,
    pub severity: Severity,
    /// One line: what was found.
    pub summary: &'static str,
    /// Why it matters and what to do instead.
    pub rationale: &'static str,
}

macro_rules! rule {
    ($id:literal, $name:literal, $sev:ident, $summary:literal, $why:literal) => {
        Rule {
            id: $id,
            name: $name,
            severity: Severity::$sev,
            summary: $summary,
            rationale: $why,
        }
    };
}

/// Every rule `keycard check` knows, in id order.
pub const RULES: &[Rule] = &[
    rule!(
        "KC001",
        "full-admin-action",
        Critical,
        "Allow statement grants every action (`*`).",
        "`Action: \"*\"` is administrator access: the principal can do anything, including granting itself more. List the actions it needs (`keycard propose` derives them from CloudTrail)."
    ),
    rule!(
        "KC002",
        "service-wildcard-action",
        High,
        "Allow statement grants every action of a service (`service:*`).",
        "A service-wide wildcard grants deletes, permission changes and actions AWS adds later. Name the actions the workload calls."
    ),
    rule!(
        "KC003",
        "partial-wildcard-action",
        Low,
        "Allow statement uses a partial action wildcard (for example `s3:Get*`).",
        "Partial wildcards grow silently when AWS adds matching actions (`s3:Get*` covers GetObjectAcl and GetBucketPolicy too). Prefer explicit actions."
    ),
    rule!(
        "KC004",
        "admin-managed-policy",
        Critical,
        "The AWS managed policy AdministratorAccess is attached.",
        "AdministratorAccess allows every action on every resource. Replace it with a policy of the actions the principal uses."
    ),
    rule!(
        "KC005",
        "power-user-managed-policy",
        High,
        "A power-user or IAM-administration AWS managed policy is attached (PowerUserAccess, IAMFullAccess).",
        "PowerUserAccess allows everything outside IAM and Organizations; IAMFullAccess lets the principal grant itself anything. Both are far beyond what a workload needs."
    ),
    rule!(
        "KC006",
        "full-access-managed-policy",
        Medium,
        "An AWS managed `*FullAccess` policy is attached.",
        "FullAccess managed policies grant every action of a service on every resource, including deletes. Scope the actions and resources."
    ),
    rule!(
        "KC007",
        "allow-not-action",
        High,
        "Allow statement uses NotAction.",
        "Allow with NotAction grants every action except the listed ones, including services and actions AWS adds later. Allow explicit actions instead."
    ),
    rule!(
        "KC008",
        "allow-not-resource",
        Medium,
        "Allow statement uses NotResource.",
        "Allow with NotResource grants the actions on every resource except the listed ones, including resources created later. Name the resources."
    ),
    rule!(
        "KC009",
        "unknown-action",
        Low,
        "An action matches no known IAM action.",
        "IAM ignores actions that do not exist, so a misspelt action silently grants nothing (and the intended one is missing). Check the spelling against the service authorization reference."
    ),
    rule!(
        "KC010",
        "write-on-any-resource",
        Medium,
        "Write actions that support resource-level permissions are allowed on `Resource: \"*\"`.",
        "These actions can be limited to specific ARNs; on `*` they reach every resource of that type in the account. Scope `Resource` to the resources the workload writes."
    ),
    rule!(
        "KC011",
        "permissions-management-on-any-resource",
        High,
        "Permissions-management actions are allowed on `Resource: \"*\"`.",
        "Permissions-management actions change who can access what; on `*` they apply to every policy, role or resource policy in the account."
    ),
    rule!(
        "KC020",
        "privilege-escalation-action",
        High,
        "A privilege-escalation action is allowed.",
        "Actions such as iam:CreatePolicyVersion, iam:Attach*Policy, iam:Put*Policy, iam:CreateAccessKey, iam:UpdateAssumeRolePolicy or lambda:UpdateFunctionCode let a principal gain permissions it was not given. Grant them only to deployment roles, scoped to specific ARNs."
    ),
    rule!(
        "KC021",
        "pass-role-on-any-resource",
        High,
        "iam:PassRole is allowed on `Resource: \"*\"`.",
        "PassRole on `*` lets the principal hand any role in the account (including admin roles) to a service it controls. Scope it to the role ARNs it passes, ideally with an iam:PassedToService condition."
    ),
    rule!(
        "KC022",
        "assume-role-on-any-resource",
        High,
        "sts:AssumeRole is allowed on `Resource: \"*\"`.",
        "AssumeRole on `*` lets the principal become any role whose trust policy admits it, now or later. Name the role ARNs."
    ),
    rule!(
        "KC023",
        "privilege-escalation-combination",
        Critical,
        "A principal can pass a role to compute it controls (iam:PassRole with lambda:CreateFunction, lambda:UpdateFunctionCode, ec2:RunInstances, …).",
        "Passing a role to code the principal writes or starts runs that code with the passed role's permissions: a classic escalation path. Separate the two grants or scope PassRole to a role no more privileged than the principal."
    ),
    rule!(
        "KC030",
        "trust-open-to-everyone",
        Critical,
        "A role trust policy allows any AWS principal (`*`) without conditions.",
        "Anyone with an AWS account can assume this role. Name the trusted principals, or add conditions such as aws:PrincipalOrgID."
    ),
    rule!(
        "KC031",
        "trust-other-account-unconditioned",
        High,
        "A role trust policy admits another AWS account without conditions.",
        "Every principal the other account allows can assume this role. Trust a specific role ARN and require sts:ExternalId or aws:PrincipalOrgID (confused-deputy protection)."
    ),
    rule!(
        "KC032",
        "trust-federated-unconditioned",
        High,
        "A role trust policy admits a federated identity provider without conditions.",
        "Without conditions on the token's audience and subject (for example `token.actions.githubusercontent.com:sub`), every identity of the provider — any repository, any app — can assume the role."
    ),
    rule!(
        "KC033",
        "resource-policy-open-to-everyone",
        Critical,
        "A resource policy (S3 bucket, SQS queue, SNS topic, KMS key, secret) allows everyone (`*`) without conditions.",
        "Anyone, in any AWS account or none, can use the resource as the statement allows. Name the principals, or add conditions such as aws:SourceArn, aws:SourceAccount or aws:PrincipalOrgID; a deliberately public bucket deserves a suppression with its reason."
    ),
    rule!(
        "KC090",
        "invalid-suppression",
        Low,
        "A keycard suppression has no reason or names an unknown rule; it is not applied.",
        "Suppressions are reviewed decisions: each needs a rule id keycard knows and a reason a reviewer can read (`Metadata: {keycard: {suppress: [{rule: KC002, reason: \"…\"}]}}`)."
    ),
];

/// The rule with this id (case-insensitive).
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id.eq_ignore_ascii_case(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_sorted_and_documented() {
        for pair in RULES.windows(2) {
            assert!(
                pair[0].id < pair[1].id,
                "{} before {}",
                pair[0].id,
                pair[1].id
            );
        }
        for r in RULES {
            assert!(r.id.starts_with("KC") && r.id.len() == 5, "{}", r.id);
            assert!(!r.summary.is_empty() && r.rationale.len() > 40, "{}", r.id);
            assert!(r.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
        }
        assert_eq!(rule("kc001").map(|r| r.name), Some("full-admin-action"));
        assert!(rule("KC999").is_none());
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Low < Severity::Medium && Severity::High < Severity::Critical);
        assert_eq!(Severity::parse("HIGH"), Some(Severity::High));
        assert_eq!(Severity::parse("severe"), None);
        assert_eq!(Severity::Medium.sarif_level(), "warning");
    }
}
