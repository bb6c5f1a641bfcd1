//! Datatype message (type 0x0003), all classes (spec IV.A.2.d).
//!
//! Every class the model can map is decoded fully: fixed-point, floating-point, strings,
//! bitfields, opaque, compound (all three member encodings), enums, variable-length,
//! arrays and HDF5 2.0's complex class. Time and reference types are recognised by class
//! so callers refuse them by name.

use crate::hdf5::raw::class;
use crate::hdf5::Hdf5Error;
use crate::io::cursor::Cursor;

/// Nesting bound for array / enum / variable-length base types.
const MAX_NESTING: u32 = 16;
/// Bound on enum members (each has a name and a value in the message).
const MAX_ENUM_MEMBERS: usize = 65_536;
/// Bound on compound members.
const MAX_COMPOUND_MEMBERS: usize = 65_536;

/// One member of a compound datatype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// Member name.
    pub(crate) name: String,
    /// Byte offset of the member within the compound element.
    pub(crate) offset: u32,
    /// Member type (an old-style array member becomes [`Datatype::Array`]).
    pub(crate) dtype: Datatype,
}

/// Byte order of a datatype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteOrder {
    /// Little-endian.
    Little,
    /// Big-endian.
    Big,
    /// VAX mixed order (floats only).
    Vax,
}

/// The bit layout of a floating-point type (the class 1 properties of a datatype message):
/// bit positions counted from the least significant bit of the element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FloatBits {
    /// Bit offset of the first significant bit.
    pub(crate) bit_offset: u16,
    /// Number of significant bits.
    pub(crate) precision: u16,
    /// Position of the sign bit.
    pub(crate) sign: u8,
    /// Position of the exponent.
    pub(crate) exp_loc: u8,
    /// Exponent size in bits.
    pub(crate) exp_size: u8,
    /// Position of the mantissa.
    pub(crate) mant_loc: u8,
    /// Mantissa size in bits.
    pub(crate) mant_size: u8,
    /// Exponent bias.
    pub(crate) bias: u32,
    /// Mantissa normalization: 0 none, 1 most significant bit set, 2 implied.
    pub(crate) norm: u8,
}

impl FloatBits {
    /// The IEEE 754 layout of a 2-, 4- or 8-byte float (`None` for other sizes).
    #[must_use]
    pub(crate) fn ieee(size: u32) -> Option<Self> {
        let (sign, exp_loc, exp_size, mant_size, bias) = match size {
            2 => (15, 10, 5, 10, 15),
            4 => (31, 23, 8, 23, 127),
            8 => (63, 52, 11, 52, 1023),
            _ => return None,
        };
        Some(Self {
            bit_offset: 0,
            precision: u16::try_from(size * 8).ok()?,
            sign,
            exp_loc,
            exp_size,
            mant_loc: 0,
            mant_size,
            bias,
            norm: 2,
        })
    }

    /// Whether this is the x87 80-bit extended layout of a 16-byte little-endian long double
    /// (NumPy's `longdouble` on x86-64): explicit integer bit, 64-bit mantissa, 15-bit
    /// exponent, bias 16383, 48 padding bits above.
    #[must_use]
    pub(crate) fn is_x87_extended(&self) -> bool {
        self.bit_offset == 0
            && self.precision == 80
            && self.sign == 79
            && self.exp_loc == 64
            && self.exp_size == 15
            && self.mant_loc == 0
            && self.mant_size == 64
            && self.bias == 16383
            && self.norm != 2
    }

    /// The layout in words, for the attribute of raw floats no Zarr type holds.
    #[must_use]
    pub(crate) fn describe(&self) -> String {
        let norm = match self.norm {
            0 => "leading bit stored, not normalized",
            1 => "leading bit stored and set",
            _ => "leading bit implied",
        };
        format!(
            "{} bits at bit {}: sign bit {}, exponent bits {}..{} (bias {}), mantissa bits {}..{} ({norm})",
            self.precision,
            self.bit_offset,
            self.sign,
            self.exp_loc,
            u32::from(self.exp_loc) + u32::from(self.exp_size),
            self.bias,
            self.mant_loc,
            u32::from(self.mant_loc) + u32::from(self.mant_size),
        )
    }
}

