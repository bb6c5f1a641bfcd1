//! The DMR++ reader against the HDF5 reader on the shared corpus (`../shared/corpus`).
//!
//! - `dmrpp_agrees_with_hdf5`: every DMR++ whose HDF5 file is in the corpus (MANIFEST.tsv
//!   category `dmrpp-pair-dmrpp`) is read with `--data-url` pointing at that file, and the
//!   result is compared array by array with the HDF5 reader's: shape, chunk shape, data type,
//!   codecs (zlib levels aside: they do not change decoding), fill value (an undefined fill
//!   value equals zeros) and every chunk reference (offset and length, or inline bytes).
//!   Arrays one side refuses by name are tallied, not compared. The three DMR++ files
//!   SOURCES.md marks stale must disagree; every other file must agree. Values through
//!   `vzarr get` are compared with h5py by `tests/python/test_dmrpp.py`.
//! - `dmrpp_only_files_parse`: the DMR++ files without their HDF5 file (real ATL03/ATL08,
//!   MERRA-2, AIRS, TEMPO granules…) all parse; prints what was mapped and refused.
//! - `hostile_dmrpp_never_panics`: corpus DMR++ files cut at many points and with bytes
//!   flipped give Ok or a clear error, never a panic.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use url::Url;
use vzarr::dmrpp::{self, DmrppOptions, DmrppOutput};
use vzarr::hdf5::{self, Hdf5Options};
use vzarr::io::FileReadAt;
use vzarr::model::{Array, ChunkRef, Codec, DataType, FillValue, Group, NodeRef};

use crate::common::corpus;

/// The DMR++ files SOURCES.md lists as not matching the HDF5 file beside them.
const STALE: [&str; 3] = [
    "FletcherShuffle.nc4.dmrpp",
    "nc4_group_var_dim_name_same.h5.dmrpp",
    "t_string_chunk.h5.dmrpp",
];

fn manifest(root: &Path, category: &str) -> Vec<String> {
    std::fs::read_to_string(root.join("MANIFEST.tsv"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.get(8) == Some(&category)).then(|| cols[0].to_string())
        })
        .collect()
}

/// The HDF5 file a DMR++ describes: its name minus `.dmrpp` (or `.dmrpp.baseline`).
fn data_file(root: &Path, dmrpp: &str) -> Option<PathBuf> {
    let stem = dmrpp
        .strip_suffix(".baseline")
        .unwrap_or(dmrpp)
        .strip_suffix(".dmrpp")?;
    let p = root.join(stem);
    p.exists().then_some(p)
}

fn read_dmrpp(path: &Path, data: Option<&Path>) -> Result<DmrppOutput, String> {
    let xml = std::fs::read(path).map_err(|e| e.to_string())?;
    let opts = DmrppOptions {
        dmrpp_url: Url::from_file_path(path).ok(),
        data_url: Some(
            data.map_or_else(
                || Url::parse("https://example.invalid/granule.h5"),
                |d| Ok(Url::from_file_path(d).expect("absolute path")),
            )
            .map_err(|e| e.to_string())?,
        ),
    };
    dmrpp::read(&xml, &opts).map_err(|e| e.to_string())
}

fn arrays(g: &Group) -> BTreeMap<String, Array> {
    let mut out = BTreeMap::new();
    g.walk(|p, n| {
        if let NodeRef::Array(a) = n {
            out.insert(p.to_string(), a.clone());
        }
    });
    out
}

/// DMR++ files that describe their HDF5 file wrongly in ways no DMR++ reader can see, found by
/// this test; each must keep disagreeing (so the comparison is what detects them).
const DEFECTIVE: [(&str, &str); 4] = [
    ("ntypes.h5.dmrpp", "no byteOrder for big-endian data (old build_dmrpp)"),
    (
        "ntypes.h5.dmrpp.baseline",
        "no byteOrder for big-endian data (old build_dmrpp)",
    ),
    (
        "swath_wrong_dim_rp.nc.dmrpp",
        "pre_wrong declared over an 8-element dimension, 4 elements in the file",
    ),
    ("chunked_compound.h5.dmrpp", "describes no variable at all"),
];

