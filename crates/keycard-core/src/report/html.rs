//! report.html: one self-contained page (inline CSS, inline SVG, a few lines of inline script,
//! no external assets) so it can be attached to a ticket or opened from S3 offline.
//!
//! The chart compares granted, used and proposed actions per principal on a logarithmic axis:
//! an AdministratorAccess role grants tens of thousands of actions and uses a dozen, and a
//! linear axis would hide the dozen. The inline script only annotates the page (it counts what
//! was rendered into `#render-status`), so the page reads the same without JavaScript.

use std::fmt::Write;

use super::{Report, RoleReport, RoleStatus};

/// Renders report.html.
pub fn render_html(report: &Report) -> String {
    let mut body = String::new();
    let title = format!("keycard proposal: {}", report.template);
    let _ = writeln!(body, "<header><h1>{}</h1>", esc(&title));
    let mut facts = Vec::new();
    if let Some(stack) = &report.stack_name {
        facts.push(format!("stack <code>{}</code>", esc(stack)));
    }
    if let Some(acct) = &report.account_id {
        facts.push(format!("account <code>{}</code>", esc(acct)));
    }
    if let Some(w) = &report.window {
        facts.push(format!(
            "evidence {} → {} ({} days)",
            w.start.format("%Y-%m-%d"),
            w.end.format("%Y-%m-%d"),
            w.days
        ));
    }
    facts.push(format!("sources: {}", esc(&report.sources.join(", "))));
    facts.push(format!("retention {} days", report.retention_days));
    let _ = writeln!(
        body,
        "<p class=\"facts\">{}</p></header>",
        facts.join(" · ")
    );

    let s = &report.summary;
    let _ = writeln!(
        body,
        "<section class=\"cards\">{}{}{}{}{}</section>",
        card("principals", s.principals, ""),
        card("with a proposal", s.proposed, ""),
        card(
            "actions granted → proposed",
            s.granted_actions,
            &format!("→ {}", s.proposed_actions)
        ),
        card("kept for rare use", s.kept_for_rare_use, ""),
        card("removal candidates", s.removal_candidates, "")
    );

    let _ = writeln!(body, "<section><h2>Granted vs used, per principal</h2>");
    body.push_str(&chart(report));
    let _ = writeln!(body, "</section>");

    let _ = writeln!(
        body,
        "<section><h2>Summary</h2><table class=\"summary\"><thead><tr><th>Principal</th><th>Status</th><th class=\"n\">Granted</th><th class=\"n\">Used</th><th class=\"n\">Proposed</th><th class=\"n\">Removed</th><th class=\"n\">Kept for rare use</th><th>Flags</th></tr></thead><tbody>"
    );
    for (id, r) in &report.roles {
        let _ = writeln!(
            body,
            "<tr><td><a href=\"#role-{}\"><code>{}</code></a></td><td><span class=\"status {}\">{}</span></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            anchor(id),
            esc(id),
            status_class(r.status),
            r.status.label(),
            r.counts.granted,
            r.counts.used,
            r.counts.proposed,
            r.counts.removed,
            r.counts.kept_for_rare_use,
            flag_badges(r)
        );
    }
    let _ = writeln!(body, "</tbody></table></section>");

    for (id, r) in &report.roles {
        role_section(&mut body, id, r);
    }

    if let Some(diff) = report.diff.as_deref().filter(|d| !d.is_empty()) {
        let _ = writeln!(
            body,
            "<section><h2>Template changes</h2><details open><summary>{} lines changed</summary><pre class=\"diff\">{}</pre></details></section>",
            diff.lines()
                .filter(|l| (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---"))
                .count(),
            diff_html(diff)
        );
    }

    if !report.coverage.gaps.is_empty() {
        let _ = writeln!(
            body,
            "<section><h2>What this evidence cannot see, and how to see it</h2><p>Actions the evidence could not have recorded are kept, never removed, and listed as unobservable per role.</p><ul>"
        );
        for g in &report.coverage.gaps {
            let _ = writeln!(
                body,
                "<li><strong>{}</strong>: {}. To see it: {}.</li>",
                esc(&g.what),
                esc(&g.consequence),
                esc(&g.fix)
            );
        }
        let _ = writeln!(body, "</ul></section>");
    }
    if let Some(e) = &report.evidence
        && (!e.malformed.is_empty() || !e.skipped.is_empty())
    {
        let _ = writeln!(body, "<section><h2>Evidence not read</h2>");
        if !e.skipped.is_empty() {
            let _ = writeln!(
                body,
                "<p>{} skipped: {}.</p>",
                plural(e.skipped.len(), "path", "paths"),
                esc(&e.skipped_by_reason())
            );
        }
        let _ = writeln!(body, "<ul>");
        for p in &e.skipped {
            let detail = p
                .detail
                .as_deref()
                .map(|d| format!(" ({})", esc(d)))
                .unwrap_or_default();
            let _ = writeln!(
                body,
                "<li><code>{}</code>: {}{detail}</li>",
                esc(&p.path),
                esc(p.reason.describe())
            );
        }
        for m in &e.malformed {
            let _ = writeln!(body, "<li>{}</li>", esc(m));
        }
        let _ = writeln!(body, "</ul></section>");
    }
    if !report.not_analysable.is_empty() {
        let _ = writeln!(
            body,
            "<section><h2>Not analysable (left unchanged)</h2><ul>"
        );
        for n in &report.not_analysable {
            let _ = writeln!(
                body,
                "<li><code>{}</code>: {}</li>",
                esc(&n.location),
                esc(&n.reason)
            );
        }
        let _ = writeln!(body, "</ul></section>");
    }
    let _ = writeln!(
        body,
        "<footer><p id=\"render-status\" data-bars=\"0\" data-tables=\"0\">static</p><p>Generated by {} at {}.</p></footer>",
        esc(&report.generator),
        report.generated_at.to_rfc3339()
    );

    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}<script>{SCRIPT}</script>\n</body>\n</html>\n",
        esc(&title)
    )
}

