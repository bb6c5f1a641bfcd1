//! CEOS ALOS-2 / PALSAR-2 reader: a product (volume directory, SAR leader, image files,
//! trailer, `summary.txt`) → the format-neutral model, one virtual array per image file.
//!
//! Our notes with every field offset: `../shared/specs/ceos-alos2.md` (0-based offsets; the
//! JAXA tables are 1-based). A CEOS file is a sequence of records, each with a 12-byte
//! big-endian header giving its type codes and length ([`records`]); the reader walks those
//! headers and never assumes a record size.
//!
//! Entry points: [`sniff`] (is this a CEOS file, of which mission) and [`read`] (a whole
//! product). Like every parser of the crate, `read` is a function of bytes it asks for: it
//! reads through a [`ProductReader`] (the files of one product directory) and opens nothing
//! itself, so one parser serves local directories, object-store prefixes and fuzzers
//! ([`MemProduct`]).
//!
//! Mapping decisions (see `docs/design/004-ceos.md`):
//! - Layout like xarray-ceos-alos2's tree: root attributes from the volume directory (volume
//!   descriptor and text record); `/summary/<section>` groups with the `summary.txt` entries
//!   (text values, as written); `/metadata/<record>` groups with the SAR leader's records
//!   (`dataset_summary`, `map_projection`, `platform_position` with the state vectors as
//!   arrays, `attitude` with its points as arrays, `radiometric_data`, `data_quality_summary`);
//!   `/imagery/<POL>` (stripmap, levels 1.5 and 3.1) or `/imagery/<POL>_scan<n>` (ScanSAR
//!   level 1.1), one group per image file.
//! - Each image group has an array `data` of shape `[lines, pixels]`, `complex64` (`C*8`,
//!   level 1.1) or `uint16` (`IU2`, levels 1.5/3.1), codec `bytes{endian: big}`, chunk shape
//!   `[1, pixels]`: one chunk per image line, pointing at the pixel bytes of that line's record
//!   (the per-line prefix is skipped). The references are computed from the 720-byte file
//!   descriptor and the file size alone.
//! - Per-line metadata (line number `rows`, `sensor_acquisition_date`, slant ranges, Doppler,
//!   first/centre/last latitude and longitude, burst number…) becomes small real 1-D arrays
//!   over `rows` next to `data`, decoded as **signed** big-endian integers (xarray-ceos-alos2
//!   reads them unsigned, so southern latitudes come out as 4282.6°), scaled to degrees / Hz
//!   where the field is stored ×1e6 / ×1e3. They are read with one request per
//!   `records_per_chunk` records ([`CeosOptions`]) and can be left out
//!   ([`LineMetadata::None`]).
//! - Refused, with the file, record and reason: an image whose file size is not
//!   descriptor + records × record length (truncated), whose record length is not prefix +
//!   pixels × bytes + suffix, whose pixel format is not `C*8`/`IU2`, or whose records have the
//!   wrong type or length. The rest of the product is still mapped. A product without a
//!   volume directory or SAR leader, a CEOS product of another mission (RADARSAT, ERS, JERS,
//!   IRS…) and byte-swapped headers fail the whole input.

#[doc(hidden)]
pub mod fuzzing;
mod image;
mod leader;
mod map;
pub mod records;
mod summary;
mod volume;

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::io::ReadError;
use crate::model::{Group, Refusal};

/// Default size of one per-line metadata request, when `records_per_chunk` is not given.
pub const DEFAULT_REQUEST_BYTES: u64 = 16 << 20;

/// One file of a product directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFile {
    /// File name (the last path component: `IMG-HH-ALOS2…`).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// The files of one product directory, readable by byte range.
pub trait ProductReader: Send + Sync {
    /// The files of the directory (any order; non-CEOS files are ignored).
    fn files(&self) -> &[ProductFile];

    /// Read exactly `len` bytes at `offset` of file `file` (an index into [`Self::files`]).
    ///
    /// # Errors
    /// [`ReadError`] on I/O failure or a range past the end of the file.
    fn read(&self, file: usize, offset: u64, len: u64) -> Result<Bytes, ReadError>;

