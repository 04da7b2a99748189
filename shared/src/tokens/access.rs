//! Signed access tokens: JWTs of type `at+jwt` (RFC 9068) for one session, signed with the
//! current key of the ring and verified with whichever key of the ring their `kid` names.
//!
//! Access tokens are signed with an Ed25519 (`EdDSA`) or P-256 (`ES256`) private key by default,
//! or with one HS256 secret in simple setups. Every token names its key in the `kid` header; the
//! key ring holds the current key and the previous public keys that still verify, so a rotation
//! logs no one out. Each key is pinned to its algorithm: a token is checked only with the key its
//! `kid` names, and only when its `alg` is that key's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::JwtSettings;
use crate::domain::{Aal, Assurance, AuthMethod, UserId};
use crate::error::ApiError;
use crate::keys::{JwtKeys, PublicKey};

/// JWT `typ` of access tokens (RFC 9068): a refresh or reset token can never pass for one.
const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Clock skew tolerated between Lambda instances when checking `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 5;
/// Domain separation of the HS256 key id: the `kid` is a hash of the secret, never the secret.
const HS256_KID_LABEL: &[u8] = b"jwt-auth-api HS256 key id\n";

/// The claims of an access token. Private: only [`AccessTokenSigner`] creates and reads them.
#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    aud: String,
    sub: Uuid,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: Uuid,
    /// The client the token was issued to (RFC 9068 §2.2 requires it in `at+jwt` tokens).
    /// Absent from tokens issued before it was added: those still verify.
    #[serde(default)]
    client_id: String,
    /// Session id: logout, reuse detection and password reset end the session, and with it the token.
    sid: Uuid,
    /// Whether the user's address was proven when the token was issued. Absent from tokens issued
    /// before addresses were verified: those read as not proven.
    #[serde(default)]
    email_verified: bool,
    /// The session's assurance level and methods (absent from tokens issued before second
    /// factors: those were password sessions).
    #[serde(default = "aal1")]
    aal: Aal,
    #[serde(default = "password_only")]
    amr: Vec<AuthMethod>,
    /// The OpenID provider that signed the user in, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    idp: Option<String>,
}

fn aal1() -> Aal {
    Aal::Aal1
}

fn password_only() -> Vec<AuthMethod> {
    vec![AuthMethod::Pwd]
}

/// A freshly signed access token.
#[derive(Debug)]
pub struct SignedAccessToken {
    pub token: SecretString,
    pub expires_in: Duration,
}

/// What a verified access token says: whose it is, which session, which token.
#[derive(Debug, Clone)]
pub struct VerifiedAccess {
    pub user_id: UserId,
    pub session_id: Uuid,
    pub jti: Uuid,
    /// Seconds since the epoch; a revocation entry is useless after this.
    pub expires_at: u64,
    /// The `email_verified` claim.
    pub email_verified: bool,
    /// The `aal` claim: what `aal2`-only operations check.
    pub aal: Aal,
    /// The `amr` claim: how the session was opened.
    pub amr: Vec<AuthMethod>,
    /// `iat` and `nbf`, seconds since the epoch.
    pub issued_at: u64,
    pub not_before: u64,
    /// `iss`, `aud` and `client_id`, as signed.
    pub issuer: String,
    pub audience: String,
    pub client_id: String,
}

/// One key a token may name: its `kid`, the algorithm it is pinned to, and how to check it.
struct VerificationKey {
    kid: String,
    algorithm: Algorithm,
    decoding: DecodingKey,
    validation: Validation,
}

/// Signs and verifies access tokens with the key ring; built once per cold start. Built from a
/// public key alone (`JWT_PUBLIC_KEY`), it verifies and publishes but cannot sign.
pub struct AccessTokenSigner {
    /// `None` for a verify-only ring: the functions that check tokens never hold the private key.
    encoding: Option<EncodingKey>,
    /// The `alg` and `kid` headers of every new token (the current key's).
    algorithm: Algorithm,
    kid: String,
    /// The current key first, then the previous ones.
    ring: Vec<VerificationKey>,
    /// HS256 only: tokens issued before tokens carried a `kid` name the one secret implicitly.
    accepts_missing_kid: bool,
    jwks: JwkSet,
    issuer: String,
    audience: String,
    client_id: String,
    ttl: Duration,
}

impl AccessTokenSigner {
    /// The key ring and validation rules of the `JWT_*` settings; `None` when the function was
    /// given no keys.
    pub fn new(settings: &JwtSettings) -> Option<Self> {
        let keys = settings.keys.as_ref()?;
        let validation = |algorithm: Algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.set_issuer(&[&settings.issuer]);
            validation.set_audience(&[&settings.audience]);
            validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
            validation.validate_nbf = true;
            validation.leeway = LEEWAY_SECONDS;
            validation
        };
        let public_ring = |current: &PublicKey, previous: &[PublicKey]| {
            let mut public_keys = vec![current];
            for key in previous {
                if public_keys.iter().all(|k| k.kid() != key.kid()) {
                    public_keys.push(key);
                }
            }
            let ring = public_keys
                .iter()
                .map(|key| VerificationKey {
                    kid: key.kid().to_owned(),
                    algorithm: key.algorithm(),
                    decoding: key.decoding_key().clone(),
                    validation: validation(key.algorithm()),
                })
                .collect();
            let jwks = JwkSet {
                keys: public_keys.iter().map(|key| key.jwk().clone()).collect(),
            };
            (current.algorithm(), current.kid().to_owned(), ring, jwks)
        };
        let (encoding, (algorithm, kid, ring, jwks)) = match keys {
            JwtKeys::Asymmetric { signing, previous } => (
                Some(signing.encoding_key().clone()),
                public_ring(signing.public_key(), previous),
            ),
            JwtKeys::Public { current, previous } => (None, public_ring(current, previous)),
            JwtKeys::Hs256(secret) => {
                let secret = secret.expose_secret().as_bytes();
                let kid = hs256_kid(secret);
                let ring = vec![VerificationKey {
                    kid: kid.clone(),
                    algorithm: Algorithm::HS256,
                    decoding: DecodingKey::from_secret(secret),
                    validation: validation(Algorithm::HS256),
                }];
                (
                    Some(EncodingKey::from_secret(secret)),
                    (Algorithm::HS256, kid, ring, JwkSet::default()),
                )
            }
        };
        Some(AccessTokenSigner {
            encoding,
            algorithm,
            kid,
            ring,
            accepts_missing_kid: matches!(keys, JwtKeys::Hs256(_)),
            jwks,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            client_id: settings.client_id.clone(),
            ttl: settings.access_token_ttl,
        })
    }

    /// Signs a new access token for a user's session with the current key.
    pub fn issue(
        &self,
        user_id: UserId,
        session_id: Uuid,
        email_verified: bool,
        assurance: &Assurance,
    ) -> Result<SignedAccessToken, ApiError> {
        let now = unix_now();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.as_uuid(),
            iat: now,
            nbf: now,
            exp: now + self.ttl.as_secs(),
            jti: Uuid::new_v4(),
            client_id: self.client_id.clone(),
            sid: session_id,
            email_verified,
            aal: assurance.aal,
            amr: assurance.amr.clone(),
            idp: assurance.idp.clone(),
        };
        let header = Header {
            typ: Some(ACCESS_TOKEN_TYPE.into()),
            kid: Some(self.kid.clone()),
            ..Header::new(self.algorithm)
        };
        let encoding = self.encoding.as_ref().ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "this function holds the public key only (JWT_PUBLIC_KEY): it verifies tokens, \
                 it does not sign them"
            ))
        })?;
        let token = jsonwebtoken::encode(&header, &claims, encoding).map_err(|e| {
            ApiError::Internal(anyhow::Error::new(e).context("signing access token"))
        })?;
        Ok(SignedAccessToken {
            token: token.into(),
            expires_in: self.ttl,
        })
    }

    /// Checks that `kid` names a key of the ring and `alg` is that key's, then the signature,
    /// `typ`, `exp`, `nbf`, `iss` and `aud`. Expired is `token_expired`; every other failure is a
    /// plain `invalid_token`, its cause logged at debug.
    pub fn verify(&self, token: &SecretString) -> Result<VerifiedAccess, ApiError> {
        let reject = |reason: &dyn std::fmt::Display| {
            tracing::debug!(reason = %reason, "access token rejected");
            ApiError::InvalidToken
        };
        // Unverified until the key it names has checked it; read only to pick that key.
        let header = jsonwebtoken::decode_header(token.expose_secret()).map_err(|e| reject(&e))?;
        let key = match header.kid.as_deref() {
            Some(kid) => self.ring.iter().find(|key| key.kid == kid),
            None if self.accepts_missing_kid => self.ring.first(),
            None => None,
        }
        .ok_or_else(|| reject(&"no kid, or a kid of no key in the ring"))?;
        if header.alg != key.algorithm {
            return Err(reject(&format_args!(
                "alg {:?} is not the {:?} of key {}",
                header.alg, key.algorithm, key.kid
            )));
        }
        let data = jsonwebtoken::decode::<AccessClaims>(
            token.expose_secret(),
            &key.decoding,
            &key.validation,
        )
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => ApiError::TokenExpired,
            _ => reject(&e),
        })?;
        if data.header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(reject(&"wrong typ header"));
        }
        let claims = data.claims;
        Ok(VerifiedAccess {
            user_id: UserId::from_uuid(claims.sub),
            session_id: claims.sid,
            jti: claims.jti,
            expires_at: claims.exp,
            email_verified: claims.email_verified,
            aal: claims.aal,
            amr: claims.amr,
            issued_at: claims.iat,
            not_before: claims.nbf,
            issuer: claims.iss,
            audience: claims.aud,
            client_id: claims.client_id,
        })
    }

    /// The public keys that verify access tokens, as a JWK Set (RFC 7517); empty with HS256.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// The `kid` new tokens carry.
    pub fn current_kid(&self) -> &str {
        &self.kid
    }
}

/// The HS256 `kid`: 96 bits of a domain-separated SHA-256 of the secret, never the secret or a
/// thumbprint of its JWK. It reveals nothing an HS256 token does not already: either only lets
/// someone test guesses of the secret offline, which a random 32-byte secret makes hopeless.
fn hs256_kid(secret: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(HS256_KID_LABEL)
        .chain_update(secret)
        .finalize();
    format!("hs256-{}", URL_SAFE_NO_PAD.encode(&digest[..12]))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::tests::{ED25519_A, ED25519_A_PUBLIC, ED25519_B, P256, P256_PUBLIC};
    use crate::keys::{PrivateKey, PublicKey};

    fn settings(keys: JwtKeys) -> JwtSettings {
        JwtSettings {
            keys: Some(keys),
            issuer: "issuer".into(),
            audience: "audience".into(),
            client_id: "client".into(),
            access_token_ttl: Duration::from_secs(900),
        }
    }

    /// HS256 with [`SECRET`].
    fn tokens() -> AccessTokenSigner {
        AccessTokenSigner::new(&settings(JwtKeys::Hs256(SECRET.into()))).unwrap()
    }

    /// Signing with `pem`, also accepting the public keys in `previous`.
    fn ring(pem: &str, previous: &[&str]) -> AccessTokenSigner {
        let keys = JwtKeys::Asymmetric {
            signing: PrivateKey::from_pem(pem).unwrap(),
            previous: previous
                .iter()
                .map(|pem| PublicKey::from_pem(pem).unwrap())
                .collect(),
        };
        AccessTokenSigner::new(&settings(keys)).unwrap()
    }

    const SECRET: &str = "an-hs256-test-secret-of-32-bytes!!";

    fn sign(claims: &serde_json::Value, header: &Header, secret: &str) -> SecretString {
        sign_with(claims, header, &EncodingKey::from_secret(secret.as_bytes()))
    }

    fn sign_with(claims: &serde_json::Value, header: &Header, key: &EncodingKey) -> SecretString {
        jsonwebtoken::encode(header, claims, key).unwrap().into()
    }

    /// An access-token header with this `alg` and `kid`.
    fn header(algorithm: Algorithm, kid: Option<&str>) -> Header {
        Header {
            typ: Some(ACCESS_TOKEN_TYPE.into()),
            kid: kid.map(str::to_owned),
            ..Header::new(algorithm)
        }
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

    /// An HS256 access-token header without `kid`, as tokens were before keys had ids.
    fn access_header() -> Header {
        header(Algorithm::HS256, None)
    }

    #[test]
    fn the_public_key_alone_verifies_and_publishes_but_cannot_sign() {
        let signer = ring(ED25519_A, &[P256_PUBLIC]);
        let verifier = AccessTokenSigner::new(&settings(JwtKeys::Public {
            current: PublicKey::from_pem(ED25519_A_PUBLIC).unwrap(),
            previous: vec![PublicKey::from_pem(P256_PUBLIC).unwrap()],
        }))
        .unwrap();
        let user = UserId::from_uuid(Uuid::new_v4());
        let token = signer
            .issue(user, Uuid::new_v4(), true, &Assurance::password())
            .unwrap()
            .token;

        assert_eq!(verifier.verify(&token).unwrap().user_id, user);
        assert_eq!(verifier.current_kid(), signer.current_kid());
        assert_eq!(
            serde_json::to_value(verifier.jwks()).unwrap(),
            serde_json::to_value(signer.jwks()).unwrap(),
            "the same JWKS, current key first"
        );
        assert!(matches!(
            verifier.issue(user, Uuid::new_v4(), true, &Assurance::password()),
            Err(ApiError::Internal(_))
        ));
    }

    #[test]
    fn issued_tokens_verify_and_carry_user_and_session() {
        let tokens = tokens();
        let user = UserId::from_uuid(Uuid::new_v4());
        let session = Uuid::new_v4();
        let issued = tokens
            .issue(user, session, true, &Assurance::password())
            .unwrap();
        let verified = tokens.verify(&issued.token).unwrap();
        assert_eq!((verified.user_id, verified.session_id), (user, session));
        assert_eq!(issued.expires_in, Duration::from_secs(900));
    }

    #[test]
    fn each_defect_is_rejected_with_its_code() {
        let tokens = tokens();
        let now = unix_now();
        let no_typ = Header::new(Algorithm::HS256);
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
    fn the_email_verified_claim_round_trips_and_reads_false_when_absent() {
        let tokens = tokens();
        for verified in [true, false] {
            let issued = tokens
                .issue(
                    UserId::from_uuid(Uuid::new_v4()),
                    Uuid::new_v4(),
                    verified,
                    &Assurance::password(),
                )
                .unwrap();
            assert_eq!(
                tokens.verify(&issued.token).unwrap().email_verified,
                verified
            );
        }
        let older = sign(&claims(serde_json::json!({})), &access_header(), SECRET);
        assert!(!tokens.verify(&older).unwrap().email_verified);
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
    fn every_key_type_signs_tokens_naming_its_key_and_algorithm() {
        let cases = [
            (ring(ED25519_A, &[]), Algorithm::EdDSA, "Ed25519"),
            (ring(P256, &[]), Algorithm::ES256, "P-256"),
            (tokens(), Algorithm::HS256, "HS256"),
        ];
        for (tokens, algorithm, why) in cases {
            let user = UserId::from_uuid(Uuid::new_v4());
            let session = Uuid::new_v4();

            let issued = tokens
                .issue(user, session, true, &Assurance::password())
                .unwrap();

            let header = jsonwebtoken::decode_header(issued.token.expose_secret()).unwrap();
            assert_eq!(header.alg, algorithm, "{why}");
            assert_eq!(header.kid.as_deref(), Some(tokens.current_kid()), "{why}");
            assert_eq!(header.typ.as_deref(), Some(ACCESS_TOKEN_TYPE), "{why}");
            let verified = tokens.verify(&issued.token).unwrap();
            assert_eq!((verified.user_id, verified.session_id), (user, session));
        }
    }

    #[test]
    fn the_hs256_kid_is_stable_and_does_not_contain_the_secret() {
        let kid = tokens().current_kid().to_owned();

        assert_eq!(kid, tokens().current_kid());
        assert_ne!(
            kid,
            AccessTokenSigner::new(&settings(JwtKeys::Hs256(
                "another-secret-of-32-bytes-or-more!".into()
            )))
            .unwrap()
            .current_kid()
        );
        assert!(kid.starts_with("hs256-") && kid.len() == 6 + 16, "{kid}");
        assert!(!kid.contains(SECRET) && !kid.contains(&URL_SAFE_NO_PAD.encode(SECRET)));
    }

    #[test]
    fn tokens_of_a_previous_key_verify_after_rotation_until_it_is_dropped() {
        let before = ring(ED25519_A, &[]);
        let old_token = before
            .issue(
                UserId::from_uuid(Uuid::new_v4()),
                Uuid::new_v4(),
                false,
                &Assurance::password(),
            )
            .unwrap();

        let rotated = ring(ED25519_B, &[ED25519_A_PUBLIC]);
        let without_previous = ring(ED25519_B, &[]);

        assert!(
            rotated.verify(&old_token.token).is_ok(),
            "old token, previous key kept"
        );
        assert_eq!(
            without_previous
                .verify(&old_token.token)
                .unwrap_err()
                .code(),
            "invalid_token",
            "old token, previous key dropped"
        );
        let new_token = rotated
            .issue(
                UserId::from_uuid(Uuid::new_v4()),
                Uuid::new_v4(),
                false,
                &Assurance::password(),
            )
            .unwrap();
        let new_kid = jsonwebtoken::decode_header(new_token.token.expose_secret())
            .unwrap()
            .kid
            .unwrap();
        assert_eq!(
            new_kid,
            rotated.current_kid(),
            "new tokens are signed with the new key"
        );
        assert_ne!(new_kid, before.current_kid());
        assert!(without_previous.verify(&new_token.token).is_ok());
        assert_eq!(
            before.verify(&new_token.token).unwrap_err().code(),
            "invalid_token",
            "a verifier that never learnt the new key"
        );
    }

    #[test]
    fn a_token_is_checked_only_by_the_key_its_kid_names_and_only_with_that_keys_alg() {
        let tokens = ring(ED25519_A, &[P256_PUBLIC]);
        let current = PrivateKey::from_pem(ED25519_A).unwrap();
        let p256 = PrivateKey::from_pem(P256).unwrap();
        let stranger = PrivateKey::from_pem(ED25519_B).unwrap();
        let ed_kid = current.public_key().kid().to_owned();
        let p256_kid = p256.public_key().kid().to_owned();
        let claims = claims(serde_json::json!({}));
        let raw_public = URL_SAFE_NO_PAD
            .decode(
                serde_json::to_value(current.public_key().jwk()).unwrap()["x"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let cases = [
            (
                sign_with(
                    &claims,
                    &header(Algorithm::EdDSA, Some(&ed_kid)),
                    current.encoding_key(),
                ),
                "ok",
                "genuine",
            ),
            (
                sign_with(
                    &claims,
                    &header(Algorithm::ES256, Some(&p256_kid)),
                    p256.encoding_key(),
                ),
                "ok",
                "signed by a previous key of the ring",
            ),
            (
                sign_with(
                    &claims,
                    &header(Algorithm::EdDSA, None),
                    current.encoding_key(),
                ),
                "invalid_token",
                "no kid",
            ),
            (
                sign_with(
                    &claims,
                    &header(Algorithm::EdDSA, Some(stranger.public_key().kid())),
                    stranger.encoding_key(),
                ),
                "invalid_token",
                "a kid outside the ring",
            ),
            (
                sign_with(
                    &claims,
                    &header(Algorithm::EdDSA, Some(&ed_kid)),
                    stranger.encoding_key(),
                ),
                "invalid_token",
                "another key's signature under our kid",
            ),
            (
                sign_with(
                    &claims,
                    &header(Algorithm::ES256, Some(&ed_kid)),
                    p256.encoding_key(),
                ),
                "invalid_token",
                "ES256 under the kid of the EdDSA key",
            ),
            (
                sign_with(
                    &claims,
                    &header(Algorithm::EdDSA, Some(&p256_kid)),
                    current.encoding_key(),
                ),
                "invalid_token",
                "EdDSA under the kid of the ES256 key",
            ),
            (
                sign_with(
                    &claims,
                    &header(Algorithm::HS256, Some(&ed_kid)),
                    &EncodingKey::from_secret(ED25519_A_PUBLIC.as_bytes()),
                ),
                "invalid_token",
                "HS256 keyed with the public PEM (algorithm confusion)",
            ),
            (
                sign_with(
                    &claims,
                    &header(Algorithm::HS256, Some(&ed_kid)),
                    &EncodingKey::from_secret(&raw_public),
                ),
                "invalid_token",
                "HS256 keyed with the raw public key (algorithm confusion)",
            ),
        ];
        for (token, expected, why) in cases {
            let code = tokens.verify(&token).map_or_else(|e| e.code(), |_| "ok");
            assert_eq!(code, expected, "{why}");
        }
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let none = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"none","typ":"at+jwt","kid":"{ed_kid}"}}"#
        ));
        let unsigned = SecretString::from(format!("{none}.{body}."));
        assert_eq!(
            tokens.verify(&unsigned).unwrap_err().code(),
            "invalid_token",
            "alg none"
        );
    }

    #[test]
    fn hs256_tokens_must_name_the_secret_when_they_name_a_key() {
        let tokens = tokens();
        let claims = claims(serde_json::json!({}));
        let ed_kid = PrivateKey::from_pem(ED25519_A)
            .unwrap()
            .public_key()
            .kid()
            .to_owned();

        let named = sign(
            &claims,
            &header(Algorithm::HS256, Some(tokens.current_kid())),
            SECRET,
        );
        let unnamed = sign(&claims, &header(Algorithm::HS256, None), SECRET);
        let misnamed = sign(&claims, &header(Algorithm::HS256, Some(&ed_kid)), SECRET);

        assert!(tokens.verify(&named).is_ok());
        assert!(
            tokens.verify(&unnamed).is_ok(),
            "issued before tokens had a kid"
        );
        assert_eq!(
            tokens.verify(&misnamed).unwrap_err().code(),
            "invalid_token"
        );
    }

    #[test]
    fn an_expired_asymmetric_token_is_token_expired() {
        let tokens = ring(P256, &[]);
        let key = PrivateKey::from_pem(P256).unwrap();
        let now = unix_now();
        let expired = sign_with(
            &claims(serde_json::json!({"exp": now - 60, "iat": now - 960, "nbf": now - 960})),
            &header(Algorithm::ES256, Some(key.public_key().kid())),
            key.encoding_key(),
        );

        assert_eq!(tokens.verify(&expired).unwrap_err().code(), "token_expired");
    }

    #[test]
    fn the_jwks_lists_the_ring_public_keys_once_and_hs256_publishes_nothing() {
        let rotated = ring(
            ED25519_B,
            &[ED25519_A_PUBLIC, P256_PUBLIC, ED25519_A_PUBLIC],
        );

        let jwks = serde_json::to_value(rotated.jwks()).unwrap();

        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key["kid"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = [ED25519_B, ED25519_A, P256]
            .iter()
            .map(|pem| {
                PrivateKey::from_pem(pem)
                    .unwrap()
                    .public_key()
                    .kid()
                    .to_owned()
            })
            .collect();
        assert_eq!(kids, expected, "current key first, duplicates once");
        for key in jwks["keys"].as_array().unwrap() {
            let mut members: Vec<&str> = key
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            members.sort_unstable();
            let expected: &[&str] = if key["kty"] == "EC" {
                &["alg", "crv", "kid", "kty", "use", "x", "y"]
            } else {
                &["alg", "crv", "kid", "kty", "use", "x"]
            };
            assert_eq!(members, expected, "public members only: {key}");
        }
        assert_eq!(
            serde_json::to_value(tokens().jwks()).unwrap(),
            serde_json::json!({"keys": []})
        );
    }
}
