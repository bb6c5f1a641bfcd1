//! Model arrays ↔ Zarr v2 `.zarray` / `.zattrs`, the metadata kerchunk references carry.
//!
//! Zarr v2 has one pipeline `filters… → compressor`; a model pipeline `bytes, c1, …, cn`
//! becomes `filters: [c1, …, cn], compressor: null` (as kerchunk writes HDF5 filters), the byte
//! order moves into `dtype`, and the array-to-bytes `vlen-utf8` becomes NumPy's object dtype
//! with the `vlen-utf8` filter first. Dimension names travel as xarray's `_ARRAY_DIMENSIONS`.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::model::{Array, Attributes, BloscCompressor, BloscShuffle, Codec, DataType, Endian, FillValue};
use crate::zarr::cf;
use crate::zarr::dtype::{fill_value_metadata, numpy_dtype};

/// xarray's attribute for dimension names in Zarr v2.
pub const DIMENSIONS_ATTR: &str = "_ARRAY_DIMENSIONS";

/// Why an array cannot be expressed in (or read from) Zarr v2 metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct V2Error(pub String);

fn bail<T>(msg: impl Into<String>) -> Result<T, V2Error> {
    Err(V2Error(msg.into()))
}

// ---------------------------------------------------------------------------------------------
// model → v2

/// The v2 `dtype` of a model type (`<f4`, `|S8`, `|O`, or a list of `[name, dtype]` fields).
fn dtype_v2(dt: &DataType, endian: Option<Endian>) -> Value {
    match dt {
        // Structured fields are little-endian (model invariant).
        DataType::Structured(fields) => Value::Array(
            fields
                .iter()
                .map(|(n, t)| json!([n, dtype_v2(t, Some(Endian::Little))]))
                .collect(),
        ),
        _ => json!(numpy_dtype(dt, endian)),
    }
}

/// A Zarr v2 fill value (the v3 encoding differs for NaN payloads, vlen strings and complex).
fn fill_v2(a: &Array, endian: Option<Endian>) -> Value {
    if a.data_type == DataType::VlenUtf8 {
        // zarr-python reads object arrays with a null fill value as empty strings.
        return match &a.fill_value {
            FillValue::Bytes(b) if !b.is_empty() => json!(String::from_utf8_lossy(b)),
            _ => Value::Null,
        };
    }
    if a.data_type == DataType::VlenBytes {
        // numcodecs' VLenBytes reads a null fill value as empty bytes; others stay base64.
        return match &a.fill_value {
            FillValue::Bytes(b) if !b.is_empty() => fill_value_metadata(&a.data_type, &a.fill_value, endian),
            _ => Value::Null,
        };
    }
    let zero = match &a.fill_value {
        FillValue::Bytes(b) => b.iter().all(|&x| x == 0),
        FillValue::Default => true,
    };
    if zero
        && matches!(
            a.data_type,
            DataType::FixedBytes(_) | DataType::RawBytes(_) | DataType::Structured(_) | DataType::Complex(_)
        )
    {
        // All-zero: null, the Zarr v2 default. zarr-python decodes base64 (S, V, structured)
        // and [re, im] (complex) fill values, but VirtualiZarr's kerchunk parser takes the
        // base64 text for the bytes and cannot convert a list.
        return Value::Null;
    }
    let v3 = fill_value_metadata(&a.data_type, &a.fill_value, endian);
    let nan = |v: Value| match v {
        Value::String(s) if s.starts_with("0x") => json!("NaN"),
        v => v,
    };
    match v3 {
        Value::Array(parts) if matches!(a.data_type, DataType::Complex(_)) => {
            Value::Array(parts.into_iter().map(nan).collect())
        }
        v => nan(v),
    }
}

