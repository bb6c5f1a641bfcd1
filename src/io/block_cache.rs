//! A capped block cache in front of a [`ReadAt`], so a parser's many small reads become
//! few aligned requests (essential for remote sources).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};

use super::{check_range, ReadAt, ReadError};

/// Caches aligned blocks of an inner [`ReadAt`], evicting the oldest beyond `max_blocks`.
#[derive(Debug)]
pub struct BlockCache<R> {
    inner: R,
    block_size: u64,
    max_blocks: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    blocks: HashMap<u64, Bytes>,
    order: VecDeque<u64>,
}

impl<R: ReadAt> BlockCache<R> {
    /// Wrap `inner` with blocks of `block_size` bytes, holding at most `max_bytes`.
    pub fn new(inner: R, block_size: u64, max_bytes: u64) -> Self {
        let block_size = block_size.max(512);
        let max_blocks = usize::try_from((max_bytes / block_size).max(2)).unwrap_or(usize::MAX);
        Self {
            inner,
            block_size,
            max_blocks,
            state: Mutex::new(State::default()),
        }
    }

    /// The wrapped reader.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    fn block(&self, index: u64) -> Result<Bytes, ReadError> {
        if let Some(b) = self.lock().blocks.get(&index) {
            return Ok(b.clone());
        }
        let start = index * self.block_size;
        let len = self.block_size.min(self.inner.size().saturating_sub(start));
        let bytes = self.inner.read_at(start, len)?;
        let mut st = self.lock();
        if st.blocks.insert(index, bytes.clone()).is_none() {
            st.order.push_back(index);
        }
        while st.order.len() > self.max_blocks {
            if let Some(old) = st.order.pop_front() {
                st.blocks.remove(&old);
            }
        }
        Ok(bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned cache only means another reader panicked; the data is still valid.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<R: ReadAt> ReadAt for BlockCache<R> {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_at(&self, offset: u64, len: u64) -> Result<Bytes, ReadError> {
        check_range(offset, len, self.size())?;
        if len == 0 {
            return Ok(Bytes::new());
        }
        // Large reads bypass the cache.
        if len > self.block_size * 4 {
            return self.inner.read_at(offset, len);
        }
        let end = offset + len; // checked above
        let first = offset / self.block_size;
        let last = (end - 1) / self.block_size;
        if first == last {
            let b = self.block(first)?;
            let o = (offset - first * self.block_size) as usize;
            return Ok(b.slice(o..o + len as usize));
        }
        let mut out = BytesMut::with_capacity(len as usize);
        for i in first..=last {
            let b = self.block(i)?;
            let bs = i * self.block_size;
            let from = offset.max(bs) - bs;
            let to = end.min(bs + b.len() as u64) - bs;
            out.extend_from_slice(&b[from as usize..to as usize]);
        }
        Ok(out.freeze())
    }

    fn requests(&self) -> u64 {
        self.inner.requests()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_reads_equal_direct_reads() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let direct = Bytes::from(data.clone());
        let cache = BlockCache::new(Bytes::from(data), 512, 4096);
        for (o, l) in [(0, 1), (511, 2), (100, 3000), (9_990, 10), (0, 10_000), (4_000, 1_500)] {
            assert_eq!(cache.read_at(o, l).unwrap(), direct.read_at(o, l).unwrap(), "{o} {l}");
        }
        assert!(cache.read_at(9_999, 2).is_err());
    }
}
