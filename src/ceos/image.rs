//! SAR image files (`IMG-…`, spec §6): the 720-byte file descriptor, the byte arithmetic of
//! the line records, and the per-line prefix fields.

use std::ops::Range;

use serde_json::{json, Map, Value};

use super::records::{self, RecordHeader};
use super::{CeosError, ProductReader};
use crate::model::DataType;

/// Bytes read to parse an image file descriptor: the 720-byte descriptor and the header of
/// the first line record.
pub const HEAD_BYTES: u64 = 720 + 12;

/// The pixel format of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// `C*8`: complex, two big-endian float32 (level 1.1).
    C8,
    /// `IU2`: big-endian uint16 (levels 1.5, 3.1).
    Iu2,
}

impl PixelFormat {
    /// Bytes per pixel.
    #[must_use]
    pub fn size(self) -> u64 {
        match self {
            PixelFormat::C8 => 8,
            PixelFormat::Iu2 => 2,
        }
    }

    /// The model data type.
    #[must_use]
    pub fn data_type(self) -> DataType {
        match self {
            PixelFormat::C8 => DataType::Complex(64),
            PixelFormat::Iu2 => DataType::UInt(16),
        }
    }

    /// The type code of the line records: 10 (signal data) or 11 (processed data).
    #[must_use]
    pub fn record_type(self) -> u8 {
        match self {
            PixelFormat::C8 => 10,
            PixelFormat::Iu2 => 11,
        }
    }
}

/// What the image file descriptor says, checked against itself and the file size.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDescriptor {
    /// Length of the file descriptor record (where the first line record starts).
    pub fdl: u64,
    /// Number of line records.
    pub records: u64,
    /// Length of each line record.
    pub record_length: u64,
    /// Prefix bytes per record (record header included).
    pub prefix: u64,
    /// Pixels per line.
    pub pixels: u64,
    /// Pixel format.
    pub format: PixelFormat,
    /// Descriptor fields kept as attributes of the image group.
    pub attrs: Map<String, Value>,
}

impl ImageDescriptor {
    /// Offset of line record `i` (0-based).
    #[must_use]
    pub fn record_offset(&self, i: u64) -> u64 {
        // Cannot overflow: `fdl + records * record_length` was checked against the file size.
        self.fdl + i * self.record_length
    }

    /// Pixel bytes per line.
    #[must_use]
    pub fn line_bytes(&self) -> u64 {
        self.pixels * self.format.size()
    }
}

fn need(file: &str, head: &[u8], off: usize, len: usize, name: &str) -> Result<i64, CeosError> {
    match records::int(head, off, len) {
        Ok(Some(v)) if v >= 0 => Ok(v),
        Ok(Some(v)) => Err(CeosError::record(file, 1, 0, format!("{name} is negative ({v})"))),
        Ok(None) => Err(CeosError::record(
            file,
            1,
            0,
            format!("{name} (bytes {off}..{}) is blank", off + len),
        )),
        Err(e) => Err(CeosError::record(
            file,
            1,
            0,
            format!("{name} (bytes {off}..{}): {e}", off + len),
        )),
    }
}

