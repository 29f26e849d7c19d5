//! Trust and resource policies: who may become a role, who may use a bucket, queue, topic, key,
//! secret or repository, who may invoke a function.
//!
//! These are the other half of a template's IAM. `keycard propose` never edits them (usage
//! evidence says what a role did, not who should be trusted), but `keycard check` judges them,
//! and both read them here, from the same statements model as the identity grants
//! ([`StatementRecord`]), so there is one reading of every policy document in a template.

use serde::Serialize;
use serde_json::{Map, Value as J, json};

use super::sub_json::{self, SubJson};
use super::{ConditionBranch, Finder, StatementRecord, branches, json_node, resource_type};
use crate::template::node::{Node, Span, Value, push_pointer};

/// Which side of IAM a policy is written for: the rules that apply differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicySite {
    /// Attached to a role, user or group: what the principal may do.
    Identity,
    /// A role's `AssumeRolePolicyDocument`: who may become the role.
    Trust,
    /// A resource's own policy: who may use the resource.
    Resource,
}

/// What construct a trust or resource policy comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourcePolicyKind {
    /// `AWS::IAM::Role` `AssumeRolePolicyDocument` (and SAM's function property of that name).
    TrustPolicy,
    /// `AWS::S3::BucketPolicy` `PolicyDocument`.
    BucketPolicy,
    /// `AWS::S3::AccessPoint` `Policy`.
    AccessPointPolicy,
    /// `AWS::SQS::QueuePolicy` / `QueueInlinePolicy` `PolicyDocument`.
    QueuePolicy,
    /// `AWS::SNS::TopicPolicy` / `TopicInlinePolicy` `PolicyDocument`.
    TopicPolicy,
    /// `AWS::KMS::Key` `KeyPolicy`.
    KeyPolicy,
    /// `AWS::SecretsManager::ResourcePolicy` `ResourcePolicy`.
    SecretPolicy,
    /// `AWS::ECR::Repository` `RepositoryPolicyText`.
    RepositoryPolicy,
    /// `AWS::Lambda::Permission`: one statement Lambda adds to the function's policy.
    LambdaPermission,
}

impl ResourcePolicyKind {
    pub fn site(self) -> PolicySite {
        match self {
            ResourcePolicyKind::TrustPolicy => PolicySite::Trust,
            _ => PolicySite::Resource,
        }
    }
}

/// One trust or resource policy document (or Lambda permission), with its statements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourcePolicy {
    pub kind: ResourcePolicyKind,
    /// Logical id of the resource holding the policy (suppressions live in its Metadata).
    pub source: String,
    pub source_type: String,
    /// JSON pointer of the document (or, for a Lambda permission, of its `Properties`).
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub span: Span,
    /// Statements, parsed as identity statements are (`raw` keeps `Principal`). A Lambda
    /// permission is the one statement Lambda writes for it.
    pub statements: Vec<StatementRecord>,
    /// `Fn::If` branches and the resource `Condition` the policy depends on.
    pub conditions: Vec<ConditionBranch>,
    /// Whether the document is a JSON string (plain or inside `Fn::Sub`).
    pub document_is_json_string: bool,
}

/// Resource types with a policy document property. Source: the CloudFormation resource
/// reference of each type (`AWS::IAM::Role` AssumeRolePolicyDocument, `AWS::S3::BucketPolicy`
/// PolicyDocument, `AWS::S3::AccessPoint` Policy, `AWS::SQS::QueuePolicy` and
/// `AWS::SQS::QueueInlinePolicy` PolicyDocument, `AWS::SNS::TopicPolicy` and
/// `AWS::SNS::TopicInlinePolicy` PolicyDocument, `AWS::KMS::Key` KeyPolicy,
/// `AWS::SecretsManager::ResourcePolicy` ResourcePolicy, `AWS::ECR::Repository`
/// RepositoryPolicyText) and the SAM specification (`AWS::Serverless::Function`
/// AssumeRolePolicyDocument, the trust policy of the role SAM creates).
const DOCUMENT_PROPERTIES: &[(&str, &str, ResourcePolicyKind)] = &[
    (
        "AWS::IAM::Role",
        "AssumeRolePolicyDocument",
        ResourcePolicyKind::TrustPolicy,
    ),
    (
        "AWS::Serverless::Function",
        "AssumeRolePolicyDocument",
        ResourcePolicyKind::TrustPolicy,
    ),
    (
        "AWS::S3::BucketPolicy",
        "PolicyDocument",
        ResourcePolicyKind::BucketPolicy,
    ),
    (
        "AWS::S3::AccessPoint",
        "Policy",
        ResourcePolicyKind::AccessPointPolicy,
    ),
    (
        "AWS::SQS::QueuePolicy",
        "PolicyDocument",
        ResourcePolicyKind::QueuePolicy,
    ),
    (
        "AWS::SQS::QueueInlinePolicy",
        "PolicyDocument",
        ResourcePolicyKind::QueuePolicy,
    ),
    (
        "AWS::SNS::TopicPolicy",
        "PolicyDocument",
        ResourcePolicyKind::TopicPolicy,
    ),
    (
        "AWS::SNS::TopicInlinePolicy",
        "PolicyDocument",
        ResourcePolicyKind::TopicPolicy,
    ),
    ("AWS::KMS::Key", "KeyPolicy", ResourcePolicyKind::KeyPolicy),
    (
        "AWS::SecretsManager::ResourcePolicy",
        "ResourcePolicy",
        ResourcePolicyKind::SecretPolicy,
    ),
    (
        "AWS::ECR::Repository",
        "RepositoryPolicyText",
        ResourcePolicyKind::RepositoryPolicy,
    ),
];

