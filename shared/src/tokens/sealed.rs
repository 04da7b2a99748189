//! Second-factor secrets sealed at rest: AES-256-GCM under `MFA_ENCRYPTION_KEY`, each ciphertext
//! stored with the id of the key that sealed it, so the key can rotate (previous keys still open
//! what they sealed) and a database copy alone reveals no TOTP secret.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::domain::UserId;
use crate::error::ApiError;

/// Bytes of a GCM nonce; a random one per sealing (2^32 sealings per key stay far from a
/// collision's risk).
const NONCE_BYTES: usize = 12;
/// Domain separation of the key id: a hash of the key, never the key.
const KEY_ID_LABEL: &[u8] = b"jwt-auth-api MFA key id\n";

/// One 256-bit key and its id.
#[derive(Clone)]
pub struct SealingKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The key that seals, and the earlier ones that still open what they sealed.
#[derive(Clone)]
pub struct SealingKeys {
    current: SealingKey,
    previous: Vec<SealingKey>,
}

/// A sealed secret as stored: the key id, and the nonce followed by the ciphertext and its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

/// A new key as `MFA_ENCRYPTION_KEY` holds it: 32 random bytes in base64 (what `make dev` writes
/// into `local/.env`, and the deploy into its secret).
pub fn new_key_base64() -> Result<String, ApiError> {
    use base64::Engine as _;
    let mut key = [0u8; 32];
    OsRng.try_fill_bytes(&mut key).map_err(|e| {
        ApiError::Internal(anyhow::Error::new(e).context("reading the OS random source"))
    })?;
    Ok(base64::engine::general_purpose::STANDARD.encode(key))
}

impl SealingKey {
    /// A key from its 32 bytes.
    pub fn new(key: &[u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(KEY_ID_LABEL)
            .chain_update(key)
            .finalize();
        SealingKey {
            id: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl SealingKeys {
    pub fn new(current: SealingKey, previous: Vec<SealingKey>) -> Self {
        SealingKeys { current, previous }
    }

    /// Seals `secret` for `user`: the account is the associated data, so a ciphertext copied onto
    /// another account's row does not open.
    pub fn seal(&self, user: UserId, secret: &[u8]) -> Result<Sealed, ApiError> {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.try_fill_bytes(&mut nonce).map_err(|e| {
            ApiError::Internal(anyhow::Error::new(e).context("reading the OS random source"))
        })?;
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: user.as_uuid().as_bytes(),
                },
            )
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("AES-GCM refused to seal")))?;
        Ok(Sealed {
            key_id: self.current.id.clone(),
            bytes: [nonce.as_slice(), &ciphertext].concat(),
        })
    }

    /// Opens what [`Self::seal`] sealed for `user`, with whichever known key sealed it. An
    /// unknown key id, a changed byte or another account's ciphertext is an internal error: the
    /// database or the configuration is wrong, not the request.
    pub fn open(&self, user: UserId, sealed: &Sealed) -> Result<Vec<u8>, ApiError> {
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == sealed.key_id)
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!(
                    "a secret sealed with MFA key {} which is neither MFA_ENCRYPTION_KEY nor one \
                     of MFA_PREVIOUS_ENCRYPTION_KEYS",
                    sealed.key_id
                ))
            })?;
        if sealed.bytes.len() < NONCE_BYTES {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "a sealed secret is truncated"
            )));
        }
        let (nonce, ciphertext) = sealed.bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().expect("split at NONCE_BYTES");
        key.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: user.as_uuid().as_bytes(),
                },
            )
            .map_err(|_| {
                ApiError::Internal(anyhow::anyhow!(
                    "a sealed secret does not open: altered, or not this account's"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(current: u8, previous: &[u8]) -> SealingKeys {
        SealingKeys::new(
            SealingKey::new(&[current; 32]),
            previous
                .iter()
                .map(|b| SealingKey::new(&[*b; 32]))
                .collect(),
        )
    }

    #[test]
    fn a_secret_opens_for_its_account_with_the_key_that_sealed_it() {
        let jane = UserId::from_uuid(uuid::Uuid::new_v4());
        let john = UserId::from_uuid(uuid::Uuid::new_v4());
        let secret = b"twenty bytes of TOTP";
        let sealed = keys(1, &[]).seal(jane, secret).unwrap();

        assert_eq!(sealed.key_id, SealingKey::new(&[1; 32]).id());
        assert_eq!(sealed.bytes.len(), 12 + secret.len() + 16);
        assert!(!sealed.bytes.windows(secret.len()).any(|w| w == secret));
        assert_eq!(keys(1, &[]).open(jane, &sealed).unwrap(), secret);
        // After a rotation the old key still opens it; without it, nothing does.
        assert_eq!(keys(2, &[1]).open(jane, &sealed).unwrap(), secret);
        assert!(keys(2, &[]).open(jane, &sealed).is_err());
        assert!(keys(1, &[]).open(john, &sealed).is_err(), "another account");
        let mut altered = sealed.clone();
        altered.bytes[20] ^= 1;
        assert!(keys(1, &[]).open(jane, &altered).is_err(), "a changed byte");
        assert_ne!(
            keys(1, &[]).seal(jane, secret).unwrap().bytes,
            sealed.bytes,
            "a fresh nonce each time"
        );
    }
}
