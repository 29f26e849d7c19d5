//! Policy documents written as a JSON string inside `Fn::Sub`
//! (`PolicyDocument: !Sub '{"Statement": [… "arn:${AWS::Partition}:s3:::${Bucket}/*" …]}'`).
//!
//! CloudFormation substitutes the `${…}` references and IAM then parses the JSON; the
//! references sit inside JSON strings, so the template string parses as the policy it becomes,
//! with `${…}` left in ARNs as written (as `!Sub` values elsewhere are). keycard reads these
//! documents but does not rewrite them: writing the proposal back as a plain string would drop
//! the substitution.

use serde_json::Value as J;

use super::{ConditionBranch, Finder, Grant, GrantKind, Target};
use crate::template::node::{Node, Value};

/// What an `Fn::Sub` node holds.
pub(super) enum SubJson {
    /// A JSON document.
    Json(J),
    /// Text that starts like a JSON object but does not parse (the parser's message).
    Invalid(String),
    /// Not an `Fn::Sub` of a JSON object: the caller reads the node as it did before.
    NotJson,
}

/// The document of `!Sub '{…}'` or `!Sub ['{…}', {vars}]`.
pub(super) fn document(node: &Node) -> SubJson {
    let Some(("Fn::Sub", arg)) = node.intrinsic() else {
        return SubJson::NotJson;
    };
    let text = match &arg.value {
        Value::String(s) => s.as_str(),
        Value::Seq(items) => match items.first().and_then(Node::as_str) {
            Some(s) => s,
            None => return SubJson::NotJson,
        },
        _ => return SubJson::NotJson,
    };
    if !text.trim_start().starts_with('{') {
        return SubJson::NotJson;
    }
    match serde_json::from_str::<J>(text) {
        Ok(v) if v.is_object() => SubJson::Json(v),
        Ok(_) => SubJson::NotJson,
        Err(e) => SubJson::Invalid(e.to_string()),
    }
}

impl Finder<'_> {
    /// An identity policy document inside `Fn::Sub`: its grant goes to [`super::Grants::read_only`]
    /// (checked, never rewritten) and the place is reported so a proposal says it left it alone.
    /// Returns `false` when the node is not such a document.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sub_document_grant(
        &mut self,
        target: &Target,
        ctx: &super::Context<'_>,
        kind: GrantKind,
        node: &Node,
        path: &str,
        conditions: &[ConditionBranch],
        policy_name: Option<String>,
    ) -> bool {
        let value = match document(node) {
            SubJson::NotJson => return false,
            SubJson::Invalid(e) => {
                self.not_analysable(
                    node,
                    path,
                    &format!("policy document in Fn::Sub is not valid JSON ({e})"),
                );
                return true;
            }
            SubJson::Json(v) => v,
        };
        let doc = super::json_node(&value, node);
        let statements = self.document_statements(&doc, path, true);
        let mut g: Grant = self.grant(target, ctx, kind, node, path, conditions);
        g.policy_name = policy_name;
        g.statements = statements;
        g.document_is_json_string = true;
        self.finish(g);
        if let Some(g) = self.out.grants.pop() {
            self.out.read_only.push(g);
        }
        self.not_analysable(
            node,
            path,
            "policy document is a JSON string built by Fn::Sub: its statements are checked, but a proposal leaves it unchanged",
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::template::{Template, find_grants};

    #[test]
    fn a_sub_json_document_is_read_not_rewritten() {
        let t = Template::load(
            "t.yaml",
            r#"Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
      Policies:
        - PolicyName: read
          PolicyDocument: !Sub '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:${AWS::Partition}:s3:::${Bucket}/*"}]}'
"#,
        )
        .unwrap();
        let g = find_grants(&t);
        assert!(g.grants.is_empty(), "{:?}", g.grants);
        assert_eq!(g.read_only.len(), 1);
        let s = &g.read_only[0].statements[0];
        assert_eq!(s.resources, vec!["arn:${AWS::Partition}:s3:::${Bucket}/*"]);
        assert!(s.effective.contains("s3:GetObject"));
        assert!(
            g.not_analysable
                .iter()
                .all(|n| !n.reason.contains("without Statement"))
        );
        assert!(
            g.not_analysable
                .iter()
                .any(|n| n.reason.contains("Fn::Sub") && n.path.ends_with("/PolicyDocument"))
        );
    }

    #[test]
    fn a_sub_of_text_that_is_not_json_is_left_to_the_caller() {
        let node = Template::load(
            "t.yaml",
            "Resources:\n  R:\n    Properties: !Sub 'arn:${AWS::Partition}:x'\n",
        )
        .unwrap();
        let n = node.node("/Resources/R/Properties").unwrap();
        assert!(matches!(super::document(n), super::SubJson::NotJson));
        let bad = Template::load(
            "t.yaml",
            "Resources:\n  R:\n    Properties: !Sub '{\"Statement\": ['\n",
        )
        .unwrap();
        let n = bad.node("/Resources/R/Properties").unwrap();
        assert!(matches!(super::document(n), super::SubJson::Invalid(_)));
    }
}
