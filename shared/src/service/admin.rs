//! The admin API for operators: who may call it (IAM in AWS, the local `ADMIN_TOKEN` on a
//! laptop), and what it does to accounts — each call one transaction with its audit event.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::App;
use crate::domain::{AuditQuery, ClientInfo, Email, Principal, UserId, UserListQuery};
use crate::emails;
use crate::error::ApiError;
use crate::store::{
    self, AccountDeletion, AdminCall, AdminSession, AuditEntry, EventKind, IdentitySummary,
    MfaStatus, PasskeySummary, UserProfile, UserSummary,
};

/// What an admin request presented: its bearer token, and the IAM caller API Gateway put in its
/// context (a client cannot set that).
#[derive(Debug, Default)]
pub struct AdminCredentials {
    pub bearer: Option<SecretString>,
    pub iam_caller: Option<String>,
}

/// A page of accounts; `next` is the `after` of the following page, `None` on the last.
#[derive(Debug, Serialize)]
pub struct UserPage {
    pub users: Vec<UserSummary>,
    pub next: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize)]
pub struct AuditPage {
    pub events: Vec<AuditEntry>,
    pub next: Option<String>,
}

/// An account and everything an operator needs to help its owner.
#[derive(Debug, Serialize)]
pub struct UserView {
    #[serde(flatten)]
    pub profile: UserProfile,
    pub factors: MfaStatus,
    pub passkeys: Vec<PasskeySummary>,
    pub identities: Vec<IdentitySummary>,
    pub sessions: Vec<AdminSession>,
}

/// What a second-factor reset removed.
#[derive(Debug, Serialize)]
pub struct MfaResetDone {
    pub id: Uuid,
    pub totp_was_enabled: bool,
    pub recovery_codes_deleted: i64,
}

/// Keeps the first `limit` of a page fetched one longer, and the cursor of the next page when
/// there was more.
fn paged<T>(
    mut items: Vec<T>,
    limit: i64,
    cursor: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if items.len() > limit {
        items.truncate(limit);
        let next = items.last().map(cursor);
        (items, next)
    } else {
        (items, None)
    }
}

impl App {
    /// Who is calling the admin API. With `ADMIN_TOKEN` set (a local run; a function configured
    /// from AWS refuses to start with it) only that bearer, compared in constant time by its
    /// SHA-256: 401 `invalid_admin_token` otherwise. Without it (AWS) only a request API
    /// Gateway's IAM authorization let through, which carries the caller's ARN: 403
    /// `iam_identity_required` otherwise, should a route ever be left open.
    pub fn admin_principal(&self, credentials: AdminCredentials) -> Result<Principal, ApiError> {
        match &self.config.admin.token {
            Some(expected) => {
                let presented = credentials
                    .bearer
                    .map(|token| Sha256::digest(token.expose_secret().as_bytes()))
                    .ok_or(ApiError::InvalidAdminToken)?;
                let expected = Sha256::digest(expected.expose_secret().as_bytes());
                match bool::from(presented.ct_eq(&expected)) {
                    true => Ok(Principal::admin_token()),
                    false => Err(ApiError::InvalidAdminToken),
                }
            }
            None => credentials
                .iam_caller
                .as_deref()
                .and_then(Principal::iam)
                .ok_or(ApiError::IamIdentityRequired),
        }
    }

    /// `GET /admin/users`: one page, in id order.
    pub async fn admin_list_users(
        &self,
        actor: &Principal,
        query: &UserListQuery,
        client: &ClientInfo,
    ) -> Result<UserPage, ApiError> {
        let db = self.pool.get().await?;
        let users = store::list_users(&db, query, AdminCall { actor, client }).await?;
        let (users, next) = paged(users, query.limit.get(), |user| user.id.to_string());
        Ok(UserPage { users, next })
    }

