//! KC032: a trust policy admitting a federated identity provider without conditions.

use crate::check::model::{Model, StatementSite, flat_text};

super::rule!(
    KC032,
    "trust-federated-unconditioned",
    High,
    "A role trust policy admits a federated identity provider without conditions.",
    "Without conditions on the token's audience and subject (for example `token.actions.githubusercontent.com:sub`), every identity of the provider — any repository, any app — can assume the role.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html"
);

pub(super) fn check(s: &StatementSite<'_>, _: &Model<'_>) -> Option<String> {
    let principal = super::kc030_trust_open_to_everyone::unconditioned_trust(s)?;
    let federated = principal.get("Federated")?;
    let found: Vec<String> = super::kc030_trust_open_to_everyone::items(federated)
        .into_iter()
        .map(|i| flat_text(i).unwrap_or_else(|| "a federated provider".to_string()))
        .map(|t| format!("trust policy admits {t} without conditions"))
        .collect();
    (!found.is_empty()).then(|| found.join("; "))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, trusting};
    use crate::check::RuleId;

    #[test]
    fn an_oidc_provider_without_a_subject_condition() {
        let t = trusting(
            "          - Effect: Allow\n            Principal: {Federated: !Ref GitHubOidc}\n            Action: sts:AssumeRoleWithWebIdentity\n",
        );
        assert_eq!(
            messages(RuleId::KC032, &t),
            vec!["trust policy admits ${GitHubOidc} without conditions"]
        );
    }
}
