//! `vzarr create --materialize unsupported` (cargo feature `libhdf5`): the datasets the
//! native reader cannot reference — filters it has no decoder for (blosc2, zfp… when libhdf5
//! has the plugin), VAX floats, external storage, virtual datasets it cannot map — read
//! through libhdf5 (the system library, via `hdf5-metno`) and stored as
//! real Zarr chunks (`bytes` + `zstd`) inline in the manifest, so the store holds their
//! values and no longer depends on a reader decoding the original filters.
//!
//! Materialized values are libhdf5's conversion of the stored values to the native type of
//! the same class and size: what h5py returns for them. Types with no Zarr data type
//! (sequences of sequences or of compounds, compounds with sequence members, strings, floats
//! wider than 8 bytes) stay refused, with the reason
//! libhdf5 gave or why they are not converted. libhdf5 reads local files only; the datasets
//! of remote inputs stay refused.
//!
//! Implements [`crate::hdf5::Materialize`]: the native reader still supplies the attributes,
//! dimension names and CF fill value of each materialized dataset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use hdf5::{H5Type, Hyperslab, Selection, SliceOrIndex};
use serde_json::Value;

use crate::model::{Array, ChunkRef, Codec, DataType, Endian, FillValue};

/// Target size of one materialized chunk before compression: whole rows (axis 0) up to it.
const CHUNK_BYTES: u64 = 1 << 20;
/// Largest dataset materialized (its values pass through memory one chunk at a time, but a
/// store that copies gigabytes into its manifest is no longer a virtual store).
pub const MAX_DATASET_BYTES: u64 = 1 << 30;
/// zstd level of materialized chunks.
const ZSTD_LEVEL: i32 = 3;

/// Reads refused datasets of one local HDF5 file through libhdf5.
#[derive(Debug, Clone)]
pub struct Libhdf5 {
    path: PathBuf,
}

impl Libhdf5 {
    /// A materializer for the HDF5 file at `path` (opened by libhdf5 on each use).
    #[must_use]
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
        }
    }
}

/// The element kinds libhdf5 converts to a Zarr data type here.
#[derive(Debug, Clone, Copy)]
enum Kind {
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    Bool,
}

impl Kind {
    fn of_int(size: IntSize, signed: bool) -> Self {
        match (size, signed) {
            (IntSize::U1, true) => Self::I8,
            (IntSize::U2, true) => Self::I16,
            (IntSize::U4, true) => Self::I32,
            (IntSize::U8, true) => Self::I64,
            (IntSize::U1, false) => Self::U8,
            (IntSize::U2, false) => Self::U16,
            (IntSize::U4, false) => Self::U32,
            (IntSize::U8, false) => Self::U64,
        }
    }

    fn data_type(self) -> DataType {
        match self {
            Self::I8 => DataType::Int(8),
            Self::I16 => DataType::Int(16),
            Self::I32 => DataType::Int(32),
            Self::I64 => DataType::Int(64),
            Self::U8 => DataType::UInt(8),
            Self::U16 => DataType::UInt(16),
            Self::U32 => DataType::UInt(32),
            Self::U64 => DataType::UInt(64),
            Self::F32 => DataType::Float(32),
            Self::F64 => DataType::Float(64),
            Self::Bool => DataType::Bool,
        }
    }
}

/// Native values as little-endian bytes.
trait LeBytes: H5Type + Copy {
    fn put(self, out: &mut Vec<u8>);
}

