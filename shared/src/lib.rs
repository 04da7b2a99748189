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
//! Layers point down: a module's code uses only modules of lower layers (the test
//! `shared/tests/api/layers.rs` holds every path into the crate to this table):
//!
//! 0. [`error`] (the one `ApiError`, a leaf), [`tls`] (whom TLS clients trust), [`telemetry`]
//!    (structured logs), [`pages`] (the HTML behind the emailed links);
//! 1. [`aws`] (secrets and SES clients), [`domain`] (parsed request fields), [`keys`] (signing
//!    keys parsed from their PEM);
//! 2. [`config`] (the environment, one settings type per concern), [`hashing`] (Argon2id),
//!    [`http`] (JSON bodies, bearer tokens, error responses), [`signing_key`] and
//!    [`custom_resource`] (the deploy's key and migrations);
//! 3. [`db`] (pool, migrations, driver errors as `ApiError`s), [`tokens`] (JWTs, opaque tokens);
//! 4. [`store`]: every SQL statement;
//! 5. [`mail`]: outbox delivery;
//! 6. [`service`]: the use cases;
//! 7. [`handlers`] (one per endpoint) and [`janitor`] (scheduled clean-up);
//! 8. [`routes`]: every endpoint's method, path and handler, the one router;
//! 9. [`lambda`]: the runtime wiring every function's `main` calls.
#![forbid(unsafe_code)]

pub mod aws;
pub mod config;
pub mod custom_resource;
pub mod db;
pub mod domain;
pub mod emails;
pub mod error;
pub mod handlers;
pub mod hashing;
pub mod http;
pub mod janitor;
pub mod keys;
pub mod lambda;
pub mod mail;
pub mod oidc;
pub mod pages;
pub mod routes;
pub mod service;
pub mod signing_key;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod tokens;

pub use error::ApiError;
pub use routes::Endpoint;
pub use service::App;
