//! zarrs codec extensions vzarr registers so zarrs reads every `zarr.json` vzarr writes
//! (extension data types are in [`super::data_types`]).
//!
//! - `numcodecs.fletcher32` codec: zarrs 0.23.10–0.23.14 skip the last byte of an odd-length
//!   payload when computing the checksum (zarrs issue #460) and so reject valid HDF5 chunks.
//!   [`register`] installs a corrected codec under the same name in zarrs' runtime registry,
//!   which takes precedence over the built-in one.
//!
//! [`register`] (called by [`crate::reader::VirtualStore::open`]) installs the codec
//! overrides once.

use std::sync::Arc;

// COMPATIBILITY: zarrs issue #460 (fletcher32 odd-length payloads), zarrs 0.23.10–0.23.14.
/// HDF5's Fletcher-32 (`H5_checksum_fletcher32`): 16-bit big-endian words, a trailing odd
/// byte as the high byte of a last word.
#[must_use]
pub fn fletcher32(data: &[u8]) -> u32 {
    let (mut sum1, mut sum2) = (0u32, 0u32);
    let mut words = data.chunks_exact(2);
    loop {
        let mut n = 0;
        for w in words.by_ref().take(360) {
            sum1 += u32::from(u16::from_be_bytes([w[0], w[1]]));
            sum2 += sum1;
            n += 1;
        }
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
        if n < 360 {
            break;
        }
    }
    if let [last] = words.remainder() {
        sum1 += u32::from(*last) << 8;
        sum2 += sum1;
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    (sum2 << 16) | sum1
}

mod fletcher32_codec {
    use std::borrow::Cow;
    use std::sync::Arc;

    use zarrs_codec::{
        ArrayBytesRaw, BytesRepresentation, BytesToBytesCodecTraits, CodecError, CodecMetadataOptions, CodecOptions,
        CodecTraits, PartialDecoderCapability, PartialEncoderCapability, RecommendedConcurrency,
    };
    use zarrs_metadata::Configuration;
    use zarrs_plugin::ZarrVersion;

    /// `numcodecs.fletcher32` with HDF5's checksum for every payload length.
    #[derive(Debug, Clone, Default)]
    pub struct Fletcher32Codec;

    impl zarrs_plugin::ExtensionName for Fletcher32Codec {
        fn name(&self, _version: ZarrVersion) -> Option<Cow<'static, str>> {
            Some(Cow::Borrowed("numcodecs.fletcher32"))
        }
    }

    impl CodecTraits for Fletcher32Codec {
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }

        fn configuration(&self, _version: ZarrVersion, _options: &CodecMetadataOptions) -> Option<Configuration> {
            Some(Configuration::default())
        }

        fn partial_decoder_capability(&self) -> PartialDecoderCapability {
            PartialDecoderCapability {
                partial_read: false,
                partial_decode: false,
            }
        }

        fn partial_encoder_capability(&self) -> PartialEncoderCapability {
            PartialEncoderCapability { partial_encode: false }
        }
    }

    #[async_trait::async_trait]
    impl BytesToBytesCodecTraits for Fletcher32Codec {
        fn into_dyn(self: Arc<Self>) -> Arc<dyn BytesToBytesCodecTraits> {
            self
        }

        fn recommended_concurrency(&self, _r: &BytesRepresentation) -> Result<RecommendedConcurrency, CodecError> {
            Ok(RecommendedConcurrency::new_maximum(1))
        }

        fn encoded_representation(&self, r: &BytesRepresentation) -> BytesRepresentation {
            match r {
                BytesRepresentation::FixedSize(n) => BytesRepresentation::FixedSize(n + 4),
                BytesRepresentation::BoundedSize(n) => BytesRepresentation::BoundedSize(n + 4),
                BytesRepresentation::UnboundedSize => BytesRepresentation::UnboundedSize,
            }
        }

        fn encode<'a>(&self, v: ArrayBytesRaw<'a>, _o: &CodecOptions) -> Result<ArrayBytesRaw<'a>, CodecError> {
            let mut out = v.into_owned();
            let c = super::fletcher32(&out);
            out.extend_from_slice(&c.to_le_bytes());
            Ok(Cow::Owned(out))
        }

        fn decode<'a>(
            &self,
            v: ArrayBytesRaw<'a>,
            _r: &BytesRepresentation,
            options: &CodecOptions,
        ) -> Result<ArrayBytesRaw<'a>, CodecError> {
            let Some(split) = v.len().checked_sub(4) else {
                return Err(CodecError::Other(
                    "fletcher32: chunk shorter than its 4-byte checksum".into(),
                ));
            };
            let (payload, stored) = v.split_at(split);
            if options.validate_checksums() && super::fletcher32(payload).to_le_bytes() != stored {
                return Err(CodecError::InvalidChecksum);
            }
            let mut out = v.into_owned();
            out.truncate(split);
            Ok(Cow::Owned(out))
        }
    }
}