/// Comparable key of a path: HDF5's names and the CF-flattened names of a DMR++ built with
/// the CF option (`Data Fields` → `Data_Fields`, `g1/d2` → `g1_d2`) meet.
fn key(path: &str) -> String {
    path.trim_start_matches('/').replace([' ', '-', '.', '/'], "_")
}

/// Every string of an array whose chunks are all inline, in C order (`None` otherwise).
/// Whether `padded` (the DMR++'s array: the sequences' axes plus one as long as the longest,
/// one inline chunk) holds each sequence of `seqs` (the HDF5 reader's `vlen-bytes` array, one
/// inline chunk) at the start of its row.
fn padded_sequences_agree(padded: &Array, seqs: &Array) -> bool {
    let (Some(item), [ChunkRef::Inline(rows)], [ChunkRef::Inline(items)]) = (
        padded.data_type.size(),
        padded.chunks.values().collect::<Vec<_>>().as_slice(),
        seqs.chunks.values().collect::<Vec<_>>().as_slice(),
    ) else {
        return false;
    };
    let (Some((&width, lead)), Some(items)) = (padded.shape.split_last(), vzarr::zarr::codecs::vlen_items(items))
    else {
        return false;
    };
    let row = usize::try_from(width).unwrap_or(usize::MAX).saturating_mul(item);
    lead == seqs.shape.as_slice()
        && items.len() as u64 == seqs.shape.iter().product::<u64>()
        && rows.len() == row.saturating_mul(items.len())
        && items
            .iter()
            .zip(rows.chunks(row.max(1)))
            .all(|(s, r)| s.len() <= r.len() && r.starts_with(s))
}

fn strings(a: &Array) -> Option<Vec<Vec<u8>>> {
    let n: u64 = a.shape.iter().product();
    let mut out = vec![Vec::new(); usize::try_from(n).ok()?];
    let per: u64 = a.chunk_shape.iter().product();
    for (k, c) in &a.chunks {
        let ChunkRef::Inline(b) = c else { return None };
        let items: Vec<Vec<u8>> = match a.data_type {
            DataType::VlenUtf8 => {
                let mut items = Vec::new();
                let mut pos = 4;
                while pos + 4 <= b.len() {
                    let l = u32::from_le_bytes(b[pos..pos + 4].try_into().ok()?) as usize;
                    items.push(b.get(pos + 4..pos + 4 + l)?.to_vec());
                    pos += 4 + l;
                }
                items
            }
            DataType::FixedBytes(w) => b
                .chunks(w as usize)
                .map(|s| s[..s.iter().position(|&x| x == 0).unwrap_or(s.len())].to_vec())
                .collect(),
            _ => return None,
        };
        if items.len() as u64 != per.max(1) {
            return None;
        }
        for (i, item) in items.into_iter().enumerate() {
            // Element i of chunk k → its index in the array (skipping edge padding).
            let mut rem = i as u64;
            let mut flat = 0u64;
            let mut inside = true;
            for d in (0..a.shape.len()).rev() {
                let j = rem % a.chunk_shape[d];
                rem /= a.chunk_shape[d];
                let g = k[d] * a.chunk_shape[d] + j;
                inside &= g < a.shape[d];
                flat += g * a.shape[d + 1..].iter().product::<u64>();
            }
            if inside {
                *out.get_mut(usize::try_from(flat).ok()?)? = item;
            }
        }
    }
    Some(out)
}

/// What comparing one DMR++ with its HDF5 file found.
#[derive(Default)]
struct Comparison {
    diffs: Vec<String>,
    same: usize,
    /// Accepted differences by kind (handler-derived variables, netCDF pure dimensions…).
    accepted: BTreeMap<&'static str, usize>,
}

