//! Data layout message (type 0x0008), versions 1–4 (spec IV.A.2.i).
//!
//! Versions 1–3 are decoded fully (compact, contiguous, chunked with a version 1 B-tree).
//! Version 4 (and 5, written by HDF5 2.0, same encoding) is decoded far enough to name its
//! chunk index; only compact and contiguous storage are mapped from it.

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
    /// Chunked with a version 4 chunk index we do not read: the index name.
    ChunkedV4 {
        /// Index name ("single chunk", "implicit", …).
        index: &'static str,
    },
    /// Virtual dataset layout (class 3).
    Virtual,
}

/// Name of a version 4 chunk indexing type.
pub(crate) fn chunk_index_name(t: u8) -> &'static str {
    match t {
        chunk_index::SINGLE_CHUNK => "single chunk",
        chunk_index::IMPLICIT => "implicit",
        chunk_index::FIXED_ARRAY => "fixed array",
        chunk_index::EXTENSIBLE_ARRAY => "extensible array",
        chunk_index::BTREE_V2 => "v2 B-tree",
        _ => "unknown",
    }
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
                layout_class::CHUNKED => {
                    let _flags = c.u8()?;
                    let ndims = c.u8()?;
                    let enc = c.u8()?;
                    c.skip(usize::from(ndims).saturating_mul(usize::from(enc)))?;
                    let t = c.u8()?;
                    Ok(Layout::ChunkedV4 {
                        index: chunk_index_name(t),
                    })
                }
                layout_class::VIRTUAL => Ok(Layout::Virtual),
                k => Err(Hdf5Error::corrupt(W, offset, format!("layout class {k}"))),
            }
        }
        v => Err(Hdf5Error::corrupt(W, offset, format!("version {v}"))),
    }
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
    fn v4_index_named() {
        let d = [4, 2, 0, 2, 1, 10, 4, 3, 8];
        assert_eq!(parse(&d, 0, &S).unwrap(), Layout::ChunkedV4 { index: "fixed array" });
    }
}
