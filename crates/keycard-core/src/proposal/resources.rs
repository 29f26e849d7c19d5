//! Resource narrowing: from ARNs seen in the evidence to what the proposed policy writes.
//!
//! Three things happen here, each chosen so that the result can only be narrower than the
//! original statement:
//! 1. ARNs are generalised to the granularity IAM policies are written at (an S3 object ARN
//!    becomes `bucket/*`, a Step Functions execution `execution:machine:*`), because naming
//!    every object ever touched is neither readable nor stable.
//! 2. A generalised ARN is only used when it is provably inside one of the original resource
//!    patterns ([`pattern_covers`] is deliberately conservative).
//! 3. When the ARN is a resource of the same template, the expression is written as an
//!    intrinsic (`!GetAtt X.Arn`, `!Ref X`, `!Sub ...`) so the proposal survives a
//!    redeployment under another stack name.
//!
//! The ARN patterns (1 and 2) are `arn_patterns`, the names written with intrinsics `names`;
//! both are re-exported here, where the rest of the crate has always found them. This file is
//! the index of the template's own resources (3).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

pub use super::arn_patterns::{
    Arn, OpenPositions, generalize, open_positions, pattern_covers, resource_matches,
};
pub use super::names::{NameContext, is_generated_name, resolve_name};

/// A resource of the template, for matching ARNs to logical ids.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateResource {
    pub logical_id: String,
    pub resource_type: String,
    /// Properties in long form (`{"Fn::Sub": ...}`), as the template engine gives them.
    pub properties: Value,
    /// Logical ids named in the resource's `DependsOn`.
    pub depends_on: Vec<String>,
}

/// Matches ARNs to resources of the template and writes proposed ARNs portably.
#[derive(Debug, Clone, Default)]
pub struct ResourceIndex {
    entries: Vec<IndexEntry>,
    stack_name: Option<String>,
    /// The stack's own partition, region and account: values an ARN may say with
    /// `${AWS::Partition}`, `${AWS::Region}` and `${AWS::AccountId}`.
    partition: String,
    region: Option<String>,
    account: Option<String>,
    /// Logical id → the template resources that depend on it (through `Ref`, `Fn::GetAtt`,
    /// `${X}` in `Fn::Sub` or `DependsOn`: what CloudFormation orders creation by). Kept in
    /// this direction so [`ResourceIndex::dependents_of`] walks only what it reaches.
    dependents: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, Clone)]
struct IndexEntry {
    logical_id: String,
    kind: NamedKind,
    /// The physical name, when it can be known without the deployed stack.
    name: Option<String>,
}

/// A resource of the template an ARN belongs to, in the two ways it can be written.
struct TemplateRef {
    /// The resource's logical id.
    logical_id: String,
    /// The whole ARN as an intrinsic (`!GetAtt X.Arn`, `!Ref X`, `!Sub ${X.Arn}/*`), usable
    /// when the partition, region and account may all come from the stack.
    short: Option<Value>,
    /// The resource part (after `arn:p:service:region:account:`) in `Fn::Sub` syntax with
    /// the name from the template (`table/${OrdersTable}`), for ARNs whose region or account
    /// must stay literal. `None` when no attribute gives the name (a secret's ARN suffix).
    resource: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NamedKind {
    Bucket,
    Table,
    Queue,
    Topic,
    Function,
    StateMachine,
    LogGroup,
    EventBus,
    Secret,
    Parameter,
    Stream,
}

impl NamedKind {
    fn of(resource_type: &str) -> Option<(NamedKind, &'static str)> {
        Some(match resource_type {
            "AWS::S3::Bucket" => (NamedKind::Bucket, "BucketName"),
            "AWS::DynamoDB::Table" | "AWS::DynamoDB::GlobalTable" => {
                (NamedKind::Table, "TableName")
            }
            "AWS::Serverless::SimpleTable" => (NamedKind::Table, "TableName"),
            "AWS::SQS::Queue" => (NamedKind::Queue, "QueueName"),
            "AWS::SNS::Topic" => (NamedKind::Topic, "TopicName"),
            "AWS::Lambda::Function" | "AWS::Serverless::Function" => {
                (NamedKind::Function, "FunctionName")
            }
            "AWS::StepFunctions::StateMachine" => (NamedKind::StateMachine, "StateMachineName"),
            "AWS::Serverless::StateMachine" => (NamedKind::StateMachine, "Name"),
            "AWS::Logs::LogGroup" => (NamedKind::LogGroup, "LogGroupName"),
            "AWS::Events::EventBus" => (NamedKind::EventBus, "Name"),
            "AWS::SecretsManager::Secret" => (NamedKind::Secret, "Name"),
            "AWS::SSM::Parameter" => (NamedKind::Parameter, "Name"),
            "AWS::Kinesis::Stream" => (NamedKind::Stream, "Name"),
            _ => return None,
        })
    }

    fn service(self) -> &'static str {
        match self {
            NamedKind::Bucket => "s3",
            NamedKind::Table => "dynamodb",
            NamedKind::Queue => "sqs",
            NamedKind::Topic => "sns",
            NamedKind::Function => "lambda",
            NamedKind::StateMachine => "states",
            NamedKind::LogGroup => "logs",
            NamedKind::EventBus => "events",
            NamedKind::Secret => "secretsmanager",
            NamedKind::Parameter => "ssm",
            NamedKind::Stream => "kinesis",
        }
    }
}

