//! OpenID sign-in in PostgreSQL: the flow between the authorize redirect and the provider's
//! callback, and the one-time code between the callback and the app's token exchange; each taken
//! once by one atomic `DELETE … RETURNING` (see `migrations/V10__oidc_sign_in.sql`).

use std::time::Duration;

use deadpool_postgres::GenericClient;
use secrecy::{ExposeSecret, SecretString};

use super::{Result, seconds};
use crate::domain::{CodeChallenge, ProviderName, RedirectTarget, UserId};
use crate::tokens::TokenHash;

/// A flow begun by `GET /api/oauth/{provider}/authorize`.
#[derive(Debug)]
pub struct OAuthFlow {
    /// Our `state`: the row's id.
    pub state: SecretString,
    pub provider: ProviderName,
    /// The upstream PKCE verifier and nonce (ours, not the app's).
    pub pkce_verifier: SecretString,
    pub nonce: SecretString,
    pub redirect_to: RedirectTarget,
    /// The app's S256 challenge, which its one-time code will be bound to.
    pub code_challenge: CodeChallenge,
}

/// Keeps a flow for `ttl`.
pub async fn begin_oauth_flow(
    client: &impl GenericClient,
    flow: &OAuthFlow,
    ttl: Duration,
) -> Result<()> {
    let statement = client
        .prepare_cached(
            "INSERT INTO oauth_flows (state, provider, pkce_verifier, nonce, redirect_to,
                                      code_challenge, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &flow.state.expose_secret(),
                &flow.provider.as_str(),
                &flow.pkce_verifier.expose_secret(),
                &flow.nonce.expose_secret(),
                &flow.redirect_to.as_str(),
                &flow.code_challenge.as_str(),
                &seconds(ttl),
            ],
        )
        .await?;
    Ok(())
}

/// Takes the live flow of `state`, once: of two callbacks with one `state`, exactly one gets it;
/// an unknown, used or expired one is `None`.
pub async fn take_oauth_flow(
    client: &impl GenericClient,
    state: &str,
) -> Result<Option<OAuthFlow>> {
    let statement = client
        .prepare_cached(
            "DELETE FROM oauth_flows WHERE state = $1 AND expires_at > now()
             RETURNING state, provider, pkce_verifier, nonce, redirect_to, code_challenge",
        )
        .await?;
    let row = client.query_opt(&statement, &[&state]).await?;
    Ok(row.and_then(|row| {
        Some(OAuthFlow {
            state: SecretString::from(row.get::<_, String>("state")),
            // A name the schema checked; a provider since removed from the configuration is
            // refused by the caller.
            provider: ProviderName::parse(row.get("provider"))?,
            pkce_verifier: SecretString::from(row.get::<_, String>("pkce_verifier")),
            nonce: SecretString::from(row.get::<_, String>("nonce")),
            redirect_to: RedirectTarget::from_stored(row.get("redirect_to")),
            code_challenge: CodeChallenge::from_stored(row.get("code_challenge")),
        })
    }))
}

/// What a one-time code stands for: the account the provider signed in, bound to the app's
/// challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthGrant {
    pub user: UserId,
    pub provider: ProviderName,
    pub code_challenge: CodeChallenge,
    /// The provider's ID token asserted a second factor (`amr` containing `mfa`).
    pub provider_mfa: bool,
}

/// Keeps a one-time code (its hash) for `ttl`.
pub async fn issue_oauth_code(
    client: &impl GenericClient,
    code: &TokenHash,
    grant: &OAuthGrant,
    ttl: Duration,
) -> Result<()> {
    let statement = client
        .prepare_cached(
            "INSERT INTO oauth_codes (code_hash, user_id, provider, code_challenge, provider_mfa,
                                      expires_at)
             VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &code.0.as_slice(),
                &grant.user.as_uuid(),
                &grant.provider.as_str(),
                &grant.code_challenge.as_str(),
                &grant.provider_mfa,
                &seconds(ttl),
            ],
        )
        .await?;
    Ok(())
}

/// Takes the live one-time code, once (as [`take_oauth_flow`]). The caller checks the verifier
/// against the grant's challenge: a wrong one has spent the code all the same, as RFC 7636 wants
/// (a code tried with a guessed verifier is dead).
pub async fn take_oauth_code(
    client: &impl GenericClient,
    code: &TokenHash,
) -> Result<Option<OAuthGrant>> {
    let statement = client
        .prepare_cached(
            "DELETE FROM oauth_codes WHERE code_hash = $1 AND expires_at > now()
             RETURNING user_id, provider, code_challenge, provider_mfa",
        )
        .await?;
    let row = client.query_opt(&statement, &[&code.0.as_slice()]).await?;
    Ok(row.and_then(|row| {
        Some(OAuthGrant {
            user: UserId::from_uuid(row.get("user_id")),
            provider: ProviderName::parse(row.get("provider"))?,
            code_challenge: CodeChallenge::from_stored(row.get("code_challenge")),
            provider_mfa: row.get("provider_mfa"),
        })
    }))
}
