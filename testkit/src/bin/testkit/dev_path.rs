//! make dev's path, as a suite of `make test`: `make dev` run the way a user runs it, from a
//! copy of the checkout, so the user's own `local/.env`, `.local/pg`, `.local/maildev` and ports
//! 5001/5002/1025/1080/5003 are never touched; then sign-up and sign-in over HTTP, a
//! forgot-password whose email must reach MailDev's inbox, a sign-in through make dev's test
//! OpenID provider as the sign-in page's button starts it, Ctrl-C, and `make down`.
//!
//! The copy holds what git would (tracked and untracked-but-not-ignored files, mtimes kept) plus
//! links to the checkout's `.local/venv` and `local/node_modules`, so bootstrapping installs
//! nothing; `CARGO_TARGET_DIR` is the checkout's target directory, and since the copy's sources
//! keep their mtimes and Cargo hashes workspace paths relative to the workspace root, what
//! `make test` already built is reused rather than rebuilt.

use std::fs::{self, File};
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::Signal;
use serde_json::{Value, json};
use testkit::junit::{self, Case};
use testkit::ports::free_port;
use testkit::process::{Readiness, Supervised};
use uuid::Uuid;

use crate::http::{agent, post_json};
use crate::workspace::Workspace;

/// Long enough for `make dev` to build what it needs when nothing can be reused.
const READY_WITHIN: Duration = Duration::from_secs(20 * 60);
/// How long Ctrl-C may take to stop the watch server and its functions.
const STOP_WITHIN: Duration = Duration::from_secs(20);
/// How long a queued email may take to reach the inbox: make dev runs the janitor every 5 s,
/// and its first run waits for the watch server to build it.
const DELIVERED_WITHIN: Duration = Duration::from_secs(5 * 60);

/// Runs the path, writing one JUnit case per step to `report`; `Err` only when it could not
/// run at all (the copy failed).
pub fn run(workspace: &Workspace, report: &Path, logs: &Path) -> anyhow::Result<()> {
    let copy = Copy::of(workspace)?;
    let [api_port, postgres_port, smtp_port, inbox_port, oidc_port] = distinct_free_ports()?;
    let log = logs.join("dev-path.log");
    println!(
        "==> make dev in {} (API_PORT={api_port}, POSTGRES_PORT={postgres_port}, \
         SMTP_PORT={smtp_port}, INBOX_PORT={inbox_port}, OIDC_PORT={oidc_port}, log: {})",
        copy.dir.display(),
        log.display()
    );
    let environment = |command: &mut Command| {
        command
            .current_dir(&copy.dir)
            .env("CARGO_TARGET_DIR", &workspace.target)
            .env("API_PORT", api_port.to_string())
            .env("POSTGRES_PORT", postgres_port.to_string())
            .env("SMTP_PORT", smtp_port.to_string())
            .env("INBOX_PORT", inbox_port.to_string())
            .env("OIDC_PORT", oidc_port.to_string())
            // A make of its own, as a user's: not a sub-make of `make test`.
            .env_remove("MAKEFLAGS")
            .env_remove("MAKELEVEL")
            .env_remove("MFLAGS");
    };
    let mut cases = Vec::new();

    let mut make_dev = testkit::process::command("make");
    make_dev.arg("dev");
    environment(&mut make_dev);
    let mut dev = Supervised::spawn("make dev", make_dev, &log)?.with_grace(STOP_WITHIN);

    let base_url = format!("http://127.0.0.1:{api_port}");
    let started = Instant::now();
    let ready = dev.wait_ready(
        &Readiness::Http(format!("{base_url}/api/public")),
        READY_WITHIN,
    );
    let seconds = started.elapsed().as_secs_f64();
    println!("==> make dev answered after {seconds:.0}s");
    cases.push(Case::from_result(
        "make dev serves GET /api/public",
        seconds,
        &ready,
    ));
    if ready.is_ok() {
        let started = Instant::now();
        let journey = sign_up_and_in(&base_url, inbox_port);
        let seconds = started.elapsed().as_secs_f64();
        let email = journey.as_ref().ok().cloned();
        cases.push(Case::from_result(
            "sign-up (202), the emailed link (200) and sign-in (200, an access token) over HTTP",
            seconds,
            &journey.map(|_| ()),
        ));
        if let Some(email) = &email {
            let started = Instant::now();
            let admin = admin_finds(&base_url, &copy.dir, email);
            cases.push(Case::from_result(
                "the admin API with the ADMIN_TOKEN make dev generated into local/.env: the \
                 account is found (200); without the token, 401",
                started.elapsed().as_secs_f64(),
                &admin,
            ));
        }
        if let Some(email) = email {
            let started = Instant::now();
            let delivered = reset_email_reaches_the_inbox(&base_url, inbox_port, &email);
            let seconds = started.elapsed().as_secs_f64();
            println!("==> the reset email was in MailDev's inbox after {seconds:.0}s");
            cases.push(Case::from_result(
                "forgot-password: the reset email reaches MailDev's inbox (sent by the janitor)",
                seconds,
                &delivered,
            ));
        }
        let started = Instant::now();
        let provider = provider_sign_in(api_port, oidc_port);
        cases.push(Case::from_result(
            "the sign-in page's Continue with Local: make dev's test provider, back with a code, \
             a session (200)",
            started.elapsed().as_secs_f64(),
            &provider,
        ));
    }

    let started = Instant::now();
    let stopped = interrupt(&mut dev, &[api_port, smtp_port, inbox_port, oidc_port]);
    cases.push(Case::from_result(
        "Ctrl-C stops make dev, its functions and MailDev",
        started.elapsed().as_secs_f64(),
        &stopped,
    ));

    let started = Instant::now();
    let down = make_down(&copy.dir, environment, &log, postgres_port);
    cases.push(Case::from_result(
        "make down stops its PostgreSQL",
        started.elapsed().as_secs_f64(),
        &down,
    ));
    junit::write(report, "make dev's path", &cases)
}

