//! Database tests: every endpoint's handler against a real PostgreSQL, one fresh database per test.
//!
//! Needs `TEST_DATABASE_URL` (a role allowed to create databases); `make test` starts a throwaway
//! cluster and sets it.

// `TestApp::spawn`'s future is deep (a runtime role, migrations, keys): its layout needs more
// than the default query depth.
#![recursion_limit = "256"]

mod helpers;

mod account;
mod admin;
mod audit;
mod authorizer;
mod aws;
mod custom_resource;
mod dashboard;
mod database_tls;
mod enumeration;
mod failures;
mod gateway;
mod hostile_input;
mod introspection;
mod janitor;
mod jwks;
mod layers;
mod lints;
mod local_stack;
mod lockout;
mod logout;
mod mfa;
mod mfa_journeys;
mod oidc;
mod oidc_endpoints;
mod openapi;
mod outage;
mod passkey_endpoints;
mod passkeys;
mod password_reset;
mod refresh;
mod rehash;
mod reset_page;
mod routing;
mod runtime_role;
mod sessions;
mod signin;
mod signup;
mod smtp;
mod template;
mod throttling;
mod verification;
mod workflows;
