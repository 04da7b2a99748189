//! Second factors in PostgreSQL: the rules that must hold across every Lambda instance, each one
//! statement (see `migrations/V8__second_factor_totp.sql`).

use deadpool_postgres::GenericClient;

use super::Result;
use crate::domain::UserId;

/// Accepts a TOTP time step for the account's confirmed TOTP, once: true only when `step` is
/// later than every step accepted before (one atomic statement, so of two requests with one code
/// exactly one passes).
pub async fn accept_totp_step(
    client: &impl GenericClient,
    user: UserId,
    step: u64,
) -> Result<bool> {
    let statement = client
        .prepare_cached("SELECT accept_totp_step($1, $2)")
        .await?;
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let row = client
        .query_one(&statement, &[&user.as_uuid(), &step])
        .await?;
    Ok(row.get(0))
}

/// One wrong second-factor code counted for the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfaFailure {
    /// Wrong codes in the current 15-minute window, this one included.
    pub failures: i32,
    /// This one was the tenth: the second factor is locked for 15 minutes.
    pub locks: bool,
}

/// Counts a wrong second-factor code (one atomic upsert).
pub async fn count_mfa_failure(client: &impl GenericClient, user: UserId) -> Result<MfaFailure> {
    let statement = client
        .prepare_cached("SELECT failures, locks FROM count_mfa_failure($1)")
        .await?;
    let row = client.query_one(&statement, &[&user.as_uuid()]).await?;
    Ok(MfaFailure {
        failures: row.get("failures"),
        locks: row.get("locks"),
    })
}
