//! The targets a run missed, each in a sentence with the numbers that explain it.

use std::fmt::Write as _;

use super::{API_OVERHEAD_TARGET, PEAK_MEMORY_TARGET, Results, mib};
use crate::stats::{median, thousands};

impl Results {
    /// Whether any `get-exports` comparison missed its target.
    pub fn api_missed(&self) -> bool {
        self.api.iter().any(|c| c.ratio() > API_OVERHEAD_TARGET)
    }

    /// Whether the downloader was slower than curl.
    pub fn download_missed(&self) -> bool {
        match &self.download {
            Ok(d) => match &d.curl {
                Ok(curl) => median(&d.downloader.mb_per_s) < median(&curl.mb_per_s),
                Err(_) => false,
            },
            Err(_) => false,
        }
    }

    /// One sentence per target missed, with the numbers that explain it.
    pub fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for cmp in &self.api {
            let ratio = cmp.ratio();
            if ratio > API_OVERHEAD_TARGET {
                out.push(format!(
                    "The stack costs {:+.1}% per call over bare reqwest at concurrency {} (target at most {:+.0}%).",
                    (ratio - 1.0) * 100.0,
                    cmp.concurrency,
                    (API_OVERHEAD_TARGET - 1.0) * 100.0
                ));
            }
        }
        for cmp in &self.api {
            out.push(cmp.attribution());
        }
        if let Ok(d) = &self.download {
            if let Ok(curl) = &d.curl {
                let ours = median(&d.downloader.mb_per_s);
                let theirs = median(&curl.mb_per_s);
                if ours < theirs {
                    let mut sentence = format!(
                        "The downloader reached {:.0}% of curl's throughput ({ours:.1} vs {theirs:.1} MB/s)",
                        ours / theirs * 100.0
                    );
                    if !d.downloader.cpu_s.is_empty() && !curl.cpu_s.is_empty() {
                        let ours_cpu = median(&d.downloader.cpu_s);
                        let theirs_cpu = median(&curl.cpu_s);
                        let _ = write!(
                            sentence,
                            " and used {ours_cpu:.2} CPU s per run against curl's {theirs_cpu:.2} ({:.1}× as much); the emulator, generating the tiles, shares the same cores",
                            ours_cpu / theirs_cpu
                        );
                    }
                    sentence.push('.');
                    out.push(sentence);
                }
            }
            if let Some(&peak) = d.downloader.peak_bytes.iter().max()
                && peak >= PEAK_MEMORY_TARGET
            {
                out.push(format!(
                    "The downloader's peak memory was {} (target under {}).",
                    mib(peak),
                    mib(PEAK_MEMORY_TARGET)
                ));
            }
        }
        if let Ok(link) = &self.link {
            out.extend(link.findings());
        }
        if let Ok(scale) = &self.scale
            && let Some(&peak) = scale.peak_bytes.iter().max()
            && peak >= PEAK_MEMORY_TARGET
        {
            out.push(format!(
                "On {} files the downloader's peak memory was {} (target under {}).",
                thousands(scale.files as f64),
                mib(peak),
                mib(PEAK_MEMORY_TARGET)
            ));
        }
        self.bounds_findings(&mut out);
        out
    }
}
