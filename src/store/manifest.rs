//! The Parquet manifest (format v1): one row per stored chunk.
//!
//! | column  | Arrow type                 | null | meaning                                   |
//! |---------|----------------------------|------|-------------------------------------------|
//! | array   | dictionary(int32, utf8)    | no   | array path (`gt1l/heights/h_ph`)          |
//! | key     | utf8                       | no   | full Zarr v3 chunk key (`…/h_ph/c/12`)    |
//! | source  | dictionary(int32, utf8)    | yes  | source URL (null for inline chunks)       |
//! | offset  | uint64                     | yes  | byte offset in the source (null: inline)  |
//! | length  | uint64                     | no   | encoded chunk length in bytes             |
//! | inline  | binary                     | yes  | the encoded chunk bytes                   |
//!
//! Rows are ordered by array path (byte order), then chunk coordinates. An array with at least
//! [`SHARED_ROW_GROUP_ROWS`] rows is a row group of its own; smaller arrays share row groups of
//! up to that many rows with their neighbours in path order. A reader finds the row groups that
//! may hold an array from the min/max statistics of the `array` column (the only column with
//! statistics) and decodes only those.
//! A chunk without a row is missing and reads as the fill value.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, StringBuilder, UInt64Builder};
use arrow_array::types::Int32Type;
use arrow_array::{Array as _, ArrayRef, BinaryArray, DictionaryArray, Int32Array, StringArray, UInt64Array};
use arrow_schema::{DataType as ArrowType, Field, Schema, SchemaRef};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowRowGroupWriterFactory};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::Statistics;
use parquet::schema::types::ColumnPath;

use super::format::MANIFEST_FILE;
use super::StoreError;
use crate::model::{Array, ChunkRef, NodeRef, VirtualDataset};
use crate::zarr::key::push_chunk_suffix;

/// Column names of manifest v1, in order.
pub const COLUMNS: [&str; 6] = ["array", "key", "source", "offset", "length", "inline"];

/// The Arrow schema of manifest v1.
#[must_use]
pub fn schema() -> SchemaRef {
    let dict = ArrowType::Dictionary(Box::new(ArrowType::Int32), Box::new(ArrowType::Utf8));
    Arc::new(Schema::new(vec![
        Field::new("array", dict.clone(), false),
        Field::new("key", ArrowType::Utf8, false),
        Field::new("source", dict, true),
        Field::new("offset", ArrowType::UInt64, true),
        Field::new("length", ArrowType::UInt64, false),
        Field::new("inline", ArrowType::Binary, true),
    ]))
}

fn pq(e: parquet::errors::ParquetError) -> StoreError {
    StoreError::Parquet {
        path: MANIFEST_FILE.into(),
        source: e,
    }
}

/// The full chunk key of `coords` in `array` (`array/c/i/j`, or `c/i/j` for the root array),
/// written into `out`.
fn full_key_into(out: &mut String, array: &str, coords: &[u64]) {
    out.clear();
    if !array.is_empty() {
        out.push_str(array);
        out.push('/');
    }
    push_chunk_suffix(out, coords);
}

/// Arrays with fewer rows than this share row groups (of up to this many rows) with their
/// neighbours in path order; larger arrays have a row group of their own.
///
/// Each row group is a fixed cost for the writer (six column chunks, each with its own pages,
/// compression and metadata): one row group per array made Parquet encoding half of
/// `vzarr create` on an ATL03 granule (480 arrays averaging 40 chunks). A reader that opens a
/// small array decodes at most this many rows (about 30 KiB) to find its own.
pub const SHARED_ROW_GROUP_ROWS: usize = 1024;

/// Encode the chunk references of every array of `ds` as a manifest.
///
/// Row groups are encoded on up to four threads (one fewer than the cores) and appended in
/// order as soon as the row groups before them are.
///
/// # Errors
/// [`StoreError`] if Arrow or Parquet encoding fails.
pub fn write_manifest(ds: &VirtualDataset) -> Result<Bytes, StoreError> {
    // One core is left to the metadata documents, built at the same time (store_files): on
    // two cores a second encoder slowed the manifest down.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .clamp(1, 4);
    encode_manifest(ds, threads)
}

