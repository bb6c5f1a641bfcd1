//! Zarr v3 `zarr.json` → model: the inverse of [`super::metadata`], for the metadata vzarr
//! writes (and what `vzarr import` produces). Used by exports, which start from a store.
//!
//! Anything vzarr does not write (another chunk grid or key encoding, an unknown codec or data
//! type) is an error naming the field, never a guess.

use serde_json::{Map, Value};

use crate::model::{
    Array, Attributes, BitshuffleCompression, BloscCompressor, BloscShuffle, Codec, DataType, Endian, FillValue,
};

/// Why a `zarr.json` could not be read back into the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ParseError {
    /// The field (`data_type`, `codecs[2]`, …).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

fn err<T>(field: &str, reason: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        field: field.into(),
        reason: reason.into(),
    })
}

/// The attributes of a group or array document (`{}` when absent).
#[must_use]
pub fn attributes(doc: &Value) -> Attributes {
    match doc.get("attributes") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

/// An array's `zarr.json` as a model [`Array`] with no chunks.
///
/// # Errors
/// [`ParseError`] naming the first field vzarr does not write.
pub fn array_from_metadata(doc: &Value) -> Result<Array, ParseError> {
    if doc.get("zarr_format") != Some(&Value::from(3)) || doc.get("node_type") != Some(&Value::from("array")) {
        return err("node_type", "not a Zarr v3 array document");
    }
    let shape = u64_list(doc.get("shape"), "shape")?;
    let grid = doc.get("chunk_grid");
    if grid.and_then(|g| g.get("name")) != Some(&Value::from("regular")) {
        return err("chunk_grid", "only the regular chunk grid is supported");
    }
    let chunk_shape = u64_list(
        grid.and_then(|g| g.get("configuration"))
            .and_then(|c| c.get("chunk_shape")),
        "chunk_grid.chunk_shape",
    )?;
    if chunk_shape.len() != shape.len() {
        return err("chunk_grid.chunk_shape", "rank differs from shape");
    }
    let enc = doc.get("chunk_key_encoding");
    let sep = enc
        .and_then(|e| e.get("configuration"))
        .and_then(|c| c.get("separator"))
        .and_then(Value::as_str)
        .unwrap_or("/");
    if enc.and_then(|e| e.get("name")) != Some(&Value::from("default")) || sep != "/" {
        return err(
            "chunk_key_encoding",
            "only the default encoding with separator \"/\" is supported",
        );
    }
    let data_type = data_type(doc.get("data_type").unwrap_or(&Value::Null), "data_type")?;
    let codecs = match doc.get("codecs") {
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, c)| codec(c, &format!("codecs[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return err("codecs", "missing"),
    };
    let endian = codecs.iter().find_map(|c| match c {
        Codec::Bytes(e) => *e,
        _ => None,
    });
    let fill_value = fill_value(&data_type, doc.get("fill_value").unwrap_or(&Value::Null), endian)?;
    let dimension_names = match doc.get("dimension_names") {
        None | Some(Value::Null) => None,
        Some(Value::Array(names)) if names.len() == shape.len() => Some(
            names
                .iter()
                .map(|n| match n {
                    Value::String(s) => Ok(Some(s.clone())),
                    Value::Null => Ok(None),
                    _ => err("dimension_names", "not a string or null"),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return err("dimension_names", "not a list of the array's rank"),
    };
    Ok(Array {
        shape,
        chunk_shape,
        data_type,
        fill_value,
        codecs,
        attributes: attributes(doc),
        dimension_names,
        chunks: std::collections::BTreeMap::new(),
    })
}

fn u64_list(v: Option<&Value>, field: &str) -> Result<Vec<u64>, ParseError> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_u64().map_or_else(|| err(field, "not a non-negative integer"), Ok))
            .collect(),
        _ => err(field, "missing or not a list"),
    }
}

fn length_bytes(v: &Value, field: &str) -> Result<u32, ParseError> {
    v.get("configuration")
        .and_then(|c| c.get("length_bytes"))
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n > 0)
        .map_or_else(|| err(field, "length_bytes missing"), Ok)
}

/// A v3 `data_type` as a model type.
///
/// # Errors
/// [`ParseError`] for types vzarr does not write.
pub fn data_type(v: &Value, field: &str) -> Result<DataType, ParseError> {
    let bits = |s: &str, prefix: &str, allowed: &[u8]| -> Option<u8> {
        s.strip_prefix(prefix)?
            .parse::<u8>()
            .ok()
            .filter(|b| allowed.contains(b))
    };
    if let Value::String(s) = v {
        let s = s.as_str();
        return Ok(match s {
            "bool" => DataType::Bool,
            "string" => DataType::VlenUtf8,
            // zarr-python's name, and zarrs' name and alias.
            "variable_length_bytes" | "bytes" | "binary" => DataType::VlenBytes,
            _ => {
                if let Some(b) = bits(s, "uint", &[8, 16, 32, 64]) {
                    DataType::UInt(b)
                } else if let Some(b) = bits(s, "int", &[8, 16, 32, 64]) {
                    DataType::Int(b)
                } else if let Some(b) = bits(s, "float", &[16, 32, 64]) {
                    DataType::Float(b)
                } else if let Some(b) = bits(s, "complex", &[64, 128]) {
                    DataType::Complex(b)
                } else {
                    return err(field, format!("data type {s:?} is not supported"));
                }
            }
        });
    }
    match v.get("name").and_then(Value::as_str) {
        Some("null_terminated_bytes") => Ok(DataType::FixedBytes(length_bytes(v, field)?)),
        Some("raw_bytes") => Ok(DataType::RawBytes(length_bytes(v, field)?)),
        Some("structured") => {
            let fields = v
                .get("configuration")
                .and_then(|c| c.get("fields"))
                .and_then(Value::as_array)
                .map_or_else(|| err(field, "structured type without fields"), Ok)?;
            let mut out = Vec::with_capacity(fields.len());
            for (i, f) in fields.iter().enumerate() {
                match f.as_array().map(Vec::as_slice) {
                    Some([Value::String(name), t]) => {
                        out.push((name.clone(), data_type(t, &format!("{field}.fields[{i}]"))?));
                    }
                    _ => return err(field, format!("field {i} is not [name, type]")),
                }
            }
            Ok(DataType::Structured(out))
        }
        _ => err(field, format!("data type {v} is not supported")),
    }
}

fn conf(v: &Value) -> &Value {
    v.get("configuration").unwrap_or(&Value::Null)
}

fn conf_u64(v: &Value, key: &str) -> Option<u64> {
    conf(v).get(key).and_then(Value::as_u64)
}

/// A v3 codec as a model codec.
///
/// # Errors
/// [`ParseError`] for codecs vzarr does not write.
pub fn codec(v: &Value, field: &str) -> Result<Codec, ParseError> {
    let name = v.get("name").and_then(Value::as_str).unwrap_or("");
    let u32_of = |key: &str, default: u32| -> Result<u32, ParseError> {
        match conf(v).get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(x) => x
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map_or_else(|| err(field, format!("{key} is not a small non-negative integer")), Ok),
        }
    };
    Ok(match name {
        "bytes" => match conf(v).get("endian").and_then(Value::as_str) {
            None => Codec::Bytes(None),
            Some("little") => Codec::Bytes(Some(Endian::Little)),
            Some("big") => Codec::Bytes(Some(Endian::Big)),
            Some(e) => return err(field, format!("endian {e:?}")),
        },
        "vlen-utf8" => Codec::VlenUtf8,
        "vlen-bytes" => Codec::VlenBytes,
        "numcodecs.shuffle" => Codec::Shuffle {
            element_size: u32_of("elementsize", 4)?,
        },
        "numcodecs.zlib" => Codec::Zlib {
            level: u32_of("level", 1)?,
        },
        "numcodecs.fletcher32" => Codec::Fletcher32,
        "zstd" => Codec::Zstd {
            level: conf(v)
                .get("level")
                .and_then(Value::as_i64)
                .and_then(|l| i32::try_from(l).ok())
                .unwrap_or(0),
        },
        "blosc" => {
            let cname = match conf(v).get("cname").and_then(Value::as_str) {
                Some("blosclz") => BloscCompressor::BloscLz,
                Some("lz4") => BloscCompressor::Lz4,
                Some("lz4hc") => BloscCompressor::Lz4Hc,
                Some("snappy") => BloscCompressor::Snappy,
                Some("zlib") => BloscCompressor::Zlib,
                Some("zstd") => BloscCompressor::Zstd,
                other => return err(field, format!("blosc cname {other:?}")),
            };
            let shuffle = match conf(v).get("shuffle").and_then(Value::as_str) {
                Some("noshuffle") => BloscShuffle::NoShuffle,
                Some("shuffle") => BloscShuffle::Shuffle,
                Some("bitshuffle") => BloscShuffle::BitShuffle,
                other => return err(field, format!("blosc shuffle {other:?}")),
            };
            Codec::Blosc {
                cname,
                clevel: u8::try_from(conf_u64(v, "clevel").unwrap_or(5)).unwrap_or(9),
                shuffle,
                typesize: u32_of("typesize", 1)?,
            }
        }
        "numcodecs.bz2" => Codec::Bz2 {
            level: u32_of("level", 9)?,
        },
        "imagecodecs_lzf" => {
            if conf(v).get("header").and_then(Value::as_bool) == Some(true) {
                return err(field, "LZF with a length header is not supported");
            }
            Codec::Lzf
        }
        "imagecodecs_lz4h5" => Codec::Lz4Hdf5 {
            block_size: u32_of("blocksize", 0)?,
        },
        "vzarr.bitshuffle" => Codec::Bitshuffle {
            element_size: u32_of("elementsize", 1)?,
            block_size: u32_of("blocksize", 0)?,
            compression: match conf(v).get("compression").and_then(Value::as_str) {
                Some("none") | None => BitshuffleCompression::None,
                Some("lz4") => BitshuffleCompression::Lz4,
                Some("zstd") => BitshuffleCompression::Zstd(
                    conf(v)
                        .get("level")
                        .and_then(Value::as_i64)
                        .and_then(|l| i32::try_from(l).ok())
                        .unwrap_or(0),
                ),
                Some(c) => return err(field, format!("bitshuffle compression {c:?}")),
            },
        },
        "imagecodecs_szip" => {
            if conf(v).get("header").and_then(Value::as_bool) != Some(true) {
                return err(field, "SZIP without libhdf5's length header is not supported");
            }
            Codec::Szip {
                options_mask: u32_of("options_mask", 0)?,
                pixels_per_block: u32_of("pixels_per_block", 0)?,
                bits_per_pixel: u32_of("bits_per_pixel", 0)?,
                pixels_per_scanline: u32_of("pixels_per_scanline", 0)?,
            }
        }
        "vzarr.scaleoffset" => Codec::ScaleOffset {
            cd_values: conf(v)
                .get("cd_values")
                .and_then(Value::as_array)
                .and_then(|a| {
                    a.iter()
                        .map(|x| x.as_u64().and_then(|x| u32::try_from(x).ok()))
                        .collect()
                })
                .map_or_else(|| err(field, "scale-offset cd_values must be a list of u32"), Ok)?,
        },
        other => return err(field, format!("codec {other:?} is not supported")),
    })
}

