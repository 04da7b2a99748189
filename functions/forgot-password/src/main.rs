//! Lambda function for `POST /api/forgot-password`: wiring only, the handler is `auth::handlers::forgot_password`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run};

fn main() -> Result<(), Error> {
    run(Endpoint::ForgotPassword, auth::handlers::forgot_password)
}
