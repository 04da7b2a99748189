//! OpenID sign-in in PostgreSQL: the flow between the authorize redirect and the provider's
//! callback, and the one-time code between the callback and the app's token exchange; each taken
//! once by one atomic `DELETE … RETURNING` (see `migrations/V10__oidc_sign_in.sql`); and the
//! identities an account has linked, listed and unlinked.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::error::SqlState;

use serde::Serialize;
use uuid::Uuid;

use super::{EventKind, OutboxEmail, Result, seconds, user_from};
use crate::domain::{
    ClientInfo, CodeChallenge, Email, ProviderName, RedirectTarget, User, UserId, UserName,
};
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

/// A one-time code taken: what it grants, and its account as it is now (`None` if deleted since).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenCode {
    pub grant: OAuthGrant,
    pub user: Option<User>,
}

/// Takes the live one-time code, once (as [`take_oauth_flow`]), with its account, in one
/// statement. The caller checks the verifier against the grant's challenge: a wrong one has spent
/// the code all the same, as RFC 7636 wants (a code tried with a guessed verifier is dead).
pub async fn take_oauth_code(
    client: &impl GenericClient,
    code: &TokenHash,
) -> Result<Option<TakenCode>> {
    let statement = client
        .prepare_cached(
            "WITH taken AS (
                 DELETE FROM oauth_codes WHERE code_hash = $1 AND expires_at > now()
                 RETURNING user_id, provider, code_challenge, provider_mfa)
             SELECT t.user_id, t.provider, t.code_challenge, t.provider_mfa,
                    u.id, u.name, u.email, u.email_verified_at IS NOT NULL AS email_verified,
                    u.mfa_enabled
             FROM taken t LEFT JOIN users u ON u.id = t.user_id",
        )
        .await?;
    let row = client.query_opt(&statement, &[&code.0.as_slice()]).await?;
    Ok(row.and_then(|row| {
        let grant = OAuthGrant {
            user: UserId::from_uuid(row.get("user_id")),
            provider: ProviderName::parse(row.get("provider"))?,
            code_challenge: CodeChallenge::from_stored(row.get("code_challenge")),
            provider_mfa: row.get("provider_mfa"),
        };
        let user = row
            .get::<_, Option<uuid::Uuid>>("id")
            .map(|_| user_from(&row));
        Some(TakenCode { grant, user })
    }))
}

/// Who a provider says signed in, as far as linking goes.
#[derive(Debug)]
pub struct ProviderSubject<'a> {
    pub provider: &'a ProviderName,
    /// The ID token's `sub`.
    pub subject: &'a str,
    /// Its `email`, when it parses as an address.
    pub email: Option<&'a Email>,
    /// `email_verified` exactly true.
    pub email_verified: bool,
    /// The name a new account gets.
    pub name: &'a UserName,
}

/// What linking decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    /// The identity was known: its account.
    Known(UserId),
    /// A new identity, linked to the confirmed account with the provider's verified address.
    LinkedExisting(UserId),
    /// A new identity and a new, confirmed account (no password).
    Created(UserId),
    /// Not linked and nothing created: the provider's address is not verified, or the account
    /// with it is unconfirmed (never taken over this way).
    EmailNotVerified,
    /// A concurrent callback for the same identity or address won the race: ask again.
    Raced,
}

