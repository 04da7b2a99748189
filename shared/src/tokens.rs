//! Tokens: signed JWT access tokens, and opaque random refresh/reset tokens stored only as hashes.
//!
//! Access tokens are signed with an Ed25519 (`EdDSA`) or P-256 (`ES256`) private key by default,
//! or with one HS256 secret in simple setups. Every token names its key in the `kid` header; the
//! key ring holds the current key and the previous public keys that still verify, so a rotation
//! logs no one out. Each key is pinned to its algorithm: a token is checked only with the key its
//! `kid` names, and only when its `alg` is that key's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, JwkSet, OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
    ThumbprintHash,
};
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

/// JWT `typ` of access tokens (RFC 9068): a refresh or reset token can never pass for one.
const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Clock skew tolerated between Lambda instances when checking `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 5;
/// Domain separation of the HS256 key id: the `kid` is a hash of the secret, never the secret.
const HS256_KID_LABEL: &[u8] = b"jwt-auth-api HS256 key id\n";

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

/// A configured key that cannot be used. The message names no key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "is not a PKCS#8 PEM private key for Ed25519 or P-256 (generate one with `openssl genpkey -algorithm ed25519`)"
    )]
    NotAPrivateKey,
    #[error("key {0} is not a PEM public key (BEGIN PUBLIC KEY) for Ed25519 or P-256")]
    NotAPublicKey(usize),
}

/// How access tokens are signed and checked (the `JWT_*` settings).
#[derive(Clone)]
pub enum JwtKeys {
    /// `JWT_PRIVATE_KEY`: sign with this key; verify with it and with `previous`, the public keys
    /// of earlier signing keys whose tokens may still be unexpired (`JWT_PREVIOUS_PUBLIC_KEYS`).
    Asymmetric {
        signing: PrivateKey,
        previous: Vec<PublicKey>,
    },
    /// `JWT_SECRET_KEY`: HS256 with one shared secret, for simple setups. Publishes no key.
    Hs256(SecretString),
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtKeys::Asymmetric { signing, previous } => f
                .debug_struct("Asymmetric")
                .field("signing", signing)
                .field("previous", previous)
                .finish(),
            JwtKeys::Hs256(_) => f.write_str("Hs256(..)"),
        }
    }
}

/// A private key that signs access tokens: Ed25519 (`EdDSA`) or P-256 (`ES256`).
#[derive(Clone)]
pub struct PrivateKey {
    encoding: EncodingKey,
    public: PublicKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Reads a PKCS#8 PEM (`BEGIN PRIVATE KEY`); literal `\n` escapes stand for line breaks, so
    /// the key fits on one line of an env file.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pem = normalize_pem(pem);
        let pem = pem.as_str();
        if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            let der = key.to_pkcs8_der().map_err(|_| KeyError::NotAPrivateKey)?;
            return Ok(PrivateKey {
                encoding: EncodingKey::from_ed_der(der.as_bytes()),
                public: PublicKey::ed25519(&key.verifying_key()),
            });
        }
        if let Ok(key) = p256::SecretKey::from_pkcs8_pem(pem) {
            let der = key.to_pkcs8_der().map_err(|_| KeyError::NotAPrivateKey)?;
            return Ok(PrivateKey {
                encoding: EncodingKey::from_ec_der(der.as_bytes()),
                public: PublicKey::p256(&key.public_key()),
            });
        }
        Err(KeyError::NotAPrivateKey)
    }

    /// A new Ed25519 key from the OS random source, as the PKCS#8 PEM [`Self::from_pem`] reads.
    pub fn generate_ed25519_pem() -> anyhow::Result<SecretString> {
        let mut seed = [0u8; 32];
        OsRng
            .try_fill_bytes(&mut seed)
            .map_err(|e| anyhow::Error::new(e).context("reading the OS random source"))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| anyhow::anyhow!("encoding the new key as PKCS#8 PEM: {e}"))?;
        Ok(SecretString::from(pem.as_str()))
    }

    /// The public half: what verifies this key's signatures and is published in the JWKS.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }
}

/// A public key that verifies access tokens: its algorithm, its JWK and its `kid`, the RFC 7638
/// thumbprint of the JWK, so a new key needs no extra setting to be told apart.
#[derive(Clone)]
pub struct PublicKey {
    algorithm: Algorithm,
    kid: String,
    /// The public members only, with `kid`, `alg` and `use`: exactly what the JWKS serves.
    jwk: Box<Jwk>,
    decoding: DecodingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish()
    }
}

impl PublicKey {
    /// Reads one SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`), Ed25519 or P-256.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pem = normalize_pem(pem);
        let pem = pem.as_str();
        if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            return Ok(PublicKey::ed25519(&key));
        }
        if let Ok(key) = p256::PublicKey::from_public_key_pem(pem) {
            return Ok(PublicKey::p256(&key));
        }
        Err(KeyError::NotAPublicKey(1))
    }

    /// Reads any number of concatenated PEM public keys (`JWT_PREVIOUS_PUBLIC_KEYS`); blank is none.
    pub fn from_pem_list(text: &str) -> Result<Vec<Self>, KeyError> {
        const END: &str = "-----END PUBLIC KEY-----";
        let text = normalize_pem(text);
        let mut rest = text.as_str();
        let mut keys = Vec::new();
        while let Some(end) = rest.find(END) {
            let (block, after) = rest.split_at(end + END.len());
            let key =
                PublicKey::from_pem(block).map_err(|_| KeyError::NotAPublicKey(keys.len() + 1))?;
            keys.push(key);
            rest = after;
        }
        if !normalize_pem(rest).is_empty() {
            return Err(KeyError::NotAPublicKey(keys.len() + 1));
        }
        Ok(keys)
    }

    /// The key id tokens signed by this key carry.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public JWK (with `kid`, `alg` and `use`).
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    fn ed25519(key: &ed25519_dalek::VerifyingKey) -> Self {
        PublicKey::from_parameters(
            Algorithm::EdDSA,
            AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(key.as_bytes()),
            }),
        )
    }

    fn p256(key: &p256::PublicKey) -> Self {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let point = key.to_encoded_point(false);
        let coordinate = |c: Option<&p256::FieldBytes>| {
            URL_SAFE_NO_PAD.encode(c.expect("an uncompressed point has both coordinates"))
        };
        PublicKey::from_parameters(
            Algorithm::ES256,
            AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: coordinate(point.x()),
                y: coordinate(point.y()),
            }),
        )
    }

    fn from_parameters(algorithm: Algorithm, parameters: AlgorithmParameters) -> Self {
        let mut jwk = Jwk {
            common: CommonParameters::default(),
            algorithm: parameters,
        };
        // The thumbprint covers the required public members only (RFC 7638 §3.2), hence before
        // `kid`, `alg` and `use` are added.
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .expect("OKP and EC keys have a thumbprint");
        jwk.common = CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(algorithm.into()),
            key_id: Some(kid.clone()),
            ..CommonParameters::default()
        };
        let decoding = DecodingKey::from_jwk(&jwk).expect("the members were just encoded");
        PublicKey {
            algorithm,
            kid,
            jwk: Box::new(jwk),
            decoding,
        }
    }
}

