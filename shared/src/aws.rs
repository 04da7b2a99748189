//! AWS access, built only when a function needs it: secrets read once per cold start, SES email.

use std::sync::Arc;

use anyhow::Context;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_secretsmanager::config::BehaviorVersion;
use aws_types::SdkConfig;
use aws_types::region::Region;
use secrecy::SecretString;
use tokio::sync::OnceCell;

mod https;

/// The AWS SDK configuration, loaded lazily: functions that touch no AWS API never load it, and
/// local runs without AWS variables never look for credentials. Clones share one configuration.
#[derive(Clone, Default)]
pub struct Aws {
    sdk: Arc<OnceCell<SdkConfig>>,
}

impl Aws {
    /// Region, credentials and endpoint from the variables Lambda sets (see [`lambda_sdk_config`]).
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
            .get_or_init(|| async { lambda_sdk_config(|name| std::env::var(name).ok()) })
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

/// The SDK configuration of a Lambda function, from the variables Lambda sets: `AWS_REGION` and
/// the execution role's `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`,
/// plus `AWS_ENDPOINT_URL` when set (an emulator, in tests) and `AWS_CA_BUNDLE` (the PEM
/// certificates that replace the Mozilla roots, as in every AWS SDK). This is the first link of the SDK's
/// default chain, and in Lambda the one that answers; the `aws-config` crate would bring the
/// whole chain (profiles, web identity and the STS client, container and instance metadata):
/// measured, 0.69 MB more in every function that reads a secret and 0.88 MB in migrate, over
/// the 6 MB budget (README, Budgets). Without credentials the calls fail with the SDK's own
/// error, as they would with the chain. The HTTP client is ours ([`https`]: HTTP/1.1, rustls
/// with ring; the SDK's default would bring aws-lc, a second crypto library); retries, timeouts
/// and the identity cache are the SDK's defaults for the behaviour version.
pub fn lambda_sdk_config(var: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let var = |name: &str| var(name).filter(|value| !value.trim().is_empty());
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(https::client(https::roots(var("AWS_CA_BUNDLE").as_deref())));
    config.set_region(
        var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .map(Region::new),
    );
    if let (Some(key_id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        let credentials = Credentials::new(
            key_id,
            secret,
            var("AWS_SESSION_TOKEN"),
            None,
            "Lambda environment",
        );
        config.set_credentials_provider(Some(SharedCredentialsProvider::new(credentials)));
    }
    config.set_endpoint_url(var("AWS_ENDPOINT_URL"));
    config.build()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_credential_types::provider::ProvideCredentials;

    use super::*;

    fn config_of(pairs: &[(&str, &str)]) -> SdkConfig {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        lambda_sdk_config(|name| vars.get(name).cloned())
    }

    #[tokio::test]
    async fn reads_what_lambda_sets() {
        let config = config_of(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session"),
        ]);
        assert_eq!(config.region().map(Region::as_ref), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), None);
        let credentials = config
            .credentials_provider()
            .expect("a credentials provider")
            .provide_credentials()
            .await
            .expect("credentials");
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("session"));
    }

    #[test]
    fn missing_or_blank_variables_leave_the_settings_unset() {
        let config = config_of(&[
            ("AWS_DEFAULT_REGION", "us-east-2"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", " "),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:45123"),
        ]);
        assert_eq!(config.region().map(Region::as_ref), Some("us-east-2"));
        assert!(config.credentials_provider().is_none());
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:45123"));
    }
}
