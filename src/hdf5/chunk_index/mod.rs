//! Chunk indexes of data layout message version 4 (spec IV.A.2.i, III.G/H): single chunk,
//! implicit, fixed array, extensible array and version 2 B-tree.
//!
//! Each reader visits the allocated chunks as [`ChunkRec`]s (element offsets, address, stored
//! size, filter mask), the same records the version 1 B-tree gives, so the walker maps them
//! the same way. Chunks past the current extent are visited too (the walker drops them).
//!
//! Array indexes (implicit, fixed and extensible array) number chunks in row-major order over
//! the grid of the *maximum* dimensions; the extensible array first moves its one unlimited
//! dimension to the front ("swizzling"). Readers iterate the stored structures (never the
//! possibly huge logical grid), every structure length is checked against the file size
//! before it is read, and every checksum is verified.

mod btree_v2;
mod extensible_array;
mod fixed_array;
mod implicit;
mod single;

use super::adapters::ChunkRec;
use super::checksum;
use super::messages::layout::{v4_flags, ChunkIndex};
use super::util::{check_signature, read_addr, read_rel};
use super::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;
use crate::io::ReadAt;

/// What the index readers need to know about the dataset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry<'a> {
    /// Current dimensions.
    pub shape: &'a [u64],
    /// Maximum dimensions (`u64::MAX` = unlimited), same rank as `shape`.
    pub max_shape: &'a [u64],
    /// Chunk dimensions (without the element size), same rank.
    pub chunk: &'a [u64],
    /// Element size in bytes.
    pub elem: u64,
    /// Number of filters in the pipeline (0: unfiltered).
    pub nfilters: usize,
    /// Layout flags.
    pub flags: u8,
}

impl Geometry<'_> {
    /// Bytes of a full, unfiltered chunk.
    fn chunk_bytes(&self) -> Result<u64, Hdf5Error> {
        self.chunk
            .iter()
            .try_fold(self.elem, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Hdf5Error::Limit("chunk byte size overflows".into()))
    }

    /// Chunks per dimension of the maximum extent (`None` for an unlimited dimension).
    fn max_grid(&self) -> Vec<Option<u64>> {
        self.max_shape
            .iter()
            .zip(self.chunk)
            .map(|(&m, &c)| {
                if m == u64::MAX {
                    None
                } else {
                    Some(m.div_ceil(c.max(1)))
                }
            })
            .collect()
    }

    /// Whether the chunk at `offsets` is a partial edge chunk of the current extent.
    fn partial_edge(&self, offsets: &[u64]) -> bool {
        offsets
            .iter()
            .zip(self.chunk)
            .zip(self.shape)
            .any(|((&o, &c), &s)| o.checked_add(c).is_none_or(|e| e > s))
    }
}

/// Visit every allocated chunk of the version 4 index `index` at relative address `addr`.
pub(crate) fn visit(
    src: &dyn ReadAt,
    sizes: Sizes,
    index: &ChunkIndex,
    addr: u64,
    g: &Geometry<'_>,
    f: &mut dyn FnMut(ChunkRec) -> Result<(), Hdf5Error>,
) -> Result<(), Hdf5Error> {
    if g.shape.len() != g.chunk.len() || g.max_shape.len() != g.chunk.len() {
        return Err(Hdf5Error::corrupt("chunk index", addr, "rank mismatch"));
    }
    // With DONT_FILTER_PARTIAL_BOUND_CHUNKS, edge chunks are stored unfiltered: they are
    // reported with every filter skipped (the walker re-encodes them).
    let skip_edges = g.flags & v4_flags::DONT_FILTER_PARTIAL_BOUND_CHUNKS != 0 && g.nfilters > 0;
    let all_skipped = if g.nfilters >= 32 {
        u32::MAX
    } else {
        (1u32 << g.nfilters) - 1
    };
    let mut wrapped = |mut r: ChunkRec| -> Result<(), Hdf5Error> {
        if skip_edges && g.partial_edge(&r.offsets) {
            r.filter_mask = all_skipped;
        }
        f(r)
    };
    if super::util::is_undefined(sizes, addr) {
        return Ok(());
    }
    match index {
        ChunkIndex::Single { filtered } => single::visit(sizes, addr, *filtered, g, &mut wrapped),
        ChunkIndex::Implicit => implicit::visit(src, sizes, addr, g, &mut wrapped),
        ChunkIndex::FixedArray { .. } => fixed_array::visit(src, sizes, addr, g, &mut wrapped),
        ChunkIndex::ExtensibleArray { .. } => extensible_array::visit(src, sizes, addr, g, &mut wrapped),
        ChunkIndex::BtreeV2 { .. } => btree_v2::visit(src, sizes, addr, g, &mut wrapped),
    }
}

/// Row-major strides of `grid` (the first entry may be unbounded: it is never used).
fn strides(grid: &[u64]) -> Result<Vec<u64>, Hdf5Error> {
    let mut down = vec![1u64; grid.len()];
    for i in (0..grid.len().saturating_sub(1)).rev() {
        down[i] = down[i + 1]
            .checked_mul(grid[i + 1])
            .ok_or_else(|| Hdf5Error::Limit("chunk grid size overflows".into()))?;
    }
    Ok(down)
}