/// [`write_manifest`] on `threads` threads (each given at least 8 row groups).
fn encode_manifest(ds: &VirtualDataset, threads: usize) -> Result<Bytes, StoreError> {
    let props = WriterProperties::builder()
        // Statistics only where readers use them: the `array` column's min/max locate an
        // array's row groups. Statistics and offset indexes on every column chunk (480 row
        // groups × 6 columns on an ATL03 granule) cost more than encoding the rows.
        .set_statistics_enabled(EnabledStatistics::None)
        .set_column_statistics_enabled(ColumnPath::from("array"), EnabledStatistics::Chunk)
        .set_offset_index_disabled(true)
        // Snappy, not zstd: the parquet crate makes a zstd compression and decompression
        // context for every column chunk, and with one row group per array that was 40 % of
        // `vzarr create` on a 480-array granule; the manifest is ~11 % larger.
        .set_compression(parquet::basic::Compression::SNAPPY)
        // Dictionary pages only where values repeat (array name, source): keys, offsets and
        // lengths are distinct per row.
        .set_dictionary_enabled(false)
        .set_column_dictionary_enabled(ColumnPath::from("array"), true)
        .set_column_dictionary_enabled(ColumnPath::from("source"), true)
        .build();
    let mut arrays: Vec<(String, &Array)> = Vec::new();
    ds.root.walk(|path, node| {
        if let NodeRef::Array(a) = node {
            if !a.chunks.values().all(|c| matches!(c, ChunkRef::Missing)) {
                arrays.push((path.to_string(), a));
            }
        }
    });
    // Path byte order: the `array` statistics of consecutive row groups do not overlap.
    arrays.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let groups = row_groups(&arrays);
    let schema = schema();
    let rows: usize = arrays.iter().map(|(_, a)| a.chunks.len()).sum();
    // About 31 bytes a row on an ATL03 granule; sized once, the buffer is not copied as it grows.
    let mut buf = Vec::with_capacity(rows.saturating_mul(32).saturating_add(64 << 10));
    let (mut writer, factory) = ArrowWriter::try_new(&mut buf, Arc::clone(&schema), Some(props))
        .and_then(ArrowWriter::into_serialized_writer)
        .map_err(pq)?;
    let mut append = |chunks: Vec<ArrowColumnChunk>| -> Result<(), StoreError> {
        let mut rg = writer.next_row_group().map_err(pq)?;
        for c in chunks {
            c.append_to_row_group(&mut rg).map_err(pq)?;
        }
        rg.close().map_err(pq).map(drop)
    };
    let threads = threads.clamp(1, groups.len().div_ceil(8).max(1));
    if threads == 1 {
        let mut key_buf = String::new();
        for (i, members) in groups.iter().enumerate() {
            append(encode_row_group(
                &factory,
                &schema,
                i,
                &arrays[members.clone()],
                &ds.sources,
                &mut key_buf,
            )?)?;
        }
    } else {
        // Worker t encodes row groups t, t + threads, …; this thread appends them in order as
        // they arrive, so only a few encoded row groups are held at a time.
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(4 * threads);
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let tx = tx.clone();
                    let (factory, schema, arrays, groups) = (&factory, &schema, &arrays, &groups);
                    scope.spawn(move || {
                        let mut key_buf = String::new();
                        for i in (t..groups.len()).step_by(threads) {
                            let members = &arrays[groups[i].clone()];
                            let r = encode_row_group(factory, schema, i, members, &ds.sources, &mut key_buf);
                            let stop = r.is_err();
                            // A closed channel: the appender stopped on an error.
                            if tx.send((i, r)).is_err() || stop {
                                break;
                            }
                        }
                    })
                })
                .collect();
            drop(tx);
            let mut pending = HashMap::new();
            let mut next = 0;
            let appended = (|| {
                for (i, r) in &rx {
                    pending.insert(i, r);
                    while let Some(r) = pending.remove(&next) {
                        append(r?)?;
                        next += 1;
                    }
                }
                Ok::<_, StoreError>(())
            })();
            drop(rx);
            // Every worker is joined (a panicked one reports an error, not a second panic).
            let results: Vec<bool> = workers.into_iter().map(|w| w.join().is_ok()).collect();
            let joined = results.iter().all(|&ok| ok);
            appended?;
            if !joined || next != groups.len() {
                return Err(StoreError::InvalidManifest {
                    path: MANIFEST_FILE.into(),
                    reason: "a manifest encoder thread failed".into(),
                });
            }
            Ok(())
        })?;
    }
    writer.close().map_err(pq)?;
    Ok(Bytes::from(buf))
}

