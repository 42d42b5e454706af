//! `cargo xtask flake [N]`: runs the README's test command N times and reports, for each test
//! that failed at least once, in how many runs it failed.
//!
//! The suite is built once first, so each run measures the tests and not the compiler. Each
//! run's whole output is kept in `target/flake/run-<i>.log` for the failures it reports.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// The README's test command, without `cargo`.
const TEST_COMMAND: &[&str] = &["test", "--workspace", "--locked"];

/// Runs the suite `runs` times from `root` and prints the failures per test.
pub fn run(root: &Path, runs: u32) -> Result<ExitCode, String> {
    if runs == 0 {
        return Err("the number of runs must be at least 1".to_owned());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let logs = root.join("target").join("flake");
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;

    eprintln!("building the test suite once");
    let status = Command::new(&cargo)
        .current_dir(root)
        .args(TEST_COMMAND)
        .arg("--no-run")
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("the test suite does not build".to_owned());
    }

    let mut failures: BTreeMap<String, u32> = BTreeMap::new();
    let mut failed_runs = 0;
    for run in 1..=runs {
        let log_path = logs.join(format!("run-{run}.log"));
        let log = File::create(&log_path)
            .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let stderr = log.try_clone().map_err(|e| e.to_string())?;
        let started = Instant::now();
        let status = Command::new(&cargo)
            .current_dir(root)
            .args(TEST_COMMAND)
            // Run every test binary even after one fails, so each run counts every flaky test.
            .arg("--no-fail-fast")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        let output = std::fs::read_to_string(&log_path).unwrap_or_default();
        let mut failed = failed_tests(&output);
        if !status.success() && failed.is_empty() {
            failed.push(format!("(the run failed without a failing test: {status})"));
        }
        let seconds = started.elapsed().as_secs();
        if failed.is_empty() {
            eprintln!("run {run}/{runs}: ok ({seconds} s)");
        } else {
            failed_runs += 1;
            eprintln!(
                "run {run}/{runs}: {} failed ({seconds} s; {})",
                failed.len(),
                log_path.display()
            );
            for test in failed {
                eprintln!("  {test}");
                *failures.entry(test).or_default() += 1;
            }
        }
    }

    println!("{}/{runs} runs passed", runs - failed_runs);
    if failures.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    println!("failed runs  test");
    let mut by_count: Vec<_> = failures.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (test, count) in by_count {
        println!("{count:>5}/{runs:<5} {test}");
    }
    Ok(ExitCode::FAILURE)
}

/// The failing tests in one run's output, each named `<test binary>: <test>`.
///
/// cargo announces each binary on a `Running <source> (<path>)` or `Doc-tests <crate>` line;
/// libtest reports a failure as `test <name> ... FAILED`.
pub fn failed_tests(output: &str) -> Vec<String> {
    let mut binary = String::from("?");
    let mut failed = Vec::new();
    for line in output.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Running ") {
            binary = binary_name(rest);
        } else if let Some(krate) = line.strip_prefix("Doc-tests ") {
            binary = format!("doc-tests {krate}");
        } else if let Some(name) = line
            .strip_prefix("test ")
            .and_then(|rest| rest.strip_suffix(" ... FAILED"))
        {
            failed.push(format!("{binary}: {name}"));
        }
    }
    failed
}

/// `tests/library/main.rs (target/debug/deps/library-0123abcd)` -> `library (tests/library/main.rs)`.
fn binary_name(running: &str) -> String {
    let (source, path) = running
        .rsplit_once(" (")
        .map(|(source, path)| (source, path.trim_end_matches(')')))
        .unwrap_or((running, ""));
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let stem = file.rsplit_once('-').map_or(file, |(stem, _hash)| stem);
    format!("{stem} ({})", source.trim_start_matches("unittests "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_named_after_their_binary() {
        let output = "\
     Running unittests src/lib.rs (target/debug/deps/mesh_export-21014e62641cb71d)
test retry::tests::a ... ok
test retry::tests::b ... FAILED
     Running tests/library/main.rs (target/debug/deps/library-f65658fb9aa8f138)
test auth::secrets_never_reach_logs ... FAILED
   Doc-tests mesh_export
test crates/mesh-export/src/lib.rs - (line 13) ... FAILED
";
        assert_eq!(
            failed_tests(output),
            [
                "mesh_export (src/lib.rs): retry::tests::b",
                "library (tests/library/main.rs): auth::secrets_never_reach_logs",
                "doc-tests mesh_export: crates/mesh-export/src/lib.rs - (line 13)",
            ]
        );
    }

    #[test]
    fn a_passing_run_has_no_failures() {
        let output = "test a ... ok\ntest result: ok. 1 passed; 0 failed\n";
        assert!(failed_tests(output).is_empty());
    }
}
