//! A capped block cache in front of a [`ReadAt`], so a parser's many small reads become
//! few aligned requests (essential for remote sources), and that can be warmed by
//! discovery passes ([`ReadAt::warm`]) so those requests go out together.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};

use super::{check_range, ReadAt, ReadError};

/// Caches aligned blocks of an inner [`ReadAt`], evicting the oldest beyond `max_blocks`.
#[derive(Debug)]
pub struct BlockCache<R> {
    inner: R,
    block_size: u64,
    max_blocks: usize,
    warm_passes: usize,
    readahead: u64,
    state: Mutex<State>,
}

/// Largest gap a discovery batch reads to join two runs of missing blocks into one request.
const MAX_JOIN_GAP: u64 = 64 * 1024;

/// Reads of this many bytes or more are not recorded by a discovery pass (they are data,
/// read once by the real parse).
const MAX_DISCOVERY_READ: u64 = 512 * 1024;

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
            warm_passes: 0,
            readahead: 0,
            state: Mutex::new(State::default()),
        }
    }

    /// Let [`ReadAt::warm`] run up to `passes` discovery passes (0, the default, turns
    /// warming off: right for local files, where a wait costs little).
    #[must_use]
    pub fn with_warm_passes(mut self, passes: usize) -> Self {
        self.warm_passes = passes;
        self
    }

    /// Let a discovery pass that misses a read of `len` bytes at `offset` fetch at least
    /// `readahead` bytes from `offset` (the rest of a header whose length the first bytes
    /// give, the next object written after it), so blocks can be small without a pass per
    /// continuation.
    #[must_use]
    pub fn with_readahead(mut self, readahead: u64) -> Self {
        self.readahead = readahead;
        self
    }

    /// The blocks covering `[offset, offset+len)` (non-empty, in bounds).
    fn block_span(&self, offset: u64, len: u64) -> std::ops::RangeInclusive<u64> {
        offset / self.block_size..=(offset + len - 1) / self.block_size
    }

    /// Copy `[offset, offset+len)` out of the consecutive `blocks` starting at block `first`.
    fn assemble(&self, offset: u64, len: u64, first: u64, blocks: &[Bytes]) -> Bytes {
        if let [b] = blocks {
            let o = (offset - first * self.block_size) as usize;
            return b.slice(o..o + len as usize);
        }
        let end = offset + len;
        let mut out = BytesMut::with_capacity(len as usize);
        for (i, b) in (first..).zip(blocks) {
            let bs = i * self.block_size;
            let from = offset.max(bs) - bs;
            let to = end.min(bs + b.len() as u64) - bs;
            out.extend_from_slice(&b[from as usize..to as usize]);
        }
        out.freeze()
    }

    /// The cached blocks of `span`, or the indices of those missing.
    fn cached(&self, span: std::ops::RangeInclusive<u64>) -> Result<Vec<Bytes>, Vec<u64>> {
        let st = self.lock();
        let mut have = Vec::new();
        let mut missing = Vec::new();
        for i in span {
            match st.blocks.get(&i) {
                Some(b) if missing.is_empty() => have.push(b.clone()),
                Some(_) => {}
                None => missing.push(i),
            }
        }
        if missing.is_empty() {
            Ok(have)
        } else {
            Err(missing)
        }
    }

    fn insert(&self, index: u64, bytes: Bytes) {
        let mut st = self.lock();
        if st.blocks.insert(index, bytes).is_none() {
            st.order.push_back(index);
        }
        while st.order.len() > self.max_blocks {
            if let Some(old) = st.order.pop_front() {
                st.blocks.remove(&old);
            }
        }
    }

    /// The wrapped reader.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// The blocks of `span`, fetching those missing with one request for the run between the
    /// first and the last missing block.
    fn blocks(&self, span: std::ops::RangeInclusive<u64>) -> Result<Vec<Bytes>, ReadError> {
        let missing = match self.cached(span.clone()) {
            Ok(blocks) => return Ok(blocks),
            Err(missing) => missing,
        };
        let (lo, hi) = (missing[0], missing[missing.len() - 1]);
        let start = lo * self.block_size;
        let len = ((hi - lo + 1) * self.block_size).min(self.inner.size().saturating_sub(start));
        let fetched = self.insert_run(lo, &self.inner.read_at(start, len)?);
        // The cached blocks of the span (read again if a small cache evicted them meanwhile).
        span.map(|i| {
            let got = i.checked_sub(lo).and_then(|k| fetched.get(k as usize)).cloned();
            if let Some(b) = got.or_else(|| self.lock().blocks.get(&i).cloned()) {
                return Ok(b);
            }
            let start = i * self.block_size;
            self.inner
                .read_at(start, self.block_size.min(self.inner.size().saturating_sub(start)))
        })
        .collect()
    }

    /// Cache the blocks of `run`, fetched from the start of block `first`; returns them.
    fn insert_run(&self, first: u64, run: &Bytes) -> Vec<Bytes> {
        let bs = self.block_size as usize;
        (first..)
            .zip((0..run.len()).step_by(bs))
            .map(|(i, from)| {
                let b = run.slice(from..(from + bs).min(run.len()));
                self.insert(i, b.clone());
                b
            })
            .collect()
    }

    /// The missing blocks as runs `(first, count)` to fetch: consecutive blocks form one run,
    /// and two runs are joined into one request when the blocks between them are no more than
    /// the longer run (and at most [`MAX_JOIN_GAP`] bytes), so a request saved never costs more
    /// unused bytes than the reads beside it fetch.
    fn runs(&self, missing: &BTreeSet<u64>) -> Vec<(u64, u64)> {
        let max_gap = MAX_JOIN_GAP / self.block_size;
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &i in missing {
            match runs.last_mut() {
                Some((first, n)) if *first + *n == i => *n += 1,
                _ => runs.push((i, 1)),
            }
        }
        // The gaps read stay within the cache's size, like the batch itself.
        let mut budget = (self.max_blocks as u64).saturating_sub(missing.len() as u64);
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(runs.len());
        for (first, n) in runs {
            if let Some((pf, pn)) = out.last_mut() {
                let gap = first - (*pf + *pn);
                if gap <= max_gap && gap <= (*pn).max(n) && gap <= budget {
                    budget -= gap;
                    *pn = first + n - *pf;
                    continue;
                }
            }
            out.push((first, n));
        }
        out
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
        let span = self.block_span(offset, len);
        let first = *span.start();
        // Large reads bypass the cache, unless a warming pass already fetched them.
        if len > self.block_size * 4 {
            if self.warm_passes > 0 {
                if let Ok(blocks) = self.cached(span) {
                    return Ok(self.assemble(offset, len, first, &blocks));
                }
            }
            return self.inner.read_at(offset, len);
        }
        let blocks = self.blocks(span)?;
        Ok(self.assemble(offset, len, first, &blocks))
    }

    fn requests(&self) -> u64 {
        self.inner.requests()
    }

    fn read_ranges(&self, ranges: &[(u64, u64)]) -> Result<Vec<Bytes>, ReadError> {
        self.inner.read_ranges(ranges)
    }

    fn warm(&self, pass: &mut dyn FnMut(&dyn ReadAt)) {
        for _ in 0..self.warm_passes {
            let view = Discovery {
                cache: self,
                missing: Mutex::new(BTreeSet::new()),
            };
            pass(&view);
            let missing = view
                .missing
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if missing.is_empty() {
                return;
            }
            let size = self.size();
            let runs = self.runs(&missing);
            let ranges: Vec<(u64, u64)> = runs
                .iter()
                .map(|&(first, n)| {
                    let start = first * self.block_size;
                    (start, (n * self.block_size).min(size - start))
                })
                .collect();
            match self.inner.read_ranges(&ranges) {
                Ok(got) => {
                    for (&(first, _), b) in runs.iter().zip(got) {
                        self.insert_run(first, &b);
                    }
                }
                // The real parse meets the error again and reports it.
                Err(_) => return,
            }
        }
    }
}