/// A decoded datatype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Datatype {
    /// Class 0: integers.
    FixedPoint {
        /// Element size in bytes.
        size: u32,
        /// Byte order.
        order: ByteOrder,
        /// Two's complement signed.
        signed: bool,
        /// Bit offset of the first significant bit.
        bit_offset: u16,
        /// Number of significant bits.
        precision: u16,
    },
    /// Class 1: floating point.
    Float {
        /// Element size in bytes.
        size: u32,
        /// Byte order.
        order: ByteOrder,
        /// Standard IEEE 754 binary16/32/64 layout (no padding, implied mantissa bit).
        ieee: bool,
        /// The bit layout as stored (what non-IEEE types are converted from).
        bits: FloatBits,
    },
    /// Class 3: fixed-length string.
    String {
        /// Length in bytes.
        size: u32,
        /// Padding type (0 NUL-terminated, 1 NUL-padded, 2 space-padded).
        pad: u8,
        /// Character set (0 ASCII, 1 UTF-8).
        charset: u8,
    },
    /// Class 8: enumeration over an integer base type.
    Enum {
        /// Base integer type.
        base: Box<Datatype>,
        /// Member names and raw values (`base` size each, base byte order).
        members: Vec<(String, Vec<u8>)>,
    },
    /// Class 9: variable-length sequence or string.
    VarLen {
        /// Size of the in-file element (length + global heap ID).
        size: u32,
        /// A string (`true`) rather than a sequence.
        string: bool,
        /// Base type, if decodable.
        base: Option<Box<Datatype>>,
    },
    /// Class 10: fixed-size array of a base type.
    Array {
        /// Element size in bytes.
        size: u32,
        /// Array dimensions.
        dims: Vec<u32>,
        /// Base type.
        base: Box<Datatype>,
    },
    /// Class 4: bitfield (unsigned bits, no arithmetic meaning).
    Bitfield {
        /// Element size in bytes.
        size: u32,
        /// Byte order.
        order: ByteOrder,
        /// Bit offset of the first significant bit.
        bit_offset: u16,
        /// Number of significant bits.
        precision: u16,
    },
    /// Class 5: opaque bytes with an ASCII tag.
    Opaque {
        /// Element size in bytes.
        size: u32,
        /// The tag (may be empty).
        tag: String,
    },
    /// Class 6: compound (record) type.
    Compound {
        /// Element size in bytes.
        size: u32,
        /// Members in the order the message lists them.
        members: Vec<Member>,
    },
    /// Class 11 (HDF5 2.0): complex number of two floats of `base`.
    Complex {
        /// Element size in bytes.
        size: u32,
        /// Type of the real and imaginary parts.
        base: Box<Datatype>,
    },
    /// Any other class, recognised by number (time, reference, or unknown).
    Other {
        /// Class number.
        class: u8,
        /// Element size in bytes.
        size: u32,
        /// The low four class bits (for references: 0 object, 1 dataset region).
        bits: u8,
    },
}

impl Datatype {
    /// Element size in bytes as stored in the file.
    pub(crate) fn size(&self) -> u32 {
        match self {
            Datatype::FixedPoint { size, .. }
            | Datatype::Float { size, .. }
            | Datatype::String { size, .. }
            | Datatype::VarLen { size, .. }
            | Datatype::Array { size, .. }
            | Datatype::Bitfield { size, .. }
            | Datatype::Opaque { size, .. }
            | Datatype::Compound { size, .. }
            | Datatype::Complex { size, .. }
            | Datatype::Other { size, .. } => *size,
            Datatype::Enum { base, .. } => base.size(),
        }
    }

    /// Short feature name of the class, for refusals ("compound datatype").
    pub(crate) fn feature(&self) -> String {
        let name = match self {
            Datatype::FixedPoint { .. } => "integer",
            Datatype::Float { .. } => "floating-point",
            Datatype::String { .. } => "fixed-length string",
            Datatype::Enum { .. } => "enum",
            Datatype::VarLen { string: true, .. } => "variable-length string",
            Datatype::VarLen { string: false, .. } => "variable-length sequence",
            Datatype::Array { .. } => "array",
            Datatype::Bitfield { .. } => "bitfield",
            Datatype::Opaque { .. } => "opaque",
            Datatype::Compound { .. } => "compound",
            Datatype::Complex { .. } => "complex",
            Datatype::Other { class, .. } => return class_name(*class).to_string(),
        };
        format!("{name} datatype")
    }
}

