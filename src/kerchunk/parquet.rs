//! kerchunk Parquet references: the directory fsspec's `LazyReferenceMapper` reads.
//!
//! ```text
//! refs.parq/
//!   .zmetadata            {"metadata": {".zgroup": {…}, "a/.zarray": {…}, …}, "record_size": R}
//!   a/refs.0.parq         rows 0..R of array a's chunks, row-major chunk numbering
//!   a/refs.1.parq         rows R..2R (every file has exactly R rows)
//!   g/b/refs.0.parq
//! ```
//! Columns `path` (utf8), `offset`, `size` (int64), `raw` (binary). A missing chunk has null
//! `path` and `raw`; a whole-file reference has offset and size 0.
//!
//! How the files are written so fsspec reads them under pandas 2 **and** pandas 3 (measured
//! with fsspec 2026.9 and fastparquet 2026.9, its default engine; see
//! `tests/python/test_kerchunk.py`):
//! - column statistics on: without them fastparquet returns `offset`/`size` as floats;
//! - `path` dictionary-encoded: pandas 3 reads a plain-encoded utf8 column as its `str` dtype,
//!   whose nulls are NaN, and fsspec then takes a missing chunk for a reference to the URL
//!   `nan` (the crash kerchunk's and VirtualiZarr's files hit); dictionary pages decode to
//!   objects with `None` under both pandas versions;
//! - no pandas or Arrow schema metadata, so no reader is steered by what a writer's dtypes were.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Int64Builder, StringDictionaryBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{Array as _, ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType as ArrowType, Field, Schema, SchemaRef};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use serde_json::{json, Map, Value};

use super::{ravel, unravel, ArrayRefs, KerchunkError, KerchunkRefs, Reference};

/// fsspec's and kerchunk's default number of references per file.
pub const DEFAULT_RECORD_SIZE: u64 = 10_000;

/// Upper bound on chunks per array read from Parquet references (rows are allocated per
/// record file, so a hostile `.zmetadata` cannot make a reader allocate without bound).
const MAX_RECORDS: u64 = 1 << 20;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "path",
            ArrowType::Dictionary(Box::new(ArrowType::Int32), Box::new(ArrowType::Utf8)),
            true,
        ),
        Field::new("offset", ArrowType::Int64, false),
        Field::new("size", ArrowType::Int64, false),
        Field::new("raw", ArrowType::Binary, true),
    ]))
}

fn record_name(array: &str, k: u64) -> String {
    if array.is_empty() {
        format!("refs.{k}.parq")
    } else {
        format!("{array}/refs.{k}.parq")
    }
}

fn chunk_total(grid: &[u64]) -> u64 {
    grid.iter()
        .try_fold(1u64, |acc, &n| acc.checked_mul(n))
        .unwrap_or(u64::MAX)
}

/// Every file of the Parquet reference directory, as `(relative path, bytes)`, `.zmetadata`
/// last (readers open it first, so a writer puts it last).
///
/// # Errors
/// [`KerchunkError::Parquet`] if encoding fails, [`KerchunkError::Unexpressible`] for offsets
/// beyond `i64`.
pub fn write(refs: &KerchunkRefs, record_size: u64) -> Result<Vec<(String, Bytes)>, KerchunkError> {
    let record_size = record_size.max(1);
    let mut files = Vec::new();
    let meta: Map<String, Value> = refs.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let zmeta = json!({"metadata": meta, "record_size": record_size});
    let props = WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_dictionary_enabled(false)
        .set_column_dictionary_enabled(ColumnPath::from("path"), true)
        .set_dictionary_page_size_limit(64 << 20)
        .build();
    let row_cap = usize::try_from(record_size).unwrap_or(usize::MAX).min(1 << 24);
    for (path, a) in &refs.arrays {
        let total = chunk_total(&a.grid);
        if total == 0 {
            continue;
        }
        let nrec = total.div_ceil(record_size);
        let mut chunks = a.chunks.iter().map(|(c, r)| (ravel(c, &a.grid), r)).peekable();
        for k in 0..nrec {
            let start = k * record_size;
            let mut p = StringDictionaryBuilder::<Int32Type>::new();
            let mut off = Int64Builder::with_capacity(row_cap);
            let mut size = Int64Builder::with_capacity(row_cap);
            let mut raw = BinaryBuilder::new();
            for i in start..start + record_size {
                match chunks.next_if(|(n, _)| *n == i) {
                    None => {
                        p.append_null();
                        off.append_value(0);
                        size.append_value(0);
                        raw.append_null();
                    }
                    Some((_, r)) => {
                        let to_i64 = |v: u64| {
                            i64::try_from(v).map_err(|_| KerchunkError::Unexpressible {
                                path: path.clone(),
                                reason: format!("offset or length {v} exceeds int64"),
                            })
                        };
                        match r {
                            Reference::Inline(b) => {
                                p.append_null();
                                off.append_value(0);
                                size.append_value(0);
                                raw.append_value(b);
                            }
                            Reference::Range { url, offset, length } => {
                                p.append_value(url);
                                off.append_value(to_i64(*offset)?);
                                size.append_value(to_i64(*length)?);
                                raw.append_null();
                            }
                            Reference::Whole(url) => {
                                p.append_value(url);
                                off.append_value(0);
                                size.append_value(0);
                                raw.append_null();
                            }
                        }
                    }
                }
            }
            let name = record_name(path, k);
            let pq = |source| KerchunkError::Parquet {
                path: name.clone(),
                source,
            };
            let cols: Vec<ArrayRef> = vec![
                Arc::new(p.finish()),
                Arc::new(off.finish()),
                Arc::new(size.finish()),
                Arc::new(raw.finish()),
            ];
            let batch = RecordBatch::try_new(schema(), cols).map_err(|source| KerchunkError::Arrow {
                path: name.clone(),
                source,
            })?;
            let mut buf = Vec::new();
            let opts = ArrowWriterOptions::new()
                .with_properties(props.clone())
                .with_skip_arrow_metadata(true);
            let mut w = ArrowWriter::try_new_with_options(&mut buf, schema(), opts).map_err(pq)?;
            w.write(&batch).map_err(pq)?;
            w.close().map_err(pq)?;
            files.push((name, Bytes::from(buf)));
        }
    }
    files.push((
        ".zmetadata".to_string(),
        Bytes::from(serde_json::to_vec(&zmeta).unwrap_or_default()),
    ));
    Ok(files)
}

