//! How emails leave the outbox: `EMAIL_TRANSPORT` (`log`, `ses` or `smtp`), `EMAIL_FROM` and,
//! for SMTP, `SMTP_URL`.

use lettre::AsyncSmtpTransport;
use lettre::Tokio1Executor;
use secrecy::{ExposeSecret, SecretString};

use super::{ConfigError, Environment};
use crate::domain::Email;

/// How emails leave the outbox.
#[derive(Debug, Clone)]
pub enum EmailTransport {
    /// Write the email (reset link included) to the log: the local stack, where there is no mail.
    Log,
    /// Send through Amazon SES v2 from this address.
    Ses { from: Email },
    /// Send to an SMTP server from this address. `url` is lettre's connection URL
    /// (`smtp://host:port`, `smtp://user:password@host:587?tls=required`,
    /// `smtps://user:password@host`), checked when loaded; secret, as it may hold a password.
    Smtp { url: SecretString, from: Email },
}

/// Equal settings, the SMTP URL compared as text (for tests; never shown).
impl PartialEq for EmailTransport {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (EmailTransport::Log, EmailTransport::Log) => true,
            (EmailTransport::Ses { from: a }, EmailTransport::Ses { from: b }) => a == b,
            (
                EmailTransport::Smtp { url: a, from: f },
                EmailTransport::Smtp { url: b, from: g },
            ) => a.expose_secret() == b.expose_secret() && f == g,
            _ => false,
        }
    }
}

impl Eq for EmailTransport {}

impl EmailTransport {
    pub(super) fn load(env: &Environment) -> Result<Self, ConfigError> {
        let transport = env.text_or("EMAIL_TRANSPORT", "log");
        let from = env.text("EMAIL_FROM");
        let smtp_url = env.secret("SMTP_URL");
        let needed_from = |transport: &str| {
            let from = from.ok_or_else(|| {
                ConfigError::new(
                    "EMAIL_FROM",
                    format!("is not set (needed with EMAIL_TRANSPORT={transport})"),
                )
            })?;
            Email::parse(from)
                .map_err(|_| ConfigError::new("EMAIL_FROM", "is not a valid email address"))
        };
        match transport.as_str() {
            "log" => Ok(EmailTransport::Log),
            "ses" => Ok(EmailTransport::Ses {
                from: needed_from("ses")?,
            }),
            "smtp" => {
                let url = smtp_url.ok_or_else(|| {
                    ConfigError::new("SMTP_URL", "is not set (needed with EMAIL_TRANSPORT=smtp)")
                })?;
                // The same reading the mailer does; its error is not shown, as it could quote
                // part of the URL.
                if AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret()).is_err() {
                    return Err(ConfigError::new(
                        "SMTP_URL",
                        "is not an SMTP URL (smtp://host:port, \
                         smtp://user:password@host:587?tls=required or \
                         smtps://user:password@host; user and password percent-encoded)",
                    ));
                }
                Ok(EmailTransport::Smtp {
                    url,
                    from: needed_from("smtp")?,
                })
            }
            _ => Err(ConfigError::new(
                "EMAIL_TRANSPORT",
                "must be log, ses or smtp",
            )),
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

    #[tokio::test]
    async fn smtp_sends_from_the_configured_address_to_the_configured_server() {
        for url in [
            "smtp://127.0.0.1:1025",
            "smtp://user:p%40ss@mail.example.com:587?tls=required",
            "smtp://mail.example.com?tls=opportunistic",
            "smtps://user:pass@mail.example.com",
            "smtps://user:pass@mail.example.com:465",
        ] {
            let config = load(&[
                DB,
                KEY,
                ("EMAIL_TRANSPORT", "smtp"),
                ("SMTP_URL", url),
                ("EMAIL_FROM", "no-reply@example.com"),
            ])
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(
                config.email,
                EmailTransport::Smtp {
                    url: url.into(),
                    from: Email::parse("no-reply@example.com").unwrap()
                },
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn smtp_needs_a_url_and_a_sender_and_names_the_one_at_fault() {
        let smtp = ("EMAIL_TRANSPORT", "smtp");
        let from = ("EMAIL_FROM", "no-reply@example.com");
        type Vars<'a> = &'a [(&'a str, &'a str)];
        // The variables (beside DATABASE_URL and a key), the one named, what is wrong.
        let cases: &[(Vars, &str, &str)] = &[
            (&[smtp, from], "SMTP_URL", "no URL"),
            (&[smtp, from, ("SMTP_URL", "  ")], "SMTP_URL", "a blank URL"),
            (
                &[smtp, ("SMTP_URL", "smtp://localhost:1025")],
                "EMAIL_FROM",
                "no sender",
            ),
            (
                &[
                    smtp,
                    ("SMTP_URL", "smtp://localhost"),
                    ("EMAIL_FROM", "nobody"),
                ],
                "EMAIL_FROM",
                "a sender that is no address",
            ),
            (
                &[smtp, from, ("SMTP_URL", "localhost:1025")],
                "SMTP_URL",
                "no scheme",
            ),
            (
                &[smtp, from, ("SMTP_URL", "http://localhost")],
                "SMTP_URL",
                "not SMTP",
            ),
            (
                &[smtp, from, ("SMTP_URL", "smtp:///path")],
                "SMTP_URL",
                "no host",
            ),
            (
                &[smtp, from, ("SMTP_URL", "smtp://localhost?tls=sometimes")],
                "SMTP_URL",
                "an unknown tls mode",
            ),
            (
                &[("EMAIL_TRANSPORT", "sendmail"), from],
                "EMAIL_TRANSPORT",
                "unknown",
            ),
        ];
        for (vars, variable, case) in cases {
            let vars: Vec<_> = [DB, KEY].iter().chain(vars.iter()).copied().collect();
            let error = load(&vars).await.unwrap_err();
            assert_eq!(error.variable, *variable, "{case}: {error}");
        }
    }

    #[tokio::test]
    async fn the_smtp_password_is_never_shown() {
        let password = "hunter2-smtp";
        let url = format!("smtps://mailer:{password}@mail.example.com");
        let config = load(&[
            DB,
            KEY,
            ("EMAIL_TRANSPORT", "smtp"),
            ("SMTP_URL", &url),
            ("EMAIL_FROM", "no-reply@example.com"),
        ])
        .await
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains(password), "{debug}");

        let bad = format!("smtp://mailer:{password}@mail.example.com?tls=sometimes");
        let error = load(&[
            DB,
            KEY,
            ("EMAIL_TRANSPORT", "smtp"),
            ("SMTP_URL", &bad),
            ("EMAIL_FROM", "no-reply@example.com"),
        ])
        .await
        .unwrap_err();
        assert!(!format!("{error} {error:?}").contains(password), "{error}");
    }

    #[tokio::test]
    async fn every_email_variable_is_read_whatever_the_transport() {
        for transport in ["log", "ses", "smtp", "unknown"] {
            let env = Environment::from_pairs([("EMAIL_TRANSPORT", transport)]);
            let _ = EmailTransport::load(&env);
            let read = env.names_read();
            for name in ["EMAIL_TRANSPORT", "EMAIL_FROM", "SMTP_URL"] {
                assert!(
                    read.contains(name),
                    "{transport}: {name} not read: {read:?}"
                );
            }
        }
    }
}