/// Feature name of a datatype class number.
pub(crate) fn class_name(c: u8) -> &'static str {
    match c {
        class::FIXED_POINT => "integer datatype",
        class::FLOATING_POINT => "floating-point datatype",
        class::TIME => "time datatype",
        class::STRING => "fixed-length string datatype",
        class::BITFIELD => "bitfield datatype",
        class::OPAQUE => "opaque datatype",
        class::COMPOUND => "compound datatype",
        class::REFERENCE => "reference datatype",
        class::ENUMERATED => "enum datatype",
        class::VARIABLE_LENGTH => "variable-length datatype",
        class::ARRAY => "array datatype",
        class::COMPLEX => "complex datatype",
        _ => "unknown datatype class",
    }
}

/// Decode a datatype message body.
pub(crate) fn parse(data: &[u8], offset: u64) -> Result<Datatype, Hdf5Error> {
    let mut c = Cursor::new(data, offset, "datatype message");
    parse_at(&mut c, 0)
}

/// Decode one datatype at the cursor (nested base types recurse, bounded).
pub(crate) fn parse_at(c: &mut Cursor<'_>, depth: u32) -> Result<Datatype, Hdf5Error> {
    let start = c.offset();
    if depth > MAX_NESTING {
        return Err(Hdf5Error::Limit(format!(
            "datatype nesting deeper than {MAX_NESTING} at {start:#x}"
        )));
    }
    let cv = c.u8()?;
    let (cls, version) = (cv & 0x0f, cv >> 4);
    let b0 = c.u8()?;
    let b1 = c.u8()?;
    let _b2 = c.u8()?;
    let size = c.u32()?;
    if version == 0 {
        return Err(Hdf5Error::corrupt("datatype message", start, "version 0"));
    }
    let order = |bit0: u8| {
        if bit0 & 1 == 0 {
            ByteOrder::Little
        } else {
            ByteOrder::Big
        }
    };
    Ok(match cls {
        class::FIXED_POINT => {
            let bit_offset = c.u16()?;
            let precision = c.u16()?;
            Datatype::FixedPoint {
                size,
                order: order(b0),
                signed: b0 & 0x08 != 0,
                bit_offset,
                precision,
            }
        }
        class::FLOATING_POINT => {
            let bit_offset = c.u16()?;
            let precision = c.u16()?;
            let exp_loc = c.u8()?;
            let exp_size = c.u8()?;
            let mant_loc = c.u8()?;
            let mant_size = c.u8()?;
            let bias = c.u32()?;
            let ord = match (b0 & 0x01, b0 & 0x40) {
                (0, 0) => ByteOrder::Little,
                (1, 0) => ByteOrder::Big,
                _ => ByteOrder::Vax,
            };
            let padding = b0 & 0x0e;
            let norm = (b0 >> 4) & 0x03;
            let sign = b1;
            let bits = FloatBits {
                bit_offset,
                precision,
                sign,
                exp_loc,
                exp_size,
                mant_loc,
                mant_size,
                bias,
                norm,
            };
            // The IEEE binary16/32/64 layout exactly, with no padding bits.
            let ieee = padding == 0 && FloatBits::ieee(size) == Some(bits);
            Datatype::Float {
                size,
                order: ord,
                ieee,
                bits,
            }
        }
        class::STRING => Datatype::String {
            size,
            pad: b0 & 0x0f,
            charset: b0 >> 4,
        },
        class::ENUMERATED => {
            let n = usize::from(u16::from_le_bytes([b0, b1]));
            let base = parse_at(c, depth + 1)?;
            let base_size = usize::try_from(base.size()).unwrap_or(usize::MAX);
            if n > MAX_ENUM_MEMBERS || n.saturating_mul(base_size) > c.remaining() {
                return Err(Hdf5Error::corrupt(
                    "enum datatype",
                    start,
                    format!("{n} members do not fit"),
                ));
            }
            let mut names = Vec::with_capacity(n);
            for _ in 0..n {
                names.push(member_name(c, version, "enum datatype", start)?);
            }
            let mut members = Vec::with_capacity(n);
            for name in names {
                members.push((name, c.bytes(base_size)?.to_vec()));
            }
            Datatype::Enum {
                base: Box::new(base),
                members,
            }
        }
        class::VARIABLE_LENGTH => {
            let string = b0 & 0x0f == 1;
            let base = parse_at(c, depth + 1).ok().map(Box::new);
            Datatype::VarLen { size, string, base }
        }
        class::ARRAY => {
            let rank = c.u8()?;
            if version < 3 {
                c.skip(3)?;
            }
            let dims = (0..rank).map(|_| c.u32()).collect::<Result<Vec<_>, _>>()?;
            if version < 3 {
                c.skip(usize::from(rank).saturating_mul(4))?;
            }
            let base = parse_at(c, depth + 1)?;
            Datatype::Array {
                size,
                dims,
                base: Box::new(base),
            }
        }
        class::BITFIELD => {
            let bit_offset = c.u16()?;
            let precision = c.u16()?;
            Datatype::Bitfield {
                size,
                order: order(b0),
                bit_offset,
                precision,
            }
        }
        class::OPAQUE => {
            // The tag length (a multiple of 8, NUL-padded) is the class bit field's low byte.
            let raw = c.bytes(usize::from(b0))?;
            let end = raw.iter().position(|&x| x == 0).unwrap_or(raw.len());
            let tag = String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).into_owned();
            Datatype::Opaque { size, tag }
        }
        class::COMPOUND => {
            let n = usize::from(u16::from_le_bytes([b0, b1]));
            if n > MAX_COMPOUND_MEMBERS || n > c.remaining() {
                return Err(Hdf5Error::corrupt(
                    "compound datatype",
                    start,
                    format!("{n} members do not fit"),
                ));
            }
            let mut members = Vec::with_capacity(n);
            for _ in 0..n {
                members.push(parse_member(c, version, size, depth, start)?);
            }
            Datatype::Compound { size, members }
        }
        class::COMPLEX => {
            let base = parse_at(c, depth + 1)?;
            Datatype::Complex {
                size,
                base: Box::new(base),
            }
        }
        other => Datatype::Other {
            class: other,
            size,
            bits: b0 & 0x0f,
        },
    })
}

