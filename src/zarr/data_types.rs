//! Zarr data types vzarr writes that zarrs 0.23 does not define, registered with zarrs so it
//! reads every `zarr.json` vzarr writes. Each uses zarr-python 3's name and configuration:
//!
//! - `null_terminated_bytes` (`{"length_bytes": N}`): NumPy `S<N>`, HDF5 fixed-length strings.
//! - `raw_bytes` (`{"length_bytes": N}`): NumPy `V<N>`, HDF5 opaque.
//! - `structured` (`{"fields": [[name, data_type], …]}`): a NumPy structured dtype without
//!   padding, HDF5 compound. zarr-python stores every field little-endian and ignores the
//!   `bytes` codec's `endian`, so the element bytes are stored as they are.
//!
//! All three are fixed-size byte blobs to zarrs: no byte swapping, fill values base64-encoded
//! element bytes (zarr-python's encoding). They register at link time (`inventory`).

use std::borrow::Cow;
use std::num::NonZeroU64;
use std::sync::{Arc, LazyLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use base64::Engine;
use serde_json::Value;
use zarrs_data_type::DataType;
use zarrs_metadata::v3::MetadataV3;
use zarrs_metadata::{Configuration, DataTypeSize, FillValueMetadata};
use zarrs_plugin::{ExtensionAliasesConfig, PluginCreateError, ZarrVersion};

/// Nesting bound for structured fields (each level is one JSON array in `zarr.json`).
const MAX_FIELD_DEPTH: usize = 16;

/// Configuration of the `length_bytes` types.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LengthBytesConfiguration {
    length_bytes: NonZeroU64,
}

/// Fill value of a fixed-size bytes type: base64 of at most `len` bytes, zero-extended.
fn bytes_fill_value(
    meta: &FillValueMetadata,
    len: usize,
    zero_extend: bool,
) -> Result<zarrs_data_type::FillValue, zarrs_data_type::DataTypeFillValueMetadataError> {
    let s = meta.as_str().ok_or(zarrs_data_type::DataTypeFillValueMetadataError)?;
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| zarrs_data_type::DataTypeFillValueMetadataError)?;
    if bytes.len() > len || (!zero_extend && bytes.len() != len) {
        return Err(zarrs_data_type::DataTypeFillValueMetadataError);
    }
    bytes.resize(len, 0);
    Ok(zarrs_data_type::FillValue::new(bytes))
}

fn bytes_fill_metadata(
    fill: &zarrs_data_type::FillValue,
    len: usize,
) -> Result<FillValueMetadata, zarrs_data_type::DataTypeFillValueError> {
    let b = fill.as_ne_bytes();
    if b.len() != len {
        return Err(zarrs_data_type::DataTypeFillValueError);
    }
    Ok(FillValueMetadata::from(
        base64::engine::general_purpose::STANDARD.encode(b),
    ))
}

/// The zarrs registration boilerplate shared by the three types: plugin, aliases, name and
/// the byte-blob codec traits.
macro_rules! bytes_like_type {
    ($ty:ident, $name:literal, $v2:expr) => {
        inventory::submit! {
            zarrs_data_type::DataTypePluginV3::new::<$ty>()
        }

        impl zarrs_plugin::ExtensionAliases<zarrs_plugin::ZarrVersion3> for $ty {
            fn aliases() -> RwLockReadGuard<'static, ExtensionAliasesConfig> {
                static ALIASES: LazyLock<RwLock<ExtensionAliasesConfig>> =
                    LazyLock::new(|| RwLock::new(ExtensionAliasesConfig::new($name, vec![], vec![])));
                ALIASES.read().unwrap_or_else(std::sync::PoisonError::into_inner)
            }

            fn aliases_mut() -> RwLockWriteGuard<'static, ExtensionAliasesConfig> {
                static ALIASES: LazyLock<RwLock<ExtensionAliasesConfig>> =
                    LazyLock::new(|| RwLock::new(ExtensionAliasesConfig::new($name, vec![], vec![])));
                ALIASES.write().unwrap_or_else(std::sync::PoisonError::into_inner)
            }
        }

        impl zarrs_plugin::ExtensionName for $ty {
            fn name(&self, version: ZarrVersion) -> Option<Cow<'static, str>> {
                match version {
                    ZarrVersion::V3 => Some(Cow::Borrowed($name)),
                    ZarrVersion::V2 => $v2(self),
                }
            }
        }

        zarrs_data_type::codec_traits::impl_bytes_data_type_traits!($ty, 1);
    };
}

/// The `null_terminated_bytes` data type: fixed-length byte strings of `length_bytes`,
/// NUL-padded. Bytes are stored and decoded as they are (no byte order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NullTerminatedBytesDataType {
    length_bytes: NonZeroU64,
}

