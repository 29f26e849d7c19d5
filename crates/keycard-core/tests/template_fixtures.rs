//! Data-driven tests over `tests/fixtures/templates`: every fixture loads, round-trips byte for
//! byte, has the grants recorded in its snapshot, and survives a proposal-like rewrite that the
//! engine verifies (and, when available, cfn-lint accepts).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use std::path::{Path, PathBuf};

use keycard_core::template::{
    Edit, Grant, GrantKind, Template, TemplateError, find_grants, unified_diff,
};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> Vec<PathBuf> {
    let dir = root().join("tests/fixtures/templates");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json" | "template")
                )
        })
        .collect();
    files.sort();
    assert!(files.len() >= 50, "only {} fixtures", files.len());
    files
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn load(p: &Path) -> (String, Template) {
    let bytes = std::fs::read(p).unwrap();
    let t = Template::load_bytes(&name(p), &bytes)
        .unwrap_or_else(|e| panic!("{} does not load: {e}", p.display()));
    (String::from_utf8(bytes).unwrap(), t)
}

/// What a reviewer checks in a snapshot: who gets what, from where, with which flags.
fn summary(g: &Grant) -> Value {
    json!({
        "principal": format!("{} ({})", g.principal, g.principal_type),
        "source": format!("{} ({})", g.source, g.source_type),
        "kind": g.kind,
        "at": format!("{}:{} {}", g.line, g.column, g.path),
        "policy_name": g.policy_name,
        "managed_policy_arns": g.managed_policy_arns,
        "sam_policy_templates": g.sam_policy_templates,
        "statements": g.statements.iter().map(|s| json!({
            "effect": s.effect,
            "actions": s.actions,
            "not_actions": s.not_actions,
            "resources": s.resources,
            "not_resources": s.not_resources,
            "effective": if s.effective.len() <= 12 {
                json!(s.effective)
            } else {
                json!(format!("{} actions", s.effective.len()))
            },
            "unknown": s.unknown,
            "conditions": s.conditions,
        })).collect::<Vec<_>>(),
        "effective_actions": g.effective_actions.len(),
        "conditions": g.conditions,
        "flags": g.flags,
        "json_string": g.document_is_json_string,
    })
}

#[test]
fn every_fixture_round_trips_byte_for_byte() {
    for p in fixtures() {
        let (text, t) = load(&p);
        assert_eq!(t.apply(&[]).unwrap(), text, "{}", p.display());
        assert_eq!(t.text(), text);
    }
}

#[test]
fn every_fixture_has_its_expected_grants() {
    for p in fixtures() {
        let (_, t) = load(&p);
        let grants = find_grants(&t);
        let value = if t.text().len() > 100_000 {
            // Large fixtures: counts per kind and flag, not every grant.
            let mut kinds = std::collections::BTreeMap::<String, usize>::new();
            let mut flags = std::collections::BTreeMap::<String, usize>::new();
            for g in &grants.grants {
                *kinds.entry(format!("{:?}", g.kind)).or_default() += 1;
                for f in &g.flags {
                    *flags.entry(format!("{f:?}")).or_default() += 1;
                }
            }
            json!({
                "grants": grants.grants.len(),
                "principals": grants.principals.len(),
                "kinds": kinds,
                "flags": flags,
                "first": grants.grants.first().map(summary),
                "last": grants.grants.last().map(summary),
                "not_analysable": grants.not_analysable,
            })
        } else {
            json!({
                "principals": grants.principals,
                "grants": grants.grants.iter().map(summary).collect::<Vec<_>>(),
                "not_analysable": grants.not_analysable,
            })
        };
        insta::assert_json_snapshot!(format!("grants__{}", name(&p)), value);
    }
}

