//! DMR++ reader: OPeNDAP's chunk tables (`build_dmrpp` output) → the format-neutral model,
//! without touching the data file.
//!
//! A DMR++ is a DAP4 DMR (groups, dimensions, variables, attributes) with `dmrpp:` elements
//! that give every chunk's offset and size in the HDF5 / netCDF-4 file it describes. Our notes
//! on the format: `../shared/specs/dmrpp.md`.
//!
//! Entry points: [`is_dmrpp`] and [`read`]. `read` fails only when the document as a whole
//! cannot be used (malformed XML, no DAP4 `<Dataset>`, a `<Dimension>` without a size, a data
//! file it needs but cannot name); a variable it cannot express is refused by name in
//! [`DmrppOutput::refusals`] and the others are still mapped.
//!
//! Mapping decisions (each variable):
//! - Types: `Byte`/`UInt8`/`Char` → `uint8`, `Int8`…`UInt64`, `Float32`/`Float64` as named;
//!   `Enum` → its `Enumeration`'s base type plus the attribute `_hdf5_enum {label: value}`
//!   (as the HDF5 reader writes it); `String` → `vlen-utf8` when its values are inline
//!   (`dmrpp:vlsa`, `dmrpp:compact` without a fixed length), fixed-length bytes with
//!   `dmrpp:FixedLengthStringArray`; `Structure` of atomic members, packed and little-endian
//!   (`structOffset`) → a structured type. `URL`, `Opaque`, `Sequence`, nested structures
//!   and padded or big-endian structures are refused.
//! - Shape from the `<Dim>`s; `dimension_names` are the dimensions' names (last path
//!   component when the dimension is declared in the variable's group or above, else the full
//!   path); an anonymous `<Dim size="n">` is named `phony_dim_<n>` (`phony_dim_<n>_<k>` for the
//!   k-th further axis of that size in one variable).
//! - `chunkDimensionSizes` → chunk shape (absent: the array shape, i.e. contiguous);
//!   `chunkPositionInArray` / chunk shape → chunk key; `byteOrder` → `bytes{endian}`;
//!   `compressionType` (deflate, shuffle, fletcher32, in any order, repeated) → the same
//!   codecs the HDF5 reader writes for that filter pipeline. Files without `dmrpp:version`
//!   have their filters put in the order old BES assumed (shuffle, deflate, fletcher32).
//! - `fillValue` → fill value (absent: the `_FillValue` attribute, else zeros);
//!   `unsupported-*` flags refuse the variable (an `unsupported-string` fill is empty).
//! - `dmrpp:compact`, `dmrpp:missingdata` (zlib) and `dmrpp:vlsa` → inline chunks.
//! - Refused by name: a nonzero per-chunk filter mask (`fm`), HDF4 linked blocks, unknown
//!   filters or byte orders, chunk positions off the grid, an unfiltered chunk whose size is
//!   not the chunk's element count times the element size (a DMR++ derived from DAP2 that
//!   declares `Int16` for 8-bit data), chunked NUL-terminated or space-padded strings (their
//!   padding can only be rewritten from the data).
//! - Attributes become JSON (containers as nested objects; `HDF5_GLOBAL` at the root is
//!   hoisted into the root attributes; netCDF-internal names are hidden, as for HDF5). NaN and
//!   infinities are the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
//! - Chunk references point at the data files in [`DmrppOutput::sources`]: the root
//!   `dmrpp:href` (or [`DmrppOptions::data_url`]), and any per-chunk `href`.

mod map;
mod parse;

use url::Url;

use crate::model::{Group, Refusal};

/// Options of the DMR++ reader.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DmrppOptions {
    /// Where the DMR++ itself is: relative hrefs are resolved against it, and without a
    /// `dmrpp:href` the data file is this URL minus `.dmrpp`.
    pub dmrpp_url: Option<Url>,
    /// The data file, overriding the root `dmrpp:href`; required when the href is the
    /// `OPeNDAP_DMRpp_DATA_ACCESS_URL` template.
    pub data_url: Option<Url>,
}

