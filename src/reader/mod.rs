//! Reading a vzarr store: [`VirtualStore`] resolves Zarr keys through the manifest to
//! ranged reads of the sources, and implements the zarrs storage traits (async, and sync
//! through [`SyncVirtualStore`]).
//!
//! ```text
//! key "g/x/c/3/0" ─ zarr::Key::parse ─ manifest entry ─┬─ Inline(bytes)
//!                                                      ├─ absent → None (fill value)
//!                                                      └─ Virtual{url, off, len}
//!        resolve url (store-relative or absolute, allow-listed) → object_store
//!        GET range [off, off+len) with If-Match: <etag> → length checked → bytes
//! ```

mod fetch;
mod sync;
mod zarrs_traits;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use url::Url;

pub use fetch::map_range;
pub use sync::SyncVirtualStore;

use crate::store::manifest::{Entry, Manifest};
use crate::store::{format::INFO_FILE, SourceEntry, StoreError, StoreInfo, StoreLocation};
use crate::zarr::{ChunkKey, Key, KeyError};

/// Errors reading through a [`VirtualStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The store's own files are missing or invalid.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Not a vzarr store.
    #[error("{0}: not a vzarr store (no vzarr.json)")]
    NotAStore(String),
    /// An invalid key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A source changed since the store was created (precondition failed or size differs).
    #[error("source changed since the store was created: {url} ({detail}); re-run `vzarr create`")]
    SourceModified {
        /// The source.
        url: String,
        /// What differs.
        detail: String,
    },
    /// A source URL is outside the allowed prefixes.
    #[error("source {url} is not under an allowed prefix (allowed: {allowed}); allow it explicitly")]
    NotAllowed {
        /// The source.
        url: String,
        /// The allowed prefixes.
        allowed: String,
    },
    /// The store's manifest names a source that is not in its sources table.
    #[error("manifest references unknown source {0}")]
    UnknownSource(String),
    /// A source returned fewer or more bytes than requested.
    #[error("{url}: asked for {expected} bytes at offset {offset}, got {got}")]
    ShortRead {
        /// The source.
        url: String,
        /// Offset.
        offset: u64,
        /// Requested length.
        expected: u64,
        /// Received length.
        got: u64,
    },
    /// A requested byte range lies outside the chunk.
    #[error("byte range {range} is outside {key} ({len} bytes)")]
    InvalidRange {
        /// The key.
        key: String,
        /// The range as requested.
        range: String,
        /// The value's length.
        len: u64,
    },
    /// Object store failure reaching a source.
    #[error("{url}: {source}")]
    Source {
        /// The source.
        url: String,
        /// Underlying error.
        #[source]
        source: object_store::Error,
    },
    /// Resolving a source URL failed.
    #[error(transparent)]
    Resolve(#[from] crate::source::SourceError),
}

#[derive(Debug)]
pub(crate) struct ResolvedSource {
    url: String,
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    entry: SourceEntry,
    relative: bool,
    /// Set when the source is outside the caller's allow-list and the store was opened with
    /// [`OpenOptions::refuse_on_read`]: reading any chunk of it fails with this error.
    denied: Option<String>,
}

/// The result of checking one source against the store's record ([`VirtualStore::check_sources`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCheck {
    /// The source, absolute.
    pub url: String,
    /// `None` if it is as recorded; otherwise what differs or why it cannot be checked.
    pub problem: Option<String>,
}

/// What differs between a recorded source and its current state, if anything.
fn source_difference(rec: &SourceEntry, now: &crate::model::Source, relative: bool) -> Option<String> {
    if let (Some(a), Some(b)) = (rec.size, now.size) {
        if a != b {
            return Some(format!("size is {b} bytes, was {a}"));
        }
    }
    if relative {
        return None;
    }
    match (&rec.etag, &now.etag) {
        (Some(a), Some(b)) if a != b => return Some(format!("ETag is {b}, was {a}")),
        (Some(_), _) => return None,
        _ => {}
    }
    match (&rec.last_modified, &now.last_modified) {
        (Some(a), Some(b)) if a != b => Some(format!("last modified {b}, was {a}")),
        _ => None,
    }
}