/// Read a Parquet reference directory through `read_file` (relative path → bytes, `None` when
/// absent). `name` is used in messages.
///
/// # Errors
/// [`KerchunkError::Invalid`] for a malformed `.zmetadata` or record file.
pub async fn read<F, Fut>(name: &str, read_file: F) -> Result<KerchunkRefs, KerchunkError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Bytes>, crate::store::StoreError>>,
{
    let invalid = |file: &str, reason: String| KerchunkError::Invalid {
        path: format!("{name}/{file}"),
        reason,
    };
    let zmeta = read_file(".zmetadata".into()).await?.ok_or_else(|| {
        invalid(
            ".zmetadata",
            "missing: not a kerchunk Parquet reference directory".into(),
        )
    })?;
    let zmeta: Value = serde_json::from_slice(&zmeta).map_err(|e| invalid(".zmetadata", format!("not JSON: {e}")))?;
    let record_size = zmeta
        .get("record_size")
        .and_then(Value::as_u64)
        .filter(|&r| r > 0)
        .ok_or_else(|| invalid(".zmetadata", "record_size missing or not a positive integer".into()))?;
    let mut out = KerchunkRefs::default();
    match zmeta.get("metadata") {
        Some(Value::Object(m)) => {
            for (k, v) in m {
                // Documents may be stored as objects or as JSON strings.
                let doc = match v {
                    Value::String(s) => {
                        serde_json::from_str(s).map_err(|e| invalid(".zmetadata", format!("{k}: {e}")))?
                    }
                    v => v.clone(),
                };
                out.metadata.insert(k.clone(), doc);
            }
        }
        _ => return Err(invalid(".zmetadata", "no \"metadata\" object".into())),
    }
    let arrays: Vec<(String, Vec<u64>)> = out
        .metadata
        .iter()
        .filter_map(|(k, doc)| {
            let path = k.strip_suffix(".zarray")?;
            Some((
                path.strip_suffix('/').unwrap_or(path).to_string(),
                super::json::grid_of(doc),
            ))
        })
        .collect();
    for (path, grid) in arrays {
        let total = chunk_total(&grid);
        let nrec = total.div_ceil(record_size);
        if nrec > MAX_RECORDS {
            return Err(invalid(
                &record_name(&path, 0),
                format!("{total} chunks in {nrec} record files is beyond this reader's bound"),
            ));
        }
        let mut refs = ArrayRefs {
            grid: grid.clone(),
            chunks: Default::default(),
        };
        for k in 0..nrec {
            let file = record_name(&path, k);
            let Some(bytes) = read_file(file.clone()).await? else {
                continue; // a record with no references is not written by some writers
            };
            crate::io::guard_decoder(|| read_record(bytes, k * record_size, total, &grid, &mut refs), |m| m)
                .map_err(|reason| invalid(&file, reason))?;
        }
        out.arrays.insert(path, refs);
    }
    Ok(out)
}