/// The `raw_bytes` data type: `length_bytes` uninterpreted bytes per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawBytesDataType {
    length_bytes: NonZeroU64,
}

macro_rules! length_bytes_type {
    ($ty:ident, $name:literal, $np:literal) => {
        impl $ty {
            /// A type of `length_bytes` bytes per element.
            #[must_use]
            pub const fn new(length_bytes: NonZeroU64) -> Self {
                Self { length_bytes }
            }

            fn len(&self) -> usize {
                usize::try_from(self.length_bytes.get()).unwrap_or(usize::MAX)
            }
        }

        impl zarrs_data_type::DataTypeTraitsV3 for $ty {
            fn create(metadata: &MetadataV3) -> Result<DataType, PluginCreateError> {
                let config: LengthBytesConfiguration = metadata.to_typed_configuration()?;
                Ok(Arc::new(Self::new(config.length_bytes)).into())
            }
        }

        impl zarrs_data_type::DataTypeTraits for $ty {
            fn configuration(&self, _version: ZarrVersion) -> Configuration {
                let mut m = serde_json::Map::new();
                m.insert("length_bytes".into(), self.length_bytes.get().into());
                Configuration::from(m)
            }

            fn size(&self) -> DataTypeSize {
                DataTypeSize::Fixed(self.len())
            }

            fn fill_value(
                &self,
                fill_value_metadata: &FillValueMetadata,
                _version: ZarrVersion,
            ) -> Result<zarrs_data_type::FillValue, zarrs_data_type::DataTypeFillValueMetadataError> {
                bytes_fill_value(fill_value_metadata, self.len(), true)
            }

            fn metadata_fill_value(
                &self,
                fill_value: &zarrs_data_type::FillValue,
            ) -> Result<FillValueMetadata, zarrs_data_type::DataTypeFillValueError> {
                bytes_fill_metadata(fill_value, self.len())
            }

            fn as_any(&self) -> &dyn std::any::Any {
                self
            }
        }

        bytes_like_type!($ty, $name, |t: &$ty| Some(Cow::Owned(format!(
            concat!("|", $np, "{}"),
            t.length_bytes
        ))));
    };
}

length_bytes_type!(NullTerminatedBytesDataType, "null_terminated_bytes", "S");
length_bytes_type!(RawBytesDataType, "raw_bytes", "V");

/// The `structured` data type: packed named fields, each a Zarr data type, stored
/// little-endian in field order.
#[derive(Debug, Clone, PartialEq)]
pub struct StructuredDataType {
    fields: Value,
    size: usize,
}

impl StructuredDataType {
    /// The type with the given `fields` (`[[name, data_type], …]`), or an error naming the
    /// field whose type has no fixed size vzarr knows.
    ///
    /// # Errors
    /// A malformed field list or a field type of unknown size.
    pub fn new(fields: Value) -> Result<Self, String> {
        let size = fields_size(&fields, 0)?;
        Ok(Self { fields, size })
    }
}

/// Size in bytes of a structured field list.
fn fields_size(fields: &Value, depth: usize) -> Result<usize, String> {
    if depth > MAX_FIELD_DEPTH {
        return Err(format!("structured fields nested deeper than {MAX_FIELD_DEPTH}"));
    }
    let list = fields.as_array().ok_or("structured fields must be a list")?;
    if list.is_empty() {
        return Err("structured type without fields".into());
    }
    list.iter().try_fold(0usize, |acc, f| {
        let t = match f.as_array().map(Vec::as_slice) {
            Some([Value::String(_), t]) => t,
            _ => return Err(format!("structured field {f} is not [name, data_type]")),
        };
        acc.checked_add(field_size(t, depth)?)
            .ok_or_else(|| "structured size overflows".to_string())
    })
}

fn field_size(t: &Value, depth: usize) -> Result<usize, String> {
    if let Some(name) = t.as_str() {
        return Ok(match name {
            "bool" | "int8" | "uint8" => 1,
            "int16" | "uint16" | "float16" => 2,
            "int32" | "uint32" | "float32" => 4,
            "int64" | "uint64" | "float64" | "complex64" => 8,
            "complex128" => 16,
            other => return Err(format!("structured field type {other} is not supported")),
        });
    }
    let len = || {
        t.pointer("/configuration/length_bytes")
            .and_then(Value::as_u64)
            .filter(|&n| n > 0)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| format!("structured field type {t} has no valid length_bytes"))
    };
    match t.get("name").and_then(Value::as_str) {
        Some("null_terminated_bytes" | "raw_bytes") => len(),
        Some("structured") => fields_size(t.pointer("/configuration/fields").unwrap_or(&Value::Null), depth + 1),
        _ => Err(format!("structured field type {t} is not supported")),
    }
}

