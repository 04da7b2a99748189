//! The one test harness, used by the `auth` crate's tests, the benchmark and `make test`:
//!
//! - [`database`]: the PostgreSQL server to test against, and scratch databases that drop
//!   themselves;
//! - [`config`]: a test [`auth::config::Config`] built by the real loader from variables;
//! - [`keys`]: the test signing keys (one file each, under `testkit/keys/`);
//! - [`requests`]: `lambda_http` requests as API Gateway delivers them;
//! - [`outbox`]: the token in an emailed link, read as a person reads their inbox.
#![forbid(unsafe_code)]

pub mod config;
pub mod database;
pub mod keys;
pub mod outbox;
pub mod requests;
