//! [`Doc`] → model: groups, arrays, codecs, chunk references, attributes (decisions in the
//! module documentation of [`super`]).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value};
use url::Url;

use super::parse::{AttrSpec, ChunksSpec, DimRef, Doc, GroupSpec, InlineData, VarSpec, VlsaEncoding};
use super::{DmrppError, DmrppOptions, DmrppOutput};
use crate::hdf5::filters;
use crate::hdf5::messages::filter_pipeline::Filter;
use crate::model::{
    float_json, Array, Attributes, ChunkRef, Codec, DataType, Endian, FillValue, Group, Node, Refusal, SourceId,
    NETCDF_INTERNAL_ATTRIBUTES,
};

/// Largest inline value decoded from the document (compact, missingdata, vlsa), per variable.
const MAX_INLINE: u64 = 256 << 20;
/// netCDF's default fill value of doubles (`NC_FILL_DOUBLE`).
const NC_FILL_DOUBLE: f64 = 9.969_209_968_386_869e36;
/// The data-URL template `build_dmrpp` writes when it is not given a URL.
const DATA_TEMPLATE: &str = "OPeNDAP_DMRpp_DATA_ACCESS_URL";
/// The sidecar ("missing variables") template.
const SIDECAR_TEMPLATE: &str = "OPeNDAP_DMRpp_SC_DATA_ACCESS_URL";

type Refuse = (String, String);

fn refuse(feature: impl Into<String>, reason: impl Into<String>) -> Refuse {
    (feature.into(), reason.into())
}

struct Mapper<'a> {
    doc: &'a Doc,
    opts: &'a DmrppOptions,
    /// The data file of chunks without their own href, or why there is none.
    root_url: Result<Url, String>,
    /// Whether some chunk needed `root_url` while it was an error.
    root_needed: bool,
    sources: Vec<Url>,
    source_ids: HashMap<Url, SourceId>,
    refusals: Vec<Refusal>,
    warnings: Vec<Refusal>,
    /// Arrays of multi-byte elements in chunks without a `byteOrder` (little-endian assumed).
    no_byte_order: usize,
}

pub(super) fn map(doc: &Doc, opts: &DmrppOptions) -> Result<DmrppOutput, DmrppError> {
    let mut m = Mapper {
        doc,
        opts,
        root_url: root_url(doc, opts),
        root_needed: false,
        sources: Vec::new(),
        source_ids: HashMap::new(),
        refusals: Vec::new(),
        warnings: Vec::new(),
        no_byte_order: 0,
    };
    for (what, line) in &doc.unknown {
        m.warnings.push(Refusal {
            path: "/".into(),
            feature: "unknown element".into(),
            reason: format!("line {line}: {what} ignored"),
        });
    }
    let mut root = m.group(&doc.root, 0);
    if m.no_byte_order > 0 {
        m.warnings.push(Refusal {
            path: "/".into(),
            feature: "byte order not recorded".into(),
            reason: format!(
                "{} array(s) of multi-byte elements have no byteOrder (a DMR++ older than build_dmrpp 3.20.9?): \
                 read as little-endian, as BES does; big-endian data would read wrongly",
                m.no_byte_order
            ),
        });
    }
    if m.root_needed {
        if let Err(reason) = &m.root_url {
            return Err(DmrppError {
                line: None,
                element: Some("Dataset".into()),
                reason: reason.clone(),
            });
        }
    }
    crate::zarr::cf::encode_fill_values(&mut root);
    Ok(DmrppOutput {
        root,
        sources: m.sources,
        refusals: m.refusals,
        warnings: m.warnings,
        version: doc.version.clone(),
    })
}

/// The data file: `--data-url`, else the root `dmrpp:href` (absolute, or relative to the DMR++),
/// else the DMR++ URL minus `.dmrpp`.
fn root_url(doc: &Doc, opts: &DmrppOptions) -> Result<Url, String> {
    if let Some(u) = &opts.data_url {
        return Ok(u.clone());
    }
    match doc.href.as_deref().map(str::trim) {
        Some(DATA_TEMPLATE) => Err(format!(
            "dmrpp:href is the template {DATA_TEMPLATE}: the DMR++ does not say where its data file is; \
             give it with --data-url"
        )),
        Some(h) => resolve_relative(h, opts.dmrpp_url.as_ref()),
        None => {
            let dmrpp = opts
                .dmrpp_url
                .as_ref()
                .ok_or("no dmrpp:href and no DMR++ location: give the data file with --data-url")?;
            let s = dmrpp.as_str();
            let stem = s.strip_suffix(".dmrpp").ok_or_else(|| {
                format!("no dmrpp:href, and {s} does not end in .dmrpp: give the data file with --data-url")
            })?;
            Url::parse(stem).map_err(|e| format!("{stem}: {e}"))
        }
    }
}

