//! `GET /.well-known/jwks.json` and asymmetric access tokens through the handlers: every token
//! names a key the JWKS publishes, each key type carries a whole session, and a key rotation logs
//! no one out while a dropped key's tokens stop working.

use auth::Endpoint;
use auth::keys::PrivateKey;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::http::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{
    ED25519_A, ED25519_A_PUBLIC, ED25519_B, P256, P256_PUBLIC, TEST_SECRET, TestApp, TestResponse,
    jwt_part, raw_request,
};

/// The variables that sign with `private` and also verify with the public keys `previous`, the
/// HS256 secret of the test apps unset.
fn signing_with<'a>(private: &'a str, previous: &'a str) -> [(&'static str, &'a str); 3] {
    [
        ("JWT_SECRET_KEY", ""),
        ("JWT_PRIVATE_KEY", private),
        ("JWT_PREVIOUS_PUBLIC_KEYS", previous),
    ]
}

/// A new app signing with `private`, also verifying with the public keys `previous`.
async fn spawn_signing_with(private: &str, previous: &[&str]) -> TestApp {
    TestApp::spawn_with(&signing_with(private, &previous.concat())).await
}

fn kid_of(private: &str) -> String {
    PrivateKey::from_pem(private)
        .unwrap()
        .public_key()
        .kid()
        .to_owned()
}

async fn get_jwks(app: &TestApp) -> TestResponse {
    app.call(
        Endpoint::Jwks,
        raw_request(Method::GET, "/.well-known/jwks.json", None, ""),
    )
    .await
}

/// Checks `token` as an outside verifier would: the key its `kid` names in `jwks`, that key's
/// `alg`, and the issuer and audience.
fn verify_with_jwks(token: &str, jwks: &Value) -> Value {
    let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk: &Jwk = set
        .find(header.kid.as_deref().expect("the token names its key"))
        .expect("the JWKS holds the token's key");
    let algorithm: Algorithm = jwk.common.key_algorithm.unwrap().try_into().unwrap();
    assert_eq!(header.alg, algorithm, "the token uses its key's algorithm");
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&["jwt-auth-api"]);
    validation.set_audience(&["jwt-auth-api"]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the published key verifies the token")
        .claims
}

