//! Ranged reads of sources: coalescing, preconditions, length checks.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::{GetOptions, ObjectStore as _};
use zarrs_storage::byte_range::ByteRange;

use super::{ReadError, ResolvedSource};

/// Ranges closer than this are merged into one request.
pub const COALESCE_GAP: u64 = 1024 * 1024;

/// Request counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl Stats {
    pub(crate) fn get(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// Map a byte range requested within a value of `len` bytes that starts at `offset` in its
/// source to the absolute source range. `None` if the range does not lie within the value.
#[must_use]
pub fn map_range(range: ByteRange, offset: u64, len: u64) -> Option<Range<u64>> {
    let (start, end) = match range {
        ByteRange::FromStart(s, None) => (s, len),
        ByteRange::FromStart(s, Some(l)) => (s, s.checked_add(l)?),
        ByteRange::Suffix(l) => (len.checked_sub(l)?, len),
    };
    if start > end || end > len {
        return None;
    }
    Some(offset.checked_add(start)?..offset.checked_add(end)?)
}

/// Fetch `ranges` of one source: nearby ranges are merged (object_store's
/// `coalesce_ranges`), every request carries the recorded ETag (or last-modified time) as a
/// precondition, and every returned buffer is checked to have the requested length.
pub(crate) async fn fetch_ranges(
    src: &ResolvedSource,
    ranges: &[Range<u64>],
    stats: &Stats,
) -> Result<Vec<Bytes>, ReadError> {
    object_store::coalesce_ranges(ranges, |r| fetch_one(src, r, stats), COALESCE_GAP).await
}

async fn fetch_one(src: &ResolvedSource, r: Range<u64>, stats: &Stats) -> Result<Bytes, ReadError> {
    let expected = r.end - r.start;
    let mut opts = GetOptions {
        range: Some(r.clone().into()),
        ..Default::default()
    };
    // Relative sources move with the store (copies get new ETags and times): they are checked
    // by size only. Absolute sources must be exactly the object seen at creation.
    if !src.relative {
        if let Some(etag) = &src.entry.etag {
            opts.if_match = Some(etag.clone());
        } else if let Some(t) = src
            .entry
            .last_modified
            .as_deref()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        {
            opts.if_unmodified_since = Some(t);
        }
    }
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let res = src.store.get_opts(&src.path, opts).await.map_err(|e| map_err(src, e))?;
    if let Some(size) = src.entry.size {
        if res.meta.size != size {
            return Err(ReadError::SourceModified {
                url: src.url.clone(),
                detail: format!("size is {} bytes, was {size}", res.meta.size),
            });
        }
    }
    let bytes = res.bytes().await.map_err(|e| map_err(src, e))?;
    stats.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    if bytes.len() as u64 != expected {
        return Err(ReadError::ShortRead {
            url: src.url.clone(),
            offset: r.start,
            expected,
            got: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

fn map_err(src: &ResolvedSource, e: object_store::Error) -> ReadError {
    match e {
        object_store::Error::Precondition { .. } | object_store::Error::NotModified { .. } => {
            ReadError::SourceModified {
                url: src.url.clone(),
                detail: "its ETag or modification time differs from the one recorded".into(),
            }
        }
        e => ReadError::Source {
            url: src.url.clone(),
            source: e,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn maps_ranges_inside_the_chunk() {
        assert_eq!(map_range(ByteRange::FromStart(0, None), 100, 10), Some(100..110));
        assert_eq!(map_range(ByteRange::FromStart(2, Some(3)), 100, 10), Some(102..105));
        assert_eq!(map_range(ByteRange::Suffix(4), 100, 10), Some(106..110));
        assert_eq!(map_range(ByteRange::Suffix(11), 100, 10), None);
        assert_eq!(map_range(ByteRange::FromStart(8, Some(3)), 100, 10), None);
        assert_eq!(map_range(ByteRange::FromStart(11, None), 100, 10), None);
        assert_eq!(map_range(ByteRange::FromStart(u64::MAX, Some(2)), 0, 10), None);
    }

    proptest! {
        #[test]
        fn mapped_range_stays_within_the_chunk(off in 0u64..u64::MAX / 2, len in 0u64..1 << 40,
                                                s in 0u64..1 << 41, l in proptest::option::of(0u64..1 << 41),
                                                suffix in proptest::bool::ANY) {
            let br = if suffix { ByteRange::Suffix(s) } else { ByteRange::FromStart(s, l) };
            if let Some(r) = map_range(br, off, len) {
                prop_assert!(r.start >= off && r.end <= off + len && r.start <= r.end);
            }
        }
    }
}
