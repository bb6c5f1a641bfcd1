//! Values no Zarr data type holds, as JSON text: one JSON document per element.
//!
//! Compounds with variable-length sequence members and sequences whose items are themselves
//! sequences or compounds have no Zarr type (a structured type's fields are fixed-size, and
//! `vlen-bytes` holds one flat run of items). Their values are read once and each element
//! becomes the JSON text of what h5py returns for it: integers and floats as numbers (a
//! non-finite float as the string `"NaN"`, `"Infinity"` or `"-Infinity"`), strings as
//! strings, sequences and arrays as lists, compounds as objects keyed by member name,
//! enums as their integer value, complex numbers as `[real, imaginary]`.
//!
//! Only the types [`wanted`] names go this way; every other type keeps its own mapping.

use bytes::Bytes;
use serde_json::{Map, Number, Value};

use super::messages::datatype::{ByteOrder, Datatype};
use super::raw::str_pad;

/// The attribute naming the HDF5 type of a JSON-encoded array (`"sequence of sequence of uint32"`).
pub const JSON_TYPE_ATTR: &str = "_hdf5_json_type";

/// Whether a dataset of type `dt` is stored as JSON text: a compound with a
/// variable-length sequence member, or a sequence of sequences or of compounds, whose parts
/// are all [`encodable`].
pub(crate) fn wanted(dt: &Datatype) -> bool {
    let nested = match dt {
        Datatype::VarLen {
            string: false,
            base: Some(base),
            ..
        } => matches!(
            base.as_ref(),
            Datatype::VarLen { string: false, .. } | Datatype::Compound { .. }
        ),
        Datatype::Compound { members, .. } => members.iter().any(|m| has_sequence(&m.dtype)),
        _ => false,
    };
    nested && encodable(dt)
}

/// Whether `dt` holds a variable-length sequence anywhere.
fn has_sequence(dt: &Datatype) -> bool {
    match dt {
        Datatype::VarLen { string: false, .. } => true,
        Datatype::Array { base, .. } => has_sequence(base),
        Datatype::Compound { members, .. } => members.iter().any(|m| has_sequence(&m.dtype)),
        _ => false,
    }
}

/// Whether every part of `dt` has a JSON form here.
fn encodable(dt: &Datatype) -> bool {
    match dt {
        Datatype::FixedPoint {
            size,
            order,
            bit_offset,
            precision,
            ..
        } => {
            matches!(size, 1 | 2 | 4 | 8)
                && *order != ByteOrder::Vax
                && *bit_offset == 0
                && u32::from(*precision) == size * 8
        }
        Datatype::Float { size, order, ieee, .. } => *ieee && matches!(size, 4 | 8) && *order != ByteOrder::Vax,
        Datatype::String { size, .. } => *size > 0,
        Datatype::Enum { base, .. } => encodable(base),
        Datatype::VarLen { string: true, .. } => true,
        Datatype::VarLen {
            string: false,
            base: Some(base),
            ..
        } => base.size() > 0 && encodable(base),
        Datatype::Array { base, dims, .. } => !dims.contains(&0) && encodable(base),
        Datatype::Compound { members, size } => {
            !members.is_empty()
                && members
                    .iter()
                    .all(|m| encodable(&m.dtype) && u64::from(m.offset) + u64::from(m.dtype.size()) <= u64::from(*size))
        }
        Datatype::Complex { base, .. } => encodable(base) && matches!(base.as_ref(), Datatype::Float { .. }),
        _ => false,
    }
}

/// The HDF5 type in words, for [`JSON_TYPE_ATTR`] ("compound {a: sequence of int32, …}").
pub(crate) fn describe(dt: &Datatype) -> String {
    match dt {
        Datatype::FixedPoint { size, signed, .. } => format!("{}int{}", if *signed { "" } else { "u" }, size * 8),
        Datatype::Float { size, .. } => format!("float{}", size * 8),
        Datatype::String { .. } | Datatype::VarLen { string: true, .. } => "string".into(),
        Datatype::Enum { base, .. } => format!("enum of {}", describe(base)),
        Datatype::VarLen { base: Some(base), .. } => format!("sequence of {}", describe(base)),
        Datatype::Array { dims, base, .. } => {
            let d: Vec<String> = dims.iter().map(ToString::to_string).collect();
            format!("array[{}] of {}", d.join(","), describe(base))
        }
        Datatype::Compound { members, .. } => {
            let m: Vec<String> = members
                .iter()
                .map(|m| format!("{}: {}", m.name, describe(&m.dtype)))
                .collect();
            format!("compound {{{}}}", m.join(", "))
        }
        Datatype::Complex { base, .. } => format!("complex of {}", describe(base)),
        other => other.feature(),
    }
}

/// Fetches a variable-length element's items: its in-file reference and the item size → the
/// items' bytes.
pub(crate) type Resolve<'a, E> = dyn FnMut(&[u8], usize) -> Result<Bytes, E> + 'a;

