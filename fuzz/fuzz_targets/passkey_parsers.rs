//! Any string through the passkey request fields' parsers: a passkey name that obeys its rules
//! or `invalid_name`, a ceremony id that is the UUID sent or `invalid_passkey`; never a panic.
#![no_main]

use auth::domain::{CeremonyId, PasskeyName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    match PasskeyName::parse(Some(raw)) {
        Ok(name) => {
            let text = name.as_str();
            assert_eq!(text, text.trim());
            assert!((1..=64).contains(&text.chars().count()), "{text:?}");
            assert!(!text.chars().any(char::is_control), "{text:?}");
            assert_eq!(PasskeyName::parse(Some(text)).unwrap(), name);
        }
        Err(e) => assert_eq!(e.code(), "invalid_name"),
    }
    match CeremonyId::parse(raw) {
        Ok(id) => assert_eq!(CeremonyId::parse(&id.as_uuid().to_string()).unwrap(), id),
        Err(e) => assert_eq!(e.code(), "invalid_passkey"),
    }
});
