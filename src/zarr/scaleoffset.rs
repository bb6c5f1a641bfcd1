//! Decoder for HDF5's scale-offset filter (filter id 6, `H5Z_FILTER_SCALEOFFSET`), the
//! `vzarr.scaleoffset` codec of [`super::filters_ext`]. Checked bit for bit against libhdf5
//! (h5py) by `tests/python/test_filters.py` and on the corpus's scale-offset datasets.
//!
//! # Client data (`cd_values`)
//! libhdf5 stores 20 `u32` slots. Decoding uses:
//!
//! | slot  | meaning |
//! |-------|---------|
//! | 0     | scale type: 0 = float D-scaling, 1 = float E-scaling (libhdf5 never implemented it), 2 = integer |
//! | 1     | scale factor: for D-scaling the number of decimal digits `D` kept, read as `i32`; for integers the minbits the user asked for (0 = automatic). The decoder does not need it for integers. |
//! | 2     | number of elements in a full chunk |
//! | 3     | datatype class: 0 = integer, 1 = floating point |
//! | 4     | element size in bytes (1, 2, 4, 8 for integers; 4, 8 for floats) |
//! | 5     | sign: 0 = unsigned, 1 = two's complement (has no effect on decoding) |
//! | 6     | byte order of the dataset's file type: 0 = little-endian, 1 = big-endian |
//! | 7     | fill value defined: 1 = yes, 0 = no |
//! | 8..   | the fill value's bytes in little-endian order, 4 per slot. Each slot is read as a little-endian `u32`, so slot 8 holds bytes 0..4 and slot 9 holds bytes 4..8. |
//!
//! # Stored chunk
//! ```text
//! 0..4    minbits: the number of bits per packed value, u32 little-endian (0 ..= element bits)
//! 4       the number of bytes in the minimum (libhdf5 writes 8; this decoder, like libhdf5, caps it at 8)
//! 5..13   the chunk minimum, little-endian. Integers: the value, sign-extended. Floats: the IEEE
//!         bit pattern in the low 4 or 8 bytes.
//! 13..21  padding
//! 21..    payload
//! ```
//! If `minbits` equals the element width, the payload holds the raw elements in little-endian order
//! (the writer's native order) and the decoder copies them. Otherwise the payload is one
//! big-endian bit stream of `nelmts` values of `minbits` bits each: the most significant bit of
//! the first value is bit 7 of byte 21. libhdf5 appends one spare byte after the stream. To decode
//! a packed value `v`:
//! * if a fill value is defined and `v` is all ones (`2^minbits - 1`), the element is the fill
//!   value. With `minbits == 0` this applies to every element.
//! * integers: `(v + min) mod 2^(8*size)`.
//! * floats (D-scaling): `(v as i32 as f32) / (pow(10, D) as f32) + min`, computed in `f32` (or
//!   in `f64` with `i64` for 8-byte floats). `pow` is glibc's `pow`, reproduced by `pow10_glibc`.
//!
//! The decoder then writes each element in the dataset's byte order (slot 6).
//!
//! # Assumptions and deviations from libhdf5
//! * The file was written on a little-endian host. libhdf5 stores the fill value, the float
//!   minimum and the raw payload in the writer's native order.
//! * libhdf5 reads past the end of a short payload and returns whatever it finds there. This
//!   decoder returns an error instead. It also requires the full 21-byte header.
//! * 10^D is computed the way glibc's `pow` computes it, because the reference was libhdf5 linked
//!   against glibc. With a different libm, libhdf5 can return different bits for D = 23 or D = 210.
//! * NaN results carry the payloads that x86-64 SSE arithmetic produces, as in libhdf5 on that
//!   hardware.
//! * E-scaling, other classes and other sizes, and a scale type that does not match the class
//!   all return errors. libhdf5 refuses these too.

/// Length of the fixed header in front of the payload.
const HEADER_LEN: usize = 21;

