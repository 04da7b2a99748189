//! Where things are (the workspace, its target directory, the artifacts), children run in the
//! foreground, and the signals that make the harness clean up instead of dying mid-run.

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use testkit::process::INTERRUPTED;

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
        let output = testkit::process::command("cargo")
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
    /// [`testkit::process::command`]).
    pub fn command(&self, program: &str) -> Command {
        let mut command = testkit::process::command(program);
        command.current_dir(&self.root);
        command
    }
}

/// The child the harness waits for in the foreground, to pass a SIGTERM on to.
static FOREGROUND: AtomicU32 = AtomicU32::new(0);

/// Runs `command` in the foreground (the terminal's process group, so Ctrl-C reaches it too)
/// and waits for it.
pub fn run_foreground(command: &mut Command) -> anyhow::Result<ExitStatus> {
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    FOREGROUND.store(child.id(), Ordering::SeqCst);
    let status = child.wait();
    FOREGROUND.store(0, Ordering::SeqCst);
    Ok(status?)
}

/// [`run_foreground`], failing unless the command succeeds.
pub fn run_checked(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = run_foreground(command)?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Catches SIGINT, SIGTERM and SIGHUP, so the harness stops its servers and drops its databases
/// before exiting instead of dying with them still running.
///
/// A handler thread sets [`INTERRUPTED`]: waits give up, suites stop being started, and guards
/// drop on the way out. The foreground child gets the signal too (SIGINT as SIGINT, the others as
/// SIGTERM): a terminal's Ctrl-C reaches it anyway, but a signal sent to the harness alone would
/// not. Children start with the default handlers (exec resets caught signals) and an untouched
/// signal mask.
pub fn handle_signals() -> anyhow::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("==> signal {signal}: stopping, cleaning up");
            let child = i32::try_from(FOREGROUND.load(Ordering::SeqCst)).unwrap_or(0);
            // 0 is "no child" (and kill(0) would signal our own group): never sent.
            if child > 0 {
                let forwarded = if signal == SIGINT {
                    Signal::SIGINT
                } else {
                    Signal::SIGTERM
                };
                let _ = kill(Pid::from_raw(child), forwarded);
            }
        }
    });
    Ok(())
}
