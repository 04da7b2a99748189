//! The functions' login role (`auth::db::ensure_runtime_role`, run by `migrate` after the
//! migrations): the whole service runs as it here, so a grant it lacks fails a request; and the
//! database refuses it anything beyond its grants, above all changing the audit log, which the
//! tables' owner (the login every function used before) could switch off with one `ALTER TABLE`.

use std::collections::BTreeSet;

use auth::Endpoint;
use auth::config::{DatabaseConfig, RuntimeRole};
use auth::db::runtime_role::RUNTIME_GRANTS;
use lambda_http::http::{Method, StatusCode, header};
use serde_json::json;
use testkit::database::{ScratchDatabase, ScratchRole, connection_string};
use tokio_postgres::NoTls;

use crate::helpers::{PASSWORD, TestApp, bearer_request, json_request};

/// A migrated database with its runtime role (named after the database: roles belong to the
/// whole cluster, and the tests run in parallel); the database, then the role, are dropped with
/// this.
struct RuntimeDatabase {
    /// The migrating user's (the owner's) settings.
    owner: DatabaseConfig,
    role: RuntimeRole,
    // Field order is drop order: the database, which holds the role's grants, first.
    scratch: ScratchDatabase,
    role_guard: ScratchRole,
}

impl RuntimeDatabase {
    async fn new() -> RuntimeDatabase {
        let admin = testkit::database::server().unwrap_or_else(|e| panic!("{e:#}"));
        let scratch = ScratchDatabase::create(&admin, "test").await.unwrap();
        let guard = ScratchRole::for_database(&scratch);
        let owner = testkit::config::load(&scratch.connection_string(), &[])
            .await
            .database;
        let role = RuntimeRole {
            name: guard.name().to_owned(),
            password: guard.password().into(),
        };
        auth::db::migrate(&owner).await.unwrap();
        auth::db::ensure_runtime_role(&owner, &role).await.unwrap();
        RuntimeDatabase {
            owner,
            role,
            scratch,
            role_guard: guard,
        }
    }

    /// The settings of a function: the owner's, logged in as the runtime role.
    async fn runtime(&self) -> DatabaseConfig {
        let login = self.role_guard.login(&self.scratch);
        testkit::config::load(&connection_string(&login), &[])
            .await
            .database
    }

    /// A direct connection as the runtime role.
    async fn runtime_client(&self) -> tokio_postgres::Client {
        let (client, connection) = self.runtime().await.url.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }
}

/// The SQLSTATE and message of a refused statement.
async fn refused(client: &tokio_postgres::Client, sql: &str) -> String {
    let error = client
        .batch_execute(sql)
        .await
        .expect_err(&format!("refused: {sql}"));
    let db = error
        .as_db_error()
        .unwrap_or_else(|| panic!("{sql}: {error}"));
    format!("{} {}", db.code().code(), db.message())
}

#[tokio::test]
async fn the_runtime_role_cannot_change_the_audit_log_or_any_table() {
    let database = RuntimeDatabase::new().await;
    let client = database.runtime_client().await;
    client
        .batch_execute(
            "INSERT INTO auth_events (kind, ip) VALUES ('signup', '192.0.2.1');
             SELECT count(*) FROM auth_events;",
        )
        .await
        .expect("the audit log is written and read");

    // Granting itself more gives nothing (a warning, no privilege: it holds no grant option).
    client
        .batch_execute("GRANT DELETE ON auth_events TO PUBLIC")
        .await
        .unwrap();
    // Refused by privileges, before the append-only trigger is even asked.
    for sql in [
        "UPDATE auth_events SET kind = 'logout'",
        "DELETE FROM auth_events",
        "TRUNCATE auth_events",
    ] {
        let refusal = refused(&client, sql).await;
        assert!(
            refusal.starts_with("42501 permission denied for table auth_events"),
            "{sql}: {refusal}"
        );
    }
    // Only the owner may alter, drop or re-grant a table; the role owns none and creates none.
    for sql in [
        "ALTER TABLE auth_events DISABLE TRIGGER auth_events_no_update_or_delete",
        "ALTER TABLE auth_events DISABLE TRIGGER ALL",
        "DROP TRIGGER auth_events_no_truncate ON auth_events",
        "DROP TABLE auth_events",
        "ALTER TABLE users ADD COLUMN spy text",
    ] {
        let refusal = refused(&client, sql).await;
        assert!(
            refusal.starts_with("42501 must be owner of")
                || refusal.starts_with("42501 permission denied"),
            "{sql}: {refusal}"
        );
    }
    for sql in [
        "CREATE TABLE public.stash (id int)",
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "SELECT * FROM refinery_schema_history",
    ] {
        let refusal = refused(&client, sql).await;
        assert!(refusal.starts_with("42501 "), "{sql}: {refusal}");
    }
}

