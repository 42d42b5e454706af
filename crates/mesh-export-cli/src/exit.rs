//! The process exit codes: one table, from which `--help` is written and against which the
//! README's table is checked.

use std::fmt::Write as _;

/// How the process ended, one variant per documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked was done.
    Success = 0,
    /// A failure none of the other codes names.
    Other = 1,
    /// The command line was wrong.
    Usage = 2,
    /// Credentials missing or refused.
    Auth = 3,
    /// No such export.
    NotFound = 4,
    /// The export ended `Invalid`.
    ExportInvalid = 5,
    /// Rate limited, or waited too long.
    Throttled = 6,
    /// Files of the tileset are missing.
    Incomplete = 7,
    /// No usable signature for the tileset URL.
    SignatureRefused = 8,
    /// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

impl Exit {
    /// Every exit code, in order.
    pub const ALL: [Exit; 10] = [
        Exit::Success,
        Exit::Other,
        Exit::Usage,
        Exit::Auth,
        Exit::NotFound,
        Exit::ExportInvalid,
        Exit::Throttled,
        Exit::Incomplete,
        Exit::SignatureRefused,
        Exit::Interrupted,
    ];

    /// The number the process exits with.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// What the code means, in the README's words (Markdown inline code included).
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "success",
            Exit::Other => "any other error (network, service, I/O, a token endpoint that is down)",
            Exit::Usage => "usage error",
            Exit::Auth => "authentication failed (no or bad credentials, HTTP 401/403)",
            Exit::NotFound => "not found (no such export, or no Complete export for the iModel)",
            Exit::ExportInvalid => "the export ended `Invalid`",
            Exit::Throttled => "rate limited beyond the retry budget, or timed out waiting",
            Exit::Incomplete => {
                "download incomplete: files failed or passed a `--max-*` bound, or URIs the \
                 tileset names were refused or could not be read (listed on stderr, in `--json` \
                 and in `manifest.json`; run again to retry, with the bound raised if one was \
                 passed)"
            }
            Exit::SignatureRefused => {
                "the tileset URL's signature expired or was refused and no fresh one could be \
                 had (`--href` cannot be renewed; `download ID` and `--imodel` renew it through \
                 get-exports); complete files are kept and listed in `manifest.json`"
            }
            Exit::Interrupted => {
                "interrupted (Ctrl-C): the export goes on at the service; stderr names it and the \
                 command that resumes"
            }
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// Lines of `--help` are kept within this many columns.
const HELP_WIDTH: usize = 100;

/// The `Exit codes:` section of `--help`: one entry per code, meanings wrapped under
/// themselves.
pub fn help_section() -> String {
    let mut text = String::from("Exit codes:");
    for exit in Exit::ALL {
        let lead = format!("  {}  ", exit.code());
        let mut line = lead.clone();
        for word in exit.meaning().split_whitespace() {
            if line.len() > lead.len() && line.len() + 1 + word.len() > HELP_WIDTH {
                let _ = write!(text, "\n{}", line.trim_end());
                line = " ".repeat(lead.len());
            } else if line.len() > lead.len() {
                line.push(' ');
            }
            line.push_str(word);
        }
        let _ = write!(text, "\n{line}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));

    /// The rows of the README's exit-code table, header and rule included.
    fn readme_table() -> Vec<&'static str> {
        let header = "| exit code | meaning |";
        let start = README
            .lines()
            .position(|l| l.trim_end() == header)
            .expect("README.md has an exit-code table");
        README
            .lines()
            .skip(start)
            .take_while(|l| l.starts_with('|'))
            .collect()
    }

    #[test]
    fn the_readme_exit_code_table_is_the_code_table() {
        let mut expected = vec!["| exit code | meaning |".to_owned(), "|---|---|".to_owned()];
        expected.extend(
            Exit::ALL
                .iter()
                .map(|e| format!("| {} | {} |", e.code(), e.meaning())),
        );
        assert_eq!(readme_table(), expected);
    }

    #[test]
    fn every_code_is_its_position_in_the_table_up_to_the_signal_code() {
        for (position, exit) in Exit::ALL.iter().enumerate() {
            if *exit != Exit::Interrupted {
                assert_eq!(usize::from(exit.code()), position, "{exit:?}");
            }
        }
        assert_eq!(Exit::Interrupted.code(), 128 + 2, "128 + SIGINT");
    }

    #[test]
    fn the_help_section_lists_every_code_within_the_width() {
        let help = help_section();
        for line in help.lines() {
            assert!(line.len() <= HELP_WIDTH, "{line}");
        }
        for exit in Exit::ALL {
            let entry = format!("\n  {}  ", exit.code());
            assert!(help.contains(&entry), "{exit:?} missing from {help}");
        }
        let words: Vec<&str> = help.split_whitespace().collect();
        let expected: Vec<String> = std::iter::once("Exit codes:".to_owned())
            .chain(
                Exit::ALL
                    .iter()
                    .map(|e| format!("{} {}", e.code(), e.meaning())),
            )
            .collect();
        let expected = expected.join(" ");
        assert_eq!(words, expected.split_whitespace().collect::<Vec<_>>());
    }
}
