//! Conversions that reproduce, bit for bit, what libhdf5 (through h5py) returns for numeric types that
//! NumPy cannot hold directly.
//!
//! Two kinds of stored types need converting:
//!
//! - integers with padding bits (precision below the type's size, or a non-zero bit offset). h5py reads
//!   them as the NumPy integer of the same size and signedness; libhdf5 takes the `precision` value bits at
//!   the bit offset, sign-extends them from bit `precision - 1` when signed (zero-extends otherwise) and
//!   ignores the padding bits. One libhdf5 quirk is reproduced: a 1-byte big-endian integer at bit offset 0
//!   is copied unchanged (padding bits included, no sign extension), because h5py reads it as the native
//!   little-endian byte and libhdf5 treats that as a plain byte-order swap.
//! - floats whose layout is not one of IEEE binary16/32/64 (bfloat16, minifloats, custom exponent bias,
//!   fields moved inside a wider element, explicit leading mantissa bit, ...). h5py reads them as the
//!   smallest NumPy float that can hold every value exactly (see [`h5py_float_target`]) and libhdf5's
//!   float-to-float conversion fills it.
//!
//! libhdf5's float conversion, as reproduced here (field positions are absolute bit numbers inside the
//! element; the type's offset/precision play no part):
//!
//! - mantissa field zero and exponent field zero: signed zero;
//! - mantissa field zero and exponent field all ones: signed infinity;
//! - no normalization (explicit leading bit), exponent all ones, only the mantissa's top bit set: signed
//!   infinity;
//! - any other exponent-all-ones pattern is a NaN and becomes sign + all-ones exponent + **all-ones
//!   mantissa** (the payload is not kept, a signalling NaN becomes quiet);
//! - otherwise, with implied normalization and a non-zero exponent field `e`, the value is
//!   `(2^msize + m) * 2^(e - bias - msize)`; with a zero exponent field (denormal) or no normalization it is
//!   `m * 2^(e - bias + 1 - msize)`; for no normalization with a zero mantissa field (and an exponent that
//!   is neither zero nor all ones) libhdf5 yields `2^(e - bias - msize)`;
//! - the value is written to the target as a normal or, when too small, a denormal number. With h5py's
//!   choice of target it is always exact.
//!
//! Normalization "most significant bit set" is rejected: libhdf5 fails to convert it ("normalization method
//! not implemented yet"), so h5py cannot read such data either.

use super::messages::datatype::FloatBits;

/// A conversion from a stored numeric type to the NumPy type h5py reads it as (always little-endian here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Conversion {
    /// Integer with padding bits (precision < size*8 or bit offset > 0), signed or not, either byte order →
    /// the same-size integer, little-endian: value bits extracted and sign-extended from bit precision-1 if
    /// signed (zero-extended otherwise), padding bits ignored.
    Int {
        size: usize,
        big_endian: bool,
        signed: bool,
        offset: u32,
        precision: u32,
    },
    /// Any non-IEEE-standard float layout of 1..=8 bytes → the IEEE binary16/32/64 (`out_size` 2, 4 or 8
    /// bytes) h5py chooses, little-endian. Field locations are bit numbers within the element; `norm` uses
    /// the file-format codes: 0 none (explicit leading bit), 1 most significant bit set, 2 implied.
    Float {
        size: usize,
        big_endian: bool,
        sign_loc: u32,
        exp_loc: u32,
        exp_size: u32,
        mant_loc: u32,
        mant_size: u32,
        bias: u64,
        norm: u8,
        out_size: usize,
    },
}

/// File-format code for "no normalization": the leading mantissa bit is stored.
const NORM_NONE: u8 = 0;
/// File-format code for "most significant mantissa bit always set".
const NORM_MSB_SET: u8 = 1;
/// File-format code for "implied leading bit" (IEEE style).
const NORM_IMPLIED: u8 = 2;

/// The smallest IEEE binary16/32/64 (2, 4 or 8 bytes) whose exponent and mantissa are at least
/// `exp_size`/`mant_size` bits, or None when none is (e.g. 80-bit extended: 15-bit exponent).
///
/// This is only a lower bound of what h5py reads: h5py also requires the target to be at least as large as the
/// stored element and its exponent range to cover the stored bias (see [`h5py_float_target`], which
/// [`Conversion::float`] enforces). For example a 4-byte type with binary16 fields, or binary16 fields with
/// bias 14, read as float32, not float16.
#[cfg(test)]
pub(crate) fn float_target(exp_size: u32, mant_size: u32) -> Option<usize> {
    [(2, 5, 10), (4, 8, 23), (8, 11, 52)]
        .iter()
        .find(|&&(_, e, m)| exp_size <= e && mant_size <= m)
        .map(|t| t.0)
}

