//! Extensible array chunk index (spec III.H): header `EAHD` → index block `EAIB` (the first
//! elements, then data block and super block addresses) → super blocks `EASB` (data block
//! addresses and, for paged data blocks, the bitmap of initialised pages) → data blocks
//! `EADB` (elements, or pages of elements with their own checksums).
//!
//! Element `i` is the chunk with linear index `i` in row-major order over the chunk grid of
//! the maximum extent with the one unlimited dimension moved first. The geometry of super
//! and data blocks is not stored; it follows from the creation parameters as the spec
//! describes: super block `s` holds 2^⌊s/2⌋ data blocks of 2^⌊(s+1)/2⌋ × (data block
//! minimum elements) elements; the index block holds the data blocks of the first
//! 2·log2(min pointers) super blocks directly.

use std::collections::HashSet;

use super::{bit, offsets_of, read_block, strides, ElemFormat, Geometry};
use crate::hdf5::adapters::ChunkRec;
use crate::hdf5::checksum;
use crate::hdf5::util::{is_undefined, read_addr, read_len, read_rel};
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;
use crate::io::ReadAt;

const HDR: &str = "extensible array header";
const IBLK: &str = "extensible array index block";
const SBLK: &str = "extensible array super block";
const DBLK: &str = "extensible array data block";
const PAGE: &str = "extensible array data block page";

/// Geometry of one super block.
#[derive(Debug, Clone, Copy)]
struct SuperInfo {
    /// Data blocks in it.
    ndblks: u64,
    /// Elements per data block.
    dblk_nelmts: u64,
    /// Index (after the index block elements) of its first element.
    start_idx: u64,
    /// Index of its first data block.
    start_dblk: u64,
}

fn log2_exact(v: u8) -> Option<u32> {
    (v != 0 && v.is_power_of_two()).then(|| v.trailing_zeros())
}

struct Reader<'a> {
    src: &'a dyn ReadAt,
    sizes: Sizes,
    hdr_addr: u64,
    client: u8,
    fmt: ElemFormat,
    es: u64,
    arr_off: u64,
    page_nelmts: u64,
    idx_blk_elmts: u64,
    seen: HashSet<u64>,
}

