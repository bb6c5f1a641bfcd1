//! Data object headers, versions 1 and 2 (spec IV.A.1), with their continuation blocks.
//!
//! [`read`] returns every message of an object in file order: chunk 0 first, then each
//! continuation block as the continuation messages name them. Bounds (STYLE §4): a visited set
//! of continuation addresses (cycles are errors, not loops), at most [`MAX_BLOCKS`] blocks,
//! [`MAX_MESSAGES`] messages, and header bytes capped by the file size. Version 2 chunks
//! (`OHDR`, `OCHK`) have their checksums verified. NIL messages and the gap at the end of a
//! version 2 chunk (too small for a message header) are skipped.

use std::collections::HashSet;

use bytes::Bytes;

use super::checksum;
use super::messages::continuation;
use super::raw::{msg, ohdr_flags, OCHK_SIGNATURE, OHDR_SIGNATURE};
use super::util::{abs_addr, read_exact, read_upto, to_usize};
use super::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;
use crate::io::ReadAt;

/// Most continuation blocks followed for one object.
pub(crate) const MAX_BLOCKS: usize = 4096;
/// Most messages kept for one object.
pub(crate) const MAX_MESSAGES: usize = 65_536;

/// One header message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// Message type number.
    pub mtype: u16,
    /// Message flags.
    pub flags: u8,
    /// Message body.
    pub data: Bytes,
    /// Absolute file offset of the body.
    pub offset: u64,
}

/// A decoded object header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectHeader {
    /// Absolute address of the header.
    pub addr: u64,
    /// Header version (1 or 2).
    pub version: u8,
    /// All messages except NIL and continuation messages, in file order.
    pub messages: Vec<Message>,
}

impl ObjectHeader {
    /// Messages of one type.
    pub(crate) fn of_type(&self, t: u16) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(move |m| m.mtype == t)
    }

    /// The first message of one type.
    pub(crate) fn first(&self, t: u16) -> Option<&Message> {
        self.of_type(t).next()
    }
}

/// Read the object header at relative address `addr`.
pub(crate) fn read(src: &dyn ReadAt, sizes: &Sizes, addr: u64) -> Result<ObjectHeader, Hdf5Error> {
    let abs = abs_addr(sizes, addr).ok_or_else(|| Hdf5Error::corrupt("object header", addr, "undefined address"))?;
    let head = read_upto(src, "object header", abs, 64)?;
    let mut out = ObjectHeader {
        addr: abs,
        version: 0,
        messages: Vec::new(),
    };
    let mut pending: Vec<(u64, u64)> = Vec::new();
    let mut visited: HashSet<u64> = HashSet::new();
    let mut total: u64;
    visited.insert(abs);
    if head.get(..4) == Some(&OHDR_SIGNATURE[..]) {
        out.version = 2;
        let mut c = Cursor::new(&head, abs, "v2 object header");
        c.skip(4)?;
        let version = c.u8()?;
        if version != 2 {
            return Err(Hdf5Error::corrupt(
                "v2 object header",
                abs,
                format!("version {version}"),
            ));
        }
        let flags = c.u8()?;
        if flags & ohdr_flags::TIMES_STORED != 0 {
            c.skip(16)?;
        }
        if flags & ohdr_flags::ATTR_PHASE_CHANGE_STORED != 0 {
            c.skip(4)?;
        }
        let size0 = c.uint(1usize << (flags & ohdr_flags::CHUNK0_SIZE_MASK))?;
        let prefix = c.pos() as u64;
        let block_len = prefix
            .checked_add(size0)
            .and_then(|v| v.checked_add(4))
            .filter(|&v| v <= src.size())
            .ok_or_else(|| Hdf5Error::corrupt("v2 object header", abs, format!("chunk 0 size {size0}")))?;
        let block = read_exact(src, "v2 object header", abs, block_len)?;
        checksum::verify("v2 object header", abs, &block)?;
        total = block_len;
        let body = block.slice(to_usize(prefix, "header")?..block.len().saturating_sub(4));
        parse_v2_messages(&body, abs.saturating_add(prefix), flags, sizes, &mut out, &mut pending)?;
        let mut i = 0;
        while let Some(&(caddr, clen)) = pending.get(i) {
            i += 1;
            let cabs = continue_block(src, sizes, caddr, clen, &mut visited, &mut total, abs)?;
            let block = read_exact(src, "v2 object header continuation", cabs, clen)?;
            if block.get(..4) != Some(&OCHK_SIGNATURE[..]) {
                return Err(Hdf5Error::corrupt(
                    "v2 object header continuation",
                    cabs,
                    "bad OCHK signature",
                ));
            }
            checksum::verify("v2 object header continuation", cabs, &block)?;
            let body = block.slice(4..block.len().saturating_sub(4));
            parse_v2_messages(&body, cabs.saturating_add(4), flags, sizes, &mut out, &mut pending)?;
        }
    } else {
        out.version = 1;
        let mut c = Cursor::new(&head, abs, "v1 object header");
        let version = c.u8()?;
        if version != 1 {
            return Err(Hdf5Error::corrupt(
                "object header",
                abs,
                format!("unknown version {version}"),
            ));
        }
        c.skip(1)?;
        let _nmsgs = c.u16()?;
        let _refcount = c.u32()?;
        let size = u64::from(c.u32()?);
        let start = abs
            .checked_add(16)
            .ok_or_else(|| Hdf5Error::corrupt("v1 object header", abs, "address"))?;
        let block = read_exact(src, "v1 object header", start, size)?;
        total = size;
        parse_v1_messages(&block, start, sizes, &mut out, &mut pending)?;
        let mut i = 0;
        while let Some(&(caddr, clen)) = pending.get(i) {
            i += 1;
            let cabs = continue_block(src, sizes, caddr, clen, &mut visited, &mut total, abs)?;
            let block = read_exact(src, "v1 object header continuation", cabs, clen)?;
            parse_v1_messages(&block, cabs, sizes, &mut out, &mut pending)?;
        }
    }
    Ok(out)
}

