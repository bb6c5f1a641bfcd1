//! `vzarr serve`: stores as a read-only HTTP Zarr v3 endpoint, so any Zarr reader
//! (zarr-python, zarr.js, GDAL, Neuroglancer, a browser) reads the original bytes.
//!
//! ```text
//! GET /<store>/                     HTML index: hierarchy, shapes, types, chunks, codecs, sources
//! GET /<store>/<node>/zarr.json     the node's zarr.json, as written by `vzarr create`
//! GET /<store>/<array>/c/i/j        the chunk: inline bytes, or a ranged read of its source
//!                                   (404 when missing: the reader uses the fill value)
//! GET /                             the list of stores
//! ```
//!
//! Each store is a [`VirtualStore`]; keys are validated by [`crate::zarr::Key::parse`] (no
//! `..`, no empty or absolute segments) before anything is looked up, and sources are read only
//! if they are in the store's sources table and, with [`ServeOptions::allow_sources`], under one
//! of the allowed prefixes. `Range` requests on chunk keys are honoured (one range; several
//! ranges get the whole value, as RFC 9110 allows). Error bodies name the key and the kind of
//! failure, never a source path; the details go to the request log (`tracing`).

mod index;

pub use index::url_path;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use zarrs_storage::byte_range::ByteRange;

use crate::reader::{OpenOptions, ReadError, VirtualStore};
use crate::store::manifest::Entry;
use crate::zarr::{Key, KeyError};

/// Options of the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Source URL prefixes chunks may be read from. Empty: any source in a store's own
    /// sources table (what `vzarr create` recorded), and nothing else.
    pub allow_sources: Vec<String>,
    /// Requests handled at once; more wait their turn.
    pub max_concurrent_requests: usize,
    /// `Cache-Control: max-age` of metadata and chunk responses, in seconds.
    pub max_age: u32,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            allow_sources: Vec::new(),
            max_concurrent_requests: 256,
            max_age: 300,
        }
    }
}

/// Errors setting up the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A store could not be opened.
    #[error("{store}: {source}")]
    Open {
        /// The store as given.
        store: String,
        /// Why.
        #[source]
        source: ReadError,
    },
    /// Two stores would be served under the same name.
    #[error("two stores are named {0:?} (the last component of their location); serve them from separate runs")]
    DuplicateName(String),
    /// A store location gives no usable name.
    #[error("{0}: cannot derive a URL path name from the store location")]
    BadName(String),
}

/// One served store.
#[derive(Debug)]
pub(crate) struct Served {
    pub(crate) name: String,
    pub(crate) store: Arc<VirtualStore>,
    /// The rendered index page, made on first request.
    pub(crate) index: tokio::sync::OnceCell<String>,
}

#[derive(Debug)]
struct App {
    stores: BTreeMap<String, Arc<Served>>,
    opts: ServeOptions,
}

/// Open each store for serving; each is served under the last component of its location
/// (`/data/granule.vzarr` → `/granule.vzarr/`).
///
/// # Errors
/// [`ServeError`] if a store cannot be opened or two stores share a name.
pub async fn open_stores(
    locations: &[String],
    opts: &ServeOptions,
) -> Result<Vec<(String, Arc<VirtualStore>)>, ServeError> {
    let open = OpenOptions {
        allow_prefixes: opts.allow_sources.clone(),
        refuse_on_read: true,
    };
    let mut out: Vec<(String, Arc<VirtualStore>)> = Vec::new();
    for loc in locations {
        let store = VirtualStore::open(loc, &open)
            .await
            .map_err(|source| ServeError::Open {
                store: loc.clone(),
                source,
            })?;
        let name = store_name(store.location().url.path()).ok_or_else(|| ServeError::BadName(loc.clone()))?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(ServeError::DuplicateName(name));
        }
        out.push((name, Arc::new(store)));
    }
    Ok(out)
}

/// The URL path name of a store: the last non-empty segment of its location, if it is a
/// plain name (no `%`, no control characters).
fn store_name(path: &str) -> Option<String> {
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    let name = percent_encoding::percent_decode_str(last).decode_utf8().ok()?;
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| !c.is_control() && c != '/' && c != '\\' && c != '%');
    ok.then(|| name.into_owned())
}

/// The HTTP application serving `stores` (from [`open_stores`]).
pub fn router(stores: Vec<(String, Arc<VirtualStore>)>, opts: &ServeOptions) -> Router {
    let app = Arc::new(App {
        stores: stores
            .into_iter()
            .map(|(name, store)| {
                let s = Served {
                    name: name.clone(),
                    store,
                    index: tokio::sync::OnceCell::new(),
                };
                (name, Arc::new(s))
            })
            .collect(),
        opts: opts.clone(),
    });
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers([header::RANGE, header::IF_NONE_MATCH, header::IF_MATCH])
        .expose_headers([
            header::CONTENT_LENGTH,
            header::CONTENT_RANGE,
            header::ETAG,
            header::ACCEPT_RANGES,
        ])
        .max_age(Duration::from_secs(3600));
    Router::new()
        .route("/", get(root_index))
        .route("/{store}", get(redirect_to_index))
        .route("/{store}/", get(store_index))
        .route("/{store}/{*key}", get(value).head(value))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .with_state(app)
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            opts.max_concurrent_requests.max(1),
        ))
        .layer(cors)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
}

