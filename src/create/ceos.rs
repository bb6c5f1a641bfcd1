//! CEOS ALOS-2 inputs of `create` and `inspect`: a product directory (local, or an
//! object-store prefix ending in `/`) or one of its files (usually the `VOL-…` file). The
//! directory is listed once; the files are read by byte range through [`DirProduct`], and
//! [`crate::ceos::read`] maps the product.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

use super::{CreateError, CreateOptions, CreateReport, Format};
use crate::ceos::{CeosOptions, ProductFile, ProductReader};
use crate::io::{check_range, ReadError};
use crate::model::{Group, RefusalRecord, Source};
use crate::source::{self, SourceError};

/// File name prefixes of the CEOS files of an ALOS-2 product.
const PREFIXES: [&str; 4] = ["VOL-", "LED-", "IMG-", "TRL-"];

/// Whether `create` should read `url` as a CEOS product: `--format ceos`, or (auto) a local
/// directory, a remote URL ending in `/`, or a file named like an ALOS-2 CEOS file.
#[must_use]
pub fn is_ceos_input(url: &Url, format: Format) -> bool {
    match format {
        Format::Ceos => true,
        Format::Auto => {
            if url.scheme() == "file" {
                if url.to_file_path().is_ok_and(|p| p.is_dir()) {
                    return true;
                }
            } else if url.path().ends_with('/') {
                return true;
            }
            let base = url.path_segments().and_then(|mut s| s.next_back()).unwrap_or("");
            PREFIXES.iter().any(|p| base.starts_with(p))
        }
        _ => false,
    }
}

enum Location {
    Local(PathBuf),
    Remote(Arc<dyn ObjectStore>, ObjectPath),
}

/// The files of one product directory, local or remote. Remote reads carry the listed ETag as
/// an `If-Match` precondition; [`ProductReader::read_ranges`] sends its ranges concurrently.
pub struct DirProduct {
    files: Vec<ProductFile>,
    meta: Vec<Source>,
    locations: Vec<Location>,
    handle: tokio::runtime::Handle,
    requests: AtomicU64,
}

impl std::fmt::Debug for DirProduct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirProduct").field("files", &self.files.len()).finish()
    }
}

impl DirProduct {
    /// List the directory `dir` (a URL ending in `/`): one LIST request for remote stores.
    ///
    /// # Errors
    /// [`SourceError`] if the directory cannot be listed.
    pub async fn list(dir: &Url) -> Result<Self, SourceError> {
        let handle = tokio::runtime::Handle::current();
        let mut out = DirProduct {
            files: Vec::new(),
            meta: Vec::new(),
            locations: Vec::new(),
            handle,
            requests: AtomicU64::new(0),
        };
        let mut entries: Vec<(String, Source, Location)> = Vec::new();
        if dir.scheme() == "file" {
            let path = dir.to_file_path().map_err(|()| SourceError::Path {
                path: dir.to_string(),
                reason: "bad file URL".into(),
            })?;
            let io = |e: std::io::Error| SourceError::Path {
                path: path.display().to_string(),
                reason: e.to_string(),
            };
            for e in std::fs::read_dir(&path).map_err(io)? {
                let e = e.map_err(io)?;
                let md = e.metadata().map_err(io)?;
                if !md.is_file() {
                    continue;
                }
                let name = e.file_name().to_string_lossy().into_owned();
                let p = e.path();
                let url = Url::from_file_path(&p).map_err(|()| SourceError::Path {
                    path: p.display().to_string(),
                    reason: "cannot form a file URL".into(),
                })?;
                let last_modified = md
                    .modified()
                    .ok()
                    .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339());
                entries.push((
                    name,
                    Source {
                        url: url.to_string(),
                        size: Some(md.len()),
                        etag: None,
                        last_modified,
                    },
                    Location::Local(p),
                ));
            }
        } else {
            let (store, prefix) = source::resolve(dir)?;
            out.requests.fetch_add(1, Ordering::Relaxed);
            let listing = match store.list_with_delimiter(Some(&prefix)).await {
                Ok(l) => l.objects,
                // A plain HTTP server cannot list: take the names from summary.txt.
                Err(e) if matches!(dir.scheme(), "http" | "https") => {
                    Self::names_from_summary(&store, &prefix, &out.requests)
                        .await
                        .map_err(|_| SourceError::Access {
                            url: dir.to_string(),
                            source: e,
                        })?
                }
                Err(e) => {
                    return Err(SourceError::Access {
                        url: dir.to_string(),
                        source: e,
                    })
                }
            };
            for m in listing {
                let Some(name) = m.location.filename().map(str::to_string) else {
                    continue;
                };
                let url = dir.join(&name).map_err(|e| SourceError::Path {
                    path: name.clone(),
                    reason: e.to_string(),
                })?;
                entries.push((
                    name,
                    Source {
                        url: url.to_string(),
                        size: Some(m.size),
                        etag: m.e_tag.clone(),
                        last_modified: Some(m.last_modified.to_rfc3339()),
                    },
                    Location::Remote(store.clone(), m.location.clone()),
                ));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, meta, loc) in entries {
            out.files.push(ProductFile {
                name,
                size: meta.size.unwrap_or(0),
            });
            out.meta.push(meta);
            out.locations.push(loc);
        }
        Ok(out)
    }

