//! Supervised child processes (moto, MailDev, the watch server, `make dev`): each in its own
//! process group with its output in a log file, waited for until it is ready, and stopped, group
//! and all, when dropped.

use std::fs::{self, File};
use std::io;
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Set when the harness was asked to stop (Ctrl-C, SIGTERM): waits give up, so every guard
/// runs its `Drop` on the way out instead of the process dying with children still running.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether the harness was asked to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Catches SIGINT, SIGTERM and SIGHUP, so a harness stops its children and drops its databases
/// before exiting instead of dying with them still running; `also` is then called with the
/// signal's number (to pass it on to a foreground child, say).
///
/// A handler thread sets [`INTERRUPTED`]: waits give up, loops stop starting work, and guards
/// drop on the way out. Children start with the default handlers (exec resets caught signals)
/// and an untouched signal mask.
pub fn catch_stop_signals(also: impl Fn(i32) + Send + 'static) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("==> signal {signal}: stopping, cleaning up");
            also(signal);
        }
    });
    Ok(())
}

/// A command for `program` without the variables `cargo run` set for the harness itself
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, ...).
///
/// A cargo started from the harness would otherwise see them: build scripts that watch such a
/// variable (ring's watches `CARGO_MANIFEST_DIR`) then rerun, and everything above them rebuilds,
/// once under the harness and again under a plain `cargo build`.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("CARGO_PKG_")
            || matches!(
                name,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_RUSTC_CURRENT_DIR"
            )
        {
            command.env_remove(name);
        }
    }
    command
}

/// What tells that a child is ready to serve.
pub enum Readiness {
    /// `GET` of this URL (on 127.0.0.1) answers 200.
    Http(String),
    /// Something accepts TCP connections on this loopback port.
    Tcp(u16),
}

/// The status of a plain `GET url`, or `None` when nothing answered.
pub fn http_status(url: &str) -> Option<u16> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    agent
        .get(url)
        .call()
        .ok()
        .map(|response| response.status().as_u16())
}

/// A child process in its own process group, its stdout and stderr appended to a log file.
pub struct Supervised {
    name: String,
    child: Child,
    log: PathBuf,
    /// How long [`Supervised::stop`] waits after SIGTERM before SIGKILL.
    grace: Duration,
    /// Stopped and reaped: its pid may belong to someone else by now, so no more signals.
    stopped: bool,
}

impl Supervised {
    /// Spawns `command` as `name` (for messages), output to `log`, stdin closed.
    ///
    /// Its own process group: a terminal's Ctrl-C does not reach it (the harness stops it, in
    /// order), and a signal to the group reaches the children it starts (the watch server runs
    /// every function as its child).
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> anyhow::Result<Supervised> {
        use std::os::unix::process::CommandExt;

        if let Some(dir) = log.parent() {
            fs::create_dir_all(dir)?;
        }
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}: {command:?}"))?;
        Ok(Supervised {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
            grace: Duration::from_secs(15),
            stopped: false,
        })
    }

    /// How long to wait after SIGTERM before SIGKILL (15 s unless changed).
    pub fn with_grace(mut self, grace: Duration) -> Supervised {
        self.grace = grace;
        self
    }

    /// Its process id, which is also its process group's.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Waits until it is ready, polling twice a second; fails when it exits first (showing the
    /// tail of its log), at the deadline, or when the harness is interrupted.
    pub fn wait_ready(&mut self, readiness: &Readiness, deadline: Duration) -> anyhow::Result<()> {
        self.wait_until(deadline, Duration::from_millis(500), |_| match readiness {
            Readiness::Http(url) => (http_status(url) == Some(200)).then_some(()),
            Readiness::Tcp(port) => TcpStream::connect((Ipv4Addr::LOCALHOST, *port))
                .is_ok()
                .then_some(()),
        })
    }

    /// Waits for the first line of its log that starts with `prefix` and returns the rest of
    /// it (a child that says where it listens, once it does); fails as [`Self::wait_ready`].
    pub fn wait_for_line(&mut self, prefix: &str, deadline: Duration) -> anyhow::Result<String> {
        self.wait_until(deadline, Duration::from_millis(50), |child| {
            let log = fs::read_to_string(&child.log).ok()?;
            log.lines()
                .find_map(|line| line.strip_prefix(prefix))
                .map(str::to_owned)
        })
    }

    /// Polls `probe` every `interval` until it gives a value; fails when the child exits
    /// first (showing the tail of its log), at the deadline, or when the harness is interrupted.
    fn wait_until<T>(
        &mut self,
        deadline: Duration,
        interval: Duration,
        mut probe: impl FnMut(&Self) -> Option<T>,
    ) -> anyhow::Result<T> {
        let started = Instant::now();
        loop {
            if let Some(value) = probe(self) {
                return Ok(value);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited early ({status}); the end of its log ({}):\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail(40)
                );
            }
            if interrupted() {
                bail!("interrupted while waiting for {}", self.name);
            }
            if started.elapsed() > deadline {
                bail!(
                    "{} was not ready within {deadline:?}; the end of its log ({}):\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail(40)
                );
            }
            std::thread::sleep(interval);
        }
    }

    /// Sends `signal` to its whole process group.
    pub fn signal(&self, signal: Signal) -> io::Result<()> {
        let group = Pid::from_raw(self.child.id().try_into().expect("a pid fits in pid_t"));
        match killpg(group, signal) {
            // The group is gone already: nothing left to stop.
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(errno) => Err(io::Error::from(errno)),
        }
    }

    /// Whether any process of its group is still running (the leader may have exited while
    /// children it started live on).
    pub fn group_alive(&self) -> bool {
        let group = Pid::from_raw(self.child.id().try_into().expect("a pid fits in pid_t"));
        killpg(group, None).is_ok()
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if started.elapsed() > timeout {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops it: SIGTERM to the group, then SIGKILL to the group after the grace period. Also
    /// signals the group when the leader already exited, as its children may still run.
    pub fn stop(&mut self) -> io::Result<ExitStatus> {
        self.stop_with(Signal::SIGTERM)
    }

    /// [`Supervised::stop`], starting with `first` (SIGINT, as a Ctrl-C would).
    pub fn stop_with(&mut self, first: Signal) -> io::Result<ExitStatus> {
        if self.stopped {
            return self.child.wait();
        }
        // Exited with its whole group already: nothing to signal (its id may be reused).
        if self.child.try_wait()?.is_some() && !self.group_alive() {
            self.stopped = true;
            return self.child.wait();
        }
        self.signal(first)?;
        let status = match self.wait_timeout(self.grace)? {
            Some(status) => {
                // Whatever of the group outlived its leader goes too.
                let _ = self.signal(Signal::SIGKILL);
                status
            }
            None => {
                self.signal(Signal::SIGKILL)?;
                self.child.wait()?
            }
        };
        self.stopped = true;
        Ok(status)
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        if let Err(error) = self.stop() {
            eprintln!("warning: stopping {}: {error}", self.name);
        }
    }
}
