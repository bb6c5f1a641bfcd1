//! Unit tests of the CEOS reader on small products built here from the spec's field tables
//! (`../shared/specs/ceos-alos2.md`), and hostile variants of them. The Python generator
//! (`scripts/make_alos2.py`) and xarray-ceos-alos2 comparisons are in
//! `tests/python/test_ceos.py`; the real corpus headers in `tests/ceos_corpus.rs`.

use bytes::Bytes;

use super::*;
use crate::model::{ChunkRef, DataType, Node, SourceId};

/// A record: header (sequence, codes, length) and blanks, with fields put by 0-based offset.
struct Rec(Vec<u8>);

impl Rec {
    fn new(seq: u32, codes: [u8; 4], len: usize) -> Self {
        let mut b = vec![b' '; len];
        b[..4].copy_from_slice(&seq.to_be_bytes());
        b[4..8].copy_from_slice(&codes);
        b[8..12].copy_from_slice(&(len as u32).to_be_bytes());
        Rec(b)
    }
    fn a(mut self, off: usize, n: usize, s: &str) -> Self {
        let mut f = format!("{s:<n$}").into_bytes();
        f.truncate(n);
        self.0[off..off + n].copy_from_slice(&f);
        self
    }
    fn i(self, off: usize, n: usize, v: i64) -> Self {
        let s = format!("{v:>n$}");
        self.a(off, n, &s)
    }
    fn be32(mut self, off: usize, v: i32) -> Self {
        self.0[off..off + 4].copy_from_slice(&v.to_be_bytes());
        self
    }
}

const SUFFIX: &str = "ALOS2012345670-150410-FBDR1.5GUA";
const LINES: usize = 5;
const PIXELS: usize = 3;
const P: usize = 192;
const L: usize = P + PIXELS * 2;

/// Latitude of the first pixel of line `i`, ×1e6: southern, negative.
fn lat(i: usize) -> i32 {
    -12_345_678 - 1000 * i as i32
}

fn image(lines: usize, code: &str) -> Vec<u8> {
    let fd = Rec::new(1, [50, 192, 18, 18], 720)
        .a(12, 2, "A")
        .a(16, 12, "CEOS-SAR")
        .a(48, 16, "AL2 SARCIMOP")
        .i(180, 6, lines as i64)
        .i(186, 6, L as i64)
        .i(216, 4, 16)
        .i(220, 4, 1)
        .i(224, 4, 2)
        .i(232, 4, 1)
        .i(236, 8, lines as i64)
        .i(248, 8, PIXELS as i64)
        .a(268, 4, "BSQ")
        .i(276, 4, P as i64)
        .i(280, 8, (PIXELS * 2) as i64)
        .i(288, 4, 0)
        .a(428, 4, code)
        .i(440, 8, 65535);
    let mut out = fd.0;
    for i in 0..lines {
        let mut r = Rec::new(2 + i as u32, [50, 11, 18, 20], L)
            .be32(12, 1 + i as i32)
            .be32(36, 2015)
            .be32(40, 100)
            .be32(44, 3_600_000 + i as i32)
            .be32(60, 0)
            .be32(76, -12_345) // Doppler at first pixel ×1e3
            .be32(132, lat(i))
            .be32(144, -62_987_654); // western longitude
        for k in 0..PIXELS {
            let v = (1000 * i + k) as u16;
            r.0[P + 2 * k..P + 2 * k + 2].copy_from_slice(&v.to_be_bytes());
        }
        out.extend(r.0);
    }
    out
}

fn leader() -> Vec<u8> {
    let ds = Rec::new(2, [18, 10, 18, 20], 4096)
        .a(20, 32, "ALOS2012345670-150410")
        .a(396, 16, "ALOS2")
        .a(1094, 16, "1.5")
        .i(444, 8, 1234);
    let rd = Rec::new(3, [18, 50, 18, 20], 9860).a(20, 16, "     -83.0000000");
    let fac = Rec::new(4, [18, 200, 18, 70], 500);
    let fd = Rec::new(1, [11, 192, 18, 18], 720)
        .a(48, 16, "AL2 SARCSARL")
        .i(180, 6, 1)
        .i(186, 6, 4096)
        .i(228, 6, 1)
        .i(234, 6, 9860)
        .i(420, 6, 1)
        .i(426, 8, 500);
    [fd.0, ds.0, rd.0, fac.0].concat()
}

