//! Format signature search and superblock versions 0–3 (spec II.A).
//!
//! The signature is searched at 0, 512, 1024, 2048, … (powers of two from 512) up to the file
//! size. Following libhdf5, the base address of relative addresses is the offset where the
//! signature was found (a user block before it shifts every address). Versions 2 and 3 have
//! their checksum verified. The superblock extension, if any, is read for one fact: whether
//! it holds a shared object header message table (objects with shared messages in that
//! table are refused by name by the walker).

use super::checksum;
use super::messages::symbol_table::SymbolTableMsg;
use super::object_header;
use super::raw::{cache_type, msg, FORMAT_SIGNATURE};
use super::util::{read_addr, read_exact, read_upto, UNDEF};
use super::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;
use crate::io::ReadAt;

/// A decoded superblock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Superblock {
    /// Superblock version (0–3).
    pub version: u8,
    /// Absolute offset of the signature.
    pub offset: u64,
    /// Field widths and the base address.
    pub sizes: Sizes,
    /// Relative address of the root group's object header.
    pub root_addr: u64,
    /// Cached symbol table of the root group (v0/v1 symbol table entry scratch pad).
    pub root_cache: Option<SymbolTableMsg>,
    /// Relative address of the superblock extension (`UNDEF` if none).
    pub ext_addr: u64,
    /// The superblock extension holds a shared object header message table.
    pub has_shared_message_table: bool,
    /// Relative address of the shared object header message master table and its number of
    /// indexes, if any.
    pub sohm_table: Option<(u64, u8)>,
}

/// Absolute offset of the HDF5 signature, if any.
pub(crate) fn find_signature(src: &dyn ReadAt) -> Option<u64> {
    let size = src.size();
    let mut at = 0u64;
    loop {
        if at.checked_add(8).is_none_or(|end| end > size) {
            return None;
        }
        if src.read_at(at, 8).ok().as_deref() == Some(&FORMAT_SIGNATURE[..]) {
            return Some(at);
        }
        at = if at == 0 { 512 } else { at.checked_mul(2)? };
    }
}

fn check_width(v: u8, what: &str, offset: u64) -> Result<u8, Hdf5Error> {
    if matches!(v, 2 | 4 | 8) {
        Ok(v)
    } else {
        Err(Hdf5Error::corrupt("superblock", offset, format!("size of {what} {v}")))
    }
}