/// The numcodecs (Zarr v2) configuration of one bytes-to-bytes codec.
fn codec_v2(c: &Codec) -> Value {
    match c {
        Codec::Bytes(_) | Codec::VlenUtf8 | Codec::VlenBytes => Value::Null,
        Codec::Shuffle { element_size } => json!({"id": "shuffle", "elementsize": element_size}),
        Codec::Zlib { level } => json!({"id": "zlib", "level": level}),
        Codec::Fletcher32 => json!({"id": "fletcher32"}),
        Codec::Zstd { level } => json!({"id": "zstd", "level": level}),
        Codec::Blosc {
            cname, clevel, shuffle, ..
        } => json!({
            "id": "blosc",
            "cname": match cname {
                BloscCompressor::BloscLz => "blosclz",
                BloscCompressor::Lz4 => "lz4",
                BloscCompressor::Lz4Hc => "lz4hc",
                BloscCompressor::Snappy => "snappy",
                BloscCompressor::Zlib => "zlib",
                BloscCompressor::Zstd => "zstd",
            },
            "clevel": clevel,
            "shuffle": match shuffle {
                BloscShuffle::NoShuffle => 0,
                BloscShuffle::Shuffle => 1,
                BloscShuffle::BitShuffle => 2,
            },
            "blocksize": 0
        }),
        Codec::Bz2 { level } => json!({"id": "bz2", "level": level}),
        Codec::Lzf => json!({"id": "imagecodecs_lzf", "header": false}),
        Codec::Lz4Hdf5 { block_size } => {
            if *block_size == 0 {
                json!({"id": "imagecodecs_lz4h5"})
            } else {
                json!({"id": "imagecodecs_lz4h5", "blocksize": block_size})
            }
        }
        // Same configurations as the v3 codecs, under the same names.
        Codec::Bitshuffle { .. } | Codec::Szip { .. } | Codec::ScaleOffset { .. } => {
            let m = crate::zarr::codecs::codec_metadata(c);
            let mut v = m.get("configuration").cloned().unwrap_or_else(|| json!({}));
            v["id"] = m.get("name").cloned().unwrap_or(Value::Null);
            v
        }
    }
}

/// Dimension names for every axis: recorded names, and for unnamed axes a netCDF-style
/// `phony_dim_<length>` (suffixed when one array has two such axes of one length), since
/// xarray needs a name for every axis of every array.
#[must_use]
pub fn dimension_names(a: &Array) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(a.shape.len());
    for (i, &n) in a.shape.iter().enumerate() {
        let given = a.dimension_names.as_ref().and_then(|d| d.get(i).cloned().flatten());
        let name = given.unwrap_or_else(|| {
            let base = format!("phony_dim_{n}");
            let mut name = base.clone();
            let mut k = 1;
            while out.contains(&name) {
                name = format!("{base}_{k}");
                k += 1;
            }
            name
        });
        out.push(name);
    }
    out
}

/// The `.zarray` document of a model array.
#[must_use]
pub fn zarray(a: &Array) -> Value {
    let endian = a.endian();
    let mut filters: Vec<Value> = Vec::new();
    match a.data_type {
        DataType::VlenUtf8 => filters.push(json!({"id": "vlen-utf8"})),
        DataType::VlenBytes => filters.push(json!({"id": "vlen-bytes"})),
        _ => {}
    }
    filters.extend(a.codecs.iter().map(codec_v2).filter(|v| !v.is_null()));
    // A rank-0 array is one chunk of shape [] (key "0").
    json!({
        "zarr_format": 2,
        "shape": a.shape,
        "chunks": a.chunk_shape,
        "dtype": dtype_v2(&a.data_type, endian),
        "fill_value": fill_v2(a, endian),
        "order": "C",
        "filters": if filters.is_empty() { Value::Null } else { Value::Array(filters) },
        "compressor": Value::Null,
        "dimension_separator": ".",
    })
}

/// The `.zattrs` document of a model array: its attributes and `_ARRAY_DIMENSIONS`.
#[must_use]
pub fn zattrs(a: &Array) -> Value {
    let mut m = a.attributes.clone();
    if let Some(v) = m.get_mut(cf::FILL_VALUE_ATTR) {
        *v = cf::decode_fill_value(v, &a.data_type);
    }
    m.insert(DIMENSIONS_ATTR.into(), json!(dimension_names(a)));
    Value::Object(m)
}

