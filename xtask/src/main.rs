//! `cargo xtask`: development tasks of the Mesh Export workspace.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::codegen;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Paths are relative to the workspace root, wherever cargo was started.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace");
    let result = match cli.task {
        Task::Codegen {
            check,
            spec,
            out,
            quiet,
        } => run_codegen(&root.join(spec), &root.join(out), check, quiet),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
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
