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

/// The all-ones value of an `n`-byte field.
fn all_ones(n: u8) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * u32::from(n))) - 1
    }
}

/// Read an address of `sizes.offset` bytes; all ones → [`UNDEF`].
pub(crate) fn read_addr(c: &mut Cursor<'_>, sizes: &Sizes) -> Result<u64, Truncated> {
    let v = c.uint(usize::from(sizes.offset))?;
    Ok(if v == all_ones(sizes.offset) { UNDEF } else { v })
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

/// Whether `addr` is the undefined address (all bytes 0xFF at the width of offsets).
/// Accepts both the raw all-ones value and the normalised [`UNDEF`] from [`read_addr`].
pub(crate) fn is_undefined(sizes: Sizes, addr: u64) -> bool {
    addr == UNDEF || addr == all_ones(sizes.offset)
}

/// Absolute file offset of the relative address `addr` (`base + addr`, checked). The
/// undefined address is an error here: callers that allow it test [`is_undefined`] first.
pub(crate) fn absolute(sizes: Sizes, addr: u64, what: &'static str) -> Result<u64, Hdf5Error> {
    if is_undefined(sizes, addr) {
        return Err(Hdf5Error::corrupt(what, addr, "undefined address"));
    }
    sizes
        .base
        .checked_add(addr)
        .ok_or_else(|| Hdf5Error::corrupt(what, addr, "address overflows with the base address"))
}

/// Read `len` bytes at relative address `addr`; returns the absolute offset and the bytes.
/// Lengths beyond the file size fail before any allocation.
pub(crate) fn read_rel(
    src: &dyn ReadAt,
    sizes: Sizes,
    addr: u64,
    len: u64,
    what: &'static str,
) -> Result<(u64, Bytes), Hdf5Error> {
    let abs = absolute(sizes, addr, what)?;
    if len > src.size() {
        return Err(Hdf5Error::corrupt(
            what,
            abs,
            format!("length {len} exceeds the file size"),
        ));
    }
    let data = src
        .read_at(abs, len)
        .map_err(|source| Hdf5Error::Read { what, source })?;
    Ok((abs, data))
}

/// Check a 4-byte signature.
pub(crate) fn check_signature(
    sig: &[u8],
    expected: &[u8; 4],
    what: &'static str,
    offset: u64,
) -> Result<(), Hdf5Error> {
    if sig == expected {
        Ok(())
    } else {
        Err(Hdf5Error::corrupt(
            what,
            offset,
            format!(
                "bad signature {:?}, expected {:?}",
                String::from_utf8_lossy(sig),
                String::from_utf8_lossy(expected)
            ),
        ))
    }
}

/// Validate the widths from the superblock (1..=8 bytes).
pub(crate) fn check_sizes(sizes: Sizes, what: &'static str, offset: u64) -> Result<(), Hdf5Error> {
    if (1..=8).contains(&sizes.offset) && (1..=8).contains(&sizes.length) {
        Ok(())
    } else {
        Err(Hdf5Error::corrupt(
            what,
            offset,
            format!("unsupported size of offsets/lengths {}/{}", sizes.offset, sizes.length),
        ))
    }
}