/// Decode one chunk of HDF5's scale-offset filter.
///
/// * `chunk`: the stored chunk bytes, as written by libhdf5 (e.g. from `H5Dread_chunk`).
/// * `cd`: the filter's client data as stored in the file (normally 20 values).
/// * `out_len`: the expected decoded size in bytes (chunk elements × element size). It must equal
///   `cd[2] * cd[4]`.
///
/// Returns the decoded elements in the dataset's file type and byte order. These are the bytes the
/// chunk would hold if the dataset had no filter, and what libhdf5 returns after it undoes the
/// filter. The function does not panic on any input and allocates at most `out_len` bytes plus a
/// small constant.
pub fn scaleoffset_decode(chunk: &[u8], cd: &[u32], out_len: usize) -> Result<Vec<u8>, String> {
    let p = Params::parse(cd)?;
    let size = p.size as usize;

    if !out_len.is_multiple_of(size) {
        return Err(format!(
            "scale-offset: output length {out_len} is not a multiple of the element size {size}"
        ));
    }
    let n_out = out_len / size;
    if n_out as u64 != u64::from(p.nelmts) {
        return Err(format!(
            "scale-offset: size mismatch: cd_values say {} elements of {} bytes ({} bytes), caller expects {} bytes",
            p.nelmts,
            size,
            u64::from(p.nelmts).saturating_mul(size as u64),
            out_len
        ));
    }
    let n = n_out;

    // ---- header ----
    if chunk.len() < HEADER_LEN {
        return Err(format!(
            "scale-offset: chunk truncated: header needs {HEADER_LEN} bytes, got {}",
            chunk.len()
        ));
    }
    let minbits = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    let width = p.size * 8;
    if minbits > width {
        return Err(format!(
            "scale-offset: corrupt header: minbits {minbits} exceeds the {width}-bit element width"
        ));
    }
    let min_len = usize::from(chunk[4]).min(8);
    let mut min: u64 = 0;
    for (i, b) in chunk[5..5 + min_len].iter().enumerate() {
        min |= u64::from(*b) << (8 * i);
    }
    let payload = &chunk[HEADER_LEN..];

    // ---- no compression: raw little-endian elements ----
    if minbits == width {
        if payload.len() < out_len {
            return Err(format!(
                "scale-offset: chunk truncated: uncompressed payload needs {out_len} bytes after the {HEADER_LEN}-byte header, got {}",
                payload.len()
            ));
        }
        let mut out = alloc_out(out_len)?;
        for elem in payload[..out_len].chunks_exact(size) {
            if p.big_endian {
                out.extend(elem.iter().rev());
            } else {
                out.extend_from_slice(elem);
            }
        }
        return Ok(out);
    }

    // ---- packed values ----
    let total_bits = (n as u64)
        .checked_mul(u64::from(minbits))
        .ok_or("scale-offset: packed bit count overflows")?;
    let needed = total_bits.div_ceil(8);
    if (payload.len() as u64) < needed {
        return Err(format!(
            "scale-offset: chunk truncated: {n} values of {minbits} bits need {} bytes, got {}",
            needed.saturating_add(HEADER_LEN as u64),
            chunk.len()
        ));
    }

    // minbits < width <= 64 here, so the shift cannot overflow.
    let all_ones: u64 = (1u64 << minbits) - 1;
    let width_mask: u64 = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
    let mut out = alloc_out(out_len)?;
    let kind = match (p.class, p.size) {
        (Class::Integer, _) => Kind::Int { min, width_mask },
        (Class::Float, 4) => Kind::F32 {
            scale: pow10_glibc(p.scale_factor as i32) as f32,
            min: f32::from_bits(min as u32),
        },
        (Class::Float, _) => Kind::F64 {
            scale: pow10_glibc(p.scale_factor as i32),
            min: f64::from_bits(min),
        },
    };

    let mut bitpos: u64 = 0;
    for _ in 0..n {
        let v = read_bits(payload, bitpos, minbits);
        bitpos = bitpos.saturating_add(u64::from(minbits));
        let bits = if p.fill_defined && v == all_ones {
            p.fill_bits
        } else {
            match kind {
                Kind::Int { min, width_mask } => v.wrapping_add(min) & width_mask,
                // Single precision throughout: experiments showed that any f64 step changes bits.
                Kind::F32 { scale, min } => u64::from(((v as u32 as i32) as f32 / scale + min).to_bits()),
                Kind::F64 { scale, min } => ((v as i64) as f64 / scale + min).to_bits(),
            }
        };
        push_elem(&mut out, bits, size, p.big_endian);
    }
    Ok(out)
}

