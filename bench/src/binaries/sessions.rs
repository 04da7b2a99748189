//! The sessions that sign-ins stock for the functions that read or end one: tokens and id.

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::events::Answer;

/// A signed-in session: its tokens and its id.
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub id: String,
}

impl Session {
    /// The session a sign-in's answer (its JSON body) carries.
    pub fn from_signin(body: &Value) -> anyhow::Result<Session> {
        let token = |field: &str| {
            body[field]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("no {field} in the sign-in's answer"))
        };
        let access = token("access_token")?;
        Ok(Session {
            id: session_id(&access)?,
            refresh: token("refresh_token")?,
            access,
        })
    }
}

/// Sessions made by sign-ins, handed out one at a time.
#[derive(Default)]
pub struct Sessions(Vec<Session>);

impl Sessions {
    /// Keeps the session a sign-in's answer carries.
    pub fn add(&mut self, signin: &Answer) -> anyhow::Result<()> {
        self.0.push(Session::from_signin(&signin.json()?)?);
        Ok(())
    }

    /// The newest session, gone from the stock.
    pub fn take(&mut self) -> anyhow::Result<Session> {
        self.0.pop().context("ran out of signed-in sessions")
    }
}

/// The `sid` claim of an access token: the session it belongs to (read, not verified: the
/// function that made it is the one under measurement, not this).
fn session_id(access_token: &str) -> anyhow::Result<String> {
    let claims = access_token
        .split('.')
        .nth(1)
        .context("an access token that is no JWT")?;
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(claims.trim_end_matches('='))
            .context("claims that are no base64url")?,
    )
    .context("claims that are no JSON")?;
    claims["sid"]
        .as_str()
        .map(str::to_owned)
        .context("no sid in the access token")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(body: Value) -> Answer {
        Answer {
            status: Some(200),
            body: body.to_string(),
        }
    }

    fn access_token(claims: &Value) -> String {
        format!(
            "eyJhbGciOiJFZERTQSJ9.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn the_session_id_is_read_from_the_access_tokens_claims() {
        let token = access_token(&json!({"sub": "u1", "sid": "0b7e", "exp": 1}));
        assert_eq!(session_id(&token).unwrap(), "0b7e");
        assert!(session_id("not a token").is_err(), "no claims");
        assert!(
            session_id(&access_token(&json!({"sub": "u1"}))).is_err(),
            "no sid"
        );
    }

    #[test]
    fn sessions_come_from_sign_ins_and_run_out() {
        let mut sessions = Sessions::default();
        let signin = answer(json!({
            "access_token": access_token(&json!({"sid": "s1"})),
            "refresh_token": "r1",
        }));
        sessions.add(&signin).unwrap();
        let session = sessions.take().unwrap();
        assert_eq!(
            (session.id.as_str(), session.refresh.as_str()),
            ("s1", "r1")
        );
        assert!(sessions.take().is_err(), "one sign-in, one session");
        assert!(
            sessions
                .add(&answer(json!({"refresh_token": "r"})))
                .is_err(),
            "a sign-in without an access token"
        );
    }
}