/// h5py's target size for a custom float (2, 4 or 8 bytes), or None when no IEEE type holds it (h5py would
/// then pick `long double`, e.g. for an 80-bit extended or 128-bit float, or fail).
///
/// Mirrors h5py's `TypeFloatID.py_dtype`: the first of float16/32/64 whose size is at least the stored
/// size, whose mantissa has at least `mant_size` bits, and whose exponent range covers the stored one
/// (`2^exp_size - bias - 1 <= maxexp` and `1 - bias >= minexp`, NumPy's `finfo` values). The stored size
/// and the bias matter: a 4-byte type with binary16 fields reads as float32, and binary16 fields with a bias
/// other than 15 do not fit float16. A bias of 0 gives None: h5py fails on such a type ("Unspecified error
/// in H5Tget_ebias").
pub(crate) fn h5py_float_target(size: usize, exp_size: u32, mant_size: u32, bias: u64) -> Option<usize> {
    // h5py's wrapper of H5Tget_ebias takes a bias of 0 for an error, so h5py cannot read such a type at all.
    if exp_size == 0 || exp_size > 64 || bias == 0 {
        return None;
    }
    // (size, mantissa bits, finfo.maxexp, finfo.minexp)
    const TARGETS: [(usize, u32, i128, i128); 3] = [(2, 10, 16, -14), (4, 23, 128, -126), (8, 52, 1024, -1022)];
    let top = (1i128 << exp_size) - i128::from(bias) - 1;
    let bottom = 1 - i128::from(bias);
    TARGETS
        .iter()
        .find(|&&(tsize, nmant, maxexp, minexp)| {
            tsize >= size && mant_size <= nmant && top <= maxexp && bottom >= minexp
        })
        .map(|t| t.0)
}

/// `n` low bits set (n up to 64).
fn mask(n: u32) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// The `n` bits of `v` starting at bit `pos` (0 when out of range).
fn bits(v: u64, pos: u32, n: u32) -> u64 {
    v.checked_shr(pos).map_or(0, |x| x & mask(n))
}

/// One element of `size` (1..=8) bytes as an integer.
fn load(b: &[u8], big_endian: bool) -> u64 {
    let mut v = 0u64;
    if big_endian {
        for &x in b {
            v = (v << 8) | u64::from(x);
        }
    } else {
        for &x in b.iter().rev() {
            v = (v << 8) | u64::from(x);
        }
    }
    v
}

/// `[start, start + len)` as a checked bit range within `total` bits.
fn field(start: u32, len: u32, total: u32, what: &str) -> Result<(u32, u32), String> {
    let end = start
        .checked_add(len)
        .filter(|&e| e <= total)
        .ok_or_else(|| format!("float {what} field at bit {start}, {len} bits, does not fit in {total} bits"))?;
    Ok((start, end))
}

impl Conversion {
    /// Checked constructor for [`Conversion::Int`]: size 1, 2, 4 or 8 bytes (the sizes h5py can read),
    /// precision 1..=size*8, offset + precision <= size*8.
    pub(crate) fn int(
        size: usize,
        big_endian: bool,
        signed: bool,
        offset: u32,
        precision: u32,
    ) -> Result<Self, String> {
        if ![1, 2, 4, 8].contains(&size) {
            return Err(format!("integer of {size} bytes has no NumPy equivalent"));
        }
        let total = (size * 8) as u32;
        if precision == 0 || precision > total {
            return Err(format!("integer precision {precision} out of range for {size} bytes"));
        }
        if offset.checked_add(precision).is_none_or(|e| e > total) {
            return Err(format!(
                "integer offset {offset} + precision {precision} exceed {size} bytes"
            ));
        }
        Ok(Conversion::Int {
            size,
            big_endian,
            signed,
            offset,
            precision,
        })
    }

