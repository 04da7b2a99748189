//! Lambda function for `GET /.well-known/jwks.json`: wiring only, the handler is `auth::handlers::jwks`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run};

fn main() -> Result<(), Error> {
    run(Endpoint::Jwks, auth::handlers::jwks)
}
