//! What every test here shares: the emulator on its own runtime and the binary pointed at it.

use std::time::Duration;

use assert_cmd::Command;
use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator, EmulatorBuilder};
use serde_json::Value;

/// The iModel the tests export.
pub const IMODEL: &str = "5e0c7a5e-9c39-4d8f-8f5e-6a4c3b7a2d10";
/// An iModel whose exports the emulator ends `Invalid`.
pub const FAILING_IMODEL: &str = "0badbad0-0000-4000-8000-000000000000";

/// An emulator on its own runtime, alive for the test.
pub struct Service {
    pub emulator: Emulator,
    _runtime: tokio::runtime::Runtime,
}

/// An emulator built by `builder`.
pub fn service_with(builder: EmulatorBuilder) -> Service {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emulator = runtime.block_on(builder.start()).unwrap();
    Service {
        emulator,
        _runtime: runtime,
    }
}

/// A small emulator whose exports take 200 ms; [`FAILING_IMODEL`] fails.
pub fn service() -> Service {
    service_with(
        Emulator::builder()
            .tiles(6)
            .tile_bytes(4_000)
            .export_duration(Duration::from_millis(200))
            .fail_imodel(FAILING_IMODEL),
    )
}

/// Variables of whoever runs the tests that would change what the binary does: credentials,
/// the service and issuer, the log filter. Every way a test starts the binary removes them.
pub const RUNNER_ENV: [&str; 9] = [
    "ITWIN_ACCESS_TOKEN",
    "ITWIN_SHARE_KEY",
    "ITWIN_CLIENT_ID",
    "ITWIN_CLIENT_SECRET",
    "ITWIN_TOKEN_URL",
    "ITWIN_ISSUER_URL",
    "MESH_EXPORT_BASE_URL",
    "MESH_EXPORT_SESSION_STORE",
    "RUST_LOG",
];

/// The binary with no credentials from the environment of whoever runs the tests.
pub fn bare() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mesh-export"));
    for var in RUNNER_ENV {
        cmd.env_remove(var);
    }
    // Never the saved sign-in of whoever runs the tests: a directory nothing writes to.
    cmd.env("MESH_EXPORT_CONFIG_DIR", no_session_dir());
    cmd.timeout(Duration::from_secs(60));
    cmd
}

/// A config directory that holds no session (tests that sign in use their own).
pub fn no_session_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("mesh-export-cli-no-session")
}

impl Service {
    /// The binary pointed at the emulator with the demo client.
    pub fn cmd(&self) -> Command {
        let mut cmd = bare();
        cmd.args(["--base-url", &self.emulator.mesh_export_url()])
            .args(["--token-url", &self.emulator.token_url()])
            .args([
                "--client-id",
                DEMO_CLIENT_ID,
                "--client-secret",
                DEMO_CLIENT_SECRET,
            ]);
        cmd
    }

    /// Runs with `--json` and returns the parsed stdout, asserting success.
    pub fn json(&self, args: &[&str]) -> Value {
        let output = self.cmd().arg("--json").args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// Starts an export and waits for it; returns its id.
    pub fn complete_export(&self) -> String {
        let export = self.json(&["start", "--imodel", IMODEL, "--wait", "--interval", "0.05"]);
        assert_eq!(export["status"], "Complete");
        export["id"].as_str().unwrap().to_owned()
    }
}
