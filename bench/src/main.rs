//! `mesh-export-bench`: what the Mesh Export client costs, measured side by side with what a
//! user would otherwise use, against the emulator on loopback.
//!
//! One run measures:
//!
//! 1. `get-exports` through [`mesh_export::Client`] (client-credentials auth, default retry
//!    policy, tracing at INFO into a sink) versus the same request with bare `reqwest` on the
//!    client's own connection pool, sequentially and 32 at a time;
//! 2. a whole tileset downloaded by [`mesh_export::tiles::Downloader`] (in a child process, for
//!    its peak memory) versus `curl --parallel` fetching the same URL list, bytes compared;
//! 3. the emulator's own `get-exports` throughput, so it is known not to be the bottleneck;
//! 4. the downloader alone on a tileset of many small files (rate and peak memory);
//! 5. a tileset downloaded over link profiles (loopback, then 20 and 50 ms added each way by
//!    a proxy of its own) by the downloader with its default options, by a sweep of fixed
//!    concurrencies, by `curl --parallel` and by `azcopy copy --recursive`, from Azurite
//!    serving the same tileset (Azurite and azcopy installed from npm on first use);
//! 6. `cargo xtask codegen --check` wall time, as measured by `cargo xtask bench`.
//!
//! It prints a markdown table; a full run (without `--quick`) also writes `BENCHMARKS.md`.
//! Run it as `cargo xtask bench [--quick]`, which builds it and the emulator in release mode.
//! Targets are reported, never enforced: a missed target does not fail the run.

mod api;
mod azcopy;
mod azurite;
mod cli;
mod download;
mod emulator;
mod npm_tools;
mod plan;
mod procfs;
mod proxy;
mod report;
mod stats;
mod targets;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

use api::{Api, Side};
use cli::{Args, Hidden, Part, ProfileSide};
use emulator::{EmulatorProcess, EmulatorSettings};
use plan::{CONCURRENT, Plan};
use procfs::load_average;
use report::{Results, benchmarks_md};
use targets::bounds::{attack_child_main, bounds};
use targets::emulator_throughput::emulator_throughput;
use targets::get_exports::compare_api;
use targets::link::link_comparison;
use targets::many_files::many_files;
use targets::tileset_download::download_comparison;

fn main() -> ExitCode {
    let args = Args::parse();
    match &args.command {
        Some(Hidden::DownloadChild { dir, concurrency }) => {
            return download::child_main(dir, *concurrency);
        }
        Some(Hidden::AttackChild { attack }) => return attack_child_main(*attack),
        None => {}
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// One run: the emulator started, each part the arguments select measured in turn, then the
/// results printed and, on a full run, written to `BENCHMARKS.md`.
fn run(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    let load_before = load_average();
    eprintln!("load average before the run: {load_before}");
    let mut plan = Plan::new(args.quick);
    if let Some(tiles) = args.scale_tiles {
        plan.scale_tiles = tiles;
    }
    if let Some(profiles) = &args.profiles {
        plan.link.profiles_ms = profiles.clone();
    }
    if let Some(tiles) = args.link_tiles {
        plan.link.tiles = tiles;
    }
    if let Some(rounds) = args.link_rounds {
        plan.link.rounds = rounds.max(1);
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this binary: {e}"))?;
    let emulator_exe = match &args.emulator {
        Some(path) => path.clone(),
        None => exe.with_file_name("mesh-export-emulator"),
    };
    api::install_tracing();
    let emulator = EmulatorProcess::start(
        &emulator_exe,
        &EmulatorSettings {
            tiles: plan.tiles,
            tile_bytes: plan.tile_bytes,
        },
    )?;
    eprintln!("emulator listening on {}", emulator.base_url());
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;

    let (api, page_exports) = runtime.block_on(Api::setup(&emulator))?;
    if let Some(side) = args.profile {
        return profile(&runtime, &api, side);
    }
    let runs = |part: Part| args.only.is_none_or(|only| only == part);
    let (comparisons, throughput) = if !runs(Part::Api) {
        (Vec::new(), Vec::new())
    } else {
        let comparisons = runtime.block_on(compare_api(&api, &emulator, &plan))?;
        let throughput = runtime.block_on(emulator_throughput(&api, &emulator, &plan))?;
        (comparisons, throughput)
    };
    let download = if !runs(Part::Download) {
        Err("skipped (--only)".to_owned())
    } else {
        download_comparison(&runtime, &api, &exe, &plan, args.download_concurrency)
    };
    if let Err(why) = &download {
        eprintln!("download comparison not run: {why}");
    }
    drop(emulator);
    let scale = if !runs(Part::Download) {
        Err("skipped (--only)".to_owned())
    } else {
        many_files(
            &runtime,
            &emulator_exe,
            &exe,
            &plan,
            args.download_concurrency,
        )
    };
    if let Err(why) = &scale {
        eprintln!("many-files download not run: {why}");
    }
    let bounds = if runs(Part::Bounds) {
        bounds(&exe)
    } else {
        Err("skipped (--only)".to_owned())
    };
    if let Err(why) = &bounds {
        eprintln!("bounds under attack not measured: {why}");
    }
    let link = if runs(Part::Link) {
        link_comparison(&runtime, &emulator_exe, &exe, &plan.link)
    } else {
        Err("skipped (--only)".to_owned())
    };
    if let Err(why) = &link {
        eprintln!("link download not run: {why}");
    }

    let results = Results {
        quick: args.quick,
        page_exports,
        rounds: plan.rounds,
        seconds_per_measurement: plan.measurement.as_secs_f64(),
        seconds_per_slice: plan.slice().as_secs_f64(),
        api: comparisons,
        emulator: throughput,
        download,
        scale,
        bounds,
        link,
        codegen_ms: args.codegen_check_ms,
        codegen_subprocess_ms: args.codegen_subprocess_ms,
        load: (load_before, load_average()),
        future_sizes: api.future_sizes(),
    };
    report(args, &results, started)
}

/// `--profile`: one side alone, 32 in flight for 10 seconds; prints its rate and exits.
fn profile(
    runtime: &tokio::runtime::Runtime,
    api: &Arc<Api>,
    side: ProfileSide,
) -> Result<(), String> {
    let side = match side {
        ProfileSide::Stack => Side::Stack,
        ProfileSide::Bare => Side::Bare,
    };
    let measured =
        runtime.block_on(api::measure(api, side, CONCURRENT, Duration::from_secs(10)))?;
    let (stack_future, bare_future) = api.future_sizes();
    println!(
        "{side:?}: {} req/s, {:.1} µs client CPU per call; futures: stack call {stack_future} bytes, bare call {bare_future} bytes",
        stats::thousands(measured.rps),
        measured.cpu_us
    );
    Ok(())
}

/// Prints the table, the findings and the details, and writes the report file when the run
/// was full (and not told otherwise) or a path was given.
fn report(args: &Args, results: &Results, started: Instant) -> Result<(), String> {
    let table = results.table();
    println!("{table}");
    if let Ok(link) = &results.link {
        println!("{}", link.markdown());
    }
    for finding in results.findings() {
        println!("- {finding}");
    }
    println!("\n{}", results.details());
    eprintln!("benchmark took {:.0} s", started.elapsed().as_secs_f64());
    let full = !args.quick && args.only.is_none();
    if (full && !args.no_report) || args.report.is_some() {
        let path = args
            .report
            .clone()
            .unwrap_or_else(|| workspace_root().join("BENCHMARKS.md"));
        std::fs::write(&path, benchmarks_md(results, &table))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The workspace root this binary was built from.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ lives in the workspace")
        .to_path_buf()
}
