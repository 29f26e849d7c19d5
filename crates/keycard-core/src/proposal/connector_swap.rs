//! A SAM connector broader than what its role used is replaced by explicit statements.
//!
//! A connector grants whole `Permissions` categories: `Read` on a table is five actions, and
//! the proposal can only keep or drop a category. When the categories that are needed still
//! grant actions nobody used, the connector's identity policy is replaced by statements derived
//! from it in the role's own policy (narrowed like any replaced grant), and the connector goes.
//!
//! That is only done where the connector is nothing but that identity policy
//! (`replacement_blocker`): every destination's profile must be
//! `AWS_IAM_ROLE_MANAGED_POLICY` with `SourcePolicy: true` (data/sam-connector-profiles.json,
//! from aws-sam-translator), so removing the connector removes nothing else. It stays, with the
//! reason in the report's `not_narrowed`, when it also writes a queue or topic policy or a
//! Lambda permission (those are not the role's to carry), when its policy goes on the
//! destination's role (an event source mapping polls with it), when another resource refers
//! to it (`DependsOn: MyConnector`), when it exists only in some deployments, and when the
//! statements would make the template circular: SAM writes a connector's policy as a separate
//! `AWS::IAM::ManagedPolicy` precisely so that a destination may depend on the source (a state
//! machine whose definition names the function that starts it); written into the role's own
//! policy, the role would depend on the destination and the destination on the role.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::decide::{Decision, SourceReplacement};
use super::model::{GrantSource, PrincipalGrants, SourceKind};
use super::resources::{ResourceIndex, collect_refs};
use crate::sam_connector_profiles::{ProfileKind, SamConnectorProfiles};
use crate::template::{Edit, Grant, Template};

