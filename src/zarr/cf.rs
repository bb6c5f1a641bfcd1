//! CF attributes in Zarr v3 stores: the `_FillValue` attribute in the encoding xarray (and
//! VirtualiZarr) write and read in Zarr v3.
//!
//! netCDF-4 and HDF5 files keep `_FillValue` as an attribute of the variable's type, usually a
//! one-element array. In a Zarr v3 array xarray decodes that attribute with its own
//! `FillValueCoder`: a float is the base64 text of its little-endian `float64` bytes, an
//! integer a JSON integer, a boolean a JSON boolean, a complex number a list of two base64
//! floats. Any other form makes xarray refuse the whole group, so every front end stores the
//! attribute in this form ([`encode_fill_values`]) and the Zarr v2 (kerchunk) export turns it
//! back into a plain number ([`decode_fill_value`]). xarray's coder refuses byte-string
//! (`FixedBytes`) arrays' `_FillValue` whatever its form; there the attribute is left out when
//! it equals the array's Zarr fill value, which then says the same.

use base64::Engine as _;
use serde_json::Value;

use crate::model::{float_json, DataType, FillValue, Group};

/// The CF fill value attribute.
pub const FILL_VALUE_ATTR: &str = "_FillValue";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A JSON float, with the `"NaN"`, `"Infinity"` and `"-Infinity"` strings of
/// [`float_json`].
fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

fn b64_f64(x: f64) -> Value {
    Value::String(B64.encode(x.to_le_bytes()))
}

fn f64_b64(v: &Value) -> Option<f64> {
    let bytes = B64.decode(v.as_str()?).ok()?;
    Some(f64::from_le_bytes(bytes.try_into().ok()?))
}

/// The single value of a scalar or one-element list.
fn single(v: &Value) -> Option<&Value> {
    match v {
        Value::Array(items) if items.len() == 1 => items.first(),
        Value::Array(_) => None,
        v => Some(v),
    }
}

