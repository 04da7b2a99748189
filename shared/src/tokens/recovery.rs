//! Recovery codes: ten drawn at a time, shown once, stored only as keyed hashes bound to their
//! account, so a copy of the database can neither read them nor try them offline.

use hmac::{Hmac, Mac};
use rand::TryRngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use crate::domain::{RECOVERY_CODE_SYMBOLS, RecoveryCode, UserId};
use crate::error::ApiError;

/// Codes in a set: a new set replaces the whole previous one.
pub const RECOVERY_CODES_PER_SET: usize = 10;

/// Domain separation: no other HMAC under the same key can produce a recovery code's hash.
const LABEL: &[u8] = b"jwt-auth-api recovery code v1\0";

/// The key recovery codes are hashed under (from `MFA_ENCRYPTION_KEY`).
#[derive(Clone)]
pub struct RecoveryKey(SecretSlice<u8>);

/// HMAC-SHA-256 of an account and one of its recovery codes under the [`RecoveryKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryHash(pub [u8; 32]);

impl RecoveryKey {
    pub fn new(key: SecretSlice<u8>) -> Self {
        RecoveryKey(key)
    }

    /// The stored form of `code` for `user`: the same code of another account hashes apart.
    pub fn hash(&self, user: UserId, code: &RecoveryCode) -> RecoveryHash {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret())
            .expect("HMAC takes a key of any length");
        mac.update(LABEL);
        mac.update(user.as_uuid().as_bytes());
        mac.update(code.as_str().as_bytes());
        RecoveryHash(mac.finalize().into_bytes().into())
    }
}

/// A new set of codes: each symbol uniform over the 32 of the alphabet (a random byte's low five
/// bits: 256 is a multiple of 32, so there is no bias), 60 bits per code.
pub fn generate_recovery_codes() -> Result<Vec<RecoveryCode>, ApiError> {
    (0..RECOVERY_CODES_PER_SET)
        .map(|_| {
            let mut symbols = [0u8; RECOVERY_CODE_SYMBOLS];
            OsRng.try_fill_bytes(&mut symbols).map_err(|e| {
                ApiError::Internal(anyhow::Error::new(e).context("reading the OS random source"))
            })?;
            Ok(RecoveryCode::from_symbols(symbols))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> RecoveryKey {
        RecoveryKey::new(vec![byte; 32].into())
    }

    #[test]
    fn a_set_is_ten_distinct_codes_that_read_back() {
        let codes = generate_recovery_codes().unwrap();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::BTreeSet<&str> =
            codes.iter().map(RecoveryCode::as_str).collect();
        assert_eq!(distinct.len(), 10);
        for code in &codes {
            assert_eq!(RecoveryCode::parse(&code.to_string()).as_ref(), Some(code));
            assert_eq!(
                RecoveryCode::parse(&code.to_string().to_lowercase()).as_ref(),
                Some(code)
            );
        }
    }

    #[test]
    fn the_hash_binds_key_account_and_code() {
        let jane = UserId::from_uuid(uuid::Uuid::new_v4());
        let john = UserId::from_uuid(uuid::Uuid::new_v4());
        let code = RecoveryCode::parse("0123-ABCD-WXYZ").unwrap();
        let other = RecoveryCode::parse("0123-ABCD-WXY0").unwrap();
        let hash = key(1).hash(jane, &code);
        assert_eq!(hash, key(1).hash(jane, &code));
        assert_ne!(hash, key(2).hash(jane, &code));
        assert_ne!(hash, key(1).hash(john, &code));
        assert_ne!(hash, key(1).hash(jane, &other));
    }
}