/// Parse and check an image file descriptor. `head` holds the file's first bytes (at least the
/// descriptor; the first line record's header too when the file has one); `size` is the file
/// size.
///
/// # Errors
/// [`CeosError`] naming the field when the descriptor is inconsistent, the pixel format is not
/// `C*8`/`IU2`, the record length is not prefix + pixels × bytes + suffix, the first record
/// header disagrees, or the file size is not descriptor + records × record length.
pub fn parse_descriptor(file: &str, head: &[u8], size: u64) -> Result<ImageDescriptor, CeosError> {
    let h = RecordHeader::parse(head)
        .ok_or_else(|| CeosError::file(file, format!("truncated: {size} bytes, shorter than a record header")))?;
    if h.sequence != 1 || h.codes[1] != 192 {
        let swapped = u32::from_le_bytes(head[..4].try_into().unwrap_or([0; 4])) == 1;
        return Err(CeosError::record(
            file,
            1,
            0,
            if swapped {
                "byte-swapped (little-endian) record header: not an ALOS-2 image file".to_string()
            } else {
                format!(
                    "not an image file descriptor (sequence number {}, record type codes {})",
                    h.sequence,
                    h.codes_text()
                )
            },
        ));
    }
    let fdl = u64::from(h.length);
    if fdl < 460 {
        return Err(CeosError::record(
            file,
            1,
            0,
            format!("file descriptor of {fdl} bytes is too short for an image file descriptor (720)"),
        ));
    }
    if (head.len() as u64) < fdl.min(HEAD_BYTES - 12) {
        return Err(CeosError::file(
            file,
            format!("truncated: {} bytes, the file descriptor alone is {fdl}", head.len()),
        ));
    }
    let code = records::text(head, 428, 4).unwrap_or_default();
    let format = match code.as_str() {
        "C*8" => PixelFormat::C8,
        "IU2" => PixelFormat::Iu2,
        other => {
            return Err(CeosError::record(
                file,
                1,
                0,
                format!("unsupported pixel format code {other:?} (ALOS-2 image files are C*8 or IU2)"),
            ))
        }
    };
    let n = need(file, head, 180, 6, "number of SAR data records")?;
    let l = need(file, head, 186, 6, "SAR data record length")?;
    let bpp = need(file, head, 224, 4, "bytes per data group")?;
    let lines = need(file, head, 236, 8, "lines per dataset")?;
    let pixels = need(file, head, 248, 8, "data groups per line")?;
    let prefix = need(file, head, 276, 4, "prefix bytes per record")?;
    let data_bytes = need(file, head, 280, 8, "SAR data bytes per record")?;
    let suffix = need(file, head, 288, 4, "suffix bytes per record")?;
    let [n, l, bpp, lines, pixels, prefix, data_bytes, suffix] =
        [n, l, bpp, lines, pixels, prefix, data_bytes, suffix].map(|v| v as u64);
    let bad = |reason: String| Err(CeosError::record(file, 1, 0, reason));
    if bpp != format.size() {
        return bad(format!(
            "{bpp} bytes per data group, but format {code} has {} per pixel",
            format.size()
        ));
    }
    if lines != n {
        return bad(format!("{lines} lines per dataset but {n} SAR data records"));
    }
    let pixel_bytes = pixels.checked_mul(bpp);
    if pixel_bytes != Some(data_bytes) {
        return bad(format!(
            "SAR data bytes per record {data_bytes} differs from pixels {pixels} × {bpp} bytes"
        ));
    }
    let sum = prefix.checked_add(data_bytes).and_then(|v| v.checked_add(suffix));
    if sum != Some(l) {
        return bad(format!(
            "record length {l} differs from prefix {prefix} + pixels {pixels} × {bpp} bytes + suffix {suffix} = {}",
            sum.map_or("overflow".into(), |s| s.to_string())
        ));
    }
    if prefix < 12 {
        return bad(format!(
            "prefix of {prefix} bytes cannot hold the 12-byte record header"
        ));
    }
    let expected = n.checked_mul(l).and_then(|v| v.checked_add(fdl));
    match expected {
        Some(e) if e == size => {}
        Some(e) if e > size => {
            return Err(CeosError::file(
                file,
                format!(
                    "truncated: expected {e} bytes ({fdl}-byte file descriptor + {n} records × {l} bytes), \
                     the file has {size}"
                ),
            ))
        }
        Some(e) => {
            return Err(CeosError::file(
                file,
                format!(
                    "file size {size} differs from the expected {e} bytes ({fdl}-byte file descriptor + \
                     {n} records × {l} bytes): {} bytes too many",
                    size - e
                ),
            ))
        }
        None => return bad(format!("{n} records × {l} bytes overflows")),
    }
    // The first line record's header, when it is in `head`.
    if n > 0 {
        if let Some(first) = usize::try_from(fdl)
            .ok()
            .and_then(|f| head.get(f..))
            .and_then(RecordHeader::parse)
        {
            check_line_header(file, &first, 2, fdl, l, format)?;
        }
    }
    let mut attrs = Map::new();
    attrs.insert("file_id".into(), json!(records::text(head, 48, 16).unwrap_or_default()));
    attrs.insert("type_code".into(), json!(code));
    attrs.insert("number_of_records".into(), json!(n));
    attrs.insert("record_length".into(), json!(l));
    attrs.insert("prefix_bytes_per_record".into(), json!(prefix));
    attrs.insert("suffix_bytes_per_record".into(), json!(suffix));
    attrs.insert(
        "interleaving_id".into(),
        json!(records::text(head, 268, 4).unwrap_or_default()),
    );
    if let Ok(Some(v)) = records::int(head, 440, 8) {
        if format == PixelFormat::Iu2 {
            attrs.insert("valid_range".into(), json!([0, v]));
        }
    }
    for (name, off) in [
        ("number_of_burst_data", 448),
        ("number_of_lines_per_burst", 452),
        ("number_of_overlap_lines_with_adjacent_bursts", 456),
    ] {
        if let Ok(Some(v)) = records::int(head, off, 4) {
            attrs.insert(name.into(), json!(v));
        }
    }
    Ok(ImageDescriptor {
        fdl,
        records: n,
        record_length: l,
        prefix,
        pixels,
        format,
        attrs,
    })
}

