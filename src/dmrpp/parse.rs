//! DMR++ XML → a plain description of the document ([`Doc`]), streaming with quick-xml.
//!
//! This pass only reads: it checks the XML, resolves namespaces, records every element it
//! understands with its line, and leaves all mapping decisions to `map.rs`. Problems that
//! concern one variable (a bad offset, a missing `nBytes`) are recorded on that variable and
//! refuse only it; problems with the document itself (malformed XML, no `<Dataset>`, a
//! `<Dimension>` without a size) are a [`DmrppError`].

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::DmrppError;

/// Deepest element nesting accepted (groups, containers, structures).
const MAX_DEPTH: usize = 256;
/// Most `<dmrpp:chunk>` elements accepted in one document.
const MAX_CHUNKS: usize = 50_000_000;

/// DAP4 namespace URIs (both spellings are in circulation).
const DAP4_NS: [&str; 4] = [
    "http://xml.opendap.org/ns/DAP/4.0#",
    "https://xml.opendap.org/ns/DAP/4.0#",
    "http://xml.opendap.org/ns/DAP/4.0",
    "https://xml.opendap.org/ns/DAP/4.0",
];
/// dmrpp namespace URIs.
const DMRPP_NS: [&str; 4] = [
    "http://xml.opendap.org/dap/dmrpp/1.0.0#",
    "https://xml.opendap.org/dap/dmrpp/1.0.0#",
    "http://xml.opendap.org/dap/dmrpp/1.0.0",
    "https://xml.opendap.org/dap/dmrpp/1.0.0",
];
/// DAP4 type elements that declare a variable.
const VARIABLE_ELEMENTS: [&str; 19] = [
    "Byte",
    "Char",
    "Int8",
    "UInt8",
    "Int16",
    "UInt16",
    "Int32",
    "UInt32",
    "Int64",
    "UInt64",
    "Float32",
    "Float64",
    "String",
    "URL",
    "Url",
    "Opaque",
    "Enum",
    "Structure",
    "Sequence",
];

/// The whole document.
#[derive(Debug, Default)]
pub(super) struct Doc {
    /// `name` of `<Dataset>`.
    pub name: String,
    /// Root `dmrpp:href`.
    pub href: Option<String>,
    /// `dmrpp:version` (absent: an old-style DMR++).
    pub version: Option<String>,
    /// The root group (path `""`).
    pub root: GroupSpec,
    /// Every declared dimension by absolute path (`/g/dim`).
    pub dims: HashMap<String, u64>,
    /// Every enumeration by absolute path.
    pub enums: HashMap<String, EnumSpec>,
    /// Unknown elements and attributes, for warnings (name, first line seen).
    pub unknown: Vec<(String, usize)>,
}

/// A group and what it holds.
#[derive(Debug, Default)]
pub(super) struct GroupSpec {
    /// Absolute path, `""` for the root, `/a/b` below.
    pub path: String,
    /// Attributes.
    pub attrs: Vec<AttrSpec>,
    /// Variables in document order.
    pub vars: Vec<VarSpec>,
    /// Child groups in document order.
    pub groups: Vec<GroupSpec>,
}

/// An `<Enumeration>`.
#[derive(Debug, Default, Clone)]
pub(super) struct EnumSpec {
    /// `basetype`.
    pub basetype: String,
    /// `<EnumConst name value>` pairs.
    pub consts: Vec<(String, String)>,
}

/// An `<Attribute>` (a container holds children instead of values).
#[derive(Debug, Default, Clone)]
pub(super) struct AttrSpec {
    /// `name`.
    pub name: String,
    /// `type` as written.
    pub type_name: String,
    /// `<Value>` texts.
    pub values: Vec<String>,
    /// Children of a `Container`.
    pub children: Vec<AttrSpec>,
    /// Line of the element.
    pub line: usize,
}

/// A `<Dim>` of a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DimRef {
    /// `name="…"` as written.
    Named(String),
    /// `size="…"` (anonymous).
    Size(u64),
}

/// One `<dmrpp:chunk>`.
#[derive(Debug, Clone, Default)]
pub(super) struct ChunkSpec {
    /// `offset`.
    pub offset: u64,
    /// `nBytes`.
    pub nbytes: u64,
    /// `chunkPositionInArray` (element coordinates).
    pub position: Option<Vec<u64>>,
    /// `fm`, the HDF5 filter mask (0 when absent).
    pub filter_mask: u32,
    /// Per-chunk `href`.
    pub href: Option<String>,
    /// Line of the element.
    pub line: usize,
}

