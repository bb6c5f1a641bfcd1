//! Fractal heaps (spec III.G): header `FRHP`, indirect blocks `FHIB`, direct blocks `FHDB`.
//! They hold the link messages of dense groups and the attribute messages of dense attribute
//! storage, addressed by heap IDs stored in v2 B-tree records.
//!
//! Supported: managed objects (the doubling table walked through indirect blocks nested to
//! any depth, with a depth limit), tiny objects (normal and extended length encodings) and
//! huge objects without I/O filters (directly addressed IDs, or IDs looked up in the huge
//! object v2 B-tree of record type 1). Heaps with I/O filters are refused for managed and
//! huge objects.

use bytes::Bytes;

use crate::hdf5::btree::v2::{walk_records, HugeObjectRecord};
use crate::hdf5::checksum;
use crate::hdf5::util::{check_signature, check_sizes, is_undefined, read_rel};
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;
use crate::io::ReadAt;

const HDR: &str = "fractal heap header";
const IBLOCK: &str = "fractal heap indirect block";
const DBLOCK: &str = "fractal heap direct block";
const ID: &str = "fractal heap ID";

/// Deepest nesting of indirect blocks followed.
const MAX_IBLOCK_DEPTH: usize = 64;

/// Header flag: direct blocks carry a checksum.
const FLAG_DBLOCK_CHECKSUM: u8 = 0x02;

/// An open fractal heap: its header and the derived doubling-table geometry.
#[derive(Debug, Clone)]
pub(crate) struct FractalHeap {
    sizes: Sizes,
    /// Relative address of the header (blocks point back to it).
    addr: u64,
    /// Absolute offset of the header.
    abs: u64,
    id_len: u16,
    filter_len: u16,
    flags: u8,
    huge_btree_addr: u64,
    width: u64,
    start_block: u64,
    max_direct: u64,
    root_addr: u64,
    root_rows: u32,
    /// Bytes of a heap offset (in IDs and block headers).
    off_size: u8,
    /// Bytes of a managed object length in IDs.
    len_size: u8,
    /// log2(start block size × width).
    first_row_bits: u32,
    /// Rows of an indirect block that hold direct blocks.
    max_direct_rows: u32,
    /// Most rows an indirect block can have.
    max_rows: u32,
}

fn log2_exact(v: u64) -> Option<u32> {
    v.is_power_of_two().then(|| v.trailing_zeros())
}

