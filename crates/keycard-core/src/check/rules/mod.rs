//! The rules of `keycard check`, one file each (`kc0NN_<name>.rs`): the rule's metadata (id,
//! severity, summary, rationale, help URL) beside its logic, and its tests beside both.
//!
//! Every rule reads the shared model (`check::model::Model`: the grants, trust and resource
//! policies of `template::find_grants`, and the risk table of `crate::risk`); no rule parses a
//! policy itself. Ids are stable (they appear in suppressions people commit and in
//! code-scanning history), so a rule is never renumbered; a retired rule keeps its id unused.

use serde::Serialize;

use super::model::{ManagedSite, Model, StatementSite};
use crate::template::grants::PolicySite;

mod kc001_full_admin_action;
mod kc002_service_wildcard_action;
mod kc003_partial_wildcard_action;
mod kc004_admin_managed_policy;
mod kc005_power_user_managed_policy;
mod kc006_full_access_managed_policy;
mod kc007_allow_not_action;
mod kc008_allow_not_resource;
mod kc009_unknown_action;
mod kc010_write_on_any_resource;
mod kc011_permissions_management_on_any_resource;
mod kc012_sensitive_read_on_any_resource;
mod kc020_privilege_escalation_action;
mod kc021_pass_role_on_any_resource;
mod kc022_assume_role_on_any_resource;
mod kc023_privilege_escalation_combination;
mod kc024_pass_role_combination_limited_by_service;
mod kc030_trust_open_to_everyone;
mod kc031_trust_other_account_unconditioned;
mod kc032_trust_federated_unconditioned;
mod kc033_resource_policy_open_to_everyone;
mod kc040_invalid_statement;
pub(super) mod kc090_invalid_suppression;

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

/// Every rule id. Serialised as written (`"KC001"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum RuleId {
    KC001,
    KC002,
    KC003,
    KC004,
    KC005,
    KC006,
    KC007,
    KC008,
    KC009,
    KC010,
    KC011,
    KC012,
    KC020,
    KC021,
    KC022,
    KC023,
    KC024,
    KC030,
    KC031,
    KC032,
    KC033,
    KC040,
    KC090,
}

impl RuleId {
    /// The id as written in suppressions and reports.
    pub fn as_str(self) -> &'static str {
        self.rule().id_str
    }

    /// The rule's metadata.
    pub fn rule(self) -> &'static Rule {
        // RULES is in id order with one entry per id (tested), so this always finds it.
        let i = RULES.partition_point(|r| r.id < self);
        &RULES[i.min(RULES.len() - 1)]
    }

    /// The id written in a suppression (`KC002`, case-insensitive).
    pub fn parse(s: &str) -> Option<RuleId> {
        RULES
            .iter()
            .find(|r| r.id_str.eq_ignore_ascii_case(s.trim()))
            .map(|r| r.id)
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: RuleId,
    #[serde(skip)]
    pub id_str: &'static str,
    /// A short kebab-case name (SARIF `name`).
    pub name: &'static str,
    pub severity: Severity,
    /// One line: what was found.
    pub summary: &'static str,
    /// Why it matters and what to do instead.
    pub rationale: &'static str,
    /// Where to read more (AWS documentation or the research the rule rests on).
    pub help_uri: &'static str,
}

/// Declares a rule's metadata in its file.
macro_rules! rule {
    ($id:ident, $name:literal, $sev:ident, $summary:literal, $why:literal, $help:literal) => {
        pub(crate) const RULE: crate::check::rules::Rule = crate::check::rules::Rule {
            id: crate::check::rules::RuleId::$id,
            id_str: stringify!($id),
            name: $name,
            severity: crate::check::rules::Severity::$sev,
            summary: $summary,
            rationale: $why,
            help_uri: $help,
        };
    };
}
pub(crate) use rule;

/// Every rule `keycard check` knows, in id order.
pub const RULES: &[Rule] = &[
    kc001_full_admin_action::RULE,
    kc002_service_wildcard_action::RULE,
    kc003_partial_wildcard_action::RULE,
    kc004_admin_managed_policy::RULE,
    kc005_power_user_managed_policy::RULE,
    kc006_full_access_managed_policy::RULE,
    kc007_allow_not_action::RULE,
    kc008_allow_not_resource::RULE,
    kc009_unknown_action::RULE,
    kc010_write_on_any_resource::RULE,
    kc011_permissions_management_on_any_resource::RULE,
    kc012_sensitive_read_on_any_resource::RULE,
    kc020_privilege_escalation_action::RULE,
    kc021_pass_role_on_any_resource::RULE,
    kc022_assume_role_on_any_resource::RULE,
    kc023_privilege_escalation_combination::RULE,
    kc024_pass_role_combination_limited_by_service::RULE,
    kc030_trust_open_to_everyone::RULE,
    kc031_trust_other_account_unconditioned::RULE,
    kc032_trust_federated_unconditioned::RULE,
    kc033_resource_policy_open_to_everyone::RULE,
    kc040_invalid_statement::RULE,
    kc090_invalid_suppression::RULE,
];

/// A rule over one statement: the message of its finding, or `None`.
type StatementRule = fn(&StatementSite<'_>, &Model<'_>) -> Option<String>;

