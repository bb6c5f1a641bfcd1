//! Store writer → VirtualStore → zarrs, over a source file whose bytes the test wrote: values,
//! fill values, inline chunks, coalescing, partial reads, changed and moved sources.

use std::sync::Arc;

use vzarr::reader::{OpenOptions, ReadError, SyncVirtualStore, VirtualStore};
use vzarr::store::{write_store, StoreLocation, WriteOptions};
use vzarr::zarr::ChunkKey;
use zarrs::array::{Array, ArraySubset};
use zarrs_storage::byte_range::ByteRange;
use zarrs_storage::{AsyncListableStorageTraits, AsyncReadableStorageTraits, StoreKey, StorePrefix};

use crate::common::{u16_dataset, write_u16_source};

const CHUNK: u64 = 4;

fn values() -> Vec<u16> {
    (0..22u16).map(|i| i * 1000 + 7).collect()
}

/// Expected read-back: chunk 1 is inline (same values), the last chunk is missing → fill.
fn expected() -> Vec<u16> {
    let v = values();
    let last = (v.len() as u64).div_ceil(CHUNK) - 1;
    v.iter()
        .enumerate()
        .map(|(i, &x)| if i as u64 / CHUNK == last { 0xDEAD } else { x })
        .collect()
}

async fn make_store(dir: &std::path::Path, relative: bool) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let src = data.join("values.bin");
    write_u16_source(&src, &values(), CHUNK as usize);
    let url = vzarr::source::to_url(src.to_str().unwrap()).unwrap();
    let mut ds = u16_dataset(url.as_str(), &values(), CHUNK);
    ds.sources[0] = vzarr::source::stat(&url).await.unwrap();
    let store = dir.join("stores").join("s.vzarr");
    let loc = StoreLocation::parse(store.to_str().unwrap()).unwrap();
    if relative {
        ds.sources[0].url = loc.url.make_relative(&url).unwrap();
        assert_eq!(ds.sources[0].url, "../../data/values.bin");
    }
    write_store(&ds, &loc, &WriteOptions::default(), false).await.unwrap();
    (store, src)
}

async fn read_all(store: &std::path::Path) -> Result<Vec<u16>, String> {
    let vs = Arc::new(
        VirtualStore::open(store.to_str().unwrap(), &OpenOptions::default())
            .await
            .map_err(|e| e.to_string())?,
    );
    let a = Array::async_open(vs.clone(), "/grp/values")
        .await
        .map_err(|e| e.to_string())?;
    let subset = ArraySubset::new_with_shape(a.shape().to_vec());
    a.async_retrieve_array_subset::<Vec<u16>>(&subset)
        .await
        .map_err(|e| chain(&e))
}

/// An error and its sources, as the CLI prints them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn values_fill_and_inline_chunks_read_back_through_zarrs() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = make_store(dir.path(), false).await;
    assert_eq!(read_all(&store).await.unwrap(), expected());
    // zarr.json is plain Zarr v3 with consolidated metadata.
    let root: serde_json::Value = serde_json::from_slice(&std::fs::read(store.join("zarr.json")).unwrap()).unwrap();
    assert_eq!(
        root["consolidated_metadata"]["metadata"]["grp/values"]["fill_value"],
        0xDEAD
    );
    assert_eq!(
        root["consolidated_metadata"]["metadata"]["grp/values"]["dimension_names"][0],
        "x"
    );
}

#[test]
fn sync_traits_read_the_same_values() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (store, _) = rt.block_on(make_store(dir.path(), false));
    let vs = rt
        .block_on(VirtualStore::open(store.to_str().unwrap(), &OpenOptions::default()))
        .unwrap();
    let sync = Arc::new(SyncVirtualStore::new(Arc::new(vs), rt.handle().clone()));
    let a = Array::open(sync, "/grp/values").unwrap();
    let got: Vec<u16> = a
        .retrieve_array_subset(&ArraySubset::new_with_start_shape(vec![2], vec![9]).unwrap())
        .unwrap();
    assert_eq!(got, expected()[2..11].to_vec());
}

