//! Thin adapters from the walker to the B-tree and heap readers (`btree/`, `heap/`), so the
//! walker sees plain lists: symbol table entries, link/attribute message bodies of dense
//! storage, and chunk records.

use bytes::Bytes;

use super::btree::v1;
use super::heap::local::LocalHeap;
use super::raw::cache_type;
use super::util::is_undefined;
use super::util::UNDEF;
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
    /// Element offsets of the chunk, one per dataset dimension.
    pub offsets: Vec<u64>,
    /// Relative address of the chunk.
    pub addr: u64,
}

/// Entries of an old-style group: B-tree (type 0) + local heap.
pub(crate) fn symbol_table_entries(
    src: &dyn ReadAt,
    sizes: Sizes,
    btree_addr: u64,
    heap_addr: u64,
) -> Result<Vec<SymEntry>, Hdf5Error> {
    let heap = LocalHeap::read(src, sizes, heap_addr)?;
    let entries = v1::symbol_table_entries(src, sizes, btree_addr)?;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let name = heap.get_string(e.link_name_offset)?;
        let soft_target = if e.cache_type == u32::from(cache_type::SOFT_LINK) {
            let off = u32::from_le_bytes([e.scratch[0], e.scratch[1], e.scratch[2], e.scratch[3]]);
            Some(heap.get_string(u64::from(off))?)
        } else {
            None
        };
        let header_addr = if is_undefined(sizes, e.object_header_addr) {
            UNDEF
        } else {
            e.object_header_addr
        };
        out.push(SymEntry {
            name,
            header_addr,
            soft_target,
        });
    }
    Ok(out)
}

/// Link message bodies of dense link storage: fractal heap + v2 B-tree (type 5).
pub(crate) fn dense_links(
    src: &dyn ReadAt,
    sizes: Sizes,
    heap_addr: u64,
    btree_addr: u64,
) -> Result<Vec<Bytes>, Hdf5Error> {
    super::btree::v2::dense_link_messages(src, sizes, heap_addr, btree_addr)
}

/// (message flags, attribute message body) of dense attribute storage: fractal heap + v2
/// B-tree (type 8).
pub(crate) fn dense_attributes(
    src: &dyn ReadAt,
    sizes: Sizes,
    heap_addr: u64,
    btree_addr: u64,
) -> Result<Vec<(u8, Bytes)>, Hdf5Error> {
    super::btree::v2::dense_attribute_messages(src, sizes, heap_addr, btree_addr)
}

/// Visit every chunk of a version 1 B-tree chunk index (type 1).
pub(crate) fn chunk_records(
    src: &dyn ReadAt,
    sizes: Sizes,
    btree_addr: u64,
    ndims_plus_1: usize,
    f: &mut dyn FnMut(ChunkRec) -> Result<(), Hdf5Error>,
) -> Result<(), Hdf5Error> {
    v1::walk_chunk_nodes(src, sizes, btree_addr, ndims_plus_1, &mut |r| {
        let addr = if is_undefined(sizes, r.addr) { UNDEF } else { r.addr };
        f(ChunkRec {
            size: r.size,
            filter_mask: r.filter_mask,
            offsets: r.offsets,
            addr,
        })
    })
}
