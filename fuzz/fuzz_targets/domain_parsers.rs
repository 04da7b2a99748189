//! Any string through the domain parsers: a value, or each parser's own documented code.
#![no_main]

use auth::domain::{
    Email, EmailCode, Password, RECOVERY_ALPHABET, RecoveryCode, TotpCode, UserName,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    if let Err(e) = Email::parse(raw) {
        assert!(
            ["invalid_email", "missing_field"].contains(&e.code()),
            "{}",
            e.code()
        );
    }
    if let Err(e) = Password::parse(raw) {
        assert!(
            ["invalid_password", "missing_field"].contains(&e.code()),
            "{}",
            e.code()
        );
    }
    match EmailCode::parse(raw) {
        Ok(code) => assert!(
            code.as_str().len() == 6 && code.as_str().bytes().all(|b| b.is_ascii_digit()),
            "{code:?}"
        ),
        Err(e) => assert_eq!(e.code(), "invalid_verification_token"),
    }
    if let Some(code) = TotpCode::parse(raw) {
        assert!(
            code.as_str().len() == 6 && code.as_str().bytes().all(|b| b.is_ascii_digit()),
            "{code:?}"
        );
    }
    if let Some(code) = RecoveryCode::parse(raw) {
        assert_eq!(code.as_str().len(), 12);
        assert!(
            code.as_str()
                .bytes()
                .all(|b| RECOVERY_ALPHABET.contains(&b))
        );
        assert_eq!(RecoveryCode::parse(&code.to_string()), Some(code));
    }
    match UserName::parse(raw) {
        Ok(name) => assert!(!name.as_str().chars().any(char::is_control)),
        Err(e) => assert!(
            ["invalid_name", "missing_field"].contains(&e.code()),
            "{}",
            e.code()
        ),
    }
});
