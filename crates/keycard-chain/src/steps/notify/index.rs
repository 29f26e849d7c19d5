//! The run index: one page per execution, `proposals/_runs/<execution>/index.html`, linking
//! every stack's report of that run.
//!
//! It lives under `proposals/` so the bucket's lifecycle keeps it as long as the reports it
//! links (`_runs` is no stack name: stack names are letters, digits and hyphens). Each link is
//! given twice: relative (`../../<stack>/<execution>/report.html`, which works on a copy made
//! with `aws s3 sync s3://<bucket>/proposals/ …`) and to the S3 console's page of the object
//! (the bucket is private, so a browser cannot follow a plain object URL). Every value from
//! the run (stack names, problems, execution names) goes through `keycard_core::report::
//! escape::html`.

use std::fmt::Write;

use keycard_core::report::escape::html;

use super::message::{StackNotice, s3_console_url};
use super::{ExecutionStatusChange, Place};
use crate::steps::summarize::Summary;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1d1d1f}\
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}\
td.n{text-align:right}code{font-size:.95em}.bad{color:#a40000}";

/// The page, self-contained (inline CSS, no script, no external asset).
pub(crate) fn render_index(
    bucket: &str,
    place: &Place,
    d: &ExecutionStatusChange,
    summary: &Summary,
    stacks: &[StackNotice],
) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>keycard run {}</title><style>{STYLE}</style></head><body>\n",
        html(&d.name)
    );
    let _ = writeln!(out, "<h1>keycard run <code>{}</code></h1>", html(&d.name));
    let _ = writeln!(
        out,
        "<p>{} &middot; evidence {} &rarr; {} &middot; bucket <code>{}</code></p>",
        html(&d.state_machine_arn),
        html(&summary.window_start),
        html(&summary.window_end),
        html(bucket)
    );
    let _ = writeln!(
        out,
        "<table><thead><tr><th>Stack</th><th>Principals</th><th>With a proposal</th>\
         <th>Actions removed</th><th>Escalations removed</th><th>Report</th></tr></thead><tbody>"
    );
    for s in stacks {
        let _ = write!(out, "<tr><td><code>{}</code></td>", html(&s.stack));
        match (&s.prefix, &s.summary) {
            (Some(prefix), sum) => {
                let n = |f: fn(&keycard_core::report::Summary) -> usize| {
                    sum.as_ref().map(|x| f(x).to_string()).unwrap_or_default()
                };
                let _ = write!(
                    out,
                    "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
                    n(|x| x.principals),
                    n(|x| x.proposed),
                    n(|x| x.removed_actions),
                    n(|x| x.privilege_escalation_removed)
                );
                let relative = format!("../../{}/{}/report.html", s.stack, d.name);
                let _ = write!(out, "<td><a href=\"{}\">report.html</a>", html(&relative));
                if let Some(url) = s3_console_url(place, bucket, &format!("{prefix}report.html")) {
                    let _ = write!(out, " (<a href=\"{}\">S3 console</a>)", html(&url));
                }
                if let Some(p) = &s.problem {
                    let _ = write!(out, " <span class=\"bad\">{}</span>", html(p));
                }
                out.push_str("</td></tr>\n");
            }
            (None, _) => {
                let _ = writeln!(
                    out,
                    "<td colspan=\"5\" class=\"bad\">no proposal: {}</td></tr>",
                    html(s.problem.as_deref().unwrap_or("unknown"))
                );
            }
        }
    }
    out.push_str("</tbody></table>\n");
    if !summary.problems.is_empty() {
        out.push_str("<h2>Roles not analysed to the end</h2>\n<ul>\n");
        for p in &summary.problems {
            let _ = writeln!(
                out,
                "<li><code>{}</code> <code>{}</code>: {} {}</li>",
                html(&p.stack),
                html(&p.logical_id),
                html(&p.outcome),
                html(&p.detail)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body></html>\n");
    out
}