/// A netCDF-style `_FillValue` attribute value (a scalar or one-element list) in the Zarr v3
/// form xarray decodes for an array of type `dt`; `None` when it has no such form (several
/// values, a value of another kind, string and compound types), in which case the attribute
/// is kept as it is. Values already in that form are returned unchanged.
#[must_use]
pub fn encode_fill_value(v: &Value, dt: &DataType) -> Option<Value> {
    let x = single(v)?;
    match dt {
        DataType::Float(_) => {
            if f64_b64(x).is_some() {
                return Some(x.clone());
            }
            as_f64(x).map(b64_f64)
        }
        DataType::Int(_) | DataType::UInt(_) => match x {
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(x.clone()),
            Value::Number(n) => {
                let f = n.as_f64()?;
                // xarray takes int(value); keep only values that are integers already.
                (f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15).then(|| {
                    #[allow(clippy::cast_possible_truncation)]
                    Value::from(f as i64)
                })
            }
            _ => None,
        },
        DataType::Bool => match x {
            Value::Bool(_) => Some(x.clone()),
            Value::Number(n) => n.as_f64().map(|f| Value::Bool(f != 0.0)),
            _ => None,
        },
        DataType::Complex(_) => match x {
            Value::Array(parts) if parts.len() == 2 => {
                if parts.iter().all(|p| f64_b64(p).is_some()) {
                    return Some(x.clone());
                }
                let re = as_f64(&parts[0])?;
                let im = as_f64(&parts[1])?;
                Some(Value::Array(vec![b64_f64(re), b64_f64(im)]))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The plain JSON value of a Zarr v3 `_FillValue` attribute of an array of type `dt` (a
/// number, NaN and infinities as strings, complex as `[re, im]`), for Zarr v2 and other
/// readers that take the attribute as the value itself; `v` itself when it is not in the
/// encoded form.
#[must_use]
pub fn decode_fill_value(v: &Value, dt: &DataType) -> Value {
    match (dt, v) {
        (DataType::Float(_), Value::String(_)) => f64_b64(v).map_or_else(|| v.clone(), float_json),
        (DataType::Complex(_), Value::Array(parts)) if parts.len() == 2 => {
            match (f64_b64(&parts[0]), f64_b64(&parts[1])) {
                (Some(re), Some(im)) => Value::Array(vec![float_json(re), float_json(im)]),
                _ => v.clone(),
            }
        }
        _ => v.clone(),
    }
}

/// Put the `_FillValue` attribute of every array under `root` in the Zarr v3 form
/// ([`encode_fill_value`]).
///
/// xarray has no form for the attribute on a fixed-length byte-string array (its
/// `FillValueCoder` refuses NumPy `S` types and with them the whole group), so there the
/// attribute is left out when it says what the array's Zarr `fill_value` says already; xarray
/// keeps that in `encoding["fill_value"]`.
pub fn encode_fill_values(root: &mut Group) {
    root.for_each_array_mut(&mut |a| {
        if let DataType::FixedBytes(n) = a.data_type {
            if a.attributes
                .get(FILL_VALUE_ATTR)
                .is_some_and(|v| same_bytes_fill(v, n, &a.fill_value))
            {
                a.attributes.remove(FILL_VALUE_ATTR);
            }
            return;
        }
        if let Some(v) = a.attributes.get_mut(FILL_VALUE_ATTR) {
            if let Some(enc) = encode_fill_value(v, &a.data_type) {
                *v = enc;
            }
        }
    });
}

/// Whether a string `_FillValue` attribute (scalar or one-element list), NUL-padded to `n`
/// bytes, is the fill value `fill` of an `n`-byte string array.
fn same_bytes_fill(v: &Value, n: u32, fill: &FillValue) -> bool {
    let Some(Value::String(text)) = single(v) else {
        return false;
    };
    let Ok(n) = usize::try_from(n) else {
        return false;
    };
    let mut want = text.as_bytes().to_vec();
    if want.len() > n {
        return false;
    }
    want.resize(n, 0);
    match fill {
        FillValue::Default => want.iter().all(|&b| b == 0),
        FillValue::Bytes(b) => *b == want,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_become_base64_float64_as_xarray_writes_them() {
        // xarray: base64.standard_b64encode(struct.pack("<d", -9999.0)) == b"AAAAAICHw8A="
        assert_eq!(
            encode_fill_value(&json!([-9999.0]), &DataType::Float(32)),
            Some(json!("AAAAAICHw8A="))
        );
        assert_eq!(
            encode_fill_value(&json!(-9999.0), &DataType::Float(64)),
            Some(json!("AAAAAICHw8A="))
        );
        // Already encoded: unchanged.
        assert_eq!(
            encode_fill_value(&json!("AAAAAICHw8A="), &DataType::Float(64)),
            Some(json!("AAAAAICHw8A="))
        );
        let nan = encode_fill_value(&json!(["NaN"]), &DataType::Float(32)).unwrap();
        assert!(f64_b64(&nan).unwrap().is_nan());
        assert_eq!(
            decode_fill_value(&json!("AAAAAICHw8A="), &DataType::Float(32)),
            json!(-9999.0)
        );
        assert_eq!(decode_fill_value(&nan, &DataType::Float(32)), json!("NaN"));
    }

    #[test]
    fn integers_booleans_and_complex() {
        assert_eq!(encode_fill_value(&json!([-127]), &DataType::Int(8)), Some(json!(-127)));
        assert_eq!(
            encode_fill_value(&json!([65535.0]), &DataType::UInt(16)),
            Some(json!(65535))
        );
        assert_eq!(encode_fill_value(&json!([0.5]), &DataType::Int(16)), None);
        assert_eq!(encode_fill_value(&json!([1]), &DataType::Bool), Some(json!(true)));
        let c = encode_fill_value(&json!([[1.0, "-Infinity"]]), &DataType::Complex(128)).unwrap();
        assert_eq!(
            decode_fill_value(&c, &DataType::Complex(128)),
            json!([1.0, "-Infinity"])
        );
    }

    #[test]
    fn a_byte_string_fill_attribute_equal_to_the_fill_value_is_left_out() {
        let array = |attr: Value, fill: FillValue| crate::model::Array {
            shape: vec![2],
            chunk_shape: vec![2],
            data_type: DataType::FixedBytes(3),
            fill_value: fill,
            codecs: vec![],
            attributes: [(FILL_VALUE_ATTR.to_string(), attr)].into_iter().collect(),
            dimension_names: None,
            chunks: std::collections::BTreeMap::new(),
        };
        let mut g = Group::default();
        g.children.insert(
            "same".into(),
            crate::model::Node::Array(array(json!("X"), FillValue::Bytes(b"X\0\0".to_vec()))),
        );
        g.children.insert(
            "zero".into(),
            crate::model::Node::Array(array(json!([""]), FillValue::Default)),
        );
        g.children.insert(
            "other".into(),
            crate::model::Node::Array(array(json!("Y"), FillValue::Bytes(b"X\0\0".to_vec()))),
        );
        encode_fill_values(&mut g);
        let attr = |k: &str| match &g.children[k] {
            crate::model::Node::Array(a) => a.attributes.get(FILL_VALUE_ATTR).cloned(),
            crate::model::Node::Group(_) => unreachable!(),
        };
        assert_eq!(attr("same"), None);
        assert_eq!(attr("zero"), None);
        assert_eq!(attr("other"), Some(json!("Y")));
    }

    #[test]
    fn other_forms_are_left_alone() {
        assert_eq!(encode_fill_value(&json!([1, 2]), &DataType::Int(32)), None);
        assert_eq!(encode_fill_value(&json!("x"), &DataType::FixedBytes(4)), None);
        assert_eq!(encode_fill_value(&json!("not base64"), &DataType::Float(64)), None);
        assert_eq!(decode_fill_value(&json!(3), &DataType::Int(8)), json!(3));
    }
}
