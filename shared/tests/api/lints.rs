//! Every crate of the workspace forbids `unsafe` twice over: it inherits the workspace lints
//! (`unsafe_code = "forbid"` in `[workspace.lints.rust]`) and its crate root says
//! `#![forbid(unsafe_code)]`, so neither a crate that drops `[lints] workspace = true` nor a
//! change to the workspace table lets `unsafe` in unnoticed.

use std::process::Command;

use serde_json::Value;

const WORKSPACE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// `cargo metadata` of the workspace's own packages: the members as Cargo sees them, so a crate
/// added under `functions/` is checked without being listed here.
fn workspace_packages() -> Vec<Value> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(WORKSPACE_DIR)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata is JSON");
    metadata["packages"]
        .as_array()
        .expect("packages is a list")
        .clone()
}

/// The lines of a TOML `[table]` (up to the next header), trimmed, without comments or blanks;
/// a minimal reader, as no toml crate is in the tree.
fn table_lines(manifest: &str, table: &str) -> Vec<String> {
    let header = format!("[{table}]");
    let mut in_table = false;
    let mut lines = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == header;
        } else if in_table && !line.is_empty() && !line.starts_with('#') {
            lines.push(line.split(" #").next().unwrap().trim().replace(' ', ""));
        }
    }
    lines
}

#[test]
fn the_workspace_forbids_unsafe_code() {
    let manifest = std::fs::read_to_string(format!("{WORKSPACE_DIR}/Cargo.toml")).unwrap();
    let rust_lints = table_lines(&manifest, "workspace.lints.rust");
    assert!(
        rust_lints.contains(&r#"unsafe_code="forbid""#.to_owned()),
        "[workspace.lints.rust] must set unsafe_code = \"forbid\": {rust_lints:?}"
    );
}

#[test]
fn every_crate_inherits_the_workspace_lints_and_forbids_unsafe_in_its_root() {
    let packages = workspace_packages();
    // shared/ plus one crate per function: a much smaller count means metadata went wrong.
    assert!(packages.len() >= 12, "only {} packages", packages.len());
    for package in &packages {
        let name = package["name"].as_str().unwrap();
        let manifest_path = package["manifest_path"].as_str().unwrap();
        let manifest = std::fs::read_to_string(manifest_path).unwrap();
        assert_eq!(
            table_lines(&manifest, "lints"),
            ["workspace=true"],
            "{name} ({manifest_path}): [lints] must be exactly `workspace = true`"
        );
        for target in package["targets"].as_array().unwrap() {
            let kinds: Vec<&str> = target["kind"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            // Crate roots that ship: the library and the binaries (tests and benches inherit the
            // workspace lints all the same).
            if !kinds.iter().any(|kind| ["lib", "bin"].contains(kind)) {
                continue;
            }
            let root = target["src_path"].as_str().unwrap();
            let source = std::fs::read_to_string(root).unwrap();
            // Inner attributes come before any item, after the module docs.
            let attributes: Vec<&str> = source
                .lines()
                .map(str::trim)
                .skip_while(|line| line.starts_with("//!") || line.is_empty())
                .take_while(|line| line.starts_with("#!["))
                .collect();
            assert!(
                attributes.contains(&"#![forbid(unsafe_code)]"),
                "{name}: {root} must open with #![forbid(unsafe_code)] after its //! docs"
            );
        }
    }
}
