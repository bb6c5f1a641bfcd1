//! Attribute info message (type 0x0015), spec IV.A.2.v: where dense attributes live.

use crate::hdf5::util::read_addr;
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;

/// Decoded attribute info (relative addresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttributeInfo {
    /// Fractal heap of attribute messages (`UNDEF` when attributes are compact).
    pub heap_addr: u64,
    /// Version 2 B-tree name index (type 8 records).
    pub name_btree_addr: u64,
}

/// Decode an attribute info message body.
pub(crate) fn parse(data: &[u8], offset: u64, sizes: &Sizes) -> Result<AttributeInfo, Hdf5Error> {
    let mut c = Cursor::new(data, offset, "attribute info message");
    let version = c.u8()?;
    if version != 0 {
        return Err(Hdf5Error::corrupt(
            "attribute info message",
            offset,
            format!("version {version}"),
        ));
    }
    let flags = c.u8()?;
    if flags & 0x01 != 0 {
        let _max_creation_index = c.u16()?;
    }
    let heap_addr = read_addr(&mut c, sizes)?;
    let name_btree_addr = read_addr(&mut c, sizes)?;
    Ok(AttributeInfo {
        heap_addr,
        name_btree_addr,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic() {
        let s = crate::hdf5::Sizes {
            offset: 2,
            length: 2,
            base: 0,
        };
        let a = super::parse(&[0, 1, 9, 0, 4, 0, 5, 0], 0, &s).unwrap();
        assert_eq!((a.heap_addr, a.name_btree_addr), (4, 5));
    }
}
