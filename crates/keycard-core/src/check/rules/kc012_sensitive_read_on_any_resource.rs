//! KC012: reads of secrets and data (`s3:GetObject`, `secretsmanager:GetSecretValue`,
//! `ssm:GetParameter*`, `kms:Decrypt`) on every resource.

use std::collections::BTreeSet;

use crate::check::model::{Model, StatementSite};
use crate::risk::sensitive_read;
use crate::template::grants::PolicySite;

super::rule!(
    KC012,
    "sensitive-read-on-any-resource",
    Medium,
    "Reads of data or secrets (s3:GetObject, secretsmanager:GetSecretValue, ssm:GetParameter*, kms:Decrypt) are allowed on `Resource: \"*\"`.",
    "These reads are the data-exfiltration path: on `*` the principal reads every object, parameter or secret, and decrypts with every key, that the account's resource policies allow. Name the buckets, parameters, secrets and keys it reads.",
    "https://cloudsplaining.readthedocs.io/en/latest/glossary/data-exfiltration/"
);

pub(super) fn check(s: &StatementSite<'_>, _: &Model<'_>) -> Option<String> {
    if s.site != PolicySite::Identity || !s.is_allow() {
        return None;
    }
    let found: BTreeSet<&String> = s
        .effective()
        .filter(|a| sensitive_read(a).is_some() && s.on_any_resource(a))
        .collect();
    (!found.is_empty()).then(|| format!("{} {}", super::some(found), s.any_resource_label()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, role_with};
    use crate::check::RuleId;

    #[test]
    fn secret_and_object_reads_on_star() {
        let t = role_with(
            "              - Effect: Allow\n                Action: [secretsmanager:GetSecretValue, ssm:GetParameter*, s3:ListBucket]\n                Resource: '*'\n              - Effect: Allow\n                Action: s3:GetObject\n                Resource: arn:aws:s3:::reports/*\n",
        );
        assert_eq!(
            messages(RuleId::KC012, &t),
            vec![
                "secretsmanager:GetSecretValue, ssm:GetParameter, ssm:GetParameters, ssm:GetParametersByPath on Resource \"*\""
            ]
        );
    }
}