/// The row groups of `arrays` (sorted by path) as ranges of their indices: an array of at
/// least [`SHARED_ROW_GROUP_ROWS`] rows alone, runs of smaller ones together up to that many
/// rows.
fn row_groups(arrays: &[(String, &Array)]) -> Vec<std::ops::Range<usize>> {
    let mut groups = Vec::new();
    let (mut start, mut rows) = (0, 0);
    for (i, (_, a)) in arrays.iter().enumerate() {
        let n = a.chunks.len();
        if i > start && (n >= SHARED_ROW_GROUP_ROWS || rows + n > SHARED_ROW_GROUP_ROWS) {
            groups.push(start..i);
            (start, rows) = (i, 0);
        }
        rows += n;
        if n >= SHARED_ROW_GROUP_ROWS {
            groups.push(start..i + 1);
            (start, rows) = (i + 1, 0);
        }
    }
    if start < arrays.len() {
        groups.push(start..arrays.len());
    }
    groups
}

/// The rows of `arrays` (consecutive in path order) as the encoded column chunks of row group
/// `index`.
fn encode_row_group(
    factory: &ArrowRowGroupWriterFactory,
    schema: &SchemaRef,
    index: usize,
    arrays: &[(String, &Array)],
    sources: &[crate::model::Source],
    key_buf: &mut String,
) -> Result<Vec<ArrowColumnChunk>, StoreError> {
    let rows: usize = arrays.iter().map(|(_, a)| a.chunks.len()).sum();
    let key_bytes: usize = arrays.iter().map(|(p, a)| a.chunks.len() * (p.len() + 8)).sum();
    let mut key = StringBuilder::with_capacity(rows, key_bytes);
    // The `array` column: index into this row group's paths.
    let mut array_keys: Vec<i32> = Vec::with_capacity(rows);
    // Sources of these arrays, in order of first use: the dictionary of the `source` column.
    let mut source_ids: Vec<u32> = Vec::new();
    let mut source_keys: Vec<Option<i32>> = Vec::with_capacity(rows);
    let mut offset = UInt64Builder::with_capacity(rows);
    let mut length = UInt64Builder::with_capacity(rows);
    let mut inline = BinaryBuilder::new();
    for (n, (path, a)) in arrays.iter().enumerate() {
        let n = i32::try_from(n).map_err(|_| StoreError::InvalidManifest {
            path: MANIFEST_FILE.into(),
            reason: "too many arrays in one row group".into(),
        })?;
        for (coords, c) in &a.chunks {
            match c {
                ChunkRef::Missing => continue,
                ChunkRef::Virtual {
                    source: s,
                    offset: o,
                    length: l,
                } => {
                    let k = source_ids.iter().position(|&x| x == s.0).unwrap_or_else(|| {
                        source_ids.push(s.0);
                        source_ids.len() - 1
                    });
                    source_keys.push(i32::try_from(k).ok());
                    offset.append_value(*o);
                    length.append_value(*l);
                    inline.append_null();
                }
                ChunkRef::Inline(b) => {
                    source_keys.push(None);
                    offset.append_null();
                    length.append_value(b.len() as u64);
                    inline.append_value(b);
                }
            }
            array_keys.push(n);
            full_key_into(key_buf, path, coords);
            key.append_value(&*key_buf);
        }
    }
    let urls: Vec<&str> = source_ids
        .iter()
        .map(|&i| sources.get(i as usize).map_or("", |s| s.url.as_str()))
        .collect();
    let array = DictionaryArray::<Int32Type>::try_new(
        Int32Array::from(array_keys),
        Arc::new(StringArray::from_iter_values(arrays.iter().map(|(p, _)| p.as_str()))),
    )?;
    let source =
        DictionaryArray::<Int32Type>::try_new(Int32Array::from(source_keys), Arc::new(StringArray::from(urls)))?;
    let cols: [ArrayRef; 6] = [
        Arc::new(array),
        Arc::new(key.finish()),
        Arc::new(source),
        Arc::new(offset.finish()),
        Arc::new(length.finish()),
        Arc::new(inline.finish()),
    ];
    let mut writers = factory.create_column_writers(index).map_err(pq)?;
    let mut w = writers.iter_mut();
    for (col, field) in cols.iter().zip(schema.fields()) {
        for leaf in compute_leaves(field, col).map_err(pq)? {
            let Some(cw) = w.next() else {
                return Err(StoreError::InvalidManifest {
                    path: MANIFEST_FILE.into(),
                    reason: "more leaf columns than column writers".into(),
                });
            };
            cw.write(&leaf).map_err(pq)?;
        }
    }
    writers.into_iter().map(|cw| cw.close().map_err(pq)).collect()
}

