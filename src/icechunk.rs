//! Icechunk export (feature `icechunk`): a new repository whose first commit on `main` holds
//! the store's `zarr.json` documents and every chunk as a virtual reference (inline chunks stay
//! inline). Each reference carries the source's recorded ETag (object stores) or last-modified
//! time (local files), so Icechunk refuses to read a source that changed since `vzarr create`.
//!
//! The repository's configuration declares one virtual chunk container per source location
//! (the directory of a local file, `s3://bucket/`, `https://host/`); readers authorize them
//! (`icechunk.containers_credentials`, `authorize_virtual_chunk_access`) before reading.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use icechunk::config::{HttpConfig, S3Options};
use icechunk::format::manifest::{Checksum, SecondsSinceEpoch, VirtualChunkLocation, VirtualChunkRef};
use icechunk::virtual_chunks::VirtualChunkContainer;
use icechunk::{ObjectStoreConfig, Repository, RepositoryConfig, Store};
use icechunk_types::ETag;
use tokio::sync::RwLock;
use url::Url;

use crate::interop::InteropError;
use crate::model::{ChunkRef, NodeRef, Source, VirtualDataset};
use crate::zarr::key::chunk_suffix;
use crate::zarr::metadata::{array_metadata, group_metadata};

fn fail(path: &str, reason: impl std::fmt::Display) -> InteropError {
    InteropError::Icechunk {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

/// The container prefix a source URL belongs to: its directory for `file://`, the bucket for
/// `s3://`, `gs://` and `az://`, the host for `http(s)://`.
fn container_prefix(url: &Url) -> String {
    match url.scheme() {
        "file" => {
            let mut u = url.clone();
            if let Ok(mut segs) = u.path_segments_mut() {
                segs.pop();
            }
            let s = u.to_string();
            if s.ends_with('/') {
                s
            } else {
                format!("{s}/")
            }
        }
        scheme => format!("{scheme}://{}/", url.host_str().unwrap_or("")),
    }
}

fn container(prefix: &str, url: &Url) -> Result<VirtualChunkContainer, String> {
    let store = match url.scheme() {
        "file" => ObjectStoreConfig::LocalFileSystem(
            url.to_file_path()
                .map_err(|()| format!("{url}: not a local path"))?
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default(),
        ),
        "s3" => {
            let mut o = S3Options::default();
            o.region = std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .ok();
            o.endpoint_url = std::env::var("AWS_ENDPOINT_URL").ok();
            o.allow_http = std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v == "true");
            o.force_path_style = o.endpoint_url.is_some();
            ObjectStoreConfig::S3(o)
        }
        "http" | "https" => ObjectStoreConfig::Http(HttpConfig::default()),
        s => return Err(format!("no Icechunk virtual chunk container for {s}:// sources")),
    };
    VirtualChunkContainer::new(prefix.to_string(), store)
}

/// The precondition Icechunk checks before reading a source. Object stores get the recorded
/// ETag. Local files get the last-modified time rounded up to the second: Icechunk strips the
/// quotes of an ETag before comparing it with object_store's quoted local ETag, so an ETag
/// check would fail on an unchanged file, and `if-unmodified-since` with the exact (sub-second)
/// time truncated down would too.
fn checksum(s: &Source, url: &Url) -> Option<Checksum> {
    if url.scheme() != "file" {
        if let Some(e) = &s.etag {
            return Some(Checksum::ETag(ETag(e.clone())));
        }
    }
    let t = chrono::DateTime::parse_from_rfc3339(s.last_modified.as_deref()?).ok()?;
    let secs = t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0);
    u32::try_from(secs)
        .ok()
        .map(|secs| Checksum::LastModified(SecondsSinceEpoch(secs)))
}

