//! Shared library of the JWT auth API: every Lambda function under `functions/` is a thin `main`
//! over this crate.
//!
//! A request flows through the modules in this order:
//!
//! - [`lambda`]: runtime wiring; builds the state once per cold start and calls the handler.
//! - [`handlers`]: one function per endpoint; parses the request into [`domain`] types.
//! - [`service`]: the use cases on [`service::App`]: sign-up, sign-in, refresh, logout, reset.
//! - [`store`]: every SQL statement, as plain async functions over a client or transaction.
//!
//! Layers point down: a module imports only from layers below its own (a test in
//! `shared/tests/api/lints.rs` holds every `use crate::` line to this table):
//!
//! 1. [`domain`] (parsed request fields), [`error`] (the one `ApiError`), [`keys`] (signing keys
//!    parsed from their PEM), [`aws`] (secrets and SES clients), [`telemetry`] (structured logs);
//! 2. [`config`]: the environment, one settings type per concern;
//! 3. [`tokens`] (JWTs and opaque tokens), [`hashing`] (Argon2id), [`db`] (pool, migrations,
//!    driver errors);
//! 4. [`store`]: every SQL statement;
//! 5. [`mail`] (outbox delivery) and [`service`] (the use cases);
//! 6. [`http`] (JSON bodies, bearer tokens, error responses), [`reset_page`] (the HTML behind the
//!    emailed link) and [`handlers`];
//! 7. [`routes`] (every endpoint's method, path and handler: the one router), [`lambda`] (runtime
//!    wiring), [`janitor`] (scheduled clean-up), [`custom_resource`] (migrations on deploy) and
//!    [`signing_key`] (the signing key it generates).
#![forbid(unsafe_code)]

pub mod aws;
pub mod config;
pub mod custom_resource;
pub mod db;
pub mod domain;
pub mod error;
pub mod handlers;
pub mod hashing;
pub mod http;
pub mod janitor;
pub mod keys;
pub mod lambda;
pub mod mail;
pub mod reset_page;
pub mod routes;
pub mod service;
pub mod signing_key;
pub mod store;
pub mod telemetry;
pub mod tokens;

pub use error::ApiError;
pub use routes::Endpoint;
pub use service::App;
