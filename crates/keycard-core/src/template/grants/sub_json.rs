//! Policy documents written as a JSON string inside `Fn::Sub`
//! (`PolicyDocument: !Sub '{"Statement": [… "arn:${AWS::Partition}:s3:::${Bucket}/*" …]}'`).
//!
//! CloudFormation substitutes the `${…}` references and IAM then parses the JSON; the
//! references sit inside JSON strings, so the template string parses as the policy it becomes,
//! with `${…}` left in ARNs as written (as `!Sub` values elsewhere are). keycard reads these
//! documents but does not rewrite them: writing the proposal back as a plain string would drop
//! the substitution.
//!
//! One site reads such a string differently: an item of a SAM function's or state machine's
//! `Policies`. SAM takes every intrinsic there for a managed policy ARN (aws-sam-translator
//! 1.115.0, `samtranslator/model/resource_policies.py`, `_get_type`: "Intrinsic functions are
//! treated as managed policies by default") and puts it in the generated role's
//! `ManagedPolicyArns` as written (`role_utils/role_constructor.py`); the translator bundled in
//! the project's venv does exactly that to `Policies: [!Sub '{"Statement": …}']`. IAM takes only
//! ARNs there (`AWS::IAM::Role` `ManagedPolicyArns`: "A list of Amazon Resource Names (ARNs) of
//! the IAM managed policies"), so the document grants nothing: it stays the managed policy
//! reference SAM makes of it, and the place is reported so `keycard check` and a proposal say
//! so instead of reading statements no role receives.

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

impl Finder<'_> {
    /// Reports a SAM `Policies` item that is a policy document inside `Fn::Sub` (see the module
    /// documentation): SAM attaches it as a managed policy ARN, so its statements reach no role.
    /// The caller still records the item as the managed policy reference SAM makes of it.
    pub(super) fn sub_document_in_sam_policies(&mut self, node: &Node, path: &str) {
        let parsed = match document(node) {
            SubJson::NotJson => return,
            SubJson::Json(_) => String::new(),
            SubJson::Invalid(e) => format!(" (and the text is not valid JSON: {e})"),
        };
        self.not_analysable(
            node,
            path,
            &format!(
                "SAM Policies item is a policy document in a Fn::Sub JSON string{parsed}, but SAM adds every intrinsic in Policies to the role's ManagedPolicyArns, which takes only ARNs: its statements are granted to no one; write the document as a mapping with Statement"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::template::{GrantFlag, GrantKind, Template, find_grants};

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

    /// A thumbnail function whose author wrote its S3 access as a `!Sub` JSON document in
    /// `Policies` (the shape a `PolicyDocument` accepts); SAM turns it into a
    /// `ManagedPolicyArns` item.
    const SAM_SUB_DOCUMENT: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Uploads:
    Type: AWS::S3::Bucket
  ThumbnailFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      Policies:
        - AWSXrayWriteOnlyAccess
        - !Sub '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:${AWS::Partition}:s3:::${Uploads}/*"}]}'
"#;

    const SUB_ITEM: &str = "/Resources/ThumbnailFunction/Properties/Policies/1";

    #[test]
    fn a_sub_json_document_in_sam_policies_is_the_managed_policy_arn_sam_makes_of_it() {
        let g = find_grants(&Template::load("template.yaml", SAM_SUB_DOCUMENT).unwrap());
        // As SAM reads it: a managed policy reference whose statements nobody knows, kept by a
        // proposal as written; never an inline document whose statements a role receives.
        let item: Vec<_> = g.grants.iter().filter(|g| g.path == SUB_ITEM).collect();
        assert_eq!(item.len(), 1, "{:?}", g.grants);
        assert_eq!(item[0].kind, GrantKind::SamManagedPolicy);
        assert!(item[0].statements.is_empty());
        assert!(item[0].flags.contains(&GrantFlag::ExternalPolicy));
        assert!(g.read_only.is_empty(), "{:?}", g.read_only);
        let reasons: Vec<&str> = g
            .not_analysable
            .iter()
            .filter(|n| n.path == SUB_ITEM)
            .map(|n| n.reason.as_str())
            .collect();
        assert_eq!(reasons.len(), 1, "{:?}", g.not_analysable);
        assert!(reasons[0].contains("ManagedPolicyArns"), "{}", reasons[0]);
        // The managed policy name beside it is read as before.
        assert!(
            g.grants
                .iter()
                .any(|g| g.managed_policy_arns == ["AWSXrayWriteOnlyAccess"])
        );
    }

    #[test]
    fn check_and_propose_both_report_a_sub_json_document_in_sam_policies() {
        let report = crate::check::check_template(
            "template.yaml",
            SAM_SUB_DOCUMENT,
            crate::catalog::Catalog::embedded(),
        )
        .unwrap();
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains(SUB_ITEM) && w.contains("ManagedPolicyArns")),
            "{:?}",
            report.warnings
        );
        let proposal = crate::proposal::propose(&crate::proposal::ProposalInput {
            template_name: "template.yaml".into(),
            template_text: SAM_SUB_DOCUMENT.into(),
            ..Default::default()
        })
        .unwrap();
        assert!(
            proposal
                .report
                .not_analysable
                .iter()
                .any(|n| n.location.starts_with(SUB_ITEM) && n.reason.contains("ManagedPolicyArns")),
            "{:?}",
            proposal.report.not_analysable
        );
        assert!(
            proposal
                .template
                .contains(r#"- !Sub '{"Version": "2012-10-17""#)
        );
    }

    #[test]
    fn an_invalid_sub_json_document_in_sam_policies_is_reported_too() {
        let text = SAM_SUB_DOCUMENT.replace(r#"}]}'"#, r#"}]'"#);
        let g = find_grants(&Template::load("template.yaml", &text).unwrap());
        assert!(
            g.not_analysable
                .iter()
                .any(|n| n.path == SUB_ITEM && n.reason.contains("not valid JSON")),
            "{:?}",
            g.not_analysable
        );
    }

    #[test]
    fn a_sub_arn_in_sam_policies_is_not_reported_as_a_document() {
        let text: String = SAM_SUB_DOCUMENT
            .lines()
            .map(|l| match l.contains("!Sub") {
                true => "        - !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/thumbnails'\n".to_string(),
                false => format!("{l}\n"),
            })
            .collect();
        let g = find_grants(&Template::load("template.yaml", &text).unwrap());
        assert!(
            g.not_analysable.iter().all(|n| n.path != SUB_ITEM),
            "{:?}",
            g.not_analysable
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
