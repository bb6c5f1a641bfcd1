//! Compound elements that cannot be referenced as they are — members with gaps between
//! them, out of order, or big-endian — rewritten into zarr-python's packed little-endian
//! structured layout. The values are read once and stored inline, so this is used only for
//! datasets up to a size limit (the caller's).
//!
//! A [`Plan`] is a list of byte copies from the HDF5 element to the packed element, each
//! optionally byte-swapped per `swap` bytes.
//!
//! Variable-length string members become fixed-length byte strings as wide as the longest
//! string the dataset holds there: the caller resolves each element's strings from the global
//! heap, sets the widths ([`Plan::set_vlen_widths`]) and applies the plan with the strings
//! ([`Plan::apply_with_strings`]). A string ends at its first NUL, as h5py reads it, so the
//! NUL-padded field holds exactly h5py's value.

use super::messages::datatype::{ByteOrder, Datatype, Member};
use super::raw::str_pad;
use crate::model::{DataType, Endian};

/// One copy: `len` bytes from `src` in the HDF5 element to the next free byte of the packed
/// element, reversing each group of `swap` bytes when `swap > 1`; a NUL-terminated or
/// space-padded string member (`pad`) is then cleaned as libhdf5 converts it to h5py's
/// NUL-padded type: zeros after the first NUL, or in place of the trailing spaces.
/// A variable-length string member (`vlen`) reads `len` bytes of heap reference and writes
/// its string, NUL-padded to the member's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Copy {
    src: usize,
    len: usize,
    swap: usize,
    pad: Option<u8>,
    vlen: bool,
}

/// How to rewrite one element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    copies: Vec<Copy>,
    /// Output width of each variable-length string member, in order (0 until set).
    widths: Vec<usize>,
    /// Size of an HDF5 element.
    pub(crate) in_size: usize,
    /// Size of a packed element.
    pub(crate) out_size: usize,
}

/// Placeholder type of a variable-length string member until its width is known (no mapped
/// type is ever a zero-length string otherwise).
const VLEN_PLACEHOLDER: DataType = DataType::FixedBytes(0);

/// The packed structured type of a compound and the plan to rewrite its elements, or the
/// reason it cannot be (array members, strings libhdf5 rewrites, unmapped member types).
pub(crate) fn plan(size: u32, members: &[Member]) -> Result<(DataType, Plan), (String, String)> {
    let mut copies = Vec::new();
    let t = compound(members, 0, size, &mut copies)?;
    let out_size = copies.iter().filter(|c| !c.vlen).map(|c| c.len).sum();
    let widths = vec![0; copies.iter().filter(|c| c.vlen).count()];
    // Members must not overlap or run past the element (corrupt type otherwise).
    let in_size = size as usize;
    if copies
        .iter()
        .any(|c| c.src.checked_add(c.len).is_none_or(|e| e > in_size))
    {
        return Err((
            "corrupt compound datatype".into(),
            "a member runs past the end of the element".into(),
        ));
    }
    Ok((
        t,
        Plan {
            copies,
            widths,
            in_size,
            out_size,
        },
    ))
}

fn compound(members: &[Member], base: usize, size: u32, copies: &mut Vec<Copy>) -> Result<DataType, (String, String)> {
    if let Some(t) = complex(members, base, size, copies) {
        return Ok(t);
    }
    if members.is_empty() {
        return Err(("compound datatype without members".into(), "no members".into()));
    }
    let mut fields = Vec::with_capacity(members.len());
    let mut leaves = 0u64;
    for m in members {
        let at = base + m.offset as usize;
        let err = |(f, r): (String, String)| (f, format!("member {:?}: {r}", m.name));
        match &m.dtype {
            // One field per element of an array member, as in the referenced mapping.
            Datatype::Array { dims, base: elem, .. } => {
                let step = elem.size() as usize;
                for (i, name) in super::walk::array_field_names(&m.name, dims)
                    .map_err(err)?
                    .into_iter()
                    .enumerate()
                {
                    let t = member(elem, at + i * step, copies).map_err(err)?;
                    super::walk::count_fields(&mut leaves, 1, &t)?;
                    fields.push((name, t));
                }
            }
            dt => {
                let t = member(dt, at, copies).map_err(err)?;
                super::walk::count_fields(&mut leaves, 1, &t)?;
                fields.push((m.name.clone(), t));
            }
        }
    }
    Ok(DataType::Structured(fields))
}

/// h5py's complex compounds: exactly members `r` and `i` of one IEEE float type of 4 or 8
/// bytes at offsets 0 and half the size. Returns the part size and byte order.
pub(crate) fn h5py_complex(members: &[Member], size: u32) -> Option<(u32, ByteOrder)> {
    let [r, i] = members else { return None };
    let (
        Datatype::Float {
            size: a,
            order: oa,
            ieee: true,
            ..
        },
        Datatype::Float {
            size: b,
            order: ob,
            ieee: true,
            ..
        },
    ) = (&r.dtype, &i.dtype)
    else {
        return None;
    };
    let ok = r.name == "r"
        && i.name == "i"
        && a == b
        && oa == ob
        && *oa != ByteOrder::Vax
        && matches!(a, 4 | 8)
        && r.offset == 0
        && i.offset == *a
        && size == a * 2;
    ok.then_some((*a, *oa))
}

