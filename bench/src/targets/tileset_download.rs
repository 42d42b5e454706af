//! One export's tileset downloaded by the downloader and by `curl --parallel`, alternating which
//! goes first, every output checked against the downloader's manifest.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mesh_export::tiles::{Manifest, TilesetUrl};

use super::exported_mesh_href;
use crate::api::Api;
use crate::download::{self, TreeChecksums};
use crate::plan::Plan;
use crate::report::{DownloadResults, DownloadRuns};

/// Downloads one export's tileset with the downloader and with curl, alternating which goes
/// first, and checks every output against the downloader's manifest.
pub fn download_comparison(
    runtime: &tokio::runtime::Runtime,
    api: &Arc<Api>,
    exe: &Path,
    plan: &Plan,
    concurrency: usize,
) -> Result<DownloadResults, String> {
    let href = exported_mesh_href(runtime, api)?;
    let tileset = TilesetUrl::from_root_href(&href).map_err(|e| e.to_string())?;
    let curl = download::find_curl();

    let work = tempfile::Builder::new()
        .prefix("mesh-export-bench-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    let mut runs = Runs {
        exe,
        href: &href,
        tileset: &tileset,
        concurrency,
        work: work.path(),
        first_manifest: None,
        expected: None,
        totals: (0, 0),
        downloader: DownloadRuns {
            tool: "downloader".into(),
            mb_per_s: Vec::new(),
            peak_bytes: Vec::new(),
            cpu_s: Vec::new(),
        },
        curl: curl.as_ref().ok().map(|path| DownloadRuns {
            tool: format!("`{} --parallel`", download::curl_version(path)),
            mb_per_s: Vec::new(),
            peak_bytes: Vec::new(),
            cpu_s: Vec::new(),
        }),
    };
    // Round 0 warms both tools, the emulator and the filesystem up and is not counted; it also
    // gives curl its URL list, from the downloader's manifest.
    for round in 0..=plan.download_rounds {
        let counted = round > 0;
        let label = if counted {
            format!("round {round}/{}", plan.download_rounds)
        } else {
            "warm-up".to_owned()
        };
        let curl_first = round % 2 == 0 && counted;
        for tool_is_curl in [curl_first, !curl_first] {
            if !tool_is_curl {
                eprintln!("download {label}: downloader");
                runs.downloader_round(round, counted)?;
            } else if let Ok(curl_path) = &curl
                && runs.curl.is_some()
            {
                eprintln!("download {label}: curl");
                runs.curl_round(curl_path, round, counted)?;
            }
        }
    }
    let verified = format!(
        "Outputs went to a temporary directory under {} ({}). Every run's output was hashed in full: {} downloader runs and {} curl runs (plus one uncounted warm-up run of each) wrote the same {} files (size and XXH3-128 checksum) as the downloader's manifest lists.",
        work.path().parent().unwrap_or(work.path()).display(),
        download::filesystem_of(work.path()),
        plan.download_rounds,
        runs.curl.as_ref().map_or(0, |r| r.mb_per_s.len()),
        runs.totals.0
    );
    Ok(DownloadResults {
        files: runs.totals.0,
        bytes: runs.totals.1,
        concurrency,
        downloader: runs.downloader,
        curl: match (curl, runs.curl) {
            (Ok(_), Some(runs)) => Ok(runs),
            (Err(why), _) => Err(why),
            (Ok(_), None) => Err("curl was not run".into()),
        },
        verified,
    })
}

/// The download comparison as it goes: where the runs write, what the first run's manifest
/// says every later output must be, and each tool's runs so far.
struct Runs<'a> {
    exe: &'a Path,
    href: &'a str,
    tileset: &'a TilesetUrl,
    concurrency: usize,
    /// Each run writes into a fresh directory under it, and nothing is deleted until the end:
    /// on a filesystem mounted with `discard`, deleting a previous run's files slows the next
    /// run.
    work: &'a Path,
    /// The first downloader run's manifest: curl's URL list.
    first_manifest: Option<Manifest>,
    /// The files of the first downloader run's manifest, which every run must write.
    expected: Option<TreeChecksums>,
    /// Files and bytes of the tileset.
    totals: (u64, u64),
    downloader: DownloadRuns,
    /// curl's runs, when curl is there.
    curl: Option<DownloadRuns>,
}

