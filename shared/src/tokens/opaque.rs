//! Opaque tokens (refresh and reset): 256 random bits handed out once, stored only as SHA-256.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

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

    /// A hash read back from storage; `None` if it is not 32 bytes (a schema check prevents it).
    pub fn from_stored(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(TokenHash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
