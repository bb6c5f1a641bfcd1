//! Version 2 B-tree chunk index: records of type 10 (unfiltered: address + scaled offsets) or
//! 11 (filtered: address + stored size + filter mask + scaled offsets), decoded by
//! [`ChunkIndexRecord`].

use super::{rec, Geometry};
use crate::hdf5::adapters::ChunkRec;
use crate::hdf5::btree::v2::{walk_with_header, ChunkIndexRecord, V2Header};
use crate::hdf5::util::is_undefined;
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::ReadAt;

const W: &str = "v2 B-tree chunk index";

/// Visit the chunks of the v2 B-tree whose header is at relative address `addr` (defined).
pub(super) fn visit(
    src: &dyn ReadAt,
    sizes: Sizes,
    addr: u64,
    g: &Geometry<'_>,
    f: &mut dyn FnMut(ChunkRec) -> Result<(), Hdf5Error>,
) -> Result<(), Hdf5Error> {
    let hdr = V2Header::read(src, sizes, addr)?;
    let rank = g.chunk.len();
    let filtered = g.nfilters > 0;
    let want = if filtered { 11 } else { 10 };
    if hdr.record_type != want {
        return Err(Hdf5Error::corrupt(
            W,
            addr,
            format!("record type {}, expected {want}", hdr.record_type),
        ));
    }
    let fixed = u64::from(sizes.offset) + 8 * rank as u64;
    let rs = u64::from(hdr.record_size);
    let size_len = if filtered {
        let n = rs
            .checked_sub(fixed + 4)
            .filter(|n| (1..=8).contains(n))
            .ok_or_else(|| Hdf5Error::corrupt(W, addr, format!("record size {rs} for rank {rank}")))?;
        Some(n as u8)
    } else {
        if rs != fixed {
            return Err(Hdf5Error::corrupt(W, addr, format!("record size {rs} for rank {rank}")));
        }
        None
    };
    let cb = g.chunk_bytes()?;
    walk_with_header(src, sizes, &hdr, &mut |r| {
        let cr = ChunkIndexRecord::parse(r, sizes, rank, size_len)?;
        if is_undefined(sizes, cr.addr) {
            return Ok(());
        }
        let mut offsets = Vec::with_capacity(rank);
        for (&s, &c) in cr.scaled_offsets.iter().zip(g.chunk) {
            offsets.push(
                s.checked_mul(c)
                    .ok_or_else(|| Hdf5Error::corrupt(W, addr, format!("scaled offset {s} overflows")))?,
            );
        }
        f(rec(offsets, cr.addr, cr.size.unwrap_or(cb), cr.filter_mask)?)
    })
}