/// What a discovery pass reads through: cached blocks, and a record of the blocks missing.
struct Discovery<'a, R> {
    cache: &'a BlockCache<R>,
    missing: Mutex<BTreeSet<u64>>,
}

impl<R: ReadAt> ReadAt for Discovery<'_, R> {
    fn size(&self) -> u64 {
        self.cache.size()
    }

    fn read_at(&self, offset: u64, len: u64) -> Result<Bytes, ReadError> {
        check_range(offset, len, self.size())?;
        if len == 0 {
            return Ok(Bytes::new());
        }
        let span = self.cache.block_span(offset, len);
        let first = *span.start();
        match self.cache.cached(span.clone()) {
            Ok(blocks) => Ok(self.cache.assemble(offset, len, first, &blocks)),
            Err(_) => {
                self.want(offset, len);
                Err(ReadError::Deferred { offset, len })
            }
        }
    }

    fn hint(&self, ranges: &[(u64, u64)]) {
        for &(offset, len) in ranges {
            self.want(offset, len);
        }
    }
}

impl<R: ReadAt> Discovery<'_, R> {
    /// Note the missing blocks of a read of `len` bytes at `offset`, extended to the
    /// readahead and clamped to the file (hints are guesses: past the end, nothing).
    fn want(&self, offset: u64, len: u64) {
        let len = len.max(self.cache.readahead).min(self.size().saturating_sub(offset));
        if len == 0 {
            return;
        }
        let span = self.cache.block_span(offset, len);
        if let Err(missing) = self.cache.cached(span.clone()) {
            self.record(&span, missing);
        }
    }

    /// Note the `missing` blocks of a read of `span`, within the limits.
    fn record(&self, span: &std::ops::RangeInclusive<u64>, missing: Vec<u64>) {
        let wide = (span.end() - span.start()).saturating_mul(self.cache.block_size) >= MAX_DISCOVERY_READ;
        let mut m = self.missing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bounded: one batch never asks for more than the cache holds.
        if !wide && m.len() + missing.len() <= self.cache.max_blocks {
            m.extend(missing);
        }
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

    /// Counts requests and the batches asked for.
    #[derive(Debug)]
    struct Counting {
        data: Bytes,
        batches: Mutex<Vec<usize>>,
        requests: std::sync::atomic::AtomicU64,
    }

    impl ReadAt for Counting {
        fn size(&self) -> u64 {
            self.data.len() as u64
        }
        fn read_at(&self, offset: u64, len: u64) -> Result<Bytes, ReadError> {
            self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.data.read_at(offset, len)
        }
        fn read_ranges(&self, ranges: &[(u64, u64)]) -> Result<Vec<Bytes>, ReadError> {
            self.batches.lock().unwrap().push(ranges.len());
            ranges.iter().map(|&(o, l)| self.read_at(o, l)).collect()
        }
        fn requests(&self) -> u64 {
            self.requests.load(std::sync::atomic::Ordering::Relaxed)
        }
    }

    /// A "parse" that follows a chain of pointers: each 8-byte word at `p` names the next
    /// position. Warming fetches one level per batch, and the real parse then reads nothing.
    #[test]
    fn warming_fetches_a_pointer_chain_level_by_level() {
        let mut data = vec![0u8; 64 * 1024];
        let chain = [0u64, 40_000, 9_000, 60_000, 20_000];
        for w in chain.windows(2) {
            data[w[0] as usize..w[0] as usize + 8].copy_from_slice(&w[1].to_le_bytes());
        }
        let inner = Counting {
            data: Bytes::from(data),
            batches: Mutex::new(Vec::new()),
            requests: 0.into(),
        };
        let cache = BlockCache::new(inner, 1024, 1 << 20).with_warm_passes(16);
        let follow = |r: &dyn ReadAt| -> Result<Vec<u64>, ReadError> {
            let mut p = 0u64;
            let mut seen = vec![p];
            for _ in 1..chain.len() {
                let b = r.read_at(p, 8)?;
                p = u64::from_le_bytes(b[..8].try_into().unwrap());
                seen.push(p);
            }
            Ok(seen)
        };
        cache.warm(&mut |view| {
            let _ = follow(view);
        });
        assert_eq!(*cache.inner().batches.lock().unwrap(), vec![1; chain.len() - 1]);
        let before = cache.requests();
        assert_eq!(follow(&cache).unwrap(), chain.to_vec());
        assert_eq!(cache.requests(), before, "the real pass is served from the cache");
        // Without warm passes, warm does nothing.
        let cold = BlockCache::new(Bytes::from(vec![0u8; 4096]), 1024, 1 << 20);
        let mut ran = false;
        cold.warm(&mut |_| ran = true);
        assert!(!ran);
    }

    #[test]
    fn runs_join_a_gap_no_longer_than_the_reads_beside_it() {
        let cache = BlockCache::new(Bytes::from(vec![0u8; 1 << 20]), 1024, 1 << 20);
        let missing: BTreeSet<u64> = [0, 1, 3, 10, 30, 31, 32, 33, 34, 40].into_iter().collect();
        // 0-1 and 3: a 1-block gap beside a 2-block run; 10 is 6 blocks past a 4-block run;
        // 30-34 is 19 past a lone block; 40 is 5 past a 5-block run.
        assert_eq!(cache.runs(&missing), vec![(0, 4), (10, 1), (30, 11)]);
        // A gap no longer than the run beside it but over MAX_JOIN_GAP stays a gap.
        let missing: BTreeSet<u64> = (100..200).chain([270]).collect();
        assert_eq!(cache.runs(&missing), vec![(100, 100), (270, 1)]);
        assert!(cache.runs(&BTreeSet::new()).is_empty());
        // Gaps read count against the cache's size (6 blocks here): 3 missing blocks leave room
        // for both 1-block gaps; 4 leave room for two of the three.
        let small = BlockCache::new(Bytes::from(vec![0u8; 1 << 20]), 1024, 6 * 1024);
        let missing: BTreeSet<u64> = [0, 2, 4].into_iter().collect();
        assert_eq!(small.runs(&missing), vec![(0, 5)]);
        let missing: BTreeSet<u64> = [0, 2, 4, 6].into_iter().collect();
        assert_eq!(small.runs(&missing), vec![(0, 5), (6, 1)]);
    }

    /// A read a pass misses fetches the readahead with it: the next read past its end, within
    /// the readahead, needs no pass of its own.
    #[test]
    fn readahead_fetches_the_bytes_after_a_missed_read() {
        let data: Vec<u8> = (0..8192u32).map(|i| (i % 253) as u8).collect();
        let inner = Counting {
            data: Bytes::from(data.clone()),
            batches: Mutex::new(Vec::new()),
            requests: 0.into(),
        };
        let cache = BlockCache::new(inner, 1024, 1 << 20)
            .with_warm_passes(4)
            .with_readahead(2048);
        let mut passes = 0;
        cache.warm(&mut |view| {
            passes += 1;
            // A 16-byte prefix, then the 1,500 bytes it announces.
            if view.read_at(100, 16).is_ok() {
                let _ = view.read_at(116, 1_500);
            }
        });
        assert_eq!(passes, 2, "one pass fetches, the second finds everything");
        // Blocks 0..=2 (bytes 100..2148) in one request.
        assert_eq!(*cache.inner().batches.lock().unwrap(), vec![1]);
        let before = cache.requests();
        assert_eq!(cache.read_at(116, 1_500).unwrap(), Bytes::from(data).slice(116..1_616));
        assert_eq!(cache.requests(), before);
    }

    /// A read the cache cannot serve fetches its missing blocks in one request.
    #[test]
    fn a_cold_read_is_one_request() {
        let data: Vec<u8> = (0..8192u32).map(|i| (i % 241) as u8).collect();
        let direct = Bytes::from(data.clone());
        let inner = Counting {
            data: Bytes::from(data),
            batches: Mutex::new(Vec::new()),
            requests: 0.into(),
        };
        let cache = BlockCache::new(inner, 1024, 1 << 20);
        assert_eq!(cache.read_at(100, 3000).unwrap(), direct.slice(100..3100));
        assert_eq!(cache.requests(), 1, "blocks 0..=3 in one request");
        assert_eq!(cache.read_at(0, 4500).unwrap(), direct.slice(0..4500));
        assert_eq!(cache.requests(), 2, "only block 4 was missing");
        assert_eq!(cache.read_at(1000, 3000).unwrap(), direct.slice(1000..4000));
        assert_eq!(cache.requests(), 2);
        // The last block is short: the run stops at the end of the file.
        assert_eq!(cache.read_at(8000, 192).unwrap(), direct.slice(8000..8192));
        // A cache of two blocks evicts while it fetches a longer run, and still answers right.
        let small = BlockCache::new(direct.clone(), 1024, 2048);
        assert_eq!(small.read_at(10, 4000).unwrap(), direct.slice(10..4010));
    }
}