/// The v2 chunk key suffix of grid coordinates: `3.0`, or `0` for a rank-0 array.
#[must_use]
pub fn chunk_key(coords: &[u64]) -> String {
    if coords.is_empty() {
        return "0".into();
    }
    coords.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

// ---------------------------------------------------------------------------------------------
// v2 → model

fn parse_typestr(s: &str) -> Result<(DataType, Option<Endian>), V2Error> {
    let bytes = s.as_bytes();
    if bytes.len() < 2 {
        return bail(format!("dtype {s:?} is not a NumPy type string"));
    }
    let endian = match bytes[0] {
        b'<' => Some(Endian::Little),
        b'>' => Some(Endian::Big),
        b'|' | b'=' => None,
        _ => return bail(format!("dtype {s:?} has no byte-order character")),
    };
    let kind = bytes[1] as char;
    if kind == 'O' && bytes.len() == 2 {
        return Ok((DataType::VlenUtf8, None));
    }
    let n: u32 = s[2..].parse().map_err(|_| V2Error(format!("dtype {s:?}: bad size")))?;
    let bits = |allowed: &[u32]| -> Result<u8, V2Error> {
        if allowed.contains(&n) {
            u8::try_from(n * 8).map_err(|_| V2Error(format!("dtype {s:?}")))
        } else {
            bail(format!("dtype {s:?} is not supported"))
        }
    };
    let dt = match kind {
        'b' if n == 1 => DataType::Bool,
        'i' => DataType::Int(bits(&[1, 2, 4, 8])?),
        'u' => DataType::UInt(bits(&[1, 2, 4, 8])?),
        'f' => DataType::Float(bits(&[2, 4, 8])?),
        'c' => DataType::Complex(bits(&[8, 16])?),
        'S' if n > 0 => DataType::FixedBytes(n),
        'V' if n > 0 => DataType::RawBytes(n),
        _ => {
            return bail(format!(
                "dtype {s:?} is not supported (only bool, int, uint, float, complex, S, V and vlen-utf8 objects)"
            ))
        }
    };
    // Byte order matters only for multi-byte numbers.
    let endian = match dt {
        DataType::Int(_) | DataType::UInt(_) | DataType::Float(_) | DataType::Complex(_) if n > 1 => {
            endian.or(Some(Endian::Little))
        }
        _ => None,
    };
    Ok((dt, endian))
}

fn parse_dtype(v: &Value) -> Result<(DataType, Option<Endian>), V2Error> {
    match v {
        Value::String(s) => parse_typestr(s),
        Value::Array(fields) => {
            let mut out = Vec::with_capacity(fields.len());
            for f in fields {
                match f.as_array().map(Vec::as_slice) {
                    Some([Value::String(name), Value::String(t)]) => {
                        let (dt, e) = parse_typestr(t)?;
                        if e == Some(Endian::Big) || matches!(dt, DataType::VlenUtf8) {
                            return bail(format!("structured field {name:?} of type {t:?} is not supported (fields must be fixed-size little-endian)"));
                        }
                        out.push((name.clone(), dt));
                    }
                    _ => {
                        return bail(format!(
                            "structured dtype field {f} is not supported (nested or shaped fields)"
                        ))
                    }
                }
            }
            Ok((DataType::Structured(out), Some(Endian::Little)))
        }
        _ => bail(format!("dtype {v} is not supported")),
    }
}

fn codec_from_v2(v: &Value, dt: &DataType) -> Result<Codec, V2Error> {
    let id = v.get("id").and_then(Value::as_str).unwrap_or("");
    let u32_of = |k: &str, d: u32| -> u32 {
        v.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(d)
    };
    Ok(match id {
        "zlib" => Codec::Zlib {
            level: u32_of("level", 1),
        },
        "shuffle" => Codec::Shuffle {
            element_size: u32_of("elementsize", u32::try_from(dt.size().unwrap_or(4)).unwrap_or(4)),
        },
        "fletcher32" => Codec::Fletcher32,
        "zstd" => Codec::Zstd {
            level: v
                .get("level")
                .and_then(Value::as_i64)
                .and_then(|l| i32::try_from(l).ok())
                .unwrap_or(0),
        },
        "bz2" => Codec::Bz2 {
            level: u32_of("level", 9),
        },
        "blosc" => Codec::Blosc {
            cname: match v.get("cname").and_then(Value::as_str) {
                Some("blosclz") => BloscCompressor::BloscLz,
                Some("lz4") => BloscCompressor::Lz4,
                Some("lz4hc") => BloscCompressor::Lz4Hc,
                Some("snappy") => BloscCompressor::Snappy,
                Some("zlib") => BloscCompressor::Zlib,
                Some("zstd") => BloscCompressor::Zstd,
                c => return bail(format!("blosc cname {c:?} is not supported")),
            },
            clevel: u8::try_from(u32_of("clevel", 5)).unwrap_or(9),
            shuffle: match v.get("shuffle").and_then(Value::as_i64) {
                Some(0) => BloscShuffle::NoShuffle,
                Some(2) => BloscShuffle::BitShuffle,
                _ => BloscShuffle::Shuffle,
            },
            typesize: u32::try_from(dt.size().unwrap_or(1)).unwrap_or(1),
        },
        "imagecodecs_lzf" if v.get("header").and_then(Value::as_bool) == Some(false) => Codec::Lzf,
        "imagecodecs_lz4h5" => Codec::Lz4Hdf5 {
            block_size: u32_of("blocksize", 0),
        },
        "vzarr.bitshuffle" => {
            let mut v3 = json!({"name": "vzarr.bitshuffle", "configuration": v});
            if let Some(c) = v3.get_mut("configuration").and_then(Value::as_object_mut) {
                c.remove("id");
            }
            crate::zarr::parse::codec(&v3, "bitshuffle").map_err(|e| V2Error(e.to_string()))?
        }
        "" => return bail(format!("codec {v} has no id")),
        other => {
            return bail(format!(
                "codec {other:?} has no Zarr v3 codec that both zarrs and zarr-python decode"
            ))
        }
    })
}

fn fill_from_v2(v: &Value, dt: &DataType, endian: Option<Endian>) -> Result<FillValue, V2Error> {
    if v.is_null() {
        return Ok(FillValue::Default);
    }
    let v3 = match (dt, v) {
        // v2 writes S/V/structured fill values as base64, like v3.
        (DataType::FixedBytes(_) | DataType::RawBytes(_) | DataType::Structured(_), Value::String(_)) => v.clone(),
        (DataType::FixedBytes(_) | DataType::RawBytes(_) | DataType::Structured(_), Value::Number(n))
            if n.as_u64() == Some(0) =>
        {
            json!(base64::engine::general_purpose::STANDARD.encode(vec![0u8; dt.size().unwrap_or(0)]))
        }
        (DataType::Bool, Value::Number(n)) => json!(n.as_u64().unwrap_or(0) != 0),
        (DataType::Float(_), Value::Number(_) | Value::String(_)) => v.clone(),
        (DataType::Complex(_), Value::Number(_)) => json!([v, 0.0]),
        (DataType::Int(_) | DataType::UInt(_), Value::Number(n)) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() != 0.0 {
                return bail(format!("fill value {v} is not an integer"));
            }
            json!(f as i64)
        }
        _ => v.clone(),
    };
    crate::zarr::parse::fill_value(dt, &v3, endian).map_err(|e| V2Error(e.to_string()))
}

