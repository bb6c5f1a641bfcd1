//! Volume directory file (`VOL-…`, spec §4): volume descriptor, file pointers, text record.

use serde_json::{Map, Value};

use super::records::{self, Enc, Field};
use super::CeosError;

const VOLUME_DESCRIPTOR: [Field; 13] = [
    ("superstructure_format_control_document_id", 16, 12, Enc::A),
    ("superstructure_format_control_document_revision_level", 28, 2, Enc::A),
    ("superstructure_record_format_revision_level", 30, 2, Enc::A),
    ("software_release_and_revision_level", 32, 12, Enc::A),
    ("physical_volume_id", 44, 16, Enc::A),
    ("logical_volume_id", 60, 16, Enc::A),
    ("volume_set_id", 76, 16, Enc::A),
    ("logical_volume_creation_datetime", 112, 16, Enc::A),
    ("logical_volume_generating_country", 128, 12, Enc::A),
    ("logical_volume_generating_agency", 140, 8, Enc::A),
    ("logical_volume_generating_facility", 148, 12, Enc::A),
    ("number_of_file_pointer_records", 160, 4, Enc::I),
    ("number_of_text_records", 164, 4, Enc::I),
];

const TEXT_RECORD: [Field; 5] = [
    ("product_id", 16, 40, Enc::A),
    ("location_and_datetime_of_product_creation", 56, 60, Enc::A),
    ("physical_tape_id", 116, 40, Enc::A),
    ("scene_id", 156, 40, Enc::A),
    ("scene_location_id", 196, 40, Enc::A),
];

/// One file pointer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePointer {
    /// File class code (`SARL`, `IMOP`, `SART`…).
    pub class_code: String,
    /// File name id (`AL2 SARCIMOP`).
    pub name_id: String,
    /// Number of records of the referenced file (file descriptor included).
    pub records: Option<i64>,
    /// Length of its first record.
    pub first_record_length: Option<i64>,
}

/// The parsed volume directory.
#[derive(Debug, Clone, Default)]
pub struct Volume {
    /// Volume descriptor and text record fields.
    pub attrs: Map<String, Value>,
    /// File pointers in file order.
    pub pointers: Vec<FilePointer>,
    /// Fields that did not decode.
    pub bad: Vec<String>,
}

/// Parse a whole volume directory file.
///
/// # Errors
/// [`CeosError`] if the records do not walk or the first is not a volume descriptor.
pub fn parse(file: &str, data: &[u8]) -> Result<Volume, CeosError> {
    let recs = records::walk(file, data, 10_000)?;
    let first = recs
        .first()
        .ok_or_else(|| CeosError::file(file, "empty volume directory"))?;
    if first.header.codes[..2] != [192, 192] {
        return Err(CeosError::record(
            file,
            1,
            0,
            format!(
                "not a volume descriptor (record type codes {}, expected 192,192,18,18)",
                first.header.codes_text()
            ),
        ));
    }
    let mut v = Volume::default();
    records::attributes(first.bytes, &VOLUME_DESCRIPTOR, &mut v.attrs, &mut v.bad);
    for r in &recs[1..] {
        match r.header.codes[..2] {
            [219, 192] => v.pointers.push(FilePointer {
                class_code: records::text(r.bytes, 64, 4).unwrap_or_default(),
                name_id: records::text(r.bytes, 20, 16).unwrap_or_default(),
                records: records::int(r.bytes, 100, 8).ok().flatten(),
                first_record_length: records::int(r.bytes, 108, 8).ok().flatten(),
            }),
            [18, 192] => records::attributes(r.bytes, &TEXT_RECORD, &mut v.attrs, &mut v.bad),
            _ => v.bad.push(format!(
                "record {} at offset {}: unknown record type {}",
                r.number,
                r.offset,
                r.header.codes_text()
            )),
        }
    }
    Ok(v)
}
