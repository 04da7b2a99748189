//! The `auth` crate's layers point down: every path into the crate (`use crate::…` or an inline
//! `crate::…`) in a module's code names a module of a lower layer, so there is no import circle
//! and the request's path reads top to bottom (the table is the one in `shared/src/lib.rs`).
//! Doc comments may point anywhere, and unit tests may use anything.

use std::collections::BTreeMap;
use std::path::Path;

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Every module of the crate and its layer: a module may use only modules of lower layers.
const LAYERS: &[(&str, u8)] = &[
    ("error", 0),
    ("tls", 0),
    ("aws", 1),
    ("telemetry", 0),
    ("pages", 0),
    ("emails", 2),
    ("domain", 1),
    ("keys", 1),
    ("config", 2),
    ("hashing", 2),
    ("http", 2),
    ("signing_key", 2),
    ("custom_resource", 2),
    ("db", 3),
    ("tokens", 3),
    ("oidc", 3),
    ("store", 4),
    ("mail", 5),
    ("service", 6),
    ("handlers", 7),
    ("janitor", 7),
    ("routes", 8),
    ("lambda", 9),
];

/// The crate module a source file belongs to (`store/refresh.rs` is part of `store`).
fn module_of(path: &Path) -> String {
    let relative = path.strip_prefix(SRC).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_str().unwrap().trim_end_matches(".rs").to_owned()
}

/// The crate modules a file's code names: `crate::x` and `crate::{x, y}`, outside comments and
/// the unit tests at the end of the file.
fn uses(source: &str) -> Vec<String> {
    let code = source.split("#[cfg(test)]").next().unwrap();
    let mut found = Vec::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (i, _) in line.match_indices("crate::") {
            let rest = &line[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = group.split('}').next().unwrap();
                found.extend(
                    group
                        .split(',')
                        .map(|item| item.trim().split("::").next().unwrap().to_owned()),
                );
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                found.push(name);
            }
        }
    }
    found.retain(|name| !name.is_empty() && name.chars().next().unwrap().is_lowercase());
    found
}

fn rust_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_path_into_the_crate_points_down_the_layers() {
    let layers: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    let mut checked = 0;
    let mut upward = Vec::new();
    for file in &files {
        let module = module_of(file);
        if module == "lib" {
            continue;
        }
        let own = *layers
            .get(module.as_str())
            .unwrap_or_else(|| panic!("{module} ({}) is missing from LAYERS", file.display()));
        for used in uses(&std::fs::read_to_string(file).unwrap()) {
            if used == module {
                continue;
            }
            let theirs = *layers
                .get(used.as_str())
                .unwrap_or_else(|| panic!("{}: crate::{used} is not a module", file.display()));
            checked += 1;
            if theirs >= own {
                upward.push(format!(
                    "{} ({module}, layer {own}) uses crate::{used} (layer {theirs})",
                    file.strip_prefix(SRC).unwrap().display()
                ));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} paths found: the scan is broken"
    );
    assert!(
        upward.is_empty(),
        "paths that do not point down:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_scan_sees_each_form_of_path() {
    let source = "use crate::store::{self, Bucket};\nuse crate::{db, hashing};\n\
                  let x = crate::http::json_response(a);\n// crate::lambda in a comment\n\
                  #[cfg(test)]\nmod tests { use crate::routes; }";
    assert_eq!(uses(source), ["store", "db", "hashing", "http"]);
}
