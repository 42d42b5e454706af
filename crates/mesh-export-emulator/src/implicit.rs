//! A sparse 3D Tiles 1.1 implicit tileset: a quadtree or octree whose availability is drawn
//! from the seed, with binary `.subtree` files.
//!
//! Layout under the container root:
//! - `tileset.json`: one implicit root tile, `subtreeLevels` 2;
//! - `subtrees/{level}/{x}/{y}[/{z}].subtree`: the subtrees at levels 0, 2 and 4;
//! - `subtrees/0/0/0[/0].bin`: an external buffer holding the root subtree's child subtree
//!   availability (its other bitstreams are in its binary chunk);
//! - `content/{level}/{x}/{y}[/{z}].glb`: the contents of available tiles; octrees also have a
//!   second content per tile, `detail/{level}/{x}/{y}/{z}.glb`, on some of them.
//!
//! A tile is available when its parent is and either it lies in a dense corner (the subtree at
//! `(2, 0, 0[, 0])` is complete, so its availability is a constant), or it is the one child of
//! its parent a hash of the seed picks, or a hash of the seed and its coordinates says so.
//! Availability that is all ones or all zeros in a subtree is written
//! as a constant, the rest as LSB-first bitstreams in Morton order, as the specification asks.

use std::str::FromStr;

use serde_json::{Value, json};

/// The subdivision scheme of an implicit tileset the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImplicitScheme {
    /// A quadtree: six levels, one content per tile.
    Quadtree,
    /// An octree: five levels, two contents per tile.
    Octree,
}

impl FromStr for ImplicitScheme {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.to_ascii_lowercase().as_str() {
            "quadtree" => Ok(Self::Quadtree),
            "octree" => Ok(Self::Octree),
            _ => Err(format!("expected quadtree or octree, got `{value}`")),
        }
    }
}

/// Levels in each subtree file.
const SUBTREE_LEVELS: u32 = 2;
/// Side of the root tile in metres (x and y); the height is a quarter of it.
const ROOT_SIZE: f64 = 320.0;

/// A tile: level and coordinates (`z` is 0 in a quadtree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Coord {
    pub(crate) level: u32,
    pub(crate) x: u64,
    pub(crate) y: u64,
    pub(crate) z: u64,
}

/// A file of the implicit tileset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Tileset,
    Subtree(Coord),
    /// The external availability buffer of the root subtree.
    RootBuffer,
    /// Content `0` or `1` of a tile.
    Content(Coord, usize),
}

/// The implicit tree of one seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tree {
    pub(crate) scheme: ImplicitScheme,
    pub(crate) seed: u64,
}

impl Tree {
    fn octree(&self) -> bool {
        self.scheme == ImplicitScheme::Octree
    }

    fn dims(&self) -> u32 {
        if self.octree() { 3 } else { 2 }
    }

    pub(crate) fn available_levels(&self) -> u32 {
        if self.octree() { 5 } else { 6 }
    }

    fn contents(&self) -> usize {
        if self.octree() { 2 } else { 1 }
    }

    fn suffix(&self, c: Coord) -> String {
        if self.octree() {
            format!("{}/{}/{}/{}", c.level, c.x, c.y, c.z)
        } else {
            format!("{}/{}/{}", c.level, c.x, c.y)
        }
    }