/// Parse a float fill value: a number, `"NaN"`, `"Infinity"`, `"-Infinity"` or hex bits.
fn float_bits(v: &Value, width: u8, field: &str) -> Result<u64, ParseError> {
    let f = match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) if s.starts_with("0x") => {
            return u64::from_str_radix(&s[2..], 16).map_or_else(|_| err(field, "bad hex float"), Ok)
        }
        Value::String(s) if s == "NaN" => f64::NAN,
        Value::String(s) if s == "Infinity" => f64::INFINITY,
        Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
        _ => return err(field, format!("{v} is not a float")),
    };
    Ok(match width {
        16 => u64::from(f64_to_half(f)),
        32 => u64::from((f as f32).to_bits()),
        _ => f.to_bits(),
    })
}

fn f64_to_half(f: f64) -> u16 {
    // Exact for the values vzarr writes (they came from half floats).
    let x = f as f32;
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    if x.is_nan() {
        return sign | 0x7e00;
    }
    let exp = ((bits >> 23) & 0xff) as i32 - 127 + 15;
    let man = bits & 0x7f_ffff;
    if exp >= 31 {
        return sign | 0x7c00;
    }
    if exp <= 0 {
        if exp < -10 {
            return sign;
        }
        let m = (man | 0x80_0000) >> (1 - exp + 13);
        return sign | m as u16;
    }
    sign | ((exp as u16) << 10) | (man >> 13) as u16
}

