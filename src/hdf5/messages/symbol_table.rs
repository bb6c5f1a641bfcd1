//! Symbol table message (type 0x0011), spec IV.A.2.r: an old-style group's B-tree and heap.

use crate::hdf5::util::read_addr;
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;

/// Decoded symbol table message (relative addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SymbolTableMsg {
    /// Version 1 B-tree (type 0) of symbol table nodes.
    pub btree_addr: u64,
    /// Local heap of link names.
    pub heap_addr: u64,
}

/// Decode a symbol table message body.
pub(crate) fn parse(data: &[u8], offset: u64, sizes: &Sizes) -> Result<SymbolTableMsg, Hdf5Error> {
    let mut c = Cursor::new(data, offset, "symbol table message");
    Ok(SymbolTableMsg {
        btree_addr: read_addr(&mut c, sizes)?,
        heap_addr: read_addr(&mut c, sizes)?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_addresses() {
        let s = crate::hdf5::Sizes {
            offset: 2,
            length: 2,
            base: 0,
        };
        let m = super::parse(&[1, 0, 2, 0], 0, &s).unwrap();
        assert_eq!((m.btree_addr, m.heap_addr), (1, 2));
        assert!(super::parse(&[1, 0, 2], 0, &s).is_err());
    }
}