    fn template_suffix(&self) -> &'static str {
        if self.octree() {
            "{level}/{x}/{y}/{z}"
        } else {
            "{level}/{x}/{y}"
        }
    }

    /// The file at `path`, if the tree has one: parsed back from the path, one spelling per
    /// file, so serving a file does not walk the tree.
    pub(crate) fn item(&self, path: &str) -> Option<Item> {
        if path == "tileset.json" {
            return Some(Item::Tileset);
        }
        let (dir, rest) = path.split_once('/')?;
        let (coords, extension) = rest.rsplit_once('.')?;
        let numbers: Vec<u64> = coords
            .split('/')
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        let c = match (self.octree(), numbers.as_slice()) {
            (false, &[level, x, y]) => Coord {
                level: u32::try_from(level).ok()?,
                x,
                y,
                z: 0,
            },
            (true, &[level, x, y, z]) => Coord {
                level: u32::try_from(level).ok()?,
                x,
                y,
                z,
            },
            _ => return None,
        };
        if c.level >= self.available_levels() || self.suffix(c) != coords {
            return None;
        }
        let item = match (dir, extension) {
            ("subtrees", "subtree") if c.level % SUBTREE_LEVELS == 0 => Item::Subtree(c),
            ("subtrees", "bin") if c.level == 0 => Item::RootBuffer,
            ("content", "glb") => Item::Content(c, 0),
            ("detail", "glb") if self.octree() => Item::Content(c, 1),
            _ => return None,
        };
        let exists = match item {
            Item::Content(c, which) => self.has_content(c, which),
            _ => self.available(c),
        };
        exists.then_some(item)
    }

    /// Every file with its path, `tileset.json` first.
    pub(crate) fn files(&self) -> Vec<(String, Item)> {
        let mut files = vec![("tileset.json".to_owned(), Item::Tileset)];
        let mut level = vec![Coord {
            level: 0,
            x: 0,
            y: 0,
            z: 0,
        }];
        while !level.is_empty() {
            for &tile in &level {
                if tile.level % SUBTREE_LEVELS == 0 {
                    files.push((
                        format!("subtrees/{}.subtree", self.suffix(tile)),
                        Item::Subtree(tile),
                    ));
                    if tile.level == 0 {
                        files.push((
                            format!("subtrees/{}.bin", self.suffix(tile)),
                            Item::RootBuffer,
                        ));
                    }
                }
                for which in 0..self.contents() {
                    if self.has_content(tile, which) {
                        let dir = ["content", "detail"][which];
                        files.push((
                            format!("{dir}/{}.glb", self.suffix(tile)),
                            Item::Content(tile, which),
                        ));
                    }
                }
            }
            level = level
                .iter()
                .flat_map(|&tile| self.children(tile))
                .filter(|&c| self.available(c))
                .collect();
        }
        files
    }

    fn children(&self, c: Coord) -> impl Iterator<Item = Coord> + '_ {
        (0..1u64 << self.dims()).map(move |m| self.descendant(c, 1, m))
    }

    /// The descendant `depth` levels below `c` at Morton index `m` relative to it.
    fn descendant(&self, c: Coord, depth: u32, m: u64) -> Coord {
        let dims = self.dims();
        let mut local = [0u64; 3];
        for bit in 0..depth {
            for (axis, value) in local.iter_mut().enumerate().take(dims as usize) {
                *value |= ((m >> (bit * dims + axis as u32)) & 1) << bit;
            }
        }
        Coord {
            level: c.level + depth,
            x: (c.x << depth) | local[0],
            y: (c.y << depth) | local[1],
            z: if dims == 3 {
                (c.z << depth) | local[2]
            } else {
                0
            },
        }
    }

    fn parent(&self, c: Coord) -> Coord {
        Coord {
            level: c.level - 1,
            x: c.x >> 1,
            y: c.y >> 1,
            z: c.z >> 1,
        }
    }

    /// A number from the seed, the coordinates and a salt: SplitMix64 steps over each, stable
    /// across versions and platforms.
    fn roll(&self, c: Coord, salt: u64) -> u64 {
        let mix = |state: u64, input: u64| {
            let mut z = (state ^ input).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        [salt, u64::from(c.level), c.x, c.y, c.z]
            .into_iter()
            .fold(mix(0, self.seed), mix)
    }

    /// In the corner whose subtree at level 2 is complete.
    fn dense(&self, c: Coord) -> bool {
        let shift = c.level.saturating_sub(2);
        c.level <= 3 && c.x >> shift == 0 && c.y >> shift == 0 && c.z >> shift == 0
    }

    pub(crate) fn available(&self, c: Coord) -> bool {
        if c.level >= self.available_levels() {
            return false;
        }
        if c.level == 0 {
            return true;
        }
        // Half the children of a quadtree tile, a quarter of an octree's: about 2^level tiles
        // per level either way.
        let odds = if self.octree() { 4 } else { 2 };
        // One child of every available tile is, whatever the seed: the tree reaches its
        // last level.
        let parent = self.parent(c);
        let sibling = (c.x & 1) | (c.y & 1) << 1 | (c.z & 1) << 2;
        let chosen = sibling == self.roll(parent, 3) % (1 << self.dims());
        self.available(parent) && (chosen || self.dense(c) || self.roll(c, 0).is_multiple_of(odds))
    }

    fn has_content(&self, c: Coord, which: usize) -> bool {
        self.available(c)
            && match which {
                0 => self.dense(c) || c.level == 0 || !self.roll(c, 1).is_multiple_of(4),
                _ => self.roll(c, 2).is_multiple_of(2),
            }
    }

    /// `tileset.json`: the implicit root tile.
    pub(crate) fn tileset(&self, transform: [f64; 16]) -> Value {
        let height = ROOT_SIZE / 4.0;
        let half = ROOT_SIZE / 2.0;
        let suffix = self.template_suffix();
        let mut root = json!({
            "boundingVolume": { "box": [half, half, height / 2.0, half, 0.0, 0.0, 0.0, half, 0.0, 0.0, 0.0, height / 2.0] },
            "geometricError": 200.0,
            "refine": "ADD",
            "transform": transform,
            "implicitTiling": {
                "subdivisionScheme": if self.octree() { "OCTREE" } else { "QUADTREE" },
                "subtreeLevels": SUBTREE_LEVELS,
                "availableLevels": self.available_levels(),
                "subtrees": { "uri": format!("subtrees/{suffix}.subtree") },
            },
        });
        if self.octree() {
            root["contents"] = json!([
                { "uri": format!("content/{suffix}.glb") },
                { "uri": format!("detail/{suffix}.glb") },
            ]);
        } else {
            root["content"] = json!({ "uri": format!("content/{suffix}.glb") });
        }
        json!({
            "asset": { "version": "1.1", "generator": "mesh-export-emulator" },
            "geometricError": 400.0,
            "root": root,
        })
    }

    /// The bounds of a tile: the root box halved `level` times along each subdivided axis.
    pub(crate) fn bounds(&self, c: Coord) -> ([f64; 3], [f64; 3]) {
        let size = ROOT_SIZE / f64::from(1u32 << c.level);
        let height = ROOT_SIZE / 4.0;
        let (z0, z1) = if self.octree() {
            let h = height / f64::from(1u32 << c.level);
            (c.z as f64 * h, (c.z + 1) as f64 * h)
        } else {
            (0.0, height)
        };
        (
            [c.x as f64 * size, c.y as f64 * size, z0],
            [(c.x + 1) as f64 * size, (c.y + 1) as f64 * size, z1],
        )
    }

    /// A number for a content, unique in the tree, to seed its geometry.
    pub(crate) fn content_index(&self, c: Coord, which: usize) -> u32 {
        let n = 1u64 << self.dims();
        let offset = (n.pow(c.level) - 1) / (n - 1);
        let local = (0..c.level).fold(0u64, |m, bit| {
            let mut m = m;
            for (axis, value) in [c.x, c.y, c.z]
                .iter()
                .enumerate()
                .take(self.dims() as usize)
            {
                m |= ((value >> bit) & 1) << (bit * self.dims() + axis as u32);
            }
            m
        });
        (offset + local) as u32 + if which == 1 { 1 << 31 } else { 0 }
    }

    /// The availability bits of the subtree rooted at `root`: tiles, each content, children.
    fn subtree_bits(&self, root: Coord) -> (Vec<bool>, Vec<Vec<bool>>, Vec<bool>) {
        let n = 1u64 << self.dims();
        let mut tiles = Vec::new();
        let mut contents = vec![Vec::new(); self.contents()];
        for level in 0..SUBTREE_LEVELS {
            for m in 0..n.pow(level) {
                let c = self.descendant(root, level, m);
                tiles.push(self.available(c));
                for (which, bits) in contents.iter_mut().enumerate() {
                    bits.push(self.has_content(c, which));
                }
            }
        }
        let children = (0..n.pow(SUBTREE_LEVELS))
            .map(|m| self.available(self.descendant(root, SUBTREE_LEVELS, m)))
            .collect();
        (tiles, contents, children)
    }

    /// The binary subtree rooted at `root`. The root subtree keeps its child subtree
    /// availability in the external buffer [`Tree::root_buffer`].
    pub(crate) fn subtree(&self, root: Coord) -> Vec<u8> {
        let (tiles, contents, children) = self.subtree_bits(root);
        let mut internal: Vec<u8> = Vec::new();
        let mut views: Vec<Value> = Vec::new();
        let tile_availability = place(&tiles, &mut internal, &mut views);
        let content_availability: Vec<Value> = contents
            .iter()
            .map(|bits| place(bits, &mut internal, &mut views))
            .collect();
        let external = root.level == 0;
        let child_availability = if external {
            let packed = pack(&children);
            views.push(json!({ "buffer": 1, "byteOffset": 0, "byteLength": packed.len() }));
            json!({ "bitstream": views.len() - 1, "availableCount": children.iter().filter(|b| **b).count() })
        } else {
            place(&children, &mut internal, &mut views)
        };
        if external && internal.is_empty() {
            // The external buffer is buffer 1: keep a (zero) internal buffer 0.
            internal.resize(8, 0);
        }
        let mut buffers = Vec::new();
        if !internal.is_empty() {
            buffers.push(json!({ "byteLength": internal.len() }));
        }
        if external {
            let name = if self.octree() { root.z } else { root.y };
            buffers.push(
                json!({ "uri": format!("{name}.bin"), "byteLength": self.root_buffer().len() }),
            );
        }
        let mut document = json!({
            "tileAvailability": tile_availability,
            "contentAvailability": content_availability,
            "childSubtreeAvailability": child_availability,
        });
        if !buffers.is_empty() {
            document["buffers"] = Value::Array(buffers);
            document["bufferViews"] = Value::Array(views);
        }
        let mut text = serde_json::to_vec(&document).expect("subtree serializes");
        pad(&mut text, b' ');
        let mut out = Vec::with_capacity(24 + text.len() + internal.len());
        out.extend_from_slice(b"subt");
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(&(internal.len() as u64).to_le_bytes());
        out.extend_from_slice(&text);
        out.extend_from_slice(&internal);
        out
    }

    /// The root subtree's external buffer: its child subtree availability, padded to 8 bytes.
    pub(crate) fn root_buffer(&self) -> Vec<u8> {
        let root = Coord {
            level: 0,
            x: 0,
            y: 0,
            z: 0,
        };
        let (_, _, children) = self.subtree_bits(root);
        let mut packed = pack(&children);
        pad(&mut packed, 0);
        packed
    }
}