/// The statement rules, in the order their messages are listed.
const STATEMENT_RULES: &[(RuleId, StatementRule)] = &[
    (RuleId::KC001, kc001_full_admin_action::check),
    (RuleId::KC002, kc002_service_wildcard_action::check),
    (RuleId::KC003, kc003_partial_wildcard_action::check),
    (RuleId::KC007, kc007_allow_not_action::check),
    (RuleId::KC008, kc008_allow_not_resource::check),
    (RuleId::KC009, kc009_unknown_action::check),
    (RuleId::KC010, kc010_write_on_any_resource::check),
    (
        RuleId::KC011,
        kc011_permissions_management_on_any_resource::check,
    ),
    (RuleId::KC012, kc012_sensitive_read_on_any_resource::check),
    (RuleId::KC020, kc020_privilege_escalation_action::check),
    (RuleId::KC021, kc021_pass_role_on_any_resource::check),
    (RuleId::KC022, kc022_assume_role_on_any_resource::check),
    (RuleId::KC023, kc023_privilege_escalation_combination::check),
    (
        RuleId::KC024,
        kc024_pass_role_combination_limited_by_service::check,
    ),
    (RuleId::KC030, kc030_trust_open_to_everyone::check),
    (
        RuleId::KC031,
        kc031_trust_other_account_unconditioned::check,
    ),
    (RuleId::KC032, kc032_trust_federated_unconditioned::check),
    (RuleId::KC033, kc033_resource_policy_open_to_everyone::check),
    (RuleId::KC040, kc040_invalid_statement::check),
];

/// Rules that still speak when a statement allows every action (KC001, KC007 say the rest).
const BESIDE_FULL_ADMIN: &[RuleId] = &[RuleId::KC001, RuleId::KC007, RuleId::KC008, RuleId::KC040];

/// Every rule a statement breaks, with its message.
pub(super) fn statement_violations(s: &StatementSite<'_>, m: &Model<'_>) -> Vec<(RuleId, String)> {
    // `*` and NotAction expand to (nearly) every action: KC001/KC007 say it all. The other
    // rules are not even run, so listing each consequence neither buries them nor costs a walk
    // over the whole catalog per statement (templates with a thousand such statements exist).
    let everything = s.site == PolicySite::Identity && s.is_allow() && s.allows_everything();
    STATEMENT_RULES
        .iter()
        .filter(|(id, _)| !everything || BESIDE_FULL_ADMIN.contains(id))
        .filter_map(|(id, check)| check(s, m).map(|msg| (*id, msg)))
        .collect()
}

/// The rule a managed policy attachment breaks, with its message (at most one: the rules are
/// tiers of the same judgement).
pub(super) fn managed_violation(s: &ManagedSite<'_>) -> Option<(RuleId, String)> {
    kc004_admin_managed_policy::check(s)
        .map(|m| (RuleId::KC004, m))
        .or_else(|| kc005_power_user_managed_policy::check(s).map(|m| (RuleId::KC005, m)))
        .or_else(|| kc006_full_access_managed_policy::check(s).map(|m| (RuleId::KC006, m)))
}

/// Lists at most a few names, then how many more: findings must stay one readable line.
pub(super) fn some<'a>(names: impl IntoIterator<Item = &'a String>) -> String {
    const SHOWN: usize = 4;
    let names: Vec<&String> = names.into_iter().collect();
    let mut s = names
        .iter()
        .take(SHOWN)
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let more = names.len().saturating_sub(SHOWN);
    if more > 0 {
        s.push_str(&format!(" (+{more} more)"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_sorted_documented_and_resolve_to_themselves() {
        for pair in RULES.windows(2) {
            assert!(
                pair[0].id < pair[1].id,
                "{} before {}",
                pair[0].id_str,
                pair[1].id_str
            );
        }
        for r in RULES {
            assert_eq!(r.id.rule().id, r.id);
            assert_eq!(format!("{:?}", r.id), r.id_str);
            assert_eq!(RuleId::parse(&r.id_str.to_lowercase()), Some(r.id));
            assert!(!r.summary.is_empty() && r.rationale.len() > 40, "{}", r.id);
            assert!(r.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            assert!(r.help_uri.starts_with("https://"), "{}", r.id);
        }
        assert_eq!(RuleId::parse("KC999"), None);
    }

    #[test]
    fn every_statement_and_managed_rule_is_registered_once() {
        let mut ids: Vec<RuleId> = STATEMENT_RULES.iter().map(|(id, _)| *id).collect();
        ids.extend([RuleId::KC004, RuleId::KC005, RuleId::KC006, RuleId::KC090]);
        ids.sort();
        let all: Vec<RuleId> = RULES.iter().map(|r| r.id).collect();
        assert_eq!(ids, all);
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Low < Severity::Medium && Severity::High < Severity::Critical);
        assert_eq!(Severity::parse("HIGH"), Some(Severity::High));
        assert_eq!(Severity::parse("severe"), None);
        assert_eq!(Severity::Medium.sarif_level(), "warning");
    }
}

#[cfg(test)]
pub(super) mod testing;
