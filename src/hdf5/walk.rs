//! Walk the group tree from the root and build the [`crate::model`] tree.
//!
//! Mapping decisions (also summarised in the `hdf5` module docs):
//!
//! - **Groups**: symbol tables (v1 B-tree + local heap), compact link messages and dense
//!   links (fractal heap + v2 B-tree) are all read. Hard links are followed with a visited
//!   set of object header addresses: a group reached a second time is a warning and is not
//!   walked again; a dataset reached twice is mapped again (same references). Depth ≤ 64;
//!   the number of objects is capped by the file size.
//! - **Soft links** resolving to a dataset become a copy of that array under the link name;
//!   soft links to groups, dangling soft links and external links are warnings.
//! - **Datasets** map to [`Array`]s, see [`Walker::dataset`]; anything that cannot be
//!   expressed exactly becomes a [`Refusal`] for that dataset and the walk goes on.
//! - **Attributes** become JSON, see [`Walker::attribute_value`]: scalar → JSON scalar,
//!   simple → nested lists in C order (like NumPy's `tolist()`), null dataspace → `null`.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde_json::{Map, Value};

use super::adapters::{self, ChunkRec};
use super::chunk_index;
use super::convert;
use super::filters;
use super::heap::global::{GlobalHeapCache, VlenRef};
use super::heap::local::LocalHeap;
use super::json_values;
use super::messages::attribute::{self, AttributeMsg};
use super::messages::dataspace::{self, Dataspace};
use super::messages::datatype::{self, ByteOrder, Datatype, Member};
use super::messages::external::{self, ExternalFiles};
use super::messages::fill_value::{self, FillValueMsg};
use super::messages::filter_pipeline::{self, Filter};
use super::messages::layout::{self, Layout};
use super::messages::link::{self, LinkMsg, LinkTarget};
use super::messages::shared::{self, SharedRef};
use super::messages::{attribute_info, group_info, link_info, symbol_table};
use super::object_header::{self, Message, ObjectHeader};
use super::raw::{msg, msg_flags, str_pad};
use super::repack;
use super::selection;
use super::sohm::SohmTable;
use super::superblock::Superblock;
use super::util::{abs_addr, read_exact, UNDEF};
use super::{Hdf5Error, Hdf5Options, Sizes};
use crate::io::ReadAt;
use crate::model::{Array, Attributes, ChunkRef, Codec, DataType, Endian, FillValue, Group, Node, Refusal, SourceId};

/// Deepest group nesting walked.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most bytes of re-encoded (filter-masked) chunks kept inline per file.
const MAX_REENCODED_BYTES: u64 = 256 << 20;
/// Most virtual chunks produced by splitting one contiguous dataset.
const MAX_SPLIT_CHUNKS: u64 = 1 << 22;

/// A failure mapping one object: (feature, reason).
pub(super) type Refuse = (String, String);

pub(super) fn refuse(feature: impl Into<String>, reason: impl Into<String>) -> Refuse {
    (feature.into(), reason.into())
}

pub(super) fn from_err(e: &Hdf5Error) -> Refuse {
    (e.feature(), e.to_string())
}

/// How netCDF-4 starts the `NAME` attribute of a dimension scale that is a dimension only,
/// not a variable (netCDF-C `libhdf5`: `DIM_WITHOUT_VARIABLE`).
pub(crate) const NETCDF_DIMENSION_ONLY: &str = "This is a netCDF dimension but not a netCDF variable";

/// Join a group path and a name (`/` root).
fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// The walker's state.
pub(crate) struct Walker<'a> {
    pub(super) src: &'a dyn ReadAt,
    pub(super) sizes: Sizes,
    pub(super) opts: &'a Hdf5Options,
    /// Walking a virtual dataset's source file: its own virtual datasets and external files
    /// are not followed.
    pub(super) nested: bool,
    /// Virtual datasets mapped so far as shells (shape, type, attributes), with their
    /// mappings; [`Walker::resolve_virtual`] gives them chunks once the walk is done.
    pub(super) pending_virtual: Vec<(String, Vec<super::vds::Mapping>)>,
    /// Chunk positions virtual dataset mappings may still visit in this file.
    pub(super) mapped_chunks_left: u64,
    /// Locations of other files chunks point into: `SourceId(k + 1)` is `other_sources[k]`.
    pub(crate) other_sources: Vec<String>,
    /// Other files walked for virtual dataset sources: location → (root, refusals).
    pub(super) other_roots: HashMap<String, Result<super::vds::WalkedFile, String>>,
    /// The shared message table, or why there is none.
    sohm: Result<SohmTable, String>,
    /// Group header address → path where it was first walked.
    groups_seen: HashMap<u64, String>,
    objects: u64,
    max_objects: u64,
    reencoded: u64,
    gheap: GlobalHeapCache,
    /// (containing group path, link name, target path) of soft links.
    soft_links: Vec<(String, String, String)>,
    /// Dataset header address → path where it was first mapped (for dimension scales).
    dataset_paths: HashMap<u64, String>,
    /// Committed datatype header address → path where it was first seen.
    datatype_paths: HashMap<u64, String>,
    /// Paths of reference datasets whose chunks hold raw addresses (object references) or
    /// address + region text items (region references, `true`) until
    /// [`Walker::resolve_object_refs`] turns them into paths.
    object_refs: Vec<(String, bool)>,
    /// Dataset path → the header address of each axis's first dimension scale.
    dim_lists: Vec<(String, Vec<Option<u64>>)>,
    /// Paths of datasets that are dimension scales (`CLASS = "DIMENSION_SCALE"`).
    scales: Vec<String>,
    /// Largest netCDF-4 dimension id (`_Netcdf4Dimid`) seen, -1 if none.
    max_dim_id: i64,
    /// Path and dataspace shape of every dataset seen, refused ones included (phony
    /// dimensions count them, as netCDF readers do).
    dataset_shapes: Vec<(String, Vec<u64>)>,
    pub(crate) refusals: Vec<Refusal>,
    pub(crate) warnings: Vec<Refusal>,
    /// Where chunk indexes of plain datasets are sent to be walked on another thread while
    /// this one goes on with the headers (see [`Walker::walk_root`]); `None`: walked here.
    chunk_jobs: Option<std::sync::mpsc::Sender<Vec<ChunkJob>>>,
    /// Jobs not sent yet: they go in batches, so the worker is not woken for each.
    job_batch: Vec<ChunkJob>,
    /// Paths of netCDF dimension-only datasets, left out of the hierarchy.
    pub(crate) dimension_only: Vec<String>,
    /// Datasets refused here and materialized through [`Hdf5Options::materialize`].
    pub(crate) materialized: Vec<Refusal>,
}

impl<'a> Walker<'a> {
    /// A walker over `src` with the decoded superblock.
    pub(crate) fn new(src: &'a dyn ReadAt, sb: &Superblock, opts: &'a Hdf5Options) -> Self {
        Self {
            src,
            sizes: sb.sizes,
            opts,
            nested: false,
            pending_virtual: Vec::new(),
            mapped_chunks_left: super::vds::MAX_MAPPED_CHUNKS_PER_FILE,
            other_sources: Vec::new(),
            other_roots: HashMap::new(),
            sohm: match sb.sohm_table {
                Some((addr, n)) => SohmTable::read(src, sb.sizes, addr, n).map_err(|e| e.to_string()),
                None => Err("the file has no shared message table".to_string()),
            },
            groups_seen: HashMap::new(),
            objects: 0,
            max_objects: (src.size() / 8).clamp(1000, 10_000_000),
            reencoded: 0,
            gheap: GlobalHeapCache::new(),
            soft_links: Vec::new(),
            dataset_paths: HashMap::new(),
            datatype_paths: HashMap::new(),
            object_refs: Vec::new(),
            dim_lists: Vec::new(),
            scales: Vec::new(),
            max_dim_id: -1,
            dataset_shapes: Vec::new(),
            refusals: Vec::new(),
            warnings: Vec::new(),
            chunk_jobs: None,
            job_batch: Vec::new(),
            dimension_only: Vec::new(),
            materialized: Vec::new(),
        }
    }

    pub(super) fn refusal(&mut self, path: &str, (feature, reason): Refuse) {
        self.refusals.push(Refusal {
            path: path.to_string(),
            feature,
            reason,
        });
    }

    fn warning(&mut self, path: &str, (feature, reason): Refuse) {
        self.warnings.push(Refusal {
            path: path.to_string(),
            feature,
            reason,
        });
    }

