use super::*;

fn arn(s: &str) -> GrantedResource {
    GrantedResource::Arn(s.to_string())
}

#[test]
fn a_default_trail_sees_management_events_but_no_data_events() {
    let c = Coverage::default();
    for action in ["s3:GetObject", "dynamodb:GetItem", "lambda:InvokeFunction"] {
        let why = c.why_unobservable(action, &[arn("*")]).unwrap();
        assert!(why.contains("data event"), "{action}: {why}");
    }
    for action in [
        "s3:CreateBucket",
        "dynamodb:DescribeTable",
        "ec2:RunInstances",
        "iam:CreateRole",
    ] {
        assert_eq!(c.why_unobservable(action, &[arn("*")]), None, "{action}");
    }
}

#[test]
fn pass_role_is_derived_from_trails_but_not_from_access_analyzer() {
    let c = Coverage::everything(Basis::Stated);
    assert_eq!(c.why_unobservable("iam:PassRole", &[arn("*")]), None);
    let aa = Coverage::access_analyzer();
    let why = aa.why_unobservable("iam:PassRole", &[arn("*")]).unwrap();
    assert!(why.contains("never records"), "{why}");
    // A trail without write management events cannot show the calls it is derived from.
    let read_only = Coverage {
        management: ReadWrite {
            read: true,
            write: false,
        },
        ..Coverage::default()
    };
    assert!(
        read_only
            .why_unobservable("iam:PassRole", &[arn("*")])
            .is_some()
    );
}

#[test]
fn write_only_management_hides_reads() {
    let c = Coverage {
        management: ReadWrite {
            read: false,
            write: true,
        },
        ..Coverage::default()
    };
    assert!(
        c.why_unobservable("ec2:DescribeInstances", &[arn("*")])
            .is_some()
    );
    assert!(
        c.why_unobservable("ec2:RunInstances", &[arn("*")])
            .is_none()
    );
}

#[test]
fn excluded_kms_and_missing_global_events() {
    let c = Coverage {
        excluded_sources: ["kms.amazonaws.com".to_string()].into(),
        global_service_events: false,
        ..Coverage::default()
    };
    assert!(c.why_unobservable("kms:Decrypt", &[arn("*")]).is_some());
    assert!(c.why_unobservable("iam:GetRole", &[arn("*")]).is_some());
    assert!(
        c.why_unobservable("ec2:RunInstances", &[arn("*")])
            .is_none()
    );
}

#[test]
fn single_region_hides_resources_elsewhere() {
    let c = Coverage {
        regions: Some(["eu-west-1".to_string()].into()),
        ..Coverage::default()
    };
    let here = arn("arn:aws:sqs:eu-west-1:123456789012:orders");
    let there = arn("arn:aws:sqs:us-east-1:123456789012:orders");
    assert!(c.why_unobservable("sqs:CreateQueue", &[here]).is_none());
    assert!(c.why_unobservable("sqs:CreateQueue", &[there]).is_some());
}

#[test]
fn stated_data_events() {
    let c = Coverage::default().with_stated_data_events("s3").unwrap();
    assert!(c.why_unobservable("s3:GetObject", &[arn("*")]).is_none());
    assert!(
        c.why_unobservable("dynamodb:GetItem", &[arn("*")])
            .is_some()
    );
    let all = Coverage::default().with_stated_data_events("all").unwrap();
    assert!(
        all.why_unobservable("dynamodb:GetItem", &[arn("*")])
            .is_none()
    );
    let none = Coverage::default().with_stated_data_events("none").unwrap();
    assert!(none.why_unobservable("s3:GetObject", &[arn("*")]).is_some());
    assert!(
        Coverage::default()
            .with_stated_data_events("bogus")
            .is_err()
    );
}

#[test]
fn gaps_name_what_to_enable() {
    let gaps = Coverage::default().gaps();
    assert!(
        gaps.iter()
            .any(|g| g.what.contains("S3") && g.fix.contains("AWS::S3::Object")),
        "{gaps:#?}"
    );
    assert!(Coverage::everything(Basis::Stated).gaps().is_empty());
}

#[test]
fn a_week_without_records_keeps_every_unseen_action() {
    let mut c = Coverage::everything(Basis::Stated);
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 5, d).unwrap();
    c.period = Some(Period {
        first_day: day(1),
        last_day: day(31),
        covered_days: 20,
        gaps: vec![Gap {
            first_day: day(10),
            last_day: day(20),
            days: 11,
            regions: Vec::new(),
        }],
    });
    let why = c.why_unobservable("ec2:RunInstances", &[arn("*")]).unwrap();
    assert!(why.contains("11 days"), "{why}");
    // A short gap is a quiet spell: reported, but no reason to keep.
    c.period.as_mut().unwrap().gaps[0].days = 4;
    assert_eq!(c.why_unobservable("ec2:RunInstances", &[arn("*")]), None);
}

/// A Lambda function's logging: the log stream is created with a recorded management call,
/// but the events are written with PutLogEvents, which CloudTrail never records. A trail that
/// records everything still cannot show it in use, so it is never removed on trail evidence.
#[test]
fn put_log_events_is_never_recorded_but_create_log_stream_is() {
    let c = Coverage::everything(Basis::Stated);
    let group = arn("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/orders-worker:*");
    let why = c
        .why_unobservable("logs:PutLogEvents", std::slice::from_ref(&group))
        .unwrap();
    assert!(why.contains("PutLogEvents is not among them"), "{why}");
    assert_eq!(c.why_unobservable("logs:CreateLogStream", &[group]), None);
}

