//! SAM policy templates instead of explicit statements, where one says exactly what is kept.
//!
//! A SAM function whose replaced grants (an AWS managed policy, a broader policy template, a
//! connector) come down to "read the Orders table" reads best as SAM itself would say it:
//! `DynamoDBReadPolicy: {TableName: !Ref Orders}`. The rule is the one [`super::managed_swap`]
//! uses for AWS managed policies, per template resource:
//!
//! - **exact actions**: the actions the explicit statements grant on the resource are exactly
//!   the policy template's (expanded through the catalog), so it grants no action that is not
//!   kept;
//! - **inside the resource**: every Resource of the template, resolved, is the resource's own
//!   ARN or below it (`table/Orders/index/*`, `bucket/*`), so it names nothing else;
//! - **covers what it replaces**: every narrowed ARN the explicit statements had on the
//!   resource is inside a Resource the template grants the same action on;
//! - **never broader**: every (action, Resource) of the template is allowed by a replaced
//!   original statement without Condition, with the region and account left open wherever
//!   the template writes `${AWS::Region}`/`${AWS::AccountId}` (an original pinned to one region
//!   never becomes the stack's region).
//!
//! Only statements without Condition are candidates (a template has none), and only for a SAM
//! function or state machine with its implicit role (the only `Policies` that take policy
//! templates). Everything else stays explicit.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::build::{PrincipalPlan, ResourceSpec, merge_and_name};
use super::model::{GrantStatement, PrincipalGrants};
use super::resources::{Arn, NameContext, collect_refs, pattern_covers, resolve_name};
use crate::catalog::Catalog;
use crate::sam_policy_templates::SamPolicyTemplates;

/// The kinds of template resources a SAM policy template is written for, with the policy
/// templates (data/sam-policy-templates.json), the parameter that names the resource and the
/// intrinsic that gives that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Ref of AWS::DynamoDB::Table returns the table name
    /// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-dynamodb-table.html#aws-resource-dynamodb-table-return-values);
    /// Ref of AWS::Serverless::SimpleTable, the underlying table's name
    /// (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-simpletable.html#sam-resource-simpletable-return-values).
    Table,
    /// Ref of AWS::S3::Bucket returns the bucket name
    /// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucket.html#aws-resource-s3-bucket-return-values).
    Bucket,
    /// Ref of AWS::SQS::Queue returns the URL; `Fn::GetAtt QueueName` the name
    /// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sqs-queue.html#aws-resource-sqs-queue-return-values).
    Queue,
    /// Ref of AWS::SNS::Topic returns the ARN; `Fn::GetAtt TopicName` the name
    /// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-topic.html#aws-resource-sns-topic-return-values).
    Topic,
    /// Ref of a state machine returns the ARN; `Fn::GetAtt Name` the name
    /// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-stepfunctions-statemachine.html#aws-resource-stepfunctions-statemachine-return-values;
    /// aws-sam-translator's connector profiles give the same `Name` output, data/sam-connector-profiles.json).
    StateMachine,
}

impl Kind {
    fn of(resource_type: &str) -> Option<Kind> {
        Some(match resource_type {
            "AWS::DynamoDB::Table" | "AWS::Serverless::SimpleTable" => Kind::Table,
            "AWS::S3::Bucket" => Kind::Bucket,
            "AWS::SQS::Queue" => Kind::Queue,
            "AWS::SNS::Topic" => Kind::Topic,
            "AWS::StepFunctions::StateMachine" | "AWS::Serverless::StateMachine" => {
                Kind::StateMachine
            }
            _ => return None,
        })
    }

