//! AWS access, built only when a function needs it: secrets read once per cold start, SES email.

use std::sync::Arc;

use anyhow::Context;
use aws_config::{BehaviorVersion, SdkConfig};
use secrecy::SecretString;
use tokio::sync::OnceCell;

/// The AWS SDK configuration, loaded lazily: functions that touch no AWS API never load it, and
/// local runs without AWS variables never look for credentials. Clones share one configuration.
#[derive(Clone, Default)]
pub struct Aws {
    sdk: Arc<OnceCell<SdkConfig>>,
}

impl Aws {
    /// Credentials, region and endpoint from the standard sources (the Lambda role in AWS;
    /// `AWS_ENDPOINT_URL` points the SDK at an emulator in tests).
    pub fn from_environment() -> Self {
        Aws::default()
    }

    /// A fixed SDK configuration (tests against an emulator).
    pub fn with_config(sdk: SdkConfig) -> Self {
        Aws {
            sdk: Arc::new(OnceCell::new_with(Some(sdk))),
        }
    }

    /// The SDK configuration, loaded on first use.
    pub async fn sdk(&self) -> &SdkConfig {
        self.sdk
            .get_or_init(|| aws_config::load_defaults(BehaviorVersion::latest()))
            .await
    }

    /// The string value of a Secrets Manager secret.
    pub async fn secret_string(&self, secret_id: &str) -> anyhow::Result<SecretString> {
        let client = aws_sdk_secretsmanager::Client::new(self.sdk().await);
        let output = client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(aws_sdk_secretsmanager::Error::from)
            .context("GetSecretValue failed")?;
        output
            .secret_string
            .map(SecretString::from)
            .context("the secret has no string value")
    }

    /// An SES v2 client.
    pub async fn ses(&self) -> aws_sdk_sesv2::Client {
        aws_sdk_sesv2::Client::new(self.sdk().await)
    }
}
