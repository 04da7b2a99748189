//! The token in an emailed link, read from the newest email queued for an address, as a person
//! reads it from their inbox.

use anyhow::Context;

/// The token following `link_prefix` (e.g. `http://localhost:5001/reset-password#`) in the body
/// of the newest email queued for `recipient`.
pub async fn link_token(
    db: &tokio_postgres::Client,
    recipient: &str,
    link_prefix: &str,
) -> anyhow::Result<String> {
    let row = db
        .query_opt(
            "SELECT body_text FROM email_outbox WHERE recipient = $1 ORDER BY id DESC LIMIT 1",
            &[&recipient],
        )
        .await
        .context("reading the outbox")?
        .with_context(|| format!("no email was queued for {recipient}"))?;
    let body: String = row.get(0);
    let start = body
        .find(link_prefix)
        .with_context(|| format!("the email holds no link starting {link_prefix}: {body}"))?
        + link_prefix.len();
    Ok(body[start..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned())
}