/// Availability as a constant when all its bits agree, else as a bitstream appended to the
/// internal buffer (8-byte aligned) with its buffer view.
fn place(bits: &[bool], internal: &mut Vec<u8>, views: &mut Vec<Value>) -> Value {
    if bits.iter().all(|b| *b) || bits.iter().all(|b| !*b) {
        return json!({ "constant": u8::from(bits[0]) });
    }
    let packed = pack(bits);
    views.push(json!({ "buffer": 0, "byteOffset": internal.len(), "byteLength": packed.len() }));
    internal.extend_from_slice(&packed);
    pad(internal, 0);
    json!({ "bitstream": views.len() - 1, "availableCount": bits.iter().filter(|b| **b).count() })
}

/// Bits packed LSB first.
fn pack(bits: &[bool]) -> Vec<u8> {
    let mut bytes = vec![0u8; bits.len().div_ceil(8)];
    for (i, _) in bits.iter().enumerate().filter(|(_, b)| **b) {
        bytes[i / 8] |= 1 << (i % 8);
    }
    bytes
}

/// Pads to a multiple of 8 bytes, as subtree chunks and buffer views are aligned.
fn pad(bytes: &mut Vec<u8>, with: u8) {
    while !bytes.len().is_multiple_of(8) {
        bytes.push(with);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(scheme: ImplicitScheme) -> Tree {
        Tree { scheme, seed: 3 }
    }

    #[test]
    fn the_tree_is_sparse_deep_and_has_both_kinds_of_availability() {
        for scheme in [ImplicitScheme::Quadtree, ImplicitScheme::Octree] {
            let t = tree(scheme);
            let files = t.files();
            let subtrees: Vec<Coord> = files
                .iter()
                .filter_map(|(_, item)| match item {
                    Item::Subtree(c) => Some(*c),
                    _ => None,
                })
                .collect();
            assert!(subtrees.iter().any(|c| c.level == 2), "{scheme:?}");
            assert!(subtrees.iter().any(|c| c.level == 4), "{scheme:?}");
            let contents = files
                .iter()
                .filter(|(_, i)| matches!(i, Item::Content(..)))
                .count();
            let n: u64 = 1 << t.dims();
            let full: u64 = (0..t.available_levels()).map(|l| n.pow(l)).sum();
            assert!(
                contents > 20 && (contents as u64) < full / 2,
                "{scheme:?}: {contents}"
            );
            // The dense subtree is written with constants, the root with bitstreams.
            let dense = String::from_utf8_lossy(&t.subtree(Coord {
                level: 2,
                x: 0,
                y: 0,
                z: 0,
            }))
            .into_owned();
            assert!(
                dense.contains(r#""tileAvailability":{"constant":1}"#),
                "{dense}"
            );
            let root = String::from_utf8_lossy(&t.subtree(Coord {
                level: 0,
                x: 0,
                y: 0,
                z: 0,
            }))
            .into_owned();
            assert!(
                root.contains(r#""tileAvailability":{"availableCount""#),
                "{root}"
            );
            assert!(root.contains(r#""uri":"0.bin""#), "{root}");
        }
    }

    #[test]
    fn files_are_found_by_path_exactly_when_listed() {
        for scheme in [ImplicitScheme::Quadtree, ImplicitScheme::Octree] {
            let t = tree(scheme);
            let files = t.files();
            for (path, item) in &files {
                assert_eq!(t.item(path), Some(*item), "{path}");
            }
            let listed = |p: &str| files.iter().any(|(path, _)| path == p);
            // Every tile of the first levels, available or not, and odd spellings.
            let suffixes: Vec<String> = (0..3u32)
                .flat_map(|level| {
                    let side = 1u64 << level;
                    (0..side * side * if t.octree() { side } else { 1 })
                        .map(move |i| (level, i, side))
                })
                .map(|(level, i, side)| {
                    let c = Coord {
                        level,
                        x: i % side,
                        y: (i / side) % side,
                        z: i / (side * side),
                    };
                    t.suffix(c)
                })
                .collect();
            let mut unlisted = 0;
            for suffix in &suffixes {
                for path in [
                    format!("content/{suffix}.glb"),
                    format!("detail/{suffix}.glb"),
                    format!("subtrees/{suffix}.subtree"),
                    format!("subtrees/{suffix}.bin"),
                ] {
                    assert_eq!(t.item(&path).is_some(), listed(&path), "{path}");
                    unlisted += usize::from(!listed(&path));
                }
            }
            assert!(unlisted > 10);
            for odd in [
                "content/0/00/0.glb",
                "content/0/0/0/0/0.glb",
                "content/9/0/0.glb",
                "x.json",
                "content/-1/0/0.glb",
            ] {
                assert_eq!(t.item(odd), None, "{odd}");
            }
        }
    }

    #[test]
    fn subtree_files_follow_the_binary_layout() {
        let t = tree(ImplicitScheme::Quadtree);
        for (_, item) in t.files() {
            let Item::Subtree(c) = item else { continue };
            let bytes = t.subtree(c);
            assert_eq!(&bytes[..4], b"subt");
            let json_length = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
            let binary_length = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
            assert_eq!(json_length % 8, 0);
            assert_eq!(binary_length % 8, 0);
            assert_eq!(bytes.len(), 24 + json_length + binary_length);
            let json: Value = serde_json::from_slice(&bytes[24..24 + json_length]).unwrap();
            assert!(json["tileAvailability"].is_object());
        }
    }
}