    /// The policy templates for this kind, narrowest first. LambdaInvokePolicy is not among
    /// them: its Resource `function:${functionName}*` also names every function whose name
    /// starts with the same text.
    fn templates(self) -> &'static [&'static str] {
        match self {
            Kind::Table => &[
                "DynamoDBReadPolicy",
                "DynamoDBWritePolicy",
                "DynamoDBCrudPolicy",
            ],
            Kind::Bucket => &["S3ReadPolicy", "S3WritePolicy", "S3CrudPolicy"],
            Kind::Queue => &["SQSSendMessagePolicy", "SQSPollerPolicy"],
            Kind::Topic => &["SNSPublishMessagePolicy"],
            Kind::StateMachine => &["StepFunctionsExecutionPolicy"],
        }
    }

    fn parameter(self) -> &'static str {
        match self {
            Kind::Table => "TableName",
            Kind::Bucket => "BucketName",
            Kind::Queue => "QueueName",
            Kind::Topic => "TopicName",
            Kind::StateMachine => "StateMachineName",
        }
    }

    /// The intrinsic that gives the resource's name, as the template parameter wants it.
    fn value(self, logical_id: &str) -> Value {
        match self {
            Kind::Table | Kind::Bucket => json!({"Ref": logical_id}),
            Kind::Queue => json!({"Fn::GetAtt": [logical_id, "QueueName"]}),
            Kind::Topic => json!({"Fn::GetAtt": [logical_id, "TopicName"]}),
            Kind::StateMachine => json!({"Fn::GetAtt": [logical_id, "Name"]}),
        }
    }

    /// The resource's name in an ARN of it or of something below it.
    fn name_in<'a>(self, arn: &Arn<'a>) -> Option<&'a str> {
        let r = arn.resource;
        let name = match (self, arn.service) {
            (Kind::Table, "dynamodb") => r.strip_prefix("table/")?.split('/').next()?,
            (Kind::Bucket, "s3") => r.split('/').next()?,
            (Kind::Queue, "sqs") | (Kind::Topic, "sns") => r,
            (Kind::StateMachine, "states") => r.strip_prefix("stateMachine:")?,
            _ => return None,
        };
        (!name.is_empty() && !name.contains(['*', '?', ':'])).then_some(name)
    }

    /// The intrinsic that gives the resource's ARN: `Fn::GetAtt [id, Arn]` for a table,
    /// bucket or queue, `Ref` for a topic and a state machine (the return values cited above).
    fn arn_is(self, logical_id: &str) -> Value {
        match self {
            Kind::Table | Kind::Bucket | Kind::Queue => json!({"Fn::GetAtt": [logical_id, "Arn"]}),
            Kind::Topic | Kind::StateMachine => json!({"Ref": logical_id}),
        }
    }

    /// The resource's own ARN.
    fn arn(self, partition: &str, region: &str, account: &str, name: &str) -> String {
        match self {
            Kind::Table => format!("arn:{partition}:dynamodb:{region}:{account}:table/{name}"),
            Kind::Bucket => format!("arn:{partition}:s3:::{name}"),
            Kind::Queue => format!("arn:{partition}:sqs:{region}:{account}:{name}"),
            Kind::Topic => format!("arn:{partition}:sns:{region}:{account}:{name}"),
            Kind::StateMachine => {
                format!("arn:{partition}:states:{region}:{account}:stateMachine:{name}")
            }
        }
    }
}

/// Region and account as the never-broader comparison writes them: symbols no literal region
/// or account equals, which only a `*` (or `${AWS::Region}`) of an original absorbs.
const OPEN_REGION: &str = "{region}";
const OPEN_ACCOUNT: &str = "{account}";

/// One statement of a chosen policy template, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedStatement {
    pub actions: BTreeSet<String>,
    /// Its Resources with the resource's name filled in, region and account open.
    pub resources: Vec<String>,
}

/// A SAM policy template written instead of explicit statements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateUse {
    /// `DynamoDBReadPolicy`.
    pub name: String,
    /// `TableName`.
    pub parameter: String,
    /// `{"Ref": "Orders"}`.
    pub value: Value,
    /// The template resource it is written for.
    pub resource: String,
    /// The name the never-broader comparison gave the resource (from the evidence's ARNs),
    /// the stack's partition, the resource's ARN as compared (region and account open) and
    /// the intrinsic that yields it: what [`within`] needs to check it again.
    pub name_in_check: String,
    pub partition: String,
    pub own_arn: String,
    pub arn_is: Value,
    /// The actions it grants (= those the explicit statements granted on the resource).
    pub actions: BTreeSet<String>,
    pub statements: Vec<ResolvedStatement>,
}

impl TemplateUse {
    /// The SAM `Policies` item: `{DynamoDBReadPolicy: {TableName: {"Ref": "Orders"}}}`.
    pub fn policy_item(&self) -> Value {
        let mut params = Map::new();
        params.insert(self.parameter.clone(), self.value.clone());
        let mut item = Map::new();
        item.insert(self.name.clone(), Value::Object(params));
        Value::Object(item)
    }