fn resolve_relative(href: &str, base: Option<&Url>) -> Result<Url, String> {
    if let Some(u) = crate::source::parse_url(href) {
        return Ok(u);
    }
    let base = base.ok_or_else(|| format!("href {href:?} is relative and the DMR++ location is unknown"))?;
    base.join(href).map_err(|e| format!("href {href:?}: {e}"))
}

impl Mapper<'_> {
    fn source(&mut self, href: Option<&str>) -> Result<SourceId, Refuse> {
        let url = match href.map(str::trim) {
            None | Some(DATA_TEMPLATE) => match &self.root_url {
                Ok(u) => u.clone(),
                Err(e) => {
                    self.root_needed = true;
                    return Err(refuse("data file unknown", e.clone()));
                }
            },
            Some(SIDECAR_TEMPLATE) => match &self.root_url {
                Ok(u) => Url::parse(&format!("{u}_mvs.h5")).map_err(|e| refuse("bad href", e.to_string()))?,
                Err(e) => {
                    self.root_needed = true;
                    return Err(refuse("data file unknown", e.clone()));
                }
            },
            Some(h) => resolve_relative(h, self.opts.dmrpp_url.as_ref()).map_err(|e| refuse("bad href", e))?,
        };
        if let Some(&id) = self.source_ids.get(&url) {
            return Ok(id);
        }
        let id = SourceId(u32::try_from(self.sources.len()).map_err(|_| refuse("too many data files", ""))?);
        self.sources.push(url.clone());
        self.source_ids.insert(url, id);
        Ok(id)
    }

    fn group(&mut self, spec: &GroupSpec, depth: usize) -> Group {
        let mut g = Group {
            attributes: self.attributes(&spec.attrs, &spec.path, depth == 0),
            children: BTreeMap::new(),
        };
        for v in &spec.vars {
            let path = format!("{}/{}", spec.path, v.name);
            if g.children.contains_key(&v.name) {
                self.refusals.push(Refusal {
                    path,
                    feature: "duplicate name".into(),
                    reason: format!("line {}: a second object named {:?} in this group", v.line, v.name),
                });
                continue;
            }
            match self.array(v, spec) {
                Ok(a) => {
                    g.children.insert(v.name.clone(), Node::Array(a));
                }
                Err((feature, mut reason)) => {
                    // A DMR++ built with the CF option renames variables; say which one it was.
                    let original = v
                        .attrs
                        .iter()
                        .find(|a| a.name == "fullnamepath")
                        .and_then(|a| a.values.first())
                        .filter(|o| **o != path);
                    if let Some(o) = original {
                        reason.push_str(&format!(" (HDF5 path {o})"));
                    }
                    self.refusals.push(Refusal { path, feature, reason });
                }
            }
        }
        for c in &spec.groups {
            let name = c.path.rsplit('/').next().unwrap_or_default().to_string();
            if g.children.contains_key(&name) {
                self.refusals.push(Refusal {
                    path: c.path.clone(),
                    feature: "duplicate name".into(),
                    reason: format!("a group and a variable are both named {name:?}"),
                });
                continue;
            }
            let child = self.group(c, depth + 1);
            g.children.insert(name, Node::Group(child));
        }
        g
    }

    fn dim_size(&self, d: &DimRef, group: &str) -> Option<u64> {
        match d {
            DimRef::Size(n) => Some(*n),
            DimRef::Named(n) => Self::lookup(&self.doc.dims, n, group).map(|(_, &s)| s),
        }
    }

    /// Look a declared name up: absolute, or relative to `group` and then its ancestors.
    fn lookup<'m, T>(map: &'m HashMap<String, T>, name: &str, group: &str) -> Option<(String, &'m T)> {
        if name.starts_with('/') {
            return map.get(name).map(|t| (name.to_string(), t));
        }
        let mut g = group.to_string();
        loop {
            let p = format!("{g}/{name}");
            if let Some(t) = map.get(&p) {
                return Some((p, t));
            }
            match g.rfind('/') {
                Some(i) => g.truncate(i),
                None => return None,
            }
        }
    }

    #[allow(clippy::too_many_lines)]
    fn array(&mut self, v: &VarSpec, group: &GroupSpec) -> Result<Array, Refuse> {
        if let Some((feature, reason)) = &v.problem {
            return Err(refuse(feature.clone(), reason.clone()));
        }
        let at = |reason: String| format!("line {}: {reason}", v.line);
        let mut attributes = self.attributes(&v.attrs, &format!("{}/{}", group.path, v.name), false);

        // Shape and dimension names.
        let mut shape = Vec::with_capacity(v.dims.len());
        let mut names = Vec::with_capacity(v.dims.len());
        let mut anon: HashMap<u64, u32> = HashMap::new();
        for d in &v.dims {
            match d {
                DimRef::Named(n) => {
                    let (path, &size) = Self::lookup(&self.doc.dims, n, &group.path).ok_or_else(|| {
                        refuse("undeclared dimension", at(format!("<Dim name={n:?}> is not declared")))
                    })?;
                    shape.push(size);
                    // Visible from this group (declared here or above): its own name.
                    let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
                    let visible = group.path == parent || group.path.starts_with(&format!("{parent}/"));
                    let short = path.rsplit('/').next().unwrap_or_default();
                    names.push(Some(if visible { short.to_string() } else { path.clone() }));
                }
                DimRef::Size(n) => {
                    shape.push(*n);
                    let k = anon.entry(*n).or_insert(0);
                    names.push(Some(if *k == 0 {
                        format!("phony_dim_{n}")
                    } else {
                        format!("phony_dim_{n}_{k}")
                    }));
                    *k += 1;
                }
            }
        }
        let nelem = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| refuse("corrupt shape", at("element count overflows".into())))?;

        if v.chunks.is_none() && v.inline.is_none() {
            return Err(refuse(
                "no storage information",
                at(
                    "no dmrpp:chunks, dmrpp:compact, dmrpp:missingdata or dmrpp:vlsa: the DMR++ does not say \
                    where the values are"
                        .into(),
                ),
            ));
        }
        // Element type.
        let chunks_spec = v.chunks.as_ref();
        let byte_order = chunks_spec.and_then(|c| c.byte_order.as_deref()).map(str::trim);
        let endian = match byte_order {
            None | Some("LE") => Endian::Little,
            Some("BE") => Endian::Big,
            Some(o) => {
                return Err(refuse(
                    "unknown byte order",
                    at(format!("byteOrder {o:?} (expected LE or BE)")),
                ))
            }
        };
        let data_type = match v.type_name.as_str() {
            "Enum" => {
                let r = v.enum_ref.as_deref().ok_or_else(|| {
                    refuse(
                        "malformed DMR++ element",
                        at("<Enum> without an `enum` attribute".into()),
                    )
                })?;
                let (_, en) = Self::lookup(&self.doc.enums, r, &group.path).ok_or_else(|| {
                    refuse(
                        "undeclared enumeration",
                        at(format!("enumeration {r:?} is not declared")),
                    )
                })?;
                let t = atomic(&en.basetype)
                    .filter(|t| matches!(t, DataType::Int(_) | DataType::UInt(_)))
                    .ok_or_else(|| refuse("enumeration base type", at(format!("base type {:?}", en.basetype))))?;
                let mut labels = Map::new();
                for (name, value) in &en.consts {
                    let n = value
                        .trim()
                        .parse::<i64>()
                        .map(Value::from)
                        .or_else(|_| value.trim().parse::<u64>().map(Value::from))
                        .map_err(|_| refuse("enumeration value", at(format!("EnumConst {name}={value:?}"))))?;
                    labels.insert(name.clone(), n);
                }
                // As h5py (and the HDF5 reader): FALSE = 0, TRUE = 1 over one byte is bool.
                let is_bool = t.size() == Some(1)
                    && labels.len() == 2
                    && labels.get("FALSE") == Some(&Value::from(0))
                    && labels.get("TRUE") == Some(&Value::from(1));
                if is_bool {
                    DataType::Bool
                } else {
                    attributes.insert("_hdf5_enum".into(), Value::Object(labels));
                    t
                }
            }
            "String" => match (&v.inline, &v.fixed_string) {
                (_, Some((n, _))) => DataType::FixedBytes(
                    u32::try_from(*n)
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| refuse("fixed-length string", at(format!("string_length {n}"))))?,
                ),
                (Some(InlineData::Vlsa(_) | InlineData::Compact(_)), None) => DataType::VlenUtf8,
                (_, None) if v.chunks.as_ref().is_none_or(|c| c.chunks.is_empty()) => DataType::VlenUtf8,
                // A single fixed-length string in one unfiltered chunk (HDF-EOS StructMetadata,
                // ICESat-2 control texts): the chunk is the string, as BES reads it. Only from a
                // versioned build_dmrpp: older ones also wrote a variable-length string's heap
                // reference as its chunk.
                (None, None)
                    if v.dims.iter().all(|d| self.dim_size(d, &group.path) == Some(1))
                        && self.doc.version.is_some()
                        && v.chunks
                            .as_ref()
                            .is_some_and(|c| c.chunks.len() == 1 && c.compression.is_empty()) =>
                {
                    let n = v.chunks.as_ref().map_or(0, |c| c.chunks[0].nbytes);
                    DataType::FixedBytes(
                        u32::try_from(n)
                            .ok()
                            .filter(|&n| n > 0)
                            .ok_or_else(|| refuse("fixed-length string", at(format!("a {n}-byte string"))))?,
                    )
                }
                _ => {
                    return Err(refuse(
                        "string without a length",
                        at(
                            "a String stored in chunks without dmrpp:FixedLengthStringArray: its length and \
                            padding are unknown"
                                .into(),
                        ),
                    ))
                }
            },
            "Structure" => Self::structure(v, chunks_spec, endian).map_err(|(f, r)| (f, at(r)))?,
            t => atomic(t).ok_or_else(|| {
                refuse(
                    format!("DAP4 {t} variable"),
                    at(format!("{t} variables have no fixed-size Zarr representation")),
                )
            })?,
        };
        let elem = data_type.size();
        let multi_byte = matches!(
            data_type,
            DataType::Int(b) | DataType::UInt(b) | DataType::Float(b) if b > 8
        );
        let mut codecs = vec![match data_type {
            DataType::VlenUtf8 => Codec::VlenUtf8,
            _ if multi_byte => Codec::Bytes(Some(endian)),
            _ => Codec::Bytes(None),
        }];

        // Fill value.
        let fill_text = chunks_spec.and_then(|c| c.fill_value.clone()).or_else(|| {
            v.attrs
                .iter()
                .find(|a| a.name == "_FillValue")
                .and_then(|a| a.values.first().cloned())
        });
        let fill_value = match fill_text {
            None => FillValue::Default,
            Some(t) => fill_value(&t, &data_type, endian).map_err(|(f, r)| (f, at(r)))?,
        };

        let whole: Vec<u64> = shape.iter().map(|&d| d.max(1)).collect();
        let zeros = vec![0u64; shape.len()];
        let mut chunks = BTreeMap::new();
        let has_chunk_list = chunks_spec.is_some_and(|c| !c.chunks.is_empty());
        let chunk_shape = match (&v.inline, chunks_spec) {
            (Some(_), _) if has_chunk_list => {
                return Err(refuse(
                    "two storage elements",
                    at("both inline data and a chunk list".into()),
                ))
            }
            (Some(inline), _) => {
                let bytes = Self::inline_chunk(inline, &data_type, nelem, v).map_err(|(f, r)| (f, at(r)))?;
                if nelem > 0 {
                    chunks.insert(zeros, ChunkRef::Inline(bytes));
                }
                if matches!(inline, InlineData::Compact(_) | InlineData::MissingData(_)) && multi_byte {
                    // BES copies inline bytes as they are: little-endian.
                    codecs = vec![Codec::Bytes(Some(Endian::Little))];
                }
                whole
            }
            (None, Some(cs)) if has_chunk_list => {
                if byte_order.is_none() && multi_byte {
                    self.no_byte_order += 1;
                }
                let elem =
                    elem.ok_or_else(|| refuse("variable-length type in chunks", at("no fixed element size".into())))?;
                if let (DataType::FixedBytes(n), Some((_, pad))) = (&data_type, &v.fixed_string) {
                    if *n > 1 && pad != "null_pad" {
                        return Err(refuse(
                            "padded fixed-length strings in chunks",
                            at(format!(
                                "{pad} strings: libhdf5 rewrites their padding on read, which needs the data; \
                                 create the store from the HDF5 file"
                            )),
                        ));
                    }
                }
                let chunk_shape = self.chunks(cs, &shape, &whole, elem, &mut codecs, &mut chunks)?;
                filters::check_shuffle_position(&codecs, &chunks).map_err(|(f, r)| (f, at(r)))?;
                chunk_shape
            }
            // No data stored: every value is the fill value.
            (None, cs) => match cs.and_then(|c| c.chunk_dims.clone()) {
                Some(d) if d.len() == shape.len() && d.iter().all(|&x| x > 0) => d,
                _ => whole,
            },
        };
        Ok(Array {
            shape,
            chunk_shape,
            data_type,
            fill_value,
            codecs,
            attributes,
            dimension_names: if names.is_empty() { None } else { Some(names) },
            chunks,
        })
    }

    /// A Structure → structured type: atomic members, packed, little-endian (or single bytes).
    fn structure(v: &VarSpec, cs: Option<&ChunksSpec>, endian: Endian) -> Result<DataType, Refuse> {
        let mut fields = Vec::new();
        let mut size = 0u64;
        for m in &v.members {
            if m.nested {
                return Err(refuse(
                    "nested structure",
                    format!("member {:?} is an array or a structure", m.name),
                ));
            }
            let t = atomic(&m.type_name).ok_or_else(|| {
                refuse(
                    format!("structure member of type {}", m.type_name),
                    format!("member {:?} is a {}", m.name, m.type_name),
                )
            })?;
            let s = t.size().unwrap_or(0) as u64;
            if s > 1 && endian == Endian::Big {
                return Err(refuse(
                    "big-endian structure",
                    "structured Zarr types are little-endian; the members would need swapping",
                ));
            }
            fields.push((m.name.clone(), t));
            size += s;
        }
        if fields.is_empty() {
            return Err(refuse("empty structure", "a Structure without members"));
        }
        if let Some(offsets) = cs.and_then(|c| c.struct_offset.as_ref()) {
            // The offsets of the second and later members, then the record size.
            let mut packed = Vec::with_capacity(fields.len());
            let mut o = 0u64;
            for (i, (_, t)) in fields.iter().enumerate() {
                if i > 0 {
                    packed.push(o);
                }
                o += t.size().unwrap_or(0) as u64;
            }
            packed.push(o);
            if *offsets != packed {
                return Err(refuse(
                    "padded structure",
                    format!(
                        "structOffset {offsets:?} has padding (packed would be {packed:?}); the records \
                         would need repacking from the data"
                    ),
                ));
            }
        }
        debug_assert_eq!(Some(size as usize), DataType::Structured(fields.clone()).size());
        Ok(DataType::Structured(fields))
    }

    /// Chunk shape, codecs and references from a `<dmrpp:chunks>`.
    #[allow(clippy::too_many_arguments)]
    fn chunks(
        &mut self,
        cs: &ChunksSpec,
        shape: &[u64],
        whole: &[u64],
        elem: usize,
        codecs: &mut Vec<Codec>,
        out: &mut BTreeMap<Vec<u64>, ChunkRef>,
    ) -> Result<Vec<u64>, Refuse> {
        let at = |line: usize, reason: String| format!("line {line}: {reason}");
        if cs.linked_blocks {
            return Err(refuse(
                "HDF4 linked blocks",
                at(cs.line, "a Zarr chunk cannot be several byte ranges (LBChunk)".into()),
            ));
        }
        let chunk_shape = match &cs.chunk_dims {
            Some(d) => {
                if d.len() != shape.len() {
                    return Err(refuse(
                        "chunk rank",
                        at(
                            cs.line,
                            format!(
                                "chunkDimensionSizes {d:?} has rank {}, the array {}",
                                d.len(),
                                shape.len()
                            ),
                        ),
                    ));
                }
                if d.contains(&0) {
                    return Err(refuse(
                        "chunk shape",
                        at(cs.line, format!("chunkDimensionSizes {d:?} has a zero")),
                    ));
                }
                d.clone()
            }
            None => whole.to_vec(),
        };
        let elem_u32 = u32::try_from(elem).map_err(|_| refuse("element size", "too large"))?;
        let filters = self.filters(cs, elem_u32).map_err(|(f, r)| (f, at(cs.line, r)))?;
        codecs.extend(filters::codecs_for(&filters, elem_u32).map_err(|(f, r)| (f, at(cs.line, r)))?);
        let raw_chunk = chunk_shape
            .iter()
            .try_fold(elem as u64, |a, &d| a.checked_mul(d))
            .filter(|&b| b <= crate::model::MAX_CHUNK_BYTES)
            .ok_or_else(|| {
                refuse(
                    "chunk shape",
                    at(
                        cs.line,
                        format!("chunks of {chunk_shape:?} elements of {elem} bytes exceed HDF5's 4 GiB chunk limit"),
                    ),
                )
            })?;
        // Unfiltered (or checksummed only) chunks have a known stored size.
        let expected = match filters.iter().map(|f| f.id).collect::<Vec<_>>().as_slice() {
            [] => Some(raw_chunk),
            [3] => Some(raw_chunk + 4),
            _ => None,
        };
        let grid: Vec<u64> = shape.iter().zip(&chunk_shape).map(|(&s, &c)| s.div_ceil(c)).collect();
        if cs.chunks.len() > 1 && cs.chunks.iter().any(|c| c.position.is_none()) {
            return Err(refuse(
                "chunk position missing",
                at(cs.line, "several chunks, not all with chunkPositionInArray".into()),
            ));
        }
        for c in &cs.chunks {
            if c.filter_mask != 0 {
                return Err(refuse(
                    "per-chunk filter mask",
                    at(
                        c.line,
                        format!(
                            "chunk stored with filters skipped (fm={}); one codec chain per array cannot express it",
                            c.filter_mask
                        ),
                    ),
                ));
            }
            let key = match &c.position {
                None => vec![0; shape.len()],
                Some(p) => {
                    if p.len() != shape.len() {
                        return Err(refuse(
                            "chunk rank",
                            at(
                                c.line,
                                format!(
                                    "chunkPositionInArray {p:?} has rank {}, the array {}",
                                    p.len(),
                                    shape.len()
                                ),
                            ),
                        ));
                    }
                    let mut key = Vec::with_capacity(p.len());
                    for ((&pos, &cs_), &g) in p.iter().zip(&chunk_shape).zip(&grid) {
                        if pos % cs_ != 0 || pos / cs_ >= g.max(1) {
                            return Err(refuse(
                                "chunk position off the grid",
                                at(c.line, format!("chunkPositionInArray {p:?} is not a chunk origin of a {shape:?} array in {chunk_shape:?} chunks")),
                            ));
                        }
                        key.push(pos / cs_);
                    }
                    key
                }
            };
            if let Some(e) = expected {
                if c.nbytes != e {
                    return Err(refuse(
                        "stored size disagrees with the type",
                        at(
                            c.line,
                            format!(
                                "chunk of {} bytes, but {chunk_shape:?} elements of {elem} bytes{} need {e}: the \
                                 declared type does not describe the stored data",
                                c.nbytes,
                                if e == raw_chunk { "" } else { " plus a checksum" }
                            ),
                        ),
                    ));
                }
            }
            let source = self.source(c.href.as_deref()).map_err(|(f, r)| (f, at(c.line, r)))?;
            let r = ChunkRef::Virtual {
                source,
                offset: c.offset,
                length: c.nbytes,
            };
            if out.insert(key.clone(), r).is_some() {
                return Err(refuse(
                    "duplicate chunk",
                    at(c.line, format!("a second chunk at {key:?}")),
                ));
            }
        }
        Ok(chunk_shape)
    }

    /// `compressionType` → HDF5 filters (deflate 1, shuffle 2, fletcher32 3).
    fn filters(&self, cs: &ChunksSpec, elem: u32) -> Result<Vec<Filter>, Refuse> {
        let mut names: Vec<&str> = cs.compression.iter().map(String::as_str).collect();
        if self.doc.version.is_none() {
            // Old BES ignored the written order and applied shuffle, deflate, fletcher32.
            let rank = |n: &str| match n {
                "shuffle" => 0,
                "deflate" => 1,
                "fletcher32" => 2,
                _ => 3,
            };
            names.sort_by_key(|n| rank(n));
        }
        let mut levels = cs.deflate_levels.iter();
        names
            .iter()
            .map(|&n| {
                let (id, client_data) = match n {
                    "deflate" => (1, vec![levels.next().copied().unwrap_or(6)]),
                    "shuffle" => (2, vec![elem]),
                    "fletcher32" => (3, Vec::new()),
                    other => {
                        return Err(refuse(
                            format!("{other} filter"),
                            format!("compressionType {other:?}: DMR++ names only deflate, shuffle and fletcher32"),
                        ))
                    }
                };
                Ok(Filter {
                    id,
                    name: None,
                    flags: 0,
                    client_data,
                })
            })
            .collect()
    }

    /// The one inline chunk of a variable whose values are in the document.
    fn inline_chunk(inline: &InlineData, dt: &DataType, nelem: u64, v: &VarSpec) -> Result<Bytes, Refuse> {
        let b64 = |s: &str| {
            let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(clean.as_bytes())
                .map_err(|e| refuse("bad base64", format!("inline data is not base64: {e}")))
        };
        match inline {
            InlineData::Vlsa(values) => {
                if !matches!(dt, DataType::VlenUtf8) {
                    return Err(refuse("dmrpp:vlsa", "variable-length strings on a non-string variable"));
                }
                let mut items: Vec<Vec<u8>> = Vec::new();
                let mut total = 0u64;
                for val in values {
                    let bytes = match val.encoding {
                        VlsaEncoding::Text => val.text.clone().into_bytes(),
                        VlsaEncoding::Base64 => b64(&val.text)?,
                        VlsaEncoding::Zlib(len) => inflate(&b64(&val.text)?, len)?,
                    };
                    if std::str::from_utf8(&bytes).is_err() {
                        return Err(refuse("string not UTF-8", "a dmrpp:vlsa value is not UTF-8"));
                    }
                    total = total.saturating_add(val.count.saturating_mul(bytes.len() as u64 + 4));
                    if total > MAX_INLINE || items.len() as u64 + val.count > nelem {
                        return Err(refuse(
                            "dmrpp:vlsa count",
                            format!("more values than the {nelem} elements, or more than {MAX_INLINE} bytes"),
                        ));
                    }
                    for _ in 0..val.count {
                        items.push(bytes.clone());
                    }
                }
                if items.len() as u64 != nelem {
                    return Err(refuse(
                        "dmrpp:vlsa count",
                        format!("{} values for {nelem} elements", items.len()),
                    ));
                }
                let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
                crate::zarr::codecs::vlen_utf8_chunk(&refs)
                    .map(Bytes::from)
                    .ok_or_else(|| refuse("dmrpp:vlsa", "too many values"))
            }
            InlineData::Compact(text) if matches!(dt, DataType::VlenUtf8) => {
                // A string's text (BES writes the characters, base64-encoded).
                if nelem != 1 {
                    return Err(refuse(
                        "compact string array",
                        "several strings in dmrpp:compact without dmrpp:FixedLengthStringArray",
                    ));
                }
                let bytes = b64(text)?;
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                let s = &bytes[..end];
                if std::str::from_utf8(s).is_err() {
                    return Err(refuse("string not UTF-8", "dmrpp:compact string is not UTF-8"));
                }
                crate::zarr::codecs::vlen_utf8_chunk(&[s])
                    .map(Bytes::from)
                    .ok_or_else(|| refuse("compact string", "too long"))
            }
            InlineData::Compact(_) | InlineData::MissingData(_) => {
                let elem = dt
                    .size()
                    .ok_or_else(|| refuse("variable-length type", "inline data of a variable-length type"))?;
                let need = nelem
                    .checked_mul(elem as u64)
                    .filter(|&n| n <= MAX_INLINE)
                    .ok_or_else(|| refuse("inline data too large", format!("more than {MAX_INLINE} bytes")))?;
                let mut bytes = match inline {
                    InlineData::MissingData(t) => {
                        let raw = b64(t)?;
                        // A single element is stored as it is; anything else is zlib-compressed.
                        if nelem == 1 && raw.len() as u64 == need {
                            raw
                        } else {
                            inflate(&raw, need)?
                        }
                    }
                    InlineData::Compact(t) => b64(t)?,
                    InlineData::Vlsa(_) => unreachable!("handled above"),
                };
                if bytes.len() as u64 != need {
                    return Err(refuse(
                        "inline data size",
                        format!(
                            "{} bytes of inline data, {nelem} elements of {elem} bytes need {need}",
                            bytes.len()
                        ),
                    ));
                }
                if let (DataType::FixedBytes(n), Some((_, pad))) = (dt, &v.fixed_string) {
                    // Rewrite the padding as libhdf5 does on read: up to the terminator (or the
                    // last non-space) the string, NULs after it.
                    if *n > 1 && pad != "null_pad" {
                        for el in bytes.chunks_mut(*n as usize) {
                            let end = if pad == "space_pad" {
                                el.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1)
                            } else {
                                el.iter().position(|&b| b == 0).unwrap_or(el.len())
                            };
                            el[end..].fill(0);
                        }
                    }
                }
                Ok(Bytes::from(bytes))
            }
        }
    }

    /// `<Attribute>`s → JSON attributes (containers nested; `HDF5_GLOBAL` hoisted at the root).
    fn attributes(&mut self, attrs: &[AttrSpec], path: &str, root: bool) -> Attributes {
        let mut out = Map::new();
        for a in attrs {
            if NETCDF_INTERNAL_ATTRIBUTES.contains(&a.name.as_str()) {
                continue;
            }
            if root && a.name == "HDF5_GLOBAL" && a.type_name.eq_ignore_ascii_case("container") {
                for c in &a.children {
                    if let Some(v) = self.attribute(c, path) {
                        out.insert(c.name.clone(), v);
                    }
                }
                continue;
            }
            if let Some(v) = self.attribute(a, path) {
                out.insert(a.name.clone(), v);
            }
        }
        out
    }

    fn attribute(&mut self, a: &AttrSpec, path: &str) -> Option<Value> {
        let t = a.type_name.to_ascii_lowercase();
        let mut warn = |reason: String| {
            self.warnings.push(Refusal {
                path: format!("{}@{}", if path.is_empty() { "/" } else { path }, a.name),
                feature: "attribute".into(),
                reason: format!("line {}: {reason}", a.line),
            });
        };
        let one_or_many = |mut vals: Vec<Value>| {
            if vals.len() == 1 {
                vals.pop().unwrap_or(Value::Null)
            } else {
                Value::Array(vals)
            }
        };
        match t.as_str() {
            "container" => {
                let mut m = Map::new();
                for c in &a.children {
                    if let Some(v) = self.attribute(c, path) {
                        m.insert(c.name.clone(), v);
                    }
                }
                Some(Value::Object(m))
            }
            "string" | "url" | "otherxml" => Some(if a.values.is_empty() {
                Value::String(String::new())
            } else {
                one_or_many(a.values.iter().cloned().map(Value::String).collect())
            }),
            "byte" | "char" | "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32" | "int64" | "uint64" => {
                let mut vals = Vec::with_capacity(a.values.len());
                for s in &a.values {
                    let s = s.trim();
                    let v = s
                        .parse::<i64>()
                        .map(Value::from)
                        .or_else(|_| s.parse::<u64>().map(Value::from));
                    match v {
                        Ok(v) => vals.push(v),
                        Err(_) => {
                            warn(format!("{s:?} is not an integer; kept as text"));
                            vals.push(Value::String(s.to_string()));
                        }
                    }
                }
                Some(one_or_many(vals))
            }
            "float32" | "float64" => {
                let mut vals = Vec::with_capacity(a.values.len());
                for s in &a.values {
                    match parse_float(s) {
                        Some(f) => vals.push(float_json(f)),
                        None => {
                            warn(format!("{:?} is not a number; kept as text", s.trim()));
                            vals.push(Value::String(s.trim().to_string()));
                        }
                    }
                }
                Some(one_or_many(vals))
            }
            _ => {
                warn(format!("attribute type {:?} is not a DAP4 type; skipped", a.type_name));
                None
            }
        }
    }
}

