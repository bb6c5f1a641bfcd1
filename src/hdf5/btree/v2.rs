//! Version 2 B-trees (spec III.A.2): header `BTHD`, internal nodes `BTIN`, leaf nodes `BTLF`.
//!
//! Used for the name and creation-order indexes of dense link and attribute storage (record
//! types 5, 6, 8, 9), huge fractal heap objects (types 1–4) and the v2-B-tree chunk index
//! (types 10, 11). [`walk_records`] visits every record in key order; typed decoders turn
//! the raw bytes into records.
//!
//! Node geometry (the widths of the child-pointer fields of internal nodes) is not stored:
//! it is derived from the node size, record size and depth exactly as the specification
//! describes ("maximum number of records" of leaf and internal nodes, cumulated per level).

use std::collections::HashSet;

use bytes::Bytes;

use crate::hdf5::checksum;
use crate::hdf5::heap::fractal::FractalHeap;
use crate::hdf5::util::{check_signature, check_sizes, read_rel};
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;
use crate::io::ReadAt;

const HDR: &str = "v2 B-tree header";
const INTERNAL: &str = "v2 B-tree internal node";
const LEAF: &str = "v2 B-tree leaf node";

/// Signature + version + type before the records of a node, plus the checksum after them.
const NODE_PREFIX: u64 = 6;
const NODE_OVERHEAD: u64 = NODE_PREFIX + 4;
/// Deepest tree accepted (the format's cumulative record counts overflow long before).
const MAX_DEPTH: u16 = 32;

/// Per-level geometry: level 0 are leaves.
#[derive(Debug, Clone, Copy)]
struct Level {
    /// Maximum records in one node of this level.
    max_nrec: u64,
    /// Maximum records in a subtree rooted at a node of this level.
    cum_max_nrec: u64,
    /// Bytes of the "total number of records" field for a child of this level.
    cum_max_nrec_size: u8,
}

/// A parsed v2 B-tree header.
#[derive(Debug, Clone)]
pub(crate) struct V2Header {
    /// Record type (5 = link names, 8 = attribute names, …).
    pub record_type: u8,
    /// Node size in bytes.
    pub node_size: u32,
    /// Record size in bytes.
    pub record_size: u16,
    /// Depth of the tree (0: the root is a leaf).
    pub depth: u16,
    /// Relative address of the root node (undefined when the tree is empty).
    pub root_addr: u64,
    /// Records in the root node.
    pub root_nrec: u16,
    /// Records in the whole tree.
    pub total_records: u64,
    levels: Vec<Level>,
    /// Bytes of the "number of records" field of a child pointer.
    max_nrec_size: u8,
}

/// Bytes needed to encode `n` (at least 1).
fn enc_size(n: u64) -> u8 {
    let bits = 64 - n.leading_zeros(); // 0 for n == 0
    (bits.saturating_sub(1) / 8 + 1) as u8
}