/// `AWS::Lambda::Permission` properties that Lambda turns into conditions of the statement it
/// adds to the function's resource policy, with the condition operator and key it uses. Source:
/// the CloudFormation reference of `AWS::Lambda::Permission` and the Lambda developer guide,
/// "Viewing resource-based IAM policies in Lambda" (the policy `GetPolicy` returns).
const PERMISSION_CONDITIONS: &[(&str, &str, &str)] = &[
    ("SourceArn", "ArnLike", "AWS:SourceArn"),
    ("SourceAccount", "StringEquals", "AWS:SourceAccount"),
    ("PrincipalOrgID", "StringEquals", "aws:PrincipalOrgID"),
    (
        "EventSourceToken",
        "StringEquals",
        "lambda:EventSourceToken",
    ),
    (
        "FunctionUrlAuthType",
        "StringEquals",
        "lambda:FunctionUrlAuthType",
    ),
];

impl Finder<'_> {
    /// Every trust and resource policy of the template.
    pub(super) fn resource_policies(&mut self) {
        let t = self.t;
        for (id, res) in t.resources() {
            if id.starts_with("Fn::ForEach::") {
                continue; // reported once, as not analysable, by the identity pass
            }
            let ty = resource_type(res);
            let Some(props) = res.get("Properties") else {
                continue;
            };
            let props_path = push_pointer(&push_pointer("/Resources", id), "Properties");
            let conditions: Vec<ConditionBranch> = res
                .get("Condition")
                .and_then(Node::as_str)
                .map(|c| ConditionBranch {
                    condition: c.to_string(),
                    branch: true,
                })
                .into_iter()
                .collect();
            let source = Source { id, ty, conditions };
            if ty == "AWS::Lambda::Permission" {
                self.lambda_permission(&source, props, &props_path);
                continue;
            }
            for (_, key, kind) in DOCUMENT_PROPERTIES.iter().filter(|(t, _, _)| *t == ty) {
                if let Some(doc) = props.get(key) {
                    let path = push_pointer(&props_path, key);
                    self.resource_document(&source, *kind, doc, &path);
                }
            }
        }
    }

    fn resource_document(
        &mut self,
        source: &Source<'_>,
        kind: ResourcePolicyKind,
        doc: &Node,
        path: &str,
    ) {
        for d in branches(doc, path, &source.conditions) {
            let (doc_node, is_string) = match &d.node.value {
                Value::String(s) => match serde_json::from_str::<J>(s) {
                    Ok(v) => (std::borrow::Cow::Owned(json_node(&v, d.node)), true),
                    Err(e) => {
                        self.not_analysable(
                            d.node,
                            &d.path,
                            &format!("policy document string is not valid JSON ({e})"),
                        );
                        continue;
                    }
                },
                _ => match sub_json::document(d.node) {
                    SubJson::Json(v) => (std::borrow::Cow::Owned(json_node(&v, d.node)), true),
                    SubJson::Invalid(e) => {
                        self.not_analysable(
                            d.node,
                            &d.path,
                            &format!("policy document in Fn::Sub is not valid JSON ({e})"),
                        );
                        continue;
                    }
                    SubJson::NotJson => (std::borrow::Cow::Borrowed(d.node), false),
                },
            };
            let statements = self.document_statements(&doc_node, &d.path, is_string);
            self.out.resource_policies.push(ResourcePolicy {
                kind,
                source: source.id.to_string(),
                source_type: source.ty.to_string(),
                path: d.path.clone(),
                line: d.node.pos.line,
                column: d.node.pos.column,
                span: d.node.span,
                statements,
                conditions: d.conditions,
                document_is_json_string: is_string,
            });
        }
    }

    /// The statement Lambda writes for an `AWS::Lambda::Permission`: `Principal` is a service
    /// (`s3.amazonaws.com`), an account or role ARN, or `*`; `SourceArn`, `SourceAccount`,
    /// `PrincipalOrgID`, `EventSourceToken` and `FunctionUrlAuthType` become its conditions.
    fn lambda_permission(&mut self, source: &Source<'_>, props: &Node, path: &str) {
        let principal = match props.get("Principal") {
            None => J::Null,
            Some(p) => match p.as_str() {
                Some("*") => json!("*"),
                Some(s) if s.ends_with(".amazonaws.com") || s.ends_with(".amazonaws.com.cn") => {
                    json!({ "Service": s })
                }
                _ => json!({ "AWS": p.to_json() }),
            },
        };
        let mut condition: Map<String, J> = Map::new();
        for (property, operator, key) in PERMISSION_CONDITIONS {
            if let Some(v) = props.get(property).filter(|v| !v.is_no_value()) {
                let entry = condition
                    .entry(operator.to_string())
                    .or_insert_with(|| J::Object(Map::new()));
                if let J::Object(m) = entry {
                    m.insert(key.to_string(), v.to_json());
                }
            }
        }
        let mut statement = Map::new();
        statement.insert("Effect".into(), json!("Allow"));
        if !principal.is_null() {
            statement.insert("Principal".into(), principal);
        }
        for (property, element) in [("Action", "Action"), ("FunctionName", "Resource")] {
            if let Some(v) = props.get(property) {
                statement.insert(element.into(), v.to_json());
            }
        }
        if !condition.is_empty() {
            statement.insert("Condition".into(), J::Object(condition));
        }
        let node = json_node(&J::Object(statement), props);
        let statements = self
            .statement(&node, path, &source.conditions)
            .into_iter()
            .collect();
        self.out.resource_policies.push(ResourcePolicy {
            kind: ResourcePolicyKind::LambdaPermission,
            source: source.id.to_string(),
            source_type: source.ty.to_string(),
            path: path.to_string(),
            line: props.pos.line,
            column: props.pos.column,
            span: props.span,
            statements,
            conditions: source.conditions.clone(),
            document_is_json_string: false,
        });
    }
}

