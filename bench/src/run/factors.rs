//! Second factors in the benchmark: TOTP enrolled, confirmed, given new recovery codes and
//! turned off again; passkeys registered, listed and removed; a passkey sign-in started.

use anyhow::ensure;
use auth::Endpoint;
use serde_json::json;
use testkit::requests::with_path_parameter;

use super::{Bench, Plan, Recording, bearer, json_request, token, with_bearer};

/// What the TOTP round measures, one recording per endpoint.
pub(super) struct TotpRound {
    pub enroll: Recording,
    pub confirm: Recording,
    pub recovery_codes: Recording,
    pub disable: Recording,
}

/// What the passkey round measures.
pub(super) struct PasskeyRound {
    pub register_start: Recording,
    pub register_finish: Recording,
    pub delete: Recording,
}

impl Bench {
    /// TOTP on and off again, round after round on one account: enroll, confirm (the session
    /// becomes `aal2`), a new set of recovery codes, then off with a code. A code is accepted
    /// once per time step, so its step is made acceptable again before the last call
    /// (unrecorded: a benchmark cannot wait 30 s per round).
    pub(super) async fn totp_round(&self, plan: Plan) -> anyhow::Result<TotpRound> {
        let (mut access, _) = self.signed_in("factors@example.com").await?;
        let mut round = TotpRound {
            enroll: Recording::new(Endpoint::MfaEnroll, plan),
            confirm: Recording::new(Endpoint::MfaConfirm, plan),
            recovery_codes: Recording::new(Endpoint::MfaRecoveryCodes, plan),
            disable: Recording::new(Endpoint::MfaDisable, plan),
        };
        for _ in 0..plan.total() {
            let (secret, confirmed) = self
                .turn_totp_on(&access, &mut round.enroll, &mut round.confirm)
                .await?;
            access = token(&confirmed, "access_token")?;
            let code = json!({ "code": testkit::totp::code(&secret, 0) });
            let codes = self
                .call(
                    &mut round.recovery_codes,
                    bearer(Endpoint::MfaRecoveryCodes, &access),
                )
                .await?;
            ensure!(codes["recovery_codes"].is_array(), "codes: {codes}");
            self.db
                .execute("UPDATE mfa_totp SET last_step = last_step - 10", &[])
                .await?;
            let disable = with_bearer(json_request(Endpoint::MfaDisable, &code), &access);
            self.call(&mut round.disable, disable).await?;
        }
        Ok(round)
    }

    /// TOTP turned on for the session of `access`, as its owner would: enrolled (into
    /// `enroll`), then confirmed with the current code (into `confirm`). Returns the secret and
    /// the confirmation's answer (its tokens are `aal2`).
    pub(super) async fn turn_totp_on(
        &self,
        access: &str,
        enroll: &mut Recording,
        confirm: &mut Recording,
    ) -> anyhow::Result<(String, serde_json::Value)> {
        let enrolled = self
            .call(enroll, bearer(Endpoint::MfaEnroll, access))
            .await?;
        let secret = token(&enrolled, "secret")?;
        let code = json!({ "code": testkit::totp::code(&secret, 0) });
        let request = with_bearer(json_request(Endpoint::MfaConfirm, &code), access);
        let confirmed = self.call(confirm, request).await?;
        Ok((secret, confirmed))
    }

    /// A passkey registered and removed again, round after round on one account, each with a
    /// new key of the software authenticator.
    pub(super) async fn passkey_round(&self, plan: Plan) -> anyhow::Result<PasskeyRound> {
        let (access, _) = self.signed_in("keyring@example.com").await?;
        let mut round = PasskeyRound {
            register_start: Recording::new(Endpoint::PasskeyRegisterStart, plan),
            register_finish: Recording::new(Endpoint::PasskeyRegisterFinish, plan),
            delete: Recording::new(Endpoint::DeletePasskey, plan),
        };
        for _ in 0..plan.total() {
            let mut key = testkit::passkeys::SoftPasskey::new(true);
            let added = self
                .register_passkey(
                    &mut key,
                    &access,
                    &mut round.register_start,
                    &mut round.register_finish,
                )
                .await?;
            let id = token(&added["passkey"], "id")?;
            let delete = with_path_parameter(bearer(Endpoint::DeletePasskey, &access), "id", &id);
            self.call(&mut round.delete, delete).await?;
        }
        Ok(round)
    }

    /// A passkey of `key` registered for the session of `access`, as a browser would: the
    /// ceremony started (into `start`), the authenticator's answer sent back (into `finish`).
    /// Returns the finish's answer.
    pub(super) async fn register_passkey(
        &self,
        key: &mut testkit::passkeys::SoftPasskey,
        access: &str,
        start: &mut Recording,
        finish: &mut Recording,
    ) -> anyhow::Result<serde_json::Value> {
        let started = self
            .call(start, bearer(Endpoint::PasskeyRegisterStart, access))
            .await?;
        let credential = testkit::passkeys::attest(key, &started["options"]);
        let body = json!({
            "ceremony_id": started["ceremony_id"],
            "credential": credential,
            "name": "Bench key",
        });
        let request = with_bearer(json_request(Endpoint::PasskeyRegisterFinish, &body), access);
        self.call(finish, request).await
    }

    /// Usernameless sign-ins started: nothing to know beforehand.
    pub(super) async fn passkey_signin_start(&self, plan: Plan) -> anyhow::Result<Recording> {
        let mut recording = Recording::new(Endpoint::PasskeySigninStart, plan);
        for _ in 0..plan.total() {
            let request = json_request(Endpoint::PasskeySigninStart, &json!({}));
            let started = self.call(&mut recording, request).await?;
            ensure!(started["ceremony_id"].is_string(), "start: {started}");
        }
        Ok(recording)
    }
}
