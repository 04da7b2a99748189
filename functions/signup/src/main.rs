//! Lambda function for `POST /api/signup`: wiring only; `auth::routes::handle`
//! picks its handler.
#![forbid(unsafe_code)]

fn main() -> Result<(), auth::lambda::Error> {
    auth::lambda::run(auth::Endpoint::Signup)
}
