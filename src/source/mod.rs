//! Source access: URLs and paths → object stores (local, `s3://`, `gs://`, `az://`,
//! `http(s)://`) through `object_store`, the sources' identity (size, ETag, last-modified),
//! and a synchronous [`ReadAt`] view for the sans-runtime parsers.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

use crate::io::{check_range, ReadAt, ReadError};
use crate::model::Source;

/// Errors resolving or reaching a source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The URL scheme is not supported.
    #[error("{url}: unsupported URL scheme {scheme:?} (use a local path, file://, s3://, gs://, az://, http:// or https://)")]
    UnsupportedScheme {
        /// The URL.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// Building the object store client failed.
    #[error("{url}: {source}")]
    Client {
        /// The URL.
        url: String,
        /// Underlying error.
        #[source]
        source: object_store::Error,
    },
    /// The source does not exist.
    #[error("{url}: no such file or object")]
    NotFound {
        /// The URL.
        url: String,
    },
    /// The source does not exist or cannot be read.
    #[error("{url}: {source}")]
    Access {
        /// The URL.
        url: String,
        /// Underlying error.
        #[source]
        source: object_store::Error,
    },
    /// A local path is invalid.
    #[error("{path}: {reason}")]
    Path {
        /// The path.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Parse `s` as a URL if it has a scheme we know; `None` for plain paths.
#[must_use]
pub fn parse_url(s: &str) -> Option<Url> {
    let url = Url::parse(s).ok()?;
    // A Windows drive letter or a bare word is not a URL scheme.
    (url.scheme().len() > 1).then_some(url)
}

/// A path or URL as an absolute URL (`file://` for local paths).
///
/// # Errors
/// [`SourceError::Path`] if a local path cannot be made absolute.
pub fn to_url(s: &str) -> Result<Url, SourceError> {
    if let Some(u) = parse_url(s) {
        return Ok(u);
    }
    let abs = std::path::absolute(Path::new(s)).map_err(|e| SourceError::Path {
        path: s.into(),
        reason: e.to_string(),
    })?;
    // `..` segments are not allowed in object-store paths: resolve them (through the file
    // system when the path exists, so symbolic links mean what they mean to the kernel).
    let abs = std::fs::canonicalize(&abs).unwrap_or_else(|_| {
        let mut out = std::path::PathBuf::new();
        for c in abs.components() {
            match c {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                std::path::Component::CurDir => {}
                c => out.push(c),
            }
        }
        out
    });
    Url::from_file_path(&abs).map_err(|()| SourceError::Path {
        path: s.into(),
        reason: "cannot form a file URL".into(),
    })
}

type StoreCache = Mutex<HashMap<String, Arc<dyn ObjectStore>>>;

fn cache() -> &'static StoreCache {
    static CACHE: std::sync::OnceLock<StoreCache> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Resolve a URL to an object store and the object's path in it. Clients are built once per
/// scheme and authority and configured from the environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`),
/// so `AWS_ENDPOINT=http://127.0.0.1:9000 AWS_ALLOW_HTTP=true` points `s3://` at an emulator.
///
/// # Errors
/// [`SourceError`] for unsupported schemes or client configuration errors.
pub fn resolve(url: &Url) -> Result<(Arc<dyn ObjectStore>, ObjectPath), SourceError> {
    let scheme = url.scheme();
    let client_key = format!("{scheme}://{}", url.authority());
    let path = match scheme {
        "file" => ObjectPath::from_url_path(url.path()),
        _ => ObjectPath::from_url_path(url.path()),
    }
    .map_err(|e| SourceError::Client {
        url: url.to_string(),
        source: e.into(),
    })?;
    let mut c = cache().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(s) = c.get(&client_key) {
        return Ok((s.clone(), path));
    }
    let client = |e| SourceError::Client {
        url: url.to_string(),
        source: e,
    };
    let origin = format!("{scheme}://{}", url.authority());
    let store: Arc<dyn ObjectStore> = match scheme {
        "file" => Arc::new(object_store::local::LocalFileSystem::new()),
        "s3" | "s3a" => Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_url(origin)
                .build()
                .map_err(client)?,
        ),
        "gs" => Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(origin)
                .build()
                .map_err(client)?,
        ),
        "az" | "azure" | "abfs" | "abfss" => Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(origin)
                .build()
                .map_err(client)?,
        ),
        "http" | "https" => Arc::new(
            object_store::http::HttpBuilder::new()
                .with_url(origin)
                .with_client_options(object_store::ClientOptions::new().with_allow_http(true))
                .build()
                .map_err(client)?,
        ),
        other => {
            return Err(SourceError::UnsupportedScheme {
                url: url.to_string(),
                scheme: other.into(),
            })
        }
    };
    c.insert(client_key, store.clone());
    Ok((store, path))
}

