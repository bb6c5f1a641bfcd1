//! Data layout message (type 0x0008), versions 1–4 (spec IV.A.2.i).
//!
//! Versions 1–3 are decoded fully (compact, contiguous, chunked with a version 1 B-tree).
//! Version 4 (and 5, written by HDF5 2.0, same encoding) is decoded fully too: flags, chunk
//! dimensions (with the element size as last dimension, as in version 3), the chunk index
//! type with its index-specific fields, and the index address.

use bytes::Bytes;

use crate::hdf5::raw::{chunk_index, layout_class};
use crate::hdf5::util::{read_addr, read_len, UNDEF};
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;

/// Decoded storage layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Raw data stored in the message.
    Compact(Bytes),
    /// One block at a (relative) address; `size` is `None` for versions 1–2 (computed by the
    /// caller from dataspace × element size).
    Contiguous {
        /// Relative address, [`UNDEF`] when never written.
        addr: u64,
        /// Size in bytes.
        size: Option<u64>,
    },
    /// Chunks indexed by a version 1 B-tree.
    ChunkedBtreeV1 {
        /// Relative B-tree address, [`UNDEF`] when no chunk was written.
        addr: u64,
        /// Chunk dimensions, including the trailing element-size dimension.
        dims: Vec<u32>,
    },
    /// Chunked with a layout version 4 chunk index.
    ChunkedV4 {
        /// Layout flags ([`v4_flags`]).
        flags: u8,
        /// Chunk dimensions, including the trailing element-size dimension.
        dims: Vec<u32>,
        /// The chunk index type and its parameters.
        index: ChunkIndex,
        /// Relative address of the index (of the chunk for single chunk, of the first chunk
        /// for implicit), [`UNDEF`] when nothing was written.
        addr: u64,
    },
    /// Virtual dataset layout (class 3): the mapping list is object `index` of the global
    /// heap collection at relative address `heap`.
    Virtual {
        /// Relative address of the global heap collection.
        heap: u64,
        /// Object index in the collection.
        index: u32,
    },
}

/// Flags of a version 4 chunked layout.
pub(crate) mod v4_flags {
    /// Partial edge chunks are stored without filters.
    pub(crate) const DONT_FILTER_PARTIAL_BOUND_CHUNKS: u8 = 0x01;
    /// Single chunk index with a filtered chunk: size and filter mask follow.
    pub(crate) const SINGLE_INDEX_WITH_FILTER: u8 = 0x02;
}

/// A version 4 chunk index with its index-specific fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChunkIndex {
    /// One chunk; `filtered` is `(stored size, filter mask)` when the chunk is filtered.
    Single {
        /// Stored size and filter mask of a filtered chunk.
        filtered: Option<(u64, u32)>,
    },
    /// Chunks stored contiguously in index order from the address, all allocated.
    Implicit,
    /// Fixed array (`FAHD`/`FADB`).
    FixedArray {
        /// log2 of the elements per data block page.
        page_bits: u8,
    },
    /// Extensible array (`EAHD`/`EAIB`/`EASB`/`EADB`).
    ExtensibleArray {
        /// Bits needed for the maximum number of elements.
        max_bits: u8,
        /// Elements stored in the index block.
        index_elements: u8,
        /// Minimum data block pointers of a super block.
        min_pointers: u8,
        /// Minimum elements of a data block.
        min_elements: u8,
        /// log2 of the elements per data block page.
        page_bits: u8,
    },
    /// Version 2 B-tree (record types 10/11).
    BtreeV2 {
        /// Node size in bytes.
        node_size: u32,
        /// Split percent.
        split: u8,
        /// Merge percent.
        merge: u8,
    },
}

