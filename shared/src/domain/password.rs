//! `Password`: a candidate password of 8 to 256 Unicode characters, kept secret; `NewPassword`:
//! one that may also be set, being neither common nor built on the account's email address.

use secrecy::{ExposeSecret, SecretString};

use super::{Email, common_passwords};
use crate::error::ApiError;

const MIN_CHARS: usize = 8;
const MAX_CHARS: usize = 256;
/// Shorter names of an address (`al@…`) would forbid every password holding two common letters.
const MIN_EMAIL_NAME_CHARS: usize = 3;

/// Why [`NewPassword`] refuses a password that passes the length rules.
const TOO_COMMON: &str = "Password is too common: it appears in lists of leaked passwords";
/// See [`TOO_COMMON`].
const CONTAINS_EMAIL_NAME: &str =
    "Password must not contain the part of the email address before the @";

/// A password that satisfies the length rules; never logged, never truncated. `Clone` so that
/// sign-in can rehash the password it has just verified.
#[derive(Debug, Clone)]
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

/// A password being set, at sign-up or reset: a [`Password`] that is also not on the bundled list
/// of common passwords (in any letter case) and does not contain the name part of the account's
/// email address (NIST SP 800-63B §5.1.1.2: no breached, expected or context-specific secrets).
/// Sign-in takes a plain [`Password`], so an older password is never refused there as "common".
#[derive(Debug)]
pub struct NewPassword(Password);

impl NewPassword {
    /// Applies the length rules, then [`NewPassword::for_account`].
    pub fn parse(raw: &str, email: &Email) -> Result<Self, ApiError> {
        Self::for_account(Password::parse(raw)?, email)
    }

    /// Checks a password against the list and against `email`. The name part is the local part
    /// of the address, and also its part before any `+tag`; either is looked for, in any letter
    /// case, once it has at least 3 characters.
    pub fn for_account(password: Password, email: &Email) -> Result<Self, ApiError> {
        if common_passwords::contains(password.expose()) {
            return Err(ApiError::InvalidPassword(TOO_COMMON));
        }
        // `Email` is lower-cased; the local part cannot be empty (`Email::parse` refuses that).
        let local = email
            .as_str()
            .rsplit_once('@')
            .map_or(email.as_str(), |(local, _)| local);
        let untagged = local.split('+').next().unwrap_or(local);
        let lowered = password.expose().to_lowercase();
        if [local, untagged]
            .into_iter()
            .any(|name| name.chars().count() >= MIN_EMAIL_NAME_CHARS && lowered.contains(name))
        {
            return Err(ApiError::InvalidPassword(CONTAINS_EMAIL_NAME));
        }
        Ok(NewPassword(password))
    }

    /// The checked password, for hashing.
    pub fn into_password(self) -> Password {
        self.0
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

    fn email(raw: &str) -> Email {
        Email::parse(raw).unwrap()
    }

    fn refusal(raw: &str, address: &str) -> Option<&'static str> {
        match NewPassword::parse(raw, &email(address)) {
            Ok(_) => None,
            Err(ApiError::InvalidPassword(message)) => Some(message),
            Err(other) => panic!("{raw:?}: unexpected {other:?}"),
        }
    }

    #[test]
    fn the_readme_password_is_accepted() {
        assert_eq!(refusal("SecurePass123", "john@example.com"), None);
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        let cases = [
            "password123",
            "Password123",
            "PASSWORD123",
            "qwerty123",
            "QWERTY123",
            "iloveyou1",
            "1q2w3e4r5t",
            "qwertyuiop",
            "football1",
            "trustno1",
        ];
        for raw in cases {
            assert_eq!(refusal(raw, "jane@example.com"), Some(TOO_COMMON), "{raw}");
        }
    }

    #[test]
    fn passwords_containing_the_email_name_are_refused() {
        let cases = [
            (
                "Jane Doe 1999!",
                "jane@example.com",
                "local part, other case",
            ),
            (
                "my-JANE.DOE-pass",
                "jane.doe@example.com",
                "dotted local part",
            ),
            (
                "xx-jane+news-xx",
                "jane+news@example.com",
                "local part with its tag",
            ),
            (
                "janet and her cat",
                "jane+news@example.com",
                "local part before the tag",
            ),
            (
                "bob is my name ok",
                "bob@example.com",
                "three characters are enough",
            ),
            (
                "xx+yy reading",
                "xx+yy@example.io",
                "name and tag too short, but not the whole local part",
            ),
        ];
        for (raw, address, why) in cases {
            assert_eq!(refusal(raw, address), Some(CONTAINS_EMAIL_NAME), "{why}");
        }
    }

    #[test]
    fn short_email_names_and_unrelated_passwords_are_not_refused() {
        let cases = [
            ("a long passphrase", "a@example.io", "one-character name"),
            (
                "all along the watchtower",
                "al@example.io",
                "two-character name",
            ),
            (
                "doe jane reversed",
                "jane.doe@example.com",
                "parts in another order",
            ),
            (
                "correct horse battery staple",
                "jane@example.com",
                "unrelated",
            ),
            (
                "example.com is my site",
                "jane@example.com",
                "the domain is not the name",
            ),
        ];
        for (raw, address, why) in cases {
            assert_eq!(refusal(raw, address), None, "{why}");
        }
    }

    #[test]
    fn length_rules_come_first_and_keep_their_messages() {
        let err = NewPassword::parse("qwerty", &email("jane@example.com")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Password must be at least 8 characters long"
        );
    }

    #[test]
    fn a_checked_password_is_kept_untouched() {
        let checked =
            NewPassword::parse("  Mixed Case Pass  ", &email("jane@example.com")).unwrap();
        assert_eq!(checked.into_password().expose(), "  Mixed Case Pass  ");
    }
}
