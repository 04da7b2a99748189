//! Lambda function for `POST /api/signup`: wiring only, the handler is `auth::handlers::signup`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run};

fn main() -> Result<(), Error> {
    run(Endpoint::Signup, auth::handlers::signup)
}
