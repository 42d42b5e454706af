//! Any file a tileset names comes from a blob store we do not control, read as the downloader
//! reads it: its kind from its name, then from its first bytes (`FileKind::sniffed`), its head
//! checked (`content::check_head`), a JSON body with the gzip magic decoded, then read within
//! small `ReadLimits`. Whatever the bytes, for every kind:
//!
//! - nothing panics and no nesting overflows the stack (the JSON bound is sometimes lifted);
//! - a JSON document read whole nests no deeper than `max_json_depth` (deeper is `TooDeep`
//!   naming that bound), and a subtree names at most `max_files` contents and child subtrees
//!   (more is `TooManyFiles` naming that bound), counted before any is listed;
//! - every file named resolves, when it is not refused, to a portable relative path under the
//!   signed root on its host, the same rules as `tileset_walk`;
//! - work is linear in the input: a file other than a subtree names at most one file per byte,
//!   and no file names the same URI against the same base twice;
//! - what cannot be followed is a problem that says so (`Unsupported`).
//!
//! Subtrees are read in the context of an implicit root, their external buffers (each read
//! from the same bytes) and their first child subtree (read from the subtree's bytes again)
//! followed a few steps.

use std::collections::HashSet;
use std::io::Read as _;
use std::sync::Arc;

use serde_json::json;
use tiles3d::TilePath;
use tiles3d::content::check_head;
use tiles3d::implicit::{ImplicitTiling, SubtreeContext, TileCoord};
use tiles3d::walk::{FileKind, ReadLimits, Reference, WalkError, Walked, read_within};
use tiles3d_download::TilesetUrl;

use super::portable::assert_portable;

const ROOT: &str = "https://tiles.example.com/container/export?sv=2024&sig=SIGNATURE";

/// What a file is named, and so the kind the downloader starts from.
const NAMES: [&str; 10] = [
    "tiles/tileset.json",
    "tiles/m.gltf",
    "tiles/m.glb",
    "tiles/t.b3dm",
    "tiles/t.i3dm",
    "tiles/t.cmpt",
    "tiles/t.pnts",
    "tiles/t.bin",
    // Named by a `schemaUri` or a glTF: read as any JSON object, not as a tileset.
    "tiles/schema.json",
    // Named by an implicit tiling: read in its context.
    "tiles/subtrees/0/0/0.subtree",
];
const SCHEMA: usize = 8;
const SUBTREE: usize = 9;

/// How many external buffers and child subtrees one input may lead to.
const MAX_FOLLOWED: usize = 8;

/// The largest body a gzip-magic JSON decodes to here.
const MAX_DECODED: u64 = 1 << 20;

/// The input is `<selector><limits><body>`. The selector picks the name ([`NAMES`], modulo
/// its length) and, for a subtree, the tiling (the quotient's bits: octree, two contents,
/// subtree levels). The limits byte gives `max_json_depth` (its low five bits plus one, or no
/// bound at all for 31) and `max_files` (three per step of its high three bits, plus one). A
/// subtree's body is `<u16 LE subtree length><subtree><bytes of every buffer it waits for>`.
pub fn check(data: &[u8]) {
    read(data);
}

/// What reading one input named and why reads failed, in the order read.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every URI named.
    pub named: Vec<String>,
    /// Why each failed read failed.
    pub errors: Vec<String>,
}

/// Runs the properties over `data`.
pub fn read(data: &[u8]) -> Outcome {
    let [selector, limits, body @ ..] = data else {
        return Outcome::default();
    };
    let limits = ReadLimits {
        max_json_depth: match limits & 0x1f {
            31 => u32::MAX,
            depth => u32::from(depth) + 1,
        },
        max_files: u64::from(limits >> 5) * 3 + 1,
    };
    let which = usize::from(*selector) % NAMES.len();
    let path = TilePath::parse(NAMES[which]).expect("a valid path");
    let mut reads = Reads {
        limits,
        outcome: Outcome::default(),
    };
    if which == SUBTREE {
        let shape = selector / NAMES.len() as u8;
        reads.subtree(shape, &path, body);
        return reads.outcome;
    }
    let kind = if which == SCHEMA {
        FileKind::Json
    } else {
        FileKind::of(&path)
    };
    let Some(body) = gunzipped(&kind, body) else {
        return reads.outcome;
    };
    let kind = kind.sniffed(&body[..body.len().min(64)]);
    // The check is what the downloader does first; the reader must hold without it too.
    let _ = check_head(&kind, &body[..body.len().min(64)], body.len() as u64);
    if kind.names_files() {
        let result = read_within(&kind, &path, &body[..], limits);
        reads.document(&kind, &path, &body, result);
    }
    reads.outcome
}