impl Runs<'_> {
    fn ours_dir(&self, round: usize) -> PathBuf {
        self.work.join(format!("downloader-{round}"))
    }

    fn curl_dir(&self, round: usize) -> PathBuf {
        self.work.join(format!("curl-{round}"))
    }

    /// One run of the downloader: its output checked against its own manifest and the first
    /// run's, its report against the manifest, and (when `counted`) its rate recorded.
    fn downloader_round(&mut self, round: usize, counted: bool) -> Result<(), String> {
        let ours_dir = self.ours_dir(round);
        download::fresh_dir(&ours_dir)?;
        let (wall, report) =
            download::run_downloader(self.exe, self.href, &ours_dir, Some(self.concurrency))?;
        if report.refused > 0 || report.retries > 0 {
            eprintln!(
                "note: the downloader refused {} URIs and retried {} times",
                report.refused, report.retries
            );
        }
        let manifest = Manifest::read(&ours_dir)
            .map_err(|e| format!("reading the manifest: {e}"))?
            .ok_or("the downloader wrote no manifest")?;
        let from_manifest = download::manifest_checksums(&manifest);
        let on_disk = download::tree_checksums(&ours_dir)?;
        download::compare("the downloader", &from_manifest, &on_disk)?;
        match &self.expected {
            None => {
                self.totals = (
                    from_manifest.len() as u64,
                    from_manifest.values().map(|(size, _)| size).sum::<u64>(),
                );
                self.first_manifest = Some(manifest);
                self.expected = Some(from_manifest);
            }
            Some(expected) => download::compare("the downloader", expected, &on_disk)?,
        }
        if report.files != self.totals.0 || report.bytes != self.totals.1 {
            return Err(format!(
                "the downloader reported {} files / {} bytes, the manifest {} / {}",
                report.files, report.bytes, self.totals.0, self.totals.1
            ));
        }
        if !counted {
            return Ok(());
        }
        self.downloader
            .mb_per_s
            .push(self.totals.1 as f64 / 1e6 / wall.as_secs_f64());
        if let Some(kib) = report.peak_kib {
            self.downloader.peak_bytes.push(kib * 1024);
        }
        if let Some(cpu) = report.cpu_s {
            self.downloader.cpu_s.push(cpu);
        }
        Ok(())
    }

    /// One run of curl over the first downloader run's URL list: its output checked against
    /// that run's manifest, and (when `counted`) its rate recorded.
    fn curl_round(&mut self, curl: &Path, round: usize, counted: bool) -> Result<(), String> {
        let curl_dir = self.curl_dir(round);
        download::fresh_dir(&curl_dir)?;
        let manifest = self
            .first_manifest
            .as_ref()
            .expect("the downloader ran first");
        let config = download::curl_config(self.tileset, manifest, &curl_dir)?;
        let curl_config = self.work.join("curl.config");
        std::fs::write(&curl_config, config)
            .map_err(|e| format!("cannot write curl's config: {e}"))?;
        let (wall, cpu) = download::run_curl(curl, &curl_config, self.concurrency)?;
        let on_disk = download::tree_checksums(&curl_dir)?;
        download::compare("curl", self.expected.as_ref().expect("set"), &on_disk)?;
        if !counted {
            return Ok(());
        }
        let runs = self.curl.as_mut().expect("curl runs exist when curl does");
        runs.mb_per_s
            .push(self.totals.1 as f64 / 1e6 / wall.as_secs_f64());
        if let Some(cpu) = cpu {
            runs.cpu_s.push(cpu);
        }
        Ok(())
    }
}