/// Options for opening a store.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// If not empty, sources are read only from under these URL prefixes (in any case only
    /// sources listed in the store's sources table are read).
    pub allow_prefixes: Vec<String>,
    /// With an allow-list: open the store even if some sources lie outside it, and refuse
    /// only the reads of their chunks ([`ReadError::NotAllowed`]) — what a server wants, so
    /// one bad source does not take down the store's other arrays. Off: opening fails.
    pub refuse_on_read: bool,
}

/// A read-only view of a vzarr store as a plain Zarr v3 store.
pub struct VirtualStore {
    location: StoreLocation,
    info: StoreInfo,
    /// Node path → its zarr.json bytes (read on first use).
    metadata: Mutex<HashMap<String, Bytes>>,
    /// Node paths and whether each is an array.
    nodes: HashMap<String, bool>,
    manifest: Manifest,
    entries: Mutex<HashMap<String, Arc<HashMap<String, Entry>>>>,
    sources: HashMap<String, Arc<ResolvedSource>>,
    prefetched: Mutex<HashMap<String, Bytes>>,
    stats: fetch::Stats,
}

impl std::fmt::Debug for VirtualStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualStore")
            .field("location", &self.location.url.as_str())
            .field("nodes", &self.nodes.len())
            .field("sources", &self.sources.len())
            .finish_non_exhaustive()
    }
}

impl VirtualStore {
    /// Open the store at a local path or URL.
    ///
    /// # Errors
    /// [`ReadError`] if the store is missing, of a newer format, or malformed.
    pub async fn open(location: &str, opts: &OpenOptions) -> Result<Self, ReadError> {
        crate::zarr::ext::register();
        let location = StoreLocation::parse(location)?;
        let info_bytes = location
            .read(INFO_FILE)
            .await?
            .ok_or_else(|| ReadError::NotAStore(location.display("")))?;
        let info = StoreInfo::parse(&location.display(INFO_FILE), &info_bytes)?;
        let root = location
            .read("zarr.json")
            .await?
            .ok_or_else(|| StoreError::InvalidStore {
                path: location.display("zarr.json"),
                reason: "missing".into(),
            })?;
        let nodes = node_kinds(&location.display("zarr.json"), &root)?;
        let mut metadata = HashMap::new();
        metadata.insert(String::new(), root);
        let mut manifests = Vec::new();
        for m in &info.manifests {
            let bytes = location.read(m).await?.ok_or_else(|| StoreError::InvalidStore {
                path: location.display(m),
                reason: "manifest listed in vzarr.json is missing".into(),
            })?;
            manifests.push(Manifest::open(&location.display(m), bytes)?);
        }
        let manifest = match manifests.len() {
            1 => manifests.remove(0),
            n => {
                return Err(StoreError::InvalidStore {
                    path: location.display(INFO_FILE),
                    reason: format!("{n} manifests listed; this version reads exactly one"),
                }
                .into())
            }
        };
        let mut sources = HashMap::new();
        for s in &info.sources {
            let (url, relative) = absolute_source_url(&location.url, &s.url)?;
            let denied = match check_allowed(&url, &opts.allow_prefixes) {
                Ok(()) => None,
                Err(ReadError::NotAllowed { allowed, .. }) if opts.refuse_on_read => Some(allowed),
                Err(e) => return Err(e),
            };
            let (store, path) = crate::source::resolve(&url)?;
            sources.insert(
                s.url.clone(),
                Arc::new(ResolvedSource {
                    url: url.to_string(),
                    store,
                    path,
                    entry: s.clone(),
                    relative,
                    denied,
                }),
            );
        }
        Ok(Self {
            location,
            info,
            metadata: Mutex::new(metadata),
            nodes,
            manifest,
            entries: Mutex::default(),
            sources,
            prefetched: Mutex::default(),
            stats: fetch::Stats::default(),
        })
    }

    /// Where the store lives.
    #[must_use]
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// The store's `vzarr.json`.
    #[must_use]
    pub fn info(&self) -> &StoreInfo {
        &self.info
    }

    /// Paths of all arrays, sorted.
    #[must_use]
    pub fn arrays(&self) -> Vec<String> {
        let mut v: Vec<String> = self.nodes.iter().filter(|(_, a)| **a).map(|(p, _)| p.clone()).collect();
        v.sort();
        v
    }

