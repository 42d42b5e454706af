//! The tileset downloaded over link profiles (loopback, then a delay added each way by
//! [`LatencyProxy`]) by the downloader with its default options, by a sweep of fixed
//! concurrencies, by `curl --parallel` and by azcopy, from Azurite serving the same tileset
//! (and from the emulator, on a full run). Every output is compared with the tileset.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use mesh_export::tiles::TilesetUrl;

use super::exported_mesh_href;
use crate::api::Api;
use crate::azcopy::run_azcopy;
use crate::azurite::AzuriteProcess;
use crate::download::{self, TreeChecksums};
use crate::emulator::{EmulatorProcess, EmulatorSettings};
use crate::npm_tools;
use crate::plan::{CURL_PARALLEL_DEFAULT, LinkPlan};
use crate::proxy::LatencyProxy;
use crate::report::link::{LinkResults, LinkTable, LinkTool, Server, ToolRuns};

/// A server the tools download from, kept running while it is used.
struct Source {
    server: Server,
    upstream: SocketAddr,
    /// The signed link to the tileset's root, straight to `upstream`.
    href: String,
    /// The files every tool must write: the dumped tileset for Azurite; for the emulator
    /// (whose tiles depend on the export), those of the warm-up run's manifest.
    expected: Option<TreeChecksums>,
    /// The Azurite or emulator process, stopped when dropped.
    _process: Box<dyn std::any::Any>,
}

/// What every run needs: the programs, and where runs write.
struct Tools<'a> {
    exe: &'a Path,
    curl: Option<PathBuf>,
    azcopy: Option<PathBuf>,
    work: &'a Path,
}

