//! Model codecs → Zarr v3 codec metadata, using only names that both zarrs and
//! zarr-python 3 (numcodecs) decode.

use serde_json::{json, Value};

use crate::model::{Codec, Endian};

/// The Zarr v3 metadata of one codec.
#[must_use]
pub fn codec_metadata(codec: &Codec) -> Value {
    match codec {
        Codec::Bytes(Some(e)) => json!({
            "name": "bytes",
            "configuration": {"endian": match e { Endian::Little => "little", Endian::Big => "big" }}
        }),
        Codec::Bytes(None) => json!({"name": "bytes"}),
        Codec::VlenUtf8 => json!({"name": "vlen-utf8"}),
        Codec::Shuffle { element_size } => json!({
            "name": "numcodecs.shuffle",
            "configuration": {"elementsize": element_size}
        }),
        // HDF5 deflate is a zlib stream: numcodecs.zlib, never gzip.
        Codec::Zlib { level } => json!({
            "name": "numcodecs.zlib",
            "configuration": {"level": level}
        }),
        Codec::Fletcher32 => json!({"name": "numcodecs.fletcher32", "configuration": {}}),
    }
}

/// Short human-readable codec name (for `inspect`).
#[must_use]
pub fn codec_label(codec: &Codec) -> String {
    match codec {
        Codec::Bytes(Some(Endian::Little)) => "bytes(little)".into(),
        Codec::Bytes(Some(Endian::Big)) => "bytes(big)".into(),
        Codec::Bytes(None) => "bytes".into(),
        Codec::VlenUtf8 => "vlen-utf8".into(),
        Codec::Shuffle { element_size } => format!("shuffle({element_size})"),
        Codec::Zlib { level } => format!("zlib({level})"),
        Codec::Fletcher32 => "fletcher32".into(),
    }
}
