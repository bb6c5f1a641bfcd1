//! The format-neutral model every parser produces and every writer consumes.
//!
//! A [`VirtualDataset`] is a tree of [`Group`]s and [`Array`]s plus the list of
//! [`Source`] files the chunk references point into. Parsers (`hdf5`, later `dmrpp`,
//! `ceos`) build it from source bytes; [`crate::store`] writes it as a vzarr store.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Map, Value};

/// JSON attributes of a node, in insertion order.
pub type Attributes = Map<String, Value>;

/// Largest decoded chunk a reader maps, in bytes: HDF5's own limit (libhdf5 refuses chunks of
/// 4 GiB or more), so decoding one chunk never needs more than this.
pub const MAX_CHUNK_BYTES: u64 = (4 << 30) - 1;

/// netCDF-4 internal attributes, hidden without a warning by every reader.
pub const NETCDF_INTERNAL_ATTRIBUTES: [&str; 8] = [
    "DIMENSION_LIST",
    "REFERENCE_LIST",
    "CLASS",
    "NAME",
    "_Netcdf4Dimid",
    "_Netcdf4Coordinates",
    "_nc3_strict",
    "_NCProperties",
];

/// A float attribute value as JSON: NaN and infinities (which JSON lacks) as the strings
/// `"NaN"`, `"Infinity"` and `"-Infinity"`, as Zarr v3 writes float fill values.
#[must_use]
pub fn float_json(v: f64) -> Value {
    if v.is_nan() {
        Value::String("NaN".into())
    } else if v == f64::INFINITY {
        Value::String("Infinity".into())
    } else if v == f64::NEG_INFINITY {
        Value::String("-Infinity".into())
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// Index of a source in [`VirtualDataset::sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceId(pub u32);

/// A file that chunk references point into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Absolute URL (`file:///…`, `s3://…`, `https://…`) or, in a store written with
    /// `--relative`, a path relative to the store location.
    pub url: String,
    /// Size in bytes when the store was created.
    pub size: Option<u64>,
    /// ETag reported by the object store when the store was created.
    pub etag: Option<String>,
    /// Last-modified time (RFC 3339) when the store was created.
    pub last_modified: Option<String>,
}

/// Where one chunk's encoded bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkRef {
    /// `length` bytes at `offset` in a source file.
    Virtual {
        /// Which source.
        source: SourceId,
        /// Byte offset in the source.
        offset: u64,
        /// Number of bytes.
        length: u64,
    },
    /// The encoded chunk bytes themselves (compact data, tiny chunks).
    Inline(Bytes),
    /// Never written: reads as the fill value.
    Missing,
}

/// Byte order of multi-byte elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endian {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

/// Element data types (a subset of Zarr v3's, plus what the sources need).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `bool`, one byte.
    Bool,
    /// Signed integer of 8, 16, 32 or 64 bits.
    Int(u8),
    /// Unsigned integer of 8, 16, 32 or 64 bits.
    UInt(u8),
    /// IEEE float of 16, 32 or 64 bits.
    Float(u8),
    /// Complex of two IEEE floats, total 64 or 128 bits.
    Complex(u8),
    /// Fixed-length byte string of `n` bytes (NUL-padded or NUL-terminated).
    FixedBytes(u32),
    /// Variable-length UTF-8 string (inline chunks, `vlen-utf8` codec).
    VlenUtf8,
    /// Variable-length byte string (inline chunks, `vlen-bytes` codec). HDF5 variable-length
    /// sequences: each element holds the sequence's items as stored; the attribute
    /// `_hdf5_vlen_dtype` names their NumPy dtype.
    VlenBytes,
    /// Uninterpreted bytes of a fixed length (HDF5 opaque; NumPy `V<n>`).
    RawBytes(u32),
    /// A packed record of little-endian named fields (HDF5 compound; a NumPy structured
    /// dtype without padding). Field bytes follow each other in the listed order.
    Structured(Vec<(String, DataType)>),
}

impl DataType {
    /// Size of one element in bytes (`None` for variable-length types).
    #[must_use]
    pub fn size(&self) -> Option<usize> {
        match *self {
            DataType::Bool => Some(1),
            DataType::Int(b) | DataType::UInt(b) | DataType::Float(b) | DataType::Complex(b) => {
                Some(usize::from(b) / 8)
            }
            DataType::FixedBytes(n) | DataType::RawBytes(n) => usize::try_from(n).ok(),
            DataType::VlenUtf8 | DataType::VlenBytes => None,
            DataType::Structured(ref fields) => {
                fields.iter().try_fold(0usize, |acc, (_, t)| acc.checked_add(t.size()?))
            }
        }
    }
}

