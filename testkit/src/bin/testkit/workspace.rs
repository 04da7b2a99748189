//! Children run in the foreground, and the signals that make the harness clean up instead of
//! dying mid-run; [`Workspace`] (where things are) comes from the library.

use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use signal_hook::consts::SIGINT;
pub use testkit::workspace::Workspace;

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
/// before exiting instead of dying with them still running (see
/// [`testkit::process::catch_stop_signals`]).
///
/// The foreground child gets the signal too (SIGINT as SIGINT, the others as SIGTERM): a
/// terminal's Ctrl-C reaches it anyway, but a signal sent to the harness alone would not.
pub fn handle_signals() -> anyhow::Result<()> {
    testkit::process::catch_stop_signals(|signal| {
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
    })
}
