//! Local heaps (signature `HEAP`, spec III.D): the link names of old-style (symbol table)
//! groups, NUL-terminated, referenced by offset from symbol table entries and group B-tree keys.

use bytes::Bytes;

use crate::hdf5::util::{check_signature, check_sizes, read_rel};
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;
use crate::io::ReadAt;

const WHAT: &str = "local heap";

/// A local heap's data segment.
#[derive(Debug, Clone)]
pub(crate) struct LocalHeap {
    /// The data segment.
    data: Bytes,
    /// Absolute file offset of the data segment.
    data_offset: u64,
    /// Relative address of the heap header.
    addr: u64,
}

impl LocalHeap {
    /// Read the local heap whose header is at relative address `addr`.
    pub(crate) fn read(src: &dyn ReadAt, sizes: Sizes, addr: u64) -> Result<Self, Hdf5Error> {
        let header_len = 8 + 2 * u64::from(sizes.length) + u64::from(sizes.offset);
        let (abs, hdr) = read_rel(src, sizes, addr, header_len, WHAT)?;
        check_sizes(sizes, WHAT, abs)?;
        let mut c = Cursor::new(&hdr, abs, WHAT);
        check_signature(c.bytes(4)?, b"HEAP", WHAT, abs)?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Hdf5Error::corrupt(WHAT, abs, format!("unknown version {version}")));
        }
        c.skip(3)?;
        let data_size = c.uint(sizes.length.into())?;
        let _free_list = c.uint(sizes.length.into())?;
        let data_addr = c.uint(sizes.offset.into())?;
        let (data_offset, data) = read_rel(src, sizes, data_addr, data_size, "local heap data segment")?;
        Ok(Self {
            data,
            data_offset,
            addr,
        })
    }

    /// The whole data segment.
    pub(crate) fn data(&self) -> &Bytes {
        &self.data
    }

    /// The NUL-terminated string at `offset` in the data segment (without the NUL).
    pub(crate) fn get_str(&self, offset: u64) -> Result<&[u8], Hdf5Error> {
        let bad = |reason: String| Hdf5Error::corrupt(WHAT, self.data_offset.saturating_add(offset), reason);
        let start = usize::try_from(offset)
            .ok()
            .filter(|&o| o < self.data.len())
            .ok_or_else(|| {
                bad(format!(
                    "offset {offset} outside the {}-byte data segment (heap at {:#x})",
                    self.data.len(),
                    self.addr
                ))
            })?;
        let rest = &self.data[start..];
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| bad("string is not NUL-terminated within the data segment".into()))?;
        Ok(&rest[..end])
    }

    /// [`Self::get_str`] decoded as UTF-8 (lossily: HDF5 names are ASCII or UTF-8).
    pub(crate) fn get_string(&self, offset: u64) -> Result<String, Hdf5Error> {
        Ok(String::from_utf8_lossy(self.get_str(offset)?).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf5::S8;

    fn heap_file(data: &[u8], base_pad: usize) -> Vec<u8> {
        let mut f = vec![0xAAu8; base_pad];
        f.extend_from_slice(b"HEAP\0\0\0\0");
        f.extend_from_slice(&(data.len() as u64).to_le_bytes());
        f.extend_from_slice(&u64::MAX.to_le_bytes());
        f.extend_from_slice(&32u64.to_le_bytes()); // data right after the header
        f.extend_from_slice(data);
        f
    }

    #[test]
    fn reads_names() {
        let f = heap_file(b"\0\0\0\0\0\0\0\0alpha\0beta\0\0\0", 0);
        let h = LocalHeap::read(&f, S8, 0).unwrap();
        assert_eq!(h.get_str(0).unwrap(), b"");
        assert_eq!(h.get_str(8).unwrap(), b"alpha");
        assert_eq!(h.get_string(14).unwrap(), "beta");
        assert!(h.get_str(100).is_err());
    }

    #[test]
    fn honours_base_address() {
        let f = heap_file(b"x\0", 512);
        let h = LocalHeap::read(&f, Sizes { base: 512, ..S8 }, 0).unwrap();
        assert_eq!(h.get_str(0).unwrap(), b"x");
    }

    #[test]
    fn rejects_corruption() {
        let f = heap_file(b"abc", 0);
        let h = LocalHeap::read(&f, S8, 0).unwrap();
        assert!(h.get_str(0).is_err(), "unterminated");
        let mut g = heap_file(b"abc\0", 0);
        g[0] = b'X';
        assert!(LocalHeap::read(&g, S8, 0).is_err());
        let mut g = heap_file(b"abc\0", 0);
        g[8..16].copy_from_slice(&u64::MAX.to_le_bytes()); // absurd size
        assert!(LocalHeap::read(&g, S8, 0).is_err());
        assert!(LocalHeap::read(&g[..20].to_vec(), S8, 0).is_err());
    }
}
