//! One function instance on the Runtime API of `cargo lambda watch --only-lambda-apis`: its
//! release binary started as Lambda starts it, invoked through the watch server, its peak memory
//! read from /proc, and stopped.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use testkit::process::Supervised;

use super::events::Answer;

/// The watch server's two sides on one loopback port: the Runtime API the instances poll, and
/// the invoke API that hands them invocations.
pub struct RuntimeApi {
    port: u16,
    agent: ureq::Agent,
}

impl RuntimeApi {
    /// The watch server on `127.0.0.1:port`.
    pub fn new(port: u16) -> RuntimeApi {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A cold start with Argon2 takes tens of milliseconds: a minute means something hangs.
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        RuntimeApi { port, agent }
    }

    /// `AWS_LAMBDA_RUNTIME_API` of `function`: the watch server routes
    /// `/.rt/<function>/2018-06-01/…` to the invocations addressed to that function.
    fn runtime_api(&self, function: &str) -> String {
        format!("http://127.0.0.1:{}/.rt/{function}", self.port)
    }

    /// Invokes `function` with `event` (`POST /2015-03-31/functions/<name>/invocations`) and
    /// waits for its answer. The invocation waits in the server until an instance asks for it,
    /// as in Lambda, so it may be sent before the instance is up.
    pub fn invoke(&self, function: &str, event: &Value) -> anyhow::Result<Answer> {
        let response = self.invoke_for_json(function, event)?;
        Answer::from_response(&response).with_context(|| format!("{function}'s answer"))
    }

    /// [`RuntimeApi::invoke`], the answer as the function gave it.
    pub fn invoke_for_json(&self, function: &str, event: &Value) -> anyhow::Result<Value> {
        let url = format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{function}/invocations",
            self.port
        );
        let mut response = self
            .agent
            .post(&url)
            .send_json(event)
            .with_context(|| format!("invoking {function}"))?;
        let status = response.status();
        let body = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("reading {function}'s answer"))?;
        if !status.is_success() {
            bail!("invoking {function}: the watch server answered {status}: {body}");
        }
        serde_json::from_str(&body)
            .with_context(|| format!("{function}'s answer is not JSON: {body}"))
    }
}

/// A running function process, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Instance {
    process: Supervised,
}

impl Instance {
    /// Starts `binary` as `function` with the variables Lambda sets, pointed at `api`. The rest of
    /// its configuration is `environment` alone when given (the production-shaped run), else
    /// this process's environment, which the stack filled (`DATABASE_URL`, `JWT_PRIVATE_KEY`,
    /// …). Its output goes to `log`.
    pub fn start(
        api: &RuntimeApi,
        binary: &Path,
        function: &str,
        environment: Option<&[(String, String)]>,
        log: &Path,
    ) -> anyhow::Result<Instance> {
        let mut command = testkit::process::command(binary);
        if let Some(environment) = environment {
            command
                .env_clear()
                .envs(environment.iter().map(|(k, v)| (k, v)));
        }
        command
            .env("AWS_LAMBDA_RUNTIME_API", api.runtime_api(function))
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench");
        if environment.is_none() {
            command.env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
        }
        let process =
            Supervised::spawn(function, command, log)?.with_grace(Duration::from_secs(10));
        Ok(Instance { process })
    }

    /// Its peak resident set size so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/status", self.process.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        vm_hwm_kib(&status).with_context(|| format!("no VmHWM in {path}"))
    }

    /// The end of its output, for an error message.
    pub fn log_tail(&self) -> String {
        format!(
            "the end of its log ({}):\n{}",
            self.process.log_path().display(),
            self.process.log_tail(40)
        )
    }

    /// Runs `work` with it, then stops it; an error of `work`'s carries the end of its log.
    pub fn run_then_stop<T>(
        self,
        work: impl FnOnce(&Instance) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        match work(&self) {
            Ok(value) => {
                self.stop()?;
                Ok(value)
            }
            Err(error) => {
                let tail = self.log_tail();
                self.stop()?;
                Err(error.context(tail))
            }
        }
    }

    /// Stops it and waits for it to exit.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.process.stop()?;
        Ok(())
    }
}

/// `VmHWM` of a /proc/PID/status text, in KiB.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_read_from_the_status_text() {
        let status =
            "Name:\tsignin\nVmPeak:\t  812344 kB\nVmHWM:\t   21544 kB\nVmRSS:\t   21000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(21_544));
        assert_eq!(vm_hwm_kib("Name:\tkernel thread\n"), None);
    }

    #[test]
    fn this_process_has_a_peak() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(vm_hwm_kib(&status).is_some_and(|kib| kib > 0));
    }

    #[test]
    fn each_function_polls_its_own_runtime_api() {
        assert_eq!(
            RuntimeApi::new(9001).runtime_api("end-session"),
            "http://127.0.0.1:9001/.rt/end-session"
        );
    }
}