/// Write `ds` as a new Icechunk repository at `output` (a local directory). Returns the number
/// of chunk references written.
///
/// # Errors
/// [`InteropError::Icechunk`] if the repository cannot be created, a source has no container
/// type, or the commit fails.
pub async fn export(ds: &VirtualDataset, output: &str, overwrite: bool) -> Result<usize, InteropError> {
    let dir = match crate::source::parse_url(output) {
        Some(u) if u.scheme() == "file" => u.to_file_path().map_err(|()| fail(output, "not a local path"))?,
        Some(_) => {
            return Err(fail(
                output,
                "only local repositories are written (give a directory path)",
            ))
        }
        None => std::path::absolute(output).map_err(|e| fail(output, e))?,
    };
    let out = dir.display().to_string();
    if dir.exists() {
        if !overwrite {
            return Err(fail(&out, "already exists (use --overwrite to replace it)"));
        }
        std::fs::remove_dir_all(&dir).map_err(|e| fail(&out, e))?;
    }
    let urls: Vec<Url> = ds
        .sources
        .iter()
        .map(|s| Url::parse(&s.url).map_err(|e| fail(&out, format!("source {}: {e}", s.url))))
        .collect::<Result<_, _>>()?;
    let mut config = RepositoryConfig::default();
    let mut prefixes = BTreeSet::new();
    for u in &urls {
        let p = container_prefix(u);
        if prefixes.insert(p.clone()) {
            config
                .set_virtual_chunk_container(container(&p, u).map_err(|e| fail(&out, e))?)
                .map_err(|e| fail(&out, e))?;
        }
    }
    // Write into a temporary sibling and rename at the end: never a half-written repository.
    let tmp = dir.with_file_name(format!(
        ".{}.vzarr-tmp-{}",
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| fail(&out, e))?;
    let result = write_repo(ds, &tmp, config, &urls, &out).await;
    match result {
        Ok(n) => {
            std::fs::rename(&tmp, &dir).map_err(|e| fail(&out, e))?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

async fn write_repo(
    ds: &VirtualDataset,
    dir: &std::path::Path,
    config: RepositoryConfig,
    urls: &[Url],
    out: &str,
) -> Result<usize, InteropError> {
    let storage = icechunk::new_local_filesystem_storage(dir)
        .await
        .map_err(|e| fail(out, e))?;
    let repo = Repository::create(storage)
        .config(config)
        .execute()
        .await
        .map_err(|e| fail(out, e))?;
    let session = repo.writable_session("main").await.map_err(|e| fail(out, e))?;
    let session = Arc::new(RwLock::new(session));
    let store = Store::from_session(session.clone()).await;
    // Metadata documents first (parents before children: walk order), then chunks.
    let mut docs: Vec<(String, Bytes)> = Vec::new();
    let mut chunks: Vec<(String, ChunkRef)> = Vec::new();
    ds.root.walk(|path, node| {
        let key = if path.is_empty() {
            "zarr.json".to_string()
        } else {
            format!("{path}/zarr.json")
        };
        let doc = match node {
            NodeRef::Group(g) => group_metadata(&g.attributes),
            NodeRef::Array(a) => {
                for (coords, c) in &a.chunks {
                    if !matches!(c, ChunkRef::Missing) {
                        chunks.push((format!("{path}/{}", chunk_suffix(coords)), c.clone()));
                    }
                }
                array_metadata(a)
            }
        };
        docs.push((key, Bytes::from(serde_json::to_vec(&doc).unwrap_or_default())));
    });
    for (key, doc) in docs {
        store
            .set(&key, doc)
            .await
            .map_err(|e| fail(out, format!("{key}: {e}")))?;
    }
    let n = chunks.len();
    for (key, c) in chunks {
        match c {
            ChunkRef::Inline(b) => store.set(&key, b).await.map_err(|e| fail(out, format!("{key}: {e}")))?,
            ChunkRef::Virtual { source, offset, length } => {
                let i = source.0 as usize;
                let (Some(src), Some(url)) = (ds.sources.get(i), urls.get(i)) else {
                    return Err(fail(out, format!("{key}: unknown source {i}")));
                };
                let location =
                    VirtualChunkLocation::from_url(url.as_str()).map_err(|e| fail(out, format!("{key}: {e}")))?;
                let r = VirtualChunkRef {
                    location,
                    offset,
                    length,
                    checksum: checksum(src, url),
                };
                store
                    .set_virtual_ref(&key, r, true)
                    .await
                    .map_err(|e| fail(out, format!("{key}: {e}")))?;
            }
            ChunkRef::Missing => {}
        }
    }
    drop(store);
    let mut s = session.write().await;
    s.commit(format!(
        "vzarr {}: virtual references of {} sources",
        env!("CARGO_PKG_VERSION"),
        ds.sources.len()
    ))
    .execute()
    .await
    .map_err(|e| fail(out, e))?;
    Ok(n)
}