impl V2Header {
    /// Read the header at relative address `addr`.
    pub(crate) fn read(src: &dyn ReadAt, sizes: Sizes, addr: u64) -> Result<Self, Hdf5Error> {
        let len = 4 + 1 + 1 + 4 + 2 + 2 + 1 + 1 + u64::from(sizes.offset) + 2 + u64::from(sizes.length) + 4;
        let (abs, buf) = read_rel(src, sizes, addr, len, HDR)?;
        check_sizes(sizes, HDR, abs)?;
        let mut c = Cursor::new(&buf, abs, HDR);
        check_signature(c.bytes(4)?, b"BTHD", HDR, abs)?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Hdf5Error::corrupt(HDR, abs, format!("unknown version {version}")));
        }
        let record_type = c.u8()?;
        let node_size = c.u32()?;
        let record_size = c.u16()?;
        let depth = c.u16()?;
        let _split = c.u8()?;
        let _merge = c.u8()?;
        let root_addr = c.uint(sizes.offset.into())?;
        let root_nrec = c.u16()?;
        let total_records = c.uint(sizes.length.into())?;
        checksum::verify(HDR, abs, &buf)?;

        let bad = |r: String| Hdf5Error::corrupt(HDR, abs, r);
        if record_size == 0 {
            return Err(bad("record size 0".into()));
        }
        if depth > MAX_DEPTH {
            return Err(Hdf5Error::Limit(format!("v2 B-tree at {abs:#x} has depth {depth}")));
        }
        let ns = u64::from(node_size);
        let rs = u64::from(record_size);
        if ns > src.size() {
            return Err(bad(format!("node size {node_size} exceeds the file size")));
        }
        let leaf_max = ns.saturating_sub(NODE_OVERHEAD) / rs;
        if leaf_max == 0 {
            return Err(bad(format!("node size {node_size} holds no {record_size}-byte record")));
        }
        let max_nrec_size = enc_size(leaf_max);
        let mut levels = vec![Level {
            max_nrec: leaf_max,
            cum_max_nrec: leaf_max,
            cum_max_nrec_size: 0,
        }];
        for d in 1..=depth {
            let prev = levels[usize::from(d - 1)];
            let ptr = pointer_size(sizes, max_nrec_size, if d > 1 { prev.cum_max_nrec_size } else { 0 });
            let max_nrec = ns.saturating_sub(NODE_OVERHEAD + ptr) / (rs + ptr);
            if max_nrec == 0 {
                return Err(bad(format!(
                    "node size {node_size} holds no internal record at depth {d}"
                )));
            }
            let cum = max_nrec
                .checked_add(1)
                .and_then(|m| m.checked_mul(prev.cum_max_nrec))
                .and_then(|m| m.checked_add(max_nrec))
                .ok_or_else(|| {
                    Hdf5Error::Limit(format!("v2 B-tree at {abs:#x}: record count overflow at depth {d}"))
                })?;
            levels.push(Level {
                max_nrec,
                cum_max_nrec: cum,
                cum_max_nrec_size: enc_size(cum),
            });
        }
        if u64::from(root_nrec) > levels[usize::from(depth)].max_nrec {
            return Err(bad(format!("root holds {root_nrec} records, more than a node can")));
        }
        Ok(Self {
            record_type,
            node_size,
            record_size,
            depth,
            root_addr,
            root_nrec,
            total_records,
            levels,
            max_nrec_size,
        })
    }

    /// Size of a child pointer in an internal node at depth `d` (≥ 1).
    fn pointer_size_at(&self, sizes: Sizes, d: u16) -> u64 {
        let total = if d > 1 {
            self.levels[usize::from(d - 1)].cum_max_nrec_size
        } else {
            0
        };
        pointer_size(sizes, self.max_nrec_size, total)
    }
}

fn pointer_size(sizes: Sizes, nrec_size: u8, total_size: u8) -> u64 {
    u64::from(sizes.offset) + u64::from(nrec_size) + u64::from(total_size)
}

struct Walker<'a> {
    src: &'a dyn ReadAt,
    sizes: Sizes,
    hdr: &'a V2Header,
    visited: HashSet<u64>,
    count: u64,
}

