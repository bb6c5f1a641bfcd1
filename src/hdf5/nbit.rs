//! Decoder for HDF5's n-bit filter (filter id 5).
//!
//! The n-bit filter keeps only the significant bits (`precision` bits starting at bit `offset`) of every
//! integer or floating-point value and packs them into one continuous bit stream. Bits are written most
//! significant first: for every element the significant bits are taken from the most significant byte of
//! the element downwards, and each output byte is filled from its bit 7 down to bit 0. Elements follow one
//! another without any alignment; only the end of the stream is padded to a whole byte.
//!
//! The filter's client data (written by libhdf5's `set_local` callback) describe the datatype as a tree:
//!
//! | index | meaning                                                                     |
//! |-------|-----------------------------------------------------------------------------|
//! | 0     | number of client-data values                                                |
//! | 1     | "need not compress": 1 when the chunk was stored unchanged                  |
//! | 2     | number of elements in the chunk                                             |
//! | 3..   | the datatype description, recursively (see below)                           |
//!
//! A datatype description starts with a class code:
//! - `1` atomic (integer or float): size in bytes, byte order (0 little-endian, 1 big-endian), precision in
//!   bits, bit offset;
//! - `2` array: total size in bytes, then the base type's description (the array holds `size / base size`
//!   base elements);
//! - `3` compound: size in bytes, number of members, then per member its byte offset and its description;
//! - `4` no-op (a member the filter does not understand, e.g. a string): size in bytes; its bytes are stored
//!   whole, in memory order, each as 8 bits of the stream.
//!
//! Decoding puts each atomic value's significant bits back at their offset and leaves every other bit
//! zero, which is what libhdf5 produces (padding bits, and bytes of a compound not covered by any member).

/// Class code of an integer or floating-point type in the n-bit parameter tree.
const CLASS_ATOMIC: u32 = 1;
/// Class code of an array type.
const CLASS_ARRAY: u32 = 2;
/// Class code of a compound type.
const CLASS_COMPOUND: u32 = 3;
/// Class code of a type stored unchanged (no-op).
const CLASS_NOOP: u32 = 4;

/// Deepest nesting of arrays/compounds accepted in the parameter tree.
const MAX_DEPTH: usize = 64;

/// One node of the datatype tree described by the client data.
#[derive(Debug)]
enum Node {
    /// Integer or float: `precision` significant bits at bit `offset` of a `size`-byte element.
    Atomic {
        size: usize,
        big_endian: bool,
        precision: usize,
        offset: usize,
    },
    /// `size` bytes stored unchanged.
    Noop { size: usize },
    /// `count` consecutive elements of `base`.
    Array { size: usize, count: usize, base: Box<Node> },
    /// Members at byte offsets inside a `size`-byte element.
    Compound { size: usize, members: Vec<(usize, Node)> },
}

impl Node {
    /// Size in bytes of one element of this type.
    fn size(&self) -> usize {
        match self {
            Node::Atomic { size, .. }
            | Node::Noop { size }
            | Node::Array { size, .. }
            | Node::Compound { size, .. } => *size,
        }
    }

    /// Number of packed bits one element of this type consumes.
    fn packed_bits(&self) -> Option<usize> {
        match self {
            Node::Atomic { precision, .. } => Some(*precision),
            Node::Noop { size } => size.checked_mul(8),
            Node::Array { count, base, .. } => base.packed_bits()?.checked_mul(*count),
            Node::Compound { members, .. } => members
                .iter()
                .try_fold(0usize, |acc, (_, m)| acc.checked_add(m.packed_bits()?)),
        }
    }
}

/// Reads the client-data values one after another.
struct Params<'a> {
    cd: &'a [u32],
    pos: usize,
}

