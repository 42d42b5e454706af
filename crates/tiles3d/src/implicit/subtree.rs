//! Reading a subtree file (binary `.subtree` with magic `subt`, or JSON) and the external
//! buffers holding its availability, one file at a time.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;

use super::document::{self, Parsed, SubtreeJson};
use super::pending::{ExternalBuffer, PendingSubtree};
use super::ranges::read_ranges;
use super::references::available;
use super::tiling::SubtreeContext;
use crate::TilePath;
use crate::reference::{FileKind, Reference, WalkError, Walked};

/// The largest subtree JSON (a JSON subtree, or the JSON chunk of a binary one) read.
const MAX_SUBTREE_JSON: u64 = 64 * 1024 * 1024;

/// The magic of a binary subtree, `subt`.
const SUBTREE_MAGIC: &[u8; 4] = b"subt";

/// The files a subtree file names: the contents of its available tiles, its available child
/// subtrees (within `availableLevels`), and its external buffers. When its availability lies
/// in external buffers, the first of them carries the rest of the work (see
/// [`read_subtree_buffer`]). A subtree that would name more than `max_files` contents and
/// child subtrees is a [`WalkError::TooManyFiles`], counted before any is listed.
pub fn read_subtree(
    context: &Arc<SubtreeContext>,
    path: &TilePath,
    mut reader: impl Read,
    max_files: u64,
) -> Result<Walked, WalkError> {
    let (json, binary_length) = read_json(path, &mut reader)?;
    let document: SubtreeJson = serde_json::from_slice(&json)
        .map_err(|e| WalkError::unsupported(path, format!("not a subtree: {e}")))?;
    let parsed = document::check(&context.tiling, document, binary_length)
        .map_err(|reason| WalkError::unsupported(path, reason))?;
    let parsed = Arc::new(parsed);

    let mut views: Vec<Option<Arc<[u8]>>> = vec![None; parsed.views.len()];
    let wanted = parsed.wanted_views();
    if let Some(binary_length) = binary_length {
        read_internal_views(
            &parsed,
            &wanted,
            binary_length,
            path,
            &mut reader,
            &mut views,
        )?;
    }

    // External buffers: the ones availability needs are read in turn; the others (metadata)
    // are files of the tileset like any other.
    let (waiting, others) = external_buffers(&parsed, &wanted);
    let subtree = Arc::new(path.clone());
    let mut walked = Walked::default();
    // A file that also holds availability is fetched once, for that; a set keeps the work
    // linear in the number of buffers.
    let mut known: HashSet<String> = waiting.iter().map(|w| w.uri.clone()).collect();
    for uri in others {
        if known.insert(uri.clone()) {
            walked.references.push(Reference {
                uri,
                base: Some(subtree.clone()),
                kind: Some(FileKind::Leaf),
            });
        }
    }
    let pending = PendingSubtree {
        context: context.clone(),
        subtree,
        parsed,
        views,
        waiting,
    };
    advance(pending, &mut walked, max_files)?;
    Ok(walked)
}

/// The subtree's JSON, and for a binary subtree the length of the binary chunk that follows
/// it in `reader`.
fn read_json(path: &TilePath, reader: &mut impl Read) -> Result<(Vec<u8>, Option<u64>), WalkError> {
    let bad = |reason: &str| WalkError::unsupported(path, reason);
    let mut magic = Vec::with_capacity(4);
    (&mut *reader).take(4).read_to_end(&mut magic)?;
    if magic != SUBTREE_MAGIC {
        let mut json = magic;
        (&mut *reader)
            .take(MAX_SUBTREE_JSON + 1)
            .read_to_end(&mut json)?;
        if json.len() as u64 > MAX_SUBTREE_JSON {
            return Err(bad("subtree JSON too large"));
        }
        return Ok((json, None));
    }
    let mut header = [0u8; 20];
    reader
        .read_exact(&mut header)
        .map_err(|_| bad("binary subtree truncated in its header"))?;
    let version = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
    if version != 1 {
        return Err(bad(&format!("binary subtree version {version}, not 1")));
    }
    let json_length = u64::from_le_bytes(header[4..12].try_into().expect("8 bytes"));
    let binary_length = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
    if json_length > MAX_SUBTREE_JSON {
        return Err(bad(&format!(
            "subtree JSON chunk too large ({json_length} bytes)"
        )));
    }
    let mut json = Vec::new();
    (&mut *reader).take(json_length).read_to_end(&mut json)?;
    if json.len() as u64 != json_length {
        return Err(bad("binary subtree truncated in its JSON chunk"));
    }
    // The chunk is padded with spaces to 8 bytes; some writers pad with zeros.
    while json.last().is_some_and(|b| *b == 0) {
        json.pop();
    }
    Ok((json, Some(binary_length)))
}