/// A model array (without chunks) from `.zarray` and `.zattrs`; `_ARRAY_DIMENSIONS` becomes
/// the dimension names.
///
/// # Errors
/// [`V2Error`] for what a vzarr store cannot express: Fortran order, object dtypes other than
/// `vlen-utf8` strings, codecs without a Zarr v3 equivalent both zarrs and zarr-python read.
pub fn array_from_v2(zarray: &Value, zattrs: Option<&Value>) -> Result<Array, V2Error> {
    if zarray.get("zarr_format").and_then(Value::as_u64) != Some(2) {
        return bail(".zarray is not zarr_format 2");
    }
    if zarray.get("order").and_then(Value::as_str).unwrap_or("C") != "C" {
        return bail("Fortran-order arrays are not supported");
    }
    let list = |k: &str| -> Result<Vec<u64>, V2Error> {
        zarray
            .get(k)
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect::<Option<Vec<_>>>())
            .ok_or_else(|| V2Error(format!(".zarray {k} is not a list of non-negative integers")))
    };
    let shape = list("shape")?;
    let chunk_shape = list("chunks")?;
    if shape.len() != chunk_shape.len() {
        return bail(".zarray chunks do not match shape");
    }
    if chunk_shape.contains(&0) {
        return bail(".zarray chunks has a zero length (Zarr v3 chunk shapes are positive)");
    }
    let (mut data_type, endian) = parse_dtype(zarray.get("dtype").unwrap_or(&Value::Null))?;
    let mut steps: Vec<&Value> = zarray
        .get("filters")
        .and_then(Value::as_array)
        .map(|f| f.iter().collect())
        .unwrap_or_default();
    if let Some(c) = zarray.get("compressor").filter(|c| !c.is_null()) {
        steps.push(c);
    }
    let mut codecs = Vec::with_capacity(steps.len() + 1);
    if data_type == DataType::VlenUtf8 {
        match steps.first().and_then(|f| f.get("id")).and_then(Value::as_str) {
            Some("vlen-utf8") => {
                steps.remove(0);
                codecs.push(Codec::VlenUtf8);
            }
            Some("vlen-bytes") => {
                steps.remove(0);
                codecs.push(Codec::VlenBytes);
                data_type = DataType::VlenBytes;
            }
            other => {
                return bail(format!(
                    "object dtype with object codec {other:?} (only vlen-utf8 and vlen-bytes are supported)"
                ))
            }
        }
    } else {
        codecs.push(Codec::Bytes(endian));
    }
    for s in steps {
        codecs.push(codec_from_v2(s, &data_type)?);
    }
    let fill_value = fill_from_v2(zarray.get("fill_value").unwrap_or(&Value::Null), &data_type, endian)?;
    let mut attributes: Attributes = zattrs.and_then(Value::as_object).cloned().unwrap_or_else(Map::new);
    let dimension_names = match attributes.remove(DIMENSIONS_ATTR) {
        Some(Value::Array(names)) if names.len() == shape.len() => {
            Some(names.iter().map(|n| n.as_str().map(str::to_string)).collect())
        }
        _ => None,
    };
    if let Some(v) = attributes.get_mut(cf::FILL_VALUE_ATTR) {
        if let Some(enc) = cf::encode_fill_value(v, &data_type) {
            *v = enc;
        }
    }
    Ok(Array {
        shape,
        chunk_shape,
        data_type,
        fill_value,
        codecs,
        attributes,
        dimension_names,
        chunks: BTreeMap::new(),
    })
}