impl Params<'_> {
    fn next(&mut self, what: &str) -> Result<u32, String> {
        let v = self
            .cd
            .get(self.pos)
            .copied()
            .ok_or_else(|| format!("n-bit: client data end before {what}"))?;
        self.pos += 1;
        Ok(v)
    }

    fn next_usize(&mut self, what: &str) -> Result<usize, String> {
        usize::try_from(self.next(what)?).map_err(|_| format!("n-bit: {what} does not fit in usize"))
    }

    /// Parses one datatype description.
    fn node(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err("n-bit: datatype description nested too deeply".into());
        }
        match self.next("class code")? {
            CLASS_ATOMIC => {
                let size = self.next_usize("atomic size")?;
                let order = self.next("byte order")?;
                let precision = self.next_usize("precision")?;
                let offset = self.next_usize("bit offset")?;
                let bits = size.checked_mul(8).ok_or("n-bit: atomic size too large")?;
                if size == 0 {
                    return Err("n-bit: atomic type of size 0".into());
                }
                if order > 1 {
                    return Err(format!("n-bit: unknown byte order {order}"));
                }
                if precision == 0 || precision > bits {
                    return Err(format!(
                        "n-bit: precision {precision} out of range for a {size}-byte type"
                    ));
                }
                if offset.checked_add(precision).is_none_or(|end| end > bits) {
                    return Err(format!(
                        "n-bit: offset {offset} + precision {precision} exceed a {size}-byte type"
                    ));
                }
                Ok(Node::Atomic {
                    size,
                    big_endian: order == 1,
                    precision,
                    offset,
                })
            }
            CLASS_NOOP => {
                let size = self.next_usize("no-op size")?;
                if size == 0 {
                    return Err("n-bit: no-op type of size 0".into());
                }
                Ok(Node::Noop { size })
            }
            CLASS_ARRAY => {
                let size = self.next_usize("array size")?;
                let base = self.node(depth + 1)?;
                let bsize = base.size();
                if size == 0 || !size.is_multiple_of(bsize) {
                    return Err(format!(
                        "n-bit: array size {size} is not a multiple of its base size {bsize}"
                    ));
                }
                Ok(Node::Array {
                    size,
                    count: size / bsize,
                    base: Box::new(base),
                })
            }
            CLASS_COMPOUND => {
                let size = self.next_usize("compound size")?;
                let n = self.next_usize("member count")?;
                if size == 0 {
                    return Err("n-bit: compound type of size 0".into());
                }
                // Each member takes at least 3 values (offset, class, size), which bounds the allocation.
                if n > self.cd.len().saturating_sub(self.pos) / 3 {
                    return Err(format!("n-bit: {n} compound members do not fit in the client data"));
                }
                let mut members = Vec::with_capacity(n);
                for _ in 0..n {
                    let off = self.next_usize("member offset")?;
                    let m = self.node(depth + 1)?;
                    if off.checked_add(m.size()).is_none_or(|end| end > size) {
                        return Err(format!(
                            "n-bit: compound member at offset {off} exceeds the {size}-byte type"
                        ));
                    }
                    members.push((off, m));
                }
                Ok(Node::Compound { size, members })
            }
            c => Err(format!("n-bit: unknown datatype class code {c}")),
        }
    }
}

/// Reads a bit stream most significant bit first.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    /// Next `k` (1..=8) bits as the low bits of the result.
    fn read(&mut self, k: usize) -> Result<u8, String> {
        let idx = self.pos / 8;
        let bit = self.pos % 8;
        let b0 = *self.data.get(idx).ok_or("n-bit: packed data truncated")?;
        let window = if bit + k > 8 {
            let b1 = *self.data.get(idx + 1).ok_or("n-bit: packed data truncated")?;
            (u16::from(b0) << 8) | u16::from(b1)
        } else {
            u16::from(b0) << 8
        };
        self.pos += k;
        let v = (window >> (16 - bit - k)) & ((1u16 << k) - 1);
        Ok(v as u8)
    }
}

/// Writes one element of `node` into `out` (exactly `node.size()` bytes, pre-zeroed).
fn decode_node(node: &Node, r: &mut BitReader<'_>, out: &mut [u8]) -> Result<(), String> {
    match node {
        Node::Atomic {
            size,
            big_endian,
            precision,
            offset,
        } => {
            // Bit i of the element (as an integer) lives in byte i / 8 counted from the least significant byte.
            let (lo, hi) = (*offset, offset + precision); // significant bits lo..hi
            let mut byte = (hi - 1) / 8;
            loop {
                let bstart = byte * 8;
                let from = lo.max(bstart) - bstart; // lowest significant bit within this byte
                let to = hi.min(bstart + 8) - bstart; // one past the highest
                let k = to - from;
                let v = r.read(k)? << from;
                let phys = if *big_endian { size - 1 - byte } else { byte };
                out[phys] |= v;
                if byte == 0 || byte * 8 <= lo {
                    break;
                }
                byte -= 1;
            }
            Ok(())
        }
        Node::Noop { .. } => {
            for b in out.iter_mut() {
                *b = r.read(8)?;
            }
            Ok(())
        }
        Node::Array { base, .. } => {
            let bsize = base.size();
            for chunk in out.chunks_exact_mut(bsize) {
                decode_node(base, r, chunk)?;
            }
            Ok(())
        }
        Node::Compound { members, .. } => {
            for (off, m) in members {
                let end = off + m.size();
                decode_node(m, r, &mut out[*off..end])?;
            }
            Ok(())
        }
    }
}