impl Walker<'_> {
    fn node(
        &mut self,
        addr: u64,
        nrec: u64,
        depth: u16,
        f: &mut dyn FnMut(&[u8]) -> Result<(), Hdf5Error>,
    ) -> Result<(), Hdf5Error> {
        let (what, sig) = if depth == 0 {
            (LEAF, b"BTLF")
        } else {
            (INTERNAL, b"BTIN")
        };
        let level = self.hdr.levels[usize::from(depth)];
        if nrec > level.max_nrec {
            return Err(Hdf5Error::corrupt(
                what,
                addr,
                format!("{nrec} records, a node holds at most {}", level.max_nrec),
            ));
        }
        if !self.visited.insert(addr) {
            return Err(Hdf5Error::corrupt(
                what,
                addr,
                "node reached twice (cycle or shared node)",
            ));
        }
        let rs = u64::from(self.hdr.record_size);
        let ptr = if depth == 0 {
            0
        } else {
            self.hdr.pointer_size_at(self.sizes, depth)
        };
        // Bounded by the node size: nrec ≤ max_nrec was derived from it.
        let used = NODE_OVERHEAD + nrec * rs + if depth == 0 { 0 } else { (nrec + 1) * ptr };
        let (abs, buf) = read_rel(self.src, self.sizes, addr, used, what)?;
        let mut c = Cursor::new(&buf, abs, what);
        check_signature(c.bytes(4)?, sig, what, abs)?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Hdf5Error::corrupt(what, abs, format!("unknown version {version}")));
        }
        let ty = c.u8()?;
        if ty != self.hdr.record_type {
            return Err(Hdf5Error::corrupt(
                what,
                abs,
                format!("record type {ty}, header says {}", self.hdr.record_type),
            ));
        }
        checksum::verify(what, abs, &buf)?;
        let rs = usize::from(self.hdr.record_size);
        let records = c.bytes(rs * nrec as usize)?;
        if depth == 0 {
            for r in records.chunks_exact(rs) {
                self.count += 1;
                f(r)?;
            }
            return Ok(());
        }
        let mut children = Vec::with_capacity(nrec as usize + 1);
        let total_size = if depth > 1 {
            self.hdr.levels[usize::from(depth - 1)].cum_max_nrec_size
        } else {
            0
        };
        for _ in 0..=nrec {
            let child = c.uint(self.sizes.offset.into())?;
            let child_nrec = c.uint(self.hdr.max_nrec_size.into())?;
            let child_total = if depth > 1 {
                c.uint(total_size.into())?
            } else {
                child_nrec
            };
            children.push((child, child_nrec, child_total));
        }
        // Read one after another below: say so first, so a warming pass fetches them together.
        let hints: Vec<(u64, u64)> = children
            .iter()
            .filter_map(|&(c, _, _)| self.sizes.base.checked_add(c))
            .map(|a| (a, u64::from(self.hdr.node_size)))
            .collect();
        self.src.hint(&hints);
        for (i, &(child, child_nrec, child_total)) in children.iter().enumerate() {
            let before = self.count;
            self.node(child, child_nrec, depth - 1, f)?;
            if self.count - before != child_total {
                return Err(Hdf5Error::corrupt(
                    what,
                    abs,
                    format!(
                        "child {i} holds {} records, parent says {child_total}",
                        self.count - before
                    ),
                ));
            }
            if let Some(r) = records.chunks_exact(rs).nth(i) {
                self.count += 1;
                f(r)?;
            }
        }
        Ok(())
    }
}

/// Visit every record of the v2 B-tree whose header is at relative address `addr`, in key
/// order, as raw bytes (`record_size` long). Returns the tree's record type.
pub(crate) fn walk_records(
    src: &dyn ReadAt,
    sizes: Sizes,
    addr: u64,
    f: &mut dyn FnMut(&[u8]) -> Result<(), Hdf5Error>,
) -> Result<u8, Hdf5Error> {
    let hdr = V2Header::read(src, sizes, addr)?;
    walk_with_header(src, sizes, &hdr, f)?;
    Ok(hdr.record_type)
}

/// [`walk_records`] with an already-read header.
pub(crate) fn walk_with_header(
    src: &dyn ReadAt,
    sizes: Sizes,
    hdr: &V2Header,
    f: &mut dyn FnMut(&[u8]) -> Result<(), Hdf5Error>,
) -> Result<(), Hdf5Error> {
    if crate::hdf5::util::is_undefined(sizes, hdr.root_addr) {
        if hdr.total_records != 0 {
            return Err(Hdf5Error::corrupt(
                HDR,
                hdr.root_addr,
                "no root node but records counted",
            ));
        }
        return Ok(());
    }
    let mut w = Walker {
        src,
        sizes,
        hdr,
        visited: HashSet::new(),
        count: 0,
    };
    w.node(hdr.root_addr, hdr.root_nrec.into(), hdr.depth, f)?;
    if w.count != hdr.total_records {
        return Err(Hdf5Error::corrupt(
            HDR,
            hdr.root_addr,
            format!("tree holds {} records, header says {}", w.count, hdr.total_records),
        ));
    }
    Ok(())
}

