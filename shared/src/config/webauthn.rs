//! The relying party passkeys are bound to: `WEBAUTHN_RP_ID` (the domain), `WEBAUTHN_ORIGIN`
//! (where the pages that call WebAuthn are served) and `WEBAUTHN_RP_NAME` (shown by the
//! authenticator).

use webauthn_rs::prelude::{Url, WebauthnBuilder};

use super::{ConfigError, Environment};

/// The relying party. The defaults serve `make dev`: pages at `http://localhost:5001`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnSettings {
    /// `WEBAUTHN_RP_ID` (`localhost`): the domain a passkey is registered for. It cannot change
    /// later: the passkeys registered under one id do not work under another.
    pub rp_id: String,
    /// `WEBAUTHN_ORIGIN` (`http://localhost:5001`): the exact origin (scheme, host, port) the
    /// browser reports; its host must be the RP id or a subdomain of it.
    pub origin: Url,
    /// `WEBAUTHN_RP_NAME` (`JWT Auth API`).
    pub rp_name: String,
}

impl WebauthnSettings {
    pub(super) fn load(env: &Environment) -> Result<Self, ConfigError> {
        let rp_id = env.text_or("WEBAUTHN_RP_ID", "localhost");
        let origin = env.text_or("WEBAUTHN_ORIGIN", "http://localhost:5001");
        let rp_name = env.text_or("WEBAUTHN_RP_NAME", "JWT Auth API");

        let origin = Url::parse(&origin)
            .ok()
            .filter(|url| matches!(url.scheme(), "https" | "http"))
            .ok_or_else(|| {
                ConfigError::new(
                    "WEBAUTHN_ORIGIN",
                    "must be an http(s) origin, such as https://auth.example.com",
                )
            })?;
        // The same check the library makes when the relying party is built at cold start: an IP
        // address is never an RP id, and the origin's host must be the id or under it.
        WebauthnBuilder::new(&rp_id, &origin).map_err(|_| {
            ConfigError::new(
                "WEBAUTHN_RP_ID",
                format!(
                    "must be a domain, and WEBAUTHN_ORIGIN's host ({}) that domain or a \
                     subdomain of it",
                    origin.host_str().unwrap_or_default()
                ),
            )
        })?;
        Ok(WebauthnSettings {
            rp_id,
            origin,
            rp_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DB, KEY, load};

    #[tokio::test]
    async fn the_defaults_serve_localhost_and_each_can_be_set() {
        let default = load(&[DB, KEY]).await.unwrap().webauthn;
        assert_eq!(default.rp_id, "localhost");
        assert_eq!(default.origin.as_str(), "http://localhost:5001/");
        assert_eq!(default.rp_name, "JWT Auth API");
        let set = load(&[
            DB,
            KEY,
            ("WEBAUTHN_RP_ID", "example.com"),
            ("WEBAUTHN_ORIGIN", "https://auth.example.com"),
            ("WEBAUTHN_RP_NAME", "Example"),
        ])
        .await
        .unwrap()
        .webauthn;
        assert_eq!(
            (
                set.rp_id.as_str(),
                set.origin.as_str(),
                set.rp_name.as_str()
            ),
            ("example.com", "https://auth.example.com/", "Example")
        );
    }

    #[tokio::test]
    async fn an_origin_outside_the_rp_id_or_not_an_origin_is_refused() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("WEBAUTHN_ORIGIN", "not a url")], "WEBAUTHN_ORIGIN"),
            (&[("WEBAUTHN_ORIGIN", "ftp://localhost")], "WEBAUTHN_ORIGIN"),
            (
                &[("WEBAUTHN_ORIGIN", "https://evil.example.net")],
                "WEBAUTHN_RP_ID",
            ),
            (
                &[
                    ("WEBAUTHN_RP_ID", "127.0.0.1"),
                    ("WEBAUTHN_ORIGIN", "http://127.0.0.1:5001"),
                ],
                "WEBAUTHN_RP_ID",
            ),
        ];
        for (vars, variable) in cases {
            let all: Vec<(&str, &str)> =
                [DB, KEY].into_iter().chain(vars.iter().copied()).collect();
            let error = load(&all).await.unwrap_err();
            assert_eq!(error.variable, *variable, "{vars:?}");
        }
    }
}
