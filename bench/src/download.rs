//! A whole tileset downloaded by this project's downloader (in a child process, for its peak
//! memory) and by `curl --parallel` from the same URL list, with the bytes compared.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use mesh_export::tiles::{Downloader, MANIFEST_FILE, Manifest, TilePath, TilesetUrl};
use serde::{Deserialize, Serialize};

use crate::procfs::{peak_resident_kib, stat_seconds};

/// What the downloader child reports on its last stdout line.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChildReport {
    /// Files complete on disk.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// Retries the downloader needed (0 on a healthy loopback).
    pub retries: u64,
    /// URIs it refused to follow (0 for the emulator's tilesets).
    pub refused: usize,
    /// The child's peak resident set (`VmHWM`), in KiB, if `/proc` has it.
    pub peak_kib: Option<u64>,
    /// CPU time (user + system, all threads) the child used, in seconds.
    pub cpu_s: Option<f64>,
}

/// The hidden `download-child` subcommand: reads the signed mesh href from stdin (never from
/// the command line, where `ps` would show the signature), downloads into `dir` with
/// `concurrency` files at a time (the downloader's default when `None`), and prints a
/// [`ChildReport`] as JSON.
pub fn child_main(dir: &Path, concurrency: Option<usize>) -> ExitCode {
    let mut href = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut href) {
        eprintln!("error: cannot read the tileset URL from stdin: {e}");
        return ExitCode::FAILURE;
    }
    let tileset = match TilesetUrl::from_root_href(href.trim()) {
        Ok(tileset) => tileset,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let downloader = match concurrency {
        Some(files) => Downloader::new(dir).concurrency(files),
        None => Downloader::new(dir),
    };
    let summary = match runtime.block_on(downloader.download(&tileset)) {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("error: download failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    drop(runtime);
    let report = ChildReport {
        files: summary.files,
        bytes: summary.bytes,
        retries: summary.retries,
        refused: summary.refused.len(),
        peak_kib: peak_resident_kib(),
        cpu_s: std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| stat_seconds(&stat, 13)),
    };
    println!(
        "{}",
        serde_json::to_string(&report).expect("a report serializes")
    );
    ExitCode::SUCCESS
}

/// Runs the downloader child (this binary, `download-child`) into `dir`, with `concurrency`
/// files at a time or the downloader's default, and returns its wall time, process start to
/// exit, and its report.
pub fn run_downloader(
    exe: &Path,
    href: &str,
    dir: &Path,
    concurrency: Option<usize>,
) -> Result<(Duration, ChildReport), String> {
    let started = Instant::now();
    let mut command = Command::new(exe);
    command.arg("download-child").arg("--dir").arg(dir);
    if let Some(files) = concurrency {
        command.args(["--concurrency", &files.to_string()]);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the downloader child: {e}"))?;
    {
        let mut stdin = child.stdin.take().expect("stdin is piped");
        stdin
            .write_all(href.as_bytes())
            .map_err(|e| format!("cannot pass the URL to the downloader child: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("downloader child: {e}"))?;
    let wall = started.elapsed();
    if !output.status.success() {
        return Err(format!("the downloader child failed ({})", output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let report = serde_json::from_str(last)
        .map_err(|e| format!("unreadable downloader child report {last:?}: {e}"))?;
    Ok((wall, report))
}

/// A curl config that fetches every file of `manifest` to the same path under `dir`.
/// It holds signed URLs: it lives in the benchmark's temporary directory, removed at the end.
pub fn curl_config(
    tileset: &TilesetUrl,
    manifest: &Manifest,
    dir: &Path,
) -> Result<String, String> {
    curl_config_of(tileset, manifest.files.iter().map(|e| e.path.as_str()), dir)
}

/// A curl config that fetches each of `paths` (`/`-separated, relative to the tileset's root)
/// to the same path under `dir`.
pub fn curl_config_of<'a>(
    tileset: &TilesetUrl,
    paths: impl IntoIterator<Item = &'a str>,
    dir: &Path,
) -> Result<String, String> {
    let mut config = String::new();
    for name in paths {
        let path = TilePath::parse(name).ok_or_else(|| format!("invalid path {name:?}"))?;
        let output = path.to_path_under(dir);
        let output = output.to_str().ok_or("non-UTF-8 output path")?;
        if output.contains(['"', '\\']) || tileset.url_of(&path).as_str().contains(['"', '\\']) {
            return Err(format!("cannot quote {name:?} for curl"));
        }
        config.push_str(&format!(
            "url = \"{}\"\noutput = \"{output}\"\n",
            tileset.url_of(&path)
        ));
    }
    Ok(config)
}

/// Runs `curl --parallel --parallel-max C` over `config` and returns its wall time and, when
/// `/bin/sh` can report it, its CPU time (a shell runs curl and reads its own children's CPU
/// time from `/proc/$$/stat` after curl exits).
pub fn run_curl(
    curl: &Path,
    config: &Path,
    concurrency: usize,
) -> Result<(Duration, Option<f64>), String> {
    let stat_file = config.with_extension("stat");
    let _ = std::fs::remove_file(&stat_file);
    let args = [
        "--parallel".to_owned(),
        "--parallel-max".to_owned(),
        concurrency.to_string(),
        "--create-dirs".to_owned(),
        "--fail".to_owned(),
        "--no-progress-meter".to_owned(),
        "--config".to_owned(),
        config.to_string_lossy().into_owned(),
    ];
    let mut command = if Path::new("/bin/sh").exists() {
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(r#"stat_file="$1"; shift; "$@"; rc=$?; cat "/proc/$$/stat" > "$stat_file"; exit $rc"#)
            .arg("sh")
            .arg(&stat_file)
            .arg(curl);
        command
    } else {
        Command::new(curl)
    };
    let started = Instant::now();
    let status = command
        .args(&args)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", curl.display()))?;
    let wall = started.elapsed();
    if !status.success() {
        return Err(format!("curl failed ({status})"));
    }
    let cpu = std::fs::read_to_string(&stat_file)
        .ok()
        .and_then(|stat| stat_seconds(&stat, 15));
    Ok((wall, cpu))
}

/// Finds a curl that supports `--parallel` (7.66+), installing it with apt-get when missing
/// and possible.
pub fn find_curl() -> Result<PathBuf, String> {
    let candidates = || {
        let mut paths = vec![PathBuf::from("/usr/bin/curl")];
        if let Some(path) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&path).map(|dir| dir.join("curl")));
        }
        paths.into_iter().find(|p| p.is_file())
    };
    let curl = match candidates() {
        Some(curl) => curl,
        None => {
            eprintln!("curl is missing; trying `apt-get install -y curl`");
            let installed = Command::new("apt-get")
                .args(["install", "-y", "-q", "curl"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            match candidates() {
                Some(curl) if installed => curl,
                _ => return Err("curl is not installed and apt-get could not install it".into()),
            }
        }
    };
    let help = Command::new(&curl)
        .args(["--help", "all"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", curl.display()))?;
    if !String::from_utf8_lossy(&help.stdout).contains("--parallel-max") {
        return Err(format!(
            "{} does not support --parallel (curl 7.66 or later needed)",
            curl.display()
        ));
    }
    Ok(curl)
}

/// The version line of `curl --version`.
pub fn curl_version(curl: &Path) -> String {
    Command::new(curl)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.split(" (").next().unwrap_or(l).to_owned())
        })
        .unwrap_or_else(|| "curl".to_owned())
}

/// Size and checksum (XXH3-128, in hex as the manifest writes it) of every file under a
/// directory by `/`-separated relative path, without the downloader's manifest.
pub type TreeChecksums = BTreeMap<String, (u64, String)>;

/// Hashes every file under `dir` (see [`TreeChecksums`]), with the reference XXH3 rather than
/// the downloader's own code.
pub fn tree_checksums(dir: &Path) -> Result<TreeChecksums, String> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .map_err(|e| format!("cannot list {}: {e}", current.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let path = entry.path();
            if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(dir)
                .expect("under dir")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if relative == MANIFEST_FILE {
                continue;
            }
            let bytes =
                std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let checksum = hex::encode(xxhash_rust::xxh3::xxh3_128(&bytes).to_be_bytes());
            out.insert(relative, (bytes.len() as u64, checksum));
        }
    }
    Ok(out)
}

/// The manifest's files as [`TreeChecksums`].
pub fn manifest_checksums(manifest: &Manifest) -> TreeChecksums {
    manifest
        .files
        .iter()
        .map(|e| (e.path.clone(), (e.size, e.xxh3_128.clone())))
        .collect()
}

/// `Ok` when `actual` holds exactly the files of `expected`, byte for byte.
pub fn compare(tool: &str, expected: &TreeChecksums, actual: &TreeChecksums) -> Result<(), String> {
    if expected == actual {
        return Ok(());
    }
    let missing = expected.keys().filter(|k| !actual.contains_key(*k)).count();
    let extra = actual.keys().filter(|k| !expected.contains_key(*k)).count();
    let differ = expected
        .iter()
        .filter(|(k, v)| actual.get(*k).is_some_and(|a| a != *v))
        .count();
    Err(format!(
        "{tool} wrote different files: {missing} missing, {extra} extra, {differ} with other bytes"
    ))
}

/// Creates `dir` (which must not exist yet) and flushes dirty pages, so the previous run's
/// writeback does not slow the next one.
pub fn fresh_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let _ = Command::new("sync").status();
    Ok(())
}

/// The filesystem `path` is on, from `/proc/mounts` (the longest mount point that holds it),
/// as `TYPE on MOUNT_POINT`, noting online `discard`.
pub fn filesystem_of(path: &Path) -> String {
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else {
        return "unknown filesystem".to_owned();
    };
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    mounts
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (point, kind, options) = (fields.get(1)?, fields.get(2)?, fields.get(3)?);
            path.starts_with(point)
                .then_some((point.len(), *point, *kind, *options))
        })
        .max_by_key(|(len, ..)| *len)
        .map(|(_, point, kind, options)| {
            let discard = if options.split(',').any(|o| o == "discard") {
                ", mounted with discard"
            } else {
                ""
            };
            format!("{kind} on {point}{discard}")
        })
        .unwrap_or_else(|| "unknown filesystem".to_owned())
}
