//! `keycard grants <TEMPLATE>`: every IAM grant a CloudFormation/SAM template makes.
//!
//! The JSON output is a contract other tools and checks rely on:
//! `{"grants": [{"principal", "principal_type", "source", "path", "line",
//! "managed_policy_arns", "sam_policy_templates", "statements": [{"effect", "actions",
//! "not_actions", "resources"}], "flags"}]}` — actions and resources as written, intrinsics as
//! compact JSON. Extra fields may be added; none of these will change meaning.

use std::path::PathBuf;

use keycard_core::limited_read::Input;
use keycard_core::template::{Grant, Grants, StatementRecord, Template, try_find_grants};
use serde_json::{Value, json};

use crate::exit;
use crate::ui::{Format, Ui, table};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit codes: 0 success; 2 the template could not be read (the message gives file:line:column).")]
pub(crate) struct Args {
    /// CloudFormation or SAM template (YAML or JSON).
    #[arg(value_name = "TEMPLATE")]
    pub template: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub(crate) fn run(args: Args, ui: &Ui) -> anyhow::Result<u8> {
    let name = args.template.display().to_string();
    let bytes = keycard_core::limited_read::read_file(&args.template, Input::Template)?;
    let template = Template::load_bytes(&name, &bytes)?;
    let grants = try_find_grants(&template)?;
    // Invalid statements (Effect `allow`, no Resource, malformed Fn::If) are also in
    // `not_analysable`; they are said for what they are.
    for i in &grants.invalid {
        ui.warn(&format!(
            "{name}:{}:{}: invalid statement: {}",
            i.line, i.column, i.problem
        ));
    }
    for n in grants.not_analysable.iter().filter(|n| {
        !grants
            .invalid
            .iter()
            .any(|i| i.path == n.path && n.reason.ends_with(&i.problem))
    }) {
        ui.warn(&format!(
            "{name}:{}:{}: not analysed: {}",
            n.line, n.column, n.reason
        ));
    }
    let out = match args.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&to_json(&name, &template, &grants))?;
            s.push('\n');
            s
        }
        Format::Text => to_text(&grants, ui),
    };
    crate::ui::print_stdout(&out)?;
    Ok(exit::OK)
}

/// The JSON document of the contract (plus principals, not-analysable places, trust and
/// resource policies, grants read but never rewritten, and invalid statements).
pub(crate) fn to_json(name: &str, template: &Template, grants: &Grants) -> Value {
    json!({
        "template": name,
        "format": template.format(),
        "grants": grants.grants.iter().map(grant_json).collect::<Vec<_>>(),
        "principals": grants.principals,
        "not_analysable": grants.not_analysable,
        "resource_policies": grants.resource_policies.iter().map(|p| json!({
            "kind": p.kind,
            "site": p.kind.site(),
            "source": p.source,
            "source_type": p.source_type,
            "path": p.path,
            "line": p.line,
            "column": p.column,
            "statements": p.statements.iter().map(statement_json).collect::<Vec<_>>(),
            "conditions": p.conditions,
        })).collect::<Vec<_>>(),
        "read_only_grants": grants.read_only.iter().map(grant_json).collect::<Vec<_>>(),
        "invalid_statements": grants.invalid,
    })
}

fn grant_json(g: &Grant) -> Value {
    json!({
        "principal": g.principal,
        "principal_type": g.principal_type,
        "source": g.source,
        "source_type": g.source_type,
        "kind": g.kind,
        "path": g.path,
        "line": g.line,
        "column": g.column,
        "policy_name": g.policy_name,
        "managed_policy_arns": g.managed_policy_arns,
        "sam_policy_templates": g.sam_policy_templates.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        "sam_policy_template_parameters": g.sam_policy_templates.iter().map(|t| t.parameters.clone()).collect::<Vec<_>>(),
        "statements": g.statements.iter().map(statement_json).collect::<Vec<_>>(),
        "effective_action_count": g.effective_actions.len(),
        "unknown_actions": g.unknown_actions,
        "conditions": g.conditions,
        "flags": g.flags,
    })
}

fn statement_json(s: &StatementRecord) -> Value {
    json!({
        "sid": s.sid,
        "effect": s.effect,
        "actions": s.actions,
        "not_actions": s.not_actions,
        "resources": s.resources,
        "not_resources": s.not_resources,
        "condition": s.condition,
        "principal": s.raw.get("Principal"),
        "line": s.line,
        "effective_action_count": s.effective.len(),
    })
}

fn to_text(grants: &Grants, ui: &Ui) -> String {
    let paint = ui.paint();
    if grants.grants.is_empty() {
        return "no IAM grants found\n".to_string();
    }
    let rows: Vec<Vec<String>> = grants
        .grants
        .iter()
        .map(|g| {
            let what = if !g.managed_policy_arns.is_empty() {
                g.managed_policy_arns.join(", ")
            } else if !g.sam_policy_templates.is_empty() {
                g.sam_policy_templates
                    .iter()
                    .map(|t| t.name.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                let n = g.statements.len();
                format!("{n} statement{}", if n == 1 { "" } else { "s" })
            };
            let flags = g
                .flags
                .iter()
                .map(|f| {
                    serde_json::to_value(f)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                g.principal.clone(),
                g.source.clone(),
                format!("{}:{}", g.line, g.column),
                what,
                g.effective_actions.len().to_string(),
                if flags.is_empty() {
                    flags
                } else {
                    paint.yellow(&flags)
                },
            ]
        })
        .collect();
    table(
        &["PRINCIPAL", "SOURCE", "LINE", "GRANT", "ACTIONS", "FLAGS"],
        &rows,
    )
}
