//! The throwaway cluster and scratch databases against a real PostgreSQL (the machine's server
//! binaries, as `make check` needs anyway): restarts on the same port, databases that drop
//! themselves from sync and async code, and the key=value form read by psql and tokio-postgres.

use std::process::Command;

use testkit::cluster::Cluster;
use testkit::database::{
    SYSTEM_DATABASES, ScratchDatabase, answers, block_on, connection_string, list_databases,
};

fn user_databases(cluster: &Cluster) -> Vec<String> {
    block_on(list_databases(&cluster.url("postgres")))
        .unwrap()
        .into_iter()
        .filter(|name| !SYSTEM_DATABASES.contains(&name.as_str()))
        .collect()
}

#[test]
fn a_throwaway_cluster_restarts_on_its_port_and_is_deleted_when_dropped() {
    let cluster = Cluster::start().unwrap();
    let admin = cluster.url("postgres");
    assert!(block_on(answers(&admin)));

    cluster.stop_immediately().unwrap();
    assert!(!block_on(answers(&admin)), "stopped");
    cluster.start_again().unwrap();
    assert!(block_on(answers(&admin)), "back on port {}", cluster.port());

    let port = cluster.port();
    drop(cluster);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on {port} after the drop"
    );
}

#[test]
fn the_superuser_needs_its_password_over_tcp() {
    let cluster = Cluster::start().unwrap();
    let mut wrong = cluster.url("postgres");
    wrong.password("not-the-password");
    assert!(!block_on(answers(&wrong)));
    assert!(block_on(answers(&cluster.url("postgres"))));
}

#[test]
fn scratch_databases_drop_themselves_inside_and_outside_a_runtime() {
    let cluster = Cluster::start().unwrap();
    let admin = cluster.url("postgres");

    // Outside any runtime.
    let plain = ScratchDatabase::create_blocking(&admin, "test").unwrap();
    assert!(plain.name().starts_with("test_"), "{}", plain.name());
    assert_eq!(user_databases(&cluster), [plain.name()]);
    drop(plain);
    assert!(user_databases(&cluster).is_empty());

    // Inside a multi-threaded runtime, with a connection still open on it (FORCE ends it).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let database = ScratchDatabase::create(&admin, "test").await.unwrap();
        let (client, connection) = database
            .config()
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client.simple_query("SELECT 1").await.unwrap();
        drop(database);
    });
    // Inside a current-thread runtime, as #[tokio::test] runs.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let _database = ScratchDatabase::create(&admin, "test").await.unwrap();
        });
    assert!(user_databases(&cluster).is_empty());

    assert!(ScratchDatabase::create_blocking(&admin, "Bad-Prefix").is_err());
}

#[test]
fn psql_and_tokio_postgres_read_the_key_value_form_of_an_odd_password() {
    let cluster = Cluster::start().unwrap();
    let admin = cluster.url("postgres");
    let password = r#"it's a "weird" p@ss\word; =x %41 "#;
    block_on(async {
        let (client, connection) = admin.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "CREATE ROLE odd LOGIN CREATEDB PASSWORD '{}'",
                password.replace('\'', "''")
            ))
            .await
            .unwrap();
    });
    let mut odd = admin.clone();
    odd.user("odd").password(password);
    let database = ScratchDatabase::create_blocking(&odd, "test").unwrap();
    let rendered = database.connection_string();

    let output = Command::new("psql")
        .arg(&rendered)
        .args([
            "-X",
            "-At",
            "-c",
            "SELECT current_user || ' ' || current_database()",
        ])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "psql refused {}: {}",
        connection_string(database.config()).replace(password, "<password>"),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("odd {}", database.name())
    );
    let parsed: tokio_postgres::Config = rendered.parse().unwrap();
    assert!(block_on(answers(&parsed)));
}