/// Undo HDF5's n-bit filter on one chunk. `cd` is the filter's client data as stored in the file's filter
/// pipeline message.
///
/// Returns `cd[2]` elements of the described datatype: every atomic value's significant bits at their
/// offset, all other bits zero. With the "need not compress" flag set the chunk is returned unchanged.
/// Errors (never panics) on malformed client data, truncated input, or an output larger than `max_out`.
pub(crate) fn nbit_decode(data: &[u8], cd: &[u32], max_out: usize) -> Result<Vec<u8>, String> {
    if cd.len() < 3 {
        return Err(format!("n-bit: {} client-data values, need at least 3", cd.len()));
    }
    let declared = usize::try_from(cd[0]).map_err(|_| "n-bit: parameter count does not fit in usize")?;
    if declared > cd.len() {
        return Err(format!(
            "n-bit: client data declare {declared} values but hold {}",
            cd.len()
        ));
    }
    if cd[1] > 1 {
        return Err(format!("n-bit: unknown 'need not compress' flag {}", cd[1]));
    }
    if cd[1] == 1 {
        if data.len() > max_out {
            return Err(format!(
                "n-bit: stored chunk of {} bytes exceeds the {max_out}-byte limit",
                data.len()
            ));
        }
        return Ok(data.to_vec());
    }
    let cd = if declared >= 3 { &cd[..declared] } else { cd };
    let nelem = usize::try_from(cd[2]).map_err(|_| "n-bit: element count does not fit in usize")?;
    let mut params = Params { cd, pos: 3 };
    let node = params.node(0)?;
    let esize = node.size();
    let total = nelem.checked_mul(esize).ok_or("n-bit: output size overflows")?;
    if total > max_out {
        return Err(format!(
            "n-bit: {nelem} elements of {esize} bytes exceed the {max_out}-byte limit"
        ));
    }
    let need_bits = node
        .packed_bits()
        .and_then(|b| b.checked_mul(nelem))
        .ok_or("n-bit: packed size overflows")?;
    let have_bits = data.len().checked_mul(8).ok_or("n-bit: input too large")?;
    if need_bits > have_bits {
        return Err(format!(
            "n-bit: packed data truncated: need {need_bits} bits, have {have_bits}"
        ));
    }
    let mut out = vec![0u8; total];
    let mut r = BitReader { data, pos: 0 };
    for elem in out.chunks_exact_mut(esize) {
        decode_node(&node, &mut r, elem)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
            .collect()
    }

    /// (client data, stored chunk, bytes libhdf5 decodes, in-extent prefix only) captured with h5py 3.16 /
    /// HDF5 2.0.0.
    const CASES: &[(&[u32], &str, &str)] = &[
        // i32 LE, precision 17, offset 3.
        (
            &[8, 0, 4, 1, 4, 0, 17, 3],
            "0000091a091a26d390",
            "000000004023010088460200c8690300",
        ),
        // u16 BE, precision 15, offset 0.
        (
            &[8, 0, 8, 1, 2, 1, 15, 0],
            "4e270db0000000000000000000000000",
            "2713436c",
        ),
        // u32 BE, precision 13, offset 10.
        (&[8, 0, 6, 1, 4, 1, 13, 10], "c5780000000000000000", "0062bc00"),
        // i64 LE, precision 5, offset 49.
        (
            &[8, 0, 13, 1, 8, 0, 5, 49],
            "78b000000000000000",
            "0000000000001e0000000000000004000000000000003000",
        ),
        // u64 BE, precision 39, offset 6.
        (&[8, 0, 1, 1, 8, 1, 39, 6], "1770f609bc", "000002ee1ec13780"),
        // 20-bit float at offset 7 in 4 bytes, LE.
        (&[8, 0, 3, 1, 4, 0, 20, 7], "551a512a83000000", "80d2a80280419500"),
        // 20-bit float at offset 7 in 4 bytes, BE.
        (
            &[8, 0, 10, 1, 4, 1, 20, 7],
            "090d78c2d7e9dd40000000000000000000000000000000000000",
            "00486b8004616b80074eea00",
        ),
        // 8-byte BE float, precision 48, offset 3.
        (
            &[8, 0, 7, 1, 8, 1, 48, 3],
            "47b4893287adc4a0a3207c17e033da6b506ab9de74841debb4f4f4c9778300000000000000000000000000",
            "00023da449943d68000625051903e0b80007019ed35a83500005cef3a420ef580005a7a7a64bbc18",
        ),
        // compound: i32 17@3, u16BE 11@2, 3-byte string (no-op), 20-bit float BE, u16BE[3], full i32 BE, 8-byte gap.
        (
            &[
                41, 0, 1, 3, 32, 6, 0, 1, 4, 0, 17, 3, 4, 1, 2, 1, 11, 2, 6, 4, 3, 10, 1, 4, 1, 20, 7, 14, 2, 6, 1, 2,
                1, 11, 2, 20, 1, 4, 1, 32, 0,
            ],
            "044e53322c1f87b64853a1e4817a6f163a00",
            "e044000014cc22c1f80003db24000a7401e40408f4de2c740000000000000000",
        ),
        // compound with nested compound and array of compound.
        (
            &[
                46, 0, 1, 3, 14, 3, 0, 3, 6, 2, 0, 1, 2, 1, 11, 2, 2, 1, 4, 0, 17, 3, 7, 1, 1, 0, 8, 0, 8, 2, 6, 3, 6,
                2, 0, 1, 2, 1, 11, 2, 2, 1, 4, 0, 17, 3,
            ],
            "02a906b2aa8405ac00",
            "005458830400002a1508602d0000",
        ),
        // array of 2 compounds.
        (
            &[20, 0, 3, 2, 12, 3, 6, 2, 0, 1, 2, 1, 11, 2, 2, 1, 4, 0, 17, 3],
            "5c67dd9268967b000000000000000000000000000000",
            "0b8cc8ee030004d0d8b30400",
        ),
    ];

    #[test]
    fn captured_chunks() {
        for (cd, raw, exp) in CASES {
            let got = nbit_decode(&unhex(raw), cd, 1 << 20).expect("decode");
            let exp = unhex(exp);
            assert_eq!(&got[..exp.len()], &exp[..], "cd {cd:?}");
        }
    }

    #[test]
    fn need_not_compress_returns_input() {
        let data = [1u8, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(nbit_decode(&data, &[8, 1, 2, 1, 4, 0, 32, 0], 64).expect("copy"), data);
        assert!(nbit_decode(&data, &[8, 1, 2, 1, 4, 0, 32, 0], 4).is_err());
        assert!(nbit_decode(&data, &[8, 2, 2, 1, 4, 0, 32, 0], 64).is_err());
    }

    #[test]
    fn hostile_inputs_error() {
        let good: &[u32] = &[8, 0, 4, 1, 4, 0, 17, 3];
        let raw = unhex("0000091a091a26d390");
        // Truncated packed data.
        for n in 0..raw.len() {
            assert!(nbit_decode(&raw[..n], good, 1 << 20).is_err(), "len {n}");
        }
        // Output limit.
        assert!(nbit_decode(&raw, good, 15).is_err());
        // Bad client data.
        let bad: &[&[u32]] = &[
            &[],
            &[3, 0],
            &[9, 0, 4, 1, 4, 0, 17, 3],          // declares more values than present
            &[8, 0, 4, 1, 4, 0, 0, 3],           // precision 0
            &[8, 0, 4, 1, 4, 0, 33, 0],          // precision > bits
            &[8, 0, 4, 1, 4, 0, 17, 16],         // offset + precision > bits
            &[8, 0, 4, 1, 0, 0, 1, 0],           // size 0
            &[8, 0, 4, 1, 4, 2, 17, 3],          // byte order
            &[8, 0, 4, 9, 4, 0, 17, 3],          // class
            &[7, 0, 4, 1, 4, 0, 17],             // missing offset
            &[8, 0, u32::MAX, 1, 4, 0, 17, 3],   // absurd element count
            &[8, 0, 4, 1, u32::MAX, 0, 17, 3],   // absurd size
            &[9, 0, 1, 2, 7, 1, 4, 0, 17, 3],    // array size not a multiple of base
            &[9, 0, 1, 3, 4, 9, 0, 1, 4],        // too many members
            &[11, 0, 1, 3, 4, 1, 2, 1, 4, 0, 8], // member exceeds compound
        ];
        for cd in bad {
            let _ = nbit_decode(&raw, cd, 1 << 20).expect_err(&format!("cd {cd:?}"));
        }
        // Deep nesting.
        let mut deep = vec![0u32, 0, 1];
        for _ in 0..200 {
            deep.extend([2, 4]);
        }
        deep.extend([1, 4, 0, 8, 0]);
        deep[0] = deep.len() as u32;
        assert!(nbit_decode(&raw, &deep, 1 << 20).is_err());
        // Random client data and bytes never panic.
        let mut s = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for _ in 0..20000 {
            let n = (next() % 12) as usize;
            let mut cd: Vec<u32> = (0..n).map(|_| (next() % 40) as u32).collect();
            if let Some(first) = cd.first_mut() {
                *first = n as u32;
            }
            if n > 1 {
                cd[1] = 0;
            }
            let data: Vec<u8> = (0..(next() % 40)).map(|_| next() as u8).collect();
            let _ = nbit_decode(&data, &cd, 4096);
        }
    }
}
