//! Version 1 B-trees (signature `TREE`, spec III.A.1) and symbol table nodes (`SNOD`,
//! spec III.B): the member index of old-style groups (node type 0) and the chunk index of
//! chunked datasets with layout message versions 1–3 (node type 1).
//!
//! Nodes are read with exactly the bytes their "entries used" count needs (the node capacity
//! 2K is not known here); walks are depth-bounded, check that each child sits one level
//! below its parent, and refuse a node reached twice.

use std::collections::HashSet;

use bytes::Bytes;

use crate::hdf5::util::{check_signature, check_sizes, is_undefined, read_rel};
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;
use crate::io::ReadAt;

const NODE: &str = "v1 B-tree node";
const SNOD: &str = "symbol table node";

/// Deepest tree accepted.
const MAX_LEVEL: u8 = 64;
/// Largest dataset rank + 1 (HDF5 allows 32 dimensions).
const MAX_RANK_PLUS_1: usize = 33;

/// One entry of a symbol table node (spec III.C).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SymbolTableEntry {
    /// Offset of the link name in the group's local heap.
    pub link_name_offset: u64,
    /// Relative address of the object header.
    pub object_header_addr: u64,
    /// Cache type (0: nothing cached, 1: group B-tree/heap addresses, 2: soft link offset).
    pub cache_type: u32,
    /// Scratch-pad space.
    pub scratch: [u8; 16],
}

/// One chunk of a type 1 (raw data chunk) B-tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChunkRecord {
    /// Stored (possibly filtered) size in bytes.
    pub size: u32,
    /// Filter mask: bit i set means filter i was not applied.
    pub filter_mask: u32,
    /// Element offsets of the chunk's first element, one per dataset dimension (the
    /// trailing element-size dimension of the key is dropped).
    pub offsets: Vec<u64>,
    /// Relative address of the chunk.
    pub addr: u64,
}

/// A parsed node: level, keys (entries + 1, raw) and children (entries).
struct Node {
    level: u8,
    keys: Vec<Bytes>,
    children: Vec<u64>,
}

fn read_node(src: &dyn ReadAt, sizes: Sizes, addr: u64, node_type: u8, key_size: u64) -> Result<Node, Hdf5Error> {
    let o = u64::from(sizes.offset);
    let head_len = 8 + 2 * o;
    let (abs, head) = read_rel(src, sizes, addr, head_len, NODE)?;
    check_sizes(sizes, NODE, abs)?;
    let mut c = Cursor::new(&head, abs, NODE);
    check_signature(c.bytes(4)?, b"TREE", NODE, abs)?;
    let ty = c.u8()?;
    if ty != node_type {
        return Err(Hdf5Error::corrupt(
            NODE,
            abs,
            format!("node type {ty}, expected {node_type}"),
        ));
    }
    let level = c.u8()?;
    let entries = u64::from(c.u16()?);
    // Keys and children: entries + 1 keys interleaved with `entries` children. Bounded:
    // entries ≤ 65535 and read_rel refuses ranges past the end of the file.
    let body_len = (entries + 1) * key_size + entries * o;
    let body_addr = addr
        .checked_add(head_len)
        .ok_or_else(|| Hdf5Error::corrupt(NODE, abs, "address overflow"))?;
    let (babs, body) = read_rel(src, sizes, body_addr, body_len, NODE).map_err(|e| match e {
        Hdf5Error::Corrupt { .. } | Hdf5Error::Read { .. } => Hdf5Error::corrupt(
            NODE,
            abs,
            format!("{entries} entries of {key_size}-byte keys run past the end of the file"),
        ),
        e => e,
    })?;
    let mut c = Cursor::new(&body, babs, NODE);
    let mut keys = Vec::with_capacity(entries as usize + 1);
    let mut children = Vec::with_capacity(entries as usize);
    let ks = key_size as usize;
    for i in 0..=entries {
        let start = c.pos();
        c.skip(ks)?;
        keys.push(body.slice(start..start + ks));
        if i < entries {
            let child = c.uint(o as usize)?;
            if is_undefined(sizes, child) {
                return Err(Hdf5Error::corrupt(
                    NODE,
                    abs,
                    format!("child {i} has the undefined address"),
                ));
            }
            children.push(child);
        }
    }
    Ok(Node { level, keys, children })
}

/// Callback for a leaf's (key, child address) pair.
type LeafVisitor<'a> = dyn FnMut(&[u8], u64) -> Result<(), Hdf5Error> + 'a;