fn record_err(ty: u8, len: usize) -> Hdf5Error {
    Hdf5Error::corrupt(
        "v2 B-tree record",
        0,
        format!("{len}-byte record too short for type {ty}"),
    )
}

/// Type 5: link name index of an indexed group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkNameRecord {
    /// lookup3 hash of the link name.
    pub hash: u32,
    /// Fractal heap ID of the link message.
    pub heap_id: [u8; 7],
}

impl LinkNameRecord {
    /// Decode a type 5 record.
    pub(crate) fn parse(r: &[u8]) -> Result<Self, Hdf5Error> {
        let mut c = Cursor::new(r, 0, "v2 B-tree type 5 record");
        let hash = c.u32().map_err(|_| record_err(5, r.len()))?;
        let id = c.bytes(7).map_err(|_| record_err(5, r.len()))?;
        Ok(Self {
            hash,
            heap_id: id.try_into().map_err(|_| record_err(5, r.len()))?,
        })
    }
}

/// Type 6: creation order index of an indexed group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkCreationRecord {
    /// Creation order.
    pub creation_order: u64,
    /// Fractal heap ID of the link message.
    pub heap_id: [u8; 7],
}

impl LinkCreationRecord {
    /// Decode a type 6 record.
    pub(crate) fn parse(r: &[u8]) -> Result<Self, Hdf5Error> {
        let mut c = Cursor::new(r, 0, "v2 B-tree type 6 record");
        let creation_order = c.u64().map_err(|_| record_err(6, r.len()))?;
        let id = c.bytes(7).map_err(|_| record_err(6, r.len()))?;
        Ok(Self {
            creation_order,
            heap_id: id.try_into().map_err(|_| record_err(6, r.len()))?,
        })
    }
}

/// Types 8 (name index) and 9 (creation order index) of dense attribute storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttrRecord {
    /// Fractal heap ID of the attribute message (or shared message heap ID if shared).
    pub heap_id: [u8; 8],
    /// Message flags (bit 1: the attribute message is shared).
    pub flags: u8,
    /// Creation order.
    pub creation_order: u32,
    /// lookup3 hash of the attribute name (type 8 only; 0 for type 9).
    pub hash: u32,
}

impl AttrRecord {
    /// Decode a type 8 record.
    pub(crate) fn parse_name(r: &[u8]) -> Result<Self, Hdf5Error> {
        Self::parse(r, 8)
    }

    /// Decode a type 9 record.
    pub(crate) fn parse_creation(r: &[u8]) -> Result<Self, Hdf5Error> {
        Self::parse(r, 9)
    }

    fn parse(r: &[u8], ty: u8) -> Result<Self, Hdf5Error> {
        let e = |_| record_err(ty, r.len());
        let mut c = Cursor::new(r, 0, "v2 B-tree attribute record");
        let heap_id: [u8; 8] = c.bytes(8).map_err(e)?.try_into().map_err(|_| record_err(ty, r.len()))?;
        let flags = c.u8().map_err(e)?;
        let creation_order = c.u32().map_err(e)?;
        let hash = if ty == 8 { c.u32().map_err(e)? } else { 0 };
        Ok(Self {
            heap_id,
            flags,
            creation_order,
            hash,
        })
    }
}

/// Type 1: huge fractal heap object, indirectly accessed, not filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HugeObjectRecord {
    /// Relative address of the object.
    pub addr: u64,
    /// Length of the object.
    pub len: u64,
    /// The huge object ID (key).
    pub id: u64,
}

