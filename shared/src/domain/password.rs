//! `Password`: a candidate password of 8 to 256 Unicode characters, kept secret.

use secrecy::{ExposeSecret, SecretString};

use crate::error::ApiError;

const MIN_CHARS: usize = 8;
const MAX_CHARS: usize = 256;

/// A password that satisfies the length rules; never logged, never truncated.
#[derive(Debug)]
pub struct Password(SecretString);

impl Password {
    /// Counts Unicode scalar values, not bytes; no composition rules (NIST SP 800-63B §5.1.1.2).
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let chars = raw.chars().count();
        if chars < MIN_CHARS {
            return Err(ApiError::InvalidPassword(
                "Password must be at least 8 characters long",
            ));
        }
        if chars > MAX_CHARS {
            return Err(ApiError::InvalidPassword(
                "Password must be at most 256 characters long",
            ));
        }
        Ok(Password(SecretString::from(raw)))
    }

    /// The password's bytes, for hashing only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters() {
        let cases = [
            ("1234567", false, "7 ASCII characters"),
            ("12345678", true, "8 ASCII characters"),
            ("ééééééé", false, "7 characters, 14 bytes"),
            ("éééééééé", true, "8 two-byte characters"),
            ("🔑🔑🔑🔑🔑🔑🔑🔑", true, "8 four-byte characters"),
        ];
        for (raw, ok, why) in cases {
            assert_eq!(Password::parse(raw).is_ok(), ok, "{why}");
        }
    }

    #[test]
    fn upper_bound_is_256_characters_and_nothing_is_truncated() {
        let max = "é".repeat(256);
        assert_eq!(Password::parse(&max).unwrap().expose(), max);
        let err = Password::parse(&"a".repeat(257)).unwrap_err();
        assert_eq!(err.code(), "invalid_password");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let password = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }
}
