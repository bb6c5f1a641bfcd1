//! Virtual datasets (layout class 3): the mapping list (spec III.F, "Global Heap Block for
//! Virtual Datasets") and the rule that turns mappings into chunk references.
//!
//! A mapping is referenced only when it moves whole chunks: its source and virtual selections
//! are regular hyperslabs (everything, one block, strided blocks) holding the same elements in
//! the same order (equal extents once axes of extent 1 are dropped), aligned with the source's
//! chunk grid on both sides ([`chunk_shape`]). Each source chunk then becomes one chunk of the
//! virtual dataset, whose chunk grid is the sources' grid (1 along axes a selection spans
//! once). Everything else is refused with the reason.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::io::cursor::Cursor;
use crate::model::{Array, ChunkRef, Codec, FillValue, Group, Node, SourceId};

use super::checksum::lookup3;
use super::selection::{self, RegularAxis, Selection};
use super::walk::{refuse, Refuse, Walker};
use super::{Hdf5Error, Sizes};

const W: &str = "virtual dataset mapping list";

/// Most mappings one virtual dataset may list.
pub(crate) const MAX_MAPPINGS: u64 = 1 << 16;
/// Most chunks one mapping may move.
pub(crate) const MAX_MAPPED_CHUNKS: u64 = 1 << 22;
/// Most chunk positions the mappings of one file's virtual datasets may visit together (a
/// hostile list repeats a large mapping many times).
pub(crate) const MAX_MAPPED_CHUNKS_PER_FILE: u64 = 1 << 24;

/// Entry flags of mapping list version 1 (names shared with an earlier entry, same file).
mod flags {
    pub(super) const FILE_SHARED: u8 = 1;
    pub(super) const DATASET_SHARED: u8 = 2;
    pub(super) const SAME_FILE: u8 = 4;
}

/// One mapping: the `source` selection of dataset `dataset` in file `file` (`"."`: this file)
/// appears at the `virt` selection of the virtual dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapping {
    /// Source file name as stored (relative names are relative to the virtual dataset's file).
    pub file: String,
    /// Source dataset path in that file.
    pub dataset: String,
    /// Selection in the source dataset.
    pub source: Selection,
    /// Selection in the virtual dataset.
    pub virt: Selection,
}

/// Decode a mapping list (the global heap object's bytes; `base` its file offset).
///
/// # Errors
/// Unknown version or flags, truncated entries, names that do not end, selections that do
/// not decode, more than [`MAX_MAPPINGS`] entries, a checksum mismatch.
pub(crate) fn parse(data: &[u8], base: u64, sizes: Sizes) -> Result<Vec<Mapping>, Hdf5Error> {
    let bad = |c: &Cursor<'_>, why: String| Hdf5Error::corrupt(W, c.offset(), why);
    let mut c = Cursor::new(data, base, W);
    let version = c.u8()?;
    if version > 1 {
        return Err(bad(&c, format!("version {version}")));
    }
    let n = c.uint(sizes.length.into())?;
    // Each entry holds at least two selection headers (8 bytes each).
    if n > MAX_MAPPINGS || n.saturating_mul(16) > c.remaining() as u64 {
        return Err(bad(&c, format!("{n} mappings do not fit the list or the bound")));
    }
    let mut out: Vec<Mapping> = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    for _ in 0..n {
        let f = if version >= 1 { c.u8()? } else { 0 };
        if f & !(flags::FILE_SHARED | flags::DATASET_SHARED | flags::SAME_FILE) != 0 {
            return Err(bad(&c, format!("unknown mapping flags {f:#04x}")));
        }
        let file = if f & flags::SAME_FILE != 0 {
            ".".to_string()
        } else if f & flags::FILE_SHARED != 0 {
            earlier(&mut c, sizes, &out, |m| &m.file)?
        } else {
            c_string(&mut c, data)?
        };
        let dataset = if f & flags::DATASET_SHARED != 0 {
            earlier(&mut c, sizes, &out, |m| &m.dataset)?
        } else {
            c_string(&mut c, data)?
        };
        let source = selection::parse_from(&mut c, false)?;
        let virt = selection::parse_from(&mut c, false)?;
        out.push(Mapping {
            file,
            dataset,
            source,
            virt,
        });
    }
    let end = c.pos();
    let stored = c.u32()?;
    let computed = lookup3(&data[..end]);
    if stored != computed {
        return Err(bad(
            &c,
            format!("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"),
        ));
    }
    Ok(out)
}