/// What [`read`] produces.
#[derive(Debug, Clone, PartialEq)]
pub struct DmrppOutput {
    /// The root group and everything mapped below it.
    pub root: Group,
    /// Data files the chunk references point into: `SourceId(i)` is `sources[i]`.
    pub sources: Vec<Url>,
    /// Variables left out, with the reason.
    pub refusals: Vec<Refusal>,
    /// Attributes and elements skipped, with the reason.
    pub warnings: Vec<Refusal>,
    /// `dmrpp:version` of the document (`None`: an old-style DMR++).
    pub version: Option<String>,
}

/// A DMR++ document that cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{reason}", line.map(|l| format!("line {l}, ")).unwrap_or_default(), element.as_ref().map(|e| format!("<{e}>: ")).unwrap_or_default())]
pub struct DmrppError {
    /// Line of the offending element, if known.
    pub line: Option<usize>,
    /// Name of the offending element, if any.
    pub element: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl DmrppError {
    fn xml(line: usize, reason: impl Into<String>) -> Self {
        DmrppError {
            line: Some(line),
            element: None,
            reason: reason.into(),
        }
    }

    fn element(line: usize, element: &str, reason: impl Into<String>) -> Self {
        DmrppError {
            line: Some(line),
            element: Some(element.into()),
            reason: reason.into(),
        }
    }

    fn not_dmrpp(reason: impl Into<String>) -> Self {
        DmrppError {
            line: None,
            element: None,
            reason: format!("not a DMR++ document: {}", reason.into()),
        }
    }
}

/// Whether `head` (the first bytes of a file) looks like a DMR++ / DAP4 DMR document: XML
/// whose first element is `<Dataset`.
#[must_use]
pub fn is_dmrpp(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    // Skip the declaration, comments and processing instructions before the root element.
    loop {
        if let Some(r) = rest.strip_prefix("<?") {
            let Some(end) = r.find("?>") else { return false };
            rest = r[end + 2..].trim_start();
        } else if let Some(r) = rest.strip_prefix("<!--") {
            let Some(end) = r.find("-->") else { return false };
            rest = r[end + 3..].trim_start();
        } else {
            break;
        }
    }
    let Some(tag) = rest.strip_prefix('<') else {
        return false;
    };
    let name: String = tag
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
        .collect();
    name == "Dataset" || name.ends_with(":Dataset")
}

/// The document as UTF-8: ISO-8859-1 (what BES declares) is transcoded, UTF-8 is checked.
fn to_utf8(xml: &[u8]) -> Result<std::borrow::Cow<'_, str>, DmrppError> {
    let head = String::from_utf8_lossy(&xml[..xml.len().min(200)]).to_ascii_lowercase();
    let declared_latin1 = head.starts_with("<?xml")
        && head.split("?>").next().is_some_and(|decl| {
            ["iso-8859-1", "latin1", "latin-1", "iso8859-1", "windows-1252"]
                .iter()
                .any(|e| decl.contains(&format!("encoding=\"{e}\"")) || decl.contains(&format!("encoding='{e}'")))
        });
    if declared_latin1 && !xml.is_ascii() {
        // Every byte is one code point (windows-1252's 0x80–0x9F read as C1 controls).
        return Ok(std::borrow::Cow::Owned(xml.iter().map(|&b| char::from(b)).collect()));
    }
    std::str::from_utf8(xml).map(std::borrow::Cow::Borrowed).map_err(|e| {
        let line = 1 + memchr::memchr_iter(b'\n', &xml[..e.valid_up_to()]).count();
        DmrppError::xml(
            line,
            format!(
                "not valid UTF-8 at byte {} (and no Latin-1 declaration)",
                e.valid_up_to()
            ),
        )
    })
}

/// Read a DMR++ document into the model.
///
/// # Errors
/// [`DmrppError`] when the document cannot be used at all (see the module documentation).
/// Variables that cannot be expressed are listed in [`DmrppOutput::refusals`].
pub fn read(xml: &[u8], opts: &DmrppOptions) -> Result<DmrppOutput, DmrppError> {
    let text = to_utf8(xml)?;
    let doc = parse::parse(&text)?;
    map::map(&doc, opts)
}

#[cfg(test)]
mod tests;
