//! `Email`: a trimmed, lower-cased, plausible email address of at most 254 bytes.

use email_address::{EmailAddress, Options};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// RFC 5321 §4.5.3.1.3: a forward path holds at most 256 octets including the angle brackets.
const MAX_BYTES: usize = 254;

/// A normalised email address; two spellings that differ only in case are the same `Email`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Trims, checks and lower-cases an address; the result is the account's identity.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let trimmed = raw.trim();
        if trimmed.len() > MAX_BYTES {
            return Err(ApiError::InvalidEmail(
                "Email address must not exceed 254 bytes",
            ));
        }
        // A bare address with a dotted domain: no "Name <a@b>" forms, no [IP] literals, no
        // single-label hosts such as `root@localhost` that no real mailbox uses.
        let options = Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
        };
        EmailAddress::parse_with_options(trimmed, options)
            .map_err(|_| ApiError::InvalidEmail("Email address is not valid"))?;
        Ok(Email(trimmed.to_lowercase()))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address as throttling counters and the audit log know it: attempted emails need not
    /// belong to anyone, so they are kept as a digest rather than in clear.
    pub fn digest(&self) -> EmailDigest {
        let mut hasher = Sha256::new();
        // Domain separation: this digest cannot collide with any other SHA-256 the API stores.
        hasher.update(b"jwt-auth-api email v1\0");
        hasher.update(self.0.as_bytes());
        EmailDigest(hasher.finalize().into())
    }
}

/// SHA-256 of a normalised email address (see [`Email::digest`]). Pseudonymous, not anonymous:
/// whoever knows an address can compute its digest and find its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailDigest(pub [u8; 32]);

impl EmailDigest {
    /// Lower-case hex, for text keys.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_normalises_plausible_addresses() {
        let cases = [
            ("john@example.com", "john@example.com", "plain"),
            (
                "  John@Example.COM\n",
                "john@example.com",
                "trimmed and lower-cased",
            ),
            (
                "first.last+tag@sub.example.co.uk",
                "first.last+tag@sub.example.co.uk",
                "plus tag, subdomains",
            ),
        ];
        for (raw, expected, why) in cases {
            assert_eq!(Email::parse(raw).unwrap().as_str(), expected, "{why}");
        }
    }

    #[test]
    fn rejects_implausible_addresses() {
        let too_long = format!("{}@{}.com", "a".repeat(64), "b".repeat(200));
        let cases = [
            ("johnexample.com", "no @"),
            ("john@", "no domain"),
            ("@example.com", "no local part"),
            ("john@localhost", "single-label domain"),
            ("john doe@example.com", "space in local part"),
            ("John <john@example.com>", "display name"),
            ("john@[127.0.0.1]", "domain literal"),
            ("john@@example.com", "two @"),
            (too_long.as_str(), "longer than 254 bytes"),
        ];
        for (raw, why) in cases {
            assert_eq!(
                Email::parse(raw).unwrap_err().code(),
                "invalid_email",
                "{why}"
            );
        }
    }

    #[test]
    fn exactly_254_bytes_is_accepted() {
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(59)
        );
        let address = format!("{}@{domain}", "d".repeat(254 - domain.len() - 1));
        assert_eq!(address.len(), 254);
        assert!(Email::parse(&address).is_ok());
        assert!(Email::parse(&format!("d{address}")).is_err());
    }

    proptest! {
        #[test]
        fn valid_addresses_round_trip_lower_cased(
            local in "[a-zA-Z0-9][a-zA-Z0-9._+-]{0,20}[a-zA-Z0-9]",
            domain in "[a-zA-Z][a-zA-Z0-9-]{0,20}[a-zA-Z0-9]\\.[a-zA-Z]{2,6}",
        ) {
            prop_assume!(!local.contains(".."));
            let raw = format!("  {local}@{domain} ");
            let email = Email::parse(&raw).unwrap();
            prop_assert_eq!(email.as_str(), format!("{local}@{domain}").to_lowercase());
        }

        #[test]
        fn parsing_is_case_insensitive(raw in "[a-zA-Z]{1,10}@[a-zA-Z]{1,10}\\.[a-zA-Z]{2,4}") {
            prop_assert_eq!(Email::parse(&raw).unwrap(), Email::parse(&raw.to_uppercase()).unwrap());
        }

        #[test]
        fn strings_without_at_sign_never_parse(raw in "[^@]{0,300}") {
            prop_assert!(Email::parse(&raw).is_err());
        }

        #[test]
        fn parsed_emails_never_exceed_254_bytes(raw in "\\PC{0,400}") {
            if let Ok(email) = Email::parse(&raw) {
                prop_assert!(email.as_str().len() <= 254);
            }
        }
    }
}
