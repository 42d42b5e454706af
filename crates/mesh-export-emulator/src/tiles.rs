//! The 3D Tiles content behind an export: a tileset with an external child tileset and
//! binary glTF tiles, generated on request from the export id and the seed.
//!
//! Layout under the container root:
//! - `tileset.json`: root tile and grouped children, one child pointing at the external tileset;
//! - `tiles/{i}.glb`: the main tileset's tiles;
//! - `external/tileset.json`: a child tileset whose content URIs are relative to `external/`;
//! - `external/tiles/{i}.glb`: its tiles.
//!
//! Tile `i` covers a 10 m grid cell; its glTF holds boxes ("buildings") in that cell, enough
//! of them to reach about the configured tile size. Nothing is stored: each file is computed
//! when asked for, so tilesets of hundreds of megabytes cost no memory.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::EmulatorConfig;
use crate::implicit::{ImplicitScheme, Item, Tree};

/// Side of a tile's grid cell in metres.
const CELL: f64 = 10.0;
/// Children per group in the tile tree.
const GROUP: usize = 4;
/// Bytes a box adds to a `.glb`: 24 vertices of position and normal, 36 `u32` indices.
const BYTES_PER_BOX: u64 = 24 * 24 + 36 * 4;
/// Roughly the bytes of a `.glb` that do not grow with the boxes (headers and JSON).
const GLB_OVERHEAD: u64 = 1300;

/// The media type of `.glb` files.
pub(crate) const GLB_MEDIA_TYPE: &str = "model/gltf-binary";

/// The shape of every export's tileset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub(crate) tiles: u32,
    pub(crate) tile_bytes: u64,
    pub(crate) seed: u64,
    /// Serve a sparse implicit tileset of this scheme instead (`tiles` then does not apply).
    pub(crate) implicit: Option<ImplicitScheme>,
}

/// A file of the tileset.
pub(crate) struct TileFile {
    pub(crate) bytes: Vec<u8>,
    pub(crate) media_type: &'static str,
}

#[derive(Debug, Clone, Copy)]
struct Aabb {
    min: [f64; 3],
    max: [f64; 3],
}

impl Aabb {
    fn union(self, other: Aabb) -> Aabb {
        Aabb {
            min: std::array::from_fn(|i| self.min[i].min(other.min[i])),
            max: std::array::from_fn(|i| self.max[i].max(other.max[i])),
        }
    }

    /// A 3D Tiles `boundingVolume.box`: centre and three half-axes.
    fn to_box(self) -> Value {
        let c: [f64; 3] = std::array::from_fn(|i| (self.min[i] + self.max[i]) / 2.0);
        let h: [f64; 3] = std::array::from_fn(|i| (self.max[i] - self.min[i]) / 2.0);
        json!({ "box": [c[0], c[1], c[2], h[0], 0.0, 0.0, 0.0, h[1], 0.0, 0.0, 0.0, h[2]] })
    }
}

impl Layout {
    /// The layout `config` asks for.
    pub(crate) fn of(config: &EmulatorConfig) -> Self {
        Layout {
            tiles: config.tiles,
            tile_bytes: config.tile_bytes,
            seed: config.seed,
            implicit: config.implicit,
        }
    }

    fn implicit_tree(&self) -> Option<Tree> {
        self.implicit.map(|scheme| Tree {
            scheme,
            seed: self.seed,
        })
    }

    /// Index of the first tile that belongs to the external tileset.
    fn external_start(&self) -> u32 {
        self.tiles - (self.tiles / 4).max(1)
    }

    fn grid_width(&self) -> u32 {
        (f64::from(self.tiles).sqrt().ceil() as u32).max(1)
    }

    /// The z-up bounds of tile `i`'s cell.
    fn cell(&self, i: u32) -> Aabb {
        let w = self.grid_width();
        let (gx, gy) = (f64::from(i % w), f64::from(i / w));
        Aabb {
            min: [gx * CELL, gy * CELL, 0.0],
            max: [gx * CELL + CELL, gy * CELL + CELL, CELL],
        }
    }

