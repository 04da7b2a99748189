//! Routing: the stateless endpoints, method checks, the 404 catch-all, and the route table kept in
//! step with the workspace's `cargo lambda watch` router and the `functions/` crates.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use auth::Endpoint;
use lambda_http::http::{Method, StatusCode, header};
use serde_json::json;

use crate::helpers::{TestApp, raw_request};

const WORKSPACE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// One route of the watch router: a path, the method when the path has a function per method,
/// and the function.
type WatchRoute = (String, Option<String>, String);

/// The routes of `[workspace.metadata.lambda.watch.router]` in the workspace manifest: lines
/// `"<path>" = "<function>"`, or `"<path>" = [` with one `{ method = "…", function = "…" },` per
/// line up to `]` (a minimal parser: no toml crate is available).
fn watch_router_table() -> Vec<WatchRoute> {
    let manifest = std::fs::read_to_string(format!("{WORKSPACE_DIR}/Cargo.toml"))
        .expect("the workspace manifest is readable");
    let unquote = |s: &str, line: &str| {
        let s = s.trim();
        s.strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or_else(|| panic!("not a quoted string: {s} in {line}"))
            .to_owned()
    };
    let mut in_table = false;
    let mut found_header = false;
    let mut open_path: Option<String> = None;
    let mut entries = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if let Some(path) = &open_path {
            if line == "]" {
                open_path = None;
                continue;
            }
            let fields: BTreeMap<&str, String> = line
                .trim_end_matches(',')
                .trim_start_matches('{')
                .trim_end_matches('}')
                .split(',')
                .map(|field| {
                    let (key, value) = field
                        .split_once('=')
                        .unwrap_or_else(|| panic!("not key = value: {field} in {line}"));
                    (key.trim(), unquote(value, line))
                })
                .collect();
            entries.push((
                path.clone(),
                Some(fields["method"].clone()),
                fields["function"].clone(),
            ));
            continue;
        }
        if line.starts_with('[') {
            in_table = line == "[workspace.metadata.lambda.watch.router]";
            found_header |= in_table;
            continue;
        }
        if !in_table || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a key = value line: {line}"));
        if value.trim() == "[" {
            open_path = Some(unquote(key, line));
        } else {
            entries.push((unquote(key, line), None, unquote(value, line)));
        }
    }
    assert!(
        found_header,
        "Cargo.toml has a [workspace.metadata.lambda.watch.router] table"
    );
    entries
}

#[tokio::test]
async fn root_says_the_api_is_online() {
    let app = TestApp::spawn().await;

    let response = app
        .call(Endpoint::Root, raw_request(Method::GET, "/", None, ""))
        .await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.body,
        json!({"message": "Welcome to JWT Auth API", "status": "online"})
    );
}