/// Find and decode the superblock.
pub(crate) fn read(src: &dyn ReadAt) -> Result<Superblock, Hdf5Error> {
    const W: &str = "superblock";
    let at = find_signature(src).ok_or(Hdf5Error::NotHdf5)?;
    let buf = read_upto(src, W, at, 256)?;
    let mut c = Cursor::new(&buf, at, W);
    c.skip(8)?;
    let version = c.u8()?;
    let mut sb = match version {
        0 | 1 => {
            let _free_space_version = c.u8()?;
            let _root_stab_version = c.u8()?;
            c.skip(1)?;
            let _shared_header_version = c.u8()?;
            let offset = check_width(c.u8()?, "offsets", at)?;
            let length = check_width(c.u8()?, "lengths", at)?;
            c.skip(1)?;
            let _leaf_k = c.u16()?;
            let _internal_k = c.u16()?;
            let _flags = c.u32()?;
            if version == 1 {
                c.skip(4)?;
            }
            let sizes = Sizes {
                offset,
                length,
                base: at,
            };
            let _base = read_addr(&mut c, &sizes)?;
            let ext_addr = read_addr(&mut c, &sizes)?;
            let _eof = read_addr(&mut c, &sizes)?;
            let _driver = read_addr(&mut c, &sizes)?;
            // Root group symbol table entry.
            let _name_off = read_addr(&mut c, &sizes)?;
            let root_addr = read_addr(&mut c, &sizes)?;
            let cache = c.u32()?;
            c.skip(4)?;
            let scratch = c.bytes(16)?;
            let root_cache = if u32::from(cache_type::GROUP) == cache {
                let mut s = Cursor::new(scratch, at, "root symbol table entry");
                Some(SymbolTableMsg {
                    btree_addr: read_addr(&mut s, &sizes)?,
                    heap_addr: read_addr(&mut s, &sizes)?,
                })
            } else {
                None
            };
            Superblock {
                version,
                offset: at,
                sizes,
                root_addr,
                root_cache,
                ext_addr,
                has_shared_message_table: false,
                sohm_table: None,
            }
        }
        2 | 3 => {
            let offset = check_width(c.u8()?, "offsets", at)?;
            let length = check_width(c.u8()?, "lengths", at)?;
            let _flags = c.u8()?;
            let sizes = Sizes {
                offset,
                length,
                base: at,
            };
            let _base = read_addr(&mut c, &sizes)?;
            let ext_addr = read_addr(&mut c, &sizes)?;
            let _eof = read_addr(&mut c, &sizes)?;
            let root_addr = read_addr(&mut c, &sizes)?;
            let len = c.pos().saturating_add(4) as u64;
            let whole = read_exact(src, W, at, len)?;
            checksum::verify("superblock", at, &whole)?;
            Superblock {
                version,
                offset: at,
                sizes,
                root_addr,
                root_cache: None,
                ext_addr,
                has_shared_message_table: false,
                sohm_table: None,
            }
        }
        v => return Err(Hdf5Error::corrupt(W, at, format!("unknown version {v}"))),
    };
    if sb.root_addr == UNDEF {
        return Err(Hdf5Error::corrupt(W, at, "undefined root group address"));
    }
    if sb.ext_addr != UNDEF {
        // A broken extension does not stop the walk; its only use here is the SOHM note.
        if let Ok(ext) = object_header::read(src, &sb.sizes, sb.ext_addr) {
            if let Some(m) = ext.first(msg::SHARED_MESSAGE_TABLE) {
                sb.has_shared_message_table = true;
                // Version, master table address, number of indexes.
                let mut c = Cursor::new(&m.data, m.offset, "shared message table message");
                if c.u8().is_ok() {
                    let addr = read_addr(&mut c, &sb.sizes).ok().filter(|&a| a != UNDEF);
                    sb.sohm_table = addr.zip(c.u8().ok());
                }
            }
        }
    }
    Ok(sb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf5::checksum::lookup3;

    /// A v2 superblock at `at` with root object header address `root`.
    pub(crate) fn sb_v2(at: usize, root: u64) -> Vec<u8> {
        let mut f = vec![0u8; at];
        let mut s = FORMAT_SIGNATURE.to_vec();
        s.extend_from_slice(&[2, 8, 8, 0]);
        s.extend_from_slice(&0u64.to_le_bytes());
        s.extend_from_slice(&u64::MAX.to_le_bytes());
        s.extend_from_slice(&1000u64.to_le_bytes());
        s.extend_from_slice(&root.to_le_bytes());
        let sum = lookup3(&s);
        s.extend_from_slice(&sum.to_le_bytes());
        f.extend_from_slice(&s);
        f
    }

    #[test]
    fn signature_after_user_block() {
        let f = sb_v2(1024, 48);
        let sb = read(&f).unwrap();
        assert_eq!(sb.offset, 1024);
        assert_eq!(
            sb.sizes,
            Sizes {
                offset: 8,
                length: 8,
                base: 1024
            }
        );
        assert_eq!(sb.root_addr, 48);
        assert_eq!(sb.ext_addr, UNDEF);
        let mut bad = f.clone();
        bad[1024 + 20] ^= 1;
        assert!(matches!(read(&bad), Err(Hdf5Error::Corrupt { .. })));
        assert!(matches!(read(&vec![0u8; 3000]), Err(Hdf5Error::NotHdf5)));
        assert!(read(&f[..1040].to_vec()).is_err());
    }
}