/// The output buffer: exactly `out_len` bytes of capacity, or an error instead of an abort.
fn alloc_out(out_len: usize) -> Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::new();
    out.try_reserve_exact(out_len)
        .map_err(|e| format!("scale-offset: cannot allocate {out_len} output bytes: {e}"))?;
    Ok(out)
}

/// How a packed (non-fill) value becomes element bits.
#[derive(Clone, Copy)]
enum Kind {
    Int { min: u64, width_mask: u64 },
    F32 { scale: f32, min: f32 },
    F64 { scale: f64, min: f64 },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Integer,
    Float,
}

/// The parts of `cd_values` that decoding needs, checked.
struct Params {
    scale_factor: u32,
    nelmts: u32,
    class: Class,
    size: u32,
    big_endian: bool,
    fill_defined: bool,
    /// Fill value bits (low `size` bytes), meaningful only if `fill_defined`.
    fill_bits: u64,
}

impl Params {
    fn parse(cd: &[u32]) -> Result<Params, String> {
        if cd.len() < 8 {
            return Err(format!(
                "scale-offset: cd_values has {} values, needs at least 8",
                cd.len()
            ));
        }
        let (scale_type, scale_factor, nelmts) = (cd[0], cd[1], cd[2]);
        let (class_raw, size, sign, order, fill_flag) = (cd[3], cd[4], cd[5], cd[6], cd[7]);
        let class = match class_raw {
            0 => Class::Integer,
            1 => Class::Float,
            c => {
                return Err(format!(
                    "scale-offset: unsupported datatype class {c} in cd_values[3] (0 = integer, 1 = float)"
                ))
            }
        };
        match (class, size) {
            (Class::Integer, 1 | 2 | 4 | 8) | (Class::Float, 4 | 8) => {}
            _ => {
                return Err(format!(
                    "scale-offset: unsupported element size {size} for {class:?} class"
                ))
            }
        }
        match (class, scale_type) {
            (Class::Integer, 2) | (Class::Float, 0) => {}
            (Class::Float, 1) => {
                return Err(
                    "scale-offset: float E-scaling (scale type 1) is not supported (libhdf5 cannot decode it either)"
                        .to_string(),
                )
            }
            (c, t) => return Err(format!("scale-offset: scale type {t} is invalid for the {c:?} class")),
        }
        if sign > 1 {
            return Err(format!("scale-offset: invalid sign flag {sign} in cd_values[5]"));
        }
        let big_endian = match order {
            0 => false,
            1 => true,
            o => return Err(format!("scale-offset: invalid byte order {o} in cd_values[6]")),
        };
        let fill_defined = match fill_flag {
            0 => false,
            1 => true,
            f => {
                return Err(format!(
                    "scale-offset: invalid fill-value-defined flag {f} in cd_values[7]"
                ))
            }
        };
        let mut fill_bits = 0u64;
        if fill_defined {
            let slots = (size as usize).div_ceil(4);
            let fill_cd = cd.get(8..8 + slots).ok_or_else(|| {
                format!(
                    "scale-offset: fill value defined but cd_values has {} values, needs {}",
                    cd.len(),
                    8 + slots
                )
            })?;
            let mut bytes = [0u8; 8];
            for (i, slot) in fill_cd.iter().enumerate() {
                bytes[4 * i..4 * i + 4].copy_from_slice(&slot.to_le_bytes());
            }
            fill_bits = u64::from_le_bytes(bytes);
            if size < 8 {
                fill_bits &= (1u64 << (size * 8)) - 1;
            }
        }
        Ok(Params {
            scale_factor,
            nelmts,
            class,
            size,
            big_endian,
            fill_defined,
            fill_bits,
        })
    }
}

/// `pow(10, d)` as glibc's `pow` computes it. libhdf5 calls `pow(10.0, D)` when it decodes
/// D-scaled floats. For every `d` in -400..=400, glibc's result equals the correctly rounded
/// value of 10^d, except at 23 (an exact tie, which glibc rounds up) and 210. Rust's decimal
/// parser rounds correctly. Past that range both give 0 or infinity.
fn pow10_glibc(d: i32) -> f64 {
    match d {
        23 => f64::from_bits(0x44B5_2D02_C7E1_4AF7),
        210 => f64::from_bits(0x6B88_557F_3132_6BBC),
        _ => format!("1e{d}").parse::<f64>().unwrap_or(f64::NAN),
    }
}

