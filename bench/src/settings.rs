//! The variables `bench binaries` and `bench load` read, each with its default and parsing, once.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, bail, ensure};

/// `bench binaries`: where the Runtime API is, how many cold starts, which binaries.
#[derive(Debug, PartialEq)]
pub struct BinariesSettings {
    /// `STACK_PORT`: the port of `cargo lambda watch --only-lambda-apis` (the stack's).
    pub runtime_port: u16,
    /// `BENCH_RUNS` (7): cold starts per function; the median is reported.
    pub runs: usize,
    /// `BENCH_BIN_DIR`: measure the binaries there instead of building the release profile.
    pub bin_dir: Option<PathBuf>,
}

impl BinariesSettings {
    /// From the process's environment.
    pub fn from_env() -> anyhow::Result<BinariesSettings> {
        BinariesSettings::from_lookup(|name| std::env::var(name).ok())
    }

    /// From `lookup` (a variable's value by name).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let runtime_port = lookup("STACK_PORT").context(
            "STACK_PORT is not set: run this inside the stack (make bench, or \
             cargo run -p testkit -- stack --release --runtime-api-only -- \
             target/release/bench binaries)",
        )?;
        let runs = number(&lookup, "BENCH_RUNS", 7)?;
        ensure!(runs > 0, "BENCH_RUNS must be at least 1");
        Ok(BinariesSettings {
            runtime_port: parse("STACK_PORT", &runtime_port)?,
            runs,
            bin_dir: lookup("BENCH_BIN_DIR")
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from),
        })
    }
}

/// `bench load`: where the stack is and how long each run lasts.
#[derive(Debug, PartialEq)]
pub struct LoadSettings {
    /// `BASE_URL`: the stack's `http://127.0.0.1:PORT`; nothing else is contacted.
    pub base_url: String,
    /// `BENCH_DURATION` (10): seconds per measured run.
    pub duration_s: u64,
    /// `BENCH_WARMUP` (3): seconds of unrecorded load before each run, at the same concurrency.
    /// The watch server starts one instance per concurrent request, as Lambda does, and their
    /// cold starts belong to `bench binaries`, not to these percentiles.
    pub warmup_s: u64,
    /// `BENCH_INSTANCES` (16, the highest concurrency): instances per function the watch server
    /// may run; `testkit bench` serves the stack with it, and load.json records it.
    pub instances: u32,
}

impl LoadSettings {
    /// From the process's environment.
    pub fn from_env() -> anyhow::Result<LoadSettings> {
        LoadSettings::from_lookup(|name| std::env::var(name).ok())
    }

    /// From `lookup` (a variable's value by name).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let base_url = lookup("BASE_URL").context(
            "BASE_URL is not set: run this inside the stack (make bench, or \
             cargo run -p testkit -- stack --release --concurrency 16 -- \
             target/release/bench load)",
        )?;
        let base_url = base_url.trim_end_matches('/').to_owned();
        // The load goes to the loopback stack only, never to a URL some environment set: the
        // whole authority is 127.0.0.1 and a port (no user part that would make it another host).
        let port = base_url
            .strip_prefix("http://127.0.0.1:")
            .unwrap_or_default();
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            bail!(
                "BASE_URL={base_url:?}: the load goes to the stack on http://127.0.0.1:PORT only"
            );
        }
        Ok(LoadSettings {
            base_url,
            duration_s: number(&lookup, "BENCH_DURATION", 10)?,
            warmup_s: number(&lookup, "BENCH_WARMUP", 3)?,
            instances: number(&lookup, "BENCH_INSTANCES", 16)?,
        })
    }
}

/// The variable `name` as a number, `default` when unset or empty.
fn number<T: FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match lookup(name) {
        Some(value) if !value.is_empty() => parse(name, &value),
        _ => Ok(default),
    }
}

fn parse<T: FromStr>(name: &str, value: &str) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    value
        .trim()
        .parse()
        .with_context(|| format!("{name}={value:?} is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn binaries_defaults_to_seven_runs_of_the_binaries_it_builds() {
        let settings = BinariesSettings::from_lookup(lookup(&[("STACK_PORT", "9001")])).unwrap();
        assert_eq!(
            settings,
            BinariesSettings {
                runtime_port: 9001,
                runs: 7,
                bin_dir: None
            }
        );
    }

    #[test]
    fn binaries_reads_its_variables() {
        let settings = BinariesSettings::from_lookup(lookup(&[
            ("STACK_PORT", "9001"),
            ("BENCH_RUNS", "1"),
            ("BENCH_BIN_DIR", "/tmp/bins"),
        ]))
        .unwrap();
        assert_eq!(
            (settings.runs, settings.bin_dir),
            (1, Some(PathBuf::from("/tmp/bins")))
        );
    }

    #[test]
    fn binaries_refuses_bad_settings() {
        for (pairs, why) in [
            (&[][..], "outside the stack"),
            (&[("STACK_PORT", "port")][..], "a port that is no number"),
            (
                &[("STACK_PORT", "9001"), ("BENCH_RUNS", "0")][..],
                "no runs",
            ),
            (
                &[("STACK_PORT", "9001"), ("BENCH_RUNS", "-1")][..],
                "negative runs",
            ),
        ] {
            assert!(
                BinariesSettings::from_lookup(lookup(pairs)).is_err(),
                "{why} is refused"
            );
        }
    }

    #[test]
    fn load_defaults_and_overrides() {
        let base = ("BASE_URL", "http://127.0.0.1:9002/");
        let defaults = LoadSettings::from_lookup(lookup(&[base])).unwrap();
        assert_eq!(
            defaults,
            LoadSettings {
                base_url: "http://127.0.0.1:9002".to_owned(),
                duration_s: 10,
                warmup_s: 3,
                instances: 16
            }
        );
        let set = LoadSettings::from_lookup(lookup(&[
            base,
            ("BENCH_DURATION", "2"),
            ("BENCH_WARMUP", "1"),
            ("BENCH_INSTANCES", "4"),
        ]))
        .unwrap();
        assert_eq!((set.duration_s, set.warmup_s, set.instances), (2, 1, 4));
    }

    #[test]
    fn load_only_goes_to_loopback() {
        for url in [
            "http://example.com",
            "https://127.0.0.1:9002",
            "http://10.0.0.1:80",
            "http://127.0.0.1:80@example.com",
            "http://127.0.0.1:9002/api",
        ] {
            assert!(
                LoadSettings::from_lookup(lookup(&[("BASE_URL", url)])).is_err(),
                "{url} is refused"
            );
        }
    }
}
