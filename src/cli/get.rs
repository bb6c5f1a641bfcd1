//! `vzarr get`: values read through `VirtualStore` + zarrs, written as `.npy`.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use serde_json::Value;
use zarrs::array::ArraySubset;
use zarrs::array::{Array, ArrayBytes};

use crate::reader::{OpenOptions, VirtualStore};
use crate::zarr::ChunkKey;

use super::exit;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The store (directory or URL).
    store: String,
    /// Array path inside the store (`gt1l/heights/h_ph`).
    array: String,
    /// Selection per axis, comma separated: `start:stop`, `:`, or an index (`0:10,:,3`).
    /// Axes left out at the end are read whole. At most 16 GiB are read at once.
    #[arg(long, allow_hyphen_values = true)]
    slice: Option<String>,
    /// Output `.npy` file. Variable-length bytes (HDF5 variable-length sequences) are written
    /// as an object array of `bytes` (a pickle: `np.load(..., allow_pickle=True)`).
    #[arg(short, long)]
    output: PathBuf,
}

/// Parse `0:10,:,3` against `shape` into ranges (an index keeps its axis with length 1).
fn parse_slice(s: Option<&str>, shape: &[u64]) -> anyhow::Result<Vec<Range<u64>>> {
    let Some(s) = s.filter(|s| !s.trim().is_empty()) else {
        return Ok(shape.iter().map(|&n| 0..n).collect());
    };
    let mut parts: Vec<&str> = s.split(',').collect();
    if parts.len() > shape.len() {
        bail!("--slice {s:?} has {} axes, the array has {}", parts.len(), shape.len());
    }
    // As in NumPy, axes left out at the end are taken whole.
    parts.resize(shape.len(), ":");
    parts
        .iter()
        .zip(shape)
        .map(|(p, &n)| {
            let p = p.trim();
            let num = |x: &str, d: u64| -> anyhow::Result<u64> {
                if x.is_empty() {
                    return Ok(d);
                }
                let v: i64 = x.parse().with_context(|| format!("bad slice bound {x:?}"))?;
                let n_i = i64::try_from(n)?;
                let v = if v < 0 { v + n_i } else { v };
                Ok(u64::try_from(v.clamp(0, n_i))?)
            };
            let r = match p.split_once(':') {
                Some((a, b)) => num(a, 0)?..num(b, n)?,
                None => {
                    let i = num(p, 0)?;
                    if i >= n {
                        bail!("index {p} is out of bounds for an axis of length {n}");
                    }
                    i..i + 1
                }
            };
            Ok(r.start..r.end.max(r.start))
        })
        .collect()
}

/// NumPy dtype (as a `.npy` header literal) of the decoded bytes zarrs returns for a Zarr
/// `data_type`: native byte order for numbers, structured fields little-endian.
fn npy_descr(data_type: &Value) -> anyhow::Result<String> {
    let e = if cfg!(target_endian = "little") { '<' } else { '>' };
    if let Some(name) = data_type.as_str() {
        let d = match name {
            "bool" => "|b1".into(),
            "int8" => "|i1".into(),
            "uint8" => "|u1".into(),
            n => {
                let (kind, bits) = if let Some(b) = n.strip_prefix("uint") {
                    ('u', b)
                } else if let Some(b) = n.strip_prefix("int") {
                    ('i', b)
                } else if let Some(b) = n.strip_prefix("float") {
                    ('f', b)
                } else if let Some(b) = n.strip_prefix("complex") {
                    ('c', b)
                } else {
                    bail!("data type {n} cannot be written as .npy");
                };
                let bits: u32 = bits.parse()?;
                format!("{e}{kind}{}", bits / 8)
            }
        };
        return Ok(format!("'{d}'"));
    }
    let length = || data_type.pointer("/configuration/length_bytes").and_then(Value::as_u64);
    match data_type.get("name").and_then(Value::as_str) {
        Some("null_terminated_bytes") => {
            return Ok(format!("'|S{}'", length().unwrap_or(0)));
        }
        Some("raw_bytes") => return Ok(format!("'|V{}'", length().unwrap_or(0))),
        Some("structured") => {
            let fields = data_type
                .pointer("/configuration/fields")
                .and_then(Value::as_array)
                .ok_or_else(|| anyhow!("structured data type without fields"))?;
            let mut items = Vec::with_capacity(fields.len());
            for f in fields {
                let (Some(name), Some(t)) = (f.get(0).and_then(Value::as_str), f.get(1)) else {
                    bail!("malformed structured field {f}");
                };
                let name = name.replace('\\', "\\\\").replace('\'', "\\'");
                // Field values are little-endian whatever the machine.
                let d = npy_descr(t)?.replace('>', "<");
                items.push(format!("('{name}', {d})"));
            }
            return Ok(format!("[{}]", items.join(", ")));
        }
        _ => {}
    }
    bail!("data type {data_type} cannot be written as .npy")
}