/// Serve `app` on `listener` until `shutdown` completes; requests in flight are finished.
///
/// # Errors
/// I/O errors of the listener.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn error(status: StatusCode, msg: &str) -> Response {
    let mut r = (status, format!("{msg}\n")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn root_index(State(app): State<Arc<App>>) -> Response {
    let names: Vec<&str> = app.stores.keys().map(String::as_str).collect();
    no_cache(Html(index::root_page(&names)).into_response())
}

async fn redirect_to_index(State(app): State<Arc<App>>, Path(store): Path<String>) -> Response {
    if !app.stores.contains_key(&store) {
        return error(StatusCode::NOT_FOUND, "no such store");
    }
    Redirect::permanent(&format!("{}/", index::url_path(&store))).into_response()
}

async fn store_index(State(app): State<Arc<App>>, Path(store): Path<String>) -> Response {
    let Some(served) = app.stores.get(&store).cloned() else {
        return error(StatusCode::NOT_FOUND, "no such store");
    };
    let page = served
        .index
        .get_or_try_init(|| async {
            let root = match served.store.metadata("").await {
                Ok(r) => r.unwrap_or_default(),
                Err(e) => return Err(read_error(&store, "", &e)),
            };
            let s = served.clone();
            // Counting every array's chunk references decodes the manifest: off the executor.
            match tokio::task::spawn_blocking(move || index::store_page(&s, &root)).await {
                Ok(Ok(p)) => Ok(p),
                Ok(Err(e)) => Err(read_error(&store, "", &e)),
                Err(_) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")),
            }
        })
        .await;
    match page {
        Ok(p) => no_cache(Html(p.clone()).into_response()),
        Err(r) => r,
    }
}

fn no_cache(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// A value found for a key: its bytes (or how to read them) and its validator.
enum Found {
    Bytes(Bytes, &'static str),
    Virtual { source: Arc<str>, offset: u64, len: u64 },
}

async fn value(
    State(app): State<Arc<App>>,
    method: Method,
    headers: HeaderMap,
    Path((store, key)): Path<(String, String)>,
) -> Response {
    let Some(served) = app.stores.get(&store).cloned() else {
        return error(StatusCode::NOT_FOUND, "no such store");
    };
    let vs = &served.store;
    if key.len() > 4096 {
        return error(StatusCode::BAD_REQUEST, "key too long");
    }
    let parsed = match vs.parse_key(&key) {
        Ok(k) => k,
        Err(e) => return key_error(&e),
    };
    let (found, etag) = match &parsed {
        Key::Metadata(node) => match vs.metadata(node).await {
            Ok(Some(b)) => {
                let etag = format!("\"m{:016x}\"", fnv1a(&[&b]));
                (Found::Bytes(b, "application/json"), etag)
            }
            Ok(None) => return error(StatusCode::NOT_FOUND, "no such node"),
            Err(e) => return read_error(&store, &key, &e),
        },
        Key::Chunk(ck) => {
            let entries = {
                let s = vs.clone();
                let array = ck.array.clone();
                // Decoding an array's manifest rows is CPU work: off the async executor.
                match tokio::task::spawn_blocking(move || s.array_entries(&array)).await {
                    Ok(Ok(e)) => e,
                    Ok(Err(e)) => return read_error(&store, &key, &e),
                    Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
                }
            };
            let canonical = Key::Chunk(ck.clone()).to_string();
            match entries.get(&canonical) {
                None => return error(StatusCode::NOT_FOUND, "chunk not stored (reads as the fill value)"),
                Some(Entry::Inline(b)) => {
                    let etag = format!("\"i{:016x}\"", fnv1a(&[b]));
                    (Found::Bytes(b.clone(), "application/octet-stream"), etag)
                }
                Some(Entry::Virtual { source, offset, length }) => {
                    let id = vs.source_entry(source).map(|e| {
                        format!(
                            "{}|{}|{}",
                            e.etag.as_deref().unwrap_or(""),
                            e.last_modified.as_deref().unwrap_or(""),
                            e.size.unwrap_or(0)
                        )
                    });
                    let etag = format!(
                        "\"v{:016x}\"",
                        fnv1a(&[
                            source.as_bytes(),
                            id.unwrap_or_default().as_bytes(),
                            &offset.to_le_bytes(),
                            &length.to_le_bytes()
                        ])
                    );
                    let found = Found::Virtual {
                        source: source.clone(),
                        offset: *offset,
                        len: *length,
                    };
                    (found, etag)
                }
            }
        }
    };
    let len = match &found {
        Found::Bytes(b, _) => b.len() as u64,
        Found::Virtual { len, .. } => *len,
    };
    let content_type = match &found {
        Found::Bytes(_, ct) => *ct,
        Found::Virtual { .. } => "application/octet-stream",
    };
    let mut h = HeaderMap::new();
    h.insert(header::ETAG, header_value(&etag));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        header_value(&format!("public, max-age={}", app.opts.max_age)),
    );
    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        if inm.split(',').any(|t| t.trim() == etag || t.trim() == "*") {
            return (StatusCode::NOT_MODIFIED, h).into_response();
        }
    }
    // One satisfiable range → 206; several → the whole value (200); none satisfiable → 416.
    let mut range = None;
    if let Some(r) = headers.get(header::RANGE) {
        let unsatisfiable = || {
            let mut h416 = h.clone();
            h416.insert(header::CONTENT_RANGE, header_value(&format!("bytes */{len}")));
            let mut r = error(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            r.headers_mut().extend(h416);
            r
        };
        let Ok(text) = r.to_str() else { return unsatisfiable() };
        // Ranges in other units are ignored (RFC 9110 §14.2); malformed or unsatisfiable byte
        // ranges are answered 416 with the value's length.
        if text.trim_start().starts_with("bytes=") {
            match http_range_header::parse_range_header(text).and_then(|p| p.validate(len)) {
                Ok(v) if v.len() == 1 => range = Some(v[0].clone()),
                Ok(_) => {}
                Err(_) => return unsatisfiable(),
            }
        }
    }
    let (status, start, n) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, *r.start(), r.end() - r.start() + 1),
        None => (StatusCode::OK, 0, len),
    };
    if let Some(r) = &range {
        h.insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {}-{}/{len}", r.start(), r.end())),
        );
    }
    h.insert(header::CONTENT_LENGTH, header_value(&n.to_string()));
    if method == Method::HEAD {
        return (status, h).into_response();
    }
    let body = match found {
        Found::Bytes(b, _) => b.slice(usize::try_from(start).unwrap_or(0)..usize::try_from(start + n).unwrap_or(0)),
        Found::Virtual { source, offset, len } => {
            let canonical = parsed.to_string();
            let range = [ByteRange::FromStart(start, Some(n))];
            match vs.virtual_ranges(&canonical, &source, offset, len, &range).await {
                Ok(mut v) => v.pop().unwrap_or_default(),
                Err(e) => return read_error(&store, &key, &e),
            }
        }
    };
    if body.len() as u64 != n {
        return error(StatusCode::BAD_GATEWAY, "source returned a wrong length");
    }
    (status, h, Body::from(body)).into_response()
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// Key errors: malformed keys are the client's fault (400); well-formed keys of nothing
/// are 404 (readers probe for `.zarray`, `zarr.json` of absent nodes and so on).
fn key_error(e: &KeyError) -> Response {
    if e.reason == crate::zarr::key::UNKNOWN_KEY {
        error(StatusCode::NOT_FOUND, "no such key")
    } else {
        error(StatusCode::BAD_REQUEST, &format!("invalid key: {}", e.reason))
    }
}