/// Why a connector's identity policy may not be replaced by explicit statements on the role,
/// from the template alone; `None` when it may. (Cycles depend on the resources a proposal
/// would reference and are checked by [`apply`].)
pub(crate) fn replacement_blocker(template: &Template, g: &Grant) -> Option<String> {
    if !g.conditions.is_empty() {
        return Some(
            "the connector exists only in some deployments (Condition or Fn::If), and explicit statements in the role's policy would exist in all of them".into(),
        );
    }
    let Some(connector) = connector_path(&g.path) else {
        return Some("keycard cannot tell which connector these Permissions belong to".into());
    };
    let unreadable = || Some("keycard cannot read the connector's source".to_string());
    let root = template.root();
    let Some(props) = root.pointer(connector).and_then(|n| n.get("Properties")) else {
        return unreadable();
    };
    let parts = connector_parts(connector);
    let source_id = match parts {
        Some((_, None)) => props
            .get("Source")
            .and_then(|s| s.get("Id"))
            .and_then(|i| i.as_str()),
        Some((resource, Some(_))) => Some(resource),
        None => None,
    };
    let (Some((resource, name)), Some(source_type)) =
        (parts, source_id.and_then(|id| resource_type(template, id)))
    else {
        return unreadable();
    };
    // An embedded connector becomes `<resource><name>` (SAM docs, "Generated AWS
    // CloudFormation resources for AWS::Serverless::Connector": embedded connectors are first
    // turned into AWS::Serverless::Connector resources); the bare name is checked too.
    let ids: Vec<String> = match name {
        None => vec![resource.to_string()],
        Some(name) => vec![format!("{resource}{name}"), name.to_string()],
    };
    let destinations: Vec<&crate::template::Node> = match props.get("Destination") {
        Some(d) => match d.as_seq() {
            Some(items) => items.iter().collect(),
            None => vec![d],
        },
        None => Vec::new(),
    };
    let profiles = SamConnectorProfiles::embedded();
    for d in destinations {
        let (label, dest_type) = match d.get("Id").and_then(|i| i.as_str()) {
            Some(id) => (
                id.to_string(),
                resource_type(template, id).unwrap_or_default(),
            ),
            None => (
                d.get("Arn").map(|a| a.as_written()).unwrap_or_default(),
                d.get("Type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("")
                    .to_string(),
            ),
        };
        let Some(profile) = profiles.get(&source_type, &dest_type) else {
            return Some(format!(
                "its destination {label} ({dest_type}) is not in SAM's connector profiles, so keycard cannot tell what else the connector creates"
            ));
        };
        match profile.kind() {
            ProfileKind::IamRoleManagedPolicy if profile.source_policy() => {}
            ProfileKind::IamRoleManagedPolicy => {
                return Some(format!(
                    "SAM writes this connector's policy on the role of its destination {label} (for the event source mapping that reads the source with it); keycard replaces only connectors whose policy is on the source's role"
                ));
            }
            other => {
                return Some(format!(
                    "for its destination {label} the connector also writes {}, which explicit statements on the role cannot replace",
                    match other {
                        ProfileKind::SqsQueuePolicy =>
                            "a queue policy (AWS::SQS::QueuePolicy)".to_string(),
                        ProfileKind::SnsTopicPolicy =>
                            "a topic policy (AWS::SNS::TopicPolicy)".to_string(),
                        ProfileKind::LambdaPermission =>
                            "a Lambda permission (AWS::Lambda::Permission)".to_string(),
                        ProfileKind::Other(kind) => format!("a resource of kind {kind}"),
                        ProfileKind::IamRoleManagedPolicy => "an IAM policy".to_string(),
                    }
                ));
            }
        }
    }
    // SAM names the generated policy `<connector>Policy`; either name may be depended on.
    let names: Vec<String> = ids
        .iter()
        .flat_map(|id| [id.clone(), format!("{id}Policy")])
        .collect();
    if let Some((by, name)) = referrer(&root.to_json(), connector, &names) {
        return Some(format!(
            "{by} refers to {name} (DependsOn, Ref or GetAtt): remove the reference to let the connector go"
        ));
    }
    None
}

/// `…/Properties/Permissions` → the connector: `/Resources/Conn` or
/// `/Resources/Fn/Connectors/Name`.
fn connector_path(permissions: &str) -> Option<&str> {
    permissions.strip_suffix("/Properties/Permissions")
}

/// The resource a connector is written in and, for an embedded one, its name.
fn connector_parts(connector: &str) -> Option<(&str, Option<&str>)> {
    let rest = connector.strip_prefix("/Resources/")?;
    let mut parts = rest.split('/');
    let resource = parts.next()?;
    match (parts.next(), parts.next(), parts.next()) {
        (None, ..) => Some((resource, None)),
        (Some("Connectors"), Some(name), None) => Some((resource, Some(name))),
        _ => None,
    }
    .filter(|(r, n)| !r.contains('~') && !n.is_some_and(|n| n.contains('~')))
}

fn resource_type(template: &Template, id: &str) -> Option<String> {
    template
        .root()
        .pointer(&format!("/Resources/{id}/Type"))
        .and_then(|t| t.as_str())
        .map(str::to_string)
}

/// The first resource or output (other than the connector itself) that refers to one of
/// `names`, and the name.
fn referrer(root: &Value, connector: &str, names: &[String]) -> Option<(String, String)> {
    let own = connector_parts(connector).map(|(r, _)| r);
    let hit = |v: &Value| -> Option<String> {
        let mut refs = BTreeSet::new();
        collect_refs(v, &mut refs);
        names.iter().find(|n| refs.contains(*n)).cloned()
    };
    if let Some(resources) = root.get("Resources").and_then(Value::as_object) {
        for (id, r) in resources {
            let depends: Vec<&str> = match r.get("DependsOn") {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if let Some(n) = names.iter().find(|n| depends.contains(&n.as_str())) {
                return Some((id.clone(), n.clone()));
            }
            // The connector's own resource may name its connectors; nothing else may.
            let body = if Some(id.as_str()) == own {
                r.get("Properties").cloned().unwrap_or(Value::Null)
            } else {
                r.clone()
            };
            if let Some(n) = hit(&body) {
                return Some((id.clone(), n));
            }
        }
    }
    for section in ["Outputs", "Conditions"] {
        if let Some(n) = root.get(section).and_then(hit) {
            return Some((section.to_string(), n));
        }
    }
    None
}

/// Replaces, for a principal that gets a proposal, each connector whose needed categories
/// grant more than is kept (or of which nothing is kept) by explicit statements, when nothing
/// blocks it: its kind becomes [`SourceKind::ReplacedConnector`], so building derives
/// statements from it like from a replaced AWS managed policy, and the never-broader check
/// takes it as an origin. Returns, per replaced source id, the report's explanation.
pub fn apply(
    grants: &mut PrincipalGrants,
    decision: &mut Decision,
    index: &ResourceIndex,
) -> Vec<(String, String)> {
    let kept: BTreeSet<&str> = decision.kept.keys().map(String::as_str).collect();
    let principal = grants.logical_id.clone();
    let declaring = super::build::declaring_resource(grants);
    let mut out = Vec::new();
    let mut replaced = Vec::new();
    for source in &mut grants.sources {
        let SourceKind::Connector {
            categories,
            statement_categories,
            kept_because,
        } = &source.kind
        else {
            continue;
        };
        let granted: BTreeSet<&str> = allowed(source).collect();
        let kept_here: BTreeSet<&str> = granted.intersection(&kept).copied().collect();
        let through_categories = needed_category_actions(source, statement_categories, &kept);
        let exact = !kept_here.is_empty() && through_categories.iter().all(|a| kept.contains(a));
        if exact || kept_because.is_some() {
            continue;
        }
        let containers: Vec<&str> = [Some(principal.as_str()), declaring.as_deref()]
            .into_iter()
            .flatten()
            .chain(super::build::resource_of_pointer(&source.id))
            .collect();
        let avoid = index.dependents_of(containers);
        if let Some(dep) = referenced_dependents(source, &avoid) {
            source.kind = SourceKind::Connector {
                categories: categories.clone(),
                statement_categories: statement_categories.clone(),
                kept_because: Some(format!(
                    "{dep} depends on {principal}: explicit statements naming it in the role's own policy would make the template circular (SAM writes a connector's policy as a separate managed policy for this reason)"
                )),
            };
            continue;
        }
        let unused: Vec<&str> = granted.difference(&kept_here).copied().collect();
        let why = if kept_here.is_empty() {
            format!(
                "{} removed: none of the {} actions its Permissions [{}] grant is needed (what was used is granted elsewhere)",
                source.label,
                granted.len(),
                categories.join(", ")
            )
        } else {
            format!(
                "{} replaced by explicit statements for the {} actions kept of the {} its Permissions [{}] grant ({} never used: {})",
                source.label,
                kept_here.len(),
                granted.len(),
                categories.join(", "),
                unused.len(),
                unused.join(", ")
            )
        };
        replaced.push(SourceReplacement {
            source: source.label.clone(),
            kind: "sam_connector".into(),
            grants: granted.len(),
            replaced_by: kept_here.iter().map(|a| a.to_string()).collect(),
        });
        source.kind = SourceKind::ReplacedConnector;
        for st in &mut source.statements {
            st.resource = st.resource.as_ref().map(plain_sub);
        }
        out.push((source.id.clone(), why));
    }
    decision.replaced_sources.extend(replaced);
    out
}

/// SAM's spelling of a connector Resource the way a person writes it: `!Sub
/// ["${DestinationArn}/index/*", {DestinationArn: !GetAtt Orders.Arn}]` (aws-sam-translator's
/// `profile_replace`) becomes `!Sub "${Orders.Arn}/index/*"`, and a Sub that is only the
/// variable becomes the variable's `!GetAtt`/`!Ref`. The same value in every deployment.
fn plain_sub(v: &Value) -> Value {
    if let Value::Array(items) = v {
        return Value::Array(items.iter().map(plain_sub).collect());
    }
    let Some([Value::String(text), Value::Object(vars)]) = v
        .get("Fn::Sub")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .filter(|_| v.as_object().is_some_and(|m| m.len() == 1))
    else {
        return v.clone();
    };
    let simple = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    let mut spelled: Vec<(String, String, &Value)> = Vec::new();
    for (name, value) in vars {
        let inner = match (value.get("Fn::GetAtt"), value.get("Ref")) {
            (Some(Value::Array(a)), None) => match a.as_slice() {
                [Value::String(id), Value::String(attr)] if simple(id) && simple(attr) => {
                    format!("{id}.{attr}")
                }
                _ => return v.clone(),
            },
            (None, Some(Value::String(id))) if simple(id) => id.clone(),
            _ => return v.clone(),
        };
        if value.as_object().is_none_or(|m| m.len() != 1) {
            return v.clone();
        }
        spelled.push((format!("${{{name}}}"), format!("${{{inner}}}"), value));
    }
    if let [(var, _, value)] = &spelled[..]
        && text == var
    {
        return (*value).clone();
    }
    let mut out = text.clone();
    for (var, inner, _) in &spelled {
        out = out.replace(var, inner);
    }
    serde_json::json!({"Fn::Sub": out})
}

fn allowed(source: &GrantSource) -> impl Iterator<Item = &str> {
    source
        .statements
        .iter()
        .filter(|s| s.is_allow())
        .flat_map(|s| s.effective.iter().map(String::as_str))
}

/// Every action granted by the categories that hold at least one kept action: what narrowing
/// the connector's `Permissions` would leave.
fn needed_category_actions<'s>(
    source: &'s GrantSource,
    statement_categories: &[String],
    kept: &BTreeSet<&str>,
) -> BTreeSet<&'s str> {
    let mut by_category: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (st, category) in source.statements.iter().zip(statement_categories) {
        if st.is_allow() {
            by_category
                .entry(category)
                .or_default()
                .extend(st.effective.iter().map(String::as_str));
        }
    }
    by_category
        .into_values()
        .filter(|actions| actions.iter().any(|a| kept.contains(a)))
        .flatten()
        .collect()
}