/// `<dmrpp:chunks>` attributes and children.
#[derive(Debug, Clone, Default)]
pub(super) struct ChunksSpec {
    /// `compressionType` tokens.
    pub compression: Vec<String>,
    /// `deflateLevel` values.
    pub deflate_levels: Vec<u32>,
    /// `fillValue` text.
    pub fill_value: Option<String>,
    /// `byteOrder` text.
    pub byte_order: Option<String>,
    /// `structOffset` values.
    pub struct_offset: Option<Vec<u64>>,
    /// `chunkDimensionSizes` (the first one).
    pub chunk_dims: Option<Vec<u64>>,
    /// `LBChunk="true"` (HDF4 linked blocks).
    pub linked_blocks: bool,
    /// The chunk list.
    pub chunks: Vec<ChunkSpec>,
    /// Line of the element.
    pub line: usize,
}

/// Data carried in the document itself.
#[derive(Debug, Clone)]
pub(super) enum InlineData {
    /// `dmrpp:compact`: base64 of the raw bytes.
    Compact(String),
    /// `dmrpp:missingdata`: base64 of zlib-compressed raw bytes.
    MissingData(String),
    /// `dmrpp:vlsa`: values with repeat counts.
    Vlsa(Vec<VlsaValue>),
}

/// One value of a `dmrpp:vlsa`.
#[derive(Debug, Clone)]
pub(super) struct VlsaValue {
    /// The value as written.
    pub text: String,
    /// How many consecutive elements hold it (`c`, default 1).
    pub count: u64,
    /// How `text` encodes the value.
    pub encoding: VlsaEncoding,
}

/// Encoding of a [`VlsaValue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum VlsaEncoding {
    /// The text itself (`<v>text</v>`).
    Text,
    /// Base64 of the bytes (the `;`-separated form).
    Base64,
    /// Base64 of zlib-compressed bytes that inflate to this many bytes (`<v s="L">`).
    Zlib(u64),
}

/// A Structure member (type and name; members with `<Dim>`s are recorded as arrays).
#[derive(Debug, Clone)]
pub(super) struct MemberSpec {
    /// `name`.
    pub name: String,
    /// Element name (DAP type).
    pub type_name: String,
    /// Whether the member has dimensions or members of its own.
    pub nested: bool,
}

/// A variable and everything known about its storage.
#[derive(Debug, Clone, Default)]
pub(super) struct VarSpec {
    /// `name`.
    pub name: String,
    /// Element name (DAP type).
    pub type_name: String,
    /// Line of the element.
    pub line: usize,
    /// `<Dim>`s in order.
    pub dims: Vec<DimRef>,
    /// Attributes.
    pub attrs: Vec<AttrSpec>,
    /// `enum` attribute of an `Enum`.
    pub enum_ref: Option<String>,
    /// `<dmrpp:chunks>` (or the implicit one around a bare `<dmrpp:chunk>`).
    pub chunks: Option<ChunksSpec>,
    /// Inline data.
    pub inline: Option<InlineData>,
    /// `<dmrpp:FixedLengthStringArray string_length pad>`.
    pub fixed_string: Option<(u64, String)>,
    /// Structure members.
    pub members: Vec<MemberSpec>,
    /// The first problem found (feature, "line, element: reason"): the variable is refused.
    pub problem: Option<(String, String)>,
}

impl VarSpec {
    /// Record a malformed element.
    fn fail(&mut self, line: usize, element: &str, reason: impl std::fmt::Display) {
        self.unsupported(line, element, "malformed DMR++ element", reason);
    }

    /// Record an element the mapping cannot express.
    fn unsupported(&mut self, line: usize, element: &str, feature: &str, reason: impl std::fmt::Display) {
        if self.problem.is_none() {
            self.problem = Some((feature.to_string(), format!("line {line}, <{element}>: {reason}")));
        }
    }
}

/// What an open element is, so its end and its text go to the right place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Dataset,
    Group,
    Var,
    Member,
    Dimension,
    Enumeration,
    Attribute,
    Value,
    Chunks,
    ChunkDims,
    Compact,
    MissingData,
    Vlsa,
    VlsaValue,
    /// Ignored subtree (Map, dmrpp:chunk, unknown elements…).
    Other,
}

