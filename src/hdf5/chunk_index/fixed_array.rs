//! Fixed array chunk index (spec III.G): header `FAHD` → data block `FADB`. The array has
//! one element per chunk of the maximum extent, in row-major chunk order. A data block with
//! more elements than a page (2^page bits) is paged: after its prefix comes a bitmap of
//! initialised pages and the prefix checksum, then the pages, each with its own checksum;
//! pages not initialised hold no chunks.

use super::{bit, offsets_of, read_block, strides, ElemFormat, Geometry};
use crate::hdf5::adapters::ChunkRec;
use crate::hdf5::util::{read_addr, read_len};
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;
use crate::io::ReadAt;

const HDR: &str = "fixed array header";
const DBLK: &str = "fixed array data block";
const PAGE: &str = "fixed array data block page";

/// Visit the chunks of the fixed array whose header is at relative address `addr` (defined).
pub(super) fn visit(
    src: &dyn ReadAt,
    sizes: Sizes,
    addr: u64,
    g: &Geometry<'_>,
    f: &mut dyn FnMut(ChunkRec) -> Result<(), Hdf5Error>,
) -> Result<(), Hdf5Error> {
    let o = u64::from(sizes.offset);
    let hlen = 4 + 1 + 1 + 1 + 1 + u64::from(sizes.length) + o + 4;
    let (abs, buf) = read_block(src, sizes, addr, hlen, b"FAHD", HDR)?;
    let mut c = Cursor::new(&buf, abs, HDR);
    c.skip(5)?;
    let client = c.u8()?;
    let entry_size = c.u8()?;
    let page_bits = c.u8()?;
    let nelmts = read_len(&mut c, &sizes)?;
    let dblk_addr = read_addr(&mut c, &sizes)?;
    let bad = |r: String| Hdf5Error::corrupt(HDR, abs, r);
    let fmt = ElemFormat::new(HDR, abs, sizes, client, entry_size, g)?;
    let grid = g
        .max_grid()
        .into_iter()
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| bad("fixed array index with an unlimited dimension".into()))?;
    let n = grid.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    if n != Some(nelmts) {
        return Err(bad(format!("{nelmts} elements, the chunk grid has {n:?}")));
    }
    if crate::hdf5::util::is_undefined(sizes, dblk_addr) {
        return Ok(());
    }
    let es = u64::from(entry_size);
    let total = nelmts
        .checked_mul(es)
        .filter(|&t| t <= src.size())
        .ok_or_else(|| bad(format!("{nelmts} elements of {es} bytes exceed the file size")))?;
    let down = strides(&grid)?;
    let perm: Vec<usize> = (0..grid.len()).collect();
    let mut emit = |i: u64, a: u64, size: u64, mask: u32| -> Result<(), Hdf5Error> {
        f(super::rec(offsets_of(i, &down, &perm, g.chunk)?, a, size, mask)?)
    };
    let prefix = 4 + 1 + 1 + o;
    let page_nelmts = 1u64.checked_shl(u32::from(page_bits)).unwrap_or(u64::MAX);
    if nelmts <= page_nelmts {
        let (dabs, dbuf) = read_block(src, sizes, dblk_addr, prefix + total + 4, b"FADB", DBLK)?;
        let body = check_prefix(&dbuf, dabs, sizes, client, addr)?;
        let elems = body
            .get(..body.len().saturating_sub(4))
            .ok_or_else(|| Hdf5Error::corrupt(DBLK, dabs, "too short"))?;
        return fmt.decode(elems, dabs + prefix, sizes, 0, &mut emit);
    }
    let npages = nelmts.div_ceil(page_nelmts);
    let bitmap_len = npages.div_ceil(8);
    let head = prefix + bitmap_len + 4;
    let (dabs, dbuf) = read_block(src, sizes, dblk_addr, head, b"FADB", DBLK)?;
    let body = check_prefix(&dbuf, dabs, sizes, client, addr)?;
    let bitmap = body.get(..body.len().saturating_sub(4)).unwrap_or_default();
    // Pages follow the data block prefix; page_nelmts * es ≤ total ≤ file size here.
    let page_bytes = page_nelmts * es + 4;
    // The pages are read one after another below: say so first, so a warming pass fetches
    // them together.
    if let Some(a) = sizes.base.checked_add(dblk_addr).and_then(|a| a.checked_add(head)) {
        let pages: Vec<(u64, u64)> = (0..npages)
            .filter(|&p| bit(bitmap, p))
            .filter_map(|p| Some((a.checked_add(p.checked_mul(page_bytes)?)?, page_bytes)))
            .collect();
        src.hint(&pages);
    }
    for p in 0..npages {
        if !bit(bitmap, p) {
            continue;
        }
        let first = p * page_nelmts;
        let count = (nelmts - first).min(page_nelmts);
        let paddr = dblk_addr
            .checked_add(head)
            .and_then(|a| a.checked_add(p.checked_mul(page_bytes)?))
            .ok_or_else(|| Hdf5Error::corrupt(PAGE, dabs, "page address overflows"))?;
        let (pabs, pbuf) = crate::hdf5::util::read_rel(src, sizes, paddr, count * es + 4, PAGE)?;
        crate::hdf5::checksum::verify(PAGE, pabs, &pbuf)?;
        fmt.decode(&pbuf[..pbuf.len() - 4], pabs, sizes, first, &mut emit)?;
    }
    Ok(())
}

/// Check client id and header address of a data block; returns the bytes after them.
fn check_prefix(buf: &[u8], abs: u64, sizes: Sizes, client: u8, hdr: u64) -> Result<&[u8], Hdf5Error> {
    let mut c = Cursor::new(buf, abs, DBLK);
    c.skip(5)?;
    let cl = c.u8()?;
    if cl != client {
        return Err(Hdf5Error::corrupt(
            DBLK,
            abs,
            format!("client id {cl}, header says {client}"),
        ));
    }
    let h = read_addr(&mut c, &sizes)?;
    if h != hdr {
        return Err(Hdf5Error::corrupt(
            DBLK,
            abs,
            format!("header address {h:#x}, expected {hdr:#x}"),
        ));
    }
    Ok(buf.get(c.pos()..).unwrap_or_default())
}
