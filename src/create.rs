//! `create`: sources → parsers → model → store. The library side of `vzarr create`.

use std::collections::BTreeMap;
use std::sync::Arc;

use url::Url;

use crate::io::{BlockCache, FileReadAt, ReadAt};
use crate::model::{ChunkRef, Group, Node, RefusalRecord, Source, SourceId, VirtualDataset};
use crate::source::{self, ObjectReadAt, SourceError};
use crate::store::{self, StoreError, StoreLocation, WriteOptions};

mod ceos;
pub use ceos::{is_ceos_input, read_ceos_input, CeosInput, DirProduct};

/// Input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Detect from the file's magic bytes.
    #[default]
    Auto,
    /// HDF5 / netCDF-4.
    Hdf5,
    /// An OPeNDAP DMR++ document describing an HDF5 / netCDF-4 file.
    Dmrpp,
    /// A CEOS ALOS-2 PALSAR-2 product: its directory (or prefix) or its `VOL-…` file.
    Ceos,
}

/// Options of [`create`].
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Input format.
    pub format: Format,
    /// Chunks of at most this many bytes are copied into the manifest (0: only compact data).
    pub inline_threshold: u64,
    /// Cut contiguous unfiltered datasets into virtual chunks of about this many bytes.
    pub split_contiguous: Option<u64>,
    /// Record sources relative to the store location.
    pub relative: bool,
    /// Replace an existing store.
    pub overwrite: bool,
    /// DMR++ input: the data file, overriding the document's root `dmrpp:href` (required when
    /// that is the `OPeNDAP_DMRpp_DATA_ACCESS_URL` template). A local path or URL.
    pub data_url: Option<String>,
    /// CEOS input: whether to read the per-line metadata of the image files.
    pub line_metadata: crate::ceos::LineMetadata,
    /// CEOS input: records per request when reading per-line metadata (`None`: about 16 MiB).
    pub records_per_chunk: Option<u64>,
    /// HDF5 input: read the datasets references cannot express through libhdf5 and store
    /// their values (`--materialize unsupported`; needs the `libhdf5` feature, local files).
    pub materialize: bool,
}

/// Largest DMR++ document read (the biggest real ones are a few MB).
const MAX_DMRPP_BYTES: u64 = 1 << 30;

/// What parsing one input produced.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The mapped hierarchy; chunk references use source ids local to this input.
    pub root: Group,
    /// The data files those ids name, for inputs that describe other files (DMR++);
    /// `None` when the input itself is source 0 (HDF5).
    pub data_files: Option<Vec<Url>>,
    /// With `data_files` `None`: the other files ids 1, 2, … name (HDF5 external storage
    /// and virtual dataset sources).
    pub other_files: Vec<Url>,
}

/// Errors that stop a whole `create` run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// A source could not be reached.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A source could not be parsed at all.
    #[error("{source_url}: {reason}")]
    Parse {
        /// The source.
        source_url: String,
        /// Why.
        reason: String,
    },
    /// Writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
}

/// What a `create` run produced.
#[derive(Debug, Clone, Default)]
pub struct CreateReport {
    /// Number of arrays written.
    pub arrays: usize,
    /// Virtual / inline chunk references written.
    pub virtual_chunks: u64,
    /// Inline chunks written.
    pub inline_chunks: u64,
    /// Objects left out, with reasons.
    pub refused: Vec<RefusalRecord>,
    /// Attributes or links skipped, with reasons.
    pub warnings: Vec<RefusalRecord>,
    /// netCDF-4 dimension-only datasets (HDF5 input): dimensions, not variables, so not
    /// arrays; their names are on the axes of the arrays that use them.
    pub dimension_only: Vec<RefusalRecord>,
    /// Datasets that could not be referenced and were materialized through libhdf5
    /// ([`CreateOptions::materialize`]), with the reason they could not be referenced.
    pub materialized: Vec<RefusalRecord>,
    /// Requests sent to the sources while parsing.
    pub source_requests: u64,
}

/// Block size of the cache in front of a local file: B-tree nodes and object headers are a few
/// KiB each and scattered over large files, so bigger blocks mostly copy bytes never used.
pub const LOCAL_BLOCK: u64 = 16 * 1024;
/// Block size of the cache in front of a remote source: small, so the bytes fetched stay
/// close to the metadata read (object headers and heaps are often a few hundred bytes).
const REMOTE_BLOCK: u64 = 2 * 1024;
/// Bytes a discovery pass fetches from where a read it misses starts, so a header whose
/// length its first bytes give usually arrives whole in one round trip.
const REMOTE_READAHEAD: u64 = 2 * 1024;
/// Most discovery passes before a remote parse (each is one concurrent batch of reads).
const REMOTE_WARM_PASSES: usize = 32;