fn volume(images: usize) -> Vec<u8> {
    let mut out = Rec::new(1, [192, 192, 18, 18], 360)
        .a(16, 12, "CEOS-SAR")
        .a(44, 16, "EICS")
        .a(60, 16, "AL2SAR20150410")
        .a(76, 16, "ALOS2  SAR")
        .i(160, 4, images as i64 + 2)
        .0;
    let classes: Vec<&str> = std::iter::once("SARL")
        .chain(std::iter::repeat_n("IMOP", images))
        .chain(std::iter::once("SART"))
        .collect();
    for (j, c) in classes.iter().enumerate() {
        let n = if *c == "IMOP" { LINES as i64 + 1 } else { 4 };
        out.extend(
            Rec::new(2 + j as u32, [219, 192, 18, 18], 360)
                .a(64, 4, c)
                .i(100, 8, n)
                .0,
        );
    }
    out.extend(
        Rec::new(3 + classes.len() as u32, [18, 192, 18, 18], 360)
            .a(156, 40, "ALOS2012345670-150410")
            .0,
    );
    out
}

fn product_with(img_hh: Vec<u8>) -> Vec<(String, Bytes)> {
    vec![
        (format!("VOL-{SUFFIX}"), Bytes::from(volume(2))),
        (format!("LED-{SUFFIX}"), Bytes::from(leader())),
        (format!("IMG-HH-{SUFFIX}"), Bytes::from(img_hh)),
        (format!("IMG-HV-{SUFFIX}"), Bytes::from(image(LINES, "IU2"))),
        (
            "summary.txt".into(),
            Bytes::from_static(b"Scs_SceneID=\"ALOS2012345670-150410\"\nnot an entry\nLbi_ProcessLevel=\"1.5\"\n"),
        ),
    ]
}

fn read_files(files: Vec<(String, Bytes)>, opts: &CeosOptions) -> Result<CeosOutput, CeosError> {
    read(&MemProduct::new(files), opts)
}

fn node<'a>(g: &'a Group, path: &str) -> &'a Node {
    let mut cur = g;
    let parts: Vec<&str> = path.split('/').collect();
    for (k, p) in parts.iter().enumerate() {
        match cur.children.get(*p) {
            Some(Node::Group(c)) if k + 1 < parts.len() => cur = c,
            Some(n) if k + 1 == parts.len() => return n,
            _ => panic!("{path}: {p} not found among {:?}", cur.children.keys()),
        }
    }
    unreachable!()
}

fn array<'a>(g: &'a Group, path: &str) -> &'a crate::model::Array {
    match node(g, path) {
        Node::Array(a) => a,
        Node::Group(_) => panic!("{path} is a group"),
    }
}