/// A resource the connector's statements name that depends on the principal.
fn referenced_dependents(source: &GrantSource, avoid: &BTreeSet<String>) -> Option<String> {
    let mut refs = BTreeSet::new();
    for st in source.statements.iter().filter(|s| s.is_allow()) {
        for v in [&st.resource, &st.not_resource, &st.condition]
            .into_iter()
            .flatten()
        {
            collect_refs(v, &mut refs);
        }
    }
    refs.into_iter().find(|r| avoid.contains(r))
}

/// The edits that remove replaced connectors, given their sources' ids (`…/Permissions`): a
/// connector resource goes; an embedded connector's entry goes, or the whole `Connectors`
/// property when every entry of it does.
pub(crate) fn removal_edits<'a>(
    template: &Template,
    sources: impl IntoIterator<Item = &'a str>,
) -> Vec<Edit> {
    let mut edits = Vec::new();
    let mut embedded: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for id in sources {
        let Some(connector) = connector_path(id) else {
            continue;
        };
        match connector_parts(connector) {
            Some((_, None)) => edits.push(Edit::remove(connector)),
            Some((resource, Some(_))) => {
                embedded
                    .entry(format!("/Resources/{resource}/Connectors"))
                    .or_default()
                    .insert(connector.to_string());
            }
            None => {}
        }
    }
    for (map, entries) in embedded {
        let all = template
            .node(&map)
            .and_then(|n| n.as_map())
            .is_some_and(|m| m.len() == entries.len());
        if all {
            edits.push(Edit::remove(&map));
        } else {
            edits.extend(entries.iter().map(|e| Edit::remove(e)));
        }
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{GrantKind, find_grants};

    const FUNCTION: &str = "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n      CodeUri: src/\n";

    fn connector_grant(text: &str) -> (Template, Grant) {
        let t = Template::load("template.yaml", text).unwrap();
        let g = find_grants(&t)
            .grants
            .into_iter()
            .find(|g| g.kind == GrantKind::Connector)
            .unwrap();
        (t, g)
    }

    #[test]
    fn a_connector_that_is_only_the_sources_policy_may_be_replaced() {
        let text = format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n{FUNCTION}  Orders:\n    Type: AWS::DynamoDB::Table\n  Conn:\n    Type: AWS::Serverless::Connector\n    Properties:\n      Source: {{Id: Fn}}\n      Destination: {{Id: Orders}}\n      Permissions: [Read, Write]\n"
        );
        let (t, g) = connector_grant(&text);
        assert_eq!(replacement_blocker(&t, &g), None);
        assert_eq!(
            removal_edits(&t, [g.path.as_str()]),
            vec![Edit::remove("/Resources/Conn")]
        );
    }

    #[test]
    fn a_connector_another_resource_depends_on_stays() {
        let text = format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n{FUNCTION}    Connectors:\n      ToOrders:\n        Properties:\n          Destination: {{Id: Orders}}\n          Permissions: [Read]\n  Orders:\n    Type: AWS::DynamoDB::Table\n  Alarm:\n    Type: AWS::CloudWatch::Alarm\n    DependsOn: FnToOrders\n"
        );
        let (t, g) = connector_grant(&text);
        let why = replacement_blocker(&t, &g).unwrap();
        assert!(why.contains("Alarm refers to FnToOrders"), "{why}");
    }

    #[test]
    fn a_connector_whose_policy_is_on_the_destinations_role_stays() {
        let text = format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n{FUNCTION}  Orders:\n    Type: AWS::DynamoDB::Table\n    Connectors:\n      Stream:\n        Properties:\n          Destination: {{Id: Fn}}\n          Permissions: [Read]\n"
        );
        let (t, g) = connector_grant(&text);
        let why = replacement_blocker(&t, &g).unwrap();
        assert!(why.contains("role of its destination Fn"), "{why}");
    }

    #[test]
    fn a_connector_that_also_writes_a_resource_policy_stays() {
        // Events::Rule → SQS writes a queue policy; → state machine, a policy on the rule's role.
        let text = "Transform: AWS::Serverless-2016-10-31\nResources:\n  Jobs:\n    Type: AWS::SQS::Queue\n  Machine:\n    Type: AWS::StepFunctions::StateMachine\n    Properties:\n      RoleArn: arn:aws:iam::123456789012:role/m\n      DefinitionString: '{}'\n  RuleRole:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}\n  Rule:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: {source: [x]}\n      Targets:\n        - Id: m\n          Arn: !Ref Machine\n          RoleArn: !GetAtt RuleRole.Arn\n  Conn:\n    Type: AWS::Serverless::Connector\n    Properties:\n      Source: {Id: Rule}\n      Destination: [{Id: Machine}, {Id: Jobs}]\n      Permissions: [Write]\n";
        let t = Template::load("template.yaml", text).unwrap();
        let grants = find_grants(&t);
        // Whether or not the engine attributes the rule's policy to a role, a connector with a
        // queue-policy destination is never replaced.
        for g in grants
            .grants
            .iter()
            .filter(|g| g.kind == GrantKind::Connector)
        {
            let why = replacement_blocker(&t, g).unwrap();
            assert!(why.contains("queue policy"), "{why}");
        }
    }

    #[test]
    fn sam_sub_spellings_become_what_a_person_writes() {
        use serde_json::json;
        let sam = json!([
            {"Fn::GetAtt": ["Orders", "Arn"]},
            {"Fn::Sub": ["${DestinationArn}/index/*", {"DestinationArn": {"Fn::GetAtt": ["Orders", "Arn"]}}]},
            {"Fn::Sub": ["${DestinationArn}", {"DestinationArn": {"Ref": "Topic"}}]},
            {"Fn::Sub": ["${X}/${Y}", {"X": {"Fn::GetAtt": ["A", "Arn"]}, "Y": {"Fn::ImportValue": "y"}}]}
        ]);
        assert_eq!(
            plain_sub(&sam),
            json!([
                {"Fn::GetAtt": ["Orders", "Arn"]},
                {"Fn::Sub": "${Orders.Arn}/index/*"},
                {"Ref": "Topic"},
                {"Fn::Sub": ["${X}/${Y}", {"X": {"Fn::GetAtt": ["A", "Arn"]}, "Y": {"Fn::ImportValue": "y"}}]}
            ])
        );
    }

    #[test]
    fn removing_every_embedded_connector_removes_the_property() {
        let text = format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n{FUNCTION}    Connectors:\n      A:\n        Properties:\n          Destination: {{Id: Orders}}\n          Permissions: [Read]\n      B:\n        Properties:\n          Destination: {{Id: Orders}}\n          Permissions: [Write]\n  Orders:\n    Type: AWS::DynamoDB::Table\n"
        );
        let t = Template::load("template.yaml", &text).unwrap();
        let a = "/Resources/Fn/Connectors/A/Properties/Permissions";
        let b = "/Resources/Fn/Connectors/B/Properties/Permissions";
        assert_eq!(
            removal_edits(&t, [a]),
            vec![Edit::remove("/Resources/Fn/Connectors/A")]
        );
        assert_eq!(
            removal_edits(&t, [a, b]),
            vec![Edit::remove("/Resources/Fn/Connectors")]
        );
    }
}
