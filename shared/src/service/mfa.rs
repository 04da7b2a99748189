//! Second factors: TOTP enrolment and confirmation (with the recovery codes shown once), and
//! what the account has switched on.

use std::time::{SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretSlice, SecretString};

use super::{App, TokenPair};
use crate::config::MfaSettings;
use crate::domain::{Aal, Assurance, AuthMethod, ClientInfo, RecoveryCode, TotpCode};
use crate::error::ApiError;
use crate::store::{self, MfaStatus, TotpConfirmation};
use crate::tokens::{
    Authenticator, OpaqueToken, RecoveryKey, SealingKey, SealingKeys, TotpSecret,
    generate_recovery_codes,
};

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

/// Seconds since the Unix epoch, as TOTP counts them.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl App {
    fn mfa_keys(&self) -> Result<&MfaKeys, ApiError> {
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
        let secret = TotpSecret::from_bytes(keys.sealing.open(user.id, &sealed)?);
        let authenticator = Authenticator::new(&secret, &self.config.jwt.issuer, &user.email)?;
        let step = authenticator
            .matching_step(code, unix_now())
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

    /// What the bearer's account has switched on.
    pub async fn mfa_status(&self, token: &SecretString) -> Result<MfaStatus, ApiError> {
        let (_, user) = self.authenticate(token).await?;
        let db = self.pool.get().await?;
        store::mfa_status(&db, user.id).await
    }
}