impl HugeObjectRecord {
    /// Decode a type 1 record.
    pub(crate) fn parse(r: &[u8], sizes: Sizes) -> Result<Self, Hdf5Error> {
        let e = |_| record_err(1, r.len());
        let mut c = Cursor::new(r, 0, "v2 B-tree type 1 record");
        let addr = c.uint(sizes.offset.into()).map_err(e)?;
        let len = c.uint(sizes.length.into()).map_err(e)?;
        let id = c.uint(sizes.length.into()).map_err(e)?;
        Ok(Self { addr, len, id })
    }
}

/// Types 10 (non-filtered) and 11 (filtered) of the v2-B-tree chunk index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChunkIndexRecord {
    /// Relative address of the chunk.
    pub addr: u64,
    /// Stored size (type 11 only).
    pub size: Option<u64>,
    /// Filter mask (type 11 only, else 0).
    pub filter_mask: u32,
    /// Scaled offsets (chunk indices), one per dataset dimension.
    pub scaled_offsets: Vec<u64>,
}

impl ChunkIndexRecord {
    /// Decode a type 10 (`chunk_size_len == None`) or type 11 record (`Some(width of the
    /// chunk size field)`) of a dataset with `rank` dimensions.
    pub(crate) fn parse(r: &[u8], sizes: Sizes, rank: usize, chunk_size_len: Option<u8>) -> Result<Self, Hdf5Error> {
        let ty = if chunk_size_len.is_some() { 11 } else { 10 };
        let e = |_| record_err(ty, r.len());
        let mut c = Cursor::new(r, 0, "v2 B-tree chunk record");
        let addr = c.uint(sizes.offset.into()).map_err(e)?;
        let (size, filter_mask) = match chunk_size_len {
            Some(n) => (Some(c.uint(n.into()).map_err(e)?), c.u32().map_err(e)?),
            None => (None, 0),
        };
        if rank > c.remaining() / 8 {
            return Err(record_err(ty, r.len()));
        }
        let scaled_offsets = (0..rank).map(|_| c.u64()).collect::<Result<Vec<_>, _>>().map_err(e)?;
        Ok(Self {
            addr,
            size,
            filter_mask,
            scaled_offsets,
        })
    }
}

/// Link message bodies of a group's dense link storage, in name-index (hash) order: walks the
/// type 5 name index at `btree_addr` and fetches each message from the fractal heap at
/// `heap_addr`.
pub(crate) fn dense_link_messages(
    src: &dyn ReadAt,
    sizes: Sizes,
    heap_addr: u64,
    btree_addr: u64,
) -> Result<Vec<Bytes>, Hdf5Error> {
    let heap = FractalHeap::open(src, sizes, heap_addr)?;
    let hdr = V2Header::read(src, sizes, btree_addr)?;
    if hdr.record_type != 5 {
        return Err(Hdf5Error::corrupt(
            HDR,
            btree_addr,
            format!("record type {}, expected 5 (link names)", hdr.record_type),
        ));
    }
    let mut out = Vec::new();
    walk_with_header(src, sizes, &hdr, &mut |r| {
        let rec = LinkNameRecord::parse(r)?;
        out.push(heap.get(src, &rec.heap_id)?);
        Ok(())
    })?;
    Ok(out)
}

