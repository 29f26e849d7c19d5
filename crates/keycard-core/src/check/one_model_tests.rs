//! `keycard check` and `keycard propose` read the same grants: on every template fixture, every
//! example and every check fixture, each statement `template::find_grants` gives a principal
//! (the grants `propose` plans from, AWS managed policies' published statements included) is a
//! statement check judges for that principal, and check judges nothing else (apart from the
//! trust and resource policies propose never edits and the `Fn::Sub` documents it leaves
//! unchanged, which come from the same extractor).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::model::Model;
use crate::catalog::Catalog;
use crate::template::grants::PolicySite;
use crate::template::{GrantKind, Template, find_grants};

fn templates() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    let mut dirs = vec![
        root.join("tests/fixtures/templates"),
        root.join("tests/fixtures/check"),
        root.join("examples"),
    ];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
                && (dir.ends_with("templates") || p.file_stem().is_some_and(|s| s == "template"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn check_and_propose_read_the_same_grants_on_every_fixture() {
    let files = templates();
    assert!(files.len() >= 60, "fixtures missing: {}", files.len());
    let mut compared = 0;
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // non-UTF-8 fixtures are the loader's tests
        };
        let Ok(t) = Template::load(&path.display().to_string(), &text) else {
            continue; // invalid fixtures are the loader's tests
        };
        let grants = find_grants(&t);
        let m = Model::build(&t, &grants, Catalog::embedded());

        // What propose plans from: every grant's statements, per principal (an AWS managed
        // policy's published statements included: propose writes them out, check judges them).
        let propose: BTreeSet<(String, String, String)> = grants
            .grants
            .iter()
            .flat_map(|g| {
                g.statements
                    .iter()
                    .map(move |s| (g.principal.clone(), s.path.clone(), s.raw.to_string()))
            })
            .collect();
        let read_only: BTreeSet<(String, String, String)> = grants
            .read_only
            .iter()
            .flat_map(|g| {
                g.statements
                    .iter()
                    .map(move |s| (g.principal.clone(), s.path.clone(), s.raw.to_string()))
            })
            .collect();
        let check: BTreeSet<(String, String, String)> = m
            .statements
            .iter()
            .filter(|s| s.site == PolicySite::Identity)
            .flat_map(|s| {
                s.principals
                    .iter()
                    .map(move |p| (p.clone(), s.record.path.clone(), s.record.raw.to_string()))
            })
            .collect();
        let expected: BTreeSet<_> = propose.union(&read_only).cloned().collect();
        assert_eq!(check, expected, "{}", path.display());

        // Managed policy attachments: the same grants, judged by name too.
        let managed: BTreeSet<&str> = grants
            .grants
            .iter()
            .filter(|g| {
                matches!(
                    g.kind,
                    GrantKind::ManagedPolicyArn | GrantKind::SamManagedPolicy
                )
            })
            .map(|g| g.path.as_str())
            .collect();
        let judged: BTreeSet<&str> = m.managed.iter().map(|s| s.grant.path.as_str()).collect();
        assert_eq!(judged, managed, "{}", path.display());

        // Trust and resource policies: every statement the extractor found.
        let policies: usize = grants
            .resource_policies
            .iter()
            .map(|p| p.statements.len())
            .sum();
        let judged = m
            .statements
            .iter()
            .filter(|s| s.site != PolicySite::Identity)
            .count();
        assert_eq!(judged, policies, "{}", path.display());

        // And check itself runs on it.
        assert!(
            super::check_template("t", &text, Catalog::embedded()).is_ok(),
            "{}",
            path.display()
        );
        compared += 1;
    }
    assert!(compared >= 60, "only {compared} templates compared");
}