/// The resource a policy is read from.
struct Source<'a> {
    id: &'a str,
    ty: &'a str,
    conditions: Vec<ConditionBranch>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Template, find_grants};

    fn policies(yaml: &str) -> Vec<ResourcePolicy> {
        find_grants(&Template::load("t.yaml", yaml).unwrap()).resource_policies
    }

    #[test]
    fn trust_bucket_key_and_sub_json_documents_are_read_with_their_kind() {
        let p = policies(
            r#"Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
  BucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: b
      PolicyDocument: !Sub '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:${AWS::Partition}:s3:::b/*"}]}'
  Key:
    Type: AWS::KMS::Key
    Condition: IsProd
    Properties:
      KeyPolicy:
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            Action: kms:*
            Resource: "*"
"#,
        );
        let kinds: Vec<_> = p.iter().map(|p| (p.kind, p.source.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (ResourcePolicyKind::TrustPolicy, "Role"),
                (ResourcePolicyKind::BucketPolicy, "BucketPolicy"),
                (ResourcePolicyKind::KeyPolicy, "Key"),
            ]
        );
        assert_eq!(p[0].kind.site(), PolicySite::Trust);
        assert_eq!(p[1].kind.site(), PolicySite::Resource);
        assert!(p[1].document_is_json_string);
        assert_eq!(p[1].statements[0].raw["Principal"], "*");
        assert!(p[1].statements[0].effective.contains("s3:GetObject"));
        assert_eq!(p[2].conditions[0].condition, "IsProd");
        assert!(p[2].statements[0].effective.contains("kms:Decrypt"));
    }

    #[test]
    fn a_lambda_permission_is_the_statement_lambda_writes() {
        let p = policies(
            r#"Resources:
  Public:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunctionUrl
      FunctionName: !GetAtt Fn.Arn
      Principal: "*"
      FunctionUrlAuthType: NONE
  FromBucket:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref Fn
      Principal: s3.amazonaws.com
      SourceArn: !GetAtt Bucket.Arn
      SourceAccount: !Ref AWS::AccountId
"#,
        );
        assert_eq!(p.len(), 2);
        assert!(
            p.iter()
                .all(|p| p.kind == ResourcePolicyKind::LambdaPermission)
        );
        let public = &p[0].statements[0].raw;
        assert_eq!(public["Principal"], "*");
        assert_eq!(
            public["Condition"]["StringEquals"]["lambda:FunctionUrlAuthType"],
            "NONE"
        );
        assert_eq!(p[0].path, "/Resources/Public/Properties");
        let bucket = &p[1].statements[0].raw;
        assert_eq!(bucket["Principal"]["Service"], "s3.amazonaws.com");
        assert_eq!(
            bucket["Condition"]["ArnLike"]["AWS:SourceArn"],
            json!({"Fn::GetAtt": ["Bucket", "Arn"]})
        );
        assert_eq!(bucket["Resource"], json!({"Ref": "Fn"}));
    }

    #[test]
    fn both_branches_of_a_conditional_document_are_read() {
        let p = policies(
            r#"Resources:
  QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [q]
      PolicyDocument: !If
        - Open
        - Statement: [{Effect: Allow, Principal: "*", Action: sqs:SendMessage, Resource: "*"}]
        - Statement: [{Effect: Allow, Principal: {Service: sns.amazonaws.com}, Action: sqs:SendMessage, Resource: "*"}]
"#,
        );
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[0].path,
            "/Resources/QueuePolicy/Properties/PolicyDocument/Fn::If/1"
        );
        assert!(!p[1].conditions[0].branch);
    }
}