/// One manifest row, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Bytes in a source.
    Virtual {
        /// Source URL as written (absolute, or relative to the store).
        source: Arc<str>,
        /// Offset.
        offset: u64,
        /// Length.
        length: u64,
    },
    /// Inline encoded chunk bytes.
    Inline(Bytes),
}

/// A decoded manifest: row groups located per array, decoded on demand.
#[derive(Debug)]
pub struct Manifest {
    bytes: Bytes,
    /// The footer, decoded once (readers of row groups are built from it).
    meta: ArrowReaderMetadata,
    name: String,
    /// Each row group with statistics: the first and last array path it holds, and its index.
    ranges: Vec<(String, String, usize)>,
    /// Row groups without statistics of the `array` column (read for every array).
    unknown: Vec<usize>,
}

impl Manifest {
    /// Open a manifest file's bytes and check its schema against v1.
    ///
    /// # Errors
    /// [`StoreError::InvalidManifest`] if the file is not Parquet or does not have the v1 columns.
    pub fn open(name: &str, bytes: Bytes) -> Result<Self, StoreError> {
        crate::io::guard_decoder(
            || Self::open_unguarded(name, bytes),
            |reason| StoreError::InvalidManifest {
                path: name.into(),
                reason,
            },
        )
    }

    fn open_unguarded(name: &str, bytes: Bytes) -> Result<Self, StoreError> {
        let bad = |reason: String| StoreError::InvalidManifest {
            path: name.into(),
            reason,
        };
        let meta = ArrowReaderMetadata::load(&bytes, ArrowReaderOptions::default()).map_err(|e| bad(e.to_string()))?;
        let b = ParquetRecordBatchReaderBuilder::new_with_metadata(bytes.clone(), meta.clone());
        let found: Vec<(String, ArrowType)> = b
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        let want: Vec<(String, ArrowType)> = schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        if found != want {
            return Err(bad(format!(
                "columns {found:?} are not the v1 manifest columns {want:?}"
            )));
        }
        // Row counts are claims of the footer: a few bytes of run-length encoding could stand
        // for billions of rows. Real manifests need bytes for every row (its distinct key),
        // so rows past 16 a byte are refused before anything is decoded.
        let max_rows = u64::try_from(bytes.len())
            .unwrap_or(u64::MAX)
            .saturating_mul(16)
            .max(1 << 16);
        let mut rows: u64 = 0;
        for rg in b.metadata().row_groups() {
            let n =
                u64::try_from(rg.num_rows()).map_err(|_| bad(format!("a row group claims {} rows", rg.num_rows())))?;
            rows = rows.saturating_add(n);
        }
        if rows > max_rows {
            return Err(bad(format!(
                "the footer claims {rows} rows in {} bytes (more than 16 a byte)",
                bytes.len()
            )));
        }
        let mut ranges = Vec::new();
        let mut unknown = Vec::new();
        for (i, rg) in b.metadata().row_groups().iter().enumerate() {
            let range = match rg.column(0).statistics() {
                Some(Statistics::ByteArray(s)) => match (s.min_opt(), s.max_opt()) {
                    (Some(lo), Some(hi)) => std::str::from_utf8(lo.data())
                        .ok()
                        .zip(std::str::from_utf8(hi.data()).ok())
                        .map(|(lo, hi)| (lo.to_string(), hi.to_string())),
                    _ => None,
                },
                _ => None,
            };
            match range {
                Some((lo, hi)) => ranges.push((lo, hi, i)),
                None => unknown.push(i),
            }
        }
        Ok(Self {
            bytes,
            meta,
            name: name.into(),
            ranges,
            unknown,
        })
    }