/// Element offsets of the chunk with linear index `idx` over a grid with strides `down`,
/// whose dimension `perm[k]` is the k-th grid axis.
fn offsets_of(idx: u64, down: &[u64], perm: &[usize], chunk: &[u64]) -> Result<Vec<u64>, Hdf5Error> {
    let mut out = vec![0u64; chunk.len()];
    let mut rest = idx;
    for (k, &d) in down.iter().enumerate() {
        let coord = rest / d.max(1);
        rest %= d.max(1);
        let dim = perm[k];
        out[dim] = coord
            .checked_mul(chunk[dim])
            .ok_or_else(|| Hdf5Error::Limit("chunk offset overflows".into()))?;
    }
    Ok(out)
}

/// How array elements are encoded: address only (unfiltered), or address + size + mask.
#[derive(Debug, Clone, Copy)]
struct ElemFormat {
    /// Element size in bytes.
    size: usize,
    /// Width of the chunk size field of filtered elements.
    filtered_len: Option<u8>,
    /// Size of an unfiltered chunk.
    chunk_bytes: u64,
}

impl ElemFormat {
    /// Element format from the array header's client id and element size.
    fn new(
        what: &'static str,
        offset: u64,
        sizes: Sizes,
        client: u8,
        elem_size: u8,
        g: &Geometry<'_>,
    ) -> Result<Self, Hdf5Error> {
        let bad = |r: String| Hdf5Error::corrupt(what, offset, r);
        let chunk_bytes = g.chunk_bytes()?;
        let filtered = match client {
            0 => false,
            1 => true,
            c => return Err(bad(format!("unknown client id {c}"))),
        };
        if filtered != (g.nfilters > 0) {
            return Err(bad(format!(
                "client id {client} does not match the {} filters of the dataset",
                g.nfilters
            )));
        }
        let o = sizes.offset;
        let filtered_len = if filtered {
            let n = elem_size
                .checked_sub(o)
                .and_then(|n| n.checked_sub(4))
                .filter(|n| (1..=8).contains(n))
                .ok_or_else(|| bad(format!("element size {elem_size} for filtered chunks")))?;
            Some(n)
        } else {
            if elem_size != o {
                return Err(bad(format!("element size {elem_size} for unfiltered chunks")));
            }
            None
        };
        Ok(Self {
            size: usize::from(elem_size),
            filtered_len,
            chunk_bytes,
        })
    }

    /// Decode the elements in `buf` (a whole number of elements); `first` is the index of
    /// the first one. Undefined addresses (unallocated chunks) are skipped.
    fn decode(
        &self,
        buf: &[u8],
        at: u64,
        sizes: Sizes,
        first: u64,
        f: &mut dyn FnMut(u64, u64, u64, u32) -> Result<(), Hdf5Error>,
    ) -> Result<(), Hdf5Error> {
        let mut c = Cursor::new(buf, at, "chunk index element");
        let mut i = first;
        while c.remaining() >= self.size {
            let addr = read_addr(&mut c, &sizes)?;
            let (size, mask) = match self.filtered_len {
                Some(n) => (c.uint(usize::from(n))?, c.u32()?),
                None => (self.chunk_bytes, 0),
            };
            if !super::util::is_undefined(sizes, addr) {
                f(i, addr, size, mask)?;
            }
            i = i
                .checked_add(1)
                .ok_or_else(|| Hdf5Error::Limit("chunk index element count".into()))?;
        }
        Ok(())
    }
}

/// A chunk record, with the size checked to fit the record's 32 bits.
fn rec(offsets: Vec<u64>, addr: u64, size: u64, filter_mask: u32) -> Result<ChunkRec, Hdf5Error> {
    let size = u32::try_from(size).map_err(|_| Hdf5Error::Limit(format!("chunk of {size} bytes")))?;
    Ok(ChunkRec {
        size,
        filter_mask,
        offsets,
        addr,
    })
}

/// Read a checksummed structure of `len` bytes (checksum included) at relative `addr`,
/// checking the 4-byte signature and version 0; returns its absolute offset, the bytes and
/// a cursor past signature and version.
fn read_block(
    src: &dyn ReadAt,
    sizes: Sizes,
    addr: u64,
    len: u64,
    sig: &[u8; 4],
    what: &'static str,
) -> Result<(u64, bytes::Bytes), Hdf5Error> {
    let (abs, buf) = read_rel(src, sizes, addr, len, what)?;
    let mut c = Cursor::new(&buf, abs, what);
    check_signature(c.bytes(4)?, sig, what, abs)?;
    let version = c.u8()?;
    if version != 0 {
        return Err(Hdf5Error::corrupt(what, abs, format!("unknown version {version}")));
    }
    checksum::verify(what, abs, &buf)?;
    Ok((abs, buf))
}

/// Bit `i` of a libhdf5 bitmap (most significant bit first).
fn bit(map: &[u8], i: u64) -> bool {
    usize::try_from(i / 8)
        .ok()
        .and_then(|b| map.get(b))
        .is_some_and(|&b| b & (0x80 >> (i % 8)) != 0)
}

#[cfg(test)]
pub(crate) mod tests;

/// Where the chunks of a chunked dataset are indexed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    /// A version 1 B-tree (layout versions 1–3) at this relative address.
    BtreeV1(u64),
    /// A layout version 4 index.
    V4 {
        /// The index type and parameters.
        index: &'a ChunkIndex,
        /// Layout flags.
        flags: u8,
        /// Maximum dimensions (`u64::MAX` = unlimited).
        max_shape: &'a [u64],
        /// Relative index address.
        addr: u64,
    },
}

impl Source<'_> {
    /// Relative address of the index ([`super::util::UNDEF`] when nothing was written).
    pub(crate) fn addr(&self) -> u64 {
        match self {
            Source::BtreeV1(a) | Source::V4 { addr: a, .. } => *a,
        }
    }
}