impl zarrs_data_type::DataTypeTraitsV3 for StructuredDataType {
    fn create(metadata: &MetadataV3) -> Result<DataType, PluginCreateError> {
        let fields = metadata
            .configuration()
            .and_then(|c| c.get("fields"))
            .cloned()
            .ok_or_else(|| PluginCreateError::Other(format!("structured data type without fields: {metadata}")))?;
        let t = Self::new(fields).map_err(PluginCreateError::Other)?;
        Ok(Arc::new(t).into())
    }
}

impl zarrs_data_type::DataTypeTraits for StructuredDataType {
    fn configuration(&self, _version: ZarrVersion) -> Configuration {
        let mut m = serde_json::Map::new();
        m.insert("fields".into(), self.fields.clone());
        Configuration::from(m)
    }

    fn size(&self) -> DataTypeSize {
        DataTypeSize::Fixed(self.size)
    }

    fn fill_value(
        &self,
        fill_value_metadata: &FillValueMetadata,
        _version: ZarrVersion,
    ) -> Result<zarrs_data_type::FillValue, zarrs_data_type::DataTypeFillValueMetadataError> {
        bytes_fill_value(fill_value_metadata, self.size, false)
    }

    fn metadata_fill_value(
        &self,
        fill_value: &zarrs_data_type::FillValue,
    ) -> Result<FillValueMetadata, zarrs_data_type::DataTypeFillValueError> {
        bytes_fill_metadata(fill_value, self.size)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

bytes_like_type!(StructuredDataType, "structured", |_t: &StructuredDataType| None);

#[cfg(test)]
mod tests {
    use super::*;

    fn data_type(json: &str) -> Result<DataType, String> {
        let metadata: MetadataV3 = serde_json::from_str(json).map_err(|e| e.to_string())?;
        DataType::from_metadata(&metadata).map_err(|e| e.to_string())
    }

    #[test]
    fn zarrs_reads_null_terminated_bytes_metadata() {
        let dt = data_type(r#"{"name":"null_terminated_bytes","configuration":{"length_bytes":8}}"#).unwrap();
        assert!(dt.is::<NullTerminatedBytesDataType>());
        assert_eq!(dt.fixed_size(), Some(8));
        let fv = dt.fill_value_v3(&FillValueMetadata::from("QUI=")).unwrap();
        assert_eq!(fv.as_ne_bytes(), b"AB\0\0\0\0\0\0");
        assert!(
            dt.fill_value_v3(&FillValueMetadata::from("QUJDREVGR0hJ")).is_err(),
            "too long"
        );
    }

    #[test]
    fn zarrs_reads_raw_bytes_and_structured_metadata() {
        let dt = data_type(r#"{"name":"raw_bytes","configuration":{"length_bytes":3}}"#).unwrap();
        assert!(dt.is::<RawBytesDataType>());
        assert_eq!(dt.fixed_size(), Some(3));
        let json = r#"{"name":"structured","configuration":{"fields":[["a","int32"],["b",
            {"name":"structured","configuration":{"fields":[["c","float64"],
            ["d",{"name":"null_terminated_bytes","configuration":{"length_bytes":5}}]]}}],["e","bool"]]}}"#;
        let dt = data_type(json).unwrap();
        assert!(dt.is::<StructuredDataType>());
        assert_eq!(dt.fixed_size(), Some(4 + 8 + 5 + 1));
        // A structured fill value must be exactly one element.
        assert!(dt.fill_value_v3(&FillValueMetadata::from("AAAA")).is_err());
        let zeros = base64::engine::general_purpose::STANDARD.encode([0u8; 18]);
        assert_eq!(
            dt.fill_value_v3(&FillValueMetadata::from(zeros)).unwrap().as_ne_bytes(),
            &[0u8; 18]
        );
    }

    #[test]
    fn hostile_structured_metadata_is_an_error() {
        for bad in [
            r#"{"name":"structured","configuration":{"fields":[]}}"#,
            r#"{"name":"structured","configuration":{"fields":[["a","string"]]}}"#,
            r#"{"name":"structured","configuration":{"fields":[["a"]]}}"#,
            r#"{"name":"structured","configuration":{}}"#,
        ] {
            assert!(data_type(bad).is_err(), "{bad}");
        }
        let mut deep = r#""int8""#.to_string();
        for _ in 0..40 {
            deep = format!(r#"{{"name":"structured","configuration":{{"fields":[["x",{deep}]]}}}}"#);
        }
        assert!(data_type(&deep).is_err());
    }
}