    /// Walk from the root group.
    pub(crate) fn walk_root(&mut self, sb: &Superblock) -> Result<Group, Hdf5Error> {
        let oh = object_header::read(self.src, &self.sizes, sb.root_addr)?;
        self.groups_seen.insert(oh.addr, "/".to_string());
        let links = match self.links(&oh, "/") {
            Ok(l) => l,
            // A v0/v1 root may be readable only through the cached symbol table.
            Err(e) => match sb.root_cache {
                Some(st) => self.symbol_table_links(st.btree_addr, st.heap_addr).map_err(|_| e)?,
                None => return Err(e),
            },
        };
        let mut root = Group {
            attributes: self.attributes(&oh, "/"),
            children: BTreeMap::new(),
        };
        let parallel = !self.nested
            && self.opts.materialize.is_none()
            && self.src.size() >= self.opts.parallel_from
            && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        if parallel {
            // Chunk indexes of plain datasets are walked on a second thread while this one
            // reads the headers; their chunks (or refusals) are filled in before anything
            // below looks at them.
            let (src, sizes) = (self.src, self.sizes);
            let (tx, rx) = std::sync::mpsc::channel::<Vec<ChunkJob>>();
            let results = std::thread::scope(|scope| {
                let worker = scope.spawn(move || {
                    rx.into_iter()
                        .flatten()
                        .map(|job| {
                            let r = job.run(src, sizes);
                            (job, r)
                        })
                        .collect::<Vec<_>>()
                });
                self.chunk_jobs = Some(tx);
                self.fill_group(&mut root, links, "/", 0);
                let last = std::mem::take(&mut self.job_batch);
                // Closing the channel ends the worker.
                if let Some(tx) = self.chunk_jobs.take() {
                    if let Err(std::sync::mpsc::SendError(last)) = tx.send(last) {
                        self.job_batch = last;
                    }
                }
                worker.join()
            });
            match results {
                Ok(mut results) => {
                    // Jobs the worker never got (it stopped early) are indexed here.
                    let unsent = std::mem::take(&mut self.job_batch);
                    results.extend(unsent.into_iter().map(|job| (job, Err(JobError::NeedsReencoding))));
                    self.apply_chunk_jobs(&mut root, results);
                }
                // As if the walk had panicked on this thread.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        } else {
            self.fill_group(&mut root, links, "/", 0);
        }
        self.resolve_virtual(&mut root);
        self.resolve_object_refs(&mut root);
        // Names first: a soft link copies its target, names included.
        self.apply_dimension_scales(&mut root);
        self.remove_dimension_only(&mut root);
        self.resolve_soft_links(&mut root);
        Ok(root)
    }

    /// Fill in the chunks of datasets whose index was walked on the worker thread, in the
    /// order they were sent: a dataset whose index cannot be mapped is removed and refused,
    /// its refusal placed where the walk would have put it; one with chunks that skip
    /// filters is indexed again here (re-encoding them draws on this file's budget).
    fn apply_chunk_jobs(&mut self, root: &mut Group, results: Vec<(ChunkJob, Result<ChunkMap, JobError>)>) {
        let mut inserted = 0;
        for (job, r) in results {
            let r = match r {
                Ok(map) => Ok(map),
                Err(JobError::Refused(why)) => Err(why),
                Err(JobError::NeedsReencoding) => self.index_here(&job),
            };
            match r {
                Ok(map) => {
                    if let Some(a) = root.array_mut(&job.path) {
                        a.chunks = map;
                    }
                }
                Err((feature, reason)) => {
                    root.remove(&job.path);
                    let at = job.refusal_at.saturating_add(inserted).min(self.refusals.len());
                    self.refusals.insert(
                        at,
                        Refusal {
                            path: job.path,
                            feature,
                            reason,
                        },
                    );
                    inserted += 1;
                }
            }
        }
    }

    /// Object-reference datasets: each element (a header address) becomes the path of the
    /// object it points to, where the walk first reached it, or `""` for a null reference;
    /// the chunks become `vlen-utf8` chunks. A reference to an object no link reaches
    /// refuses its dataset.
    fn resolve_object_refs(&mut self, root: &mut Group) {
        for (path, region) in std::mem::take(&mut self.object_refs) {
            let Some(a) = root.array_mut(&path) else { continue };
            let done = if region {
                self.region_reference_chunks(a)
            } else {
                self.reference_chunks(a)
            };
            if let Err(r) = done {
                root.remove(&path);
                self.refusal(&path, r);
            }
        }
    }

    /// The path of the object at header address `addr` where the walk first reached it.
    fn path_of(&self, addr: u64) -> Result<&String, Refuse> {
        abs_addr(&self.sizes, addr)
            .and_then(|x| {
                self.dataset_paths
                    .get(&x)
                    .or_else(|| self.groups_seen.get(&x))
                    .or_else(|| self.datatype_paths.get(&x))
            })
            .ok_or_else(|| {
                refuse(
                    "reference to an unreachable object",
                    format!("reference to header address {addr:#x}, which no link reaches"),
                )
            })
    }

    /// Region-reference chunks ([`Walker::region_items`]): each item, the target's address
    /// and its region text, becomes `path region` (`path` alone for a whole-dataset region;
    /// `""` stays the null reference).
    fn region_reference_chunks(&self, a: &mut Array) -> Result<(), Refuse> {
        let mut total = 0u64;
        for c in a.chunks.values_mut() {
            let ChunkRef::Inline(raw) = c else { continue };
            let items = crate::zarr::codecs::vlen_items(raw)
                .ok_or_else(|| refuse("reference datatype", "internal region chunk malformed"))?;
            let mut out: Vec<Vec<u8>> = Vec::with_capacity(items.len());
            for it in items {
                let Some((addr, text)) = it.split_first_chunk::<8>() else {
                    out.push(Vec::new());
                    continue;
                };
                let mut s = self.path_of(u64::from_le_bytes(*addr))?.as_bytes().to_vec();
                if !text.is_empty() {
                    s.push(b' ');
                    s.extend_from_slice(text);
                }
                count_region(&mut total, s.len())?;
                out.push(s);
            }
            *c = region_chunk(&out)?;
        }
        Ok(())
    }

    /// Region references, read once: each element (a global heap ID of the referenced
    /// object's address and its serialized selection) becomes an item of the target address
    /// (8 bytes, little-endian) and the region's text ([`selection::Selection::text`]); a null
    /// reference, or an element outside the array (edge chunks), an empty item.
    fn region_items(
        &mut self,
        chunks: &mut BTreeMap<Vec<u64>, ChunkRef>,
        shape: &[u64],
        chunk_shape: &[u64],
    ) -> Result<(), Refuse> {
        let w = usize::from(self.sizes.offset);
        let elem = w + 4;
        let mut total = 0u64;
        for (key, c) in chunks.iter_mut() {
            let ChunkRef::Inline(raw) = c else { continue };
            let mut items: Vec<Vec<u8>> = Vec::with_capacity(raw.len() / elem);
            for (el, inside) in raw.chunks_exact(elem).zip(inside_array(key, chunk_shape, shape)) {
                let mut cur = crate::io::cursor::Cursor::new(el, 0, "region reference");
                let heap = super::util::read_addr(&mut cur, &self.sizes).unwrap_or(UNDEF);
                let index = cur.u32().unwrap_or(0);
                if !inside || heap == 0 || heap == UNDEF {
                    items.push(Vec::new());
                    continue;
                }
                let obj = self
                    .gheap
                    .get(self.src, self.sizes, heap, index)
                    .map_err(|e| from_err(&e))?;
                let mut oc = crate::io::cursor::Cursor::new(&obj, heap, "region reference");
                let target = super::util::read_addr(&mut oc, &self.sizes).map_err(|e| from_err(&Hdf5Error::from(e)))?;
                let sel = selection::parse(obj.get(w..).unwrap_or_default(), heap).map_err(|e| from_err(&e))?;
                let mut item = target.to_le_bytes().to_vec();
                if let Some(t) = sel.text() {
                    item.extend_from_slice(t.as_bytes());
                }
                count_region(&mut total, item.len())?;
                items.push(item);
            }
            *c = region_chunk(&items)?;
        }
        Ok(())
    }

    fn reference_chunks(&self, a: &mut Array) -> Result<(), Refuse> {
        let w = usize::from(self.sizes.offset).max(1);
        // Paths may be far longer than the addresses they replace: bound the total.
        let mut total = 0u64;
        for c in a.chunks.values_mut() {
            let ChunkRef::Inline(raw) = c else { continue };
            let mut items: Vec<&[u8]> = Vec::with_capacity(raw.len() / w);
            for el in raw.chunks_exact(w) {
                let mut cur = crate::io::cursor::Cursor::new(el, 0, "object reference");
                let addr = super::util::read_addr(&mut cur, &self.sizes).unwrap_or(UNDEF);
                if addr == 0 || addr == UNDEF {
                    items.push(b"");
                    continue;
                }
                let target = self.path_of(addr)?;
                total = total.saturating_add(target.len() as u64 + 4);
                if total > MAX_STRING_CLEAN {
                    return Err(refuse(
                        "reference datatype",
                        format!("the referenced paths take over {MAX_STRING_CLEAN} bytes, too many to store inline"),
                    ));
                }
                items.push(target.as_bytes());
            }
            let chunk = crate::zarr::codecs::vlen_utf8_chunk(&items)
                .ok_or_else(|| refuse("reference datatype", "a chunk of paths over 4 GiB"))?;
            *c = ChunkRef::Inline(Bytes::from(chunk));
        }
        Ok(())
    }

    /// Take netCDF dimension-only datasets out of the hierarchy once their names are on the
    /// axes of the variables that use them. netCDF-4 writes a dimension that has no coordinate
    /// variable as a dimension scale holding no data, marked by its `NAME` attribute
    /// ([`NETCDF_DIMENSION_ONLY`]); netCDF-C, h5netcdf and OPeNDAP's DMR++ show it as a
    /// dimension, not a variable. Mapped as an array it would be a coordinate of fill values,
    /// and an unlimited dimension's (length 0 while its variables are longer) would make xarray
    /// refuse the group for conflicting dimension sizes.
    fn remove_dimension_only(&mut self, root: &mut Group) {
        self.dimension_only.retain(|path| {
            let Some(g) = root.group_mut(parent_path(path)) else {
                return false;
            };
            let name = basename(path);
            let is_array = matches!(g.children.get(name), Some(Node::Array(_)));
            if is_array {
                g.children.remove(name);
            }
            is_array
        });
    }

    /// netCDF-4 / HDF5 dimension scales → `dimension_names`: each axis is named after the
    /// dataset of its first attached scale; a one-dimensional scale is named after itself.
    /// Axes without a scale stay unnamed (`null`).
    fn apply_dimension_scales(&mut self, root: &mut Group) {
        let scales = std::mem::take(&mut self.scales);
        for path in &scales {
            if let Some(a) = root.array_mut(path) {
                if a.shape.len() == 1 {
                    a.dimension_names = Some(vec![Some(basename(path).to_string())]);
                }
            }
        }
        let labeled: std::collections::HashSet<String> = self
            .dim_lists
            .iter()
            .filter(|(_, l)| l.iter().any(Option::is_some))
            .map(|(p, _)| p.clone())
            .collect();
        for (path, addrs) in std::mem::take(&mut self.dim_lists) {
            let scale_paths: Vec<Option<&String>> = addrs
                .iter()
                .map(|a| a.and_then(|a| self.dataset_paths.get(&a)))
                .collect();
            let names = axis_names(&path, &scale_paths);
            if let Some(a) = root.array_mut(&path) {
                // Axes from an array datatype follow the dataset's own and stay unnamed.
                if names.len() <= a.shape.len() && names.iter().any(Option::is_some) {
                    let mut names = names;
                    names.resize(a.shape.len(), None);
                    a.dimension_names = Some(names);
                }
            }
        }
        let scales: std::collections::HashSet<String> = scales.into_iter().collect();
        let mut by_group: BTreeMap<String, BTreeMap<String, Vec<u64>>> = BTreeMap::new();
        for (path, shape) in std::mem::take(&mut self.dataset_shapes) {
            if let Some((group, name)) = path.rsplit_once('/') {
                by_group
                    .entry(group.to_string())
                    .or_default()
                    .entry(name.to_string())
                    .or_insert(shape);
            }
        }
        let known = Datasets {
            by_group,
            scales,
            labeled,
        };
        let mut count = 0i64;
        phony_dimensions(root, "", &known, self.max_dim_id, &mut count);
        name_remaining_axes(root, self.max_dim_id, &mut count);
    }

    /// Decode a `DIMENSION_LIST` attribute: per axis, a variable-length list of object
    /// references to dimension scales; the first reference of each axis is kept.
    fn dimension_list(&mut self, a: &AttributeMsg) -> Result<Vec<Option<u64>>, Refuse> {
        let Some(Datatype::VarLen {
            string: false, size, ..
        }) = &a.datatype
        else {
            return Err(refuse("DIMENSION_LIST", "not a variable-length sequence"));
        };
        let width = usize::from(self.sizes.offset);
        let elem = (*size as usize).max(1);
        let mut out = Vec::new();
        for raw in a.data.chunks(elem) {
            let mut c = crate::io::cursor::Cursor::new(raw, 0, "DIMENSION_LIST element");
            let r = VlenRef::parse(&mut c, self.sizes).map_err(|e| from_err(&e))?;
            let refs = self
                .gheap
                .resolve(self.src, self.sizes, r, width)
                .map_err(|e| from_err(&e))?;
            let first = refs.get(..width).map(|b| {
                let mut c = crate::io::cursor::Cursor::new(b, 0, "object reference");
                super::util::read_addr(&mut c, &self.sizes).unwrap_or(UNDEF)
            });
            // References are relative to the base address; header addresses are absolute.
            out.push(first.and_then(|x| abs_addr(&self.sizes, x)));
        }
        Ok(out)
    }

    fn fill_group(&mut self, group: &mut Group, links: Vec<LinkMsg>, path: &str, depth: usize) {
        for l in links {
            let child_path = join(path, &l.name);
            if l.name.is_empty() || l.name.contains('/') || l.name == "." || l.name == ".." {
                self.warning(
                    &child_path,
                    refuse("link name", format!("link name {:?} cannot be a node name", l.name)),
                );
                continue;
            }
            match l.target {
                LinkTarget::Hard(addr) => {
                    if let Some(node) = self.object(addr, &child_path, depth + 1) {
                        group.children.insert(l.name, node);
                    }
                }
                LinkTarget::Soft(target) => self.soft_links.push((path.to_string(), l.name, target)),
                LinkTarget::External { file, path: p } => self.warning(
                    &child_path,
                    refuse(
                        "external link",
                        format!("external link {} → {file}:{p} not followed", l.name),
                    ),
                ),
                LinkTarget::UserDefined(t) => self.warning(
                    &child_path,
                    refuse(
                        "user-defined link",
                        format!("link {} of user-defined type {t} not followed", l.name),
                    ),
                ),
            }
        }
    }

    /// Map the object at relative header address `addr`; `None` if refused or skipped.
    fn object(&mut self, addr: u64, path: &str, depth: usize) -> Option<Node> {
        self.objects = self.objects.saturating_add(1);
        if self.objects > self.max_objects {
            self.refusal(
                path,
                refuse("resource limit", format!("more than {} objects", self.max_objects)),
            );
            return None;
        }
        if depth > MAX_DEPTH {
            self.refusal(
                path,
                refuse("resource limit", format!("group nesting deeper than {MAX_DEPTH}")),
            );
            return None;
        }
        let oh = match object_header::read(self.src, &self.sizes, addr) {
            Ok(oh) => oh,
            Err(e) => {
                self.refusal(path, from_err(&e));
                return None;
            }
        };
        let is_dataset = oh.first(msg::DATA_LAYOUT).is_some() || oh.first(msg::DATASPACE).is_some();
        if is_dataset {
            // Recorded even if the dataset is refused: a scale names axes of other datasets.
            self.dataset_paths.entry(oh.addr).or_insert_with(|| path.to_string());
            let warnings = self.warnings.len();
            return match self.dataset(&oh, path) {
                Ok(a) => Some(Node::Array(a)),
                Err(r) => match self.materialized(&oh, path, r, warnings) {
                    Ok(a) => Some(Node::Array(a)),
                    Err(r) => {
                        self.refusal(path, r);
                        None
                    }
                },
            };
        }
        if oh.first(msg::DATATYPE).is_some() {
            // A committed (named) datatype: not data, nothing to map (but a reference may
            // name it).
            self.datatype_paths.entry(oh.addr).or_insert_with(|| path.to_string());
            return None;
        }
        if let Some(first) = self.groups_seen.get(&oh.addr) {
            let reason = format!("group already mapped at {first}; hard link cycle or second link not walked again");
            self.warning(path, refuse("repeated group", reason));
            return None;
        }
        self.groups_seen.insert(oh.addr, path.to_string());
        let links = match self.links(&oh, path) {
            Ok(l) => l,
            Err(e) => {
                self.refusal(path, from_err(&e));
                return None;
            }
        };
        let mut g = Group {
            attributes: self.attributes(&oh, path),
            children: BTreeMap::new(),
        };
        self.fill_group(&mut g, links, path, depth);
        Some(Node::Group(g))
    }

    /// The links of a group, from whichever storage it uses.
    fn links(&mut self, oh: &ObjectHeader, path: &str) -> Result<Vec<LinkMsg>, Hdf5Error> {
        self.check_messages(oh).map_err(|(f, _)| Hdf5Error::unsupported(f))?;
        let mut out = Vec::new();
        if let Some(m) = oh.first(msg::SYMBOL_TABLE) {
            let st = symbol_table::parse(&m.data, m.offset, &self.sizes)?;
            out.extend(self.symbol_table_links(st.btree_addr, st.heap_addr)?);
        }
        if let Some(m) = oh.first(msg::GROUP_INFO) {
            if let Err(e) = group_info::parse(&m.data, m.offset) {
                self.warning(path, from_err(&e));
            }
        }
        for m in oh.of_type(msg::LINK) {
            match link::parse(&m.data, m.offset, &self.sizes) {
                Ok(l) => out.push(l),
                Err(e) => self.warning(path, from_err(&e)),
            }
        }
        if let Some(m) = oh.first(msg::LINK_INFO) {
            let li = link_info::parse(&m.data, m.offset, &self.sizes)?;
            if li.heap_addr != UNDEF && li.name_btree_addr != UNDEF {
                for body in adapters::dense_links(self.src, self.sizes, li.heap_addr, li.name_btree_addr)? {
                    match link::parse(&body, 0, &self.sizes) {
                        Ok(l) => out.push(l),
                        Err(e) => self.warning(path, from_err(&e)),
                    }
                }
            }
        }
        Ok(out)
    }

    fn symbol_table_links(&mut self, btree: u64, heap: u64) -> Result<Vec<LinkMsg>, Hdf5Error> {
        let entries = adapters::symbol_table_entries(self.src, self.sizes, btree, heap)?;
        Ok(entries
            .into_iter()
            .map(|e| LinkMsg {
                name: e.name,
                target: match e.soft_target {
                    Some(t) => LinkTarget::Soft(t),
                    None => LinkTarget::Hard(e.header_addr),
                },
                creation_order: None,
            })
            .collect())
    }

    /// Refuse objects holding messages marked "fail if unknown" that we do not know.
    fn check_messages(&self, oh: &ObjectHeader) -> Result<(), Refuse> {
        for m in &oh.messages {
            if (m.mtype > msg::MAX_KNOWN || m.mtype == msg::BOGUS) && m.flags & msg_flags::FAIL_IF_UNKNOWN_ALWAYS != 0 {
                return Err(refuse(
                    format!("unknown header message {}", m.mtype),
                    format!("header message type {} is marked fail-if-unknown", m.mtype),
                ));
            }
        }
        Ok(())
    }

    /// Resolve an attribute's shared datatype and dataspace (committed or in the shared
    /// message heap).
    fn resolve_attribute_types(&mut self, a: &mut AttributeMsg) -> Result<(), Refuse> {
        if let Some((data, offset)) = a.shared_datatype.take() {
            let m = Message {
                mtype: msg::DATATYPE,
                flags: msg_flags::SHARED,
                data,
                offset,
            };
            let m = self.unshared(&m, msg::DATATYPE)?;
            a.datatype = Some(datatype::parse(&m.data, m.offset).map_err(|e| from_err(&e))?);
        }
        if let Some((data, offset)) = a.shared_dataspace.take() {
            let m = Message {
                mtype: msg::DATASPACE,
                flags: msg_flags::SHARED,
                data,
                offset,
            };
            let m = self.unshared(&m, msg::DATASPACE)?;
            a.dataspace = Some(dataspace::parse(&m.data, m.offset, &self.sizes).map_err(|e| from_err(&e))?);
        }
        Ok(())
    }

    /// Decode a message that may be shared: committed datatypes are followed, messages in
    /// the shared message heap fetched through the file's shared message table.
    fn unshared<'m>(&mut self, m: &'m Message, want: u16) -> Result<std::borrow::Cow<'m, Message>, Refuse> {
        if m.flags & msg_flags::SHARED == 0 {
            return Ok(std::borrow::Cow::Borrowed(m));
        }
        match shared::parse(&m.data, m.offset, &self.sizes).map_err(|e| from_err(&e))? {
            SharedRef::Sohm(heap_id) => {
                let table = match &self.sohm {
                    Ok(t) => t,
                    Err(why) => {
                        return Err(refuse(
                            "shared object header messages",
                            format!("message type {want} is in the shared message heap, but {why}"),
                        ))
                    }
                };
                let data = table
                    .get(self.src, self.sizes, want, &heap_id)
                    .map_err(|e| from_err(&e))?;
                Ok(std::borrow::Cow::Owned(Message {
                    mtype: want,
                    flags: 0,
                    data,
                    offset: m.offset,
                }))
            }
            SharedRef::Committed(addr) => {
                let oh = object_header::read(self.src, &self.sizes, addr).map_err(|e| from_err(&e))?;
                let found = oh.first(want).cloned().ok_or_else(|| {
                    refuse(
                        "corrupt shared message",
                        format!("committed object at {addr:#x} has no message {want}"),
                    )
                })?;
                if found.flags & msg_flags::SHARED != 0 {
                    return Err(refuse(
                        "corrupt shared message",
                        "shared message points to another shared message",
                    ));
                }
                Ok(std::borrow::Cow::Owned(found))
            }
        }
    }

    /// A dataset [`Walker::dataset`] refused, read through [`Hdf5Options::materialize`] when
    /// there is one: its values from there, its attributes (and so dimension names and CF
    /// fill value) from here as for any dataset. `warnings` is the warning count before the
    /// refused attempt, whose attribute warnings would otherwise be given twice.
    fn materialized(&mut self, oh: &ObjectHeader, path: &str, why: Refuse, warnings: usize) -> Result<Array, Refuse> {
        self.materialize_with(path, why, |w| {
            w.warnings.truncate(warnings);
            w.attributes(oh, path)
        })
    }

    /// The dataset at `path`, refused for `why`, read through [`Hdf5Options::materialize`]
    /// when there is one, with the attributes `attributes` gives (called only on success).
    pub(super) fn materialize_with(
        &mut self,
        path: &str,
        why: Refuse,
        attributes: impl FnOnce(&mut Self) -> Attributes,
    ) -> Result<Array, Refuse> {
        let Some(m) = self.opts.materialize.clone() else {
            return Err(why);
        };
        match m.materialize(path) {
            Ok(mut a) => {
                let mut all = attributes(self);
                all.append(&mut a.attributes);
                a.attributes = all;
                self.materialized.push(Refusal {
                    path: path.to_string(),
                    feature: why.0,
                    reason: why.1,
                });
                Ok(a)
            }
            Err(e) => Err((why.0, format!("{}; not materialized either: {e}", why.1))),
        }
    }

    /// Map a dataset to an [`Array`].
    fn dataset(&mut self, oh: &ObjectHeader, path: &str) -> Result<Array, Refuse> {
        self.check_messages(oh)?;
        let external = match oh.first(msg::EXTERNAL_DATA_FILES) {
            Some(m) => Some(external::parse(&m.data, m.offset, &self.sizes).map_err(|e| from_err(&e))?),
            None => None,
        };
        let mut virtual_maps = None;
        let ds_msg = oh
            .first(msg::DATASPACE)
            .ok_or_else(|| refuse("corrupt dataset", "no dataspace message"))?;
        let ds_msg = self.unshared(ds_msg, msg::DATASPACE)?.into_owned();
        let space = dataspace::parse(&ds_msg.data, ds_msg.offset, &self.sizes).map_err(|e| from_err(&e))?;
        self.dataset_shapes.push((path.to_string(), space.shape()));
        if space == Dataspace::Null {
            return Err(refuse("null dataspace", "dataset has a null dataspace (no elements)"));
        }
        let dt_msg = oh
            .first(msg::DATATYPE)
            .ok_or_else(|| refuse("corrupt dataset", "no datatype message"))?;
        let dt_msg = self.unshared(dt_msg, msg::DATATYPE)?.into_owned();
        let dtype = datatype::parse(&dt_msg.data, dt_msg.offset).map_err(|e| from_err(&e))?;
        let mut attributes = self.attributes(oh, path);
        // An HDF5 array type becomes trailing axes of the Zarr array (as h5py reads it).
        let (elem_type, extra_dims): (&Datatype, Vec<u64>) = match &dtype {
            Datatype::Array { dims, base, .. } => (base.as_ref(), dims.iter().map(|&d| u64::from(d)).collect()),
            d => (d, Vec::new()),
        };
        if matches!(
            elem_type,
            Datatype::Array { .. }
                | Datatype::String {
                    pad: str_pad::NULL_TERMINATE,
                    ..
                }
        ) && !extra_dims.is_empty()
            && elem_type.size() > 1
        {
            return Err(refuse(
                format!("array datatype of {}", elem_type.feature()),
                "nested arrays and NUL-terminated strings in arrays are not mapped",
            ));
        }
        if extra_dims.contains(&0) {
            return Err(refuse("array datatype", "array type with a zero dimension"));
        }
        let vlen_string = matches!(dtype, Datatype::VarLen { string: true, .. });
        // Variable-length sequences of a fixed-size type NumPy reads as it is stored: each
        // element becomes its items' bytes (`vlen-bytes`), their dtype an attribute.
        // Compounds with sequence members, sequences of sequences or of compounds: no Zarr
        // type holds them; each element becomes its JSON text (see `json_values`).
        let json = json_values::wanted(&dtype)
            && match &dtype {
                // Complex numbers h5py writes as compounds are fixed-size items.
                Datatype::VarLen { base, .. } => vlen_sequence_item(base.as_deref()).is_err(),
                _ => true,
            };
        let vlen_seq = match &dtype {
            Datatype::VarLen {
                string: false, base, ..
            } if !json => Some(vlen_sequence_item(base.as_deref())?),
            _ => None,
        };
        // Object references (old style: a header address each) become the target's path.
        let object_ref = matches!(dtype, Datatype::Other { class: super::raw::class::REFERENCE, size, bits: 0 }
            if size == u32::from(self.sizes.offset));
        // Region references (old style: a global heap ID each) become `path region` text.
        let region_ref = matches!(dtype, Datatype::Other { class: super::raw::class::REFERENCE, size, bits: 1 }
            if size == u32::from(self.sizes.offset) + 4);
        // Integers with padding bits and non-IEEE floats: converted at creation to the type
        // h5py reads (libhdf5's conversion), stored inline.
        let conversion = conversion_for(elem_type)?;
        // Compounds zarr-python cannot read as they are stored (padding, big-endian members)
        // are rewritten packed and little-endian, read once and stored inline.
        let mut repack_plan = None;
        let (mut data_type, endian) = if vlen_string || object_ref || region_ref || json {
            (DataType::VlenUtf8, None)
        } else if vlen_seq.is_some() {
            (DataType::VlenBytes, None)
        } else if let Some((t, _)) = &conversion {
            (t.clone(), Some(Endian::Little))
        } else {
            match (map_datatype(elem_type), elem_type) {
                (Ok(t), _) => t,
                // Arrays of such compounds too: the plan rewrites each array element.
                (Err(_), Datatype::Compound { size, members }) => {
                    let (t, plan) = repack::plan(*size, members)?;
                    repack_plan = Some(plan);
                    (t, None)
                }
                (Err(e), _) => return Err(e),
            }
        };
        if let Some(format) = raw_float_format(elem_type) {
            attributes.insert(FLOAT_FORMAT_ATTR.into(), Value::String(format));
        }
        if let Datatype::Enum { members, base } = &dtype {
            let mut m = Map::new();
            for (name, raw) in members {
                if let Some(v) = int_value(base, raw) {
                    m.insert(name.clone(), v);
                }
            }
            attributes.insert("_hdf5_enum".into(), Value::Object(m));
        }
        let elem = u64::from(dtype.size());
        if elem == 0 {
            return Err(refuse("corrupt datatype", "element size 0"));
        }
        let shape = space.shape();
        let nelem = space
            .num_elements()
            .ok_or_else(|| refuse("corrupt dataspace", "element count overflows"))?;
        let nbytes = nelem
            .checked_mul(elem)
            .ok_or_else(|| refuse("corrupt dataspace", "byte size overflows"))?;

        let mut fill_value = self.fill_value(oh, elem)?;
        if vlen_string {
            // The fill value is itself a vlen element (length + global heap ID): its string,
            // cut at the first NUL like every element.
            fill_value = match &fill_value {
                FillValue::Bytes(b) if b.iter().any(|&x| x != 0) => {
                    let s = self.resolve_vlen_string(b, "vlen string fill value")?;
                    if std::str::from_utf8(&s).is_err() {
                        return Err(refuse(
                            "variable-length string fill value",
                            "the fill value is not UTF-8",
                        ));
                    }
                    FillValue::Bytes(s.to_vec())
                }
                _ => FillValue::Default,
            };
        }
        let lay_msg = oh
            .first(msg::DATA_LAYOUT)
            .ok_or_else(|| refuse("corrupt dataset", "no data layout message"))?;
        let lay = layout::parse(&lay_msg.data, lay_msg.offset, &self.sizes).map_err(|e| from_err(&e))?;
        let mut filters = match oh.first(msg::FILTER_PIPELINE) {
            Some(m) => filter_pipeline::parse(&m.data, m.offset).map_err(|e| from_err(&e))?,
            None => Vec::new(),
        };
        // No Zarr codec reads the n-bit filter's packing: such chunks are decoded at creation
        // (like converted types) and stored inline.
        let decode_inline = conversion.is_some() || filters.iter().any(|f| f.id == super::raw::filter::NBIT);
        let mut codecs = vec![Codec::Bytes(endian)];
        let mut chunks = BTreeMap::new();
        // Nothing below reads or rewrites the chunks of such a dataset: its chunk index may
        // be walked on the worker thread.
        let plain = !decode_inline
            && repack_plan.is_none()
            && !(vlen_string || json || object_ref || region_ref)
            && vlen_seq.is_none()
            && extra_dims.is_empty()
            && !matches!(&dtype, Datatype::String { size, pad, .. } if *size > 1 && *pad != str_pad::NULL_PAD);
        let whole: Vec<u64> = shape.iter().map(|&d| d.max(1)).collect();
        let zeros = vec![0u64; shape.len()];
        if external.is_some() && !matches!(lay, Layout::Contiguous { .. }) {
            return Err(refuse(
                "external storage",
                "external data files on a layout that is not contiguous",
            ));
        }
        let chunk_shape = match lay {
            Layout::Compact(bytes) => {
                if bytes.len() as u64 != nbytes {
                    return Err(refuse(
                        "corrupt compact layout",
                        format!("compact data is {} bytes, dataset needs {nbytes}", bytes.len()),
                    ));
                }
                if nelem > 0 {
                    chunks.insert(zeros, ChunkRef::Inline(bytes));
                }
                whole
            }
            Layout::Contiguous { .. } if external.is_some() => {
                let efl = external
                    .as_ref()
                    .ok_or_else(|| refuse("external storage", "no segments"))?;
                if decode_inline || !filters.is_empty() {
                    return Err(refuse(
                        "external storage",
                        "raw data in external files with filters or a converted type",
                    ));
                }
                self.external_chunks(efl, &shape, elem, nbytes, &mut chunks)?
            }
            Layout::Contiguous { addr, size } => {
                let size = size.unwrap_or(nbytes);
                if addr == UNDEF || nelem == 0 {
                    whole
                } else {
                    if size < nbytes {
                        return Err(refuse(
                            "corrupt contiguous layout",
                            format!("contiguous storage is {size} bytes, dataset needs {nbytes}"),
                        ));
                    }
                    let offset = abs_addr(&self.sizes, addr)
                        .filter(|o| o.checked_add(nbytes).is_some_and(|end| end <= self.src.size()))
                        .ok_or_else(|| {
                            refuse(
                                "truncated or unreadable",
                                "contiguous data runs past the end of the file",
                            )
                        })?;
                    self.contiguous_chunks(&shape, elem, offset, nbytes, &mut chunks)
                }
            }
            Layout::ChunkedBtreeV1 { addr, dims } => {
                if !decode_inline {
                    codecs.extend(filters::codecs_for(&filters, dtype.size())?);
                }
                let source = chunk_index::Source::BtreeV1(addr);
                let defer = plain && !filters::shuffle_after_other(&codecs);
                self.chunked(path, &shape, elem, source, &dims, &filters, &mut chunks, defer)?
            }
            Layout::ChunkedV4 {
                flags,
                dims,
                index,
                addr,
            } => {
                if !decode_inline {
                    codecs.extend(filters::codecs_for(&filters, dtype.size())?);
                }
                let max_shape = match &space {
                    Dataspace::Simple { max_dims: Some(m), .. } if m.len() == shape.len() => m.clone(),
                    _ => shape.clone(),
                };
                let source = chunk_index::Source::V4 {
                    index: &index,
                    flags,
                    max_shape: &max_shape,
                    addr,
                };
                let defer = plain && !filters::shuffle_after_other(&codecs);
                self.chunked(path, &shape, elem, source, &dims, &filters, &mut chunks, defer)?
            }
            Layout::Virtual { heap, index } => {
                if self.nested {
                    return Err(refuse(
                        "virtual dataset layout",
                        "a virtual dataset inside a virtual dataset's source file is not followed",
                    ));
                }
                let data = self
                    .gheap
                    .get(self.src, self.sizes, heap, index)
                    .map_err(|e| from_err(&e))?;
                let maps = super::vds::parse(&data, 0, self.sizes).map_err(|e| match e {
                    Hdf5Error::Unsupported { feature } => refuse(
                        "virtual dataset mapping",
                        format!("a mapping with an {feature}: the dataset grows with its sources"),
                    ),
                    e => from_err(&e),
                })?;
                virtual_maps = Some(maps);
                whole
            }
        };
        if decode_inline {
            let why = match &conversion {
                Some((_, c)) => refuse(elem_type.feature(), format!("{} converted at creation", c.describe())),
                None => refuse("filter nbit (id 5)", "n-bit packed chunks decoded at creation"),
            };
            self.inline_decoded(&mut chunks, &filters, dtype.size(), why)?;
            // The chunks now hold the unfiltered elements.
            filters.clear();
            codecs.truncate(1);
            if let Some((_, c)) = &conversion {
                for chunk in chunks.values_mut() {
                    if let ChunkRef::Inline(b) = chunk {
                        *chunk = ChunkRef::Inline(Bytes::from(c.apply(b)));
                    }
                }
                if let FillValue::Bytes(b) = &fill_value {
                    fill_value = FillValue::Bytes(c.apply(b));
                }
            }
        }
        if let Some(plan) = &mut repack_plan {
            if plan.vlen_refs().is_empty() {
                self.repack_chunks(&mut chunks, plan, &filters, dtype.size())?;
                if let FillValue::Bytes(b) = &fill_value {
                    fill_value = FillValue::Bytes(plan.apply(b));
                }
            } else {
                self.repack_vlen_chunks(
                    &mut chunks,
                    plan,
                    &mut data_type,
                    &mut fill_value,
                    &filters,
                    dtype.size(),
                    &shape,
                    &chunk_shape,
                )?;
            }
            codecs = vec![Codec::Bytes(None)];
        }
        // Elements read once from the global heap and stored inline.
        let vlen_kind = if vlen_string {
            Some(VlenKind::String)
        } else if json {
            Some(VlenKind::Json(&dtype))
        } else {
            vlen_seq.as_ref().map(|(item, _)| VlenKind::Sequence(*item))
        };
        if let Some(kind) = vlen_kind {
            let nonzero_fill = matches!(&fill_value, FillValue::Bytes(b) if b.iter().any(|&x| x != 0));
            match kind {
                VlenKind::String => {}
                VlenKind::Sequence(_) if nonzero_fill => {
                    return Err(refuse(
                        "variable-length sequence fill value",
                        "a fill value that is not the empty sequence",
                    ))
                }
                VlenKind::Sequence(_) => fill_value = FillValue::Default,
                VlenKind::Json(_) if nonzero_fill => {
                    return Err(refuse(
                        format!("{} fill value", dtype.feature()),
                        "a fill value that is not all zeros (empty sequences)",
                    ))
                }
                VlenKind::Json(dt) => {
                    // Unwritten elements read as the all-zero element: empty sequences, zeros.
                    let zero = vec![0u8; dt.size() as usize];
                    fill_value = FillValue::Bytes(self.json_text(dt, &zero, &mut { MAX_STRING_CLEAN })?);
                    attributes.insert(
                        json_values::JSON_TYPE_ATTR.into(),
                        Value::String(json_values::describe(dt)),
                    );
                }
            }
            self.inline_vlen(&mut chunks, &shape, &chunk_shape, dtype.size(), &filters, kind)?;
            codecs = vec![if matches!(kind, VlenKind::Sequence(_)) {
                Codec::VlenBytes
            } else {
                Codec::VlenUtf8
            }];
            if let Some((_, item_dtype)) = &vlen_seq {
                attributes.insert(VLEN_DTYPE_ATTR.into(), Value::String(item_dtype.clone()));
            }
        }
        if object_ref || region_ref {
            if matches!(&fill_value, FillValue::Bytes(b) if b.iter().any(|&x| x != 0)) {
                return Err(refuse(
                    "reference datatype",
                    "a fill value that is not the null reference",
                ));
            }
            fill_value = FillValue::Default;
            // The addresses, read once; resolve_object_refs turns them into paths.
            let why = refuse("reference datatype", "references in unreadable chunks");
            self.inline_decoded(&mut chunks, &filters, dtype.size(), why)?;
            if region_ref {
                self.region_items(&mut chunks, &shape, &chunk_shape)?;
            }
            codecs = vec![Codec::VlenUtf8];
            let kind = if region_ref { "region" } else { "object" };
            attributes.insert("_hdf5_reference".into(), Value::String(kind.into()));
            self.object_refs.push((path.to_string(), region_ref));
        }
        if let Datatype::String { size, pad, .. } = &dtype {
            if *size > 1 && *pad != str_pad::NULL_PAD {
                self.clean_strings(&mut chunks, *size, *pad, &filters)?;
            }
        }
        if let Err(why) = filters::check_shuffle_position(&codecs, &chunks) {
            // No codec chain reads such chunks, but vzarr undoes the pipeline as libhdf5
            // does: small datasets are read once and stored decoded, inline.
            self.inline_decoded(&mut chunks, &filters, dtype.size(), why)?;
            codecs.truncate(1);
        }
        let mut array = Array {
            shape,
            chunk_shape,
            data_type,
            fill_value,
            codecs,
            attributes,
            dimension_names: None,
            chunks,
        };
        if !extra_dims.is_empty() {
            // A repacked element is smaller than the HDF5 one, a converted one may be larger.
            let base_size = match (&repack_plan, &conversion) {
                (Some(p), _) => u32::try_from(p.out_size).unwrap_or(u32::MAX),
                (None, Some((_, c))) => u32::try_from(c.out_size()).unwrap_or(u32::MAX),
                (None, None) => elem_type.size(),
            };
            append_axes(&mut array, &extra_dims, base_size)?;
        }
        if let Some(maps) = virtual_maps {
            if !extra_dims.is_empty() {
                return Err(refuse(
                    "virtual dataset layout",
                    "a virtual dataset of an HDF5 array type",
                ));
            }
            self.pending_virtual.push((path.to_string(), maps));
        }
        Ok(array)
    }

    /// The raw bytes of a stored chunk (read if virtual, its filters undone), `None` if the
    /// chunk is missing. `feature` names the refusal when the filters cannot be undone.
    fn chunk_raw(
        &self,
        key: &[u64],
        c: &ChunkRef,
        filters: &[Filter],
        elem_size: u32,
        feature: &str,
    ) -> Result<Option<Vec<u8>>, Refuse> {
        let stored = match c {
            ChunkRef::Virtual { source, .. } if *source != SourceId(0) => {
                return Err(refuse(
                    feature,
                    format!("chunk {key:?} lies in another file, which is not read at creation"),
                ))
            }
            ChunkRef::Virtual { offset, length, .. } => self
                .src
                .read_at(*offset, *length)
                .map_err(|e| refuse("truncated or unreadable", e.to_string()))?,
            ChunkRef::Inline(b) => b.clone(),
            ChunkRef::Missing => return Ok(None),
        };
        if filters.is_empty() {
            return Ok(Some(stored.to_vec()));
        }
        filters::decode(&stored, filters, 0, elem_size)
            .map(Some)
            .map_err(|e| refuse(feature, format!("chunk {key:?}: {e}")))
    }

    /// Every stored chunk read, its filters undone (see [`filters::decode`]) and stored inline
    /// unfiltered: for pipelines no Zarr codec chain expresses. At most [`MAX_STRING_CLEAN`]
    /// decoded bytes per dataset, else refused with `why`.
    fn inline_decoded(
        &mut self,
        chunks: &mut BTreeMap<Vec<u64>, ChunkRef>,
        filters: &[Filter],
        elem_size: u32,
        why: Refuse,
    ) -> Result<(), Refuse> {
        let mut total = 0u64;
        for (key, c) in chunks.iter_mut() {
            let Some(raw) = self.chunk_raw(key, c, filters, elem_size, &why.0)? else {
                continue;
            };
            total = total.saturating_add(raw.len() as u64);
            if total > MAX_STRING_CLEAN {
                let (feature, reason) = why;
                return Err((
                    feature,
                    format!("{reason}; over {MAX_STRING_CLEAN} bytes decoded, too large to store inline"),
                ));
            }
            *c = ChunkRef::Inline(Bytes::from(raw));
        }
        Ok(())
    }

    /// Fixed-length strings read the way libhdf5 converts them to h5py's NUL-padded type:
    /// a NUL-terminated string ends at its first NUL, a space-padded one before its
    /// trailing spaces, and the rest of the element reads as zeros. Unfiltered chunks
    /// already in that form stay virtual; others are cleaned and stored inline (up to
    /// [`MAX_STRING_CLEAN`] bytes per dataset).
    fn clean_strings(
        &mut self,
        chunks: &mut BTreeMap<Vec<u64>, ChunkRef>,
        size: u32,
        pad: u8,
        filters: &[Filter],
    ) -> Result<(), Refuse> {
        let n = size as usize;
        let total: u64 = chunks
            .values()
            .map(|c| match c {
                ChunkRef::Virtual { length, .. } => *length,
                _ => 0,
            })
            .sum();
        if total > MAX_STRING_CLEAN {
            return Err(refuse(
                "fixed-length strings too large to check",
                format!("{total} bytes of NUL-terminated or space-padded strings exceed the {MAX_STRING_CLEAN}-byte check limit"),
            ));
        }
        for (key, c) in chunks.iter_mut() {
            let Some(bytes) = self.chunk_raw(key, c, filters, size, "fixed-length strings in filtered chunks")? else {
                continue;
            };
            let mut clean = bytes.clone();
            for el in clean.chunks_mut(n) {
                repack::clean_string(el, pad);
            }
            if clean != bytes {
                let encoded = if filters.is_empty() {
                    clean
                } else {
                    // Every filter marked skipped: nothing to undo, the whole pipeline applied.
                    filters::reencode(&clean, filters, u32::MAX, size)
                        .map_err(|e| refuse("fixed-length strings in filtered chunks", format!("chunk {key:?}: {e}")))?
                };
                *c = ChunkRef::Inline(bytes::Bytes::from(encoded));
            }
        }
        Ok(())
    }

    /// Compound chunks rewritten by `plan` (see [`repack`]) and stored inline, up to
    /// [`MAX_STRING_CLEAN`] bytes per dataset.
    fn repack_chunks(
        &mut self,
        chunks: &mut BTreeMap<Vec<u64>, ChunkRef>,
        plan: &repack::Plan,
        filters: &[Filter],
        elem_size: u32,
    ) -> Result<(), Refuse> {
        let mut total = 0u64;
        for (key, c) in chunks.iter_mut() {
            if let ChunkRef::Virtual { length, .. } = c {
                total = total.saturating_add(*length);
                if total > MAX_STRING_CLEAN {
                    return Err(refuse(
                        "compound datatype too large to repack",
                        format!(
                            "padded or big-endian compound data over {MAX_STRING_CLEAN} bytes is not rewritten inline"
                        ),
                    ));
                }
            }
            let Some(raw) = self.chunk_raw(key, c, filters, elem_size, "compound datatype in filtered chunks")? else {
                continue;
            };
            *c = ChunkRef::Inline(Bytes::from(plan.apply(&raw)));
        }
        Ok(())
    }

    /// The bytes of one variable-length element (`el`: its length and global heap ID) of
    /// `item`-byte items; empty for a null element.
    fn resolve_vlen(&mut self, el: &[u8], item: usize, what: &'static str) -> Result<Bytes, Refuse> {
        let mut cur = crate::io::cursor::Cursor::new(el, 0, what);
        let r = VlenRef::parse(&mut cur, self.sizes).map_err(|e| from_err(&e))?;
        self.gheap
            .resolve(self.src, self.sizes, r, item)
            .map_err(|e| from_err(&e))
    }

    /// A variable-length string element's bytes up to its first NUL, as h5py reads it (`""`
    /// for a null element).
    fn resolve_vlen_string(&mut self, el: &[u8], what: &'static str) -> Result<Bytes, Refuse> {
        let b = self.resolve_vlen(el, 1, what)?;
        let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
        Ok(b.slice(..end))
    }

    /// Compounds with variable-length string members (see [`repack`]): every chunk read,
    /// each element's strings resolved (cut at the first NUL, as h5py reads them), each such
    /// member given the width of its longest string, and the chunks rewritten packed, inline.
    /// Elements outside the array (edge chunks) hold empty strings. At most
    /// [`MAX_STRING_CLEAN`] bytes of chunks and strings per dataset.
    #[allow(clippy::too_many_arguments)]
    fn repack_vlen_chunks(
        &mut self,
        chunks: &mut BTreeMap<Vec<u64>, ChunkRef>,
        plan: &mut repack::Plan,
        data_type: &mut DataType,
        fill_value: &mut FillValue,
        filters: &[Filter],
        elem_size: u32,
        shape: &[u64],
        chunk_shape: &[u64],
    ) -> Result<(), Refuse> {
        const WHAT: &str = "compound with variable-length string members";
        let refs = plan.vlen_refs();
        let compound = plan.in_size.max(1);
        // Compounds per HDF5 element (an array of compounds holds several).
        let per_elem = (elem_size as usize / compound).max(1);
        let mut widths = vec![0usize; refs.len()];
        let mut total = 0u64;
        let mut count = |n: usize| -> Result<(), Refuse> {
            total = total.saturating_add(n as u64);
            if total > MAX_STRING_CLEAN {
                return Err(refuse(
                    format!("{WHAT} too large to inline"),
                    format!("over {MAX_STRING_CLEAN} bytes of elements and strings"),
                ));
            }
            Ok(())
        };
        let mut read = Vec::with_capacity(chunks.len());
        for (key, c) in chunks.iter() {
            let Some(raw) = self.chunk_raw(key, c, filters, elem_size, WHAT)? else {
                continue;
            };
            count(raw.len())?;
            let mut strings = Vec::with_capacity(raw.len() / compound * refs.len());
            let mut inside = inside_array(key, chunk_shape, shape);
            let mut here = true;
            for (i, el) in raw.chunks_exact(compound).enumerate() {
                if i % per_elem == 0 {
                    here = inside.next().unwrap_or(false);
                }
                for (k, &(at, len)) in refs.iter().enumerate() {
                    let s = if here {
                        self.resolve_vlen_string(&el[at..at + len], WHAT)?
                    } else {
                        Bytes::new()
                    };
                    count(s.len())?;
                    widths[k] = widths[k].max(s.len());
                    strings.push(s);
                }
            }
            read.push((key.clone(), raw, strings));
        }
        // A fill value names its strings in the heap too.
        let mut fill_strings = Vec::new();
        if let FillValue::Bytes(b) = &*fill_value {
            for el in b.chunks_exact(compound) {
                for (k, &(at, len)) in refs.iter().enumerate() {
                    // A null reference (all zeros) reads as "".
                    let s = self.resolve_vlen_string(&el[at..at + len], WHAT)?;
                    widths[k] = widths[k].max(s.len());
                    fill_strings.push(s);
                }
            }
        }
        // NumPy has no zero-length byte strings.
        let widths: Vec<usize> = widths.into_iter().map(|w| w.max(1)).collect();
        plan.set_vlen_widths(&widths, data_type);
        // Every element is as wide as the longest strings: bound the rewritten bytes too.
        let elements: usize = read.iter().map(|(_, raw, _)| raw.len() / compound).sum();
        if elements
            .checked_mul(plan.out_size)
            .is_none_or(|n| n as u64 > MAX_STRING_CLEAN)
        {
            return Err(refuse(
                format!("{WHAT} too large to inline"),
                format!("the fixed-width rewrite would exceed {MAX_STRING_CLEAN} bytes"),
            ));
        }
        for (key, raw, strings) in read {
            chunks.insert(
                key,
                ChunkRef::Inline(Bytes::from(plan.apply_with_strings(&raw, &strings))),
            );
        }
        if let FillValue::Bytes(b) = &*fill_value {
            *fill_value = FillValue::Bytes(plan.apply_with_strings(b, &fill_strings));
        }
        Ok(())
    }

    /// Variable-length strings (`seq_item` `None`) and sequences (`Some(item size)`): each
    /// element's bytes are read from the global heap once and every chunk is stored inline
    /// in `vlen-utf8` / `vlen-bytes` encoding (a little-endian `u32` count, then per element
    /// a `u32` length and the bytes). Like h5py, a string ends at its first NUL, and a null
    /// element reads as `""` or an empty sequence. At most [`MAX_STRING_CLEAN`] bytes per
    /// dataset; strings that are not UTF-8 are refused.
    fn inline_vlen(
        &mut self,
        chunks: &mut BTreeMap<Vec<u64>, ChunkRef>,
        shape: &[u64],
        chunk_shape: &[u64],
        elem: u32,
        filters: &[Filter],
        kind: VlenKind<'_>,
    ) -> Result<(), Refuse> {
        let what = match kind {
            VlenKind::String => "variable-length strings",
            VlenKind::Sequence(_) => "variable-length sequences",
            VlenKind::Json(_) => "values stored as JSON",
        };
        let too_large = || format!("{what} too large to inline");
        let elem = usize::try_from(elem).unwrap_or(usize::MAX);
        if elem < VlenRef::encoded_size(self.sizes) {
            return Err(refuse("corrupt datatype", "variable-length element too small"));
        }
        let per_chunk = chunk_shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n.checked_mul(elem).is_some_and(|b| b as u64 <= MAX_STRING_CLEAN))
            .ok_or_else(|| {
                refuse(
                    too_large(),
                    format!("a chunk holds more than {MAX_STRING_CLEAN} bytes of element references"),
                )
            })?;
        let mut total = 0u64;
        // Values (numbers, strings, list items) left for JSON elements.
        let mut budget = MAX_STRING_CLEAN;
        let outside = match kind {
            VlenKind::Json(dt) => Bytes::from(self.json_text(dt, &vec![0u8; elem], &mut budget)?),
            _ => Bytes::new(),
        };
        for (key, c) in chunks.iter_mut() {
            let elem_u32 = u32::try_from(elem).unwrap_or(u32::MAX);
            let Some(raw) = self.chunk_raw(key, c, filters, elem_u32, &format!("{what} in filtered chunks"))? else {
                continue;
            };
            if raw.len() < per_chunk * elem {
                return Err(refuse(
                    "corrupt chunk",
                    format!("chunk {key:?} has {} bytes, {} expected", raw.len(), per_chunk * elem),
                ));
            }
            let mut items: Vec<Bytes> = Vec::with_capacity(per_chunk);
            // Elements outside the array (edge chunks) read as "".
            for (i, inside) in inside_array(key, chunk_shape, shape).take(per_chunk).enumerate() {
                let el = &raw[i * elem..(i + 1) * elem];
                let s = match (inside, kind) {
                    (false, _) => outside.clone(),
                    (true, VlenKind::Sequence(item)) => self.resolve_vlen(el, item, what)?,
                    (true, VlenKind::String) => self.resolve_vlen_string(el, what)?,
                    (true, VlenKind::Json(dt)) => Bytes::from(self.json_text(dt, el, &mut budget)?),
                };
                if matches!(kind, VlenKind::String) && std::str::from_utf8(&s).is_err() {
                    return Err(refuse(
                        "variable-length string not UTF-8",
                        format!("chunk {key:?} element {i} is not valid UTF-8"),
                    ));
                }
                total = total.saturating_add(s.len() as u64 + 4);
                if total > MAX_STRING_CLEAN {
                    return Err(refuse(
                        too_large(),
                        format!("more than {MAX_STRING_CLEAN} bytes of {what}"),
                    ));
                }
                items.push(s);
            }
            let slices: Vec<&[u8]> = items.iter().map(|b| &b[..]).collect();
            let out = crate::zarr::codecs::vlen_utf8_chunk(&slices).ok_or_else(|| refuse(too_large(), "over 4 GiB"))?;
            *c = ChunkRef::Inline(Bytes::from(out));
        }
        Ok(())
    }

    /// The JSON text of one element `el` of `dt` (see [`json_values`]), spending `budget`
    /// values.
    fn json_text(&mut self, dt: &Datatype, el: &[u8], budget: &mut u64) -> Result<Vec<u8>, Refuse> {
        let feature = || format!("{} stored as JSON", dt.feature());
        let mut resolve = |r: &[u8], item: usize| self.resolve_vlen(r, item, "values stored as JSON");
        let mut enc = json_values::Encoder::new(&mut resolve, *budget);
        let v = enc.value(dt, el).map_err(|e| match e {
            json_values::EncodeError::Resolve(r) => r,
            json_values::EncodeError::Bad(why) => refuse(feature(), why),
        })?;
        *budget = enc.remaining();
        serde_json::to_vec(&v).map_err(|e| refuse(feature(), e.to_string()))
    }

    fn fill_value(&mut self, oh: &ObjectHeader, elem: u64) -> Result<FillValue, Refuse> {
        if let Some(m) = oh.first(msg::FILL_VALUE) {
            // Fill time "never": libhdf5 leaves unwritten elements untouched on read, and
            // h5py/netCDF show zeros there; the declared value stays in `_FillValue`.
            if fill_value::write_time_never(&m.data) {
                return Ok(FillValue::Default);
            }
        }
        let new = match oh.first(msg::FILL_VALUE) {
            Some(m) => Some(fill_value::parse(&m.data, m.offset, &self.sizes).map_err(|e| from_err(&e))?),
            None => None,
        };
        let value = match new {
            Some(FillValueMsg::Value(v)) => Some(v),
            _ => match oh.first(msg::FILL_VALUE_OLD) {
                Some(m) => match fill_value::parse_old(&m.data, m.offset).map_err(|e| from_err(&e))? {
                    FillValueMsg::Value(v) => Some(v),
                    _ => None,
                },
                None => None,
            },
        };
        match value {
            Some(v) if v.len() as u64 == elem => Ok(FillValue::Bytes(v)),
            Some(v) => Err(refuse(
                "corrupt fill value",
                format!("fill value is {} bytes, element size is {elem}", v.len()),
            )),
            None => Ok(FillValue::Default),
        }
    }

    /// Chunk references of contiguous storage at absolute `offset`; returns the chunk shape.
    ///
    /// With `split_contiguous: Some(b)` and rank ≥ 1 the data is cut along axis 0 into
    /// chunks of `rows = max(1, b / bytes_per_row)` rows. Every chunk, the last one included,
    /// references a full chunk of bytes (Zarr readers expect whole chunks; the part of the last
    /// chunk past the dataset's end lies outside the array and is discarded by readers). When
    /// the file ends before that full last chunk, the largest row count ≤ `rows` that divides
    /// the first dimension is used instead, and if that is below `rows / 4` the dataset stays
    /// one chunk.
    fn contiguous_chunks(
        &mut self,
        shape: &[u64],
        elem: u64,
        offset: u64,
        nbytes: u64,
        chunks: &mut BTreeMap<Vec<u64>, ChunkRef>,
    ) -> Vec<u64> {
        let one = |chunks: &mut BTreeMap<Vec<u64>, ChunkRef>| {
            chunks.insert(
                vec![0; shape.len()],
                ChunkRef::Virtual {
                    source: SourceId(0),
                    offset,
                    length: nbytes,
                },
            );
            shape.iter().map(|&d| d.max(1)).collect::<Vec<u64>>()
        };
        let (Some(target), Some((&n0, rest))) = (self.opts.split_contiguous, shape.split_first()) else {
            return one(chunks);
        };
        let row_bytes = rest.iter().try_fold(elem, |a, &d| a.checked_mul(d)).unwrap_or(0);
        if row_bytes == 0 || n0 == 0 {
            return one(chunks);
        }
        let mut rows = (target / row_bytes).max(1);
        if rows >= n0 {
            return one(chunks);
        }
        let full = |rows: u64| rows.saturating_mul(row_bytes);
        let count = |rows: u64| n0.div_ceil(rows);
        let last_end = offset.checked_add(full(rows).saturating_mul(count(rows)));
        if last_end.is_none_or(|e| e > self.src.size()) {
            let divisor = (1..=rows).rev().find(|r| n0 % r == 0).unwrap_or(1);
            if divisor < rows / 4 {
                return one(chunks);
            }
            rows = divisor;
        }
        if count(rows) > MAX_SPLIT_CHUNKS {
            return one(chunks);
        }
        for i in 0..count(rows) {
            let mut key = vec![0u64; shape.len()];
            if let Some(k) = key.first_mut() {
                *k = i;
            }
            let off = offset.saturating_add(i.saturating_mul(full(rows)));
            chunks.insert(
                key,
                ChunkRef::Virtual {
                    source: SourceId(0),
                    offset: off,
                    length: full(rows),
                },
            );
        }
        let mut cs = shape.to_vec();
        if let Some(c) = cs.first_mut() {
            *c = rows;
        }
        cs.iter().map(|&d| d.max(1)).collect()
    }

    /// Chunk references of a contiguous dataset stored in external files (`efl`), whose
    /// segments hold its bytes one after another: one chunk when one segment holds them all,
    /// else chunks of rows along the first axis such that no chunk straddles two segments.
    /// Names are resolved through [`Hdf5Options::other_files`]; returns the chunk shape.
    fn external_chunks(
        &mut self,
        efl: &ExternalFiles,
        shape: &[u64],
        elem: u64,
        nbytes: u64,
        chunks: &mut BTreeMap<Vec<u64>, ChunkRef>,
    ) -> Result<Vec<u64>, Refuse> {
        const F: &str = "external storage";
        let whole: Vec<u64> = shape.iter().map(|&d| d.max(1)).collect();
        let files = match (&self.opts.other_files, self.nested) {
            (Some(f), false) => std::sync::Arc::clone(f),
            _ => {
                return Err(refuse(
                    F,
                    "raw data in external files, and this reader was given no access to other files",
                ))
            }
        };
        let heap = LocalHeap::read(self.src, self.sizes, efl.heap).map_err(|e| from_err(&e))?;
        // (source, offset in its file, offset in the dataset's bytes, length)
        let mut pieces: Vec<(SourceId, u64, u64, u64)> = Vec::new();
        let mut pos = 0u64;
        for seg in &efl.segments {
            if pos >= nbytes {
                break;
            }
            let len = seg.size.min(nbytes - pos);
            if len == 0 {
                continue;
            }
            if seg.offset.checked_add(len).is_none() {
                return Err(refuse(F, "a segment beyond 2^64 bytes"));
            }
            let name = heap.get_string(seg.name_offset).map_err(|e| from_err(&e))?;
            let loc = files.resolve(&name).map_err(|e| refuse(F, format!("{name}: {e}")))?;
            pieces.push((self.source_id(&loc)?, seg.offset, pos, len));
            pos += len;
        }
        if pos < nbytes {
            return Err(refuse(
                F,
                format!("the external segments hold {pos} bytes, the dataset needs {nbytes}"),
            ));
        }
        if let [(source, offset, _, length)] = pieces[..] {
            chunks.insert(vec![0; shape.len()], ChunkRef::Virtual { source, offset, length });
            return Ok(whole);
        }
        if pieces.is_empty() {
            return Ok(whole);
        }
        let Some((&n0, rest)) = shape.split_first() else {
            return Err(refuse(F, "a scalar split over several external files"));
        };
        let row = rest.iter().try_fold(elem, |a, &d| a.checked_mul(d)).unwrap_or(0);
        let mut rows = n0;
        for &(_, _, start, _) in &pieces[1..] {
            if row == 0 || start % row != 0 {
                return Err(refuse(F, "an external segment boundary splits a row of the first axis"));
            }
            rows = gcd(rows, start / row);
        }
        let count = n0 / rows.max(1);
        if count > MAX_SPLIT_CHUNKS {
            return Err(refuse(F, format!("more than {MAX_SPLIT_CHUNKS} chunks")));
        }
        let length = rows * row;
        for i in 0..count {
            let start = i * length;
            let &(source, offset, p_start, _) = pieces
                .iter()
                .rev()
                .find(|p| p.2 <= start)
                .ok_or_else(|| refuse(F, "no segment holds a chunk"))?;
            let mut key = vec![0u64; shape.len()];
            key[0] = i;
            chunks.insert(
                key,
                ChunkRef::Virtual {
                    source,
                    offset: offset + (start - p_start),
                    length,
                },
            );
        }
        let mut cs = whole;
        cs[0] = rows.max(1);
        Ok(cs)
    }

    /// Chunk references of a chunk index (v1 B-tree or layout v4); returns the chunk shape.
    /// With `defer`, and a worker thread running, the index is walked there instead (see
    /// [`Walker::apply_chunk_jobs`]) and `chunks` is left empty for now.
    #[allow(clippy::too_many_arguments)]
    fn chunked(
        &mut self,
        path: &str,
        shape: &[u64],
        elem: u64,
        source: chunk_index::Source<'_>,
        dims: &[u32],
        filters: &[Filter],
        chunks: &mut BTreeMap<Vec<u64>, ChunkRef>,
        defer: bool,
    ) -> Result<Vec<u64>, Refuse> {
        let chunk_shape = chunk_geometry(shape, elem, dims)?;
        if source.addr() == UNDEF {
            return Ok(chunk_shape);
        }
        let job = ChunkJob {
            path: path.to_string(),
            refusal_at: self.refusals.len(),
            shape: shape.to_vec(),
            elem,
            source: OwnedSource::from(&source),
            chunk_shape: chunk_shape.clone(),
            filters: filters.to_vec(),
        };
        if defer && self.chunk_jobs.is_some() {
            self.job_batch.push(job);
            if self.job_batch.len() >= JOB_BATCH {
                let batch = std::mem::take(&mut self.job_batch);
                if let Some(tx) = &self.chunk_jobs {
                    // A closed channel (the worker is gone): indexed here after the walk.
                    if let Err(std::sync::mpsc::SendError(batch)) = tx.send(batch) {
                        self.job_batch = batch;
                        self.chunk_jobs = None;
                    }
                }
            }
            return Ok(chunk_shape);
        }
        self.chunked_here(&job, chunks)
    }

    /// The chunk map of `job` walked on this thread, re-encoding within this file's budget.
    fn index_here(&mut self, job: &ChunkJob) -> Result<ChunkMap, Refuse> {
        let mut reencoded = self.reencoded;
        let r = job.index(self.src, self.sizes, Some(&mut reencoded));
        self.reencoded = reencoded;
        r.map_err(|e| match e {
            JobError::Refused(why) => why,
            // Not given with a budget.
            JobError::NeedsReencoding => refuse("per-chunk filter mask", "chunks that skip filters"),
        })
    }

    /// [`Walker::chunked`] on this thread.
    fn chunked_here(&mut self, job: &ChunkJob, chunks: &mut BTreeMap<Vec<u64>, ChunkRef>) -> Result<Vec<u64>, Refuse> {
        let found = self.index_here(job)?;
        if chunks.is_empty() {
            *chunks = found;
        } else {
            chunks.extend(found);
        }
        Ok(job.chunk_shape.clone())
    }

    /// The attributes of an object as JSON (compact and dense storage).
    fn attributes(&mut self, oh: &ObjectHeader, path: &str) -> Attributes {
        let mut out = Attributes::new();
        let mut raw: Vec<(u8, Bytes, u64)> = oh
            .of_type(msg::ATTRIBUTE)
            .map(|m| (m.flags, m.data.clone(), m.offset))
            .collect();
        if let Some(m) = oh.first(msg::ATTRIBUTE_INFO) {
            match attribute_info::parse(&m.data, m.offset, &self.sizes) {
                Ok(ai) if ai.heap_addr != UNDEF && ai.name_btree_addr != UNDEF => {
                    match adapters::dense_attributes(self.src, self.sizes, ai.heap_addr, ai.name_btree_addr) {
                        Ok(list) => raw.extend(list.into_iter().map(|(f, b)| (f, b, 0))),
                        Err(e) => self.warning(path, (format!("attributes: {}", e.feature()), e.to_string())),
                    }
                }
                Ok(_) => {}
                Err(e) => self.warning(path, from_err(&e)),
            }
        }
        for (flags, body, offset) in raw {
            let m = Message {
                mtype: msg::ATTRIBUTE,
                flags,
                data: body,
                offset,
            };
            let m = match self.unshared(&m, msg::ATTRIBUTE) {
                Ok(m) => m.into_owned(),
                Err(r) => {
                    self.warning(path, r);
                    continue;
                }
            };
            let mut a = match attribute::parse(&m.data, m.offset, &self.sizes) {
                Ok(a) => a,
                Err(e) => {
                    self.warning(path, (format!("attribute: {}", e.feature()), e.to_string()));
                    continue;
                }
            };
            if let Err(r) = self.resolve_attribute_types(&mut a) {
                self.warning(&format!("{path} @{}", a.name), r);
                continue;
            }
            if a.name == "DIMENSION_LIST" {
                match self.dimension_list(&a) {
                    Ok(list) => self.dim_lists.push((path.to_string(), list)),
                    Err(r) => self.warning(&format!("{path} @DIMENSION_LIST"), r),
                }
            }
            if a.name == "CLASS" && matches!(self.attribute_value(&a), Ok(Value::String(v)) if v == "DIMENSION_SCALE") {
                self.scales.push(path.to_string());
            }
            if a.name == "NAME"
                && matches!(self.attribute_value(&a), Ok(Value::String(v)) if v.starts_with(NETCDF_DIMENSION_ONLY))
            {
                self.dimension_only.push(path.to_string());
            }
            if a.name == "_Netcdf4Dimid" {
                if let Ok(v) = self.attribute_value(&a) {
                    let id = v.as_i64().or_else(|| v.as_array()?.first()?.as_i64());
                    self.max_dim_id = self.max_dim_id.max(id.unwrap_or(-1));
                }
            }
            if crate::model::NETCDF_INTERNAL_ATTRIBUTES.contains(&a.name.as_str()) {
                continue;
            }
            match self.attribute_value(&a) {
                Ok(v) => {
                    out.insert(a.name, v);
                }
                Err((feature, reason)) => {
                    let p = format!("{path} @{}", a.name);
                    self.warning(
                        &p,
                        (
                            format!("attribute {feature}"),
                            format!("attribute {}: {reason}", a.name),
                        ),
                    );
                }
            }
        }
        out
    }

    /// Convert an attribute value to JSON.
    ///
    /// Integers → JSON integers; floats → numbers, with NaN/±∞ as the strings `"NaN"`,
    /// `"Infinity"`, `"-Infinity"`; fixed strings → strings with padding stripped per the
    /// padding type; variable-length strings (global heap) → strings; enums → their integer
    /// value. Other classes are refused (the caller records a warning).
    fn attribute_value(&mut self, a: &AttributeMsg) -> Result<Value, Refuse> {
        let (Some(dt), Some(space)) = (&a.datatype, &a.dataspace) else {
            return Err(refuse(
                "with shared datatype",
                "the datatype or dataspace is a shared message",
            ));
        };
        let n = space
            .num_elements()
            .ok_or_else(|| refuse("corrupt dataspace", "element count overflows"))?;
        if *space == Dataspace::Null {
            return Ok(Value::Null);
        }
        let size = usize::try_from(dt.size()).map_err(|_| refuse("corrupt datatype", "size"))?;
        if size == 0 {
            // HDF5 has no zero-size types; with one, any element count would "fit".
            return Err(refuse("corrupt datatype", "element size 0"));
        }
        let n = usize::try_from(n).map_err(|_| refuse("corrupt dataspace", "too many elements"))?;
        let need = n.checked_mul(size).filter(|&b| b <= a.data.len()).ok_or_else(|| {
            refuse(
                "corrupt attribute",
                format!("{n} elements of {size} bytes do not fit in {} bytes", a.data.len()),
            )
        })?;
        let data = a.data.slice(..need);
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            let raw = data.get(i * size..(i + 1) * size).unwrap_or_default();
            values.push(self.element_value(dt, raw)?);
        }
        Ok(match space {
            Dataspace::Scalar => values.into_iter().next().unwrap_or(Value::Null),
            _ => nest(values, &space.shape()),
        })
    }

    fn element_value(&mut self, dt: &Datatype, raw: &[u8]) -> Result<Value, Refuse> {
        match dt {
            Datatype::FixedPoint { .. } | Datatype::Enum { .. } => {
                let base = match dt {
                    Datatype::Enum { base, .. } => base.as_ref(),
                    d => d,
                };
                int_value(base, raw).ok_or_else(|| refuse(dt.feature(), "integer layout not supported"))
            }
            Datatype::Float {
                size,
                order,
                ieee: true,
                ..
            } if *order != ByteOrder::Vax => {
                if raw.len() != *size as usize {
                    return Err(refuse(dt.feature(), "element size mismatch"));
                }
                let mut b = raw.to_vec();
                if *order == ByteOrder::Big {
                    b.reverse();
                }
                let v = match size {
                    2 => f16_to_f64(u16::from_le_bytes([b[0], b[1]])),
                    4 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    8 => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                    _ => return Err(refuse(dt.feature(), "float size")),
                };
                Ok(crate::model::float_json(v))
            }
            Datatype::String { pad, .. } => Ok(Value::String(strip_string(raw, *pad))),
            Datatype::VarLen { string: true, .. } => {
                let mut c = crate::io::cursor::Cursor::new(raw, 0, "variable-length string");
                let r = VlenRef::parse(&mut c, self.sizes).map_err(|e| from_err(&e))?;
                let b = self
                    .gheap
                    .resolve(self.src, self.sizes, r, 1)
                    .map_err(|e| from_err(&e))?;
                Ok(Value::String(strip_string(&b, str_pad::NULL_PAD)))
            }
            other => Err(refuse(
                other.feature(),
                format!("{} values are not converted to JSON", other.feature()),
            )),
        }
    }

    /// Add datasets reached through soft links; warn about the others.
    fn resolve_soft_links(&mut self, root: &mut Group) {
        for (parent, name, target) in std::mem::take(&mut self.soft_links) {
            let link_path = join(&parent, &name);
            let abs = if target.starts_with('/') {
                target.clone()
            } else {
                join(&parent, &target)
            };
            match root.node(&abs) {
                Some(Node::Array(a)) => {
                    let a = a.clone();
                    if let Some(g) = root.group_mut(&parent) {
                        g.children.insert(name, Node::Array(a));
                    }
                }
                Some(Node::Group(_)) => self.warning(
                    &link_path,
                    refuse(
                        "soft link to group",
                        format!("soft link {name} → {target} points to a group"),
                    ),
                ),
                None => self.warning(
                    &link_path,
                    refuse(
                        "dangling soft link",
                        format!("soft link {name} → {target} does not resolve to a mapped object"),
                    ),
                ),
            }
        }
    }
}

