//! Lambda function for `POST /api/signin`: wiring only, the handler is `auth::handlers::signin`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run};

fn main() -> Result<(), Error> {
    run(Endpoint::Signin, auth::handlers::signin)
}
