//! The access tokens' settings: the signing keys (`JWT_PRIVATE_KEY` or `JWT_PRIVATE_KEY_ARN`
//! with `JWT_PREVIOUS_PUBLIC_KEYS`, or an HS256 `JWT_SECRET_KEY`/`JWT_SECRET_ARN`), or, for the
//! functions that only verify tokens or publish the JWKS, the public half `JWT_PUBLIC_KEY`;
//! `JWT_ISSUER`, `JWT_AUDIENCE` and `ACCESS_TOKEN_TTL`.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::{ConfigError, Environment, secret_problem};
use crate::aws::Aws;
use crate::keys::{JwtKeys, PrivateKey, PublicKey};

/// What [`crate::tokens::AccessTokenSigner`] is built from.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// The keys that sign and verify access tokens: an Ed25519/P-256 key ring or an HS256 secret.
    /// `None` for the functions that are given none (they never touch a token).
    pub keys: Option<JwtKeys>,
    pub issuer: String,
    pub audience: String,
    /// `JWT_CLIENT_ID`: the `client_id` claim of access tokens (RFC 9068 §2.2); the audience by
    /// default.
    pub client_id: String,
    pub access_token_ttl: Duration,
}

impl JwtSettings {
    /// The `JWT_*` variables and `ACCESS_TOKEN_TTL`, reading the key from Secrets Manager when an
    /// `*_ARN` names it.
    pub async fn load(env: &Environment, aws: &Aws) -> Result<Self, ConfigError> {
        let private_key = env.secret("JWT_PRIVATE_KEY");
        let private_key_arn = env.text("JWT_PRIVATE_KEY_ARN");
        let public_key = env.text("JWT_PUBLIC_KEY");
        let previous_public_keys = env.text("JWT_PREVIOUS_PUBLIC_KEYS");
        let secret_key = env.secret("JWT_SECRET_KEY");
        let secret_arn = env.text("JWT_SECRET_ARN");
        let issuer = env.text_or("JWT_ISSUER", "jwt-auth-api");
        let audience = env.text_or("JWT_AUDIENCE", "jwt-auth-api");
        let client_id = env.text_or("JWT_CLIENT_ID", &audience);
        let access_token_ttl = env.seconds("ACCESS_TOKEN_TTL", 900)?;

        let both = |first: &str, second: &str| {
            ConfigError::new(second, format!("set {first} or {second}, not both"))
        };
        let asymmetric = private_key.is_some() || private_key_arn.is_some() || public_key.is_some();
        let hs256 = secret_key.is_some() || secret_arn.is_some();
        if asymmetric && hs256 {
            return Err(ConfigError::new(
                "JWT_SECRET_KEY",
                "set JWT_PRIVATE_KEY (Ed25519 or P-256) or JWT_SECRET_KEY (HS256), not both",
            ));
        }
        if !asymmetric && previous_public_keys.is_some() {
            return Err(ConfigError::new(
                "JWT_PREVIOUS_PUBLIC_KEYS",
                "needs JWT_PRIVATE_KEY (or JWT_PRIVATE_KEY_ARN, or JWT_PUBLIC_KEY): previous keys \
                 belong to a key ring",
            ));
        }
        let previous = match previous_public_keys {
            Some(pems) => PublicKey::from_pem_list(pems)
                .map_err(|e| ConfigError::new("JWT_PREVIOUS_PUBLIC_KEYS", e.to_string()))?,
            None => Vec::new(),
        };
        let keys = if let Some(pem) = public_key {
            if private_key.is_some() || private_key_arn.is_some() {
                return Err(both("JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY"));
            }
            let current = PublicKey::from_pem(pem).map_err(|_| {
                ConfigError::new(
                    "JWT_PUBLIC_KEY",
                    "is not a PEM public key (BEGIN PUBLIC KEY) for Ed25519 or P-256",
                )
            })?;
            Some(JwtKeys::Public { current, previous })
        } else if asymmetric {
            let (variable, pem) = match (private_key, private_key_arn) {
                (Some(_), Some(_)) => return Err(both("JWT_PRIVATE_KEY", "JWT_PRIVATE_KEY_ARN")),
                (Some(pem), None) => ("JWT_PRIVATE_KEY", pem),
                (None, Some(arn)) => (
                    "JWT_PRIVATE_KEY_ARN",
                    read_secret(aws, "JWT_PRIVATE_KEY_ARN", arn).await?,
                ),
                (None, None) => unreachable!("asymmetric means one of them is set"),
            };
            let signing = PrivateKey::from_pem(pem.expose_secret())
                .map_err(|e| ConfigError::new(variable, e.to_string()))?;
            Some(JwtKeys::Asymmetric { signing, previous })
        } else {
            let secret = match (secret_key, secret_arn) {
                (Some(_), Some(_)) => return Err(both("JWT_SECRET_KEY", "JWT_SECRET_ARN")),
                (Some(key), None) => Some(key),
                (None, Some(arn)) => Some(read_secret(aws, "JWT_SECRET_ARN", arn).await?),
                (None, None) => None,
            };
            secret
                .map(JwtKeys::hs256)
                .transpose()
                .map_err(|e| ConfigError::new("JWT_SECRET_KEY", e.to_string()))?
        };
        Ok(JwtSettings {
            keys,
            issuer,
            audience,
            client_id,
            access_token_ttl,
        })
    }
}

