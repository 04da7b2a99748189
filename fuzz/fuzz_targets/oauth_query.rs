//! Any query string (or form body) through the sign-in-with-a-provider query parser: a required
//! parameter is its first, non-blank value or `missing_field`, an optional one its first value;
//! and any text through the parser of Apple's `user` form field: a valid name or none. Never a
//! panic.
#![no_main]

use auth::domain::apple_user_name;
use auth::http::Query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    if let Some(name) = apple_user_name(raw) {
        assert_eq!(auth::domain::UserName::parse(name.as_str()).ok(), Some(name));
    }
    let query = Query::parse(raw);
    for name in ["redirect_to", "code_challenge", "code_challenge_method", "code", "state", "error", "user"] {
        match query.required(name) {
            Ok(value) => {
                assert!(!value.trim().is_empty(), "{raw:?}");
                assert_eq!(query.optional(name), Some(value));
            }
            Err(error) => {
                assert_eq!(error.code(), "missing_field");
                assert!(query.optional(name).is_none_or(|v| v.trim().is_empty()));
            }
        }
    }
});