/// Depth-first walk over the leaves' (key, child) pairs in order.
fn walk(
    src: &dyn ReadAt,
    sizes: Sizes,
    addr: u64,
    node_type: u8,
    key_size: u64,
    f: &mut LeafVisitor<'_>,
) -> Result<(), Hdf5Error> {
    let mut visited = HashSet::new();
    walk_node(src, sizes, addr, node_type, key_size, None, &mut visited, f)
}

#[allow(clippy::too_many_arguments)]
fn walk_node(
    src: &dyn ReadAt,
    sizes: Sizes,
    addr: u64,
    node_type: u8,
    key_size: u64,
    expected_level: Option<u8>,
    visited: &mut HashSet<u64>,
    f: &mut LeafVisitor<'_>,
) -> Result<(), Hdf5Error> {
    if !visited.insert(addr) {
        return Err(Hdf5Error::corrupt(NODE, addr, "node reached twice (cycle)"));
    }
    let node = read_node(src, sizes, addr, node_type, key_size)?;
    if node.level > MAX_LEVEL {
        return Err(Hdf5Error::Limit(format!(
            "v1 B-tree node at {addr:#x} has level {}",
            node.level
        )));
    }
    if let Some(l) = expected_level {
        if node.level != l {
            return Err(Hdf5Error::corrupt(
                NODE,
                addr,
                format!("level {}, expected {l}", node.level),
            ));
        }
    }
    // The children are read one after another below; say so first, so a warming pass fetches
    // them together (inner nodes are about this node's size; symbol table nodes are small).
    let hint_len = match (node.level, node_type) {
        (0, 0) => Some(1024),
        (0, _) => None, // chunks: data, not metadata
        _ => Some(
            (8 + 2 * u64::from(sizes.offset))
                .saturating_add((node.keys.len() as u64).saturating_mul(key_size))
                .saturating_add((node.children.len() as u64).saturating_mul(u64::from(sizes.offset))),
        ),
    };
    if let Some(len) = hint_len {
        let ranges: Vec<(u64, u64)> = node
            .children
            .iter()
            .filter_map(|&c| sizes.base.checked_add(c).map(|a| (a, len)))
            .collect();
        src.hint(&ranges);
    }
    for (key, &child) in node.keys.iter().zip(&node.children) {
        if node.level == 0 {
            f(key, child)?;
        } else {
            walk_node(src, sizes, child, node_type, key_size, Some(node.level - 1), visited, f)?;
        }
    }
    Ok(())
}

/// Visit the symbol table node addresses (leaf children) of the group B-tree (type 0) at
/// relative address `addr`, in name order.
pub(crate) fn walk_group_nodes(
    src: &dyn ReadAt,
    sizes: Sizes,
    addr: u64,
    f: &mut dyn FnMut(u64) -> Result<(), Hdf5Error>,
) -> Result<(), Hdf5Error> {
    walk(src, sizes, addr, 0, sizes.length.into(), &mut |_, child| f(child))
}

/// Read the symbol table node at relative address `addr`.
pub(crate) fn read_symbol_table_node(
    src: &dyn ReadAt,
    sizes: Sizes,
    addr: u64,
) -> Result<Vec<SymbolTableEntry>, Hdf5Error> {
    let (abs, head) = read_rel(src, sizes, addr, 8, SNOD)?;
    check_sizes(sizes, SNOD, abs)?;
    let mut c = Cursor::new(&head, abs, SNOD);
    check_signature(c.bytes(4)?, b"SNOD", SNOD, abs)?;
    let version = c.u8()?;
    if version != 1 {
        return Err(Hdf5Error::corrupt(SNOD, abs, format!("unknown version {version}")));
    }
    c.skip(1)?;
    let n = u64::from(c.u16()?);
    let o = usize::from(sizes.offset);
    let entry_size = 2 * o as u64 + 24;
    let (babs, body) = read_rel(src, sizes, addr.saturating_add(8), n * entry_size, SNOD)?;
    let mut c = Cursor::new(&body, babs, SNOD);
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let link_name_offset = c.uint(o)?;
        let object_header_addr = c.uint(o)?;
        let cache_type = c.u32()?;
        c.skip(4)?;
        let mut scratch = [0u8; 16];
        scratch.copy_from_slice(c.bytes(16)?);
        out.push(SymbolTableEntry {
            link_name_offset,
            object_header_addr,
            cache_type,
            scratch,
        });
    }
    Ok(out)
}

