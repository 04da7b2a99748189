//! Accounts and sessions made in this process for the functions that change an account (a
//! password changed, an account deleted): the library the functions share, on the stack's
//! database and configuration. The functions under measurement are the binaries; these are only
//! their inputs.

use anyhow::{Context, ensure};
use auth::config::{Config, Environment};
use auth::lambda::respond;
use auth::mail::Mailer;
use auth::{App, Endpoint};
use lambda_http::Body;
use serde_json::Value;
use testkit::requests::{from_client, json_request};
use tokio::runtime::Runtime;

use super::sessions::Session;
use crate::accounts;

/// The stack's configuration as a library `App`, on a runtime of its own.
pub struct Fixtures {
    runtime: Runtime,
    app: App,
}

impl Fixtures {
    /// From this process's environment, which the stack filled as it fills the functions'.
    pub fn from_env() -> anyhow::Result<Fixtures> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let config = runtime
            .block_on(Config::load(
                &Environment::from_process(),
                &auth::aws::Aws::from_environment(),
            ))
            .context("the stack's configuration")?;
        let app = App::new(config, Mailer::Log)?;
        Ok(Fixtures { runtime, app })
    }

    /// A new confirmed account, signed in once: its session.
    pub fn signed_in(&self) -> anyhow::Result<(String, Session)> {
        let email = accounts::new_email();
        self.call(Endpoint::Signup, accounts::signup_body(&email))?;
        accounts::confirm_in_database(&email)?;
        let body = self.call(Endpoint::Signin, accounts::signin_body(&email))?;
        Ok((email, Session::from_signin(&body)?))
    }

    /// A new account (unconfirmed, never signed in): its address.
    pub fn registered(&self) -> anyhow::Result<String> {
        let email = accounts::new_email();
        self.call(Endpoint::Signup, accounts::signup_body(&email))?;
        Ok(email)
    }

    /// The endpoint's handler, in process, with a JSON body; its JSON answer, which must be a
    /// success.
    fn call(&self, endpoint: Endpoint, body: Value) -> anyhow::Result<Value> {
        let request = from_client(
            json_request(endpoint.path(), &body),
            "127.0.0.1",
            "bench-fixtures",
        );
        let response = self
            .runtime
            .block_on(respond(endpoint.route(), Some(&self.app), request));
        let status = response.status();
        let body: Value = match response.into_body() {
            Body::Text(text) => serde_json::from_str(&text)?,
            other => anyhow::bail!("a JSON body was expected, got {other:?}"),
        };
        ensure!(
            status.is_success(),
            "{}: {status} {body}",
            endpoint.function()
        );
        Ok(body)
    }
}
