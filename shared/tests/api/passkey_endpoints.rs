//! Passkeys through the six endpoints, as the account and sign-in pages use them: register with a
//! software authenticator, list, sign in at `aal2`, remove (and 404 for what is not the caller's),
//! and the bodies a client can get wrong. The ceremonies' own rules are tested on the `App`
//! methods (`passkeys.rs`), whose browser-side helpers these tests share.

use std::collections::HashMap;

use auth::Endpoint;
use auth::service::PasskeyCeremony;
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, RequestExt};
use serde_json::{Value, json};
use uuid::Uuid;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::helpers::{TestApp, TestResponse, endpoint_request, jwt_part};
use crate::passkeys::{assert_with, attest, credential_id};

const JANE: &str = "jane@example.com";
const JOHN: &str = "john@example.com";

/// `DELETE /api/passkeys/{id}`.
async fn delete(app: &TestApp, token: &str, id: &str) -> TestResponse {
    let request = endpoint_request(
        Endpoint::DeletePasskey,
        &format!("/api/passkeys/{id}"),
        Some(token),
        None,
    )
    .with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())]));
    app.call(Endpoint::DeletePasskey, request).await
}

/// A started ceremony's body, checked for its shape, as the helpers take it.
#[track_caller]
fn ceremony(started: &TestResponse) -> PasskeyCeremony {
    started.assert_status(StatusCode::OK);
    assert_eq!(started.sorted_keys(), ["ceremony_id", "options"]);
    assert!(
        started.body["options"]["publicKey"].is_object(),
        "options for the browser: {}",
        started.body
    );
    PasskeyCeremony {
        ceremony_id: started.str("ceremony_id").parse().unwrap(),
        options: started.body["options"].clone(),
    }
}

/// Registers a passkey named `name` on `key` for the bearer of `token`, through the endpoints;
/// the 201 body's `passkey`.
async fn register(app: &TestApp, token: &str, key: &mut SoftPasskey, name: &str) -> Value {
    // No body: the account page sends none.
    let started = app
        .call_endpoint(Endpoint::PasskeyRegisterStart, Some(token), Value::Null)
        .await;
    let started = ceremony(&started);
    let finished = app
        .call_endpoint(
            Endpoint::PasskeyRegisterFinish,
            Some(token),
            json!({
                "ceremony_id": started.ceremony_id,
                "credential": attest(key, &started),
                "name": name,
            }),
        )
        .await;
    finished.assert_status(StatusCode::CREATED);
    assert_eq!(finished.sorted_keys(), ["passkey"]);
    finished.body["passkey"].clone()
}

