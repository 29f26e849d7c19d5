//! report.md: the report as a pull-request comment would show it.

use std::fmt::Write;

use super::escape::{md_code, md_code_cell, printable};
use super::{Report, RoleReport, RoleStatus};

/// At most this many items of a long list are written; report.json has all of them.
const LIST_LIMIT: usize = 40;

/// Renders report.md.
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# keycard proposal: {}\n", md_code(&report.template));
    let mut facts = Vec::new();
    if let Some(stack) = &report.stack_name {
        facts.push(format!("stack {}", md_code(stack)));
    }
    if let Some(acct) = &report.account_id {
        facts.push(format!("account {}", md_code(acct)));
    }
    if let Some(w) = &report.window {
        facts.push(format!(
            "evidence {} → {} ({} days)",
            w.start.format("%Y-%m-%d"),
            w.end.format("%Y-%m-%d"),
            w.days
        ));
    }
    facts.push(format!("sources: {}", report.sources.join(", ")));
    facts.push(format!("retention {} days", report.retention_days));
    let _ = writeln!(out, "{}.\n", capitalise(&facts.join(", ")));

    let s = &report.summary;
    let _ = writeln!(
        out,
        "**{}**: {} with a proposal, {}, {} unmatched. \
         Granted actions {} → proposed {} ({} removed, {} kept for rare use).\n",
        plural(s.principals, "principal", "principals"),
        s.proposed,
        plural(
            s.removal_candidates,
            "removal candidate",
            "removal candidates"
        ),
        s.unmatched,
        s.granted_actions,
        s.proposed_actions,
        s.removed_actions,
        s.kept_for_rare_use
    );

    let _ = writeln!(
        out,
        "| Principal | Status | Granted | Used | Proposed | Removed | Kept for rare use | Flags |"
    );
    let _ = writeln!(out, "|---|---|--:|--:|--:|--:|--:|---|");
    for (id, r) in &report.roles {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            md_code_cell(id),
            r.status.label(),
            r.counts.granted,
            r.counts.used,
            r.counts.proposed,
            r.counts.removed,
            r.counts.kept_for_rare_use,
            flag_summary(r)
        );
    }
    out.push('\n');
    coverage_section(&mut out, report);

    for (id, r) in &report.roles {
        role_section(&mut out, id, r);
    }

    evidence_not_read(&mut out, report);
    if !report.not_analysable.is_empty() {
        let _ = writeln!(out, "## Not analysable (left unchanged)\n");
        for n in &report.not_analysable {
            let _ = writeln!(out, "- {}: {}", md_code(&n.location), printable(&n.reason));
        }
        out.push('\n');
    }
    if !report.unattributed_principals.is_empty() {
        let _ = writeln!(out, "## Evidence principals not in the template\n");
        for p in &report.unattributed_principals {
            let _ = writeln!(out, "- {}", md_code(p));
        }
        out.push('\n');
    }
    out
}

/// Evidence files that were not read or not read whole, and paths passed over, with why: a
/// proposal made from part of the trail says so where it is reviewed.
fn evidence_not_read(out: &mut String, report: &Report) {
    let Some(e) = &report.evidence else {
        return;
    };
    if e.malformed.is_empty() && e.skipped.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Evidence not read\n");
    if !e.skipped.is_empty() {
        let _ = writeln!(
            out,
            "{} skipped: {}.\n",
            plural(e.skipped.len(), "path", "paths"),
            e.skipped_by_reason()
        );
    }
    for p in e.skipped.iter().take(LIST_LIMIT) {
        let detail = p
            .detail
            .as_deref()
            .map(|d| format!(" ({})", printable(d)))
            .unwrap_or_default();
        let _ = writeln!(out, "- {}: {}{detail}", md_code(&p.path), p.reason);
    }
    for m in e.malformed.iter().take(LIST_LIMIT) {
        let _ = writeln!(out, "- {}", printable(m));
    }
    let more =
        e.skipped.len().saturating_sub(LIST_LIMIT) + e.malformed.len().saturating_sub(LIST_LIMIT);
    if more > 0 {
        let _ = writeln!(out, "- …and {more} more in report.json.");
    }
    out.push('\n');
}

