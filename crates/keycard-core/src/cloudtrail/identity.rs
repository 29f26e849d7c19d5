//! Who a record's permissions belong to.
//!
//! keycard shrinks the policies of roles and users, so a record counts for the principal
//! whose *permission policies* authorized the call:
//!
//! | userIdentity.type | counted for |
//! |---|---|
//! | `AssumedRole` | `sessionContext.sessionIssuer.arn` (the role). With an empty issuer, the role named in the `assumed-role/<name>/<session>` ARN (path unknown, see below) |
//! | `IAMUser` | `userIdentity.arn` |
//! | `Root` | `arn:<partition>:iam::<account>:root` |
//! | `FederatedUser` | the issuing IAM user (`sessionIssuer`): a federation token can never exceed the user's own policies |
//! | `AWSService`, `AWSAccount`, `SAMLUser`, `WebIdentityUser`, `IdentityCenterUser`, others | nobody: the caller is outside the account's IAM policies. An AWS service assuming a role puts the role in `resources[]`; that is the trust policy at work, not the role's use |
//!
//! Role names are unique per account regardless of path, and IAM compares them without case,
//! so principals are matched on (partition, account, kind, lowercased name): a requested
//! `arn:aws:iam::1:role/service-role/App` matches an assumed-role ARN that has no path.

use std::borrow::Cow;

use super::record::UserIdentity;

/// The principal a record is attributed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribution<'a> {
    /// The ARN to report, and whether it is exact (false when a role's path had to be left
    /// out because the record did not carry it).
    Principal { arn: Cow<'a, str>, exact: bool },
    /// Not any IAM principal of the account; the label says which kind of caller it was.
    Other(&'static str),
}

/// Attributes a record's `userIdentity` (absent for Insights events).
pub fn attribute<'a>(ui: Option<&'a UserIdentity<'a>>) -> Attribution<'a> {
    let Some(ui) = ui else {
        return Attribution::Other("no userIdentity");
    };
    let issuer = ui
        .session_context
        .get()
        .and_then(|c| c.session_issuer.get());
    match ui.kind.get().unwrap_or_default() {
        "AssumedRole" => {
            if let Some(i) = issuer {
                let kind_ok = matches!(i.kind.get(), None | Some("Role"));
                if let Some(arn) = i
                    .arn
                    .non_empty()
                    .filter(|a| kind_ok && a.contains(":role/"))
                {
                    return Attribution::Principal {
                        arn: Cow::Borrowed(arn),
                        exact: true,
                    };
                }
            }
            match ui.arn.non_empty().and_then(role_from_assumed_role_arn) {
                Some(arn) => Attribution::Principal {
                    arn: Cow::Owned(arn),
                    exact: false,
                },
                None => Attribution::Other("AssumedRole without role"),
            }
        }
        "IAMUser" => match ui.arn.non_empty().filter(|a| a.contains(":user/")) {
            Some(arn) => Attribution::Principal {
                arn: Cow::Borrowed(arn),
                exact: true,
            },
            None => Attribution::Other("IAMUser without ARN"),
        },
        "Root" => {
            let arn = ui.arn.non_empty().filter(|a| a.ends_with(":root"));
            match arn {
                Some(arn) => Attribution::Principal {
                    arn: Cow::Borrowed(arn),
                    exact: true,
                },
                None => match ui.account_id.non_empty() {
                    Some(acct) => Attribution::Principal {
                        arn: Cow::Owned(format!("arn:aws:iam::{acct}:root")),
                        exact: true,
                    },
                    None => Attribution::Other("Root without account"),
                },
            }
        }
        "FederatedUser" => {
            match issuer
                .and_then(|i| i.arn.non_empty())
                .filter(|a| a.contains(":user/") || a.ends_with(":root"))
            {
                Some(arn) => Attribution::Principal {
                    arn: Cow::Borrowed(arn),
                    exact: true,
                },
                None => Attribution::Other("FederatedUser without issuing user"),
            }
        }
        "AWSService" => Attribution::Other("AWSService"),
        "AWSAccount" => Attribution::Other("AWSAccount"),
        "SAMLUser" => Attribution::Other("SAMLUser"),
        "WebIdentityUser" => Attribution::Other("WebIdentityUser"),
        "IdentityCenterUser" => Attribution::Other("IdentityCenterUser"),
        "" => Attribution::Other("userIdentity without type"),
        _ => Attribution::Other("other identity type"),
    }
}

/// `arn:partition:service:region:account:resource` → `(partition, service, account, resource)`;
/// `None` when it is not an ARN with all six parts (the resource keeps any further `:`).
fn split_arn(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(_), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some((partition, service, account, resource))
}

/// `arn:aws:sts::123:assumed-role/Name/session` → `arn:aws:iam::123:role/Name`.
fn role_from_assumed_role_arn(arn: &str) -> Option<String> {
    let (partition, "sts", account, resource) = split_arn(arn)? else {
        return None;
    };
    let rest = resource.strip_prefix("assumed-role/")?;
    let name = rest.split('/').next().filter(|n| !n.is_empty())?;
    Some(format!("arn:{partition}:iam::{account}:role/{name}"))
}

/// Identity of a principal independent of ARN spelling (path, case of the name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrincipalKey {
    pub partition: String,
    pub account: String,
    /// `role`, `user` or `root`.
    pub kind: &'static str,
    /// Lowercased name (empty for root).
    pub name: String,
}

