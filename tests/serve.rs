//! `vzarr::serve` in process (tower `oneshot`, no socket): keys → metadata, virtual, inline and
//! missing chunks; Range and HEAD; hostile keys; the allow-list refused per read.

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;
use vzarr::serve::{open_stores, router, ServeOptions};
use vzarr::store::{write_store, StoreLocation, WriteOptions};

use crate::common::{u16_dataset, write_u16_source};

const CHUNK: u64 = 4;

/// A store `s.vzarr` over a source whose bytes the test wrote; returns (store, source bytes).
async fn make_store(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>) {
    let values: Vec<u16> = (0..22u16).map(|i| i * 1000 + 7).collect();
    let src = dir.join("values.bin");
    write_u16_source(&src, &values, CHUNK as usize);
    let url = vzarr::source::to_url(src.to_str().unwrap()).unwrap();
    let mut ds = u16_dataset(url.as_str(), &values, CHUNK);
    ds.sources[0] = vzarr::source::stat(&url).await.unwrap();
    let store = dir.join("s.vzarr");
    let loc = StoreLocation::parse(store.to_str().unwrap()).unwrap();
    write_store(&ds, &loc, &WriteOptions::default(), false).await.unwrap();
    (store, std::fs::read(&src).unwrap())
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    range: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(r) = range {
        req = req.header(header::RANGE, r);
    }
    let res = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = to_bytes(res.into_body(), 1 << 24).await.unwrap().to_vec();
    (status, headers, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_resolve_to_metadata_and_chunk_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, src) = make_store(dir.path()).await;
    let opts = ServeOptions::default();
    let stores = open_stores(&[store.to_str().unwrap().to_string()], &opts)
        .await
        .unwrap();
    let app = router(stores, &opts);

    let (s, h, body) = call(&app, "GET", "/s.vzarr/grp/values/zarr.json", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, std::fs::read(store.join("grp/values/zarr.json")).unwrap());
    assert_eq!(h[header::CONTENT_TYPE], "application/json");

    // Chunk 0 is virtual: bytes 16..24 of the source.
    let (s, h, body) = call(&app, "GET", "/s.vzarr/grp/values/c/0", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, &src[16..24]);
    assert_eq!(h[header::CONTENT_LENGTH], "8");
    assert_eq!(h["access-control-allow-origin"], "*");
    // Chunk 1 is inline: the values 4..8, little-endian.
    let (s, _, body) = call(&app, "GET", "/s.vzarr/grp/values/c/1", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, &src[24..32]);
    // The last chunk is missing: 404, so readers use the fill value.
    let (s, _, _) = call(&app, "GET", "/s.vzarr/grp/values/c/5", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, h, body) = call(&app, "GET", "/s.vzarr/grp/values/c/2", Some("bytes=2-5")).await;
    assert_eq!(s, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, &src[16 + 8 * 2 + 2..16 + 8 * 2 + 6]);
    assert_eq!(h[header::CONTENT_RANGE], "bytes 2-5/8");
    let (s, h, _) = call(&app, "GET", "/s.vzarr/grp/values/c/2", Some("bytes=8-")).await;
    assert_eq!(s, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(h[header::CONTENT_RANGE], "bytes */8");
    let (s, h, body) = call(&app, "HEAD", "/s.vzarr/grp/values/c/3", None).await;
    assert_eq!((s, body.len()), (StatusCode::OK, 0));
    assert_eq!(h[header::CONTENT_LENGTH], "8");

    let (s, _, body) = call(&app, "GET", "/s.vzarr/", None).await;
    let page = String::from_utf8(body).unwrap();
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("data-path=\"/grp/values\"") && page.contains("(22)") && page.contains("uint16"),
        "{page}"
    );
    let (s, _, body) = call(&app, "GET", "/", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8(body).unwrap().contains("href=\"/s.vzarr/\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_keys_are_refused_before_any_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = make_store(dir.path()).await;
    let opts = ServeOptions::default();
    let app = router(
        open_stores(&[store.to_str().unwrap().to_string()], &opts)
            .await
            .unwrap(),
        &opts,
    );
    for (uri, want) in [
        ("/s.vzarr/../s.vzarr/vzarr.json", StatusCode::BAD_REQUEST),
        ("/s.vzarr/%2e%2e/values.bin", StatusCode::BAD_REQUEST),
        ("/s.vzarr/%2Fetc%2Fpasswd", StatusCode::BAD_REQUEST),
        ("/s.vzarr/grp//values/c/0", StatusCode::BAD_REQUEST),
        ("/s.vzarr/grp/values/c/x", StatusCode::BAD_REQUEST),
        ("/s.vzarr/grp/values/c/007", StatusCode::BAD_REQUEST),
        ("/s.vzarr/vzarr.json", StatusCode::NOT_FOUND),
        ("/s.vzarr/manifest.parquet", StatusCode::NOT_FOUND),
        ("/s.vzarr/grp/values/c/99", StatusCode::NOT_FOUND),
        ("/other/zarr.json", StatusCode::NOT_FOUND),
    ] {
        let (s, _, body) = call(&app, "GET", uri, None).await;
        assert_eq!(s, want, "{uri}");
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains(dir.path().to_str().unwrap()),
            "{uri} leaks a path: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sources_outside_the_allow_list_are_refused_per_read() {
    let dir = tempfile::tempdir().unwrap();
    let (store, src) = make_store(dir.path()).await;
    let opts = ServeOptions {
        allow_sources: vec!["s3://elsewhere/".into()],
        ..ServeOptions::default()
    };
    let app = router(
        open_stores(&[store.to_str().unwrap().to_string()], &opts)
            .await
            .unwrap(),
        &opts,
    );
    let (s, _, body) = call(&app, "GET", "/s.vzarr/grp/values/c/0", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(!String::from_utf8_lossy(&body).contains("values.bin"));
    // Metadata and inline chunks need no source.
    let (s, _, body) = call(&app, "GET", "/s.vzarr/grp/values/c/1", None).await;
    assert_eq!((s, body.as_slice()), (StatusCode::OK, &src[24..32]));
}