/// `N` loopback ports, free a moment ago and all different.
fn distinct_free_ports<const N: usize>() -> anyhow::Result<[u16; N]> {
    let mut ports = [0; N];
    for i in 0..N {
        ports[i] = loop {
            let port = free_port()?;
            if !ports[..i].contains(&port) {
                break port;
            }
        };
    }
    Ok(ports)
}

/// Signs a new user up, confirms the address with the emailed link (read from MailDev's inbox,
/// as a developer would: a delivered email's body is not kept in the outbox) and signs in; fails
/// unless the answers are 202, 200, then 200 with an access token. Returns the user's email.
fn sign_up_and_in(base_url: &str, inbox_port: u16) -> anyhow::Result<String> {
    let agent = agent();
    let email = format!("dev-path-{}@example.com", Uuid::new_v4().simple());
    let password = format!("dev path passphrase {}", Uuid::new_v4().simple());
    let post = |path: &str, body: Value| post_json(&agent, base_url, path, body);
    let (status, body) = post(
        "/api/signup",
        json!({"name": "Dev Path", "email": email, "password": password}),
    )?;
    if status != 202 {
        bail!("POST /api/signup answered {status}: {body}");
    }
    let confirmation = inbox_message(inbox_port, &email, auth::emails::CONFIRM_SUBJECT)?;
    let text = confirmation["text"].as_str().unwrap_or_default();
    let token = text
        .split_once("/verify-email#")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .with_context(|| format!("the confirmation email holds no /verify-email# link: {text}"))?
        .to_owned();
    let (status, body) = post("/api/verify-email", json!({ "token": token }))?;
    if status != 200 {
        bail!("POST /api/verify-email answered {status}: {body}");
    }
    let (status, body) = post("/api/signin", json!({"email": email, "password": password}))?;
    if status != 200 {
        bail!("POST /api/signin answered {status}: {body}");
    }
    match body["access_token"].as_str() {
        Some(token) if !token.is_empty() => Ok(email),
        _ => bail!("POST /api/signin answered 200 without an access token: {body}"),
    }
}