    fn bounds(&self, indices: &[u32]) -> Aabb {
        indices
            .iter()
            .map(|i| self.cell(*i))
            .reduce(Aabb::union)
            .expect("a tile group is never empty")
    }

    /// Every file path of the tileset, `tileset.json` first.
    pub(crate) fn paths(&self) -> Vec<String> {
        if let Some(tree) = self.implicit_tree() {
            return tree.files().into_iter().map(|(path, _)| path).collect();
        }
        let split = self.external_start();
        let mut paths = vec![
            "tileset.json".to_owned(),
            "external/tileset.json".to_owned(),
        ];
        paths.extend((0..split).map(|i| format!("tiles/{i}.glb")));
        paths.extend((split..self.tiles).map(|i| format!("external/tiles/{i}.glb")));
        paths
    }

    /// The file at `path` (relative to the container root), or `None` if there is none.
    pub(crate) fn file(&self, export_id: &str, path: &str) -> Option<TileFile> {
        let json_file = |value: Value| TileFile {
            bytes: serde_json::to_vec_pretty(&value).expect("tileset serializes"),
            media_type: "application/json",
        };
        if let Some(tree) = self.implicit_tree() {
            let item = tree.item(path)?;
            let binary = |bytes| TileFile {
                bytes,
                media_type: "application/octet-stream",
            };
            return Some(match item {
                Item::Tileset => json_file(tree.tileset(enu_transform(-75.62, 40.03, 100.0))),
                Item::Subtree(root) => binary(tree.subtree(root)),
                Item::RootBuffer => binary(tree.root_buffer()),
                Item::Content(tile, which) => {
                    let (min, max) = tree.bounds(tile);
                    TileFile {
                        bytes: self.glb_in(
                            export_id,
                            tree.content_index(tile, which),
                            Aabb { min, max },
                        ),
                        media_type: GLB_MEDIA_TYPE,
                    }
                }
            });
        }
        match path {
            "tileset.json" => return Some(json_file(self.main_tileset())),
            "external/tileset.json" => return Some(json_file(self.external_tileset())),
            _ => {}
        }
        let (range, name) = if let Some(name) = path.strip_prefix("external/tiles/") {
            (self.external_start()..self.tiles, name)
        } else if let Some(name) = path.strip_prefix("tiles/") {
            (0..self.external_start(), name)
        } else {
            return None;
        };
        let index: u32 = name.strip_suffix(".glb")?.parse().ok()?;
        // One spelling per tile: no leading zeros or signs.
        if !range.contains(&index) || format!("{index}.glb") != name {
            return None;
        }
        Some(TileFile {
            bytes: self.glb(export_id, index),
            media_type: GLB_MEDIA_TYPE,
        })
    }

    /// A tile tree over `indices`: the first is the root's content, the rest are grouped under
    /// it, each group's first tile the parent of the others.
    fn tree(&self, indices: &[u32], root_error: f64, extra_child: Option<(Value, Aabb)>) -> Value {
        let tile = |i: u32, error: f64, children: Vec<Value>| {
            let mut node = json!({
                "boundingVolume": self.cell(i).to_box(),
                "geometricError": error,
                "content": { "uri": format!("tiles/{i}.glb") },
            });
            if !children.is_empty() {
                node["children"] = Value::Array(children);
            }
            node
        };
        let mut children: Vec<Value> = indices[1..]
            .chunks(GROUP)
            .map(|group| {
                let leaves: Vec<Value> = group[1..].iter().map(|i| tile(*i, 0.0, vec![])).collect();
                let error = if leaves.is_empty() {
                    0.0
                } else {
                    root_error / 10.0
                };
                let mut head = tile(group[0], error, leaves);
                head["boundingVolume"] = self.bounds(group).to_box();
                head
            })
            .collect();
        let mut bounds = self.bounds(indices);
        if let Some((child, child_bounds)) = extra_child {
            children.push(child);
            bounds = bounds.union(child_bounds);
        }
        let mut root = tile(indices[0], root_error, children);
        root["boundingVolume"] = bounds.to_box();
        root["refine"] = json!("ADD");
        root
    }