#[tokio::test(flavor = "multi_thread")]
async fn prefetch_coalesces_adjacent_chunks_into_one_request() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = make_store(dir.path(), false).await;
    let vs = VirtualStore::open(store.to_str().unwrap(), &OpenOptions::default())
        .await
        .unwrap();
    let keys: Vec<ChunkKey> = (0..6)
        .map(|i| ChunkKey {
            array: "grp/values".into(),
            coords: vec![i],
        })
        .collect();
    vs.prefetch(&keys).await.unwrap();
    let (requests, bytes) = vs.source_requests();
    assert_eq!(requests, 1, "4 virtual chunks in one merged range");
    assert_eq!(
        bytes,
        4 * CHUNK * 2 + CHUNK * 2,
        "the merged range spans chunks 0..=4 (chunk 1 is inline)"
    );
    for k in &keys[..5] {
        assert!(vs.chunk(k).await.unwrap().is_some());
    }
    assert_eq!(vs.source_requests().0, 1, "served from the prefetched bytes");
    assert!(vs.chunk(&keys[5]).await.unwrap().is_none(), "missing chunk");
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_reads_listing_and_bad_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = make_store(dir.path(), false).await;
    let vs = VirtualStore::open(store.to_str().unwrap(), &OpenOptions::default())
        .await
        .unwrap();
    let key = StoreKey::new("grp/values/c/2").unwrap();
    let whole = vs.get(&key).await.unwrap().unwrap();
    assert_eq!(whole.len() as u64, CHUNK * 2);
    let part = vs
        .get_partial(&key, ByteRange::FromStart(2, Some(4)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(part, whole.slice(2..6));
    let suffix = vs.get_partial(&key, ByteRange::Suffix(3)).await.unwrap().unwrap();
    assert_eq!(suffix, whole.slice(5..8));
    assert!(
        vs.get_partial(&key, ByteRange::FromStart(6, Some(3))).await.is_err(),
        "past the chunk end"
    );
    assert!(vs
        .get(&StoreKey::new("grp/values/c/99").unwrap())
        .await
        .unwrap()
        .is_none());
    assert!(vs
        .get(&StoreKey::new("grp/nothing/zarr.json").unwrap())
        .await
        .unwrap()
        .is_none());
    let keys = vs.list_prefix(&StorePrefix::new("grp/").unwrap()).await.unwrap();
    let names: Vec<&str> = keys.iter().map(StoreKey::as_str).collect();
    assert!(names.contains(&"grp/zarr.json") && names.contains(&"grp/values/zarr.json"));
    assert!(names.contains(&"grp/values/c/0") && !names.contains(&"grp/values/c/5"));
    assert_eq!(vs.size_key(&key).await.unwrap(), Some(CHUNK * 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_source_is_an_error_never_other_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, src) = make_store(dir.path(), false).await;
    // Same size, one byte different, and a new modification time.
    let mut b = std::fs::read(&src).unwrap();
    b[20] ^= 0xff;
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&src, &b).unwrap();
    let f = std::fs::File::options().write(true).open(&src).unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1))
        .unwrap();
    let e = read_all(&store).await.unwrap_err();
    assert!(e.contains("source changed"), "{e}");
    // A different size is caught as well.
    b.extend_from_slice(b"more");
    std::fs::write(&src, &b).unwrap();
    let vs = VirtualStore::open(store.to_str().unwrap(), &OpenOptions::default())
        .await
        .unwrap();
    let err = vs
        .chunk(&ChunkKey {
            array: "grp/values".into(),
            coords: vec![0],
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ReadError::SourceModified { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn relative_store_reads_after_moving_with_its_sources() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    make_store(&a, true).await;
    let b = dir.path().join("b");
    std::fs::rename(&a, &b).unwrap();
    assert_eq!(read_all(&b.join("stores/s.vzarr")).await.unwrap(), expected());
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_list_refuses_sources_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = make_store(dir.path(), false).await;
    let opts = OpenOptions {
        allow_prefixes: vec!["s3://somewhere-else/".into()],
        ..Default::default()
    };
    let e = VirtualStore::open(store.to_str().unwrap(), &opts).await.unwrap_err();
    assert!(matches!(e, ReadError::NotAllowed { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn damaged_store_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = make_store(dir.path(), false).await;
    let m = store.join("manifest.parquet");
    let bytes = std::fs::read(&m).unwrap();
    std::fs::write(&m, &bytes[..bytes.len() / 2]).unwrap();
    let e = VirtualStore::open(store.to_str().unwrap(), &OpenOptions::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("manifest.parquet"), "{e}");
    std::fs::remove_file(store.join("vzarr.json")).unwrap();
    let e = VirtualStore::open(store.to_str().unwrap(), &OpenOptions::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a vzarr store"), "{e}");
}