    /// Checked constructor for [`Conversion::Float`] from the stored layout; `out_size` must be the size h5py
    /// reads the layout as ([`h5py_float_target`]), otherwise the conversion is refused (so the caller's
    /// output type cannot disagree with h5py's).
    ///
    /// Also rejects: sizes outside 1..=8, empty or overlapping fields, fields outside the element, the
    /// "most significant bit set" normalization (libhdf5 cannot convert it) and unknown normalization codes.
    /// The layout's bit offset and precision play no part in libhdf5's conversion and are not checked.
    pub(crate) fn float(size: usize, big_endian: bool, bits: &FloatBits, out_size: usize) -> Result<Self, String> {
        if !(1..=8).contains(&size) {
            return Err(format!("custom float of {size} bytes is not supported"));
        }
        match bits.norm {
            NORM_NONE | NORM_IMPLIED => {}
            NORM_MSB_SET => return Err("float normalization 'msb set' cannot be converted (libhdf5 neither)".into()),
            n => return Err(format!("unknown float normalization {n}")),
        }
        let (sign_loc, exp_loc, exp_size) = (u32::from(bits.sign), u32::from(bits.exp_loc), u32::from(bits.exp_size));
        let (mant_loc, mant_size, bias) = (
            u32::from(bits.mant_loc),
            u32::from(bits.mant_size),
            u64::from(bits.bias),
        );
        if exp_size == 0 || mant_size == 0 {
            return Err("float exponent and mantissa need at least one bit each".into());
        }
        let total = (size * 8) as u32;
        let s = field(sign_loc, 1, total, "sign")?;
        let e = field(exp_loc, exp_size, total, "exponent")?;
        let m = field(mant_loc, mant_size, total, "mantissa")?;
        let overlap = |a: (u32, u32), b: (u32, u32)| a.0 < b.1 && b.0 < a.1;
        if overlap(s, e) || overlap(s, m) || overlap(e, m) {
            return Err("float sign, exponent and mantissa fields overlap".into());
        }
        let want = h5py_float_target(size, exp_size, mant_size, bias).ok_or_else(|| {
            format!(
                "{size}-byte float with {exp_size}-bit exponent (bias {bias}) and {mant_size}-bit mantissa: \
                 no IEEE type h5py reads holds it"
            )
        })?;
        if want != out_size {
            return Err(format!(
                "{size}-byte float with {exp_size}-bit exponent (bias {bias}) and {mant_size}-bit mantissa reads as \
                 a {want}-byte float in h5py, not {out_size}"
            ));
        }
        Ok(Conversion::Float {
            size,
            big_endian,
            sign_loc,
            exp_loc,
            exp_size,
            mant_loc,
            mant_size,
            bias,
            norm: bits.norm,
            out_size,
        })
    }

    /// A short human-readable description, e.g. "big-endian 2-byte float (sign bit 15, 8-bit exponent at bit
    /// 7, bias 127, 7-bit mantissa at bit 0, implied leading bit) as float32".
    pub(crate) fn describe(&self) -> String {
        let endian = |be: bool| if be { "big-endian" } else { "little-endian" };
        match self {
            Conversion::Int {
                size,
                big_endian,
                signed,
                offset,
                precision,
            } => format!(
                "{} {size}-byte {} integer ({precision} bits at bit {offset}) as {}{}",
                endian(*big_endian),
                if *signed { "signed" } else { "unsigned" },
                if *signed { "int" } else { "uint" },
                size * 8
            ),
            Conversion::Float {
                size,
                big_endian,
                sign_loc,
                exp_loc,
                exp_size,
                mant_loc,
                mant_size,
                bias,
                norm,
                out_size,
            } => format!(
                "{} {size}-byte float (sign bit {sign_loc}, {exp_size}-bit exponent at bit {exp_loc}, bias {bias}, \
                 {mant_size}-bit mantissa at bit {mant_loc}, {}) as float{}",
                endian(*big_endian),
                match *norm {
                    NORM_NONE => "explicit leading bit",
                    NORM_MSB_SET => "msb set",
                    _ => "implied leading bit",
                },
                out_size * 8
            ),
        }
    }

    /// Bytes per output element.
    pub(crate) fn out_size(&self) -> usize {
        match self {
            Conversion::Int { size, .. } => *size,
            Conversion::Float { out_size, .. } => *out_size,
        }
    }

