//! `cargo xtask`: development tasks of the Mesh Export workspace.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use xtask::{codegen, spec_diff};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Development tasks of the Mesh Export workspace"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Generate the client from the spec into crates/mesh-export-client/src/generated.rs.
    Codegen {
        /// Write nothing; print a unified diff and fail when the checked-in code is stale.
        #[arg(long)]
        check: bool,
        /// The spec to generate from.
        #[arg(long, default_value = codegen::SPEC_PATH)]
        spec: PathBuf,
        /// The generated file to write or check.
        #[arg(long, default_value = codegen::GENERATED_PATH)]
        out: PathBuf,
        /// Print nothing but errors and the diff.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Benchmark the client against bare reqwest and curl on the emulator (see bench/); a full
    /// run writes BENCHMARKS.md.
    Bench {
        /// A smaller run, a few minutes, that writes no BENCHMARKS.md.
        #[arg(long)]
        quick: bool,
        /// Options passed on to the bench program after `--` (e.g. `-- --only link
        /// --profiles 0,20`; `mesh-export-bench --help` lists them).
        #[arg(last = true)]
        bench_args: Vec<String>,
    },
    /// Run the README's test command N times and report, per failing test, how many runs it
    /// failed (logs in target/flake/).
    Flake {
        /// How many runs.
        #[arg(default_value_t = 20)]
        runs: u32,
    },
    /// Compare two OpenAPI 3.0 definitions in API terms and mark each change breaking or not for
    /// users of the generated client. Exit status: 0 when nothing breaks, 1 when something
    /// breaks, 2 on bad input.
    SpecDiff {
        /// The old definition: a file (relative to the current directory) or an http(s) URL.
        old: String,
        /// The new definition: a file or an http(s) URL.
        new: String,
        /// How to print the report.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
}

/// The output of `spec-diff`.
#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    /// Grouped by operation and schema, for people.
    Text,
    /// One JSON document, for programs.
    Json,
}

