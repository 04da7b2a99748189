//! Proving addresses: sign-up (which, while addresses must be proven, answers alike whatever the
//! address), confirmation by link or code, and resending the confirmation.

use secrecy::{ExposeSecret, SecretString};

use super::App;
use crate::domain::{ClientInfo, Email, EmailCode, NewPassword, User, UserName};
use crate::emails::{self, Message};
use crate::error::ApiError;
use crate::hashing;
use crate::store::{self, Budget, Confirmation, Proof, Registration, Resend};
use crate::tokens::{CodeHash, OpaqueToken, TokenHash};

/// What a sign-up did.
#[derive(Debug)]
pub enum SignedUp {
    /// The account exists and is usable (`REQUIRE_EMAIL_VERIFICATION=false`).
    Created(User),
    /// Whatever the address, an email went (or did not go) to it: the answer says nothing more.
    CheckYourEmail,
}

/// What the client offers as proof of an address.
#[derive(Debug)]
pub enum EmailProof {
    /// The token of the emailed link.
    Token(SecretString),
    /// The address and the code of the email sent to it.
    Code { email: Email, code: EmailCode },
}

/// A confirmation made for one address: the link's token (to hash and to send) and the code's
/// stored form, with the email that carries both.
pub(super) struct NewConfirmation {
    pub token: OpaqueToken,
    pub code: CodeHash,
    pub message: Message,
}

impl NewConfirmation {
    /// The store's view of it, with the app's TTL and resend interval.
    pub fn stored<'a>(&'a self, app: &App) -> Confirmation<'a> {
        Confirmation {
            token: &self.token.hash,
            code: &self.code,
            ttl: app.config.verification.token_ttl,
            resend_interval: app.config.verification.resend_interval,
            message: &self.message,
        }
    }
}

/// True when the text holds a run of six or more digits: the code must be the only six-digit
/// number of the email, so a link token that happens to hold one is drawn again.
fn has_six_digits_in_a_row(text: &str) -> bool {
    text.as_bytes()
        .split(|b| !b.is_ascii_digit())
        .any(|run| run.len() >= 6)
}

impl App {
    /// A new link token and code for `email`, and the email that carries them; the link is
    /// `<verify_base>#<token>`.
    pub(super) fn new_confirmation(
        &self,
        email: &Email,
        verify_base: &str,
    ) -> Result<NewConfirmation, ApiError> {
        let token = loop {
            let token = OpaqueToken::generate()?;
            if !has_six_digits_in_a_row(token.plaintext.expose_secret()) {
                break token;
            }
        };
        let code = EmailCode::generate()?;
        let message = emails::confirm(
            verify_base,
            &token.plaintext,
            &code,
            self.config.verification.token_ttl,
        );
        Ok(NewConfirmation {
            code: self.code_key()?.hash(email, &code),
            token,
            message,
        })
    }

    /// Signs up. Without address verification, the account is created at once (409
    /// `email_taken` for an address that has one). With it, the answer is the same whatever the
    /// address, after the same work: the client's budget is counted, the password hashed (one
    /// Argon2 run, also when it is thrown away), and one statement decides (see
    /// [`store::register`]). The link is `<verify_base>#<token>`.
    pub async fn signup(
        &self,
        name: UserName,
        email: Email,
        password: NewPassword,
        verify_base: &str,
        client: &ClientInfo,
    ) -> Result<SignedUp, ApiError> {
        if !self.config.verification.required {
            return self
                .signup_unverified(name, email, password, client)
                .await
                .map(SignedUp::Created);
        }
        let db = self.pool.get().await?;
        self.spend_signup_budget(&db, client).await?;
        let hash = hashing::hash(password.into_password()).await?;
        let confirmation = self.new_confirmation(&email, verify_base)?;
        let queued = store::register(
            &db,
            &Registration {
                name: &name,
                email: &email,
                password_hash: &hash,
                confirmation: confirmation.stored(self),
                notice: &emails::already_registered(),
                notice_window: self.config.limits.ip_window,
                client,
            },
        )
        .await?;
        self.deliver_in_request(&db, &queued).await;
        Ok(SignedUp::CheckYourEmail)
    }

    /// Confirms an address with the link's token or the code, once; every failure is the same
    /// `invalid_verification_token`.
    pub async fn verify_email(
        &self,
        proof: EmailProof,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let db = self.pool.get().await?;
        let confirmed = match &proof {
            EmailProof::Token(token) => {
                store::confirm(&db, Proof::Token(&TokenHash::of(token)), client).await?
            }
            EmailProof::Code { email, code } => {
                let code = self.code_key()?.hash(email, code);
                store::confirm(&db, Proof::Code { email, code: &code }, client).await?
            }
        };
        confirmed
            .map(|_| ())
            .ok_or(ApiError::InvalidVerificationToken)
    }

    /// Sends a new confirmation to an unconfirmed account's address (at most one per resend
    /// interval); the same answer, after the same work, for any other address.
    pub async fn resend_verification(
        &self,
        email: Email,
        verify_base: &str,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let confirmation = self.new_confirmation(&email, verify_base)?;
        let limits = &self.config.limits;
        let db = self.pool.get().await?;
        let queued = store::resend(
            &db,
            &Resend {
                email: &email,
                confirmation: confirmation.stored(self),
                ip_budget: Budget {
                    requests: limits.signup_per_ip,
                    window: limits.ip_window,
                },
                client,
            },
        )
        .await?;
        queued.ip.check(limits.signup_per_ip)?;
        self.deliver_in_request(&db, &queued.emails).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_six_digits_are_found() {
        assert!(has_six_digits_in_a_row("ab123456cd"));
        assert!(has_six_digits_in_a_row("1234567"));
        assert!(!has_six_digits_in_a_row("12345a12345"));
        assert!(!has_six_digits_in_a_row("abc"));
    }
}
