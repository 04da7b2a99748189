//! Where the checkout is: its root (Cargo.toml, Makefile, local/), Cargo's target directory and
//! the artifacts a CI run keeps, as `cargo metadata` reports them.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The checkout the harness works on.
pub struct Workspace {
    /// The workspace root (where Cargo.toml, Makefile and local/ are).
    pub root: PathBuf,
    /// Cargo's target directory (`CARGO_TARGET_DIR` or `<root>/target`).
    pub target: PathBuf,
}

impl Workspace {
    /// The workspace of the current directory, as `cargo metadata` sees it.
    pub fn locate() -> anyhow::Result<Workspace> {
        let output = crate::process::command("cargo")
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .stderr(Stdio::inherit())
            .output()
            .context("running cargo metadata")?;
        if !output.status.success() {
            bail!("cargo metadata failed ({})", output.status);
        }
        let metadata: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("cargo metadata is not JSON")?;
        let path = |key: &str| {
            metadata[key]
                .as_str()
                .map(PathBuf::from)
                .with_context(|| format!("cargo metadata has no {key}"))
        };
        Ok(Workspace {
            root: path("workspace_root")?,
            target: path("target_directory")?,
        })
    }

    /// `target/artifacts/` of the checkout: reports, logs and screenshots a CI run keeps (the
    /// browser test writes there too, whatever the target directory).
    pub fn artifacts(&self) -> PathBuf {
        self.root.join("target").join("artifacts")
    }

    /// A command run from the workspace root, without `cargo run`'s variables (see
    /// [`crate::process::command`]).
    pub fn command(&self, program: &str) -> Command {
        let mut command = crate::process::command(program);
        command.current_dir(&self.root);
        command
    }
}
