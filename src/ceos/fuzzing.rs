//! Single parser stages on arbitrary bytes, for the fuzz targets in `fuzz/` (hidden from the
//! documented API; [`super::read`] is the reader's entry point).

use super::{image, leader, records, volume, CeosError};

/// Most records walked per input (the product reader bounds its walks the same way).
const MAX_RECORDS: usize = 4096;

/// Walk the input as a CEOS record stream, then parse it as a volume directory, as a SAR
/// leader and as an image file descriptor (whose file size is the input's length). Returns how
/// many of the four stages accepted it.
#[must_use]
pub fn records_and_descriptors(data: &[u8]) -> usize {
    let file = "fuzz-input";
    let results: [Result<(), CeosError>; 4] = [
        records::walk(file, data, MAX_RECORDS).map(|_| ()),
        volume::parse(file, data).map(|_| ()),
        leader::parse(file, data).map(|_| ()),
        image::parse_descriptor(file, data, data.len() as u64).map(|_| ()),
    ];
    results.iter().filter(|r| r.is_ok()).count()
}
