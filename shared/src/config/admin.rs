//! Who may call the admin API locally: `ADMIN_TOKEN`, a bearer that stands in for IAM on a laptop.
//! In AWS the admin routes are IAM-authorized and the template never sets it; a function
//! configured from AWS (any `*_ARN` variable) refuses to start with it, so a token left in a
//! deployed function's environment cannot open the admin API beside IAM.

use secrecy::{ExposeSecret, SecretString};

use super::{ConfigError, Environment};

/// Shortest admin token accepted: 32 bytes (`make dev` generates 64 random hex characters).
const MIN_TOKEN_BYTES: usize = 32;

/// `Some` only on a local run with `ADMIN_TOKEN` set: the admin routes then take that bearer and
/// nothing else; `None`: they take IAM-signed requests only.
#[derive(Debug, Clone, Default)]
pub struct AdminSettings {
    pub token: Option<SecretString>,
}

impl AdminSettings {
    pub(super) fn load(env: &Environment) -> Result<Self, ConfigError> {
        let Some(token) = env.secret("ADMIN_TOKEN") else {
            return Ok(Self::default());
        };
        if token.expose_secret().len() < MIN_TOKEN_BYTES {
            return Err(ConfigError::new(
                "ADMIN_TOKEN",
                format!("must be at least {MIN_TOKEN_BYTES} bytes (make dev generates one)"),
            ));
        }
        if let Some(arn) = env.names_with_suffix("_ARN").next() {
            return Err(ConfigError::new(
                "ADMIN_TOKEN",
                format!(
                    "is for local runs only, and {arn} says this function is configured from AWS, \
                     where the admin routes are IAM-authorized: unset ADMIN_TOKEN"
                ),
            ));
        }
        Ok(AdminSettings { token: Some(token) })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DB, KEY};
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    async fn load(pairs: &[(&str, &str)]) -> Result<AdminSettings, ConfigError> {
        let mut all = vec![DB, KEY];
        all.extend_from_slice(pairs);
        super::super::tests::load(&all)
            .await
            .map(|config| config.admin)
    }

    #[tokio::test]
    async fn no_token_by_default_and_a_long_one_is_taken() {
        assert!(load(&[]).await.unwrap().token.is_none());
        let settings = load(&[("ADMIN_TOKEN", TOKEN)]).await.unwrap();
        assert_eq!(settings.token.unwrap().expose_secret(), TOKEN);
    }

    #[tokio::test]
    async fn a_short_token_is_refused_without_showing_it() {
        let error = load(&[("ADMIN_TOKEN", "short-token")]).await.unwrap_err();
        assert_eq!(error.variable, "ADMIN_TOKEN");
        assert!(!error.to_string().contains("short-token"), "{error}");
    }

    #[tokio::test]
    async fn a_function_configured_from_aws_refuses_to_start_with_a_token() {
        for arn in ["DB_SECRET_ARN", "JWT_PRIVATE_KEY_ARN", "SOMETHING_NEW_ARN"] {
            let env = Environment::from_pairs([
                ("ADMIN_TOKEN", TOKEN),
                (
                    arn,
                    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x",
                ),
            ]);
            let error = AdminSettings::load(&env).unwrap_err();
            assert_eq!(error.variable, "ADMIN_TOKEN", "{arn}");
            assert!(error.to_string().contains(arn), "{error}");
            assert!(!error.to_string().contains(TOKEN), "{error}");
        }
        // An empty *_ARN is unset, as every variable is.
        let env = Environment::from_pairs([("ADMIN_TOKEN", TOKEN), ("DB_SECRET_ARN", "")]);
        assert!(AdminSettings::load(&env).unwrap().token.is_some());
    }
}
