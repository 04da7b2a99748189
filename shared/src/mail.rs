//! Email delivery from the transactional outbox: Amazon SES v2 in AWS, the log on a laptop.
//!
//! An email is first committed to `email_outbox` with the change that caused it; delivery comes
//! after, and records its outcome on the row: by the janitor for SES, in the request for the log
//! (see [`Mailer::delivers_in_request`]). A failed send never fails a request: the row stays
//! unsent and the janitor retries it.

use anyhow::Context;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use deadpool_postgres::GenericClient;

use crate::aws::Aws;
use crate::config::EmailTransport;
use crate::domain::Email;
use crate::store::{self, OutboxEmail};

/// Where emails go.
pub enum Mailer {
    /// Into the log, link and all: for the local stack only, where there is no mail server.
    Log,
    /// Through SES v2, from a verified sender address.
    Ses {
        client: aws_sdk_sesv2::Client,
        from: Email,
    },
}

impl Mailer {
    /// The mailer for a configured transport; SES clients come from the shared AWS configuration.
    pub async fn new(transport: &EmailTransport, aws: &Aws) -> Self {
        match transport {
            EmailTransport::Log => Mailer::Log,
            EmailTransport::Ses { from } => Mailer::Ses {
                client: aws.ses().await,
                from: from.clone(),
            },
        }
    }

    /// Whether requests deliver their own emails. Only the log does: an SES call in the request
    /// would make the answer to a known email measurably slower than to an unknown one, so SES
    /// emails wait in the outbox for the janitor (every minute).
    pub fn delivers_in_request(&self) -> bool {
        matches!(self, Mailer::Log)
    }

    /// Sends one email.
    pub async fn send(&self, email: &OutboxEmail) -> anyhow::Result<()> {
        match self {
            Mailer::Log => {
                tracing::info!(
                    outbox_id = email.id,
                    subject = %email.subject,
                    body = %email.body_text,
                    "email written to the log (EMAIL_TRANSPORT=log)"
                );
                Ok(())
            }
            Mailer::Ses { client, from } => {
                let text = |data: &str| Content::builder().data(data).charset("UTF-8").build();
                let message = Message::builder()
                    .subject(text(&email.subject)?)
                    .body(Body::builder().text(text(&email.body_text)?).build())
                    .build();
                client
                    .send_email()
                    .from_email_address(from.as_str())
                    .destination(
                        Destination::builder()
                            .to_addresses(&email.recipient)
                            .build(),
                    )
                    .content(EmailContent::builder().simple(message).build())
                    .send()
                    .await
                    .map_err(aws_sdk_sesv2::Error::from)
                    .context("SES SendEmail failed")?;
                Ok(())
            }
        }
    }

    /// Sends a queued email and records the outcome on its row. Returns whether it was sent;
    /// a failure is logged and left on the row for the janitor, never raised.
    pub async fn deliver(&self, client: &impl GenericClient, email: &OutboxEmail) -> bool {
        let outcome = self.send(email).await;
        let recorded = match &outcome {
            Ok(()) => store::mark_email_sent(client, email.id).await,
            Err(error) => {
                tracing::warn!(
                    outbox_id = email.id,
                    error = format!("{error:#}"),
                    "email not sent; left for retry"
                );
                store::record_email_failure(client, email.id, &format!("{error:#}")).await
            }
        };
        if let Err(error) = recorded {
            tracing::error!(outbox_id = email.id, error = %error, "could not record the delivery outcome");
        }
        outcome.is_ok()
    }
}