/// All symbol table entries of an old-style group whose B-tree is at `btree_addr`, in name
/// order. Names are offsets into the group's local heap.
pub(crate) fn symbol_table_entries(
    src: &dyn ReadAt,
    sizes: Sizes,
    btree_addr: u64,
) -> Result<Vec<SymbolTableEntry>, Hdf5Error> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    walk_group_nodes(src, sizes, btree_addr, &mut |snod| {
        if !seen.insert(snod) {
            return Err(Hdf5Error::corrupt(SNOD, snod, "symbol table node listed twice"));
        }
        out.extend(read_symbol_table_node(src, sizes, snod)?);
        Ok(())
    })?;
    Ok(out)
}

/// Visit every chunk of the chunk B-tree (type 1) at relative address `addr` of a dataset of
/// rank `rank_plus_1 - 1`, in chunk order.
pub(crate) fn walk_chunk_nodes(
    src: &dyn ReadAt,
    sizes: Sizes,
    addr: u64,
    rank_plus_1: usize,
    f: &mut dyn FnMut(ChunkRecord) -> Result<(), Hdf5Error>,
) -> Result<(), Hdf5Error> {
    if !(1..=MAX_RANK_PLUS_1).contains(&rank_plus_1) {
        return Err(Hdf5Error::corrupt(
            NODE,
            addr,
            format!("chunk key with {rank_plus_1} dimensions"),
        ));
    }
    let key_size = 8 + 8 * rank_plus_1 as u64;
    walk(src, sizes, addr, 1, key_size, &mut |key, child| {
        let mut c = Cursor::new(key, 0, "v1 B-tree chunk key");
        let size = c.u32()?;
        let filter_mask = c.u32()?;
        let mut offsets = (0..rank_plus_1).map(|_| c.u64()).collect::<Result<Vec<_>, _>>()?;
        offsets.pop();
        f(ChunkRecord {
            size,
            filter_mask,
            offsets,
            addr: child,
        })
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::hdf5::heap::local::LocalHeap;
    use crate::hdf5::heap::test_util;
    use crate::hdf5::S8;

    /// Addresses of the type `ty` TREE nodes that are no other node's child (tree roots).
    fn roots(data: &Bytes, ty: u8, key_size: u64) -> Vec<u64> {
        let nodes: Vec<u64> = test_util::find_all(data, b"TREE")
            .into_iter()
            .filter(|&a| data.get(a as usize + 4) == Some(&ty))
            .collect();
        let mut children = HashSet::new();
        for &a in &nodes {
            if let Ok(n) = read_node(data, S8, a, ty, key_size) {
                if n.level > 0 {
                    children.extend(n.children);
                }
            }
        }
        nodes.into_iter().filter(|a| !children.contains(a)).collect()
    }

    const LISTING: &str = r#"
import h5py, json, sys
f = h5py.File(sys.argv[1], 'r')
groups, chunks = {}, []
def visit(name, obj):
    if isinstance(obj, h5py.Group):
        groups[name] = sorted(obj.keys())
    elif obj.chunks is not None:
        n = obj.id.get_num_chunks()
        if n:
            cs = []
            for i in range(n):
                ci = obj.id.get_chunk_info(i)
                cs.append(list(ci.chunk_offset) + [ci.filter_mask, ci.byte_offset, ci.size])
            chunks.append({'name': name, 'rank': obj.ndim, 'chunks': sorted(cs)})
visit('/', f)
f.visititems(visit)
print(json.dumps({'groups': groups, 'chunks': chunks}))
"#;

    #[test]
    fn corpus_groups_and_chunks_match_h5py() {
        let Some(dir) = test_util::corpus() else {
            return;
        };
        let files = [
            "gdal-autotest/autotest/gdrivers/data/netcdf/test_ogr_nc4.nc",
            "gdal-autotest/autotest/gdrivers/data/netcdf/trmm-nc4z.nc",
            "gdal-autotest/autotest/gdrivers/data/bag/test_vr.bag",
            "gdal-autotest/autotest/gdrivers/data/hdf5/groups.h5",
            "gdal-autotest/autotest/gdrivers/data/hdf5/metadata.h5",
        ];
        let (mut n_groups, mut n_datasets) = (0, 0);
        for name in files {
            let path = dir.join(name);
            let Ok(data) = std::fs::read(&path) else {
                eprintln!("skipping missing {}", path.display());
                continue;
            };
            let data = Bytes::from(data);
            let Some(out) = test_util::run_python(LISTING, &[path.to_str().unwrap()]) else {
                return;
            };
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();

            // Groups: each group B-tree's names (through some local heap) are a group's members.
            let groups: Vec<BTreeSet<String>> = v["groups"]
                .as_object()
                .unwrap()
                .values()
                .map(|ks| {
                    ks.as_array()
                        .unwrap()
                        .iter()
                        .map(|k| k.as_str().unwrap().to_string())
                        .collect()
                })
                .collect();
            let heaps: Vec<LocalHeap> = test_util::find_all(&data, b"HEAP")
                .into_iter()
                .filter_map(|a| LocalHeap::read(&data, S8, a).ok())
                .collect();
            for root in roots(&data, 0, 8) {
                let entries = symbol_table_entries(&data, S8, root).unwrap_or_else(|e| panic!("{name} {root:#x}: {e}"));
                let ok = heaps.iter().any(|h| {
                    let names: Option<BTreeSet<String>> =
                        entries.iter().map(|e| h.get_string(e.link_name_offset).ok()).collect();
                    names.is_some_and(|n| n.len() == entries.len() && groups.contains(&n))
                });
                assert!(ok, "{name}: group B-tree at {root:#x} matches no group");
                n_groups += 1;
            }

            // Chunks: each chunked dataset's chunks are exactly one chunk B-tree's records.
            let roots1: BTreeMap<usize, Vec<u64>> = (1..=MAX_RANK_PLUS_1)
                .map(|r| (r, roots(&data, 1, 8 + 8 * r as u64)))
                .collect();
            for ds in v["chunks"].as_array().unwrap() {
                let rank = ds["rank"].as_u64().unwrap() as usize;
                let want: Vec<Vec<u64>> = ds["chunks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect())
                    .collect();
                let found = roots1[&(rank + 1)].iter().any(|&root| {
                    let mut got = Vec::new();
                    let r = walk_chunk_nodes(&data, S8, root, rank + 1, &mut |c| {
                        let mut row = c.offsets.clone();
                        row.extend([u64::from(c.filter_mask), c.addr, u64::from(c.size)]);
                        got.push(row);
                        Ok(())
                    });
                    got.sort();
                    r.is_ok() && got == want
                });
                assert!(found, "{name}: no chunk B-tree matches dataset {}", ds["name"]);
                n_datasets += 1;
            }
        }
        eprintln!("{n_groups} group B-trees and {n_datasets} chunked datasets match h5py");
    }

    #[test]
    fn generated_deep_chunk_tree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunks.h5");
        // 3000 chunks: the chunk B-tree (K = 32, 64 entries per node) has two levels.
        let script = r#"
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    d = f.create_dataset('d', shape=(60, 50), chunks=(1, 1), dtype='i1')
    d[...] = 1
"#;
        if test_util::run_python(script, &[path.to_str().unwrap()]).is_none() {
            return;
        }
        let data = Bytes::from(std::fs::read(&path).unwrap());
        let rs = roots(&data, 1, 8 + 8 * 3);
        assert_eq!(rs.len(), 1);
        let mut seen = BTreeSet::new();
        walk_chunk_nodes(&data, S8, rs[0], 3, &mut |c| {
            assert_eq!(c.size, 1);
            assert!(seen.insert(c.offsets));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 3000);
        assert!(seen.contains(&vec![59, 49]));

        // A cycle (a child pointing back to the root) is refused, as is a wrong rank.
        let root = read_node(&data, S8, rs[0], 1, 32).unwrap();
        assert!(root.level >= 1);
        let mut bad = data.to_vec();
        let first_child_at = rs[0] as usize + 24 + 32;
        bad[first_child_at..first_child_at + 8].copy_from_slice(&rs[0].to_le_bytes());
        let e = walk_chunk_nodes(&Bytes::from(bad), S8, rs[0], 3, &mut |_| Ok(())).unwrap_err();
        assert!(
            e.to_string().contains("twice") || e.to_string().contains("level"),
            "{e}"
        );
        assert!(walk_chunk_nodes(&data, S8, rs[0], 0, &mut |_| Ok(())).is_err());
        assert!(walk_chunk_nodes(&data, S8, rs[0], 40, &mut |_| Ok(())).is_err());
    }

    #[test]
    fn rejects_truncated_and_wrong_type() {
        let mut node = b"TREE\x00\x00".to_vec();
        node.extend_from_slice(&1000u16.to_le_bytes());
        node.extend_from_slice(&[0xFF; 16]);
        node.extend_from_slice(&[0; 64]);
        assert!(walk_group_nodes(&node, S8, 0, &mut |_| Ok(())).is_err());
        assert!(walk_chunk_nodes(&node, S8, 0, 2, &mut |_| Ok(())).is_err());
        node[6..8].copy_from_slice(&0u16.to_le_bytes());
        let mut n = 0;
        walk_group_nodes(&node, S8, 0, &mut |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 0);
        assert!(read_symbol_table_node(&node, S8, 0).is_err());
    }
}
