//! The harness's HTTP client for the local servers (the stack, make dev's API, MailDev's inbox):
//! answers of any status come back as they are, for the caller to judge.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

/// A client with a minute's timeout that treats no status as an error.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// `POST <base_url><path>` with a JSON body: the status and the JSON answer (`null` if the
/// answer is not JSON).
pub fn post_json(
    agent: &ureq::Agent,
    base_url: &str,
    path: &str,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    let mut response = agent
        .post(format!("{base_url}{path}"))
        .send_json(body)
        .with_context(|| format!("POST {path}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_json::<Value>()
        .unwrap_or(Value::Null);
    Ok((status, body))
}