/// A NUL-terminated name at the cursor (`data` is the cursor's buffer).
fn c_string(c: &mut Cursor<'_>, data: &[u8]) -> Result<String, Hdf5Error> {
    let rest = data.get(c.pos()..).unwrap_or_default();
    let len = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| Hdf5Error::corrupt(W, c.offset(), "name without a terminating NUL"))?;
    let s = String::from_utf8_lossy(c.bytes(len)?).into_owned();
    c.skip(1)?;
    Ok(s)
}

/// A name shared with an earlier entry: that entry's index.
fn earlier(
    c: &mut Cursor<'_>,
    sizes: Sizes,
    out: &[Mapping],
    name: impl Fn(&Mapping) -> &String,
) -> Result<String, Hdf5Error> {
    let i = c.uint(sizes.length.into())?;
    usize::try_from(i)
        .ok()
        .and_then(|i| out.get(i))
        .map(|m| name(m).clone())
        .ok_or_else(|| Hdf5Error::corrupt(W, c.offset(), format!("shared name of entry {i}, not an earlier one")))
}

/// What a virtual dataset's mappings give it: chunk shape, codecs, chunks.
type Mapped = (Vec<u64>, Vec<Codec>, BTreeMap<Vec<u64>, ChunkRef>);

/// A walked source file: its root and the objects refused in it.
pub(crate) type WalkedFile = Arc<(Group, Vec<crate::model::Refusal>)>;

/// A selection as a regular hyperslab, one [`RegularAxis`] per axis (everything and a single
/// block are regular too); `Ok(None)` for an empty selection. Its elements, in libhdf5's
/// row-major order, are those of a dense array of `count × block` per axis, position `p`
/// of an axis being element `start + (p / block) × stride + p % block`.
///
/// # Errors
/// Points, irregular unions of blocks, overlapping blocks, a rank other than the dataset's, a
/// selection outside it.
pub(crate) fn axes(sel: &Selection, shape: &[u64]) -> Result<Option<Vec<RegularAxis>>, String> {
    let one = |start: u64, n: u64| RegularAxis {
        start,
        stride: 1,
        count: 1,
        block: n,
    };
    let axes = match sel {
        Selection::All => shape.iter().map(|&d| one(0, d)).collect(),
        Selection::None => return Ok(None),
        Selection::Points(p) => return Err(format!("selects {} single points, not a regular hyperslab", p.len())),
        Selection::Blocks(b) if b.len() != 1 => {
            return Err(format!("selects {} blocks that are not a regular hyperslab", b.len()))
        }
        Selection::Blocks(b) => b[0].0.iter().zip(&b[0].1).map(|(&s, &e)| one(s, e - s + 1)).collect(),
        Selection::Regular(a) => a.clone(),
    };
    let axes: Vec<RegularAxis> = axes;
    if axes.len() != shape.len() {
        return Err(format!(
            "a selection of rank {} in a dataset of rank {}",
            axes.len(),
            shape.len()
        ));
    }
    for (a, &d) in axes.iter().zip(shape) {
        if a.count > 1 && a.stride < a.block {
            return Err("a hyperslab whose blocks overlap".into());
        }
        let end = (a.count - 1)
            .checked_mul(a.stride)
            .and_then(|x| x.checked_add(a.start))
            .and_then(|x| x.checked_add(a.block));
        if end.is_none_or(|e| e > d) {
            return Err("a selection that extends past the dataset".into());
        }
    }
    Ok(Some(axes))
}

/// Elements of the dense array an axis stands for.
fn extent(a: &RegularAxis) -> u64 {
    a.count * a.block
}

/// The element at position `p` of an axis.
fn element(a: &RegularAxis, p: u64) -> u64 {
    a.start + (p / a.block) * a.stride + p % a.block
}

/// Axes whose dense extent is not 1 (the ones that pair up between source and virtual).
fn wide(axes: &[RegularAxis]) -> Vec<usize> {
    (0..axes.len()).filter(|&d| extent(&axes[d]) != 1).collect()
}