    /// The product's files as `summary.txt` lists them (`Pdi_…ProductFileName…` entries, and
    /// `summary.txt` itself), each stat'ed with a HEAD request.
    async fn names_from_summary(
        store: &Arc<dyn ObjectStore>,
        prefix: &ObjectPath,
        requests: &AtomicU64,
    ) -> Result<Vec<object_store::ObjectMeta>, object_store::Error> {
        let summary = prefix.clone().join("summary.txt");
        requests.fetch_add(2, Ordering::Relaxed);
        let text = store.get_opts(&summary, Default::default()).await?.bytes().await?;
        let mut names = vec!["summary.txt".to_string()];
        for line in String::from_utf8_lossy(&text).lines() {
            if let Some((key, value)) = line.split_once('=') {
                let value = value.trim().trim_matches('"');
                if key.starts_with("Pdi_") && key.contains("ProductFileName") && !key.contains("CntOf") {
                    // Names only: nothing that could leave the directory.
                    if !value.is_empty() && !value.contains('/') && !value.contains("..") {
                        names.push(value.to_string());
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            requests.fetch_add(1, Ordering::Relaxed);
            out.push(store.head(&prefix.clone().join(n.as_str())).await?);
        }
        Ok(out)
    }

    fn fetch(&self, file: usize, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, ReadError> {
        let f = self
            .files
            .get(file)
            .ok_or_else(|| ReadError::Remote(format!("no file {file}")))?;
        for r in ranges {
            check_range(r.start, r.end.saturating_sub(r.start), f.size)?;
        }
        self.requests.fetch_add(ranges.len() as u64, Ordering::Relaxed);
        match &self.locations[file] {
            Location::Local(p) => {
                use std::os::unix::fs::FileExt;
                let io = |source| ReadError::Io {
                    path: p.clone(),
                    source,
                };
                let fh = std::fs::File::open(p).map_err(io)?;
                ranges
                    .iter()
                    .map(|r| {
                        let len = usize::try_from(r.end - r.start).map_err(|_| ReadError::OutOfBounds {
                            offset: r.start,
                            len: r.end - r.start,
                            size: f.size,
                        })?;
                        let mut buf = vec![0u8; len];
                        fh.read_exact_at(&mut buf, r.start).map_err(io)?;
                        Ok(Bytes::from(buf))
                    })
                    .collect()
            }
            Location::Remote(store, path) => {
                let etag = self.meta[file].etag.clone();
                let url = &self.meta[file].url;
                let gets = ranges.iter().map(|r| {
                    let opts = object_store::GetOptions {
                        range: Some(r.clone().into()),
                        if_match: etag.clone(),
                        ..Default::default()
                    };
                    async move { store.get_opts(path, opts).await?.bytes().await }
                });
                let out = self
                    .handle
                    .block_on(futures::future::try_join_all(gets))
                    .map_err(|e| ReadError::Remote(format!("{url}: {e}")))?;
                for (r, b) in ranges.iter().zip(&out) {
                    if b.len() as u64 != r.end - r.start {
                        return Err(ReadError::Remote(format!(
                            "{url}: short read at {}: asked {} bytes, got {}",
                            r.start,
                            r.end - r.start,
                            b.len()
                        )));
                    }
                }
                Ok(out)
            }
        }
    }
}

impl ProductReader for DirProduct {
    fn files(&self) -> &[ProductFile] {
        &self.files
    }

    fn read(&self, file: usize, offset: u64, len: u64) -> Result<Bytes, ReadError> {
        let end = offset.checked_add(len).ok_or(ReadError::OutOfBounds {
            offset,
            len,
            size: self.files.get(file).map_or(0, |f| f.size),
        })?;
        Ok(self
            .fetch(file, std::slice::from_ref(&(offset..end)))?
            .pop()
            .unwrap_or_default())
    }

    fn read_ranges(&self, file: usize, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, ReadError> {
        self.fetch(file, ranges)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// A CEOS input read: the mapped tree (chunk references use local source ids), the image
/// files those ids name, and the refusals and warnings.
#[derive(Debug)]
pub struct CeosInput {
    /// The product's tree.
    pub root: Group,
    /// `SourceId(i)` is `files[i]`.
    pub files: Vec<Source>,
    /// Refusals, warnings and request count.
    pub report: CreateReport,
}

/// Read a CEOS product given as a directory, a prefix or one of its files.
///
/// # Errors
/// [`CreateError::Parse`] when the input is not an ALOS-2 CEOS product (other missions are
/// refused by name) or the product cannot be used at all; [`CreateError::Source`] when the
/// directory cannot be listed.
pub async fn read_ceos_input(input: &str, url: &Url, opts: &CreateOptions) -> Result<CeosInput, CreateError> {
    let parse_err = |reason: String| CreateError::Parse {
        source_url: input.into(),
        reason,
    };
    let is_dir = if url.scheme() == "file" {
        url.to_file_path().is_ok_and(|p| p.is_dir())
    } else {
        url.path().ends_with('/')
    };
    let mut report = CreateReport::default();
    let (dir, named) = if is_dir {
        let mut d = url.clone();
        if !d.path().ends_with('/') {
            d.set_path(&format!("{}/", d.path()));
        }
        (d, None)
    } else {
        // A single file: it must be ALOS-2 CEOS; its directory is the product.
        let meta = source::stat(url).await?;
        let src = super::open_source(&meta, &tokio::runtime::Handle::current())?;
        let head = tokio::task::spawn_blocking(move || {
            let h = src.read_at(0, src.size().min(crate::ceos::records::HEADER_LEN as u64 + 720));
            (h, src.requests())
        })
        .await
        .map_err(|e| parse_err(format!("reader task failed: {e}")))?;
        report.source_requests += 1 + head.1;
        let head = head.0.map_err(|e| parse_err(e.to_string()))?;
        match crate::ceos::sniff(&head) {
            None => {
                return Err(parse_err(
                    "not a CEOS file (no CEOS descriptor record header at byte 0)".into(),
                ))
            }
            Some(h) if !h.alos2 => {
                return Err(parse_err(format!(
                    "{}: not an ALOS-2 PALSAR-2 product, which is the only CEOS product vzarr reads",
                    h.describe()
                )))
            }
            Some(_) => {}
        }
        let name = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or("")
            .to_string();
        let dir = url.join("./").map_err(|e| parse_err(e.to_string()))?;
        (dir, Some(name))
    };
    let product = DirProduct::list(&dir).await?;
    // The volume directory: the file named, or the one whose product the named file belongs to.
    let volume_file = named.and_then(|n| {
        if n.starts_with("VOL-") {
            return Some(n);
        }
        product
            .files()
            .iter()
            .filter(|f| f.name.starts_with("VOL-"))
            .find(|f| n.contains(&f.name["VOL-".len()..]))
            .map(|f| f.name.clone())
    });
    let copts = CeosOptions {
        line_metadata: opts.line_metadata,
        records_per_chunk: opts.records_per_chunk,
        volume_file,
    };
    let product = Arc::new(product);
    let p = product.clone();
    let out = tokio::task::spawn_blocking(move || crate::ceos::read(p.as_ref(), &copts))
        .await
        .map_err(|e| parse_err(format!("parser task failed: {e}")))?;
    report.source_requests += product.requests();
    let out = out.map_err(|e| parse_err(e.to_string()))?;
    let rec = |r: crate::model::Refusal| RefusalRecord {
        source: input.into(),
        path: r.path,
        feature: r.feature,
        reason: r.reason,
    };
    report.refused.extend(out.refusals.into_iter().map(rec));
    report.warnings.extend(out.warnings.into_iter().map(rec));
    let files = out.sources.iter().map(|&i| product.meta[i].clone()).collect();
    Ok(CeosInput {
        root: out.root,
        files,
        report,
    })
}

/// Read a CEOS input and add it to `ds`: its image files become sources (relative to the store
/// with `--relative`), its tree the root (one input) or a group named after the input.
pub(super) async fn add_input(
    ds: &mut crate::model::VirtualDataset,
    report: &mut CreateReport,
    input: &str,
    url: &Url,
    opts: &CreateOptions,
    location: &crate::store::StoreLocation,
    n_inputs: usize,
) -> Result<(), CreateError> {
    let c = read_ceos_input(input, url, opts).await?;
    report.refused.extend(c.report.refused);
    report.warnings.extend(c.report.warnings);
    report.source_requests += c.report.source_requests;
    let mut root = c.root;
    let mut ids = Vec::with_capacity(c.files.len());
    for mut recorded in c.files {
        if opts.relative {
            let fu = Url::parse(&recorded.url).map_err(|e| CreateError::Usage(e.to_string()))?;
            recorded.url = location.url.make_relative(&fu).ok_or_else(|| {
                CreateError::Usage(format!("{}: cannot be expressed relative to {}", fu, location.url))
            })?;
        }
        let i = match ds.sources.iter().position(|s| s.url == recorded.url) {
            Some(i) => i,
            None => {
                ds.sources.push(recorded);
                ds.sources.len() - 1
            }
        };
        ids.push(crate::model::SourceId(
            u32::try_from(i).map_err(|_| CreateError::Usage("too many sources".into()))?,
        ));
    }
    super::remap_sources(&mut root, &ids);
    if n_inputs == 1 {
        ds.root = root;
    } else {
        let trimmed = url.as_str().trim_end_matches('/');
        let u = Url::parse(trimmed).unwrap_or_else(|_| url.clone());
        let n = super::group_name(&u, &ds.root.children);
        ds.root.children.insert(n, crate::model::Node::Group(root));
    }
    Ok(())
}