    /// Paths of all nodes (groups and arrays), sorted.
    #[must_use]
    pub fn nodes(&self) -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = self.nodes.iter().map(|(p, a)| (p.clone(), *a)).collect();
        v.sort();
        v
    }

    /// Number of requests and bytes read from sources so far.
    #[must_use]
    pub fn source_requests(&self) -> (u64, u64) {
        self.stats.get()
    }

    /// Parse a store key against this store's arrays.
    ///
    /// # Errors
    /// [`KeyError`] for invalid keys.
    pub fn parse_key(&self, key: &str) -> Result<Key, KeyError> {
        Key::parse(key, |p| self.nodes.get(p) == Some(&true))
    }

    /// The manifest rows of one array (decoded once, then cached, together with those of the
    /// arrays that share its row groups).
    ///
    /// # Errors
    /// [`ReadError::Store`] if the manifest cannot be decoded.
    pub fn array_entries(&self, array: &str) -> Result<Arc<HashMap<String, Entry>>, ReadError> {
        if let Some(e) = lock(&self.entries).get(array) {
            return Ok(e.clone());
        }
        let mut around = self.manifest.entries_around(array)?;
        let e = Arc::new(around.remove(array).unwrap_or_default());
        let mut cache = lock(&self.entries);
        for (name, rows) in around {
            cache.entry(name).or_insert_with(|| Arc::new(rows));
        }
        cache.insert(array.to_string(), e.clone());
        Ok(e)
    }

    /// Read a node's `zarr.json`, `None` if there is no such node.
    ///
    /// # Errors
    /// [`ReadError`] on storage failure.
    pub async fn metadata(&self, node: &str) -> Result<Option<Bytes>, ReadError> {
        if !self.nodes.contains_key(node) {
            return Ok(None);
        }
        if let Some(b) = lock(&self.metadata).get(node) {
            return Ok(Some(b.clone()));
        }
        let name = format!("{node}/zarr.json");
        let b = self.location.read(&name).await?;
        if let Some(b) = &b {
            lock(&self.metadata).insert(node.to_string(), b.clone());
        }
        Ok(b)
    }

    /// The encoded bytes of a chunk, `None` when missing (reads as the fill value).
    ///
    /// # Errors
    /// [`ReadError`] if the source changed, is unreachable, or returns a wrong length.
    pub async fn chunk(&self, key: &ChunkKey) -> Result<Option<Bytes>, ReadError> {
        let k = Key::Chunk(key.clone()).to_string();
        if let Some(b) = lock(&self.prefetched).remove(&k) {
            return Ok(Some(b));
        }
        let entries = self.array_entries(&key.array)?;
        match entries.get(&k) {
            None => Ok(None),
            Some(Entry::Inline(b)) => Ok(Some(b.clone())),
            Some(Entry::Virtual { source, offset, length }) => {
                let src = self.source(source)?;
                fetch::fetch_ranges(&src, std::slice::from_ref(&(*offset..offset + length)), &self.stats)
                    .await
                    .map(|mut v| v.pop())
            }
        }
    }

    /// Fetch many chunks at once, merging nearby byte ranges of the same source into few
    /// requests; later [`VirtualStore::chunk`] calls for these keys are served from memory.
    ///
    /// # Errors
    /// [`ReadError`] as for [`VirtualStore::chunk`].
    pub async fn prefetch(&self, keys: &[ChunkKey]) -> Result<(), ReadError> {
        let mut by_source: HashMap<Arc<str>, Vec<(String, std::ops::Range<u64>)>> = HashMap::new();
        for key in keys {
            let entries = self.array_entries(&key.array)?;
            let k = Key::Chunk(key.clone()).to_string();
            if let Some(Entry::Virtual { source, offset, length }) = entries.get(&k) {
                by_source
                    .entry(source.clone())
                    .or_default()
                    .push((k, *offset..offset + length));
            }
        }
        for (source, items) in by_source {
            let src = self.source(&source)?;
            let ranges: Vec<_> = items.iter().map(|(_, r)| r.clone()).collect();
            let got = fetch::fetch_ranges(&src, &ranges, &self.stats).await?;
            let mut p = lock(&self.prefetched);
            for ((k, _), b) in items.into_iter().zip(got) {
                p.insert(k, b);
            }
        }
        Ok(())
    }

    fn source(&self, url: &str) -> Result<Arc<ResolvedSource>, ReadError> {
        let src = self
            .sources
            .get(url)
            .cloned()
            .ok_or_else(|| ReadError::UnknownSource(url.to_string()))?;
        if let Some(allowed) = &src.denied {
            return Err(ReadError::NotAllowed {
                url: src.url.clone(),
                allowed: allowed.clone(),
            });
        }
        Ok(src)
    }

    /// Compare every source with what `vzarr create` recorded (one HEAD request each): size,
    /// and for absolute sources the ETag (or, without one, the last-modified time). Relative
    /// sources move with the store, so only their size is compared (as on reads).
    pub async fn check_sources(&self) -> Vec<SourceCheck> {
        let mut out = Vec::with_capacity(self.info.sources.len());
        for s in &self.info.sources {
            let Some(r) = self.sources.get(&s.url) else { continue };
            let problem = match url::Url::parse(&r.url) {
                Err(e) => Some(format!("not a URL: {e}")),
                Ok(u) => match crate::source::stat(&u).await {
                    Err(e) => Some(format!("cannot be read: {e}")),
                    Ok(now) => source_difference(&r.entry, &now, r.relative),
                },
            };
            out.push(SourceCheck {
                url: r.url.clone(),
                problem,
            });
        }
        out
    }

    /// The recorded identity of a source (size, ETag, last-modified), by the URL the manifest
    /// uses for it.
    #[must_use]
    pub fn source_entry(&self, recorded_url: &str) -> Option<&SourceEntry> {
        self.sources.get(recorded_url).map(|r| &r.entry)
    }

    /// The whole store as a model [`VirtualDataset`](crate::model::VirtualDataset): the
    /// hierarchy from the consolidated root `zarr.json`, every array's chunk references from
    /// the manifest, and the sources with their URLs made absolute (a relative source is
    /// resolved against the store location). Exports start from this.
    ///
    /// # Errors
    /// [`ReadError::Store`] if a node's metadata is not what vzarr writes (naming the node and
    /// field), or the manifest names a chunk outside its array's grid.
    pub async fn dataset(&self) -> Result<crate::model::VirtualDataset, ReadError> {
        use crate::model::{ChunkRef, Group, Node, Source, SourceId, VirtualDataset};
        let invalid = |node: &str, reason: String| StoreError::InvalidStore {
            path: self.location.display(&Key::Metadata(node.to_string()).to_string()),
            reason,
        };
        let root_doc: serde_json::Value = {
            let b = self.metadata("").await?.unwrap_or_default();
            serde_json::from_slice(&b).map_err(|e| invalid("", e.to_string()))?
        };
        let mut sources = Vec::with_capacity(self.info.sources.len());
        let mut source_ids: HashMap<&str, SourceId> = HashMap::new();
        for (i, s) in self.info.sources.iter().enumerate() {
            let resolved = self.source(&s.url)?;
            source_ids.insert(s.url.as_str(), SourceId(u32::try_from(i).unwrap_or(u32::MAX)));
            sources.push(Source {
                url: resolved.url.clone(),
                size: s.size,
                etag: s.etag.clone(),
                last_modified: s.last_modified.clone(),
            });
        }
        let consolidated = root_doc
            .pointer("/consolidated_metadata/metadata")
            .and_then(serde_json::Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut docs: Vec<(String, serde_json::Value)> = vec![(String::new(), root_doc)];
        docs.extend(consolidated);
        // Parents before children: sort by depth, then path.
        docs.sort_by(|a, b| {
            (a.0.matches('/').count(), !a.0.is_empty(), &a.0).cmp(&(b.0.matches('/').count(), !b.0.is_empty(), &b.0))
        });
        let mut root = Group::default();
        for (path, doc) in docs {
            let node = if doc.get("node_type").and_then(serde_json::Value::as_str) == Some("array") {
                let mut a = crate::zarr::parse::array_from_metadata(&doc).map_err(|e| invalid(&path, e.to_string()))?;
                let grid = a.chunk_grid_shape();
                for (key, entry) in self.array_entries(&path)?.iter() {
                    let Ok(Key::Chunk(ck)) = self.parse_key(key) else {
                        return Err(
                            invalid(&path, format!("manifest key {key:?} is not a chunk key of the array")).into(),
                        );
                    };
                    if ck.coords.len() != grid.len() || ck.coords.iter().zip(&grid).any(|(c, n)| c >= n) {
                        return Err(invalid(&path, format!("manifest key {key:?} lies outside the chunk grid")).into());
                    }
                    let r = match entry {
                        Entry::Inline(b) => ChunkRef::Inline(b.clone()),
                        Entry::Virtual { source, offset, length } => ChunkRef::Virtual {
                            source: *source_ids
                                .get(&**source)
                                .ok_or_else(|| ReadError::UnknownSource(source.to_string()))?,
                            offset: *offset,
                            length: *length,
                        },
                    };
                    a.chunks.insert(ck.coords, r);
                }
                Node::Array(a)
            } else {
                Node::Group(Group {
                    attributes: crate::zarr::parse::attributes(&doc),
                    ..Default::default()
                })
            };
            if path.is_empty() {
                match node {
                    Node::Group(g) => root.attributes = g.attributes,
                    Node::Array(_) => {
                        return Err(invalid("", "a store whose root is an array cannot be exported".into()).into())
                    }
                }
                continue;
            }
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            let mut g = &mut root;
            for seg in parent.split('/').filter(|s| !s.is_empty()) {
                g = match g.children.get_mut(seg) {
                    Some(Node::Group(c)) => c,
                    _ => {
                        return Err(invalid(&path, "parent group missing from the consolidated metadata".into()).into())
                    }
                };
            }
            g.children.insert(name.to_string(), node);
        }
        Ok(VirtualDataset { sources, root })
    }

    /// Every key of the store: node `zarr.json`s and the chunk keys of stored chunks.
    ///
    /// # Errors
    /// [`ReadError`] if the manifest cannot be decoded.
    pub fn keys(&self) -> Result<Vec<String>, ReadError> {
        let mut keys = Vec::new();
        for (node, is_array) in &self.nodes {
            keys.push(Key::Metadata(node.clone()).to_string());
            if *is_array {
                keys.extend(self.array_entries(node)?.keys().cloned());
            }
        }
        keys.sort();
        Ok(keys)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Node paths and kinds from the consolidated root `zarr.json`.
fn node_kinds(path: &str, root: &[u8]) -> Result<HashMap<String, bool>, StoreError> {
    let bad = |reason: &str| StoreError::InvalidStore {
        path: path.into(),
        reason: reason.into(),
    };
    let v: serde_json::Value = serde_json::from_slice(root).map_err(|e| bad(&e.to_string()))?;
    let mut nodes = HashMap::new();
    nodes.insert(
        String::new(),
        v.get("node_type").and_then(|t| t.as_str()) == Some("array"),
    );
    if let Some(meta) = v.pointer("/consolidated_metadata/metadata").and_then(|m| m.as_object()) {
        for (p, m) in meta {
            let kind = m
                .get("node_type")
                .and_then(|t| t.as_str())
                .ok_or_else(|| bad("node without node_type"))?;
            nodes.insert(p.clone(), kind == "array");
        }
    } else if nodes[""] {
        // A single root array needs no consolidated metadata.
    } else {
        return Err(bad("root zarr.json has no consolidated metadata"));
    }
    Ok(nodes)
}

/// Resolve a recorded source URL: absolute as is, relative against the store location.
fn absolute_source_url(store: &Url, recorded: &str) -> Result<(Url, bool), ReadError> {
    if let Some(u) = crate::source::parse_url(recorded) {
        return Ok((u, false));
    }
    let u = store.join(recorded).map_err(|e| crate::source::SourceError::Path {
        path: recorded.into(),
        reason: format!("cannot resolve against {store}: {e}"),
    })?;
    Ok((u, true))
}

/// A source may be read only if it is in the store's sources table (the manifest cannot name
/// anything else: see [`ReadError::UnknownSource`]) and, when the caller gave an allow-list,
/// lies under one of its prefixes.
fn check_allowed(url: &Url, allow: &[String]) -> Result<(), ReadError> {
    if allow.is_empty() || allow.iter().any(|p| url.as_str().starts_with(p.as_str())) {
        return Ok(());
    }
    Err(ReadError::NotAllowed {
        url: url.to_string(),
        allowed: allow.join(", "),
    })
}
