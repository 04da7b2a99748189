//! The CloudFormation custom resource that migrates the database on every deploy.
//!
//! CloudFormation invokes the `migrate` function with an event and then waits, up to an hour,
//! for a JSON answer PUT to the event's pre-signed `ResponseURL`. So every event is answered,
//! whatever happens: `Create`/`Update` run the migrations and report SUCCESS or FAILED (a failed
//! migration fails the deploy); `Delete` touches nothing and reports SUCCESS, so deleting the
//! stack never hangs on the database.
//!
//! With an `MfaKeySecret` property, Create/Update likewise make sure that secret holds an
//! `MFA_ENCRYPTION_KEY`, generated into it if it is empty.
//!
//! With a `SigningKeySecret` property, Create/Update also make sure that secret holds the
//! access-token signing key, generating one into it if it is empty ([`crate::signing_key`]), and
//! answer its public half as the `SigningPublicKey` attribute, which the template hands to the
//! functions that only verify tokens; the token functions depend on this resource, so they never
//! start before their key exists.

use std::future::Future;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What CloudFormation sends (only the fields used).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Event {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: ResourceProperties,
}

/// The resource's properties in the template (only the fields used).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceProperties {
    /// The Secrets Manager secret that must hold the access-token signing key: on Create and
    /// Update, a key is generated into it if it is empty (see [`crate::signing_key`]).
    pub signing_key_secret: Option<String>,
    /// The secret that must hold `MFA_ENCRYPTION_KEY`: on Create and Update, a key is generated
    /// into it if it is empty (see [`crate::signing_key::ensure_mfa_key`]).
    pub mfa_key_secret: Option<String>,
}

/// The lifecycle step CloudFormation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// The answer PUT to `ResponseURL`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: String,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub data: ResponseData,
}

/// Attributes readable with `!GetAtt` on the resource.
#[derive(Debug, Serialize, Deserialize)]
pub struct ResponseData {
    #[serde(rename = "Applied")]
    pub applied: String,
    /// The public half of the signing key (PEM; empty without `SigningKeySecret`): the template
    /// hands it to the functions that verify tokens, which never read the private key.
    #[serde(rename = "SigningPublicKey")]
    pub signing_public_key: String,
}

/// What Create/Update did: the migrations applied, and the signing key's public half.
#[derive(Debug, Default)]
pub struct Outcome {
    pub applied: Vec<String>,
    pub signing_public_key: Option<String>,
}

impl From<Vec<String>> for Outcome {
    fn from(applied: Vec<String>) -> Self {
        Outcome {
            applied,
            signing_public_key: None,
        }
    }
}

/// One resource for the life of the stack: updates never replace it, so CloudFormation never
/// sends a Delete for an old copy in the middle of a deploy.
const PHYSICAL_ID: &str = "database-migrations";

/// Answers one event: runs `migrate` for Create/Update, then PUTs the outcome to CloudFormation.
/// Returns an error only when the answer itself could not be delivered (Lambda then retries).
pub async fn handle<F, Fut, T>(
    event: &Event,
    log_stream: &str,
    migrate: F,
) -> anyhow::Result<Response>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
    T: Into<Outcome>,
{
    let outcome = match event.request_type {
        RequestType::Delete => Ok(Outcome::default()),
        RequestType::Create | RequestType::Update => migrate().await.map(Into::into),
    };
    let (status, reason, outcome) = match outcome {
        Ok(outcome) => {
            let applied = &outcome.applied;
            tracing::info!(request_type = ?event.request_type, ?applied, "custom resource succeeded");
            (
                "SUCCESS",
                format!(
                    "{:?}: applied {} migration(s)",
                    event.request_type,
                    applied.len()
                ),
                outcome,
            )
        }
        Err(error) => {
            tracing::error!(request_type = ?event.request_type, error = format!("{error:#}"), "migration failed");
            // The cause stays in the log; the reason points there (and may be shown in consoles).
            (
                "FAILED",
                format!("Migration failed; see CloudWatch log stream {log_stream}"),
                Outcome::default(),
            )
        }
    };
    let response = Response {
        status: status.into(),
        reason,
        physical_resource_id: event
            .physical_resource_id
            .clone()
            .unwrap_or_else(|| PHYSICAL_ID.into()),
        stack_id: event.stack_id.clone(),
        request_id: event.request_id.clone(),
        logical_resource_id: event.logical_resource_id.clone(),
        data: ResponseData {
            applied: outcome.applied.join(","),
            signing_public_key: outcome.signing_public_key.unwrap_or_default(),
        },
    };
    let body = serde_json::to_string(&response).context("encoding the response")?;
    let url = event.response_url.clone();
    tokio::task::spawn_blocking(move || put(&url, body))
        .await
        .context("response task panicked")??;
    Ok(response)
}

/// PUTs the answer. No `Content-Type`: the pre-signed S3 URL was signed without one.
fn put(url: &str, body: String) -> anyhow::Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    agent
        .put(url)
        .send(body)
        .context("sending the response to CloudFormation")?;
    Ok(())
}