/// What an operator does locally: `GET /admin/users?email=` with the bearer make dev generated
/// into `local/.env` finds the account; without it the route refuses (401).
fn admin_finds(base_url: &str, dir: &Path, email: &str) -> anyhow::Result<()> {
    let settings = crate::commands::dev::read_env_file(&dir.join("local/.env"))?;
    let token = settings
        .iter()
        .rev()
        .find(|(name, value)| name == "ADMIN_TOKEN" && !value.is_empty())
        .map(|(_, value)| value.clone())
        .context("make dev wrote no ADMIN_TOKEN into local/.env")?;
    if token.len() < 32 {
        bail!("make dev's ADMIN_TOKEN is shorter than 32 bytes");
    }
    let agent = agent();
    let url = format!("{base_url}/admin/users?email={email}");
    let mut found = agent
        .get(&url)
        .header("authorization", format!("Bearer {token}"))
        .call()
        .context("GET /admin/users")?;
    let status = found.status().as_u16();
    let body: Value = found.body_mut().read_json().unwrap_or(Value::Null);
    let emails: Vec<&str> = body["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|user| user["email"].as_str())
        .collect();
    if status != 200 || emails != [email] {
        bail!("GET /admin/users?email={email} with the token answered {status}: {body}");
    }
    let refused = agent.get(&url).call().context("GET /admin/users")?;
    match refused.status().as_u16() {
        401 => Ok(()),
        status => bail!("GET /admin/users without the token answered {status}"),
    }
}

/// What "Continue with Local" on make dev's sign-in page does, over HTTP: the page offers the
/// provider, authorize sends the browser to make dev's test provider on `oidc_port`, someone
/// new signs in there, the callback sends them back to the page with a one-time code, and the
/// code with the page's verifier opens a session at `amr: ["oidc"]`.
fn provider_sign_in(api_port: u16, oidc_port: u16) -> anyhow::Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    // The pages and the provider's callback live at http://localhost:API_PORT (API_PUBLIC_URL);
    // requests go to 127.0.0.1, where the watch server listens.
    let base_url = format!("http://127.0.0.1:{api_port}");
    let page = agent
        .get(format!("{base_url}/signin"))
        .call()?
        .body_mut()
        .read_to_string()?;
    if !page.contains(r#"data-provider="local""#) {
        bail!("the sign-in page has no Continue with Local button");
    }
    let (verifier, challenge) = testkit::oidc::app_pkce();
    let redirect_to = format!("http://localhost:{api_port}/signin");
    let authorize = agent
        .get(format!("{base_url}/api/oauth/local/authorize"))
        .query("redirect_to", &redirect_to)
        .query("code_challenge", &challenge)
        .query("code_challenge_method", "S256")
        .call()?;
    let at_provider = location(&authorize, "authorize")?;
    if !at_provider.starts_with(&format!("http://127.0.0.1:{oidc_port}/")) {
        bail!("authorize sent the browser to {at_provider}, not make dev's test provider");
    }
    let sub = format!("dev-path-{}", Uuid::new_v4().simple());
    let email = format!("{sub}@example.com");
    let query = testkit::oidc::sign_in_at_provider(
        &at_provider,
        &format!("http://localhost:{api_port}/api/oauth/local/callback"),
        &[
            ("login", sub.as_str()),
            ("email", email.as_str()),
            ("email_verified", "true"),
            ("name", "Dev Path"),
            ("amr", "pwd"),
        ],
    )?;
    let callback = agent
        .get(format!("{base_url}/api/oauth/local/callback"))
        .query_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .call()?;
    let back = location(&callback, "the callback")?;
    let code = back
        .strip_prefix(&format!("{redirect_to}?code="))
        .with_context(|| format!("the callback sent the browser to {back}, not the page"))?;
    let (status, body) = post_json(
        &agent,
        &base_url,
        "/api/oauth/token",
        json!({"code": code, "code_verifier": verifier}),
    )?;
    if status != 200 || body["user"]["email"] != email.as_str() {
        bail!("POST /api/oauth/token answered {status}: {body}");
    }
    Ok(())
}

