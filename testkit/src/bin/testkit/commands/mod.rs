//! One module per verb, each shaped the same way: `run(args) -> anyhow::Result<ExitCode>`.

pub mod bench;
pub mod check;
pub mod dev;
pub mod down;
pub mod outbox;
pub mod stack;
pub mod test;

/// Fails on arguments a command does not take.
pub fn no_arguments(command: &str, args: &[String]) -> anyhow::Result<()> {
    if !args.is_empty() {
        anyhow::bail!("testkit {command} takes no arguments, got {args:?}");
    }
    Ok(())
}
