//! Second factors: TOTP enrolment and confirmation (with the recovery codes shown once), the
//! sign-in's second step, turning TOTP off, new recovery codes, and what the account has on.

use std::time::{SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretSlice, SecretString};

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::{App, SignedIn, TokenPair};
use crate::config::MfaSettings;
use crate::domain::{Aal, Assurance, AuthMethod, ClientInfo, Email, RecoveryCode, TotpCode, User};
use crate::emails;
use crate::error::ApiError;
use crate::store::{
    self, EventKind, MfaStatus, NewSession, Opened, SecondFactor, TotpConfirmation, WrongCode,
    whole_seconds,
};
use crate::tokens::{
    Authenticator, OpaqueToken, RecoveryHash, RecoveryKey, Sealed, SealingKey, SealingKeys,
    TokenHash, TotpSecret, generate_recovery_codes,
};

/// How long a sign-in's second step stays open after the right password.
pub const MFA_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// The keys of `MFA_ENCRYPTION_KEY`: sealing TOTP secrets, hashing recovery codes.
pub(super) struct MfaKeys {
    sealing: SealingKeys,
    recovery: RecoveryKey,
    recovery_key_id: String,
}

impl MfaKeys {
    pub(super) fn from_settings(settings: &MfaSettings) -> Option<Self> {
        let key = settings.key.as_ref()?;
        let current = SealingKey::new(key.expose_secret());
        let recovery_key_id = current.id().to_owned();
        let previous = settings
            .previous
            .iter()
            .map(|key| SealingKey::new(key.expose_secret()))
            .collect();
        Some(MfaKeys {
            sealing: SealingKeys::new(current, previous),
            recovery: RecoveryKey::new(SecretSlice::from(key.expose_secret().to_vec())),
            recovery_key_id,
        })
    }
}

/// What enrolling hands the user once: the secret for an authenticator app, by hand, by URI or
/// by QR code.
#[derive(Debug)]
pub struct Enrollment {
    pub secret: SecretString,
    pub otpauth_uri: SecretString,
    pub qr_svg: String,
}

/// TOTP switched on: the recovery codes, shown this once, and this session's new tokens at
/// `aal2`.
#[derive(Debug)]
pub struct MfaConfirmed {
    pub recovery_codes: Vec<RecoveryCode>,
    pub tokens: TokenPair,
}

/// What completes a sign-in's second step.
#[derive(Debug)]
pub enum MfaProof {
    Totp(TotpCode),
    RecoveryCode(RecoveryCode),
}

/// A proof checked as far as it can be without spending it: the TOTP step it matched, or the
/// recovery code's keyed hash. Spending it is one atomic statement (see the store).
enum Spendable {
    Step(u64),
    RecoveryCode(RecoveryHash),
}