    /// One line for the report: which template, for what, instead of what.
    pub fn explain(&self, replaced: &[String]) -> String {
        format!(
            "SAM policy template {} ({}: {}) written instead of explicit statements: it grants exactly the {} actions kept on {} ({}), inside what {} granted",
            self.name,
            self.parameter,
            self.resource,
            self.actions.len(),
            self.resource,
            self.actions.iter().cloned().collect::<Vec<_>>().join(", "),
            if replaced.is_empty() {
                "the replaced grants".to_string()
            } else {
                replaced.join(", ")
            }
        )
    }
}

/// Rewrites a principal's replacement statements to SAM policy templates where one is exact
/// for a template resource (see the module doc). `resource_types` maps the template's logical
/// ids to their types. Returns the templates chosen; the plan's `replacement` loses what they
/// now grant and `policy_templates` gains them.
pub fn apply(
    plan: &mut PrincipalPlan,
    grants: &PrincipalGrants,
    resource_types: &BTreeMap<String, String>,
    partition: &str,
) -> Vec<TemplateUse> {
    if !matches!(
        grants.resource_type.as_str(),
        "AWS::Serverless::Function" | "AWS::Serverless::StateMachine"
    ) || plan.replacement.is_empty()
    {
        return Vec::new();
    }
    let originals = replaced_originals(grants);
    // Where unconditioned replacement statements name exactly one template resource: a
    // narrowed ARN (statement, Some(item)), or the whole original Resource (statement, None).
    let mut by_resource: BTreeMap<String, Vec<Position>> = BTreeMap::new();
    for (i, st) in plan.replacement.iter().enumerate() {
        if st.condition.is_some() || st.not_resource.is_some() || st.branch.is_some() {
            continue;
        }
        let only = |v: &Value| -> Option<String> {
            let mut refs = BTreeSet::new();
            collect_refs(v, &mut refs);
            let mut it = refs.into_iter();
            match (it.next(), it.next()) {
                (Some(id), None) if resource_types.contains_key(&id) => Some(id),
                _ => None,
            }
        };
        match &st.resource {
            ResourceSpec::Narrowed { resources } => {
                for (j, r) in resources.iter().enumerate() {
                    if let Some(id) = only(&r.expr) {
                        by_resource.entry(id).or_default().push((i, Some(j)));
                    }
                }
            }
            ResourceSpec::Original => {
                if let Some(id) = st.original_resource.as_ref().and_then(only) {
                    by_resource.entry(id).or_default().push((i, None));
                }
            }
        }
    }
    let mut chosen = Vec::new();
    let mut taken: BTreeSet<Position> = BTreeSet::new();
    for (id, positions) in by_resource {
        let Some(kind) = resource_types.get(&id).and_then(|t| Kind::of(t)) else {
            continue;
        };
        if let Some(found) = choose(plan, &positions, kind, &id, &originals, partition) {
            taken.extend(positions.iter().copied());
            chosen.push(found);
        }
    }
    if chosen.is_empty() {
        return chosen;
    }
    let mut kept = Vec::with_capacity(plan.replacement.len());
    for (i, mut st) in std::mem::take(&mut plan.replacement)
        .into_iter()
        .enumerate()
    {
        if taken.contains(&(i, None)) {
            continue;
        }
        if let ResourceSpec::Narrowed { resources } = &mut st.resource {
            let mut j = 0;
            resources.retain(|_| {
                let keep = !taken.contains(&(i, Some(j)));
                j += 1;
                keep
            });
            if resources.is_empty() {
                continue;
            }
        }
        kept.push(st);
    }
    plan.replacement = merge_and_name(kept);
    plan.policy_templates.extend(chosen.iter().cloned());
    chosen
}

/// A replacement statement and, for a narrowed one, which of its resources.
type Position = (usize, Option<usize>);

/// The Allow statements a replacement may derive from: those of replaced sources, outside
/// every `Fn::If`, without Condition or NotResource.
fn replaced_originals(grants: &PrincipalGrants) -> Vec<&GrantStatement> {
    grants
        .sources
        .iter()
        .filter(|s| s.is_replaceable())
        .flat_map(|s| s.statements.iter())
        .filter(|st| {
            st.is_allow()
                && st.branch.is_none()
                && !st.conditional
                && st.condition.is_none()
                && st.not_resource.is_none()
        })
        .collect()
}

