//! Passkeys (WebAuthn): registering one to the signed-in account, listing and removing them, and
//! the usernameless sign-in with one, which is two factors at once (the device, and the PIN or
//! biometric that unlocked it) and so opens an `aal2` session without asking for a TOTP code.
//!
//! Each ceremony is two requests: the start keeps webauthn-rs's state in PostgreSQL under a
//! random `ceremony_id` for five minutes, and the finish takes it once (see
//! [`store::take_ceremony`]), so any instance can answer the finish and no assertion is accepted
//! twice.

use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Webauthn, WebauthnBuilder, WebauthnError,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use super::{App, Opening, SignedIn};
use crate::config::WebauthnSettings;
use crate::domain::{Aal, Assurance, AuthMethod, CeremonyId, ClientInfo, Email, PasskeyName};
use crate::emails;
use crate::error::ApiError;
use crate::store::{
    self, Added, Bucket, CeremonyKind, LockoutScopes, NewPasskey, PasskeySummary, PasskeyUse,
};

/// How long a ceremony waits for its finish: the authenticator's own timeout (webauthn-rs asks
/// the browser for 300 s).
const CEREMONY_TTL: Duration = Duration::from_secs(300);

/// The most passkeys one account may have: enough for every device a person owns, and a bound on
/// what one account can store.
pub const MAX_PASSKEYS: i64 = 20;

/// A started ceremony: the id its finish sends back, and the options for
/// `navigator.credentials.create()`/`.get()` (`{"publicKey": {…}}`, WebAuthn's JSON form).
#[derive(Debug, Clone, Serialize)]
pub struct PasskeyCeremony {
    pub ceremony_id: Uuid,
    pub options: serde_json::Value,
}

/// The relying party, built once per cold start: refuses an RP id or origin that cannot work
/// (the configuration loader checked them already, so this is a wiring mistake).
pub(super) fn relying_party(settings: &WebauthnSettings) -> anyhow::Result<Webauthn> {
    WebauthnBuilder::new(&settings.rp_id, &settings.origin)
        .and_then(|builder| builder.rp_name(&settings.rp_name).build())
        .with_context(|| {
            format!(
                "WEBAUTHN_RP_ID ({}) and WEBAUTHN_ORIGIN ({}) do not make a relying party: the \
                 origin's host must be the RP id or a subdomain of it",
                settings.rp_id, settings.origin
            )
        })
}

/// A credential from the client, in webauthn-rs's serde form; a shape that does not parse is
/// a failed ceremony like any other.
fn credential<T: DeserializeOwned>(raw: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(raw).map_err(|e| {
        tracing::debug!(error = %e, "passkey credential does not parse");
        ApiError::InvalidPasskey
    })
}

/// A stored ceremony state back; one this code cannot read is no ceremony.
fn state<T: DeserializeOwned>(stored: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(stored).map_err(|e| {
        tracing::warn!(error = %e, "a stored passkey ceremony does not parse");
        ApiError::InvalidPasskey
    })
}

/// A refusal by webauthn-rs, logged at debug: the client sent something that does not verify.
fn refused(error: WebauthnError) -> ApiError {
    tracing::debug!(%error, "passkey ceremony refused");
    ApiError::InvalidPasskey
}

fn internal(error: WebauthnError) -> ApiError {
    ApiError::Internal(anyhow::Error::new(error).context("starting a passkey ceremony"))
}

fn to_json(value: &impl Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value)
        .context("serialising a passkey ceremony")
        .map_err(ApiError::Internal)
}

