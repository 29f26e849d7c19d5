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

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// A resource of the template, for matching ARNs to logical ids.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateResource {
    pub logical_id: String,
    pub resource_type: String,
    /// Properties in long form (`{"Fn::Sub": ...}`), as the template engine gives them.
    pub properties: Value,
}

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

/// A parsed ARN: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(s: &'a str) -> Option<Arn<'a>> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        let resource = parts.next()?;
        if partition.is_empty() || service.is_empty() {
            return None;
        }
        Some(Arn {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

/// Generalises an ARN from the evidence to the granularity a policy is written at. Unknown
/// shapes are returned unchanged (a concrete ARN is always a valid, narrow resource).
pub fn generalize(arn: &str) -> String {
    let Some(a) = Arn::parse(arn) else {
        return arn.to_string();
    };
    let head = format!(
        "arn:{}:{}:{}:{}:",
        a.partition, a.service, a.region, a.account
    );
    match a.service {
        "s3" => match a.resource.split_once('/') {
            Some((bucket, _key)) => format!("{head}{bucket}/*"),
            None => arn.to_string(),
        },
        "dynamodb" => {
            let parts: Vec<&str> = a.resource.split('/').collect();
            match parts.as_slice() {
                ["table", t, "stream", ..] => format!("{head}table/{t}/stream/*"),
                ["table", t, "backup", ..] => format!("{head}table/{t}/backup/*"),
                ["table", t, "export", ..] => format!("{head}table/{t}/export/*"),
                _ => arn.to_string(),
            }
        }
        "states" => {
            let parts: Vec<&str> = a.resource.split(':').collect();
            match parts.as_slice() {
                ["execution", machine, _name, ..] => format!("{head}execution:{machine}:*"),
                ["express", machine, ..] => format!("{head}express:{machine}:*"),
                _ => arn.to_string(),
            }
        }
        "logs" => {
            let parts: Vec<&str> = a.resource.split(':').collect();
            match parts.as_slice() {
                ["log-group", group] => format!("{head}log-group:{group}:*"),
                ["log-group", group, "log-stream", ..] => {
                    format!("{head}log-group:{group}:log-stream:*")
                }
                _ => arn.to_string(),
            }
        }
        _ => arn.to_string(),
    }
}

/// IAM resource matching: case-sensitive, `*` any run, `?` one character.
pub fn resource_matches(pattern: &str, arn: &str) -> bool {
    crate::policy::wildcard_match(pattern.as_bytes(), arn.as_bytes(), true)
}

/// Whether every ARN matched by `narrower` is matched by `pattern`. Sound, not complete: it
/// answers `true` only for shapes it can prove (equal, `*`, a literal ARN, or a pattern whose
/// only wildcard is a trailing `*` and the narrower pattern extends its prefix).
pub fn pattern_covers(pattern: &str, narrower: &str) -> bool {
    if pattern == narrower || pattern == "*" {
        return true;
    }
    let narrower_has_wildcard = narrower.contains(['*', '?']);
    if !narrower_has_wildcard {
        return resource_matches(pattern, narrower);
    }
    match pattern.strip_suffix('*') {
        Some(prefix) if !prefix.contains(['*', '?']) => narrower.starts_with(prefix),
        _ => false,
    }
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

/// Matches ARNs to resources of the template and writes them as intrinsics.
#[derive(Debug, Clone, Default)]
pub struct ResourceIndex {
    entries: Vec<IndexEntry>,
    stack_name: Option<String>,
}

#[derive(Debug, Clone)]
struct IndexEntry {
    logical_id: String,
    kind: NamedKind,
    /// The physical name, when it can be known without the deployed stack.
    name: Option<String>,
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
        ResourceIndex {
            entries,
            stack_name: ctx.stack_name.clone(),
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
        let mut found: Option<Value> = None;
        for e in self
            .entries
            .iter()
            .filter(|e| e.kind.service() == a.service)
        {
            if let Some(expr) = self.match_entry(e, &a) {
                if found.is_some() {
                    // Two resources claim the same ARN: do not guess.
                    return None;
                }
                found = Some(expr);
            }
        }
        found
    }

    fn match_entry(&self, e: &IndexEntry, a: &Arn<'_>) -> Option<Value> {
        let id = e.logical_id.as_str();
        let get_att = || json!({"Fn::GetAtt": [id, "Arn"]});
        let reference = || json!({"Ref": id});
        match e.kind {
            NamedKind::Bucket => {
                let (bucket, key) = match a.resource.split_once('/') {
                    Some((b, k)) => (b, Some(k)),
                    None => (a.resource, None),
                };
                if !self.name_matches(e, bucket) {
                    return None;
                }
                Some(match key {
                    None => get_att(),
                    Some(k) => json!({"Fn::Sub": format!("${{{id}.Arn}}/{k}")}),
                })
            }
            NamedKind::Table => {
                let rest = a.resource.strip_prefix("table/")?;
                let (table, tail) = match rest.split_once('/') {
                    Some((t, tail)) => (t, Some(tail)),
                    None => (rest, None),
                };
                if !self.name_matches(e, table) {
                    return None;
                }
                Some(match tail {
                    None => get_att(),
                    Some(t) => json!({"Fn::Sub": format!("${{{id}.Arn}}/{t}")}),
                })
            }
            NamedKind::Queue => self.name_matches(e, a.resource).then(get_att),
            NamedKind::Topic => self.name_matches(e, a.resource).then(reference),
            NamedKind::Function => {
                let rest = a.resource.strip_prefix("function:")?;
                let (f, qualifier) = match rest.split_once(':') {
                    Some((f, q)) => (f, Some(q)),
                    None => (rest, None),
                };
                if !self.name_matches(e, f) {
                    return None;
                }
                Some(match qualifier {
                    None => get_att(),
                    Some(q) => json!({"Fn::Sub": format!("${{{id}.Arn}}:{q}")}),
                })
            }
            NamedKind::StateMachine => {
                let parts: Vec<&str> = a.resource.split(':').collect();
                match parts.as_slice() {
                    ["stateMachine", name] if self.name_matches(e, name) => Some(reference()),
                    ["execution", name, rest @ ..] if self.name_matches(e, name) => {
                        Some(json!({"Fn::Sub": format!(
                            "arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:${{{id}.Name}}:{}",
                            rest.join(":")
                        )}))
                    }
                    _ => None,
                }
            }
            NamedKind::LogGroup => {
                let rest = a.resource.strip_prefix("log-group:")?;
                let (group, tail) = match rest.split_once(':') {
                    Some((g, t)) => (g, t),
                    None => (rest, ""),
                };
                if !self.name_matches(e, group) {
                    return None;
                }
                match tail {
                    "*" => Some(get_att()),
                    "" => None,
                    t => Some(json!({"Fn::Sub": format!(
                        "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:${{{id}}}:{t}"
                    )})),
                }
            }
            NamedKind::Stream => {
                let name = a.resource.strip_prefix("stream/")?;
                self.name_matches(e, name).then(get_att)
            }
            NamedKind::EventBus => {
                let name = a.resource.strip_prefix("event-bus/")?;
                self.name_matches(e, name).then(get_att)
            }
            NamedKind::Secret => {
                // Secret ARNs end in `-` and six random characters.
                let rest = a.resource.strip_prefix("secret:")?;
                let (name, suffix) = rest.rsplit_once('-')?;
                (suffix.len() == 6 && self.name_matches(e, name)).then(reference)
            }
            NamedKind::Parameter => {
                let rest = a.resource.strip_prefix("parameter")?;
                // `Ref` of a parameter gives its name, with the leading slash if it has one.
                if self.name_matches(e, rest) {
                    Some(json!({"Fn::Sub": format!(
                        "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter${{{id}}}"
                    )}))
                } else {
                    let bare = rest.strip_prefix('/')?;
                    self.name_matches(e, bare).then(|| json!({"Fn::Sub": format!(
                        "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/${{{id}}}"
                    )}))
                }
            }
        }
    }
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
            },
            TemplateResource {
                logical_id: "OrdersTable".into(),
                resource_type: "AWS::DynamoDB::Table".into(),
                properties: json!({}),
            },
            TemplateResource {
                logical_id: "Fulfilment".into(),
                resource_type: "AWS::Serverless::StateMachine".into(),
                properties: json!({"Name": "orders-fulfilment"}),
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
            },
            TemplateResource {
                logical_id: "Topic".into(),
                resource_type: "AWS::SNS::Topic".into(),
                properties: json!({}),
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
}
