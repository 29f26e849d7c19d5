//! `keycard check` severities per principal, shared by the end-to-end tests that assert a
//! proposal never makes `check` more severe for any principal than the template it replaces
//! (issue 13's done-when): `propose_examples` on the bundled examples, `corpus` on the
//! real-template sample. `scripts/corpus-check` makes the same comparison on the whole corpus
//! (its `worst_severity_per_principal` follows this one).

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// The rank of a finding's severity (0 when unknown), so severities compare as numbers.
pub fn rank(severity: &str) -> u8 {
    match severity {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

/// The worst `keycard check` severity per principal of a template. Findings name the resource
/// holding the statement; a proposal's new policy resources (`<Role>KeycardPolicyN`) speak for
/// their role.
pub fn worst_severity_per_principal(template: &Path) -> BTreeMap<String, u8> {
    let output = Command::cargo_bin("keycard")
        .unwrap()
        .args(["check", "--format", "json"])
        .arg(template)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: check --format json printed no JSON ({e}): {}",
            template.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let mut worst = BTreeMap::new();
    for file in report["files"].as_array().unwrap() {
        for finding in file["findings"].as_array().unwrap() {
            let resource = finding["resource"].as_str().unwrap_or("(template)");
            let principal = match resource.find("KeycardPolicy") {
                Some(at) => &resource[..at],
                None => resource,
            };
            let severity = rank(finding["severity"].as_str().unwrap());
            let entry = worst.entry(principal.to_string()).or_insert(0);
            *entry = severity.max(*entry);
        }
    }
    worst
}

/// The principals `check` rates more severe on `proposal` than on `original`:
/// `(principal, before, after)`.
pub fn more_severe(original: &Path, proposal: &Path) -> Vec<(String, u8, u8)> {
    let before = worst_severity_per_principal(original);
    let after = worst_severity_per_principal(proposal);
    after
        .into_iter()
        .filter_map(|(principal, severity)| {
            let was = before.get(&principal).copied().unwrap_or(0);
            (severity > was).then_some((principal, was, severity))
        })
        .collect()
}

/// Panics when `check` on `proposal` is more severe for some principal than on `original`.
#[allow(
    dead_code,
    reason = "not every test binary that shares this module calls it"
)]
pub fn assert_never_more_severe(name: &str, original: &Path, proposal: &Path) {
    let worse = more_severe(original, proposal);
    assert!(
        worse.is_empty(),
        "{name}: more severe after the proposal (principal, before, after): {worse:?}"
    );
}

#[test]
fn severities_rank_in_order() {
    let ranks: Vec<u8> = ["info", "low", "medium", "high", "critical"]
        .into_iter()
        .map(rank)
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
}