impl PrincipalKey {
    /// Parses an IAM role/user/root ARN or an STS assumed-role ARN.
    pub fn from_arn(arn: &str) -> Option<PrincipalKey> {
        let (partition, service, account, resource) = split_arn(arn)?;
        let last = |r: &str| {
            r.rsplit('/')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
        };
        let (kind, name) = match service {
            "iam" if resource == "root" => ("root", String::new()),
            "iam" if resource.starts_with("role/") => ("role", last(resource)),
            "iam" if resource.starts_with("user/") => ("user", last(resource)),
            "sts" => {
                let rest = resource.strip_prefix("assumed-role/")?;
                ("role", rest.split('/').next()?.to_ascii_lowercase())
            }
            _ => return None,
        };
        if kind != "root" && name.is_empty() {
            return None;
        }
        Some(PrincipalKey {
            partition: partition.to_string(),
            account: account.to_string(),
            kind,
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudtrail::record::for_each_record;

    fn attribute_json(ui: &str) -> Attribution<'static> {
        let json = format!(r#"{{"Records":[{{"userIdentity":{ui}}}]}}"#);
        let mut out = Attribution::Other("none");
        for_each_record(json.as_bytes(), |r| {
            out = match attribute(r.user_identity.get()) {
                Attribution::Principal { arn, exact } => Attribution::Principal {
                    arn: Cow::Owned(arn.into_owned()),
                    exact,
                },
                Attribution::Other(o) => Attribution::Other(o),
            };
        })
        .unwrap();
        out
    }

    fn principal(arn: &str, exact: bool) -> Attribution<'static> {
        Attribution::Principal {
            arn: Cow::Owned(arn.to_string()),
            exact,
        }
    }

    #[test]
    fn every_identity_type() {
        let cases = [
            (
                r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/App/s","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::1:role/service-role/App"}}}"#,
                principal("arn:aws:iam::1:role/service-role/App", true),
            ),
            (
                r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/App/s","sessionContext":{"sessionIssuer":{}}}"#,
                principal("arn:aws:iam::1:role/App", false),
            ),
            (
                r#"{"type":"AssumedRole","sessionContext":{"sessionIssuer":{}}}"#,
                Attribution::Other("AssumedRole without role"),
            ),
            (
                r#"{"type":"IAMUser","arn":"arn:aws:iam::1:user/ci/deployer"}"#,
                principal("arn:aws:iam::1:user/ci/deployer", true),
            ),
            (
                r#"{"type":"Root","arn":"arn:aws:iam::1:root","accountId":"1"}"#,
                principal("arn:aws:iam::1:root", true),
            ),
            (
                r#"{"type":"FederatedUser","arn":"arn:aws:sts::1:federated-user/bob","sessionContext":{"sessionIssuer":{"type":"IAMUser","arn":"arn:aws:iam::1:user/bob"}}}"#,
                principal("arn:aws:iam::1:user/bob", true),
            ),
            (
                r#"{"type":"AWSService","invokedBy":"lambda.amazonaws.com"}"#,
                Attribution::Other("AWSService"),
            ),
            (
                r#"{"type":"AWSAccount","accountId":"999","principalId":"AIDA:x"}"#,
                Attribution::Other("AWSAccount"),
            ),
            (
                r#"{"type":"SAMLUser","principalId":"x","userName":"alice"}"#,
                Attribution::Other("SAMLUser"),
            ),
            (
                r#"{"type":"WebIdentityUser","principalId":"accounts.google.com:1","userName":"1"}"#,
                Attribution::Other("WebIdentityUser"),
            ),
            (
                r#"{"type":"IdentityCenterUser","accountId":"1","onBehalfOf":{"userId":"u"}}"#,
                Attribution::Other("IdentityCenterUser"),
            ),
            (r#"null"#, Attribution::Other("no userIdentity")),
            (
                r#"{"type":"Role","arn":"arn:aws:iam::1:role/x"}"#,
                Attribution::Other("other identity type"),
            ),
        ];
        for (ui, want) in cases {
            assert_eq!(attribute_json(ui), want, "{ui}");
        }
    }

    #[test]
    fn keys_ignore_path_and_case() {
        let a = PrincipalKey::from_arn("arn:aws:iam::1:role/service-role/App").unwrap();
        let b = PrincipalKey::from_arn("arn:aws:iam::1:role/app").unwrap();
        let c = PrincipalKey::from_arn("arn:aws:sts::1:assumed-role/App/session").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_ne!(
            a,
            PrincipalKey::from_arn("arn:aws:iam::2:role/App").unwrap()
        );
        assert_ne!(
            a,
            PrincipalKey::from_arn("arn:aws:iam::1:user/App").unwrap()
        );
        assert_eq!(
            PrincipalKey::from_arn("arn:aws:iam::1:root").unwrap().kind,
            "root"
        );
        assert!(PrincipalKey::from_arn("arn:aws:s3:::bucket").is_none());
        assert!(PrincipalKey::from_arn("not an arn").is_none());
        assert!(PrincipalKey::from_arn("arn:aws:iam::1:role/").is_none());
    }
}