async fn read_secret(aws: &Aws, variable: &str, arn: &str) -> Result<SecretString, ConfigError> {
    aws.secret_string(arn)
        .await
        .map_err(|e| ConfigError::new(variable, secret_problem(e)))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DB, KEY, load};
    use super::super::{Config, ConfigError};
    use crate::keys::JwtKeys;
    use crate::keys::tests::{ED25519_A, ED25519_A_PUBLIC, ED25519_B_PUBLIC};

    fn kids(config: &Config) -> Vec<String> {
        match &config.jwt.keys {
            Some(JwtKeys::Asymmetric { signing, previous }) => {
                std::iter::once(signing.public_key())
                    .chain(previous)
                    .map(|key| key.kid().to_owned())
                    .collect()
            }
            other => panic!("an asymmetric key ring, not {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_private_key_selects_asymmetric_signing_with_its_previous_keys() {
        let one_line = ED25519_A.replace('\n', "\\n");
        let two_previous = format!("{ED25519_B_PUBLIC}{ED25519_B_PUBLIC}").replace('\n', "\\n");
        // As an env file may hand them over: quoted, the quotes kept.
        let single_quoted = format!("'{one_line}'");
        let double_quoted = format!("\"{one_line}\"");
        let cases: [&[(&str, &str)]; 5] = [
            &[DB, ("JWT_PRIVATE_KEY", ED25519_A)],
            &[DB, ("JWT_PRIVATE_KEY", &one_line)],
            &[
                DB,
                ("JWT_PRIVATE_KEY", &one_line),
                ("JWT_PREVIOUS_PUBLIC_KEYS", &two_previous),
            ],
            &[DB, ("JWT_PRIVATE_KEY", &single_quoted)],
            &[DB, ("JWT_PRIVATE_KEY", &double_quoted)],
        ];
        let mut rings = Vec::new();
        for vars in cases {
            rings.push(kids(&load(vars).await.unwrap()));
        }
        assert_eq!(
            rings[0], rings[1],
            "multi-line and one-line PEMs are the same key"
        );
        assert_eq!(rings[0], ["75bMrcNTHG280StTrBynAM10un9rIIMlnKkOaYelV2U"]);
        assert_eq!(rings[3], rings[0], "single-quoted");
        assert_eq!(rings[4], rings[0], "double-quoted");
        assert_eq!(
            rings[2][1..],
            ["NkHXSmxZUvMCk5V9_4sMLvrcNfstckDsFKSptoYKVtk"; 2],
            "previous keys follow the current one"
        );
    }

    #[tokio::test]
    async fn a_public_key_alone_verifies_without_the_private_key() {
        let config = load(&[
            DB,
            ("JWT_PUBLIC_KEY", &ED25519_A_PUBLIC.replace('\n', "\\n")),
            ("JWT_PREVIOUS_PUBLIC_KEYS", ED25519_B_PUBLIC),
        ])
        .await
        .unwrap();
        match &config.jwt.keys {
            Some(JwtKeys::Public { current, previous }) => {
                assert_eq!(current.kid(), "75bMrcNTHG280StTrBynAM10un9rIIMlnKkOaYelV2U");
                assert_eq!(previous.len(), 1);
            }
            other => panic!("a verify-only ring, not {other:?}"),
        }
    }

    #[tokio::test]
    async fn each_bad_key_setting_is_named_in_the_error() {
        let private = ("JWT_PRIVATE_KEY", ED25519_A);
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[DB, private, KEY], "JWT_SECRET_KEY"),
            (
                &[DB, private, ("JWT_SECRET_ARN", "arn:aws:secretsmanager:x")],
                "JWT_SECRET_KEY",
            ),
            (
                &[
                    DB,
                    private,
                    ("JWT_PRIVATE_KEY_ARN", "arn:aws:secretsmanager:x"),
                ],
                "JWT_PRIVATE_KEY_ARN",
            ),
            (&[DB, ("JWT_PRIVATE_KEY", "not a key")], "JWT_PRIVATE_KEY"),
            (
                &[DB, ("JWT_PRIVATE_KEY", ED25519_B_PUBLIC)],
                "JWT_PRIVATE_KEY",
            ),
            (
                &[DB, KEY, ("JWT_PREVIOUS_PUBLIC_KEYS", ED25519_B_PUBLIC)],
                "JWT_PREVIOUS_PUBLIC_KEYS",
            ),
            (
                &[DB, private, ("JWT_PREVIOUS_PUBLIC_KEYS", ED25519_A)],
                "JWT_PREVIOUS_PUBLIC_KEYS",
            ),
            (
                &[DB, private, ("JWT_PUBLIC_KEY", ED25519_B_PUBLIC)],
                "JWT_PUBLIC_KEY",
            ),
            (
                &[DB, KEY, ("JWT_PUBLIC_KEY", ED25519_B_PUBLIC)],
                "JWT_SECRET_KEY",
            ),
            (&[DB, ("JWT_PUBLIC_KEY", ED25519_A)], "JWT_PUBLIC_KEY"),
        ];
        for (vars, variable) in cases {
            let error: ConfigError = load(vars).await.unwrap_err();
            assert_eq!(error.variable, *variable, "{error}");
            assert!(
                !error.to_string().contains("MC4CAQ"),
                "no key material: {error}"
            );
        }
    }
}