/// Open a source for parsing: local files directly, remote objects through a block cache.
///
/// # Errors
/// [`SourceError`] if the source cannot be opened.
pub fn open_source(meta: &Source, handle: &tokio::runtime::Handle) -> Result<Arc<dyn ReadAt>, SourceError> {
    let url = Url::parse(&meta.url).map_err(|e| SourceError::Path {
        path: meta.url.clone(),
        reason: e.to_string(),
    })?;
    if url.scheme() == "file" {
        let path = url.to_file_path().map_err(|()| SourceError::Path {
            path: meta.url.clone(),
            reason: "bad file URL".into(),
        })?;
        let f = FileReadAt::open(&path).map_err(|e| SourceError::Path {
            path: meta.url.clone(),
            reason: e.to_string(),
        })?;
        return Ok(Arc::new(BlockCache::new(f, LOCAL_BLOCK, 64 << 20)));
    }
    Ok(Arc::new(remote_cache(ObjectReadAt::new(meta, handle.clone())?)))
}

/// The block cache a remote source is parsed through: 2 KiB blocks, 2 KiB readahead, up to 32
/// discovery passes, 256 MiB.
pub fn remote_cache<R: ReadAt>(inner: R) -> BlockCache<R> {
    BlockCache::new(inner, REMOTE_BLOCK, 256 << 20)
        .with_warm_passes(REMOTE_WARM_PASSES)
        .with_readahead(REMOTE_READAHEAD)
}

