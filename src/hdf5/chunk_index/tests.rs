//! Crafted index structures: valid ones decode to the expected chunks; truncated, corrupt
//! or oversized ones give errors, never panics.

use super::*;
use crate::hdf5::checksum::lookup3;

const S: Sizes = Sizes {
    offset: 8,
    length: 8,
    base: 0,
};

/// Write `body` + its lookup3 checksum at `at`, growing the file.
fn put(file: &mut Vec<u8>, at: usize, body: &[u8]) {
    let mut b = body.to_vec();
    b.extend_from_slice(&lookup3(body).to_le_bytes());
    if file.len() < at + b.len() {
        file.resize(at + b.len(), 0);
    }
    file[at..at + b.len()].copy_from_slice(&b);
}

fn run(file: &[u8], index: &ChunkIndex, addr: u64, g: &Geometry<'_>) -> Result<Vec<(Vec<u64>, u64, u32)>, Hdf5Error> {
    let mut out = Vec::new();
    let src = file.to_vec();
    visit(&src, S, index, addr, g, &mut |r| {
        out.push((r.offsets, r.addr, r.size));
        Ok(())
    })?;
    Ok(out)
}

fn geom<'a>(shape: &'a [u64], max: &'a [u64], chunk: &'a [u64]) -> Geometry<'a> {
    Geometry {
        shape,
        max_shape: max,
        chunk,
        elem: 4,
        nfilters: 0,
        flags: 0,
    }
}

/// Fixed array of `n` unfiltered elements at 0x100 (header) / 0x200 (data block), chunk
/// `i` at 0x1000 + 8i; `page_bits` pages it.
fn fixed_array(n: u64, page_bits: u8, bitmap: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 0x100];
    let mut h = b"FAHD\0\0\x08".to_vec();
    h.push(page_bits);
    h.extend_from_slice(&n.to_le_bytes());
    h.extend_from_slice(&0x200u64.to_le_bytes());
    put(&mut f, 0x100, &h);
    let mut d = b"FADB\0\0".to_vec();
    d.extend_from_slice(&0x100u64.to_le_bytes());
    let elems: Vec<u8> = (0..n).flat_map(|i| (0x1000 + 8 * i).to_le_bytes()).collect();
    if n <= 1 << page_bits {
        d.extend_from_slice(&elems);
        put(&mut f, 0x200, &d);
    } else {
        d.extend_from_slice(bitmap);
        put(&mut f, 0x200, &d);
        let mut at = 0x200 + d.len() + 4;
        for page in elems.chunks(8 << page_bits) {
            put(&mut f, at, page);
            at += page.len() + 4;
        }
    }
    f.resize(0x2000, 0);
    f
}

#[test]
fn fixed_array_plain_and_paged() {
    let fa = ChunkIndex::FixedArray { page_bits: 10 };
    let g = geom(&[8], &[8], &[2]);
    let recs = run(&fixed_array(4, 10, &[]), &fa, 0x100, &g).unwrap();
    assert_eq!(
        recs,
        (0..4).map(|i| (vec![2 * i], 0x1000 + 8 * i, 8)).collect::<Vec<_>>()
    );
    // Two pages of two elements, only the first initialised.
    let recs = run(&fixed_array(4, 1, &[0x80]), &fa, 0x100, &g).unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1], (vec![2], 0x1008, 8));
    let recs = run(&fixed_array(4, 1, &[0xc0]), &fa, 0x100, &g).unwrap();
    assert_eq!(recs.len(), 4);
}