/// Grid coordinates from a v2 chunk key suffix (`3.0`, `3/0` with `dimension_separator: "/"`,
/// `0` for rank 0).
///
/// # Errors
/// [`V2Error`] if the key is not a chunk key of an array of this rank.
pub fn parse_chunk_key(suffix: &str, rank: usize, separator: char) -> Result<Vec<u64>, V2Error> {
    if rank == 0 {
        return if suffix == "0" {
            Ok(Vec::new())
        } else {
            bail(format!("{suffix:?} is not the chunk key of a rank-0 array"))
        };
    }
    let parts: Vec<&str> = suffix.split(separator).collect();
    if parts.len() != rank {
        return bail(format!("chunk key {suffix:?} does not have {rank} coordinates"));
    }
    parts
        .iter()
        .map(|p| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return bail(format!("chunk key {suffix:?} is not numeric"));
            }
            p.parse::<u64>()
                .map_err(|_| V2Error(format!("chunk key {suffix:?} out of range")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array(dt: DataType, fill: FillValue, codecs: Vec<Codec>, dims: Option<Vec<Option<String>>>) -> Array {
        Array {
            shape: vec![6, 4],
            chunk_shape: vec![3, 4],
            data_type: dt,
            fill_value: fill,
            codecs,
            attributes: json!({"units": "K"}).as_object().cloned().unwrap_or_default(),
            dimension_names: dims,
            chunks: BTreeMap::new(),
        }
    }

    #[test]
    fn v2_metadata_round_trips() {
        let cases = vec![
            array(
                DataType::Float(32),
                FillValue::Bytes((-1.5f32).to_be_bytes().to_vec()),
                vec![
                    Codec::Bytes(Some(Endian::Big)),
                    Codec::Shuffle { element_size: 4 },
                    Codec::Zlib { level: 6 },
                ],
                Some(vec![Some("y".into()), Some("x".into())]),
            ),
            array(
                DataType::Int(16),
                FillValue::Bytes((-9i16).to_le_bytes().to_vec()),
                vec![Codec::Bytes(Some(Endian::Little)), Codec::Fletcher32],
                Some(vec![Some("t".into()), Some("c".into())]),
            ),
            array(
                DataType::FixedBytes(5),
                FillValue::Bytes(b"ab\0\0\0".to_vec()),
                vec![Codec::Bytes(None), Codec::Zstd { level: 2 }],
                Some(vec![Some("a".into()), Some("b".into())]),
            ),
            array(
                DataType::Structured(vec![("i".into(), DataType::Int(32)), ("f".into(), DataType::Float(64))]),
                FillValue::Bytes(vec![1; 12]),
                vec![Codec::Bytes(Some(Endian::Little))],
                Some(vec![Some("a".into()), Some("b".into())]),
            ),
            array(
                DataType::Complex(128),
                FillValue::Bytes([2.0f64.to_le_bytes(), 3.0f64.to_le_bytes()].concat()),
                vec![Codec::Bytes(Some(Endian::Little)), Codec::Bz2 { level: 9 }],
                Some(vec![Some("a".into()), Some("b".into())]),
            ),
        ];
        for a in cases {
            let back = array_from_v2(&zarray(&a), Some(&zattrs(&a))).unwrap();
            assert_eq!(back, a, "{}", zarray(&a));
        }
    }

    #[test]
    fn unnamed_axes_get_distinct_phony_names() {
        let a = array(
            DataType::UInt(8),
            FillValue::Default,
            vec![Codec::Bytes(None)],
            Some(vec![None, Some("x".into())]),
        );
        assert_eq!(dimension_names(&a), vec!["phony_dim_6", "x"]);
        let mut sq = a.clone();
        sq.shape = vec![4, 4];
        sq.dimension_names = None;
        assert_eq!(dimension_names(&sq), vec!["phony_dim_4", "phony_dim_4_1"]);
    }

    #[test]
    fn v2_features_without_a_v3_equivalent_are_refused() {
        let mut z = zarray(&array(
            DataType::Float(64),
            FillValue::Default,
            vec![Codec::Bytes(Some(Endian::Little))],
            None,
        ));
        z["compressor"] = json!({"id": "fixedscaleoffset", "offset": 0, "scale": 10});
        assert!(array_from_v2(&z, None).unwrap_err().0.contains("fixedscaleoffset"));
        z["compressor"] = Value::Null;
        z["order"] = json!("F");
        assert!(array_from_v2(&z, None).unwrap_err().0.contains("Fortran"));
        z["order"] = json!("C");
        z["dtype"] = json!("|O");
        z["filters"] = json!([{"id": "json2"}]);
        assert!(array_from_v2(&z, None).unwrap_err().0.contains("json2"));
        z["dtype"] = json!("<M8[ns]");
        assert!(array_from_v2(&z, None).is_err());
        assert_eq!(parse_chunk_key("3.0", 2, '.').unwrap(), vec![3, 0]);
        assert!(parse_chunk_key("3.x", 2, '.').is_err());
        assert!(parse_chunk_key("3", 2, '.').is_err());
        assert_eq!(parse_chunk_key("0", 0, '.').unwrap(), Vec::<u64>::new());
    }
}
