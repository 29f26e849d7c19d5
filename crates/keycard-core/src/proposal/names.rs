//! Names written in a template (`Fn::Sub`, `Fn::Join`, `Ref` to pseudo parameters and
//! parameter defaults) resolved against what is known about the deployed stack, and the names
//! CloudFormation generates. Shared by principal resolution ([`super::resolve`]) and the
//! resource index ([`super::resources`]); when anything is unknown the answer is `None`, never
//! a guess.

use std::collections::BTreeMap;

use serde_json::Value;

/// What is known about the deployed stack, to resolve names written with intrinsics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NameContext {
    pub stack_name: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub partition: String,
    /// Template parameter defaults (`Ref Param` in names).
    pub parameters: BTreeMap<String, String>,
    /// Physical ids from a stack lookup (logical id → physical id), which win over anything
    /// derived from the template.
    pub physical_ids: BTreeMap<String, String>,
}

/// Resolves a name written in a template (plain string, `Fn::Sub`, `Fn::Join`, `Ref` to a
/// pseudo parameter or a parameter default). `None` when anything cannot be resolved.
pub fn resolve_name(value: &Value, ctx: &NameContext) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) if map.len() == 1 => {
            let (k, v) = map.iter().next()?;
            match k.as_str() {
                "Ref" => resolve_ref(v.as_str()?, ctx),
                "Fn::Sub" => match v {
                    Value::String(s) => substitute(s, &BTreeMap::new(), ctx),
                    Value::Array(items) if items.len() == 2 => {
                        let text = items[0].as_str()?;
                        let vars = items[1].as_object()?;
                        let mut resolved = BTreeMap::new();
                        for (name, val) in vars {
                            resolved.insert(name.clone(), resolve_name(val, ctx)?);
                        }
                        substitute(text, &resolved, ctx)
                    }
                    _ => None,
                },
                "Fn::Join" => {
                    let items = v.as_array()?;
                    let sep = items.first()?.as_str()?;
                    let parts = items.get(1)?.as_array()?;
                    let mut out = Vec::with_capacity(parts.len());
                    for p in parts {
                        out.push(resolve_name(p, ctx)?);
                    }
                    Some(out.join(sep))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn resolve_ref(name: &str, ctx: &NameContext) -> Option<String> {
    match name {
        "AWS::StackName" => ctx.stack_name.clone(),
        "AWS::AccountId" => ctx.account_id.clone(),
        "AWS::Region" => ctx.region.clone(),
        "AWS::Partition" => Some(ctx.partition.clone()),
        "AWS::URLSuffix" => Some("amazonaws.com".into()),
        other => ctx.parameters.get(other).cloned(),
    }
}

/// `${Name}` substitution for `Fn::Sub`; `${!Literal}` stays literal.
fn substitute(text: &str, vars: &BTreeMap<String, String>, ctx: &NameContext) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let name = &after[..end];
        if let Some(lit) = name.strip_prefix('!') {
            out.push_str("${");
            out.push_str(lit);
            out.push('}');
        } else if let Some(v) = vars.get(name) {
            out.push_str(v);
        } else {
            out.push_str(&resolve_ref(name, ctx)?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Whether `name` is a name CloudFormation generates for `logical_id` in `stack`:
/// `<stack>-<LogicalId>-<suffix>` (lower-cased for S3 buckets), with the suffix made of 6 to
/// 13 letters and digits. Truncated forms are handled where role names are matched.
pub fn is_generated_name(name: &str, stack: &str, logical_id: &str, lowercase: bool) -> bool {
    let prefix = format!("{stack}-{logical_id}-");
    let head = name.get(..prefix.len());
    let same = match head {
        Some(h) if lowercase => h.eq_ignore_ascii_case(&prefix),
        Some(h) => h == prefix,
        None => false,
    };
    if !same {
        return false;
    }
    let suffix = &name[prefix.len()..];
    (6..=13).contains(&suffix.len()) && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
}