#[tokio::test]
async fn the_runtime_role_has_exactly_the_listed_grants_each_deploy() {
    let database = RuntimeDatabase::new().await;
    let (owner, connection) = database.owner.url.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    let granted = || async {
        owner
            .query(
                "SELECT table_name::text, privilege_type::text
                 FROM information_schema.role_table_grants WHERE grantee = $1",
                &[&database.role.name],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1)))
            .collect::<BTreeSet<_>>()
    };
    let listed: BTreeSet<(String, String)> = RUNTIME_GRANTS
        .iter()
        .flat_map(|(table, privileges)| {
            privileges
                .split(", ")
                .map(|privilege| (table.to_string(), privilege.to_string()))
        })
        .collect();
    assert_eq!(granted().await, listed);
    assert!(listed.contains(&("auth_events".into(), "INSERT".into())));
    assert!(!listed.contains(&("auth_events".into(), "UPDATE".into())));

    // A grant given by hand is taken back by the next deploy, and the password follows the
    // secret: the role exists already, so it is altered, not created.
    owner
        .batch_execute(&format!(
            "GRANT UPDATE, TRUNCATE ON auth_events TO \"{}\"",
            database.role.name
        ))
        .await
        .unwrap();
    let rotated = RuntimeRole {
        name: database.role.name.clone(),
        password: "a new password from the secret".into(),
    };
    auth::db::ensure_runtime_role(&database.owner, &rotated)
        .await
        .unwrap();
    assert_eq!(granted().await, listed, "re-granted from the list");
    let mut url = database.owner.url.clone();
    url.user(&rotated.name)
        .password("a new password from the secret");
    let (client, connection) = url.connect(NoTls).await.expect("the new password works");
    tokio::spawn(connection);
    client.batch_execute("SELECT 1").await.unwrap();
    let stored: String = owner
        .query_one(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
            &[&rotated.name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        stored.starts_with("SCRAM-SHA-256$"),
        "stored as a SCRAM verifier"
    );
}

#[tokio::test]
async fn a_table_without_a_decision_or_a_powerful_role_stops_the_deploy() {
    let database = RuntimeDatabase::new().await;
    let (owner, connection) = database.owner.url.connect(NoTls).await.unwrap();
    tokio::spawn(connection);

    owner
        .batch_execute("CREATE TABLE newcomer (id int)")
        .await
        .unwrap();
    let error = auth::db::ensure_runtime_role(&database.owner, &database.role)
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("newcomer"), "{error:#}");
    owner.batch_execute("DROP TABLE newcomer").await.unwrap();

    // A role that could do more than its grants is refused, not used.
    let owner_name: String = owner
        .query_one("SELECT current_user", &[])
        .await
        .unwrap()
        .get(0);
    let itself = RuntimeRole {
        name: owner_name,
        password: "whatever".into(),
    };
    assert!(
        auth::db::ensure_runtime_role(&database.owner, &itself)
            .await
            .is_err()
    );
    owner
        .batch_execute(&format!("ALTER ROLE \"{}\" CREATEDB", database.role.name))
        .await
        .unwrap();
    let error = auth::db::ensure_runtime_role(&database.owner, &database.role)
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("more than its grants"),
        "{error:#}"
    );
}

