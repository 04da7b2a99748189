//! The audit log: one append-only `auth_events` row per security-relevant event.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::Result;
use crate::domain::{ClientInfo, EmailDigest, UserId};

/// What happened. Stored as text; the migration's CHECK lists the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Signup,
    SigninSucceeded,
    SigninFailed,
    /// A failed sign-in that started (or lengthened) a lockout.
    Lockout,
    Refresh,
    /// A rotated refresh token came back after its grace window: the session was revoked.
    RefreshTokenReused,
    Logout,
    LogoutGlobal,
    /// One session ended through `DELETE /api/sessions/{id}`.
    SessionEnded,
    PasswordResetRequested,
    PasswordResetCompleted,
    /// A sign-up with an address that already has an account: nothing was created.
    SignupForExistingAddress,
    /// The right password for an unconfirmed account: refused until the address is proven.
    SigninUnverified,
    /// A confirmation email was queued.
    VerificationSent,
    EmailVerified,
    PasswordChanged,
    EmailChangeRequested,
    EmailChanged,
    /// Recorded by account id only: the address goes with the account.
    AccountDeleted,
    /// A TOTP secret handed out, not yet confirmed.
    MfaEnrolled,
    /// TOTP confirmed: the second factor is on.
    MfaEnabled,
    /// The right password of an account with TOTP on: a second-factor challenge was opened.
    MfaChallenged,
    /// A wrong second-factor code (at sign-in, or to turn TOTP off).
    MfaFailed,
    /// The tenth wrong code in 15 minutes: the second factor is locked for 15 minutes.
    MfaLocked,
    /// A sign-in completed with a recovery code instead of a TOTP code.
    RecoveryCodeUsed,
    /// TOTP turned off (with a current code, from an `aal2` session).
    MfaDisabled,
    /// A new set of recovery codes replaced the old one.
    RecoveryCodesRegenerated,
    /// A passkey registered. (A passkey sign-in is a `SigninSucceeded`: its session's `amr`
    /// says `webauthn`.)
    PasskeyAdded,
    PasskeyRemoved,
    /// A provider's identity linked to an existing account (by its confirmed address).
    IdentityLinked,
    /// A provider's identity unlinked from the account.
    IdentityUnlinked,
    /// The right password of an account an operator disabled: refused (403 `account_disabled`).
    SigninDisabled,
    // The admin API's calls: each names its acting principal (`actor`).
    AdminUsersListed,
    AdminUserViewed,
    AdminAuditRead,
    /// Disabled by an operator: every session ended, sign-in refused.
    AccountDisabled,
    AccountEnabled,
    /// Every session of the account ended by an operator.
    SessionsRevoked,
    /// TOTP off and recovery codes deleted by an operator; the owner was emailed.
    MfaReset,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        use EventKind::*;
        match self {
            Signup => "signup",
            SigninSucceeded => "signin_succeeded",
            SigninFailed => "signin_failed",
            Lockout => "lockout",
            Refresh => "refresh",
            RefreshTokenReused => "refresh_token_reused",
            Logout => "logout",
            LogoutGlobal => "logout_global",
            SessionEnded => "session_ended",
            PasswordResetRequested => "password_reset_requested",
            PasswordResetCompleted => "password_reset_completed",
            SignupForExistingAddress => "signup_for_existing_address",
            SigninUnverified => "signin_unverified",
            VerificationSent => "verification_sent",
            EmailVerified => "email_verified",
            PasswordChanged => "password_changed",
            EmailChangeRequested => "email_change_requested",
            EmailChanged => "email_changed",
            AccountDeleted => "account_deleted",
            MfaEnrolled => "mfa_enrolled",
            MfaEnabled => "mfa_enabled",
            MfaChallenged => "mfa_challenged",
            MfaFailed => "mfa_failed",
            MfaLocked => "mfa_locked",
            RecoveryCodeUsed => "recovery_code_used",
            MfaDisabled => "mfa_disabled",
            RecoveryCodesRegenerated => "recovery_codes_regenerated",
            PasskeyAdded => "passkey_added",
            PasskeyRemoved => "passkey_removed",
            IdentityLinked => "identity_linked",
            IdentityUnlinked => "identity_unlinked",
            SigninDisabled => "signin_disabled",
            AdminUsersListed => "admin_users_listed",
            AdminUserViewed => "admin_user_viewed",
            AdminAuditRead => "admin_audit_read",
            AccountDisabled => "account_disabled",
            AccountEnabled => "account_enabled",
            SessionsRevoked => "sessions_revoked",
            MfaReset => "mfa_reset",
        }
    }
}

/// One event: who (a user, or the digest of an attempted email), which session, from where.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub kind: EventKind,
    pub user_id: Option<UserId>,
    pub email: Option<EmailDigest>,
    pub session_id: Option<Uuid>,
    pub client: &'a ClientInfo,
}

impl<'a> Event<'a> {
    /// An event about a known user and, optionally, one of their sessions.
    pub fn user(
        kind: EventKind,
        user_id: UserId,
        session_id: Option<Uuid>,
        client: &'a ClientInfo,
    ) -> Self {
        Event {
            kind,
            user_id: Some(user_id),
            email: None,
            session_id,
            client,
        }
    }
}

/// Appends one event; run it in the transaction of the change it records, so the log never
/// claims what did not happen, nor misses what did.
pub async fn record_event(client: &impl GenericClient, event: &Event<'_>) -> Result<()> {
    let statement = client
        .prepare_cached(
            "INSERT INTO auth_events (kind, user_id, email_hash, session_id, ip, user_agent)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &event.kind.as_str(),
                &event.user_id.map(|id| id.as_uuid()),
                &event.email.as_ref().map(|d| d.0.as_slice()),
                &event.session_id,
                &event.client.ip,
                &event.client.user_agent,
            ],
        )
        .await?;
    Ok(())
}