/// Seconds since the Unix epoch, as TOTP counts them.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl App {
    pub(super) fn mfa_keys(&self) -> Result<&MfaKeys, ApiError> {
        self.mfa_keys.as_ref().ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "this function has no MFA_ENCRYPTION_KEY configured"
            ))
        })
    }

    /// Hands out a new TOTP secret, pending until a code confirms it; one pending already is
    /// replaced. With TOTP on: `mfa_already_enabled`.
    pub async fn mfa_enroll(
        &self,
        token: &SecretString,
        client: &ClientInfo,
    ) -> Result<Enrollment, ApiError> {
        let (_, user) = self.authenticate(token).await?;
        let keys = self.mfa_keys()?;
        let secret = TotpSecret::generate()?;
        let authenticator = Authenticator::new(&secret, &self.config.jwt.issuer, &user.email)?;
        let sealed = keys.sealing.seal(user.id, secret.expose_bytes())?;
        let db = self.pool.get().await?;
        if !store::save_pending_totp(&db, user.id, &sealed, client).await? {
            return Err(ApiError::MfaAlreadyEnabled);
        }
        Ok(Enrollment {
            secret: authenticator.secret_base32().into(),
            otpauth_uri: authenticator.otpauth_uri()?.into(),
            qr_svg: authenticator.qr_svg()?,
        })
    }

    /// Switches TOTP on with a first code of the pending secret: ten recovery codes are made
    /// (shown once), every other session ends, and this one gets new tokens at `aal2`.
    pub async fn mfa_confirm(
        &self,
        token: &SecretString,
        code: &TotpCode,
        client: &ClientInfo,
    ) -> Result<MfaConfirmed, ApiError> {
        let wrong = || ApiError::InvalidMfaCode { signing_in: false };
        let (access, user) = self.authenticate(token).await?;
        let keys = self.mfa_keys()?;
        let db = self.pool.get().await?;
        let (sealed, confirmed) = store::totp_of(&db, user.id).await?.ok_or_else(wrong)?;
        if confirmed {
            return Err(ApiError::MfaAlreadyEnabled);
        }
        let step = self
            .matching_step(&user, &sealed, code)?
            .ok_or_else(wrong)?;
        let recovery_codes = generate_recovery_codes()?;
        let hashes: Vec<_> = recovery_codes
            .iter()
            .map(|code| keys.recovery.hash(user.id, code))
            .collect();
        let refresh = OpaqueToken::generate()?;
        let confirmation = TotpConfirmation {
            user: user.id,
            step,
            session_id: access.session_id,
            refresh_token: &refresh.hash,
            refresh_ttl: self.config.sessions.refresh_token_ttl,
            recovery_codes: &hashes,
            recovery_key_id: &keys.recovery_key_id,
            client,
        };
        if !store::confirm_totp(&db, &confirmation).await? {
            // Confirmed meanwhile by another request, or this session ended meanwhile.
            return Err(wrong());
        }
        let assurance = Assurance {
            aal: Aal::Aal2,
            amr: vec![AuthMethod::Pwd, AuthMethod::Otp],
            idp: None,
        };
        let access_token =
            self.tokens()?
                .issue(user.id, access.session_id, user.email_verified, &assurance)?;
        Ok(MfaConfirmed {
            recovery_codes,
            tokens: TokenPair {
                access: access_token,
                refresh: refresh.plaintext,
            },
        })
    }

    /// The time step `code` matches for the sealed secret, now, ±1 step; `None` for a wrong code.
    fn matching_step(
        &self,
        user: &User,
        sealed: &Sealed,
        code: &TotpCode,
    ) -> Result<Option<u64>, ApiError> {
        let secret = TotpSecret::from_bytes(self.mfa_keys()?.sealing.open(user.id, sealed)?);
        let authenticator = Authenticator::new(&secret, &self.config.jwt.issuer, &user.email)?;
        Ok(authenticator.matching_step(code, unix_now()))
    }

    /// Counts a wrong code against the account (and the sign-in's challenge): the tenth in 15
    /// minutes locks the factor and emails the owner. Always the wrong code's error.
    async fn wrong_mfa_code(
        &self,
        db: &impl GenericClient,
        user: &User,
        challenge: Option<&TokenHash>,
        client: &ClientInfo,
    ) -> ApiError {
        let notice = emails::mfa_locked();
        let wrong = WrongCode {
            user: user.id,
            challenge,
            recipient: &user.email,
            lock_notice: &notice,
            client,
        };
        match store::record_wrong_mfa_code(db, &wrong).await {
            Ok((failure, queued)) => {
                if failure.locks {
                    tracing::warn!(user_id = %user.id.as_uuid(), "second factor locked");
                }
                self.deliver_in_request(db, queued.as_slice()).await;
                ApiError::InvalidMfaCode {
                    signing_in: challenge.is_some(),
                }
            }
            Err(error) => error,
        }
    }

    /// The sign-in's second step: the `mfa_token` from the right password, and a TOTP code or a
    /// recovery code. The challenge is read first (its account, whether the factor is locked, the
    /// sealed secret), the proof checked, then spent with the challenge and the session opened at
    /// `aal2` in one transaction: of two requests with one code, or one challenge, exactly one
    /// signs in. A wrong code counts against the challenge (five kill it) and the account.
    pub async fn mfa_verify(
        &self,
        mfa_token: &SecretString,
        proof: MfaProof,
        client: &ClientInfo,
    ) -> Result<SignedIn, ApiError> {
        let challenge_hash = TokenHash::of(mfa_token);
        let mut db = self.pool.get().await?;
        let challenge = store::mfa_challenge(&db, &challenge_hash)
            .await?
            .ok_or(ApiError::InvalidMfaToken)?;
        if let Some(seconds) = challenge.locked_for {
            return Err(ApiError::MfaLocked(whole_seconds(seconds)));
        }
        let user = challenge.user;
        let (spendable, method) = match &proof {
            MfaProof::Totp(code) => {
                let step = match &challenge.totp {
                    Some(sealed) => self.matching_step(&user, sealed, code)?,
                    // Turned off since the password step: no code is right.
                    None => None,
                };
                (step.map(Spendable::Step), AuthMethod::Otp)
            }
            MfaProof::RecoveryCode(code) => (
                Some(Spendable::RecoveryCode(
                    self.mfa_keys()?.recovery.hash(user.id, code),
                )),
                AuthMethod::RecoveryCode,
            ),
        };
        let Some(spendable) = spendable else {
            return Err(self
                .wrong_mfa_code(&db, &user, Some(&challenge_hash), client)
                .await);
        };
        let assurance = Assurance {
            aal: Aal::Aal2,
            amr: vec![challenge.first_factor, method],
            idp: challenge.idp.clone(),
        };
        let session_id = Uuid::new_v4();
        let refresh = OpaqueToken::generate()?;
        let device = OpaqueToken::generate()?;
        let access = self
            .tokens()?
            .issue(user.id, session_id, user.email_verified, &assurance)?;
        let email = Email::parse(&user.email)
            .map_err(|_| anyhow::anyhow!("a stored address that does not parse"))?;

        let second_factor = match &spendable {
            Spendable::Step(step) => SecondFactor::Step {
                challenge: &challenge_hash,
                step: *step,
            },
            Spendable::RecoveryCode(hash) => SecondFactor::RecoveryCode {
                challenge: &challenge_hash,
                code: hash,
            },
        };
        let session = NewSession {
            id: session_id,
            user_id: user.id,
            refresh_token: &refresh.hash,
            ttl: self.config.sessions.refresh_token_ttl,
            max_lifetime: self.config.sessions.max_lifetime,
            email: email.digest(),
            // The password step cleared the attempt's streaks.
            scopes: &Default::default(),
            device: &device.hash,
            replaces_device: challenge.replaces_device.as_ref(),
            client,
            rehash: None,
            assurance: &assurance,
            second_factor: Some(second_factor),
            passkey_use: None,
        };
        // A TOTP code: one statement spends it with the challenge and opens the session. A
        // recovery code: the owner's notice goes in the same transaction.
        let (opened, notice) = match &spendable {
            Spendable::Step(_) => (store::open_session(&db, &session).await?, None),
            Spendable::RecoveryCode(_) => {
                let transaction = db.transaction().await?;
                let opened = store::open_session(&transaction, &session).await?;
                let notice = match opened {
                    Opened::Session {
                        codes_left: Some(left),
                    } => Some(
                        store::notify_owner(
                            &transaction,
                            user.id,
                            &user.email,
                            &emails::recovery_code_used(left),
                            EventKind::RecoveryCodeUsed,
                            Some(session_id),
                            client,
                        )
                        .await?,
                    ),
                    _ => None,
                };
                transaction.commit().await?;
                (opened, notice)
            }
        };
        match opened {
            Opened::Session { .. } => {}
            Opened::NoChallenge => return Err(ApiError::InvalidMfaToken),
            // A code accepted before (replayed), or a recovery code not (or no longer) the
            // account's: wrong, and the challenge stays as it was.
            Opened::WrongProof => {
                return Err(self
                    .wrong_mfa_code(&db, &user, Some(&challenge_hash), client)
                    .await);
            }
        }
        self.deliver_in_request(&db, notice.as_slice()).await;
        Ok(SignedIn {
            user,
            tokens: TokenPair {
                access,
                refresh: refresh.plaintext,
            },
            device_token: device.plaintext,
        })
    }

    /// The bearer's account, from a session that signed in with two factors: `aal2_required`
    /// otherwise.
    async fn authenticate_aal2(
        &self,
        token: &SecretString,
    ) -> Result<(crate::tokens::VerifiedAccess, User), ApiError> {
        let (access, user) = self.authenticate(token).await?;
        if access.aal != Aal::Aal2 {
            return Err(ApiError::Aal2Required);
        }
        Ok((access, user))
    }

    /// Turns TOTP off, from an `aal2` session and with a current code (spent like a sign-in's:
    /// a replayed one is wrong, and wrong ones count toward the lock); the recovery codes go too,
    /// and the owner is emailed.
    pub async fn mfa_disable(
        &self,
        token: &SecretString,
        code: &TotpCode,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let (access, user) = self.authenticate_aal2(token).await?;
        let mut db = self.pool.get().await?;
        if let Some(seconds) = store::mfa_locked_for(&db, user.id).await? {
            return Err(ApiError::MfaLocked(whole_seconds(seconds)));
        }
        let sealed = match store::totp_of(&db, user.id).await? {
            Some((sealed, true)) => sealed,
            _ => return Err(ApiError::MfaNotEnabled),
        };
        let Some(step) = self.matching_step(&user, &sealed, code)? else {
            return Err(self.wrong_mfa_code(&db, &user, None, client).await);
        };
        let transaction = db.transaction().await?;
        if !store::accept_totp_step(&transaction, user.id, step).await? {
            transaction.rollback().await?;
            return Err(self.wrong_mfa_code(&db, &user, None, client).await);
        }
        if !store::disable_totp(&transaction, user.id).await? {
            return Err(ApiError::MfaNotEnabled);
        }
        let notice = store::notify_owner(
            &transaction,
            user.id,
            &user.email,
            &emails::mfa_disabled(),
            EventKind::MfaDisabled,
            Some(access.session_id),
            client,
        )
        .await?;
        transaction.commit().await?;
        self.deliver_in_request(&db, &[notice]).await;
        Ok(())
    }

    /// Ten new recovery codes, from an `aal2` session of an account with TOTP on: the old set
    /// dies in the same statement.
    pub async fn mfa_new_recovery_codes(
        &self,
        token: &SecretString,
        client: &ClientInfo,
    ) -> Result<Vec<RecoveryCode>, ApiError> {
        let (_, user) = self.authenticate_aal2(token).await?;
        let keys = self.mfa_keys()?;
        let codes = generate_recovery_codes()?;
        let hashes: Vec<_> = codes
            .iter()
            .map(|code| keys.recovery.hash(user.id, code))
            .collect();
        let db = self.pool.get().await?;
        if !store::replace_recovery_codes(&db, user.id, &hashes, &keys.recovery_key_id, client)
            .await?
        {
            return Err(ApiError::MfaNotEnabled);
        }
        Ok(codes)
    }

    /// What the bearer's account has switched on.
    pub async fn mfa_status(&self, token: &SecretString) -> Result<MfaStatus, ApiError> {
        let (_, user) = self.authenticate(token).await?;
        let db = self.pool.get().await?;
        store::mfa_status(&db, user.id).await
    }
}