    /// The row groups that may hold rows of `array`.
    fn row_groups_of(&self, array: &str) -> Vec<usize> {
        let mut rgs: Vec<usize> = self
            .ranges
            .iter()
            .filter(|(lo, hi, _)| lo.as_str() <= array && array <= hi.as_str())
            .map(|&(_, _, i)| i)
            .collect();
        rgs.extend(&self.unknown);
        rgs.sort_unstable();
        rgs
    }

    /// The number of row groups.
    #[must_use]
    pub fn row_groups(&self) -> usize {
        self.ranges.len() + self.unknown.len()
    }

    /// The first and last array path of each row group with statistics, as the statistics
    /// give them (without decoding any rows).
    pub fn row_group_ranges(&self) -> impl Iterator<Item = (&str, &str)> {
        self.ranges.iter().map(|(lo, hi, _)| (lo.as_str(), hi.as_str()))
    }

    /// Every array path with rows, sorted (decodes the `array` column of every row group).
    ///
    /// # Errors
    /// [`StoreError::InvalidManifest`] on an undecodable `array` column.
    pub fn arrays(&self) -> Result<Vec<String>, StoreError> {
        crate::io::guard_decoder(
            || self.arrays_unguarded(),
            |reason| StoreError::InvalidManifest {
                path: self.name.clone(),
                reason,
            },
        )
    }

    fn arrays_unguarded(&self) -> Result<Vec<String>, StoreError> {
        let bad = |reason: String| StoreError::InvalidManifest {
            path: self.name.clone(),
            reason,
        };
        let b = ParquetRecordBatchReaderBuilder::new_with_metadata(self.bytes.clone(), self.meta.clone());
        let mask = ProjectionMask::roots(b.parquet_schema(), [0]);
        let mut names = std::collections::BTreeSet::new();
        for batch in b.with_projection(mask).build().map_err(|e| bad(e.to_string()))? {
            let batch = batch.map_err(|e| bad(e.to_string()))?;
            let col = arrow_cast_str(batch.column(0)).map_err(|e| bad(format!("array column: {e}")))?;
            names.extend(col.iter().flatten().map(str::to_string));
        }
        Ok(names.into_iter().collect())
    }

    /// Decode the rows of one array: chunk key → entry.
    ///
    /// # Errors
    /// [`StoreError::InvalidManifest`] on undecodable or inconsistent rows.
    pub fn array_entries(&self, array: &str) -> Result<HashMap<String, Entry>, StoreError> {
        let mut all = self.entries_around(array)?;
        Ok(all.remove(array).unwrap_or_default())
    }