/// The first policy template of `kind` that is exact for resource `id`, if any. Everything
/// is compared with the region and account open (as the explicit statements would be written
/// in every deployment), and the resource's name taken from the evidence's ARNs when there are
/// any (a symbol otherwise: then only intrinsics naming the resource are compared).
fn choose(
    plan: &PrincipalPlan,
    positions: &[Position],
    kind: Kind,
    id: &str,
    originals: &[&GrantStatement],
    partition: &str,
) -> Option<TemplateUse> {
    // What each position grants: actions, and ARNs (narrowed) or the original expression.
    let mut narrowed: Vec<(&BTreeSet<String>, Arn<'_>)> = Vec::new();
    let mut whole: Vec<(&BTreeSet<String>, &Value)> = Vec::new();
    for (i, j) in positions {
        let st = plan.replacement.get(*i)?;
        match (&st.resource, j) {
            (ResourceSpec::Narrowed { resources }, Some(j)) => {
                narrowed.push((&st.actions, Arn::parse(&resources.get(*j)?.arn)?));
            }
            (ResourceSpec::Original, None) => {
                whole.push((&st.actions, st.original_resource.as_ref()?))
            }
            _ => return None,
        }
    }
    let on_resource: BTreeSet<String> = narrowed
        .iter()
        .map(|(a, _)| *a)
        .chain(whole.iter().map(|(a, _)| *a))
        .flatten()
        .cloned()
        .collect();
    let names: BTreeSet<&str> = narrowed
        .iter()
        .map(|(_, a)| kind.name_in(a))
        .collect::<Option<_>>()?;
    let name = match names.into_iter().collect::<Vec<_>>()[..] {
        [] => "{name}",
        [one] => one,
        _ => return None,
    };
    if narrowed.iter().any(|(_, a)| a.partition != partition) {
        return None;
    }
    let ctx = name_context(name, id, partition);
    let open_arn = |a: &Arn<'_>| {
        format!(
            "arn:{}:{}:{}:{}:{}",
            a.partition,
            a.service,
            if a.region.is_empty() { "" } else { OPEN_REGION },
            if a.account.is_empty() {
                ""
            } else {
                OPEN_ACCOUNT
            },
            a.resource
        )
    };
    let own_arn = kind.arn(partition, OPEN_REGION, OPEN_ACCOUNT, name);
    let catalog = Catalog::embedded();
    let templates = SamPolicyTemplates::embedded();
    for template_name in kind.templates() {
        let Some(t) = templates.get(template_name) else {
            continue;
        };
        let expansion = t.effective_actions(catalog);
        if !expansion.unknown.is_empty() || expansion.actions != on_resource {
            continue;
        }
        let mut params = Map::new();
        params.insert(kind.parameter().to_string(), json!({"Ref": id}));
        let Some(statements) = t
            .expand(&params)
            .ok()
            .and_then(|s| resolved_statements(&s, &ctx))
        else {
            continue;
        };
        let inside = statements
            .iter()
            .flat_map(|s| s.resources.iter())
            .all(|r| r == &own_arn || r.starts_with(&format!("{own_arn}/")));
        let grants_on = |action: &str, pattern: &str| {
            statements.iter().any(|s| {
                s.actions.contains(action) && s.resources.iter().any(|p| pattern_covers(p, pattern))
            })
        };
        let covers_narrowed = narrowed.iter().all(|(actions, arn)| {
            let arn = open_arn(arn);
            actions.iter().all(|a| grants_on(a, &arn))
        });
        let covers_whole = whole.iter().all(|(actions, expr)| {
            let items: Vec<&Value> = match expr {
                Value::Array(items) => items.iter().collect(),
                v => vec![*v],
            };
            items.iter().all(|item| {
                resolve_original(item, &ctx, &kind.arn_is(id), &own_arn)
                    .is_some_and(|p| actions.iter().all(|a| grants_on(a, &p)))
            })
        });
        let found = TemplateUse {
            name: template_name.to_string(),
            parameter: kind.parameter().to_string(),
            value: kind.value(id),
            resource: id.to_string(),
            name_in_check: name.to_string(),
            partition: partition.to_string(),
            own_arn: own_arn.clone(),
            arn_is: kind.arn_is(id),
            actions: on_resource.clone(),
            statements,
        };
        if inside && covers_narrowed && covers_whole && within(originals, &found).is_ok() {
            return Some(found);
        }
    }
    None
}

