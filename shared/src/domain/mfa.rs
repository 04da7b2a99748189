//! Second-factor codes as a person types them: a TOTP code from an authenticator app, and a
//! recovery code from the list shown once at enrolment.
//!
//! Parsing never says why a value was refused: a malformed code gets the same answer as a wrong
//! one, decided by the caller.

use std::fmt;

/// The six digits of a TOTP code (RFC 6238 with 6 digits), leading zeros kept. Apps show them as
/// `123 456`: whitespace anywhere is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl TotpCode {
    pub fn parse(raw: &str) -> Option<Self> {
        let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then_some(TotpCode(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Crockford's base-32 alphabet: no I, L, O or U, so nothing reads as another symbol.
pub const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Symbols in a recovery code: 12 × 5 = 60 random bits.
pub const RECOVERY_CODE_SYMBOLS: usize = 12;

/// A recovery code in its canonical form: twelve symbols of [`RECOVERY_ALPHABET`]. Shown as
/// `XXXX-XXXX-XXXX`; typed back in any letter case, with or without the hyphens and spaces, and
/// with the letters Crockford reads as digits (I and L as 1, O as 0).
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    pub fn parse(raw: &str) -> Option<Self> {
        let mut canonical = String::with_capacity(RECOVERY_CODE_SYMBOLS);
        for c in raw.chars() {
            let symbol = match c.to_ascii_uppercase() {
                '-' | ' ' | '\t' => continue,
                'I' | 'L' => '1',
                'O' => '0',
                c if c.is_ascii() && RECOVERY_ALPHABET.contains(&(c as u8)) => c,
                _ => return None,
            };
            if canonical.len() == RECOVERY_CODE_SYMBOLS {
                return None;
            }
            canonical.push(symbol);
        }
        (canonical.len() == RECOVERY_CODE_SYMBOLS).then_some(RecoveryCode(canonical))
    }

    /// The code made of these symbols, one per value below 32.
    pub(crate) fn from_symbols(values: [u8; RECOVERY_CODE_SYMBOLS]) -> Self {
        RecoveryCode(
            values
                .iter()
                .map(|v| RECOVERY_ALPHABET[usize::from(v & 31)] as char)
                .collect(),
        )
    }

    /// The canonical form, what is hashed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `XXXX-XXXX-XXXX`, as shown to the user once.
impl fmt::Display for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, rest) = self.0.split_at(4);
        let (b, c) = rest.split_at(4);
        write!(f, "{a}-{b}-{c}")
    }
}

/// Never the code itself: it is a credential.
impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_totp_code_is_six_digits_spaces_aside() {
        assert_eq!(TotpCode::parse("012345").unwrap().as_str(), "012345");
        assert_eq!(TotpCode::parse(" 012 345\n").unwrap().as_str(), "012345");
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "１２３４５６",
            "-12345",
            "12-345",
        ] {
            assert!(TotpCode::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_recovery_code_reads_back_in_any_case_with_or_without_hyphens() {
        let code = RecoveryCode::from_symbols([0, 1, 2, 3, 10, 11, 12, 13, 28, 29, 30, 31]);
        assert_eq!(code.to_string(), "0123-ABCD-WXYZ");
        for typed in [
            "0123-ABCD-WXYZ",
            "0123abcdwxyz",
            " 0123 abcd wxyz ",
            "o123-abcd-wxyz",
        ] {
            assert_eq!(
                RecoveryCode::parse(typed).as_ref(),
                Some(&code),
                "{typed:?}"
            );
        }
        assert_eq!(
            RecoveryCode::parse("1LI1-0000-0000").unwrap().as_str(),
            "111100000000"
        );
        for bad in [
            "",
            "0123-ABCD-WXY",
            "0123-ABCD-WXYZ0",
            "0123-ABCD-WXYU",
            "0123_ABCD_WXYZ",
            "0123-ABCD-WXYÉ",
        ] {
            assert!(RecoveryCode::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(format!("{code:?}"), "RecoveryCode(..)");
    }
}