/// The source side of a mapping: the source dataset's shape, chunk grid and chunks.
pub(crate) struct SourceGrid<'a> {
    /// Shape of the source dataset.
    pub shape: &'a [u64],
    /// Its chunk shape.
    pub chunk_shape: &'a [u64],
    /// Its chunks.
    pub chunks: &'a BTreeMap<Vec<u64>, ChunkRef>,
}

/// The chunk shape of the virtual dataset (shaped `v_shape`) that moves the source selection
/// `s` whole chunks at a time to the virtual selection `v`.
///
/// Source and virtual selection hold the same dense array once axes of extent 1 are dropped;
/// along each remaining axis pair, with `c` the source's chunk length, both sides start on a
/// multiple of `c` and, where they have several blocks, have blocks and strides that are
/// multiples of `c`; a run that ends inside a chunk is one block ending at the edge of both
/// datasets. Axes of extent 1 take one element: the source's chunks are 1 long there.
///
/// # Errors
/// Why the mapping does not move whole chunks.
pub(crate) fn chunk_shape(
    v_shape: &[u64],
    v: &[RegularAxis],
    src: &SourceGrid<'_>,
    s: &[RegularAxis],
) -> Result<Vec<u64>, String> {
    if src.chunk_shape.len() != src.shape.len() || src.chunk_shape.contains(&0) {
        return Err(format!(
            "the source's chunk shape {:?} does not fit its shape",
            src.chunk_shape
        ));
    }
    let (s_axes, v_axes) = (wide(s), wide(v));
    let s_ext: Vec<u64> = s_axes.iter().map(|&d| extent(&s[d])).collect();
    let v_ext: Vec<u64> = v_axes.iter().map(|&d| extent(&v[d])).collect();
    if s_ext != v_ext {
        return Err(format!(
            "the source selection ({s_ext:?} elements per axis) and the virtual one ({v_ext:?}) differ in shape"
        ));
    }
    if let Some(d) = (0..s.len()).find(|&d| extent(&s[d]) == 1 && src.chunk_shape[d] != 1) {
        return Err(format!(
            "the source selection takes one element along axis {d}, whose chunks are {} long",
            src.chunk_shape[d]
        ));
    }
    let aligned = |a: &RegularAxis, c: u64| {
        a.start.is_multiple_of(c) && (a.count == 1 || (a.block.is_multiple_of(c) && a.stride.is_multiple_of(c)))
    };
    let mut vc = vec![1u64; v_shape.len()];
    for (&sd, &vd) in s_axes.iter().zip(&v_axes) {
        let c = src.chunk_shape[sd];
        let (sa, va) = (&s[sd], &v[vd]);
        if !aligned(sa, c) || !aligned(va, c) {
            return Err(format!(
                "the selection cuts chunks (source axis {sd}: start {}, stride {}, block {}; virtual axis {vd}: \
                 start {}, stride {}, block {}; chunks of {c})",
                sa.start, sa.stride, sa.block, va.start, va.stride, va.block
            ));
        }
        let e = extent(sa);
        let at_edge = |a: &RegularAxis, d: u64| a.count == 1 && a.start + a.block == d;
        let whole = e.is_multiple_of(c) || (at_edge(sa, src.shape[sd]) && at_edge(va, v_shape[vd]));
        if !whole {
            return Err(format!(
                "the selection ends inside a chunk (axis {sd}: {e} elements, chunks of {c}) away from the datasets' edges"
            ));
        }
        vc[vd] = c;
    }
    Ok(vc)
}

