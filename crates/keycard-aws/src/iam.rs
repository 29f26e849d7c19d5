//! Live reads of IAM roles: ARNs and the policies actually attached right now.
//!
//! CloudFormation drift detection does not cover `AWS::IAM::Policy`, and a permission added by
//! hand in the console is invisible in the template, so the diff step reads the role's inline
//! and attached policies from IAM itself and reports what the template does not explain.
//! Read-only: keycard never holds a permission that writes IAM.

use std::future::Future;

use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};

use crate::error::AwsError;

const SERVICE: &str = "iam";

/// A role as IAM knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleInfo {
    pub name: String,
    pub arn: String,
    pub path: String,
}

/// One policy document attached to a role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePolicy {
    pub name: String,
    /// `inline`, or `managed` for an attached managed policy.
    pub kind: String,
    /// ARN of an attached managed policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The document (IAM returns it URL-encoded; this is decoded JSON).
    pub document: serde_json::Value,
}

/// Every policy of a role, as deployed: inline ones first, each group by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LivePolicies {
    pub policies: Vec<LivePolicy>,
}

/// Read access to IAM roles.
pub trait Roles: Send + Sync {
    /// The role, by name (a stack's physical id of an `AWS::IAM::Role`).
    fn role(&self, name: &str) -> impl Future<Output = Result<RoleInfo, AwsError>> + Send;

    /// Inline policies and the default version of every attached managed policy.
    fn live_policies(
        &self,
        role_name: &str,
    ) -> impl Future<Output = Result<LivePolicies, AwsError>> + Send;
}

/// [`Roles`] over the IAM SDK.
#[derive(Debug, Clone)]
pub struct IamRoles {
    client: aws_sdk_iam::Client,
}

impl IamRoles {
    pub fn new(client: aws_sdk_iam::Client) -> Self {
        IamRoles { client }
    }
}

impl Roles for IamRoles {
    async fn role(&self, name: &str) -> Result<RoleInfo, AwsError> {
        let out = self
            .client
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "GetRole", e))?;
        let role = out
            .role
            .ok_or_else(|| AwsError::malformed(SERVICE, "GetRole", "no Role in the response"))?;
        Ok(RoleInfo {
            name: role.role_name,
            arn: role.arn,
            path: role.path,
        })
    }

    async fn live_policies(&self, role_name: &str) -> Result<LivePolicies, AwsError> {
        let mut policies = Vec::new();

        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_role_policies()
            .role_name(role_name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk(SERVICE, "ListRolePolicies", e))?;
            names.extend(page.policy_names);
        }
        for name in names {
            let out = self
                .client
                .get_role_policy()
                .role_name(role_name)
                .policy_name(&name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(SERVICE, "GetRolePolicy", e))?;
            policies.push(LivePolicy {
                document: decode_document("GetRolePolicy", &out.policy_document)?,
                name,
                kind: "inline".to_owned(),
                arn: None,
            });
        }

        let mut attached = Vec::new();
        let mut pages = self
            .client
            .list_attached_role_policies()
            .role_name(role_name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::from_sdk(SERVICE, "ListAttachedRolePolicies", e))?;
            for p in page.attached_policies() {
                if let Some(arn) = p.policy_arn() {
                    attached.push((p.policy_name().unwrap_or(arn).to_owned(), arn.to_owned()));
                }
            }
        }
        for (name, arn) in attached {
            let policy = self
                .client
                .get_policy()
                .policy_arn(&arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(SERVICE, "GetPolicy", e))?
                .policy
                .ok_or_else(|| AwsError::malformed(SERVICE, "GetPolicy", "no Policy"))?;
            let version = policy
                .default_version_id
                .ok_or_else(|| AwsError::malformed(SERVICE, "GetPolicy", "no DefaultVersionId"))?;
            let doc = self
                .client
                .get_policy_version()
                .policy_arn(&arn)
                .version_id(&version)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(SERVICE, "GetPolicyVersion", e))?
                .policy_version
                .and_then(|v| v.document)
                .ok_or_else(|| AwsError::malformed(SERVICE, "GetPolicyVersion", "no Document"))?;
            policies.push(LivePolicy {
                document: decode_document("GetPolicyVersion", &doc)?,
                name,
                kind: "managed".to_owned(),
                arn: Some(arn),
            });
        }
        // IAM lists in no documented order; reports must not change between runs.
        policies.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
        Ok(LivePolicies { policies })
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986). A document that is already plain JSON
/// (some IAM-compatible endpoints send it so) parses directly.
pub fn decode_document(operation: &'static str, raw: &str) -> Result<serde_json::Value, AwsError> {
    if let Ok(v) = serde_json::from_str(raw) {
        return Ok(v);
    }
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|e| AwsError::malformed(SERVICE, operation, format!("policy document: {e}")))?;
    serde_json::from_str(&decoded)
        .map_err(|e| AwsError::malformed(SERVICE, operation, format!("policy document: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoded_documents_are_decoded() {
        let raw = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Aorders%2F%2A%22%7D%5D%7D";
        let doc = decode_document("GetRolePolicy", raw).unwrap();
        assert_eq!(doc["Statement"][0]["Action"], "s3:GetObject");
        assert_eq!(doc["Statement"][0]["Resource"], "arn:aws:s3:::orders/*");
    }

    #[test]
    fn plain_json_documents_pass_through() {
        let raw = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}"#;
        let doc = decode_document("GetRolePolicy", raw).unwrap();
        assert_eq!(doc["Statement"][0]["Action"], "sqs:SendMessage");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let e = decode_document("GetRolePolicy", "%E0%A4%A").unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Malformed);
    }
}