/// DAP4 atomic type names → data types.
fn atomic(t: &str) -> Option<DataType> {
    Some(match t {
        "Byte" | "UInt8" | "Char" => DataType::UInt(8),
        "Int8" => DataType::Int(8),
        "Int16" => DataType::Int(16),
        "UInt16" => DataType::UInt(16),
        "Int32" => DataType::Int(32),
        "UInt32" => DataType::UInt(32),
        "Int64" => DataType::Int(64),
        "UInt64" => DataType::UInt(64),
        "Float32" => DataType::Float(32),
        "Float64" => DataType::Float(64),
        _ => return None,
    })
}

/// A float as BES writes it (`nan`, `NaN`, `Inf`, `-inf`, `1e-3`…).
fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "nan" | "+nan" | "-nan" | "nanf" => Some(f64::NAN),
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => t.parse::<f64>().ok(),
    }
}

/// `fillValue` text → fill bytes in the array's byte order.
fn fill_value(text: &str, dt: &DataType, endian: Endian) -> Result<FillValue, Refuse> {
    let t = text.trim();
    if let Some(flag) = t.strip_prefix("unsupported-") {
        if flag == "string" && matches!(dt, DataType::FixedBytes(_) | DataType::VlenUtf8) {
            return Ok(FillValue::Default);
        }
        return Err(refuse(
            format!("unsupported {flag}"),
            format!("build_dmrpp could not describe this variable (fillValue {t:?})"),
        ));
    }
    let bad = || refuse("bad fill value", format!("fillValue {t:?} is not a {dt:?} value"));
    let order = |mut b: Vec<u8>| {
        if endian == Endian::Big {
            b.reverse();
        }
        FillValue::Bytes(b)
    };
    Ok(match dt {
        DataType::Int(bits) | DataType::UInt(bits) => {
            if t.is_empty() {
                return Ok(FillValue::Default);
            }
            let v: i128 = t
                .parse::<i128>()
                .ok()
                .or_else(|| {
                    parse_float(t)
                        .filter(|f| f.fract() == 0.0 && f.abs() < 1.8e19)
                        .map(|f| f as i128)
                })
                .ok_or_else(bad)?;
            let bits = u32::from(*bits);
            let (lo, hi) = if matches!(dt, DataType::Int(_)) {
                (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
            } else {
                (0, (1i128 << bits) - 1)
            };
            if v < lo || v > hi {
                return Err(bad());
            }
            order(v.to_le_bytes()[..(bits / 8) as usize].to_vec())
        }
        DataType::Float(32) => order(
            #[allow(clippy::cast_possible_truncation)]
            (parse_float(t).ok_or_else(bad)? as f32).to_le_bytes().to_vec(),
        ),
        DataType::Float(64) => {
            let mut f = parse_float(t).ok_or_else(bad)?;
            // BES prints fill values with 6 significant digits; netCDF's default double fill
            // (9.9692099683868690e+36) comes out as 9.96921e+36, which is another double.
            if (f / NC_FILL_DOUBLE - 1.0).abs() < 1e-6 {
                f = NC_FILL_DOUBLE;
            }
            order(f.to_le_bytes().to_vec())
        }
        DataType::FixedBytes(n) => {
            let b = t.as_bytes();
            if b.is_empty() {
                return Ok(FillValue::Default);
            }
            if b.len() > *n as usize {
                return Err(bad());
            }
            let mut v = b.to_vec();
            v.resize(*n as usize, 0);
            FillValue::Bytes(v)
        }
        DataType::VlenUtf8 => FillValue::Bytes(t.as_bytes().to_vec()),
        DataType::Structured(fields) => {
            // One value per member, space-separated ("0" alone: all zeros).
            let parts: Vec<&str> = t.split_ascii_whitespace().collect();
            if parts.is_empty() || parts == ["0"] {
                return Ok(FillValue::Default);
            }
            if parts.len() != fields.len() {
                return Err(bad());
            }
            let mut out = Vec::new();
            for (p, (_, ft)) in parts.iter().zip(fields) {
                match fill_value(p, ft, Endian::Little)? {
                    FillValue::Bytes(b) => out.extend_from_slice(&b),
                    FillValue::Default => out.resize(out.len() + ft.size().unwrap_or(0), 0),
                }
            }
            FillValue::Bytes(out)
        }
        _ => {
            if t.is_empty() || t == "0" {
                FillValue::Default
            } else {
                return Err(bad());
            }
        }
    })
}

/// Inflate a zlib stream that must decode to exactly `len` bytes.
fn inflate(data: &[u8], len: u64) -> Result<Vec<u8>, Refuse> {
    if len > MAX_INLINE {
        return Err(refuse("inline data too large", format!("more than {MAX_INLINE} bytes")));
    }
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(len + 1)
        .read_to_end(&mut out)
        .map_err(|e| refuse("bad zlib stream", format!("inline data does not inflate: {e}")))?;
    if out.len() as u64 != len {
        return Err(refuse(
            "inline data size",
            format!("inline data inflates to {} bytes, {len} expected", out.len()),
        ));
    }
    Ok(out)
}
