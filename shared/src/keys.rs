//! Signing keys of the access tokens, parsed from their configured form: Ed25519 and P-256 keys
//! from PKCS#8 / SubjectPublicKeyInfo PEM, each with its JWK and `kid`, or one HS256 secret.
//!
//! A leaf beside the domain types: configuration parses keys here at cold start (a bad key stops
//! the function, naming its variable), and [`crate::tokens`] signs and verifies with them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::EncodePublicKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
    ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::TryRngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

/// A configured key that cannot be used. The message names no key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "is not a PKCS#8 PEM private key for Ed25519 or P-256 (generate one with `openssl genpkey -algorithm ed25519`)"
    )]
    NotAPrivateKey,
    #[error("key {0} is not a PEM public key (BEGIN PUBLIC KEY) for Ed25519 or P-256")]
    NotAPublicKey(usize),
    #[error(
        "must be at least {MIN_SECRET_BYTES} bytes (generate one with `openssl rand -base64 48`)"
    )]
    SecretTooShort,
}

/// HS256 keys shorter than the hash output weaken the MAC (RFC 7518 §3.2).
const MIN_SECRET_BYTES: usize = 32;

/// How access tokens are signed and checked (the `JWT_*` settings).
#[derive(Clone)]
pub enum JwtKeys {
    /// `JWT_PRIVATE_KEY`: sign with this key; verify with it and with `previous`, the public keys
    /// of earlier signing keys whose tokens may still be unexpired (`JWT_PREVIOUS_PUBLIC_KEYS`).
    Asymmetric {
        signing: PrivateKey,
        previous: Vec<PublicKey>,
    },
    /// `JWT_PUBLIC_KEY`: verify only, with the signing key's public half and `previous`. What
    /// the functions that check tokens or publish the JWKS hold: never the private key.
    Public {
        current: PublicKey,
        previous: Vec<PublicKey>,
    },
    /// `JWT_SECRET_KEY`: HS256 with one shared secret, for simple setups. Publishes no key.
    Hs256(SecretString),
}

impl JwtKeys {
    /// Whether these keys can sign (a private key or the HS256 secret), not only verify.
    pub fn signs(&self) -> bool {
        !matches!(self, JwtKeys::Public { .. })
    }

    /// An HS256 secret, refused when shorter than the hash output.
    pub fn hs256(secret: SecretString) -> Result<Self, KeyError> {
        if secret.expose_secret().len() < MIN_SECRET_BYTES {
            return Err(KeyError::SecretTooShort);
        }
        Ok(JwtKeys::Hs256(secret))
    }
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtKeys::Asymmetric { signing, previous } => f
                .debug_struct("Asymmetric")
                .field("signing", signing)
                .field("previous", previous)
                .finish(),
            JwtKeys::Public { current, previous } => f
                .debug_struct("Public")
                .field("current", current)
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

    /// What `jsonwebtoken` signs with.
    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
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
    /// SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`), as [`Self::from_pem`] reads it.
    pem: String,
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

    /// What `jsonwebtoken` verifies with.
    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The key as a SubjectPublicKeyInfo PEM: what the deploy hands the verifying functions
    /// (`JWT_PUBLIC_KEY`), so that only the signing functions read the private key.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    fn ed25519(key: &ed25519_dalek::VerifyingKey) -> Self {
        PublicKey::from_parameters(
            spki_pem(key.to_public_key_pem(LineEnding::LF)),
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
            spki_pem(key.to_public_key_pem(LineEnding::LF)),
            Algorithm::ES256,
            AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: coordinate(point.x()),
                y: coordinate(point.y()),
            }),
        )
    }

    fn from_parameters(pem: String, algorithm: Algorithm, parameters: AlgorithmParameters) -> Self {
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
            pem,
        }
    }
}

/// Encoding a valid key as PEM fails only on allocation: no configured key can make it fail.
fn spki_pem(pem: Result<String, ed25519_dalek::pkcs8::spki::Error>) -> String {
    pem.expect("a valid public key encodes as SubjectPublicKeyInfo PEM")
}

/// Env files hold one line per variable: a PEM there has its line breaks written as `\n`, and
/// may keep the quotes around it. Separators between listed keys go too.
fn normalize_pem(text: &str) -> String {
    text.replace("\\r\\n", "\n")
        .replace("\\n", "\n")
        .trim_matches(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ','))
        .to_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // The test keys, one file each (see testkit/keys/README.md).
    pub(crate) const ED25519_A: &str = include_str!("../../testkit/keys/ed25519-a.pem");
    pub(crate) const ED25519_A_PUBLIC: &str = include_str!("../../testkit/keys/ed25519-a.pub.pem");
    pub(crate) const ED25519_B: &str = include_str!("../../testkit/keys/ed25519-b.pem");
    pub(crate) const ED25519_B_PUBLIC: &str = include_str!("../../testkit/keys/ed25519-b.pub.pem");
    pub(crate) const P256: &str = include_str!("../../testkit/keys/p256.pem");
    pub(crate) const P256_PUBLIC: &str = include_str!("../../testkit/keys/p256.pub.pem");
    const P384: &str = include_str!("../../testkit/keys/p384.pem");
    const SECRET: &str = "an-hs256-test-secret-of-32-bytes!!";

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
    fn a_public_key_round_trips_through_its_pem() {
        for (private, public) in [(ED25519_A, ED25519_A_PUBLIC), (P256, P256_PUBLIC)] {
            let derived = PrivateKey::from_pem(private).unwrap();
            let pem = derived.public_key().pem();

            assert_eq!(pem.trim(), public.trim(), "openssl's own public PEM");
            let read = PublicKey::from_pem(pem).unwrap();
            assert_eq!(read.kid(), derived.public_key().kid());
            assert_eq!(read.algorithm(), derived.public_key().algorithm());
        }
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
    fn hs256_secrets_shorter_than_32_bytes_are_refused() {
        assert!(matches!(
            JwtKeys::hs256("31-bytes-is-one-byte-too-short!".into()),
            Err(KeyError::SecretTooShort)
        ));
        assert!(JwtKeys::hs256(SECRET.into()).is_ok());
    }
}
