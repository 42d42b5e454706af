//! Reading chosen byte ranges of a stream in one forward pass, as availability bitstreams are
//! read out of a subtree's buffers without holding the rest.

use std::io::{self, Read};

/// Reads the byte ranges `(offset, length)` of the next `total` bytes of `reader`, skipping
/// the rest, and fails unless all `total` bytes are there. Memory: the ranges only.
pub(super) fn read_ranges(
    reader: &mut impl Read,
    total: u64,
    ranges: &[(u64, u64)],
) -> io::Result<Vec<Vec<u8>>> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges[i].0);
    // Contiguous stretches read so far: (start, bytes).
    let mut stretches: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut position = 0u64;
    let mut limited = reader.take(total);
    for &i in &order {
        let (start, length) = ranges[i];
        let end = start + length;
        if end > total {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "range past the end",
            ));
        }
        let extends = stretches
            .last()
            .is_some_and(|(s, bytes)| start <= s + bytes.len() as u64);
        if !extends {
            skip(&mut limited, start - position)?;
            position = start;
            stretches.push((start, Vec::new()));
        }
        if end > position {
            let stretch = &mut stretches.last_mut().expect("one stretch at least").1;
            let before = stretch.len();
            (&mut limited).take(end - position).read_to_end(stretch)?;
            if (stretch.len() - before) as u64 != end - position {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file ends early",
                ));
            }
            position = end;
        }
    }
    skip(&mut limited, total - position)?;
    Ok(ranges
        .iter()
        .map(|&(start, length)| {
            let (s, bytes) = stretches
                .iter()
                .rev()
                .find(|(s, _)| *s <= start)
                .expect("every range lies in a stretch");
            let from = (start - s) as usize;
            bytes[from..from + length as usize].to_vec()
        })
        .collect())
}

/// Reads and drops `count` bytes; an error if the stream ends first.
fn skip(reader: &mut impl Read, count: u64) -> io::Result<()> {
    let skipped = io::copy(&mut reader.take(count), &mut io::sink())?;
    if skipped == count {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file ends early",
        ))
    }
}
