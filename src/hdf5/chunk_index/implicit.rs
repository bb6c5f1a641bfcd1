//! Implicit chunk index: every chunk of the maximum extent is allocated, unfiltered, one
//! after the other in row-major chunk order from the layout message's address.

use super::{offsets_of, rec, strides, Geometry};
use crate::hdf5::adapters::ChunkRec;
use crate::hdf5::util::absolute;
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::ReadAt;

const W: &str = "implicit chunk index";

/// Visit the chunks stored from relative address `addr` (defined).
pub(super) fn visit(
    src: &dyn ReadAt,
    sizes: Sizes,
    addr: u64,
    g: &Geometry<'_>,
    f: &mut dyn FnMut(ChunkRec) -> Result<(), Hdf5Error>,
) -> Result<(), Hdf5Error> {
    let abs = absolute(sizes, addr, W)?;
    if g.nfilters > 0 {
        return Err(Hdf5Error::corrupt(W, abs, "implicit index with filters"));
    }
    let grid = g
        .max_grid()
        .into_iter()
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| Hdf5Error::corrupt(W, abs, "implicit index with an unlimited dimension"))?;
    let n = grid
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Hdf5Error::Limit("chunk count overflows".into()))?;
    let cb = g.chunk_bytes()?;
    let fits = n
        .checked_mul(cb)
        .and_then(|t| t.checked_add(abs))
        .is_some_and(|end| end <= src.size());
    if !fits {
        return Err(Hdf5Error::corrupt(
            W,
            abs,
            format!("{n} chunks of {cb} bytes run past the end of the file"),
        ));
    }
    let down = strides(&grid)?;
    let perm: Vec<usize> = (0..grid.len()).collect();
    for i in 0..n {
        // No overflow: i * cb < n * cb, checked above.
        f(rec(offsets_of(i, &down, &perm, g.chunk)?, addr + i * cb, cb, 0)?)?;
    }
    Ok(())
}