    /// Decode the row groups that may hold `array` and return the rows of `array` and of every
    /// other array whose rows all lie in those row groups (small arrays share row groups):
    /// array path → chunk key → entry. `array` is always in the result, empty if it has no rows.
    ///
    /// # Errors
    /// [`StoreError::InvalidManifest`] on undecodable or inconsistent rows.
    pub fn entries_around(&self, array: &str) -> Result<HashMap<String, HashMap<String, Entry>>, StoreError> {
        crate::io::guard_decoder(
            || self.entries_around_unguarded(array),
            |reason| StoreError::InvalidManifest {
                path: self.name.clone(),
                reason,
            },
        )
    }

    fn entries_around_unguarded(&self, array: &str) -> Result<HashMap<String, HashMap<String, Entry>>, StoreError> {
        let rgs = self.row_groups_of(array);
        let mut out: HashMap<String, HashMap<String, Entry>> = HashMap::new();
        out.insert(array.to_string(), HashMap::new());
        if rgs.is_empty() {
            return Ok(out);
        }
        let bad = |reason: String| StoreError::InvalidManifest {
            path: self.name.clone(),
            reason,
        };
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(self.bytes.clone(), self.meta.clone())
            .with_row_groups(rgs.clone())
            .build()
            .map_err(|e| bad(e.to_string()))?;
        for batch in reader {
            let batch = batch.map_err(|e| bad(e.to_string()))?;
            let arrays = arrow_cast_str(batch.column(0)).map_err(|e| bad(format!("array column: {e}")))?;
            let keys = batch
                .column(1)
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| bad("key column".into()))?;
            let sources = arrow_cast_str(batch.column(2)).map_err(|e| bad(format!("source column: {e}")))?;
            let offsets = batch
                .column(3)
                .as_any()
                .downcast_ref::<UInt64Array>()
                .ok_or_else(|| bad("offset column".into()))?;
            let lengths = batch
                .column(4)
                .as_any()
                .downcast_ref::<UInt64Array>()
                .ok_or_else(|| bad("length column".into()))?;
            let inlines = batch
                .column(5)
                .as_any()
                .downcast_ref::<BinaryArray>()
                .ok_or_else(|| bad("inline column".into()))?;
            for row in 0..batch.num_rows() {
                if arrays.is_null(row) {
                    return Err(bad(format!("row without an array path (key {:?})", keys.value(row))));
                }
                let name = arrays.value(row);
                let key = keys.value(row).to_string();
                let length = lengths.value(row);
                let entry = if inlines.is_valid(row) {
                    let b = inlines.value(row);
                    if b.len() as u64 != length {
                        return Err(bad(format!(
                            "{key}: inline bytes ({}) differ from length {length}",
                            b.len()
                        )));
                    }
                    Entry::Inline(Bytes::copy_from_slice(b))
                } else if sources.is_valid(row) && offsets.is_valid(row) {
                    let offset = offsets.value(row);
                    if offset.checked_add(length).is_none() {
                        return Err(bad(format!("{key}: offset {offset} + length {length} overflows")));
                    }
                    Entry::Virtual {
                        source: Arc::from(sources.value(row)),
                        offset,
                        length,
                    }
                } else {
                    return Err(bad(format!("{key}: neither inline bytes nor source and offset")));
                };
                let rows = match out.get_mut(name) {
                    Some(rows) => rows,
                    None => out.entry(name.to_string()).or_default(),
                };
                if rows.insert(key.clone(), entry).is_some() {
                    return Err(bad(format!("{key}: duplicate row")));
                }
            }
        }
        // Keep the other arrays only where every row group that may hold them was decoded.
        out.retain(|name, _| name == array || self.row_groups_of(name).iter().all(|i| rgs.contains(i)));
        Ok(out)
    }
}