fn compare(d: &DmrppOutput, h: &hdf5::Hdf5Output, data: &Url) -> Comparison {
    let mut c = Comparison::default();
    let mut da: BTreeMap<String, (String, Array)> = BTreeMap::new();
    for (p, mut a) in arrays(&d.root) {
        // Chunks in the data file as the HDF5 reader numbers them (source 0); others apart.
        for r in a.chunks.values_mut() {
            if let ChunkRef::Virtual { source, .. } = r {
                source.0 = if d.sources.get(source.0 as usize) == Some(data) {
                    0
                } else {
                    1000 + source.0
                };
            }
        }
        let k = a
            .attributes
            .get("fullnamepath")
            .and_then(|v| v.as_str())
            .map_or_else(|| key(&p), key);
        da.insert(k, (p, a));
    }
    let ha: BTreeMap<String, (String, Array)> = arrays(&h.root).into_iter().map(|(p, a)| (key(&p), (p, a))).collect();
    // Refused variables by their HDF5 path when the DMR++ renamed them.
    let original = |r: &vzarr::model::Refusal| {
        r.reason
            .rsplit_once(" (HDF5 path ")
            .and_then(|(_, p)| p.strip_suffix(')'))
            .map_or_else(|| key(&r.path), key)
    };
    let d_refused: Vec<String> = d.refusals.iter().map(original).collect();
    let h_refused: Vec<String> = h.refusals.iter().map(|r| key(&r.path)).collect();
    let dim_names: Vec<String> = da
        .values()
        .flat_map(|(_, a)| a.dimension_names.clone().unwrap_or_default())
        .flatten()
        .map(|n| key(&n))
        .collect();
    for (k, (p, a)) in &da {
        let Some((_, b)) = ha.get(k) else {
            let in_data_file = a
                .chunks
                .values()
                .any(|r| matches!(r, ChunkRef::Virtual { source, .. } if source.0 == 0));
            if h_refused.contains(k) {
                *c.accepted.entry("refused by the HDF5 reader").or_default() += 1;
            } else if !in_data_file {
                // Values computed by the handler (dmrpp:missingdata, sidecar files).
                *c.accepted.entry("derived variable, not in the file").or_default() += 1;
            } else {
                c.diffs.push(format!("{p}: only in the DMR++"));
            }
            continue;
        };
        let mut what = Vec::new();
        let padded = b.data_type == DataType::VlenBytes && a.data_type != DataType::VlenBytes;
        if a.shape != b.shape && !padded {
            what.push(format!("shape {:?} vs {:?}", a.shape, b.shape));
        }
        let stringy = |x: &Array| matches!(x.data_type, DataType::VlenUtf8 | DataType::FixedBytes(_));
        if padded {
            // BES pads variable-length sequences into a trailing axis as long as the longest;
            // the HDF5 reader keeps each sequence (vlen-bytes). Same values when every
            // sequence starts its padded row.
            if padded_sequences_agree(a, b) {
                *c.accepted.entry("same sequences, padded in the DMR++").or_default() += 1;
            } else {
                what.push(format!(
                    "padded {:?} {:?} vs sequences {:?}",
                    a.data_type, a.shape, b.shape
                ));
            }
        } else if stringy(a) && stringy(b) && (a.data_type != b.data_type || a.chunk_shape != b.chunk_shape) {
            // Same strings in another representation (inline vlen vs fixed, other chunking).
            match (strings(a), strings(b)) {
                (Some(x), Some(y)) if x == y => *c.accepted.entry("same strings, other encoding").or_default() += 1,
                (x, y) => what.push(format!("strings {x:?} vs {y:?}")),
            }
        } else {
            let (na, nb) = (normal(a), normal(b));
            if na.chunk_shape != nb.chunk_shape {
                what.push(format!("chunks {:?} vs {:?}", na.chunk_shape, nb.chunk_shape));
            }
            if na.data_type != nb.data_type {
                what.push(format!("dtype {:?} vs {:?}", na.data_type, nb.data_type));
            }
            let stored = |x: &Array| x.chunks.values().any(|r| matches!(r, ChunkRef::Virtual { .. }));
            if (stored(&na) || stored(&nb)) && na.codecs != nb.codecs {
                what.push(format!("codecs {:?} vs {:?}", na.codecs, nb.codecs));
            }
            // A fill value is seen only where chunks are missing.
            let grid: u64 = na.chunk_grid_shape().iter().product();
            let incomplete = (na.chunks.len() as u64) < grid || (nb.chunks.len() as u64) < grid;
            if incomplete && na.fill_value != nb.fill_value {
                if b.fill_value == FillValue::Default {
                    // Fill time "never" (or no fill value): libhdf5 leaves unwritten values
                    // undefined and h5py shows zeros; the DMR++ records the fill value property.
                    *c.accepted.entry("fill value undefined in HDF5").or_default() += 1;
                } else {
                    what.push(format!("fill {:?} vs {:?}", na.fill_value, nb.fill_value));
                }
            }
            if na.chunks != nb.chunks {
                let keys: Vec<_> = na
                    .chunks
                    .keys()
                    .chain(nb.chunks.keys())
                    .filter(|k| na.chunks.get(*k) != nb.chunks.get(*k))
                    .take(2)
                    .map(|k| format!("{k:?}: {:?} vs {:?}", na.chunks.get(k), nb.chunks.get(k)))
                    .collect();
                what.push(format!("chunk refs differ ({})", keys.join("; ")));
            }
        }
        if what.is_empty() {
            c.same += 1;
        } else {
            c.diffs.push(format!("{p}: {}", what.join(", ")));
        }
    }
    for r in &d.refusals {
        let k = original(r);
        if !ha.contains_key(&k) && !h_refused.contains(&k) && r.feature != "no storage information" {
            // Refused from the DMR++, but the file has no such variable either.
            let derived = r.reason.contains("_mvs.h5");
            if !derived {
                c.diffs.push(format!(
                    "{}: refused from the DMR++ ({}) and not in the HDF5 file",
                    r.path, r.feature
                ));
            }
        }
    }
    for (k, (p, _)) in &ha {
        if da.contains_key(k) {
            continue;
        }
        let last = p.rsplit('/').next().unwrap_or(p);
        if d_refused.contains(k) {
            *c.accepted.entry("refused from the DMR++ by name").or_default() += 1;
        } else if dim_names.contains(&key(last)) {
            // A netCDF dimension without a variable: the DMR++ declares it as a <Dimension>.
            *c.accepted.entry("netCDF dimension without data").or_default() += 1;
        } else {
            c.diffs.push(format!("{p}: only in the HDF5 file"));
        }
    }
    c
}

