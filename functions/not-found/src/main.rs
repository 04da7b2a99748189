//! Lambda function for any path no other route matches: wiring only, the handler is `auth::handlers::not_found`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run_stateless};

fn main() -> Result<(), Error> {
    run_stateless(Endpoint::NotFound, auth::handlers::not_found)
}