    /// Size in bytes of one stored (source) element.
    fn in_size(&self) -> usize {
        match self {
            Conversion::Int { size, .. } | Conversion::Float { size, .. } => *size,
        }
    }

    /// Convert every whole element of `raw` (source element size each); a trailing partial element is
    /// ignored. Never panics, whatever the parameters (an out-of-range layout built without the checked
    /// constructors just gives meaningless values).
    pub(crate) fn apply(&self, raw: &[u8]) -> Vec<u8> {
        let (isz, osz) = (self.in_size(), self.out_size());
        if isz == 0 || isz > 8 || osz == 0 || osz > 8 {
            return Vec::new();
        }
        let mut out = Vec::with_capacity((raw.len() / isz).saturating_mul(osz));
        for elem in raw.chunks_exact(isz) {
            let v = match *self {
                Conversion::Int {
                    size: 1,
                    big_endian: true,
                    offset: 0,
                    ..
                } => {
                    // libhdf5 quirk: h5py reads a 1-byte integer as the native (little-endian) one, and libhdf5
                    // converts a big-endian 1-byte integer at bit offset 0 to it by "swapping bytes", i.e. it
                    // copies the byte unchanged: padding bits are kept and no sign extension happens.
                    load(elem, false)
                }
                Conversion::Int {
                    big_endian,
                    signed,
                    offset,
                    precision,
                    ..
                } => {
                    let x = bits(load(elem, big_endian), offset, precision);
                    let negative = signed && precision > 0 && precision < 64 && bits(x, precision - 1, 1) == 1;
                    if negative {
                        x | !mask(precision)
                    } else {
                        x
                    }
                }
                Conversion::Float {
                    big_endian,
                    sign_loc,
                    exp_loc,
                    exp_size,
                    mant_loc,
                    mant_size,
                    bias,
                    norm,
                    ..
                } => {
                    let v = load(elem, big_endian);
                    let src = FloatSrc {
                        sign: bits(v, sign_loc, 1),
                        exp: bits(v, exp_loc, exp_size),
                        mant: bits(v, mant_loc, mant_size),
                        exp_size,
                        mant_size,
                        bias,
                        norm,
                    };
                    convert_float(&src, osz)
                }
            };
            out.extend_from_slice(&v.to_le_bytes()[..osz]);
        }
        out
    }
}

/// The fields of one stored float.
struct FloatSrc {
    sign: u64,
    exp: u64,
    mant: u64,
    exp_size: u32,
    mant_size: u32,
    bias: u64,
    norm: u8,
}