    /// `GET /admin/users/{id}`: the account, its factors, identities and live sessions, read in
    /// one snapshot.
    pub async fn admin_view_user(
        &self,
        actor: &Principal,
        user: UserId,
        client: &ClientInfo,
    ) -> Result<UserView, ApiError> {
        let mut db = self.pool.get().await?;
        let transaction = db
            .build_transaction()
            .isolation_level(deadpool_postgres::tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await?;
        let profile = store::view_user(&transaction, user, AdminCall { actor, client })
            .await?
            .ok_or(ApiError::UserNotFound)?;
        let factors = store::mfa_status(&transaction, user).await?;
        let passkeys = store::list_passkeys(&transaction, user).await?;
        let identities = store::list_identities(&transaction, user).await?;
        let sessions = store::live_sessions(&transaction, user).await?;
        transaction.commit().await?;
        Ok(UserView {
            profile,
            factors,
            passkeys,
            identities,
            sessions,
        })
    }

    /// `POST /admin/users/{id}/disable`: the account is marked, then every live session ends, in
    /// one transaction; returns how many ended. From then on no session opens for it (the
    /// database's rule) and every check of its tokens fails.
    pub async fn admin_disable_user(
        &self,
        actor: &Principal,
        user: UserId,
        client: &ClientInfo,
    ) -> Result<i64, ApiError> {
        let mut db = self.pool.get().await?;
        let transaction = db.transaction().await?;
        if !store::mark_disabled(&transaction, user).await? {
            return Err(ApiError::UserNotFound);
        }
        let ended = store::end_sessions_for_admin(
            &transaction,
            user,
            EventKind::AccountDisabled,
            AdminCall { actor, client },
        )
        .await?
        .ok_or(ApiError::UserNotFound)?;
        transaction.commit().await?;
        Ok(ended)
    }

    /// `POST /admin/users/{id}/enable`.
    pub async fn admin_enable_user(
        &self,
        actor: &Principal,
        user: UserId,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let db = self.pool.get().await?;
        match store::enable_user(&db, user, AdminCall { actor, client }).await? {
            true => Ok(()),
            false => Err(ApiError::UserNotFound),
        }
    }

    /// `POST /admin/users/{id}/sessions/revoke`: every live session ends; returns how many.
    pub async fn admin_revoke_sessions(
        &self,
        actor: &Principal,
        user: UserId,
        client: &ClientInfo,
    ) -> Result<i64, ApiError> {
        let db = self.pool.get().await?;
        store::end_sessions_for_admin(
            &db,
            user,
            EventKind::SessionsRevoked,
            AdminCall { actor, client },
        )
        .await?
        .ok_or(ApiError::UserNotFound)
    }

    /// `DELETE /admin/users/{id}`: as the owner's own deletion, without the goodbye email (an
    /// operator may be removing an abuser).
    pub async fn admin_delete_user(
        &self,
        actor: &Principal,
        user: UserId,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let mut db = self.pool.get().await?;
        let transaction = db.transaction().await?;
        let email = store::lock_user_email(&transaction, user)
            .await?
            .ok_or(ApiError::UserNotFound)?;
        // Stored normalised, so it parses; its digest keys the address's failure streak.
        let email = Email::parse(&email)?;
        let deletion = AccountDeletion {
            user_id: user,
            email: &email,
            goodbye: None,
            actor: Some(actor),
            client,
        };
        if store::delete_account(&transaction, &deletion)
            .await?
            .is_none()
        {
            return Err(ApiError::UserNotFound);
        }
        transaction.commit().await?;
        Ok(())
    }

    /// `POST /admin/users/{id}/mfa/reset`: TOTP off and recovery codes gone, the owner told
    /// (when TOTP was on), in one statement.
    pub async fn admin_reset_mfa(
        &self,
        actor: &Principal,
        user: UserId,
        client: &ClientInfo,
    ) -> Result<MfaResetDone, ApiError> {
        let db = self.pool.get().await?;
        let reset = store::reset_mfa(
            &db,
            user,
            &emails::mfa_reset_by_admin(),
            AdminCall { actor, client },
        )
        .await?
        .ok_or(ApiError::UserNotFound)?;
        self.deliver_in_request(&db, reset.notice.as_slice()).await;
        Ok(MfaResetDone {
            id: user.as_uuid(),
            totp_was_enabled: reset.totp_was_enabled,
            recovery_codes_deleted: reset.recovery_codes_deleted,
        })
    }

    /// `GET /admin/audit`: one page, newest first.
    pub async fn admin_audit(
        &self,
        actor: &Principal,
        query: &AuditQuery,
        client: &ClientInfo,
    ) -> Result<AuditPage, ApiError> {
        let db = self.pool.get().await?;
        let events = store::audit_events(&db, query, AdminCall { actor, client }).await?;
        let (events, next) = paged(events, query.limit.get(), |event| event.id.to_string());
        Ok(AuditPage { events, next })
    }
}

#[cfg(test)]
mod tests {
    use super::paged;

    #[test]
    fn a_page_fetched_one_longer_knows_its_next() {
        assert_eq!(
            paged(vec![1, 2, 3], 2, i32::to_string),
            (vec![1, 2], Some("2".into()))
        );
        assert_eq!(paged(vec![1, 2], 2, i32::to_string), (vec![1, 2], None));
        assert_eq!(paged(Vec::<i32>::new(), 2, i32::to_string), (vec![], None));
    }
}