/// An h5py complex compound as little-endian complex (each part swapped if big-endian).
fn complex(members: &[Member], base: usize, size: u32, copies: &mut Vec<Copy>) -> Option<DataType> {
    let (part, order) = h5py_complex(members, size)?;
    let len = part as usize;
    let swap = if order == ByteOrder::Big { len } else { 1 };
    copies.push(Copy {
        src: base,
        len,
        swap,
        pad: None,
        vlen: false,
    });
    copies.push(Copy {
        src: base + len,
        len,
        swap,
        pad: None,
        vlen: false,
    });
    Some(DataType::Complex(u8::try_from(size * 8).unwrap_or(128)))
}

fn member(dt: &Datatype, at: usize, copies: &mut Vec<Copy>) -> Result<DataType, (String, String)> {
    match dt {
        Datatype::Compound { size, members } => compound(members, at, *size, copies),
        Datatype::Array { .. } => Err((
            "compound datatype with nested array members".into(),
            "an array member whose elements are arrays".into(),
        )),
        // libhdf5 rewrites the bytes after such a string's end on read: copied, then cleaned.
        Datatype::String { size, pad, .. } if *size > 1 && *pad != str_pad::NULL_PAD => {
            let len = *size as usize;
            copies.push(Copy {
                src: at,
                len,
                swap: 1,
                pad: Some(*pad),
                vlen: false,
            });
            Ok(DataType::FixedBytes(*size))
        }
        // Its strings are resolved by the caller; the width is set once they are known.
        Datatype::VarLen { string: true, size, .. } => {
            copies.push(Copy {
                src: at,
                len: *size as usize,
                swap: 1,
                pad: None,
                vlen: true,
            });
            Ok(VLEN_PLACEHOLDER)
        }
        other => {
            let (t, endian) = super::walk::map_datatype(other)?;
            let len = t.size().ok_or_else(|| {
                (
                    "compound datatype with variable-length members".into(),
                    "structured fields must have a fixed size".into(),
                )
            })?;
            let swap = if endian == Some(Endian::Big) { len } else { 1 };
            // Complex members swap each half.
            let swap = if matches!(t, DataType::Complex(_)) && swap > 1 {
                len / 2
            } else {
                swap
            };
            copies.push(Copy {
                src: at,
                len,
                swap,
                pad: None,
                vlen: false,
            });
            Ok(t)
        }
    }
}

/// Replace the variable-length placeholders of `dt`, depth first in field order, with byte
/// strings of the given widths.
fn patch_placeholders<'a>(dt: &mut DataType, widths: &mut impl Iterator<Item = &'a usize>) {
    match dt {
        DataType::Structured(fields) => {
            for (_, t) in fields {
                patch_placeholders(t, widths);
            }
        }
        t if *t == VLEN_PLACEHOLDER => {
            let w = widths.next().copied().unwrap_or(1);
            *t = DataType::FixedBytes(u32::try_from(w).unwrap_or(u32::MAX));
        }
        _ => {}
    }
}

/// Clean one fixed-length string element in place as libhdf5 converts it to h5py's
/// NUL-padded type: a space-padded string loses its trailing spaces, any other ends at its
/// first NUL; the rest becomes zeros.
pub(crate) fn clean_string(el: &mut [u8], pad: u8) {
    let end = if pad == str_pad::SPACE_PAD {
        el.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1)
    } else {
        el.iter().position(|&b| b == 0).unwrap_or(el.len())
    };
    el[end..].fill(0);
}

impl Plan {
    /// Rewrite whole elements of `raw` (trailing partial element bytes are dropped). Only
    /// for plans without variable-length string members ([`Plan::apply_with_strings`]).
    pub(crate) fn apply(&self, raw: &[u8]) -> Vec<u8> {
        self.apply_with_strings(raw, &[])
    }

    /// The (offset, length) of each variable-length string member's heap reference in an
    /// HDF5 element, in field order; empty if there are none.
    pub(crate) fn vlen_refs(&self) -> Vec<(usize, usize)> {
        self.copies.iter().filter(|c| c.vlen).map(|c| (c.src, c.len)).collect()
    }

    /// Set the width of each variable-length string member (in [`Plan::vlen_refs`] order)
    /// and the matching fields of the packed type `dt`.
    pub(crate) fn set_vlen_widths(&mut self, widths: &[usize], dt: &mut DataType) {
        self.widths = widths.to_vec();
        self.out_size =
            self.copies.iter().filter(|c| !c.vlen).map(|c| c.len).sum::<usize>() + widths.iter().sum::<usize>();
        let mut it = widths.iter();
        patch_placeholders(dt, &mut it);
    }