/// Read `nbits` (<= 63) bits at bit offset `bitpos` of a big-endian bit stream (MSB of byte 0
/// first). Bytes past the end count as zero. The caller has already checked the length.
#[inline]
fn read_bits(data: &[u8], bitpos: u64, nbits: u32) -> u64 {
    if nbits == 0 {
        return 0;
    }
    let Ok(start) = usize::try_from(bitpos >> 3) else {
        return 0;
    };
    let off = (bitpos & 7) as u32;
    let need = off + nbits; // <= 7 + 63 = 70 bits
    let nbytes = need.div_ceil(8) as usize; // <= 9
    let mut acc: u128 = 0;
    for j in 0..nbytes {
        let b = start.checked_add(j).and_then(|k| data.get(k)).copied().unwrap_or(0);
        acc = (acc << 8) | u128::from(b);
    }
    let shift = nbytes as u32 * 8 - need;
    ((acc >> shift) as u64) & ((1u64 << nbits) - 1)
}

/// Append the low `size` bytes of `bits` in the requested byte order.
#[inline]
fn push_elem(out: &mut Vec<u8>, bits: u64, size: usize, big_endian: bool) {
    let le = bits.to_le_bytes();
    if big_endian {
        out.extend(le[..size].iter().rev());
    } else {
        out.extend_from_slice(&le[..size]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cd_values for an integer type (20 slots, like libhdf5).
    fn cd_int(n: u32, size: u32, big_endian: bool, fill: Option<u64>) -> Vec<u32> {
        let mut cd = vec![0u32; 20];
        cd[0] = 2;
        cd[2] = n;
        cd[3] = 0;
        cd[4] = size;
        cd[5] = 1;
        cd[6] = big_endian as u32;
        if let Some(f) = fill {
            cd[7] = 1;
            cd[8] = f as u32;
            cd[9] = (f >> 32) as u32;
        }
        cd
    }

    fn cd_float(n: u32, size: u32, d: i32, big_endian: bool, fill: Option<u64>) -> Vec<u32> {
        let mut cd = cd_int(n, size, big_endian, fill);
        cd[0] = 0;
        cd[1] = d as u32;
        cd[3] = 1;
        cd[5] = 0;
        cd
    }

    /// Build a chunk: header + MSB-first packed values.
    fn pack(minbits: u32, min: u64, vals: &[u64]) -> Vec<u8> {
        let mut out = minbits.to_le_bytes().to_vec();
        out.push(8);
        out.extend_from_slice(&min.to_le_bytes());
        out.resize(HEADER_LEN, 0);
        let (mut acc, mut nb): (u128, u32) = (0, 0);
        for &v in vals {
            if minbits > 0 {
                acc = (acc << minbits) | u128::from(v & ((1u64 << minbits) - 1));
                nb += minbits;
            }
            while nb >= 8 {
                out.push((acc >> (nb - 8)) as u8);
                nb -= 8;
                acc &= (1u128 << nb) - 1;
            }
        }
        if nb > 0 {
            out.push((acc << (8 - nb)) as u8);
        }
        out.push(0);
        out
    }

    #[test]
    fn small_known_values() {
        // i4 LE, undefined fill, min -5, minbits 4: 0..=15 -> -5..=10
        let vals: Vec<u64> = (0..16).collect();
        let chunk = pack(4, (-5i64) as u64, &vals);
        let out = scaleoffset_decode(&chunk, &cd_int(16, 4, false, None), 64).unwrap();
        let got: Vec<i32> = out
            .chunks(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(got, (-5..11).collect::<Vec<i32>>());
        // same, fill 99 defined: 15 (all ones) becomes the fill value; big-endian output
        let out = scaleoffset_decode(&chunk, &cd_int(16, 4, true, Some(99)), 64).unwrap();
        let got: Vec<i32> = out
            .chunks(4)
            .map(|c| i32::from_be_bytes(c.try_into().unwrap()))
            .collect();
        let mut want: Vec<i32> = (-5..11).collect();
        want[15] = 99;
        assert_eq!(got, want);
        // minbits 0: every element is the minimum (fill undefined) or the fill value (defined)
        let chunk = pack(0, 7, &[]);
        assert_eq!(
            scaleoffset_decode(&chunk, &cd_int(3, 2, false, None), 6).unwrap(),
            [7, 0, 7, 0, 7, 0]
        );
        assert_eq!(
            scaleoffset_decode(&chunk, &cd_int(3, 2, true, Some(0x0102)), 6).unwrap(),
            [1, 2, 1, 2, 1, 2]
        );
        // f4 D=2: min 1.5, v = 25 -> 1.75
        let chunk = pack(6, u64::from(1.5f32.to_bits()), &[25, 0]);
        let out = scaleoffset_decode(&chunk, &cd_float(2, 4, 2, false, None), 8).unwrap();
        assert_eq!(f32::from_le_bytes(out[0..4].try_into().unwrap()), 1.75);
        assert_eq!(f32::from_le_bytes(out[4..8].try_into().unwrap()), 1.5);
        // full width: raw little-endian payload, byte-swapped for a big-endian type, fill ignored
        let mut chunk = pack(16, 0, &[]);
        chunk.truncate(HEADER_LEN);
        chunk.extend_from_slice(&[0xff, 0xff, 0x34, 0x12]);
        let out = scaleoffset_decode(&chunk, &cd_int(2, 2, true, Some(5)), 4).unwrap();
        assert_eq!(out, [0xff, 0xff, 0x12, 0x34]);
    }

    #[test]
    fn pow10_matches_glibc_exceptions() {
        assert_eq!(pow10_glibc(0), 1.0);
        assert_eq!(pow10_glibc(22), 1e22);
        assert_eq!(pow10_glibc(23).to_bits(), 0x44B5_2D02_C7E1_4AF7);
        assert_eq!(pow10_glibc(23), f64::from_bits(1e23f64.to_bits() + 1));
        assert_eq!(pow10_glibc(210), f64::from_bits(1e210f64.to_bits() + 1));
        assert_eq!(pow10_glibc(-3), 1e-3);
        assert_eq!(pow10_glibc(309), f64::INFINITY);
        assert_eq!(pow10_glibc(i32::MIN), 0.0);
        assert_eq!(pow10_glibc(i32::MAX), f64::INFINITY);
    }

    fn err(chunk: &[u8], cd: &[u32], out_len: usize) -> String {
        match scaleoffset_decode(chunk, cd, out_len) {
            Ok(_) => panic!("expected an error"),
            Err(e) => {
                assert!(e.starts_with("scale-offset: "), "{e}");
                e
            }
        }
    }

    #[test]
    fn corrupt_inputs_are_errors() {
        let cd = cd_int(10, 4, false, None);
        let good = pack(4, 0, &[1; 10]);
        assert!(scaleoffset_decode(&good, &cd, 40).is_ok());

        // truncated header
        let e = err(&good[..7], &cd, 40);
        assert_eq!(e, "scale-offset: chunk truncated: header needs 21 bytes, got 7");
        assert!(err(&[], &cd, 40).contains("header needs 21 bytes, got 0"));
        // truncated payload (10 x 4 bits = 5 bytes needed)
        assert!(err(&good[..HEADER_LEN + 4], &cd, 40).contains("truncated"));
        assert!(scaleoffset_decode(&good[..HEADER_LEN + 5], &cd, 40).is_ok());
        // minbits > element width, > 64, absurd
        for mb in [33u32, 65, 1000, u32::MAX] {
            let mut c = good.clone();
            c[..4].copy_from_slice(&mb.to_le_bytes());
            assert!(err(&c, &cd, 40).contains("exceeds"), "{mb}");
        }
        let mut c = pack(0, 0, &[]);
        c[..4].copy_from_slice(&65u32.to_le_bytes());
        assert!(err(&c, &cd_int(1, 8, false, None), 8).contains("exceeds the 64-bit"));
        // full width but payload short
        let mut c = pack(32, 0, &[]);
        c.truncate(HEADER_LEN + 39);
        c.resize(HEADER_LEN + 39, 0);
        assert!(err(&c, &cd, 40).contains("truncated"));
        // size mismatches
        assert!(err(&good, &cd, 36).contains("size mismatch"));
        assert!(err(&good, &cd, 44).contains("size mismatch"));
        assert!(err(&good, &cd, 41).contains("not a multiple"));
        assert!(
            err(&good, &cd, usize::MAX).contains("not a multiple")
                || err(&good, &cd, usize::MAX).contains("size mismatch")
        );
        assert!(err(&good, &cd_int(u32::MAX, 4, false, None), 40).contains("size mismatch"));
        // huge consistent element count with a tiny chunk: refused before allocating
        let huge = (u32::MAX as usize) * 8;
        assert!(err(&pack(3, 0, &[]), &cd_int(u32::MAX, 8, false, None), huge).contains("truncated"));
        // cd problems
        assert!(err(&good, &cd[..7], 40).contains("at least 8"));
        let mut c = cd.clone();
        c[3] = 2;
        assert!(err(&good, &c, 40).contains("unsupported datatype class"));
        let mut c = cd.clone();
        c[4] = 3;
        assert!(err(&good, &c, 30).contains("unsupported element size"));
        let mut c = cd.clone();
        c[4] = 0;
        assert!(err(&good, &c, 0).contains("unsupported element size"));
        let c = cd_float(10, 2, 0, false, None);
        assert!(err(&good, &c, 20).contains("unsupported element size"));
        let mut c = cd_float(10, 4, 2, false, None);
        c[0] = 1;
        assert!(err(&good, &c, 40).contains("E-scaling"));
        let mut c = cd.clone();
        c[0] = 0;
        assert!(err(&good, &c, 40).contains("scale type"));
        let mut c = cd_float(10, 4, 2, false, None);
        c[0] = 2;
        assert!(err(&good, &c, 40).contains("scale type"));
        let mut c = cd.clone();
        c[6] = 2;
        assert!(err(&good, &c, 40).contains("byte order"));
        let mut c = cd.clone();
        c[7] = 7;
        assert!(err(&good, &c, 40).contains("fill-value-defined"));
        let mut c = cd_int(10, 8, false, Some(1));
        c.truncate(9);
        assert!(err(&pack(4, 0, &[1; 10]), &c, 80).contains("fill value defined"));
        let mut c = cd.clone();
        c[5] = 9;
        assert!(err(&good, &c, 40).contains("sign"));
    }

    /// Tiny xorshift generator, so the tests need no dependencies.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            if n == 0 {
                0
            } else {
                self.next() % n
            }
        }
    }

    /// Random and mutated inputs never panic. An `Ok` result always has exactly `out_len` bytes.
    #[test]
    fn random_inputs_never_panic() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let sizes = [1u32, 2, 4, 8, 3, 0, 16];
        for _ in 0..200_000 {
            let mut cd: Vec<u32> = (0..rng.below(22)).map(|_| rng.below(4) as u32).collect();
            if cd.len() > 4 {
                cd[4] = sizes[rng.below(sizes.len() as u64) as usize];
            }
            if cd.len() > 2 {
                cd[2] = rng.below(70) as u32;
                if rng.below(50) == 0 {
                    cd[2] = rng.next() as u32;
                }
            }
            if cd.len() > 1 && rng.below(3) == 0 {
                cd[1] = rng.next() as u32;
            }
            let clen = rng.below(120) as usize;
            let mut chunk: Vec<u8> = (0..clen).map(|_| rng.next() as u8).collect();
            if chunk.len() >= 4 && rng.below(2) == 0 {
                let mb = rng.below(70) as u32;
                chunk[..4].copy_from_slice(&mb.to_le_bytes());
            }
            let size = cd.get(4).copied().unwrap_or(1).max(1) as usize;
            let n = cd.get(2).copied().unwrap_or(0) as usize;
            let out_len = match rng.below(4) {
                0 => rng.below(600) as usize,
                _ => n.saturating_mul(size).min(1 << 20),
            };
            if let Ok(out) = scaleoffset_decode(&chunk, &cd, out_len) {
                assert_eq!(out.len(), out_len);
                assert!(out.capacity() <= out_len + 64);
            }
        }
    }
}