impl App {
    /// Starts registering a passkey to the bearer's account: the options ask for a discoverable
    /// credential (the sign-in names no account) verified by the user, and exclude the account's
    /// passkeys so one authenticator is not registered twice.
    pub async fn passkey_register_start(
        &self,
        token: &SecretString,
    ) -> Result<PasskeyCeremony, ApiError> {
        let (_, user) = self.authenticate(token).await?;
        let db = self.pool.get().await?;
        let existing = store::passkey_credential_ids(&db, user.id).await?;
        if existing.len() as i64 >= MAX_PASSKEYS {
            return Err(ApiError::TooManyPasskeys);
        }
        // The user handle is the account's id: stable, and no address in the authenticator.
        let (mut options, registration) = self
            .webauthn
            .start_passkey_registration(user.id.as_uuid(), &user.email, &user.name, Some(existing))
            .map_err(internal)?;
        // webauthn-rs asks for `residentKey: "discouraged"`, with which browsers make a
        // credential the usernameless sign-in cannot find. `requireResidentKey` is left as it
        // is: WebAuthn level 2 clients follow `residentKey` when it is present.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Required);
        }
        let id = CeremonyId::generate();
        store::save_ceremony(
            &db,
            id,
            CeremonyKind::Registration,
            Some(user.id),
            &to_json(&registration)?,
            CEREMONY_TTL,
        )
        .await?;
        Ok(PasskeyCeremony {
            ceremony_id: id.as_uuid(),
            options: to_json(&options)?,
        })
    }

    /// Finishes a registration the bearer started: the credential (the browser's
    /// `PublicKeyCredential.toJSON()`) must answer that ceremony's challenge. The passkey is
    /// kept under `name`; the account is told nothing by email (it was signed in to do this).
    pub async fn passkey_register_finish(
        &self,
        token: &SecretString,
        ceremony: CeremonyId,
        credential: serde_json::Value,
        name: PasskeyName,
        client: &ClientInfo,
    ) -> Result<PasskeySummary, ApiError> {
        let (_, user) = self.authenticate(token).await?;
        let credential: RegisterPublicKeyCredential = self::credential(credential)?;
        let mut db = self.pool.get().await?;
        let stored = store::take_ceremony(&db, ceremony, CeremonyKind::Registration, Some(user.id))
            .await?
            .ok_or(ApiError::InvalidPasskey)?;
        let registration: PasskeyRegistration = state(stored)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&credential, &registration)
            .map_err(refused)?;
        let transaction = db.transaction().await?;
        let added = store::add_passkey(
            &transaction,
            &NewPasskey {
                user: user.id,
                passkey: &passkey,
                name: &name,
                limit: MAX_PASSKEYS,
                client,
            },
        )
        .await?;
        transaction.commit().await?;
        match added {
            Added::Added(summary) => Ok(summary),
            Added::TooMany => Err(ApiError::TooManyPasskeys),
            // Excluded at the start, so only another account's credential, or the same
            // authenticator registered twice at once.
            Added::Taken => Err(ApiError::InvalidPasskey),
            // Deleted meanwhile: its tokens are dead too.
            Added::NoAccount => Err(ApiError::InvalidToken),
        }
    }

    /// The bearer's passkeys, oldest first.
    pub async fn passkeys(&self, token: &SecretString) -> Result<Vec<PasskeySummary>, ApiError> {
        let (_, user) = self.authenticate(token).await?;
        let db = self.pool.get().await?;
        store::list_passkeys(&db, user.id).await
    }

    /// Removes one of the bearer's passkeys (the last one too: the password still signs in) and
    /// tells the account's address which one and when. Another account's passkey and an unknown
    /// id are both `passkey_not_found`, so ids cannot be probed.
    pub async fn delete_passkey(
        &self,
        token: &SecretString,
        id: Uuid,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let (_, user) = self.authenticate(token).await?;
        let mut db = self.pool.get().await?;
        let transaction = db.transaction().await?;
        let removed = match store::delete_passkey(&transaction, user.id, id, client).await? {
            store::PasskeyRemoval::Removed(removed) => removed,
            store::PasskeyRemoval::NotFound => return Err(ApiError::PasskeyNotFound),
            store::PasskeyRemoval::LastSignInMethod => return Err(ApiError::LastSignInMethod),
        };
        let notice = store::queue_email(
            &transaction,
            &user.email,
            &emails::passkey_removed(&removed.name, &removed.at),
        )
        .await?;
        transaction.commit().await?;
        self.deliver_in_request(&db, &[notice]).await;
        Ok(())
    }

    /// Starts a usernameless sign-in: no address is asked, the authenticator offers the passkeys
    /// it holds for this site. Nothing proves anything yet, so each client IP's starts are
    /// budgeted (each keeps a ceremony for five minutes).
    pub async fn passkey_signin_start(
        &self,
        client: &ClientInfo,
    ) -> Result<PasskeyCeremony, ApiError> {
        let db = self.pool.get().await?;
        let limits = &self.config.limits;
        store::count_request(
            &db,
            Bucket::PasskeySigninIp,
            &client.rate_limit_subject(),
            limits.ip_window,
        )
        .await?
        .check(limits.passkey_signin_per_ip)?;
        let (options, authentication) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(internal)?;
        let id = CeremonyId::generate();
        store::save_ceremony(
            &db,
            id,
            CeremonyKind::Authentication,
            None,
            &to_json(&authentication)?,
            CEREMONY_TTL,
        )
        .await?;
        Ok(PasskeyCeremony {
            ceremony_id: id.as_uuid(),
            options: to_json(&options)?,
        })
    }

    /// Finishes a passkey sign-in: the assertion names its account (the user handle) and
    /// credential, and must be signed by that passkey over this ceremony's challenge with a
    /// counter that moved forward. The passkey's counter, backup flags and last use are stored,
    /// then a session opens at `aal2` (`amr: ["webauthn"]`), as a password sign-in's would,
    /// without a TOTP step. An unconfirmed address is refused as sign-in refuses it, and only
    /// once the passkey is proven.
    pub async fn passkey_signin_finish(
        &self,
        ceremony: CeremonyId,
        credential: serde_json::Value,
        client: &ClientInfo,
    ) -> Result<SignedIn, ApiError> {
        let credential: PublicKeyCredential = self::credential(credential)?;
        let db = self.pool.get().await?;
        let (user_handle, credential_id) = match self
            .webauthn
            .identify_discoverable_authentication(&credential)
        {
            Ok(named) => named,
            Err(error) => {
                // The ceremony is spent all the same, as by any other refusal.
                store::take_ceremony(&db, ceremony, CeremonyKind::Authentication, None).await?;
                return Err(refused(error));
            }
        };
        let taken = store::take_signin_ceremony(&db, ceremony, credential_id, user_handle)
            .await?
            .ok_or(ApiError::InvalidPasskey)?;
        let authentication: DiscoverableAuthentication = state(taken.state)?;
        let found = taken.passkey.ok_or_else(|| {
            tracing::debug!("passkey sign-in with a credential no account has");
            ApiError::InvalidPasskey
        })?;
        let (passkey_id, mut passkey, user) = (found.id, found.passkey, found.user);
        let result = self
            .webauthn
            .finish_discoverable_authentication_v2(&credential, authentication, &passkey)
            .map_err(|error| {
                // A counter that did not advance: the authenticator may have been cloned.
                // (webauthn-rs checks it whenever either counter is above 0, so synced passkeys,
                // which keep none, are not refused.)
                if matches!(error, WebauthnError::CredentialPossibleCompromise) {
                    tracing::warn!(%passkey_id, user_id = %user.id.as_uuid(),
                        "passkey signature counter did not advance: possibly cloned; refused");
                }
                refused(error)
            })?;
        passkey.update_credential(&result);
        let email = Email::parse(&user.email).map_err(|e| {
            ApiError::Internal(anyhow::anyhow!("a stored email does not parse: {e}"))
        })?;
        let scopes = LockoutScopes::default();
        if self.config.verification.required && !user.email_verified {
            store::refuse_signin(
                &db,
                user.id,
                &email,
                &scopes,
                store::EventKind::SigninUnverified,
                client,
            )
            .await?;
            return Err(ApiError::EmailNotVerified);
        }
        let (tokens, device_token) = self
            .open_session_for(
                &db,
                &user,
                Opening {
                    email: &email,
                    assurance: Assurance {
                        aal: Aal::Aal2,
                        amr: vec![AuthMethod::Webauthn],
                        idp: None,
                    },
                    scopes: &scopes,
                    replaces_device: None,
                    rehash: None,
                    // Stored only over an older counter, with the session (one statement).
                    passkey_use: Some(PasskeyUse {
                        id: passkey_id,
                        passkey: &passkey,
                        counter: result.counter(),
                    }),
                },
                client,
            )
            .await?;
        Ok(SignedIn {
            user,
            tokens,
            device_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use webauthn_rs::prelude::Url;

    use super::*;

    fn settings(rp_id: &str, origin: &str) -> WebauthnSettings {
        WebauthnSettings {
            rp_id: rp_id.to_owned(),
            origin: Url::parse(origin).unwrap(),
            rp_name: "Example".to_owned(),
            rp_id_unset_in_aws: false,
        }
    }

    #[test]
    fn the_relying_party_needs_the_origin_under_the_rp_id() {
        assert!(relying_party(&settings("localhost", "http://localhost:5001")).is_ok());
        assert!(relying_party(&settings("example.com", "https://auth.example.com")).is_ok());
        for (rp_id, origin) in [
            ("example.com", "https://example.net"),
            ("127.0.0.1", "http://127.0.0.1:5001"),
        ] {
            let error = relying_party(&settings(rp_id, origin)).unwrap_err();
            assert!(
                format!("{error:#}").contains("WEBAUTHN_RP_ID"),
                "{rp_id} {origin}: {error:#}"
            );
        }
    }
}