impl FractalHeap {
    /// Read and validate the heap header at relative address `addr`.
    pub(crate) fn open(src: &dyn ReadAt, sizes: Sizes, addr: u64) -> Result<Self, Hdf5Error> {
        let (o, l) = (u64::from(sizes.offset), u64::from(sizes.length));
        // Everything up to and including "Current # of Rows in Root Indirect Block".
        let fixed = 4 + 1 + 2 + 2 + 1 + 4 + l + o + l + o + 8 * l + 2 + l + l + 2 + 2 + o + 2;
        let (abs, head) = read_rel(src, sizes, addr, fixed, HDR)?;
        check_sizes(sizes, HDR, abs)?;
        let mut c = Cursor::new(&head, abs, HDR);
        check_signature(c.bytes(4)?, b"FRHP", HDR, abs)?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Hdf5Error::corrupt(HDR, abs, format!("unknown version {version}")));
        }
        let id_len = c.u16()?;
        let filter_len = c.u16()?;
        let flags = c.u8()?;
        let max_man_size = c.u32()?;
        let _next_huge_id = c.uint(l as usize)?;
        let huge_btree_addr = c.uint(o as usize)?;
        let _free_space = c.uint(l as usize)?;
        let _free_space_manager = c.uint(o as usize)?;
        for _ in 0..8 {
            // Managed space, allocated space, iterator offset, managed/huge/tiny counts & sizes.
            c.uint(l as usize)?;
        }
        let width = u64::from(c.u16()?);
        let start_block = c.uint(l as usize)?;
        let max_direct = c.uint(l as usize)?;
        let max_heap_bits = u32::from(c.u16()?);
        let _start_root_rows = c.u16()?;
        let root_addr = c.uint(o as usize)?;
        let root_rows = u32::from(c.u16()?);

        // Checksum over the whole header, which has optional filter fields.
        let total = if filter_len > 0 {
            fixed + l + 4 + u64::from(filter_len) + 4
        } else {
            fixed + 4
        };
        let (_, whole) = read_rel(src, sizes, addr, total, HDR)?;
        checksum::verify(HDR, abs, &whole)?;

        let bad = |r: String| Hdf5Error::corrupt(HDR, abs, r);
        let width_bits = log2_exact(width).ok_or_else(|| bad(format!("table width {width} is not a power of two")))?;
        let start_bits = log2_exact(start_block)
            .ok_or_else(|| bad(format!("starting block size {start_block} is not a power of two")))?;
        let direct_bits = log2_exact(max_direct)
            .filter(|&b| b >= start_bits)
            .ok_or_else(|| bad(format!("maximum direct block size {max_direct} is invalid")))?;
        let first_row_bits = start_bits + width_bits;
        if !(1..=64).contains(&max_heap_bits) || max_heap_bits < first_row_bits {
            return Err(bad(format!("maximum heap size {max_heap_bits} bits is invalid")));
        }
        let max_rows = max_heap_bits - first_row_bits + 1;
        let max_direct_rows = direct_bits - start_bits + 2;
        if root_rows > max_rows {
            return Err(bad(format!(
                "root indirect block has {root_rows} rows, at most {max_rows} possible"
            )));
        }
        let off_size = max_heap_bits.div_ceil(8) as u8;
        let dir_off_size = direct_bits.div_ceil(8) as u8;
        let man_len_size = (32 - max_man_size.leading_zeros()).saturating_sub(1) / 8 + 1;
        let len_size = dir_off_size.min(man_len_size as u8);
        if id_len == 0 {
            return Err(bad("heap ID length 0".into()));
        }
        Ok(Self {
            sizes,
            addr,
            abs,
            id_len,
            filter_len,
            flags,
            huge_btree_addr,
            width,
            start_block,
            max_direct,
            root_addr,
            root_rows,
            off_size,
            len_size,
            first_row_bits,
            max_direct_rows,
            max_rows,
        })
    }

    /// Length of this heap's IDs in bytes.
    pub(crate) fn id_len(&self) -> usize {
        usize::from(self.id_len)
    }

    /// Size of the blocks of doubling-table row `row`.
    fn row_block_size(&self, row: u32) -> Option<u64> {
        if row == 0 {
            Some(self.start_block)
        } else {
            let s = self.start_block.checked_shl(row - 1)?;
            (s >> (row - 1) == self.start_block).then_some(s)
        }
    }

    /// The object with heap ID `heap_id`.
    pub(crate) fn get(&self, src: &dyn ReadAt, heap_id: &[u8]) -> Result<Bytes, Hdf5Error> {
        let bad = |r: String| Hdf5Error::corrupt(ID, self.abs, r);
        let Some(&first) = heap_id.first() else {
            return Err(bad("empty heap ID".into()));
        };
        if first >> 6 != 0 {
            return Err(bad(format!("unknown heap ID version {}", first >> 6)));
        }
        match (first >> 4) & 0x03 {
            0 => {
                let mut c = Cursor::new(heap_id, 0, ID);
                c.skip(1)?;
                let off = c.uint(self.off_size.into())?;
                let len = c.uint(self.len_size.into())?;
                self.managed(src, off, len)
            }
            1 => self.huge(src, &heap_id[1..]),
            2 => {
                let extended = self.id_len > 17;
                let (len, start) = if extended {
                    let b = *heap_id.get(1).ok_or_else(|| bad("truncated tiny object ID".into()))?;
                    ((usize::from(first & 0x0F) << 8 | usize::from(b)) + 1, 2)
                } else {
                    (usize::from(first & 0x0F) + 1, 1)
                };
                heap_id
                    .get(start..start + len)
                    .map(Bytes::copy_from_slice)
                    .ok_or_else(|| bad(format!("tiny object of {len} bytes longer than its ID")))
            }
            t => Err(bad(format!("unknown heap ID type {t}"))),
        }
    }

    fn huge(&self, src: &dyn ReadAt, id: &[u8]) -> Result<Bytes, Hdf5Error> {
        if self.filter_len > 0 {
            return Err(Hdf5Error::unsupported("fractal heap huge object with I/O filters"));
        }
        let (o, l) = (usize::from(self.sizes.offset), usize::from(self.sizes.length));
        let mut c = Cursor::new(id, 0, ID);
        let (addr, len) = if o + l < usize::from(self.id_len) {
            // Directly accessed: address and length are in the ID.
            (c.uint(o)?, c.uint(l)?)
        } else {
            let key_len = (usize::from(self.id_len) - 1).min(8);
            let key = c.uint(key_len)?;
            if is_undefined(self.sizes, self.huge_btree_addr) {
                return Err(Hdf5Error::corrupt(
                    HDR,
                    self.abs,
                    "huge object ID but no huge object B-tree",
                ));
            }
            let mut found = None;
            walk_records(src, self.sizes, self.huge_btree_addr, &mut |r| {
                let rec = HugeObjectRecord::parse(r, self.sizes)?;
                if rec.id == key && found.is_none() {
                    found = Some((rec.addr, rec.len));
                }
                Ok(())
            })?;
            found.ok_or_else(|| Hdf5Error::corrupt(ID, self.abs, format!("huge object {key} not in the B-tree")))?
        };
        Ok(read_rel(src, self.sizes, addr, len, "fractal heap huge object")?.1)
    }

    fn managed(&self, src: &dyn ReadAt, off: u64, len: u64) -> Result<Bytes, Hdf5Error> {
        if self.filter_len > 0 {
            return Err(Hdf5Error::unsupported("fractal heap with I/O filters"));
        }
        if len == 0 {
            return Err(Hdf5Error::corrupt(ID, self.abs, "managed object of length 0"));
        }
        if is_undefined(self.sizes, self.root_addr) {
            return Err(Hdf5Error::corrupt(
                HDR,
                self.abs,
                "managed object ID but the heap has no root block",
            ));
        }
        if self.root_rows == 0 {
            return self.direct(src, self.root_addr, 0, self.start_block, off, len);
        }
        let (mut addr, mut rows, mut block_off) = (self.root_addr, self.root_rows, 0u64);
        for _ in 0..MAX_IBLOCK_DEPTH {
            let o = u64::from(self.sizes.offset);
            let direct_rows = rows.min(self.max_direct_rows);
            let indirect_rows = rows - direct_rows;
            let n_direct = u64::from(direct_rows) * self.width;
            let n_indirect = u64::from(indirect_rows) * self.width;
            let size = 4 + 1 + o + u64::from(self.off_size) + (n_direct + n_indirect) * o + 4;
            let (abs, buf) = read_rel(src, self.sizes, addr, size, IBLOCK)?;
            let mut c = Cursor::new(&buf, abs, IBLOCK);
            check_signature(c.bytes(4)?, b"FHIB", IBLOCK, abs)?;
            let version = c.u8()?;
            if version != 0 {
                return Err(Hdf5Error::corrupt(IBLOCK, abs, format!("unknown version {version}")));
            }
            let heap = c.uint(o as usize)?;
            if heap != self.addr {
                return Err(Hdf5Error::corrupt(
                    IBLOCK,
                    abs,
                    format!("belongs to heap {heap:#x}, not {:#x}", self.addr),
                ));
            }
            let stored_off = c.uint(self.off_size.into())?;
            if stored_off != block_off {
                return Err(Hdf5Error::corrupt(
                    IBLOCK,
                    abs,
                    format!("block offset {stored_off}, expected {block_off}"),
                ));
            }
            checksum::verify(IBLOCK, abs, &buf)?;
            let entries_start = c.pos();

            // Find the row and column holding `off`.
            let rel = off - block_off;
            let mut acc = 0u64;
            let mut hit = None;
            for row in 0..rows {
                let rsz = self
                    .row_block_size(row)
                    .ok_or_else(|| Hdf5Error::corrupt(IBLOCK, abs, "row size overflow"))?;
                let span = rsz
                    .checked_mul(self.width)
                    .ok_or_else(|| Hdf5Error::corrupt(IBLOCK, abs, "row size overflow"))?;
                if rel - acc < span {
                    hit = Some((row, (rel - acc) / rsz, rsz));
                    break;
                }
                acc = acc
                    .checked_add(span)
                    .ok_or_else(|| Hdf5Error::corrupt(IBLOCK, abs, "row size overflow"))?;
                if acc > rel {
                    break;
                }
            }
            let Some((row, col, rsz)) = hit else {
                return Err(Hdf5Error::corrupt(
                    IBLOCK,
                    abs,
                    format!("heap offset {off} lies outside the block"),
                ));
            };
            let child_off = block_off + acc + col * rsz;
            let entry = if row < self.max_direct_rows {
                u64::from(row) * self.width + col
            } else {
                n_direct + u64::from(row - self.max_direct_rows) * self.width + col
            };
            c.seek(entries_start + (entry * o) as usize)?;
            let child = c.uint(o as usize)?;
            if is_undefined(self.sizes, child) {
                return Err(Hdf5Error::corrupt(
                    IBLOCK,
                    abs,
                    format!("heap offset {off} lies in an unallocated block"),
                ));
            }
            if row < self.max_direct_rows {
                return self.direct(src, child, child_off, rsz, off, len);
            }
            // A child indirect block spanning `rsz` bytes has log2(rsz) - first_row_bits + 1 rows.
            let child_rows = (rsz.trailing_zeros() + 1)
                .checked_sub(self.first_row_bits)
                .filter(|&r| r >= 1 && r < rows && r <= self.max_rows)
                .ok_or_else(|| Hdf5Error::corrupt(IBLOCK, abs, "child indirect block has no rows"))?;
            (addr, rows, block_off) = (child, child_rows, child_off);
        }
        Err(Hdf5Error::Limit(format!(
            "fractal heap at {:#x}: indirect blocks nested too deep",
            self.abs
        )))
    }

    /// Read the object at heap offset `off` from the direct block at `addr` that starts at
    /// heap offset `block_off` and is `block_size` bytes long.
    fn direct(
        &self,
        src: &dyn ReadAt,
        addr: u64,
        block_off: u64,
        block_size: u64,
        off: u64,
        len: u64,
    ) -> Result<Bytes, Hdf5Error> {
        if block_size > self.max_direct.max(self.start_block) {
            return Err(Hdf5Error::corrupt(
                DBLOCK,
                addr,
                "block larger than the maximum direct block size",
            ));
        }
        let (abs, buf) = read_rel(src, self.sizes, addr, block_size, DBLOCK)?;
        let mut c = Cursor::new(&buf, abs, DBLOCK);
        check_signature(c.bytes(4)?, b"FHDB", DBLOCK, abs)?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Hdf5Error::corrupt(DBLOCK, abs, format!("unknown version {version}")));
        }
        let heap = c.uint(self.sizes.offset.into())?;
        if heap != self.addr {
            return Err(Hdf5Error::corrupt(
                DBLOCK,
                abs,
                format!("belongs to heap {heap:#x}, not {:#x}", self.addr),
            ));
        }
        let stored_off = c.uint(self.off_size.into())?;
        if stored_off != block_off {
            return Err(Hdf5Error::corrupt(
                DBLOCK,
                abs,
                format!("block offset {stored_off}, expected {block_off}"),
            ));
        }
        if self.flags & FLAG_DBLOCK_CHECKSUM != 0 {
            let at = c.pos();
            let stored = c.u32()?;
            // The checksum covers the whole block with the checksum field zeroed.
            let mut copy = buf.to_vec();
            copy[at..at + 4].fill(0);
            let computed = checksum::lookup3(&copy);
            if stored != computed {
                return Err(Hdf5Error::corrupt(
                    DBLOCK,
                    abs,
                    format!("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"),
                ));
            }
        }
        let header_len = c.pos() as u64;
        let start = off.checked_sub(block_off).filter(|&s| s >= header_len);
        let end = start.and_then(|s| s.checked_add(len)).filter(|&e| e <= block_size);
        match (start, end) {
            (Some(s), Some(e)) => Ok(buf.slice(s as usize..e as usize)),
            _ => Err(Hdf5Error::corrupt(
                DBLOCK,
                abs,
                format!("object at heap offset {off} (+{len}) outside the block's data"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf5::checksum::lookup3;
    use crate::hdf5::S8;

    /// A heap with ID length `id_len` whose root is one 512-byte direct block at 0x100
    /// holding `obj` right after its header (heap offset 21).
    fn file(id_len: u16, obj: &[u8]) -> Vec<u8> {
        let mut h = b"FRHP\0".to_vec();
        h.extend_from_slice(&id_len.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // no filters
        h.push(FLAG_DBLOCK_CHECKSUM);
        h.extend_from_slice(&4096u32.to_le_bytes());
        h.extend_from_slice(&0u64.to_le_bytes()); // next huge id
        h.extend_from_slice(&u64::MAX.to_le_bytes()); // huge B-tree
        h.extend_from_slice(&0u64.to_le_bytes()); // free space
        h.extend_from_slice(&u64::MAX.to_le_bytes()); // free space manager
        h.extend_from_slice(&[0; 64]); // 8 lengths
        h.extend_from_slice(&4u16.to_le_bytes()); // width
        h.extend_from_slice(&512u64.to_le_bytes()); // starting block size
        h.extend_from_slice(&65536u64.to_le_bytes()); // max direct block size
        h.extend_from_slice(&32u16.to_le_bytes()); // max heap size (bits)
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&0x100u64.to_le_bytes()); // root block
        h.extend_from_slice(&0u16.to_le_bytes()); // root is a direct block
        let sum = lookup3(&h);
        h.extend_from_slice(&sum.to_le_bytes());
        h.resize(0x100, 0);
        let mut d = b"FHDB\0".to_vec();
        d.extend_from_slice(&0u64.to_le_bytes()); // heap header address
        d.extend_from_slice(&0u32.to_le_bytes()); // block offset (4 bytes for 32 bits)
        d.extend_from_slice(&[0; 4]); // checksum placeholder at 17
        d.extend_from_slice(obj);
        d.resize(512, 0);
        let sum = lookup3(&d);
        d[17..21].copy_from_slice(&sum.to_le_bytes());
        h.extend_from_slice(&d);
        h
    }

    #[test]
    fn managed_and_tiny_objects() {
        let f = file(7, b"hello world");
        let heap = FractalHeap::open(&f, S8, 0).unwrap();
        assert_eq!(heap.id_len(), 7);
        // Managed: type 0, offset 21 (4 bytes), length 11 (2 bytes).
        let id = [0x00, 21, 0, 0, 0, 11, 0];
        assert_eq!(&heap.get(&f, &id).unwrap()[..], b"hello world");
        // Outside the block, inside the header, zero length.
        assert!(heap.get(&f, &[0x00, 0, 2, 0, 0, 11, 0]).is_err());
        assert!(heap.get(&f, &[0x00, 4, 0, 0, 0, 11, 0]).is_err());
        assert!(heap.get(&f, &[0x00, 21, 0, 0, 0, 0, 0]).is_err());
        // Tiny: type 2, length - 1 in the low nibble.
        assert_eq!(&heap.get(&f, &[0x22, b'a', b'b', b'c', 0, 0, 0]).unwrap()[..], b"abc");
        assert!(heap.get(&f, &[0x2F, 1, 2]).is_err());
        // Bad version / type.
        assert!(heap.get(&f, &[0x40, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(heap.get(&f, &[0x30, 0, 0, 0, 0, 0, 0]).is_err());
        // Huge object without a huge B-tree.
        assert!(heap.get(&f, &[0x10, 1, 0, 0, 0, 0, 0]).is_err());

        // Extended tiny encoding for long IDs (length over two bytes).
        let f = file(20, b"x");
        let heap = FractalHeap::open(&f, S8, 0).unwrap();
        let mut id = vec![0x20, 2, b'x', b'y', b'z'];
        id.resize(20, 0);
        assert_eq!(&heap.get(&f, &id).unwrap()[..], b"xyz");
    }

    #[test]
    fn checksums_are_verified() {
        let f = file(7, b"hello world");
        let mut bad = f.clone();
        bad[0x100 + 30] ^= 1; // direct block data
        let heap = FractalHeap::open(&bad, S8, 0).unwrap();
        let e = heap.get(&bad, &[0x00, 21, 0, 0, 0, 11, 0]).unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");
        let mut bad = f.clone();
        bad[12] ^= 1; // header
        assert!(FractalHeap::open(&bad, S8, 0).is_err());
        let mut bad = f;
        bad[0x100 + 5] = 8; // direct block belongs to another heap
        let heap = FractalHeap::open(&bad, S8, 0).unwrap();
        assert!(heap.get(&bad, &[0x00, 21, 0, 0, 0, 11, 0]).is_err());
    }
}