/// Resolves a provider's subject to an account, in one statement, by the rules (see
/// `migrations/V10__oidc_sign_in.sql`): a known (provider, subject) is its account; a new one
/// with a verified address links to the account of that address only if that account is
/// confirmed, or creates a confirmed account when none has it; an unverified address never
/// links and never creates. The same statement audits a link (`identity_linked`) or an account
/// made (`signup`), and queues `notice` to the owner of an existing account it linked to, which
/// it returns for delivery.
pub async fn link_identity(
    client: &impl GenericClient,
    who: &ProviderSubject<'_>,
    info: &ClientInfo,
    notice: &crate::emails::Message,
) -> Result<(Linked, Option<OutboxEmail>)> {
    let statement = client
        .prepare_cached(
            "WITH known AS (
                 SELECT user_id FROM oauth_identities WHERE provider = $1 AND subject = $2),
                  account AS (
                 SELECT id, email_verified_at IS NOT NULL AS confirmed FROM users
                 WHERE email = $3 AND NOT EXISTS (SELECT 1 FROM known)),
                  created AS (
                 INSERT INTO users (name, email, password_hash, email_verified_at)
                 SELECT $5, $3, NULL, now()
                 WHERE $4 AND $3::text IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM known) AND NOT EXISTS (SELECT 1 FROM account)
                 ON CONFLICT DO NOTHING
                 RETURNING id),
                  target AS (
                 SELECT id FROM account WHERE confirmed AND $4
                 UNION ALL SELECT id FROM created),
                  linked AS (
                 INSERT INTO oauth_identities (user_id, provider, subject, email)
                 SELECT id, $1, $2, $3 FROM target
                 RETURNING user_id),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, ip, user_agent)
                 SELECT CASE WHEN EXISTS (SELECT 1 FROM created) THEN $6 ELSE $7 END,
                        user_id, $8, $9
                 FROM linked),
                  notice AS (
                 INSERT INTO email_outbox (recipient, subject, body_text)
                 SELECT $3, $10, $11 FROM linked WHERE NOT EXISTS (SELECT 1 FROM created)
                 RETURNING id, recipient, subject, body_text)
             SELECT (SELECT user_id FROM known) AS known,
                    (SELECT id FROM account) AS account,
                    (SELECT id FROM created) AS created,
                    (SELECT user_id FROM linked) AS linked,
                    notice.id, notice.recipient, notice.subject, notice.body_text
             FROM (SELECT 1) AS one LEFT JOIN notice ON true",
        )
        .await?;
    let answer = client
        .query_one(
            &statement,
            &[
                &who.provider.as_str(),
                &who.subject,
                &who.email.map(Email::as_str),
                &who.email_verified,
                &who.name.as_str(),
                &EventKind::Signup.as_str(),
                &EventKind::IdentityLinked.as_str(),
                &info.ip,
                &info.user_agent,
                &notice.subject,
                &notice.body,
            ],
        )
        .await;
    // The identity was linked by a concurrent callback: the whole statement (an account it
    // created included) is undone, and the caller asks again.
    let row = match answer {
        Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            return Ok((Linked::Raced, None));
        }
        answer => answer?,
    };
    let id = |column: &str| {
        row.get::<_, Option<uuid::Uuid>>(column)
            .map(UserId::from_uuid)
    };
    let notice = row
        .get::<_, Option<i64>>("id")
        .map(|_| OutboxEmail::from_row(&row));
    let linked = match (id("known"), id("account"), id("created"), id("linked")) {
        (Some(known), ..) => Linked::Known(known),
        (None, _, Some(_), Some(linked)) => Linked::Created(linked),
        (None, Some(_), None, Some(linked)) => Linked::LinkedExisting(linked),
        (None, Some(_), None, None) | (None, None, None, None)
            if !who.email_verified || who.email.is_none() =>
        {
            Linked::EmailNotVerified
        }
        // An account with the address, unconfirmed: never taken over.
        (None, Some(_), None, None) => Linked::EmailNotVerified,
        // Created or linked by a concurrent callback between the reads and the writes.
        _ => Linked::Raced,
    };
    Ok((linked, notice))
}

/// One linked identity as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentitySummary {
    pub id: Uuid,
    pub provider: String,
    /// The address the provider asserted when it was linked.
    pub email: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// The account's linked identities, oldest first.
pub async fn list_identities(
    client: &impl GenericClient,
    user: UserId,
) -> Result<Vec<IdentitySummary>> {
    let statement = client
        .prepare_cached(
            "SELECT id, provider, email,
                    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
                        AS created
             FROM oauth_identities WHERE user_id = $1 ORDER BY created_at, id",
        )
        .await?;
    let rows = client.query(&statement, &[&user.as_uuid()]).await?;
    Ok(rows
        .iter()
        .map(|row| IdentitySummary {
            id: row.get("id"),
            provider: row.get("provider"),
            email: row.get("email"),
            created_at: row.get("created"),
        })
        .collect())
}

/// What unlinking an identity did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    Unlinked,
    /// The account has no identity of this id (another account's included).
    NotFound,
    /// It is the account's last way in: no password, no other identity, no passkey.
    LastSignInMethod,
}

/// Unlinks one of the account's identities and records the event, unless it is the account's
/// last way to sign in (the rule is the SQL function `keeps_a_way_in`, V10, which passkey removal
/// shares); the check and the delete are one statement. Run it in a transaction: the
/// account's row is locked first, so that two unlinks at once (each seeing the other identity
/// still there in its snapshot) cannot together leave the account with no way in.
pub async fn unlink_identity(
    client: &impl GenericClient,
    user: UserId,
    id: Uuid,
    info: &ClientInfo,
) -> Result<Unlinked> {
    if !super::lock_account(client, user).await? {
        return Ok(Unlinked::NotFound);
    }
    let statement = client
        .prepare_cached(
            "WITH target AS (
                 SELECT id, user_id FROM oauth_identities WHERE id = $1 AND user_id = $2),
                  allowed AS (
                 SELECT t.id FROM target t WHERE keeps_a_way_in(t.user_id, t.id, NULL)),
                  gone AS (
                 DELETE FROM oauth_identities WHERE id IN (SELECT id FROM allowed)
                 RETURNING user_id),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, ip, user_agent)
                 SELECT $3, user_id, $4, $5 FROM gone)
             SELECT EXISTS (SELECT 1 FROM target) AS found,
                    EXISTS (SELECT 1 FROM gone) AS unlinked",
        )
        .await?;
    let row = client
        .query_one(
            &statement,
            &[
                &id,
                &user.as_uuid(),
                &EventKind::IdentityUnlinked.as_str(),
                &info.ip,
                &info.user_agent,
            ],
        )
        .await?;
    Ok(match (row.get("found"), row.get("unlinked")) {
        (_, true) => Unlinked::Unlinked,
        (true, false) => Unlinked::LastSignInMethod,
        (false, false) => Unlinked::NotFound,
    })
}
