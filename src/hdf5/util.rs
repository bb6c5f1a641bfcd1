//! Small helpers shared by the HDF5 structure readers: addresses, lengths, source reads.
//!
//! Every address read from the file comes through [`read_addr`] (the all-ones "undefined
//! address" becomes [`UNDEF`]) and is made absolute with [`abs_addr`] (checked addition of
//! the base address), following STYLE §4.

use bytes::Bytes;

use super::{Hdf5Error, Sizes};
use crate::io::cursor::{Cursor, Truncated};
use crate::io::ReadAt;

/// The undefined address, normalised to `u64::MAX` whatever the size of offsets.
pub(crate) const UNDEF: u64 = u64::MAX;

/// Read an address of `sizes.offset` bytes; all ones → [`UNDEF`].
pub(crate) fn read_addr(c: &mut Cursor<'_>, sizes: &Sizes) -> Result<u64, Truncated> {
    let n = usize::from(sizes.offset);
    let v = c.uint(n)?;
    let all_ones = if n >= 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 };
    Ok(if v == all_ones { UNDEF } else { v })
}

/// Read a length of `sizes.length` bytes.
pub(crate) fn read_len(c: &mut Cursor<'_>, sizes: &Sizes) -> Result<u64, Truncated> {
    c.uint(usize::from(sizes.length))
}

/// Absolute file offset of a relative address (`None` for [`UNDEF`] or overflow).
pub(crate) fn abs_addr(sizes: &Sizes, addr: u64) -> Option<u64> {
    if addr == UNDEF {
        None
    } else {
        sizes.base.checked_add(addr)
    }
}

/// Read `len` bytes at absolute `offset`, naming the structure on failure.
pub(crate) fn read_exact(src: &dyn ReadAt, what: &'static str, offset: u64, len: u64) -> Result<Bytes, Hdf5Error> {
    src.read_at(offset, len)
        .map_err(|source| Hdf5Error::Read { what, source })
}

/// Read up to `len` bytes at `offset`, fewer if the file ends first.
pub(crate) fn read_upto(src: &dyn ReadAt, what: &'static str, offset: u64, len: u64) -> Result<Bytes, Hdf5Error> {
    let avail = src.size().saturating_sub(offset);
    read_exact(src, what, offset, len.min(avail))
}

/// `usize` from a file-provided `u64`, or a limit error.
pub(crate) fn to_usize(v: u64, what: &str) -> Result<usize, Hdf5Error> {
    usize::try_from(v).map_err(|_| Hdf5Error::Limit(format!("{what} of {v} bytes")))
}

/// A NUL-terminated (or unterminated) byte string as text (lossy UTF-8).
pub(crate) fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    String::from_utf8_lossy(b.get(..end).unwrap_or_default()).into_owned()
}