#[test]
fn fixed_array_malformed() {
    let fa = ChunkIndex::FixedArray { page_bits: 10 };
    let g = geom(&[8], &[8], &[2]);
    let good = fixed_array(4, 10, &[]);
    // Bad signature, bad header checksum, bad data block checksum, truncated file.
    let mut f = good.clone();
    f[0x100] = b'X';
    assert!(run(&f, &fa, 0x100, &g).is_err());
    let mut f = good.clone();
    f[0x108] ^= 1;
    assert!(run(&f, &fa, 0x100, &g).unwrap_err().to_string().contains("checksum"));
    let mut f = good.clone();
    f[0x212] ^= 1;
    assert!(run(&f, &fa, 0x100, &g).unwrap_err().to_string().contains("checksum"));
    assert!(run(&good[..0x210], &fa, 0x100, &g).is_err());
    // Element count not matching the grid, and a count far beyond the file.
    assert!(run(&fixed_array(5, 10, &[]), &fa, 0x100, &g).is_err());
    let big = geom(&[1 << 40], &[1 << 40], &[1]);
    let mut f = vec![0u8; 0x100];
    let mut h = b"FAHD\0\0\x08\x0a".to_vec();
    h.extend_from_slice(&(1u64 << 40).to_le_bytes());
    h.extend_from_slice(&0x200u64.to_le_bytes());
    put(&mut f, 0x100, &h);
    assert!(run(&f, &fa, 0x100, &big).is_err());
    // Filtered client id on an unfiltered dataset.
    let mut f = good;
    let mut h = b"FAHD\0\x01\x08\x0a".to_vec();
    h.extend_from_slice(&4u64.to_le_bytes());
    h.extend_from_slice(&0x200u64.to_le_bytes());
    put(&mut f, 0x100, &h);
    assert!(run(&f, &fa, 0x100, &g).is_err());
}

/// Extensible array (max bits 4, index block 2 elements, data block minimum 2, super block
/// minimum pointers 2) with one data block (super block 0, elements 2–3).
fn extensible_array() -> Vec<u8> {
    let mut f = vec![0u8; 0x100];
    let mut h = b"EAHD\0\0\x08\x04\x02\x02\x02\x0a".to_vec();
    h.extend_from_slice(&[0u8; 48]);
    h.extend_from_slice(&0x200u64.to_le_bytes());
    put(&mut f, 0x100, &h);
    let mut ib = b"EAIB\0\0".to_vec();
    ib.extend_from_slice(&0x100u64.to_le_bytes());
    ib.extend_from_slice(&0x1000u64.to_le_bytes());
    ib.extend_from_slice(&[0xff; 8]);
    ib.extend_from_slice(&0x300u64.to_le_bytes()); // data block of super block 0
    ib.extend_from_slice(&[0xff; 8]); // super block 1's data block
    ib.extend_from_slice(&[0xff; 16]); // super blocks 2, 3
    put(&mut f, 0x200, &ib);
    let mut d = b"EADB\0\0".to_vec();
    d.extend_from_slice(&0x100u64.to_le_bytes());
    d.push(0); // block offset (1 byte for 4 bits)
    d.extend_from_slice(&0x1010u64.to_le_bytes());
    d.extend_from_slice(&0x1018u64.to_le_bytes());
    put(&mut f, 0x300, &d);
    f.resize(0x2000, 0);
    f
}

#[test]
fn extensible_array_blocks() {
    let ea = ChunkIndex::ExtensibleArray {
        max_bits: 4,
        index_elements: 2,
        min_pointers: 2,
        min_elements: 2,
        page_bits: 10,
    };
    let g = geom(&[10], &[u64::MAX], &[1]);
    let recs = run(&extensible_array(), &ea, 0x100, &g).unwrap();
    assert_eq!(
        recs,
        vec![(vec![0], 0x1000, 4), (vec![2], 0x1010, 4), (vec![3], 0x1018, 4)]
    );
    // Swizzled numbering: the unlimited dimension 1 goes first, dimension 0 has 3 chunks.
    let g2 = geom(&[3, 10], &[3, u64::MAX], &[1, 1]);
    let recs = run(&extensible_array(), &ea, 0x100, &g2).unwrap();
    let offs: Vec<Vec<u64>> = recs.into_iter().map(|r| r.0).collect();
    assert_eq!(offs, vec![vec![0, 0], vec![2, 0], vec![0, 1]]);
    // Bad data block checksum, wrong header address, truncated, no unlimited dimension.
    let mut f = extensible_array();
    f[0x310] ^= 1;
    assert!(run(&f, &ea, 0x100, &g).is_err());
    // Wrong header address in the data block.
    let mut f = extensible_array();
    let mut d = b"EADB\0\0".to_vec();
    d.extend_from_slice(&0x180u64.to_le_bytes());
    d.push(0);
    d.extend_from_slice(&[0u8; 16]);
    put(&mut f, 0x300, &d);
    assert!(run(&f, &ea, 0x100, &g)
        .unwrap_err()
        .to_string()
        .contains("header address"));
    assert!(run(&extensible_array()[..0x230], &ea, 0x100, &g).is_err());
    assert!(run(&extensible_array(), &ea, 0x100, &geom(&[10], &[10], &[1])).is_err());
    // Inconsistent creation parameters in the header.
    let mut f = extensible_array();
    let mut h = b"EAHD\0\0\x08\x04\x02\x03\x02\x0a".to_vec();
    h.extend_from_slice(&[0u8; 48]);
    h.extend_from_slice(&0x200u64.to_le_bytes());
    put(&mut f, 0x100, &h);
    assert!(run(&f, &ea, 0x100, &g).is_err());
}

