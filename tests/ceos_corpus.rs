//! The CEOS files of the corpus: the real ALOS-2 level 1.5 headers of pyroSAR's test product
//! (VOL, LED, TRL whole; IMG cut to its 720-byte descriptor) and the RADARSAT-1, ERS-2 and IRS
//! CEOS samples of GDAL's autotest and Terradue's sar-helpers. Expected values come from
//! the corpus MANIFEST.tsv descriptions and the files' own text fields, never from our output.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use vzarr::ceos::{self, CeosOptions, MemProduct};
use vzarr::model::{Group, Node};

use crate::common::corpus;

const PYROSAR: &str = "pyroSAR/tests/data/0000022708_001001_ALOS2015976960-140909";

fn product_files(dir: &Path) -> Vec<(String, Bytes)> {
    let mut v: Vec<(String, Bytes)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                Bytes::from(std::fs::read(e.path()).unwrap()),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn group<'a>(g: &'a Group, path: &str) -> &'a Group {
    let mut cur = g;
    for p in path.split('/') {
        match cur.children.get(p) {
            Some(Node::Group(c)) => cur = c,
            _ => panic!("{path}: {p} missing among {:?}", cur.children.keys()),
        }
    }
    cur
}

#[test]
fn real_alos2_l15_headers_parse_and_truncated_images_are_refused() {
    let Some(c) = corpus() else { return };
    let files = product_files(&c.join(PYROSAR));
    let out = ceos::read(&MemProduct::new(files), &CeosOptions::default()).unwrap();
    // The leader is complete: every record kind of the MANIFEST description is there.
    let meta = group(&out.root, "metadata");
    for kind in [
        "dataset_summary",
        "map_projection",
        "platform_position",
        "attitude",
        "radiometric_data",
        "data_quality_summary",
        "trailer",
    ] {
        assert!(
            meta.children.contains_key(kind),
            "{kind} missing: {:?}",
            meta.children.keys()
        );
    }
    assert_eq!(
        meta.attributes["facility_related_data_record_lengths"],
        serde_json::json!([325000, 511000, 3072, 728000, 5000])
    );
    let ds = &group(&out.root, "metadata/dataset_summary").attributes;
    // Values as summary.txt of the same product states them.
    assert_eq!(ds["scene_id"], "ALOS2015976960-140909");
    assert_eq!(ds["mission_id"], "ALOS2");
    assert_eq!(ds["product_level_code"], "1.5");
    let lat = ds["scene_center_latitude"].as_f64().unwrap();
    let lon = ds["scene_center_longitude"].as_f64().unwrap();
    assert!(
        (lat - -11.051).abs() < 1e-3 && (lon - -62.532).abs() < 1e-3,
        "{lat} {lon}"
    );
    let pp = group(&out.root, "metadata/platform_position");
    assert_eq!(pp.attributes["number_of_data_points"], 28);
    for v in ["x", "y", "z", "vx", "vy", "vz", "time"] {
        match pp.children.get(v) {
            Some(Node::Array(a)) => assert_eq!(a.shape, vec![28]),
            _ => panic!("platform_position/{v} missing"),
        }
    }
    assert_eq!(group(&out.root, "metadata/attitude").attributes["number_of_points"], 22);
    let rd = &group(&out.root, "metadata/radiometric_data").attributes;
    assert_eq!(rd["calibration_factor"], -83.0);
    assert_eq!(
        group(&out.root, "summary/product_specification").attributes["ProductID"],
        "FBDR1.5GUA"
    );
    assert_eq!(out.root.attributes["logical_volume_generating_agency"], "JAXA");
    // The directory of the leader agrees with its records: no warning about the leader.
    assert!(
        !out.warnings.iter().any(|w| w.reason.contains("LED-")),
        "{:?}",
        out.warnings
    );
    // The image files hold only their descriptor: refused as truncated, with both sizes
    // (MANIFEST: 13161 records × 25932 B after a 720-byte descriptor).
    let expected = 720u64 + 13161 * 25932;
    assert_eq!(out.refusals.len(), 2, "{:?}", out.refusals);
    for (r, pol) in out.refusals.iter().zip(["HH", "HV"]) {
        assert_eq!(r.path, format!("/imagery/{pol}"));
        assert!(
            r.reason.contains("truncated")
                && r.reason.contains(&format!("expected {expected} bytes"))
                && r.reason.contains("has 720"),
            "{}",
            r.reason
        );
    }
}

