//! Readings of Linux's `/proc`: CPU times, peak memory, load averages and the machine's CPU.
//! Each is `None` or a placeholder where `/proc` lacks it, so a run elsewhere still reports.

/// Clock ticks per second of `/proc/PID/stat` times (`USER_HZ`, 100 on every Linux target).
pub const CLOCK_TICKS: f64 = 100.0;

/// The sum of the two `/proc/PID/stat` time fields at 0-based `index` and `index + 1`, counted
/// from the first field (the pid), in seconds: 13 is utime + stime, 15 cutime + cstime.
pub fn stat_seconds(stat: &str, index: usize) -> Option<f64> {
    // The command name is in parentheses and may hold spaces: count fields after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let a: f64 = fields.get(index - 2)?.parse().ok()?;
    let b: f64 = fields.get(index - 1)?.parse().ok()?;
    Some((a + b) / CLOCK_TICKS)
}

/// `VmHWM` of this process from `/proc/self/status`, in KiB.
pub fn peak_resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The 1-, 5- and 15-minute load averages from `/proc/loadavg`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// The machine: logical cores and the CPU model from `/proc/cpuinfo`.
pub fn machine() -> (usize, String) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    (cores, model)
}