/// Largest NUL-terminated string dataset checked (and cleaned) at creation, in bytes.
const MAX_STRING_CLEAN: u64 = 64 << 20;

/// Chunk indexes sent to the worker thread at a time.
const JOB_BATCH: usize = 16;

/// Chunk references by chunk grid coordinates.
type ChunkMap = BTreeMap<Vec<u64>, ChunkRef>;

/// The chunk shape of a chunked layout's dimensions (the last one is the element size),
/// checked against the dataset.
fn chunk_geometry(shape: &[u64], elem: u64, dims: &[u32]) -> Result<Vec<u64>, Refuse> {
    let rank = shape.len();
    let (last, cdims) = dims
        .split_last()
        .ok_or_else(|| refuse("corrupt data layout", "no chunk dimensions"))?;
    if cdims.len() != rank || rank == 0 {
        return Err(refuse(
            "corrupt data layout",
            format!("chunk rank {} does not match dataset rank {rank}", cdims.len()),
        ));
    }
    if u64::from(*last) != elem {
        return Err(refuse(
            "corrupt data layout",
            format!("chunk element size {last}, datatype size {elem}"),
        ));
    }
    if cdims.contains(&0) {
        return Err(refuse("corrupt data layout", "zero chunk dimension"));
    }
    let chunk_shape: Vec<u64> = cdims.iter().map(|&d| u64::from(d)).collect();
    let chunk_bytes = chunk_shape.iter().try_fold(elem, |a, &d| a.checked_mul(d));
    if chunk_bytes.is_none_or(|b| b > crate::model::MAX_CHUNK_BYTES) {
        // libhdf5 refuses such chunks too; a reader would have to allocate one to decode it.
        return Err(refuse(
            "corrupt data layout",
            format!("chunks of {chunk_shape:?} elements of {elem} bytes exceed HDF5's 4 GiB chunk limit"),
        ));
    }
    Ok(chunk_shape)
}

