//! The benchmark's accounts: new addresses, one password, and the sign-up and sign-in bodies.

use std::str::FromStr;

use anyhow::Context;
use serde_json::{Value, json};
use uuid::Uuid;

/// Good enough for the password rules, and the right one for every sign-in (no lockout).
pub const PASSWORD: &str = "Bench-Horse-Battery-42!";

/// An address no account has yet.
pub fn new_email() -> String {
    format!("bench-{}@example.com", Uuid::new_v4().simple())
}

/// The body of `POST /api/signup` for `email`.
pub fn signup_body(email: &str) -> Value {
    json!({"name": "Bench User", "email": email, "password": PASSWORD})
}

/// The body of `POST /api/signin` for `email`, with the right password.
pub fn signin_body(email: &str) -> Value {
    json!({"email": email, "password": PASSWORD})
}

/// The id of the account at `email`, from the stack's database (`DATABASE_URL`).
pub fn user_id(email: &str) -> anyhow::Result<String> {
    let rows = on_stack_database("SELECT id::text FROM users WHERE email = $1", email)?;
    let row = rows
        .first()
        .with_context(|| format!("no account at {email}"))?;
    Ok(row.get(0))
}

/// Marks the account at `email` confirmed, directly in the stack's database (`DATABASE_URL`): the
/// benchmark measures sign-in and what follows it, not the confirmation email, whose flow the
/// tests cover end to end.
pub fn confirm_in_database(email: &str) -> anyhow::Result<()> {
    let rows = on_stack_database(
        "UPDATE users SET email_verified_at = now() WHERE email = $1 RETURNING id",
        email,
    )?;
    anyhow::ensure!(rows.len() == 1, "no account at {email} to confirm");
    Ok(())
}

/// Runs one statement, `email` as `$1`, on a connection of its own to the stack's database.
fn on_stack_database(sql: &'static str, email: &str) -> anyhow::Result<Vec<tokio_postgres::Row>> {
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL (the stack's database)")?;
    let config = tokio_postgres::Config::from_str(&url).context("DATABASE_URL")?;
    let email = email.to_owned();
    testkit::database::block_on(async move {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        Ok(client.query(sql, &[&email]).await?)
    })
}
