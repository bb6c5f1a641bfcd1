//! zarrs async storage traits for [`VirtualStore`].

use futures::StreamExt;
use zarrs_storage::byte_range::{ByteRange, ByteRangeIterator};
use zarrs_storage::{
    AsyncListableStorageTraits, AsyncMaybeBytesIterator, AsyncReadableStorageTraits, MaybeBytes, StorageError,
    StoreKey, StoreKeys, StoreKeysPrefixes, StorePrefix, StorePrefixes,
};

use super::fetch::{fetch_ranges, map_range};
use super::{ReadError, VirtualStore};
use crate::store::manifest::Entry;
use crate::zarr::Key;

pub(crate) fn storage_err(e: ReadError) -> StorageError {
    StorageError::IOError(std::sync::Arc::new(std::io::Error::other(e)))
}

impl VirtualStore {
    /// Byte ranges of the value at `key`, `None` if absent.
    pub(crate) async fn get_ranges(
        &self,
        key: &str,
        ranges: Vec<ByteRange>,
    ) -> Result<Option<Vec<bytes::Bytes>>, ReadError> {
        let parsed = match self.parse_key(key) {
            Ok(k) => k,
            // Unknown keys are simply absent: readers probe for v2 metadata and the like.
            Err(_) => return Ok(None),
        };
        let whole_slice = |b: bytes::Bytes| -> Result<Vec<bytes::Bytes>, ReadError> {
            let len = b.len() as u64;
            ranges
                .iter()
                .map(|r| {
                    map_range(*r, 0, len)
                        .map(|x| b.slice(x.start as usize..x.end as usize))
                        .ok_or_else(|| ReadError::InvalidRange {
                            key: key.into(),
                            range: format!("{r:?}"),
                            len,
                        })
                })
                .collect()
        };
        match parsed {
            Key::Metadata(node) => match self.metadata(&node).await? {
                Some(b) => whole_slice(b).map(Some),
                None => Ok(None),
            },
            Key::Chunk(ck) => {
                let entries = self.array_entries(&ck.array)?;
                let k = Key::Chunk(ck.clone()).to_string();
                match entries.get(&k) {
                    None => Ok(None),
                    Some(Entry::Inline(b)) => whole_slice(b.clone()).map(Some),
                    Some(Entry::Virtual { source, offset, length }) => {
                        if ranges.len() == 1 && ranges[0] == ByteRange::FromStart(0, None) {
                            return Ok(self.chunk(&ck).await?.map(|b| vec![b]));
                        }
                        self.virtual_ranges(&k, source, *offset, *length, &ranges)
                            .await
                            .map(Some)
                    }
                }
            }
        }
    }

    /// Byte ranges, relative to the chunk, of the virtual chunk `key` stored as `length`
    /// bytes at `offset` in `source` (a manifest [`Entry::Virtual`]).
    pub(crate) async fn virtual_ranges(
        &self,
        key: &str,
        source: &str,
        offset: u64,
        length: u64,
        ranges: &[ByteRange],
    ) -> Result<Vec<bytes::Bytes>, ReadError> {
        let src = self.source(source)?;
        let abs: Vec<_> = ranges
            .iter()
            .map(|r| {
                map_range(*r, offset, length).ok_or_else(|| ReadError::InvalidRange {
                    key: key.into(),
                    range: format!("{r:?}"),
                    len: length,
                })
            })
            .collect::<Result<_, _>>()?;
        fetch_ranges(&src, &abs, &self.stats).await
    }

    pub(crate) fn key_size(&self, key: &str) -> Result<Option<u64>, ReadError> {
        match self.parse_key(key) {
            Ok(Key::Chunk(ck)) => {
                let k = Key::Chunk(ck.clone()).to_string();
                Ok(self.array_entries(&ck.array)?.get(&k).map(|e| match e {
                    Entry::Inline(b) => b.len() as u64,
                    Entry::Virtual { length, .. } => *length,
                }))
            }
            Ok(Key::Metadata(_)) | Err(_) => Ok(None),
        }
    }

    pub(crate) fn list_under(&self, prefix: &str) -> Result<Vec<String>, ReadError> {
        Ok(self.keys()?.into_iter().filter(|k| k.starts_with(prefix)).collect())
    }
}

pub(crate) fn keys_of(v: Vec<String>) -> Result<StoreKeys, StorageError> {
    v.into_iter()
        .map(|k| StoreKey::new(k).map_err(StorageError::from))
        .collect()
}

pub(crate) fn list_dir_of(all: Vec<String>, prefix: &StorePrefix) -> Result<StoreKeysPrefixes, StorageError> {
    let p = prefix.as_str();
    let mut keys = Vec::new();
    let mut prefixes = std::collections::BTreeSet::new();
    for k in all {
        let Some(rest) = k.strip_prefix(p) else { continue };
        match rest.find('/') {
            Some(i) => {
                prefixes.insert(format!("{p}{}/", &rest[..i]));
            }
            None => keys.push(k),
        }
    }
    let prefixes: StorePrefixes = prefixes
        .into_iter()
        .map(|s| StorePrefix::new(s).map_err(StorageError::from))
        .collect::<Result<_, _>>()?;
    Ok(StoreKeysPrefixes::new(keys_of(keys)?, prefixes))
}

#[async_trait::async_trait]
impl AsyncReadableStorageTraits for VirtualStore {
    async fn get(&self, key: &StoreKey) -> Result<MaybeBytes, StorageError> {
        let r = self
            .get_ranges(key.as_str(), vec![ByteRange::FromStart(0, None)])
            .await
            .map_err(storage_err)?;
        Ok(r.and_then(|mut v| v.pop()))
    }

    async fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<AsyncMaybeBytesIterator<'a>, StorageError> {
        let ranges: Vec<ByteRange> = byte_ranges.collect();
        let r = self.get_ranges(key.as_str(), ranges).await.map_err(storage_err)?;
        Ok(r.map(|v| futures::stream::iter(v.into_iter().map(Ok)).boxed()))
    }

    async fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        if let Ok(Key::Metadata(node)) = self.parse_key(key.as_str()) {
            return Ok(self.metadata(&node).await.map_err(storage_err)?.map(|b| b.len() as u64));
        }
        self.key_size(key.as_str()).map_err(storage_err)
    }

    fn supports_get_partial(&self) -> bool {
        true
    }
}

#[async_trait::async_trait]
impl AsyncListableStorageTraits for VirtualStore {
    async fn list(&self) -> Result<StoreKeys, StorageError> {
        keys_of(self.keys().map_err(storage_err)?)
    }

    async fn list_prefix(&self, prefix: &StorePrefix) -> Result<StoreKeys, StorageError> {
        keys_of(self.list_under(prefix.as_str()).map_err(storage_err)?)
    }

    async fn list_dir(&self, prefix: &StorePrefix) -> Result<StoreKeysPrefixes, StorageError> {
        list_dir_of(self.keys().map_err(storage_err)?, prefix)
    }

    async fn size_prefix(&self, prefix: &StorePrefix) -> Result<u64, StorageError> {
        let mut total = 0u64;
        for k in self.list_under(prefix.as_str()).map_err(storage_err)? {
            let key = StoreKey::new(k)?;
            total = total.saturating_add(self.size_key(&key).await?.unwrap_or(0));
        }
        Ok(total)
    }
}
