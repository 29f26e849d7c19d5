//! KC031: a trust policy admitting another account without conditions.

use crate::check::model::{Model, StatementSite, flat_text};

super::rule!(
    KC031,
    "trust-other-account-unconditioned",
    High,
    "A role trust policy admits another AWS account without conditions.",
    "Every principal the other account allows can assume this role. Trust a specific role ARN and require sts:ExternalId or aws:PrincipalOrgID (confused-deputy protection).",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html"
);

pub(super) fn check(s: &StatementSite<'_>, _: &Model<'_>) -> Option<String> {
    let principal = super::kc030_trust_open_to_everyone::unconditioned_trust(s)?;
    let aws = principal.get("AWS")?;
    let found: Vec<String> = super::kc030_trust_open_to_everyone::items(aws)
        .into_iter()
        // `!GetAtt` of a role in this stack has no text: same account.
        .filter_map(flat_text)
        .filter(|t| t.trim() != "*" && !t.contains("${AWS::AccountId}"))
        .map(|t| format!("trust policy admits {t} without conditions"))
        .collect();
    (!found.is_empty()).then(|| found.join("; "))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, trusting};
    use crate::check::RuleId;

    #[test]
    fn another_account_but_not_this_one() {
        let t = trusting(
            "          - Effect: Allow\n            Principal: {AWS: [arn:aws:iam::210987654321:root, !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root']}\n            Action: sts:AssumeRole\n",
        );
        assert_eq!(
            messages(RuleId::KC031, &t),
            vec!["trust policy admits arn:aws:iam::210987654321:root without conditions"]
        );
    }
}
