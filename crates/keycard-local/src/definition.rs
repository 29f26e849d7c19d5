//! The state machine definition as the local chain runs it: `statemachine/keycard.asl.json`
//! with the handler binaries template.yaml names (so the local run calls what SAM would
//! deploy) and the few adaptations moto's interpreter needs. Pure text in, text out, so it is
//! tested without starting anything.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{ACCOUNT, LocalError, REGION, setup};

/// The handler binaries the state machine calls: `DefinitionSubstitutions` key → binary,
/// read from template.yaml (`XFunctionArn: !GetAtt XFunction.Arn` and that function's
/// `Metadata.BuildProperties.Binary`), so the local run calls what SAM would deploy.
pub fn function_binaries(
    template: &str,
    asl: &str,
) -> Result<BTreeMap<String, String>, LocalError> {
    let mut out = BTreeMap::new();
    let mut rest = asl;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { break };
        let key = &after[..end];
        rest = &after[end..];
        if out.contains_key(key) || !key.ends_with("FunctionArn") {
            // Not a function: a parameter such as `TrailArn` ([`substitute`]'s `parameters`).
            continue;
        }
        let logical = key
            .strip_suffix("Arn")
            .ok_or_else(|| setup(format!("ASL substitution ${{{key}}} is not a function ARN")))?;
        out.insert(key.to_owned(), function_binary(template, logical)?);
    }
    Ok(out)
}

/// The binary of the function `logical` of template.yaml (`Metadata.BuildProperties.Binary`).
pub(crate) fn function_binary(template: &str, logical: &str) -> Result<String, LocalError> {
    let block_start = template
        .find(&format!("\n  {logical}:\n"))
        .ok_or_else(|| setup(format!("template.yaml has no resource {logical}")))?;
    // The resource's lines, up to the next resource (two spaces of indent) or section.
    let block: Vec<&str> = template[block_start + 1..]
        .lines()
        .enumerate()
        .take_while(|(n, l)| {
            *n == 0 || l.is_empty() || l.starts_with("   ") || l.trim_start().starts_with('#')
        })
        .map(|(_, l)| l)
        .collect();
    block
        .iter()
        .find_map(|l| l.trim().strip_prefix("Binary:"))
        .map(|b| b.trim().trim_matches('"').to_owned())
        .ok_or_else(|| setup(format!("{logical} in template.yaml names no Binary")))
}

/// Replaces every `${Key}` with its function ARN, and every other `${Parameter}` with its
/// value from `parameters` (template.yaml's `TrailArn: !Ref TrailArn`).
pub fn substitute(
    asl: &str,
    binaries: &BTreeMap<String, String>,
    parameters: &BTreeMap<&str, String>,
) -> String {
    let mut out = asl.to_owned();
    for (key, binary) in binaries {
        out = out.replace(
            &format!("${{{key}}}"),
            &format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{binary}"),
        );
    }
    for (key, value) in parameters {
        out = out.replace(&format!("${{{key}}}"), value);
    }
    out
}

/// The definition as moto 5.2's interpreter can run it. Two gaps of its AWS SDK tasks, both
/// in the trail configuration states, and nowhere else:
/// * it hands `Parameters` to botocore as written, while Step Functions takes PascalCase names
///   even where the API's are camelCase: DescribeTrails' `TrailNameList` becomes
///   botocore's `trailNameList`;
/// * it keeps GetTrailStatus' timestamps as Python datetimes in the state, which its own
///   DescribeExecution (and the Lambda payload) cannot serialize: only `IsLogging` is kept.
pub fn for_moto(definition: &str) -> Result<String, LocalError> {
    fn walk(states: &mut Value) {
        let Some(states) = states.as_object_mut() else {
            return;
        };
        for state in states.values_mut() {
            // The integration whatever the partition (`arn:<partition>:states:::…`).
            let integration = state
                .get("Resource")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("arn:"))
                .and_then(|r| r.split_once(':'))
                .map(|(_, rest)| rest.to_owned());
            match integration.as_deref() {
                Some("states:::aws-sdk:cloudtrail:describeTrails") => {
                    if let Some(params) = state.get_mut("Parameters").and_then(Value::as_object_mut)
                        && let Some(v) = params.remove("TrailNameList.$")
                    {
                        params.insert("trailNameList.$".into(), v);
                    }
                }
                Some("states:::aws-sdk:cloudtrail:getTrailStatus") => {
                    state["ResultSelector"] = json!({"IsLogging.$": "$.IsLogging"});
                }
                _ => {}
            }
            if let Some(inner) = state.pointer_mut("/ItemProcessor/States") {
                walk(inner);
            }
        }
    }
    let mut v: Value = serde_json::from_str(definition).map_err(setup)?;
    walk(&mut v["States"]);
    serde_json::to_string_pretty(&v).map_err(setup)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TRAIL_NAME, repo_root};

    #[test]
    fn every_asl_substitution_names_a_template_binary() {
        let root = repo_root();
        let asl = std::fs::read_to_string(root.join("statemachine/keycard.asl.json")).unwrap();
        let template = std::fs::read_to_string(root.join("template.yaml")).unwrap();
        let b = function_binaries(&template, &asl).unwrap();
        assert_eq!(
            b.get("DiffFunctionArn").map(String::as_str),
            Some("keycard-diff")
        );
        assert_eq!(
            b.get("PollGenerationFunctionArn").map(String::as_str),
            Some("keycard-poll-generation")
        );
        assert!(!b.contains_key("TrailArn"), "a parameter, not a function");
        let trail = format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL_NAME}");
        let def = substitute(
            &asl,
            &b,
            &BTreeMap::from([("TrailArn", trail.clone()), ("Partition", "aws".to_owned())]),
        );
        assert!(!def.contains("${"));
        assert!(def.contains("\"arn:aws:states:::aws-sdk:cloudtrail:describeTrails\""));
        assert!(def.contains(&format!("\"trail\": \"{trail}\"")));
        assert!(def.contains("arn:aws:lambda:us-east-1:123456789012:function:keycard-summarize"));
    }

    #[test]
    fn the_definition_is_adapted_to_moto_only_where_it_must() {
        let root = repo_root();
        let asl = std::fs::read_to_string(root.join("statemachine/keycard.asl.json")).unwrap();
        let original: Value = serde_json::from_str(&asl).unwrap();
        let mut adapted: Value = serde_json::from_str(&for_moto(&asl).unwrap()).unwrap();
        let states = &mut adapted["States"];
        assert_eq!(
            states["ReadTrail"]["Parameters"],
            json!({"trailNameList.$": "States.Array($.trailConfig.trail)"})
        );
        assert_eq!(
            states["ReadTrailStatus"]["ResultSelector"],
            json!({"IsLogging.$": "$.IsLogging"})
        );
        states["ReadTrail"]["Parameters"] = original["States"]["ReadTrail"]["Parameters"].clone();
        states["ReadTrailStatus"]
            .as_object_mut()
            .unwrap()
            .remove("ResultSelector");
        assert_eq!(adapted, original, "nothing else changes");
    }
}
