//! One run of the pipeline, end to end: load the template, find its grants, plan, write the
//! edits, re-read the result and check it is never broader, report, update the ledger. Every
//! caller (CLI, Lambdas) goes through [`propose`], so this is the one place the order of those
//! steps is decided.

use std::collections::BTreeSet;

use super::edits::edits_for;
use super::keep::{retention_cutoff, update_ledger};
use super::plan::{Planned, plan_principals};
use super::report_model::build_report;
use super::template_model::model_from_template;
use super::{Proposal, ProposalError, ProposalInput};
use crate::report::RoleStatus;
use crate::template::{Edit, Grants, Template, find_grants, try_find_grants, unified_diff};

/// Loads the template, plans, rewrites, checks and reports.
pub(crate) fn propose(input: &ProposalInput) -> Result<Proposal, ProposalError> {
    let template = Template::load(&input.template_name, &input.template_text)?;
    let grants = try_find_grants(&template)?;
    let model = model_from_template(&template, &grants);
    let planned = plan_principals(&model, input)?;
    let edits = edits_for(&template, &grants, &planned)?;
    let text = apply_all(&template, edits)?;
    verify_never_broader(input, &text, &grants, &planned)?;
    let diff = unified_diff(&input.template_text, &text, &input.template_name);
    let mut report = build_report(&planned, &model, input);
    report.diff = Some(diff.clone());
    let cutoff = retention_cutoff(planned.reference_time, input.options.retention_days)?;
    let ledger = update_ledger(input.ledger.as_ref(), &input.usage, cutoff);
    Ok(Proposal {
        template: text,
        format: template.format(),
        diff,
        report,
        ledger,
    })
}

/// Applies every edit in one pass: the template engine plans each edit against the template as
/// loaded (byte ranges of the original text), refuses overlapping ones, splices them all at
/// once and re-parses once to verify. Re-loading the template after each edit made a proposal
/// quadratic in the number of roles (1,600 roles: 102 s).
fn apply_all(template: &Template, mut edits: Vec<Edit>) -> Result<String, ProposalError> {
    if edits.is_empty() {
        return Ok(template.text().to_string());
    }
    // The same removal can be planned twice (a document shared by two principals).
    let mut seen = BTreeSet::new();
    edits.retain(|e| !matches!(e, Edit::Remove { path } if !seen.insert(path.clone())));
    Ok(template.apply(&edits)?)
}

/// Independent end-to-end check on the re-read proposed template: every principal's effective
/// Allow actions are a subset of those in the original, and every kept action is still there.
fn verify_never_broader(
    input: &ProposalInput,
    proposed_text: &str,
    original: &Grants,
    planned: &Planned,
) -> Result<(), ProposalError> {
    let proposed = Template::load(&input.template_name, proposed_text)?;
    let after = find_grants(&proposed);
    // United as shared sets first: a thousand `*` statements list their names once.
    let effective = |g: &Grants, id: &str| -> BTreeSet<String> {
        let mut all = crate::catalog::ActionSet::new();
        for s in g.of(id).flat_map(|g| g.statements.iter()) {
            if s.is_allow() {
                all.union_with(&s.effective);
            }
        }
        all.iter().cloned().collect()
    };
    for p in &after.principals {
        let before = effective(original, &p.logical_id);
        let now = effective(&after, &p.logical_id);
        if let Some(extra) = now.difference(&before).next() {
            return Err(ProposalError::Invariant(super::invariant::Violation {
                principal: p.logical_id.clone(),
                sid: "(proposed template)".into(),
                action: extra.clone(),
                resource: "*".into(),
            }));
        }
    }
    // And nothing the decision kept was lost on the way into the template.
    for o in planned
        .outcomes
        .iter()
        .filter(|o| o.status == RoleStatus::Proposed)
    {
        let now = effective(&after, &o.logical_id);
        if let Some(lost) = o.decision.kept.keys().find(|a| !now.contains(*a)) {
            return Err(ProposalError::Lost {
                principal: o.logical_id.clone(),
                action: lost.clone(),
            });
        }
    }
    Ok(())
}