/// [`chunk_index::Source`] owning its parameters, to be sent to another thread.
#[derive(Debug)]
enum OwnedSource {
    BtreeV1(u64),
    V4 {
        index: super::messages::layout::ChunkIndex,
        flags: u8,
        max_shape: Vec<u64>,
        addr: u64,
    },
}

impl From<&chunk_index::Source<'_>> for OwnedSource {
    fn from(s: &chunk_index::Source<'_>) -> Self {
        match *s {
            chunk_index::Source::BtreeV1(a) => OwnedSource::BtreeV1(a),
            chunk_index::Source::V4 {
                index,
                flags,
                max_shape,
                addr,
            } => OwnedSource::V4 {
                index: index.clone(),
                flags,
                max_shape: max_shape.to_vec(),
                addr,
            },
        }
    }
}

/// One dataset's chunk index to walk.
#[derive(Debug)]
struct ChunkJob {
    /// The dataset's path.
    path: String,
    /// Where in [`Walker::refusals`] its refusal goes (the walk's order).
    refusal_at: usize,
    shape: Vec<u64>,
    elem: u64,
    source: OwnedSource,
    chunk_shape: Vec<u64>,
    filters: Vec<Filter>,
}

/// Why a chunk index was not mapped.
#[derive(Debug)]
enum JobError {
    /// The dataset is refused.
    Refused(Refuse),
    /// Some chunks skip filters and must be re-encoded, which the worker thread does not do
    /// (the budget for it is the walker's).
    NeedsReencoding,
}

