//! The machine a run measured on, as the report names it.

/// The CPU's model name from /proc/cpuinfo (Linux), for the report.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The CPUs this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

/// `<cpu>, <n> cores, <kernel> <architecture>`: the `machine` of binaries.json and load.json.
pub fn describe() -> String {
    // The kernel's own name ("Linux"), as uname reports it.
    let kernel = std::fs::read_to_string("/proc/sys/kernel/ostype")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| std::env::consts::OS.to_owned());
    format!(
        "{}, {} cores, {kernel} {}",
        cpu_model(),
        cores(),
        std::env::consts::ARCH
    )
}