/// `spec-diff`'s exit status on bad input (the status clap gives a usage error, too).
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Paths are relative to the workspace root, found at run time from where cargo was
    // started: a root baked in at build time (`env!("CARGO_MANIFEST_DIR")`) names whichever
    // checkout built the binary, which is wrong when two checkouts share a CARGO_TARGET_DIR.
    let root = match std::env::current_dir()
        .map_err(|e| format!("cannot read the current directory: {e}"))
        .and_then(|dir| workspace_root_from(&dir))
    {
        Ok(root) => root,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let root = root.as_path();
    let result = match cli.task {
        Task::Codegen {
            check,
            spec,
            out,
            quiet,
        } => run_codegen(&root.join(spec), &root.join(out), check, quiet),
        Task::Bench { quick, bench_args } => run_bench(root, quick, &bench_args),
        Task::Flake { runs } => xtask::flake::run(root, runs),
        Task::SpecDiff { old, new, format } => return run_spec_diff(&old, &new, format),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_spec_diff(old: &str, new: &str, format: ReportFormat) -> ExitCode {
    let compared = spec_diff::load(old)
        .and_then(|old| Ok((old, spec_diff::load(new)?)))
        .and_then(|(old, new)| spec_diff::diff(&old, &new));
    let report = match compared {
        Ok(report) => report,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    match format {
        ReportFormat::Text => print!("{}", report.text()),
        ReportFormat::Json => print!("{}", report.json()),
    }
    if report.is_breaking() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The nearest directory at or above `start` whose `Cargo.toml` declares `[workspace]`.
fn workspace_root_from(start: &Path) -> Result<PathBuf, String> {
    start
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|manifest| manifest.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            format!(
                "no Cargo.toml with [workspace] at or above {}: run cargo xtask inside the workspace",
                start.display()
            )
        })
}

fn run_codegen(spec_path: &Path, out: &Path, check: bool, quiet: bool) -> Result<ExitCode, String> {
    let spec = codegen::load_spec(spec_path)?;
    let generated = codegen::generate(spec)?;
    if !quiet {
        for line in &generated.log {
            eprintln!("normalize: {line}");
        }
    }
    let current = std::fs::read_to_string(out).unwrap_or_default();
    let shown = out
        .strip_prefix(std::env::current_dir().unwrap_or_default())
        .unwrap_or(out);
    let shown = shown.display().to_string();
    match codegen::diff(&current, &generated.source, &shown) {
        None => {
            if !quiet {
                eprintln!("{shown} is up to date with {}", spec_path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(diff) if check => {
            print!("{diff}");
            eprintln!(
                "error: {shown} is out of date with {}; run `cargo xtask codegen`",
                spec_path.display()
            );
            Ok(ExitCode::FAILURE)
        }
        Some(_) => {
            std::fs::write(out, &generated.source)
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            if !quiet {
                eprintln!("wrote {shown}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `cargo xtask bench`: times `codegen --check` (in-process over a few runs, and once as a
/// `cargo xtask codegen --check` process), builds the bench and the emulator in release mode,
/// and runs the bench with those times and `bench_args`.
fn run_bench(root: &Path, quick: bool, bench_args: &[String]) -> Result<ExitCode, String> {
    let runs = if quick { 3 } else { 5 };
    let spec_path = root.join(codegen::SPEC_PATH);
    let out = root.join(codegen::GENERATED_PATH);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let generated = codegen::generate(codegen::load_spec(&spec_path)?)?;
        let current = std::fs::read_to_string(&out).unwrap_or_default();
        std::hint::black_box(codegen::diff(&current, &generated.source, "generated.rs"));
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let codegen_ms = times[runs / 2];
    eprintln!("codegen --check in-process: {codegen_ms:.0} ms (median of {runs} runs)");

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let status = Command::new(&cargo)
        .current_dir(root)
        .args(["xtask", "codegen", "--check", "--quiet"])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run cargo xtask codegen --check: {e}"))?;
    let subprocess_ms = started.elapsed().as_secs_f64() * 1e3;
    if !status.success() {
        eprintln!("note: codegen --check reports drift ({status}); its time is reported anyway");
    }
    eprintln!("cargo xtask codegen --check: {subprocess_ms:.0} ms");

    let status = Command::new(&cargo)
        .current_dir(root)
        .args(["build", "--release", "-p", "mesh-export-bench"])
        .args(["-p", "mesh-export-emulator"])
        .status()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    if !status.success() {
        return Err("building the bench and the emulator failed".to_owned());
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    };
    let mut bench = Command::new(target.join("release").join("mesh-export-bench"));
    if quick {
        bench.arg("--quick");
    }
    let status = bench
        .current_dir(root)
        .arg("--codegen-check-ms")
        .arg(format!("{codegen_ms:.1}"))
        .arg("--codegen-subprocess-ms")
        .arg(format!("{subprocess_ms:.1}"))
        .args(bench_args)
        .status()
        .map_err(|e| format!("cannot run the bench: {e}"))?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two checkouts side by side, as two worktrees sharing one CARGO_TARGET_DIR: each finds
    /// its own root from inside, wherever the xtask binary was built.
    #[test]
    fn the_workspace_root_is_the_checkout_cargo_runs_in() {
        let dir = tempfile::tempdir().unwrap();
        for checkout in ["first", "second"] {
            let root = dir.path().join(checkout);
            std::fs::create_dir_all(root.join("crates/member/src")).unwrap();
            std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
            std::fs::write(
                root.join("crates/member/Cargo.toml"),
                "[package]\nname = \"member\"\n",
            )
            .unwrap();
        }
        let second = dir.path().join("second");
        assert_eq!(
            workspace_root_from(&second.join("crates/member/src")).unwrap(),
            second
        );
        assert_eq!(workspace_root_from(&second).unwrap(), second);
        assert!(workspace_root_from(dir.path()).is_err());
    }
}
