//! The emulator as a child process on loopback, as a user would run it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

/// A running `mesh-export-emulator`; killed when dropped.
pub struct EmulatorProcess {
    child: Child,
    /// Kept open so the emulator never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
    base_url: String,
}

/// What the emulator serves and how, beyond its defaults.
pub struct EmulatorSettings {
    /// `.glb` tiles per tileset.
    pub tiles: u32,
    /// Approximate bytes per tile.
    pub tile_bytes: u64,
}

impl EmulatorProcess {
    /// Starts `exe` on a free loopback port with no rate limit and no faults, and waits for
    /// its `listening on http://HOST:PORT` line.
    pub fn start(exe: &Path, settings: &EmulatorSettings) -> Result<Self, String> {
        let mut child = Command::new(exe)
            .args(["--addr", "127.0.0.1:0", "--export-duration", "0.2"])
            .args(["--rate-limit", "0", "--fault-rate", "0"])
            .args(["--tiles", &settings.tiles.to_string()])
            .args(["--tile-bytes", &settings.tile_bytes.to_string()])
            // Its request log would cost it time the clients are measured against.
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let base_url = match read {
            Ok(n) if n > 0 => line
                .trim()
                .strip_prefix("listening on ")
                .map(|url| url.trim_end_matches('/').to_owned()),
            _ => None,
        };
        let Some(base_url) = base_url else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{} did not print `listening on URL` (got {line:?})",
                exe.display()
            ));
        };
        Ok(EmulatorProcess {
            child,
            _stdout: stdout,
            base_url,
        })
    }

    /// `http://HOST:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The service root clients use.
    pub fn mesh_export_url(&self) -> String {
        format!("{}/mesh-export", self.base_url)
    }

    /// The OAuth2 token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/connect/token", self.base_url)
    }

    /// CPU time (user + system) the emulator has used so far, in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        crate::procfs::stat_seconds(&stat, 13)
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
