//! How emails leave the outbox: `EMAIL_TRANSPORT` (`log` or `ses`) and `EMAIL_FROM`.

use super::{ConfigError, Environment};
use crate::domain::Email;

/// How emails leave the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailTransport {
    /// Write the email (reset link included) to the log: the local stack, where there is no mail.
    Log,
    /// Send through Amazon SES v2 from this address.
    Ses { from: Email },
}

impl EmailTransport {
    pub(super) fn load(env: &Environment) -> Result<Self, ConfigError> {
        let transport = env.text_or("EMAIL_TRANSPORT", "log");
        let from = env.text("EMAIL_FROM");
        match (transport.as_str(), from) {
            ("log", _) => Ok(EmailTransport::Log),
            ("ses", Some(from)) => Ok(EmailTransport::Ses {
                from: Email::parse(from)
                    .map_err(|_| ConfigError::new("EMAIL_FROM", "is not a valid email address"))?,
            }),
            ("ses", None) => Err(ConfigError::new(
                "EMAIL_FROM",
                "is not set (needed with EMAIL_TRANSPORT=ses)",
            )),
            _ => Err(ConfigError::new("EMAIL_TRANSPORT", "must be log or ses")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DB, KEY, load};
    use super::*;

    #[tokio::test]
    async fn ses_sends_from_the_configured_address() {
        let config = load(&[
            DB,
            KEY,
            ("EMAIL_TRANSPORT", "ses"),
            ("EMAIL_FROM", "no-reply@example.com"),
        ])
        .await
        .unwrap();
        assert_eq!(
            config.email,
            EmailTransport::Ses {
                from: Email::parse("no-reply@example.com").unwrap()
            }
        );
    }
}
