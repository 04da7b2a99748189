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
//! Beside them: [`config`] (environment), [`error`] (the one `ApiError`), [`http`] (JSON bodies,
//! bearer tokens), [`reset_page`] (the HTML behind the emailed link), [`tokens`] (JWTs and opaque tokens), [`hashing`] (Argon2id), [`db`] (pool and
//! migrations), [`routes`] (the route table), [`telemetry`] (structured logs), [`aws`] (secrets and
//! SES clients), [`mail`] (outbox delivery), [`janitor`] (scheduled clean-up) and
//! [`custom_resource`] (migrations on deploy), with [`signing_key`] (the signing key it generates).
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
