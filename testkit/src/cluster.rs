//! PostgreSQL clusters of the harness's own, made from the machine's server binaries (initdb,
//! pg_ctl): a throwaway [`Cluster`] for the tests (temporary directory, free loopback port,
//! deleted on drop) and a [`PersistentCluster`] for `make dev` (kept in `.local/pg`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, bail};
use uuid::Uuid;

use crate::ports::free_port;

/// The newest PostgreSQL server binaries: Debian keeps them off PATH, under
/// `/usr/lib/postgresql/<major>/bin`; elsewhere they are on PATH or in `/usr/local/pgsql/bin`.
pub fn server_bindir() -> anyhow::Result<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_server(&bin).then_some((major, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Ok(bin);
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/local/pgsql/bin")])
        .find(|dir| has_server(dir))
        .context(
            "no PostgreSQL server binaries (initdb, pg_ctl) found: install them (Debian/Ubuntu: \
             apt-get install postgresql; macOS: brew install postgresql@16)",
        )
}

/// Whether this process runs as root, where PostgreSQL refuses to run: its programs then run as
/// the `postgres` system user.
pub fn running_as_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// A PostgreSQL program from `bindir`, run as `postgres` when we are root.
fn pg_command(bindir: &Path, program: &str) -> Command {
    let program = bindir.join(program);
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Runs a command to completion, failing with its output when it fails.
fn run_checked(command: &mut Command) -> anyhow::Result<Output> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

/// Hands a path we created to the `postgres` user when we are root, so the server may use it.
fn give_to_postgres(path: &Path) -> anyhow::Result<()> {
    if running_as_root() {
        let user = nix::unistd::User::from_name("postgres")
            .context("looking up the postgres user")?
            .context(
                "running as root and there is no `postgres` user to run PostgreSQL as \
                 (PostgreSQL refuses to run as root)",
            )?;
        std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
            .with_context(|| format!("chown postgres {}", path.display()))?;
    }
    Ok(())
}

/// `value` quoted for the shell pg_ctl starts the server with (`-o` is a shell word list).
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// A temporary file holding a password for initdb's `--pwfile`, readable by the server's user
/// only, deleted when dropped: the password never appears on a command line.
struct PasswordFile(PathBuf);

impl PasswordFile {
    fn new(path: PathBuf, password: &str) -> anyhow::Result<PasswordFile> {
        let file = PasswordFile(path);
        fs::write(&file.0, format!("{password}\n"))?;
        fs::set_permissions(&file.0, fs::Permissions::from_mode(0o600))?;
        give_to_postgres(&file.0)?;
        Ok(file)
    }
}

impl Drop for PasswordFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// `pg_stat_statements` when the server package ships it: the benchmark counts the statements
/// each request runs with it, and it can only be loaded at server start.
fn preload_option(bindir: &Path) -> String {
    let pkglibdir = Command::new(bindir.join("pg_config"))
        .arg("--pkglibdir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
        .unwrap_or_else(|| bindir.join("../lib"));
    if pkglibdir.join("pg_stat_statements.so").is_file() {
        " -c shared_preload_libraries=pg_stat_statements".to_owned()
    } else {
        String::new()
    }
}

/// `postgres --version` of these binaries, for the log line saying what was started.
fn server_version(bindir: &Path) -> String {
    Command::new(bindir.join("postgres"))
        .arg("--version")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_else(|_| "PostgreSQL".to_owned())
}

/// A throwaway cluster: initdb into a temporary directory, started on a free loopback port,
/// stopped and deleted when dropped.
///
/// Passwords are checked over TCP (scram-sha-256), as on RDS: the credential-rotation tests rely
/// on it. The superuser `postgres` gets a random password that lives only in [`Cluster::url`].
/// Unix sockets live in the cluster's own directory, so nothing is shared with other clusters.
pub struct Cluster {
    bindir: PathBuf,
    dir: PathBuf,
    port: u16,
    password: String,
    /// Served with TLS (besides plain TCP) under a throwaway CA's certificate, whose PEM is here.
    root_certificate: Option<PathBuf>,
}

impl Cluster {
    /// Creates and starts a cluster; fails with initdb's or the server's log when it cannot.
    pub fn start() -> anyhow::Result<Cluster> {
        Cluster::create(false)
    }

    /// [`Cluster::start`], also serving TLS with a certificate for `localhost` and `127.0.0.1`
    /// from a throwaway CA ([`crate::tls`]), listening on `localhost`: a client that trusts
    /// [`Cluster::root_certificate`] alone can connect with `verify-full`. Plain TCP still works
    /// (the harness's own connections).
    pub fn start_with_tls() -> anyhow::Result<Cluster> {
        Cluster::create(true)
    }

    /// The PEM of the CA the server's certificate chains to, when served with TLS.
    pub fn root_certificate(&self) -> Option<&Path> {
        self.root_certificate.as_deref()
    }

    /// The server's certificate and key (PEM, for `localhost` and `127.0.0.1`), when served with
    /// TLS: another loopback server may serve them too (the benchmark's moto).
    pub fn server_certificate(&self) -> Option<(PathBuf, PathBuf)> {
        self.root_certificate
            .is_some()
            .then(|| (self.dir.join("server.crt"), self.dir.join("server.key")))
    }

    fn create(tls: bool) -> anyhow::Result<Cluster> {
        let bindir = server_bindir()?;
        let dir = std::env::temp_dir().join(format!("testkit-pg-{}", Uuid::new_v4().simple()));
        fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        // From here on, dropping `cluster` deletes the directory, whatever fails next.
        let mut cluster = Cluster {
            bindir,
            dir,
            port: 0,
            password: Uuid::new_v4().simple().to_string(),
            root_certificate: None,
        };
        fs::set_permissions(&cluster.dir, fs::Permissions::from_mode(0o700))?;
        give_to_postgres(&cluster.dir)?;
        if tls {
            cluster.root_certificate = Some(cluster.write_certificates()?);
        }
        {
            let pwfile = PasswordFile::new(cluster.dir.join("pwfile"), &cluster.password)?;
            run_checked(
                cluster
                    .command("initdb")
                    .arg("-D")
                    .arg(cluster.data_dir())
                    .args(["-U", "postgres"])
                    .arg(format!("--pwfile={}", pwfile.0.display()))
                    .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
                    .args(["-E", "UTF8", "--no-sync"]),
            )
            .context("initdb of the throwaway cluster")?;
        }
        // The free port may be taken between the check and the start: try another one then.
        for _ in 0..8 {
            cluster.port = free_port()?;
            if cluster.pg_ctl_start()? {
                return Ok(cluster);
            }
        }
        bail!(
            "the throwaway PostgreSQL did not start: {}",
            cluster.server_log()
        )
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser's (random) password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The superuser's connection to `dbname` over TCP, with the password.
    pub fn url(&self, dbname: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .password(self.password.as_str())
            .dbname(dbname);
        config
    }

    /// [`Cluster::url`] of the `postgres` database as a `postgres://` URL, for `TEST_DATABASE_URL`
    /// (the password is hexadecimal, so nothing needs escaping).
    pub fn admin_url(&self) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/postgres",
            self.password, self.port
        )
    }

    /// What was started, for a log line.
    pub fn describe(&self) -> String {
        format!(
            "{} on 127.0.0.1:{}",
            server_version(&self.bindir),
            self.port
        )
    }

    /// Kills the server the way a crash or a failover does: no clean shutdown, sessions cut.
    pub fn stop_immediately(&self) -> anyhow::Result<()> {
        run_checked(&mut self.pg_ctl_stop())?;
        Ok(())
    }

    /// Starts the server again after a stop, on the same port.
    pub fn start_again(&self) -> anyhow::Result<()> {
        if !self.pg_ctl_start()? {
            bail!(
                "the throwaway PostgreSQL did not restart: {}",
                self.server_log()
            );
        }
        Ok(())
    }

    /// The server's log so far.
    pub fn server_log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Writes a new CA's certificate (readable by anyone: the clients run as other users), and
    /// the server's certificate and key (the server's user's alone, as PostgreSQL demands);
    /// returns the CA's path.
    fn write_certificates(&self) -> anyhow::Result<PathBuf> {
        let generated = crate::tls::ServerCertificate::generate()?;
        let ca = self.dir.join("ca.pem");
        fs::write(&ca, &generated.ca_pem)?;
        fs::set_permissions(&ca, fs::Permissions::from_mode(0o644))?;
        for (name, pem) in [
            ("server.crt", &generated.certificate_pem),
            ("server.key", &generated.key_pem),
        ] {
            let path = self.dir.join(name);
            fs::write(&path, pem)?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
            give_to_postgres(&path)?;
        }
        Ok(ca)
    }

    fn command(&self, program: &str) -> Command {
        pg_command(&self.bindir, program)
    }

    /// Starts the server on `self.port`; false when it did not come up (the port was taken).
    fn pg_ctl_start(&self) -> anyhow::Result<bool> {
        // Durability is pointless for a throwaway cluster (only the server is ever killed, never
        // the machine, so committed rows still survive an immediate stop); the tests run in
        // parallel, each with its own pool, hence the connections.
        let mut options = format!(
            "-p {} -k {} -c max_connections=400 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off{}",
            self.port,
            shell_quote(&self.dir.to_string_lossy()),
            preload_option(&self.bindir)
        );
        if self.root_certificate.is_some() {
            let file = |name: &str| shell_quote(&self.dir.join(name).to_string_lossy());
            options.push_str(&format!(
                " -c listen_addresses=localhost -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                file("server.crt"),
                file("server.key")
            ));
        } else {
            options.push_str(" -c listen_addresses=127.0.0.1");
        }
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "start", "-o", &options])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .context("running pg_ctl start")?;
        Ok(status.success())
    }

    fn pg_ctl_stop(&self) -> Command {
        let mut command = self.command("pg_ctl");
        command
            .arg("-D")
            .arg(self.data_dir())
            .args(["-w", "stop", "-m", "immediate"]);
        command
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Fails harmlessly when the server is already down (a test that failed mid-outage).
        let _ = self
            .pg_ctl_stop()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Who owns the persistent cluster's data, and which database `make dev` works in.
pub struct Credentials<'a> {
    pub user: &'a str,
    pub password: &'a str,
    pub database: &'a str,
}

/// A cluster that outlives the harness: `make dev` creates it once in `.local/pg`, starts it when
/// it is not running, and `make down` stops it. Nothing is deleted; dropping it does nothing.
pub struct PersistentCluster {
    bindir: PathBuf,
    data_dir: PathBuf,
    port: u16,
}

impl PersistentCluster {
    /// The cluster in `data_dir` (created by [`PersistentCluster::start`] if missing), served on
    /// `localhost:port`.
    pub fn new(data_dir: &Path, port: u16) -> anyhow::Result<PersistentCluster> {
        let data_dir = std::path::absolute(data_dir)?;
        Ok(PersistentCluster {
            bindir: server_bindir()?,
            data_dir,
            port,
        })
    }

    /// Its data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Whether a cluster was ever created there.
    pub fn exists(&self) -> bool {
        self.data_dir.join("PG_VERSION").is_file()
    }

    /// Whether its server is running (`pg_ctl status`).
    pub fn is_running(&self) -> bool {
        self.exists()
            && pg_command(&self.bindir, "pg_ctl")
                .arg("status")
                .arg("-D")
                .arg(&self.data_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
    }

    /// The port the running server listens on (line 4 of `postmaster.pid`).
    fn running_port(&self) -> Option<u16> {
        let pid_file = fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    /// Creates the cluster with `credentials` when it does not exist, starts it when it is not
    /// running, and creates the database when it is missing.
    pub fn start(&self, credentials: &Credentials) -> anyhow::Result<()> {
        if !self.exists() {
            self.create(credentials)?;
        }
        if self.is_running() {
            match self.running_port() {
                Some(port) if port != self.port => bail!(
                    "the PostgreSQL in {} is already running on port {port}, not {}: stop it \
                     with `make down`, or set POSTGRES_PORT={port}",
                    self.data_dir.display(),
                    self.port
                ),
                _ => {}
            }
        } else {
            // TCP only (no Unix socket, whose path would be limited to ~100 bytes), on loopback,
            // with the password checked as in AWS.
            let options = format!(
                "-p {} -c listen_addresses=localhost -c unix_socket_directories=''{}",
                self.port,
                preload_option(&self.bindir)
            );
            let started = pg_command(&self.bindir, "pg_ctl")
                .arg("-D")
                .arg(&self.data_dir)
                .arg("-l")
                .arg(self.data_dir.join("server.log"))
                .args(["-w", "-t", "60", "start", "-o", &options])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .status()
                .context("running pg_ctl start")?;
            if !started.success() {
                bail!(
                    "PostgreSQL in {} did not start on port {}: {}",
                    self.data_dir.display(),
                    self.port,
                    fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
                );
            }
        }
        let mut admin = tokio_postgres::Config::new();
        admin
            .host("127.0.0.1")
            .port(self.port)
            .user(credentials.user)
            .password(credentials.password)
            .dbname("postgres");
        crate::database::block_on(crate::database::ensure_database(
            &admin,
            credentials.database,
        ))
    }

    /// Stops the server (`pg_ctl stop -m fast`: sessions end, data is kept); false when it was
    /// not running.
    pub fn stop(&self) -> anyhow::Result<bool> {
        if !self.is_running() {
            return Ok(false);
        }
        run_checked(
            pg_command(&self.bindir, "pg_ctl")
                .arg("-D")
                .arg(&self.data_dir)
                .args(["-w", "stop", "-m", "fast"]),
        )?;
        Ok(true)
    }

    /// What runs, for a log line.
    pub fn describe(&self) -> String {
        format!(
            "{} on localhost:{} (data in {})",
            server_version(&self.bindir),
            self.port,
            self.data_dir.display()
        )
    }

    fn create(&self, credentials: &Credentials) -> anyhow::Result<()> {
        fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating {}", self.data_dir.display()))?;
        fs::set_permissions(&self.data_dir, fs::Permissions::from_mode(0o700))?;
        give_to_postgres(&self.data_dir)?;
        let mut pwfile_path = self.data_dir.clone().into_os_string();
        pwfile_path.push(".pwfile");
        let pwfile = PasswordFile::new(pwfile_path.into(), credentials.password)?;
        run_checked(
            pg_command(&self.bindir, "initdb")
                .arg("-D")
                .arg(&self.data_dir)
                .args(["-U", credentials.user])
                .arg(format!("--pwfile={}", pwfile.0.display()))
                .args(["--auth-local=scram-sha-256", "--auth-host=scram-sha-256"])
                .args(["-E", "UTF8"]),
        )
        .with_context(|| format!("initdb of {}", self.data_dir.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
