//! Assertions over the files a download wrote.

use std::path::Path;

/// Every regular file under `dir`, as `/`-separated relative paths, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn visit(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                visit(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    visit(dir, dir, &mut out);
    out.sort();
    out
}

/// Asserts every served file exists under `dir` with exactly the served bytes.
pub fn assert_byte_identical(store: &crate::blobs::BlobStore, dir: &Path) {
    for rel in store.paths() {
        let served = store.file(&rel).unwrap();
        let on_disk = std::fs::read(dir.join(&rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(
            on_disk == served,
            "{rel} differs from what the store serves"
        );
    }
}