#[test]
fn implicit_single_and_btree() {
    let g = geom(&[10, 4], &[10, 4], &[5, 4]);
    let f = vec![0u8; 0x200];
    let recs = run(&f, &ChunkIndex::Implicit, 0x100, &g).unwrap();
    assert_eq!(recs, vec![(vec![0, 0], 0x100, 80), (vec![5, 0], 0x150, 80)]);
    // Chunks past the end of the file.
    assert!(run(&f[..0x19f], &ChunkIndex::Implicit, 0x100, &g).is_err());
    // Unlimited dimension with an implicit index.
    assert!(run(&f, &ChunkIndex::Implicit, 0x100, &geom(&[10], &[u64::MAX], &[5])).is_err());
    let single = ChunkIndex::Single { filtered: None };
    assert_eq!(run(&f, &single, 0x40, &g).unwrap(), vec![(vec![0, 0], 0x40, 80)]);
    // Undefined address: no chunks.
    assert!(run(&f, &single, u64::MAX, &g).unwrap().is_empty());
    let bt = ChunkIndex::BtreeV2 {
        node_size: 512,
        split: 100,
        merge: 40,
    };
    assert!(run(&f, &bt, 0x100, &g).is_err());
    // A chunk size that overflows.
    let huge = Geometry { elem: u64::MAX, ..g };
    assert!(run(&f, &single, 0x40, &huge).is_err());
}

#[test]
fn partial_edge_chunks_skip_filters_with_flag() {
    let g = Geometry {
        nfilters: 2,
        flags: v4_flags::DONT_FILTER_PARTIAL_BOUND_CHUNKS,
        ..geom(&[3], &[3], &[4])
    };
    let single = ChunkIndex::Single {
        filtered: Some((16, 0)),
    };
    let src = vec![0u8; 0x100];
    let mut masks = Vec::new();
    visit(&src, S, &single, 0x10, &g, &mut |r| {
        masks.push(r.filter_mask);
        Ok(())
    })
    .unwrap();
    assert_eq!(masks, vec![0b11]);
}

/// Every single-byte corruption and every truncation of the crafted structures gives a result
/// or an error, never a panic (checksums catch most; the rest must stay bounded).
#[test]
fn corruptions_never_panic() {
    let fa = ChunkIndex::FixedArray { page_bits: 1 };
    let ea = ChunkIndex::ExtensibleArray {
        max_bits: 4,
        index_elements: 2,
        min_pointers: 2,
        min_elements: 2,
        page_bits: 10,
    };
    let g1 = geom(&[8], &[8], &[2]);
    let ge = geom(&[10], &[u64::MAX], &[1]);
    let cases = [
        (fixed_array(4, 10, &[]), &fa, g1),
        (fixed_array(4, 1, &[0xc0]), &fa, g1),
        (extensible_array(), &ea, ge),
    ];
    for (good, index, g) in &cases {
        let end = 0x400.min(good.len());
        for i in 0x100..end {
            for x in [0x01u8, 0x80, 0xff] {
                let mut f = good.clone();
                f[i] ^= x;
                let _ = run(&f, index, 0x100, g);
            }
        }
        for n in 0..end {
            let _ = run(&good[..n], index, 0x100, g);
        }
    }
}
