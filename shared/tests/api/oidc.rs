//! Sign-in through OpenID Connect providers (issue 15, in progress): what holds so far.

use std::time::Duration;

use auth::domain::{CodeChallenge, ProviderName, RedirectTarget, UserId};
use auth::store;
use auth::tokens::OpaqueToken;
use lambda_http::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn an_account_without_a_password_is_to_a_password_an_unknown_address() {
    let app = TestApp::spawn().await;
    app.registered_user("Pat", "pat@example.com").await;
    // As an account made through a provider has it: no password until forgot-password sets one.
    app.db
        .execute(
            "UPDATE users SET password_hash = NULL WHERE email = 'pat@example.com'",
            &[],
        )
        .await
        .unwrap();

    let with_password = app.signin("pat@example.com", PASSWORD).await;
    let unknown = app.signin("nobody@example.com", PASSWORD).await;

    with_password.assert_error(401, "invalid_credentials");
    assert_eq!(with_password.body, unknown.body, "the same answer");
    // A reset sets a password, and then it signs in.
    let token = app.requested_reset_token("pat@example.com").await;
    let reset = app.reset_password(&token, "a brand new passphrase").await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    app.signin("pat@example.com", "a brand new passphrase")
        .await
        .assert_status(StatusCode::OK);
}

/// A flow as the authorize redirect will keep it.
fn flow(state: &str) -> store::OAuthFlow {
    store::OAuthFlow {
        state: SecretString::from(state.to_owned()),
        provider: ProviderName::parse("local").unwrap(),
        pkce_verifier: SecretString::from("v".repeat(43)),
        nonce: SecretString::from("n".repeat(22)),
        redirect_to: RedirectTarget::from_stored("https://app.example.com/cb".to_owned()),
        code_challenge: CodeChallenge::from_stored("c".repeat(43)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flow_is_taken_once_and_only_while_it_lives() {
    let app = TestApp::spawn().await;
    let second = app.second_instance().await;
    let ttl = Duration::from_secs(600);
    let db = app.app.pool.get().await.unwrap();
    let other = second.app.pool.get().await.unwrap();

    for round in 0..10 {
        let state = format!("{round:0>43}");
        store::begin_oauth_flow(&db, &flow(&state), ttl)
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            store::take_oauth_flow(&db, &state),
            store::take_oauth_flow(&other, &state)
        );
        let taken: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(
            taken.len(),
            1,
            "round {round}: exactly one callback gets it"
        );
        assert_eq!(taken[0].redirect_to.as_str(), "https://app.example.com/cb");
        assert_eq!(taken[0].pkce_verifier.expose_secret(), &"v".repeat(43));
    }
    let late = "l".repeat(43);
    store::begin_oauth_flow(&db, &flow(&late), ttl)
        .await
        .unwrap();
    app.db
        .execute(
            "UPDATE oauth_flows SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    assert!(
        store::take_oauth_flow(&db, &late).await.unwrap().is_none(),
        "expired"
    );
    assert!(
        store::take_oauth_flow(&db, "made-up")
            .await
            .unwrap()
            .is_none(),
        "unknown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_time_code_is_taken_once_and_only_while_it_lives() {
    let app = TestApp::spawn().await;
    let second = app.second_instance().await;
    let user = app.registered_user("Pat", "pat@example.com").await;
    let grant = store::OAuthGrant {
        user: UserId::from_uuid(user["id"].as_str().unwrap().parse().unwrap()),
        provider: ProviderName::parse("local").unwrap(),
        code_challenge: CodeChallenge::from_stored("c".repeat(43)),
        provider_mfa: false,
    };
    let db = app.app.pool.get().await.unwrap();
    let other = second.app.pool.get().await.unwrap();

    let code = OpaqueToken::generate().unwrap();
    store::issue_oauth_code(&db, &code.hash, &grant, Duration::from_secs(60))
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        store::take_oauth_code(&db, &code.hash),
        store::take_oauth_code(&other, &code.hash)
    );
    let taken: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(taken.len(), 1, "exactly one exchange gets it");
    assert_eq!(taken[0].grant, grant);
    assert_eq!(
        taken[0].user.as_ref().map(|user| user.email.as_str()),
        Some("pat@example.com"),
        "with its account"
    );

    let late = OpaqueToken::generate().unwrap();
    store::issue_oauth_code(&db, &late.hash, &grant, Duration::from_secs(60))
        .await
        .unwrap();
    let stored: Vec<u8> = app
        .db
        .query_one("SELECT code_hash FROM oauth_codes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, late.hash.0, "only the code's SHA-256 is stored");
    app.db
        .execute(
            "UPDATE oauth_codes SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(store::take_oauth_code(&db, &late.hash).await.unwrap(), None);
}

/// A loopback server that answers every request with what `answer` makes of its base URL (or
/// never, when `None`); returns its base URL and a counter of the requests it saw.
async fn loopback_server(
    answer: impl FnOnce(&str) -> Option<String>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let answer: Option<&'static str> = answer(&base).map(|text| &*Box::leak(text.into_boxed_str()));
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                match answer {
                    Some(answer) => {
                        let _ = socket.write_all(answer.as_bytes()).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    (base, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_client_follows_no_redirect_and_gives_up_quickly() {
    use openidconnect::core::CoreProviderMetadata;
    use std::sync::atomic::Ordering;
    let http = auth::oidc::http_client();

    let (redirecting, seen) = loopback_server(|_| {
        Some(
            "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
                .to_owned(),
        )
    })
    .await;
    let discovered = CoreProviderMetadata::discover_async(
        openidconnect::IssuerUrl::new(redirecting).unwrap(),
        &http,
    )
    .await;
    assert!(discovered.is_err(), "a redirect fails discovery");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "and is not followed");

    let (silent, _) = loopback_server(|_| None).await;
    let started = std::time::Instant::now();
    let discovered =
        CoreProviderMetadata::discover_async(openidconnect::IssuerUrl::new(silent).unwrap(), &http)
            .await;
    assert!(
        discovered.is_err(),
        "a provider that never answers fails discovery"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "within the client's timeout, not the server's 30 s: {:?}",
        started.elapsed()
    );
}

/// The browser's part at the provider, off the runtime (its HTTP is blocking): from the
/// authorize URL, sign in as `form` says; the fields the provider sends back to `callback`.
pub(crate) async fn sign_in_at_provider(
    authorize_url: &str,
    callback: &str,
    form: &[(impl AsRef<str>, impl AsRef<str>)],
) -> std::collections::HashMap<String, String> {
    let (url, callback) = (authorize_url.to_owned(), callback.to_owned());
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(name, value)| (name.as_ref().to_owned(), value.as_ref().to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        testkit::oidc::sign_in_at_provider(&url, &callback, &form)
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e:#}"))
}

/// The fields a provider sent back, as a request's query or form takes them.
pub(crate) fn pairs(fields: &std::collections::HashMap<String, String>) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_provider_signs_in_by_code_and_pkce_and_its_id_token_verifies() {
    use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
    use openidconnect::{
        AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
        OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    };
    const CALLBACK: &str = "http://127.0.0.1:9/api/oauth/local/callback";
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let logs = tempfile_dir();
    let provider = tokio::task::spawn_blocking(move || {
        testkit::stack::TestProvider::start(
            &workspace,
            "test-client",
            "test-secret",
            &[CALLBACK],
            &logs.join("oidc-provider.log"),
        )
    })
    .await
    .unwrap()
    .expect("the test provider starts (npm ci --prefix local installs it)");
    let http = auth::oidc::http_client();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(provider.issuer()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("test-client".into()),
        Some(ClientSecret::new("test-secret".into())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    let url = url.to_string();
    let query = sign_in_at_provider(
        &url,
        CALLBACK,
        &[
            ("login", "alice"),
            ("email", "alice@example.com"),
            ("email_verified", "true"),
            ("name", "Alice Example"),
            ("amr", "pwd,mfa"),
        ],
    )
    .await;
    assert_eq!(
        query.get("state"),
        Some(state.secret()),
        "our state comes back"
    );
    let code = AuthorizationCode::new(query["code"].clone());
    let tokens = client
        .exchange_code(code.clone())
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let identity = auth::oidc::verify_id_token(
        tokens.id_token().expect("an ID token"),
        &auth::oidc::strict(client.id_token_verifier()),
        &nonce,
        tokens.access_token(),
    )
    .unwrap();

    assert_eq!(
        identity,
        auth::oidc::ProviderIdentity {
            subject: "alice".into(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            name: Some("Alice Example".into()),
            mfa: true,
        }
    );
    // The same token checked against another nonce: refused.
    assert!(
        auth::oidc::verify_id_token(
            tokens.id_token().unwrap(),
            &auth::oidc::strict(client.id_token_verifier()),
            &Nonce::new("another".into()),
            tokens.access_token(),
        )
        .is_err()
    );
    // The code again: the provider refuses it.
    let (_, fresh_verifier) = PkceCodeChallenge::new_random_sha256();
    let replay = client
        .exchange_code(code)
        .unwrap()
        .set_pkce_verifier(fresh_verifier)
        .request_async(&http)
        .await;
    assert!(replay.is_err(), "a code is used once");
}

/// A directory of its own for a test's logs, under the target directory's scratch space
/// (`cargo clean` takes it; nothing is left in the system's temporary directory).
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("oidc-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The settings of providers named `names`, each with the given issuer.
fn settings(providers: &[(&str, &str)]) -> auth::config::OidcSettings {
    auth::config::OidcSettings {
        providers: providers
            .iter()
            .map(|(name, issuer)| auth::config::OidcProvider {
                name: ProviderName::parse(name).unwrap(),
                issuer: (*issuer).to_owned(),
                client_id: "test-client".into(),
                client_secret: SecretString::from("test-secret"),
                scopes: vec!["openid".into()],
                response_mode: auth::config::ResponseMode::Query,
            })
            .collect(),
        redirect_allowlist: vec!["https://app.example.com/cb".into()],
        api_public_url: auth::config::ApiPublicUrl::FromRequest,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_whose_discovery_fails_is_left_out_and_the_others_work() {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let logs = tempfile_dir();
    let provider = tokio::task::spawn_blocking(move || {
        testkit::stack::TestProvider::start(
            &workspace,
            "test-client",
            "test-secret",
            &["http://127.0.0.1:9/api/oauth/local/callback"],
            &logs.join("oidc-provider.log"),
        )
    })
    .await
    .unwrap()
    .expect("the test provider starts (npm ci --prefix local installs it)");
    // A document whose keys are said to be on a plain-http host that is not the issuer's: the
    // keys are never fetched from there.
    let (ssrf, seen) = loopback_server(|base| {
        let body = serde_json::json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/auth"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": "http://169.254.169.254/latest/meta-data/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
        .to_string();
        Some(format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        ))
    })
    .await;
    let issuer = provider.issuer();
    let configured = settings(&[
        ("local", &issuer),
        ("gone", "http://127.0.0.1:9"),
        ("slashed", &format!("{issuer}/")),
        ("ssrf", &ssrf),
    ]);

    let providers = auth::oidc::Providers::discover(&configured).await;

    let names: Vec<&str> = providers.names().map(ProviderName::as_str).collect();
    assert_eq!(names, ["local"], "only the provider whose discovery holds");
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the document was read, nothing fetched from the endpoint it named"
    );
}

/// Links `subject` of the provider `local`, saying `email` (verified or not).
async fn link(app: &TestApp, subject: &str, email: Option<&str>, verified: bool) -> store::Linked {
    let db = app.app.pool.get().await.unwrap();
    let provider = ProviderName::parse("local").unwrap();
    let email = email.map(|email| auth::domain::Email::parse(email).unwrap());
    let name = auth::domain::UserName::parse("Pat Provider").unwrap();
    store::link_identity(
        &db,
        &store::ProviderSubject {
            provider: &provider,
            subject,
            email: email.as_ref(),
            email_verified: verified,
            name: &name,
        },
        &auth::domain::ClientInfo::default(),
        &auth::emails::identity_linked("local"),
    )
    .await
    .unwrap()
    .0
}

#[tokio::test]
async fn a_verified_new_address_makes_a_confirmed_passwordless_account_once() {
    let app = TestApp::spawn().await;

    let created = link(&app, "sub-1", Some("Pat@Example.com"), true).await;
    let store::Linked::Created(user) = created else {
        panic!("{created:?}")
    };
    let row = app
        .db
        .query_one(
            "SELECT email, name, password_hash IS NULL AS passwordless,
                    email_verified_at IS NOT NULL AS confirmed
             FROM users WHERE id = $1",
            &[&user.as_uuid()],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>("email"), "pat@example.com");
    assert_eq!(row.get::<_, String>("name"), "Pat Provider");
    assert!(row.get::<_, bool>("passwordless") && row.get::<_, bool>("confirmed"));
    // A sign-up, audited as one; nobody to tell.
    assert_eq!(
        app.count("SELECT count(*) FROM auth_events WHERE kind = 'signup'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM email_outbox").await, 0);
    // Known from now on, whatever address the provider says later.
    assert_eq!(
        link(&app, "sub-1", Some("other@example.com"), false).await,
        store::Linked::Known(user)
    );
    assert_eq!(app.count("SELECT count(*) FROM users").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM auth_events").await,
        1,
        "a known identity is no event"
    );
}

#[tokio::test]
async fn a_verified_address_links_a_confirmed_account_and_never_takes_over_an_unconfirmed_one() {
    let app = TestApp::spawn().await;
    let jane = app.registered_user("Jane", "jane@example.com").await;
    app.signup("Sam", "sam@example.com", PASSWORD)
        .await
        .assert_status(StatusCode::ACCEPTED);

    let linked = link(&app, "sub-jane", Some("jane@example.com"), true).await;
    let squatted = link(&app, "sub-sam", Some("sam@example.com"), true).await;

    assert_eq!(
        linked,
        store::Linked::LinkedExisting(UserId::from_uuid(
            jane["id"].as_str().unwrap().parse().unwrap()
        ))
    );
    assert_eq!(squatted, store::Linked::EmailNotVerified);
    assert_eq!(
        app.count("SELECT count(*) FROM oauth_identities WHERE subject = 'sub-sam'")
            .await,
        0
    );
    // The link is audited and its owner told, in the same statement; the refusal does neither.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM auth_events e JOIN users u ON u.id = e.user_id
             WHERE e.kind = 'identity_linked' AND u.email = 'jane@example.com'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM email_outbox WHERE recipient = 'jane@example.com'
             AND subject = '{}' AND body_text LIKE '%\"local\"%'",
            auth::emails::IDENTITY_LINKED_SUBJECT
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE recipient = 'sam@example.com' AND subject <> 'Confirm your email address'")
            .await,
        0
    );
}

#[tokio::test]
async fn an_unverified_provider_address_never_links_and_never_creates() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", "jane@example.com").await;

    assert_eq!(
        link(&app, "sub-a", Some("jane@example.com"), false).await,
        store::Linked::EmailNotVerified
    );
    assert_eq!(
        link(&app, "sub-b", Some("new@example.com"), false).await,
        store::Linked::EmailNotVerified
    );
    assert_eq!(
        link(&app, "sub-c", None, true).await,
        store::Linked::EmailNotVerified
    );
    assert_eq!(app.count("SELECT count(*) FROM users").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM oauth_identities").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_callbacks_at_once_for_a_new_identity_one_creates_and_none_duplicates() {
    let app = TestApp::spawn().await;
    let second = app.second_instance().await;
    for round in 0..5 {
        let subject = format!("sub-{round}");
        let email = format!("pat{round}@example.com");
        let (a, b) = tokio::join!(
            link(&app, &subject, Some(&email), true),
            link(&second, &subject, Some(&email), true)
        );
        let created = [a, b]
            .iter()
            .filter(|l| matches!(l, store::Linked::Created(_)))
            .count();
        assert_eq!(created, 1, "round {round}: {a:?} {b:?}");
        assert!(
            [a, b].iter().all(|l| matches!(
                l,
                store::Linked::Created(_) | store::Linked::Raced | store::Linked::Known(_)
            )),
            "{a:?} {b:?}"
        );
        // Asked again, the loser finds the winner's account.
        let again = link(&app, &subject, Some(&email), true).await;
        assert!(matches!(again, store::Linked::Known(_)), "{again:?}");
    }
    assert_eq!(app.count("SELECT count(*) FROM users").await, 5);
    assert_eq!(app.count("SELECT count(*) FROM oauth_identities").await, 5);
}

pub(crate) const APP_CALLBACK: &str = "https://app.example.com/cb";
pub(crate) const PROVIDER_CALLBACK: &str = "http://127.0.0.1:9/api/oauth/local/callback";

/// The test provider, and an app configured with it as `local` (its callback on a closed
/// loopback port: the test plays the browser and stops there).
pub(crate) async fn app_with_provider() -> (TestApp, testkit::stack::TestProvider) {
    app_with_provider_set(&[], &[]).await
}

/// [`app_with_provider`] with more of the test provider's settings (see
/// `local/oidc-provider.mjs`) and more of the app's.
pub(crate) async fn app_with_provider_set(
    settings: &'static [(&'static str, &'static str)],
    app_settings: &[(&str, &str)],
) -> (TestApp, testkit::stack::TestProvider) {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let logs = tempfile_dir();
    let provider = tokio::task::spawn_blocking(move || {
        testkit::stack::TestProvider::start_with(
            None,
            &workspace,
            "test-client",
            "test-secret",
            &[PROVIDER_CALLBACK],
            &logs.join("oidc-provider.log"),
            settings,
        )
    })
    .await
    .unwrap()
    .expect("the test provider starts (npm ci --prefix local installs it)");
    let issuer = provider.issuer();
    let mut all = vec![
        ("OIDC_PROVIDERS", "local"),
        ("OIDC_LOCAL_ISSUER", issuer.as_str()),
        ("OIDC_LOCAL_CLIENT_ID", "test-client"),
        ("OIDC_LOCAL_CLIENT_SECRET", "test-secret"),
        ("OAUTH_REDIRECT_ALLOWLIST", APP_CALLBACK),
        ("API_PUBLIC_URL", "http://127.0.0.1:9"),
    ];
    all.extend_from_slice(app_settings);
    let app = TestApp::spawn_with(&all).await;
    (app, provider)
}

/// An app's PKCE pair: (verifier, S256 challenge).
pub(crate) use testkit::oidc::app_pkce;

/// Authorize, sign in at the provider as `form` says, and deliver its callback: where the app
/// is sent back.
pub(crate) async fn provider_sign_in(
    app: &TestApp,
    challenge: &str,
    form: Vec<(&'static str, String)>,
) -> String {
    let url = app
        .app
        .oauth_authorize(
            &auth::service::AuthorizeRequest {
                provider: "local",
                redirect_to: APP_CALLBACK,
                code_challenge: challenge,
                code_challenge_method: "S256",
            },
            None,
        )
        .await
        .unwrap();
    let query = sign_in_at_provider(&url, PROVIDER_CALLBACK, &form).await;
    app.app
        .oauth_callback(
            "local",
            &auth::service::Callback {
                code: query.get("code").map(String::as_str),
                state: query.get("state").map(String::as_str),
                error: query.get("error").map(String::as_str),
                name_hint: None,
            },
            None,
            &auth::domain::ClientInfo::default(),
        )
        .await
        .unwrap()
}

pub(crate) fn person(login: &str, email: &str, verified: bool) -> Vec<(&'static str, String)> {
    let mut form = vec![
        ("login", login.to_owned()),
        ("email", email.to_owned()),
        ("name", "Alice Example".to_owned()),
        ("amr", "pwd".to_owned()),
    ];
    if verified {
        form.push(("email_verified", "true".to_owned()));
    }
    form
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_sign_in_sends_the_app_back_with_a_one_time_code_for_a_new_confirmed_account() {
    let (app, _provider) = app_with_provider().await;
    let (_, challenge) = app_pkce();

    let back = provider_sign_in(&app, &challenge, person("alice", "alice@example.com", true)).await;

    let code = back
        .strip_prefix(&format!("{APP_CALLBACK}?code="))
        .unwrap_or_else(|| panic!("{back}"));
    assert!(code.len() >= 43, "256 bits: {code}");
    let row = app
        .db
        .query_one(
            "SELECT u.name, u.email_verified_at IS NOT NULL AS confirmed, i.provider, i.subject
             FROM users u JOIN oauth_identities i ON i.user_id = u.id
             WHERE u.email = 'alice@example.com'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>("name"), "Alice Example");
    assert!(row.get::<_, bool>("confirmed"));
    assert_eq!(
        (
            row.get::<_, String>("provider"),
            row.get::<_, String>("subject")
        ),
        ("local".to_owned(), "alice".to_owned())
    );
    assert_eq!(app.count("SELECT count(*) FROM oauth_codes").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM oauth_flows").await,
        0,
        "the flow is spent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_takes_the_client_secret_in_the_form_only_signs_in_as_well() {
    // Apple's token endpoint takes client_secret_post alone, and its discovery says so: the
    // client sends the secret the way the provider lists, not HTTP Basic regardless.
    let (app, _provider) =
        app_with_provider_set(&[("CLIENT_AUTH", "client_secret_post")], &[]).await;
    let (_, challenge) = app_pkce();
    let back = provider_sign_in(&app, &challenge, person("post", "post@example.com", true)).await;
    assert!(
        back.starts_with(&format!("{APP_CALLBACK}?code=")),
        "back at the app with a code: {back}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_provider_address_comes_back_as_an_error_and_links_nothing() {
    let (app, _provider) = app_with_provider().await;
    app.registered_user("Alice", "alice@example.com").await;
    let (_, challenge) = app_pkce();

    let back = provider_sign_in(
        &app,
        &challenge,
        person("mallory", "alice@example.com", false),
    )
    .await;

    assert_eq!(back, format!("{APP_CALLBACK}?error=email_not_verified"));
    assert_eq!(app.count("SELECT count(*) FROM oauth_identities").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM oauth_codes").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_refuses_what_it_must_and_a_callback_state_works_once() {
    let (app, _provider) = app_with_provider().await;
    let (_, challenge) = app_pkce();
    let authorize = |provider: &'static str, redirect_to: &'static str, method: &'static str| {
        let app = &app;
        let challenge = challenge.clone();
        async move {
            app.app
                .oauth_authorize(
                    &auth::service::AuthorizeRequest {
                        provider,
                        redirect_to,
                        code_challenge: &challenge,
                        code_challenge_method: method,
                    },
                    None,
                )
                .await
                .map_err(|e| e.code())
        }
    };
    assert_eq!(
        authorize("local", "https://evil.example.com/cb", "S256").await,
        Err("invalid_redirect"),
        "an off-list redirect_to is answered, never followed"
    );
    assert_eq!(
        authorize("nobody", APP_CALLBACK, "S256").await,
        Err("unknown_provider")
    );
    assert_eq!(
        authorize("local", APP_CALLBACK, "plain").await,
        Err("invalid_code_challenge")
    );
    let url = authorize("local", APP_CALLBACK, "S256").await.unwrap();
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("nonce="),
        "{url}"
    );

    let forged = app
        .app
        .oauth_callback(
            "local",
            &auth::service::Callback {
                code: Some("x"),
                state: Some("forged-state"),
                error: None,
                name_hint: None,
            },
            None,
            &auth::domain::ClientInfo::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(forged.code(), "invalid_oauth_state");
    // A state no flow of ours could have, NUL byte included: the same answer, not a 500.
    for odd in ["\0", "a\0b", &"x".repeat(4096), "é"] {
        let refused = app
            .app
            .oauth_callback(
                "local",
                &auth::service::Callback {
                    code: Some("x"),
                    state: Some(odd),
                    error: None,
                    name_hint: None,
                },
                None,
                &auth::domain::ClientInfo::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "invalid_oauth_state", "{odd:?}");
    }
    // A real state, delivered twice: the second finds nothing.
    let state = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let denied = app
        .app
        .oauth_callback(
            "local",
            &auth::service::Callback {
                code: None,
                state: Some(&state),
                error: Some("access_denied"),
                name_hint: None,
            },
            None,
            &auth::domain::ClientInfo::default(),
        )
        .await
        .unwrap();
    assert_eq!(denied, format!("{APP_CALLBACK}?error=access_denied"));
    let replayed = app
        .app
        .oauth_callback(
            "local",
            &auth::service::Callback {
                code: Some("x"),
                state: Some(&state),
                error: None,
                name_hint: None,
            },
            None,
            &auth::domain::ClientInfo::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(replayed.code(), "invalid_oauth_state");
}

/// The one-time code of a redirect back to the app.
pub(crate) fn code_of(back: &str) -> SecretString {
    SecretString::from(
        back.strip_prefix(&format!("{APP_CALLBACK}?code="))
            .unwrap_or_else(|| panic!("{back}"))
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_one_time_code_and_its_verifier_open_an_ordinary_session_once() {
    let (app, _provider) = app_with_provider().await;
    let (verifier, challenge) = app_pkce();
    let code = code_of(
        &provider_sign_in(&app, &challenge, person("alice", "alice@example.com", true)).await,
    );
    let (other_verifier, _) = app_pkce();
    let client = auth::domain::ClientInfo::default();

    // A wrong verifier: refused, and the code is spent all the same.
    let wrong = app.app.oauth_token(&code, &other_verifier, &client).await;
    assert_eq!(wrong.unwrap_err().code(), "invalid_grant");
    assert_eq!(
        app.app
            .oauth_token(&code, &verifier, &client)
            .await
            .unwrap_err()
            .code(),
        "invalid_grant"
    );

    let (verifier, challenge) = app_pkce();
    let code = code_of(
        &provider_sign_in(&app, &challenge, person("alice", "alice@example.com", true)).await,
    );
    let auth::service::SigninOutcome::SignedIn(signed_in) = app
        .app
        .oauth_token(&code, &verifier, &client)
        .await
        .unwrap()
    else {
        panic!("one factor, no TOTP: tokens at once")
    };
    let claims = crate::helpers::jwt_part(signed_in.tokens.access.token.expose_secret(), 1);
    assert_eq!(
        (
            claims["amr"].clone(),
            claims["idp"].clone(),
            claims["aal"].clone()
        ),
        (
            serde_json::json!(["oidc"]),
            serde_json::json!("local"),
            serde_json::json!("aal1")
        )
    );
    // An ordinary session: refresh keeps how it signed in, logout ends it.
    let refreshed = app.refresh(signed_in.tokens.refresh.expose_secret()).await;
    let refreshed_claims = crate::helpers::jwt_part(&refreshed.str("access_token"), 1);
    assert_eq!(refreshed_claims["idp"], "local");
    assert_eq!(refreshed_claims["amr"], serde_json::json!(["oidc"]));
    app.logout(&refreshed.str("access_token"))
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(
        app.app
            .oauth_token(&code, &verifier, &client)
            .await
            .unwrap_err()
            .code(),
        "invalid_grant",
        "a code works once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_with_totp_gets_the_second_step_unless_the_provider_asserted_one() {
    let (app, _provider) = app_with_provider().await;
    let alice = app.registered_user("Alice", "alice@example.com").await;
    // TOTP on, as the store keeps it.
    app.db
        .execute(
            "INSERT INTO mfa_totp (user_id, secret_key_id, secret_sealed, confirmed_at)
             VALUES ($1, 'test', '\\x00', now())",
            &[&alice["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap();
    let client = auth::domain::ClientInfo::default();

    let (verifier, challenge) = app_pkce();
    let code = code_of(
        &provider_sign_in(
            &app,
            &challenge,
            person("alice-sub", "alice@example.com", true),
        )
        .await,
    );
    let outcome = app
        .app
        .oauth_token(&code, &verifier, &client)
        .await
        .unwrap();
    assert!(
        matches!(outcome, auth::service::SigninOutcome::SecondFactor { .. }),
        "{outcome:?}"
    );
    let first: String = app
        .db
        .query_one("SELECT first_factor || ':' || idp FROM mfa_challenges", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(first, "oidc:local", "the second step knows its first");

    let (verifier, challenge) = app_pkce();
    let mut with_mfa = person("alice-sub", "alice@example.com", true);
    with_mfa.retain(|(field, _)| *field != "amr");
    with_mfa.push(("amr", "pwd,mfa".to_owned()));
    let code = code_of(&provider_sign_in(&app, &challenge, with_mfa).await);
    let auth::service::SigninOutcome::SignedIn(signed_in) = app
        .app
        .oauth_token(&code, &verifier, &client)
        .await
        .unwrap()
    else {
        panic!("the provider's own second factor counts")
    };
    let claims = crate::helpers::jwt_part(signed_in.tokens.access.token.expose_secret(), 1);
    assert_eq!(claims["aal"], "aal2");
}