/// A 302's `Location`, or why there is none.
fn location(response: &ureq::http::Response<ureq::Body>, what: &str) -> anyhow::Result<String> {
    match response.headers().get("location") {
        Some(location) if response.status() == 302 => Ok(location.to_str()?.to_owned()),
        _ => bail!("{what} answered {} without a redirect", response.status()),
    }
}

/// Asks for a password reset for `email`, then polls MailDev's API (`GET /email`) until the
/// reset email is there, as a developer would find it in the inbox: from make dev's sender, with
/// a link to make dev's reset page.
fn reset_email_reaches_the_inbox(
    base_url: &str,
    inbox_port: u16,
    email: &str,
) -> anyhow::Result<()> {
    let agent = agent();
    let mut response = agent
        .post(format!("{base_url}/api/forgot-password"))
        .send_json(json!({ "email": email }))
        .context("POST /api/forgot-password")?;
    let status = response.status().as_u16();
    if status != 200 {
        let body = response.body_mut().read_to_string().unwrap_or_default();
        bail!("POST /api/forgot-password answered {status}: {body}");
    }
    let message = inbox_message(inbox_port, email, auth::emails::RESET_SUBJECT)?;
    let text = message["text"].as_str().unwrap_or_default();
    let link = format!("{base_url}/reset-password#").replace("127.0.0.1", "localhost");
    if !text.contains(&link) {
        bail!("the reset email holds no link to {link}: {message}");
    }
    if message["from"][0]["address"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        bail!("the reset email has no sender: {message}");
    }
    Ok(())
}