    fn main_tileset(&self) -> Value {
        let external: Vec<u32> = (self.external_start()..self.tiles).collect();
        let external_bounds = self.bounds(&external);
        let reference = json!({
            "boundingVolume": external_bounds.to_box(),
            "geometricError": 50.0,
            "content": { "uri": "external/tileset.json" },
        });
        let main: Vec<u32> = (0..self.external_start()).collect();
        let mut root = self.tree(&main, 100.0, Some((reference, external_bounds)));
        root["transform"] = json!(enu_transform(-75.62, 40.03, 100.0));
        json!({
            "asset": { "version": "1.1", "generator": "mesh-export-emulator" },
            "geometricError": 200.0,
            "root": root,
        })
    }

    fn external_tileset(&self) -> Value {
        let external: Vec<u32> = (self.external_start()..self.tiles).collect();
        json!({
            "asset": { "version": "1.1", "generator": "mesh-export-emulator" },
            "geometricError": 50.0,
            "root": self.tree(&external, 25.0, None),
        })
    }

    /// Boxes per tile so that a `.glb` comes to about `tile_bytes`.
    fn boxes_per_tile(&self) -> u64 {
        (self.tile_bytes.saturating_sub(GLB_OVERHEAD) / BYTES_PER_BOX).max(1)
    }

    /// Tile `index` of `export_id` as binary glTF 2.0.
    pub(crate) fn glb(&self, export_id: &str, index: u32) -> Vec<u8> {
        self.glb_in(export_id, index, self.cell(index))
    }

    /// A `.glb` seeded by `index` with its boxes standing on the floor of `cell`.
    fn glb_in(&self, export_id: &str, index: u32, cell: Aabb) -> Vec<u8> {
        let mut rng = TileRng::new(self.seed, export_id, index);
        let boxes = self.boxes_per_tile();
        let vertex_count = boxes * 24;
        let mut positions: Vec<f32> = Vec::with_capacity(vertex_count as usize * 3);
        let mut normals: Vec<f32> = Vec::with_capacity(vertex_count as usize * 3);
        let mut indices: Vec<u32> = Vec::with_capacity(boxes as usize * 36);
        for _ in 0..boxes {
            // Dimensions in eighths of a metre: exact in f32 and in JSON, so the accessor
            // bounds match the data bit for bit.
            let x0 = cell.min[0] + rng.eighths(8.0);
            let y0 = cell.min[1] + rng.eighths(8.0);
            let width = 0.5 + rng.eighths(1.5);
            let depth = 0.5 + rng.eighths(1.5);
            let height = 1.0 + rng.eighths(9.0);
            // glTF is y-up: (east, up, -north).
            let floor = cell.min[2];
            let lo = [x0, floor, -(y0 + depth)];
            let hi = [x0 + width, floor + height, -y0];
            push_box(lo, hi, &mut positions, &mut normals, &mut indices);
        }
        let mut min = [f32::MAX; 3];
        let mut max = [f32::MIN; 3];
        for vertex in positions.chunks_exact(3) {
            for axis in 0..3 {
                min[axis] = min[axis].min(vertex[axis]);
                max[axis] = max[axis].max(vertex[axis]);
            }
        }
        let color = [rng.unit(), rng.unit(), rng.unit()];

        let mut bin = Vec::with_capacity((positions.len() + normals.len() + indices.len()) * 4);
        positions
            .iter()
            .for_each(|v| bin.extend_from_slice(&v.to_le_bytes()));
        let positions_len = bin.len();
        normals
            .iter()
            .for_each(|v| bin.extend_from_slice(&v.to_le_bytes()));
        let normals_len = bin.len() - positions_len;
        indices
            .iter()
            .for_each(|v| bin.extend_from_slice(&v.to_le_bytes()));
        let indices_len = bin.len() - positions_len - normals_len;

        let mut gltf = json!({
            "asset": { "version": "2.0", "generator": "mesh-export-emulator" },
            "scene": 0,
            "scenes": [{ "nodes": [0] }],
            "nodes": [{ "mesh": 0, "name": format!("tile {index}") }],
            "meshes": [{ "primitives": [{
                "attributes": { "POSITION": 0, "NORMAL": 1 },
                "indices": 2,
                "material": 0,
                "mode": 4,
            }]}],
            "materials": [{ "pbrMetallicRoughness": {
                "baseColorFactor": [color[0], color[1], color[2], 1.0],
                "metallicFactor": 0.0,
                "roughnessFactor": 1.0,
            }}],
            "accessors": [
                {
                    "bufferView": 0, "componentType": 5126, "count": vertex_count, "type": "VEC3",
                    "min": min.map(f64::from), "max": max.map(f64::from),
                },
                { "bufferView": 1, "componentType": 5126, "count": vertex_count, "type": "VEC3" },
                { "bufferView": 2, "componentType": 5125, "count": indices.len(), "type": "SCALAR" },
            ],
            "bufferViews": [
                { "buffer": 0, "byteOffset": 0, "byteLength": positions_len, "target": 34962 },
                { "buffer": 0, "byteOffset": positions_len, "byteLength": normals_len, "target": 34962 },
                { "buffer": 0, "byteOffset": positions_len + normals_len, "byteLength": indices_len, "target": 34963 },
            ],
            "buffers": [{ "byteLength": bin.len() }],
        });
        pack_glb(&mut gltf, bin, self.tile_bytes)
    }
}