/// libhdf5's float-to-float conversion of one value into an IEEE float of `out_size` bytes (as an integer).
fn convert_float(s: &FloatSrc, out_size: usize) -> u64 {
    let (t_exp, t_mant): (u32, u32) = match out_size {
        2 => (5, 10),
        4 => (8, 23),
        _ => (11, 52),
    };
    let t_bias = i128::from((1u64 << (t_exp - 1)) - 1);
    let t_emax = mask(t_exp);
    let sign = s.sign << (t_exp + t_mant);
    let inf = sign | (t_emax << t_mant);
    let src_emax = mask(s.exp_size);
    let top_only = s.mant_size > 0 && s.mant == 1u64.checked_shl(s.mant_size - 1).unwrap_or(0);

    if s.mant == 0 {
        if s.exp == 0 {
            return sign;
        }
        if s.exp == src_emax {
            return inf;
        }
    } else if s.norm == NORM_NONE && top_only && s.exp == src_emax {
        return inf;
    } else if s.exp == src_emax {
        return inf | mask(t_mant);
    }

    // value = sig * 2^scale
    let e = i128::from(s.exp);
    let bias = i128::from(s.bias);
    let msize = i128::from(s.mant_size);
    let (sig, scale): (u64, i128) = if s.norm == NORM_IMPLIED && s.exp != 0 {
        (s.mant | 1u64.checked_shl(s.mant_size).unwrap_or(0), e - bias - msize)
    } else if s.mant == 0 {
        // No normalization, zero mantissa, exponent neither 0 nor all ones: libhdf5 gives 2^(e - bias - msize).
        (1, e - bias - msize)
    } else {
        (s.mant, e - bias + 1 - msize)
    };
    if sig == 0 {
        return sign;
    }
    let lead = i128::from(63 - sig.leading_zeros()); // position of the leading bit
    let biased = scale + lead + t_bias; // target exponent field of a normal result
    let shift = |x: u64, by: i128| -> u64 {
        if by >= 0 {
            u32::try_from(by).ok().and_then(|b| x.checked_shl(b)).unwrap_or(0)
        } else {
            u32::try_from(-by).ok().and_then(|b| x.checked_shr(b)).unwrap_or(0)
        }
    };
    if biased >= i128::from(t_emax) {
        // Too large for the target (not reachable with h5py's choice): libhdf5 gives infinity.
        return inf;
    }
    if biased >= 1 {
        let m = shift(sig, i128::from(t_mant) - lead) & mask(t_mant);
        // biased is in 1..t_emax here, so the cast is lossless.
        sign | ((biased as u64) << t_mant) | m
    } else {
        // Denormal target: units of 2^(1 - t_bias - t_mant).
        sign | (shift(sig, scale - (1 - t_bias - i128::from(t_mant))) & mask(t_mant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a float conversion to h5py's target; `f` = (sign, exp loc, exp size, mant loc, mant size, bias,
    /// norm).
    fn fl(size: usize, be: bool, f: (u8, u8, u8, u8, u8, u32, u8)) -> Result<Conversion, String> {
        let (sign, exp_loc, exp_size, mant_loc, mant_size, bias, norm) = f;
        let bits = FloatBits {
            bit_offset: 0,
            precision: (size * 8) as u16,
            sign,
            exp_loc,
            exp_size,
            mant_loc,
            mant_size,
            bias,
            norm,
        };
        let out = h5py_float_target(size, u32::from(exp_size), u32::from(mant_size), u64::from(bias)).unwrap_or(0);
        Conversion::float(size, be, &bits, out)
    }

    #[test]
    fn targets_follow_h5py() {
        assert_eq!(float_target(8, 7), Some(4));
        assert_eq!(float_target(5, 10), Some(2));
        assert_eq!(float_target(11, 20), Some(8));
        assert_eq!(float_target(15, 64), None);
        assert_eq!(h5py_float_target(2, 8, 7, 127), Some(4)); // bfloat16
        assert_eq!(h5py_float_target(2, 5, 10, 15), Some(2));
        assert_eq!(h5py_float_target(4, 5, 10, 15), Some(4)); // stored size counts
        assert_eq!(h5py_float_target(2, 5, 10, 14), Some(4)); // bias counts
        assert_eq!(h5py_float_target(4, 6, 13, 31), Some(4));
        assert_eq!(h5py_float_target(1, 4, 3, 7), Some(2));
        assert_eq!(h5py_float_target(4, 11, 20, 1023), Some(8));
        assert_eq!(h5py_float_target(8, 11, 52, 1023), Some(8));
        assert_eq!(h5py_float_target(10, 15, 64, 16383), None);
        assert_eq!(h5py_float_target(8, 15, 52, 16383), None);
        assert_eq!(h5py_float_target(8, 64, 52, 0), None);
    }

    #[test]
    fn constructors_reject_bad_layouts() {
        assert!(Conversion::int(3, false, true, 0, 20).is_err());
        assert!(Conversion::int(4, false, true, 0, 0).is_err());
        assert!(Conversion::int(4, false, true, 20, 13).is_err());
        assert!(Conversion::int(4, false, true, u32::MAX, 2).is_err());
        assert!(fl(2, false, (15, 7, 8, 0, 7, 127, 1)).is_err()); // msb set
        assert!(fl(2, false, (15, 7, 8, 0, 7, 127, 3)).is_err());
        assert!(fl(2, false, (15, 7, 8, 0, 8, 127, 2)).is_err()); // overlap
        assert!(fl(2, false, (16, 7, 8, 0, 7, 127, 2)).is_err()); // outside
        assert!(fl(2, false, (15, 200, 8, 0, 7, 127, 2)).is_err());
        assert!(fl(9, false, (15, 7, 8, 0, 7, 127, 2)).is_err());
        assert!(fl(8, false, (63, 48, 15, 0, 48, 16383, 2)).is_err()); // needs long double
        assert!(fl(2, false, (15, 7, 8, 0, 7, 127, 2)).is_ok());
        // The output size must be h5py's choice.
        let bits = FloatBits {
            bit_offset: 0,
            precision: 32,
            sign: 15,
            exp_loc: 10,
            exp_size: 5,
            mant_loc: 0,
            mant_size: 10,
            bias: 15,
            norm: 2,
        };
        assert!(Conversion::float(4, false, &bits, 2).is_err()); // 4-byte half layout reads as float32
        assert_eq!(Conversion::float(4, false, &bits, 4).map(|c| c.out_size()), Ok(4));
        assert!(fl(2, false, (15, 10, 5, 0, 10, 0, 2)).is_err()); // bias 0: h5py cannot read it
    }

    #[test]
    fn hand_built_variants_do_not_panic() {
        let raw: Vec<u8> = (0..=255u8).collect();
        for c in [
            Conversion::Int {
                size: 0,
                big_endian: false,
                signed: true,
                offset: 99,
                precision: 0,
            },
            Conversion::Int {
                size: 4,
                big_endian: true,
                signed: true,
                offset: 99,
                precision: 200,
            },
            Conversion::Int {
                size: 9,
                big_endian: false,
                signed: true,
                offset: 0,
                precision: 72,
            },
            Conversion::Float {
                size: 2,
                big_endian: false,
                sign_loc: 99,
                exp_loc: 70,
                exp_size: 99,
                mant_loc: 0,
                mant_size: 99,
                bias: u64::MAX,
                norm: 0,
                out_size: 3,
            },
            Conversion::Float {
                size: 8,
                big_endian: true,
                sign_loc: 63,
                exp_loc: 0,
                exp_size: 64,
                mant_loc: 0,
                mant_size: 64,
                bias: u64::MAX,
                norm: 2,
                out_size: 2,
            },
        ] {
            let out = c.apply(&raw);
            assert!(out.len() <= 256 * 8);
        }
    }

    /// Every bfloat16 pattern (bias 127) converts like a float32 built from the top 16 bits, except NaNs,
    /// which libhdf5 turns into all-ones mantissas.
    #[test]
    fn bfloat16_exhaustive_le_and_be() {
        let le = fl(2, false, (15, 7, 8, 0, 7, 127, 2)).expect("bf16");
        let be = fl(2, true, (15, 7, 8, 0, 7, 127, 2)).expect("bf16");
        let raw: Vec<u8> = (0..=u16::MAX).flat_map(|v| v.to_le_bytes()).collect();
        let raw_be: Vec<u8> = (0..=u16::MAX).flat_map(|v| v.to_be_bytes()).collect();
        let a = le.apply(&raw);
        assert_eq!(a, be.apply(&raw_be));
        for (v, o) in (0..=u16::MAX).zip(a.chunks_exact(4)) {
            let got = u32::from_le_bytes([o[0], o[1], o[2], o[3]]);
            let mut exp = u32::from(v) << 16;
            if (v & 0x7f80) == 0x7f80 && (v & 0x7f) != 0 {
                exp |= 0x007f_ffff;
            }
            assert_eq!(got, exp, "pattern {v:#06x}");
        }
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
            .collect()
    }

    /// Applies `c` to each captured input and compares with what h5py returned (made little-endian).
    fn check(c: &Conversion, pairs: &[(&str, &str)]) {
        for (raw, want) in pairs {
            assert_eq!(c.apply(&unhex(raw)), unhex(want), "{c:?} on {raw}");
        }
    }

    /// 20-bit float (sign 26, exponent 20..26, mantissa 7..20, bias 31) at bit offset 7 of 4 bytes, with
    /// garbage in the padding bits; h5py 3.16 / HDF5 2.0.0 results.
    #[test]
    fn captured_20_bit_float() {
        let le = fl(4, false, (26, 20, 6, 7, 13, 31, 2)).expect("le");
        assert_eq!(le.out_size(), 4);
        check(
            &le,
            &[
                ("46000040", "00000000"),
                ("730000ec", "00000080"),
                ("a50000a0", "0000002a"),
                ("beff0fe4", "00f87fb0"),
                ("3d00f0b9", "0000803f"),
                ("5f00f08b", "0000807f"),
                ("4200f04f", "000080ff"),
                ("cd02f043", "ffffff7f"),
                ("0a001078", "00008030"),
                ("88ffef5b", "00fc7f4f"),
            ],
        );
        let be = fl(4, true, (26, 20, 6, 7, 13, 31, 2)).expect("be");
        check(
            &be,
            &[
                ("a000009e", "0000002a"),
                ("67f00036", "000080ff"),
                ("b7f80036", "ffffffff"),
                ("69f0919d", "008c843f"),
            ],
        );
    }

    /// Integers with padding bits (garbage included); h5py 3.16 / HDF5 2.0.0 results made little-endian.
    #[test]
    fn captured_integers() {
        // 1-byte big-endian at offset 0: libhdf5 copies the byte unchanged.
        let c = Conversion::int(1, true, true, 0, 1).expect("i1be");
        check(
            &c,
            &[("01", "01"), ("02", "02"), ("03", "03"), ("81", "81"), ("fe", "fe")],
        );
        // The same type little-endian is sign-extended from its single bit.
        let c = Conversion::int(1, false, true, 0, 1).expect("i1le");
        check(
            &c,
            &[("01", "ff"), ("02", "00"), ("03", "ff"), ("81", "ff"), ("fe", "00")],
        );
        let c = Conversion::int(2, true, true, 6, 8).expect("i2be");
        check(&c, &[("0001", "0000"), ("004d", "0100")]);
        let c = Conversion::int(4, true, false, 6, 13).expect("u4be");
        check(
            &c,
            &[
                ("595cb288", "ca120000"),
                ("31cac051", "010b0000"),
                ("87da4362", "0d090000"),
            ],
        );
        let c = Conversion::int(8, false, true, 9, 15).expect("i8le");
        check(
            &c,
            &[
                ("74033f195acffec2", "811f000000000000"),
                ("89a2869958a7d1d4", "51c3ffffffffffff"),
            ],
        );
        let c = Conversion::int(8, true, true, 41, 20).expect("i8be");
        check(
            &c,
            &[
                ("51b7d18f20552b2b", "e8dbf8ffffffffff"),
                ("252f28157276d5b5", "9497020000000000"),
            ],
        );
        let c = Conversion::int(8, true, true, 1, 63).expect("i8be63");
        check(
            &c,
            &[
                ("272a342e3e73bbff", "ffdd391f171a9513"),
                ("fe318ec4db317baa", "d5bd986d62c718ff"),
            ],
        );
    }

    /// Patterns and results captured from h5py 3.16 / HDF5 2.0.0.
    #[test]
    fn captured_h5py_results() {
        // bfloat16 LE: Inf, -Inf, quiet NaN, signalling NaN, -NaN, denormals, 1.0, zeros.
        let c = fl(2, false, (15, 7, 8, 0, 7, 127, 2)).expect("bf16");
        let raw: [u16; 11] = [
            0x7f80, 0xff80, 0x7fc0, 0x7f81, 0xffff, 0x0001, 0x8001, 0x3f80, 0x0000, 0x8000, 0x007f,
        ];
        let exp: [u32; 11] = [
            0x7f80_0000,
            0xff80_0000,
            0x7fff_ffff,
            0x7fff_ffff,
            0xffff_ffff,
            0x0001_0000,
            0x8001_0000,
            0x3f80_0000,
            0,
            0x8000_0000,
            0x007f_0000,
        ];
        let bytes: Vec<u8> = raw.iter().flat_map(|v| v.to_le_bytes()).collect();
        let want: Vec<u8> = exp.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(c.apply(&bytes), want);

        // 16-bit float without normalization (explicit leading bit), bias 15 → float16.
        let c = fl(2, false, (15, 10, 5, 0, 10, 15, 0)).expect("none");
        assert_eq!(c.out_size(), 2);
        let pairs: [(u16, u16); 14] = [
            (0x0000, 0x0000),
            (0x0400, 0x0001),
            (0x3c00, 0x1400),
            (0x7c00, 0x7c00),
            (0x7e00, 0x7c00),
            (0x7e01, 0x7fff),
            (0x7c01, 0x7fff),
            (0x0200, 0x0200),
            (0x0001, 0x0001),
            (0x3e00, 0x3c00),
            (0x3c01, 0x1800),
            (0x4000, 0x1800),
            (0x8400, 0x8001),
            (0x0600, 0x0400),
        ];
        let bytes: Vec<u8> = pairs.iter().flat_map(|p| p.0.to_le_bytes()).collect();
        let want: Vec<u8> = pairs.iter().flat_map(|p| p.1.to_le_bytes()).collect();
        assert_eq!(c.apply(&bytes), want);
    }
}
