//! Lambda function for `POST /api/oauth/{provider}/callback` (a provider's form post): wiring
//! only: its route, made when it is compiled, names its handler.
#![forbid(unsafe_code)]

fn main() -> Result<(), auth::lambda::Error> {
    auth::lambda::run(const { auth::Endpoint::OauthCallbackForm.route() })
}