    /// Read several ranges of one file, possibly concurrently (one request per range).
    ///
    /// # Errors
    /// [`ReadError`] on I/O failure or a range past the end of the file.
    fn read_ranges(&self, file: usize, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, ReadError> {
        ranges
            .iter()
            .map(|r| self.read(file, r.start, r.end.saturating_sub(r.start)))
            .collect()
    }

    /// Requests sent to the storage so far (for reports and tests).
    fn requests(&self) -> u64 {
        0
    }
}

/// An in-memory product (tests, fuzzing).
#[derive(Debug, Default)]
pub struct MemProduct {
    files: Vec<ProductFile>,
    data: Vec<Bytes>,
    requests: AtomicU64,
}

impl MemProduct {
    /// A product from `(name, bytes)` pairs.
    #[must_use]
    pub fn new(files: Vec<(String, Bytes)>) -> Self {
        let (names, data): (Vec<_>, Vec<_>) = files
            .into_iter()
            .map(|(name, b)| {
                (
                    ProductFile {
                        name,
                        size: b.len() as u64,
                    },
                    b,
                )
            })
            .unzip();
        Self {
            files: names,
            data,
            requests: AtomicU64::new(0),
        }
    }
}

impl ProductReader for MemProduct {
    fn files(&self) -> &[ProductFile] {
        &self.files
    }

    fn read(&self, file: usize, offset: u64, len: u64) -> Result<Bytes, ReadError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let b = self
            .data
            .get(file)
            .ok_or_else(|| ReadError::Remote(format!("no file {file}")))?;
        crate::io::ReadAt::read_at(b, offset, len)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// Whether to read the per-line metadata of the image files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineMetadata {
    /// Read every record's prefix: coordinate arrays over `rows` (reads the image files once).
    #[default]
    Full,
    /// Only the image arrays (one small read per image file).
    None,
}

/// Options of [`read`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CeosOptions {
    /// Per-line metadata.
    pub line_metadata: LineMetadata,
    /// Records per request when reading per-line metadata (`None`: about
    /// [`DEFAULT_REQUEST_BYTES`] per request).
    pub records_per_chunk: Option<u64>,
    /// The volume directory file to use when the directory holds several products.
    pub volume_file: Option<String>,
}

/// What [`read`] produces.
#[derive(Debug, Clone, PartialEq)]
pub struct CeosOutput {
    /// The root group.
    pub root: Group,
    /// The files chunk references point into: `SourceId(i)` is `files()[sources[i]]`.
    pub sources: Vec<usize>,
    /// Image files left out, with the reason.
    pub refusals: Vec<Refusal>,
    /// Metadata skipped or inconsistent, with the reason.
    pub warnings: Vec<Refusal>,
}

/// A product (or one of its files) that cannot be used, naming the file, the record and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{reason}", record.map(|(n, off)| format!("record {n} at offset {off}: ")).unwrap_or_default())]
pub struct CeosError {
    /// The file.
    pub file: String,
    /// Record number (1-based) and its offset in the file, when one record is at fault.
    pub record: Option<(u64, u64)>,
    /// What is wrong.
    pub reason: String,
}

impl CeosError {
    fn file(file: &str, reason: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            record: None,
            reason: reason.into(),
        }
    }

    fn record(file: &str, number: u64, offset: u64, reason: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            record: Some((number, offset)),
            reason: reason.into(),
        }
    }
}

/// Which CEOS file a head of bytes starts, and of which mission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeosHead {
    /// The record header is little-endian (as IRS products write it).
    pub byte_swapped: bool,
    /// Type codes of the first record.
    pub codes: [u8; 4],
    /// A volume directory (volume descriptor first), not a file descriptor.
    pub volume_directory: bool,
    /// ALOS-2 (file id `AL2…` or logical volume id `ALOS2…`).
    pub alos2: bool,
    /// The mission as far as the identifiers tell (`"RADARSAT-1"`, `"ERS-2"`…).
    pub mission: String,
    /// The identifiers read (document id, file id / volume ids).
    pub ids: Vec<String>,
}

