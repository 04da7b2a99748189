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
    /// `WEBAUTHN_RP_ID` was left empty or unset in AWS, where its `localhost` default would
    /// register passkeys no browser there can use. Only the functions that run ceremonies refuse
    /// to start then (`build_app`): the others never get the variable.
    pub rp_id_unset_in_aws: bool,
}

impl WebauthnSettings {
    pub(super) fn load(env: &Environment) -> Result<Self, ConfigError> {
        let rp_id = env.text("WEBAUTHN_RP_ID").map(str::to_owned);
        let origin = env.text("WEBAUTHN_ORIGIN").map(str::to_owned);
        let rp_name = env.text_or("WEBAUTHN_RP_NAME", "JWT Auth API");

        let in_aws = env.reads_secrets_by_arn();
        if in_aws && rp_id.is_some() && origin.is_none() {
            // Else the localhost default would be refused below for not being under the RP id,
            // with an error that blames WEBAUTHN_RP_ID.
            return Err(ConfigError::new(
                "WEBAUTHN_ORIGIN",
                "is empty or unset while WEBAUTHN_RP_ID is set, in AWS: set it to the https \
                 origin the pages are served from (the PasskeyOrigin parameter)",
            ));
        }
        let rp_id_unset_in_aws = in_aws && rp_id.is_none();
        let rp_id = rp_id.unwrap_or_else(|| "localhost".to_owned());
        let origin = origin.unwrap_or_else(|| "http://localhost:5001".to_owned());

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
            rp_id_unset_in_aws,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DB, KEY, load};
    use super::WebauthnSettings;

    #[tokio::test]
    async fn the_defaults_serve_localhost_and_each_can_be_set() {
        let default = load(&[DB, KEY]).await.unwrap().webauthn;
        assert_eq!(default.rp_id, "localhost");
        assert_eq!(default.origin.as_str(), "http://localhost:5001/");
        assert_eq!(default.rp_name, "JWT Auth API");
        assert!(!default.rp_id_unset_in_aws, "no ARN: not in AWS");
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

    #[test]
    fn in_aws_an_unset_rp_id_is_flagged_and_an_unset_origin_refused() {
        // A secret named by ARN: the function runs in AWS. Only this concern's loader runs, so
        // nothing is fetched.
        let env = |pairs: &[(&str, &str)]| {
            let all: Vec<(&str, &str)> = [("DB_SECRET_ARN", "arn:aws:secretsmanager:x")]
                .into_iter()
                .chain(pairs.iter().copied())
                .collect();
            super::super::Environment::from_pairs(all)
        };
        let unset = WebauthnSettings::load(&env(&[])).unwrap();
        assert!(unset.rp_id_unset_in_aws, "the localhost default, in AWS");
        assert_eq!(unset.rp_id, "localhost");
        let blank = WebauthnSettings::load(&env(&[("WEBAUTHN_RP_ID", "")])).unwrap();
        assert!(blank.rp_id_unset_in_aws, "an empty parameter is unset");
        let set = WebauthnSettings::load(&env(&[
            ("WEBAUTHN_RP_ID", "example.com"),
            ("WEBAUTHN_ORIGIN", "https://auth.example.com"),
        ]))
        .unwrap();
        assert!(!set.rp_id_unset_in_aws);
        let error = WebauthnSettings::load(&env(&[("WEBAUTHN_RP_ID", "example.com")])).unwrap_err();
        assert_eq!(error.variable, "WEBAUTHN_ORIGIN", "{error}");
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
