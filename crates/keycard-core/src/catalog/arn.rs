//! Matching concrete ARNs (and ARN patterns from policies) to the catalog's ARN formats.
//!
//! The proposal scopes an action to the ARNs it was seen on, and must know which of an
//! action's resource types an ARN is: `arn:aws:s3:::orders/2024/a.json` is an S3 `object`, not
//! a `bucket`. ARN formats are templates such as
//! `arn:${Partition}:s3:::${BucketName}/${ObjectName}`; the rules here are:
//!
//! - literal text matches itself exactly (ARNs are case-sensitive);
//! - a `${Variable}` matches a non-empty run of characters without `:`, because `:` separates
//!   ARN fields and qualifiers (`function:${FunctionName}` must not match
//!   `function:orders:live`, which is a `function alias`);
//! - the last variable of a format, when it directly follows `/`, matches any non-empty rest,
//!   `:` included: object keys and paths may contain anything.
//!
//! `/` is allowed inside variables (log group names, role paths and SSM parameter names contain
//! it), so a format can match more than one type (an object ARN also fits the bucket format);
//! matches are therefore ranked by specificity, the format with the most literal text first.

/// One piece of a parsed ARN format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Literal(&'a str),
    /// A variable; `rest` when it may swallow the remainder of the ARN.
    Var {
        rest: bool,
    },
}

fn tokenize(format: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = format;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest.get(start..).and_then(|r| r.find('}')) else {
            break;
        };
        if start > 0 {
            tokens.push(Token::Literal(rest.get(..start).unwrap_or("")));
        }
        tokens.push(Token::Var { rest: false });
        rest = rest.get(start + len + 1..).unwrap_or("");
    }
    if !rest.is_empty() {
        tokens.push(Token::Literal(rest));
    }
    if let [.., Token::Literal(before), Token::Var { rest }] = tokens.as_mut_slice()
        && before.ends_with('/')
    {
        *rest = true;
    }
    tokens
}

/// Number of literal bytes in a format: the ranking key for specificity.
pub(super) fn literal_len(format: &str) -> usize {
    tokenize(format)
        .iter()
        .map(|t| match t {
            Token::Literal(s) => s.len(),
            Token::Var { .. } => 0,
        })
        .sum()
}

/// The service field of an ARN or ARN format (`arn:aws:s3:::b` → `s3`).
pub(super) fn arn_service(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(4, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_), Some(service)) if !service.is_empty() => Some(service),
        _ => None,
    }
}

/// Whether `arn` fits `format` under the rules in the module docs.
///
/// A dynamic programme over (token, position), so hostile input cannot make it exponential:
/// at most tokens × ARN length × run length steps, and runs stop at the next `:`.
pub(super) fn matches(format: &str, arn: &str) -> bool {
    let bytes = arn.as_bytes();
    let n = bytes.len();
    let mut reachable = vec![false; n + 1];
    reachable[0] = true;
    for token in tokenize(format) {
        let mut next = vec![false; n + 1];
        let mut any = false;
        for p in (0..=n).filter(|&p| reachable[p]) {
            match token {
                Token::Literal(lit) => {
                    if bytes.get(p..p + lit.len()) == Some(lit.as_bytes()) {
                        next[p + lit.len()] = true;
                        any = true;
                    }
                }
                Token::Var { rest: true } => {
                    if p < n {
                        next[n] = true;
                        any = true;
                    }
                }
                Token::Var { rest: false } => {
                    let mut q = p;
                    while q < n && bytes[q] != b':' {
                        q += 1;
                        next[q] = true;
                        any = true;
                    }
                }
            }
        }
        if !any {
            return false;
        }
        reachable = next;
    }
    reachable[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_formats() {
        assert_eq!(
            tokenize("arn:${Partition}:s3:::${BucketName}/${ObjectName}"),
            [
                Token::Literal("arn:"),
                Token::Var { rest: false },
                Token::Literal(":s3:::"),
                Token::Var { rest: false },
                Token::Literal("/"),
                Token::Var { rest: true },
            ]
        );
        assert_eq!(literal_len("arn:${Partition}:s3:::${BucketName}"), 10);
        // An unterminated placeholder is literal text, not a panic.
        assert_eq!(
            tokenize("arn:${Partition"),
            [Token::Literal("arn:${Partition")]
        );
    }

    #[test]
    fn matches_by_the_documented_rules() {
        let object = "arn:${Partition}:s3:::${BucketName}/${ObjectName}";
        let bucket = "arn:${Partition}:s3:::${BucketName}";
        assert!(matches(object, "arn:aws:s3:::orders/2024/01/a:b.json"));
        assert!(!matches(object, "arn:aws:s3:::orders"));
        assert!(!matches(object, "arn:aws:s3:::orders/"));
        assert!(matches(bucket, "arn:aws:s3:::orders"));
        assert!(!matches(bucket, "arn:aws:s3:::"));

        let function = "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}";
        let alias =
            "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}:${Alias}";
        let f = "arn:aws:lambda:us-east-1:123456789012:function:orders";
        let a = "arn:aws:lambda:us-east-1:123456789012:function:orders:live";
        assert!(matches(function, f) && !matches(function, a));
        assert!(matches(alias, a) && !matches(alias, f));

        let log_group = "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}";
        assert!(matches(
            log_group,
            "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/orders"
        ));
        // Global services have an empty region in the format; a region there does not fit.
        let role = "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}";
        assert!(matches(
            role,
            "arn:aws:iam::123456789012:role/service-role/orders"
        ));
        assert!(!matches(
            role,
            "arn:aws:iam:us-east-1:123456789012:role/orders"
        ));
        assert!(!matches(role, ""));
    }

    #[test]
    fn reads_the_service_field() {
        assert_eq!(arn_service("arn:aws:s3:::b"), Some("s3"));
        assert_eq!(
            arn_service("arn:${Partition}:iam::${Account}:role/x"),
            Some("iam")
        );
        assert_eq!(arn_service("arn:aws::"), None);
        assert_eq!(arn_service("not-an-arn"), None);
    }
}