/// Move the chunks of the source selection to the virtual one (as [`chunk_shape`] allowed),
/// each through `point` (which gives it the source's id). Returns whether a chunk of the
/// selection was never written in the source.
///
/// `budget` is the number of chunk positions still allowed; this mapping's are taken from it.
///
/// # Errors
/// A virtual chunk another mapping already filled, more than [`MAX_MAPPED_CHUNKS`] chunks, or
/// more than `budget`.
pub(crate) fn move_chunks(
    v_chunk: &[u64],
    v: &[RegularAxis],
    src: &SourceGrid<'_>,
    s: &[RegularAxis],
    point: impl Fn(&ChunkRef) -> ChunkRef,
    out: &mut BTreeMap<Vec<u64>, ChunkRef>,
    budget: &mut u64,
) -> Result<bool, String> {
    let (s_axes, v_axes) = (wide(s), wide(v));
    let per_axis: Vec<u64> = s_axes
        .iter()
        .map(|&d| extent(&s[d]).div_ceil(src.chunk_shape[d]))
        .collect();
    let total = per_axis
        .iter()
        .try_fold(1u64, |a, &n| a.checked_mul(n))
        .filter(|&n| n <= MAX_MAPPED_CHUNKS)
        .ok_or_else(|| format!("a mapping of more than {MAX_MAPPED_CHUNKS} chunks"))?;
    *budget = budget.checked_sub(total).ok_or_else(|| {
        format!("the file's virtual dataset mappings visit more than {MAX_MAPPED_CHUNKS_PER_FILE} chunks")
    })?;
    // Axes of extent 1: their one element, in chunks of 1.
    let s_first: Vec<u64> = s.iter().map(|a| a.start).collect();
    let v_first: Vec<u64> = v.iter().map(|a| a.start).collect();
    let mut missing = false;
    let mut idx = vec![0u64; per_axis.len()];
    for _ in 0..total {
        let mut sk = s_first.clone();
        let mut vk = v_first.clone();
        for (k, (&sd, &vd)) in s_axes.iter().zip(&v_axes).enumerate() {
            let p = idx[k] * src.chunk_shape[sd];
            sk[sd] = element(&s[sd], p) / src.chunk_shape[sd];
            vk[vd] = element(&v[vd], p) / v_chunk[vd];
        }
        if out.contains_key(&vk) {
            return Err(format!("mappings overlap at virtual chunk {vk:?}"));
        }
        match src.chunks.get(&sk) {
            Some(c) => {
                out.insert(vk, point(c));
            }
            None => missing = true,
        }
        for k in (0..idx.len()).rev() {
            idx[k] += 1;
            if idx[k] < per_axis[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    Ok(missing)
}

/// Most other files one HDF5 file's virtual datasets may read.
pub(crate) const MAX_SOURCE_FILES: usize = 4096;

/// A dataset path as `/a/b` (mapping lists store `a/b` or `/a/b`).
fn absolute_path(p: &str) -> String {
    format!("/{}", p.trim_matches('/'))
}

/// Why the dataset at `path` is not in a walked tree: `refused` and its reason among
/// `refusals`, else "no such dataset".
fn missing_reason(refusals: &[crate::model::Refusal], path: &str, refused: &str) -> String {
    refusals
        .iter()
        .find(|r| absolute_path(&r.path) == path)
        .map_or_else(|| "no such dataset".to_string(), |r| format!("{refused}: {}", r.reason))
}

/// An element's fill bytes, `None` for zeros (the default).
fn nonzero_fill(f: &FillValue) -> Option<&[u8]> {
    match f {
        FillValue::Bytes(b) if b.iter().any(|&x| x != 0) => Some(b),
        _ => None,
    }
}

impl Walker<'_> {
    /// The source id of another file's location, recorded on first use.
    pub(super) fn source_id(&mut self, location: &str) -> Result<SourceId, Refuse> {
        let i = match self.other_sources.iter().position(|s| s == location) {
            Some(i) => i,
            None => {
                if self.other_sources.len() >= MAX_SOURCE_FILES {
                    return Err(refuse(
                        "resource limit",
                        format!("chunks in more than {MAX_SOURCE_FILES} other files"),
                    ));
                }
                self.other_sources.push(location.to_string());
                self.other_sources.len() - 1
            }
        };
        u32::try_from(i + 1)
            .map(SourceId)
            .map_err(|_| refuse("resource limit", "too many other files"))
    }

    /// Give the virtual datasets mapped as shells their chunks; a dataset whose mappings do
    /// not move whole chunks is materialized ([`Hdf5Options::materialize`](super::Hdf5Options))
    /// or removed and refused.
    pub(super) fn resolve_virtual(&mut self, root: &mut Group) {
        let pending = std::mem::take(&mut self.pending_virtual);
        let virtual_paths: Vec<String> = pending.iter().map(|(p, _)| absolute_path(p)).collect();
        for (path, maps) in pending {
            let Some(shell) = root.array(&path).cloned() else {
                continue;
            };
            let mapped = self.virtual_chunks(root, &shell, &maps, &virtual_paths);
            let result = match mapped {
                Ok((chunk_shape, codecs, chunks)) => Ok(Array {
                    chunk_shape,
                    codecs,
                    chunks,
                    ..shell
                }),
                Err(why) => {
                    let attributes = shell.attributes;
                    self.materialize_with(&path, why, move |_| attributes)
                }
            };
            match result {
                Ok(a) => {
                    if let Some(Node::Array(slot)) = root.node_mut(&path) {
                        *slot = a;
                    }
                }
                Err(why) => {
                    root.remove(&path);
                    self.refusal(&path, why);
                }
            }
        }
    }

    /// Chunk shape, codecs and chunks of the virtual dataset `shell` from its mappings.
    fn virtual_chunks(
        &mut self,
        root: &Group,
        shell: &Array,
        maps: &[Mapping],
        virtual_paths: &[String],
    ) -> Result<Mapped, Refuse> {
        const F: &str = "virtual dataset mapping";
        let mut grid: Option<Vec<u64>> = None;
        let mut codecs: Option<Vec<Codec>> = None;
        let mut out = BTreeMap::new();
        for (i, m) in maps.iter().enumerate() {
            let what = format!("mapping {i} ({}:{})", m.file, m.dataset);
            let Some(v) =
                axes(&m.virt, &shell.shape).map_err(|e| refuse(F, format!("{what}: the virtual selection {e}")))?
            else {
                continue;
            };
            let (src, sid) = if m.file == "." {
                let p = absolute_path(&m.dataset);
                if virtual_paths.contains(&p) {
                    return Err(refuse(
                        "virtual dataset layout",
                        format!("{what}: the source is itself a virtual dataset"),
                    ));
                }
                let a = root.array(&p).ok_or_else(|| {
                    let why = missing_reason(&self.refusals, &p, "refused");
                    refuse("virtual dataset source", format!("{what}: {why}"))
                })?;
                (a.clone(), SourceId(0))
            } else {
                self.other_array(&m.file, &m.dataset, &what)?
            };
            if src.data_type != shell.data_type || src.codecs.first() != shell.codecs.first() {
                return Err(refuse(
                    F,
                    format!("{what}: the source's type differs from the virtual dataset's (libhdf5 converts it)"),
                ));
            }
            if codecs.as_ref().is_some_and(|c| *c != src.codecs) {
                return Err(refuse(F, format!("{what}: the sources have different codecs")));
            }
            let Some(s) =
                axes(&m.source, &src.shape).map_err(|e| refuse(F, format!("{what}: the source selection {e}")))?
            else {
                continue;
            };
            let sg = SourceGrid {
                shape: &src.shape,
                chunk_shape: &src.chunk_shape,
                chunks: &src.chunks,
            };
            let vc = chunk_shape(&shell.shape, &v, &sg, &s).map_err(|e| refuse(F, format!("{what}: {e}")))?;
            if let Some(g) = &grid {
                if *g != vc {
                    return Err(refuse(
                        F,
                        format!("{what}: chunks {vc:?}, an earlier mapping's {g:?} (two chunk grids)"),
                    ));
                }
            }
            let point = |c: &ChunkRef| match c {
                ChunkRef::Virtual { offset, length, .. } if sid != SourceId(0) => ChunkRef::Virtual {
                    source: sid,
                    offset: *offset,
                    length: *length,
                },
                other => other.clone(),
            };
            let missing = move_chunks(&vc, &v, &sg, &s, point, &mut out, &mut self.mapped_chunks_left)
                .map_err(|e| refuse(F, format!("{what}: {e}")))?;
            if missing && nonzero_fill(&src.fill_value) != nonzero_fill(&shell.fill_value) {
                return Err(refuse(
                    F,
                    format!(
                        "{what}: the source has unwritten chunks and a fill value other than the virtual dataset's"
                    ),
                ));
            }
            grid = Some(vc);
            codecs = Some(src.codecs.clone());
        }
        let chunk_shape = grid.unwrap_or_else(|| shell.shape.iter().map(|&d| d.max(1)).collect());
        Ok((chunk_shape, codecs.unwrap_or_else(|| shell.codecs.clone()), out))
    }

    /// Dataset `dataset` of the file a mapping names, walked once per file (its own virtual
    /// datasets and external files not followed), with the file's source id.
    fn other_array(&mut self, file: &str, dataset: &str, what: &str) -> Result<(Array, SourceId), Refuse> {
        const F: &str = "virtual dataset source";
        let files = self.opts.other_files.clone().ok_or_else(|| {
            refuse(
                F,
                format!("{what}: another file, and this reader was given no access to other files"),
            )
        })?;
        let loc = files.resolve(file).map_err(|e| refuse(F, format!("{what}: {e}")))?;
        if !self.other_roots.contains_key(&loc) {
            if self.other_roots.len() >= MAX_SOURCE_FILES {
                return Err(refuse(
                    "resource limit",
                    format!("sources in more than {MAX_SOURCE_FILES} files"),
                ));
            }
            let walked = files.open(&loc).and_then(|src| {
                let sb = super::superblock::read(src.as_ref()).map_err(|e| e.to_string())?;
                let opts = super::Hdf5Options::default();
                let mut w = Walker::new(src.as_ref(), &sb, &opts);
                w.nested = true;
                let root = w.walk_root(&sb).map_err(|e| e.to_string())?;
                Ok(Arc::new((root, w.refusals)))
            });
            self.other_roots.insert(loc.clone(), walked);
        }
        let walked = match self.other_roots.get(&loc) {
            Some(Ok(w)) => Arc::clone(w),
            Some(Err(e)) => return Err(refuse(F, format!("{what}: {loc}: {e}"))),
            None => return Err(refuse(F, format!("{what}: {loc} not read"))),
        };
        let p = absolute_path(dataset);
        let a = walked.0.array(&p).cloned().ok_or_else(|| {
            let why = missing_reason(&walked.1, &p, "refused there");
            refuse(F, format!("{what}: {why}"))
        })?;
        Ok((a, self.source_id(&loc)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf5::S8;

    fn all() -> Vec<u8> {
        [3u32.to_le_bytes(), 1u32.to_le_bytes(), [0; 4], [0; 4]].concat()
    }

    /// A regular hyperslab selection (version 1 encoding of blocks) of one block.
    fn one_block(start: &[u32], end: &[u32]) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [2u32, 1, 0, 0, start.len() as u32, 1] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for v in start.iter().chain(end) {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    fn list(version: u8, entries: &[(Option<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut b = vec![version];
        b.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        for (f, body) in entries {
            if let Some(f) = f {
                b.push(*f);
            }
            b.extend_from_slice(body);
        }
        let sum = lookup3(&b);
        b.extend_from_slice(&sum.to_le_bytes());
        b
    }

    #[test]
    fn decodes_version_0_and_1_lists() {
        let e0 = [b"a.h5\0data\0".to_vec(), all(), one_block(&[1, 0], &[1, 9])].concat();
        let m = parse(&list(0, &[(None, e0)]), 0, S8).unwrap();
        assert_eq!(m[0].file, "a.h5");
        assert_eq!(m[0].dataset, "data");
        assert_eq!(m[0].source, Selection::All);
        assert_eq!(m[0].virt, Selection::Blocks(vec![(vec![1, 0], vec![1, 9])]));
        // Version 1: the second entry shares the first's file name; the third is this file.
        let e1 = [b"a.h5\0x\0".to_vec(), all(), all()].concat();
        let e2 = [0u64.to_le_bytes().to_vec(), b"y\0".to_vec(), all(), all()].concat();
        let e3 = [b"z\0".to_vec(), all(), all()].concat();
        let m = parse(&list(1, &[(Some(0), e1), (Some(1), e2), (Some(4), e3)]), 0, S8).unwrap();
        let names: Vec<_> = m.iter().map(|m| (m.file.as_str(), m.dataset.as_str())).collect();
        assert_eq!(names, [("a.h5", "x"), ("a.h5", "y"), (".", "z")]);
    }

    #[test]
    fn damaged_lists_are_errors() {
        let e = [b"a.h5\0data\0".to_vec(), all(), all()].concat();
        let good = list(0, &[(None, e.clone())]);
        let mut flipped = good.clone();
        flipped[12] ^= 1;
        assert!(parse(&flipped, 0, S8).unwrap_err().to_string().contains("checksum"));
        for cut in 0..good.len() {
            assert!(parse(&good[..cut], 0, S8).is_err(), "cut at {cut}");
        }
        let mut huge = good.clone();
        huge[1..9].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse(&huge, 0, S8).is_err());
        // A shared name pointing at itself; unknown flags.
        let own = [0u64.to_le_bytes().to_vec(), b"d\0".to_vec(), all(), all()].concat();
        assert!(parse(&list(1, &[(Some(1), own)]), 0, S8).is_err());
        assert!(parse(&list(1, &[(Some(8), e)]), 0, S8).is_err());
    }

    fn grid(shape: &[u64], chunk: &[u64]) -> BTreeMap<Vec<u64>, ChunkRef> {
        let n: Vec<u64> = shape.iter().zip(chunk).map(|(s, c)| s.div_ceil(*c)).collect();
        let mut out = BTreeMap::new();
        let total: u64 = n.iter().product();
        for i in 0..total {
            let mut k = vec![0; n.len()];
            let mut r = i;
            for d in (0..n.len()).rev() {
                k[d] = r % n[d];
                r /= n[d];
            }
            out.insert(k, ChunkRef::Inline(bytes::Bytes::from(i.to_le_bytes().to_vec())));
        }
        out
    }

    /// A budget of chunk positions that never runs out.
    fn unlimited() -> u64 {
        u64::MAX
    }

    /// Single-block axes from starts and extents.
    fn boxed(start: &[u64], count: &[u64]) -> Vec<RegularAxis> {
        start
            .iter()
            .zip(count)
            .map(|(&s, &n)| RegularAxis {
                start: s,
                stride: 1,
                count: 1,
                block: n,
            })
            .collect()
    }

    #[test]
    fn stacking_sources_moves_whole_chunks() {
        // Three (40, 6) sources chunked (10, 6) stacked along a new first axis: (3, 40, 6).
        let chunks = grid(&[40, 6], &[10, 6]);
        let src = SourceGrid {
            shape: &[40, 6],
            chunk_shape: &[10, 6],
            chunks: &chunks,
        };
        let mut out = BTreeMap::new();
        let s = boxed(&[0, 0], &[40, 6]);
        for i in 0..3u64 {
            let v = boxed(&[i, 0, 0], &[1, 40, 6]);
            let vc = chunk_shape(&[3, 40, 6], &v, &src, &s).unwrap();
            assert_eq!(vc, [1, 10, 6]);
            let missing = move_chunks(&vc, &v, &src, &s, |c| c.clone(), &mut out, &mut unlimited()).unwrap();
            assert!(!missing);
        }
        assert_eq!(out.len(), 12);
        assert_eq!(out[&vec![2, 3, 0]], chunks[&vec![3, 0]]);
        // A second mapping onto the same place overlaps.
        let v = boxed(&[0, 0, 0], &[1, 40, 6]);
        let err = move_chunks(&[1, 10, 6], &v, &src, &s, |c| c.clone(), &mut out, &mut unlimited()).unwrap_err();
        assert!(err.contains("overlap"));
        // The file's budget of chunk positions runs out on the third stacked source.
        let (mut out, mut budget) = (BTreeMap::new(), 11);
        for i in 0..3u64 {
            let v = boxed(&[i, 0, 0], &[1, 40, 6]);
            let r = move_chunks(&[1, 10, 6], &v, &src, &s, |c| c.clone(), &mut out, &mut budget);
            assert_eq!(r.is_err(), i == 2, "{r:?}");
        }
    }

    #[test]
    fn interleaved_frames_move_one_chunk_each() {
        // Frames (1, 4, 4) of a (5, 4, 4) source, chunked one frame each, to every second
        // frame of a (10, 4, 4) virtual dataset starting at 1.
        let chunks = grid(&[5, 4, 4], &[1, 4, 4]);
        let src = SourceGrid {
            shape: &[5, 4, 4],
            chunk_shape: &[1, 4, 4],
            chunks: &chunks,
        };
        let s = boxed(&[0, 0, 0], &[5, 4, 4]);
        let mut v = boxed(&[1, 0, 0], &[1, 4, 4]);
        v[0] = RegularAxis {
            start: 1,
            stride: 2,
            count: 5,
            block: 1,
        };
        let vc = chunk_shape(&[10, 4, 4], &v, &src, &s).unwrap();
        assert_eq!(vc, [1, 4, 4]);
        let mut out = BTreeMap::new();
        move_chunks(&vc, &v, &src, &s, |c| c.clone(), &mut out, &mut unlimited()).unwrap();
        let keys: Vec<_> = out.keys().cloned().collect();
        assert_eq!(keys, (0..5).map(|i| vec![2 * i + 1, 0, 0]).collect::<Vec<_>>());
        assert_eq!(out[&vec![7, 0, 0]], chunks[&vec![3, 0, 0]]);
        // Frames chunked two at a time cannot go to every second frame.
        let chunks2 = grid(&[6, 4, 4], &[2, 4, 4]);
        let src2 = SourceGrid {
            shape: &[6, 4, 4],
            chunk_shape: &[2, 4, 4],
            chunks: &chunks2,
        };
        v[0].count = 3;
        v[0].block = 2;
        v[0].stride = 3;
        let e = chunk_shape(&[10, 4, 4], &v, &src2, &boxed(&[0, 0, 0], &[6, 4, 4])).unwrap_err();
        assert!(e.contains("cuts chunks"), "{e}");
    }

    #[test]
    fn selections_that_cut_chunks_are_refused() {
        let chunks = grid(&[40, 6], &[10, 6]);
        let src = SourceGrid {
            shape: &[40, 6],
            chunk_shape: &[10, 6],
            chunks: &chunks,
        };
        // Starts inside a chunk.
        let e = chunk_shape(&[30, 6], &boxed(&[0, 0], &[30, 6]), &src, &boxed(&[5, 0], &[30, 6])).unwrap_err();
        assert!(e.contains("cuts chunks"), "{e}");
        // Ends inside a chunk away from the edge.
        let e = chunk_shape(&[40, 6], &boxed(&[0, 0], &[25, 6]), &src, &boxed(&[0, 0], &[25, 6])).unwrap_err();
        assert!(e.contains("ends inside a chunk"), "{e}");
        // A reshaping mapping.
        let e = chunk_shape(&[240], &boxed(&[0], &[240]), &src, &boxed(&[0, 0], &[40, 6])).unwrap_err();
        assert!(e.contains("differ in shape"), "{e}");
        // One row of chunks 10 long.
        let e = chunk_shape(&[6], &boxed(&[0], &[6]), &src, &boxed(&[0, 0], &[1, 6])).unwrap_err();
        assert!(e.contains("one element along axis 0"), "{e}");
        // The source's edge chunk at the virtual edge is fine.
        let src = SourceGrid {
            shape: &[35, 6],
            chunk_shape: &[10, 6],
            chunks: &chunks,
        };
        let s = boxed(&[0, 0], &[35, 6]);
        assert_eq!(
            chunk_shape(&[75, 6], &boxed(&[40, 0], &[35, 6]), &src, &s).unwrap(),
            [10, 6]
        );
        assert!(chunk_shape(&[80, 6], &boxed(&[40, 0], &[35, 6]), &src, &s).is_err());
    }

    #[test]
    fn selections_as_axes() {
        assert_eq!(axes(&Selection::All, &[3, 4]).unwrap(), Some(boxed(&[0, 0], &[3, 4])));
        assert_eq!(axes(&Selection::None, &[3]).unwrap(), None);
        let b = Selection::Blocks(vec![(vec![1, 2], vec![2, 3])]);
        assert_eq!(axes(&b, &[3, 4]).unwrap(), Some(boxed(&[1, 2], &[2, 2])));
        assert!(axes(&b, &[2, 4]).is_err());
        assert!(axes(&b, &[3]).is_err());
        assert!(axes(&Selection::Points(vec![vec![0]]), &[3]).is_err());
        let two = Selection::Blocks(vec![(vec![0], vec![0]), (vec![2], vec![2])]);
        assert!(axes(&two, &[3]).is_err());
        let r = |stride, count, block| {
            Selection::Regular(vec![RegularAxis {
                start: 1,
                stride,
                count,
                block,
            }])
        };
        assert!(axes(&r(3, 3, 2), &[9]).is_ok());
        assert!(axes(&r(3, 3, 2), &[8]).unwrap_err().contains("past the dataset"));
        assert!(axes(&r(1, 3, 2), &[9]).unwrap_err().contains("overlap"));
    }
}