/// A GLB of `gltf` and `bin`, padded with unused zeros at the end of the buffer to about
/// `tile_bytes` (a multiple of 4, as chunks are aligned).
fn pack_glb(gltf: &mut serde_json::Value, mut bin: Vec<u8>, tile_bytes: u64) -> Vec<u8> {
    // Reach the requested size exactly (to a multiple of 4, as chunks are aligned) with
    // zeros at the end of the buffer that no buffer view uses. The buffer's byteLength
    // grows with them, which changes the JSON length, hence the few rounds.
    let target = (tile_bytes as usize) & !3;
    let used = bin.len();
    let mut json_chunk = Vec::new();
    for _ in 0..4 {
        json_chunk = serde_json::to_vec(&*gltf).expect("glTF serializes");
        // Chunks are 4-byte aligned: JSON is padded with spaces, BIN with zeros.
        while !json_chunk.len().is_multiple_of(4) {
            json_chunk.push(b' ');
        }
        let padded = target.saturating_sub(28 + json_chunk.len()).max(used);
        if padded == bin.len() {
            break;
        }
        bin.resize(padded, 0);
        gltf["buffers"][0]["byteLength"] = json!(bin.len());
    }
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    let total = 12 + 8 + json_chunk.len() + 8 + bin.len();
    let mut glb = Vec::with_capacity(total);
    glb.extend_from_slice(b"glTF");
    glb.extend_from_slice(&2u32.to_le_bytes());
    glb.extend_from_slice(&(total as u32).to_le_bytes());
    glb.extend_from_slice(&(json_chunk.len() as u32).to_le_bytes());
    glb.extend_from_slice(b"JSON");
    glb.extend_from_slice(&json_chunk);
    glb.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    glb.extend_from_slice(b"BIN\0");
    glb.extend_from_slice(&bin);
    glb
}