/// The user id in a sign-in body.
fn user_id(signed_in: &TestResponse) -> Uuid {
    signed_in.body["user"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_passkey_registered_through_the_endpoints_signs_in_at_aal2() {
    let app = TestApp::spawn().await;
    let password_signin = app.signed_in_user(JANE).await;
    let token = password_signin.str("access_token");
    let jane = user_id(&password_signin);
    let mut key = SoftPasskey::new(true);

    let added = register(&app, &token, &mut key, " Laptop ").await;
    let mut fields: Vec<&str> = added
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["created_at", "id", "name"], "{added}");
    assert_eq!(added["name"], "Laptop");
    let passkey: Uuid = added["id"].as_str().unwrap().parse().unwrap();

    let listed = app
        .call_endpoint(Endpoint::Passkeys, Some(&token), Value::Null)
        .await;
    listed.assert_status(StatusCode::OK);
    assert_eq!(listed.sorted_keys(), ["passkeys"]);
    assert_eq!(
        listed.body["passkeys"],
        json!([{"id": added["id"], "name": "Laptop", "created_at": added["created_at"],
                "last_used_at": null}])
    );

    // The sign-in page sends `{}` to start: no account is named.
    let started = app
        .call_endpoint(Endpoint::PasskeySigninStart, None, json!({}))
        .await;
    let started = ceremony(&started);
    let credential = credential_id(&app, passkey).await;
    let assertion = assert_with(&mut key, &started, &credential, jane);
    let signed_in = app
        .call_endpoint(
            Endpoint::PasskeySigninFinish,
            None,
            json!({"ceremony_id": started.ceremony_id, "credential": assertion}),
        )
        .await;

    signed_in.assert_status(StatusCode::OK);
    assert_eq!(
        signed_in.sorted_keys(),
        password_signin.sorted_keys(),
        "the body of a password sign-in: {}",
        signed_in.body
    );
    assert_eq!(signed_in.body["message"], "Sign-in successful");
    assert_eq!(user_id(&signed_in), jane);
    let claims = jwt_part(&signed_in.str("access_token"), 1);
    assert_eq!(claims["aal"], "aal2");
    assert_eq!(claims["amr"], json!(["webauthn"]));
    let dashboard = app.dashboard(&signed_in.str("access_token")).await;
    dashboard.assert_status(StatusCode::OK);
    let listed = app
        .call_endpoint(Endpoint::Passkeys, Some(&token), Value::Null)
        .await;
    assert!(
        listed.body["passkeys"][0]["last_used_at"].is_string(),
        "the sign-in is its last use: {}",
        listed.body
    );
}

#[tokio::test]
async fn a_passkey_is_removed_by_its_owner_only() {
    let app = TestApp::spawn().await;
    let jane = app.signed_in_access_token(JANE).await;
    let john = app.signed_in_access_token(JOHN).await;
    let added = register(&app, &jane, &mut SoftPasskey::new(true), "Phone").await;
    let id = added["id"].as_str().unwrap();

    let cases = [
        (john.as_str(), id.to_owned(), "another account's passkey"),
        (jane.as_str(), Uuid::new_v4().to_string(), "an unknown id"),
        (
            jane.as_str(),
            "not-a-uuid".to_owned(),
            "an id that is no UUID",
        ),
        (jane.as_str(), String::new(), "an empty id"),
    ];
    for (token, id, why) in cases {
        delete(&app, token, &id)
            .await
            .assert_error_because(404, "passkey_not_found", why);
    }

    let removed = delete(&app, &jane, id).await;
    removed.assert_status(StatusCode::OK);
    assert_eq!(removed.body, json!({"message": "Passkey removed"}));
    let listed = app
        .call_endpoint(Endpoint::Passkeys, Some(&jane), Value::Null)
        .await;
    assert_eq!(listed.body, json!({"passkeys": []}));
    delete(&app, &jane, id)
        .await
        .assert_error_because(404, "passkey_not_found", "removed already");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM email_outbox WHERE recipient = 'jane@example.com'
                AND subject = 'A passkey was removed from your account'"
        )
        .await,
        1,
        "the owner is told, once"
    );
}