/// Polls MailDev's API (`GET /email`) until an email to `email` with `subject` is there, and
/// returns it.
fn inbox_message(inbox_port: u16, email: &str, subject: &str) -> anyhow::Result<Value> {
    let agent = agent();
    let inbox = format!("http://127.0.0.1:{inbox_port}/email");
    let started = Instant::now();
    let mut seen = Value::Null;
    while started.elapsed() < DELIVERED_WITHIN {
        if testkit::process::interrupted() {
            bail!("interrupted while waiting for the email \"{subject}\"");
        }
        if let Ok(mut answer) = agent.get(&inbox).call()
            && answer.status() == 200
        {
            seen = answer
                .body_mut()
                .read_json::<Value>()
                .unwrap_or(Value::Null);
            let found = seen.as_array().into_iter().flatten().find(|message| {
                message["to"][0]["address"].as_str() == Some(email)
                    && message["subject"].as_str() == Some(subject)
            });
            if let Some(message) = found {
                return Ok(message.clone());
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    bail!(
        "no email \"{subject}\" to {email} in MailDev's inbox ({inbox}) within \
         {DELIVERED_WITHIN:?}; it holds: {seen}"
    )
}

/// Ctrl-C as a terminal sends it (SIGINT to the whole process group), then SIGTERM if that was
/// not enough; passes only if SIGINT alone stopped everything (MailDev, in a process group of
/// its own, included) and freed the ports.
fn interrupt(dev: &mut Supervised, ports: &[u16]) -> anyhow::Result<()> {
    dev.signal(Signal::SIGINT)?;
    let after_interrupt = dev.wait_timeout(STOP_WITHIN)?;
    let group_gone = after_interrupt.is_some() && wait_until(STOP_WITHIN, || !dev.group_alive());
    // SIGTERM, then SIGKILL, to whatever is left; nothing is signalled when all is gone.
    dev.stop_with(Signal::SIGTERM)?;
    if !group_gone {
        bail!(
            "make dev (or one of its children) was still running {STOP_WITHIN:?} after SIGINT; \
             the end of its log:\n{}",
            dev.log_tail(20)
        );
    }
    for port in ports {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, *port)).is_ok() {
            bail!("port {port} still accepts connections after make dev stopped");
        }
    }
    Ok(())
}

/// Runs `make down` in the copy, then checks its cluster is stopped and its port closed.
fn make_down(
    dir: &Path,
    environment: impl Fn(&mut Command),
    log: &Path,
    postgres_port: u16,
) -> anyhow::Result<()> {
    let out = File::options().append(true).create(true).open(log)?;
    let mut command = testkit::process::command("make");
    command.arg("down");
    environment(&mut command);
    let status = command
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .status()
        .context("running make down")?;
    if !status.success() {
        bail!("make down failed ({status}); see the log");
    }
    if dir.join(".local/pg/postmaster.pid").exists() {
        bail!("the cluster in .local/pg still has a postmaster.pid after make down");
    }
    if !wait_until(Duration::from_secs(10), || {
        TcpStream::connect((Ipv4Addr::LOCALHOST, postgres_port)).is_err()
    }) {
        bail!("port {postgres_port} still accepts connections after make down");
    }
    Ok(())
}

/// Polls `condition` until it holds or `timeout` passes; whether it held.
fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if condition() {
            return true;
        }
        if started.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A copy of the checkout in a temporary directory, deleted when dropped.
struct Copy {
    dir: PathBuf,
}

impl Copy {
    fn of(workspace: &Workspace) -> anyhow::Result<Copy> {
        let dir = std::env::temp_dir().join(format!("testkit-dev-{}", Uuid::new_v4().simple()));
        fs::create_dir(&dir)?;
        let copy = Copy { dir };
        // The postgres user (as which the cluster runs when we are root) must reach .local/pg.
        fs::set_permissions(&copy.dir, fs::Permissions::from_mode(0o755))?;
        let listing = Command::new("git")
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ])
            .current_dir(&workspace.root)
            .output()
            .context("running git ls-files")?;
        if !listing.status.success() {
            bail!(
                "git ls-files failed: {}",
                String::from_utf8_lossy(&listing.stderr)
            );
        }
        let mut files = 0;
        for name in listing.stdout.split(|byte| *byte == 0) {
            if name.is_empty() {
                continue;
            }
            let name = std::str::from_utf8(name).context("a file name that is not UTF-8")?;
            if copy_preserving_mtime(&workspace.root.join(name), &copy.dir.join(name))? {
                files += 1;
            }
        }
        for tools in [".local/venv", "local/node_modules"] {
            let source = workspace.root.join(tools);
            if source.exists() {
                let link = copy.dir.join(tools);
                fs::create_dir_all(link.parent().expect("a parent"))?;
                std::os::unix::fs::symlink(&source, &link)?;
            }
        }
        println!(
            "==> copied {files} files of the checkout to {}",
            copy.dir.display()
        );
        Ok(copy)
    }
}

/// Copies one file (or symlink), keeping its mtime, which Cargo's freshness check compares;
/// false when the file is gone (deleted but still in the index).
fn copy_preserving_mtime(source: &Path, target: &Path) -> anyhow::Result<bool> {
    let Ok(metadata) = fs::symlink_metadata(source) else {
        return Ok(false);
    };
    if let Some(dir) = target.parent() {
        fs::create_dir_all(dir)?;
    }
    if metadata.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(source)?, target)?;
        return Ok(true);
    }
    if !metadata.is_file() {
        return Ok(false);
    }
    fs::copy(source, target).with_context(|| format!("copying {}", source.display()))?;
    File::options()
        .write(true)
        .open(target)?
        .set_modified(metadata.modified()?)?;
    Ok(true)
}

impl Drop for Copy {
    fn drop(&mut self) {
        if let Err(error) = fs::remove_dir_all(&self.dir) {
            eprintln!("warning: removing {}: {error}", self.dir.display());
        }
    }
}