fn management_only(read: bool, write: bool) -> Coverage {
    Coverage {
        management: ReadWrite { read, write },
        ..Coverage::default()
    }
}

/// A write-only trail never shows a call CloudTrail logs read-only. KMS cryptographic
/// operations are Write in the IAM catalog but logged read-only (data/cloudtrail-read-only.json):
/// GenerateDataKey is documented, Decrypt is uncertain; either way a write-only trail's silence
/// removes neither. A trail with both kinds sees them.
#[test]
fn a_write_only_trail_never_removes_a_read_or_an_uncertain_action() {
    let write_only = management_only(false, true);
    let key = arn("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    for action in ["kms:GenerateDataKey", "kms:Decrypt", "kms:CreateGrant"] {
        let why = write_only
            .why_unobservable(action, std::slice::from_ref(&key))
            .unwrap_or_else(|| panic!("{action} taken as recorded by a write-only trail"));
        assert!(
            why.contains("write-only management events"),
            "{action}: {why}"
        );
    }
    let why = write_only
        .why_unobservable("kms:Decrypt", std::slice::from_ref(&key))
        .unwrap();
    assert!(
        why.contains("uncertain") && why.contains("docs.aws.amazon.com"),
        "{why}"
    );
    // Writes of other services are recorded by a write-only trail.
    assert_eq!(
        write_only.why_unobservable("logs:CreateLogStream", &[arn("*")]),
        None
    );
    let both = Coverage::default();
    for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
        assert_eq!(
            both.why_unobservable(action, std::slice::from_ref(&key)),
            None,
            "{action}"
        );
    }
}

/// A read-only trail shows documented reads (even where IAM says Write), never writes or
/// uncertain flags.
#[test]
fn a_read_only_trail_sees_reads_only() {
    let read_only = management_only(true, false);
    assert_eq!(
        read_only.why_unobservable("kms:GenerateDataKey", &[arn("*")]),
        None
    );
    assert_eq!(
        read_only.why_unobservable("ec2:DescribeInstances", &[arn("*")]),
        None
    );
    assert!(
        read_only
            .why_unobservable("kms:Decrypt", &[arn("*")])
            .is_some()
    );
    assert!(
        read_only
            .why_unobservable("ec2:RunInstances", &[arn("*")])
            .is_some()
    );
}

/// Data events recorded for one kind only: the same rule per data resource type.
#[test]
fn read_only_data_events_hide_writes() {
    let mut c = Coverage::default();
    c.data.insert(
        "AWS::S3::Object".into(),
        DataScope {
            read_write: ReadWrite {
                read: true,
                write: false,
            },
            arn_prefixes: None,
        },
    );
    let objects = arn("arn:aws:s3:::receipts/*");
    assert_eq!(
        c.why_unobservable("s3:GetObject", std::slice::from_ref(&objects)),
        None
    );
    let why = c.why_unobservable("s3:PutObject", &[objects]).unwrap();
    assert!(
        why.contains("read-only only, and this is a write event"),
        "{why}"
    );
}

/// An action the IAM catalog does not know cannot be placed (management or data event, read or
/// write), so no trail's silence removes it: the unmapped data event types of
/// data/cloudtrail-data-events.json (Clinical Trials Tech, EMR WAL, …) belong to services the
/// catalog does not have.
#[test]
fn an_action_the_catalog_does_not_know_is_never_observable() {
    for c in [Coverage::default(), Coverage::everything(Basis::Stated)] {
        let why = c
            .why_unobservable("clinicaltrialstech:GetStudy", &[arn("*")])
            .unwrap();
        assert!(why.contains("not in the IAM catalog"), "{why}");
        assert!(c.why_unobservable("emrwal:TrimWAL", &[arn("*")]).is_some());
    }
}

/// Rows mapped through the catalog (issue 11's unmapped data event types): their data-plane
/// actions are data events, so a default trail keeps them; the type's own management calls stay
/// management events.
#[test]
fn data_types_mapped_through_the_catalog_keep_their_data_plane_actions() {
    let tables = CoverageTables::embedded().unwrap();
    let types = |a: &str| -> Vec<String> {
        tables
            .data_types_of(a)
            .iter()
            .map(|d| d.resource_type.clone())
            .collect()
    };
    assert_eq!(
        types("iotsitewise:InvokeAssistant"),
        vec!["AWS::SitewiseAssistant::Conversation".to_string()]
    );
    assert!(
        types("acm:RevokeAcmeAccount")
            .contains(&"AWS::CertificateManager::AcmeEndpoint".to_string())
    );
    assert!(
        types("acm:CreateAcmeEndpoint").is_empty(),
        "a management call"
    );
    assert!(
        types("backup:DeleteBackupAccessPoint").is_empty(),
        "a management call"
    );
    let c = Coverage::default();
    let why = c
        .why_unobservable("iotsitewise:InvokeAssistant", &[arn("*")])
        .unwrap();
    assert!(
        why.contains("AWS::SitewiseAssistant::Conversation"),
        "{why}"
    );
    let stated = Coverage::default()
        .with_stated_data_events("AWS::SitewiseAssistant::Conversation")
        .unwrap();
    assert_eq!(
        stated.why_unobservable("iotsitewise:InvokeAssistant", &[arn("*")]),
        None
    );
}