fn inline_values_f64(a: &crate::model::Array) -> Vec<f64> {
    match a.chunks.get(&vec![0]) {
        Some(ChunkRef::Inline(b)) => b.chunks(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
        other => panic!("not inline: {other:?}"),
    }
}

#[test]
fn image_lines_are_chunks_of_pixel_bytes_and_lat_lon_signed() {
    let out = read_files(product_with(image(LINES, "IU2")), &CeosOptions::default()).unwrap();
    assert!(out.refusals.is_empty(), "{:?}", out.refusals);
    assert_eq!(out.sources.len(), 2);
    let data = array(&out.root, "imagery/HH/data");
    assert_eq!(data.shape, vec![LINES as u64, PIXELS as u64]);
    assert_eq!(data.chunk_shape, vec![1, PIXELS as u64]);
    assert_eq!(data.data_type, DataType::UInt(16));
    for i in 0..LINES as u64 {
        assert_eq!(
            data.chunks[&vec![i, 0]],
            ChunkRef::Virtual {
                source: SourceId(0),
                offset: 720 + i * L as u64 + P as u64,
                length: (PIXELS * 2) as u64,
            }
        );
    }
    let lats = inline_values_f64(array(&out.root, "imagery/HH/latitude_of_first_pixel"));
    let want: Vec<f64> = (0..LINES).map(|i| f64::from(lat(i)) / 1e6).collect();
    assert_eq!(lats, want);
    assert!(lats.iter().all(|&v| v < -12.0), "signed decoding: {lats:?}");
    let lons = inline_values_f64(array(&out.root, "imagery/HH/longitude_of_first_pixel"));
    assert!(lons.iter().all(|&v| v == -62.987654), "{lons:?}");
    let dop = inline_values_f64(array(&out.root, "imagery/HH/doppler_centroid_value_at_first_pixel"));
    assert!(dop.iter().all(|&v| v == -12.345), "{dop:?}");
    // Leader metadata and summary.txt.
    let Node::Group(rd) = node(&out.root, "metadata/radiometric_data") else {
        panic!()
    };
    assert_eq!(rd.attributes["calibration_factor"], serde_json::json!(-83.0));
    let Node::Group(scs) = node(&out.root, "summary/scene_specification") else {
        panic!()
    };
    assert_eq!(scs.attributes["SceneID"], "ALOS2012345670-150410");
    assert!(
        out.warnings.iter().any(|w| w.reason.contains("line 2")),
        "{:?}",
        out.warnings
    );
}

#[test]
fn line_metadata_none_reads_one_head_per_image() {
    let files = product_with(image(LINES, "IU2"));
    let p = MemProduct::new(files);
    let out = read(
        &p,
        &CeosOptions {
            line_metadata: LineMetadata::None,
            ..Default::default()
        },
    )
    .unwrap();
    let Node::Group(hh) = node(&out.root, "imagery/HH") else {
        panic!()
    };
    assert_eq!(hh.children.keys().collect::<Vec<_>>(), vec!["data"]);
    // VOL + LED + summary.txt + one descriptor read per image.
    assert_eq!(p.requests(), 3 + 2);
}

#[test]
fn records_per_chunk_sets_requests_per_image() {
    let p = MemProduct::new(product_with(image(LINES, "IU2")));
    read(
        &p,
        &CeosOptions {
            records_per_chunk: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    // 5 lines in blocks of 2 → 3 ranges per image, after its descriptor read.
    assert_eq!(p.requests(), 3 + 2 * (1 + 3));
    let d = image::parse_descriptor("x", &image(LINES, "IU2"), (720 + LINES * L) as u64).unwrap();
    let r = image::prefix_ranges(&d, 2);
    assert_eq!(r[0], 720..720 + L as u64 + P as u64);
    assert_eq!(r[2], 720 + 4 * L as u64..720 + 4 * L as u64 + P as u64);
}

fn refusal_of(img: Vec<u8>) -> String {
    let out = read_files(product_with(img), &CeosOptions::default()).unwrap();
    assert_eq!(out.refusals.len(), 1, "{:?}", out.refusals);
    assert_eq!(out.refusals[0].path, "/imagery/HH");
    assert!(matches!(node(&out.root, "imagery/HV/data"), Node::Array(_)));
    out.refusals[0].reason.clone()
}

#[test]
fn truncated_image_is_refused_with_expected_and_actual_size() {
    let mut img = image(LINES, "IU2");
    img.truncate(img.len() - 5);
    let full = 720 + LINES * L;
    let r = refusal_of(img);
    assert!(
        r.contains("truncated")
            && r.contains(&format!("expected {full} bytes"))
            && r.contains(&format!("has {}", full - 5)),
        "{r}"
    );
}

#[test]
fn record_length_inconsistent_with_prefix_pixels_suffix_is_refused() {
    let mut img = image(LINES, "IU2");
    img[288..292].copy_from_slice(b"   4"); // suffix 4: L ≠ P + N·B + S
    let r = refusal_of(img);
    assert!(r.contains("record length 198 differs from prefix 192"), "{r}");
}

#[test]
fn unknown_pixel_format_code_is_refused() {
    let r = refusal_of(image(LINES, "F*4"));
    assert!(r.contains("unsupported pixel format code \"F*4\""), "{r}");
}

#[test]
fn byte_swapped_image_header_is_refused() {
    let mut img = image(LINES, "IU2");
    img[..4].reverse();
    img[8..12].reverse();
    let r = refusal_of(img);
    assert!(r.contains("byte-swapped"), "{r}");
}

#[test]
fn wrong_line_record_type_is_refused_with_record_number() {
    let mut img = image(LINES, "IU2");
    img[720 + 3 * L + 5] = 10; // record 5 (line 4) claims to be a signal data record
    let r = refusal_of(img);
    assert!(r.contains(&format!("record 5 at offset {}", 720 + 3 * L)), "{r}");
}

#[test]
fn product_level_errors_name_the_file() {
    let mut files = product_with(image(LINES, "IU2"));
    files.retain(|(n, _)| !n.starts_with("LED-"));
    let e = read_files(files, &CeosOptions::default()).unwrap_err();
    assert!(e.to_string().contains("LED-") && e.reason.contains("missing"), "{e}");

    let mut files = product_with(image(LINES, "IU2"));
    files.retain(|(n, _)| !n.starts_with("VOL-"));
    let e = read_files(files, &CeosOptions::default()).unwrap_err();
    assert!(e.reason.contains("no volume directory"), "{e}");

    let mut files = product_with(image(LINES, "IU2"));
    files[0].1 = Bytes::from_static(b"garbage, not a record header at all");
    let e = read_files(files, &CeosOptions::default()).unwrap_err();
    assert!(e.reason.contains("not a CEOS file"), "{e}");
}

#[test]
fn sniff_names_missions_and_byte_order() {
    let vol = volume(1);
    let h = sniff(&vol).unwrap();
    assert!(h.alos2 && h.volume_directory);
    let other = Rec::new(1, [63, 192, 18, 18], 720)
        .a(16, 12, "CEOS-SAR-CCT")
        .a(48, 16, "R1_26161_FN1_F16")
        .0;
    let h = sniff(&other).unwrap();
    assert!(!h.alos2);
    assert_eq!(h.mission, "RADARSAT-1");
    let mut swapped = other.clone();
    swapped[..4].reverse();
    swapped[8..12].reverse();
    let h = sniff(&swapped).unwrap();
    assert!(h.byte_swapped && !h.alos2);
    assert!(sniff(b"\x89HDF\r\n\x1a\n0000").is_none());
}

/// Deterministic pseudo-random bytes (xorshift), no dependency.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn hostile_products_never_panic() {
    let base = product_with(image(LINES, "IU2"));
    let mut cases = 0;
    for (k, (_, bytes)) in base.iter().enumerate() {
        let len = bytes.len();
        // Truncations at every record boundary and a few odd places.
        let cuts: Vec<usize> = (0..len)
            .step_by(97)
            .chain([0, 11, 12, 359, 360, 719, 720, 731])
            .collect();
        for cut in cuts.into_iter().filter(|&c| c <= len) {
            let mut files = base.clone();
            files[k].1 = bytes.slice(..cut);
            let _ = read_files(files, &CeosOptions::default());
            cases += 1;
        }
        // Byte flips, including header bytes.
        for (j, pos) in (0..len).step_by(13).enumerate() {
            let mut b = bytes.to_vec();
            b[pos] ^= 0x80 | (j as u8);
            let mut files = base.clone();
            files[k].1 = Bytes::from(b);
            let _ = read_files(files, &CeosOptions::default());
            cases += 1;
        }
    }
    for seed in 0..200u64 {
        let n = (seed as usize * 37) % 3000;
        let mut files = base.clone();
        let k = (seed as usize) % files.len();
        files[k].1 = Bytes::from(noise(seed, n));
        let _ = read_files(files, &CeosOptions::default());
        let _ = sniff(&noise(seed, n));
        cases += 1;
    }
    assert!(cases > 1000, "{cases}");
}
