//! Shared object header messages (spec III.C "Shared Object Header Message Table" and
//! IV.A.2 "Shared Messages"): messages stored once in a fractal heap and referenced from
//! object headers by heap ID. The master table (`SMTB`) lists, per index, the message types
//! it holds and the address of its fractal heap; only the heaps are needed to resolve a
//! heap ID (the indexes themselves serve writers looking for duplicates).

use std::cell::OnceCell;

use bytes::Bytes;

use super::checksum;
use super::heap::fractal::FractalHeap;
use super::raw::msg;
use super::util::{check_signature, check_sizes, read_addr, read_rel};
use super::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;
use crate::io::ReadAt;

const W: &str = "shared message table";

/// The indexes of a file's shared message table: message type flags and fractal heap address.
#[derive(Debug)]
pub(crate) struct SohmTable {
    indexes: Vec<Index>,
}

/// One index: the message types it holds and its fractal heap, opened on first successful
/// use (every shared message of a type goes through the same heap).
#[derive(Debug)]
struct Index {
    flags: u16,
    heap_addr: u64,
    heap: OnceCell<FractalHeap>,
}

/// The table's flag bit for a message type.
fn type_flag(mtype: u16) -> Option<u16> {
    Some(match mtype {
        msg::DATASPACE => 0x01,
        msg::DATATYPE => 0x02,
        msg::FILL_VALUE => 0x04,
        msg::FILTER_PIPELINE => 0x08,
        msg::ATTRIBUTE => 0x10,
        _ => return None,
    })
}

impl SohmTable {
    /// Read the master table at relative `addr` with `n` indexes (from the superblock
    /// extension's message).
    pub(crate) fn read(src: &dyn ReadAt, sizes: Sizes, addr: u64, n: u8) -> Result<Self, Hdf5Error> {
        let o = u64::from(sizes.offset);
        let per_index = 1 + 1 + 2 + 4 + 2 + 2 + 2 + o + o;
        let len = 4 + u64::from(n) * per_index + 4;
        let (abs, data) = read_rel(src, sizes, addr, len, W)?;
        check_sizes(sizes, W, abs)?;
        checksum::verify(W, abs, &data)?;
        let mut c = Cursor::new(&data, abs, W);
        check_signature(c.bytes(4)?, b"SMTB", W, abs)?;
        let mut indexes = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let version = c.u8()?;
            if version != 0 {
                return Err(Hdf5Error::corrupt(W, abs, format!("index version {version}")));
            }
            let _index_type = c.u8()?;
            let flags = c.u16()?;
            c.skip(4 + 2 + 2 + 2)?;
            let _index_addr = read_addr(&mut c, &sizes)?;
            let heap = read_addr(&mut c, &sizes)?;
            indexes.push(Index {
                flags,
                heap_addr: heap,
                heap: OnceCell::new(),
            });
        }
        Ok(Self { indexes })
    }

    /// The body of the shared message of type `mtype` with fractal heap ID `heap_id`.
    pub(crate) fn get(&self, src: &dyn ReadAt, sizes: Sizes, mtype: u16, heap_id: &[u8]) -> Result<Bytes, Hdf5Error> {
        let flag = type_flag(mtype)
            .ok_or_else(|| Hdf5Error::corrupt(W, 0, format!("message type {mtype} cannot be shared")))?;
        let index = self
            .indexes
            .iter()
            .find(|i| i.flags & flag != 0)
            .ok_or_else(|| Hdf5Error::corrupt(W, 0, format!("no index holds message type {mtype}")))?;
        let heap = match index.heap.get() {
            Some(heap) => heap,
            None => {
                let opened = FractalHeap::open(src, sizes, index.heap_addr)?;
                index.heap.get_or_init(|| opened)
            }
        };
        heap.get(src, heap_id)
    }
}