fn check_line_header(
    file: &str,
    h: &RecordHeader,
    number: u64,
    offset: u64,
    l: u64,
    format: PixelFormat,
) -> Result<(), CeosError> {
    if h.codes[1] != format.record_type() {
        return Err(CeosError::record(
            file,
            number,
            offset,
            format!(
                "record type codes {} where a {} record (type {}) was expected",
                h.codes_text(),
                if format == PixelFormat::C8 {
                    "signal data"
                } else {
                    "processed data"
                },
                format.record_type()
            ),
        ));
    }
    if u64::from(h.length) != l {
        return Err(CeosError::record(
            file,
            number,
            offset,
            format!("record length {} differs from the file descriptor's {l}", h.length),
        ));
    }
    Ok(())
}

/// How a per-line field is stored and scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Big-endian i32, kept as int32.
    I32,
    /// Big-endian i32 divided by this factor, as float64.
    Scaled(f64),
}

/// A per-line prefix field: array name, 0-based offset in the record, kind, units.
pub type LineField = (&'static str, usize, Kind, &'static str);

/// Signal data record (level 1.1) fields, spec §6.2.
pub const SIGNAL_FIELDS: &[LineField] = &[
    ("actual_count_of_left_fill_pixels", 20, Kind::I32, ""),
    ("actual_count_of_data_pixels", 24, Kind::I32, ""),
    ("actual_count_of_right_fill_pixels", 28, Kind::I32, ""),
    ("prf", 56, Kind::I32, "mHz"),
    ("slant_range_to_first_data_sample", 116, Kind::I32, "m"),
    ("data_record_window_position", 120, Kind::I32, "ns"),
    ("platform_latitude", 132, Kind::Scaled(1e6), "degrees_north"),
    ("platform_longitude", 136, Kind::Scaled(1e6), "degrees_east"),
    ("platform_altitude", 140, Kind::I32, "m"),
    ("platform_ground_speed", 144, Kind::I32, "cm/s"),
    ("pitch", 180, Kind::Scaled(1e6), "deg"),
    ("roll", 184, Kind::Scaled(1e6), "deg"),
    ("yaw", 188, Kind::Scaled(1e6), "deg"),
    ("latitude_of_first_pixel", 192, Kind::Scaled(1e6), "degrees_north"),
    ("latitude_of_center_pixel", 196, Kind::Scaled(1e6), "degrees_north"),
    ("latitude_of_last_pixel", 200, Kind::Scaled(1e6), "degrees_north"),
    ("longitude_of_first_pixel", 204, Kind::Scaled(1e6), "degrees_east"),
    ("longitude_of_center_pixel", 208, Kind::Scaled(1e6), "degrees_east"),
    ("longitude_of_last_pixel", 212, Kind::Scaled(1e6), "degrees_east"),
    ("burst_number", 216, Kind::I32, ""),
    ("line_number_in_this_burst", 220, Kind::I32, ""),
];

