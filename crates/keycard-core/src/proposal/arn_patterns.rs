//! ARN patterns as IAM reads them: parsing, generalising an ARN from the evidence to the
//! granularity a policy is written at, matching, and the conservative "is this pattern inside
//! that one" test every narrowed Resource must pass. Apart from [`super::resources`]' index so
//! the soundness argument of [`pattern_covers`] can be read without the template in mind.

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

/// Whether every ARN matched by `narrower` is matched by `pattern`. Sound, not complete: the
/// narrower pattern's wildcards are treated as symbols that only a `*` of `pattern` may absorb
/// (a `?` of `pattern` also takes a `?`, which stands for exactly one character). If `pattern`
/// matches `narrower` that way, it matches every expansion of it, because each of its `*` can
/// take whatever the absorbed wildcards expanded to. `arn:aws:logs:*:*:*` thus covers
/// `arn:aws:logs:*:123456789012:log-group:x:*`; `b?` never covers `b*`.
pub fn pattern_covers(pattern: &str, narrower: &str) -> bool {
    if pattern == narrower || pattern == "*" {
        return true;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = narrower.chars().collect();
    // One position of `pattern` against one symbol of `narrower` (not for `*` of `pattern`).
    let one = |pc: char, nc: char| match pc {
        '?' => nc != '*',
        _ => nc != '*' && nc != '?' && pc == nc,
    };
    // The greedy matcher with star backtracking of [`crate::policy`], over symbols: a `*` of
    // `pattern` matches any run of them, so the usual argument for its correctness holds.
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<usize> = None;
    let mut mark = 0usize;
    while ni < n.len() {
        if pi < p.len() && p[pi] != '*' && one(p[pi], n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Which parts of a narrowed ARN the original Resource leaves open. Only an open part may be
/// written as a pseudo parameter: a Resource pinned to `eu-west-1` (a replica table, a central
/// bucket) means that region wherever the stack is deployed, so `${AWS::Region}` there would
/// grant, in another region, something the original never granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenPositions {
    pub region: bool,
    pub account: bool,
}

impl OpenPositions {
    /// Every part open (the original Resource is `*` or leaves region and account free).
    pub const ALL: OpenPositions = OpenPositions {
        region: true,
        account: true,
    };
}

/// The parts of `arn` that every value of which one of the `covering` patterns allows: `arn`
/// with its region (account) replaced by `*` must still be covered by one pattern. Region and
/// account are tried together first, so both are open only when one pattern allows both.
pub fn open_positions(covering: &[&str], arn: &str) -> OpenPositions {
    let Some(a) = Arn::parse(arn) else {
        return OpenPositions::default();
    };
    let with = |region: bool, account: bool| {
        format!(
            "arn:{}:{}:{}:{}:{}",
            a.partition,
            a.service,
            if region && !a.region.is_empty() {
                "*"
            } else {
                a.region
            },
            if account && !a.account.is_empty() {
                "*"
            } else {
                a.account
            },
            a.resource
        )
    };
    for (region, account) in [(true, true), (true, false), (false, true)] {
        let candidate = with(region, account);
        if covering.iter().any(|p| pattern_covers(p, &candidate)) {
            return OpenPositions { region, account };
        }
    }
    OpenPositions::default()
}