/// A JSON body that starts with the gzip magic, decoded as the downloader decodes a blob
/// uploaded gzipped; `None` when it does not decode within [`MAX_DECODED`].
fn gunzipped(kind: &FileKind, body: &[u8]) -> Option<Vec<u8>> {
    let json = matches!(
        kind,
        FileKind::Tileset | FileKind::Gltf | FileKind::Subtree(_)
    );
    if !json || !body.starts_with(&[0x1f, 0x8b]) {
        return Some(body.to_vec());
    }
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_DECODED + 1)
        .read_to_end(&mut decoded)
        .ok()?;
    (decoded.len() as u64 <= MAX_DECODED).then_some(decoded)
}

struct Reads {
    limits: ReadLimits,
    outcome: Outcome,
}

impl Reads {
    /// The properties of reading a file that is not a subtree.
    fn document(
        &mut self,
        kind: &FileKind,
        path: &TilePath,
        body: &[u8],
        result: Result<Walked, WalkError>,
    ) {
        let walked = match result {
            Ok(walked) => walked,
            Err(error) => return self.error(&error),
        };
        if let Some(json) = json_read_whole(kind, body) {
            let depth = nesting(json);
            // A tileset or glTF read without error parsed whole; bytes read as any JSON may
            // not have been JSON at all (they name nothing then), so they count when they
            // parse, which serde_json's own limit (128) lets this check within.
            let parsed = matches!(kind, FileKind::Tileset | FileKind::Gltf)
                || (depth <= 128 && serde_json::from_slice::<serde_json::Value>(json).is_ok());
            assert!(
                !parsed || u64::from(depth) <= u64::from(self.limits.max_json_depth),
                "{kind:?} nesting {depth} read past max_json_depth {}",
                self.limits.max_json_depth
            );
        }
        assert!(
            walked.references.len() <= body.len(),
            "{} references from {} bytes",
            walked.references.len(),
            body.len()
        );
        self.walked(path, &walked);
    }

    /// Reads `body` as the root subtree of a tiling shaped by `shape`, then the buffers it
    /// waits for and its first child subtree, a few steps.
    fn subtree(&mut self, shape: u8, path: &TilePath, body: &[u8]) {
        let [low, high, rest @ ..] = body else { return };
        let length = usize::from(u16::from_le_bytes([*low, *high])).min(rest.len());
        let (subtree, buffer) = rest.split_at(length);
        let Some(subtree) = gunzipped(&FileKind::Subtree(context(shape)), subtree) else {
            return;
        };
        let mut queue = vec![(FileKind::Subtree(context(shape)), Arc::new(path.clone()))];
        let mut followed = 0;
        while let Some((kind, at)) = queue.pop() {
            let bytes = match kind {
                FileKind::SubtreeBuffer(_) => buffer,
                _ => &subtree[..],
            };
            let result = read_within(&kind, &at, bytes, self.limits);
            let walked = match result {
                Ok(walked) => walked,
                Err(error) => {
                    self.error(&error);
                    continue;
                }
            };
            let listed = walked
                .references
                .iter()
                .filter(|r| matches!(r.kind, None | Some(FileKind::Subtree(_))))
                .count();
            assert!(
                listed as u64 <= self.limits.max_files,
                "{listed} contents and subtrees listed past max_files {}",
                self.limits.max_files
            );
            self.walked(&at, &walked);
            let next = walked.references.iter().find(|r| {
                matches!(
                    r.kind,
                    Some(FileKind::SubtreeBuffer(_) | FileKind::Subtree(_))
                )
            });
            if let Some(next) = next.filter(|_| followed < MAX_FOLLOWED) {
                followed += 1;
                let base = next.base.as_deref().unwrap_or(&at);
                if let Some(file) = resolved(next, base) {
                    let kind = next.kind.clone().expect("filtered on its kind");
                    queue.push((kind, Arc::new(file)));
                }
            }
        }
    }

