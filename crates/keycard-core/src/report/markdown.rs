//! report.md: the report as a pull-request comment would show it.

use std::fmt::Write;

use super::{Report, RoleReport, RoleStatus};

/// At most this many items of a long list are written; report.json has all of them.
const LIST_LIMIT: usize = 40;

/// Renders report.md.
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# keycard proposal: `{}`\n", report.template);
    let mut facts = Vec::new();
    if let Some(stack) = &report.stack_name {
        facts.push(format!("stack `{stack}`"));
    }
    if let Some(acct) = &report.account_id {
        facts.push(format!("account `{acct}`"));
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
            "| `{id}` | {} | {} | {} | {} | {} | {} | {} |",
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

    if !report.not_analysable.is_empty() {
        let _ = writeln!(out, "## Not analysable (left unchanged)\n");
        for n in &report.not_analysable {
            let _ = writeln!(out, "- `{}`: {}", n.location, n.reason);
        }
        out.push('\n');
    }
    if !report.unattributed_principals.is_empty() {
        let _ = writeln!(out, "## Evidence principals not in the template\n");
        for p in &report.unattributed_principals {
            let _ = writeln!(out, "- `{p}`");
        }
        out.push('\n');
    }
    out
}

fn role_section(out: &mut String, id: &str, r: &RoleReport) {
    let _ = writeln!(out, "## `{id}` ({})\n", r.resource_type);
    match &r.arn {
        Some(arn) => {
            let _ = writeln!(
                out,
                "Role `{arn}` (matched by {}).\n",
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
                f.message
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
                "- `{}` ({}, {} actions) → {} explicit actions",
                p.source,
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
                "- `{}` in {} ({} actions) → {}",
                w.pattern,
                w.source,
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
                "| `{}` | {} | {} | {} | {} |",
                k.action,
                k.reasons.join("; ").replace('|', "\\|"),
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
                "- `{}`: {} calls, last {}",
                d.action,
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
                "- `{}` `{}`: {} ({} events)",
                u.event_source, u.event_name, u.reason, u.count
            );
        }
        out.push('\n');
    }
    if !r.policies.is_empty() {
        let _ = writeln!(out, "**Policy sizes** (IAM characters)\n");
        for p in &r.policies {
            let _ = writeln!(out, "- {} ({}): {} / {}", p.name, p.kind, p.size, p.limit);
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
    let mut s: Vec<String> = items.iter().take(limit).map(|i| format!("`{i}`")).collect();
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