/// One step of a chunk's decoding pipeline, in encode order (array → bytes → filters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Array to bytes with the given byte order (`None` for one-byte types).
    Bytes(Option<Endian>),
    /// Variable-length UTF-8 strings (array to bytes).
    VlenUtf8,
    /// Variable-length byte strings (array to bytes).
    VlenBytes,
    /// Byte shuffle with the element size in bytes (`numcodecs.shuffle`).
    Shuffle {
        /// Element size in bytes.
        element_size: u32,
    },
    /// zlib stream (HDF5 deflate), `numcodecs.zlib`.
    Zlib {
        /// Compression level recorded in the source (informational).
        level: u32,
    },
    /// Fletcher-32 checksum appended to the chunk, `numcodecs.fletcher32`.
    Fletcher32,
    /// One or more Zstandard frames (HDF5 filter 32015), Zarr `zstd`.
    Zstd {
        /// Compression level recorded in the source (informational).
        level: i32,
    },
    /// A Blosc 1 chunk (HDF5 filter 32001), Zarr `blosc`. The chunk header is
    /// self-describing; the fields record how the source was encoded.
    Blosc {
        /// Inner compressor.
        cname: BloscCompressor,
        /// Compression level, 0–9.
        clevel: u8,
        /// Shuffle applied before compression.
        shuffle: BloscShuffle,
        /// Element size in bytes the shuffle used.
        typesize: u32,
    },
    /// A bzip2 stream (HDF5 filter 307), `numcodecs.bz2`.
    Bz2 {
        /// Block size in 100 kB units, 1–9 (bzip2's compression level).
        level: u32,
    },
    /// LZF without a length header (HDF5/h5py filter 32000), `imagecodecs_lzf`
    /// with `header: false`.
    Lzf,
    /// LZ4 blocks in the HDF5 LZ4 filter's framing (filter 32004), `imagecodecs_lz4h5`:
    /// big-endian 8-byte decoded size and 4-byte block size, then per block a big-endian
    /// 4-byte length and an LZ4 block (stored raw when the length equals the block size).
    Lz4Hdf5 {
        /// Decoded bytes per block the source was written with (0: the filter's 1 GiB default).
        block_size: u32,
    },
    /// The HDF5 bitshuffle filter (32008), `vzarr.bitshuffle`: bit transpose within blocks
    /// of `block_size` elements, optionally LZ4- or Zstandard-compressed per block in
    /// bitshuffle's framing. See `src/zarr/filters_ext.rs` for the byte layout.
    Bitshuffle {
        /// Element size in bytes.
        element_size: u32,
        /// Elements per block, a multiple of 8 (0: bitshuffle's default for the element size).
        block_size: u32,
        /// Per-block compression.
        compression: BitshuffleCompression,
    },
    /// HDF5's szip filter (4), `imagecodecs_szip` with `header: true`: libhdf5's 4-byte
    /// little-endian decoded length, then an SZIP (CCSDS 121 adaptive entropy coding) stream,
    /// with the parameters libhdf5 stored for the dataset.
    Szip {
        /// SZIP options mask (byte order, nearest-neighbour preprocessing, coding).
        options_mask: u32,
        /// Pixels per block (even, ≤ 32).
        pixels_per_block: u32,
        /// Bits per pixel.
        bits_per_pixel: u32,
        /// Pixels per scanline.
        pixels_per_scanline: u32,
    },
    /// HDF5's scale-offset filter (6), `vzarr.scaleoffset`: its client data as libhdf5
    /// stored it (scale type and factor, element count, class, size, sign, byte order, fill
    /// value). See `src/zarr/scaleoffset.rs`.
    ScaleOffset {
        /// The filter's client data values.
        cd_values: Vec<u32>,
    },
}

/// Blosc's inner compressor (`cname`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BloscCompressor {
    /// `blosclz`.
    BloscLz,
    /// `lz4`.
    Lz4,
    /// `lz4hc`.
    Lz4Hc,
    /// `snappy`.
    Snappy,
    /// `zlib`.
    Zlib,
    /// `zstd`.
    Zstd,
}