/// Check a continuation target against the bounds; returns its absolute address.
fn continue_block(
    src: &dyn ReadAt,
    sizes: &Sizes,
    caddr: u64,
    clen: u64,
    visited: &mut HashSet<u64>,
    total: &mut u64,
    header: u64,
) -> Result<u64, Hdf5Error> {
    const W: &str = "object header continuation";
    let cabs = abs_addr(sizes, caddr).ok_or_else(|| Hdf5Error::corrupt(W, header, "undefined address"))?;
    if !visited.insert(cabs) {
        return Err(Hdf5Error::corrupt(W, cabs, "continuation cycle"));
    }
    if visited.len() > MAX_BLOCKS {
        return Err(Hdf5Error::Limit(format!(
            "more than {MAX_BLOCKS} header blocks at {header:#x}"
        )));
    }
    *total = total.saturating_add(clen);
    if *total > src.size() {
        return Err(Hdf5Error::corrupt(W, cabs, "header blocks larger than the file"));
    }
    Ok(cabs)
}

fn push(out: &mut ObjectHeader, pending: &mut Vec<(u64, u64)>, sizes: &Sizes, m: Message) -> Result<(), Hdf5Error> {
    match m.mtype {
        msg::NIL => {}
        msg::CONTINUATION => pending.push(continuation::parse(&m.data, m.offset, sizes)?),
        _ => {
            if out.messages.len() >= MAX_MESSAGES {
                return Err(Hdf5Error::Limit(format!(
                    "more than {MAX_MESSAGES} messages in header {:#x}",
                    out.addr
                )));
            }
            out.messages.push(m);
        }
    }
    Ok(())
}

fn parse_v1_messages(
    block: &Bytes,
    base: u64,
    sizes: &Sizes,
    out: &mut ObjectHeader,
    pending: &mut Vec<(u64, u64)>,
) -> Result<(), Hdf5Error> {
    let mut c = Cursor::new(block, base, "v1 object header message");
    while c.remaining() >= 8 {
        let mtype = c.u16()?;
        let size = usize::from(c.u16()?);
        let flags = c.u8()?;
        c.skip(3)?;
        let start = c.pos();
        let offset = c.offset();
        c.skip(size)?;
        let data = block.slice(start..start + size);
        push(
            out,
            pending,
            sizes,
            Message {
                mtype,
                flags,
                data,
                offset,
            },
        )?;
        // Messages are aligned on 8-byte boundaries within the block.
        let aligned = c.pos().div_ceil(8) * 8;
        if aligned > block.len() {
            break;
        }
        c.seek(aligned)?;
    }
    Ok(())
}

