//! Passkeys against a real PostgreSQL, through the `App` methods the endpoints call, with a
//! software authenticator (webauthn-authenticator-rs's `SoftPasskey`): registration, the
//! usernameless sign-in at `aal2`, single-use ceremonies (across instances too), the signature
//! counter, removal and its notice.
//! (See `testkit::passkeys` for how the sign-in answers as a discoverable credential would.)

use auth::domain::{Aal, CeremonyId, ClientInfo, PasskeyName};
use auth::emails::PASSKEY_REMOVED_SUBJECT;
use auth::service::{PasskeyCeremony, SignedIn};
use auth::store::{self, PasskeySummary};
use auth::{ApiError, App};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use uuid::Uuid;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::helpers::{TestApp, jwt_part};

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some("203.0.113.7".parse().unwrap()),
        user_agent: Some("passkey-test/1.0".into()),
    }
}

fn ceremony_id(started: &PasskeyCeremony) -> CeremonyId {
    CeremonyId::parse(&started.ceremony_id.to_string()).unwrap()
}

/// A signed-in account with a software authenticator of its own.
struct Owner {
    id: Uuid,
    email: String,
    token: SecretString,
    key: SoftPasskey,
}

/// Signs up and signs in with `email` (address confirmed), with a new authenticator.
async fn owner(app: &TestApp, email: &str) -> Owner {
    let signed_in = app.signed_in_user(email).await;
    let token = signed_in.str("access_token");
    Owner {
        id: signed_in.body["user"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
        email: email.to_owned(),
        token: token.into(),
        // true: the soft key claims user verification, which passkeys require.
        key: SoftPasskey::new(true),
    }
}

/// The browser's side of a registration: the authenticator answers the options.
pub(crate) fn attest(key: &mut SoftPasskey, started: &PasskeyCeremony) -> Value {
    testkit::passkeys::attest(key, &started.options)
}

/// Registers a passkey on `owner`'s authenticator under `name`.
async fn register(app: &App, owner: &mut Owner, name: &str) -> PasskeySummary {
    let started = app.passkey_register_start(&owner.token).await.unwrap();
    let credential = attest(&mut owner.key, &started);
    app.passkey_register_finish(
        &owner.token,
        ceremony_id(&started),
        credential,
        PasskeyName::parse(Some(name)).unwrap(),
        &client(),
    )
    .await
    .unwrap()
}

/// The credential id of a stored passkey.
pub(crate) async fn credential_id(app: &TestApp, passkey: Uuid) -> Vec<u8> {
    app.db
        .query_one(
            "SELECT credential_id FROM passkeys WHERE id = $1",
            &[&passkey],
        )
        .await
        .unwrap()
        .get(0)
}

/// The browser's side of a sign-in with the passkey `credential` of the account `user`.
pub(crate) fn assert_with(
    key: &mut SoftPasskey,
    started: &PasskeyCeremony,
    credential: &[u8],
    user: Uuid,
) -> Value {
    testkit::passkeys::assert_with(key, &started.options, credential, user)
}

/// A sign-in started on `app`, answered by `owner`'s authenticator with `passkey`.
async fn signin_assertion(
    app: &App,
    owner: &mut Owner,
    passkey: Uuid,
    test: &TestApp,
) -> (CeremonyId, Value) {
    let started = app.passkey_signin_start(&client()).await.unwrap();
    let credential = credential_id(test, passkey).await;
    let assertion = assert_with(&mut owner.key, &started, &credential, owner.id);
    (ceremony_id(&started), assertion)
}

#[track_caller]
fn assert_invalid_passkey<T: std::fmt::Debug>(result: Result<T, ApiError>, why: &str) {
    let error = result.expect_err(why);
    assert_eq!(
        (error.status(), error.code()),
        (400, "invalid_passkey"),
        "{why}: {error:?}"
    );
}

#[tokio::test]
async fn a_registered_passkey_signs_in_at_aal2_without_a_second_step() {
    let test = TestApp::spawn().await;
    let app = &test.app;
    let mut jane = owner(&test, "jane@example.com").await;

    let started = app.passkey_register_start(&jane.token).await.unwrap();
    let public_key = &started.options["publicKey"];
    assert_eq!(public_key["rp"]["id"], "localhost");
    assert_eq!(public_key["rp"]["name"], "JWT Auth API");
    assert_eq!(
        public_key["authenticatorSelection"]["residentKey"], "required",
        "a discoverable credential, for the usernameless sign-in"
    );
    let credential = attest(&mut jane.key, &started);
    let added = app
        .passkey_register_finish(
            &jane.token,
            ceremony_id(&started),
            credential,
            PasskeyName::parse(Some(" Laptop ")).unwrap(),
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(added.name, "Laptop");
    assert_eq!(added.last_used_at, None);

    let signin = app.passkey_signin_start(&client()).await.unwrap();
    assert!(
        signin.options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "no account is named: {}",
        signin.options
    );
    let credential = credential_id(&test, added.id).await;
    let assertion = assert_with(&mut jane.key, &signin, &credential, jane.id);
    let SignedIn {
        user,
        tokens,
        device_token,
    } = app
        .passkey_signin_finish(ceremony_id(&signin), assertion, &client())
        .await
        .unwrap();

    assert_eq!(user.id.as_uuid(), jane.id);
    assert!(!device_token.expose_secret().is_empty());
    let access = tokens.access.token.expose_secret().to_owned();
    let claims = jwt_part(&access, 1);
    assert_eq!(claims["aal"], "aal2");
    assert_eq!(claims["amr"], serde_json::json!(["webauthn"]));
    let (verified, _) = app.authenticate(&tokens.access.token).await.unwrap();
    assert_eq!(verified.aal, Aal::Aal2);
    let stored = test
        .db
        .query_one(
            "SELECT aal, amr FROM sessions WHERE id = $1",
            &[&verified.session_id],
        )
        .await
        .unwrap();
    assert_eq!(stored.get::<_, String>("aal"), "aal2");
    assert_eq!(stored.get::<_, Vec<String>>("amr"), ["webauthn"]);
    // A refresh keeps what the session was opened with.
    let refreshed = app.refresh(&tokens.refresh, &client()).await.unwrap();
    let claims = jwt_part(refreshed.access.token.expose_secret(), 1);
    assert_eq!(
        (claims["aal"].clone(), claims["amr"].clone()),
        (serde_json::json!("aal2"), serde_json::json!(["webauthn"]))
    );
    assert_eq!(
        test.count(
            "SELECT count(*) FROM auth_events WHERE kind = 'signin_succeeded'
               AND session_id IN (SELECT id FROM sessions WHERE amr = ARRAY['webauthn'])"
        )
        .await,
        1,
        "the sign-in is audited"
    );
    assert_eq!(
        test.count("SELECT count(*) FROM auth_events WHERE kind = 'passkey_added'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_list_shows_each_passkey_with_its_times() {
    let test = TestApp::spawn().await;
    let app = &test.app;
    let mut jane = owner(&test, "jane@example.com").await;
    let phone = register(app, &mut jane, "Phone").await;
    let mut second_key = owner_again(&jane);
    let laptop = register(app, &mut second_key, "").await;

    let (ceremony, assertion) = signin_assertion(app, &mut jane, phone.id, &test).await;
    app.passkey_signin_finish(ceremony, assertion, &client())
        .await
        .unwrap();
    let listed = app.passkeys(&jane.token).await.unwrap();

    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!((listed[0].id, listed[0].name.as_str()), (phone.id, "Phone"));
    assert_eq!(
        (listed[1].id, listed[1].name.as_str()),
        (laptop.id, "Passkey"),
        "an empty name is the default"
    );
    let rfc3339 =
        |text: &str| text.len() == 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T';
    assert!(listed.iter().all(|p| rfc3339(&p.created_at)), "{listed:?}");
    assert!(
        rfc3339(listed[0].last_used_at.as_deref().unwrap()),
        "{listed:?}"
    );
    assert_eq!(listed[1].last_used_at, None);
    let json = serde_json::to_value(&listed[1]).unwrap();
    let keys = crate::helpers::sorted_keys(&json);
    assert_eq!(keys, ["created_at", "id", "last_used_at", "name"]);
    let db = app.pool.get().await.unwrap();
    let user = auth::domain::UserId::from_uuid(jane.id);
    assert_eq!(store::passkey_count(&db, user).await.unwrap(), 2);
}

/// The same account and token, for a second authenticator.
fn owner_again(owner: &Owner) -> Owner {
    Owner {
        id: owner.id,
        email: owner.email.clone(),
        token: owner.token.clone(),
        key: SoftPasskey::new(true),
    }
}

#[tokio::test]
async fn a_ceremony_is_used_once() {
    let test = TestApp::spawn().await;
    let app = &test.app;
    let mut jane = owner(&test, "jane@example.com").await;
    let started = app.passkey_register_start(&jane.token).await.unwrap();
    let credential = attest(&mut jane.key, &started);
    let name = PasskeyName::parse(None).unwrap();
    let added = app
        .passkey_register_finish(
            &jane.token,
            ceremony_id(&started),
            credential.clone(),
            name.clone(),
            &client(),
        )
        .await
        .unwrap();

    assert_invalid_passkey(
        app.passkey_register_finish(
            &jane.token,
            ceremony_id(&started),
            credential,
            name,
            &client(),
        )
        .await,
        "a registration finished twice",
    );

    let (ceremony, assertion) = signin_assertion(app, &mut jane, added.id, &test).await;
    app.passkey_signin_finish(ceremony, assertion.clone(), &client())
        .await
        .unwrap();
    assert_invalid_passkey(
        app.passkey_signin_finish(ceremony, assertion, &client())
            .await,
        "a sign-in replayed",
    );
}

#[tokio::test]
async fn an_expired_ceremony_is_refused() {
    let test = TestApp::spawn().await;
    let app = &test.app;
    let mut jane = owner(&test, "jane@example.com").await;
    let passkey = register(app, &mut jane, "Phone").await;
    let started = app.passkey_register_start(&jane.token).await.unwrap();
    let credential = attest(&mut jane.key, &started);
    let (ceremony, assertion) = signin_assertion(app, &mut jane, passkey.id, &test).await;
    test.db
        .execute(
            "UPDATE webauthn_ceremonies SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();

    assert_invalid_passkey(
        app.passkey_register_finish(
            &jane.token,
            ceremony_id(&started),
            credential,
            PasskeyName::parse(None).unwrap(),
            &client(),
        )
        .await,
        "an expired registration",
    );
    assert_invalid_passkey(
        app.passkey_signin_finish(ceremony, assertion, &client())
            .await,
        "an expired sign-in",
    );
    // The janitor takes them away.
    auth::janitor::sweep(app).await.unwrap();
    assert_eq!(
        test.count("SELECT count(*) FROM webauthn_ceremonies").await,
        0
    );
}

#[tokio::test]
async fn a_ceremony_of_the_other_kind_or_another_user_is_refused_and_left_alone() {
    let test = TestApp::spawn().await;
    let app = &test.app;
    let mut jane = owner(&test, "jane@example.com").await;
    let john = owner(&test, "john@example.com").await;
    let passkey = register(app, &mut jane, "Phone").await;
    let started = app.passkey_register_start(&jane.token).await.unwrap();
    let credential = attest(&mut jane.key, &started);
    let (signin, assertion) = signin_assertion(app, &mut jane, passkey.id, &test).await;

    assert_invalid_passkey(
        app.passkey_signin_finish(ceremony_id(&started), assertion.clone(), &client())
            .await,
        "a registration ceremony finishing a sign-in",
    );
    assert_invalid_passkey(
        app.passkey_register_finish(
            &jane.token,
            signin,
            credential.clone(),
            PasskeyName::parse(None).unwrap(),
            &client(),
        )
        .await,
        "a sign-in ceremony finishing a registration",
    );
    assert_invalid_passkey(
        app.passkey_register_finish(
            &john.token,
            ceremony_id(&started),
            credential.clone(),
            PasskeyName::parse(None).unwrap(),
            &client(),
        )
        .await,
        "Jane's ceremony finished by John",
    );
    assert_invalid_passkey(
        app.passkey_signin_finish(CeremonyId::generate(), assertion.clone(), &client())
            .await,
        "an unknown ceremony",
    );
    assert_invalid_passkey(
        app.passkey_signin_finish(signin, serde_json::json!({"id": "x"}), &client())
            .await,
        "a credential that does not parse",
    );

    // None of the mismatches spent Jane's ceremonies.
    app.passkey_register_finish(
        &jane.token,
        ceremony_id(&started),
        credential,
        PasskeyName::parse(None).unwrap(),
        &client(),
    )
    .await
    .expect("Jane's registration still finishes");
    app.passkey_signin_finish(signin, assertion, &client())
        .await
        .expect("Jane's sign-in still finishes");
}

#[tokio::test]
async fn a_signature_counter_that_goes_backwards_is_refused() {
    let test = TestApp::spawn().await;
    let app = &test.app;
    let mut jane = owner(&test, "jane@example.com").await;
    let passkey = register(app, &mut jane, "Phone").await;
    let counter = async || -> i64 {
        test.db
            .query_one(
                "SELECT (passkey #>> '{cred,counter}')::bigint FROM passkeys WHERE id = $1",
                &[&passkey.id],
            )
            .await
            .unwrap()
            .get(0)
    };
    let backup_eligible: bool = test
        .db
        .query_one(
            "SELECT (passkey #>> '{cred,backup_eligible}')::boolean FROM passkeys WHERE id = $1",
            &[&passkey.id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!backup_eligible, "a device-bound credential");
    let registered = counter().await;
    let (ceremony, assertion) = signin_assertion(app, &mut jane, passkey.id, &test).await;
    app.passkey_signin_finish(ceremony, assertion, &client())
        .await
        .unwrap();
    let after_signin = counter().await;
    assert!(
        after_signin > registered,
        "the new counter is stored: {registered} then {after_signin}"
    );

    // As if a clone of the authenticator had signed in meanwhile with higher counts.
    test.db
        .execute(
            "UPDATE passkeys SET passkey = jsonb_set(passkey, '{cred,counter}', '1000')
             WHERE id = $1",
            &[&passkey.id],
        )
        .await
        .unwrap();
    let sessions = test.count("SELECT count(*) FROM sessions").await;
    let (ceremony, assertion) = signin_assertion(app, &mut jane, passkey.id, &test).await;

    assert_invalid_passkey(
        app.passkey_signin_finish(ceremony, assertion, &client())
            .await,
        "a counter below the stored one",
    );
    assert_eq!(counter().await, 1000, "nothing stored");
    assert_eq!(
        test.count("SELECT count(*) FROM sessions").await,
        sessions,
        "no session opened"
    );
}

#[tokio::test]
async fn the_stored_counter_only_moves_forward() {
    let test = TestApp::spawn().await;
    let app = &test.app;
    let mut jane = owner(&test, "jane@example.com").await;
    let passkey = register(app, &mut jane, "Phone").await;
    test.db
        .execute(
            "UPDATE passkeys SET passkey = jsonb_set(passkey, '{cred,counter}', '50')",
            &[],
        )
        .await
        .unwrap();

    // The rule itself (V14), as a sign-in's statement runs it: the passkey stored again.
    let mut answers = Vec::new();
    for counter in [50_i64, 49, 51, 0] {
        let stored: bool = test
            .db
            .query_one(
                "SELECT record_passkey_use(id, passkey, $2) FROM passkeys WHERE id = $1",
                &[&passkey.id, &counter],
            )
            .await
            .unwrap()
            .get(0);
        answers.push(stored);
    }
    assert_eq!(answers, [false, false, true, true]);
}

#[tokio::test]
async fn removing_a_passkey_tells_the_owner_and_it_signs_in_no_more() {
    let test = TestApp::spawn().await;
    let app = &test.app;
    let mut jane = owner(&test, "jane@example.com").await;
    let john = owner(&test, "john@example.com").await;
    let passkey = register(app, &mut jane, "Work laptop").await;
    let credential = credential_id(&test, passkey.id).await;

    let error = app
        .delete_passkey(&john.token, passkey.id, &client())
        .await
        .unwrap_err();
    assert_eq!((error.status(), error.code()), (404, "passkey_not_found"));
    let error = app
        .delete_passkey(&jane.token, Uuid::new_v4(), &client())
        .await
        .unwrap_err();
    assert_eq!(error.code(), "passkey_not_found", "an unknown id");
    app.delete_passkey(&jane.token, passkey.id, &client())
        .await
        .expect("the last passkey may go: the password still signs in");

    assert!(app.passkeys(&jane.token).await.unwrap().is_empty());
    let notice = test
        .db
        .query_one(
            "SELECT subject, body_text FROM email_outbox WHERE recipient = $1
             ORDER BY id DESC LIMIT 1",
            &[&jane.email],
        )
        .await
        .unwrap();
    assert_eq!(notice.get::<_, String>("subject"), PASSKEY_REMOVED_SUBJECT);
    let body: String = notice.get("body_text");
    assert!(body.contains("\"Work laptop\""), "{body}");
    assert!(body.contains(" UTC"), "it says when: {body}");
    assert_eq!(
        test.count(
            "SELECT count(*) FROM email_outbox WHERE recipient = 'john@example.com'
                    AND subject = 'A passkey was removed from your account'"
        )
        .await,
        0
    );
    assert_eq!(
        test.count("SELECT count(*) FROM auth_events WHERE kind = 'passkey_removed'")
            .await,
        1
    );
    let started = app.passkey_signin_start(&client()).await.unwrap();
    let assertion = assert_with(&mut jane.key, &started, &credential, jane.id);
    assert_invalid_passkey(
        app.passkey_signin_finish(ceremony_id(&started), assertion, &client())
            .await,
        "a removed passkey",
    );
}

#[tokio::test]
async fn an_assertion_naming_another_account_is_refused() {
    let test = TestApp::spawn().await;
    let app = &test.app;
    let mut jane = owner(&test, "jane@example.com").await;
    let john = owner(&test, "john@example.com").await;
    let passkey = register(app, &mut jane, "Phone").await;
    let credential = credential_id(&test, passkey.id).await;

    let started = app.passkey_signin_start(&client()).await.unwrap();
    let assertion = assert_with(&mut jane.key, &started, &credential, john.id);

    assert_invalid_passkey(
        app.passkey_signin_finish(ceremony_id(&started), assertion, &client())
            .await,
        "Jane's credential with John's user handle",
    );
}

#[tokio::test]
async fn an_unconfirmed_address_is_refused_once_the_passkey_is_proven() {
    let test = TestApp::spawn().await;
    let app = &test.app;
    let mut jane = owner(&test, "jane@example.com").await;
    let passkey = register(app, &mut jane, "Phone").await;
    test.db
        .execute("UPDATE users SET email_verified_at = NULL", &[])
        .await
        .unwrap();

    let (ceremony, assertion) = signin_assertion(app, &mut jane, passkey.id, &test).await;
    let error = app
        .passkey_signin_finish(ceremony, assertion, &client())
        .await
        .unwrap_err();

    assert_eq!((error.status(), error.code()), (403, "email_not_verified"));
    assert_eq!(
        test.count("SELECT count(*) FROM auth_events WHERE kind = 'signin_unverified'")
            .await,
        1
    );
    // A wrong passkey gets the usual answer, which says nothing about the address.
    let (ceremony, _) = signin_assertion(app, &mut jane, passkey.id, &test).await;
    assert_invalid_passkey(
        app.passkey_signin_finish(ceremony, serde_json::json!({}), &client())
            .await,
        "an unproven sign-in of an unconfirmed account",
    );
}

#[tokio::test]
async fn an_authenticator_is_not_registered_twice_and_accounts_are_bounded() {
    let test = TestApp::spawn().await;
    let app = &test.app;
    let mut jane = owner(&test, "jane@example.com").await;
    let first = register(app, &mut jane, "Phone").await;

    let started = app.passkey_register_start(&jane.token).await.unwrap();
    let excluded = started.options["publicKey"]["excludeCredentials"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(excluded.len(), 1, "{}", started.options);

    // At the limit, a start is refused; one registered meanwhile is refused at the finish.
    for n in 1..auth::service::MAX_PASSKEYS {
        let mut another = owner_again(&jane);
        register(app, &mut another, &format!("Key {n}")).await;
    }
    let error = app.passkey_register_start(&jane.token).await.unwrap_err();
    assert_eq!((error.status(), error.code()), (409, "too_many_passkeys"));
    test.db
        .execute("DELETE FROM passkeys WHERE id = $1", &[&first.id])
        .await
        .unwrap();
    let mut late = owner_again(&jane);
    let started = app.passkey_register_start(&jane.token).await.unwrap();
    let credential = attest(&mut late.key, &started);
    register(app, &mut owner_again(&jane), "The twentieth").await;
    let error = app
        .passkey_register_finish(
            &jane.token,
            ceremony_id(&started),
            credential,
            PasskeyName::parse(None).unwrap(),
            &client(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "too_many_passkeys");
}

#[tokio::test]
async fn starting_sign_ins_is_budgeted_per_client() {
    let test = TestApp::spawn_with(&[("RATE_LIMIT_PASSKEY_SIGNIN", "2")]).await;
    let app = &test.app;

    for _ in 0..2 {
        app.passkey_signin_start(&client()).await.unwrap();
    }
    let error = app.passkey_signin_start(&client()).await.unwrap_err();
    let other = ClientInfo {
        ip: Some("198.51.100.1".parse().unwrap()),
        user_agent: None,
    };

    assert_eq!((error.status(), error.code()), (429, "rate_limited"));
    app.passkey_signin_start(&other).await.unwrap();
    assert_eq!(
        test.count("SELECT count(*) FROM webauthn_ceremonies").await,
        3,
        "the refused start kept nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_finishes_of_one_ceremony_exactly_one_succeeds() {
    let test = TestApp::spawn().await;
    let second = test.second_instance().await;
    let mut jane = owner(&test, "jane@example.com").await;
    let passkey = register(&test.app, &mut jane, "Phone").await;

    for round in 0..5 {
        let (ceremony, assertion) = signin_assertion(&test.app, &mut jane, passkey.id, &test).await;
        let info = client();
        let (a, b) = tokio::join!(
            test.app
                .passkey_signin_finish(ceremony, assertion.clone(), &info),
            second.app.passkey_signin_finish(ceremony, assertion, &info),
        );
        let outcomes = [a.is_ok(), b.is_ok()];
        assert_eq!(
            outcomes.iter().filter(|ok| **ok).count(),
            1,
            "round {round}: {outcomes:?}"
        );
        for result in [a, b] {
            if let Err(error) = result {
                assert_eq!(error.code(), "invalid_passkey", "round {round}");
            }
        }
    }

    // Registration too.
    let started = test.app.passkey_register_start(&jane.token).await.unwrap();
    let mut other = owner_again(&jane);
    let credential = attest(&mut other.key, &started);
    let name = PasskeyName::parse(None).unwrap();
    let info = client();
    let (a, b) = tokio::join!(
        test.app.passkey_register_finish(
            &jane.token,
            ceremony_id(&started),
            credential.clone(),
            name.clone(),
            &info
        ),
        second.app.passkey_register_finish(
            &jane.token,
            ceremony_id(&started),
            credential,
            name,
            &info
        ),
    );
    assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1);
    assert_eq!(test.count("SELECT count(*) FROM passkeys").await, 2);
}

#[tokio::test]
async fn the_last_way_into_an_account_without_a_password_is_not_removed() {
    let test = TestApp::spawn().await;
    let app = &test.app;
    let mut jane = owner(&test, "jane@example.com").await;
    let first = register(app, &mut jane, "Laptop").await;
    let second = register(app, &mut jane, "Phone").await;
    // As an account made through an OpenID provider and unlinked from it has it.
    test.db
        .execute(
            "UPDATE users SET password_hash = NULL WHERE id = $1",
            &[&jane.id],
        )
        .await
        .unwrap();

    app.delete_passkey(&jane.token, first.id, &client())
        .await
        .unwrap();
    let last = app
        .delete_passkey(&jane.token, second.id, &client())
        .await
        .unwrap_err();

    assert_eq!((last.status(), last.code()), (409, "last_sign_in_method"));
    assert_eq!(
        test.count("SELECT count(*) FROM passkeys").await,
        1,
        "the last one stays"
    );
    // With a password again, it may go.
    test.db
        .execute(
            "UPDATE users SET password_hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA' WHERE id = $1",
            &[&jane.id],
        )
        .await
        .unwrap();
    app.delete_passkey(&jane.token, second.id, &client())
        .await
        .unwrap();
}
