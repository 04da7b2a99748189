//! `EmailCode`: the 6-digit code of a confirmation email, as typed back by its recipient.

use crate::error::ApiError;

/// Six ASCII digits, leading zeros kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCode(String);

impl EmailCode {
    /// A code as typed: surrounding whitespace ignored, otherwise exactly six digits. Anything else
    /// is the same error as a wrong code, so the answer tells nothing about the rule.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let code = raw.trim();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(EmailCode(code.to_owned()))
        } else {
            Err(ApiError::InvalidVerificationToken)
        }
    }

    /// The code for a number below a million.
    pub(crate) fn from_digits(number: u32) -> Self {
        debug_assert!(number < 1_000_000);
        EmailCode(format!("{number:06}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_are_a_code_and_nothing_else_is() {
        assert_eq!(EmailCode::parse(" 000123\n").unwrap().as_str(), "000123");
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "１２３４５６",
            "-12345",
            "12 345",
        ] {
            assert_eq!(
                EmailCode::parse(bad).unwrap_err().code(),
                "invalid_verification_token",
                "{bad:?}"
            );
        }
        assert_eq!(EmailCode::from_digits(42).as_str(), "000042");
    }
}
