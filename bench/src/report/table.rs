//! The summary table: one row per measurement, with its baseline, target and result.

use std::fmt::Write as _;

use super::{
    API_OVERHEAD_TARGET, EmulatorThroughput, PEAK_MEMORY_TARGET, Results, mb, mib, verdict,
};
use crate::stats::{median, thousands};

impl Results {
    /// The summary table, as markdown.
    pub fn table(&self) -> String {
        let mut t = String::new();
        t.push_str("| Measurement | This project | Baseline | Ratio | Target | Result |\n");
        t.push_str("|---|---|---|---|---|---|\n");
        self.api_rows(&mut t);
        self.download_rows(&mut t);
        self.scale_row(&mut t);
        match &self.link {
            Ok(link) => link.summary_rows(&mut t),
            Err(why) => {
                let _ = writeln!(
                    t,
                    "| tileset download over a link | not run: {why} | – | – | – | not measured |"
                );
            }
        }
        self.bounds_rows(&mut t);
        self.emulator_row(&mut t);
        self.codegen_row(&mut t);
        t
    }

    /// The `get-exports` comparisons, one row per concurrency.
    fn api_rows(&self, t: &mut String) {
        for cmp in &self.api {
            let mode = if cmp.concurrency == 1 {
                "sequential".to_owned()
            } else {
                format!("{} concurrent", cmp.concurrency)
            };
            let ratio = cmp.ratio();
            let _ = writeln!(
                t,
                "| `get-exports`, {mode} (req/s, median of {}) | stack {} | bare reqwest {} | {ratio:.3}× cost ({:+.1}%) | ≤ {API_OVERHEAD_TARGET:.2}× | {} |",
                self.rounds,
                thousands(median(&cmp.stack)),
                thousands(median(&cmp.bare)),
                (ratio - 1.0) * 100.0,
                verdict(ratio <= API_OVERHEAD_TARGET),
            );
        }
    }

    /// The download against curl, and the downloader's peak memory.
    fn download_rows(&self, t: &mut String) {
        match &self.download {
            Ok(d) => {
                let ours = median(&d.downloader.mb_per_s);
                match &d.curl {
                    Ok(curl) => {
                        let theirs = median(&curl.mb_per_s);
                        let _ = writeln!(
                            t,
                            "| tileset download, {} files / {}, {} at a time (MB/s, median of {}) | downloader {ours:.1} | {} {theirs:.1} | {:.2}× speed | ≥ 1.00× | {} |",
                            d.files,
                            mb(d.bytes),
                            d.concurrency,
                            d.downloader.mb_per_s.len(),
                            curl.tool,
                            ours / theirs,
                            verdict(ours >= theirs),
                        );
                    }
                    Err(why) => {
                        let _ = writeln!(
                            t,
                            "| tileset download, {} files / {} (MB/s) | downloader {ours:.1} | curl not run: {why} | – | ≥ 1.00× | not measured |",
                            d.files,
                            mb(d.bytes),
                        );
                    }
                }
                match d.downloader.peak_bytes.iter().max() {
                    Some(&peak) => {
                        let _ = writeln!(
                            t,
                            "| downloader peak memory (VmHWM, worst of {}) | {} | – | – | < {} | {} |",
                            d.downloader.peak_bytes.len(),
                            mib(peak),
                            mib(PEAK_MEMORY_TARGET),
                            verdict(peak < PEAK_MEMORY_TARGET),
                        );
                    }
                    None => t.push_str(
                        "| downloader peak memory | unknown (no /proc) | – | – | < 64.0 MiB | not measured |\n",
                    ),
                }
            }
            Err(why) => {
                let _ = writeln!(
                    t,
                    "| tileset download | not run: {why} | – | – | ≥ 1.00× curl | not measured |"
                );
            }
        }
    }

    /// The many-small-files download.
    fn scale_row(&self, t: &mut String) {
        match &self.scale {
            Ok(scale) => {
                let peak = scale.peak_bytes.iter().max();
                let _ = writeln!(
                    t,
                    "| tileset of {} small files / {}, {} at a time (files/s, median of {}; peak memory VmHWM, worst run) | downloader {} files/s, peak {} | – | – | < {} | {} |",
                    thousands(scale.files as f64),
                    mb(scale.bytes),
                    scale.concurrency,
                    scale.files_per_s.len(),
                    thousands(median(&scale.files_per_s)),
                    peak.map_or_else(|| "unknown (no /proc)".to_owned(), |p| mib(*p)),
                    mib(PEAK_MEMORY_TARGET),
                    peak.map_or("not measured", |p| verdict(*p < PEAK_MEMORY_TARGET)),
                );
            }
            Err(why) => {
                let _ = writeln!(
                    t,
                    "| tileset of many small files | not run: {why} | – | – | < {} | not measured |",
                    mib(PEAK_MEMORY_TARGET)
                );
            }
        }
    }

    /// The emulator's own throughput against the busiest client, when it was measured.
    fn emulator_row(&self, t: &mut String) {
        if let Some(best) = self.best_emulator() {
            let emulator = median(&best.rps);
            let cores = median(&best.cores);
            let per_core = emulator / cores;
            let machine = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            let busiest = self.busiest_client_rate();
            let verdict = if emulator > busiest {
                "not the bottleneck"
            } else if per_core * machine > busiest {
                "not the bottleneck alone: client and emulator saturate the cores together"
            } else {
                "**may be the bottleneck**"
            };
            let _ = writeln!(
                t,
                "| emulator `get-exports` throughput, best of {} (req/s, {} concurrent, body not decoded, median of {}) | emulator {} on {cores:.2} cores ({} per core) | busiest client above {} | {:.2}× headroom measured, {:.2}× with all {machine} cores | > 1× | {verdict} |",
                self.emulator
                    .iter()
                    .map(|e| e.concurrency.to_string())
                    .collect::<Vec<_>>()
                    .join(" / "),
                best.concurrency,
                best.rps.len(),
                thousands(emulator),
                thousands(per_core),
                thousands(busiest),
                emulator / busiest,
                per_core * machine / busiest,
            );
        }
    }

    /// The wall time of `cargo xtask codegen --check`.
    fn codegen_row(&self, t: &mut String) {
        match (self.codegen_ms, self.codegen_subprocess_ms) {
            (Some(inner), sub) => {
                let sub = sub
                    .map(|s| format!("`cargo xtask codegen --check` process {s:.0} ms"))
                    .unwrap_or_else(|| "–".to_owned());
                let _ = writeln!(
                    t,
                    "| `cargo xtask codegen --check` wall time (load, generate, diff; median) | {inner:.0} ms | {sub} | – | – | measured |"
                );
            }
            (None, _) => t.push_str(
                "| `cargo xtask codegen --check` wall time | not measured (run through `cargo xtask bench`) | – | – | – | – |\n",
            ),
        }
    }

    /// The emulator measurement with the highest median rate.
    fn best_emulator(&self) -> Option<&EmulatorThroughput> {
        self.emulator
            .iter()
            .max_by(|a, b| median(&a.rps).total_cmp(&median(&b.rps)))
    }

    /// The highest median request rate of the API comparison.
    fn busiest_client_rate(&self) -> f64 {
        self.api
            .iter()
            .flat_map(|c| [median(&c.stack), median(&c.bare)])
            .fold(0.0, f64::max)
    }
}