macro_rules! le_bytes {
    ($($t:ty),*) => {$(
        impl LeBytes for $t {
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
le_bytes!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

impl LeBytes for bool {
    fn put(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
}

/// Open `path` with external files named relative to the HDF5 file's own directory, as the
/// native reader resolves them (libhdf5's default is the working directory, which could hold
/// another file of the same name). hdf5-metno opens datasets with the default access property
/// list only, so this calls `H5Dopen2` itself: the crate's one `unsafe` block.
#[allow(unsafe_code)]
fn open_dataset(file: &hdf5::File, path: &str) -> hdf5::Result<hdf5::Dataset> {
    let dapl = hdf5::plist::DatasetAccess::build().efile_prefix("${ORIGIN}").finish()?;
    let name = std::ffi::CString::new(path).map_err(|_| hdf5::Error::from("a NUL byte in the dataset path"))?;
    hdf5::sync::sync(|| {
        // SAFETY: both ids are live for the call and `name` is NUL-terminated; a valid id
        // returned by H5Dopen2 is owned by the `Dataset` handle made from it.
        let id = unsafe { hdf5_sys::h5d::H5Dopen2(file.id(), name.as_ptr(), dapl.id()) };
        hdf5::h5check(id)?;
        unsafe { hdf5::from_id(id) }
    })
}

fn h5err(what: &str, e: &hdf5::Error) -> String {
    format!("libhdf5 {what}: {e}")
}

impl crate::hdf5::Materialize for Libhdf5 {
    fn materialize(&self, path: &str) -> Result<Array, String> {
        let file = hdf5::File::open(&self.path).map_err(|e| h5err("cannot open the file", &e))?;
        let ds = open_dataset(&file, path).map_err(|e| h5err("cannot open the dataset", &e))?;
        let space = ds.space().map_err(|e| h5err("dataspace", &e))?;
        if space.is_null() {
            return Err("a null dataspace holds no values".into());
        }
        let shape: Vec<u64> = ds.shape().iter().map(|&d| d as u64).collect();
        let dtype = ds.dtype().map_err(|e| h5err("datatype", &e))?;
        let desc = dtype.to_descriptor().map_err(|e| h5err("datatype", &e))?;
        let mut attributes = serde_json::Map::new();
        let kind = match &desc {
            TypeDescriptor::Integer(s) => Kind::of_int(*s, true),
            TypeDescriptor::Unsigned(s) => Kind::of_int(*s, false),
            TypeDescriptor::Float(FloatSize::U4) => Kind::F32,
            TypeDescriptor::Float(FloatSize::U8) => Kind::F64,
            TypeDescriptor::Boolean => Kind::Bool,
            TypeDescriptor::Enum(e) => {
                let kind = Kind::of_int(e.size, e.signed);
                let members = e.members.iter().map(|m| {
                    let v = if e.signed {
                        Value::from(sign_extend(m.value, e.size))
                    } else {
                        Value::from(m.value)
                    };
                    (m.name.clone(), v)
                });
                attributes.insert("_hdf5_enum".into(), Value::Object(members.collect()));
                kind
            }
            other => return Err(format!("{other} values have no Zarr data type here")),
        };
        let data_type = kind.data_type();
        let elem = data_type.size().unwrap_or(1) as u64;
        let total = shape.iter().try_fold(elem, |a, &d| a.checked_mul(d));
        if total.is_none_or(|b| b > MAX_DATASET_BYTES) {
            return Err(format!("larger than {MAX_DATASET_BYTES} bytes"));
        }
        let row: u64 = shape
            .iter()
            .skip(1)
            .try_fold(elem, |a, &d| a.checked_mul(d.max(1)))
            .unwrap_or(u64::MAX);
        let rows = (CHUNK_BYTES / row.max(1)).max(1);
        let chunk_shape: Vec<u64> = match shape.split_first() {
            None => Vec::new(),
            Some((&n, rest)) => std::iter::once(rows.min(n.max(1)))
                .chain(rest.iter().map(|&d| d.max(1)))
                .collect(),
        };
        let mut chunks = BTreeMap::new();
        if shape.is_empty() {
            let raw = read(&ds, kind, None)?;
            chunks.insert(Vec::new(), ChunkRef::Inline(encode(&raw)?));
        } else if !shape.contains(&0) {
            let per = chunk_shape[0];
            let chunk_bytes = chunk_shape
                .iter()
                .try_fold(elem, |a, &d| a.checked_mul(d))
                .unwrap_or(u64::MAX);
            for (i, start) in (0..shape[0])
                .step_by(usize::try_from(per).unwrap_or(usize::MAX))
                .enumerate()
            {
                let end = (start + per).min(shape[0]);
                let mut sel: Vec<SliceOrIndex> = vec![slice(start, end)];
                sel.extend(shape.iter().skip(1).map(|&d| slice(0, d)));
                let mut raw = read(&ds, kind, Some(Selection::from(Hyperslab::from(sel))))?;
                // The last chunk along axis 0 is a whole chunk in Zarr: pad it.
                raw.resize(usize::try_from(chunk_bytes).map_err(|_| "chunk too large")?, 0);
                let mut key = vec![i as u64];
                key.resize(shape.len(), 0);
                chunks.insert(key, ChunkRef::Inline(encode(&raw)?));
            }
        }
        let endian = if elem > 1 { Some(Endian::Little) } else { None };
        Ok(Array {
            shape,
            chunk_shape,
            data_type,
            fill_value: FillValue::Default,
            codecs: vec![Codec::Bytes(endian), Codec::Zstd { level: ZSTD_LEVEL }],
            attributes,
            dimension_names: None,
            chunks,
        })
    }
}

fn slice(start: u64, end: u64) -> SliceOrIndex {
    SliceOrIndex::SliceTo {
        start: start as usize,
        step: 1,
        end: end as usize,
        block: 1,
    }
}

fn sign_extend(v: u64, size: IntSize) -> i64 {
    let bits = (size as u32) * 8;
    if bits >= 64 {
        return v as i64;
    }
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// The values of `sel` (the whole scalar when `None`) as little-endian bytes of `kind`.
fn read(ds: &hdf5::Dataset, kind: Kind, sel: Option<Selection>) -> Result<Vec<u8>, String> {
    fn go<T: LeBytes>(ds: &hdf5::Dataset, sel: Option<Selection>) -> Result<Vec<u8>, String> {
        let values: Vec<T> = match sel {
            None => vec![ds.read_scalar::<T>().map_err(|e| h5err("read", &e))?],
            Some(s) => {
                let a = ds
                    .read_slice::<T, _, ndarray::IxDyn>(s)
                    .map_err(|e| h5err("read", &e))?;
                a.as_standard_layout().iter().copied().collect()
            }
        };
        let mut out = Vec::with_capacity(values.len() * std::mem::size_of::<T>());
        for v in values {
            v.put(&mut out);
        }
        Ok(out)
    }
    match kind {
        Kind::I8 => go::<i8>(ds, sel),
        Kind::I16 => go::<i16>(ds, sel),
        Kind::I32 => go::<i32>(ds, sel),
        Kind::I64 => go::<i64>(ds, sel),
        Kind::U8 => go::<u8>(ds, sel),
        Kind::U16 => go::<u16>(ds, sel),
        Kind::U32 => go::<u32>(ds, sel),
        Kind::U64 => go::<u64>(ds, sel),
        Kind::F32 => go::<f32>(ds, sel),
        Kind::F64 => go::<f64>(ds, sel),
        Kind::Bool => go::<bool>(ds, sel),
    }
}

fn encode(raw: &[u8]) -> Result<Bytes, String> {
    zstd::bulk::compress(raw, ZSTD_LEVEL)
        .map(Bytes::from)
        .map_err(|e| format!("zstd: {e}"))
}
