//! The 6-digit codes sent beside a confirmation link: drawn uniformly, shown once, stored only as
//! an HMAC under a server-side key, so a copy of the database cannot try the million codes offline.

use hmac::{Hmac, Mac};
use rand::TryRngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::domain::{Email, EmailCode};
use crate::error::ApiError;

/// The key codes are stored under (`VERIFICATION_CODE_KEY`).
#[derive(Clone)]
pub struct CodeKey(SecretString);

/// HMAC-SHA-256 of an address and a code under the [`CodeKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeHash(pub [u8; 32]);

impl CodeKey {
    /// Wraps the configured key.
    pub fn new(key: SecretString) -> Self {
        CodeKey(key)
    }

    /// The stored form of `code` for `email`: the address is part of it, so a code only ever
    /// confirms the address it was sent to.
    pub fn hash(&self, email: &Email, code: &EmailCode) -> CodeHash {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(email.as_str().as_bytes());
        mac.update(b"\0");
        mac.update(code.as_str().as_bytes());
        CodeHash(mac.finalize().into_bytes().into())
    }
}

impl EmailCode {
    /// A new code, uniform over 000000–999999 (rejection sampling: no modulo bias).
    pub fn generate() -> Result<Self, ApiError> {
        const CODES: u32 = 1_000_000;
        // The largest multiple of a million below 2^32: draws at or above it are redrawn.
        const LIMIT: u32 = u32::MAX - u32::MAX % CODES;
        loop {
            let draw = OsRng.try_next_u32().map_err(|e| {
                ApiError::Internal(anyhow::Error::new(e).context("reading the OS random source"))
            })?;
            if draw < LIMIT {
                return Ok(EmailCode::from_digits(draw % CODES));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: Vec<String> = (0..50)
            .map(|_| EmailCode::generate().unwrap().as_str().to_owned())
            .collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        let distinct: std::collections::BTreeSet<&String> = codes.iter().collect();
        assert!(distinct.len() > 45, "{codes:?}");
    }

    #[test]
    fn the_hash_binds_key_address_and_code() {
        let key = CodeKey::new("k".repeat(32).into());
        let other_key = CodeKey::new("x".repeat(32).into());
        let jane = Email::parse("jane@example.com").unwrap();
        let john = Email::parse("john@example.com").unwrap();
        let code = EmailCode::parse("012345").unwrap();
        let other = EmailCode::parse("012346").unwrap();
        let hash = key.hash(&jane, &code);
        assert_eq!(
            hash,
            key.hash(&jane, &EmailCode::parse(" 012345 ").unwrap())
        );
        assert_ne!(hash, key.hash(&john, &code), "another address");
        assert_ne!(hash, key.hash(&jane, &other), "another code");
        assert_ne!(hash, other_key.hash(&jane, &code), "another key");
    }
}
