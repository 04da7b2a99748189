//! Email delivery from the transactional outbox: Amazon SES v2 in AWS; on a laptop an SMTP
//! server (`make dev`'s MailDev) or the log.
//!
//! An email is first committed to `email_outbox` with the change that caused it; delivery comes
//! after, and records its outcome on the row: by the janitor for SES and SMTP, in the request for
//! the log (see [`Mailer::delivers_in_request`]). A failed send never fails a request: the row
//! stays unsent and the janitor retries it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use deadpool_postgres::GenericClient;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::aws::Aws;
use crate::config::EmailTransport;
use crate::domain::Email;
use crate::store::{self, OutboxEmail};

/// Where emails go.
pub enum Mailer {
    /// Into the log, link and all: for the local stack only, where there is no mail server.
    Log,
    /// Nowhere from here: the emails wait in the outbox for the janitor's mailer. What the
    /// request functions hold when emails go out through SES or SMTP (see
    /// [`Mailer::for_requests`]), so that they link neither.
    Outbox,
    /// Through SES v2 or an SMTP server: the janitor's.
    Sender(Box<dyn Sender>),
}

/// A way out for emails, behind a trait object so that only the functions that build one (the
/// janitor, through [`Mailer::new`]) link the SES client or lettre's SMTP code.
pub trait Sender: Send + Sync {
    /// Sends one email.
    fn send<'a>(&'a self, email: &'a OutboxEmail) -> BoxFuture<'a, anyhow::Result<()>>;
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Through SES v2, from a verified sender address.
struct Ses {
    client: aws_sdk_sesv2::Client,
    from: Email,
}

/// To an SMTP server (`SMTP_URL`), one connection per email, from `from`.
struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Email,
}

/// How long the SMTP server may take over each step (connecting, each command): a server that
/// stops answering costs the janitor this much per email, not lettre's default minute.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

impl Mailer {
    /// The mailer that sends through the configured transport (the janitor's); SES clients come
    /// from the shared AWS configuration.
    ///
    /// Panics on an SMTP URL lettre cannot read, which [`EmailTransport`]'s loader refuses
    /// first: only a transport built by hand can reach that, and it fails at cold start.
    pub async fn new(transport: &EmailTransport, aws: &Aws) -> Self {
        match transport {
            EmailTransport::Log => Mailer::Log,
            EmailTransport::Ses { from } => Mailer::Sender(Box::new(Ses {
                client: aws.ses().await,
                from: from.clone(),
            })),
            EmailTransport::Smtp { url, from } => Mailer::Sender(Box::new(Smtp {
                // The error is not shown: it could quote part of the URL, password included.
                transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .unwrap_or_else(|_| panic!("SMTP_URL is not an SMTP URL"))
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
                from: from.clone(),
            })),
        }
    }

    /// The mailer of a request function: the log delivers in the request; SES and SMTP are left
    /// to the janitor (see [`Mailer::delivers_in_request`]), so nothing here sends.
    pub fn for_requests(transport: &EmailTransport) -> Self {
        match transport {
            EmailTransport::Log => Mailer::Log,
            EmailTransport::Ses { .. } | EmailTransport::Smtp { .. } => Mailer::Outbox,
        }
    }

    /// Whether requests deliver their own emails. Only the log does: an SES or SMTP call in the
    /// request would make the answer to a known email measurably slower than to an unknown one,
    /// telling which accounts exist, so those emails wait in the outbox for the janitor (every
    /// minute in AWS, every few seconds under `make dev`).
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
            Mailer::Outbox => anyhow::bail!("this function leaves emails to the janitor"),
            Mailer::Sender(sender) => sender.send(email).await,
        }
    }

    /// Sends a queued email and records the outcome on its row. Returns whether it was sent;
    /// a failure is logged and left on the row for the janitor, never raised.
    pub async fn deliver(&self, client: &impl GenericClient, email: &OutboxEmail) -> bool {
        let outcome = self.send(email).await;
        let recorded = match &outcome {
            // Delivered, the body's link or code lives in the inbox only. The log transport
            // keeps it: it is the local stand-in whose log holds the link anyway, and the local
            // stack's tests read links from the outbox.
            Ok(()) => store::mark_email_sent(client, email.id, !self.delivers_in_request()).await,
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

impl Sender for Ses {
    fn send<'a>(&'a self, email: &'a OutboxEmail) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let text = |data: &str| Content::builder().data(data).charset("UTF-8").build();
            let message = Message::builder()
                .subject(text(&email.subject)?)
                .body(Body::builder().text(text(&email.body_text)?).build())
                .build();
            self.client
                .send_email()
                .from_email_address(self.from.as_str())
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
        })
    }
}

impl Sender for Smtp {
    fn send<'a>(&'a self, email: &'a OutboxEmail) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let message = smtp_message(email, &self.from)?;
            self.transport
                .send(message)
                .await
                .context("SMTP delivery failed")?;
            Ok(())
        })
    }
}

/// The queued email as a plain-text message from `from`. Neither address is quoted in an error:
/// errors are logged and kept on the row.
fn smtp_message(email: &OutboxEmail, from: &Email) -> anyhow::Result<lettre::Message> {
    let sender: Mailbox = from
        .as_str()
        .parse()
        .context("EMAIL_FROM is not an address lettre accepts")?;
    let recipient: Mailbox = email
        .recipient
        .parse()
        .context("the recipient is not an address lettre accepts")?;
    // In the sender's domain rather than lettre's default (`localhost`, without its `hostname`
    // feature), as mail filters expect.
    let domain = from
        .as_str()
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    lettre::Message::builder()
        .message_id(Some(format!("<{}@{domain}>", Uuid::new_v4().simple())))
        .from(sender)
        .to(recipient)
        .subject(&email.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(email.body_text.clone())
        .context("building the SMTP message")
}
