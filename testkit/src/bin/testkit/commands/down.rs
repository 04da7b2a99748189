//! `make down`: stops the PostgreSQL `make dev` started (data is kept): the persistent cluster
//! in `.local/pg`, and docker compose's services when an engine answers.

use std::process::ExitCode;

use testkit::cluster::PersistentCluster;
use testkit::database::docker_engine_answers;

use super::dev::{CLUSTER_DIR, ENV_FILE, Ports};
use crate::workspace::{Workspace, run_checked};

pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    super::no_arguments("down", args)?;
    let workspace = Workspace::locate()?;
    let data_dir = workspace.root.join(CLUSTER_DIR);
    // Only when `make dev` made one: a machine with Docker alone may have no server binaries.
    if data_dir.join("PG_VERSION").is_file() {
        let cluster = PersistentCluster::new(&data_dir, Ports::from_env()?.postgres)?;
        if cluster.stop()? {
            println!("==> stopped the PostgreSQL in {CLUSTER_DIR} (data kept)");
        } else {
            println!("==> the PostgreSQL in {CLUSTER_DIR} was not running");
        }
    }
    if docker_engine_answers() {
        let mut command = workspace.command("docker");
        command.arg("compose");
        if workspace.root.join(ENV_FILE).exists() {
            command.args(["--env-file", ENV_FILE]);
        }
        run_checked(command.arg("down"), "docker compose down")?;
    }
    Ok(ExitCode::SUCCESS)
}