/// Decode a data layout message body.
pub(crate) fn parse(data: &[u8], offset: u64, sizes: &Sizes) -> Result<Layout, Hdf5Error> {
    const W: &str = "data layout message";
    let mut c = Cursor::new(data, offset, W);
    let version = c.u8()?;
    match version {
        1 | 2 => {
            let ndims = c.u8()?;
            let class = c.u8()?;
            c.skip(5)?;
            let addr = if class == layout_class::COMPACT {
                UNDEF
            } else {
                read_addr(&mut c, sizes)?
            };
            let dims = (0..ndims).map(|_| c.u32()).collect::<Result<Vec<_>, _>>()?;
            match class {
                layout_class::COMPACT => {
                    let n = c.u32()?;
                    let n = usize::try_from(n).map_err(|_| Hdf5Error::Limit("compact data size".into()))?;
                    Ok(Layout::Compact(Bytes::copy_from_slice(c.bytes(n)?)))
                }
                layout_class::CONTIGUOUS => Ok(Layout::Contiguous { addr, size: None }),
                layout_class::CHUNKED => Ok(Layout::ChunkedBtreeV1 { addr, dims }),
                k => Err(Hdf5Error::corrupt(W, offset, format!("layout class {k}"))),
            }
        }
        3..=5 => {
            let class = c.u8()?;
            match class {
                layout_class::COMPACT => {
                    let n = usize::from(c.u16()?);
                    Ok(Layout::Compact(Bytes::copy_from_slice(c.bytes(n)?)))
                }
                layout_class::CONTIGUOUS => {
                    let addr = read_addr(&mut c, sizes)?;
                    let size = read_len(&mut c, sizes)?;
                    Ok(Layout::Contiguous { addr, size: Some(size) })
                }
                layout_class::CHUNKED if version == 3 => {
                    let ndims = c.u8()?;
                    let addr = read_addr(&mut c, sizes)?;
                    let dims = (0..ndims).map(|_| c.u32()).collect::<Result<Vec<_>, _>>()?;
                    Ok(Layout::ChunkedBtreeV1 { addr, dims })
                }
                layout_class::CHUNKED => parse_v4_chunked(&mut c, offset, sizes),
                layout_class::VIRTUAL => {
                    let heap = read_addr(&mut c, sizes)?;
                    let index = c.u32()?;
                    Ok(Layout::Virtual { heap, index })
                }
                k => Err(Hdf5Error::corrupt(W, offset, format!("layout class {k}"))),
            }
        }
        v => Err(Hdf5Error::corrupt(W, offset, format!("version {v}"))),
    }
}