impl ChunkJob {
    /// On the worker thread: everything but re-encoding.
    fn run(&self, src: &dyn ReadAt, sizes: Sizes) -> Result<ChunkMap, JobError> {
        self.index(src, sizes, None)
    }

    /// The chunk references of the index; chunks that skip some filters are re-encoded
    /// inline while `reencoded` (bytes so far) stays within [`MAX_REENCODED_BYTES`], or
    /// [`JobError::NeedsReencoding`] without a budget.
    fn index(&self, src: &dyn ReadAt, sizes: Sizes, mut reencoded: Option<&mut u64>) -> Result<ChunkMap, JobError> {
        let (shape, elem, filters, chunk_shape) = (&self.shape, self.elem, &self.filters, &self.chunk_shape);
        let rank = shape.len();
        let grid: Vec<u64> = shape.iter().zip(chunk_shape).map(|(&s, &c)| s.div_ceil(c)).collect();
        let file_size = src.size();
        let mut problem: Option<JobError> = None;
        // Collected, then built into the map at once: indexes list chunks in key order, and
        // building a B-tree from sorted entries is much cheaper than inserting them one by one.
        let mut found: Vec<(Vec<u64>, ChunkRef)> = Vec::new();
        let mut visit = |rec: ChunkRec| -> Result<(), Hdf5Error> {
            if problem.is_some() {
                return Ok(());
            }
            let mut key = Vec::with_capacity(rank);
            for ((&o, &c), &g) in rec.offsets.iter().zip(chunk_shape).zip(&grid) {
                if o % c != 0 {
                    problem = Some(JobError::Refused(refuse(
                        "corrupt chunk index",
                        format!("chunk offset {o} not a multiple of {c}"),
                    )));
                    return Ok(());
                }
                if o / c >= g {
                    // Past the current extent (dataset shrunk): not visible to readers.
                    return Ok(());
                }
                key.push(o / c);
            }
            if key.len() != rank {
                problem = Some(JobError::Refused(refuse(
                    "corrupt chunk index",
                    "chunk key rank mismatch",
                )));
                return Ok(());
            }
            let Some(off) = abs_addr(&sizes, rec.addr)
                .filter(|o| o.checked_add(u64::from(rec.size)).is_some_and(|e| e <= file_size))
            else {
                problem = Some(JobError::Refused(refuse(
                    "truncated or unreadable",
                    format!("chunk {key:?} lies past the end of the file"),
                )));
                return Ok(());
            };
            let r = if rec.filter_mask == 0 || filters.is_empty() {
                ChunkRef::Virtual {
                    source: SourceId(0),
                    offset: off,
                    length: u64::from(rec.size),
                }
            } else {
                let Some(budget) = reencoded.as_deref_mut() else {
                    problem = Some(JobError::NeedsReencoding);
                    return Ok(());
                };
                *budget = budget.saturating_add(u64::from(rec.size));
                if *budget > MAX_REENCODED_BYTES {
                    problem = Some(JobError::Refused(refuse(
                        "per-chunk filter mask",
                        "too many chunks skip filters to re-encode them inline",
                    )));
                    return Ok(());
                }
                let stored = read_exact(src, "chunk", off, u64::from(rec.size))?;
                let elem32 = u32::try_from(elem).unwrap_or(u32::MAX);
                match filters::reencode(&stored, filters, rec.filter_mask, elem32) {
                    Ok(b) => ChunkRef::Inline(Bytes::from(b)),
                    Err(e) => {
                        problem = Some(JobError::Refused(refuse(
                            "per-chunk filter mask",
                            format!("chunk {key:?}: {e}"),
                        )));
                        return Ok(());
                    }
                }
            };
            found.push((key, r));
            Ok(())
        };
        let res = match &self.source {
            OwnedSource::BtreeV1(addr) => adapters::chunk_records(src, sizes, *addr, rank + 1, &mut visit),
            OwnedSource::V4 {
                index,
                flags,
                max_shape,
                addr,
            } => {
                let g = chunk_index::Geometry {
                    shape,
                    max_shape,
                    chunk: chunk_shape,
                    elem,
                    nfilters: filters.len(),
                    flags: *flags,
                };
                chunk_index::visit(src, sizes, index, *addr, &g, &mut visit)
            }
        };
        res.map_err(|e| JobError::Refused(from_err(&e)))?;
        if let Some(p) = problem {
            return Err(p);
        }
        // A stable sort keeps the index's order among equal keys, and the later entry wins,
        // as with inserting one by one.
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                std::mem::swap(later, earlier);
            }
            same
        });
        Ok(found.into_iter().collect())
    }
}