/// Appends an axis-aligned box with flat-shaded faces wound counter-clockwise from outside.
fn push_box(
    lo: [f64; 3],
    hi: [f64; 3],
    positions: &mut Vec<f32>,
    normals: &mut Vec<f32>,
    indices: &mut Vec<u32>,
) {
    for axis in 0..3 {
        let (u, v) = ((axis + 1) % 3, (axis + 2) % 3);
        for (plane, sign) in [(lo[axis], -1.0), (hi[axis], 1.0)] {
            let corner = |a: f64, b: f64| {
                let mut p = [0.0; 3];
                p[axis] = plane;
                p[u] = a;
                p[v] = b;
                p
            };
            let mut quad = [
                corner(lo[u], lo[v]),
                corner(hi[u], lo[v]),
                corner(hi[u], hi[v]),
                corner(lo[u], hi[v]),
            ];
            // (u, v, axis) is a right-handed cycle, so this quad faces +axis; flip for -axis.
            if sign < 0.0 {
                quad.reverse();
            }
            let base = (positions.len() / 3) as u32;
            for p in quad {
                positions.extend(p.map(|c| c as f32));
                let mut n = [0.0f32; 3];
                n[axis] = sign as f32;
                normals.extend(n);
            }
            indices.extend([base, base + 1, base + 2, base, base + 2, base + 3]);
        }
    }
}

/// Column-major 4x4 matrix from a local east-north-up frame at a WGS84 position to ECEF.
fn enu_transform(lon_deg: f64, lat_deg: f64, height: f64) -> [f64; 16] {
    const A: f64 = 6_378_137.0;
    const E2: f64 = 6.694_379_990_14e-3;
    let (lon, lat) = (lon_deg.to_radians(), lat_deg.to_radians());
    let n = A / (1.0 - E2 * lat.sin().powi(2)).sqrt();
    let x = (n + height) * lat.cos() * lon.cos();
    let y = (n + height) * lat.cos() * lon.sin();
    let z = (n * (1.0 - E2) + height) * lat.sin();
    let east = [-lon.sin(), lon.cos(), 0.0];
    let north = [-lat.sin() * lon.cos(), -lat.sin() * lon.sin(), lat.cos()];
    let up = [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()];
    [
        east[0], east[1], east[2], 0.0, north[0], north[1], north[2], 0.0, up[0], up[1], up[2],
        0.0, x, y, z, 1.0,
    ]
}

/// SplitMix64 seeded from (seed, export id, tile index): stable across versions and platforms,
/// which a library generator does not promise.
struct TileRng(u64);

impl TileRng {
    fn new(seed: u64, export_id: &str, index: u32) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(seed.to_le_bytes());
        hasher.update(export_id.as_bytes());
        hasher.update(index.to_le_bytes());
        let digest = hasher.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Self(u64::from_le_bytes(first))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A multiple of 1/8 in [0, limit].
    fn eighths(&mut self, limit: f64) -> f64 {
        (self.unit() * limit * 8.0).floor() / 8.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            tiles: 20,
            tile_bytes: 16 * 1024,
            seed: 7,
            implicit: None,
        }
    }

    #[test]
    fn glb_is_near_the_requested_size_and_deterministic() {
        let l = layout();
        let a = l.glb("export", 3);
        assert_eq!(a, l.glb("export", 3));
        assert_ne!(a, l.glb("export", 4));
        assert_ne!(a, l.glb("other", 3));
        assert_eq!(a.len(), 16384);
        let odd = Layout {
            tile_bytes: 100_003,
            ..l
        };
        assert_eq!(odd.glb("export", 3).len(), 100_000);
        assert_eq!(&a[..4], b"glTF");
        assert_eq!(
            u32::from_le_bytes(a[8..12].try_into().unwrap()) as usize,
            a.len()
        );
    }

    #[test]
    fn files_exist_exactly_for_the_layout() {
        let l = layout();
        let split = l.external_start();
        assert!(l.file("e", "tileset.json").is_some());
        assert!(l.file("e", "external/tileset.json").is_some());
        assert!(l.file("e", "tiles/0.glb").is_some());
        assert!(l.file("e", &format!("tiles/{split}.glb")).is_none());
        assert!(
            l.file("e", &format!("external/tiles/{split}.glb"))
                .is_some()
        );
        assert!(l.file("e", "external/tiles/0.glb").is_none());
        assert!(l.file("e", "tiles/01.glb").is_none());
        assert!(l.file("e", "tiles/20.glb").is_none());
        assert!(l.file("e", "nope.json").is_none());
    }
}