/// Normalise what does not change the bytes a reader gets.
fn normal(a: &Array) -> Array {
    let mut a = a.clone();
    for c in &mut a.codecs {
        if let Codec::Zlib { level } = c {
            *level = 0;
        }
    }
    if a.fill_value == FillValue::Default {
        if let Some(n) = a.data_type.size() {
            a.fill_value = FillValue::Bytes(vec![0; n]);
        }
    }
    a.chunks.retain(|_, c| *c != ChunkRef::Missing);
    a
}

#[test]
fn dmrpp_agrees_with_hdf5() {
    let Some(root) = corpus() else { return };
    let files = manifest(&root, "dmrpp-pair-dmrpp");
    let (mut agree, mut disagree, mut no_h5) = (Vec::new(), Vec::new(), 0usize);
    let mut same_arrays = 0usize;
    let mut accepted: BTreeMap<&str, usize> = BTreeMap::new();
    let mut refused_dmrpp: BTreeMap<String, usize> = BTreeMap::new();
    let mut unexpected = Vec::new();
    for f in &files {
        let path = root.join(f);
        let Some(h5) = data_file(&root, f) else {
            no_h5 += 1;
            continue;
        };
        let d = read_dmrpp(&path, Some(&h5)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let src = FileReadAt::open(&h5).unwrap();
        let h = hdf5::read(&src, &Hdf5Options::default()).unwrap_or_else(|e| panic!("{}: {e}", h5.display()));
        let data = Url::from_file_path(&h5).unwrap();
        let c = compare(&d, &h, &data);
        same_arrays += c.same;
        for (k, n) in c.accepted {
            *accepted.entry(k).or_default() += n;
        }
        for r in &d.refusals {
            *refused_dmrpp.entry(r.feature.clone()).or_default() += 1;
        }
        let name = f.rsplit('/').next().unwrap_or(f);
        let known = STALE.contains(&name) || DEFECTIVE.iter().any(|(n, _)| *n == name);
        if c.diffs.is_empty() {
            agree.push(f.clone());
            if known {
                unexpected.push(format!("{f}: marked stale or defective but agrees"));
            }
        } else {
            if !known {
                unexpected.push(format!("{f}:\n    {}", c.diffs.join("\n    ")));
            }
            disagree.push(name.to_string());
        }
    }
    println!(
        "DMR++ vs HDF5 reader: {} DMR++ files with their HDF5 file ({no_h5} without): {} agree, {} disagree: {:?}",
        agree.len() + disagree.len(),
        agree.len(),
        disagree.len(),
        disagree
    );
    println!("  arrays identical: {same_arrays}; accepted differences: {accepted:?}");
    println!("  refused from the DMR++ by feature: {refused_dmrpp:?}");
    assert!(unexpected.is_empty(), "unexpected results:\n{}", unexpected.join("\n"));
    assert_eq!(
        disagree.len(),
        STALE.len() + DEFECTIVE.len(),
        "each stale or defective DMR++ is detected"
    );
    assert!(agree.len() >= 150, "only {} agree", agree.len());
}

#[test]
fn dmrpp_only_files_parse() {
    let Some(root) = corpus() else { return };
    let files = manifest(&root, "dmrpp-only");
    assert!(!files.is_empty());
    let mut failed = Vec::new();
    for f in &files {
        match read_dmrpp(&root.join(f), None) {
            Ok(out) => {
                let mut n = 0;
                out.root
                    .walk(|_, node| n += usize::from(matches!(node, NodeRef::Array(_))));
                let refused: Vec<String> = out
                    .refusals
                    .iter()
                    .map(|r| format!("{} ({})", r.path, r.feature))
                    .collect();
                println!("{f}: {n} arrays, {} refused {refused:?}", out.refusals.len());
            }
            Err(e) => {
                println!("{f}: error: {e}");
                failed.push(f.clone());
            }
        }
    }
    // broken_elements.dmrpp is malformed on purpose (its Dataset has no name).
    assert_eq!(
        failed,
        vec!["opendap-bes/modules/dmrpp_module/unit-tests/input-files/broken_elements.dmrpp".to_string()]
    );
}

#[test]
fn hostile_dmrpp_never_panics() {
    let Some(root) = corpus() else { return };
    let mut files = manifest(&root, "dmrpp-pair-dmrpp");
    files.truncate(40);
    let mut runs = 0;
    for f in &files {
        let xml = std::fs::read(root.join(f)).unwrap();
        let opts = DmrppOptions {
            dmrpp_url: Url::parse("file:///x/y.h5.dmrpp").ok(),
            data_url: Url::parse("file:///x/y.h5").ok(),
        };
        let step = (xml.len() / 25).max(1);
        let mut variants: Vec<Vec<u8>> = (0..xml.len()).step_by(step).map(|n| xml[..n].to_vec()).collect();
        for i in (0..xml.len()).step_by(step) {
            let mut v = xml.clone();
            v[i] ^= 0x5a;
            variants.push(v);
            let mut v = xml.clone();
            v[i] = b'<';
            variants.push(v);
        }
        for v in variants {
            runs += 1;
            let r = catch_unwind(AssertUnwindSafe(|| dmrpp::read(&v, &opts)));
            match r {
                Err(_) => panic!("{f}: panic on a damaged copy"),
                Ok(Err(e)) => assert!(!e.reason.is_empty()),
                Ok(Ok(_)) => {}
            }
        }
    }
    println!(
        "hostile DMR++: {runs} damaged copies of {} files, no panic",
        files.len()
    );
}
