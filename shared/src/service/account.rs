//! The signed-in user's own account: a new password, a new address, deletion. Each asks for the
//! current password, checked under the sign-in lockout.

use secrecy::SecretString;

use super::App;
use crate::domain::{ClientInfo, Email, NewPassword, Password};
use crate::emails;
use crate::error::ApiError;
use crate::hashing;
use crate::store::{self, AccountDeletion, EmailChange, PasswordChange};

impl App {
    /// The signed-in user's address, as stored (it went through [`Email::parse`] on the way in).
    fn stored_email(address: &str) -> Result<Email, ApiError> {
        Email::parse(address)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("a stored email does not parse: {e}")))
    }

    /// Changes the password: the new one obeys the sign-up rules (checked first, before any
    /// hashing), the current one is checked under the sign-in lockout; then every other session
    /// ends, this one stays, and the address is told.
    pub async fn change_password(
        &self,
        token: &SecretString,
        current: Password,
        new: Password,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let (access, user) = self.authenticate(token).await?;
        let email = Self::stored_email(&user.email)?;
        let new = NewPassword::for_account(new, &email)?;
        let db = self.pool.get().await?;
        let checked = self
            .check_password(&db, &email, current, None, client)
            .await?;
        let new_hash = hashing::hash(new.into_password()).await?;
        let notice = store::change_password(
            &db,
            &PasswordChange {
                user_id: user.id,
                session_id: access.session_id,
                email: &email,
                old_hash: &checked.hash,
                new_hash: &new_hash,
                notice: &emails::password_changed(),
                client,
            },
        )
        .await?
        // Changed meanwhile (another change or a reset): the password checked is not the
        // account's any more.
        .ok_or(ApiError::InvalidCredentials)?;
        self.deliver_in_request(&db, &[notice]).await;
        Ok(())
    }

    /// Asks to move the account to `new`, proven by the password: a confirmation goes to the new
    /// address (or, when it already has an account, the "someone tried" notice instead: the
    /// answer is the same), and the current address is told at once. The account keeps its
    /// address until the new one is confirmed.
    pub async fn change_email(
        &self,
        token: &SecretString,
        password: Password,
        new: Email,
        verify_base: &str,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let (access, user) = self.authenticate(token).await?;
        let current = Self::stored_email(&user.email)?;
        let db = self.pool.get().await?;
        let checked = self
            .check_password(&db, &current, password, None, client)
            .await?;
        let confirmation = self.new_confirmation(&new, verify_base)?;
        let queued = store::request_email_change(
            &db,
            &EmailChange {
                user_id: user.id,
                session_id: access.session_id,
                current: &current,
                scopes: &checked.scopes,
                new: &new,
                confirmation: confirmation.stored(self),
                taken_notice: &emails::already_registered(),
                notice_window: self.config.limits.ip_window,
                change_notice: &emails::email_change_requested(&new),
                client,
            },
        )
        .await?;
        self.deliver_in_request(&db, &queued).await;
        Ok(())
    }

    /// Deletes the account, proven by the password: everything hanging from it goes in one
    /// statement, the token that asked stops working with its session, and a goodbye email is
    /// queued.
    pub async fn delete_account(
        &self,
        token: &SecretString,
        password: Password,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let (_, user) = self.authenticate(token).await?;
        let email = Self::stored_email(&user.email)?;
        let db = self.pool.get().await?;
        self.check_password(&db, &email, password, None, client)
            .await?;
        let goodbye = store::delete_account(
            &db,
            &AccountDeletion {
                user_id: user.id,
                email: &email,
                goodbye: Some(&emails::deleted()),
                actor: None,
                client,
            },
        )
        .await?;
        // Gone meanwhile (a concurrent deletion): the same answer, the account is gone.
        if let Some(Some(goodbye)) = goodbye {
            self.deliver_in_request(&db, &[goodbye]).await;
        }
        Ok(())
    }
}
