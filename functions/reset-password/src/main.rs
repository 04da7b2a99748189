//! Lambda function for `POST /api/reset-password/{token}`: wiring only, the handler is `auth::handlers::reset_password`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run};

fn main() -> Result<(), Error> {
    run(Endpoint::ResetPassword, auth::handlers::reset_password)
}