#[tokio::test]
async fn public_needs_no_token() {
    let app = TestApp::spawn().await;

    let response = app
        .call(
            Endpoint::Public,
            raw_request(Method::GET, "/api/public", None, ""),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.body,
        json!({"message": "This is a public endpoint"})
    );
    assert_eq!(response.headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn every_endpoint_answers_a_wrong_method_with_a_json_405() {
    let app = TestApp::spawn().await;
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    for endpoint in Endpoint::ALL {
        let Some(allowed) = endpoint.method() else {
            continue;
        };
        let path = endpoint.path().replace("{token}", "some-token");
        for method in methods.iter().filter(|m| **m != allowed) {
            let response = app
                .call(
                    endpoint,
                    raw_request(method.clone(), &path, Some("application/json"), "{}"),
                )
                .await;
            response.assert_error_because(405, "method_not_allowed", &format!("{method} {path}"));
            assert_eq!(
                response.headers[header::ALLOW],
                allowed.as_str(),
                "{method} {path}"
            );
        }
    }
    assert_eq!(
        app.count("SELECT count(*) FROM users").await,
        0,
        "no handler ran"
    );
}

#[tokio::test]
async fn every_answer_of_every_endpoint_carries_nosniff() {
    // Successes, errors and refusals alike, HTML and JSON: no response may be sniffed.
    let app = TestApp::spawn().await;
    for endpoint in Endpoint::ALL {
        let path = endpoint
            .path()
            .replace("{token}", "some-token")
            .replace("{id}", "some-id")
            .replace("{*proxy}", "nowhere");
        for method in [Method::GET, Method::POST, Method::DELETE] {
            for body in ["", "{}", "{"] {
                let response = app
                    .call_raw(
                        endpoint,
                        raw_request(method.clone(), &path, Some("application/json"), body),
                    )
                    .await;
                assert_eq!(
                    response
                        .headers()
                        .get("x-content-type-options")
                        .map(|v| v.to_str().unwrap()),
                    Some("nosniff"),
                    "{method} {path} {body:?}: {}",
                    response.status()
                );
            }
        }
    }
}

#[tokio::test]
async fn get_on_signup_is_405_not_a_body_error() {
    let app = TestApp::spawn().await;

    let response = app
        .call(
            Endpoint::Signup,
            raw_request(Method::GET, "/api/signup", None, ""),
        )
        .await;

    response.assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn the_catch_all_is_a_json_404_for_any_method() {
    let app = TestApp::spawn().await;
    let cases = [
        (Method::GET, "/nope"),
        (Method::POST, "/api/unknown"),
        (Method::PUT, "/api/signin/extra"),
        (Method::DELETE, "/"),
        (Method::PATCH, "/api"),
        (Method::OPTIONS, "/api/dashboard/x"),
        (Method::HEAD, "/favicon.ico"),
    ];
    for (method, path) in cases {
        let response = app
            .call(
                Endpoint::NotFound,
                raw_request(method.clone(), path, None, ""),
            )
            .await;
        response.assert_error_because(404, "not_found", &format!("{method} {path}"));
    }
}

#[test]
fn every_endpoint_has_a_unique_route_and_function_name() {
    // A path may carry two methods (a provider's callback: GET, or a form's POST), never one
    // method twice.
    let paths: HashSet<(Option<&str>, &str)> = Endpoint::ALL
        .iter()
        .map(|e| (e.method_name(), e.path()))
        .collect();
    let functions: HashSet<&str> = Endpoint::ALL.iter().map(|e| e.function()).collect();
    let variants: HashSet<String> = Endpoint::ALL.iter().map(|e| format!("{e:?}")).collect();

    assert_eq!(paths.len(), Endpoint::ALL.len(), "duplicate route");
    assert_eq!(functions.len(), Endpoint::ALL.len(), "duplicate function");
    assert_eq!(
        variants.len(),
        Endpoint::ALL.len(),
        "an endpoint is listed twice"
    );
    for endpoint in Endpoint::ALL {
        assert!(endpoint.path().starts_with('/'), "{endpoint:?}");
        let function = endpoint.function();
        assert!(
            !function.is_empty() && function.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{endpoint:?}: {function} is a valid crate and binary name"
        );
    }
}

#[test]
fn the_watch_router_table_matches_the_route_table_exactly() {
    let mut table = watch_router_table();
    table.sort();
    let listed = table.len();
    table.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    assert_eq!(table.len(), listed, "a route is listed twice: {table:?}");

    // A path of one endpoint routes every method to its function (which answers 405 for the
    // others); a path shared by endpoints routes each method to its own.
    let shared = |path: &str| Endpoint::ALL.iter().filter(|e| e.path() == path).count() > 1;
    let mut expected: Vec<WatchRoute> = Endpoint::ALL
        .iter()
        .map(|e| {
            let method = shared(e.path()).then(|| e.method_name().unwrap().to_owned());
            (e.path().to_owned(), method, e.function().to_owned())
        })
        .collect();
    expected.sort();

    assert_eq!(table, expected);
}

/// Each endpoint has a crate named after its function, whose `main` runs that endpoint's route,
/// made when the binary is compiled, and does nothing else.
#[test]
fn every_endpoint_has_a_function_crate_wired_to_its_variant() {
    for endpoint in Endpoint::ALL {
        let main = format!(
            "{WORKSPACE_DIR}/functions/{}/src/main.rs",
            endpoint.function()
        );
        assert!(
            Path::new(&main).is_file(),
            "{endpoint:?}: {main} is missing"
        );
        let source = std::fs::read_to_string(&main).unwrap();
        let code: Vec<&str> = source
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("//") && !line.starts_with("#!"))
            .collect();
        let run = format!("auth::lambda::run(const {{ auth::Endpoint::{endpoint:?}.route() }})");
        assert_eq!(
            code,
            [
                "fn main() -> Result<(), auth::lambda::Error> {",
                run.as_str(),
                "}"
            ],
            "{main} runs its own route and nothing else"
        );
        let manifest = format!(
            "{WORKSPACE_DIR}/functions/{}/Cargo.toml",
            endpoint.function()
        );
        let manifest =
            std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{manifest}: {e}"));
        assert!(
            manifest.contains(&format!("name = \"{}\"", endpoint.function())),
            "{endpoint:?}: the crate is named after the function"
        );
    }
}
