//! The key second factors are sealed and hashed under: `MFA_ENCRYPTION_KEY` (or
//! `MFA_ENCRYPTION_KEY_ARN` in AWS), 32 bytes in base64, and `MFA_PREVIOUS_ENCRYPTION_KEYS`
//! (comma-separated), the earlier keys that still open what they sealed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretBox, SecretString};

use super::{ConfigError, Environment, secret_problem};
use crate::aws::Aws;

/// One key's 32 bytes.
pub type MfaKeyBytes = SecretBox<[u8; 32]>;

/// The keys of the second factors; `None` for the functions given none (those that never touch
/// a second factor).
#[derive(Debug)]
pub struct MfaSettings {
    pub key: Option<MfaKeyBytes>,
    pub previous: Vec<MfaKeyBytes>,
}

/// A copy of each key, still secret (`SecretBox` copies only what says it may be copied).
impl Clone for MfaSettings {
    fn clone(&self) -> Self {
        let copy = |key: &MfaKeyBytes| SecretBox::new(Box::new(*key.expose_secret()));
        MfaSettings {
            key: self.key.as_ref().map(copy),
            previous: self.previous.iter().map(copy).collect(),
        }
    }
}

impl MfaSettings {
    /// Whether `key` is a usable `MFA_ENCRYPTION_KEY` (what the deploy checks before keeping a
    /// secret's value).
    pub fn check_key(key: &SecretString) -> Result<(), ConfigError> {
        decode("MFA_ENCRYPTION_KEY", key).map(drop)
    }

    pub(super) async fn load(env: &Environment, aws: &Aws) -> Result<Self, ConfigError> {
        let (variable, key) =
            match (
                env.secret("MFA_ENCRYPTION_KEY"),
                env.text("MFA_ENCRYPTION_KEY_ARN"),
            ) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::new(
                        "MFA_ENCRYPTION_KEY_ARN",
                        "set MFA_ENCRYPTION_KEY or MFA_ENCRYPTION_KEY_ARN, not both",
                    ));
                }
                (Some(key), None) => ("MFA_ENCRYPTION_KEY", Some(key)),
                (None, Some(arn)) => (
                    "MFA_ENCRYPTION_KEY_ARN",
                    Some(aws.secret_string(arn).await.map_err(|e| {
                        ConfigError::new("MFA_ENCRYPTION_KEY_ARN", secret_problem(e))
                    })?),
                ),
                (None, None) => ("MFA_ENCRYPTION_KEY", None),
            };
        let key = key.map(|key| decode(variable, &key)).transpose()?;
        let previous = match env.secret("MFA_PREVIOUS_ENCRYPTION_KEYS") {
            Some(keys) => keys
                .expose_secret()
                .split(',')
                .map(str::trim)
                .filter(|key| !key.is_empty())
                .map(|key| decode("MFA_PREVIOUS_ENCRYPTION_KEYS", &SecretString::from(key)))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        if key.is_none() && !previous.is_empty() {
            return Err(ConfigError::new(
                "MFA_PREVIOUS_ENCRYPTION_KEYS",
                "needs MFA_ENCRYPTION_KEY (or MFA_ENCRYPTION_KEY_ARN): previous keys only open",
            ));
        }
        Ok(MfaSettings { key, previous })
    }
}

/// 32 bytes from base64; the error never quotes the value.
fn decode(variable: &str, key: &SecretString) -> Result<MfaKeyBytes, ConfigError> {
    let bytes = STANDARD
        .decode(key.expose_secret().trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| {
            ConfigError::new(
                variable,
                "must be 32 bytes in base64 (generate one with `openssl rand -base64 32`)",
            )
        })?;
    Ok(SecretBox::new(Box::new(bytes)))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DB, KEY, load};
    use super::*;

    const MFA_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[tokio::test]
    async fn the_key_is_32_bytes_of_base64_and_optional() {
        let none = load(&[DB, KEY]).await.unwrap().mfa;
        assert!(none.key.is_none() && none.previous.is_empty());
        let some = load(&[
            DB,
            KEY,
            ("MFA_ENCRYPTION_KEY", MFA_KEY),
            (
                "MFA_PREVIOUS_ENCRYPTION_KEYS",
                &format!(" {MFA_KEY} ,{MFA_KEY}"),
            ),
        ])
        .await
        .unwrap()
        .mfa;
        let expected: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(some.key.unwrap().expose_secret(), &expected);
        assert_eq!(some.previous.len(), 2);
        for (variable, value) in [
            ("MFA_ENCRYPTION_KEY", "c2hvcnQ="),
            ("MFA_ENCRYPTION_KEY", "not base64 at all!"),
            ("MFA_PREVIOUS_ENCRYPTION_KEYS", "c2hvcnQ="),
        ] {
            let error = load(&[DB, KEY, ("MFA_ENCRYPTION_KEY", MFA_KEY), (variable, value)])
                .await
                .unwrap_err();
            assert_eq!(error.variable, variable, "{value}");
            assert!(
                !error.to_string().contains(value),
                "the value is not quoted"
            );
        }
        let orphan = load(&[DB, KEY, ("MFA_PREVIOUS_ENCRYPTION_KEYS", MFA_KEY)])
            .await
            .unwrap_err();
        assert_eq!(orphan.variable, "MFA_PREVIOUS_ENCRYPTION_KEYS");
    }
}