impl CeosHead {
    /// One line for messages: what this file is and why it is refused.
    #[must_use]
    pub fn describe(&self) -> String {
        let ids: Vec<String> = self
            .ids
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| format!("{s:?}"))
            .collect();
        format!(
            "a CEOS {} of {}{}{}",
            if self.volume_directory {
                "volume directory"
            } else {
                "file"
            },
            self.mission,
            if ids.is_empty() {
                String::new()
            } else {
                format!(" (identifiers {})", ids.join(", "))
            },
            if self.byte_swapped {
                ", with byte-swapped (little-endian) record headers"
            } else {
                ""
            }
        )
    }
}

/// Recognise a CEOS file from its first bytes (at least the first 92): a first record whose
/// header has sequence number 1, record type 192 (a descriptor record) and a plausible length.
/// `None` when it is not CEOS.
#[must_use]
pub fn sniff(head: &[u8]) -> Option<CeosHead> {
    let h = head.get(..12)?;
    let be_seq = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let le_seq = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let be_len = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    let le_len = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    let plausible = |len: u32| (180..=1 << 20).contains(&len);
    if h[5] != 192 {
        return None;
    }
    let byte_swapped = if be_seq == 1 && plausible(be_len) {
        false
    } else if le_seq == 1 && plausible(le_len) {
        true
    } else {
        return None;
    };
    let codes = [h[4], h[5], h[6], h[7]];
    let volume_directory = codes[0] == 192;
    let t = |off, len| records::text(head, off, len).unwrap_or_default();
    let ids = if volume_directory {
        // Document id, physical / logical volume id, volume set id.
        vec![t(16, 12), t(44, 16), t(60, 16), t(76, 16)]
    } else {
        // Document id, file id.
        vec![t(16, 12), t(48, 16)]
    };
    let alos2 = !byte_swapped && ids[1..].iter().any(|s| s.starts_with("AL2") || s.starts_with("ALOS2"));
    let mission = if alos2 {
        "ALOS-2".to_string()
    } else {
        // The identifiers first, then any text of the head (a volume directory's file pointers
        // name the files: "ERS2.SAR.RAWLEAD").
        guess_mission(&ids.join(" "))
            .or_else(|| guess_mission(&String::from_utf8_lossy(head)))
            .unwrap_or_else(|| "an unidentified mission".to_string())
    };
    Some(CeosHead {
        byte_swapped,
        codes,
        volume_directory,
        alos2,
        mission,
        ids,
    })
}

fn guess_mission(text: &str) -> Option<String> {
    let all = text.to_ascii_uppercase();
    // Longer / more specific names first ("JERS" before "ERS", "ERS2" before "RS2").
    let known = [
        ("JERS", "JERS-1"),
        ("ERS1", "ERS-1"),
        ("ERS-1", "ERS-1"),
        ("ERS2", "ERS-2"),
        ("ERS-2", "ERS-2"),
        ("RSAT-2", "RADARSAT-2"),
        ("RADARSAT-2", "RADARSAT-2"),
        ("R1_", "RADARSAT-1"),
        ("RSAT", "RADARSAT-1"),
        ("RADARSAT", "RADARSAT-1"),
        ("ENVISAT", "ENVISAT"),
        ("ALOS-", "ALOS (PALSAR)"),
        ("IRSDDPF", "IRS"),
        ("IRS-", "IRS"),
    ];
    known
        .iter()
        .find(|(k, _)| all.contains(k))
        .map(|(_, m)| (*m).to_string())
}

/// Read a whole ALOS-2 product into the model.
///
/// # Errors
/// [`CeosError`] when the product cannot be used at all: no (or an ambiguous) volume
/// directory, a volume directory or leader that is not ALOS-2 CEOS, a missing SAR leader.
/// Image files that cannot be referenced are listed in [`CeosOutput::refusals`].
pub fn read(product: &dyn ProductReader, opts: &CeosOptions) -> Result<CeosOutput, CeosError> {
    map::read_product(product, opts)
}

#[cfg(test)]
mod tests;
