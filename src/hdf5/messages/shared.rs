//! Shared message encoding (spec IV.A.2, "Shared Messages"): the body of a message whose
//! "shared" flag is set, pointing at a committed object header or the shared message heap.

use crate::hdf5::raw::shared;
use crate::hdf5::util::read_addr;
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;

/// Where a shared message lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SharedRef {
    /// In another object header (a committed datatype), relative address.
    Committed(u64),
    /// In the shared object header message heap: the fractal heap ID of the message.
    Sohm(Vec<u8>),
}

/// Decode a shared message body.
pub(crate) fn parse(data: &[u8], offset: u64, sizes: &Sizes) -> Result<SharedRef, Hdf5Error> {
    let mut c = Cursor::new(data, offset, "shared message");
    let version = c.u8()?;
    let t = c.u8()?;
    match version {
        // Version 1 (libhdf5 1.4–1.6) stores a symbol table entry after the reserved
        // bytes: a length-sized link name offset (unused here), then the object header
        // address (and the entry's cache fields, ignored).
        1 => {
            c.skip(6)?;
            c.skip(usize::from(sizes.length))?;
            Ok(SharedRef::Committed(read_addr(&mut c, sizes)?))
        }
        2 => Ok(SharedRef::Committed(read_addr(&mut c, sizes)?)),
        3 if t == shared::SOHM => Ok(SharedRef::Sohm(c.bytes(8)?.to_vec())),
        3 if t == shared::COMMITTED => Ok(SharedRef::Committed(read_addr(&mut c, sizes)?)),
        _ => Err(Hdf5Error::corrupt(
            "shared message",
            offset,
            format!("version {version} type {t}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let s = Sizes {
            offset: 2,
            length: 2,
            base: 0,
        };
        assert_eq!(parse(&[2, 2, 8, 0], 0, &s).unwrap(), SharedRef::Committed(8));
        assert_eq!(
            parse(&[3, 1, 1, 2, 3, 4, 5, 6, 7, 8], 0, &s).unwrap(),
            SharedRef::Sohm(vec![1, 2, 3, 4, 5, 6, 7, 8])
        );
        assert!(parse(&[3, 1, 1, 2], 0, &s).is_err(), "truncated heap ID");
        assert_eq!(
            parse(&[1, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 9, 0], 0, &s).unwrap(),
            SharedRef::Committed(9)
        );
        assert!(parse(&[3, 7], 0, &s).is_err());
    }
}