/// Processed data record (levels 1.5, 3.1) fields, spec §6.3.
pub const PROCESSED_FIELDS: &[LineField] = &[
    ("actual_count_of_left_fill_pixels", 20, Kind::I32, ""),
    ("actual_count_of_data_pixels", 24, Kind::I32, ""),
    ("actual_count_of_right_fill_pixels", 28, Kind::I32, ""),
    ("prf", 56, Kind::I32, "mHz"),
    ("slant_range_to_first_pixel", 64, Kind::I32, "m"),
    ("slant_range_to_mid_pixel", 68, Kind::I32, "m"),
    ("slant_range_to_last_pixel", 72, Kind::I32, "m"),
    ("doppler_centroid_value_at_first_pixel", 76, Kind::Scaled(1e3), "Hz"),
    ("doppler_centroid_value_at_mid_pixel", 80, Kind::Scaled(1e3), "Hz"),
    ("doppler_centroid_value_at_last_pixel", 84, Kind::Scaled(1e3), "Hz"),
    ("azimuth_fm_rate_of_first_pixel", 88, Kind::I32, "Hz/ms"),
    ("azimuth_fm_rate_of_mid_pixel", 92, Kind::I32, "Hz/ms"),
    ("azimuth_fm_rate_of_last_pixel", 96, Kind::I32, "Hz/ms"),
    ("look_angle_of_nadir", 100, Kind::Scaled(1e6), "deg"),
    ("azimuth_squint_angle", 104, Kind::Scaled(1e6), "deg"),
    ("latitude_of_first_pixel", 132, Kind::Scaled(1e6), "degrees_north"),
    ("latitude_of_center_pixel", 136, Kind::Scaled(1e6), "degrees_north"),
    ("latitude_of_last_pixel", 140, Kind::Scaled(1e6), "degrees_north"),
    ("longitude_of_first_pixel", 144, Kind::Scaled(1e6), "degrees_east"),
    ("longitude_of_center_pixel", 148, Kind::Scaled(1e6), "degrees_east"),
    ("longitude_of_last_pixel", 152, Kind::Scaled(1e6), "degrees_east"),
    ("northing_of_first_pixel", 156, Kind::I32, "m"),
    ("northing_of_last_pixel", 164, Kind::I32, "m"),
    ("easting_of_first_pixel", 168, Kind::I32, "m"),
    ("easting_of_last_pixel", 176, Kind::I32, "m"),
    ("line_heading", 180, Kind::Scaled(1e6), "deg"),
];

/// The per-line metadata of one image, decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lines {
    /// Line numbers (offset 12).
    pub rows: Vec<i32>,
    /// Acquisition time of each line: (year, day of year, microseconds of day).
    pub time: Vec<(i32, i32, i64)>,
    /// One column per field of the table, raw i32 values.
    pub columns: Vec<Vec<i32>>,
    /// Fields taken from the first line as attributes (channel, polarisations, scan id…).
    pub constants: Map<String, Value>,
}

/// Field table of a pixel format.
#[must_use]
pub fn fields(format: PixelFormat) -> &'static [LineField] {
    match format {
        PixelFormat::C8 => SIGNAL_FIELDS,
        PixelFormat::Iu2 => PROCESSED_FIELDS,
    }
}

/// Records per request: `records_per_chunk`, else about `target` bytes.
#[must_use]
pub fn records_per_request(d: &ImageDescriptor, records_per_chunk: Option<u64>, target: u64) -> u64 {
    records_per_chunk
        .unwrap_or_else(|| target / d.record_length.max(1))
        .clamp(1, d.records.max(1))
}