/// Parse one input into a model group; refusals and warnings carry the input's name.
///
/// Runs the (synchronous) parser; call it from a blocking thread. `url` is where the input
/// is (DMR++ hrefs are resolved against it).
///
/// # Errors
/// [`CreateError::Parse`] if the input cannot be read at all.
pub fn parse_source(
    src: &dyn ReadAt,
    name: &str,
    url: &Url,
    opts: &CreateOptions,
    report: &mut CreateReport,
) -> Result<Parsed, CreateError> {
    let parse_err = |reason: String| CreateError::Parse {
        source_url: name.into(),
        reason,
    };
    let rec = |r: crate::model::Refusal| RefusalRecord {
        source: name.into(),
        path: r.path,
        feature: r.feature,
        reason: r.reason,
    };
    let head = src
        .read_at(0, src.size().min(4096))
        .map_err(|e| parse_err(e.to_string()))?;
    let format = match opts.format {
        Format::Auto if crate::hdf5::is_hdf5(src) => Format::Hdf5,
        Format::Auto if crate::dmrpp::is_dmrpp(&head) => Format::Dmrpp,
        Format::Auto => {
            if let Some(h) = crate::ceos::sniff(&head) {
                return Err(parse_err(ceos_file_message(&h)));
            }
            let what = match head.get(..4) {
                Some([b'C', b'D', b'F', 1 | 2 | 5]) => "a netCDF-3 classic file, not HDF5/netCDF-4",
                _ => "format not recognised",
            };
            return Err(parse_err(format!(
                "{what} (supported: HDF5 / netCDF-4, DMR++, CEOS ALOS-2 products)"
            )));
        }
        Format::Ceos => {
            return Err(parse_err(match crate::ceos::sniff(&head) {
                Some(h) => ceos_file_message(&h),
                None => "not a CEOS file (no CEOS descriptor record header at byte 0)".into(),
            }))
        }
        f => f,
    };
    if format == Format::Dmrpp {
        if src.size() > MAX_DMRPP_BYTES {
            return Err(parse_err(format!("DMR++ document larger than {MAX_DMRPP_BYTES} bytes")));
        }
        let xml = src.read_at(0, src.size()).map_err(|e| parse_err(e.to_string()))?;
        let data_url = opts
            .data_url
            .as_deref()
            .map(source::to_url)
            .transpose()
            .map_err(|e| parse_err(e.to_string()))?;
        let out = crate::dmrpp::read(
            &xml,
            &crate::dmrpp::DmrppOptions {
                dmrpp_url: Some(url.clone()),
                data_url,
            },
        )
        .map_err(|e| parse_err(e.to_string()))?;
        report.refused.extend(out.refusals.into_iter().map(rec));
        report.warnings.extend(out.warnings.into_iter().map(rec));
        return Ok(Parsed {
            root: out.root,
            data_files: Some(out.sources),
            other_files: Vec::new(),
        });
    }
    // Remote sources: discovery passes fetch the metadata level by level, concurrently
    // (other files are read in the real pass only).
    src.warm(&mut |view| {
        let _ = parse_hdf5(view, opts, None, None);
    });
    let materialize = opts.materialize.then(|| materializer(url)).flatten();
    if opts.materialize && materialize.is_none() {
        report.warnings.push(RefusalRecord {
            source: name.into(),
            path: "/".into(),
            feature: "not materialized".into(),
            reason: "--materialize: libhdf5 reads local files only; datasets that cannot be referenced stay refused"
                .into(),
        });
    }
    let other: Arc<dyn crate::hdf5::OtherFiles> = Arc::new(NearbyFiles {
        base: url.clone(),
        handle: tokio::runtime::Handle::try_current().ok(),
    });
    let (out, root) = parse_hdf5(src, opts, materialize, Some(other)).map_err(parse_err)?;
    let other_files = out
        .other_sources
        .iter()
        .map(|u| Url::parse(u).map_err(|e| parse_err(format!("{u}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    report.refused.extend(out.refusals.into_iter().map(rec));
    report.materialized.extend(out.materialized.into_iter().map(rec));
    report.warnings.extend(out.warnings.into_iter().map(rec));
    report
        .dimension_only
        .extend(out.dimension_only.into_iter().map(|path| RefusalRecord {
            source: name.into(),
            path,
            feature: "netCDF dimension only".into(),
            reason: "a netCDF dimension, not a variable: named on the axes of the arrays that use it".into(),
        }));
    Ok(Parsed {
        root,
        data_files: None,
        other_files,
    })
}

/// The other files an HDF5 file names (external storage, virtual dataset sources), resolved
/// against its URL as libhdf5 resolves virtual dataset sources against the file's directory
/// (absolute paths stay absolute for a local file), and opened like any source.
#[derive(Debug)]
struct NearbyFiles {
    base: Url,
    handle: Option<tokio::runtime::Handle>,
}

impl crate::hdf5::OtherFiles for NearbyFiles {
    fn resolve(&self, name: &str) -> Result<String, String> {
        if name.is_empty() {
            return Err("an empty file name".into());
        }
        let url = if self.base.scheme() == "file" && std::path::Path::new(name).is_absolute() {
            Url::from_file_path(name).map_err(|()| format!("{name}: not a usable path"))?
        } else {
            self.base.join(name).map_err(|e| format!("{name}: {e}"))?
        };
        Ok(url.to_string())
    }

    fn open(&self, location: &str) -> Result<Arc<dyn ReadAt>, String> {
        let url = Url::parse(location).map_err(|e| e.to_string())?;
        let handle = self.handle.as_ref().ok_or("no async runtime to open it with")?;
        let meta = handle.block_on(source::stat(&url)).map_err(|e| e.to_string())?;
        open_source(&meta, handle).map_err(|e| e.to_string())
    }
}

/// The materializer of `--materialize unsupported` for the HDF5 file at `url`: `None` for
/// remote files (libhdf5 reads local files) and in builds without the `libhdf5` feature.
#[cfg(feature = "libhdf5")]
fn materializer(url: &Url) -> Option<Arc<dyn crate::hdf5::Materialize>> {
    let path = url.to_file_path().ok().filter(|_| url.scheme() == "file")?;
    Some(Arc::new(crate::materialize::Libhdf5::new(&path)))
}

/// Without the `libhdf5` feature there is nothing to materialize with ([`create`] refuses
/// the option up front).
#[cfg(not(feature = "libhdf5"))]
fn materializer(_url: &Url) -> Option<Arc<dyn crate::hdf5::Materialize>> {
    None
}

/// The HDF5 walk and the inlining of small chunks (the model's root is moved out of the
/// output, which keeps the refusals and warnings).
fn parse_hdf5(
    src: &dyn ReadAt,
    opts: &CreateOptions,
    materialize: Option<Arc<dyn crate::hdf5::Materialize>>,
    other_files: Option<Arc<dyn crate::hdf5::OtherFiles>>,
) -> Result<(crate::hdf5::Hdf5Output, Group), String> {
    let mut out = crate::hdf5::read(
        src,
        &crate::hdf5::Hdf5Options {
            split_contiguous: opts.split_contiguous,
            materialize,
            other_files,
            ..Default::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let mut root = std::mem::take(&mut out.root);
    if opts.inline_threshold > 0 {
        inline_small_chunks(&mut root, src, opts.inline_threshold).map_err(|e| e.to_string())?;
    }
    Ok((out, root))
}

/// Why a single CEOS file cannot be parsed on its own.
fn ceos_file_message(h: &crate::ceos::CeosHead) -> String {
    if h.alos2 {
        format!(
            "{}: an ALOS-2 product is read as a whole: give its directory or its VOL- file",
            h.describe()
        )
    } else {
        format!(
            "{}: not an ALOS-2 PALSAR-2 product, which is the only CEOS product vzarr reads",
            h.describe()
        )
    }
}

fn inline_small_chunks(g: &mut Group, src: &dyn ReadAt, threshold: u64) -> Result<(), crate::io::ReadError> {
    let mut result = Ok(());
    g.for_each_array_mut(&mut |a| {
        for c in a.chunks.values_mut() {
            if let ChunkRef::Virtual { offset, length, source } = *c {
                // Only chunks of this file (others point into external files).
                if result.is_ok() && length <= threshold && source == SourceId(0) {
                    match src.read_at(offset, length) {
                        Ok(b) => *c = ChunkRef::Inline(b),
                        Err(e) => result = Err(e),
                    }
                }
            }
        }
    });
    result
}

/// The source ids virtual chunk references below `g` use.
fn used_sources(g: &Group) -> std::collections::HashSet<u32> {
    let mut used = std::collections::HashSet::new();
    g.walk(|_, n| {
        if let crate::model::NodeRef::Array(a) = n {
            for c in a.chunks.values() {
                if let ChunkRef::Virtual { source, .. } = c {
                    used.insert(source.0);
                }
            }
        }
    });
    used
}

/// Point every virtual chunk reference at `ids[local id]`.
fn remap_sources(g: &mut Group, ids: &[SourceId]) {
    g.for_each_array_mut(&mut |a| {
        for c in a.chunks.values_mut() {
            if let ChunkRef::Virtual { source, .. } = c {
                if let Some(&id) = ids.get(source.0 as usize) {
                    *source = id;
                }
            }
        }
    });
}

/// Materialized chunks larger than this (encoded) are written to
/// [`store::format::MATERIALIZED_FILE`] beside the manifest instead of into it.
pub const MATERIALIZED_INLINE_MAX: usize = 64 * 1024;

/// Move a materialized array's chunks over [`MATERIALIZED_INLINE_MAX`] bytes out of the
/// manifest into `data` (the store's [`store::format::MATERIALIZED_FILE`]), referenced as a
/// store-relative source; its size is recorded as the file grows.
fn move_large_chunks(
    a: &mut crate::model::Array,
    ds: &mut VirtualDataset,
    data: &mut Vec<u8>,
) -> Result<(), CreateError> {
    let large = |c: &ChunkRef| matches!(c, ChunkRef::Inline(b) if b.len() > MATERIALIZED_INLINE_MAX);
    if !a.chunks.values().any(large) {
        return Ok(());
    }
    let name = store::format::MATERIALIZED_FILE;
    let i = match ds.sources.iter().position(|s| s.url == name) {
        Some(i) => i,
        None => {
            ds.sources.push(Source {
                url: name.into(),
                size: None,
                etag: None,
                last_modified: None,
            });
            ds.sources.len() - 1
        }
    };
    let source = SourceId(u32::try_from(i).map_err(|_| CreateError::Usage("too many sources".into()))?);
    for c in a.chunks.values_mut().filter(|c| large(c)) {
        let ChunkRef::Inline(b) = c else { continue };
        let offset = data.len() as u64;
        data.extend_from_slice(b);
        *c = ChunkRef::Virtual {
            source,
            offset,
            length: b.len() as u64,
        };
    }
    ds.sources[i].size = Some(data.len() as u64);
    Ok(())
}

/// Remove arrays with a chunk reference past the end of its source (a DMR++ that does not
/// describe the file it names), listing them as refused.
fn drop_out_of_bounds(g: &mut Group, path: &str, sources: &[Source], refused: &mut Vec<(String, String)>) {
    let mut gone = Vec::new();
    for (name, child) in &mut g.children {
        let p = format!("{path}/{name}");
        match child {
            Node::Group(c) => drop_out_of_bounds(c, &p, sources, refused),
            Node::Array(a) => {
                let bad = a.chunks.iter().find_map(|(key, c)| match *c {
                    ChunkRef::Virtual { source, offset, length } => {
                        let s = sources.get(source.0 as usize)?;
                        let size = s.size?;
                        (offset.checked_add(length).is_none_or(|end| end > size)).then(|| {
                            format!(
                                "chunk {key:?} at bytes {offset}..{} lies past the end of {} ({size} bytes): \
                                 the data file is not the one described",
                                offset.saturating_add(length),
                                s.url
                            )
                        })
                    }
                    _ => None,
                });
                if let Some(reason) = bad {
                    refused.push((p, reason));
                    gone.push(name.clone());
                }
            }
        }
    }
    for n in gone {
        g.children.remove(&n);
    }
}

/// The identity (size, ETag) of each of `urls`, the files an input's chunk references point
/// into; one that cannot be reached is kept with its URL alone and a warning, `what` saying
/// what the file is.
async fn stat_files(urls: Vec<Url>, input: &str, report: &mut CreateReport, what: &str) -> Vec<Source> {
    let mut v = Vec::with_capacity(urls.len());
    for u in urls {
        report.source_requests += 1;
        match source::stat(&u).await {
            Ok(m) => v.push(m),
            Err(e) => {
                report.warnings.push(RefusalRecord {
                    source: input.to_string(),
                    path: "/".into(),
                    feature: "data file not reachable".into(),
                    reason: format!(
                        "data file not reachable ({e}): its size and ETag are not recorded and chunk ranges \
                         were not checked against it ({what})"
                    ),
                });
                v.push(Source {
                    url: u.to_string(),
                    size: None,
                    etag: None,
                    last_modified: None,
                });
            }
        }
    }
    v
}

/// The name of the group a source becomes when several sources go into one store.
fn group_name(url: &Url, taken: &BTreeMap<String, Node>) -> String {
    let base = url.path_segments().and_then(|mut s| s.next_back()).unwrap_or("source");
    let stem = base
        .split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("source")
        .to_string();
    let mut name = stem.clone();
    let mut i = 1;
    while taken.contains_key(&name) {
        i += 1;
        name = format!("{stem}_{i}");
    }
    name
}

/// Build a dataset from `inputs` and write it to `output`.
///
/// One input becomes the store's root; several inputs each become a group named after the
/// file. Must be called within a tokio runtime (parsing runs on blocking threads).
///
/// # Errors
/// [`CreateError`] when a source is unreachable or unreadable, or the store cannot be written.
/// Objects that cannot be expressed are not errors: they are listed in the report.
pub async fn create(inputs: &[String], output: &str, opts: &CreateOptions) -> Result<CreateReport, CreateError> {
    if inputs.is_empty() {
        return Err(CreateError::Usage("no sources given".into()));
    }
    if opts.materialize && !cfg!(feature = "libhdf5") {
        return Err(CreateError::Usage(
            "--materialize needs vzarr built with the `libhdf5` cargo feature (cargo build --features libhdf5)".into(),
        ));
    }
    let location = StoreLocation::parse(output)?;
    let handle = tokio::runtime::Handle::current();
    let mut report = CreateReport::default();
    let mut ds = VirtualDataset::default();
    let mut materialized_data = Vec::new();
    if opts.data_url.is_some() && inputs.len() > 1 {
        return Err(CreateError::Usage(
            "--data-url names the data file of a single DMR++ input".into(),
        ));
    }
    for input in inputs {
        let url = source::to_url(input)?;
        if is_ceos_input(&url, opts.format) {
            ceos::add_input(&mut ds, &mut report, input, &url, opts, &location, inputs.len()).await?;
            continue;
        }
        let started = std::time::Instant::now();
        let meta = source::stat(&url).await?;
        let src = open_source(&meta, &handle)?;
        let name = input.clone();
        let o = opts.clone();
        let u = url.clone();
        let (parsed, sub) = tokio::task::spawn_blocking(move || {
            let mut r = CreateReport::default();
            let g = parse_source(src.as_ref(), &name, &u, &o, &mut r);
            r.source_requests = src.requests();
            g.map(|g| (g, r))
        })
        .await
        .map_err(|e| CreateError::Parse {
            source_url: input.clone(),
            reason: format!("parser task failed: {e}"),
        })??;
        tracing::debug!(
            input = %input,
            requests = sub.source_requests,
            "parsed in {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        report.refused.extend(sub.refused);
        report.warnings.extend(sub.warnings);
        report.dimension_only.extend(sub.dimension_only);
        report.materialized.extend(sub.materialized.iter().cloned());
        report.source_requests += sub.source_requests;
        let Parsed {
            mut root,
            data_files,
            other_files,
        } = parsed;
        // The files this input's chunk references point into, with their identity.
        let files = match data_files {
            None => {
                // Only the other files a chunk still points into (a refused dataset's are
                // neither checked nor listed); their ids are renumbered 1, 2, ….
                let used = used_sources(&root);
                let mut local = vec![SourceId(0)];
                let mut kept = Vec::new();
                for (k, u) in other_files.into_iter().enumerate() {
                    let id = u32::try_from(k + 1).map_err(|_| CreateError::Usage("too many sources".into()))?;
                    if used.contains(&id) {
                        kept.push(u);
                        local.push(SourceId(u32::try_from(kept.len()).unwrap_or(u32::MAX)));
                    } else {
                        local.push(SourceId(u32::MAX));
                    }
                }
                remap_sources(&mut root, &local);
                let mut v = vec![meta.clone()];
                v.extend(
                    stat_files(
                        kept,
                        input,
                        &mut report,
                        "an external data file or a virtual dataset source",
                    )
                    .await,
                );
                v
            }
            Some(urls) => stat_files(urls, input, &mut report, "see dmrpp:href, --data-url").await,
        };
        let mut dropped = Vec::new();
        drop_out_of_bounds(&mut root, "", &files, &mut dropped);
        report
            .refused
            .extend(dropped.into_iter().map(|(path, reason)| RefusalRecord {
                source: input.clone(),
                path,
                feature: "chunk past the end of the data file".into(),
                reason,
            }));
        let mut ids = Vec::with_capacity(files.len());
        for f in files {
            let mut recorded = f;
            if opts.relative {
                let fu = Url::parse(&recorded.url).map_err(|e| CreateError::Usage(e.to_string()))?;
                recorded.url = location.url.make_relative(&fu).ok_or_else(|| {
                    CreateError::Usage(format!("{}: cannot be expressed relative to {}", fu, location.url))
                })?;
            }
            let id = match ds.sources.iter().position(|s| s.url == recorded.url) {
                Some(i) => SourceId(u32::try_from(i).map_err(|_| CreateError::Usage("too many sources".into()))?),
                None => {
                    ds.sources.push(recorded);
                    SourceId(
                        u32::try_from(ds.sources.len() - 1)
                            .map_err(|_| CreateError::Usage("too many sources".into()))?,
                    )
                }
            };
            ids.push(id);
        }
        remap_sources(&mut root, &ids);
        for m in &sub.materialized {
            if let Some(a) = root.array_mut(&m.path) {
                move_large_chunks(a, &mut ds, &mut materialized_data)?;
            }
        }
        if inputs.len() == 1 {
            ds.root = root;
        } else {
            let n = group_name(&url, &ds.root.children);
            ds.root.children.insert(n, Node::Group(root));
        }
    }
    ds.root.walk(|_, n| {
        if let crate::model::NodeRef::Array(a) = n {
            report.arrays += 1;
            for c in a.chunks.values() {
                match c {
                    ChunkRef::Virtual { .. } => report.virtual_chunks += 1,
                    ChunkRef::Inline(_) => report.inline_chunks += 1,
                    ChunkRef::Missing => {}
                }
            }
        }
    });
    let wopts = WriteOptions {
        inputs: inputs.to_vec(),
        refused: report.refused.clone(),
        materialized: report.materialized.clone(),
        data_files: if materialized_data.is_empty() {
            Vec::new()
        } else {
            vec![(
                store::format::MATERIALIZED_FILE.to_string(),
                bytes::Bytes::from(materialized_data),
            )]
        },
    };
    let started = std::time::Instant::now();
    store::write_store(&ds, &location, &wopts, opts.overwrite).await?;
    tracing::debug!(
        output = %output,
        "store written in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(report)
}