/// Variable-length strings as NumPy fixed-width unicode (`<U<n>`, UTF-32LE), `n` the longest.
fn strings_to_npy(bytes: &[u8], offsets: &[usize]) -> anyhow::Result<(String, Vec<u8>)> {
    let strings = offsets
        .windows(2)
        .map(|w| {
            let b = bytes
                .get(w[0]..w[1])
                .ok_or_else(|| anyhow!("string offsets out of range"))?;
            std::str::from_utf8(b).map_err(|e| anyhow!("string is not UTF-8: {e}"))
        })
        .collect::<anyhow::Result<Vec<&str>>>()?;
    let width = strings.iter().map(|s| s.chars().count()).max().unwrap_or(0).max(1);
    let mut out = Vec::with_capacity(strings.len() * width * 4);
    for s in strings {
        let n = s.chars().count();
        for ch in s.chars() {
            out.extend_from_slice(&u32::from(ch).to_le_bytes());
        }
        out.resize(out.len() + (width - n) * 4, 0);
    }
    Ok((format!("'<U{width}'"), out))
}

/// Most bytes one `vzarr get` decodes and writes.
const MAX_GET_BYTES: u64 = 16 << 30;

pub(super) async fn run(a: Args) -> anyhow::Result<i32> {
    let store = Arc::new(VirtualStore::open(&a.store, &OpenOptions::default()).await?);
    let path = a.array.trim_matches('/').to_string();
    if !store.arrays().contains(&path) {
        bail!("{}: no array {:?} in the store (see `vzarr inspect`)", a.store, a.array);
    }
    let meta: Value = serde_json::from_slice(&store.metadata(&path).await?.ok_or_else(|| anyhow!("no metadata"))?)?;
    let data_type = meta.get("data_type").unwrap_or(&Value::Null);
    let is_string = data_type.as_str() == Some("string");
    // Variable-length bytes (HDF5 variable-length sequences): an object array of `bytes`.
    let is_bytes = matches!(data_type.as_str(), Some("variable_length_bytes" | "bytes" | "binary"));
    let mut descr = if is_string {
        "'<U1'".to_string()
    } else if is_bytes {
        "'|O'".to_string()
    } else {
        npy_descr(data_type)?
    };
    // Raw x87 long doubles: NumPy's `longdouble` (and its complex) where that is their format.
    let x87 = meta
        .pointer(&format!("/attributes/{}", crate::hdf5::FLOAT_FORMAT_ATTR))
        .and_then(Value::as_str)
        == Some(crate::hdf5::X87_EXTENDED);
    if x87 && cfg!(target_arch = "x86_64") {
        descr = match descr.as_str() {
            "'|V16'" => "'<f16'".into(),
            "'|V32'" => "'<c32'".into(),
            _ => descr,
        };
    }
    let array = Array::async_open(store.clone(), &format!("/{path}"))
        .await
        .with_context(|| format!("{}: opening array {path}", a.store))?;
    let ranges = parse_slice(a.slice.as_deref(), array.shape())?;
    let subset = ArraySubset::new_with_ranges(&ranges);
    let shape: Vec<u64> = ranges.iter().map(|r| r.end - r.start).collect();
    // A declared shape is only metadata: a tiny damaged file can claim petabytes. Refuse
    // before allocating rather than abort on a failed allocation.
    let elem = array.data_type().fixed_size().map_or(16, |n| n as u64);
    let out_bytes = shape.iter().try_fold(elem, |a, &d| a.checked_mul(d));
    if out_bytes.is_none_or(|b| b > MAX_GET_BYTES) {
        bail!(
            "{}: {path}: the selection {shape:?} needs {} bytes, more than `vzarr get` writes at once ({} GiB); \
             choose part of it with --slice",
            a.store,
            out_bytes.map_or_else(|| "over 2^64".to_string(), |b| b.to_string()),
            MAX_GET_BYTES >> 30
        );
    }
    let bytes: Vec<u8> = if shape.contains(&0) {
        if is_bytes {
            super::npy::object_bytes_pickle(&shape, &[])?
        } else {
            Vec::new()
        }
    } else {
        // Fetch every needed chunk with coalesced requests first; zarrs then decodes from memory.
        if let Some(chunks) = array.chunks_in_array_subset(&subset)? {
            if chunks.num_elements_usize() <= 1 << 20 {
                let keys: Vec<ChunkKey> = chunks
                    .indices()
                    .into_iter()
                    .map(|c| ChunkKey {
                        array: path.clone(),
                        coords: c.to_vec(),
                    })
                    .collect();
                store.prefetch(&keys).await?;
            }
        }
        let out: ArrayBytes<'static> = array
            .async_retrieve_array_subset(&subset)
            .await
            .with_context(|| format!("{}: reading {path}", a.store))?;
        if is_string {
            let v = out.into_variable().map_err(|e| anyhow!("{e}"))?;
            let (d, b) = strings_to_npy(v.bytes(), v.offsets())?;
            descr = d;
            b
        } else if is_bytes {
            let v = out.into_variable().map_err(|e| anyhow!("{e}"))?;
            let items = v
                .offsets()
                .windows(2)
                .map(|w| {
                    v.bytes()
                        .get(w[0]..w[1])
                        .ok_or_else(|| anyhow!("element offsets out of range"))
                })
                .collect::<anyhow::Result<Vec<&[u8]>>>()?;
            super::npy::object_bytes_pickle(&shape, &items)?
        } else {
            out.into_fixed().map_err(|e| anyhow!("{e}"))?.into_owned()
        }
    };
    let f = std::fs::File::create(&a.output).with_context(|| format!("creating {}", a.output.display()))?;
    super::npy::write_npy(std::io::BufWriter::new(f), &descr, &shape, &bytes)
        .with_context(|| format!("writing {}", a.output.display()))?;
    let (requests, nbytes) = store.source_requests();
    // A structured type with many fields (spread-out array members) shortened for the log.
    let shown = match descr.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &descr[..i]),
        None => descr.clone(),
    };
    eprintln!(
        "wrote {} ({shown} {shape:?}; {requests} source requests, {nbytes} bytes)",
        a.output.display()
    );
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_parse_like_numpy() {
        assert_eq!(parse_slice(None, &[3, 4]).unwrap(), vec![0..3, 0..4]);
        assert_eq!(parse_slice(Some("1:2,:"), &[3, 4]).unwrap(), vec![1..2, 0..4]);
        assert_eq!(parse_slice(Some("-1,:-1"), &[3, 4]).unwrap(), vec![2..3, 0..3]);
        assert!(parse_slice(Some("5,:"), &[3, 4]).is_err());
        assert_eq!(parse_slice(Some("1"), &[3, 4]).unwrap(), vec![1..2, 0..4]);
        assert!(parse_slice(Some(":,:,:"), &[3, 4]).is_err());
        assert_eq!(parse_slice(Some("3:1"), &[5]).unwrap(), vec![3..3]);
    }
}