/// The chunked layout of a version 4/5 message, after the class byte.
fn parse_v4_chunked(c: &mut Cursor<'_>, offset: u64, sizes: &Sizes) -> Result<Layout, Hdf5Error> {
    const W: &str = "data layout message";
    let bad = |r: String| Hdf5Error::corrupt(W, offset, r);
    let flags = c.u8()?;
    if flags & !(v4_flags::DONT_FILTER_PARTIAL_BOUND_CHUNKS | v4_flags::SINGLE_INDEX_WITH_FILTER) != 0 {
        return Err(bad(format!("unknown chunked layout flags {flags:#04x}")));
    }
    let ndims = c.u8()?;
    let enc = c.u8()?;
    if !(1..=8).contains(&enc) {
        return Err(bad(format!("dimension size encoded length {enc}")));
    }
    let mut dims = Vec::with_capacity(usize::from(ndims));
    for _ in 0..ndims {
        let d = c.uint(usize::from(enc))?;
        dims.push(u32::try_from(d).map_err(|_| bad(format!("chunk dimension {d} exceeds 32 bits")))?);
    }
    let t = c.u8()?;
    let index = match t {
        chunk_index::SINGLE_CHUNK => ChunkIndex::Single {
            filtered: if flags & v4_flags::SINGLE_INDEX_WITH_FILTER != 0 {
                Some((read_len(c, sizes)?, c.u32()?))
            } else {
                None
            },
        },
        chunk_index::IMPLICIT => ChunkIndex::Implicit,
        chunk_index::FIXED_ARRAY => ChunkIndex::FixedArray { page_bits: c.u8()? },
        chunk_index::EXTENSIBLE_ARRAY => ChunkIndex::ExtensibleArray {
            max_bits: c.u8()?,
            index_elements: c.u8()?,
            min_pointers: c.u8()?,
            min_elements: c.u8()?,
            page_bits: c.u8()?,
        },
        chunk_index::BTREE_V2 => ChunkIndex::BtreeV2 {
            node_size: c.u32()?,
            split: c.u8()?,
            merge: c.u8()?,
        },
        t => return Err(bad(format!("unknown chunk index type {t}"))),
    };
    let addr = read_addr(c, sizes)?;
    Ok(Layout::ChunkedV4 {
        flags,
        dims,
        index,
        addr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Sizes = Sizes {
        offset: 8,
        length: 8,
        base: 0,
    };

    #[test]
    fn v3_classes() {
        assert_eq!(
            parse(&[3, 0, 2, 0, 7, 8], 0, &S).unwrap(),
            Layout::Compact(Bytes::from_static(&[7, 8]))
        );
        let mut d = vec![3, 1];
        d.extend_from_slice(&[0xff; 8]);
        d.extend_from_slice(&80u64.to_le_bytes());
        assert_eq!(
            parse(&d, 0, &S).unwrap(),
            Layout::Contiguous {
                addr: UNDEF,
                size: Some(80)
            }
        );
        let mut d = vec![3, 2, 3];
        d.extend_from_slice(&0x800u64.to_le_bytes());
        for v in [10u32, 20, 4] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(
            parse(&d, 0, &S).unwrap(),
            Layout::ChunkedBtreeV1 {
                addr: 0x800,
                dims: vec![10, 20, 4]
            }
        );
        d.truncate(d.len() - 1);
        assert!(parse(&d, 0, &S).is_err());
    }

    #[test]
    fn v4_chunked_indexes() {
        let mut d = vec![4, 2, 0, 2, 1, 10, 4, 3, 8];
        d.extend_from_slice(&0x400u64.to_le_bytes());
        let l = parse(&d, 0, &S).unwrap();
        assert_eq!(
            l,
            Layout::ChunkedV4 {
                flags: 0,
                dims: vec![10, 4],
                index: ChunkIndex::FixedArray { page_bits: 8 },
                addr: 0x400
            }
        );
        // Single chunk with filter: size (8 bytes) + mask.
        let mut d = vec![4, 2, 2, 2, 2, 0x10, 0, 8, 0, 1];
        d.extend_from_slice(&77u64.to_le_bytes());
        d.extend_from_slice(&1u32.to_le_bytes());
        d.extend_from_slice(&[0xff; 8]);
        assert_eq!(
            parse(&d, 0, &S).unwrap(),
            Layout::ChunkedV4 {
                flags: 2,
                dims: vec![16, 8],
                index: ChunkIndex::Single {
                    filtered: Some((77, 1))
                },
                addr: UNDEF
            }
        );
        // Extensible array and v2 B-tree fields.
        let mut d = vec![4, 2, 0, 2, 1, 10, 4, 4, 32, 4, 4, 16, 10];
        d.extend_from_slice(&0x400u64.to_le_bytes());
        assert!(matches!(
            parse(&d, 0, &S).unwrap(),
            Layout::ChunkedV4 {
                index: ChunkIndex::ExtensibleArray {
                    max_bits: 32,
                    index_elements: 4,
                    min_pointers: 4,
                    min_elements: 16,
                    page_bits: 10
                },
                ..
            }
        ));
        let mut d = vec![4, 2, 0, 2, 1, 10, 4, 5, 0, 2, 0, 0, 100, 40];
        d.extend_from_slice(&0x400u64.to_le_bytes());
        assert!(matches!(
            parse(&d, 0, &S).unwrap(),
            Layout::ChunkedV4 {
                index: ChunkIndex::BtreeV2 {
                    node_size: 512,
                    split: 100,
                    merge: 40
                },
                ..
            }
        ));
        // Truncated, unknown index type, bad encoded length, oversized dimension.
        assert!(parse(&d[..d.len() - 1], 0, &S).is_err());
        assert!(parse(&[4, 2, 0, 2, 1, 10, 4, 9, 0], 0, &S).is_err());
        assert!(parse(&[4, 2, 0, 2, 9, 10, 4, 2], 0, &S).is_err());
        assert!(parse(&[4, 2, 0, 1, 5, 0, 0, 0, 0, 1, 2], 0, &S).is_err());
    }
}