const STYLE: &str = r#"
:root{--fg:#1d2330;--muted:#5b6475;--line:#e3e6ec;--granted:#c9d3e6;--used:#2f7d5b;--proposed:#3b6fd6;--bg:#fff;--warn:#b3541e;--bad:#b3261e}
*{box-sizing:border-box}
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1080px;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}h3{font-size:15px;margin:18px 0 6px}
.facts{color:var(--muted);margin:0}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f3f5f8;padding:1px 4px;border-radius:3px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-top:18px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:22px}.card span{color:var(--muted)}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:12.5px}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.d{white-space:nowrap;font-variant-numeric:tabular-nums}
.status{padding:1px 7px;border-radius:10px;font-size:12px;background:#eef1f6}
.status.proposed{background:#e3efff;color:#1f4fae}.status.no-activity{background:#fff1e6;color:var(--warn)}
.status.unmatched,.status.does-not-fit{background:#fde8e7;color:var(--bad)}
.badge{display:inline-block;font-size:11.5px;padding:0 6px;border-radius:9px;margin:1px 3px 1px 0;background:#eef1f6}
.badge.high{background:#fde8e7;color:var(--bad)}.badge.medium{background:#fff1e6;color:var(--warn)}
.role{border-top:2px solid var(--line);margin-top:28px}
.legend span{display:inline-block;margin-right:14px;color:var(--muted)}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
svg text{font:12px system-ui,sans-serif;fill:var(--fg)}svg .axis{fill:var(--muted);font-size:11px}
details summary{cursor:pointer;color:var(--muted)}
pre.diff{font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;background:#f8f9fb;border:1px solid var(--line);border-radius:6px;padding:10px;overflow-x:auto}
pre.diff .add{background:#e6f4ea;color:#1d5e36;display:block}pre.diff .del{background:#fdecea;color:#8a1c14;display:block}pre.diff .hunk{color:#3b6fd6;display:block}
footer{margin-top:36px;color:var(--muted);font-size:12px}
"#;

/// Counts what the browser rendered and writes it into the page (checked by the headless
/// browser test; harmless for readers).
const SCRIPT: &str = r#"
(function(){var bars=document.querySelectorAll('svg.chart rect.bar').length;
var tables=document.querySelectorAll('table').length;
var rows=document.querySelectorAll('table tbody tr').length;
var s=document.getElementById('render-status');
if(s){s.setAttribute('data-bars',bars);s.setAttribute('data-tables',tables);s.setAttribute('data-rows',rows);
s.textContent='rendered: '+bars+' bars, '+tables+' tables, '+rows+' rows';}})();
"#;

fn card(label: &str, value: usize, extra: &str) -> String {
    format!(
        "<div class=\"card\"><b>{value} {}</b><span>{}</span></div>",
        esc(extra),
        esc(label)
    )
}

/// The granted/used/proposed chart, one group of three bars per principal, log10 axis.
fn chart(report: &Report) -> String {
    let label_w = 190.0;
    let plot_w = 760.0;
    let bar_h = 12.0;
    let group_h = bar_h * 3.0 + 16.0;
    let top = 24.0;
    let n = report.roles.len().max(1) as f64;
    let height = top + group_h * n + 24.0;
    let max = report
        .roles
        .values()
        .map(|r| r.counts.granted.max(r.counts.used))
        .max()
        .unwrap_or(1)
        .max(10) as f64;
    let decades = max.log10().ceil().max(1.0);
    let scale = |v: usize| -> f64 {
        if v == 0 {
            0.0
        } else {
            // log10(v+1) so that 1 action still shows as a visible sliver.
            ((v as f64 + 1.0).log10() / decades * plot_w).max(2.0)
        }
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "<div class=\"legend\"><span><i style=\"background:var(--granted)\"></i>granted</span><span><i style=\"background:var(--used)\"></i>used (within retention)</span><span><i style=\"background:var(--proposed)\"></i>proposed</span><span>log scale</span></div>"
    );
    let _ = write!(
        s,
        "<svg class=\"chart\" role=\"img\" aria-label=\"Granted, used and proposed actions per principal\" viewBox=\"0 0 {w} {h}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">",
        w = label_w + plot_w + 60.0,
        h = height
    );
    // Axis ticks at powers of ten.
    let mut d = 0.0;
    while d <= decades {
        let v = 10f64.powf(d);
        let x = label_w + (v + 1.0).log10() / decades * plot_w;
        let x = if d == 0.0 { label_w } else { x };
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{y2:.1}\" stroke=\"#e3e6ec\"/><text class=\"axis\" x=\"{x:.1}\" y=\"14\" text-anchor=\"middle\">{}</text>",
            if d == 0.0 {
                "0".to_string()
            } else {
                human(v as usize)
            },
            y2 = height - 16.0
        );
        d += 1.0;
    }
    for (i, (id, r)) in report.roles.iter().enumerate() {
        let y = top + group_h * i as f64 + 4.0;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            label_w - 10.0,
            y + bar_h * 1.5 + 4.0,
            esc(&truncate(id, 26))
        );
        let proposed = match r.status {
            RoleStatus::Proposed | RoleStatus::Unchanged | RoleStatus::NotNarrowed => {
                r.counts.proposed
            }
            _ => r.counts.granted,
        };
        for (j, (value, color, what)) in [
            (r.counts.granted, "var(--granted)", "granted"),
            (r.counts.used, "var(--used)", "used"),
            (proposed, "var(--proposed)", "proposed"),
        ]
        .into_iter()
        .enumerate()
        {
            let by = y + bar_h * j as f64;
            let w = scale(value);
            let _ = write!(
                s,
                "<rect class=\"bar\" data-role=\"{}\" data-kind=\"{what}\" data-value=\"{value}\" x=\"{label_w:.1}\" y=\"{by:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\" style=\"fill:{color}\"><title>{}: {value} {what}</title></rect><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\">{value}</text>",
                esc(id),
                bar_h - 2.0,
                esc(id),
                label_w + w + 4.0,
                by + bar_h - 3.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn role_section(body: &mut String, id: &str, r: &RoleReport) {
    let _ = writeln!(
        body,
        "<section class=\"role\" id=\"role-{}\"><h2><code>{}</code> <small>{}</small> <span class=\"status {}\">{}</span></h2>",
        anchor(id),
        esc(id),
        esc(&r.resource_type),
        status_class(r.status),
        r.status.label()
    );
    match &r.arn {
        Some(arn) => {
            let _ = writeln!(
                body,
                "<p><code>{}</code> (matched by {})</p>",
                esc(arn),
                esc(&r.matched_by.replace('_', " "))
            );
        }
        None => {
            let _ = writeln!(body, "<p>Not matched: {}</p>", esc(&r.matched_by));
        }
    }
    if !r.flags.is_empty() {
        let _ = writeln!(
            body,
            "<h3>Flags</h3><table class=\"flags\"><thead><tr><th>Severity</th><th>Flag</th><th>Detail</th></tr></thead><tbody>"
        );
        for f in &r.flags {
            let _ = writeln!(
                body,
                "<tr><td><span class=\"badge {}\">{}</span></td><td>{}</td><td>{}</td></tr>",
                esc(&f.severity),
                esc(&f.severity),
                esc(&f.kind.replace('_', " ")),
                esc(&f.message)
            );
        }
        let _ = writeln!(body, "</tbody></table>");
    }
    if !r.not_narrowed.is_empty() {
        let _ = writeln!(
            body,
            "<h3>Not narrowed</h3><table class=\"not-narrowed\"><thead><tr><th>Grant</th><th>Why it is left as written</th></tr></thead><tbody>"
        );
        for n in &r.not_narrowed {
            let _ = writeln!(
                body,
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                esc(&n.source),
                esc(&n.reason)
            );
        }
        let _ = writeln!(body, "</tbody></table>");
    }
    if !r.replaced_policies.is_empty() || !r.wildcards.is_empty() {
        let _ = writeln!(
            body,
            "<h3>Replaced</h3><table class=\"replaced\"><thead><tr><th>Grant</th><th>Source</th><th class=\"n\">Grants</th><th>Replaced by</th></tr></thead><tbody>"
        );
        for p in &r.replaced_policies {
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(&p.kind.replace('_', " ")),
                esc(&p.source),
                p.grants,
                code_list(&p.replaced_by, 20)
            );
        }
        for w in &r.wildcards {
            let _ = writeln!(
                body,
                "<tr><td>wildcard <code>{}</code></td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(&w.pattern),
                esc(&w.source),
                w.grants,
                code_list(&w.replaced_by, 20)
            );
        }
        let _ = writeln!(body, "</tbody></table>");
    }
    if !r.kept_actions.is_empty() {
        let _ = writeln!(
            body,
            "<h3>Kept actions</h3><table class=\"kept\"><thead><tr><th>Action</th><th>Reason</th><th>Last seen</th><th class=\"n\">Calls</th><th>Rare</th></tr></thead><tbody>"
        );
        for k in r.kept_actions.iter().take(200) {
            let _ = writeln!(
                body,
                "<tr><td><code>{}</code></td><td>{}</td><td class=\"d\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(&k.action),
                esc(&k.reasons.join("; ")),
                k.last_seen
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_else(|| "—".into()),
                k.count,
                if k.rare {
                    "<span class=\"badge medium\">rare</span>"
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(body, "</tbody></table>");
        if r.kept_actions.len() > 200 {
            let _ = writeln!(
                body,
                "<p>…and {} more in report.json.</p>",
                r.kept_actions.len() - 200
            );
        }
    }
    if !r.denied_attempts.is_empty() {
        let _ = writeln!(
            body,
            "<h3>Denied attempts</h3><table class=\"denied\"><thead><tr><th>Action</th><th class=\"n\">Calls</th><th>Last</th></tr></thead><tbody>"
        );
        for d in &r.denied_attempts {
            let _ = writeln!(
                body,
                "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"d\">{}</td></tr>",
                esc(&d.action),
                d.count,
                d.last_seen.format("%Y-%m-%d")
            );
        }
        let _ = writeln!(body, "</tbody></table>");
    }
    if !r.removed_actions.is_empty() {
        let _ = writeln!(
            body,
            "<details><summary>Removed: {} actions ({} no longer used at all)</summary><p>{}</p></details>",
            r.removed_actions.len(),
            plural(r.removed_services.len(), "service", "services"),
            code_list(&r.removed_actions, 300)
        );
    }
    if !r.policies.is_empty() {
        let _ = writeln!(
            body,
            "<h3>Policy sizes</h3><table class=\"sizes\"><thead><tr><th>Policy</th><th>Kind</th><th class=\"n\">IAM characters</th><th class=\"n\">Limit</th></tr></thead><tbody>"
        );
        for p in &r.policies {
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&p.name),
                esc(&p.kind),
                p.size,
                p.limit
            );
        }
        let _ = writeln!(body, "</tbody></table>");
    }
    let _ = writeln!(body, "</section>");
}

/// A unified diff with added, removed and hunk lines marked for colour.
fn diff_html(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len() * 2);
    for line in diff.lines() {
        let class = if line.starts_with("+++") || line.starts_with("---") {
            None
        } else if line.starts_with('+') {
            Some("add")
        } else if line.starts_with('-') {
            Some("del")
        } else if line.starts_with("@@") {
            Some("hunk")
        } else {
            None
        };
        match class {
            Some(c) => {
                let _ = write!(out, "<span class=\"{c}\">{}</span>", esc(line));
            }
            None => {
                out.push_str(&esc(line));
                out.push('\n');
            }
        }
    }
    out
}

fn flag_badges(r: &RoleReport) -> String {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for f in &r.flags {
        if !seen.iter().any(|(k, _)| *k == f.kind) {
            seen.push((&f.kind, &f.severity));
        }
    }
    seen.iter()
        .map(|(k, sev)| {
            format!(
                "<span class=\"badge {}\">{}</span>",
                esc(sev),
                esc(&k.replace('_', " "))
            )
        })
        .collect::<Vec<_>>()
        .join("")
}

fn status_class(s: RoleStatus) -> &'static str {
    match s {
        RoleStatus::Proposed => "proposed",
        RoleStatus::Unchanged => "unchanged",
        RoleStatus::NotNarrowed => "not-narrowed",
        RoleStatus::NoActivity => "no-activity",
        RoleStatus::Unmatched => "unmatched",
        RoleStatus::DoesNotFit => "does-not-fit",
    }
}

fn code_list(items: &[String], limit: usize) -> String {
    if items.is_empty() {
        return "nothing".into();
    }
    let mut s: Vec<String> = items
        .iter()
        .take(limit)
        .map(|i| format!("<code>{}</code>", esc(i)))
        .collect();
    if items.len() > limit {
        s.push(format!("…and {} more", items.len() - limit));
    }
    s.join(" ")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn human(v: usize) -> String {
    if v >= 1000 {
        format!("{}k", v / 1000)
    } else {
        v.to_string()
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn anchor(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// HTML escaping for text and attribute values (`escape::html`).
pub(crate) fn esc(s: &str) -> String {
    super::escape::html(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_and_bidi_overrides() {
        assert_eq!(
            esc("role/a\u{1b}[31m\u{202e}<b>"),
            "role/a\\u{1b}[31m\\u{202e}&lt;b&gt;"
        );
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