/// Blosc's shuffle mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BloscShuffle {
    /// No shuffle.
    NoShuffle,
    /// Byte shuffle.
    Shuffle,
    /// Bit shuffle.
    BitShuffle,
}

/// Compression inside the bitshuffle filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BitshuffleCompression {
    /// Transposed bytes only, no header.
    None,
    /// LZ4 per block (bitshuffle's `H5_COMPRESS_LZ4`).
    Lz4,
    /// Zstandard per block (bitshuffle's `H5_COMPRESS_ZSTD`), at the recorded level.
    Zstd(i32),
}

/// The fill value: raw element bytes in the array's own byte order, or absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FillValue {
    /// No fill value defined: zeros are used (as libhdf5 does).
    #[default]
    Default,
    /// Element bytes, `data_type.size()` long, in the array's byte order (for `VlenUtf8`, the
    /// UTF-8 bytes of the string; for `VlenBytes`, the element's bytes).
    Bytes(Vec<u8>),
}

/// An N-dimensional array and its chunk references.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Array shape.
    pub shape: Vec<u64>,
    /// Regular chunk shape (same rank as `shape`; a scalar has rank 0).
    pub chunk_shape: Vec<u64>,
    /// Element type.
    pub data_type: DataType,
    /// Fill value for missing chunks.
    pub fill_value: FillValue,
    /// Decoding pipeline, array→bytes codec first.
    pub codecs: Vec<Codec>,
    /// User attributes.
    pub attributes: Attributes,
    /// Dimension names, one per axis, if known.
    pub dimension_names: Option<Vec<Option<String>>>,
    /// Chunk references by chunk grid coordinates; an absent entry is missing.
    pub chunks: BTreeMap<Vec<u64>, ChunkRef>,
}

impl Array {
    /// Byte order of the array's elements, from its `bytes` codec.
    #[must_use]
    pub fn endian(&self) -> Option<Endian> {
        self.codecs.iter().find_map(|c| match c {
            Codec::Bytes(e) => *e,
            _ => None,
        })
    }

    /// Number of chunks along each axis.
    #[must_use]
    pub fn chunk_grid_shape(&self) -> Vec<u64> {
        self.shape
            .iter()
            .zip(&self.chunk_shape)
            .map(|(&s, &c)| if c == 0 { 0 } else { s.div_ceil(c) })
            .collect()
    }
}

/// A node of the hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A group.
    Group(Group),
    /// An array.
    Array(Array),
}

/// A group: attributes and named children.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    /// User attributes.
    pub attributes: Attributes,
    /// Children by name.
    pub children: BTreeMap<String, Node>,
}

/// Something a parser could not express, with the path of the object and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Path of the object inside its source (`/gt1l/heights/h_ph`).
    pub path: String,
    /// Short feature name for tallies (`szip filter`, `compound datatype`).
    pub feature: String,
    /// One-line reason.
    pub reason: String,
}

/// A whole virtual dataset: the hierarchy and its sources.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VirtualDataset {
    /// The sources chunk references point into.
    pub sources: Vec<Source>,
    /// The root group.
    pub root: Group,
}

impl Group {
    /// The node at `path` (`/a/b` or `a/b`, `/`-separated, `.` components ignored) below this
    /// group; `None` for the group itself (an empty path) or a path that leads nowhere.
    #[must_use]
    pub fn node(&self, path: &str) -> Option<&Node> {
        let (parents, name) = Self::split(path)?;
        let mut g = self;
        for p in parents {
            match g.children.get(p)? {
                Node::Group(c) => g = c,
                Node::Array(_) => return None,
            }
        }
        g.children.get(name)
    }

    /// [`Group::node`], mutable.
    pub fn node_mut(&mut self, path: &str) -> Option<&mut Node> {
        let (g, name) = self.parent_mut(path)?;
        g.children.get_mut(name)
    }

