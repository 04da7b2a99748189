//! Who may introspect tokens (RFC 7662): `INTROSPECTION_CLIENTS` (or
//! `INTROSPECTION_CLIENTS_ARN` in AWS, a Secrets Manager secret holding the same text),
//! comma-separated `client_id:secret` pairs. Empty: introspection refuses every caller.

use secrecy::{ExposeSecret, SecretString};

use super::{ConfigError, Environment, secret_problem};
use crate::aws::Aws;

/// Shortest client secret accepted: 32 characters (a random secret, not a password).
const MIN_SECRET_CHARS: usize = 32;

/// One client allowed to call `POST /api/introspect`.
#[derive(Debug, Clone)]
pub struct IntrospectionClient {
    pub id: String,
    pub secret: SecretString,
}

/// The introspection clients; none by default.
#[derive(Debug, Clone, Default)]
pub struct IntrospectionSettings {
    pub clients: Vec<IntrospectionClient>,
}

impl IntrospectionSettings {
    pub(super) async fn load(env: &Environment, aws: &Aws) -> Result<Self, ConfigError> {
        let (variable, text) = match (
            env.secret("INTROSPECTION_CLIENTS"),
            env.text("INTROSPECTION_CLIENTS_ARN"),
        ) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "INTROSPECTION_CLIENTS_ARN",
                    "set INTROSPECTION_CLIENTS or INTROSPECTION_CLIENTS_ARN, not both",
                ));
            }
            (Some(text), None) => ("INTROSPECTION_CLIENTS", text),
            (None, Some(arn)) => (
                "INTROSPECTION_CLIENTS_ARN",
                aws.secret_string(arn).await.map_err(|e| {
                    ConfigError::new("INTROSPECTION_CLIENTS_ARN", secret_problem(e))
                })?,
            ),
            (None, None) => return Ok(Self::default()),
        };
        let mut clients: Vec<IntrospectionClient> = Vec::new();
        for pair in text
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            // The secret is never echoed back in an error: only the client id, when it parses.
            let (id, secret) = pair
                .split_once(':')
                .ok_or_else(|| ConfigError::new(variable, "each entry must be client_id:secret"))?;
            let id = id.trim();
            let valid_id = !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !valid_id {
                return Err(ConfigError::new(
                    variable,
                    "a client_id is 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' and '.'",
                ));
            }
            if secret.chars().count() < MIN_SECRET_CHARS {
                return Err(ConfigError::new(
                    variable,
                    format!("the secret of {id} is shorter than {MIN_SECRET_CHARS} characters"),
                ));
            }
            if clients.iter().any(|client| client.id == id) {
                return Err(ConfigError::new(variable, format!("{id} is listed twice")));
            }
            clients.push(IntrospectionClient {
                id: id.to_owned(),
                secret: SecretString::from(secret.to_owned()),
            });
        }
        Ok(IntrospectionSettings { clients })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DB, KEY};
    use super::*;

    async fn load(pairs: &[(&str, &str)]) -> Result<IntrospectionSettings, ConfigError> {
        let mut all = vec![DB, KEY];
        all.extend_from_slice(pairs);
        super::super::tests::load(&all)
            .await
            .map(|config| config.introspection)
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[tokio::test]
    async fn clients_are_read_in_order_and_none_is_the_default() {
        assert!(load(&[]).await.unwrap().clients.is_empty());
        let text = format!("orders:{SECRET}, billing.v2:{SECRET}x");
        let settings = load(&[("INTROSPECTION_CLIENTS", &text)]).await.unwrap();
        let ids: Vec<&str> = settings.clients.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["orders", "billing.v2"]);
        assert_eq!(
            settings.clients[1].secret.expose_secret(),
            &format!("{SECRET}x")
        );
    }

    #[tokio::test]
    async fn each_mistake_is_refused_without_showing_a_secret() {
        for text in [
            "no-colon".to_owned(),
            format!(":{SECRET}"),
            format!("bad id:{SECRET}"),
            "short:tooshort".to_owned(),
            format!("twice:{SECRET},twice:{SECRET}"),
        ] {
            let error = load(&[("INTROSPECTION_CLIENTS", &text)]).await.unwrap_err();
            assert_eq!(error.variable, "INTROSPECTION_CLIENTS", "{text}");
            assert!(!error.to_string().contains(SECRET), "{error}");
            assert!(!error.to_string().contains("tooshort"), "{error}");
        }
    }
}