/// The edits a proposal would make: narrow every editable document, replace SAM templates and
/// managed names by a statement, drop admin/power-user ARNs, add a managed policy resource.
fn proposal_like_edits(t: &Template, grants: &[Grant]) -> Vec<Edit> {
    let mut edits: Vec<Edit> = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    let narrowed = |g: &Grant| -> Value {
        let action = g
            .effective_actions
            .iter()
            .next()
            .cloned()
            .unwrap_or_else(|| "s3:GetObject".to_string());
        let resource = g
            .statements
            .iter()
            .find_map(|s| s.resource.clone())
            .unwrap_or_else(|| json!("*"));
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "KeycardObserved", "Effect": "Allow", "Action": [action], "Resource": resource}
        ]})
    };
    for g in grants {
        if paths
            .iter()
            .any(|p| g.path.starts_with(p.as_str()) || p.starts_with(&g.path))
        {
            continue;
        }
        let edit = match g.kind {
            GrantKind::InlinePolicy
            | GrantKind::PolicyResource
            | GrantKind::ManagedPolicyResource
            | GrantKind::SamInlinePolicy => {
                if g.path.contains('#') {
                    continue;
                }
                let doc = narrowed(g);
                if g.document_is_json_string {
                    let text = serde_json::to_string_pretty(&doc).unwrap();
                    Edit::replace(&g.path, Value::String(text + "\n"))
                } else {
                    Edit::replace(&g.path, doc)
                }
            }
            GrantKind::SamPolicyTemplate | GrantKind::SamManagedPolicy => {
                Edit::replace(&g.path, narrowed(g))
            }
            GrantKind::ManagedPolicyArn if !g.flags.is_empty() => {
                let parent = &g.path[..g.path.rfind('/').unwrap()];
                if t.node(parent).is_none_or(|n| n.as_seq().is_none()) {
                    continue;
                }
                if parent.ends_with("/Fn::If") {
                    Edit::replace(&g.path, json!({"Ref": "AWS::NoValue"}))
                } else {
                    Edit::remove(&g.path)
                }
            }
            _ => continue,
        };
        paths.push(g.path.clone());
        edits.push(edit);
    }
    let declared_role = grants
        .iter()
        .find(|g| {
            g.principal_type == "AWS::IAM::Role"
                && t.node(&format!("/Resources/{}", g.principal)).is_some()
        })
        .map(|g| g.principal.clone());
    let mut props = json!({
        "Description": "Actions observed in CloudTrail (keycard)",
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
             "Resource": {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:jobs"}}
        ]}
    });
    if let Some(role) = declared_role {
        props["Roles"] = json!([{"Ref": role}]);
    }
    edits.push(Edit::add_resource(
        "KeycardObservedPolicy",
        json!({"Type": "AWS::IAM::ManagedPolicy", "Properties": props}),
    ));
    edits
}

