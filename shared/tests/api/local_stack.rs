//! The laptop stack's files: docker-compose.yml (PostgreSQL, pgAdmin, Mailpit), pgAdmin's server
//! list, `.env.example` and the README's configuration table stay in step with each other and
//! with the code.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(repo_file(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn compose() -> Value {
    serde_yaml_ng::from_str(&read("docker-compose.yml")).expect("docker-compose.yml is YAML")
}

/// `KEY=value` lines of an env file, comments skipped.
fn env_file(name: &str) -> Vec<(String, String)> {
    read(name)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("{name}: not KEY=value: {line}"));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

fn env_value(name: &str, key: &str) -> String {
    env_file(name)
        .into_iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("{name} has no {key}"))
        .1
}

#[test]
fn compose_serves_postgres_16_on_5002_and_pgadmin_on_5050() {
    let compose = compose();
    let db = &compose["services"]["db"];
    assert!(
        db["image"].as_str().unwrap().starts_with("postgres:16"),
        "{}",
        db["image"]
    );
    assert_eq!(db["ports"][0], "127.0.0.1:5002:5432");
    let healthcheck = db["healthcheck"]["test"].to_string();
    assert!(healthcheck.contains("pg_isready"), "{healthcheck}");
    let volume = db["volumes"][0].as_str().unwrap();
    let (name, target) = volume.split_once(':').unwrap();
    assert!(
        compose["volumes"].get(name).is_some(),
        "{name} is a named volume"
    );
    assert_eq!(target, "/var/lib/postgresql/data");
    assert!(
        !compose.to_string().contains("docker-entrypoint-initdb.d"),
        "the schema comes only from migrations"
    );

    let pgadmin = &compose["services"]["pgadmin"];
    assert_eq!(pgadmin["ports"][0], "127.0.0.1:5050:80");
    assert_eq!(
        pgadmin["env_file"], ".env.pgadmin",
        "the pgAdmin login comes from .env.pgadmin"
    );
    let servers = pgadmin["volumes"][0].as_str().unwrap();
    assert!(
        servers.starts_with("./local/pgadmin-servers.json:"),
        "{servers}"
    );
    assert_eq!(pgadmin["depends_on"]["db"]["condition"], "service_healthy");
}

#[test]
fn compose_serves_mailpit_on_make_devs_inbox_ports_and_every_port_on_loopback_only() {
    let compose = compose();
    let mailpit = &compose["services"]["mailpit"];
    let image = mailpit["image"].as_str().unwrap();
    let (name, tag) = image.split_once(':').expect("the image is pinned by a tag");
    assert_eq!(name, "axllent/mailpit");
    assert!(tag.starts_with("v1."), "a version tag, not {tag}");
    assert_eq!(mailpit["ports"][0], "127.0.0.1:1025:1025", "SMTP");
    assert_eq!(mailpit["ports"][1], "127.0.0.1:1080:8025", "the web inbox");
    for (service, settings) in compose["services"].as_object().unwrap() {
        for port in settings["ports"].as_array().into_iter().flatten() {
            let port = port.as_str().unwrap();
            assert!(
                port.starts_with("127.0.0.1:"),
                "{service} publishes {port} beyond loopback"
            );
        }
    }
}

#[test]
fn pgadmin_registers_the_compose_database_with_the_example_credentials() {
    let servers: Value = serde_json::from_str(&read("local/pgadmin-servers.json")).unwrap();
    let server = &servers["Servers"]["1"];
    assert_eq!(server["Host"], "db");
    assert_eq!(server["Port"], 5432);
    assert_eq!(
        server["MaintenanceDB"].as_str().unwrap(),
        env_value(".env.example", "POSTGRES_DB")
    );
    assert_eq!(
        server["Username"].as_str().unwrap(),
        env_value(".env.example", "POSTGRES_USER")
    );
}

#[test]
fn the_example_database_url_points_at_the_local_stack() {
    let url = env_value(".env.example", "DATABASE_URL");
    let expected = format!(
        "postgres://{}:{}@localhost:5002/{}",
        env_value(".env.example", "POSTGRES_USER"),
        env_value(".env.example", "POSTGRES_PASSWORD"),
        env_value(".env.example", "POSTGRES_DB"),
    );
    assert_eq!(url, expected);
    assert_eq!(
        env_value(".env.example", "JWT_SECRET_KEY"),
        "",
        "no shared default secret is shipped"
    );
    assert_eq!(
        env_value(".env.pgadmin.example", "PGADMIN_DEFAULT_PASSWORD"),
        "",
        "no shared default password"
    );
}

#[tokio::test]
async fn every_configuration_variable_is_in_env_example_and_the_readme() {
    let example: Vec<String> = env_file(".env.example")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let readme = read("README.md");
    let variables = auth::config::variables().await;
    assert!(variables.contains("DATABASE_URL"), "{variables:?}");
    for variable in variables.iter().chain(&["RUST_LOG"]) {
        assert!(
            example.iter().any(|k| k == variable),
            ".env.example lacks {variable}"
        );
        assert!(
            readme.contains(&format!("| `{variable}` |")),
            "the README's configuration table lacks {variable}"
        );
    }
}

/// `docker compose` (v2 plugin) or `docker-compose` (v1), whichever this machine has.
fn compose_command() -> Option<Vec<&'static str>> {
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if works("docker", &["compose", "version"]) {
        Some(vec!["docker", "compose"])
    } else if works("docker-compose", &["version"]) {
        Some(vec!["docker-compose"])
    } else {
        None
    }
}

#[test]
fn docker_compose_config_accepts_the_file() {
    let docker_client = Command::new("docker").arg("--version").output().is_ok();
    let Some(command) = compose_command() else {
        assert!(
            !docker_client,
            "the docker client is here but neither `docker compose` nor `docker-compose` is: \
             install one (Debian: apt-get install docker-compose) so the compose file can be checked"
        );
        eprintln!("no docker client on this machine: compose validation skipped");
        return;
    };
    // A scratch project holding what compose reads, as a fresh clone has it after `make dev`.
    let dir = std::env::temp_dir().join(format!("compose-check-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("local")).unwrap();
    std::fs::copy(
        repo_file("docker-compose.yml"),
        dir.join("docker-compose.yml"),
    )
    .unwrap();
    std::fs::copy(
        repo_file("local/pgadmin-servers.json"),
        dir.join("local/pgadmin-servers.json"),
    )
    .unwrap();
    std::fs::copy(repo_file(".env.pgadmin.example"), dir.join(".env.pgadmin")).unwrap();
    std::fs::copy(repo_file(".env.example"), dir.join("local.env")).unwrap();

    let output = Command::new(command[0])
        .args(&command[1..])
        .args(["--env-file", "local.env", "config"])
        .current_dir(&dir)
        .output()
        .expect("compose runs");
    std::fs::remove_dir_all(&dir).unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{} config failed: {}",
        command.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("POSTGRES_USER: auth"),
        "credentials come from the env file:\n{stdout}"
    );
}
