//! Machine-readable output of `keycard check`: keycard's own JSON and SARIF 2.1.0.
//!
//! SARIF is what code-scanning services ingest (GitHub, GitLab, Azure DevOps): with file/line
//! regions and rule metadata they show each finding inline on the pull request. The text form
//! for people is rendered by the CLI, which knows about colour.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::rules::{RULES, Severity};
use super::{FileReport, Finding};

/// The schema id code-scanning tools recognise.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Counts of unsuppressed findings by severity, plus suppressed ones.
pub fn summary(reports: &[FileReport]) -> Value {
    let mut by: BTreeMap<&str, usize> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ]
    .iter()
    .map(|s| (s.as_str(), 0))
    .collect();
    let mut suppressed = 0;
    let mut total = 0;
    for f in reports.iter().flat_map(|r| &r.findings) {
        if f.suppressed.is_some() {
            suppressed += 1;
        } else {
            total += 1;
            *by.entry(f.severity.as_str()).or_default() += 1;
        }
    }
    let unreadable = reports.iter().filter(|r| r.error.is_some()).count();
    json!({ "findings": total, "suppressed": suppressed, "by_severity": by, "unreadable": unreadable })
}

/// keycard's JSON: `{version, files: [{file, findings, warnings, error?}], summary}` — stable
/// for scripts; `version` changes only when a field changes meaning (2: a finding is a statement
/// with every rule it breaks in `violations`; `error` names a template that could not be read).
pub fn to_json(reports: &[FileReport]) -> Value {
    json!({
        "version": 2,
        "files": reports,
        "summary": summary(reports),
    })
}

