//! `keycard check <TEMPLATE>...`: static analysis of the IAM in CloudFormation/SAM templates.
//!
//! The rules live in `keycard_core::check`; this command reads files, renders text/JSON/SARIF
//! and turns findings into the exit code a CI gate needs.

use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use keycard_core::catalog::Catalog;
use keycard_core::check::{self, FileReport, Finding, RULES, Severity, render};
use keycard_core::limited_read::{self, Input};

use crate::atomic_write::write_file;
use crate::exit;
use crate::paths::{Named, refuse_overwrite};
use crate::ui::{Ui, table};

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CheckFormat {
    /// One line per finding, for people.
    Text,
    /// keycard's JSON: files, findings with positions, summary.
    Json,
    /// SARIF 2.1.0 for code-scanning tools (GitHub, GitLab, Azure DevOps).
    Sarif,
}

/// The lowest severity that fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOn {
    Low,
    Medium,
    High,
    Critical,
    /// Never fail because of findings (report only).
    Never,
}

impl FailOn {
    fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Low => Some(Severity::Low),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::High => Some(Severity::High),
            FailOn::Critical => Some(Severity::Critical),
            FailOn::Never => None,
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Suppress a finding in the template, next to the resource it concerns (a reason is required):
  Metadata:
    keycard:
      suppress:
        - rule: KC002
          reason: \"sqs:* on the one queue this function owns\"

A statement that breaks several rules is one finding listing them (its severity is the highest);
a suppression silences only the rules it names. Invalid statements (Effect `allow`, no Resource,
a malformed Fn::If) are findings (KC040).

Exit codes: 0 no unsuppressed finding at or above --fail-on; 1 there is one; 2 a template could
not be read (it is also listed in JSON as `error` and in SARIF as an error notification with
`executionSuccessful: false`). `keycard check --list-rules` shows every rule with its rationale.")]
pub(crate) struct Args {
    /// CloudFormation or SAM templates (YAML or JSON); `-` reads one from stdin.
    #[arg(value_name = "TEMPLATE", required_unless_present = "list_rules")]
    pub templates: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Exit 1 when an unsuppressed finding has this severity or higher.
    #[arg(long, value_enum, default_value_t = FailOn::Low, value_name = "SEVERITY")]
    pub fail_on: FailOn,
    /// Write the report to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the rules (id, severity, rationale) and exit.
    #[arg(long)]
    pub list_rules: bool,
}

pub(crate) fn run(args: Args, ui: &Ui) -> anyhow::Result<u8> {
    if let Some(output) = &args.output {
        let inputs: Vec<Named> = args
            .templates
            .iter()
            .filter(|t| t.as_os_str() != "-")
            .map(|t| Named::new("template", t))
            .collect();
        refuse_overwrite(&[Named::new("--output", output)], &inputs, &[])?;
    }
    if args.list_rules {
        let text = match args.format {
            CheckFormat::Text => list_rules_text(ui),
            CheckFormat::Json | CheckFormat::Sarif => serde_json::to_string_pretty(RULES)? + "\n",
        };
        emit(&args, &text)?;
        return Ok(exit::OK);
    }

    let catalog = Catalog::embedded();
    let mut reports = Vec::new();
    let mut input_errors = 0usize;
    for path in &args.templates {
        let stdin = path.as_os_str() == "-";
        let name = if stdin {
            "<stdin>".to_string()
        } else {
            path.display().to_string()
        };
        ui.debug(&format!("checking {name}"));
        let read = if stdin {
            limited_read::read_to_string(&name, std::io::stdin().lock(), Input::Template)
        } else {
            limited_read::read_file_to_string(path, Input::Template)
        };
        let text = match read {
            Ok(t) => t,
            Err(e) => {
                // With its cause (the OS error), as every other command prints it.
                let message = format!("{:#}", anyhow::Error::new(e));
                ui.error(&message);
                reports.push(FileReport::failed(&name, message));
                input_errors += 1;
                continue;
            }
        };
        match check::check_template(&name, &text, catalog) {
            Ok(report) => {
                for w in &report.warnings {
                    ui.warn(w);
                }
                reports.push(report);
            }
            Err(e) => {
                ui.error(&e.to_string());
                reports.push(FileReport::failed(&name, e.to_string()));
                input_errors += 1;
            }
        }
    }

    let out = match args.format {
        CheckFormat::Text => text_report(&reports, ui),
        CheckFormat::Json => serde_json::to_string_pretty(&render::to_json(&reports))? + "\n",
        CheckFormat::Sarif => {
            serde_json::to_string_pretty(&render::to_sarif(&reports, env!("CARGO_PKG_VERSION")))?
                + "\n"
        }
    };
    emit(&args, &out)?;
    if !reports.is_empty() && (args.format == CheckFormat::Text || args.output.is_some()) {
        ui.info(&summary_line(&reports));
    }

    if input_errors > 0 {
        return Ok(exit::INPUT);
    }
    let failing = args.fail_on.threshold().is_some_and(|min| {
        reports
            .iter()
            .flat_map(|r| &r.findings)
            .any(|f| f.suppressed.is_none() && f.severity >= min)
    });
    Ok(if failing { exit::FINDINGS } else { exit::OK })
}

fn emit(args: &Args, text: &str) -> anyhow::Result<()> {
    match &args.output {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            write_file(path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))
        }
        None => crate::ui::print_stdout(text),
    }
}

