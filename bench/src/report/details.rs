//! The details below the table: per-round numbers, the breakdown of the stack's cost per call,
//! the emulator alone, and each download run.

use std::fmt::Write as _;

use super::{LABEL_BARE, Results, list2, mib};
use crate::stats::{median, range, thousands};

impl Results {
    /// Per-round numbers and the overhead breakdown, as markdown.
    pub fn details(&self) -> String {
        let mut d = String::new();
        let _ = writeln!(
            d,
            "Each `get-exports` answer is a page of {} exports (`Prefer: return=representation`). Each API measurement ran {:.1} s (the stack and bare reqwest in slices of {:.0} ms, A B B A repeated); the breakdown variants rotate their order. The future of one stack call is {} bytes, that of one bare call {} bytes.\n",
            self.page_exports,
            self.seconds_per_measurement,
            self.seconds_per_slice * 1e3,
            self.future_sizes.0,
            self.future_sizes.1
        );
        d.push_str("| Concurrency | Side | req/s per round | Median | Client CPU µs per call (median) | Emulator CPU (cores, median) |\n|---|---|---|---|---|---|\n");
        self.api_details(&mut d);
        self.breakdown_details(&mut d);
        self.emulator_details(&mut d);
        self.download_details(&mut d);
        self.scale_details(&mut d);
        d
    }

    /// Each side's rate per round, and the cost ratio.
    fn api_details(&self, d: &mut String) {
        for cmp in &self.api {
            let list = |v: &[f64]| {
                v.iter()
                    .map(|x| thousands(*x))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                d,
                "| {} | stack | {} | {} | {:.1} | {:.2} |",
                cmp.concurrency,
                list(&cmp.stack),
                thousands(median(&cmp.stack)),
                median(&cmp.stack_cpu_us),
                median(&cmp.emulator_cores)
            );
            let _ = writeln!(
                d,
                "| {} | bare reqwest | {} | {} | {:.1} | |",
                cmp.concurrency,
                list(&cmp.bare),
                thousands(median(&cmp.bare)),
                median(&cmp.bare_cpu_us)
            );
            let (lo, hi) = range(&cmp.ratios());
            let _ = writeln!(
                d,
                "| {} | cost ratio stack / bare | {} | {:.3} (range {lo:.3}–{hi:.3}) | | |",
                cmp.concurrency,
                cmp.ratios()
                    .iter()
                    .map(|r| format!("{r:.3}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                cmp.ratio()
            );
        }
    }

    /// Where the per-call time goes, variant by variant, at each concurrency.
    fn breakdown_details(&self, d: &mut String) {
        for cmp in &self.api {
            let reference = cmp.breakdown.iter().find(|b| b.label == LABEL_BARE);
            let bare = reference.map_or(f64::NAN, |b| median(&b.rps));
            let _ = write!(
                d,
                "\nWhere the per-call time goes at concurrency {} (each variant measured as one block per round, bare reqwest and the stack again among them; medians over the same rounds; wall time is the machine's time per call, {} in flight; CPU time is what the client process spent per call, all threads):\n\n| Variant | wall µs per call | vs bare reqwest | client CPU µs per call | vs bare reqwest |\n|---|---|---|---|---|\n",
                cmp.concurrency, cmp.concurrency
            );
            let bare_cpu = cmp.cpu_of(LABEL_BARE);
            let mut row = |label: &str, rps: f64, cpu: f64| {
                let _ = writeln!(
                    d,
                    "| {label} | {:.1} | {:+.1} | {cpu:.1} | {:+.1} |",
                    1e6 / rps,
                    1e6 / rps - 1e6 / bare,
                    cpu - bare_cpu
                );
            };
            for b in &cmp.breakdown {
                row(b.label, median(&b.rps), median(&b.cpu_us));
            }
        }
    }

    /// The emulator alone at each concurrency.
    fn emulator_details(&self, d: &mut String) {
        for e in &self.emulator {
            let _ = writeln!(
                d,
                "\nEmulator alone, {} concurrent, body not decoded: {} req/s per round, the emulator using {} cores.",
                e.concurrency,
                e.rps
                    .iter()
                    .map(|x| thousands(*x))
                    .collect::<Vec<_>>()
                    .join(", "),
                e.cores
                    .iter()
                    .map(|x| format!("{x:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }

    /// Each download run of each tool, and how the outputs were checked.
    fn download_details(&self, d: &mut String) {
        if let Ok(dl) = &self.download {
            let list = |v: &[f64]| {
                v.iter()
                    .map(|x| format!("{x:.1}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                d,
                "\nDownload runs (each into a fresh directory after a `sync`, nothing deleted until the end; MB/s over the wall time of the process, start to exit; CPU seconds are user + system of that process):\n\n| Tool | MB/s per run | CPU s per run | Peak memory per run |\n|---|---|---|---|"
            );
            let _ = writeln!(
                d,
                "| downloader | {} | {} | {} |",
                list(&dl.downloader.mb_per_s),
                list2(&dl.downloader.cpu_s),
                dl.downloader
                    .peak_bytes
                    .iter()
                    .map(|b| mib(*b))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Ok(curl) = &dl.curl {
                let _ = writeln!(
                    d,
                    "| {} | {} | {} | – |",
                    curl.tool,
                    list(&curl.mb_per_s),
                    list2(&curl.cpu_s)
                );
            }
            let _ = writeln!(d, "\n{}", dl.verified);
        }
    }

    /// Each many-files run.
    fn scale_details(&self, d: &mut String) {
        if let Ok(scale) = &self.scale {
            let _ = writeln!(
                d,
                "\nMany-files runs ({} files, each run into a fresh directory, its output hashed in full and compared with its manifest): {} files/s, CPU s {}, peak memory {}.",
                thousands(scale.files as f64),
                scale
                    .files_per_s
                    .iter()
                    .map(|x| thousands(*x))
                    .collect::<Vec<_>>()
                    .join(", "),
                list2(&scale.cpu_s),
                scale
                    .peak_bytes
                    .iter()
                    .map(|b| mib(*b))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
}
