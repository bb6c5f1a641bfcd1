//! Single chunk index: the layout message's address is the one chunk, which covers the whole
//! dataset (chunk dimensions ≥ the maximum dimensions). A filtered chunk's stored size and
//! filter mask are in the layout message; an unfiltered chunk is a full chunk.

use super::{rec, Geometry};
use crate::hdf5::adapters::ChunkRec;
use crate::hdf5::{Hdf5Error, Sizes};

/// Visit the single chunk at relative address `addr` (defined).
pub(super) fn visit(
    _sizes: Sizes,
    addr: u64,
    filtered: Option<(u64, u32)>,
    g: &Geometry<'_>,
    f: &mut dyn FnMut(ChunkRec) -> Result<(), Hdf5Error>,
) -> Result<(), Hdf5Error> {
    let (size, mask) = match filtered {
        Some(sm) => sm,
        None if g.nfilters > 0 => {
            return Err(Hdf5Error::corrupt(
                "single chunk index",
                addr,
                "filtered dataset without the filtered single chunk flag",
            ))
        }
        None => (g.chunk_bytes()?, 0),
    };
    f(rec(vec![0; g.chunk.len()], addr, size, mask)?)
}