/// A policy template's statements (parameters filled in) with every Resource resolved to an
/// ARN pattern. `None` when one cannot be resolved, or a statement has anything but Effect
/// Allow, Action and Resource.
fn resolved_statements(statements: &[Value], ctx: &NameContext) -> Option<Vec<ResolvedStatement>> {
    let catalog = Catalog::embedded();
    statements
        .iter()
        .map(|st| {
            let obj = st.as_object()?;
            let plain = obj.get("Effect").and_then(Value::as_str) == Some("Allow")
                && obj
                    .keys()
                    .all(|k| matches!(k.as_str(), "Sid" | "Effect" | "Action" | "Resource"));
            if !plain {
                return None;
            }
            let actions: Vec<String> = match obj.get("Action")? {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<_>>()?,
                _ => return None,
            };
            let resources: Vec<String> = match obj.get("Resource")? {
                Value::Array(items) => items
                    .iter()
                    .map(|r| resolve_name(r, ctx))
                    .collect::<Option<_>>()?,
                r => vec![resolve_name(r, ctx)?],
            };
            Some(ResolvedStatement {
                actions: catalog.expand_all(&actions).actions,
                resources,
            })
        })
        .collect()
}

/// Names resolved the way every deployment of the template would see them: the stack's
/// partition, the region and account open, and `Ref` to the resource as its name. Parameter
/// defaults are deliberately absent: a deployment may pass other values.
fn name_context(name: &str, id: &str, partition: &str) -> NameContext {
    NameContext {
        partition: partition.to_string(),
        region: Some(OPEN_REGION.to_string()),
        account_id: Some(OPEN_ACCOUNT.to_string()),
        parameters: BTreeMap::from([(id.to_string(), name.to_string())]),
        ..NameContext::default()
    }
}

/// An original Resource item resolved like the template's: the resource's ARN intrinsic
/// (`!GetAtt Orders.Arn`, `${Orders.Arn}` in `Fn::Sub`) becomes its ARN, `Ref` to a named
/// resource its name, pseudo parameters the stack's (region and account open).
fn resolve_original(
    item: &Value,
    ctx: &NameContext,
    arn_is: &Value,
    own_arn: &str,
) -> Option<String> {
    resolve_name(&substitute_arn(item, arn_is, own_arn), ctx)
}

/// `item` with the intrinsic `arn_is` (and its `Fn::Sub` spelling) replaced by `own_arn`.
fn substitute_arn(item: &Value, arn_is: &Value, own_arn: &str) -> Value {
    if item == arn_is {
        return Value::String(own_arn.to_string());
    }
    let token = match arn_is.get("Fn::GetAtt").and_then(Value::as_array) {
        Some(a) => format!(
            "${{{}.{}}}",
            a.first().and_then(Value::as_str).unwrap_or_default(),
            a.get(1).and_then(Value::as_str).unwrap_or_default()
        ),
        None => format!(
            "${{{}}}",
            arn_is
                .get("Ref")
                .and_then(Value::as_str)
                .unwrap_or_default()
        ),
    };
    match item {
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::Sub") => match &m["Fn::Sub"] {
            Value::String(text) => json!({"Fn::Sub": text.replace(&token, own_arn)}),
            Value::Array(a) if a.len() == 2 => {
                let text = a[0].as_str().map(|t| t.replace(&token, own_arn));
                let vars = substitute_arn(&a[1], arn_is, own_arn);
                json!({"Fn::Sub": [text.map(Value::String).unwrap_or_else(|| a[0].clone()), vars]})
            }
            other => json!({"Fn::Sub": other}),
        },
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), substitute_arn(v, arn_is, own_arn)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute_arn(v, arn_is, own_arn))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Checks that every (action, Resource) of a chosen template's resolved statements (region and
/// account open) is allowed by one of `originals`: a string Resource covering it, or an
/// intrinsic that resolves, with the same open region and account, to one. Returns the first
/// pair that is not.
pub fn within(originals: &[&GrantStatement], t: &TemplateUse) -> Result<(), (String, String)> {
    let ctx = name_context(&t.name_in_check, &t.resource, &t.partition);
    for s in &t.statements {
        for action in &s.actions {
            for resource in &s.resources {
                let allowed = originals.iter().any(|o| {
                    o.effective.contains(action)
                        && o.not_resource.is_none()
                        && o.condition.is_none()
                        && o.resource_items().iter().any(|item| match item {
                            Value::String(p) => pattern_covers(p, resource),
                            other => resolve_original(other, &ctx, &t.arn_is, &t.own_arn)
                                .is_some_and(|p| pattern_covers(&p, resource)),
                        })
                });
                if !allowed {
                    return Err((action.clone(), resource.clone()));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