fn column(batch: &RecordBatch, name: &str, to: &ArrowType) -> Result<Option<ArrayRef>, String> {
    let Some(c) = batch.column_by_name(name) else {
        return Ok(None);
    };
    if c.data_type() == to {
        return Ok(Some(c.clone()));
    }
    arrow_cast::cast(c, to)
        .map(Some)
        .map_err(|e| format!("column {name}: {e}"))
}

/// Decode one record file into `refs` (unguarded: the caller wraps it in
/// [`crate::io::guard_decoder`]).
fn read_record(bytes: Bytes, first: u64, total: u64, grid: &[u64], refs: &mut ArrayRefs) -> Result<(), String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?;
    let mut row = first;
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let path = column(&batch, "path", &ArrowType::Utf8)?;
        let path = path.as_ref().and_then(|c| c.as_any().downcast_ref::<StringArray>());
        let offset = column(&batch, "offset", &ArrowType::Int64)?;
        let offset = offset.as_ref().and_then(|c| c.as_any().downcast_ref::<Int64Array>());
        let size = column(&batch, "size", &ArrowType::Int64)?;
        let size = size.as_ref().and_then(|c| c.as_any().downcast_ref::<Int64Array>());
        let raw = column(&batch, "raw", &ArrowType::Binary)?;
        let raw = raw.as_ref().and_then(|c| c.as_any().downcast_ref::<BinaryArray>());
        if path.is_none() && raw.is_none() {
            return Err("neither a path nor a raw column".into());
        }
        for i in 0..batch.num_rows() {
            let n = row;
            row += 1;
            if n >= total {
                break;
            }
            let r = if let Some(b) = raw.filter(|r| !r.is_null(i)) {
                Reference::Inline(Bytes::copy_from_slice(b.value(i)))
            } else if let Some(url) = path.filter(|p| !p.is_null(i)).map(|p| p.value(i)) {
                let get = |c: Option<&Int64Array>| c.filter(|c| !c.is_null(i)).map_or(0, |c| c.value(i));
                let (o, l) = (get(offset), get(size));
                if o < 0 || l < 0 {
                    return Err(format!("row {}: negative offset or size", n - first));
                }
                if o == 0 && l == 0 {
                    Reference::Whole(url.to_string())
                } else {
                    Reference::Range {
                        url: url.to_string(),
                        offset: o.unsigned_abs(),
                        length: l.unsigned_abs(),
                    }
                }
            } else {
                continue;
            };
            refs.chunks.insert(unravel(n, grid), r);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[tokio::test]
    async fn round_trips_with_full_size_records() {
        let z = json!({"zarr_format":2,"shape":[5, 3],"chunks":[2, 2],"dtype":"<i2","compressor":null,"filters":null,"fill_value":0,"order":"C"});
        let mut refs = KerchunkRefs::default();
        refs.metadata.insert(".zgroup".into(), json!({"zarr_format": 2}));
        refs.metadata.insert("g/a/.zarray".into(), z);
        let mut a = ArrayRefs {
            grid: vec![3, 2],
            chunks: BTreeMap::new(),
        };
        a.chunks.insert(
            vec![0, 1],
            Reference::Range {
                url: "file:///x.h5".into(),
                offset: 7,
                length: 9,
            },
        );
        a.chunks
            .insert(vec![2, 0], Reference::Inline(Bytes::from_static(b"\x00\x01")));
        a.chunks.insert(vec![2, 1], Reference::Whole("s3://b/y.h5".into()));
        refs.arrays.insert("g/a".into(), a);
        let written = write(&refs, 4).unwrap();
        let names: Vec<String> = written.iter().map(|(n, _)| n.clone()).collect();
        let files: BTreeMap<String, Bytes> = written.into_iter().collect();
        assert_eq!(names, vec!["g/a/refs.0.parq", "g/a/refs.1.parq", ".zmetadata"]);
        for f in ["g/a/refs.0.parq", "g/a/refs.1.parq"] {
            let n: i64 = ParquetRecordBatchReaderBuilder::try_new(files[f].clone())
                .unwrap()
                .metadata()
                .file_metadata()
                .num_rows();
            assert_eq!(n, 4, "{f} is a full-size record file");
        }
        let back = read("t", |k| {
            let v = files.get(&k).cloned();
            async move { Ok(v) }
        })
        .await
        .unwrap();
        assert_eq!(back, refs);
    }

    #[tokio::test]
    async fn hostile_metadata_is_refused() {
        for zmeta in [
            "not json",
            r#"{"metadata": {}}"#,
            r#"{"metadata": {"a/.zarray": {"shape": [18446744073709551615], "chunks": [1]}}, "record_size": 1}"#,
        ] {
            let r = read("t", |k| {
                let v = (k == ".zmetadata").then(|| Bytes::from(zmeta));
                async move { Ok(v) }
            })
            .await;
            assert!(r.is_err(), "{zmeta}");
        }
    }
}
