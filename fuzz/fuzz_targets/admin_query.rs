//! Any query string through the admin API's parsers (`GET /admin/users`, `GET /admin/audit`, the
//! `{id}` of the user routes): a query within its bounds, or `invalid_parameter` /
//! `user_not_found`; never a panic.
#![no_main]

use auth::domain::{AuditQuery, UserListQuery, target_user};
use auth::http::Query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let query = Query::parse(raw);
    match UserListQuery::parse(
        query.optional("email"),
        query.optional("after"),
        query.optional("limit"),
    ) {
        Ok(users) => {
            assert!((1..=100).contains(&users.limit.get()), "{raw:?}");
            if let Some(prefix) = users.email_prefix {
                assert_eq!(prefix, prefix.to_lowercase(), "{raw:?}");
                assert!(!prefix.is_empty() && prefix.chars().count() <= 254, "{raw:?}");
                assert!(!prefix.chars().any(char::is_control), "{raw:?}");
            }
        }
        Err(error) => assert_eq!(error.code(), "invalid_parameter", "{raw:?}"),
    }
    match AuditQuery::parse(
        query.optional("user_id"),
        query.optional("after"),
        query.optional("limit"),
    ) {
        Ok(audit) => {
            assert!(audit.after.is_none_or(|after| after > 0), "{raw:?}");
            assert!((1..=100).contains(&audit.limit.get()), "{raw:?}");
        }
        Err(error) => assert_eq!(error.code(), "invalid_parameter", "{raw:?}"),
    }
    if let Err(error) = target_user(Some(raw)) {
        assert_eq!(error.code(), "user_not_found", "{raw:?}");
    }
});
