//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use vzarr::model::{
    Array, ChunkRef, Codec, DataType, Endian, FillValue, Group, Node, Source, SourceId, VirtualDataset,
};

/// The shared corpus, or `None` (with a printed reason) outside CI when it is absent.
pub fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if p.is_dir() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "corpus missing at {} (required in CI)",
        p.display()
    );
    eprintln!("skipping: corpus not found at {}", p.display());
    None
}

/// A dataset over one source file holding `values` (u16, little-endian) in chunks of
/// `chunk` elements, with chunk 1 inline and the last chunk missing.
pub fn u16_dataset(source_url: &str, values: &[u16], chunk: u64) -> VirtualDataset {
    let n = values.len() as u64;
    let mut chunks = BTreeMap::new();
    let nchunks = n.div_ceil(chunk);
    for i in 0..nchunks {
        let r = if i == 1 {
            let s = (i * chunk) as usize;
            let e = ((i + 1) * chunk).min(n) as usize;
            let mut b: Vec<u8> = values[s..e].iter().flat_map(|v| v.to_le_bytes()).collect();
            b.resize((chunk * 2) as usize, 0);
            ChunkRef::Inline(Bytes::from(b))
        } else if i == nchunks - 1 && nchunks > 2 {
            ChunkRef::Missing
        } else {
            ChunkRef::Virtual {
                source: SourceId(0),
                offset: 16 + i * chunk * 2,
                length: chunk * 2,
            }
        };
        chunks.insert(vec![i], r);
    }
    let array = Array {
        shape: vec![n],
        chunk_shape: vec![chunk],
        data_type: DataType::UInt(16),
        fill_value: FillValue::Bytes(vec![0xAD, 0xDE]),
        codecs: vec![Codec::Bytes(Some(Endian::Little))],
        attributes: serde_json::json!({"units": "counts"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        dimension_names: Some(vec![Some("x".into())]),
        chunks,
    };
    let mut g = Group::default();
    g.children.insert("values".into(), Node::Array(array));
    let mut root = Group::default();
    root.children.insert("grp".into(), Node::Group(g));
    VirtualDataset {
        sources: vec![Source {
            url: source_url.into(),
            size: None,
            etag: None,
            last_modified: None,
        }],
        root,
    }
}

/// Write `values` as little-endian u16 after a 16-byte header, padded to whole chunks.
pub fn write_u16_source(path: &Path, values: &[u16], chunk: usize) {
    let mut b = vec![0x55u8; 16];
    let mut v = values.to_vec();
    v.resize(values.len().div_ceil(chunk) * chunk, 0);
    b.extend(v.iter().flat_map(|x| x.to_le_bytes()));
    std::fs::write(path, b).expect("write source");
}