/// Install vzarr's zarrs codec overrides (idempotent).
pub fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    super::filters_ext::register();
    ONCE.call_once(|| {
        let _handle = zarrs_codec::register_codec_v3(zarrs_codec::CodecRuntimePluginV3::new(
            |name| name == "numcodecs.fletcher32",
            |_metadata| {
                Ok(zarrs_codec::Codec::BytesToBytes(Arc::new(
                    fletcher32_codec::Fletcher32Codec,
                )))
            },
        ));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fletcher32_matches_hdf5_for_odd_and_even_lengths() {
        // Reference: HDF5 H5_checksum_fletcher32 computed by hand for small inputs.
        assert_eq!(fletcher32(&[]), 0);
        assert_eq!(fletcher32(&[0x01, 0x02]), (0x0102 << 16) | 0x0102);
        // Odd: the last byte is the high byte of a final word: words 0x0102, 0x0300.
        let s1 = 0x0102 + 0x0300;
        let s2 = 0x0102 + s1;
        assert_eq!(fletcher32(&[0x01, 0x02, 0x03]), (s2 << 16) | s1);
        // Long input exercises the 360-word folding.
        let data: Vec<u8> = (0..5001u32).map(|i| (i * 7 + 3) as u8).collect();
        let (mut a, mut b) = (0u64, 0u64);
        for w in data.chunks(2) {
            let v = if w.len() == 2 {
                u64::from(w[0]) << 8 | u64::from(w[1])
            } else {
                u64::from(w[0]) << 8
            };
            a = (a + v) % 65535;
            b = (b + a) % 65535;
        }
        let got = fletcher32(&data);
        assert_eq!((u64::from(got & 0xffff) % 65535, u64::from(got >> 16) % 65535), (a, b));
    }

    #[test]
    fn zarrs_uses_the_corrected_fletcher32_for_odd_payloads() {
        use zarrs::array::ArraySubset;
        register();
        let store = Arc::new(zarrs::storage::store::MemoryStore::new());
        let meta = serde_json::json!({
            "zarr_format": 3, "node_type": "array", "shape": [5], "data_type": "uint8",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [5]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 0, "codecs": [{"name": "bytes"}, {"name": "numcodecs.fletcher32", "configuration": {}}]
        });
        use zarrs::storage::WritableStorageTraits;
        store
            .set(
                &"a/zarr.json".try_into().unwrap(),
                serde_json::to_vec(&meta).unwrap().into(),
            )
            .unwrap();
        let payload = [1u8, 2, 3, 4, 5];
        let mut chunk = payload.to_vec();
        chunk.extend_from_slice(&fletcher32(&payload).to_le_bytes());
        store.set(&"a/c/0".try_into().unwrap(), chunk.into()).unwrap();
        let a = zarrs::array::Array::open(store, "/a").unwrap();
        let got: Vec<u8> = a.retrieve_array_subset(&ArraySubset::new_with_shape(vec![5])).unwrap();
        assert_eq!(got, payload);
    }
}