impl ResourceIndex {
    pub fn new(resources: &[TemplateResource], ctx: &NameContext) -> Self {
        let mut entries = Vec::new();
        for r in resources {
            let Some((kind, prop)) = NamedKind::of(&r.resource_type) else {
                continue;
            };
            let name = match ctx.physical_ids.get(&r.logical_id) {
                Some(physical) => Some(physical_to_name(kind, physical)),
                None => r.properties.get(prop).and_then(|v| resolve_name(v, ctx)),
            };
            entries.push(IndexEntry {
                logical_id: r.logical_id.clone(),
                kind,
                name,
            });
        }
        let ids: BTreeSet<&str> = resources.iter().map(|r| r.logical_id.as_str()).collect();
        let mut dependents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in resources {
            let mut deps = BTreeSet::new();
            collect_refs(&r.properties, &mut deps);
            deps.retain(|d| ids.contains(d.as_str()));
            deps.extend(
                r.depends_on
                    .iter()
                    .filter(|d| ids.contains(d.as_str()))
                    .cloned(),
            );
            for dep in deps {
                dependents
                    .entry(dep)
                    .or_default()
                    .insert(r.logical_id.clone());
            }
        }
        ResourceIndex {
            entries,
            dependents,
            stack_name: ctx.stack_name.clone(),
            partition: ctx.partition.clone(),
            region: ctx.region.clone(),
            account: ctx.account_id.clone(),
        }
    }

