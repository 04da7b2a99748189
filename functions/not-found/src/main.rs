//! Lambda function for any path no other route matches: wiring only; `auth::routes::handle`
//! picks its handler.
#![forbid(unsafe_code)]

fn main() -> Result<(), auth::lambda::Error> {
    auth::lambda::run(auth::Endpoint::NotFound)
}
