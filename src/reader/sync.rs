//! Synchronous zarrs storage traits over [`VirtualStore`].

use std::sync::Arc;

use zarrs_storage::byte_range::{ByteRange, ByteRangeIterator};
use zarrs_storage::{
    AsyncListableStorageTraits, AsyncReadableStorageTraits, ListableStorageTraits, MaybeBytes, MaybeBytesIterator,
    ReadableStorageTraits, StorageError, StoreKey, StoreKeys, StoreKeysPrefixes, StorePrefix,
};

use super::zarrs_traits::storage_err;
use super::VirtualStore;

/// A [`VirtualStore`] with the synchronous zarrs storage traits, driving the async store on
/// the runtime `handle`. The library never creates a runtime; the caller owns it. Like
/// zarrs' `AsyncToSyncStorageAdapter`, it must not be used from inside that runtime's
/// async tasks (use it on a plain thread or in `spawn_blocking`).
#[derive(Debug, Clone)]
pub struct SyncVirtualStore {
    inner: Arc<VirtualStore>,
    handle: tokio::runtime::Handle,
}

impl SyncVirtualStore {
    /// Wrap a store with the runtime that drives it.
    #[must_use]
    pub fn new(inner: Arc<VirtualStore>, handle: tokio::runtime::Handle) -> Self {
        Self { inner, handle }
    }

    /// The async store.
    #[must_use]
    pub fn inner(&self) -> &Arc<VirtualStore> {
        &self.inner
    }
}

impl ReadableStorageTraits for SyncVirtualStore {
    fn get(&self, key: &StoreKey) -> Result<MaybeBytes, StorageError> {
        self.handle
            .block_on(AsyncReadableStorageTraits::get(self.inner.as_ref(), key))
    }

    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        let ranges: Vec<ByteRange> = byte_ranges.collect();
        let r = self
            .handle
            .block_on(self.inner.get_ranges(key.as_str(), ranges))
            .map_err(storage_err)?;
        Ok(r.map(|v| Box::new(v.into_iter().map(Ok)) as _))
    }

    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        self.handle
            .block_on(AsyncReadableStorageTraits::size_key(self.inner.as_ref(), key))
    }

    fn supports_get_partial(&self) -> bool {
        true
    }
}

impl ListableStorageTraits for SyncVirtualStore {
    fn list(&self) -> Result<StoreKeys, StorageError> {
        self.handle
            .block_on(AsyncListableStorageTraits::list(self.inner.as_ref()))
    }

    fn list_prefix(&self, prefix: &StorePrefix) -> Result<StoreKeys, StorageError> {
        self.handle
            .block_on(AsyncListableStorageTraits::list_prefix(self.inner.as_ref(), prefix))
    }

    fn list_dir(&self, prefix: &StorePrefix) -> Result<StoreKeysPrefixes, StorageError> {
        self.handle
            .block_on(AsyncListableStorageTraits::list_dir(self.inner.as_ref(), prefix))
    }

    fn size_prefix(&self, prefix: &StorePrefix) -> Result<u64, StorageError> {
        self.handle
            .block_on(AsyncListableStorageTraits::size_prefix(self.inner.as_ref(), prefix))
    }
}
