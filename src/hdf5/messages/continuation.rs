//! Object header continuation message (type 0x0010), spec IV.A.2.q.

use crate::hdf5::util::{read_addr, read_len};
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;

/// Decode a continuation message: (relative address, length) of the next header block.
pub(crate) fn parse(data: &[u8], offset: u64, sizes: &Sizes) -> Result<(u64, u64), Hdf5Error> {
    let mut c = Cursor::new(data, offset, "continuation message");
    Ok((read_addr(&mut c, sizes)?, read_len(&mut c, sizes)?))
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
        assert_eq!(super::parse(&[1, 0, 2, 0], 0, &s).unwrap(), (1, 2));
    }
}