/// Reads the `wanted` availability views of the internal buffer out of the binary chunk (of
/// `binary_length` bytes, the rest of `reader`) into `views`, and checks nothing follows it.
fn read_internal_views(
    parsed: &Parsed,
    wanted: &[(usize, u64)],
    binary_length: u64,
    path: &TilePath,
    reader: &mut impl Read,
    views: &mut [Option<Arc<[u8]>>],
) -> Result<(), WalkError> {
    let internal: Vec<(usize, u64, u64)> = wanted
        .iter()
        .filter(|(view, _)| parsed.views[*view].buffer == 0 && parsed.buffers[0].uri.is_none())
        .map(|&(view, bytes)| (view, parsed.views[view].byte_offset, bytes))
        .collect();
    let ranges: Vec<(u64, u64)> = internal.iter().map(|&(_, o, b)| (o, b)).collect();
    let read = read_ranges(reader, binary_length, &ranges).map_err(|e| {
        WalkError::unsupported(
            path,
            format!("binary subtree truncated in its binary chunk: {e}"),
        )
    })?;
    for ((view, _, _), bytes) in internal.into_iter().zip(read) {
        views[view] = Some(bytes.into());
    }
    let mut trailing = [0u8; 1];
    if reader.read(&mut trailing)? != 0 {
        return Err(WalkError::unsupported(
            path,
            "binary subtree longer than its header says",
        ));
    }
    Ok(())
}

/// The external buffers availability needs, one per file with the buffers it holds, and the
/// URIs of the other external buffers, in buffer order.
fn external_buffers(
    parsed: &Parsed,
    wanted: &[(usize, u64)],
) -> (Vec<ExternalBuffer>, Vec<String>) {
    let mut waiting: Vec<ExternalBuffer> = Vec::new();
    // Where each waited-for URI sits in `waiting`, so that many buffers stay linear work.
    let mut waiting_at: HashMap<&str, usize> = HashMap::new();
    let needed: HashSet<usize> = wanted
        .iter()
        .map(|(view, _)| parsed.views[*view].buffer)
        .collect();
    let mut others = Vec::new();
    for (index, buffer) in parsed.buffers.iter().enumerate() {
        let Some(uri) = &buffer.uri else { continue };
        if !needed.contains(&index) {
            others.push(uri.clone());
        } else if let Some(&at) = waiting_at.get(uri.as_str()) {
            waiting[at].buffers.push(index);
        } else {
            waiting_at.insert(uri, waiting.len());
            waiting.push(ExternalBuffer {
                uri: uri.clone(),
                buffers: vec![index],
            });
        }
    }
    (waiting, others)
}

/// The files a subtree names once the external buffer `path`, the first its `pending` state
/// waits for, is read: the next buffer it waits for, or its contents and child subtrees (at
/// most `max_files` of them, as for [`read_subtree`]).
pub fn read_subtree_buffer(
    pending: &PendingSubtree,
    path: &TilePath,
    mut reader: impl Read,
    max_files: u64,
) -> Result<Walked, WalkError> {
    let Some((current, rest)) = pending.waiting.split_first() else {
        return Err(WalkError::unsupported(
            path,
            "a subtree buffer that no subtree waits for",
        ));
    };
    let wanted: Vec<(usize, u64, u64)> = pending
        .parsed
        .wanted_views()
        .into_iter()
        .filter(|(view, _)| {
            current
                .buffers
                .contains(&pending.parsed.views[*view].buffer)
        })
        .map(|(view, bytes)| (view, pending.parsed.views[view].byte_offset, bytes))
        .collect();
    // Buffers sharing this file may declare different lengths; the file must hold the longest.
    let declared = current
        .buffers
        .iter()
        .map(|b| pending.parsed.buffers[*b].byte_length)
        .max()
        .unwrap_or(0);
    let ranges: Vec<(u64, u64)> = wanted.iter().map(|&(_, o, b)| (o, b)).collect();
    let read = read_ranges(&mut reader, declared, &ranges).map_err(|e| {
        WalkError::unsupported(
            path,
            format!("subtree buffer shorter than its byteLength {declared}: {e}"),
        )
    })?;
    let mut views = pending.views.clone();
    for ((view, _, _), bytes) in wanted.into_iter().zip(read) {
        views[view] = Some(bytes.into());
    }
    let next = PendingSubtree {
        context: pending.context.clone(),
        subtree: pending.subtree.clone(),
        parsed: pending.parsed.clone(),
        views,
        waiting: rest.to_vec(),
    };
    let mut walked = Walked::default();
    advance(next, &mut walked, max_files)?;
    Ok(walked)
}

/// Asks for the next external buffer `pending` waits for, or, with none left, lists the
/// subtree's contents and child subtrees.
fn advance(pending: PendingSubtree, walked: &mut Walked, max_files: u64) -> Result<(), WalkError> {
    if let Some(next) = pending.waiting.first() {
        let uri = next.uri.clone();
        let base = Some(pending.subtree.clone());
        walked.references.push(Reference {
            uri,
            base,
            kind: Some(FileKind::SubtreeBuffer(Arc::new(pending))),
        });
        return Ok(());
    }
    available(&pending, walked, max_files)
}

#[cfg(test)]
mod tests;