/// Decodes elements of one type; variable-length parts are fetched through `resolve`
/// (the element's in-file reference and the item size → the items' bytes).
pub(crate) struct Encoder<'a, E> {
    resolve: &'a mut Resolve<'a, E>,
    /// Scalars and list items still allowed for the dataset (a few shared heap objects can
    /// otherwise fan out without bound).
    budget: u64,
}

/// Why an element could not be encoded.
#[derive(Debug)]
pub(crate) enum EncodeError<E> {
    /// The variable-length reference could not be resolved.
    Resolve(E),
    /// The element is not what its type says.
    Bad(String),
}

impl<'a, E> Encoder<'a, E> {
    /// An encoder allowing `budget` values in all.
    pub(crate) fn new(resolve: &'a mut Resolve<'a, E>, budget: u64) -> Self {
        Self { resolve, budget }
    }

    /// The values still allowed.
    pub(crate) fn remaining(&self) -> u64 {
        self.budget
    }

    /// The JSON value of one element `el` (exactly `dt.size()` bytes) of an [`encodable`] type.
    pub(crate) fn value(&mut self, dt: &Datatype, el: &[u8]) -> Result<Value, EncodeError<E>> {
        let bad = |why: String| EncodeError::Bad(why);
        if el.len() < dt.size() as usize {
            return Err(bad(format!("{}-byte element shorter than its type", el.len())));
        }
        self.budget = self
            .budget
            .checked_sub(1)
            .ok_or_else(|| bad("more values than allowed for one dataset".into()))?;
        Ok(match dt {
            Datatype::FixedPoint {
                size, order, signed, ..
            } => int_value(&el[..*size as usize], *order == ByteOrder::Big, *signed),
            Datatype::Enum { base, .. } => self.value(base, el)?,
            Datatype::Float { size, order, .. } => {
                let mut b = [0u8; 8];
                let n = *size as usize;
                b[..n].copy_from_slice(&el[..n]);
                if *order == ByteOrder::Big {
                    b[..n].reverse();
                }
                let x = if n == 4 {
                    f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                } else {
                    f64::from_le_bytes(b)
                };
                float_value(x)
            }
            Datatype::String { size, pad, .. } => {
                let s = &el[..*size as usize];
                let s = if *pad == str_pad::NULL_TERMINATE {
                    &s[..s.iter().position(|&x| x == 0).unwrap_or(s.len())]
                } else {
                    // NumPy's fixed strings drop trailing NULs.
                    &s[..s.iter().rposition(|&x| x != 0).map_or(0, |p| p + 1)]
                };
                Value::String(text(s)?)
            }
            Datatype::VarLen { string: true, .. } => {
                let b = (self.resolve)(el, 1).map_err(EncodeError::Resolve)?;
                Value::String(text(&b[..b.iter().position(|&x| x == 0).unwrap_or(b.len())])?)
            }
            Datatype::VarLen {
                string: false,
                base: Some(base),
                ..
            } => {
                let item = base.size() as usize;
                let b = (self.resolve)(el, item).map_err(EncodeError::Resolve)?;
                let mut out = Vec::with_capacity((b.len() / item.max(1)).min(1 << 16));
                for x in b.chunks_exact(item) {
                    out.push(self.value(base, x)?);
                }
                Value::Array(out)
            }
            Datatype::Array { dims, base, .. } => {
                let item = base.size() as usize;
                self.nested(dims, base, el, item)?
            }
            Datatype::Compound { members, .. } => {
                let mut m = Map::new();
                for member in members {
                    let o = member.offset as usize;
                    m.insert(member.name.clone(), self.value(&member.dtype, &el[o..])?);
                }
                Value::Object(m)
            }
            Datatype::Complex { base, .. } => {
                let n = base.size() as usize;
                Value::Array(vec![self.value(base, &el[..n])?, self.value(base, &el[n..])?])
            }
            other => return Err(bad(format!("no JSON form for {}", other.feature()))),
        })
    }

    /// An array element as nested lists, `dims` outermost first.
    fn nested(&mut self, dims: &[u32], base: &Datatype, el: &[u8], item: usize) -> Result<Value, EncodeError<E>> {
        let Some((&n, rest)) = dims.split_first() else {
            return self.value(base, el);
        };
        let inner: usize = rest.iter().map(|&d| d as usize).product::<usize>() * item;
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n as usize {
            let from = i * inner;
            let part = el
                .get(from..from + inner)
                .ok_or_else(|| EncodeError::Bad("array element shorter than its dimensions".into()))?;
            out.push(self.nested(rest, base, part, item)?);
        }
        Ok(Value::Array(out))
    }
}

fn int_value(b: &[u8], big: bool, signed: bool) -> Value {
    let mut v = [0u8; 8];
    let n = b.len();
    if big {
        for (i, x) in b.iter().rev().enumerate() {
            v[i] = *x;
        }
    } else {
        v[..n].copy_from_slice(b);
    }
    let negative = signed && v[n - 1] & 0x80 != 0;
    if negative {
        for x in &mut v[n..] {
            *x = 0xff;
        }
        Value::Number(Number::from(i64::from_le_bytes(v)))
    } else {
        Value::Number(Number::from(u64::from_le_bytes(v)))
    }
}