/// The byte ranges that cover the prefixes of all records, `per` records per range (from the
/// first record's start to the last record's prefix end).
#[must_use]
pub fn prefix_ranges(d: &ImageDescriptor, per: u64) -> Vec<Range<u64>> {
    let per = per.max(1);
    (0..d.records.div_ceil(per))
        .map(|k| {
            let first = k * per;
            let last = (first + per).min(d.records) - 1;
            d.record_offset(first)..d.record_offset(last) + d.prefix
        })
        .collect()
}

/// Read and decode the prefix of every line record, `per` records per request and at most
/// `parallel` requests at a time.
///
/// # Errors
/// [`CeosError`] on a read failure, or a record whose header disagrees with the descriptor.
pub fn read_lines(
    product: &dyn ProductReader,
    index: usize,
    file: &str,
    d: &ImageDescriptor,
    per: u64,
    parallel: usize,
) -> Result<Lines, CeosError> {
    let table = fields(d.format);
    let n = usize::try_from(d.records).map_err(|_| CeosError::file(file, "too many records"))?;
    let mut out = Lines {
        rows: Vec::with_capacity(n),
        time: Vec::with_capacity(n),
        columns: vec![Vec::with_capacity(n); table.len()],
        constants: Map::new(),
    };
    let ranges = prefix_ranges(d, per);
    let mut record = 0u64;
    for batch in ranges.chunks(parallel.max(1)) {
        let blocks = product
            .read_ranges(index, batch)
            .map_err(|e| CeosError::file(file, format!("reading line records: {e}")))?;
        for (range, block) in batch.iter().zip(blocks) {
            let mut pos = 0u64;
            while pos < block.len() as u64 {
                let offset = range.start + pos;
                let p = usize::try_from(pos).unwrap_or(usize::MAX);
                let prefix = usize::try_from(d.prefix).unwrap_or(usize::MAX);
                let rec = block
                    .get(p..p.saturating_add(prefix))
                    .ok_or_else(|| CeosError::record(file, record + 2, offset, "short read of the record prefix"))?;
                let h = RecordHeader::parse(rec)
                    .ok_or_else(|| CeosError::record(file, record + 2, offset, "short record header"))?;
                check_line_header(file, &h, record + 2, offset, d.record_length, d.format)?;
                decode_line(rec, table, d.format, &mut out);
                record += 1;
                pos += d.record_length;
            }
        }
    }
    if record != d.records {
        return Err(CeosError::file(
            file,
            format!("read {record} line records, the file descriptor says {}", d.records),
        ));
    }
    Ok(out)
}

fn decode_line(rec: &[u8], table: &[LineField], format: PixelFormat, out: &mut Lines) {
    let i32_at = |off| records::be_i32(rec, off).unwrap_or(0);
    out.rows.push(i32_at(12));
    let us = match format {
        PixelFormat::C8 => records::be_i64(rec, 84).unwrap_or(0),
        PixelFormat::Iu2 => i64::from(i32_at(44)) * 1000,
    };
    out.time.push((i32_at(36), i32_at(40), us));
    for (col, &(_, off, _, _)) in out.columns.iter_mut().zip(table) {
        col.push(i32_at(off));
    }
    if out.constants.is_empty() {
        let i16_at = |off| records::be_i16(rec, off).unwrap_or(0);
        let pol = |v: i16| match v {
            0 => json!("H"),
            1 => json!("V"),
            v => json!(v),
        };
        out.constants.insert("sar_channel_id".into(), json!(i16_at(48)));
        out.constants.insert("sar_channel_code".into(), json!(i16_at(50)));
        out.constants
            .insert("transmitted_pulse_polarization".into(), pol(i16_at(52)));
        out.constants
            .insert("received_pulse_polarization".into(), pol(i16_at(54)));
        out.constants.insert("scan_id".into(), json!(i32_at(60)));
        if format == PixelFormat::C8 {
            out.constants.insert("alos2_frame_number".into(), json!(i32_at(284)));
        } else {
            out.constants
                .insert("geographic_reference_parameter_update_flag".into(), json!(i32_at(128)));
        }
    }
}