    /// Learns the stack's region and account, when they were not given, from evidence ARNs
    /// of the template's own resources: CloudFormation creates a stack's resources in the
    /// stack's account and region, so every such ARN carries them. Only a value all of them
    /// agree on is taken (a regional ARN without a region, S3's, says nothing).
    pub fn infer_home<'a>(&mut self, arns: impl IntoIterator<Item = &'a str>) {
        if self.region.is_some() && self.account.is_some() {
            return;
        }
        let mut regions = BTreeSet::new();
        let mut accounts = BTreeSet::new();
        for arn in arns {
            let general = generalize(arn);
            let Some(a) = Arn::parse(&general) else {
                continue;
            };
            if self.template_ref(&a).is_none() {
                continue;
            }
            if !a.region.is_empty() {
                regions.insert(a.region.to_string());
            }
            if !a.account.is_empty() {
                accounts.insert(a.account.to_string());
            }
        }
        if self.region.is_none() && regions.len() == 1 {
            self.region = regions.pop_first();
        }
        if self.account.is_none() && accounts.len() == 1 {
            self.account = accounts.pop_first();
        }
    }

    fn name_matches(&self, e: &IndexEntry, candidate: &str) -> bool {
        match (&e.name, &self.stack_name) {
            (Some(n), _) => n == candidate,
            (None, Some(stack)) => {
                is_generated_name(candidate, stack, &e.logical_id, e.kind == NamedKind::Bucket)
            }
            (None, None) => false,
        }
    }

    /// The template expression for a (generalised) ARN, when it belongs to a resource of the
    /// template. The expression resolves to exactly `arn` once deployed.
    pub fn expression_for(&self, arn: &str) -> Option<Value> {
        let a = Arn::parse(arn)?;
        self.template_ref(&a)?;
        Some(self.write(arn, OpenPositions::ALL))
    }

    /// How a proposed ARN is written: as the template's own resource (`!GetAtt`, `!Ref`,
    /// `!Sub`) when it is one, with `${AWS::Partition}`, `${AWS::Region}` and
    /// `${AWS::AccountId}` where the value is the stack's own and `open` allows it, and
    /// literally otherwise (another account's resource, an AWS-owned one, a bucket of
    /// unknown owner). The result resolves to exactly `arn` in this deployment.
    ///
    /// The partition needs no `open` check: partitions are isolated, IAM credentials of one
    /// can never act on resources of another
    /// (<https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html>),
    /// so a partition written in the original can only ever have meant the stack's own.
    pub fn write(&self, arn: &str, open: OpenPositions) -> Value {
        self.write_avoiding(arn, open, &BTreeSet::new())
    }

    /// The resources that must not be referenced from a policy held by `containers` (the
    /// principal and the resources its policies are written in): the containers themselves
    /// and everything that depends on them, directly or not. A function whose `Role` is
    /// `!GetAtt WorkerRole.Arn` depends on WorkerRole, so `${WorkerFunction}` in WorkerRole's
    /// own policy would be a circular dependency CloudFormation refuses to deploy (cfn-lint
    /// E3004); such an ARN is written with its physical name instead.
    pub fn dependents_of<'a>(
        &self,
        containers: impl IntoIterator<Item = &'a str>,
    ) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = containers.into_iter().map(str::to_string).collect();
        let mut queue: Vec<String> = out.iter().cloned().collect();
        while let Some(id) = queue.pop() {
            for other in self.dependents.get(&id).into_iter().flatten() {
                if out.insert(other.clone()) {
                    queue.push(other.clone());
                }
            }
        }
        out
    }

    /// [`ResourceIndex::write`], never referencing a resource in `avoid` (see
    /// [`ResourceIndex::dependents_of`]): such an ARN is written as an ARN outside the
    /// template would be.
    pub fn write_avoiding(
        &self,
        arn: &str,
        open: OpenPositions,
        avoid: &BTreeSet<String>,
    ) -> Value {
        let literal = || Value::String(arn.to_string());
        let Some(a) = Arn::parse(arn) else {
            return literal();
        };
        let template = self
            .template_ref(&a)
            .filter(|t| !avoid.contains(&t.logical_id));
        let own_account = !a.account.is_empty() && self.account.as_deref() == Some(a.account);
        if template.is_none() && !own_account {
            return literal();
        }
        // A resource of the template lives in the stack's region and account.
        let region = !a.region.is_empty()
            && open.region
            && (template.is_some() || self.region.as_deref() == Some(a.region));
        let account = !a.account.is_empty() && open.account;
        let partition = template.is_some() || a.partition == self.partition;
        let all = partition && (a.region.is_empty() || region) && (a.account.is_empty() || account);
        let resource = match template {
            Some(TemplateRef {
                short: Some(short), ..
            }) if all => return short,
            Some(TemplateRef {
                resource: Some(r), ..
            }) => r,
            _ => escape_sub(a.resource),
        };
        let text = format!(
            "arn:{}:{}:{}:{}:{}",
            if partition {
                "${AWS::Partition}"
            } else {
                a.partition
            },
            a.service,
            if region { "${AWS::Region}" } else { a.region },
            if account {
                "${AWS::AccountId}"
            } else {
                a.account
            },
            resource
        );
        if text.contains("${") {
            json!({ "Fn::Sub": text })
        } else {
            literal()
        }
    }

    /// The one resource of the template `a` belongs to; `None` when none does, or when two
    /// claim it (never guess). An ARN in another account or region than the stack's (when
    /// known) is never the template's, whatever its name.
    fn template_ref(&self, a: &Arn<'_>) -> Option<TemplateRef> {
        let elsewhere = |field: &str, home: &Option<String>| {
            !field.is_empty() && home.as_deref().is_some_and(|h| h != field)
        };
        if elsewhere(a.region, &self.region)
            || elsewhere(a.account, &self.account)
            || a.partition != self.partition
        {
            return None;
        }
        let mut found: Option<TemplateRef> = None;
        for e in &self.entries {
            if let Some(r) = self.match_entry(e, a) {
                if found.is_some() {
                    return None;
                }
                found = Some(r);
            }
        }
        found
    }

    fn match_entry(&self, e: &IndexEntry, a: &Arn<'_>) -> Option<TemplateRef> {
        let id = e.logical_id.as_str();
        let both = |short: Value, resource: String| TemplateRef {
            logical_id: id.to_string(),
            short: Some(short),
            resource: Some(resource),
        };
        let sub_only = |resource: String| TemplateRef {
            logical_id: id.to_string(),
            short: None,
            resource: Some(resource),
        };
        let get_att = || json!({"Fn::GetAtt": [id, "Arn"]});
        let reference = || json!({"Ref": id});
        // `${X.Arn}` followed by a literal tail, or the bare attribute without one.
        let arn_with = |sep: &str, tail: Option<&str>| match tail {
            None => get_att(),
            Some(t) => json!({"Fn::Sub": format!("${{{id}.Arn}}{sep}{}", escape_sub(t))}),
        };
        let tail_of = |sep: &str, tail: Option<&str>| {
            tail.map(|t| format!("{sep}{}", escape_sub(t)))
                .unwrap_or_default()
        };
        if a.service == "logs" && e.kind == NamedKind::Function {
            // A function's own log group, `/aws/lambda/<function name>` (where Lambda sends
            // logs unless LoggingConfig says otherwise:
            // https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html).
            // `Ref` gives the function's name, so the expression is exact either way.
            let rest = a.resource.strip_prefix("log-group:/aws/lambda/")?;
            let (f, tail) = match rest.split_once(':') {
                Some((f, t)) => (f, Some(t)),
                None => (rest, None),
            };
            if !self.name_matches(e, f) {
                return None;
            }
            return Some(sub_only(format!(
                "log-group:/aws/lambda/${{{id}}}{}",
                tail_of(":", tail)
            )));
        }
        if e.kind.service() != a.service {
            return None;
        }
        match e.kind {
            NamedKind::Bucket => {
                let (bucket, key) = match a.resource.split_once('/') {
                    Some((b, k)) => (b, Some(k)),
                    None => (a.resource, None),
                };
                self.name_matches(e, bucket).then(|| {
                    both(
                        arn_with("/", key),
                        format!("${{{id}}}{}", tail_of("/", key)),
                    )
                })
            }
            NamedKind::Table => {
                let rest = a.resource.strip_prefix("table/")?;
                let (table, tail) = match rest.split_once('/') {
                    Some((t, tail)) => (t, Some(tail)),
                    None => (rest, None),
                };
                self.name_matches(e, table).then(|| {
                    both(
                        arn_with("/", tail),
                        format!("table/${{{id}}}{}", tail_of("/", tail)),
                    )
                })
            }
            NamedKind::Queue => self
                .name_matches(e, a.resource)
                .then(|| both(get_att(), format!("${{{id}.QueueName}}"))),
            NamedKind::Topic => self
                .name_matches(e, a.resource)
                .then(|| both(reference(), format!("${{{id}.TopicName}}"))),
            NamedKind::Function => {
                let rest = a.resource.strip_prefix("function:")?;
                let (f, qualifier) = match rest.split_once(':') {
                    Some((f, q)) => (f, Some(q)),
                    None => (rest, None),
                };
                self.name_matches(e, f).then(|| {
                    both(
                        arn_with(":", qualifier),
                        format!("function:${{{id}}}{}", tail_of(":", qualifier)),
                    )
                })
            }
            NamedKind::StateMachine => {
                let parts: Vec<&str> = a.resource.split(':').collect();
                match parts.as_slice() {
                    ["stateMachine", name] if self.name_matches(e, name) => {
                        Some(both(reference(), format!("stateMachine:${{{id}.Name}}")))
                    }
                    [kind @ ("execution" | "express"), name, rest @ ..]
                        if self.name_matches(e, name) =>
                    {
                        Some(sub_only(format!(
                            "{kind}:${{{id}.Name}}:{}",
                            escape_sub(&rest.join(":"))
                        )))
                    }
                    _ => None,
                }
            }
            NamedKind::LogGroup => {
                let rest = a.resource.strip_prefix("log-group:")?;
                let (group, tail) = match rest.split_once(':') {
                    Some((g, t)) => (g, Some(t)),
                    None => (rest, None),
                };
                if !self.name_matches(e, group) {
                    return None;
                }
                // The log group's `Arn` attribute ends in `:*`.
                let resource = format!("log-group:${{{id}}}{}", tail_of(":", tail));
                Some(if tail == Some("*") {
                    both(get_att(), resource)
                } else {
                    sub_only(resource)
                })
            }
            NamedKind::Stream => {
                let name = a.resource.strip_prefix("stream/")?;
                self.name_matches(e, name)
                    .then(|| both(get_att(), format!("stream/${{{id}}}")))
            }
            NamedKind::EventBus => {
                let name = a.resource.strip_prefix("event-bus/")?;
                self.name_matches(e, name)
                    .then(|| both(get_att(), format!("event-bus/${{{id}}}")))
            }
            NamedKind::Secret => {
                // Secret ARNs end in `-` and six random characters; only `Ref` (the whole
                // ARN) gives them.
                let rest = a.resource.strip_prefix("secret:")?;
                let (name, suffix) = rest.rsplit_once('-')?;
                (suffix.len() == 6 && self.name_matches(e, name)).then(|| TemplateRef {
                    logical_id: id.to_string(),
                    short: Some(reference()),
                    resource: None,
                })
            }
            NamedKind::Parameter => {
                let rest = a.resource.strip_prefix("parameter")?;
                // `Ref` of a parameter gives its name, with the leading slash if it has one.
                if self.name_matches(e, rest) {
                    Some(sub_only(format!("parameter${{{id}}}")))
                } else {
                    let bare = rest.strip_prefix('/')?;
                    self.name_matches(e, bare)
                        .then(|| sub_only(format!("parameter/${{{id}}}")))
                }
            }
        }
    }
}