/// A v3 `fill_value` as element bytes in the array's byte order.
///
/// # Errors
/// [`ParseError`] if the value does not fit the type.
pub fn fill_value(dt: &DataType, v: &Value, endian: Option<Endian>) -> Result<FillValue, ParseError> {
    let field = "fill_value";
    let to_bytes = |bits: u64, size: usize| -> Vec<u8> {
        let le = bits.to_le_bytes()[..size].to_vec();
        match endian {
            Some(Endian::Big) => le.into_iter().rev().collect(),
            _ => le,
        }
    };
    if v.is_null() {
        return Ok(FillValue::Default);
    }
    Ok(FillValue::Bytes(match dt {
        DataType::VlenUtf8 => match v {
            Value::String(s) => s.as_bytes().to_vec(),
            _ => return err(field, "not a string"),
        },
        DataType::VlenBytes => {
            use base64::Engine;
            match v.as_str().map(|s| base64::engine::general_purpose::STANDARD.decode(s)) {
                Some(Ok(b)) => b,
                _ => return err(field, "not a base64 string"),
            }
        }
        DataType::Bool => vec![u8::from(v.as_bool().map_or_else(|| err(field, "not a bool"), Ok)?)],
        DataType::UInt(b) => {
            let n = v.as_u64().map_or_else(|| err(field, "not an unsigned integer"), Ok)?;
            to_bytes(n, usize::from(*b / 8))
        }
        DataType::Int(b) => {
            let n = v.as_i64().map_or_else(|| err(field, "not an integer"), Ok)?;
            to_bytes(n as u64, usize::from(*b / 8))
        }
        DataType::Float(b) => to_bytes(float_bits(v, *b, field)?, usize::from(*b / 8)),
        DataType::Complex(b) => match v.as_array().map(Vec::as_slice) {
            Some([re, im]) => {
                let w = *b / 2;
                let mut out = to_bytes(float_bits(re, w, field)?, usize::from(w / 8));
                out.extend(to_bytes(float_bits(im, w, field)?, usize::from(w / 8)));
                out
            }
            _ => return err(field, "complex fill value is not [re, im]"),
        },
        DataType::FixedBytes(_) | DataType::RawBytes(_) | DataType::Structured(_) => {
            use base64::Engine;
            let s = v.as_str().map_or_else(|| err(field, "not a base64 string"), Ok)?;
            let b = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_or_else(|e| err(field, format!("bad base64: {e}")), Ok)?;
            if Some(b.len()) != dt.size() {
                return err(field, "length differs from the data type's size");
            }
            b
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zarr::metadata::array_metadata;

    fn roundtrip(a: &Array) {
        let doc = array_metadata(a);
        let back = array_from_metadata(&doc).unwrap();
        assert_eq!(&back, a, "{doc}");
    }

    fn array(data_type: DataType, fill: FillValue, codecs: Vec<Codec>) -> Array {
        Array {
            shape: vec![10, 4],
            chunk_shape: vec![5, 4],
            data_type,
            fill_value: fill,
            codecs,
            attributes: serde_json::json!({"units": "m", "scale_factor": 0.5})
                .as_object()
                .unwrap()
                .clone(),
            dimension_names: Some(vec![Some("t".into()), None]),
            chunks: Default::default(),
        }
    }

    #[test]
    fn every_type_and_codec_vzarr_writes_reads_back() {
        let le = Codec::Bytes(Some(Endian::Little));
        let be = Codec::Bytes(Some(Endian::Big));
        roundtrip(&array(
            DataType::Float(32),
            FillValue::Bytes(f32::NAN.to_le_bytes().to_vec()),
            vec![le.clone()],
        ));
        roundtrip(&array(
            DataType::Float(64),
            FillValue::Bytes((-9999.0f64).to_be_bytes().to_vec()),
            vec![
                be.clone(),
                Codec::Shuffle { element_size: 8 },
                Codec::Zlib { level: 4 },
                Codec::Fletcher32,
            ],
        ));
        roundtrip(&array(
            DataType::Float(16),
            FillValue::Bytes(vec![0x00, 0x3c]),
            vec![le.clone()],
        ));
        roundtrip(&array(
            DataType::Int(16),
            FillValue::Bytes((-2i16).to_le_bytes().to_vec()),
            vec![le.clone(), Codec::Zstd { level: 3 }],
        ));
        roundtrip(&array(
            DataType::UInt(64),
            FillValue::Bytes(u64::MAX.to_be_bytes().to_vec()),
            vec![be, Codec::Bz2 { level: 9 }, Codec::Lzf],
        ));
        roundtrip(&array(
            DataType::Complex(64),
            FillValue::Bytes([1.5f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat()),
            vec![le.clone()],
        ));
        roundtrip(&array(
            DataType::Bool,
            FillValue::Bytes(vec![1]),
            vec![Codec::Bytes(None)],
        ));
        roundtrip(&array(
            DataType::FixedBytes(6),
            FillValue::Bytes(b"abc\0\0\0".to_vec()),
            vec![Codec::Bytes(None), Codec::Lz4Hdf5 { block_size: 0 }],
        ));
        roundtrip(&array(
            DataType::RawBytes(3),
            FillValue::Bytes(vec![0, 7, 0]),
            vec![Codec::Bytes(None)],
        ));
        roundtrip(&array(
            DataType::VlenUtf8,
            FillValue::Bytes(b"n/a".to_vec()),
            vec![Codec::VlenUtf8],
        ));
        roundtrip(&array(
            DataType::Structured(vec![("a".into(), DataType::Int(32)), ("b".into(), DataType::Float(64))]),
            FillValue::Bytes(vec![0; 12]),
            vec![
                le.clone(),
                Codec::Blosc {
                    cname: BloscCompressor::Zstd,
                    clevel: 5,
                    shuffle: BloscShuffle::BitShuffle,
                    typesize: 12,
                },
            ],
        ));
        roundtrip(&array(
            DataType::UInt(16),
            FillValue::Bytes(vec![0, 0]),
            vec![
                le,
                Codec::Bitshuffle {
                    element_size: 2,
                    block_size: 0,
                    compression: BitshuffleCompression::Zstd(3),
                },
            ],
        ));
    }

    #[test]
    fn unknown_fields_are_errors_naming_the_field() {
        let a = array(DataType::Int(8), FillValue::Default, vec![Codec::Bytes(None)]);
        let mut doc = array_metadata(&a);
        doc["codecs"][0]["name"] = "gzip".into();
        let e = array_from_metadata(&doc).unwrap_err();
        assert_eq!(e.field, "codecs[0]");
        let mut doc = array_metadata(&a);
        doc["data_type"] = "float8".into();
        assert_eq!(array_from_metadata(&doc).unwrap_err().field, "data_type");
        let mut doc = array_metadata(&a);
        doc["chunk_grid"]["name"] = "rectilinear".into();
        assert_eq!(array_from_metadata(&doc).unwrap_err().field, "chunk_grid");
    }
}
