//! Writing NumPy `.npy` files (format version 1.0).

use std::io::Write;

/// Write a C-order `.npy` file with dtype `descr` and `shape`. `descr` is the Python literal
/// of the header's `descr` entry: a quoted dtype string (`'<f4'`) or a structured dtype's
/// field list (`[('a', '<i4')]`).
///
/// # Errors
/// Any I/O error of `w`.
pub fn write_npy(mut w: impl Write, descr: &str, shape: &[u64], data: &[u8]) -> std::io::Result<()> {
    let shape_s = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        s => format!("({})", s.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': {shape_s}, }}");
    // Magic (6) + version (2) + header length (2) + header + '\n', padded to 64 bytes.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let len = u16::try_from(header.len()).map_err(|_| std::io::Error::other("npy header too long"))?;
    w.write_all(b"\x93NUMPY\x01\x00")?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(header.as_bytes())?;
    w.write_all(data)?;
    w.flush()
}

/// The payload of an object-dtype (`'|O'`) `.npy` file whose elements are Python `bytes`: a
/// pickle (protocol 3, the one NumPy writes) of `numpy.reshape(numpy.array([b, ...], 'O'),
/// shape)`. `np.load(path, allow_pickle=True)` reads it back as an object array of `shape`.
/// Only the `numpy.array` and `numpy.reshape` globals are referenced.
///
/// # Errors
/// An element longer than 4 GiB, or a shape axis beyond `i64`.
pub fn object_bytes_pickle(shape: &[u64], items: &[&[u8]]) -> std::io::Result<Vec<u8>> {
    let too_large = || std::io::Error::other("object array element or axis too large for a pickle");
    let total: usize = items.iter().map(|b| b.len() + 5).sum();
    let mut p = Vec::with_capacity(total + 64 + 9 * shape.len());
    p.extend_from_slice(b"\x80\x03"); // PROTO 3
    p.extend_from_slice(b"cnumpy\nreshape\n("); // GLOBAL, MARK
    p.extend_from_slice(b"cnumpy\narray\n("); // GLOBAL, MARK
    p.push(b']'); // EMPTY_LIST
    if !items.is_empty() {
        p.push(b'('); // MARK
        for b in items {
            match u8::try_from(b.len()) {
                Ok(n) => p.extend_from_slice(&[b'C', n]), // SHORT_BINBYTES
                Err(_) => {
                    p.push(b'B'); // BINBYTES
                    p.extend_from_slice(&u32::try_from(b.len()).map_err(|_| too_large())?.to_le_bytes());
                }
            }
            p.extend_from_slice(b);
        }
        p.push(b'e'); // APPENDS
    }
    p.extend_from_slice(b"X\x01\x00\x00\x00O"); // BINUNICODE 'O'
    p.extend_from_slice(b"tR("); // TUPLE, REDUCE, MARK
    for &d in shape {
        let d = i64::try_from(d).map_err(|_| too_large())?;
        p.extend_from_slice(b"\x8a\x08"); // LONG1, 8 bytes
        p.extend_from_slice(&d.to_le_bytes());
    }
    p.extend_from_slice(b"ttR."); // TUPLE (shape), TUPLE (args), REDUCE, STOP
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_well_formed() {
        let mut v = Vec::new();
        write_npy(&mut v, "'<i2'", &[2, 3], &[0; 12]).unwrap();
        assert_eq!(&v[..8], b"\x93NUMPY\x01\x00");
        let hl = u16::from_le_bytes([v[8], v[9]]) as usize;
        assert_eq!((10 + hl) % 64, 0);
        let h = std::str::from_utf8(&v[10..10 + hl]).unwrap();
        assert!(h.starts_with("{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(h.ends_with('\n'));
        assert_eq!(v.len(), 10 + hl + 12);
    }
}
