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
