//! `azcopy copy --recursive` of a whole container, as a user of Azure Blob storage would
//! download a tileset without this project.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Copies the container `container_url` (signed) into `dir` with azcopy's defaults and returns
/// the wall time of the process. azcopy puts the files under `dir/CONTAINER/`. Its logs and
/// job plans go to `state`, not the user's home. The URL reaches azcopy on its command line
/// (it takes no other way), inside the benchmark's own process tree on loopback.
pub fn run_azcopy(
    azcopy: &Path,
    container_url: &str,
    dir: &Path,
    state: &Path,
) -> Result<Duration, String> {
    let started = Instant::now();
    let output = Command::new(azcopy)
        .arg("copy")
        .arg(container_url)
        .arg(dir)
        // azcopy infers the source type from Azure host names only, not from an emulator's.
        .args([
            "--recursive",
            "--from-to",
            "BlobLocal",
            "--output-level",
            "quiet",
        ])
        .env("AZCOPY_LOG_LOCATION", state.join("logs"))
        .env("AZCOPY_JOB_PLAN_LOCATION", state.join("plans"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", azcopy.display()))?;
    let wall = started.elapsed();
    if output.status.success() {
        return Ok(wall);
    }
    let said = String::from_utf8_lossy(&output.stdout);
    Err(format!(
        "azcopy failed ({}): {}",
        output.status,
        http_policy::redact::redact(said.lines().last().unwrap_or_default())
    ))
}