impl Reader<'_> {
    /// Check client id and header address after signature and version, skip the block
    /// offset when the block has one; returns the position after them.
    fn prefix(&self, buf: &[u8], abs: u64, what: &'static str, block_off: bool) -> Result<usize, Hdf5Error> {
        let mut c = Cursor::new(buf, abs, what);
        c.skip(5)?;
        let cl = c.u8()?;
        if cl != self.client {
            return Err(Hdf5Error::corrupt(
                what,
                abs,
                format!("client id {cl}, header says {}", self.client),
            ));
        }
        let h = read_addr(&mut c, &self.sizes)?;
        if h != self.hdr_addr {
            return Err(Hdf5Error::corrupt(
                what,
                abs,
                format!("header address {h:#x}, expected {:#x}", self.hdr_addr),
            ));
        }
        if block_off {
            // The block offset is informational: libhdf5 computes it for index block data
            // blocks from the global data block number (not the position in the super
            // block) and never checks it on reading, so neither do we.
            c.uint(self.arr_off as usize)?;
        }
        Ok(c.pos())
    }

    fn first_visit(&mut self, what: &'static str, addr: u64) -> Result<(), Hdf5Error> {
        if self.seen.insert(addr) {
            Ok(())
        } else {
            Err(Hdf5Error::corrupt(what, addr, "block reached twice"))
        }
    }

    /// Visit a data block of `nelmts` elements at `addr` whose first element has array
    /// index `self.idx_blk_elmts + block_off`. `pages` is the page-init bitmap and the bit
    /// index of its first page when the block is paged.
    fn data_block(
        &mut self,
        addr: u64,
        nelmts: u64,
        block_off: u64,
        pages: Option<(&[u8], u64)>,
        emit: &mut dyn FnMut(u64, u64, u64, u32) -> Result<(), Hdf5Error>,
    ) -> Result<(), Hdf5Error> {
        self.first_visit(DBLK, addr)?;
        let prefix = 4 + 1 + 1 + u64::from(self.sizes.offset) + self.arr_off;
        let first = self
            .idx_blk_elmts
            .checked_add(block_off)
            .ok_or_else(|| Hdf5Error::Limit("extensible array index".into()))?;
        let Some((bitmap, bit0)) = pages else {
            let bytes = nelmts
                .checked_mul(self.es)
                .filter(|&b| b <= self.src.size())
                .ok_or_else(|| Hdf5Error::corrupt(DBLK, addr, "data block larger than the file"))?;
            let (abs, buf) = read_block(self.src, self.sizes, addr, prefix + bytes + 4, b"EADB", DBLK)?;
            let p = self.prefix(&buf, abs, DBLK, true)?;
            let elems = buf.get(p..buf.len() - 4).unwrap_or_default();
            return self.fmt.decode(elems, abs + p as u64, self.sizes, first, emit);
        };
        let (abs, buf) = read_block(self.src, self.sizes, addr, prefix + 4, b"EADB", DBLK)?;
        self.prefix(&buf, abs, DBLK, true)?;
        // page_nelmts < nelmts ≤ file size here (checked by the caller).
        let page_bytes = self
            .page_nelmts
            .checked_mul(self.es)
            .and_then(|b| b.checked_add(4))
            .filter(|&b| b <= self.src.size())
            .ok_or_else(|| Hdf5Error::corrupt(DBLK, abs, "page larger than the file"))?;
        let npages = nelmts / self.page_nelmts;
        for p in 0..npages {
            if !bit(bitmap, bit0.saturating_add(p)) {
                continue;
            }
            let paddr = addr
                .checked_add(prefix + 4)
                .and_then(|a| a.checked_add(p.checked_mul(page_bytes)?))
                .ok_or_else(|| Hdf5Error::corrupt(PAGE, abs, "page address overflows"))?;
            let (pabs, pbuf) = read_rel(self.src, self.sizes, paddr, page_bytes, PAGE)?;
            checksum::verify(PAGE, pabs, &pbuf)?;
            self.fmt.decode(
                &pbuf[..pbuf.len() - 4],
                pabs,
                self.sizes,
                first.saturating_add(p * self.page_nelmts),
                emit,
            )?;
        }
        Ok(())
    }
}

