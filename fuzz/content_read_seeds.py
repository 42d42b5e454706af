import json, struct, gzip, os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)

def pad(b, n, fill=b' '):
    return b + fill * ((-len(b)) % n)

def glb(doc, binary=None):
    j = pad(json.dumps(doc, separators=(',', ':')).encode(), 4)
    chunks = struct.pack('<I', len(j)) + b'JSON' + j
    if binary is not None:
        b = pad(binary, 4, b'\0')
        chunks += struct.pack('<I', len(b)) + b'BIN\0' + b
    return b'glTF' + struct.pack('<II', 2, 12 + len(chunks)) + chunks

def b3dm(gltf_doc):
    ft = pad(b'{"BATCH_LENGTH":0}', 8)
    body = ft + glb(gltf_doc)
    return b'b3dm' + struct.pack('<IIIIII', 1, 28 + len(body), len(ft), 0, 0, 0) + body

def i3dm(model, uri_form):
    ft = pad(b'{"INSTANCES_LENGTH":1,"POSITION":{"byteOffset":0}}', 8)
    ftb = struct.pack('<fff', 0, 0, 0) + b'\0' * 4
    if uri_form:
        # Padded to 8 bytes with spaces, then NULs, as found in the wild.
        g = model.encode() + b'   ' + b'\0' * 6
        g = pad(g, 8, b'\0')
        fmt = 0
    else:
        g = glb(model)
        fmt = 1
    body = ft + ftb + g
    return b'i3dm' + struct.pack('<IIIIIII', 1, 32 + len(body), len(ft), len(ftb), 0, 0, fmt) + body

def cmpt(tiles):
    body = b''.join(tiles)
    return b'cmpt' + struct.pack('<III', 1, 16 + len(body), len(tiles)) + body

def pnts():
    ft = pad(b'{"POINTS_LENGTH":1,"POSITION":{"byteOffset":0}}', 8)
    ftb = struct.pack('<fff', 0, 0, 0) + b'\0' * 4
    body = ft + ftb
    return b'pnts' + struct.pack('<IIIIII', 1, 28 + len(body), len(ft), len(ftb), 0, 0) + body

def js(doc):
    return json.dumps(doc, separators=(',', ':')).encode()

def subtree_binary(doc, binary):
    j = pad(js(doc), 8)
    b = pad(binary, 8, b'\0')
    return b'subt' + struct.pack('<IQQ', 1, len(j), len(b)) + j + b

def framed(subtree, buffer=b''):
    return struct.pack('<H', len(subtree)) + subtree + buffer

# limits: low 5 bits depth-1 (31: unbounded), high 3 bits files (3n+1).
WIDE = (7 << 5) | 30      # depth 31, 22 files
FEW = (2 << 5) | 30       # depth 31, 7 files
DEEP = (0 << 5) | 31      # unbounded depth, 1 file
SHALLOW = (7 << 5) | 7    # depth 8, 22 files

TILESET, GLTF, GLB, B3DM, I3DM, CMPT, PNTS, BIN, SCHEMA, SUBTREE = range(10)
def subtree_selector(shape):
    return SUBTREE + 10 * shape
QUAD2 = 1 << 2  # quadtree, one content, two levels per subtree

gltf_doc = {"asset": {"version": "2.0"}, "buffers": [{"uri": "b.bin", "byteLength": 4}],
            "images": [{"uri": "i.png"}]}
