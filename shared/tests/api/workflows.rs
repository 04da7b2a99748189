//! The GitHub workflow's supply chain, held by a test: the job that can assume the AWS role
//! installs only hash-pinned packages, RustSec advisories gate the deploy, and only a push to
//! `main` deploys, in the `production` environment.

use serde_yaml_ng::Value;

const WORKSPACE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn workflow() -> Value {
    let text = std::fs::read_to_string(format!("{WORKSPACE_DIR}/.github/workflows/ci.yml"))
        .expect("the CI workflow");
    serde_yaml_ng::from_str(&text).expect("the workflow is YAML")
}

fn jobs(workflow: &Value) -> Vec<(String, &Value)> {
    workflow["jobs"]
        .as_mapping()
        .expect("jobs")
        .iter()
        .map(|(name, job)| (name.as_str().unwrap().to_owned(), job))
        .collect()
}

fn scripts(job: &Value) -> Vec<&str> {
    job["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .filter_map(|step| step["run"].as_str())
        .collect()
}

/// The `local/requirements/*.txt` files a script names.
fn requirement_files(script: &str) -> Vec<String> {
    script
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("local/requirements/"))
        .map(|file| format!("{WORKSPACE_DIR}/local/requirements/{file}"))
        .collect()
}

#[test]
fn jobs_that_can_assume_the_aws_role_install_only_hash_pinned_packages() {
    let workflow = workflow();
    let credentialed: Vec<_> = jobs(&workflow)
        .into_iter()
        .filter(|(_, job)| job["permissions"]["id-token"].as_str() == Some("write"))
        .collect();
    assert!(
        !credentialed.is_empty(),
        "the deploy job has id-token: write"
    );
    for (name, job) in credentialed {
        for script in scripts(job) {
            if !script.contains("pip install") {
                continue;
            }
            assert!(
                script.contains("--require-hashes"),
                "{name}: pip installs without --require-hashes:\n{script}"
            );
            let files = requirement_files(script);
            assert!(!files.is_empty(), "{name}: installs from requirement files");
            for file in files {
                let text = std::fs::read_to_string(&file).unwrap();
                let pins: Vec<&str> = text
                    .lines()
                    .filter(|line| !line.starts_with('#') && line.contains("=="))
                    .collect();
                assert!(!pins.is_empty(), "{file}");
                for pin in pins {
                    assert!(
                        pin.trim_end().ends_with('\\'),
                        "{file}: {pin} has no --hash"
                    );
                }
            }
        }
        for script in scripts(job) {
            for forbidden in ["cargo install", "npm install", "| sh", "| bash"] {
                assert!(
                    !script.contains(forbidden),
                    "{name}: `{forbidden}` runs unpinned code in a job with AWS credentials"
                );
            }
        }
    }
}

#[test]
fn rustsec_advisories_are_checked_and_gate_the_deploy() {
    let workflow = workflow();
    let jobs = jobs(&workflow);
    let advisories: Vec<_> = jobs
        .iter()
        .filter(|(_, job)| {
            scripts(job)
                .iter()
                .any(|script| script.contains("cargo deny check") && script.contains("advisories"))
        })
        .map(|(name, _)| name.clone())
        .collect();
    assert_eq!(advisories.len(), 1, "one job checks the advisories");
    let (_, deploy) = jobs.iter().find(|(name, _)| name == "deploy").unwrap();
    let needs: Vec<&str> = deploy["needs"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|need| need.as_str().unwrap())
        .collect();
    assert!(needs.contains(&advisories[0].as_str()), "{needs:?}");
    assert!(
        workflow["on"]["schedule"].is_sequence(),
        "a daily run catches advisories published after the last push"
    );
}

#[test]
fn only_a_push_to_main_deploys_and_only_in_the_production_environment() {
    let workflow = workflow();
    let jobs = jobs(&workflow);
    for (name, job) in &jobs {
        let deploys = scripts(job).iter().any(|s| s.contains("sam deploy"));
        let credentialed = job["permissions"]["id-token"].as_str() == Some("write");
        if !(deploys || credentialed) {
            continue;
        }
        assert_eq!(
            job["if"].as_str(),
            Some("github.event_name == 'push' && github.ref == 'refs/heads/main'"),
            "{name}"
        );
        assert_eq!(
            job["environment"]["name"].as_str(),
            Some("production"),
            "{name}"
        );
    }
    let header =
        std::fs::read_to_string(format!("{WORKSPACE_DIR}/.github/workflows/ci.yml")).unwrap();
    assert!(
        header.contains("\"Selected branches: main\""),
        "the documented setup restricts the production environment to main"
    );
}
