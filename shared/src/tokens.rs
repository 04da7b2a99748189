//! Tokens: signed JWT access tokens, and opaque random refresh/reset tokens stored only as hashes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::TryRngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::Config;
use crate::domain::UserId;
use crate::error::ApiError;

/// The only algorithm accepted; pinned so a token cannot choose how it is checked.
const ALGORITHM: Algorithm = Algorithm::HS256;
/// JWT `typ` of access tokens (RFC 9068): a refresh or reset token can never pass for one.
const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Clock skew tolerated between Lambda instances when checking `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 5;

/// The claims of an access token. Private: only [`AccessTokens`] creates and reads them.
#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    aud: String,
    sub: Uuid,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: Uuid,
    /// Session id: logout, reuse detection and password reset end the session, and with it the token.
    sid: Uuid,
}

/// A freshly signed access token.
#[derive(Debug)]
pub struct IssuedAccessToken {
    pub token: SecretString,
    pub expires_in: Duration,
}

/// What a verified access token says: whose it is, which session, which token.
#[derive(Debug, Clone, Copy)]
pub struct AccessToken {
    pub user_id: UserId,
    pub session_id: Uuid,
    pub jti: Uuid,
    /// Seconds since the epoch; a revocation entry is useless after this.
    pub expires_at: u64,
}

/// Signs and verifies access tokens; built once per cold start.
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl AccessTokens {
    /// Keys and validation rules from the configuration.
    pub fn new(config: &Config, secret: &SecretString) -> Self {
        let secret = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        AccessTokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl: config.access_token_ttl,
        }
    }

    /// Signs a new access token for a user's session.
    pub fn issue(&self, user_id: UserId, session_id: Uuid) -> Result<IssuedAccessToken, ApiError> {
        let now = unix_now();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.as_uuid(),
            iat: now,
            nbf: now,
            exp: now + self.ttl.as_secs(),
            jti: Uuid::new_v4(),
            sid: session_id,
        };
        let header = Header {
            typ: Some(ACCESS_TOKEN_TYPE.into()),
            ..Header::new(ALGORITHM)
        };
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|e| {
            ApiError::Internal(anyhow::Error::new(e).context("signing access token"))
        })?;
        Ok(IssuedAccessToken {
            token: token.into(),
            expires_in: self.ttl,
        })
    }

    /// Checks signature, algorithm, `typ`, `exp`, `nbf`, `iss` and `aud`. Expired is
    /// `token_expired`; every other failure is a plain `invalid_token`, its cause logged at debug.
    pub fn verify(&self, token: &SecretString) -> Result<AccessToken, ApiError> {
        let data = jsonwebtoken::decode::<AccessClaims>(
            token.expose_secret(),
            &self.decoding,
            &self.validation,
        )
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => ApiError::TokenExpired,
            _ => {
                tracing::debug!(reason = %e, "access token rejected");
                ApiError::InvalidToken
            }
        })?;
        if data.header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            tracing::debug!("access token rejected: wrong typ header");
            return Err(ApiError::InvalidToken);
        }
        let claims = data.claims;
        Ok(AccessToken {
            user_id: UserId::from_uuid(claims.sub),
            session_id: claims.sid,
            jti: claims.jti,
            expires_at: claims.exp,
        })
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A 256-bit random token (refresh or reset), handed out once and stored only as its SHA-256.
pub struct OpaqueToken {
    /// The value given to the client: 43 base64url characters.
    pub plaintext: SecretString,
    /// What the database keeps.
    pub hash: TokenHash,
}

/// SHA-256 of an opaque token. A fast hash is right here: the token has 256 bits of entropy,
/// so there is nothing to brute-force, and lookups stay a single index probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl OpaqueToken {
    /// Draws a new token from the OS random source.
    pub fn generate() -> Result<Self, ApiError> {
        let mut bytes = [0u8; 32];
        OsRng.try_fill_bytes(&mut bytes).map_err(|e| {
            ApiError::Internal(anyhow::Error::new(e).context("reading the OS random source"))
        })?;
        let plaintext = SecretString::from(URL_SAFE_NO_PAD.encode(bytes));
        let hash = TokenHash::of(&plaintext);
        Ok(OpaqueToken { plaintext, hash })
    }
}

impl TokenHash {
    /// Hashes a token as presented by a client.
    pub fn of(token: &SecretString) -> Self {
        TokenHash(Sha256::digest(token.expose_secret().as_bytes()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DatabaseConfig, DbTls, EmailTransport, RateLimits, ResetUrl};
    use std::str::FromStr;

    fn tokens() -> AccessTokens {
        let config = Config {
            database: DatabaseConfig {
                url: tokio_postgres::Config::from_str("postgres://localhost/x").unwrap(),
                pool_size: 1,
                tls: DbTls::Disable,
                credentials_secret: None,
                timeouts: Default::default(),
            },
            jwt_secret: None,
            jwt_issuer: "issuer".into(),
            jwt_audience: "audience".into(),
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(3600),
            refresh_reuse_grace: Duration::from_secs(10),
            reset_token_ttl: Duration::from_secs(1800),
            reset_url: ResetUrl::Fixed("http://localhost/reset".into()),
            email: EmailTransport::Log,
            limits: RateLimits::default(),
        };
        AccessTokens::new(&config, &SECRET.into())
    }

    const SECRET: &str = "an-hs256-test-secret-of-32-bytes!!";

    fn sign(claims: &serde_json::Value, header: &Header, secret: &str) -> SecretString {
        jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret.as_bytes()))
            .unwrap()
            .into()
    }

    fn claims(overrides: serde_json::Value) -> serde_json::Value {
        let now = unix_now();
        let mut base = serde_json::json!({
            "iss": "issuer", "aud": "audience", "sub": Uuid::new_v4(), "iat": now, "nbf": now,
            "exp": now + 60, "jti": Uuid::new_v4(), "sid": Uuid::new_v4(),
        });
        for (k, v) in overrides.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        base
    }

    fn access_header() -> Header {
        Header {
            typ: Some(ACCESS_TOKEN_TYPE.into()),
            ..Header::new(ALGORITHM)
        }
    }

    #[test]
    fn issued_tokens_verify_and_carry_user_and_session() {
        let tokens = tokens();
        let user = UserId::from_uuid(Uuid::new_v4());
        let session = Uuid::new_v4();
        let issued = tokens.issue(user, session).unwrap();
        let verified = tokens.verify(&issued.token).unwrap();
        assert_eq!((verified.user_id, verified.session_id), (user, session));
        assert_eq!(issued.expires_in, Duration::from_secs(900));
    }

    #[test]
    fn each_defect_is_rejected_with_its_code() {
        let tokens = tokens();
        let now = unix_now();
        let no_typ = Header::new(ALGORITHM);
        let hs512 = Header {
            typ: Some(ACCESS_TOKEN_TYPE.into()),
            ..Header::new(Algorithm::HS512)
        };
        let cases = [
            (
                sign(
                    &claims(serde_json::json!({"exp": now - 60})),
                    &access_header(),
                    SECRET,
                ),
                "token_expired",
                "expired",
            ),
            (
                sign(
                    &claims(serde_json::json!({"nbf": now + 600})),
                    &access_header(),
                    SECRET,
                ),
                "invalid_token",
                "not yet valid",
            ),
            (
                sign(
                    &claims(serde_json::json!({"iss": "other"})),
                    &access_header(),
                    SECRET,
                ),
                "invalid_token",
                "wrong issuer",
            ),
            (
                sign(
                    &claims(serde_json::json!({"aud": "other"})),
                    &access_header(),
                    SECRET,
                ),
                "invalid_token",
                "wrong audience",
            ),
            (
                sign(
                    &claims(serde_json::json!({"nbf": null})),
                    &access_header(),
                    SECRET,
                ),
                "invalid_token",
                "no nbf",
            ),
            (
                sign(
                    &claims(serde_json::json!({"sid": null})),
                    &access_header(),
                    SECRET,
                ),
                "invalid_token",
                "no session",
            ),
            (
                sign(&claims(serde_json::json!({})), &no_typ, SECRET),
                "invalid_token",
                "no typ header",
            ),
            (
                sign(&claims(serde_json::json!({})), &hs512, SECRET),
                "invalid_token",
                "other algorithm",
            ),
            (
                sign(
                    &claims(serde_json::json!({})),
                    &access_header(),
                    "another-secret-that-is-32-bytes!!",
                ),
                "invalid_token",
                "other key",
            ),
            ("not.a.jwt".to_owned().into(), "invalid_token", "garbage"),
        ];
        for (token, code, why) in cases {
            assert_eq!(tokens.verify(&token).unwrap_err().code(), code, "{why}");
        }
    }

    #[test]
    fn unsigned_tokens_are_rejected() {
        let tokens = tokens();
        let body = URL_SAFE_NO_PAD.encode(claims(serde_json::json!({})).to_string());
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#);
        let token = SecretString::from(format!("{header}.{body}."));
        assert_eq!(tokens.verify(&token).unwrap_err().code(), "invalid_token");
    }

    #[test]
    fn opaque_tokens_are_256_bit_url_safe_and_hashed() {
        let a = OpaqueToken::generate().unwrap();
        let b = OpaqueToken::generate().unwrap();
        let text = a.plaintext.expose_secret();
        assert_eq!(text.len(), 43);
        assert!(
            text.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(text, b.plaintext.expose_secret());
        assert_eq!(a.hash, TokenHash::of(&a.plaintext));
        assert_ne!(a.hash, b.hash);
    }
}
