//! keycard's AWS edge: one small trait per capability, implemented over the AWS SDK.
//!
//! The step handlers (`keycard-chain`) are generic over these traits, so a test runs a handler
//! against moto (S3, CloudFormation, IAM over HTTP), against SDK mocks (Access Analyzer and
//! drift detection, which no local stand-in implements) or against the in-memory adapters of
//! [`memory`], with the same code that runs in AWS. This crate holds adapters only: no step
//! logic. Every SDK failure becomes an [`AwsError`] whose [`ErrorKind`] says whether trying
//! again can help; `keycard_chain::contract::StepError` turns that into the stable error names
//! the state machine retries or catches.

#![warn(unreachable_pub)]

pub mod access_analyzer;
pub mod cloudformation;
pub mod cloudtrail;
pub mod config;
pub mod error;
pub mod events;
pub mod iam;
pub mod memory;
pub mod s3;
pub mod sns;

pub use access_analyzer::{AccessAnalyzer, PolicyChecks, PolicyGeneration};
pub use cloudformation::{CfnStacks, Stacks};
pub use cloudtrail::{CloudTrailTrails, Trails};
pub use config::{Config, ConfigError};
pub use error::{AwsError, ErrorKind};
pub use events::{EventBridgeBus, EventBus, OutgoingEvent};
pub use iam::{IamRoles, Roles};
pub use s3::{ObjectStore, S3Store};
pub use sns::{SnsTopic, Topic};

/// Every adapter, built from one SDK configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: S3Store,
    pub stacks: CfnStacks,
    pub roles: IamRoles,
    pub analyzer: AccessAnalyzer,
}

impl Clients {
    /// Builds the clients from a loaded SDK configuration. Endpoints come from the standard
    /// places (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`, the shared config file), so
    /// pointing the app at a local stand-in needs no code path of its own.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> Clients {
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(config.s3_force_path_style)
            .build();
        Clients {
            s3: S3Store::new(aws_sdk_s3::Client::from_conf(s3)),
            stacks: CfnStacks::new(aws_sdk_cloudformation::Client::new(sdk)),
            roles: IamRoles::new(aws_sdk_iam::Client::new(sdk)),
            analyzer: AccessAnalyzer::new(aws_sdk_accessanalyzer::Client::new(sdk)),
        }
    }

    /// Loads the SDK configuration the standard way (environment, shared files, the Lambda
    /// execution role) and builds the clients.
    pub async fn load(config: &Config) -> Clients {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Clients::from_sdk_config(&sdk, config)
    }
}

/// The notify Lambda's adapters (EventBridge and SNS), apart from [`Clients`] so that the steps
/// and the CLI do not build clients they never use.
#[derive(Debug, Clone)]
pub struct NotifyClients {
    pub events: EventBridgeBus,
    pub topic: SnsTopic,
}

impl NotifyClients {
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> NotifyClients {
        NotifyClients {
            events: EventBridgeBus::new(aws_sdk_eventbridge::Client::new(sdk)),
            topic: SnsTopic::new(aws_sdk_sns::Client::new(sdk)),
        }
    }

    /// Loads the SDK configuration the standard way, as [`Clients::load`] does.
    pub async fn load() -> NotifyClients {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        NotifyClients::from_sdk_config(&sdk)
    }
}
