//! Resource ARNs of an action, only where the record makes them certain.
//!
//! A resource listed for an action becomes a `Resource` in a proposed policy, so a wrong ARN
//! breaks the workload. Sources, in order of trust: `resources[]` entries of the action's own
//! service (CloudTrail resolved them), then requestParameters fields that name the resource
//! unambiguously (a table name within the record's account and region, a queue URL, an ARN).
//! Names that do not determine an ARN (a Secrets Manager secret name lacks the random suffix, a
//! KMS alias is not the key, an IAM role name lacks its path) yield nothing, which means `*`.

use super::mapping::ResourceRule;
use super::record::{Obj, RequestParameters, ResourceRef};

/// Account, region and partition of the record, for building ARNs from names.
#[derive(Debug, Clone, Copy)]
pub struct Context<'r> {
    pub partition: &'r str,
    pub region: &'r str,
    pub account: &'r str,
}

/// The partition a region belongs to.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

/// The ARNs for one planned action. `action` is `prefix:Name` (catalog casing).
pub fn resources_for(
    action: &str,
    rule: &ResourceRule,
    fixed: Option<&str>,
    params: Option<&RequestParameters<'_>>,
    listed: &[Obj<ResourceRef<'_>>],
    ctx: Context<'_>,
    out: &mut Vec<String>,
) {
    let prefix = action.split(':').next().unwrap_or_default();
    let name = action.split(':').nth(1).unwrap_or_default();
    match rule {
        ResourceRule::None => {}
        ResourceRule::CopySource => {
            out.extend(
                params
                    .and_then(|p| p.copy_source.non_empty())
                    .and_then(|src| s3_copy_source(src, ctx)),
            );
        }
        ResourceRule::ArnParam(field) => {
            if let Some(v) = params
                .and_then(|p| p.by_name(field))
                .and_then(|s| s.non_empty())
                .filter(|v| v.starts_with("arn:"))
            {
                out.push(v.to_string());
            }
        }
        ResourceRule::KmsKeyParam(field) => {
            out.extend(
                params
                    .and_then(|p| p.by_name(field))
                    .and_then(|s| s.non_empty())
                    .and_then(|v| kms_key(v, ctx)),
            );
        }
        ResourceRule::Default => {
            if let Some(table) = fixed {
                out.extend(dynamodb_table(table, ctx));
            } else {
                from_listed(prefix, listed, out);
                if let Some(p) = params {
                    from_params(prefix, name, p, ctx, out);
                }
            }
        }
    }
    out.sort();
    out.dedup();
}

/// `resources[]` ARNs of the action's own service. S3 is left to requestParameters: its
/// records list both the object and the bucket for object calls, and only one of them is the
/// action's resource.
fn from_listed(prefix: &str, listed: &[Obj<ResourceRef<'_>>], out: &mut Vec<String>) {
    if prefix == "s3" {
        return;
    }
    for r in listed.iter().filter_map(Obj::get) {
        let Some(arn) = r.arn.non_empty() else {
            continue;
        };
        let service = arn.split(':').nth(2).unwrap_or_default();
        // sts:AssumeRole lists the role (an iam ARN) it assumes.
        if service == prefix || (prefix == "sts" && service == "iam") {
            out.push(arn.to_string());
        }
    }
}

fn from_params(
    prefix: &str,
    name: &str,
    p: &RequestParameters<'_>,
    ctx: Context<'_>,
    out: &mut Vec<String>,
) {
    let Context {
        partition,
        region,
        account,
    } = ctx;
    let mut push = |s: Option<String>| {
        if let Some(s) = s {
            out.push(s);
        }
    };
    match prefix {
        "s3" => {
            if let Some(bucket) = p.bucket_name.non_empty().filter(|b| valid_bucket(b)) {
                push(Some(match p.key.non_empty() {
                    Some(key) => cat(&["arn:", partition, ":s3:::", bucket, "/", key]),
                    None => cat(&["arn:", partition, ":s3:::", bucket]),
                }));
            }
        }
        "dynamodb" => push(
            p.table_name
                .non_empty()
                .and_then(|t| dynamodb_table(t, ctx)),
        ),
        "lambda" => push(
            p.function_name
                .non_empty()
                .and_then(|f| lambda_function(f, ctx)),
        ),
        "sqs" => push(
            p.queue_url
                .non_empty()
                .and_then(|u| sqs_queue(u, partition)),
        ),
        "sns" => {
            for v in [&p.topic_arn, &p.target_arn] {
                push(
                    v.non_empty()
                        .filter(|a| a.starts_with("arn:"))
                        .map(str::to_string),
                );
            }
        }
        "secretsmanager" => push(
            p.secret_id
                .non_empty()
                .filter(|a| a.starts_with("arn:"))
                .map(str::to_string),
        ),
        "kms" => push(p.key_id.non_empty().and_then(|k| kms_key(k, ctx))),
        "logs" => {
            if let Some(group) = p
                .log_group_name
                .non_empty()
                .filter(|_| known(account, region))
            {
                let group_arn = [
                    "arn:",
                    partition,
                    ":logs:",
                    region,
                    ":",
                    account,
                    ":log-group:",
                    group,
                ];
                push(Some(match p.log_stream_name.non_empty() {
                    Some(stream) => {
                        let mut arn = cat(&group_arn);
                        arn.push_str(":log-stream:");
                        arn.push_str(stream);
                        arn
                    }
                    None => cat(&group_arn),
                }));
            }
        }
        "ssm" if name.contains("Parameter") && !name.contains("Parameters") => {
            if let Some(n) = p.name.non_empty().filter(|_| known(account, region)) {
                push(Some(if n.starts_with("arn:") {
                    n.to_string()
                } else {
                    let n = n.strip_prefix('/').unwrap_or(n);
                    format!("arn:{partition}:ssm:{region}:{account}:parameter/{n}")
                }));
            }
        }
        "states" => push(
            p.state_machine_arn
                .non_empty()
                .filter(|a| a.starts_with("arn:"))
                .map(str::to_string),
        ),
        "kinesis" => {
            push(
                p.stream_arn
                    .non_empty()
                    .filter(|a| a.starts_with("arn:"))
                    .map(str::to_string),
            );
            if p.stream_arn.non_empty().is_none() {
                push(
                    p.stream_name
                        .non_empty()
                        .filter(|_| known(account, region))
                        .map(|s| format!("arn:{partition}:kinesis:{region}:{account}:stream/{s}")),
                );
            }
        }
        "firehose" => push(
            p.delivery_stream_name
                .non_empty()
                .filter(|_| known(account, region))
                .map(|s| format!("arn:{partition}:firehose:{region}:{account}:deliverystream/{s}")),
        ),
        "ecr" => push(
            p.repository_name
                .non_empty()
                .filter(|_| known(account, region))
                .map(|s| format!("arn:{partition}:ecr:{region}:{account}:repository/{s}")),
        ),
        "sts" => push(
            p.role_arn
                .non_empty()
                .filter(|a| a.starts_with("arn:"))
                .map(str::to_string),
        ),
        _ => {}
    }
}

/// The parts joined, allocated once (ARNs are built for most records; `format!` cost more).
fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

fn known(account: &str, region: &str) -> bool {
    !account.is_empty() && !region.is_empty()
}

fn valid_bucket(b: &str) -> bool {
    !b.is_empty() && !b.contains('/') && !b.contains(':')
}

/// `x-amz-copy-source`: `bucket/key`, optionally `/`-prefixed, URL-encoded, with
/// `?versionId=`. Access-point ARN sources are left out (not certain which ARN IAM checks).
fn s3_copy_source(src: &str, ctx: Context<'_>) -> Option<String> {
    let src = src.strip_prefix('/').unwrap_or(src);
    if src.starts_with("arn:") {
        return None;
    }
    let src = src.split('?').next()?;
    let (bucket, key) = src.split_once('/')?;
    if !valid_bucket(bucket) || key.is_empty() {
        return None;
    }
    Some(format!(
        "arn:{}:s3:::{bucket}/{}",
        ctx.partition,
        percent_decode(key)?
    ))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn dynamodb_table(t: &str, ctx: Context<'_>) -> Option<String> {
    if t.starts_with("arn:") {
        return Some(t.to_string());
    }
    known(ctx.account, ctx.region).then(|| {
        cat(&[
            "arn:",
            ctx.partition,
            ":dynamodb:",
            ctx.region,
            ":",
            ctx.account,
            ":table/",
            t,
        ])
    })
}

/// A function name, name:qualifier, or full ARN. Partial ARNs (`123:function:f`) are left out.
fn lambda_function(f: &str, ctx: Context<'_>) -> Option<String> {
    if f.starts_with("arn:") {
        return Some(f.to_string());
    }
    if f.contains(":function:") || f.split(':').count() > 2 {
        return None;
    }
    known(ctx.account, ctx.region).then(|| {
        cat(&[
            "arn:",
            ctx.partition,
            ":lambda:",
            ctx.region,
            ":",
            ctx.account,
            ":function:",
            f,
        ])
    })
}

/// `https://sqs.<region>.amazonaws.com/<account>/<name>` (or the legacy
/// `https://<region>.queue.amazonaws.com/…`) → `arn:…:sqs:<region>:<account>:<name>`.
fn sqs_queue(url: &str, partition: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let mut labels = host.split('.');
    let region = match (labels.next()?, labels.next()?) {
        ("sqs", region) => region,
        (region, "queue") => region,
        _ => return None,
    };
    let mut segs = path.split('/');
    let account = segs.next()?;
    let name = segs.next()?;
    if account.len() != 12 || !account.bytes().all(|c| c.is_ascii_digit()) || name.is_empty() {
        return None;
    }
    Some(cat(&[
        "arn:", partition, ":sqs:", region, ":", account, ":", name,
    ]))
}

/// A key ARN, or a key id (UUID or multi-Region `mrk-…`). Aliases are not the key IAM checks.
fn kms_key(k: &str, ctx: Context<'_>) -> Option<String> {
    if k.starts_with("arn:") {
        return k.contains(":key/").then(|| k.to_string());
    }
    let uuid_like = k.len() == 36 && k.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-');
    let mrk = k.starts_with("mrk-") && k[4..].bytes().all(|c| c.is_ascii_hexdigit());
    ((uuid_like || mrk) && known(ctx.account, ctx.region)).then(|| {
        format!(
            "arn:{}:kms:{}:{}:key/{k}",
            ctx.partition, ctx.region, ctx.account
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: Context<'static> = Context {
        partition: "aws",
        region: "eu-west-1",
        account: "123456789012",
    };

    #[test]
    fn parsers() {
        assert_eq!(
            sqs_queue(
                "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
                "aws"
            )
            .as_deref(),
            Some("arn:aws:sqs:eu-west-1:123456789012:orders")
        );
        assert_eq!(
            sqs_queue(
                "https://us-east-1.queue.amazonaws.com/123456789012/q.fifo",
                "aws"
            )
            .as_deref(),
            Some("arn:aws:sqs:us-east-1:123456789012:q.fifo")
        );
        assert_eq!(sqs_queue("https://example.com/x", "aws"), None);
        assert_eq!(sqs_queue("orders", "aws"), None);
        assert_eq!(
            s3_copy_source("/src-bucket/a%20b/c.json?versionId=3", CTX).as_deref(),
            Some("arn:aws:s3:::src-bucket/a b/c.json")
        );
        assert_eq!(s3_copy_source("bucket", CTX), None);
        assert_eq!(s3_copy_source("b/%zz", CTX), None);
        assert_eq!(
            s3_copy_source("b/ends%2", CTX).as_deref(),
            Some("arn:aws:s3:::b/ends%2")
        );
        assert_eq!(
            kms_key("0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", CTX).as_deref(),
            Some("arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d")
        );
        assert_eq!(kms_key("alias/app", CTX), None);
        assert_eq!(kms_key("arn:aws:kms:eu-west-1:1:alias/app", CTX), None);
        assert_eq!(lambda_function("123:function:f", CTX), None);
        assert_eq!(
            lambda_function("f:live", CTX).as_deref(),
            Some("arn:aws:lambda:eu-west-1:123456789012:function:f:live")
        );
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("eu-west-1"), "aws");
    }

    #[test]
    fn unknown_account_or_region_builds_nothing() {
        let ctx = Context {
            partition: "aws",
            region: "",
            account: "123456789012",
        };
        assert_eq!(dynamodb_table("orders", ctx), None);
        assert_eq!(
            dynamodb_table("arn:aws:dynamodb:eu-west-1:1:table/t", ctx).as_deref(),
            Some("arn:aws:dynamodb:eu-west-1:1:table/t")
        );
    }
}
