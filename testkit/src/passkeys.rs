//! A browser's side of the passkey ceremonies, with a software authenticator
//! (webauthn-authenticator-rs's `SoftPasskey`), for the tests and the benchmark.
//!
//! `SoftPasskey` keeps no discoverable credentials: it signs only for a credential named in
//! `allowCredentials`, and sends no user handle. [`assert_with`] fills in both, as a browser's
//! discoverable credential would (the user handle is not signed; the server checks it against
//! the credential's account).

use serde_json::Value;
use url::Url;
use uuid::Uuid;
use webauthn_authenticator_rs::WebauthnAuthenticator;
pub use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{AllowCredentials, CreationChallengeResponse, RequestChallengeResponse};

/// The default `WEBAUTHN_ORIGIN`, where the test apps' pages are.
pub const ORIGIN: &str = "http://localhost:5001";

pub fn origin() -> Url {
    Url::parse(ORIGIN).expect("a URL")
}

/// The new credential `key` makes for a registration's `options` (as the start answered them).
pub fn attest(key: &mut SoftPasskey, options: &Value) -> Value {
    let options: CreationChallengeResponse =
        serde_json::from_value(options.clone()).expect("creation options");
    let credential = key
        .do_registration(origin(), options)
        .expect("the authenticator registers");
    serde_json::to_value(credential).expect("a credential as JSON")
}

/// The browser's side of a sign-in's `options` with the passkey `credential` of account `user`.
pub fn assert_with(key: &mut SoftPasskey, options: &Value, credential: &[u8], user: Uuid) -> Value {
    let mut options: RequestChallengeResponse =
        serde_json::from_value(options.clone()).expect("request options");
    options.public_key.allow_credentials = vec![AllowCredentials {
        type_: "public-key".into(),
        id: credential.to_vec(),
        transports: None,
    }];
    let mut assertion = key
        .do_authentication(origin(), options)
        .expect("the authenticator signs");
    assertion.response.user_handle = Some(user.as_bytes().to_vec());
    serde_json::to_value(assertion).expect("an assertion as JSON")
}