/// Look up a source's size, ETag and last-modified time (one HEAD request).
///
/// # Errors
/// [`SourceError::Access`] if it does not exist or cannot be reached.
pub async fn stat(url: &Url) -> Result<Source, SourceError> {
    let (store, path) = resolve(url)?;
    if url.scheme() == "file" {
        if let Ok(p) = url.to_file_path() {
            if p.is_dir() {
                return Err(SourceError::Path {
                    path: p.display().to_string(),
                    reason: "is a directory".into(),
                });
            }
        }
    }
    let meta = store.head(&path).await.map_err(|e| match e {
        object_store::Error::NotFound { .. } => SourceError::NotFound { url: url.to_string() },
        e => SourceError::Access {
            url: url.to_string(),
            source: e,
        },
    })?;
    Ok(Source {
        url: url.to_string(),
        size: Some(meta.size),
        etag: meta.e_tag,
        last_modified: Some(meta.last_modified.to_rfc3339()),
    })
}

/// A synchronous [`ReadAt`] over one object, for running a parser on a blocking thread
/// (`tokio::task::spawn_blocking`) while the object store runs on the caller's runtime.
/// Every read asks for exactly the range needed; wrap it in a [`crate::io::BlockCache`].
///
/// Reads are sent with the object's ETag as an `If-Match` precondition, so a source that
/// changes during parsing fails the parse instead of mixing versions.
pub struct ObjectReadAt {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    url: String,
    size: u64,
    etag: Option<String>,
    handle: tokio::runtime::Handle,
    requests: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for ObjectReadAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReadAt")
            .field("url", &self.url)
            .field("size", &self.size)
            .finish()
    }
}

impl ObjectReadAt {
    /// Prepare reads of the source `meta` (from [`stat`]); `handle` is the runtime that
    /// drives the object store. Must then be used outside that runtime's worker threads.
    ///
    /// # Errors
    /// [`SourceError`] if the URL cannot be resolved.
    pub fn new(meta: &Source, handle: tokio::runtime::Handle) -> Result<Self, SourceError> {
        let url = Url::parse(&meta.url).map_err(|e| SourceError::Path {
            path: meta.url.clone(),
            reason: e.to_string(),
        })?;
        let (store, path) = resolve(&url)?;
        Ok(Self {
            store,
            path,
            url: meta.url.clone(),
            size: meta.size.unwrap_or(0),
            etag: meta.etag.clone(),
            handle,
            requests: 0.into(),
        })
    }
}

impl ReadAt for ObjectReadAt {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: u64) -> Result<Bytes, ReadError> {
        check_range(offset, len, self.size)?;
        if len == 0 {
            return Ok(Bytes::new());
        }
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let opts = object_store::GetOptions {
            range: Some((offset..offset + len).into()),
            if_match: self.etag.clone(),
            ..Default::default()
        };
        let fut = async {
            let r = self.store.get_opts(&self.path, opts).await?;
            r.bytes().await
        };
        let bytes = self
            .handle
            .block_on(fut)
            .map_err(|e| ReadError::Remote(format!("{}: {}", self.url, crate::io::error_chain(&e))))?;
        if bytes.len() as u64 != len {
            return Err(ReadError::Remote(format!(
                "{}: short read at {offset}: asked {len} bytes, got {}",
                self.url,
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Concurrent ranged GETs (object_store's `coalesce_ranges`: up to 10 in flight), touching
    /// ranges merged into one request ([`RANGES_COALESCE_GAP`]).
    fn read_ranges(&self, ranges: &[(u64, u64)]) -> Result<Vec<Bytes>, ReadError> {
        let mut rs = Vec::with_capacity(ranges.len());
        for &(offset, len) in ranges {
            check_range(offset, len, self.size)?;
            rs.push(offset..offset + len);
        }
        let fetch = |r: std::ops::Range<u64>| {
            self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let opts = object_store::GetOptions {
                range: Some(r.clone().into()),
                if_match: self.etag.clone(),
                ..Default::default()
            };
            async move {
                let got = async { self.store.get_opts(&self.path, opts).await?.bytes().await }
                    .await
                    .map_err(|e| ReadError::Remote(format!("{}: {}", self.url, crate::io::error_chain(&e))))?;
                if got.len() as u64 != r.end - r.start {
                    return Err(ReadError::Remote(format!(
                        "{}: short read at {}: asked {} bytes, got {}",
                        self.url,
                        r.start,
                        r.end - r.start,
                        got.len()
                    )));
                }
                Ok(got)
            }
        };
        self.handle
            .block_on(object_store::coalesce_ranges(&rs, fetch, RANGES_COALESCE_GAP))
    }
}

/// Ranges of one [`ReadAt::read_ranges`] batch this close (bytes) are fetched as one GET: only
/// touching ones, since the caller decides which gaps are worth reading (the block cache joins
/// runs of missing blocks itself, weighing each gap against the reads beside it).
pub const RANGES_COALESCE_GAP: u64 = 0;