/// Map a read failure to a status, logging the details (which may name source paths) and
/// answering with the kind of failure only.
fn read_error(store: &str, key: &str, e: &ReadError) -> Response {
    let (status, msg) = match e {
        ReadError::InvalidRange { .. } => (StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable"),
        ReadError::NotAllowed { .. } => (
            StatusCode::FORBIDDEN,
            "the chunk's source is not under an allowed prefix",
        ),
        ReadError::SourceModified { .. } => (
            StatusCode::BAD_GATEWAY,
            "the chunk's source changed since the store was created",
        ),
        ReadError::UnknownSource(_) => (
            StatusCode::BAD_GATEWAY,
            "the manifest names a source the store does not list",
        ),
        ReadError::ShortRead { .. } => (StatusCode::BAD_GATEWAY, "the chunk's source returned a wrong length"),
        ReadError::Source { .. } | ReadError::Resolve(_) => {
            (StatusCode::BAD_GATEWAY, "the chunk's source cannot be read")
        }
        ReadError::Key(k) => return key_error(k),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "the store cannot be read"),
    };
    tracing::warn!(store, key, status = status.as_u16(), error = %e, "request failed");
    error(status, msg)
}

/// FNV-1a (64-bit) over several byte strings: a stable validator for ETags.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_names_are_plain_last_segments() {
        assert_eq!(store_name("/data/granule.vzarr/").as_deref(), Some("granule.vzarr"));
        assert_eq!(store_name("/data/a%20b/").as_deref(), Some("a b"));
        assert_eq!(store_name("/").as_deref(), None);
        assert_eq!(store_name("/x/%2F/").as_deref(), None);
        assert_eq!(store_name("/x/%zz/").as_deref(), None);
    }

    #[test]
    fn etag_hash_separates_parts() {
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
        assert_eq!(fnv1a(&[b"abc"]), fnv1a(&[b"abc"]));
    }
}