fn float_value(x: f64) -> Value {
    match Number::from_f64(x) {
        Some(n) => Value::Number(n),
        None if x.is_nan() => Value::String("NaN".into()),
        None if x > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

fn text<E>(b: &[u8]) -> Result<String, EncodeError<E>> {
    String::from_utf8(b.to_vec()).map_err(|_| EncodeError::Bad("a string that is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf5::messages::datatype::Member;

    fn int(size: u32, signed: bool, order: ByteOrder) -> Datatype {
        Datatype::FixedPoint {
            size,
            order,
            signed,
            bit_offset: 0,
            precision: u16::try_from(size * 8).unwrap(),
        }
    }

    fn seq(base: Datatype) -> Datatype {
        Datatype::VarLen {
            size: 16,
            string: false,
            base: Some(Box::new(base)),
        }
    }

    /// A fake reference: 4-byte item count then a 4-byte key into `heap`.
    fn reference(n: u32, key: u32) -> Vec<u8> {
        let mut r = n.to_le_bytes().to_vec();
        r.extend_from_slice(&key.to_le_bytes());
        r.resize(16, 0);
        r
    }

    #[test]
    fn sequences_of_sequences_and_compounds_with_sequence_members() {
        let inner = seq(int(4, false, ByteOrder::Little));
        let outer = seq(inner.clone());
        assert!(wanted(&outer));
        assert!(!wanted(&inner), "flat sequences keep vlen-bytes");
        assert_eq!(describe(&outer), "sequence of sequence of uint32");
        // heap 1: two inner references; heap 2: [100]; heap 3: [110, 111].
        let mut heap: Vec<Vec<u8>> = vec![Vec::new(); 4];
        heap[1] = [reference(1, 2), reference(2, 3)].concat();
        heap[2] = 100u32.to_le_bytes().to_vec();
        heap[3] = [110u32.to_le_bytes(), 111u32.to_le_bytes()].concat();
        let mut resolve = |el: &[u8], item: usize| -> Result<Bytes, String> {
            let n = u32::from_le_bytes(el[0..4].try_into().unwrap()) as usize;
            let k = u32::from_le_bytes(el[4..8].try_into().unwrap()) as usize;
            let obj = heap.get(k).ok_or("no object")?;
            Ok(Bytes::copy_from_slice(obj.get(..n * item).ok_or("short")?))
        };
        let mut enc = Encoder::new(&mut resolve, 1000);
        let v = enc.value(&outer, &reference(2, 1)).unwrap();
        assert_eq!(v.to_string(), "[[100],[110,111]]");
        assert_eq!(enc.value(&outer, &reference(0, 0)).unwrap().to_string(), "[]");

        let compound = Datatype::Compound {
            size: 28,
            members: vec![
                Member {
                    name: "a".into(),
                    offset: 0,
                    dtype: inner.clone(),
                },
                Member {
                    name: "b".into(),
                    offset: 16,
                    dtype: int(2, true, ByteOrder::Big),
                },
                Member {
                    name: "c".into(),
                    offset: 20,
                    dtype: Datatype::Float {
                        size: 8,
                        order: ByteOrder::Little,
                        ieee: true,
                        bits: crate::hdf5::messages::datatype::FloatBits::ieee(8).unwrap(),
                    },
                },
            ],
        };
        assert!(wanted(&compound));
        assert_eq!(
            describe(&compound),
            "compound {a: sequence of uint32, b: int16, c: float64}"
        );
        let mut el = reference(2, 3);
        el.extend_from_slice(&(-2i16).to_be_bytes());
        el.extend_from_slice(&[0, 0]);
        el.extend_from_slice(&f64::NAN.to_le_bytes());
        let v = enc.value(&compound, &el).unwrap();
        assert_eq!(v.to_string(), r#"{"a":[110,111],"b":-2,"c":"NaN"}"#);
        // Short elements and a spent budget are errors, not panics.
        assert!(matches!(enc.value(&compound, &el[..20]), Err(EncodeError::Bad(_))));
        let mut tight = Encoder::new(&mut resolve, 3);
        assert!(matches!(
            tight.value(&outer, &reference(2, 1)),
            Err(EncodeError::Bad(_))
        ));
    }

    #[test]
    fn scalars() {
        assert_eq!(int_value(&[0xff, 0xff], false, true), Value::from(-1));
        assert_eq!(int_value(&[0xff, 0xff], false, false), Value::from(65535));
        assert_eq!(
            int_value(&[0x80, 0, 0, 0, 0, 0, 0, 0], true, true),
            Value::from(i64::MIN)
        );
        assert_eq!(int_value(&[0xff; 8], false, false), Value::from(u64::MAX));
        assert_eq!(float_value(f64::INFINITY), Value::from("Infinity"));
        assert_eq!(float_value(f64::NEG_INFINITY), Value::from("-Infinity"));
        assert_eq!(float_value(0.1), serde_json::json!(0.1));
    }
}
