//! Model data types and fill values → Zarr v3 `data_type` and `fill_value` JSON.

use serde_json::{json, Value};

use crate::model::{DataType, Endian, FillValue};

/// The Zarr v3 `data_type` of a model type.
#[must_use]
pub fn data_type_metadata(dt: &DataType) -> Value {
    match dt {
        DataType::Bool => json!("bool"),
        DataType::Int(b) => json!(format!("int{b}")),
        DataType::UInt(b) => json!(format!("uint{b}")),
        DataType::Float(b) => json!(format!("float{b}")),
        DataType::Complex(b) => json!(format!("complex{b}")),
        // The name and configuration zarr-python 3 uses for NumPy `S<n>` arrays; zarrs reads it
        // through the extension registered in `zarr::ext`.
        DataType::FixedBytes(n) => {
            json!({"name": "null_terminated_bytes", "configuration": {"length_bytes": n}})
        }
        DataType::VlenUtf8 => json!("string"),
        // zarr-python 3's name; zarrs reads it as an alias of its `bytes`.
        DataType::VlenBytes => json!("variable_length_bytes"),
        // zarr-python 3's names for NumPy `V<n>` and structured dtypes; zarrs reads them
        // through the extensions registered in `zarr::ext`.
        DataType::RawBytes(n) => json!({"name": "raw_bytes", "configuration": {"length_bytes": n}}),
        DataType::Structured(fields) => {
            let fields: Vec<Value> = fields
                .iter()
                .map(|(name, t)| json!([name, data_type_metadata(t)]))
                .collect();
            json!({"name": "structured", "configuration": {"fields": fields}})
        }
    }
}

/// NumPy dtype string (`<i4`, `>f8`, `|S8`, `|V8`) for Python comparisons; a structured type
/// is given as `|V<size>` (its field list is in the Zarr `data_type`).
#[must_use]
pub fn numpy_dtype(dt: &DataType, endian: Option<Endian>) -> String {
    let e = match (dt.size(), endian) {
        (Some(1), _) | (None, _) => '|',
        (_, Some(Endian::Big)) => '>',
        _ => '<',
    };
    match dt {
        DataType::Bool => "|b1".into(),
        DataType::Int(b) => format!("{e}i{}", b / 8),
        DataType::UInt(b) => format!("{e}u{}", b / 8),
        DataType::Float(b) => format!("{e}f{}", b / 8),
        DataType::Complex(b) => format!("{e}c{}", b / 8),
        DataType::FixedBytes(n) => format!("|S{n}"),
        DataType::RawBytes(n) => format!("|V{n}"),
        DataType::VlenUtf8 | DataType::VlenBytes => "|O".into(),
        DataType::Structured(_) => format!("|V{}", dt.size().unwrap_or(0)),
    }
}

fn float_json(bits: u64, width: u8) -> Value {
    let (nan, v) = match width {
        16 => {
            let exp = (bits >> 10) & 0x1f;
            let man = bits & 0x3ff;
            (exp == 0x1f && man != 0, half_to_f64(bits as u16))
        }
        32 => {
            let f = f32::from_bits(bits as u32);
            (f.is_nan(), f64::from(f))
        }
        _ => {
            let f = f64::from_bits(bits);
            (f.is_nan(), f)
        }
    };
    if nan {
        // Hex keeps the exact NaN payload (Zarr v3 float fill value encoding).
        let digits = usize::from(width / 4);
        return json!(format!("0x{bits:0digits$x}"));
    }
    if v.is_infinite() {
        return json!(if v > 0.0 { "Infinity" } else { "-Infinity" });
    }
    json!(v)
}

fn half_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let man = f64::from(h & 0x3ff);
    match exp {
        0 => sign * man * 2f64.powi(-24),
        31 => {
            if man == 0.0 {
                sign * f64::INFINITY
            } else {
                f64::NAN
            }
        }
        _ => sign * (1.0 + man / 1024.0) * 2f64.powi(exp - 15),
    }
}

/// The Zarr v3 `fill_value` of an array. `Default` is zero (libhdf5's default).
///
/// Fill bytes are in the array's own byte order (`endian`).
#[must_use]
pub fn fill_value_metadata(dt: &DataType, fill: &FillValue, endian: Option<Endian>) -> Value {
    if *dt == DataType::VlenUtf8 {
        // A string fill value holds the UTF-8 bytes of the string.
        return match fill {
            FillValue::Bytes(b) => json!(String::from_utf8_lossy(b)),
            FillValue::Default => json!(""),
        };
    }
    if *dt == DataType::VlenBytes {
        use base64::Engine;
        return match fill {
            FillValue::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
            FillValue::Default => json!(""),
        };
    }
    let bytes = match fill {
        FillValue::Bytes(b) if Some(b.len()) == dt.size() => b.clone(),
        _ => vec![0u8; dt.size().unwrap_or(0)],
    };
    let uint = |b: &[u8]| -> u64 {
        let it: Box<dyn Iterator<Item = &u8>> = match endian {
            Some(Endian::Big) => Box::new(b.iter()),
            _ => Box::new(b.iter().rev()),
        };
        it.fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
    };
    match dt {
        DataType::Bool => json!(bytes.first().copied().unwrap_or(0) != 0),
        DataType::UInt(_) => json!(uint(&bytes)),
        DataType::Int(b) => {
            let v = uint(&bytes);
            let shift = 64 - u32::from(*b);
            json!(((v << shift) as i64) >> shift)
        }
        DataType::Float(b) => float_json(uint(&bytes), *b),
        DataType::Complex(b) => {
            let half = bytes.len() / 2;
            let w = b / 2;
            json!([float_json(uint(&bytes[..half]), w), float_json(uint(&bytes[half..]), w)])
        }
        DataType::FixedBytes(_) | DataType::RawBytes(_) | DataType::Structured(_) => {
            use base64::Engine;
            json!(base64::engine::general_purpose::STANDARD.encode(&bytes))
        }
        DataType::VlenUtf8 | DataType::VlenBytes => json!(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_values_follow_zarr_v3_json_rules() {
        let f = |dt, b: Vec<u8>, e| fill_value_metadata(&dt, &FillValue::Bytes(b), e);
        assert_eq!(
            f(DataType::Int(16), vec![0xff, 0xfe], Some(Endian::Little)),
            json!(-257)
        );
        assert_eq!(f(DataType::Int(16), vec![0xff, 0xfe], Some(Endian::Big)), json!(-2));
        assert_eq!(f(DataType::UInt(8), vec![200], None), json!(200));
        let nan = f32::NAN.to_bits().to_le_bytes().to_vec();
        assert_eq!(f(DataType::Float(32), nan, Some(Endian::Little)), json!("0x7fc00000"));
        let m = (-9999.0f64).to_be_bytes().to_vec();
        assert_eq!(f(DataType::Float(64), m, Some(Endian::Big)), json!(-9999.0));
        let inf = f32::NEG_INFINITY.to_le_bytes().to_vec();
        assert_eq!(f(DataType::Float(32), inf, Some(Endian::Little)), json!("-Infinity"));
        assert_eq!(
            fill_value_metadata(&DataType::Float(64), &FillValue::Default, Some(Endian::Little)),
            json!(0.0)
        );
        assert_eq!(f(DataType::FixedBytes(3), b"ab\0".to_vec(), None), json!("YWIA"));
        assert_eq!(
            f(DataType::VlenUtf8, "fill é".as_bytes().to_vec(), None),
            json!("fill é")
        );
    }
}