/// `${` in literal text of an `Fn::Sub` string is written `${!`.
/// Every resource or parameter an expression refers to: `Ref X`, `Fn::GetAtt [X, …]` (or
/// `X.Attr`), `${X}` / `${X.Attr}` in `Fn::Sub` text (not `${!X}`, pseudo parameters or the
/// Sub's own variables), and whatever the Sub's variable map refers to.
pub(crate) fn collect_refs(v: &serde_json::Value, ids: &mut BTreeSet<String>) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            for (k, inner) in m {
                match (k.as_str(), inner) {
                    ("Ref", Value::String(id)) if !id.starts_with("AWS::") => {
                        ids.insert(id.clone());
                    }
                    ("Fn::GetAtt", Value::Array(a)) => {
                        if let Some(id) = a.first().and_then(Value::as_str) {
                            ids.insert(id.to_string());
                        }
                    }
                    ("Fn::GetAtt", Value::String(s)) => {
                        if let Some((id, _)) = s.split_once('.') {
                            ids.insert(id.to_string());
                        }
                    }
                    ("Fn::Sub", Value::String(text)) => sub_refs(text, None, ids),
                    ("Fn::Sub", Value::Array(a)) => {
                        if let Some(text) = a.first().and_then(Value::as_str) {
                            sub_refs(text, a.get(1).and_then(Value::as_object), ids);
                        }
                        if let Some(vars) = a.get(1) {
                            collect_refs(vars, ids);
                        }
                    }
                    _ => collect_refs(inner, ids),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, ids)),
        _ => {}
    }
}

fn sub_refs(
    text: &str,
    vars: Option<&serde_json::Map<String, serde_json::Value>>,
    ids: &mut BTreeSet<String>,
) {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        let id = name.split('.').next().unwrap_or(name);
        if !name.starts_with('!')
            && !id.starts_with("AWS::")
            && !vars.is_some_and(|v| v.contains_key(name))
        {
            ids.insert(id.to_string());
        }
        rest = &after[end + 1..];
    }
}

fn escape_sub(text: &str) -> String {
    text.replace("${", "${!")
}

