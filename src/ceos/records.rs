//! CEOS record headers and field decoding (spec §2).
//!
//! Every CEOS file is a sequence of records, each starting with a 12-byte big-endian header:
//! sequence number, four type codes, record length (header included). Fields are ASCII text
//! (`A`), ASCII integers (`I`), ASCII floats (`F`/`E`) or big-endian binary (`B`); an
//! all-blank ASCII number means "no value".

use serde_json::Value;

use super::CeosError;

/// Length of the common record header.
pub const HEADER_LEN: usize = 12;

/// The 12-byte header that starts every record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Record sequence number (1 = first record of the file).
    pub sequence: u32,
    /// The four type codes: first subtype, type, second subtype, third subtype.
    pub codes: [u8; 4],
    /// Record length in bytes, header included.
    pub length: u32,
}

impl RecordHeader {
    /// Decode a header from the first 12 bytes of `b` (`None` if `b` is shorter).
    #[must_use]
    pub fn parse(b: &[u8]) -> Option<Self> {
        let h = b.get(..HEADER_LEN)?;
        Some(Self {
            sequence: u32::from_be_bytes([h[0], h[1], h[2], h[3]]),
            codes: [h[4], h[5], h[6], h[7]],
            length: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        })
    }

    /// The codes as the spec writes them (`18,10,18,20`).
    #[must_use]
    pub fn codes_text(&self) -> String {
        let [a, b, c, d] = self.codes;
        format!("{a},{b},{c},{d}")
    }
}

/// One record of a file: header, absolute offset, 1-based number and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The header.
    pub header: RecordHeader,
    /// Offset of the record in its file.
    pub offset: u64,
    /// 1-based position in the file.
    pub number: u64,
    /// The whole record, header included.
    pub bytes: &'a [u8],
}

/// Split `data` (a whole file, or its start) into records by walking the headers.
///
/// At most `max_records` records are returned; the walk stops there (bytes after them are not
/// looked at).
///
/// # Errors
/// A [`CeosError`] naming the record number and offset when a header is short, a length is
/// below 12 bytes, or a record runs past the end of `data`.
pub fn walk<'a>(file: &str, data: &'a [u8], max_records: usize) -> Result<Vec<Record<'a>>, CeosError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let number = out.len() as u64 + 1;
        if out.len() >= max_records {
            break;
        }
        let err = |reason: String| CeosError::record(file, number, pos as u64, reason);
        let header = RecordHeader::parse(&data[pos..]).ok_or_else(|| {
            err(format!(
                "truncated record header: {} bytes left, a header is {HEADER_LEN}",
                data.len() - pos
            ))
        })?;
        let len = header.length as usize;
        if len < HEADER_LEN {
            return Err(err(format!("record length {len} is shorter than its own header")));
        }
        let end = pos.checked_add(len).filter(|&e| e <= data.len()).ok_or_else(|| {
            err(format!(
                "record of {len} bytes (type {}) runs past the end of the file ({} bytes)",
                header.codes_text(),
                data.len()
            ))
        })?;
        out.push(Record {
            header,
            offset: pos as u64,
            number,
            bytes: &data[pos..end],
        });
        pos = end;
    }
    Ok(out)
}

/// An ASCII (`A`) field, trimmed; `None` when out of range. Non-ASCII bytes are replaced.
#[must_use]
pub fn text(rec: &[u8], off: usize, len: usize) -> Option<String> {
    let b = rec.get(off..off.checked_add(len)?)?;
    Some(String::from_utf8_lossy(b).trim().trim_matches('\0').trim().to_string())
}

/// An ASCII integer (`I`) field: `Ok(None)` when blank, `Err` with the text when not a number
/// or out of range.
///
/// # Errors
/// The field's text, when it is neither blank nor an integer.
pub fn int(rec: &[u8], off: usize, len: usize) -> Result<Option<i64>, String> {
    let t = text(rec, off, len).ok_or_else(|| format!("field at {off}..{} is past the record end", off + len))?;
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<i64>()
        .map(Some)
        .map_err(|_| format!("{t:?} is not an integer"))
}

/// An ASCII float (`F`, `E`) field: `Ok(None)` when blank.
///
/// # Errors
/// The field's text, when it is neither blank nor a number.
pub fn float(rec: &[u8], off: usize, len: usize) -> Result<Option<f64>, String> {
    let t = text(rec, off, len).ok_or_else(|| format!("field at {off}..{} is past the record end", off + len))?;
    if t.is_empty() {
        return Ok(None);
    }
    // Fortran-style exponents ("1.0D+03") appear in some CEOS writers.
    t.replace(['D', 'd'], "E")
        .parse::<f64>()
        .map(Some)
        .map_err(|_| format!("{t:?} is not a number"))
}

/// A big-endian signed 32-bit binary field.
#[must_use]
pub fn be_i32(rec: &[u8], off: usize) -> Option<i32> {
    let b = rec.get(off..off.checked_add(4)?)?;
    Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A big-endian signed 16-bit binary field.
#[must_use]
pub fn be_i16(rec: &[u8], off: usize) -> Option<i16> {
    let b = rec.get(off..off.checked_add(2)?)?;
    Some(i16::from_be_bytes([b[0], b[1]]))
}

/// A big-endian signed 64-bit binary field.
#[must_use]
pub fn be_i64(rec: &[u8], off: usize) -> Option<i64> {
    let b = rec.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(i64::from_be_bytes(a))
}

/// How an attribute field is encoded.
#[derive(Debug, Clone, Copy)]
pub enum Enc {
    /// ASCII text.
    A,
    /// ASCII integer.
    I,
    /// ASCII float.
    F,
}

/// A field of a metadata record: name, 0-based offset, length, encoding.
pub type Field = (&'static str, usize, usize, Enc);

/// Decode `fields` of `rec` into JSON attributes. Blank numbers are left out; a number that
/// does not parse is kept as its text and reported in `bad`.
pub fn attributes(rec: &[u8], fields: &[Field], attrs: &mut serde_json::Map<String, Value>, bad: &mut Vec<String>) {
    for &(name, off, len, enc) in fields {
        let v = match enc {
            Enc::A => match text(rec, off, len) {
                Some(t) => Value::String(t),
                None => continue,
            },
            Enc::I => match int(rec, off, len) {
                Ok(Some(v)) => Value::from(v),
                Ok(None) => continue,
                Err(e) => {
                    bad.push(format!("{name}: {e}"));
                    Value::String(text(rec, off, len).unwrap_or_default())
                }
            },
            Enc::F => match float(rec, off, len) {
                Ok(Some(v)) => crate::model::float_json(v),
                Ok(None) => continue,
                Err(e) => {
                    bad.push(format!("{name}: {e}"));
                    Value::String(text(rec, off, len).unwrap_or_default())
                }
            },
        };
        attrs.insert(name.into(), v);
    }
}