/// Visit the chunks of the extensible array whose header is at relative address `addr`
/// (defined).
pub(super) fn visit(
    src: &dyn ReadAt,
    sizes: Sizes,
    addr: u64,
    g: &Geometry<'_>,
    f: &mut dyn FnMut(ChunkRec) -> Result<(), Hdf5Error>,
) -> Result<(), Hdf5Error> {
    let o = u64::from(sizes.offset);
    let l = u64::from(sizes.length);
    let hlen = 4 + 1 + 1 + 6 + 6 * l + o + 4;
    let (abs, buf) = read_block(src, sizes, addr, hlen, b"EAHD", HDR)?;
    let mut c = Cursor::new(&buf, abs, HDR);
    c.skip(5)?;
    let client = c.u8()?;
    let elem_size = c.u8()?;
    let max_bits = c.u8()?;
    let idx_blk_elmts = c.u8()?;
    let dblk_min_elmts = c.u8()?;
    let sblk_min_ptrs = c.u8()?;
    let page_bits = c.u8()?;
    for _ in 0..6 {
        read_len(&mut c, &sizes)?; // statistics
    }
    let iblk_addr = read_addr(&mut c, &sizes)?;
    let bad = |r: String| Hdf5Error::corrupt(HDR, abs, r);
    let fmt = ElemFormat::new(HDR, abs, sizes, client, elem_size, g)?;

    // Chunk numbering: the unlimited dimension first, then the others in order.
    let grid = g.max_grid();
    let unlim: Vec<usize> = (0..grid.len()).filter(|&i| grid[i].is_none()).collect();
    let [u] = unlim[..] else {
        return Err(bad(format!("{} unlimited dimensions, expected one", unlim.len())));
    };
    let mut perm = vec![u];
    perm.extend((0..grid.len()).filter(|&i| i != u));
    let swz: Vec<u64> = perm.iter().map(|&i| grid[i].unwrap_or(u64::MAX)).collect();
    let down = strides(&swz)?;
    let mut emit = |i: u64, a: u64, size: u64, mask: u32| -> Result<(), Hdf5Error> {
        f(super::rec(offsets_of(i, &down, &perm, g.chunk)?, a, size, mask)?)
    };

    // Creation parameters → block geometry.
    if !(1..=64).contains(&max_bits) || page_bits >= 64 {
        return Err(bad(format!("max bits {max_bits}, page bits {page_bits}")));
    }
    let (Some(min_elmts_log2), Some(min_ptrs_log2)) = (log2_exact(dblk_min_elmts), log2_exact(sblk_min_ptrs)) else {
        return Err(bad(format!(
            "data block minimum {dblk_min_elmts} / super block minimum pointers {sblk_min_ptrs} not powers of two"
        )));
    };
    if min_elmts_log2 > u32::from(max_bits) {
        return Err(bad("data block minimum exceeds the maximum elements".into()));
    }
    let nsblks = 1 + u64::from(max_bits) - u64::from(min_elmts_log2);
    let mut info = Vec::with_capacity(nsblks as usize);
    let (mut start_idx, mut start_dblk) = (0u64, 0u64);
    for s in 0..nsblks {
        let ndblks = 1u64 << (s / 2);
        let dblk_nelmts = (1u64 << s.div_ceil(2).min(63)).saturating_mul(u64::from(dblk_min_elmts));
        info.push(SuperInfo {
            ndblks,
            dblk_nelmts,
            start_idx,
            start_dblk,
        });
        start_idx = start_idx.saturating_add(ndblks.saturating_mul(dblk_nelmts));
        start_dblk = start_dblk.saturating_add(ndblks);
    }
    let iblk_sblks = 2 * u64::from(min_ptrs_log2);
    let ndblk_addrs = 2 * (u64::from(sblk_min_ptrs) - 1);
    let nsblk_addrs = nsblks.checked_sub(iblk_sblks).ok_or_else(|| {
        bad(format!(
            "{iblk_sblks} super blocks in the index block, only {nsblks} in all"
        ))
    })?;
    if is_undefined(sizes, iblk_addr) {
        return Ok(());
    }

    let mut r = Reader {
        src,
        sizes,
        hdr_addr: addr,
        client,
        fmt,
        es: u64::from(elem_size),
        arr_off: u64::from(max_bits).div_ceil(8),
        page_nelmts: 1u64 << page_bits,
        idx_blk_elmts: u64::from(idx_blk_elmts),
        seen: HashSet::new(),
    };

    // Index block.
    let ilen = 4 + 1 + 1 + o + r.idx_blk_elmts * r.es + (ndblk_addrs + nsblk_addrs) * o + 4;
    let (iabs, ibuf) = read_block(src, sizes, iblk_addr, ilen, b"EAIB", IBLK)?;
    let p = r.prefix(&ibuf, iabs, IBLK, false)?;
    let mut c = Cursor::new(&ibuf, iabs, IBLK);
    c.seek(p)?;
    let elems = c.bytes((r.idx_blk_elmts * r.es) as usize)?;
    r.fmt.decode(elems, iabs + p as u64, sizes, 0, &mut emit)?;
    let dblk_addrs = (0..ndblk_addrs)
        .map(|_| read_addr(&mut c, &sizes))
        .collect::<Result<Vec<_>, _>>()?;
    let sblk_addrs = (0..nsblk_addrs)
        .map(|_| read_addr(&mut c, &sizes))
        .collect::<Result<Vec<_>, _>>()?;

    // Read one after another below: say so first, so a warming pass fetches them together.
    hint_blocks(src, &sizes, dblk_addrs.iter().chain(&sblk_addrs));

    // Data blocks of the first super blocks, addressed from the index block.
    for (s, si) in info.iter().enumerate().take(iblk_sblks as usize) {
        for k in 0..si.ndblks {
            let d = si.start_dblk + k;
            let Some(&da) = dblk_addrs.get(d as usize) else {
                return Err(Hdf5Error::corrupt(
                    IBLK,
                    iabs,
                    format!("no address for data block {d} (super block {s})"),
                ));
            };
            if is_undefined(sizes, da) {
                continue;
            }
            if si.dblk_nelmts > r.page_nelmts {
                return Err(Hdf5Error::unsupported(
                    "paged data block in an extensible array index block",
                ));
            }
            let off = si.start_idx.saturating_add(k.saturating_mul(si.dblk_nelmts));
            r.data_block(da, si.dblk_nelmts, off, None, &mut emit)?;
        }
    }

    // Super blocks.
    for (k, &sa) in sblk_addrs.iter().enumerate() {
        if is_undefined(sizes, sa) {
            continue;
        }
        let si = info[iblk_sblks as usize + k];
        r.first_visit(SBLK, sa)?;
        let too_big = || Hdf5Error::corrupt(SBLK, sa, "super block larger than the file");
        if si.ndblks.checked_mul(o).is_none_or(|b| b > src.size()) {
            return Err(too_big());
        }
        let npages = if si.dblk_nelmts > r.page_nelmts {
            si.dblk_nelmts / r.page_nelmts
        } else {
            0
        };
        // One page-init bitmap of ⌈pages/8⌉ bytes per data block; bits are numbered
        // data block × pages + page across them, as libhdf5 does.
        let bitmap_len = if npages > 0 {
            si.ndblks
                .checked_mul(npages.div_ceil(8))
                .filter(|&b| b <= src.size())
                .ok_or_else(too_big)?
        } else {
            0
        };
        let slen = 4 + 1 + 1 + o + r.arr_off + bitmap_len + si.ndblks * o + 4;
        let (sabs, sbuf) = read_block(src, sizes, sa, slen, b"EASB", SBLK)?;
        let p = r.prefix(&sbuf, sabs, SBLK, true)?;
        let mut c = Cursor::new(&sbuf, sabs, SBLK);
        c.seek(p)?;
        let bitmap = c.bytes(bitmap_len as usize)?;
        let addrs = (0..si.ndblks)
            .map(|_| read_addr(&mut c, &sizes))
            .collect::<Result<Vec<_>, _>>()?;
        hint_blocks(src, &sizes, &addrs);
        for (j, &da) in (0u64..).zip(&addrs) {
            if is_undefined(sizes, da) {
                continue;
            }
            if si.dblk_nelmts.checked_mul(r.es).is_none_or(|b| b > src.size()) {
                return Err(Hdf5Error::corrupt(DBLK, da, "data block larger than the file"));
            }
            let off = si.start_idx.saturating_add(j.saturating_mul(si.dblk_nelmts));
            let pages = (npages > 0).then_some((bitmap, j.saturating_mul(npages)));
            r.data_block(da, si.dblk_nelmts, off, pages, &mut emit)?;
        }
    }
    Ok(())
}

/// Tell `src` the blocks at these relative addresses are about to be read (see
/// [`ReadAt::hint`]); the length is a guess, the warming pass fetches what it finds missing.
fn hint_blocks<'a>(src: &dyn ReadAt, sizes: &Sizes, addrs: impl IntoIterator<Item = &'a u64>) {
    let ranges: Vec<(u64, u64)> = addrs
        .into_iter()
        .filter(|&&a| !is_undefined(*sizes, a))
        .filter_map(|&a| sizes.base.checked_add(a))
        .map(|a| (a, 4096))
        .collect();
    src.hint(&ranges);
}