    /// Rewrite whole elements of `raw`; `strings` holds, per element, the string of each
    /// variable-length member in [`Plan::vlen_refs`] order (NUL-padded or cut to its width).
    pub(crate) fn apply_with_strings(&self, raw: &[u8], strings: &[bytes::Bytes]) -> Vec<u8> {
        let n = raw.len() / self.in_size.max(1);
        let mut out = Vec::with_capacity(n * self.out_size);
        let mut next = strings.iter();
        for el in raw.chunks_exact(self.in_size.max(1)) {
            let mut k = 0;
            for c in &self.copies {
                if c.vlen {
                    let width = self.widths.get(k).copied().unwrap_or(0);
                    k += 1;
                    let s = next.next().map_or(&[][..], |b| &b[..]);
                    let s = &s[..s.len().min(width)];
                    out.extend_from_slice(s);
                    out.resize(out.len() + (width - s.len()), 0);
                    continue;
                }
                let part = &el[c.src..c.src + c.len];
                if c.swap > 1 {
                    for w in part.chunks(c.swap) {
                        out.extend(w.iter().rev());
                    }
                } else {
                    out.extend_from_slice(part);
                }
                if let Some(pad) = c.pad {
                    let at = out.len() - c.len;
                    clean_string(&mut out[at..], pad);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(size: u32, order: ByteOrder) -> Datatype {
        Datatype::FixedPoint {
            size,
            order,
            signed: true,
            bit_offset: 0,
            precision: u16::try_from(size * 8).unwrap(),
        }
    }

    #[test]
    fn padded_big_endian_compound_is_packed_little_endian() {
        let members = vec![
            Member {
                name: "b".into(),
                offset: 8,
                dtype: int(2, ByteOrder::Big),
            },
            Member {
                name: "a".into(),
                offset: 0,
                dtype: int(4, ByteOrder::Little),
            },
        ];
        let (t, plan) = plan(12, &members).unwrap();
        assert_eq!(
            t,
            DataType::Structured(vec![("b".into(), DataType::Int(16)), ("a".into(), DataType::Int(32))])
        );
        let el = [1, 2, 3, 4, 0xee, 0xee, 0xee, 0xee, 0x12, 0x34, 0xee, 0xee];
        assert_eq!(plan.apply(&el), vec![0x34, 0x12, 1, 2, 3, 4]);
    }

    #[test]
    fn string_members_are_cleaned_as_libhdf5_reads_them() {
        let s = |pad| Datatype::String {
            size: 4,
            pad,
            charset: 0,
        };
        let members = vec![
            Member {
                name: "t".into(),
                offset: 0,
                dtype: s(str_pad::NULL_TERMINATE),
            },
            Member {
                name: "p".into(),
                offset: 4,
                dtype: s(str_pad::SPACE_PAD),
            },
        ];
        let (t, plan) = plan(8, &members).unwrap();
        assert_eq!(
            t,
            DataType::Structured(vec![
                ("t".into(), DataType::FixedBytes(4)),
                ("p".into(), DataType::FixedBytes(4))
            ])
        );
        assert_eq!(plan.apply(b"ab\0zc   "), b"ab\0\0c\0\0\0");
    }

    #[test]
    fn variable_length_string_members_get_the_width_set() {
        let members = vec![
            Member {
                name: "s".into(),
                offset: 0,
                dtype: Datatype::VarLen {
                    size: 16,
                    string: true,
                    base: None,
                },
            },
            Member {
                name: "a".into(),
                offset: 16,
                dtype: int(2, ByteOrder::Big),
            },
        ];
        let (mut t, mut plan) = plan(18, &members).unwrap();
        assert_eq!(plan.vlen_refs(), vec![(0, 16)]);
        plan.set_vlen_widths(&[3], &mut t);
        assert_eq!(
            t,
            DataType::Structured(vec![
                ("s".into(), DataType::FixedBytes(3)),
                ("a".into(), DataType::Int(16))
            ])
        );
        assert_eq!(plan.out_size, 5);
        let mut raw = vec![0xee; 16];
        raw.extend([0x12, 0x34]);
        raw.extend(raw.clone());
        let strings = [bytes::Bytes::from_static(b"ab"), bytes::Bytes::from_static(b"xyz")];
        assert_eq!(plan.apply_with_strings(&raw, &strings), b"ab\0\x34\x12xyz\x34\x12");
    }

    #[test]
    fn members_past_the_element_are_corrupt() {
        let members = vec![Member {
            name: "a".into(),
            offset: 10,
            dtype: int(4, ByteOrder::Little),
        }];
        assert_eq!(plan(12, &members).unwrap_err().0, "corrupt compound datatype");
    }
}