/// (message flags, attribute message body) of an object's dense attribute storage, in
/// name-index order: walks the type 8 name index at `btree_addr` and fetches each message
/// from the fractal heap at `heap_addr`. Shared attribute messages (flag bit 1, stored in the
/// shared message heap) are refused as unsupported.
pub(crate) fn dense_attribute_messages(
    src: &dyn ReadAt,
    sizes: Sizes,
    heap_addr: u64,
    btree_addr: u64,
) -> Result<Vec<(u8, Bytes)>, Hdf5Error> {
    let heap = FractalHeap::open(src, sizes, heap_addr)?;
    let hdr = V2Header::read(src, sizes, btree_addr)?;
    if hdr.record_type != 8 {
        return Err(Hdf5Error::corrupt(
            HDR,
            btree_addr,
            format!("record type {}, expected 8 (attribute names)", hdr.record_type),
        ));
    }
    let mut out = Vec::new();
    walk_with_header(src, sizes, &hdr, &mut |r| {
        let rec = AttrRecord::parse_name(r)?;
        if rec.flags & 0x02 != 0 {
            return Err(Hdf5Error::unsupported("shared attribute message in dense storage"));
        }
        out.push((rec.flags, heap.get(src, &rec.heap_id)?));
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::hdf5::checksum::lookup3;
    use crate::hdf5::heap::test_util;
    use crate::hdf5::S8;

    #[test]
    fn encoded_sizes() {
        assert_eq!(enc_size(0), 1);
        assert_eq!(enc_size(1), 1);
        assert_eq!(enc_size(255), 1);
        assert_eq!(enc_size(256), 2);
        assert_eq!(enc_size(65535), 2);
        assert_eq!(enc_size(65536), 3);
        assert_eq!(enc_size(u64::MAX), 8);
    }

    /// Name of a link message (spec IV.A.2.g).
    fn link_name(m: &[u8]) -> Option<String> {
        let mut c = Cursor::new(m, 0, "link message");
        if c.u8().ok()? != 1 {
            return None;
        }
        let flags = c.u8().ok()?;
        if flags & 0x08 != 0 {
            c.u8().ok()?;
        }
        if flags & 0x04 != 0 {
            c.u64().ok()?;
        }
        if flags & 0x10 != 0 {
            c.u8().ok()?;
        }
        let n = c.uint(1 << (flags & 3)).ok()? as usize;
        String::from_utf8(c.bytes(n).ok()?.to_vec()).ok()
    }

    /// Name of an attribute message (spec IV.A.2.m, versions 1–3).
    fn attr_name(m: &[u8]) -> Option<String> {
        let mut c = Cursor::new(m, 0, "attribute message");
        let version = c.u8().ok()?;
        c.u8().ok()?;
        let n = c.u16().ok()? as usize;
        c.u16().ok()?;
        c.u16().ok()?;
        if version == 3 {
            c.u8().ok()?;
        }
        let name = c.bytes(n).ok()?;
        String::from_utf8(name.strip_suffix(b"\0").unwrap_or(name).to_vec()).ok()
    }

    /// For each v2 B-tree of type 5 or 8 in the file: the names reached through it, pairing
    /// it with the fractal heap whose objects decode to names matching the records' hashes.
    fn dense_name_sets(data: &Bytes) -> Vec<(u8, BTreeSet<String>)> {
        let heaps = test_util::find_all(data, b"FRHP");
        let mut out = Vec::new();
        for bt in test_util::find_all(data, b"BTHD") {
            let Ok(hdr) = V2Header::read(data, S8, bt) else {
                continue;
            };
            if hdr.record_type != 5 && hdr.record_type != 8 {
                continue;
            }
            let mut matched = None;
            let mut errors = Vec::new();
            for &h in &heaps {
                let heap = match FractalHeap::open(data, S8, h) {
                    Ok(heap) => heap,
                    Err(e) => {
                        errors.push(format!("FRHP {h:#x}: {e}"));
                        continue;
                    }
                };
                let mut names = BTreeSet::new();
                let r = walk_with_header(data, S8, &hdr, &mut |r| {
                    let (hash, obj) = if hdr.record_type == 5 {
                        let rec = LinkNameRecord::parse(r)?;
                        (rec.hash, heap.get(data, &rec.heap_id)?)
                    } else {
                        let rec = AttrRecord::parse_name(r)?;
                        (rec.hash, heap.get(data, &rec.heap_id)?)
                    };
                    let name = if hdr.record_type == 5 {
                        link_name(&obj)
                    } else {
                        attr_name(&obj)
                    }
                    .ok_or_else(|| Hdf5Error::corrupt("test", 0, "undecodable"))?;
                    if lookup3(name.as_bytes()) != hash {
                        return Err(Hdf5Error::corrupt("test", 0, "hash mismatch"));
                    }
                    names.insert(name);
                    Ok(())
                });
                if let Err(e) = &r {
                    errors.push(format!("BTHD {bt:#x} with FRHP {h:#x}: {e}"));
                }
                if r.is_ok() {
                    assert_eq!(names.len() as u64, hdr.total_records, "BTHD at {bt:#x}");
                    matched = Some(names);
                    break;
                }
            }
            let names =
                matched.unwrap_or_else(|| panic!("no fractal heap resolves the B-tree at {bt:#x}: {errors:#?}"));
            out.push((hdr.record_type, names));
        }
        out
    }

    const LISTING: &str = r#"
import h5py, json, sys
f = h5py.File(sys.argv[1], 'r')
groups, attrs = {}, {}
def visit(name, obj):
    attrs[name] = sorted(obj.attrs.keys())
    if isinstance(obj, h5py.Group):
        groups[name] = sorted(obj.keys())
visit('/', f)
f.visititems(visit)
print(json.dumps({'groups': groups, 'attrs': attrs}))
"#;

    /// Check the dense name sets of `path` against h5py's listing; returns how many matched.
    fn check_file(path: &std::path::Path) -> Option<usize> {
        let data = Bytes::from(std::fs::read(path).ok()?);
        let listing = test_util::run_python(LISTING, &[path.to_str()?])?;
        let v: serde_json::Value = serde_json::from_str(&listing).unwrap();
        let sets = |k: &str| -> BTreeMap<String, BTreeSet<String>> {
            v[k].as_object()
                .unwrap()
                .iter()
                .map(|(p, names)| {
                    (
                        p.clone(),
                        names
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|n| n.as_str().unwrap().to_string())
                            .collect(),
                    )
                })
                .collect()
        };
        let (groups, attrs) = (sets("groups"), sets("attrs"));
        let found = dense_name_sets(&data);
        for (ty, names) in &found {
            let pool = if *ty == 5 { &groups } else { &attrs };
            assert!(
                pool.values().any(|s| s == names),
                "{}: type {ty} index with {} names {:?}… matches no object h5py lists",
                path.display(),
                names.len(),
                names.iter().take(3).collect::<Vec<_>>()
            );
        }
        Some(found.len())
    }

    #[test]
    fn generated_dense_links_and_attributes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dense.h5");
        let script = r#"
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w', libver='latest') as f:
    g = f.create_group('small')
    for i in range(20):
        g.create_group(f'g{i}')
    g = f.create_group('big')
    for i in range(8000):
        g[f'link_{i}_' + 'n' * (i % 37)] = h5py.SoftLink('/' + 'x' * 120)
    d = f.create_dataset('attrs', data=np.arange(4))
    for i in range(60):
        d.attrs[f'attr{i}'] = np.arange(i + 1)
    d.attrs['huge'] = np.zeros(30000)
"#;
        if test_util::run_python(script, &[path.to_str().unwrap()]).is_none() {
            return;
        }
        let data = Bytes::from(std::fs::read(&path).unwrap());
        // The big group's name index is deep enough to exercise internal nodes of two levels,
        // its heap nests indirect blocks, and the 'huge' attribute is a huge heap object.
        let depths: Vec<u16> = test_util::find_all(&data, b"BTHD")
            .into_iter()
            .filter_map(|a| V2Header::read(&data, S8, a).ok())
            .map(|h| h.depth)
            .collect();
        assert!(depths.contains(&2), "depths {depths:?}");
        assert_eq!(check_file(&path), Some(3));

        // dense_attribute_messages returns the 61 attributes including the huge one.
        let sets = dense_name_sets(&data);
        assert!(sets.iter().any(|(t, n)| *t == 8 && n.len() == 61 && n.contains("huge")));
        assert!(sets.iter().any(|(t, n)| *t == 5 && n.len() == 8000));

        // Corrupting one byte of an internal node is caught by its checksum.
        let bt = test_util::find_all(&data, b"BTIN")[0] as usize;
        let mut bad = data.to_vec();
        bad[bt + 7] ^= 0xFF;
        let bad = Bytes::from(bad);
        let mut failures = 0;
        for a in test_util::find_all(&bad, b"BTHD") {
            if walk_records(&bad, S8, a, &mut |_| Ok(())).is_err() {
                failures += 1;
            }
        }
        assert_eq!(failures, 1);
    }

    #[test]
    fn corpus_dense_links_and_attributes() {
        let Some(dir) = test_util::corpus() else {
            return;
        };
        let files = [
            "jhdf/jhdf/src/test/resources/hdf5/test_large_group_latest.hdf5",
            "jhdf/jhdf/src/test/resources/hdf5/test_medium_group_latest.hdf5",
            "jhdf/jhdf/src/test/resources/hdf5/test_attribute_latest.hdf5",
            "pyfive/tests/data/new_style_groups.hdf5",
            "netcdf4-python/test/test_gold.nc",
            "harmony-trajectory-subsetter/tests/data/ATL03_gt1l.h5",
            "hdf5-official-via-scigolib/testdata/hdf5_official/tfcontents1.h5",
        ];
        let mut total = 0;
        for name in files {
            let path = dir.join(name);
            if !path.exists() {
                eprintln!("skipping missing {}", path.display());
                continue;
            }
            match check_file(&path) {
                Some(n) => {
                    eprintln!("{name}: {n} dense name indexes match h5py");
                    total += n;
                }
                None => return,
            }
        }
        assert!(total > 0, "no dense name index found in the corpus files");
    }

    #[test]
    fn rejects_bad_headers() {
        let mut h = b"BTHD\0\x05".to_vec();
        h.extend_from_slice(&512u32.to_le_bytes());
        h.extend_from_slice(&11u16.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(&[100, 40]);
        h.extend_from_slice(&u64::MAX.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(&0u64.to_le_bytes());
        let sum = lookup3(&h);
        h.extend_from_slice(&sum.to_le_bytes());
        let mut file = h.clone();
        file.resize(4096, 0);
        // Empty tree: no records, no error.
        let mut n = 0;
        assert_eq!(
            walk_records(&file, S8, 0, &mut |_| {
                n += 1;
                Ok(())
            })
            .unwrap(),
            5
        );
        assert_eq!(n, 0);
        // Bad checksum.
        let mut bad = file.clone();
        bad[8] = 1;
        assert!(V2Header::read(&bad, S8, 0).is_err());
        // Record size 0 / node too small, with valid checksums.
        for (at, val) in [(10usize, [0u8, 0]), (6, [5, 0])] {
            let mut b = h[..h.len() - 4].to_vec();
            b[at..at + 2].copy_from_slice(&val);
            if at == 6 {
                b[6..10].copy_from_slice(&5u32.to_le_bytes());
            }
            let sum = lookup3(&b);
            b.extend_from_slice(&sum.to_le_bytes());
            b.resize(4096, 0);
            assert!(V2Header::read(&b, S8, 0).is_err());
        }
        // Records that are too short.
        assert!(LinkNameRecord::parse(&[0; 10]).is_err());
        assert!(AttrRecord::parse_name(&[0; 16]).is_err());
        assert!(AttrRecord::parse_creation(&[0; 13]).is_ok());
        assert!(ChunkIndexRecord::parse(&[0; 16], S8, 2, None).is_err());
        let r = ChunkIndexRecord::parse(&[1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0], S8, 1, None).unwrap();
        assert_eq!((r.addr, r.scaled_offsets), (1, vec![7]));
    }
}
