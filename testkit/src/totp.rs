//! The code an authenticator app shows, for the tests and the benchmark: the product's own TOTP
//! (RFC 6238, SHA-1, six digits, 30 s) on a secret as enrolment hands it out (base32).

/// The code for `secret` (base32) `steps` time steps from now.
pub fn code(secret: &str, steps: i64) -> String {
    let raw = totp_rs::Secret::try_from_base32(secret).expect("a base32 secret");
    // The issuer and account name only label the app's entry: the code does not depend on them.
    let authenticator = auth::tokens::Authenticator::new(
        &auth::tokens::TotpSecret::from_bytes(raw.as_bytes().to_vec()),
        "test",
        "someone@example.com",
    )
    .expect("a valid secret");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    authenticator.code_at(now.saturating_add_signed(steps * 30))
}
