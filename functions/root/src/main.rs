//! Lambda function for `GET /`: wiring only, the handler is `auth::handlers::root`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run_stateless};

fn main() -> Result<(), Error> {
    run_stateless(Endpoint::Root, auth::handlers::root)
}