fn role_section(out: &mut String, id: &str, r: &RoleReport) {
    let _ = writeln!(
        out,
        "## {} ({})\n",
        md_code(id),
        printable(&r.resource_type)
    );
    match &r.arn {
        Some(arn) => {
            let _ = writeln!(
                out,
                "Role {} (matched by {}).\n",
                md_code(arn),
                r.matched_by.replace('_', " ")
            );
        }
        None => {
            let _ = writeln!(out, "Not matched: {}.\n", r.matched_by);
        }
    }
    let _ = writeln!(out, "{}\n", status_sentence(r));
    if !r.flags.is_empty() {
        let _ = writeln!(out, "**Flags**\n");
        for f in &r.flags {
            let _ = writeln!(
                out,
                "- **{}** ({}): {}",
                f.kind.replace('_', " "),
                f.severity,
                printable(&f.message)
            );
        }
        out.push('\n');
    }
    if !r.not_narrowed.is_empty() {
        let _ = writeln!(out, "**Not narrowed** (left as written)\n");
        for n in &r.not_narrowed {
            let _ = writeln!(out, "- `{}`: {}", n.source, n.reason);
        }
        out.push('\n');
    }
    if !r.replaced_policies.is_empty() {
        let _ = writeln!(out, "**Replaced policies**\n");
        for p in &r.replaced_policies {
            let _ = writeln!(
                out,
                "- {} ({}, {} actions) → {} explicit actions",
                md_code(&p.source),
                p.kind.replace('_', " "),
                p.grants,
                p.replaced_by.len()
            );
        }
        out.push('\n');
    }
    if !r.wildcards.is_empty() {
        let _ = writeln!(out, "**Wildcards**\n");
        for w in &r.wildcards {
            let _ = writeln!(
                out,
                "- {} in {} ({} actions) → {}",
                md_code(&w.pattern),
                printable(&w.source),
                w.grants,
                code_list(&w.replaced_by, 12)
            );
        }
        out.push('\n');
    }
    if !r.kept_actions.is_empty() {
        let _ = writeln!(out, "**Kept actions**\n");
        let _ = writeln!(out, "| Action | Reason | Last seen | Calls | Rare |");
        let _ = writeln!(out, "|---|---|---|--:|---|");
        for k in r.kept_actions.iter().take(LIST_LIMIT * 2) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                md_code_cell(&k.action),
                printable(&k.reasons.join("; ")).replace('|', "\\|"),
                k.last_seen
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_else(|| "—".into()),
                k.count,
                if k.rare { "yes" } else { "" }
            );
        }
        if r.kept_actions.len() > LIST_LIMIT * 2 {
            let _ = writeln!(
                out,
                "\n…and {} more in report.json.",
                r.kept_actions.len() - LIST_LIMIT * 2
            );
        }
        out.push('\n');
    }
    if !r.removed_actions.is_empty() {
        let _ = writeln!(
            out,
            "**Removed**: {} actions; services no longer used at all: {}\n",
            r.removed_actions.len(),
            if r.removed_services.is_empty() {
                "none".to_string()
            } else {
                code_list(&r.removed_services, LIST_LIMIT)
            }
        );
        if r.removed_actions.len() <= LIST_LIMIT {
            let _ = writeln!(
                out,
                "Actions: {}\n",
                code_list(&r.removed_actions, LIST_LIMIT)
            );
        }
    }
    if !r.denied_attempts.is_empty() {
        let _ = writeln!(out, "**Denied attempts** (never added by keycard)\n");
        for d in &r.denied_attempts {
            let _ = writeln!(
                out,
                "- {}: {} calls, last {}",
                md_code(&d.action),
                d.count,
                d.last_seen.format("%Y-%m-%d")
            );
        }
        out.push('\n');
    }
    if !r.unmapped_events.is_empty() {
        let _ = writeln!(out, "**Unmapped events**\n");
        for u in &r.unmapped_events {
            let _ = writeln!(
                out,
                "- {} {}: {} ({} events)",
                md_code(&u.event_source),
                md_code(&u.event_name),
                printable(&u.reason),
                u.count
            );
        }
        out.push('\n');
    }
    if !r.policies.is_empty() {
        let _ = writeln!(out, "**Policy sizes** (IAM characters)\n");
        for p in &r.policies {
            let _ = writeln!(
                out,
                "- {} ({}): {} / {}",
                printable(&p.name),
                p.kind,
                p.size,
                p.limit
            );
        }
        out.push('\n');
    }
}

/// What this evidence cannot see, and how to see it: one line per gap, with the fix.
fn coverage_section(out: &mut String, report: &Report) {
    let c = &report.coverage;
    let unobservable: usize = report
        .roles
        .values()
        .map(|r| r.unobservable_actions.len())
        .sum();
    if c.gaps.is_empty() && unobservable == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "## What this evidence cannot see, and how to see it
"
    );
    let _ = writeln!(
        out,
        "keycard removes an action only when the evidence would have recorded its use. \
         {unobservable} granted {} the evidence cannot see {} kept and marked `unobservable` in \
         report.json, with the reason.\n",
        plural(unobservable, "action", "actions"),
        if unobservable == 1 { "is" } else { "are" }
    );
    if let Some(p) = &c.coverage.period {
        let _ = writeln!(
            out,
            "Records cover {} days from {} to {}.\n",
            p.covered_days, p.first_day, p.last_day
        );
    }
    for g in &c.gaps {
        let _ = writeln!(
            out,
            "- **{}**: {}. To see it: {}.",
            g.what, g.consequence, g.fix
        );
    }
    for n in &c.notes {
        let _ = writeln!(out, "- {n}");
    }
    out.push('\n');
}

fn status_sentence(r: &RoleReport) -> String {
    match r.status {
        RoleStatus::Proposed => format!(
            "Granted {} actions, used {}; the proposal grants {} ({} removed).",
            r.counts.granted, r.counts.used, r.counts.proposed, r.counts.removed
        ),
        RoleStatus::Unchanged => {
            "Everything granted is kept; the template is unchanged for this principal.".into()
        }
        RoleStatus::NotNarrowed => format!(
            "Granted {} actions, used {}; nothing was removed, and {} grant{} could not be narrowed (below).",
            r.counts.granted,
            r.counts.used,
            r.not_narrowed.len(),
            if r.not_narrowed.len() == 1 { "" } else { "s" }
        ),
        RoleStatus::NoActivity => {
            "No activity in the evidence: no proposal was made. Consider removing the principal."
                .into()
        }
        RoleStatus::Unmatched => {
            "No proposal: the principal could not be matched to the evidence.".into()
        }
        RoleStatus::DoesNotFit => "No proposal: it would not fit IAM's size quotas.".into(),
    }
}

fn flag_summary(r: &RoleReport) -> String {
    let mut kinds: Vec<String> = r.flags.iter().map(|f| f.kind.replace('_', " ")).collect();
    kinds.dedup();
    if kinds.is_empty() {
        "—".into()
    } else {
        kinds.join(", ")
    }
}

fn code_list(items: &[String], limit: usize) -> String {
    if items.is_empty() {
        return "nothing".into();
    }
    let mut s: Vec<String> = items.iter().take(limit).map(|i| md_code(i)).collect();
    if items.len() > limit {
        s.push(format!("…and {} more", items.len() - limit));
    }
    s.join(", ")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