#[tokio::test]
async fn the_whole_service_runs_as_the_runtime_role() {
    let database = RuntimeDatabase::new().await;
    // Every handler, and the helpers' own reads, as the functions log in in AWS.
    let app = TestApp::over_database(database.runtime().await, None).await;
    let current: String = app
        .db
        .query_one("SELECT current_user", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(current, database.role.name);

    // Sign-up, confirmation by link, sign-in (a failure first), refresh, dashboard.
    let jane = "jane@example.com";
    let laptop = app.signed_in_user(jane).await;
    app.signin(jane, "not the password")
        .await
        .assert_error(401, "invalid_credentials");
    let phone = app.signin(jane, PASSWORD).await;
    phone.assert_status(StatusCode::OK);
    let refreshed = app.refresh(&laptop.str("refresh_token")).await;
    refreshed.assert_status(StatusCode::OK);
    let access = refreshed.str("access_token");
    app.dashboard(&access).await.assert_status(StatusCode::OK);

    // Sessions: list, end the phone's.
    let sessions = app
        .call(
            Endpoint::Sessions,
            bearer_request(Method::GET, "/api/sessions", &access),
        )
        .await;
    sessions.assert_status(StatusCode::OK);
    let phone_session = sessions.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.end_session(&access, &phone_session)
        .await
        .assert_status(StatusCode::OK);

    // The account's own changes, each with a JSON body and the token.
    let with_token = |method: Method, endpoint: Endpoint, body: serde_json::Value| {
        let mut request = json_request(endpoint.path(), &body);
        *request.method_mut() = method;
        request.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {access}").parse().unwrap(),
        );
        request
    };
    let new_password = "another long passphrase";
    app.call(
        Endpoint::ChangePassword,
        with_token(
            Method::POST,
            Endpoint::ChangePassword,
            json!({"current_password": PASSWORD, "new_password": new_password}),
        ),
    )
    .await
    .assert_status(StatusCode::OK);
    let moved = "jane.doe@example.com";
    app.call(
        Endpoint::ChangeEmail,
        with_token(
            Method::POST,
            Endpoint::ChangeEmail,
            json!({"password": new_password, "new_email": moved}),
        ),
    )
    .await
    .assert_status(StatusCode::ACCEPTED);
    let token = app.verification_token_from_outbox(moved).await;
    app.verify_email(&json!({ "token": token }))
        .await
        .assert_status(StatusCode::OK);

    // A second account: resend its confirmation, forget and reset its password, log out.
    let john = "john@example.com";
    app.signup("John", john, PASSWORD)
        .await
        .assert_status(StatusCode::ACCEPTED);
    app.post_json(Endpoint::ResendVerification, &json!({ "email": john }))
        .await
        .assert_status(StatusCode::OK);
    let reset = app.requested_reset_token(john).await;
    app.reset_password(&reset, new_password)
        .await
        .assert_status(StatusCode::OK);
    let john_in = app.signin(john, new_password).await;
    john_in.assert_status(StatusCode::OK);
    app.logout(&john_in.str("access_token"))
        .await
        .assert_status(StatusCode::OK);

    // Jane deletes her account; the janitor prunes and sends (every table it touches).
    app.call(
        Endpoint::DeleteAccount,
        with_token(
            Method::DELETE,
            Endpoint::DeleteAccount,
            json!({ "password": new_password }),
        ),
    )
    .await
    .assert_status(StatusCode::OK);
    auth::janitor::sweep(&app.app)
        .await
        .expect("the janitor runs as the runtime role");
    assert!(app.count("SELECT count(*) FROM auth_events").await > 10);
}