    /// A failed read names the bound it passed, and only a bound it was given.
    fn error(&mut self, error: &WalkError) {
        match error {
            WalkError::TooDeep { limit } => {
                assert_eq!(*limit, self.limits.max_json_depth, "{error}");
            }
            WalkError::TooManyFiles { named, limit, .. } => {
                assert_eq!(*limit, self.limits.max_files, "{error}");
                assert!(named > limit, "{error}");
            }
            _ => {}
        }
        self.outcome.errors.push(error.to_string());
    }

    /// What holds of every read that succeeded: problems say what they cannot follow, each
    /// URI once per base, every file under the root and portable.
    fn walked(&mut self, path: &TilePath, walked: &Walked) {
        for problem in &walked.problems {
            assert!(
                matches!(problem, WalkError::Unsupported { .. }),
                "a problem that is not Unsupported: {problem:?}"
            );
        }
        let mut seen = HashSet::new();
        for reference in &walked.references {
            let base = reference.base.as_deref().unwrap_or(path);
            assert!(
                seen.insert((reference.uri.as_str(), base.as_str())),
                "{} named twice against {base}",
                reference.uri
            );
            resolved(reference, base);
            self.outcome.named.push(reference.uri.clone());
        }
    }
}

/// The path `reference` resolves to against `base`, asserted under the root and portable;
/// `None` when the downloader refuses it.
fn resolved(reference: &Reference, base: &TilePath) -> Option<TilePath> {
    let root = TilesetUrl::from_root_href(ROOT).expect("the root href is valid");
    let file = root.resolve(&reference.uri, base).ok()??;
    let url = file.url();
    assert_eq!(
        url.host_str(),
        Some("tiles.example.com"),
        "{}",
        reference.uri
    );
    assert!(
        url.path().starts_with("/container/export/"),
        "{} escaped the root: {url}",
        reference.uri
    );
    assert_portable(file.path().as_str(), &reference.uri);
    Some(file.path().clone())
}

/// The context of the root subtree of a tiling shaped by `shape`: bit 0 octree, bit 1 two
/// content templates, bits 2-3 subtree levels less one; twice as many levels available.
fn context(shape: u8) -> Arc<SubtreeContext> {
    let octree = shape & 1 == 1;
    let levels = 1 + u32::from((shape >> 2) & 3);
    let (scheme, coords) = if octree {
        ("OCTREE", "{level}/{x}/{y}/{z}")
    } else {
        ("QUADTREE", "{level}/{x}/{y}")
    };
    let implicit = json!({
        "subdivisionScheme": scheme,
        "subtreeLevels": levels,
        "availableLevels": levels * 2,
        "subtrees": {"uri": format!("subtrees/{coords}.subtree")},
    });
    let (content, contents) = if shape & 2 == 2 {
        let two = json!([
            {"uri": format!("content/a/{coords}.glb")},
            {"uri": format!("content/b/{coords}.b3dm")},
        ]);
        (None, Some(two))
    } else {
        (Some(json!({"uri": format!("content/{coords}.glb")})), None)
    };
    let tileset = TilePath::parse("tiles/tileset.json").expect("a valid path");
    let tiling =
        ImplicitTiling::from_tile(&implicit, content.as_ref(), contents.as_ref(), &tileset)
            .expect("the implicit root is valid");
    Arc::new(SubtreeContext::new(Arc::new(tiling), TileCoord::ROOT))
}

/// The JSON a successful read of `kind` went through whole: a JSON document (after a byte
/// order mark), or the JSON chunk of a binary glTF 2.0.
fn json_read_whole<'a>(kind: &FileKind, body: &'a [u8]) -> Option<&'a [u8]> {
    match kind {
        FileKind::Tileset | FileKind::Gltf | FileKind::Json => {
            Some(body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body))
        }
        FileKind::Glb => {
            let word = |at: usize| {
                let bytes = body.get(at..at + 4)?;
                Some(u32::from_le_bytes(bytes.try_into().ok()?) as usize)
            };
            if word(4)? != 2 || body.get(16..20)? != b"JSON" {
                return None;
            }
            body.get(20..20 + word(12)?)
        }
        _ => None,
    }
}

/// The deepest nesting of arrays and objects in `json`, counted without recursion (strings
/// skipped, escapes honoured), as an independent statement of what the bound bounds.
fn nesting(json: &[u8]) -> u32 {
    let (mut depth, mut deepest) = (0u32, 0u32);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in json {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}
