//! The accounts and sessions the load needs, made over HTTP as a client makes them: sign-ups, and
//! sign-ins whose tokens start the refresh chains.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use auth::Endpoint;
use serde_json::Value;

use crate::accounts;

/// A client of the stack at `http://127.0.0.1:PORT`.
pub struct Client {
    agent: ureq::Agent,
    base_url: String,
}

/// The tokens of one sign-in.
pub struct SignedIn {
    pub access_token: String,
    pub refresh_token: String,
}

impl Client {
    pub fn new(base_url: &str) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Generous for one Argon2 hash on a busy machine: a minute means something hangs.
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Client {
            agent,
            base_url: base_url.to_owned(),
        }
    }

    /// Signs a new account up at `email`, its address confirmed.
    pub fn sign_up(&self, email: &str) -> anyhow::Result<()> {
        self.send(Endpoint::Signup, None, Some(&accounts::signup_body(email)))?;
        accounts::confirm_in_database(email)
    }

    /// `GET /api/dashboard` with `access_token`.
    pub fn dashboard(&self, access_token: &str) -> anyhow::Result<()> {
        self.send(Endpoint::Dashboard, Some(access_token), None)?;
        Ok(())
    }

    /// `POST /api/refresh` with `refresh_token`, which it spends.
    pub fn refresh(&self, refresh_token: &str) -> anyhow::Result<()> {
        self.send(Endpoint::Refresh, Some(refresh_token), None)?;
        Ok(())
    }

    /// Signs `email` in (a new session).
    pub fn sign_in(&self, email: &str) -> anyhow::Result<SignedIn> {
        let body = self.send(Endpoint::Signin, None, Some(&accounts::signin_body(email)))?;
        let token = |field: &str| {
            body[field]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("POST /api/signin answered without {field}: {body}"))
        };
        Ok(SignedIn {
            access_token: token("access_token")?,
            refresh_token: token("refresh_token")?,
        })
    }

    /// Signs `count` new accounts up and writes their sign-in bodies to `file`, one a line: one
    /// account per connection, as parallel sign-ins of one account count as guesses in flight and
    /// trip its lockout, by design.
    pub fn accounts_file(&self, file: &Path, count: u32) -> anyhow::Result<()> {
        let mut lines = String::new();
        for _ in 0..count {
            let email = accounts::new_email();
            self.sign_up(&email)?;
            lines.push_str(&accounts::signin_body(&email).to_string());
            lines.push('\n');
        }
        write(file, &lines)
    }

    /// Signs `email` in `count` times and writes the refresh tokens to `file`, one a line: one
    /// chain per connection, as a refresh token is single-use (a second use after the grace
    /// period revokes its session).
    pub fn refresh_chains_file(&self, file: &Path, email: &str, count: u32) -> anyhow::Result<()> {
        let mut lines = String::new();
        for _ in 0..count {
            lines.push_str(&self.sign_in(email)?.refresh_token);
            lines.push('\n');
        }
        write(file, &lines)
    }

    /// A request to `endpoint` (its method and path, which has no parameters) with a bearer
    /// token and a JSON body when given; its JSON answer, unless the status is not a success.
    fn send(
        &self,
        endpoint: Endpoint,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let method = endpoint.method_name().unwrap_or("GET");
        let what = format!("{method} {}", endpoint.path());
        let mut request = lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base_url, endpoint.path()));
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let sent = match body {
            Some(body) => self.agent.run(
                request
                    .header("content-type", "application/json")
                    .body(body.to_string())?,
            ),
            None => self.agent.run(request.body(())?),
        };
        let mut response = sent.with_context(|| what.clone())?;
        let status = response.status();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if !status.is_success() {
            bail!("{what} answered {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("{what} answered no JSON: {text}"))
    }
}

fn write(file: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))
}