/// Greatest common divisor.
fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn count_region(total: &mut u64, n: usize) -> Result<(), Refuse> {
    *total = total.saturating_add(n as u64 + 4);
    if *total > MAX_STRING_CLEAN {
        return Err(refuse(
            "reference datatype",
            format!("the referenced regions take over {MAX_STRING_CLEAN} bytes, too many to store inline"),
        ));
    }
    Ok(())
}

/// Region-reference items as one inline `vlen-utf8`-encoded chunk.
fn region_chunk(items: &[Vec<u8>]) -> Result<ChunkRef, Refuse> {
    let slices: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    let chunk = crate::zarr::codecs::vlen_utf8_chunk(&slices)
        .ok_or_else(|| refuse("reference datatype", "a chunk of regions over 4 GiB"))?;
    Ok(ChunkRef::Inline(Bytes::from(chunk)))
}

/// Whether each element of chunk `key` (in C order) lies inside the array `shape`; elements
/// of edge chunks beyond it do not.
fn inside_array<'a>(key: &'a [u64], chunk_shape: &'a [u64], shape: &'a [u64]) -> impl Iterator<Item = bool> + 'a {
    let mut idx = vec![0u64; chunk_shape.len()];
    let mut done = chunk_shape.contains(&0);
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let inside = idx
            .iter()
            .zip(key)
            .zip(chunk_shape.iter().zip(shape))
            .all(|((&j, &k), (&cs, &n))| k.saturating_mul(cs).saturating_add(j) < n);
        // Next position; past the last one the iterator ends.
        done = true;
        for d in (0..idx.len()).rev() {
            idx[d] += 1;
            if idx[d] < chunk_shape[d] {
                done = false;
                break;
            }
            idx[d] = 0;
        }
        Some(inside)
    })
}

/// What [`Walker::inline_vlen`] makes of each variable-length element.
#[derive(Debug, Clone, Copy)]
enum VlenKind<'a> {
    /// A string, cut at its first NUL.
    String,
    /// A sequence's items (of this many bytes each), as stored.
    Sequence(usize),
    /// The JSON text of an element of this type.
    Json(&'a Datatype),
}

/// The attribute naming the NumPy dtype of a variable-length sequence's items (a `vlen-bytes`
/// array holds each sequence's item bytes as stored: `np.frombuffer(element, dtype)` is the
/// sequence h5py reads).
pub const VLEN_DTYPE_ATTR: &str = "_hdf5_vlen_dtype";

/// The item size and NumPy dtype string of a variable-length sequence's base type, which must
/// be a fixed-size type NumPy reads as it is stored (numbers, enums, fixed strings, opaque,
/// complex); anything else is refused by name.
fn vlen_sequence_item(base: Option<&Datatype>) -> Result<(usize, String), Refuse> {
    let base = base.ok_or_else(|| refuse("variable-length sequence", "the base type is not decodable"))?;
    let unsupported = |why: String| refuse(format!("variable-length sequence of {}", base.feature()), why);
    let (dt, endian) = map_datatype(base).map_err(|r| unsupported(r.1))?;
    if matches!(dt, DataType::Structured(_) | DataType::VlenUtf8 | DataType::VlenBytes) {
        return Err(unsupported(
            "only sequences of fixed-size scalar items are mapped".into(),
        ));
    }
    let size = dt
        .size()
        .filter(|&n| n > 0 && n as u64 == u64::from(base.size()))
        .ok_or_else(|| unsupported("item size differs from its mapped type".into()))?;
    Ok((size, crate::zarr::dtype::numpy_dtype(&dt, endian)))
}

/// The model type and byte order of a dataset datatype, or a refusal.
/// The conversion of an integer with padding bits or a non-IEEE float to the type h5py reads
/// (an integer of the same size; the smallest IEEE float holding the layout), with that type;
/// `None` for types stored as h5py reads them. VAX floats and layouts no IEEE type holds
/// (80-bit extended) are refused.
fn conversion_for(dt: &Datatype) -> Result<Option<(DataType, convert::Conversion)>, Refuse> {
    match dt {
        Datatype::FixedPoint {
            size,
            order,
            signed,
            bit_offset,
            precision,
        } if matches!(size, 1 | 2 | 4 | 8) && (*bit_offset != 0 || u32::from(*precision) != size * 8) => {
            let c = convert::Conversion::int(
                *size as usize,
                *order == ByteOrder::Big,
                *signed,
                u32::from(*bit_offset),
                u32::from(*precision),
            )
            .map_err(|e| refuse("integer datatype with padding bits", e))?;
            let bits = u8::try_from(size * 8).unwrap_or(64);
            Ok(Some((
                if *signed {
                    DataType::Int(bits)
                } else {
                    DataType::UInt(bits)
                },
                c,
            )))
        }
        Datatype::Float {
            size,
            order,
            ieee: false,
            bits,
        } if *order != ByteOrder::Vax && raw_float_format(dt).is_none() => {
            let feature = "non-IEEE floating-point datatype";
            let out = convert::h5py_float_target(
                *size as usize,
                u32::from(bits.exp_size),
                u32::from(bits.mant_size),
                u64::from(bits.bias),
            )
            .ok_or_else(|| {
                refuse(
                    feature,
                    format!(
                        "{size}-byte float with a {}-bit exponent and {}-bit mantissa: no IEEE type holds it",
                        bits.exp_size, bits.mant_size
                    ),
                )
            })?;
            let c = convert::Conversion::float(*size as usize, *order == ByteOrder::Big, bits, out)
                .map_err(|e| refuse(feature, e))?;
            Ok(Some((DataType::Float(u8::try_from(out * 8).unwrap_or(64)), c)))
        }
        _ => Ok(None),
    }
}

/// The attribute naming the float format of raw 16-byte floats (and 32-byte complex numbers
/// of them), which Zarr has no type for: [`X87_EXTENDED`], or the layout in words.
pub const FLOAT_FORMAT_ATTR: &str = "_hdf5_float_format";

/// [`FLOAT_FORMAT_ATTR`]'s value for x87 80-bit extended floats in 16 bytes, little-endian.
pub const X87_EXTENDED: &str = "x87_extended_80";