/// 64-bit FNV-1a: a fingerprint that survives edits elsewhere in the file (it hashes the rule,
/// resource and path, not the line), so code scanning tracks a finding across commits.
fn fingerprint(f: &Finding) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in f
        .rule
        .as_str()
        .bytes()
        .chain([0])
        .chain(f.file.bytes())
        .chain([0])
        .chain(f.resource.bytes())
        .chain([0])
        .chain(f.path.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A file name as a SARIF URI: relative paths stay relative (resolved against `%SRCROOT%`),
/// absolute ones become `file://` URIs; characters URIs cannot hold are percent-encoded.
fn uri(file: &str) -> (String, bool) {
    let path = file.replace('\\', "/");
    let mut enc = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            'A'..='Z'
            | 'a'..='z'
            | '0'..='9'
            | '-'
            | '.'
            | '_'
            | '~'
            | '/'
            | ':'
            | '@'
            | '+'
            | '='
            | ',' => enc.push(c),
            other => {
                let mut buf = [0u8; 4];
                for b in other.encode_utf8(&mut buf).bytes() {
                    enc.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    let relative = !path.starts_with('/');
    let enc = enc.trim_start_matches("./").to_string();
    if relative {
        (enc, true)
    } else {
        (format!("file://{enc}"), false)
    }
}

fn region(f: &Finding) -> Value {
    let start_line = f.start.line.max(1);
    let start_col = f.start.column.max(1);
    let mut r = json!({ "startLine": start_line, "startColumn": start_col });
    if (f.end.line, f.end.column) > (start_line, start_col) {
        r["endLine"] = json!(f.end.line);
        r["endColumn"] = json!(f.end.column.max(1));
    }
    r
}

/// SARIF 2.1.0 log with one run; every rule is listed in the driver so tools can show rule help
/// even for rules that found nothing.
pub fn to_sarif(reports: &[FileReport], tool_version: &str) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.name,
                "helpUri": r.help_uri,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.rationale },
                "help": {
                    "text": format!("{} {}", r.summary, r.rationale),
                    "markdown": format!("**{}** ({})\n\n{}\n\n{}", r.id, r.severity, r.summary, r.rationale),
                },
                "defaultConfiguration": { "level": r.severity.sarif_level() },
                "properties": {
                    "tags": ["security", "iam", "cloudformation"],
                    "precision": "high",
                    "security-severity": r.severity.security_severity(),
                    "problem.severity": r.severity.sarif_level(),
                },
            })
        })
        .collect();
    let mut artifacts = Vec::new();
    let mut artifact_index: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reports {
        if !artifact_index.contains_key(r.file.as_str()) {
            artifact_index.insert(&r.file, artifacts.len());
            let (u, rel) = uri(&r.file);
            let mut loc = json!({ "uri": u });
            if rel {
                loc["uriBaseId"] = json!("%SRCROOT%");
            }
            artifacts.push(json!({ "location": loc }));
        }
    }
    let mut results = Vec::new();
    for f in reports.iter().flat_map(|r| &r.findings) {
        let (u, rel) = uri(&f.file);
        let mut artifact = json!({ "uri": u });
        if rel {
            artifact["uriBaseId"] = json!("%SRCROOT%");
        }
        if let Some(i) = artifact_index.get(f.file.as_str()) {
            artifact["index"] = json!(i);
        }
        let Some(rule_index) = RULES.iter().position(|r| r.id == f.rule) else {
            continue; // every RuleId is in RULES (tested); a result without its rule is invalid
        };
        let mut result = json!({
            "ruleId": f.rule.as_str(),
            "ruleIndex": rule_index,
            "level": f.severity.sarif_level(),
            "message": { "text": format!("{}: {}", f.resource, f.message) },
            "locations": [{
                "physicalLocation": { "artifactLocation": artifact, "region": region(f) },
                "logicalLocations": [{
                    "name": f.resource,
                    "fullyQualifiedName": format!("Resources/{}", f.resource),
                    "kind": "resource",
                }],
            }],
            "partialFingerprints": { "keycardFinding/v1": fingerprint(f) },
            "properties": {
                "severity": f.severity.as_str(),
                "path": f.path,
                "rules": f.rules(),
            },
        });
        // Rules suppressed at a statement that still breaks others: the result stands, the
        // reviewed rules are listed with their justification.
        let partly: Vec<Value> = f
            .violations
            .iter()
            .filter(|_| f.suppressed.is_none())
            .filter_map(|v| {
                let reason = v.suppressed.as_ref()?;
                Some(json!({ "rule": v.rule.as_str(), "justification": reason }))
            })
            .collect();
        if !partly.is_empty() {
            result["properties"]["suppressedRules"] = json!(partly);
        }
        if let Some(reason) = &f.suppressed {
            result["suppressions"] = json!([{
                "kind": "inSource",
                "status": "accepted",
                "justification": reason,
            }]);
        }
        results.push(result);
    }
    // A template that could not be read is an error notification and makes the run
    // unsuccessful, so a code-scanning upload never looks clean by mistake.
    let mut notifications: Vec<Value> = reports
        .iter()
        .filter_map(|r| r.error.as_ref())
        .map(|e| json!({ "level": "error", "message": { "text": e } }))
        .collect();
    notifications.extend(
        reports
            .iter()
            .flat_map(|r| &r.warnings)
            .map(|w| json!({ "level": "warning", "message": { "text": w } })),
    );
    let successful = reports.iter().all(|r| r.error.is_none());
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "keycard",
                    "semanticVersion": tool_version,
                    "version": tool_version,
                    "informationUri": "https://github.com/keycard-iam/keycard",
                    "rules": rules,
                },
            },
            "invocations": [{
                "executionSuccessful": successful,
                "toolExecutionNotifications": notifications,
            }],
            "artifacts": artifacts,
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_or_file_urls_and_encoded() {
        assert_eq!(
            uri("./examples/my app/template.yaml"),
            ("examples/my%20app/template.yaml".into(), true)
        );
        assert_eq!(
            uri("/work/t#1.yaml"),
            ("file:///work/t%231.yaml".into(), false)
        );
        assert_eq!(uri("dir\\t.json"), ("dir/t.json".into(), true));
    }
}
