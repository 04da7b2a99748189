//! The benchmark's accounts: new addresses, one password, and the sign-up and sign-in bodies.

use serde_json::{Value, json};
use uuid::Uuid;

/// Good enough for the password rules, and the right one for every sign-in (no lockout).
pub const PASSWORD: &str = "Bench-Horse-Battery-42!";

/// An address no account has yet.
pub fn new_email() -> String {
    format!("bench-{}@example.com", Uuid::new_v4().simple())
}

/// The body of `POST /api/signup` for `email`.
pub fn signup_body(email: &str) -> Value {
    json!({"name": "Bench User", "email": email, "password": PASSWORD})
}

/// The body of `POST /api/signin` for `email`, with the right password.
pub fn signin_body(email: &str) -> Value {
    json!({"email": email, "password": PASSWORD})
}
