//! Passkey request fields: the name a user gives a passkey, and the id of a WebAuthn ceremony.

use uuid::Uuid;

use crate::error::ApiError;

const MAX_NAME_CHARS: usize = 64;

/// A passkey's name as its owner sees it in the list: trimmed, 1 to 64 characters, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyName(String);

impl PasskeyName {
    /// The name of a passkey registered without one.
    pub const DEFAULT: &'static str = "Passkey";

    /// The field as sent: absent or blank gives [`Self::DEFAULT`] (naming is optional), anything
    /// else must obey the rules (`invalid_name`).
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let trimmed = raw.map(str::trim).unwrap_or_default();
        if trimmed.is_empty() {
            return Ok(PasskeyName(Self::DEFAULT.to_owned()));
        }
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::InvalidName(
                "A passkey's name must be at most 64 characters long",
            ));
        }
        // The name goes into an email to the owner and the log: no forged lines or headers.
        if trimmed.chars().any(char::is_control) {
            return Err(ApiError::InvalidName(
                "A passkey's name must not contain control characters",
            ));
        }
        Ok(PasskeyName(trimmed.to_owned()))
    }

    /// A name as stored (it was parsed on the way in).
    pub(crate) fn from_stored(name: String) -> Self {
        PasskeyName(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `ceremony_id` a start hands out and its finish sends back. Anything but a UUID names no
/// ceremony: `invalid_passkey`, the same answer as an unknown, used or expired one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CeremonyId(Uuid);

impl CeremonyId {
    /// A new, unguessable id (UUID v4: 122 random bits).
    pub fn generate() -> Self {
        CeremonyId(Uuid::new_v4())
    }

    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        Uuid::parse_str(raw)
            .map(CeremonyId)
            .map_err(|_| ApiError::InvalidPasskey)
    }

    pub fn as_uuid(self) -> Uuid {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed_bounded_and_default_when_absent() {
        assert_eq!(
            PasskeyName::parse(Some("  My phone ")).unwrap().as_str(),
            "My phone"
        );
        assert_eq!(PasskeyName::parse(None).unwrap().as_str(), "Passkey");
        assert_eq!(
            PasskeyName::parse(Some(" \t ")).unwrap().as_str(),
            "Passkey"
        );
        assert!(
            PasskeyName::parse(Some(&"é".repeat(64))).is_ok(),
            "64 two-byte characters"
        );
    }

    #[test]
    fn rejects_each_bad_name() {
        let long = "a".repeat(65);
        let cases = [
            (long.as_str(), "65 characters"),
            ("key\none", "newline inside"),
            ("key\u{0}", "NUL"),
            ("key\u{1b}[31m", "escape"),
        ];
        for (raw, why) in cases {
            assert_eq!(
                PasskeyName::parse(Some(raw)).unwrap_err().code(),
                "invalid_name",
                "{why}"
            );
        }
    }

    #[test]
    fn ceremony_ids_are_uuids_and_anything_else_is_invalid_passkey() {
        let id = CeremonyId::generate();
        assert_eq!(
            CeremonyId::parse(&id.as_uuid().to_string()).unwrap(),
            id,
            "round trip"
        );
        for bad in ["", "1", "not-a-uuid", "../x"] {
            assert_eq!(
                CeremonyId::parse(bad).unwrap_err().code(),
                "invalid_passkey",
                "{bad:?}"
            );
        }
    }

    proptest! {
        /// Whatever is sent, a name that parses is what the rules say: trimmed, 1 to 64
        /// characters, no control character; and parsing it again gives it back.
        #[test]
        fn a_parsed_name_obeys_the_rules(raw in any::<Option<String>>()) {
            if let Ok(name) = PasskeyName::parse(raw.as_deref()) {
                let text = name.as_str();
                prop_assert_eq!(text, text.trim());
                prop_assert!((1..=MAX_NAME_CHARS).contains(&text.chars().count()));
                prop_assert!(!text.chars().any(char::is_control));
                prop_assert_eq!(PasskeyName::parse(Some(text)).unwrap(), name.clone());
            }
        }

        /// Printable names of up to 64 characters are all accepted, padded or not.
        #[test]
        fn printable_names_are_accepted(name in "[a-zA-Z0-9 éü'-]{0,64}", pad in " {0,5}") {
            let parsed = PasskeyName::parse(Some(&format!("{pad}{name}{pad}"))).unwrap();
            let expected = if name.trim().is_empty() { PasskeyName::DEFAULT } else { name.trim() };
            prop_assert_eq!(parsed.as_str(), expected);
        }

        /// Any UUID round-trips; any other string is refused, never a panic.
        #[test]
        fn ceremony_ids_round_trip(bytes in any::<[u8; 16]>(), junk in ".*") {
            let id = Uuid::from_bytes(bytes);
            prop_assert_eq!(CeremonyId::parse(&id.to_string()).unwrap().as_uuid(), id);
            match CeremonyId::parse(&junk) {
                Ok(parsed) => prop_assert_eq!(Uuid::parse_str(&junk).unwrap(), parsed.as_uuid()),
                Err(error) => prop_assert_eq!(error.code(), "invalid_passkey"),
            }
        }
    }
}
