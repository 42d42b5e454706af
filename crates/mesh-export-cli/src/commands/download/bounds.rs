//! `download`'s bounds on what a tileset may make it do: the flags over the library's
//! [`DownloadOptions`] bounds, with the library's defaults.

use std::fmt;
use std::str::FromStr;

use clap::Args;
use mesh_export::tiles::{Concurrency, DownloadOptions};

/// The bounds a download keeps, each a flag whose default is the library's.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Bounds on what a tileset may make the download do")]
pub struct DownloadBounds {
    /// The most files the download may name, the tileset included.
    ///
    /// Past it the file that names more fails and the download ends incomplete (exit 7)
    /// naming `max_files`. Raise it for a tileset of more files than the default: an implicit
    /// tileset may name millions.
    #[arg(long, value_name = "N", default_value_t = DownloadOptions::default().max_files,
        value_parser = clap::value_parser!(u64).range(1..))]
    max_files: u64,
    /// The most bytes a gzip-encoded file may decode to (e.g. 2GiB, 512MiB, 500MB or bytes).
    ///
    /// Past it the file fails (exit 7) and is not kept. Raise it for tiles larger than the
    /// default; a file sent as is needs no bound.
    #[arg(long, value_name = "SIZE",
        default_value_t = ByteSize(DownloadOptions::default().max_decoded_bytes))]
    max_decoded_bytes: ByteSize,
    /// How many times its own size a gzip-encoded file may decode to, past its first MiB.
    ///
    /// Past it the file fails as a decompression bomb (exit 7). Raise it only for content
    /// that compresses unusually well and that you trust.
    #[arg(long, value_name = "RATIO", default_value_t = DownloadOptions::default().max_expansion,
        value_parser = clap::value_parser!(u64).range(1..))]
    max_expansion: u64,
    /// The deepest nesting of JSON arrays and objects read in a tileset or glTF.
    ///
    /// Past it the file fails and what it names is not followed (exit 7). Each level of tiles
    /// nests two; raise it for a tileset nested deeper than half the default.
    #[arg(long, value_name = "DEPTH", default_value_t = DownloadOptions::default().max_json_depth,
        value_parser = clap::value_parser!(u32).range(1..))]
    max_json_depth: u32,
}

impl DownloadBounds {
    /// The library's defaults with these bounds and `concurrency`.
    pub fn options(&self, concurrency: Concurrency) -> DownloadOptions {
        DownloadOptions {
            concurrency,
            max_files: self.max_files,
            max_decoded_bytes: self.max_decoded_bytes.0,
            max_expansion: self.max_expansion,
            max_json_depth: self.max_json_depth,
            ..DownloadOptions::default()
        }
    }
}

impl Default for DownloadBounds {
    fn default() -> Self {
        let defaults = DownloadOptions::default();
        DownloadBounds {
            max_files: defaults.max_files,
            max_decoded_bytes: ByteSize(defaults.max_decoded_bytes),
            max_expansion: defaults.max_expansion,
            max_json_depth: defaults.max_json_depth,
        }
    }
}

/// A number of bytes as people write it: `2GiB`, `512MiB`, `500MB`, `1048576`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_size::parse_size(text)
            .map(ByteSize)
            .map_err(|e| format!("{e}: give bytes, or a size such as 2GiB, 512MiB or 500MB"))
    }
}

impl fmt::Display for ByteSize {
    /// The largest binary unit that writes the size whole, so that it reads back the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
        for (unit, shift) in UNITS {
            if self.0 != 0 && self.0.trailing_zeros() >= shift {
                return write!(f, "{}{unit}", self.0 >> shift);
            }
        }
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_and_decimal_units_and_plain_bytes() {
        for (text, bytes) in [
            ("2GiB", 2 << 30),
            ("512MiB", 512 << 20),
            ("500MB", 500_000_000),
            ("1048576", 1 << 20),
            ("1.5KiB", 1536),
        ] {
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)), "{text}");
        }
    }

    #[test]
    fn a_size_that_is_not_one_is_refused_with_examples() {
        for text in ["", "lots", "-1GiB", "2 parsecs"] {
            let error = text.parse::<ByteSize>().unwrap_err();
            assert!(error.contains("2GiB"), "{text}: {error}");
        }
    }

    #[test]
    fn a_size_prints_in_the_largest_whole_unit_and_reads_back_the_same() {
        for (bytes, text) in [
            (1 << 30, "1GiB"),
            (3 << 19, "1536KiB"),
            (512 << 20, "512MiB"),
            (1000, "1000"),
            (0, "0"),
        ] {
            assert_eq!(ByteSize(bytes).to_string(), text);
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)));
        }
    }

    #[derive(Debug, clap::Parser)]
    struct Command {
        #[command(flatten)]
        bounds: DownloadBounds,
    }

    fn parsed(args: &[&str]) -> DownloadOptions {
        use clap::Parser as _;
        let command =
            Command::try_parse_from(std::iter::once("download").chain(args.iter().copied()));
        command.unwrap().bounds.options(Concurrency::Fixed(3))
    }

    #[test]
    fn without_flags_the_bounds_are_the_library_defaults() {
        let defaults = DownloadOptions::default();
        for options in [
            parsed(&[]),
            DownloadBounds::default().options(Concurrency::Fixed(3)),
        ] {
            assert_eq!(options.concurrency, Concurrency::Fixed(3));
            assert_eq!(options.max_files, defaults.max_files);
            assert_eq!(options.max_decoded_bytes, defaults.max_decoded_bytes);
            assert_eq!(options.max_expansion, defaults.max_expansion);
            assert_eq!(options.max_json_depth, defaults.max_json_depth);
        }
    }

    #[test]
    fn each_flag_sets_its_bound() {
        let options = parsed(&[
            "--max-files",
            "3",
            "--max-decoded-bytes",
            "2GiB",
            "--max-expansion",
            "7",
            "--max-json-depth",
            "9",
        ]);
        assert_eq!(options.max_files, 3);
        assert_eq!(options.max_decoded_bytes, 2 << 30);
        assert_eq!(options.max_expansion, 7);
        assert_eq!(options.max_json_depth, 9);
    }
}