fn rewritten_dir() -> PathBuf {
    let dir = root().join("target/keycard-test/rewritten-templates");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_fixture_survives_a_proposal_like_rewrite() {
    let out_dir = rewritten_dir();
    for p in fixtures() {
        let (text, t) = load(&p);
        let grants = find_grants(&t);
        let edits = proposal_like_edits(&t, &grants.grants);
        let new_text = t
            .apply(&edits)
            .unwrap_or_else(|e| panic!("{}: {e}\nedits: {edits:#?}", p.display()));
        // Only the edited nodes changed: the text before the first edited line and after the
        // last edited line is byte-identical.
        let line_start = |at: usize| text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = |at: usize| text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
        let mut lo = text.len();
        let mut hi = 0;
        for e in &edits {
            let n = t.node(e.path()).unwrap();
            let (a, b) = match e {
                Edit::Insert { .. } | Edit::Push { .. } => (n.span.end, n.span.end),
                // A removal takes the separator with it (`,` at the end of the previous line).
                Edit::Remove { .. } => (line_start(n.span.start).saturating_sub(1), n.span.end),
                Edit::Replace { .. } => (n.span.start, n.span.end),
            };
            lo = lo.min(line_start(a));
            hi = hi.max(line_end(b));
        }
        let first_change = text
            .bytes()
            .zip(new_text.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(text.len().min(new_text.len()));
        assert!(
            first_change >= lo,
            "{}: changed at byte {first_change}, first edit line at {lo}",
            p.display()
        );
        assert!(
            new_text.ends_with(&text[hi..]),
            "{}: bytes after {hi} changed",
            p.display()
        );
        // Independently of the engine's own verification: the whole file re-parses and every
        // replaced node holds its new value.
        let reloaded = Template::load(&name(&p), &new_text).unwrap();
        assert!(reloaded.node("/Resources/KeycardObservedPolicy").is_some());
        for e in &edits {
            if let Edit::Replace { path, value } = e {
                assert_eq!(
                    &reloaded.node(path).unwrap().to_json(),
                    value,
                    "{}",
                    p.display()
                );
            }
        }
        // Line endings and BOM are kept.
        assert_eq!(
            new_text.contains("\r\n"),
            text.contains("\r\n"),
            "{}",
            p.display()
        );
        assert_eq!(
            new_text.starts_with('\u{feff}'),
            text.starts_with('\u{feff}')
        );
        std::fs::write(out_dir.join(name(&p)), &new_text).unwrap();
    }
}

#[test]
fn rewrite_diffs_match_snapshots() {
    for case in [
        "iam-role-inline-policies.yaml",
        "sam-api-dynamodb-crud.yaml",
        "iam-role-admin.yaml",
        "comment-heavy.yaml",
        "cfn-json-4space.json",
        "cfn-json-tabs.json",
        "crlf-line-endings.yaml",
        "flow-style.yaml",
        "indentless-sequences.yaml",
        "four-space-indent.yaml",
        "json-string-policy.yaml",
        "sam-conditions-fn-if.yaml",
        "cfn-json-minified.json",
        "long-form-intrinsics.yaml",
    ] {
        let p = root().join("tests/fixtures/templates").join(case);
        let (text, t) = load(&p);
        let grants = find_grants(&t);
        let edits = proposal_like_edits(&t, &grants.grants);
        let new_text = t.apply(&edits).unwrap();
        let diff = unified_diff(&text, &new_text, case).replace('\r', "\\r");
        insta::assert_snapshot!(format!("rewrite__{case}"), diff);
    }
}

/// Fixtures that are deliberately not valid CloudFormation (the loader must still accept them).
const NOT_CLOUDFORMATION: &[&str] = &[
    // `!Custom` is an unknown tag: kept opaque by keycard, rejected by CloudFormation.
    "unknown-tag.yaml",
];

/// cfn-lint (from `.venv`, installed by `scripts/test`) must accept every rewritten fixture that
/// it accepts in its original form. Skipped with a notice when the tool is missing, unless `CI`
/// or `KEYCARD_REQUIRE_TOOLS` is set.
#[test]
fn rewritten_fixtures_pass_cfn_lint() {
    let lint = root().join(".venv/bin/cfn-lint");
    if !lint.exists() {
        if std::env::var_os("CI").is_some() || std::env::var_os("KEYCARD_REQUIRE_TOOLS").is_some() {
            panic!("cfn-lint not found at {}", lint.display());
        }
        eprintln!(
            "skipping: cfn-lint not found at {} (run scripts/test)",
            lint.display()
        );
        return;
    }
    let out_dir = root().join("target/keycard-test/cfn-lint");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut originals = Vec::new();
    let mut rewritten = Vec::new();
    for p in fixtures() {
        let (_, t) = load(&p);
        let grants = find_grants(&t);
        let new_text = t.apply(&proposal_like_edits(&t, &grants.grants)).unwrap();
        let out = out_dir.join(name(&p));
        std::fs::write(&out, new_text).unwrap();
        originals.push(p);
        rewritten.push(out);
    }
    // Errors only (warnings and informational findings are style, not validity).
    let run = |files: &[PathBuf]| -> std::collections::BTreeMap<String, Vec<String>> {
        let output = std::process::Command::new(&lint)
            .args(["--format", "json", "--ignore-checks", "W", "I", "--"])
            .args(files)
            .output()
            .unwrap();
        let findings: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "cfn-lint output is not JSON ({e}): {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        let mut by_file = std::collections::BTreeMap::<String, Vec<String>>::new();
        for f in findings {
            let file = Path::new(f["Filename"].as_str().unwrap_or(""))
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            by_file.entry(file).or_default().push(format!(
                "{} {}",
                f["Rule"]["Id"].as_str().unwrap_or(""),
                f["Message"].as_str().unwrap_or("")
            ));
        }
        by_file
    };
    let before = run(&originals);
    let after = run(&rewritten);
    let mut problems = Vec::new();
    for (file, errors) in &after {
        let was: &[String] = before.get(file).map(Vec::as_slice).unwrap_or(&[]);
        let new: Vec<&String> = errors.iter().filter(|e| !was.contains(e)).collect();
        if !new.is_empty() {
            problems.push(format!("{file}: {new:#?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "cfn-lint errors introduced by the rewrite:\n{}",
        problems.join("\n")
    );
    // Every fixture is a valid template except those that test tolerance of odd input; that
    // list is fixed here so that a broken fixture cannot hide.
    let rejected: Vec<&str> = before.keys().map(String::as_str).collect();
    assert_eq!(
        rejected, NOT_CLOUDFORMATION,
        "fixtures cfn-lint rejects before any rewrite: {before:#?}"
    );
}

#[test]
fn invalid_inputs_fail_with_positions() {
    let dir = root().join("tests/fixtures/templates/invalid");
    let table = std::fs::read_to_string(dir.join("expected-errors.tsv")).unwrap();
    let mut seen = 0;
    let mut mismatches = Vec::new();
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, kind, pos) = (cols[0], cols[1], cols[2]);
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let err = Template::load_bytes(file, &bytes)
            .err()
            .unwrap_or_else(|| panic!("{file} loaded"));
        let actual_kind = match err {
            TemplateError::InvalidYaml { .. } => "invalid_yaml",
            TemplateError::InvalidJson { .. } => "invalid_json",
            TemplateError::DuplicateKey { .. } => "duplicate_key",
            TemplateError::NotATemplate { .. } => "not_a_template",
            TemplateError::AliasBomb { .. } => "alias_bomb",
            TemplateError::TooLarge { .. } => "too_large",
            TemplateError::TooLargeToAnalyse { .. } => "too_large_to_analyse",
            TemplateError::TooDeep { .. } => "too_deep",
            TemplateError::Encoding { .. } => "encoding",
        };
        let (l, c) = err.position();
        if (actual_kind, format!("{l}:{c}").as_str()) != (kind, pos) {
            mismatches.push(format!("{file}: expected {kind} at {pos}, got {err}"));
        }
        assert!(
            err.to_string().starts_with(&format!("{file}:{l}:{c}: ")),
            "{err}"
        );
        seen += 1;
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    assert!(seen >= 10);
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let mut text = String::from("Resources:\n  A:\n    Type: AWS::SNS::Topic\n");
    while text.len() <= 10 * 1024 * 1024 {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let err = Template::load("big.yaml", &text).unwrap_err();
    assert!(matches!(err, TemplateError::TooLarge { .. }), "{err}");
    assert!(err.to_string().starts_with("big.yaml:1:1: "));
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let text = format!("Resources: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    // The YAML parser has its own recursion limit, reported as invalid YAML.
    let err = Template::load("deep.yaml", &text).unwrap_err();
    assert!(
        matches!(
            err,
            TemplateError::TooDeep { .. } | TemplateError::InvalidYaml { .. }
        ),
        "{err}"
    );
    let json = format!(
        "{{\"Resources\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let err = Template::load("deep.json", &json).unwrap_err();
    assert!(matches!(err, TemplateError::TooDeep { .. }), "{err}");
}
