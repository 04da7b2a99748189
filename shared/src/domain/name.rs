//! `UserName`: a display name of 1 to 100 characters after trimming.

use crate::error::ApiError;

const MAX_CHARS: usize = 100;

/// A trimmed display name without control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    /// Blank names are caught earlier as `missing_field`; here a blank still fails, as `invalid_name`.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ApiError::InvalidName("Name must not be blank"));
        }
        if trimmed.chars().count() > MAX_CHARS {
            return Err(ApiError::InvalidName(
                "Name must be at most 100 characters long",
            ));
        }
        // Control characters would let a name forge log lines or break an email header.
        if trimmed.chars().any(char::is_control) {
            return Err(ApiError::InvalidName(
                "Name must not contain control characters",
            ));
        }
        Ok(UserName(trimmed.to_owned()))
    }

    /// The trimmed name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded_in_characters() {
        assert_eq!(UserName::parse("  Jane Doe ").unwrap().as_str(), "Jane Doe");
        assert!(
            UserName::parse(&"é".repeat(100)).is_ok(),
            "100 two-byte characters"
        );
        let padded = format!("  {}  ", "a".repeat(100));
        assert!(UserName::parse(&padded).is_ok(), "padding does not count");
    }

    #[test]
    fn rejects_each_bad_name() {
        let long = "a".repeat(101);
        let cases = [
            (long.as_str(), "101 characters"),
            ("   ", "blank"),
            ("Jane\nDoe", "newline inside"),
            ("Jane\u{0}", "NUL"),
        ];
        for (raw, why) in cases {
            assert_eq!(
                UserName::parse(raw).unwrap_err().code(),
                "invalid_name",
                "{why}"
            );
        }
    }
}
