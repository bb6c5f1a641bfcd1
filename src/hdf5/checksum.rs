//! Metadata checksums: Bob Jenkins' lookup3 `hashlittle` with initial value 0, as the HDF5
//! File Format Specification prescribes for the checksums of version 2+ metadata structures
//! (and for the name hashes of indexed links and attributes).

use super::Hdf5Error;

#[inline]
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

#[inline]
fn final_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

/// Little-endian word from up to 4 bytes (missing high bytes are zero).
#[inline]
fn word(b: &[u8]) -> u32 {
    b.iter().rev().fold(0u32, |acc, &x| (acc << 8) | u32::from(x))
}

/// Jenkins lookup3 `hashlittle(data, len, 0)`.
pub(crate) fn lookup3(data: &[u8]) -> u32 {
    // The length is mixed in modulo 2^32, as the reference implementation does.
    let init = 0xdead_beef_u32.wrapping_add(data.len() as u32);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut k = data;
    while k.len() > 12 {
        a = a.wrapping_add(word(&k[0..4]));
        b = b.wrapping_add(word(&k[4..8]));
        c = c.wrapping_add(word(&k[8..12]));
        mix(&mut a, &mut b, &mut c);
        k = &k[12..];
    }
    if k.is_empty() {
        return c;
    }
    // Last block of 1..=12 bytes, zero-padded.
    a = a.wrapping_add(word(&k[..k.len().min(4)]));
    if k.len() > 4 {
        b = b.wrapping_add(word(&k[4..k.len().min(8)]));
    }
    if k.len() > 8 {
        c = c.wrapping_add(word(&k[8..]));
    }
    final_mix(&mut a, &mut b, &mut c);
    c
}

/// Verify a structure whose last 4 bytes are the little-endian lookup3 checksum of the
/// bytes before them. `offset` is the structure's file offset (for the error message).
pub(crate) fn verify(what: &'static str, offset: u64, data_with_checksum: &[u8]) -> Result<(), Hdf5Error> {
    let Some(split) = data_with_checksum.len().checked_sub(4) else {
        return Err(Hdf5Error::corrupt(what, offset, "too short to hold a checksum"));
    };
    let (body, sum) = data_with_checksum.split_at(split);
    let stored = word(sum);
    let computed = lookup3(body);
    if stored == computed {
        Ok(())
    } else {
        Err(Hdf5Error::corrupt(
            what,
            offset,
            format!("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors() {
        // Vectors from lookup3.c's driver5().
        assert_eq!(lookup3(b""), 0xdead_beef);
        assert_eq!(lookup3(b"Four score and seven years ago"), 0x1777_0551);
    }

    #[test]
    fn all_tail_lengths_differ_and_are_stable() {
        let data: Vec<u8> = (0u8..40).collect();
        let hashes: Vec<u32> = (0..=data.len()).map(|n| lookup3(&data[..n])).collect();
        let mut sorted = hashes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), hashes.len());
    }

    #[test]
    fn verify_accepts_and_rejects() {
        let mut buf = b"BTHD\0\x05some header bytes".to_vec();
        let sum = lookup3(&buf);
        buf.extend_from_slice(&sum.to_le_bytes());
        verify("test", 0x40, &buf).unwrap();
        buf[3] ^= 1;
        let e = verify("test", 0x40, &buf).unwrap_err();
        assert!(e.to_string().contains("checksum mismatch"), "{e}");
        assert!(verify("test", 0, &[1, 2]).is_err());
    }
}
