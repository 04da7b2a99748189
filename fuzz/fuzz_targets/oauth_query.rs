//! Any query string through the sign-in-with-a-provider query parser: a required parameter is
//! its first, non-blank value or `missing_field`, an optional one its first value; never a panic.
#![no_main]

use auth::http::Query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let query = Query::parse(raw);
    for name in ["redirect_to", "code_challenge", "code_challenge_method", "code", "state", "error"] {
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
