//! Thin adapters from the walker to the B-tree and heap readers (`btree/`, `heap/`), so the
//! walker sees plain lists: symbol table entries, link/attribute message bodies of dense
//! storage, and chunk records.

use bytes::Bytes;

use super::{Hdf5Error, Sizes};
use crate::io::ReadAt;

/// A symbol table entry of an old-style group (spec III.C).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SymEntry {
    /// Link name.
    pub name: String,
    /// Object header address (relative).
    pub header_addr: u64,
    /// Soft link value, for cache type 2 entries.
    pub soft_target: Option<String>,
}

/// One chunk of a version 1 B-tree chunk index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChunkRec {
    /// Stored size in bytes.
    pub size: u32,
    /// Filter mask (bit i set: filter i skipped).
    pub filter_mask: u32,
    /// Element offsets of the chunk (rank + 1 values, last is 0).
    pub offsets: Vec<u64>,
    /// Relative address of the chunk.
    pub addr: u64,
}

fn pending(what: &str) -> Hdf5Error {
    Hdf5Error::unsupported(format!("{what} (reader not available yet)"))
}

/// Entries of an old-style group: B-tree (type 0) + local heap.
pub(crate) fn symbol_table_entries(
    _src: &dyn ReadAt,
    _sizes: Sizes,
    _btree_addr: u64,
    _heap_addr: u64,
) -> Result<Vec<SymEntry>, Hdf5Error> {
    Err(pending("symbol table group"))
}

/// Link message bodies of dense link storage: fractal heap + v2 B-tree (type 5).
pub(crate) fn dense_links(
    _src: &dyn ReadAt,
    _sizes: Sizes,
    _heap_addr: u64,
    _btree_addr: u64,
) -> Result<Vec<Bytes>, Hdf5Error> {
    Err(pending("dense links"))
}

/// (message flags, attribute message body) of dense attribute storage: fractal heap + v2
/// B-tree (type 8).
pub(crate) fn dense_attributes(
    _src: &dyn ReadAt,
    _sizes: Sizes,
    _heap_addr: u64,
    _btree_addr: u64,
) -> Result<Vec<(u8, Bytes)>, Hdf5Error> {
    Err(pending("dense attributes"))
}

/// Visit every chunk of a version 1 B-tree chunk index (type 1).
pub(crate) fn chunk_records(
    _src: &dyn ReadAt,
    _sizes: Sizes,
    _btree_addr: u64,
    _ndims_plus_1: usize,
    _f: &mut dyn FnMut(ChunkRec) -> Result<(), Hdf5Error>,
) -> Result<(), Hdf5Error> {
    Err(pending("chunked layout"))
}