/// The format of floats stored as raw bytes, `None` for any other type: a 16-byte
/// little-endian x87 extended float (h5py reads it unconverted as NumPy's `longdouble` on
/// x86-64) or a complex number of two; or a complex number of two other 16-byte
/// little-endian floats, such as HDF5's quad-layout long double with a stored leading bit
/// (h5py, through HDF5 2.0, returns their bytes unconverted as `clongdouble`).
fn raw_float_format(dt: &Datatype) -> Option<String> {
    match dt {
        Datatype::Float {
            size: 16,
            order: ByteOrder::Little,
            ieee: false,
            bits,
        } if bits.is_x87_extended() => Some(X87_EXTENDED.into()),
        Datatype::Complex { size: 32, base } => match base.as_ref() {
            Datatype::Float {
                size: 16,
                order: ByteOrder::Little,
                ieee: false,
                bits,
            } => Some(if bits.is_x87_extended() {
                X87_EXTENDED.into()
            } else {
                bits.describe()
            }),
            _ => None,
        },
        // h5py writes `clongdouble` as a compound of `r` and `i`.
        Datatype::Compound { size: 32, members } => match &members[..] {
            [r, i] if r.name == "r" && i.name == "i" && r.offset == 0 && i.offset == 16 => {
                let f = raw_float_format(&r.dtype).filter(|f| f == X87_EXTENDED)?;
                raw_float_format(&i.dtype).filter(|g| *g == f)
            }
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn map_datatype(dt: &Datatype) -> Result<(DataType, Option<Endian>), Refuse> {
    if raw_float_format(dt).is_some() {
        // No Zarr float is 80 or 128 bits wide: raw bits, named by an attribute (see `dataset`).
        return Ok((DataType::RawBytes(dt.size()), None));
    }
    let endian = |o: ByteOrder, size: u32| -> Option<Endian> {
        if size <= 1 {
            None
        } else if o == ByteOrder::Big {
            Some(Endian::Big)
        } else {
            Some(Endian::Little)
        }
    };
    match dt {
        Datatype::FixedPoint {
            size,
            order,
            signed,
            bit_offset,
            precision,
        } => {
            if !matches!(size, 1 | 2 | 4 | 8) {
                return Err(refuse(
                    format!("{size}-byte integer datatype"),
                    "integer size not 1, 2, 4 or 8 bytes",
                ));
            }
            if *bit_offset != 0 || u32::from(*precision) != size * 8 {
                return Err(refuse(
                    "integer datatype with padding bits",
                    format!("{precision}-bit integer at bit offset {bit_offset} in {size} bytes"),
                ));
            }
            let bits = u8::try_from(size * 8).unwrap_or(64);
            Ok((
                if *signed {
                    DataType::Int(bits)
                } else {
                    DataType::UInt(bits)
                },
                endian(*order, *size),
            ))
        }
        Datatype::Float { size, order, ieee, .. } => {
            if *order == ByteOrder::Vax {
                return Err(refuse("VAX floating-point datatype", "VAX byte order"));
            }
            if !ieee || !matches!(size, 2 | 4 | 8) {
                return Err(refuse(
                    "non-IEEE floating-point datatype",
                    format!("{size}-byte float with a custom layout"),
                ));
            }
            Ok((
                DataType::Float(u8::try_from(size * 8).unwrap_or(64)),
                endian(*order, *size),
            ))
        }
        Datatype::String { size, .. } => {
            if *size == 0 {
                return Err(refuse("zero-length string datatype", "string of size 0"));
            }
            Ok((DataType::FixedBytes(*size), None))
        }
        // COMPATIBILITY: h5py reads an enum of exactly FALSE = 0 and TRUE = 1 over a one-byte
        // integer as NumPy bool (h5py `h5t.pyx`, `_c_enum`); netCDF-4 writes these too.
        Datatype::Enum { base, members }
            if base.size() == 1
                && members.len() == 2
                && members.iter().any(|(n, v)| n == "FALSE" && v.as_slice() == [0])
                && members.iter().any(|(n, v)| n == "TRUE" && v.as_slice() == [1]) =>
        {
            Ok((DataType::Bool, None))
        }
        Datatype::Enum { base, .. } => match base.as_ref() {
            b @ Datatype::FixedPoint { .. } => map_datatype(b),
            _ => Err(refuse(
                "enum datatype with non-integer base",
                "enum base is not an integer",
            )),
        },
        Datatype::Bitfield {
            size,
            order,
            bit_offset,
            precision,
        } => {
            // h5py reads bitfields as unsigned integers of the same size.
            if !matches!(size, 1 | 2 | 4 | 8) || *bit_offset != 0 || u32::from(*precision) != size * 8 {
                return Err(refuse(
                    "bitfield datatype with padding bits",
                    format!("{precision}-bit bitfield at bit offset {bit_offset} in {size} bytes"),
                ));
            }
            Ok((
                DataType::UInt(u8::try_from(size * 8).unwrap_or(64)),
                endian(*order, *size),
            ))
        }
        Datatype::Opaque { size, .. } => {
            if *size == 0 {
                return Err(refuse("zero-length opaque datatype", "opaque type of size 0"));
            }
            Ok((DataType::RawBytes(*size), None))
        }
        Datatype::Complex { size, base } => match base.as_ref() {
            Datatype::Float {
                size: part,
                order,
                ieee: true,
                ..
            } if matches!(part, 4 | 8) && *order != ByteOrder::Vax && *size == part * 2 => Ok((
                DataType::Complex(u8::try_from(size * 8).unwrap_or(128)),
                endian(*order, *part),
            )),
            _ => Err(refuse(
                "complex datatype of non-IEEE or extended floats",
                format!("{size}-byte complex type has no Zarr equivalent"),
            )),
        },
        Datatype::Compound { size, members } => map_compound(*size, members),
        other => Err(refuse(
            other.feature(),
            format!("no Zarr data type for HDF5 {}", other.feature()),
        )),
    }
}

/// Every dataset of the file by group, for [`phony_dimensions`].
struct Datasets {
    /// Group path (`""` for the root) → dataset name → dataspace shape.
    by_group: BTreeMap<String, BTreeMap<String, Vec<u64>>>,
    /// Paths of dimension scales.
    scales: std::collections::HashSet<String>,
    /// Paths of datasets with at least one scale attached.
    labeled: std::collections::HashSet<String>,
}

/// The names of an array's axes from the paths of their dimension scales: each scale's
/// basename, as netCDF names dimensions. When two axes would get one name from two different
/// scales (netCDF lets a group's dimension shadow an ancestor's of the same name, and a
/// variable may use both), each such axis whose scale lies outside the array's own group is
/// named by the scale's absolute path (`/Y`), so readers see two dimensions, not one with two
/// lengths.
fn axis_names(array_path: &str, scale_paths: &[Option<&String>]) -> Vec<Option<String>> {
    let own_group = parent_path(array_path);
    scale_paths
        .iter()
        .map(|sp| {
            let sp = (*sp)?;
            let name = basename(sp);
            let shadowed = scale_paths
                .iter()
                .flatten()
                .any(|other| *other != sp && basename(other) == name);
            Some(if shadowed && parent_path(sp) != own_group {
                if sp.starts_with('/') {
                    sp.clone()
                } else {
                    format!("/{sp}")
                }
            } else {
                name.to_string()
            })
        })
        .collect()
}

/// netCDF-style names for the axes of datasets without any dimension scale, the way
/// netCDF-C and h5netcdf (`phony_dims="sort"`) name them. Groups are visited parent first,
/// children in name order. In each group, every distinct axis length `n` of unscaled datasets
/// (refused ones included) needs as many dimensions of length `n` as the most axes of that
/// length in one dataset; the group's dimension scales of that length count first, the
/// missing ones are created as `phony_dim_<k>` with `k` counting on from the file's largest
/// `_Netcdf4Dimid`. A dataset's j-th axis of length `n` takes the group's j-th dimension of
/// length `n` (scales first, in name order, then phony dimensions in creation order). Axes
/// added for an HDF5 array datatype stay unnamed.
fn phony_dimensions(g: &mut Group, path: &str, known: &Datasets, max_dim_id: i64, count: &mut i64) {
    // The k-th occurrence of `n` in `seen` (returned before counting this one).
    fn bump(seen: &mut Vec<(u64, usize)>, n: u64) -> usize {
        if let Some(e) = seen.iter_mut().find(|(m, _)| *m == n) {
            e.1 += 1;
            e.1 - 1
        } else {
            seen.push((n, 1));
            0
        }
    }
    let empty = BTreeMap::new();
    let datasets = known.by_group.get(path).unwrap_or(&empty);
    let unscaled = |name: &str| {
        let p = join(path, name);
        !known.scales.contains(&p) && !known.labeled.contains(&p)
    };
    let mut dims: Vec<(String, u64)> = Vec::new();
    let mut wanted: Vec<(u64, usize)> = Vec::new();
    for (name, shape) in datasets {
        if known.scales.contains(&join(path, name)) {
            if let Some(&n) = shape.first() {
                dims.push((name.clone(), n));
            }
        } else if unscaled(name) {
            let mut here = Vec::new();
            for &n in shape {
                bump(&mut here, n);
            }
            for (n, k) in here {
                match wanted.iter_mut().find(|(m, _)| *m == n) {
                    Some(w) => w.1 = w.1.max(k),
                    None => wanted.push((n, k)),
                }
            }
        }
    }
    for (n, k) in wanted {
        let have = dims.iter().filter(|(_, m)| *m == n).count();
        for _ in have..k {
            let id = count.saturating_add(max_dim_id).saturating_add(1);
            dims.push((format!("phony_dim_{id}"), n));
            *count += 1;
        }
    }
    for (name, node) in &mut g.children {
        let (Node::Array(a), Some(shape)) = (node, datasets.get(name)) else {
            continue;
        };
        if shape.is_empty() || !unscaled(name) || a.dimension_names.is_some() || a.shape.len() < shape.len() {
            continue;
        }
        let mut seen = Vec::new();
        let mut names: Vec<Option<String>> = shape
            .iter()
            .map(|&n| {
                let j = bump(&mut seen, n);
                dims.iter().filter(|(_, m)| *m == n).nth(j).map(|(d, _)| d.clone())
            })
            .collect();
        names.resize(a.shape.len(), None);
        a.dimension_names = Some(names);
    }
    for (name, node) in &mut g.children {
        if let Node::Group(sub) = node {
            let p = join(path, name);
            phony_dimensions(sub, &p, known, max_dim_id, count);
        }
    }
}

/// Names for the axes [`phony_dimensions`] leaves unnamed — axes added for an HDF5 array
/// datatype, axes of labeled datasets without a scale of their own — so that every axis has a
/// name, as xarray requires. They come after all netCDF-style phony dimensions of the file, so
/// those keep netCDF-C's numbers: per group (same order), a dataset's j-th unnamed axis of
/// length `n` takes the group's j-th such dimension of length `n`, created as `phony_dim_<k>`
/// with `k` counting on. Rank-0 arrays get an empty list.
fn name_remaining_axes(g: &mut Group, max_dim_id: i64, count: &mut i64) {
    let mut dims: Vec<(String, u64)> = Vec::new();
    for node in g.children.values_mut() {
        let Node::Array(a) = node else { continue };
        let names = a.dimension_names.get_or_insert_with(Vec::new);
        names.resize(a.shape.len(), None);
        let mut seen: Vec<(u64, usize)> = Vec::new();
        for (name, &n) in names.iter_mut().zip(&a.shape) {
            if name.is_some() {
                continue;
            }
            let j = match seen.iter_mut().find(|(m, _)| *m == n) {
                Some(e) => {
                    e.1 += 1;
                    e.1 - 1
                }
                None => {
                    seen.push((n, 1));
                    0
                }
            };
            let have = dims.iter().filter(|(_, m)| *m == n).count();
            for _ in have..=j {
                let id = count.saturating_add(max_dim_id).saturating_add(1);
                dims.push((format!("phony_dim_{id}"), n));
                *count += 1;
            }
            *name = dims.iter().filter(|(_, m)| *m == n).nth(j).map(|(d, _)| d.clone());
        }
    }
    for node in g.children.values_mut() {
        if let Node::Group(sub) = node {
            name_remaining_axes(sub, max_dim_id, count);
        }
    }
}

/// Trailing axes for an HDF5 array datatype: each element of `dims` becomes a whole axis
/// (one chunk along it), chunk keys get a zero per new axis, and the fill value, which HDF5
/// stores for the whole array element, must repeat one base element.
fn append_axes(a: &mut Array, dims: &[u64], base_size: u32) -> Result<(), Refuse> {
    if let FillValue::Bytes(b) = &a.fill_value {
        let n = usize::try_from(base_size).unwrap_or(usize::MAX).max(1);
        let first = b.get(..n).unwrap_or_default().to_vec();
        if b.chunks(n).any(|c| c != first.as_slice()) {
            return Err(refuse(
                "array datatype with a non-uniform fill value",
                "the fill value's array elements differ; Zarr has one fill value per element",
            ));
        }
        a.fill_value = FillValue::Bytes(first);
    }
    a.shape.extend_from_slice(dims);
    a.chunk_shape.extend_from_slice(dims);
    a.chunks = std::mem::take(&mut a.chunks)
        .into_iter()
        .map(|(mut k, c)| {
            k.resize(k.len() + dims.len(), 0);
            (k, c)
        })
        .collect();
    Ok(())
}

/// A compound type → Zarr. Two members `r` and `i` of one IEEE float type at offsets 0 and
/// half the size are a complex number (h5py reads them as NumPy complex); anything else
/// becomes a `structured` type, which zarr-python reads as a packed NumPy structured dtype
/// with little-endian fields. So members must follow each other without gaps in the order
/// listed, and be little-endian (or one byte).
fn map_compound(size: u32, members: &[Member]) -> Result<(DataType, Option<Endian>), Refuse> {
    if let Some((_, order)) = repack::h5py_complex(members, size) {
        let endian = if order == ByteOrder::Big {
            Endian::Big
        } else {
            Endian::Little
        };
        return Ok((DataType::Complex(u8::try_from(size * 8).unwrap_or(128)), Some(endian)));
    }
    let mut fields = Vec::with_capacity(members.len());
    let mut next = 0u32;
    let mut leaves = 0u64;
    for m in members {
        if m.offset != next {
            return Err(refuse(
                "compound datatype with padding",
                format!(
                    "member {:?} at byte {} (expected {next}): zarr-python's structured type has no padding \
                     or reordering",
                    m.name, m.offset
                ),
            ));
        }
        next = next.saturating_add(m.dtype.size());
        let err = |(f, r): Refuse| (f, format!("member {:?}: {r}", m.name));
        match &m.dtype {
            // An array member becomes one field per element (`name[i]`, `name[i,j]`): the
            // bytes are the same, and both zarrs and zarr-python read scalar fields.
            Datatype::Array { dims, base, .. } => {
                let t = map_field(base).map_err(err)?;
                let names = array_field_names(&m.name, dims).map_err(err)?;
                count_fields(&mut leaves, names.len() as u64, &t)?;
                for name in names {
                    fields.push((name, t.clone()));
                }
            }
            dt => {
                let t = map_field(dt).map_err(err)?;
                count_fields(&mut leaves, 1, &t)?;
                fields.push((m.name.clone(), t));
            }
        }
    }
    if next != size {
        return Err(refuse(
            "compound datatype with padding",
            format!("members take {next} of {size} bytes: zarr-python's structured type has no padding"),
        ));
    }
    if fields.is_empty() {
        return Err(refuse(
            "compound datatype without members",
            "compound type has no members",
        ));
    }
    Ok((DataType::Structured(fields), None))
}

/// Most fields one compound member of array type may become (each is one entry of the
/// `structured` type's field list in `zarr.json`).
pub(crate) const MAX_ARRAY_FIELDS: u64 = 4096;

/// Most scalar fields (nested ones included) one structured type may have.
pub(crate) const MAX_LEAF_FIELDS: u64 = 16_384;

/// Add `copies` fields of type `t` to the running count of scalar fields `leaves`; refuse the
/// compound past [`MAX_LEAF_FIELDS`] (a hostile type could otherwise name millions).
pub(crate) fn count_fields(leaves: &mut u64, copies: u64, t: &DataType) -> Result<(), Refuse> {
    fn leaf_count(t: &DataType) -> u64 {
        match t {
            DataType::Structured(f) => f.iter().map(|(_, t)| leaf_count(t)).fold(0u64, u64::saturating_add),
            _ => 1,
        }
    }
    *leaves = leaves.saturating_add(copies.saturating_mul(leaf_count(t)));
    if *leaves > MAX_LEAF_FIELDS {
        return Err(refuse(
            "compound datatype with too many fields",
            format!("more than {MAX_LEAF_FIELDS} scalar fields once array members are spread out"),
        ));
    }
    Ok(())
}

/// The field names of an array member `name` of shape `dims`, in C order: `name[i]`, or
/// `name[i,j,…]` for several dimensions.
pub(crate) fn array_field_names(name: &str, dims: &[u32]) -> Result<Vec<String>, Refuse> {
    let n = dims.iter().try_fold(1u64, |n, &d| n.checked_mul(u64::from(d)));
    let n = match n {
        Some(0) => return Err(refuse("array datatype", "array type with a zero dimension")),
        Some(n) if n <= MAX_ARRAY_FIELDS => n,
        _ => {
            return Err(refuse(
                "compound datatype with a large array member",
                format!("array member of shape {dims:?}: more than {MAX_ARRAY_FIELDS} elements to name as fields"),
            ))
        }
    };
    let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    let mut idx = vec![0u32; dims.len()];
    for _ in 0..n {
        let parts: Vec<String> = idx.iter().map(u32::to_string).collect();
        out.push(format!("{name}[{}]", parts.join(",")));
        for (i, d) in idx.iter_mut().zip(dims).rev() {
            *i += 1;
            if *i < *d {
                break;
            }
            *i = 0;
        }
    }
    Ok(out)
}

/// The Zarr type of a compound member (array members' elements included): as a dataset
/// type, little-endian, no nested arrays or strings whose padding libhdf5 rewrites on read.
fn map_field(dt: &Datatype) -> Result<DataType, Refuse> {
    match dt {
        Datatype::Array { .. } => Err(refuse(
            "compound datatype with nested array members",
            "an array member whose elements are arrays",
        )),
        Datatype::String { size, pad, .. } if *size > 1 && *pad != str_pad::NULL_PAD => Err(refuse(
            "compound datatype with NUL-terminated or space-padded strings",
            "libhdf5 rewrites the bytes after a string's end on read",
        )),
        _ => {
            let (t, endian) = map_datatype(dt)?;
            if endian == Some(Endian::Big) {
                return Err(refuse(
                    "compound datatype with big-endian members",
                    "zarr-python's structured type stores every field little-endian",
                ));
            }
            Ok(t)
        }
    }
}

/// An integer element as JSON (standard layouts of 1–8 bytes only).
fn int_value(dt: &Datatype, raw: &[u8]) -> Option<Value> {
    let Datatype::FixedPoint {
        size,
        order,
        signed,
        bit_offset: 0,
        precision,
    } = dt
    else {
        return None;
    };
    if !matches!(size, 1 | 2 | 4 | 8) || u32::from(*precision) != size * 8 || raw.len() != *size as usize {
        return None;
    }
    let mut b = [0u8; 8];
    for (i, &x) in raw.iter().enumerate() {
        let j = if *order == ByteOrder::Big { raw.len() - 1 - i } else { i };
        *b.get_mut(j)? = x;
    }
    let u = u64::from_le_bytes(b);
    if *signed {
        let shift = 64 - size * 8;
        let v = ((u << shift) as i64) >> shift;
        Some(Value::Number(v.into()))
    } else {
        Some(Value::Number(u.into()))
    }
}

fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let mant = f64::from(h & 0x3ff);
    sign * match exp {
        0 => mant * 2f64.powi(-24),
        31 if mant == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + mant / 1024.0) * 2f64.powi(e - 15),
    }
}

fn strip_string(raw: &[u8], pad: u8) -> String {
    let s = match pad {
        str_pad::NULL_TERMINATE => &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())],
        str_pad::SPACE_PAD => {
            let end = raw.iter().rposition(|&b| b != b' ' && b != 0).map_or(0, |p| p + 1);
            &raw[..end]
        }
        _ => {
            let end = raw.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            &raw[..end]
        }
    };
    String::from_utf8_lossy(s).into_owned()
}