fn other_ceos() -> Vec<(PathBuf, &'static str)> {
    let Some(c) = corpus() else { return Vec::new() };
    let ers = "sar-helpers/src/main/tests/artifacts/ER02_SAR_RAW_0P_20100118T174929_20100118T174945_ESR_77106.CEOS";
    vec![
        (
            c.join("gdal-autotest/autotest/gdrivers/data/sar_ceos/R1_26161_FN1_F164.D"),
            "RADARSAT-1",
        ),
        (
            c.join("gdal-autotest/autotest/gdrivers/data/sar_ceos/R1_26161_FN1_F164.L"),
            "RADARSAT-1",
        ),
        (
            c.join("gdal-autotest/autotest/gdrivers/data/sar_ceos/ottawa_patch.img"),
            "RADARSAT-1",
        ),
        (
            c.join("gdal-autotest/autotest/gdrivers/data/ceos/IMAGERY-75K.L-3"),
            "IRS",
        ),
        (c.join(format!("{ers}/DAT_01.001")), "ERS-2"),
        (c.join(format!("{ers}/LEA_01.001")), "ERS-2"),
        (c.join(format!("{ers}/VDF_DAT.001")), "ERS-2"),
    ]
}

#[test]
fn other_missions_are_recognised_as_ceos_but_not_alos2() {
    for (path, mission) in other_ceos() {
        let head = std::fs::read(&path).unwrap();
        let h =
            ceos::sniff(&head[..head.len().min(732)]).unwrap_or_else(|| panic!("{}: not recognised", path.display()));
        assert!(!h.alos2, "{}", path.display());
        assert_eq!(h.mission, mission, "{}", path.display());
        assert_eq!(h.byte_swapped, mission == "IRS", "{}", path.display());
    }
}

#[test]
fn ers_product_directory_is_refused_by_name() {
    let Some(c) = corpus() else { return };
    let dir =
        c.join("sar-helpers/src/main/tests/artifacts/ER02_SAR_RAW_0P_20100118T174929_20100118T174945_ESR_77106.CEOS");
    // No VOL- file: the directory is not an ALOS-2 product.
    let e = ceos::read(&MemProduct::new(product_files(&dir)), &CeosOptions::default()).unwrap_err();
    assert!(e.reason.contains("no volume directory"), "{e}");
    // Its volume directory, named as a VOL file, is refused as ERS-2.
    let mut files = product_files(&dir);
    for f in &mut files {
        if f.0 == "VDF_DAT.001" {
            f.0 = "VOL-X".into();
        }
    }
    let e = ceos::read(&MemProduct::new(files), &CeosOptions::default()).unwrap_err();
    assert!(e.reason.contains("ERS-2") && e.reason.contains("not an ALOS-2"), "{e}");
}

/// Truncated and byte-flipped copies of every CEOS file of the corpus, and random buffers, as
/// each file of an otherwise real product: the reader returns (an error or a result), never
/// panics, and errors name a file.
#[test]
fn corrupted_corpus_files_never_panic() {
    let Some(c) = corpus() else { return };
    let base = product_files(&c.join(PYROSAR));
    let mut others: Vec<Bytes> = other_ceos()
        .into_iter()
        .map(|(p, _)| Bytes::from(std::fs::read(p).unwrap()))
        .collect();
    others.extend(base.iter().map(|(_, b)| b.clone()));
    let mut cases = 0;
    for (k, _) in base.iter().enumerate() {
        for (j, donor) in others.iter().enumerate() {
            let len = donor.len().min(40_000);
            for cut in [0, 5, 12, 100, 360, 720, 721, 4816, len / 2, len] {
                let mut files = base.clone();
                files[k].1 = donor.slice(..cut.min(len));
                if let Err(e) = ceos::read(&MemProduct::new(files), &CeosOptions::default()) {
                    assert!(!e.file.is_empty());
                }
                cases += 1;
            }
            for step in 0..20usize {
                let mut b = donor.slice(..len).to_vec();
                if b.is_empty() {
                    break;
                }
                let pos = (step * 7919 + j * 31) % b.len();
                b[pos] ^= 0xA5;
                b[pos / 2] = b[pos / 2].wrapping_add(1);
                let mut files = base.clone();
                files[k].1 = Bytes::from(b);
                let _ = ceos::read(&MemProduct::new(files), &CeosOptions::default());
                cases += 1;
            }
        }
    }
    assert!(cases > 500, "{cases}");
}