/// A NUL-terminated enum or compound member name; message versions 1 and 2 pad it (with its
/// NUL) to a multiple of 8 bytes.
fn member_name(c: &mut Cursor<'_>, version: u8, what: &'static str, start: u64) -> Result<String, Hdf5Error> {
    let name_start = c.pos();
    let rest = c.bytes(c.remaining())?;
    let len = rest
        .iter()
        .position(|&x| x == 0)
        .ok_or_else(|| Hdf5Error::corrupt(what, start, "member name not NUL-terminated"))?;
    let name = String::from_utf8_lossy(rest.get(..len).unwrap_or_default()).into_owned();
    let used = if version < 3 {
        (len + 1).div_ceil(8) * 8
    } else {
        len + 1
    };
    c.seek(name_start)?;
    c.skip(used)?;
    Ok(name)
}

/// One compound member: name, byte offset and type, in the encoding of message `version`.
fn parse_member(c: &mut Cursor<'_>, version: u8, size: u32, depth: u32, start: u64) -> Result<Member, Hdf5Error> {
    let name = member_name(c, version, "compound datatype", start)?;
    let offset = if version < 3 {
        c.u32()?
    } else {
        // Version 3: the offset takes as few bytes as the compound's size needs.
        let width = match size {
            0..=0xff => 1,
            0x100..=0xffff => 2,
            0x1_0000..=0xff_ffff => 3,
            _ => 4,
        };
        let b = c.bytes(width)?;
        b.iter().rev().fold(0u32, |acc, &x| (acc << 8) | u32::from(x))
    };
    let mut old_dims = Vec::new();
    if version == 1 {
        // Dimensionality, 3 reserved, permutation (4), 4 reserved, four dimension sizes.
        let rank = c.u8()?;
        c.skip(3 + 4 + 4)?;
        let dims = (0..4).map(|_| c.u32()).collect::<Result<Vec<_>, _>>()?;
        if rank > 4 {
            return Err(Hdf5Error::corrupt("compound datatype", start, "member rank above 4"));
        }
        old_dims = dims.get(..usize::from(rank)).unwrap_or_default().to_vec();
    }
    let mut dtype = parse_at(c, depth + 1)?;
    if !old_dims.is_empty() {
        let n = old_dims
            .iter()
            .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| Hdf5Error::corrupt("compound datatype", start, "member array size overflows"))?;
        dtype = Datatype::Array {
            size: n,
            dims: old_dims,
            base: Box::new(dtype),
        };
    }
    Ok(Member { name, offset, dtype })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Encoded IEEE little-endian f64 datatype (class 1, version 1).
    pub(crate) fn f64_le() -> Vec<u8> {
        let mut d = vec![0x11, 0x20, 63, 0];
        d.extend_from_slice(&8u32.to_le_bytes());
        d.extend_from_slice(&0u16.to_le_bytes());
        d.extend_from_slice(&64u16.to_le_bytes());
        d.extend_from_slice(&[52, 11, 0, 52]);
        d.extend_from_slice(&1023u32.to_le_bytes());
        d
    }

    /// Encoded integer datatype.
    pub(crate) fn int(size: u32, signed: bool, big: bool) -> Vec<u8> {
        let b0 = u8::from(big) | if signed { 0x08 } else { 0 };
        let mut d = vec![0x10, b0, 0, 0];
        d.extend_from_slice(&size.to_le_bytes());
        d.extend_from_slice(&0u16.to_le_bytes());
        d.extend_from_slice(&u16::try_from(size * 8).unwrap().to_le_bytes());
        d
    }

    #[test]
    fn float_int_string() {
        assert_eq!(
            parse(&f64_le(), 0).unwrap(),
            Datatype::Float {
                size: 8,
                order: ByteOrder::Little,
                ieee: true,
                bits: FloatBits::ieee(8).unwrap()
            }
        );
        assert_eq!(
            parse(&int(2, true, true), 0).unwrap(),
            Datatype::FixedPoint {
                size: 2,
                order: ByteOrder::Big,
                signed: true,
                bit_offset: 0,
                precision: 16
            }
        );
        let s = [0x13, 0x11, 0, 0, 7, 0, 0, 0];
        assert_eq!(
            parse(&s, 0).unwrap(),
            Datatype::String {
                size: 7,
                pad: 1,
                charset: 1
            }
        );
    }

    #[test]
    fn enum_v3_and_compound() {
        let mut d = vec![0x38, 2, 0, 0, 1, 0, 0, 0];
        d.extend(int(1, true, false));
        d.extend_from_slice(b"FALSE\0TRUE\0");
        d.extend_from_slice(&[0, 1]);
        match parse(&d, 0).unwrap() {
            Datatype::Enum { members, .. } => {
                assert_eq!(members, vec![("FALSE".into(), vec![0]), ("TRUE".into(), vec![1])]);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&[0x18, 200, 0, 0, 1, 0, 0, 0], 0).is_err());
    }

    #[test]
    fn compound_member_encodings() {
        // Version 3: unpadded names, one-byte offsets (size < 256).
        let mut v3 = vec![0x36, 2, 0, 0, 12, 0, 0, 0];
        v3.extend_from_slice(b"a\0");
        v3.push(0);
        v3.extend(int(4, true, false));
        v3.extend_from_slice(b"bb\0");
        v3.push(4);
        v3.extend(f64_le());
        // Version 1: names padded to 8, four-byte offsets, old array dimensions.
        let mut v1 = vec![0x16, 2, 0, 0, 12, 0, 0, 0];
        for (name, off, t) in [(&b"a"[..], 0u32, int(4, true, false)), (b"bb", 4, f64_le())] {
            let mut n = name.to_vec();
            n.resize(8, 0);
            v1.extend(n);
            v1.extend_from_slice(&off.to_le_bytes());
            v1.extend_from_slice(&[0; 28]);
            v1.extend(t);
        }
        for d in [v3, v1] {
            let Datatype::Compound { size, members } = parse(&d, 0).unwrap() else {
                panic!("not a compound");
            };
            assert_eq!(size, 12);
            let got: Vec<_> = members
                .iter()
                .map(|m| (m.name.as_str(), m.offset, m.dtype.size()))
                .collect();
            assert_eq!(got, [("a", 0, 4), ("bb", 4, 8)]);
        }
        // Truncated and hostile member counts are errors.
        assert!(parse(&[0x36, 2, 0, 0, 12, 0, 0, 0, b'a', 0], 0).is_err());
        assert!(parse(&[0x36, 0xff, 0xff, 0, 12, 0, 0, 0], 0).is_err());
    }
}