/// Downloads the tileset at every profile of `plan` with every tool available, and checks
/// every output.
pub fn link_comparison(
    runtime: &tokio::runtime::Runtime,
    emulator_exe: &Path,
    exe: &Path,
    plan: &LinkPlan,
) -> Result<LinkResults, String> {
    let work = tempfile::Builder::new()
        .prefix("mesh-export-bench-link-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    let dump = work.path().join("tileset");
    dump_tileset(emulator_exe, plan, &dump)?;
    let dumped = download::tree_checksums(&dump)?;
    let tools_dir = npm_tools::tools_dir(exe);
    let mut not_run = Vec::new();
    let mut sources = Vec::new();
    match start_azurite(&tools_dir, work.path(), &dump) {
        Ok((process, href)) => sources.push(Source {
            server: Server::Azurite,
            upstream: process.addr(),
            href,
            expected: Some(dumped.clone()),
            _process: Box::new(process),
        }),
        Err(why) => not_run.push(format!("Azurite, and so azcopy: {why}")),
    }
    let azcopy = match sources.is_empty() {
        true => None,
        false => npm_tools::azcopy(&tools_dir)
            .map_err(|why| not_run.push(format!("azcopy: {why}")))
            .ok(),
    };
    if plan.emulator || sources.is_empty() {
        sources.push(start_emulator(runtime, emulator_exe, plan)?);
    }
    let curl = download::find_curl()
        .map_err(|why| not_run.push(format!("curl: {why}")))
        .ok();
    let mut peers: Vec<String> = sources
        .iter()
        .map(|source| match source.server {
            Server::Azurite => format!("Azurite {} (in memory)", npm_tools::AZURITE_VERSION),
            Server::Emulator => "the emulator".to_owned(),
        })
        .collect();
    peers.extend(curl.as_deref().map(download::curl_version));
    peers.extend(
        azcopy
            .as_deref()
            .and_then(|exe| npm_tools::azcopy_version(exe).ok()),
    );
    let tools = Tools {
        exe,
        curl,
        azcopy,
        work: work.path(),
    };
    for source in &mut sources {
        warm_up(&tools, source)?;
    }
    let mut tables = Vec::new();
    for &one_way_ms in &plan.profiles_ms {
        for source in &sources {
            tables.push(profile(runtime, &tools, source, plan, one_way_ms)?);
        }
    }
    let runs: usize = tables
        .iter()
        .flat_map(|t| &t.tools)
        .map(|r| r.seconds.len())
        .sum();
    Ok(LinkResults {
        files: dumped.len() as u64,
        bytes: dumped.values().map(|(size, _)| size).sum(),
        rounds: plan.rounds,
        tables,
        peers,
        not_run,
        verified: format!(
            "Every run's output ({runs} counted runs, plus one uncounted warm-up run of each tool on loopback per server) was hashed in full and compared with the tileset: the files the emulator wrote with `--dump-tileset` and Azurite serves, or, for the emulator's own export (whose tiles differ), the files of the warm-up run's manifest. azcopy's tree under the container's name was compared like the others."
        ),
    })
}

/// Writes the emulator's tileset of `plan`'s size into `dir`: what Azurite serves.
fn dump_tileset(emulator_exe: &Path, plan: &LinkPlan, dir: &Path) -> Result<(), String> {
    let status = Command::new(emulator_exe)
        .arg("--dump-tileset")
        .arg(dir)
        .args(["--tiles", &plan.tiles.to_string()])
        .args(["--tile-bytes", &plan.tile_bytes.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", emulator_exe.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("dumping the tileset failed ({status})"))
    }
}

/// Azurite installed if need be, started, and loaded with the tileset in `dump`; its
/// container's signed link.
fn start_azurite(
    tools_dir: &Path,
    work: &Path,
    dump: &Path,
) -> Result<(AzuriteProcess, String), String> {
    let tools = npm_tools::azurite(tools_dir)?;
    let process = AzuriteProcess::start(&tools, work)?;
    eprintln!(
        "link: loading the tileset into Azurite on {}",
        process.addr()
    );
    let href = process.load(&tools, dump)?;
    Ok((process, href))
}

/// An emulator of its own serving `plan`'s tileset, and the signed link of one export.
fn start_emulator(
    runtime: &tokio::runtime::Runtime,
    emulator_exe: &Path,
    plan: &LinkPlan,
) -> Result<Source, String> {
    let emulator = EmulatorProcess::start(
        emulator_exe,
        &EmulatorSettings {
            tiles: plan.tiles,
            tile_bytes: plan.tile_bytes,
        },
    )?;
    let (api, _) = runtime.block_on(Api::setup(&emulator))?;
    let href = exported_mesh_href(runtime, &api)?;
    let upstream = emulator
        .base_url()
        .strip_prefix("http://")
        .and_then(|addr| addr.parse().ok())
        .ok_or("the emulator's address is not http://IP:PORT")?;
    Ok(Source {
        server: Server::Emulator,
        upstream,
        href,
        expected: None,
        _process: Box::new(emulator),
    })
}

/// One uncounted run of each kind of tool on loopback, so no counted run pays for cold
/// caches; for the emulator it also fixes what every later run must write.
fn warm_up(tools: &Tools<'_>, source: &mut Source) -> Result<(), String> {
    eprintln!("link warm-up, {:?}", source.server);
    if source.expected.is_none() {
        let dir = tools.work.join("warm-up");
        download::fresh_dir(&dir)?;
        download::run_downloader(tools.exe, &source.href, &dir, None)?;
        let manifest = mesh_export::tiles::Manifest::read(&dir)
            .map_err(|e| format!("reading the manifest: {e}"))?
            .ok_or("the downloader wrote no manifest")?;
        let expected = download::manifest_checksums(&manifest);
        download::compare(
            "the downloader",
            &expected,
            &download::tree_checksums(&dir)?,
        )?;
        remove(&dir);
        source.expected = Some(expected);
    }
    for tool in tool_list(tools, source, &[]) {
        if matches!(
            tool,
            LinkTool::Default | LinkTool::Curl(_) | LinkTool::Azcopy
        ) {
            run_checked(tools, source, &source.href, tool)?;
        }
    }
    Ok(())
}

/// The tools measured against `source`: the default downloader, the sweep, curl, azcopy.
fn tool_list(tools: &Tools<'_>, source: &Source, sweep: &[usize]) -> Vec<LinkTool> {
    let mut list = vec![LinkTool::Default];
    list.extend(sweep.iter().map(|&n| LinkTool::Fixed(n)));
    if tools.curl.is_some() {
        list.push(LinkTool::Curl(CURL_PARALLEL_DEFAULT));
    }
    if tools.azcopy.is_some() && source.server == Server::Azurite {
        list.push(LinkTool::Azcopy);
    }
    list
}

/// Every tool's runs against `source` with `one_way_ms` added each way (through the proxy;
/// straight to the server at 0), in an order that rotates each round.
fn profile(
    runtime: &tokio::runtime::Runtime,
    tools: &Tools<'_>,
    source: &Source,
    plan: &LinkPlan,
    one_way_ms: u64,
) -> Result<LinkTable, String> {
    let proxy = match one_way_ms {
        0 => None,
        ms => Some(
            runtime
                .block_on(LatencyProxy::start(
                    source.upstream,
                    Duration::from_millis(ms),
                ))
                .map_err(|e| format!("cannot start the latency proxy: {e}"))?,
        ),
    };
    let href = match &proxy {
        None => source.href.clone(),
        Some(proxy) => through(&source.href, source.upstream, proxy.addr())?,
    };
    let list = tool_list(tools, source, &plan.sweep);
    let mut runs: Vec<ToolRuns> = list
        .iter()
        .map(|&tool| ToolRuns {
            tool,
            seconds: Vec::new(),
            peak_bytes: Vec::new(),
        })
        .collect();
    for round in 0..plan.rounds {
        let mut order: Vec<usize> = (0..list.len()).collect();
        order.rotate_left(round % list.len());
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let (wall, peak) = run_checked(tools, source, &href, list[i])?;
            eprintln!(
                "link {one_way_ms} ms, {:?}, round {}/{}: {} {:.2} s",
                source.server,
                round + 1,
                plan.rounds,
                list[i].label(),
                wall.as_secs_f64()
            );
            runs[i].seconds.push(wall.as_secs_f64());
            runs[i].peak_bytes.extend(peak);
        }
    }
    Ok(LinkTable {
        one_way_ms,
        server: source.server,
        tools: runs,
    })
}

/// One run of `tool` from `href` into a fresh directory, its output compared with what
/// `source` must give and then deleted; its wall time and, for the downloader, peak memory.
fn run_checked(
    tools: &Tools<'_>,
    source: &Source,
    href: &str,
    tool: LinkTool,
) -> Result<(Duration, Option<u64>), String> {
    let expected = source.expected.as_ref().expect("set by the warm-up");
    let dir = tools.work.join("run");
    remove(&dir);
    download::fresh_dir(&dir)?;
    let (wall, peak, written) = match tool {
        LinkTool::Default | LinkTool::Fixed(_) => {
            let files = match tool {
                LinkTool::Fixed(n) => Some(n),
                _ => None,
            };
            let (wall, report) = download::run_downloader(tools.exe, href, &dir, files)?;
            (wall, report.peak_kib.map(|kib| kib * 1024), dir.clone())
        }
        LinkTool::Curl(parallel) => {
            let curl = tools.curl.as_ref().expect("listed only when found");
            let tileset = TilesetUrl::from_root_href(href).map_err(|e| e.to_string())?;
            let config = tools.work.join("curl.config");
            let text =
                download::curl_config_of(&tileset, expected.keys().map(String::as_str), &dir)?;
            std::fs::write(&config, text)
                .map_err(|e| format!("cannot write curl's config: {e}"))?;
            let (wall, _) = download::run_curl(curl, &config, parallel)?;
            (wall, None, dir.clone())
        }
        LinkTool::Azcopy => {
            let azcopy = tools.azcopy.as_ref().expect("listed only when installed");
            let wall = run_azcopy(azcopy, href, &dir, &tools.work.join("azcopy"))?;
            (wall, None, dir.join(container_name(href)?))
        }
    };
    let tool_name = tool.label();
    download::compare(&tool_name, expected, &download::tree_checksums(&written)?)?;
    // Latency, not the disk, is measured here: deleting keeps a full run's disk use small.
    remove(&dir);
    Ok((wall, peak))
}

/// The last segment of a container URL's path: where azcopy puts the container's files.
fn container_name(href: &str) -> Result<String, String> {
    reqwest::Url::parse(href)
        .ok()
        .and_then(|url| {
            url.path_segments()?
                .rfind(|segment| !segment.is_empty())
                .map(str::to_owned)
        })
        .ok_or_else(|| "the container URL names no container".to_owned())
}

/// `href`, a link to `upstream`, pointed at `proxy` instead.
fn through(href: &str, upstream: SocketAddr, proxy: SocketAddr) -> Result<String, String> {
    href.strip_prefix(&format!("http://{upstream}/"))
        .map(|rest| format!("http://{proxy}/{rest}"))
        .ok_or_else(|| format!("the tileset's link does not point at {upstream}"))
}

/// Deletes `dir` and everything under it, if it exists.
fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_pointed_at_the_proxy_with_its_query_untouched() {
        let upstream: SocketAddr = "127.0.0.1:10000".parse().unwrap();
        let proxy: SocketAddr = "127.0.0.1:20000".parse().unwrap();
        let href = "http://127.0.0.1:10000/devstoreaccount1/tiles?sv=1&sig=a%2Bb";
        assert_eq!(
            through(href, upstream, proxy).unwrap(),
            "http://127.0.0.1:20000/devstoreaccount1/tiles?sv=1&sig=a%2Bb"
        );
        assert!(through("http://127.0.0.1:10001/x", upstream, proxy).is_err());
    }

    #[test]
    fn azcopy_writes_under_the_container_name() {
        assert_eq!(
            container_name("http://127.0.0.1:1/devstoreaccount1/tiles?sv=1&sp=rl").unwrap(),
            "tiles"
        );
        assert!(container_name("http://127.0.0.1:1/?sv=1").is_err());
    }
}
