//! `completions SHELL` and `man`: what a shell and `man` need, written from the same command
//! definition as `--help`.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::Cli;
use crate::error::CliError;

/// `completions SHELL`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  mesh-export completions bash > ~/.local/share/bash-completion/completions/mesh-export"
)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: CompletionShell,
}

/// The shells completions are written for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(args: &CompletionsArgs) -> Result<(), CliError> {
    let shell = match args.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
        CompletionShell::Powershell => Shell::PowerShell,
    };
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "mesh-export", &mut std::io::stdout());
    Ok(())
}

/// Prints the manual page on stdout.
pub fn man() -> Result<(), CliError> {
    let page = clap_mangen::Man::new(Cli::command());
    page.render(&mut std::io::stdout())
        .map_err(|e| CliError::Other(format!("cannot write the manual page: {e}")))
}