/// Nest a flat C-order list into lists of lists following `shape`.
fn nest(values: Vec<Value>, shape: &[u64]) -> Value {
    match shape {
        [] | [_] => Value::Array(values),
        [_, rest @ ..] => {
            let inner = rest.iter().product::<u64>().max(1) as usize;
            let chunks: Vec<Value> = values.chunks(inner).map(|c| nest(c.to_vec(), rest)).collect();
            Value::Array(chunks)
        }
    }
}

/// The last component of a `/`-separated path.
fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A path without its last component (`""` for a name at the root).
fn parent_path(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(g, _)| g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shadowed_dimension_from_an_ancestor_group_is_named_by_its_path() {
        let (y, gy, gx) = ("/Y".to_string(), "/group/Y".to_string(), "/group/X".to_string());
        // netCDF: group/char_var(/Y, Y, X) uses the root's Y and its own group's Y.
        assert_eq!(
            axis_names("/group/char_var", &[Some(&y), Some(&gy), Some(&gx)]),
            vec![Some("/Y".into()), Some("Y".into()), Some("X".into())]
        );
        // No clash: basenames, as netCDF names dimensions.
        assert_eq!(
            axis_names("/group/v", &[Some(&y), None, Some(&gx)]),
            vec![Some("Y".into()), None, Some("X".into())]
        );
        // The same scale on two axes keeps one name.
        assert_eq!(
            axis_names("/v", &[Some(&y), Some(&y)]),
            vec![Some("Y".into()), Some("Y".into())]
        );
    }

    #[test]
    fn json_conversions() {
        assert_eq!(crate::model::float_json(f64::NAN), Value::String("NaN".into()));
        assert_eq!(
            crate::model::float_json(f64::NEG_INFINITY),
            Value::String("-Infinity".into())
        );
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(strip_string(b"ab\0\0", str_pad::NULL_PAD), "ab");
        assert_eq!(strip_string(b"ab  ", str_pad::SPACE_PAD), "ab");
        assert_eq!(strip_string(b"a\0b", str_pad::NULL_TERMINATE), "a");
        let v: Vec<Value> = (0..6).map(Value::from).collect();
        assert_eq!(nest(v, &[2, 3]), serde_json::json!([[0, 1, 2], [3, 4, 5]]));
        let t = Datatype::FixedPoint {
            size: 2,
            order: ByteOrder::Big,
            signed: true,
            bit_offset: 0,
            precision: 16,
        };
        assert_eq!(int_value(&t, &[0xff, 0xfe]), Some(Value::from(-2)));
    }

    #[test]
    fn phony_dimensions_follow_netcdf_naming() {
        let array = |shape: &[u64], names: Option<Vec<Option<String>>>| {
            Node::Array(Array {
                shape: shape.to_vec(),
                chunk_shape: shape.to_vec(),
                data_type: DataType::UInt(8),
                fill_value: FillValue::Default,
                codecs: vec![Codec::Bytes(None)],
                attributes: Map::new(),
                dimension_names: names,
                chunks: BTreeMap::new(),
            })
        };
        let mut sub = Group::default();
        sub.children.insert("c".into(), array(&[4], None));
        let mut root = Group::default();
        root.children
            .insert("x".into(), array(&[3], Some(vec![Some("x".into())])));
        root.children.insert("a".into(), array(&[3, 5, 5], None));
        root.children.insert("b".into(), array(&[5], None));
        root.children.insert("g".into(), Node::Group(sub));
        let mut by_group: BTreeMap<String, BTreeMap<String, Vec<u64>>> = BTreeMap::new();
        for (g, n, shape) in [
            ("", "x", vec![3]),
            ("", "a", vec![3, 5, 5]),
            ("", "b", vec![5]),
            ("", "r", vec![7]),
            ("/g", "c", vec![4]),
        ] {
            by_group.entry(g.into()).or_default().insert(n.into(), shape);
        }
        let known = Datasets {
            by_group,
            scales: std::collections::HashSet::from(["/x".to_string()]),
            labeled: std::collections::HashSet::new(),
        };
        let mut count = 0;
        phony_dimensions(&mut root, "", &known, 1, &mut count);
        let names = |g: &Group, n: &str| match g.children.get(n) {
            Some(Node::Array(a)) => a.dimension_names.clone().unwrap(),
            _ => panic!("{n}"),
        };
        let s = |v: &[&str]| v.iter().map(|x| Some((*x).to_string())).collect::<Vec<_>>();
        // Length 3 is the scale x; two axes of length 5 need two phony dims, numbered after
        // the largest _Netcdf4Dimid (1); b reuses the first of them. r (refused, not in the
        // tree) still takes phony_dim_4.
        assert_eq!(names(&root, "a"), s(&["x", "phony_dim_2", "phony_dim_3"]));
        assert_eq!(names(&root, "b"), s(&["phony_dim_2"]));
        let Some(Node::Group(sub)) = root.children.get("g") else {
            panic!("g")
        };
        assert_eq!(names(sub, "c"), s(&["phony_dim_5"]));
    }

    #[test]
    fn array_members_become_one_field_per_element() {
        assert_eq!(array_field_names("a", &[3]).unwrap(), ["a[0]", "a[1]", "a[2]"]);
        assert_eq!(
            array_field_names("m", &[2, 2]).unwrap(),
            ["m[0,0]", "m[0,1]", "m[1,0]", "m[1,1]"]
        );
        assert!(array_field_names("z", &[2, 0]).is_err());
        assert!(
            array_field_names("big", &[u32::MAX, u32::MAX]).is_err(),
            "overflow refused"
        );
        assert!(array_field_names("big", &[4097]).is_err(), "over MAX_ARRAY_FIELDS");
        let f32le = Datatype::Float {
            size: 4,
            order: ByteOrder::Little,
            ieee: true,
            bits: crate::hdf5::messages::datatype::FloatBits::ieee(4).unwrap(),
        };
        let members = vec![
            Member {
                name: "v".into(),
                offset: 0,
                dtype: Datatype::Array {
                    size: 8,
                    dims: vec![2],
                    base: Box::new(f32le.clone()),
                },
            },
            Member {
                name: "w".into(),
                offset: 8,
                dtype: f32le,
            },
        ];
        // Five members of 4,000 elements each spread to too many fields.
        let wide: Vec<Member> = (0..5u32)
            .map(|i| Member {
                name: format!("m{i}"),
                offset: i * 4000,
                dtype: Datatype::Array {
                    size: 4000,
                    dims: vec![4000],
                    base: Box::new(Datatype::FixedPoint {
                        size: 1,
                        order: ByteOrder::Little,
                        signed: false,
                        bit_offset: 0,
                        precision: 8,
                    }),
                },
            })
            .collect();
        assert_eq!(
            map_compound(20_000, &wide).unwrap_err().0,
            "compound datatype with too many fields"
        );
        assert_eq!(
            map_compound(12, &members).unwrap().0,
            DataType::Structured(vec![
                ("v[0]".into(), DataType::Float(32)),
                ("v[1]".into(), DataType::Float(32)),
                ("w".into(), DataType::Float(32)),
            ])
        );
    }

    #[test]
    fn datatype_mapping() {
        let t = Datatype::FixedPoint {
            size: 1,
            order: ByteOrder::Big,
            signed: false,
            bit_offset: 0,
            precision: 8,
        };
        assert_eq!(map_datatype(&t).unwrap(), (DataType::UInt(8), None));
        let f = Datatype::Float {
            size: 4,
            order: ByteOrder::Big,
            ieee: true,
            bits: crate::hdf5::messages::datatype::FloatBits::ieee(4).unwrap(),
        };
        assert_eq!(map_datatype(&f).unwrap(), (DataType::Float(32), Some(Endian::Big)));
        let c = Datatype::Other {
            class: 7,
            size: 8,
            bits: 0,
        };
        assert_eq!(map_datatype(&c).unwrap_err().0, "reference datatype");
        let int = |order| Datatype::FixedPoint {
            size: 4,
            order,
            signed: true,
            bit_offset: 0,
            precision: 32,
        };
        let member = |name: &str, offset, dtype| Member {
            name: name.into(),
            offset,
            dtype,
        };
        let packed = Datatype::Compound {
            size: 8,
            members: vec![
                member("a", 0, int(ByteOrder::Little)),
                member("b", 4, int(ByteOrder::Little)),
            ],
        };
        assert_eq!(
            map_datatype(&packed).unwrap(),
            (
                DataType::Structured(vec![("a".into(), DataType::Int(32)), ("b".into(), DataType::Int(32))]),
                None
            )
        );
        let padded = Datatype::Compound {
            size: 12,
            members: vec![
                member("a", 0, int(ByteOrder::Little)),
                member("b", 8, int(ByteOrder::Little)),
            ],
        };
        assert_eq!(map_datatype(&padded).unwrap_err().0, "compound datatype with padding");
        let big = Datatype::Compound {
            size: 8,
            members: vec![
                member("a", 0, int(ByteOrder::Big)),
                member("b", 4, int(ByteOrder::Little)),
            ],
        };
        assert_eq!(
            map_datatype(&big).unwrap_err().0,
            "compound datatype with big-endian members"
        );
        let float = Datatype::Float {
            size: 4,
            order: ByteOrder::Big,
            ieee: true,
            bits: crate::hdf5::messages::datatype::FloatBits::ieee(4).unwrap(),
        };
        let complex = Datatype::Compound {
            size: 8,
            members: vec![member("r", 0, float.clone()), member("i", 4, float)],
        };
        assert_eq!(
            map_datatype(&complex).unwrap(),
            (DataType::Complex(64), Some(Endian::Big))
        );
    }

    /// A complete small file: v2 superblock, root group with compact links (hard, soft,
    /// external) and an attribute, one contiguous int32 dataset with a fill value.
    fn tiny_file() -> Vec<u8> {
        use crate::hdf5::checksum::lookup3;
        use crate::hdf5::object_header::tests::v2_header;
        let mut f = b"\x89HDF\r\n\x1a\n".to_vec();
        f.extend_from_slice(&[2, 8, 8, 0]);
        f.extend_from_slice(&0u64.to_le_bytes());
        f.extend_from_slice(&u64::MAX.to_le_bytes());
        f.extend_from_slice(&1040u64.to_le_bytes());
        f.extend_from_slice(&48u64.to_le_bytes());
        let sum = lookup3(&f);
        f.extend_from_slice(&sum.to_le_bytes());
        let hard = {
            let mut d = vec![1, 0, 1, b'x'];
            d.extend_from_slice(&512u64.to_le_bytes());
            d
        };
        let soft = {
            let mut d = vec![1, 0x08, 1, 1, b's', 2, 0];
            d.extend_from_slice(b"/x");
            d
        };
        let ext = {
            let mut d = vec![1, 0x08, 64, 1, b'e', 7, 0, 0];
            d.extend_from_slice(b"f\0/a/b\0");
            d
        };
        let attr = {
            let dt = [0x13u8, 0x00, 0, 0, 4, 0, 0, 0];
            let mut d = vec![3, 0, 6, 0, 8, 0, 4, 0, 0];
            d.extend_from_slice(b"title\0");
            d.extend_from_slice(&dt);
            d.extend_from_slice(&[2, 0, 0, 0]);
            d.extend_from_slice(b"ab\0\0");
            d
        };
        let root = v2_header(&[(6, hard), (6, soft), (6, ext), (12, attr)]);
        f.resize(48, 0);
        f.extend_from_slice(&root);
        let space = {
            let mut d = vec![2, 1, 0, 1];
            d.extend_from_slice(&4u64.to_le_bytes());
            d
        };
        let dtype = crate::hdf5::messages::datatype::tests::int(4, true, false);
        let fill = vec![3, 0x20, 4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        let layout = {
            let mut d = vec![3, 1];
            d.extend_from_slice(&1024u64.to_le_bytes());
            d.extend_from_slice(&16u64.to_le_bytes());
            d
        };
        let ds = v2_header(&[(1, space), (3, dtype), (5, fill), (8, layout)]);
        f.resize(512, 0);
        f.extend_from_slice(&ds);
        f.resize(1024, 0);
        for v in [1i32, 2, 3, 4] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f
    }

    #[test]
    fn walks_a_tiny_file() {
        let f = tiny_file();
        let out = crate::hdf5::read(&f, &Hdf5Options::default()).unwrap();
        assert_eq!(out.root.attributes.get("title"), Some(&Value::String("ab".into())));
        let Some(Node::Array(a)) = out.root.children.get("x") else {
            panic!("{:?}", out.root)
        };
        assert_eq!(a.shape, vec![4]);
        assert_eq!(a.data_type, DataType::Int(32));
        assert_eq!(a.codecs, vec![Codec::Bytes(Some(Endian::Little))]);
        assert_eq!(a.fill_value, FillValue::Bytes(vec![0xff; 4]));
        assert_eq!(
            a.chunks.get(&vec![0]),
            Some(&ChunkRef::Virtual {
                source: SourceId(0),
                offset: 1024,
                length: 16
            })
        );
        assert_eq!(out.root.children.get("s"), Some(&Node::Array(a.clone())));
        assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
        assert_eq!(out.warnings[0].feature, "external link");
        assert!(out.refusals.is_empty());

        // Split into 8-byte chunks: 2 rows each, two chunks.
        let out = crate::hdf5::read(
            &f,
            &Hdf5Options {
                split_contiguous: Some(8),
                ..Default::default()
            },
        )
        .unwrap();
        let Some(Node::Array(a)) = out.root.children.get("x") else {
            panic!()
        };
        assert_eq!(a.chunk_shape, vec![2]);
        assert_eq!(a.chunks.len(), 2);
        assert_eq!(
            a.chunks.get(&vec![1]),
            Some(&ChunkRef::Virtual {
                source: SourceId(0),
                offset: 1032,
                length: 8
            })
        );
        // 12 bytes per chunk: 3 rows; the last full chunk would pass the end of the file,
        // so the largest divisor of 4 rows ≤ 3 (2) is used.
        let out = crate::hdf5::read(
            &f,
            &Hdf5Options {
                split_contiguous: Some(12),
                ..Default::default()
            },
        )
        .unwrap();
        let Some(Node::Array(a)) = out.root.children.get("x") else {
            panic!()
        };
        assert_eq!(a.chunk_shape, vec![2]);

        // Every truncation is an error or a partial result, never a panic.
        for cut in 0..f.len() {
            let _ = crate::hdf5::read(&f[..cut].to_vec(), &Hdf5Options::default());
        }
    }
}