struct Parser<'a> {
    input: &'a str,
    doc: Doc,
    /// Open groups; `groups[0]` is the root.
    groups: Vec<GroupSpec>,
    var: Option<VarSpec>,
    attrs: Vec<AttrSpec>,
    open: Vec<Open>,
    text: String,
    vlsa_pending: Option<VlsaValue>,
    enum_open: Option<(String, EnumSpec)>,
    chunk_count: usize,
    /// Line counting: byte position reached and its line number.
    line_pos: usize,
    line: usize,
}

/// Parse a DMR++ document (UTF-8 text).
pub(super) fn parse(input: &str) -> Result<Doc, DmrppError> {
    let mut p = Parser {
        input,
        doc: Doc::default(),
        groups: Vec::new(),
        var: None,
        attrs: Vec::new(),
        open: Vec::new(),
        text: String::new(),
        vlsa_pending: None,
        enum_open: None,
        chunk_count: 0,
        line_pos: 0,
        line: 1,
    };
    let mut reader = NsReader::from_str(input);
    reader.config_mut().trim_text(false);
    let mut seen_root = false;
    loop {
        let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let line = p.line_at(start);
        let (ns, ev) = match reader.read_resolved_event() {
            Ok(x) => x,
            Err(e) => {
                let pos = usize::try_from(reader.error_position()).unwrap_or(start);
                return Err(DmrppError::xml(p.line_at(pos), format!("malformed XML: {e}")));
            }
        };
        let ns_uri = match &ns {
            ResolveResult::Bound(n) => Some(String::from_utf8_lossy(n.as_ref()).into_owned()),
            ResolveResult::Unknown(prefix) => {
                return Err(DmrppError::xml(
                    line,
                    format!("namespace prefix {:?} is not declared", String::from_utf8_lossy(prefix)),
                ));
            }
            ResolveResult::Unbound => None,
        };
        match ev {
            Event::Start(e) | Event::Empty(e) if p.open.is_empty() && seen_root => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                return Err(DmrppError::element(line, &name, "content after the end of <Dataset>"));
            }
            Event::Start(e) => {
                if !seen_root {
                    p.root(&reader, &e, ns_uri.as_deref(), line)?;
                    seen_root = true;
                } else {
                    p.start(&e, ns_uri.as_deref(), line)?;
                }
            }
            Event::Empty(e) => {
                if !seen_root {
                    p.root(&reader, &e, ns_uri.as_deref(), line)?;
                    seen_root = true;
                    p.end(line)?;
                } else {
                    p.start(&e, ns_uri.as_deref(), line)?;
                    p.end(line)?;
                }
            }
            Event::End(_) => p.end(line)?,
            Event::Text(t) => {
                if p.wants_text() {
                    let s = t
                        .xml10_content()
                        .map_err(|e| DmrppError::xml(line, format!("bad text: {e}")))?;
                    p.text.push_str(&s);
                } else if p.open.is_empty() && !t.iter().all(u8::is_ascii_whitespace) {
                    return Err(DmrppError::xml(line, "text outside the <Dataset> element"));
                }
            }
            Event::CData(t) => {
                if p.wants_text() {
                    p.text.push_str(&String::from_utf8_lossy(t.as_ref()));
                }
            }
            Event::GeneralRef(r) => {
                if p.wants_text() {
                    let name = r
                        .decode()
                        .map_err(|e| DmrppError::xml(line, format!("bad reference: {e}")))?;
                    if let Some(c) = r
                        .resolve_char_ref()
                        .map_err(|e| DmrppError::xml(line, format!("bad character reference &{name};: {e}")))?
                    {
                        p.text.push(c);
                    } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&name) {
                        p.text.push_str(s);
                    } else {
                        return Err(DmrppError::xml(line, format!("unknown entity &{name};")));
                    }
                }
            }
            Event::Eof => {
                if !seen_root {
                    return Err(DmrppError::not_dmrpp("no <Dataset> element"));
                }
                if !p.open.is_empty() {
                    return Err(DmrppError::xml(line, "document ends inside an element"));
                }
                break;
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    let mut doc = p.doc;
    doc.root = p.groups.pop().unwrap_or_default();
    Ok(doc)
}

/// Text of attribute `name` (unprefixed), unescaped.
fn attr(e: &BytesStart<'_>, name: &str, line: usize) -> Result<Option<String>, DmrppError> {
    for a in e.attributes() {
        let a = a.map_err(|err| DmrppError::xml(line, format!("bad attribute: {err}")))?;
        if a.key.as_ref() == name.as_bytes() {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| DmrppError::xml(line, format!("bad value of attribute {name}: {err}")))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// Text of attribute `name`, which `element` must have.
fn required(e: &BytesStart<'_>, name: &str, line: usize, element: &str) -> Result<String, DmrppError> {
    attr(e, name, line)?
        .ok_or_else(|| DmrppError::element(line, element, format!("missing required attribute `{name}`")))
}

/// Text of a `dmrpp:`-namespaced attribute (by prefix `dmrpp` or by the dmrpp URI).
fn dmrpp_attr(
    reader: &NsReader<&[u8]>,
    e: &BytesStart<'_>,
    local: &str,
    line: usize,
) -> Result<Option<String>, DmrppError> {
    for a in e.attributes() {
        let a = a.map_err(|err| DmrppError::xml(line, format!("bad attribute: {err}")))?;
        let (ns, l) = reader.resolver().resolve_attribute(a.key);
        if l.as_ref() != local.as_bytes() {
            continue;
        }
        let by_prefix = a.key.prefix().is_some_and(|p| p.as_ref() == b"dmrpp");
        let by_uri = matches!(ns, ResolveResult::Bound(n) if DMRPP_NS.iter().any(|u| u.as_bytes() == n.as_ref()));
        if by_prefix || by_uri {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| DmrppError::xml(line, format!("bad value of attribute dmrpp:{local}: {err}")))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn parse_u64(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!("{t:?} is negative"));
    }
    t.parse::<u64>()
        .map_err(|e| format!("{t:?} is not an unsigned 64-bit integer ({e})"))
}

fn parse_u64_list(s: &str) -> Result<Vec<u64>, String> {
    s.split_ascii_whitespace().map(parse_u64).collect()
}

/// `[i,j,…]`: brackets, decimal digits and commas.
fn parse_position(s: &str) -> Result<Vec<u64>, String> {
    let inner = s
        .trim()
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .ok_or_else(|| format!("{s:?} is not of the form [i,j,…]"))?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    inner.split(',').map(parse_u64).collect()
}

impl Parser<'_> {
    /// Line number of byte position `pos` (positions only grow, so this counts once).
    fn line_at(&mut self, pos: usize) -> usize {
        let pos = pos.min(self.input.len());
        if pos < self.line_pos {
            let head = self.input.as_bytes().get(..pos).unwrap_or_default();
            return 1 + memchr::memchr_iter(b'\n', head).count();
        }
        let seg = self.input.as_bytes().get(self.line_pos..pos).unwrap_or_default();
        self.line += memchr::memchr_iter(b'\n', seg).count();
        self.line_pos = pos;
        self.line
    }

    fn wants_text(&self) -> bool {
        matches!(
            self.open.last(),
            Some(Open::Value | Open::ChunkDims | Open::Compact | Open::MissingData | Open::Vlsa | Open::VlsaValue)
        )
    }

    fn unknown(&mut self, what: String, line: usize) {
        if !self.doc.unknown.iter().any(|(n, _)| *n == what) {
            self.doc.unknown.push((what, line));
        }
    }

    fn root(
        &mut self,
        reader: &NsReader<&[u8]>,
        e: &BytesStart<'_>,
        ns: Option<&str>,
        line: usize,
    ) -> Result<(), DmrppError> {
        let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
        if local != "Dataset" {
            return Err(DmrppError::not_dmrpp(format!(
                "line {line}: the root element is <{}>, not a DAP4 <Dataset>",
                String::from_utf8_lossy(e.name().as_ref())
            )));
        }
        if let Some(uri) = ns {
            if !DAP4_NS.contains(&uri) {
                return Err(DmrppError::element(
                    line,
                    "Dataset",
                    format!("namespace {uri:?} is not DAP4 (http://xml.opendap.org/ns/DAP/4.0#)"),
                ));
            }
        }
        self.doc.name = required(e, "name", line, "Dataset")?;
        self.doc.href = dmrpp_attr(reader, e, "href", line)?;
        self.doc.version = dmrpp_attr(reader, e, "version", line)?;
        self.groups.push(GroupSpec::default());
        self.open.push(Open::Dataset);
        Ok(())
    }

    fn group_path(&self) -> String {
        self.groups.last().map(|g| g.path.clone()).unwrap_or_default()
    }

    #[allow(clippy::too_many_lines)]
    fn start(&mut self, e: &BytesStart<'_>, ns: Option<&str>, line: usize) -> Result<(), DmrppError> {
        if self.open.len() >= MAX_DEPTH {
            return Err(DmrppError::xml(
                line,
                format!("elements nested deeper than {MAX_DEPTH}"),
            ));
        }
        let (qn, ln) = (e.name(), e.local_name());
        let qname = String::from_utf8_lossy(qn.as_ref());
        let local = String::from_utf8_lossy(ln.as_ref());
        let is_dmrpp =
            e.name().prefix().is_some_and(|p| p.as_ref() == b"dmrpp") || ns.is_some_and(|u| DMRPP_NS.contains(&u));
        let parent = self.open.last().copied().unwrap_or(Open::Other);
        let kind = if parent == Open::Other {
            Open::Other
        } else if parent == Open::Vlsa && local == "v" {
            self.start_vlsa_value(e, line)?;
            Open::VlsaValue
        } else if is_dmrpp {
            self.start_dmrpp(e, &local, line, parent)?
        } else {
            self.start_dap(e, &qname, &local, line, parent)?
        };
        self.open.push(kind);
        Ok(())
    }

    fn start_dap(
        &mut self,
        e: &BytesStart<'_>,
        qname: &str,
        local: &str,
        line: usize,
        parent: Open,
    ) -> Result<Open, DmrppError> {
        let in_container = matches!(parent, Open::Dataset | Open::Group);
        match local {
            "Group" if in_container => {
                let name = required(e, "name", line, qname)?;
                check_name(&name, line, qname)?;
                let path = format!("{}/{name}", self.group_path());
                self.groups.push(GroupSpec {
                    path,
                    ..GroupSpec::default()
                });
                Ok(Open::Group)
            }
            "Dimension" if in_container => {
                let name = required(e, "name", line, qname)?;
                let size = required(e, "size", line, qname)?;
                let size = parse_u64(&size).map_err(|r| DmrppError::element(line, qname, format!("size {r}")))?;
                let path = format!("{}/{name}", self.group_path());
                self.doc.dims.insert(path, size);
                Ok(Open::Dimension)
            }
            "Enumeration" if in_container => {
                let name = required(e, "name", line, qname)?;
                let basetype = required(e, "basetype", line, qname)?;
                self.enum_open = Some((
                    format!("{}/{name}", self.group_path()),
                    EnumSpec {
                        basetype,
                        consts: Vec::new(),
                    },
                ));
                Ok(Open::Enumeration)
            }
            "EnumConst" if parent == Open::Enumeration => {
                let name = required(e, "name", line, qname)?;
                let value = required(e, "value", line, qname)?;
                if let Some((_, en)) = &mut self.enum_open {
                    en.consts.push((name, value));
                }
                Ok(Open::Other)
            }
            "Attribute" if matches!(parent, Open::Dataset | Open::Group | Open::Var | Open::Attribute) => {
                let name = required(e, "name", line, qname)?;
                let type_name = required(e, "type", line, qname)?;
                self.attrs.push(AttrSpec {
                    name,
                    type_name,
                    line,
                    ..AttrSpec::default()
                });
                Ok(Open::Attribute)
            }
            "Value" if parent == Open::Attribute => {
                self.text.clear();
                Ok(Open::Value)
            }
            "Dim" if parent == Open::Var => {
                let name = attr(e, "name", line)?;
                let size = attr(e, "size", line)?;
                if let Some(v) = &mut self.var {
                    match (name, size) {
                        (Some(n), None) => v.dims.push(DimRef::Named(n)),
                        (None, Some(s)) => match parse_u64(&s) {
                            Ok(n) => v.dims.push(DimRef::Size(n)),
                            Err(r) => v.fail(line, qname, format!("size {r}")),
                        },
                        _ => v.fail(line, qname, "needs exactly one of `name` and `size`"),
                    }
                }
                Ok(Open::Other)
            }
            "Map" if parent == Open::Var => Ok(Open::Other),
            t if VARIABLE_ELEMENTS.contains(&t) && in_container => {
                let name = required(e, "name", line, qname)?;
                check_name(&name, line, qname)?;
                self.var = Some(VarSpec {
                    name,
                    type_name: t.to_string(),
                    line,
                    enum_ref: attr(e, "enum", line)?,
                    ..VarSpec::default()
                });
                Ok(Open::Var)
            }
            t if VARIABLE_ELEMENTS.contains(&t) && matches!(parent, Open::Var | Open::Member) => {
                // A member of a Structure (or of a member: nested, refused later).
                let name = attr(e, "name", line)?.unwrap_or_default();
                if let Some(v) = &mut self.var {
                    if parent == Open::Member {
                        if let Some(m) = v.members.last_mut() {
                            m.nested = true;
                        }
                    } else {
                        v.members.push(MemberSpec {
                            name,
                            type_name: t.to_string(),
                            nested: t == "Structure" || t == "Sequence",
                        });
                    }
                }
                Ok(Open::Member)
            }
            "Dim" if parent == Open::Member => {
                if let Some(m) = self.var.as_mut().and_then(|v| v.members.last_mut()) {
                    m.nested = true;
                }
                Ok(Open::Other)
            }
            _ => {
                self.unknown(format!("<{qname}> inside <{}>", open_name(parent)), line);
                Ok(Open::Other)
            }
        }
    }

    fn start_dmrpp(&mut self, e: &BytesStart<'_>, local: &str, line: usize, parent: Open) -> Result<Open, DmrppError> {
        let element = format!("dmrpp:{local}");
        let Some(v) = self.var.as_mut().filter(|_| matches!(parent, Open::Var | Open::Chunks)) else {
            self.unknown(format!("<{element}> inside <{}>", open_name(parent)), line);
            return Ok(Open::Other);
        };
        match (local, parent) {
            ("chunks", Open::Var) => {
                if v.chunks.is_some() {
                    v.fail(line, &element, "a second <dmrpp:chunks> element");
                    return Ok(Open::Other);
                }
                let mut c = ChunksSpec {
                    line,
                    ..ChunksSpec::default()
                };
                c.compression = attr(e, "compressionType", line)?
                    .map(|s| s.split_ascii_whitespace().map(str::to_string).collect())
                    .unwrap_or_default();
                if let Some(s) = attr(e, "deflateLevel", line)? {
                    match s.split_ascii_whitespace().map(str::parse::<u32>).collect() {
                        Ok(l) => c.deflate_levels = l,
                        Err(_) => v.fail(line, &element, format!("deflateLevel {s:?} is not a list of integers")),
                    }
                }
                c.fill_value = attr(e, "fillValue", line)?;
                c.byte_order = attr(e, "byteOrder", line)?;
                if let Some(s) = attr(e, "structOffset", line)? {
                    match parse_u64_list(&s) {
                        Ok(l) => c.struct_offset = Some(l),
                        Err(r) => v.fail(line, &element, format!("structOffset {r}")),
                    }
                }
                c.linked_blocks = attr(e, "LBChunk", line)?.is_some_and(|s| s == "true");
                v.chunks = Some(c);
                Ok(Open::Chunks)
            }
            ("chunkDimensionSizes", Open::Chunks) => {
                self.text.clear();
                Ok(Open::ChunkDims)
            }
            ("chunk", Open::Chunks | Open::Var) => {
                self.chunk_count += 1;
                if self.chunk_count > MAX_CHUNKS {
                    return Err(DmrppError::element(
                        line,
                        &element,
                        format!("more than {MAX_CHUNKS} chunks"),
                    ));
                }
                if parent == Open::Var {
                    // The oldest contiguous form: a bare chunk without <dmrpp:chunks>.
                    v.chunks.get_or_insert_with(|| ChunksSpec {
                        line,
                        ..ChunksSpec::default()
                    });
                }
                let c = chunk(e, line);
                match c {
                    Ok(c) => {
                        if let Some(cs) = v.chunks.as_mut() {
                            cs.chunks.push(c);
                        }
                    }
                    Err(r) if r.contains("linked blocks") => v.unsupported(line, &element, "HDF4 linked blocks", r),
                    Err(r) => v.fail(line, &element, r),
                }
                Ok(Open::Other)
            }
            ("block", _) => {
                v.unsupported(
                    line,
                    &element,
                    "HDF4 linked blocks",
                    "a Zarr chunk cannot be several byte ranges",
                );
                Ok(Open::Other)
            }
            ("compact", Open::Var) => {
                self.text.clear();
                Ok(Open::Compact)
            }
            ("missingdata", Open::Var) => {
                self.text.clear();
                Ok(Open::MissingData)
            }
            ("vlsa", Open::Var) => {
                self.text.clear();
                if v.inline.is_none() {
                    v.inline = Some(InlineData::Vlsa(Vec::new()));
                }
                Ok(Open::Vlsa)
            }
            ("FixedLengthStringArray", Open::Var) => {
                let len = attr(e, "string_length", line)?;
                let pad = attr(e, "pad", line)?.unwrap_or_else(|| "not_set".into());
                match len.as_deref().map(parse_u64) {
                    Some(Ok(n)) => v.fixed_string = Some((n, pad)),
                    Some(Err(r)) => v.fail(line, &element, format!("string_length {r}")),
                    None => v.fail(line, &element, "missing required attribute `string_length`"),
                }
                Ok(Open::Other)
            }
            ("specialstructuredata", Open::Var) => {
                v.unsupported(
                    line,
                    &element,
                    "structure with string members",
                    "packed structure values with strings (dmrpp:specialstructuredata) are not mapped",
                );
                Ok(Open::Other)
            }
            _ => {
                self.unknown(format!("<{element}> inside <{}>", open_name(parent)), line);
                Ok(Open::Other)
            }
        }
    }

    fn end(&mut self, line: usize) -> Result<(), DmrppError> {
        let Some(kind) = self.open.pop() else {
            return Err(DmrppError::xml(line, "end tag without a start tag"));
        };
        match kind {
            Open::Group => {
                let g = self.groups.pop().unwrap_or_default();
                if let Some(parent) = self.groups.last_mut() {
                    parent.groups.push(g);
                }
            }
            Open::Var => {
                if let Some(v) = self.var.take() {
                    if let Some(g) = self.groups.last_mut() {
                        g.vars.push(v);
                    }
                }
            }
            Open::Enumeration => {
                if let Some((path, en)) = self.enum_open.take() {
                    self.doc.enums.insert(path, en);
                }
            }
            Open::Attribute => {
                let a = self.attrs.pop().unwrap_or_default();
                if let Some(parent) = self.attrs.last_mut() {
                    parent.children.push(a);
                } else if let Some(v) = &mut self.var {
                    v.attrs.push(a);
                } else if let Some(g) = self.groups.last_mut() {
                    g.attrs.push(a);
                }
            }
            Open::Value => {
                let t = std::mem::take(&mut self.text);
                if let Some(a) = self.attrs.last_mut() {
                    a.values.push(t);
                }
            }
            Open::ChunkDims => {
                let t = std::mem::take(&mut self.text);
                if let Some(v) = &mut self.var {
                    let parsed = parse_u64_list(&t);
                    match (parsed, v.chunks.as_mut()) {
                        (Ok(d), Some(c)) => {
                            // BES uses only the first such element.
                            c.chunk_dims.get_or_insert(d);
                        }
                        (Err(r), _) => v.fail(line, "dmrpp:chunkDimensionSizes", r),
                        (Ok(_), None) => {}
                    }
                }
            }
            Open::Compact | Open::MissingData => {
                let t = std::mem::take(&mut self.text);
                if let Some(v) = &mut self.var {
                    if v.inline.is_some() {
                        v.fail(line, open_name(kind), "a second inline data element");
                    } else {
                        v.inline = Some(if kind == Open::Compact {
                            InlineData::Compact(t)
                        } else {
                            InlineData::MissingData(t)
                        });
                    }
                }
            }
            Open::VlsaValue => {
                let t = std::mem::take(&mut self.text);
                if let (Some(mut val), Some(v)) = (self.vlsa_pending.take(), self.var.as_mut()) {
                    val.text = t;
                    if let Some(InlineData::Vlsa(vals)) = &mut v.inline {
                        vals.push(val);
                    }
                }
            }
            Open::Vlsa => {
                // The alternative encoding: one text of `;`-terminated base64 values.
                let t = std::mem::take(&mut self.text);
                if let (Some(v), false) = (self.var.as_mut(), t.trim().is_empty()) {
                    if let Some(InlineData::Vlsa(vals)) = &mut v.inline {
                        if vals.is_empty() {
                            let mut parts: Vec<&str> = t.trim().split(';').collect();
                            if parts.last() == Some(&"") {
                                parts.pop();
                            }
                            for p in parts {
                                vals.push(VlsaValue {
                                    text: p.to_string(),
                                    count: 1,
                                    encoding: VlsaEncoding::Base64,
                                });
                            }
                        }
                    }
                }
            }
            Open::Dataset | Open::Member | Open::Dimension | Open::Chunks | Open::Other => {}
        }
        Ok(())
    }
}

impl Parser<'_> {
    /// `<v>` inside `<dmrpp:vlsa>` (unprefixed in BES output).
    fn start_vlsa_value(&mut self, e: &BytesStart<'_>, line: usize) -> Result<(), DmrppError> {
        let count = match attr(e, "c", line)? {
            Some(s) => parse_u64(&s),
            None => Ok(1),
        };
        let zlib_len = attr(e, "s", line)?.map(|s| parse_u64(&s)).transpose();
        self.text.clear();
        match (count, zlib_len) {
            (Ok(count), Ok(zlib_len)) => {
                self.vlsa_pending = Some(VlsaValue {
                    text: String::new(),
                    count,
                    encoding: zlib_len.map_or(VlsaEncoding::Text, VlsaEncoding::Zlib),
                });
            }
            (Err(r), _) | (_, Err(r)) => {
                if let Some(v) = &mut self.var {
                    v.fail(line, "v", r);
                }
            }
        }
        Ok(())
    }
}

fn chunk(e: &BytesStart<'_>, line: usize) -> Result<ChunkSpec, String> {
    // One pass over the attributes: chunk elements are most of a large DMR++.
    let (mut offset, mut nbytes, mut position, mut fm, mut href) = (None, None, None, None, None);
    for a in e.attributes() {
        let a = a.map_err(|err| format!("bad attribute: {err}"))?;
        let key = a.key.as_ref();
        if !matches!(
            key,
            b"offset" | b"nBytes" | b"chunkPositionInArray" | b"fm" | b"href" | b"LinkedBlockIndex"
        ) {
            continue;
        }
        let v = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| format!("bad attribute value: {err}"))?;
        match key {
            b"offset" => offset = Some(parse_u64(&v).map_err(|r| format!("offset {r}"))?),
            b"nBytes" => nbytes = Some(parse_u64(&v).map_err(|r| format!("nBytes {r}"))?),
            b"chunkPositionInArray" => {
                position = Some(parse_position(&v).map_err(|r| format!("chunkPositionInArray {r}"))?);
            }
            b"fm" => {
                fm = Some(
                    v.trim()
                        .parse::<u32>()
                        .map_err(|_| format!("fm {v:?} is not a 32-bit filter mask"))?,
                );
            }
            b"href" => href = Some(v.into_owned()),
            _ => return Err("HDF4 linked blocks: a Zarr chunk cannot be several byte ranges".into()),
        }
    }
    let offset = offset.ok_or("missing required attribute `offset`")?;
    let nbytes = nbytes.ok_or("missing required attribute `nBytes`")?;
    if offset.checked_add(nbytes).is_none() {
        return Err(format!("offset {offset} + nBytes {nbytes} overflows"));
    }
    Ok(ChunkSpec {
        offset,
        nbytes,
        position,
        filter_mask: fm.unwrap_or(0),
        href,
        line,
    })
}

/// Names become store paths: no `/`, not empty, not `.` or `..`.
fn check_name(name: &str, line: usize, element: &str) -> Result<(), DmrppError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(DmrppError::element(line, element, format!("invalid name {name:?}")));
    }
    Ok(())
}

fn open_name(o: Open) -> &'static str {
    match o {
        Open::Dataset => "Dataset",
        Open::Group => "Group",
        Open::Var => "variable",
        Open::Member => "Structure member",
        Open::Dimension => "Dimension",
        Open::Enumeration => "Enumeration",
        Open::Attribute => "Attribute",
        Open::Value => "Value",
        Open::Chunks => "dmrpp:chunks",
        Open::ChunkDims => "dmrpp:chunkDimensionSizes",
        Open::Compact => "dmrpp:compact",
        Open::MissingData => "dmrpp:missingdata",
        Open::Vlsa => "dmrpp:vlsa",
        Open::VlsaValue => "v",
        Open::Other => "ignored element",
    }
}