/// A stack lookup gives physical ids in different shapes per type (a queue's is its URL, a
/// topic's and a state machine's its ARN); reduce them to the name used inside ARNs.
fn physical_to_name(kind: NamedKind, physical: &str) -> String {
    match kind {
        NamedKind::Queue => physical.rsplit('/').next().unwrap_or(physical).to_string(),
        NamedKind::Topic | NamedKind::StateMachine | NamedKind::Secret => {
            match Arn::parse(physical) {
                Some(a) => match kind {
                    NamedKind::StateMachine => a
                        .resource
                        .strip_prefix("stateMachine:")
                        .unwrap_or(a.resource)
                        .to_string(),
                    NamedKind::Secret => {
                        let r = a.resource.strip_prefix("secret:").unwrap_or(a.resource);
                        r.rsplit_once('-').map(|(n, _)| n).unwrap_or(r).to_string()
                    }
                    _ => a.resource.to_string(),
                },
                None => physical.to_string(),
            }
        }
        _ => physical.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> NameContext {
        NameContext {
            stack_name: Some("orders-app".into()),
            account_id: Some("123456789012".into()),
            region: Some("eu-west-1".into()),
            partition: "aws".into(),
            ..NameContext::default()
        }
    }

    #[test]
    fn generalises_to_policy_granularity() {
        assert_eq!(
            generalize("arn:aws:s3:::orders-receipts/2026/05/r-1.pdf"),
            "arn:aws:s3:::orders-receipts/*"
        );
        assert_eq!(
            generalize("arn:aws:s3:::orders-receipts"),
            "arn:aws:s3:::orders-receipts"
        );
        assert_eq!(
            generalize("arn:aws:states:eu-west-1:123456789012:execution:Fulfil:abc-123"),
            "arn:aws:states:eu-west-1:123456789012:execution:Fulfil:*"
        );
        assert_eq!(
            generalize("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/x"),
            "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/x:*"
        );
        assert_eq!(generalize("not an arn"), "not an arn");
    }

    #[test]
    fn pattern_cover_is_sound() {
        assert!(pattern_covers("*", "arn:aws:s3:::b/*"));
        assert!(pattern_covers("arn:aws:s3:::*", "arn:aws:s3:::b/*"));
        assert!(pattern_covers("arn:aws:s3:::b/*", "arn:aws:s3:::b/k"));
        assert!(!pattern_covers("arn:aws:s3:::b/k", "arn:aws:s3:::b/*"));
        assert!(!pattern_covers("arn:aws:s3:::b?", "arn:aws:s3:::b*"));
        assert!(!pattern_covers("arn:aws:s3:::*/x", "arn:aws:s3:::b/*"));
        assert!(pattern_covers("arn:aws:s3:::*/x", "arn:aws:s3:::b/x"));
        assert!(!pattern_covers("arn:aws:s3:::B/*", "arn:aws:s3:::b/k"));
    }

    #[test]
    fn resolves_names_written_with_intrinsics() {
        let c = ctx();
        assert_eq!(
            resolve_name(
                &json!({"Fn::Sub": "${AWS::StackName}-receipts-${AWS::AccountId}"}),
                &c
            ),
            Some("orders-app-receipts-123456789012".into())
        );
        assert_eq!(
            resolve_name(
                &json!({"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "orders"]]}),
                &c
            ),
            Some("orders-app-orders".into())
        );
        assert_eq!(
            resolve_name(&json!({"Fn::Sub": ["${P}-x", {"P": "a"}]}), &c),
            Some("a-x".into())
        );
        assert_eq!(resolve_name(&json!({"Ref": "Unknown"}), &c), None);
        assert_eq!(resolve_name(&json!({"Fn::GetAtt": ["A", "Arn"]}), &c), None);
    }

    #[test]
    fn matches_arns_to_template_resources() {
        let resources = vec![
            TemplateResource {
                logical_id: "ReceiptsBucket".into(),
                resource_type: "AWS::S3::Bucket".into(),
                properties: json!({"BucketName": {"Fn::Sub": "${AWS::StackName}-receipts-${AWS::AccountId}"}}),
                depends_on: Vec::new(),
            },
            TemplateResource {
                logical_id: "OrdersTable".into(),
                resource_type: "AWS::DynamoDB::Table".into(),
                properties: json!({}),
                depends_on: Vec::new(),
            },
            TemplateResource {
                logical_id: "Fulfilment".into(),
                resource_type: "AWS::Serverless::StateMachine".into(),
                properties: json!({"Name": "orders-fulfilment"}),
                depends_on: Vec::new(),
            },
        ];
        let idx = ResourceIndex::new(&resources, &ctx());
        assert_eq!(
            idx.expression_for("arn:aws:s3:::orders-app-receipts-123456789012/*"),
            Some(json!({"Fn::Sub": "${ReceiptsBucket.Arn}/*"}))
        );
        assert_eq!(
            idx.expression_for(
                "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-app-OrdersTable-1X2Y3Z4W5V6U"
            ),
            Some(json!({"Fn::GetAtt": ["OrdersTable", "Arn"]}))
        );
        assert_eq!(
            idx.expression_for(
                "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-app-OrdersTable-1X2Y3Z4W5V6U/index/byCustomer"
            ),
            Some(json!({"Fn::Sub": "${OrdersTable.Arn}/index/byCustomer"}))
        );
        assert_eq!(
            idx.expression_for(
                "arn:aws:states:eu-west-1:123456789012:execution:orders-fulfilment:*"
            ),
            Some(
                json!({"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${Fulfilment.Name}:*"})
            )
        );
        assert_eq!(
            idx.expression_for("arn:aws:dynamodb:eu-west-1:123456789012:table/other"),
            None
        );
        assert_eq!(
            idx.expression_for("arn:aws:s3:::someone-elses-bucket"),
            None
        );
    }

    #[test]
    fn stack_lookup_physical_ids_of_every_shape() {
        let mut c = ctx();
        c.physical_ids.insert(
            "Queue".into(),
            "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-app-Queue-AbCdEf123456".into(),
        );
        c.physical_ids.insert(
            "Topic".into(),
            "arn:aws:sns:eu-west-1:123456789012:orders-app-Topic-XyZ987654321".into(),
        );
        let resources = [
            TemplateResource {
                logical_id: "Queue".into(),
                resource_type: "AWS::SQS::Queue".into(),
                properties: json!({}),
                depends_on: Vec::new(),
            },
            TemplateResource {
                logical_id: "Topic".into(),
                resource_type: "AWS::SNS::Topic".into(),
                properties: json!({}),
                depends_on: Vec::new(),
            },
        ];
        let idx = ResourceIndex::new(&resources, &c);
        assert_eq!(
            idx.expression_for("arn:aws:sqs:eu-west-1:123456789012:orders-app-Queue-AbCdEf123456"),
            Some(json!({"Fn::GetAtt": ["Queue", "Arn"]}))
        );
        assert_eq!(
            idx.expression_for("arn:aws:sns:eu-west-1:123456789012:orders-app-Topic-XyZ987654321"),
            Some(json!({"Ref": "Topic"}))
        );
    }

    #[test]
    fn generated_names_need_the_exact_prefix() {
        assert!(is_generated_name(
            "orders-app-ApiFunction-AbC123dEf456",
            "orders-app",
            "ApiFunction",
            false
        ));
        assert!(!is_generated_name(
            "orders-app-ApiFunctionV2-AbC123dEf456",
            "orders-app",
            "ApiFunction",
            false
        ));
        assert!(is_generated_name(
            "orders-app-receiptsbucket-1a2b3c4d5e6f",
            "orders-app",
            "ReceiptsBucket",
            true
        ));
    }

    #[test]
    fn pattern_cover_sees_through_wildcards_of_the_narrower_pattern() {
        assert!(pattern_covers(
            "arn:aws:logs:*:*:*",
            "arn:aws:logs:*:123456789012:log-group:x:*"
        ));
        assert!(pattern_covers("arn:aws:s3:::*", "arn:aws:s3:::b/*"));
        assert!(pattern_covers("arn:aws:s3:::b*/?", "arn:aws:s3:::bx/?"));
        assert!(!pattern_covers("arn:aws:s3:::b*/?", "arn:aws:s3:::bx/*"));
        assert!(!pattern_covers(
            "arn:aws:logs:eu-west-1:*:*",
            "arn:aws:logs:*:123456789012:log-group:x:*"
        ));
        assert!(!pattern_covers("arn:aws:s3:::b/x*", "arn:aws:s3:::b/*"));
    }

    #[test]
    fn open_positions_follow_the_covering_resource() {
        let arn = "arn:aws:logs:eu-west-1:123456789012:log-group:x:*";
        assert_eq!(open_positions(&["*"], arn), OpenPositions::ALL);
        assert_eq!(
            open_positions(&["arn:aws:logs:*:*:*"], arn),
            OpenPositions::ALL
        );
        assert_eq!(
            open_positions(&["arn:aws:logs:eu-west-1:*:*"], arn),
            OpenPositions {
                region: false,
                account: true
            }
        );
        assert_eq!(
            open_positions(&["arn:aws:logs:*:123456789012:*"], arn),
            OpenPositions {
                region: true,
                account: false
            }
        );
        // Two patterns each leaving one part open never open both.
        assert_eq!(
            open_positions(
                &[
                    "arn:aws:logs:eu-west-1:*:*",
                    "arn:aws:logs:*:123456789012:*"
                ],
                arn
            ),
            OpenPositions {
                region: true,
                account: false
            }
        );
        assert_eq!(
            open_positions(&["arn:aws:logs:eu-west-1:123456789012:*"], arn),
            OpenPositions::default()
        );
    }

    fn orders_index() -> ResourceIndex {
        let resources = [
            ("OrdersTable", "AWS::DynamoDB::Table", json!({})),
            ("WorkerFunction", "AWS::Serverless::Function", json!({})),
            ("OrderEventsTopic", "AWS::SNS::Topic", json!({})),
            ("OrdersQueue", "AWS::SQS::Queue", json!({})),
            (
                "Fulfilment",
                "AWS::Serverless::StateMachine",
                json!({"Name": {"Fn::Sub": "${AWS::StackName}-fulfilment"}}),
            ),
            (
                "PaymentSecret",
                "AWS::SecretsManager::Secret",
                json!({"Name": {"Fn::Sub": "${AWS::StackName}/payment"}}),
            ),
        ]
        .map(|(id, ty, properties)| TemplateResource {
            logical_id: id.into(),
            resource_type: ty.into(),
            properties,
            depends_on: Vec::new(),
        });
        ResourceIndex::new(&resources, &ctx())
    }

    /// What CloudFormation would make of a written ARN in the orders-app stack: pseudo
    /// parameters, `Ref` and the attributes the index writes, with the physical names below.
    fn deploy(expr: &Value) -> String {
        let names: BTreeMap<&str, &str> = [
            ("OrdersTable", "orders-app-OrdersTable-1X2Y3Z4W5V6U"),
            ("WorkerFunction", "orders-app-WorkerFunction-Z9Y8X7W6V5U4"),
            (
                "OrderEventsTopic",
                "arn:aws:sns:eu-west-1:123456789012:orders-app-OrderEventsTopic-Q1W2E3R4T5Y6",
            ),
            (
                "OrderEventsTopic.TopicName",
                "orders-app-OrderEventsTopic-Q1W2E3R4T5Y6",
            ),
            (
                "OrdersQueue.QueueName",
                "orders-app-OrdersQueue-A1B2C3D4E5F6",
            ),
            ("Fulfilment.Name", "orders-app-fulfilment"),
            (
                "Fulfilment",
                "arn:aws:states:eu-west-1:123456789012:stateMachine:orders-app-fulfilment",
            ),
            (
                "PaymentSecret",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-app/payment-AbC123",
            ),
            ("AWS::Partition", "aws"),
            ("AWS::Region", "eu-west-1"),
            ("AWS::AccountId", "123456789012"),
        ]
        .into();
        let arn_of = |id: &str| -> String {
            match id {
                "OrdersTable" => "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-app-OrdersTable-1X2Y3Z4W5V6U".into(),
                "WorkerFunction" => "arn:aws:lambda:eu-west-1:123456789012:function:orders-app-WorkerFunction-Z9Y8X7W6V5U4".into(),
                "OrdersQueue" => "arn:aws:sqs:eu-west-1:123456789012:orders-app-OrdersQueue-A1B2C3D4E5F6".into(),
                other => panic!("no Arn attribute for {other}"),
            }
        };
        let lookup = |name: &str| -> String {
            match name.strip_suffix(".Arn") {
                Some(id) => arn_of(id),
                None => names
                    .get(name)
                    .unwrap_or_else(|| panic!("unknown ${{{name}}}"))
                    .to_string(),
            }
        };
        match expr {
            Value::String(s) => s.clone(),
            Value::Object(m) => match m.iter().next() {
                Some((k, v)) if k == "Ref" => lookup(v.as_str().unwrap_or_default()),
                Some((k, v)) if k == "Fn::GetAtt" => lookup(&format!(
                    "{}.{}",
                    v[0].as_str().unwrap_or_default(),
                    v[1].as_str().unwrap_or_default()
                )),
                Some((k, Value::String(text))) if k == "Fn::Sub" => {
                    let mut out = String::new();
                    let mut rest = text.as_str();
                    while let Some(start) = rest.find("${") {
                        out.push_str(&rest[..start]);
                        let after = &rest[start + 2..];
                        let end = after.find('}').unwrap_or(after.len());
                        out.push_str(&lookup(&after[..end]));
                        rest = &after[end + 1..];
                    }
                    out.push_str(rest);
                    out
                }
                _ => panic!("unexpected expression {expr}"),
            },
            _ => panic!("unexpected expression {expr}"),
        }
    }

    #[test]
    fn proposed_arns_are_portable_and_resolve_to_what_was_seen() {
        let idx = orders_index();
        let partial = OpenPositions {
            region: false,
            account: true,
        };
        let cases: Vec<(&str, OpenPositions, Value)> = vec![
            // A function's own log group, derived from the function.
            (
                "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/orders-app-WorkerFunction-Z9Y8X7W6V5U4:log-stream:*",
                OpenPositions::ALL,
                json!({"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/${WorkerFunction}:log-stream:*"}),
            ),
            // A table's indexes and streams.
            (
                "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-app-OrdersTable-1X2Y3Z4W5V6U/index/*",
                OpenPositions::ALL,
                json!({"Fn::Sub": "${OrdersTable.Arn}/index/*"}),
            ),
            (
                "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-app-OrdersTable-1X2Y3Z4W5V6U/stream/*",
                OpenPositions::ALL,
                json!({"Fn::Sub": "${OrdersTable.Arn}/stream/*"}),
            ),
            // The original pinned the region: it stays, the rest comes from the template.
            (
                "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-app-OrdersTable-1X2Y3Z4W5V6U/index/*",
                partial,
                json!({"Fn::Sub": "arn:${AWS::Partition}:dynamodb:eu-west-1:${AWS::AccountId}:table/${OrdersTable}/index/*"}),
            ),
            (
                "arn:aws:sns:eu-west-1:123456789012:orders-app-OrderEventsTopic-Q1W2E3R4T5Y6",
                OpenPositions::ALL,
                json!({"Ref": "OrderEventsTopic"}),
            ),
            (
                "arn:aws:sns:eu-west-1:123456789012:orders-app-OrderEventsTopic-Q1W2E3R4T5Y6",
                partial,
                json!({"Fn::Sub": "arn:${AWS::Partition}:sns:eu-west-1:${AWS::AccountId}:${OrderEventsTopic.TopicName}"}),
            ),
            (
                "arn:aws:sqs:eu-west-1:123456789012:orders-app-OrdersQueue-A1B2C3D4E5F6",
                partial,
                json!({"Fn::Sub": "arn:${AWS::Partition}:sqs:eu-west-1:${AWS::AccountId}:${OrdersQueue.QueueName}"}),
            ),
            (
                "arn:aws:states:eu-west-1:123456789012:express:orders-app-fulfilment:*",
                OpenPositions::ALL,
                json!({"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:express:${Fulfilment.Name}:*"}),
            ),
            (
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-app/payment-AbC123",
                OpenPositions::ALL,
                json!({"Ref": "PaymentSecret"}),
            ),
            // No attribute names a secret's suffix: the pinned form keeps it literally.
            (
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-app/payment-AbC123",
                partial,
                json!({"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:eu-west-1:${AWS::AccountId}:secret:orders-app/payment-AbC123"}),
            ),
            // The stack's own account, not a resource of the template.
            (
                "arn:aws:glue:eu-west-1:123456789012:job/curate-orders",
                OpenPositions::ALL,
                json!({"Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:job/curate-orders"}),
            ),
            (
                "arn:aws:iam::123456789012:role/deployer",
                OpenPositions::ALL,
                json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/deployer"}),
            ),
            // Another region of the stack's account: the region is not the stack's.
            (
                "arn:aws:glue:us-east-1:123456789012:job/curate-orders",
                OpenPositions::ALL,
                json!({"Fn::Sub": "arn:${AWS::Partition}:glue:us-east-1:${AWS::AccountId}:job/curate-orders"}),
            ),
            // Literal text of a Sub string is escaped.
            (
                "arn:aws:ssm:eu-west-1:123456789012:parameter/app/${x}",
                OpenPositions::ALL,
                json!({"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/app/${!x}"}),
            ),
        ];
        for (arn, open, expected) in cases {
            let written = idx.write(arn, open);
            assert_eq!(written, expected, "{arn}");
            if !arn.contains("${") {
                assert_eq!(deploy(&written), arn, "{written}");
            }
        }
        // Outside the stack: another account (even with a template resource's name), an
        // AWS-owned resource, a bucket of unknown owner, a non-ARN.
        for arn in [
            "arn:aws:dynamodb:eu-west-1:999999999999:table/orders-app-OrdersTable-1X2Y3Z4W5V6U",
            "arn:aws:logs:eu-west-1:999999999999:log-group:/aws/lambda/orders-app-WorkerFunction-Z9Y8X7W6V5U4:*",
            "arn:aws:ssm:eu-west-1::parameter/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
            "arn:aws:s3:::someone-elses-bucket/*",
            "*",
        ] {
            assert_eq!(idx.write(arn, OpenPositions::ALL), json!(arn), "{arn}");
        }
    }

    #[test]
    fn the_home_region_is_learnt_from_the_templates_own_resources() {
        let mut c = ctx();
        c.region = None;
        let resources = [TemplateResource {
            logical_id: "OrdersTable".into(),
            resource_type: "AWS::DynamoDB::Table".into(),
            properties: json!({}),
            depends_on: Vec::new(),
        }];
        let mut idx = ResourceIndex::new(&resources, &c);
        let glue = "arn:aws:glue:eu-west-1:123456789012:job/curate-orders";
        // Before: the region of a non-template ARN cannot be said to be the stack's.
        assert_eq!(
            idx.write(glue, OpenPositions::ALL),
            json!({"Fn::Sub": "arn:${AWS::Partition}:glue:eu-west-1:${AWS::AccountId}:job/curate-orders"})
        );
        idx.infer_home([
            "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-app-OrdersTable-1X2Y3Z4W5V6U/index/byCustomer",
            "arn:aws:s3:::orders-app-receipts-123456789012/a.pdf",
            glue,
        ]);
        assert_eq!(
            idx.write(glue, OpenPositions::ALL),
            json!({"Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:job/curate-orders"})
        );
    }

    /// A function whose Role is the role being edited depends on it: the role's policy must
    /// not name the function, directly or through anything that depends on it, while a
    /// resource the role does not reach is still written as the template's.
    #[test]
    fn resources_depending_on_the_policy_holder_are_not_referenced() {
        let resources = [
            (
                "WorkerFunction",
                "AWS::Serverless::Function",
                json!({"Role": {"Fn::GetAtt": ["WorkerRole", "Arn"]}}),
                vec![],
            ),
            ("WorkerRole", "AWS::IAM::Role", json!({}), vec![]),
            (
                "WorkerAlarm",
                "AWS::CloudWatch::Alarm",
                json!({"Dimensions": [{"Value": {"Fn::Sub": "${WorkerFunction}"}}]}),
                vec![],
            ),
            (
                "Later",
                "AWS::SQS::Queue",
                json!({}),
                vec!["WorkerAlarm".to_string()],
            ),
            ("OrdersQueue", "AWS::SQS::Queue", json!({}), vec![]),
        ]
        .map(|(id, ty, properties, depends_on)| TemplateResource {
            logical_id: id.into(),
            resource_type: ty.into(),
            properties,
            depends_on,
        });
        let idx = ResourceIndex::new(&resources, &ctx());
        let avoid = idx.dependents_of(["WorkerRole"]);
        assert_eq!(
            avoid,
            ["Later", "WorkerAlarm", "WorkerFunction", "WorkerRole"]
                .map(String::from)
                .into()
        );
        let group = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/orders-app-WorkerFunction-Z9Y8X7W6V5U4:*";
        assert_eq!(
            idx.write(group, OpenPositions::ALL),
            json!({"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/${WorkerFunction}:*"})
        );
        assert_eq!(
            idx.write_avoiding(group, OpenPositions::ALL, &avoid),
            json!({"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/orders-app-WorkerFunction-Z9Y8X7W6V5U4:*"})
        );
        let queue = "arn:aws:sqs:eu-west-1:123456789012:orders-app-OrdersQueue-A1B2C3D4E5F6";
        assert_eq!(
            idx.write_avoiding(queue, OpenPositions::ALL, &avoid),
            idx.write(queue, OpenPositions::ALL)
        );
        assert_ne!(idx.write(queue, OpenPositions::ALL), json!(queue));
    }
}