/// Env files hold one line per variable: a PEM there has its line breaks written as `\n`, and
/// may keep the quotes around it. Separators between listed keys go too.
fn normalize_pem(text: &str) -> String {
    text.replace("\\r\\n", "\n")
        .replace("\\n", "\n")
        .trim_matches(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ','))
        .to_owned()
}

/// One key a token may name: its `kid`, the algorithm it is pinned to, and how to check it.
struct VerificationKey {
    kid: String,
    algorithm: Algorithm,
    decoding: DecodingKey,
    validation: Validation,
}

/// Signs and verifies access tokens; built once per cold start.
pub struct AccessTokens {
    encoding: EncodingKey,
    /// The `alg` and `kid` headers of every new token.
    algorithm: Algorithm,
    kid: String,
    /// The current key first, then the previous ones.
    ring: Vec<VerificationKey>,
    /// HS256 only: tokens issued before tokens carried a `kid` name the one secret implicitly.
    accepts_missing_kid: bool,
    jwks: JwkSet,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl AccessTokens {
    /// The key ring and validation rules from the configuration.
    pub fn new(config: &Config, keys: &JwtKeys) -> Self {
        let validation = |algorithm: Algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.set_issuer(&[&config.jwt_issuer]);
            validation.set_audience(&[&config.jwt_audience]);
            validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
            validation.validate_nbf = true;
            validation.leeway = LEEWAY_SECONDS;
            validation
        };
        let (encoding, algorithm, kid, ring, jwks) = match keys {
            JwtKeys::Asymmetric { signing, previous } => {
                let mut public_keys = vec![signing.public_key()];
                for key in previous {
                    if public_keys.iter().all(|k| k.kid != key.kid) {
                        public_keys.push(key);
                    }
                }
                let ring = public_keys
                    .iter()
                    .map(|key| VerificationKey {
                        kid: key.kid.clone(),
                        algorithm: key.algorithm,
                        decoding: key.decoding.clone(),
                        validation: validation(key.algorithm),
                    })
                    .collect();
                let jwks = JwkSet {
                    keys: public_keys.iter().map(|key| (*key.jwk).clone()).collect(),
                };
                let public = signing.public_key();
                (
                    signing.encoding.clone(),
                    public.algorithm,
                    public.kid.clone(),
                    ring,
                    jwks,
                )
            }
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
                    EncodingKey::from_secret(secret),
                    Algorithm::HS256,
                    kid,
                    ring,
                    JwkSet::default(),
                )
            }
        };
        AccessTokens {
            encoding,
            algorithm,
            kid,
            ring,
            accepts_missing_kid: matches!(keys, JwtKeys::Hs256(_)),
            jwks,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl: config.access_token_ttl,
        }
    }

    /// Signs a new access token for a user's session with the current key.
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
            kid: Some(self.kid.clone()),
            ..Header::new(self.algorithm)
        };
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|e| {
            ApiError::Internal(anyhow::Error::new(e).context("signing access token"))
        })?;
        Ok(IssuedAccessToken {
            token: token.into(),
            expires_in: self.ttl,
        })
    }

    /// Checks that `kid` names a key of the ring and `alg` is that key's, then the signature,
    /// `typ`, `exp`, `nbf`, `iss` and `aud`. Expired is `token_expired`; every other failure is a
    /// plain `invalid_token`, its cause logged at debug.
    pub fn verify(&self, token: &SecretString) -> Result<AccessToken, ApiError> {
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
        Ok(AccessToken {
            user_id: UserId::from_uuid(claims.sub),
            session_id: claims.sid,
            jti: claims.jti,
            expires_at: claims.exp,
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

    fn config() -> Config {
        Config {
            database: DatabaseConfig {
                url: tokio_postgres::Config::from_str("postgres://localhost/x").unwrap(),
                pool_size: 1,
                tls: DbTls::Disable,
                credentials_secret: None,
                timeouts: Default::default(),
            },
            jwt_keys: None,
            jwt_issuer: "issuer".into(),
            jwt_audience: "audience".into(),
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(3600),
            refresh_reuse_grace: Duration::from_secs(10),
            reset_token_ttl: Duration::from_secs(1800),
            reset_url: ResetUrl::Fixed("http://localhost/reset".into()),
            email: EmailTransport::Log,
            limits: RateLimits::default(),
        }
    }

    /// HS256 with [`SECRET`].
    fn tokens() -> AccessTokens {
        AccessTokens::new(&config(), &JwtKeys::Hs256(SECRET.into()))
    }

    /// Signing with `pem`, also accepting the public keys in `previous`.
    fn ring(pem: &str, previous: &[&str]) -> AccessTokens {
        let keys = JwtKeys::Asymmetric {
            signing: PrivateKey::from_pem(pem).unwrap(),
            previous: previous
                .iter()
                .map(|pem| PublicKey::from_pem(pem).unwrap())
                .collect(),
        };
        AccessTokens::new(&config(), &keys)
    }

    const SECRET: &str = "an-hs256-test-secret-of-32-bytes!!";

    // Made with `openssl genpkey -algorithm ed25519` / `-algorithm EC -pkeyopt
    // ec_paramgen_curve:P-256`, and `openssl pkey -pubout`: keys from another implementation.
    const ED25519_A: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIFrXqhIziaujiRUBojNbl3Hxe/+iQrbMyzEfa4Po3GF8
-----END PRIVATE KEY-----
";
    const ED25519_A_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi17I8Wd9YKMKYq2zkuOrr47qVtUCyfkJ0WjXhc7g3F0=
-----END PUBLIC KEY-----
";
    const ED25519_B: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIPeGkvEleyiyj+oLyPFCt2r/XnJ50LGqCuViCXc1lo2J
-----END PRIVATE KEY-----
";
    const P256: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIy697kKMwjPtUgcx
1Qpkrbz3KEC7MNjwwkeAp8ra/NihRANCAAR+AeAD2ttjZ/3K0vY0UlFjVe0A1WmT
JdJcgJ3SB3by2bTRVn6ADth6QdzlTjigwsOYuO64xmMwRB+HVTJmw+DZ
-----END PRIVATE KEY-----
";
    const P256_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfgHgA9rbY2f9ytL2NFJRY1XtANVp
kyXSXICd0gd28tm00VZ+gA7YekHc5U44oMLDmLjuuMZjMEQfh1UyZsPg2Q==
-----END PUBLIC KEY-----
";
    const P384: &str = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDBmeyN8csDrhJSVpL8a
vrlsnTGJJEmaSJmaMYNGZHCYHjDR6OIX09db/RnqIruzhHihZANiAAR3n9Kt4R3t
8fKNdpVngtTwCtJ8JHLe35kDRkcyJ2d46SOyBhVmRaIpnWVYFUCLNHgsyni+3l8a
I3t3BiYPplK6xFRaPTNruWHpQ7babs3dG57ZIouUUrpUxu8coJxK1yQ=
-----END PRIVATE KEY-----
";

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
    fn unsigned_tokens_are_rejected() {
        let tokens = tokens();
        let body = URL_SAFE_NO_PAD.encode(claims(serde_json::json!({})).to_string());
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#);
        let token = SecretString::from(format!("{header}.{body}."));
        assert_eq!(tokens.verify(&token).unwrap_err().code(), "invalid_token");
    }

    #[test]
    fn the_ed25519_kid_is_the_rfc_8037_thumbprint() {
        // RFC 8037 appendix A.1's private key (d), as PKCS#8; A.3 gives its JWK thumbprint.
        let pem = "-----BEGIN PRIVATE KEY-----\n\
                   MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
                   -----END PRIVATE KEY-----\n";

        let key = PrivateKey::from_pem(pem).unwrap();

        let public = key.public_key();
        assert_eq!(public.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        assert_eq!(public.algorithm(), Algorithm::EdDSA);
        assert_eq!(
            serde_json::to_value(public.jwk()).unwrap(),
            serde_json::json!({
                "use": "sig", "alg": "EdDSA", "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
                "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            })
        );
    }

    #[test]
    fn the_p256_kid_is_the_rfc_7638_thumbprint() {
        // Expected values from another implementation (Python joserfc's `ECKey.thumbprint()`).
        let key = PrivateKey::from_pem(P256).unwrap();

        let public = key.public_key();
        assert_eq!(public.kid(), "Grk0uazGRArobHZDZQ6lipht-EX9uQOIEfqYL39oYz0");
        assert_eq!(public.algorithm(), Algorithm::ES256);
        let jwk = serde_json::to_value(public.jwk()).unwrap();
        assert_eq!(jwk["x"], "fgHgA9rbY2f9ytL2NFJRY1XtANVpkyXSXICd0gd28tk");
        assert_eq!(jwk["y"], "tNFWfoAO2HpB3OVOOKDCw5i47rjGYzBEH4dVMmbD4Nk");
        assert_eq!((&jwk["kty"], &jwk["crv"]), (&"EC".into(), &"P-256".into()));
        assert!(jwk.get("d").is_none(), "no private member: {jwk}");
    }

    #[test]
    fn public_pems_give_the_same_key_as_their_private_pems() {
        for (private, public) in [(ED25519_A, ED25519_A_PUBLIC), (P256, P256_PUBLIC)] {
            let from_private = PrivateKey::from_pem(private).unwrap();
            let from_public = PublicKey::from_pem(public).unwrap();
            assert_eq!(from_public.kid(), from_private.public_key().kid());
            assert_eq!(from_public.jwk(), from_private.public_key().jwk());
        }
    }

    #[test]
    fn one_line_pems_with_escaped_newlines_are_read() {
        let one_line = ED25519_A.replace('\n', "\\n");
        assert!(!one_line.contains('\n'));

        let key = PrivateKey::from_pem(&one_line).unwrap();

        let expected = PrivateKey::from_pem(ED25519_A).unwrap();
        assert_eq!(key.public_key().kid(), expected.public_key().kid());
        for quoted in [format!("'{one_line}'"), format!("\"{one_line}\"")] {
            let key = PrivateKey::from_pem(&quoted).unwrap();
            assert_eq!(
                key.public_key().kid(),
                expected.public_key().kid(),
                "{quoted}"
            );
        }
        let list = format!("{}{}", ED25519_A_PUBLIC, P256_PUBLIC).replace('\n', "\\n");
        let keys = PublicKey::from_pem_list(&list).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1].algorithm(), Algorithm::ES256);
    }

    #[test]
    fn unusable_keys_are_refused() {
        let cases = [
            ("", "empty"),
            ("not a key", "garbage"),
            (P384, "P-384: not one of the two curves"),
            (
                ED25519_A_PUBLIC,
                "a public key where the private key belongs",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFrX\n-----END PRIVATE KEY-----\n",
                "truncated",
            ),
        ];
        for (pem, why) in cases {
            assert!(PrivateKey::from_pem(pem).is_err(), "{why}");
        }
        assert!(
            PublicKey::from_pem(ED25519_A).is_err(),
            "a private key as public"
        );
        let list = |text: &str| PublicKey::from_pem_list(text).map(|keys| keys.len());
        assert_eq!(list("").unwrap(), 0);
        assert_eq!(
            list(&format!("{ED25519_A_PUBLIC}\n{P256_PUBLIC}")).unwrap(),
            2
        );
        assert!(matches!(
            list(&format!("{ED25519_A_PUBLIC}{ED25519_A}")),
            Err(KeyError::NotAPublicKey(2))
        ));
        assert!(matches!(
            list(&format!("{ED25519_A_PUBLIC}x{P256_PUBLIC}")),
            Err(KeyError::NotAPublicKey(2))
        ));
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

            let issued = tokens.issue(user, session).unwrap();

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
            AccessTokens::new(
                &config(),
                &JwtKeys::Hs256("another-secret-of-32-bytes-or-more!".into())
            )
            .current_kid()
        );
        assert!(kid.starts_with("hs256-") && kid.len() == 6 + 16, "{kid}");
        assert!(!kid.contains(SECRET) && !kid.contains(&URL_SAFE_NO_PAD.encode(SECRET)));
    }

    #[test]
    fn tokens_of_a_previous_key_verify_after_rotation_until_it_is_dropped() {
        let before = ring(ED25519_A, &[]);
        let old_token = before
            .issue(UserId::from_uuid(Uuid::new_v4()), Uuid::new_v4())
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
            .issue(UserId::from_uuid(Uuid::new_v4()), Uuid::new_v4())
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
                    &current.encoding,
                ),
                "ok",
                "genuine",
            ),
            (
                sign_with(
                    &claims,
                    &header(Algorithm::ES256, Some(&p256_kid)),
                    &p256.encoding,
                ),
                "ok",
                "signed by a previous key of the ring",
            ),
            (
                sign_with(&claims, &header(Algorithm::EdDSA, None), &current.encoding),
                "invalid_token",
                "no kid",
            ),
            (
                sign_with(
                    &claims,
                    &header(Algorithm::EdDSA, Some(stranger.public_key().kid())),
                    &stranger.encoding,
                ),
                "invalid_token",
                "a kid outside the ring",
            ),
            (
                sign_with(
                    &claims,
                    &header(Algorithm::EdDSA, Some(&ed_kid)),
                    &stranger.encoding,
                ),
                "invalid_token",
                "another key's signature under our kid",
            ),
            (
                sign_with(
                    &claims,
                    &header(Algorithm::ES256, Some(&ed_kid)),
                    &p256.encoding,
                ),
                "invalid_token",
                "ES256 under the kid of the EdDSA key",
            ),
            (
                sign_with(
                    &claims,
                    &header(Algorithm::EdDSA, Some(&p256_kid)),
                    &current.encoding,
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
            &key.encoding,
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

    #[test]
    fn generated_keys_are_new_ed25519_keys_in_pkcs8_pem() {
        let a = PrivateKey::generate_ed25519_pem().unwrap();
        let b = PrivateKey::generate_ed25519_pem().unwrap();

        assert!(
            a.expose_secret()
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        let a = PrivateKey::from_pem(a.expose_secret()).unwrap();
        let b = PrivateKey::from_pem(b.expose_secret()).unwrap();
        assert_eq!(a.public_key().algorithm(), Algorithm::EdDSA);
        assert_ne!(a.public_key().kid(), b.public_key().kid());
    }

    #[test]
    fn debug_output_names_keys_by_kid_only() {
        let keys = JwtKeys::Asymmetric {
            signing: PrivateKey::from_pem(ED25519_A).unwrap(),
            previous: vec![],
        };
        let debug = format!("{keys:?} {:?}", JwtKeys::Hs256(SECRET.into()));
        assert!(debug.contains("kid"), "{debug}");
        assert!(
            !debug.contains(SECRET) && !debug.contains("MC4CAQ"),
            "{debug}"
        );
        let d = "WteqEjOJq6OJFQGiM1uXcfF7_6JCtszLMR9rg-jcYXw";
        assert!(!debug.contains(d), "{debug}");
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