#[tokio::test]
async fn credentials_that_prove_nothing_are_invalid_passkey() {
    let app = TestApp::spawn().await;
    let token = app.signed_in_access_token(JANE).await;
    let started = app
        .call_endpoint(Endpoint::PasskeyRegisterStart, Some(&token), Value::Null)
        .await;
    let started = ceremony(&started);
    let garbage = json!({"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}});

    let cases = [
        (
            Endpoint::PasskeyRegisterFinish,
            json!({"ceremony_id": started.ceremony_id, "credential": garbage}),
            "a registration with a garbage credential",
        ),
        (
            Endpoint::PasskeyRegisterFinish,
            json!({"ceremony_id": "not-a-uuid", "credential": garbage}),
            "a ceremony id that is no UUID",
        ),
        (
            Endpoint::PasskeyRegisterFinish,
            json!({"ceremony_id": Uuid::new_v4(), "credential": garbage}),
            "an unknown ceremony",
        ),
        (
            Endpoint::PasskeySigninFinish,
            json!({"ceremony_id": Uuid::new_v4(), "credential": garbage}),
            "a sign-in with a garbage credential",
        ),
        (
            Endpoint::PasskeySigninFinish,
            json!({"ceremony_id": "12345", "credential": {}}),
            "a sign-in with a ceremony id that is no UUID",
        ),
    ];
    for (endpoint, body, why) in cases {
        let token = (endpoint == Endpoint::PasskeyRegisterFinish).then_some(token.as_str());
        app.call_endpoint(endpoint, token, body)
            .await
            .assert_error_because(400, "invalid_passkey", why);
    }
    let listed = app
        .call_endpoint(Endpoint::Passkeys, Some(&token), Value::Null)
        .await;
    assert_eq!(
        listed.body,
        json!({"passkeys": []}),
        "nothing was registered"
    );
}

#[tokio::test]
async fn malformed_bodies_and_missing_tokens_are_refused_with_their_codes() {
    let app = TestApp::spawn().await;
    let token = app.signed_in_access_token(JANE).await;
    let id = Uuid::new_v4();
    let finishes = [
        Endpoint::PasskeyRegisterFinish,
        Endpoint::PasskeySigninFinish,
    ];
    let cases: [(Value, u16, &str, &str); 9] = [
        (
            json!({"credential": {}}),
            400,
            "missing_field",
            "no ceremony_id",
        ),
        (
            json!({"ceremony_id": id}),
            400,
            "missing_field",
            "no credential",
        ),
        (
            json!({"ceremony_id": id, "credential": null}),
            400,
            "missing_field",
            "a null credential",
        ),
        (
            json!({"ceremony_id": id, "credential": "{\"id\":\"AAAA\"}"}),
            400,
            "invalid_json",
            "a credential as a string",
        ),
        (
            json!({"ceremony_id": id, "credential": []}),
            400,
            "invalid_json",
            "a credential as an array",
        ),
        (
            json!({"ceremony_id": 7, "credential": {}}),
            400,
            "invalid_json",
            "a numeric ceremony_id",
        ),
        (
            json!({"ceremony_id": " ", "credential": {}}),
            400,
            "missing_field",
            "a blank ceremony_id",
        ),
        (json!([]), 400, "invalid_json", "an array body"),
        (json!("text"), 400, "invalid_json", "a string body"),
    ];
    for endpoint in finishes {
        let token = (endpoint == Endpoint::PasskeyRegisterFinish).then_some(token.as_str());
        for (body, status, code, why) in &cases {
            app.call_endpoint(endpoint, token, body.clone())
                .await
                .assert_error_because(*status, code, &format!("{endpoint:?}: {why}"));
        }
        let untyped = lambda_http::http::Request::builder()
            .method("POST")
            .uri(endpoint.path())
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", token.unwrap_or("x")),
            )
            .body(Body::from("{}"))
            .unwrap();
        app.call(endpoint, untyped).await.assert_error_because(
            415,
            "unsupported_media_type",
            &format!("{endpoint:?}: no JSON content type"),
        );
    }

    let names = [
        (json!(12), "invalid_json", "a numeric name"),
        (
            json!("x".repeat(65)),
            "invalid_name",
            "a name over 64 characters",
        ),
        (json!("a\nb"), "invalid_name", "a name with a line break"),
    ];
    for (name, code, why) in names {
        app.call_endpoint(
            Endpoint::PasskeyRegisterFinish,
            Some(&token),
            json!({"ceremony_id": id, "credential": {}, "name": name}),
        )
        .await
        .assert_error_because(400, code, why);
    }

    for endpoint in [
        Endpoint::PasskeyRegisterStart,
        Endpoint::PasskeyRegisterFinish,
        Endpoint::Passkeys,
    ] {
        app.call_endpoint(endpoint, None, json!({}))
            .await
            .assert_error_because(401, "missing_token", &format!("{endpoint:?}"));
        // A well-formed body: the token is checked by the service, after the body is read.
        let body = json!({"ceremony_id": id, "credential": {}});
        app.call_endpoint(endpoint, Some("not-a-token"), body)
            .await
            .assert_invalid_token(&format!("{endpoint:?}"));
    }
    let anonymous = lambda_http::http::Request::builder()
        .method("DELETE")
        .uri(format!("/api/passkeys/{id}"))
        .body(Body::Empty)
        .unwrap()
        .with_path_parameters(HashMap::from([("id".to_owned(), id.to_string())]));
    app.call(Endpoint::DeletePasskey, anonymous)
        .await
        .assert_error_because(401, "missing_token", "DeletePasskey");
    delete(&app, "not-a-token", &id.to_string())
        .await
        .assert_invalid_token("DeletePasskey");
}
