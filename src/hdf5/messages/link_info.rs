//! Link info message (type 0x0002), spec IV.A.2.c: where a group's dense links live.

use crate::hdf5::util::read_addr;
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;

/// Decoded link info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkInfo {
    /// Fractal heap of link messages (relative; `UNDEF` when links are compact).
    pub heap_addr: u64,
    /// Version 2 B-tree name index (type 5 records).
    pub name_btree_addr: u64,
}

/// Decode a link info message body.
pub(crate) fn parse(data: &[u8], offset: u64, sizes: &Sizes) -> Result<LinkInfo, Hdf5Error> {
    let mut c = Cursor::new(data, offset, "link info message");
    let version = c.u8()?;
    if version != 0 {
        return Err(Hdf5Error::corrupt(
            "link info message",
            offset,
            format!("version {version}"),
        ));
    }
    let flags = c.u8()?;
    if flags & 0x01 != 0 {
        let _max_creation_index = c.u64()?;
    }
    let heap_addr = read_addr(&mut c, sizes)?;
    let name_btree_addr = read_addr(&mut c, sizes)?;
    Ok(LinkInfo {
        heap_addr,
        name_btree_addr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_creation_order() {
        let s = Sizes {
            offset: 4,
            length: 4,
            base: 0,
        };
        let mut d = vec![0, 1];
        d.extend_from_slice(&7u64.to_le_bytes());
        d.extend_from_slice(&[0x10, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        let li = parse(&d, 0, &s).unwrap();
        assert_eq!(
            li,
            LinkInfo {
                heap_addr: 0x10,
                name_btree_addr: crate::hdf5::util::UNDEF
            }
        );
    }
}