fn parse_v2_messages(
    body: &Bytes,
    base: u64,
    hdr_flags: u8,
    sizes: &Sizes,
    out: &mut ObjectHeader,
    pending: &mut Vec<(u64, u64)>,
) -> Result<(), Hdf5Error> {
    let hsize = if hdr_flags & ohdr_flags::ATTR_CREATION_ORDER_TRACKED != 0 {
        6
    } else {
        4
    };
    let mut c = Cursor::new(body, base, "v2 object header message");
    while c.remaining() >= hsize {
        let mtype = u16::from(c.u8()?);
        let size = usize::from(c.u16()?);
        let flags = c.u8()?;
        if hsize == 6 {
            c.skip(2)?;
        }
        let start = c.pos();
        let offset = c.offset();
        c.skip(size)?;
        let data = body.slice(start..start + size);
        push(
            out,
            pending,
            sizes,
            Message {
                mtype,
                flags,
                data,
                offset,
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::hdf5::checksum::lookup3;

    pub(crate) const S: Sizes = Sizes {
        offset: 8,
        length: 8,
        base: 0,
    };

    /// A v2 object header at `at` holding `msgs` (type, body), optionally a continuation.
    pub(crate) fn v2_header(msgs: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (t, d) in msgs {
            body.push(*t);
            body.extend_from_slice(&u16::try_from(d.len()).unwrap().to_le_bytes());
            body.push(0);
            body.extend_from_slice(d);
        }
        let mut h = b"OHDR".to_vec();
        h.push(2);
        h.push(0x02); // chunk 0 size in 4 bytes
        h.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        h.extend_from_slice(&body);
        let sum = lookup3(&h);
        h.extend_from_slice(&sum.to_le_bytes());
        h
    }

    #[test]
    fn v2_header_with_continuation_and_cycle() {
        // Header at 0 with a NIL gap and a continuation to an OCHK block at 100.
        let mut cont = 100u64.to_le_bytes().to_vec();
        let mut ochk = b"OCHK".to_vec();
        ochk.extend_from_slice(&[1, 4, 0, 0, 2, 0, 0, 0]); // dataspace message (scalar)
        let sum = lookup3(&ochk);
        ochk.extend_from_slice(&sum.to_le_bytes());
        cont.extend_from_slice(&(ochk.len() as u64).to_le_bytes());
        let mut file = v2_header(&[(0x10, cont.clone()), (0, vec![0; 3])]);
        file.resize(100, 0);
        file.extend_from_slice(&ochk);
        let oh = read(&file, &S, 0).unwrap();
        assert_eq!(oh.messages.len(), 1);
        assert_eq!(oh.messages[0].mtype, 1);
        assert_eq!(oh.messages[0].offset, 108);

        // A continuation pointing back to itself is a cycle error, not a hang.
        let mut ochk = b"OCHK".to_vec();
        let mut self_cont = 100u64.to_le_bytes().to_vec();
        self_cont.extend_from_slice(&24u64.to_le_bytes());
        ochk.extend_from_slice(&[0x10, 16, 0, 0]);
        ochk.extend_from_slice(&self_cont);
        let sum = lookup3(&ochk);
        ochk.extend_from_slice(&sum.to_le_bytes());
        let mut cont = 100u64.to_le_bytes().to_vec();
        cont.extend_from_slice(&(ochk.len() as u64).to_le_bytes());
        let mut file = v2_header(&[(0x10, cont)]);
        file.resize(100, 0);
        file.extend_from_slice(&ochk);
        let e = read(&file, &S, 0).unwrap_err();
        assert!(e.to_string().contains("cycle"), "{e}");
    }

    #[test]
    fn v2_bad_checksum_and_v1() {
        let mut h = v2_header(&[(1, vec![2, 0, 0, 0])]);
        let n = h.len();
        h[n - 1] ^= 1;
        assert!(read(&h, &S, 0).is_err());

        let mut v1 = vec![1, 0, 1, 0, 1, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0];
        v1.extend_from_slice(&[1, 0, 8, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        let oh = read(&v1, &S, 0).unwrap();
        assert_eq!(oh.version, 1);
        assert_eq!(oh.messages[0].data.len(), 8);
        assert!(read(&v1[..20].to_vec(), &S, 0).is_err());
    }
}