fn arrow_cast_str(col: &ArrayRef) -> Result<StringArray, String> {
    let c = arrow_cast::cast(col, &ArrowType::Utf8).map_err(|e| e.to_string())?;
    c.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| "not a string column".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Array, Codec, DataType, FillValue, Group, Node, Source, SourceId};
    use std::collections::BTreeMap;

    fn array(chunks: BTreeMap<Vec<u64>, ChunkRef>) -> Node {
        Node::Array(Array {
            shape: vec![4],
            chunk_shape: vec![2],
            data_type: DataType::UInt(8),
            fill_value: FillValue::Default,
            codecs: vec![Codec::Bytes(None)],
            attributes: Default::default(),
            dimension_names: None,
            chunks,
        })
    }

    fn src(url: &str) -> Source {
        Source {
            url: url.into(),
            size: None,
            etag: None,
            last_modified: None,
        }
    }

    #[test]
    fn write_then_read_is_identity() {
        let mut root = Group::default();
        let mut a = BTreeMap::new();
        a.insert(
            vec![0],
            ChunkRef::Virtual {
                source: SourceId(0),
                offset: 10,
                length: 2,
            },
        );
        a.insert(vec![1], ChunkRef::Inline(Bytes::from_static(b"xy")));
        root.children.insert("a".into(), array(a));
        let mut g = Group::default();
        let mut b = BTreeMap::new();
        b.insert(
            vec![1],
            ChunkRef::Virtual {
                source: SourceId(1),
                offset: u64::MAX - 5,
                length: 5,
            },
        );
        b.insert(vec![0], ChunkRef::Missing);
        g.children.insert("b".into(), array(b));
        root.children.insert("g".into(), Node::Group(g));
        let ds = VirtualDataset {
            sources: vec![src("file:///x.h5"), src("s3://b/y.h5")],
            root,
        };
        let m = Manifest::open("m", write_manifest(&ds).unwrap()).unwrap();
        assert_eq!(m.row_groups(), 1, "small arrays share a row group");
        assert_eq!(m.arrays().unwrap(), ["a", "g/b"]);
        let a = m.array_entries("a").unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(
            a["a/c/0"],
            Entry::Virtual {
                source: "file:///x.h5".into(),
                offset: 10,
                length: 2
            }
        );
        assert_eq!(a["a/c/1"], Entry::Inline(Bytes::from_static(b"xy")));
        let b = m.array_entries("g/b").unwrap();
        assert_eq!(b.len(), 1, "missing chunks have no row");
        assert_eq!(
            b["g/b/c/1"],
            Entry::Virtual {
                source: "s3://b/y.h5".into(),
                offset: u64::MAX - 5,
                length: 5
            }
        );
        assert!(m.array_entries("nope").unwrap().is_empty());
    }

    /// `n` virtual chunks of source `source`, offsets `base + i`.
    fn chunks(n: u64, source: u32, base: u64) -> BTreeMap<Vec<u64>, ChunkRef> {
        (0..n)
            .map(|i| {
                (
                    vec![i],
                    ChunkRef::Virtual {
                        source: SourceId(source),
                        offset: base + i,
                        length: 1 + i % 7,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn small_arrays_share_row_groups_and_large_ones_have_their_own() {
        let n = SHARED_ROW_GROUP_ROWS as u64;
        let mut root = Group::default();
        // Path byte order puts "a-c" between "a" and "a/…" although the tree walk visits
        // the group "a" before "a-c".
        let mut g = Group::default();
        g.children.insert("big".into(), array(chunks(n + 5, 0, 0)));
        g.children.insert("small".into(), array(chunks(3, 1, 1000)));
        root.children.insert("a".into(), Node::Group(g));
        root.children.insert("a-c".into(), array(chunks(n - 10, 0, 5000)));
        root.children.insert("b".into(), array(chunks(20, 1, 9000)));
        root.children.insert("c".into(), array(chunks(2, 0, 100)));
        let ds = VirtualDataset {
            sources: vec![src("file:///x.h5"), src("file:///y.h5")],
            root,
        };
        let m = Manifest::open("m", write_manifest(&ds).unwrap()).unwrap();
        // [a-c], [a/big], [a/small, b, c]: the large array "a/big" is alone, so "a-c" is too.
        assert_eq!(m.row_groups(), 3);
        let ranges: Vec<(&str, &str)> = m.row_group_ranges().collect();
        assert_eq!(ranges, [("a-c", "a-c"), ("a/big", "a/big"), ("a/small", "c")]);
        assert_eq!(m.arrays().unwrap(), ["a-c", "a/big", "a/small", "b", "c"]);
        for (name, count, url, base) in [
            ("a/big", n + 5, "file:///x.h5", 0),
            ("a/small", 3, "file:///y.h5", 1000),
            ("a-c", n - 10, "file:///x.h5", 5000),
            ("b", 20, "file:///y.h5", 9000),
            ("c", 2, "file:///x.h5", 100),
        ] {
            let e = m.array_entries(name).unwrap();
            assert_eq!(e.len() as u64, count, "{name}");
            for i in 0..count {
                assert_eq!(
                    e[&format!("{name}/c/{i}")],
                    Entry::Virtual {
                        source: url.into(),
                        offset: base + i,
                        length: 1 + i % 7
                    },
                    "{name} chunk {i}"
                );
            }
        }
        // One decode gives the arrays sharing the row group, each complete.
        let around = m.entries_around("b").unwrap();
        let mut names: Vec<&String> = around.keys().collect();
        names.sort();
        assert_eq!(names, ["a/small", "b", "c"]);
        assert_eq!(around["a/small"], m.array_entries("a/small").unwrap());
        assert_eq!(m.entries_around("a/big").unwrap().len(), 1);
        // Inside a shared row group's range but not in it.
        assert!(m.array_entries("a/smaller").unwrap().is_empty());
        assert_eq!(m.row_groups_of("a/smaller"), [2]);
        assert!(m.row_groups_of("0").is_empty());
    }

    #[test]
    fn parallel_encoding_writes_the_same_bytes() {
        let mut root = Group::default();
        for i in 0..70u64 {
            let rows = if i % 5 == 0 {
                SHARED_ROW_GROUP_ROWS as u64 + 1
            } else {
                300
            };
            let mut c = chunks(rows, (i % 2) as u32, i * 10_000);
            if i % 3 == 0 {
                c.insert(vec![rows], ChunkRef::Inline(Bytes::from(vec![i as u8; 3])));
            }
            root.children.insert(format!("a{i:02}"), array(c));
        }
        let ds = VirtualDataset {
            sources: vec![src("file:///x.h5"), src("file:///y.h5")],
            root,
        };
        let one = encode_manifest(&ds, 1).unwrap();
        let three = encode_manifest(&ds, 3).unwrap();
        assert_eq!(one, three, "row groups encoded on three threads, appended in order");
        let m = Manifest::open("m", three).unwrap();
        // 14 large arrays alone; between them runs of four 300-row arrays, three to a group.
        assert_eq!(m.row_groups(), 14 + 14 * 2);
        let e = m.array_entries("a69").unwrap();
        assert_eq!(e.len(), 301);
        assert_eq!(
            e["a69/c/299"],
            Entry::Virtual {
                source: "file:///y.h5".into(),
                offset: 690_299,
                length: 1 + 299 % 7
            }
        );
        assert_eq!(
            m.array_entries("a03").unwrap()["a03/c/300"],
            Entry::Inline(Bytes::from(vec![3u8; 3]))
        );
    }

    #[test]
    fn rejects_non_parquet_and_wrong_schema() {
        assert!(Manifest::open("m", Bytes::from_static(b"not parquet at all")).is_err());
    }
}