    /// The group holding the node at `path`, and the node's name (`None` for an empty path or
    /// a parent that is missing or an array).
    fn parent_mut<'p>(&mut self, path: &'p str) -> Option<(&mut Group, &'p str)> {
        let (parents, name) = Self::split(path)?;
        let mut g = self;
        for p in parents {
            match g.children.get_mut(p)? {
                Node::Group(c) => g = c,
                Node::Array(_) => return None,
            }
        }
        Some((g, name))
    }

    /// A path's parent components and last component (`None` for an empty path).
    fn split(path: &str) -> Option<(Vec<&str>, &str)> {
        let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
        let name = parts.pop()?;
        Some((parts, name))
    }

    /// The group at `path` below this group, itself for an empty path (`""`, `"/"`).
    pub fn group_mut(&mut self, path: &str) -> Option<&mut Group> {
        if Self::split(path).is_none() {
            return Some(self);
        }
        match self.node_mut(path)? {
            Node::Group(g) => Some(g),
            Node::Array(_) => None,
        }
    }

    /// The array at `path` below this group (see [`Group::node`]).
    pub fn array(&self, path: &str) -> Option<&Array> {
        match self.node(path)? {
            Node::Array(a) => Some(a),
            Node::Group(_) => None,
        }
    }

    /// Take the node at `path` out of this group (see [`Group::node_mut`]).
    pub fn remove(&mut self, path: &str) -> Option<Node> {
        let (g, name) = self.parent_mut(path)?;
        g.children.remove(name)
    }

    /// The array at `path` below this group (see [`Group::node_mut`]).
    pub fn array_mut(&mut self, path: &str) -> Option<&mut Array> {
        match self.node_mut(path)? {
            Node::Array(a) => Some(a),
            Node::Group(_) => None,
        }
    }

    /// Walk all nodes depth-first, with their path (`""` for the root, `a/b` below).
    pub fn walk<'a>(&'a self, mut f: impl FnMut(&str, NodeRef<'a>)) {
        fn rec<'a>(g: &'a Group, path: &str, f: &mut dyn FnMut(&str, NodeRef<'a>)) {
            f(path, NodeRef::Group(g));
            for (name, child) in &g.children {
                let p = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}/{name}")
                };
                match child {
                    Node::Group(c) => rec(c, &p, f),
                    Node::Array(a) => f(&p, NodeRef::Array(a)),
                }
            }
        }
        rec(self, "", &mut f);
    }

    /// Call `f` on every array below this group, depth-first, with mutable access.
    pub fn for_each_array_mut(&mut self, f: &mut impl FnMut(&mut Array)) {
        for child in self.children.values_mut() {
            match child {
                Node::Group(g) => g.for_each_array_mut(f),
                Node::Array(a) => f(a),
            }
        }
    }
}

/// A borrowed node, as yielded by [`Group::walk`].
#[derive(Debug, Clone, Copy)]
pub enum NodeRef<'a> {
    /// A group.
    Group(&'a Group),
    /// An array.
    Array(&'a Array),
}

/// A [`Refusal`] together with the source it came from (store provenance, CLI output).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefusalRecord {
    /// The source file or URL.
    pub source: String,
    /// Path of the object inside the source.
    pub path: String,
    /// Short feature name.
    pub feature: String,
    /// One-line reason.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_nodes_below_a_group() {
        let leaf = Array {
            shape: vec![2],
            chunk_shape: vec![2],
            data_type: DataType::UInt(8),
            fill_value: FillValue::Default,
            codecs: vec![Codec::Bytes(None)],
            attributes: Attributes::new(),
            dimension_names: None,
            chunks: BTreeMap::new(),
        };
        let mut sub = Group::default();
        sub.children.insert("x".into(), Node::Array(leaf));
        let mut root = Group::default();
        root.children.insert("g".into(), Node::Group(sub));
        assert!(matches!(root.node("/g/x"), Some(Node::Array(_))));
        assert!(matches!(root.node("g/./x"), Some(Node::Array(_))));
        assert!(matches!(root.node("g"), Some(Node::Group(_))));
        assert!(root.node("").is_none() && root.node("/g/x/y").is_none() && root.node("/h").is_none());
        root.array_mut("/g/x").expect("array").shape = vec![3];
        assert!(matches!(root.node("g/x"), Some(Node::Array(a)) if a.shape == vec![3]));
        assert!(root.array_mut("/g").is_none());
        assert!(root.group_mut("/").is_some_and(|g| g.children.contains_key("g")));
        assert!(root.group_mut("g").is_some_and(|g| g.children.contains_key("x")));
        assert!(root.group_mut("g/x").is_none());
    }
}
