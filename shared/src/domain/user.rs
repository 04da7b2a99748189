//! `User` and `UserId`: an account as the API shows it.

use serde::Serialize;
use uuid::Uuid;

/// A user's id: random, so ids reveal nothing about how many accounts exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct UserId(Uuid);

impl UserId {
    /// Wraps an id read from storage or from a verified token.
    pub fn from_uuid(id: Uuid) -> Self {
        UserId(id)
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

/// The public view of an account: `{"id", "name", "email", "email_verified", "mfa_enabled"}` in
/// responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: String,
    /// Whether the address was proven (by the emailed link or code, or a completed reset).
    pub email_verified: bool,
    /// Whether password sign-ins need a second factor (TOTP is confirmed).
    pub mfa_enabled: bool,
}