seeds = {
    'b3dm-embedded-gltf-names-buffer-and-image': (B3DM, WIDE, b3dm(gltf_doc)),
    'i3dm-embedded-gltf': (I3DM, WIDE, i3dm({"asset": {"version": "2.0"}, "images": [{"uri": "tex.jpg"}]}, False)),
    'i3dm-uri-padded-with-spaces-and-nuls': (I3DM, WIDE, i3dm("Box.glb", True)),
    'cmpt-nesting-cmpt-b3dm-and-i3dm': (CMPT, WIDE, cmpt([
        cmpt([b3dm({"asset": {"version": "2.0"}, "buffers": [{"uri": "inner.bin", "byteLength": 1}]})]),
        i3dm("Tree.glb", True)])),
    'pnts-names-nothing': (PNTS, WIDE, pnts()),
    'glb-buffer-image-and-structural-metadata': (GLB, WIDE, glb({
        "asset": {"version": "2.0"}, "buffers": [{"byteLength": 4}, {"uri": "m.bin", "byteLength": 4}],
        "images": [{"uri": "m.png"}],
        "extensions": {"EXT_structural_metadata": {"schemaUri": "schemas/m.json"}}}, b'\0\0\0\0')),
    'gltf-ext-structural-metadata-schema-uri': (GLTF, WIDE, js({
        "asset": {"version": "2.0"}, "buffers": [{"uri": "g.bin", "byteLength": 1}],
        "extensionsUsed": ["EXT_structural_metadata"],
        "extensions": {"EXT_structural_metadata": {"schemaUri": "schemas/g.json"}}})),
    'tileset-1.0-3dtiles-metadata-schema-uri': (TILESET, WIDE, js({
        "asset": {"version": "1.0"}, "geometricError": 1,
        "extensionsUsed": ["3DTILES_metadata"],
        "extensions": {"3DTILES_metadata": {"schemaUri": "meta/schema.json"}},
        "root": {"geometricError": 1, "content": {"uri": "a.b3dm"},
                 "children": [{"geometricError": 0, "content": {"uri": "sub/tileset.json"}}]}})),
    'tileset-1.1-implicit-root-names-its-subtree': (TILESET, WIDE, js({
        "asset": {"version": "1.1"}, "geometricError": 1,
        "root": {"geometricError": 1, "content": {"uri": "c/{level}/{x}/{y}.glb"},
                 "implicitTiling": {"subdivisionScheme": "QUADTREE", "subtreeLevels": 2,
                                    "availableLevels": 4, "subtrees": {"uri": "s/{level}/{x}/{y}.subtree"}}}})),
    'tileset-gzip-magic': (TILESET, WIDE, gzip.compress(js({
        "asset": {"version": "1.0"}, "geometricError": 1,
        "root": {"geometricError": 1, "content": {"uri": "g.glb"}}}), mtime=0)),
    'tileset-bom': (TILESET, WIDE, b'\xEF\xBB\xBF' + js({
        "asset": {"version": "1.0"}, "geometricError": 1,
        "root": {"geometricError": 1, "content": {"uri": "bom.glb"}}})),
    'schema-json-bom-names-nothing': (SCHEMA, WIDE, b'\xEF\xBB\xBF' + js({"id": "s", "classes": {"c": {}}})),
    'sniffed-glb-under-bin': (BIN, WIDE, glb({"asset": {"version": "2.0"}, "images": [{"uri": "s.png"}]})),
    'sniffed-gltf-json-under-bin': (BIN, WIDE, js({"asset": {"version": "2.0"}, "meshes": [],
                                                   "buffers": [{"uri": "j.bin", "byteLength": 1}]})),
    'sniffed-b3dm-under-bin': (BIN, WIDE, b3dm({"asset": {"version": "2.0"}, "images": [{"uri": "sb.png"}]})),
    'subtree-json-constant': (subtree_selector(QUAD2), FEW, framed(js({
        "tileAvailability": {"constant": 1}, "contentAvailability": [{"constant": 1}],
        "childSubtreeAvailability": {"constant": 0}}))),
    'subtree-json-past-max-files': (subtree_selector(QUAD2), FEW, framed(js({
        "tileAvailability": {"constant": 1}, "contentAvailability": [{"constant": 1}],
        "childSubtreeAvailability": {"constant": 1}}))),
    'subtree-binary-bitstream-and-metadata-buffer': (subtree_selector(QUAD2), FEW, framed(subtree_binary({
        "buffers": [{"byteLength": 8}, {"uri": "meta.bin", "byteLength": 8}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 1}],
        "tileAvailability": {"bitstream": 0}, "contentAvailability": [{"bitstream": 0}],
        "childSubtreeAvailability": {"constant": 0}}, b'\x03'))),
    'subtree-json-external-availability-buffer': (subtree_selector(QUAD2), FEW, framed(js({
        "buffers": [{"uri": "avail.bin", "byteLength": 1}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 1}],
        "tileAvailability": {"bitstream": 0}, "contentAvailability": [{"bitstream": 0}],
        "childSubtreeAvailability": {"constant": 0}}), b'\x05')),
    'subtree-gzip-magic': (subtree_selector(QUAD2), FEW, framed(gzip.compress(js({
        "tileAvailability": {"constant": 1}, "contentAvailability": [{"constant": 1}],
        "childSubtreeAvailability": {"constant": 0}}), mtime=0))),
}
seeds['conditional-content-json'] = (TILESET, WIDE, js({"conditionalContents": [
    {"uri": "r0.glb", "keys": {"revision": "r0"}}, {"uri": "r1.b3dm", "keys": {"revision": "r1"}}]}))
deep = {"geometricError": 0, "content": {"uri": "deep.glb"}}
for _ in range(400):
    deep = {"geometricError": 1, "children": [deep]}
deep_tileset = js({"asset": {"version": "1.0"}, "geometricError": 1, "root": deep})
seeds['tileset-800-deep-unbounded'] = (TILESET, DEEP, deep_tileset)
seeds['tileset-past-max-json-depth'] = (TILESET, SHALLOW, deep_tileset)
for name, (selector, limits, body) in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(bytes([selector, limits]) + body)
print(len(seeds))