#[tokio::test]
async fn the_jwks_serves_the_ring_public_keys_for_caching() {
    let app = spawn_signing_with(ED25519_B, &[ED25519_A_PUBLIC, P256_PUBLIC]).await;

    let response = get_jwks(&app).await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(
        response.headers[header::CACHE_CONTROL],
        "public, max-age=600"
    );
    assert_eq!(response.headers["x-content-type-options"], "nosniff");
    let keys = response.body["keys"].as_array().unwrap();
    let kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(
        kids,
        [kid_of(ED25519_B), kid_of(ED25519_A), kid_of(P256)],
        "the current key first"
    );
    for key in keys {
        assert_eq!(key["use"], "sig", "{key}");
        assert!(
            key.get("d").is_none(),
            "no private member may ever be served: {key}"
        );
    }
    assert_eq!(
        (&keys[0]["kty"], &keys[0]["crv"], &keys[0]["alg"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"))
    );
    assert_eq!(
        (&keys[2]["kty"], &keys[2]["crv"], &keys[2]["alg"]),
        (&json!("EC"), &json!("P-256"), &json!("ES256"))
    );
}

#[tokio::test]
async fn with_hs256_the_jwks_is_empty() {
    let app = TestApp::spawn().await;

    let response = get_jwks(&app).await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.body,
        json!({"keys": []}),
        "a shared secret is never published"
    );
    let token = app.signed_in_access_token("jane@example.com").await;
    let kid = jwt_part(&token, 0)["kid"].as_str().unwrap().to_owned();
    assert!(
        kid.starts_with("hs256-"),
        "HS256 tokens name their key too: {kid}"
    );
    assert!(!kid.contains(TEST_SECRET));
}

#[tokio::test]
async fn each_key_type_carries_a_whole_session_verifiable_with_the_jwks() {
    for (private, algorithm) in [(ED25519_A, "EdDSA"), (P256, "ES256")] {
        let app = spawn_signing_with(private, &[]).await;
        let jwks = get_jwks(&app).await.body;

        let signin = app.signed_in_user("jane@example.com").await;
        let access = signin.str("access_token");
        let dashboard = app.dashboard(&access).await;
        let refreshed = app.refresh(&signin.str("refresh_token")).await;
        let renewed = refreshed.str("access_token");
        let logout = app.logout(&renewed).await;

        let header = jwt_part(&access, 0);
        assert_eq!(header["alg"], algorithm);
        assert_eq!(header["kid"], kid_of(private).as_str(), "{algorithm}");
        assert_eq!(header["typ"], "at+jwt");
        let claims = verify_with_jwks(&access, &jwks);
        assert_eq!(claims["sub"], signin.body["user"]["id"], "{algorithm}");
        verify_with_jwks(&renewed, &jwks);
        assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
        assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
        assert_eq!(logout.status, StatusCode::OK, "{}", logout.body);
        app.dashboard(&renewed)
            .await
            .assert_invalid_token("logged out");
    }
}

#[tokio::test]
async fn a_key_rotation_logs_no_one_out_and_a_dropped_key_stops_verifying() {
    let before = spawn_signing_with(ED25519_A, &[]).await;
    let signin = before.signed_in_user("jane@example.com").await;
    let old_access = signin.str("access_token");

    // Redeployed with key B, A's public key kept for A's unexpired tokens.
    let rotated = before
        .redeployed(&signing_with(ED25519_B, ED25519_A_PUBLIC))
        .await;
    let dashboard = rotated.dashboard(&old_access).await;
    let refreshed = rotated.refresh(&signin.str("refresh_token")).await;
    // Later, A's tokens having all expired, A is dropped.
    let dropped = before.redeployed(&signing_with(ED25519_B, "")).await;
    let new_access = refreshed.str("access_token");

    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(
        jwt_part(&new_access, 0)["kid"],
        kid_of(ED25519_B).as_str(),
        "new tokens are signed with the new key"
    );
    let jwks = get_jwks(&rotated).await.body;
    verify_with_jwks(&old_access, &jwks);
    verify_with_jwks(&new_access, &jwks);
    dropped
        .dashboard(&old_access)
        .await
        .assert_invalid_token("a token of the dropped key");
    assert_eq!(dropped.dashboard(&new_access).await.status, StatusCode::OK);
    let logout = rotated.logout(&old_access).await;
    assert_eq!(logout.status, StatusCode::OK, "{}", logout.body);
}

#[tokio::test]
async fn tokens_naming_an_unknown_key_or_using_another_algorithm_are_invalid_token() {
    let app = spawn_signing_with(ED25519_A, &[]).await;
    let genuine = app.signed_in_access_token("jane@example.com").await;
    let claims = jwt_part(&genuine, 1);
    let forge = |algorithm: Algorithm, kid: Option<String>, key: &EncodingKey| {
        let header = Header {
            typ: Some("at+jwt".into()),
            kid,
            ..Header::new(algorithm)
        };
        jsonwebtoken::encode(&header, &claims, key).unwrap()
    };
    let key_of = |pem: &str| {
        let der = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect::<String>();
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, der).unwrap()
    };
    let our_kid = Some(kid_of(ED25519_A));
    let cases = [
        (
            forge(
                Algorithm::EdDSA,
                Some(kid_of(ED25519_B)),
                &EncodingKey::from_ed_der(&key_of(ED25519_B)),
            ),
            "signed by a key outside the ring, under its own kid",
        ),
        (
            forge(
                Algorithm::EdDSA,
                None,
                &EncodingKey::from_ed_der(&key_of(ED25519_A)),
            ),
            "signed by our key, no kid",
        ),
        (
            forge(
                Algorithm::ES256,
                our_kid.clone(),
                &EncodingKey::from_ec_der(&key_of(P256)),
            ),
            "ES256 under our EdDSA kid",
        ),
        (
            forge(
                Algorithm::HS256,
                our_kid.clone(),
                &EncodingKey::from_secret(ED25519_A_PUBLIC.as_bytes()),
            ),
            "HS256 keyed with our public key (algorithm confusion)",
        ),
        (
            forge(
                Algorithm::HS256,
                our_kid,
                &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
            ),
            "HS256 with a secret",
        ),
    ];
    assert_eq!(
        app.dashboard(&genuine).await.status,
        StatusCode::OK,
        "the claims themselves are fine"
    );
    for (token, why) in cases {
        app.dashboard(&token).await.assert_invalid_token(why);
    }
}