fn severity_label(ui: &Ui, s: Severity) -> String {
    let p = ui.paint();
    let label = format!("{:<8}", s.as_str());
    match s {
        Severity::Critical => p.red_bold(&label),
        Severity::High => p.red(&label),
        Severity::Medium => p.yellow(&label),
        Severity::Low => p.cyan(&label),
    }
}

/// `file:line:col  severity  RULE[,RULE…]  resource: message`.
fn finding_line(ui: &Ui, f: &Finding) -> String {
    let p = ui.paint();
    let rules: Vec<&str> = f.rules().iter().map(|r| r.as_str()).collect();
    format!(
        "{}  {}  {}  {}: {}",
        p.bold(&format!("{}:{}:{}", f.file, f.start.line, f.start.column)),
        severity_label(ui, f.severity),
        rules.join(","),
        f.resource,
        f.message
    )
}

/// Text results: one line per unsuppressed finding (`file:line:col severity rule resource:
/// message`), the rule's rationale under it with `--verbose`, suppressed findings only with
/// `--verbose`.
fn text_report(reports: &[FileReport], ui: &Ui) -> String {
    let p = ui.paint();
    let mut out = String::new();
    for f in reports.iter().flat_map(|r| &r.findings) {
        match &f.suppressed {
            None => {
                out.push_str(&finding_line(ui, f));
                out.push('\n');
                if ui.verbose {
                    for v in &f.violations {
                        let line = match &v.suppressed {
                            None => format!("{}: {}", v.rule, v.rule.rule().rationale),
                            Some(reason) => format!("{} suppressed: {reason}", v.rule),
                        };
                        out.push_str(&format!("    {}\n", p.dim(&line)));
                    }
                }
            }
            Some(reason) if ui.verbose => {
                out.push_str(&p.dim(&format!(
                    "{} (suppressed: {reason})",
                    strip(&finding_line(ui, f))
                )));
                out.push('\n');
            }
            Some(_) => {}
        }
    }
    out
}

/// Removes colour codes so a dimmed line is not a patchwork of styles.
fn strip(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn summary_line(reports: &[FileReport]) -> String {
    let mut by = [0usize; 4];
    let mut suppressed = 0;
    for f in reports.iter().flat_map(|r| &r.findings) {
        if f.suppressed.is_some() {
            suppressed += 1;
        } else {
            by[f.severity as usize] += 1;
        }
    }
    let total: usize = by.iter().sum();
    let files = reports.iter().filter(|r| r.error.is_none()).count();
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut parts = Vec::new();
    for (i, name) in ["low", "medium", "high", "critical"]
        .iter()
        .enumerate()
        .rev()
    {
        if by[i] > 0 {
            parts.push(format!("{} {name}", by[i]));
        }
    }
    let detail = if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    };
    let supp = if suppressed > 0 {
        format!(", {suppressed} suppressed")
    } else {
        String::new()
    };
    format!(
        "{}{detail}{supp} in {}",
        plural(total, "finding", "findings"),
        plural(files, "template", "templates")
    )
}

fn list_rules_text(ui: &Ui) -> String {
    let rows: Vec<Vec<String>> = RULES
        .iter()
        .map(|r| {
            vec![
                r.id.as_str().to_string(),
                r.severity.as_str().to_string(),
                r.name.to_string(),
                r.summary.to_string(),
            ]
        })
        .collect();
    let mut out = table(&["rule", "severity", "name", "finds"], &rows);
    if ui.verbose {
        out.push('\n');
        for r in RULES {
            out.push_str(&format!("{} {}\n    {}\n", r.id, r.name, r.rationale));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ansi_codes() {
        assert_eq!(strip("\x1b[1mfile\x1b[0m  x"), "file  x");
    }

    #[test]
    fn summary_counts_by_severity_and_suppressed() {
        assert_eq!(summary_line(&[]), "0 findings in 0 templates");
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/check/suppressions/template.yaml"
        ))
        .unwrap();
        let report = check::check_template("t.yaml", &text, Catalog::embedded()).unwrap();
        let line = summary_line(&[report]);
        // BatchRole's statement breaks KC003 and KC010 (suppressed) and KC012 (not named in the
        // suppression): one finding that still counts, as a medium.
        assert!(
            line.starts_with(
                "4 findings (1 critical, 1 medium, 2 low), 1 suppressed in 1 template"
            ),
            "{line}"
        );
    }
}
