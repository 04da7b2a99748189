//! Any string through the domain parsers: a value, or each parser's own documented code.
#![no_main]

use auth::domain::{Email, Password, UserName};
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
    match UserName::parse(raw) {
        Ok(name) => assert!(!name.as_str().chars().any(char::is_control)),
        Err(e) => assert!(
            ["invalid_name", "missing_field"].contains(&e.code()),
            "{}",
            e.code()
        ),
    }
});
