//! Zarr v3 store keys, parsed into typed values: `a/b/zarr.json` or `a/b/c/0/3`.
//!
//! [`Key::parse`] and its `Display` are inverses (property-tested).

use std::fmt;

/// A key that is not a valid Zarr v3 metadata or chunk key of a store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid store key {key:?}: {reason}")]
pub struct KeyError {
    /// The key.
    pub key: String,
    /// Why it is invalid.
    pub reason: &'static str,
}

/// The [`KeyError::reason`] of a well-formed key that names no node's metadata and no chunk
/// of a known array.
pub const UNKNOWN_KEY: &str = "neither a metadata key nor a chunk key of a known array";

/// A chunk of an array: the array's path and its chunk grid coordinates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkKey {
    /// Array path without leading slash (`""` for a root array).
    pub array: String,
    /// Chunk grid coordinates (empty for a rank-0 array: key `c`).
    pub coords: Vec<u64>,
}

/// A store key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// `<path>/zarr.json` (path `""` = root).
    Metadata(String),
    /// `<path>/c/i/j/…` (default chunk key encoding, `/` separator).
    Chunk(ChunkKey),
}

fn check_segment(key: &str, seg: &str) -> Result<(), KeyError> {
    let err = |reason| {
        Err(KeyError {
            key: key.to_string(),
            reason,
        })
    };
    if seg.is_empty() {
        return err("empty path segment");
    }
    if seg == "." || seg == ".." {
        return err("relative path segment");
    }
    if seg.contains('\\') || seg.contains('\0') {
        return err("forbidden character");
    }
    Ok(())
}

/// Format chunk coordinates as the default-encoding key suffix: `c/1/2` (`c` for rank 0).
#[must_use]
pub fn chunk_suffix(coords: &[u64]) -> String {
    let mut s = String::new();
    push_chunk_suffix(&mut s, coords);
    s
}

/// Append [`chunk_suffix`] of `coords` to `out` (no allocation of its own).
pub fn push_chunk_suffix(out: &mut String, coords: &[u64]) {
    use std::fmt::Write as _;
    out.push('c');
    for c in coords {
        let _ = write!(out, "/{c}");
    }
}

impl Key {
    /// Parse a store key. `array_paths` decides ambiguity: a path whose prefix before `/c/`
    /// is a known array is a chunk key.
    ///
    /// # Errors
    /// [`KeyError`] for absolute paths, `..`, empty segments, or keys that are neither
    /// metadata nor chunk keys.
    pub fn parse(key: &str, is_array: impl Fn(&str) -> bool) -> Result<Key, KeyError> {
        let err = |reason| {
            Err(KeyError {
                key: key.to_string(),
                reason,
            })
        };
        if key.starts_with('/') {
            return err("absolute path");
        }
        let segs: Vec<&str> = key.split('/').collect();
        for s in &segs {
            check_segment(key, s)?;
        }
        if segs.last() == Some(&"zarr.json") {
            return Ok(Key::Metadata(segs[..segs.len() - 1].join("/")));
        }
        // Find the last "c" segment whose prefix is an array and whose tail is all integers.
        for i in (0..segs.len()).rev() {
            if segs[i] != "c" {
                continue;
            }
            let array = segs[..i].join("/");
            if !is_array(&array) {
                continue;
            }
            let mut coords = Vec::with_capacity(segs.len() - i - 1);
            for s in &segs[i + 1..] {
                if s.len() > 1 && s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return err("chunk coordinate is not a canonical non-negative integer");
                }
                match s.parse::<u64>() {
                    Ok(v) => coords.push(v),
                    Err(_) => return err("chunk coordinate out of range"),
                }
            }
            return Ok(Key::Chunk(ChunkKey { array, coords }));
        }
        err(UNKNOWN_KEY)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Metadata(p) if p.is_empty() => f.write_str("zarr.json"),
            Key::Metadata(p) => write!(f, "{p}/zarr.json"),
            Key::Chunk(ChunkKey { array, coords }) if array.is_empty() => f.write_str(&chunk_suffix(coords)),
            Key::Chunk(ChunkKey { array, coords }) => write!(f, "{array}/{}", chunk_suffix(coords)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_metadata_and_chunk_keys() {
        let arr = |p: &str| p == "g/x" || p.is_empty();
        assert_eq!(Key::parse("zarr.json", arr).unwrap(), Key::Metadata(String::new()));
        assert_eq!(Key::parse("g/zarr.json", arr).unwrap(), Key::Metadata("g".into()));
        assert_eq!(
            Key::parse("g/x/c/0/12", arr).unwrap(),
            Key::Chunk(ChunkKey {
                array: "g/x".into(),
                coords: vec![0, 12]
            })
        );
        assert_eq!(
            Key::parse("c", arr).unwrap(),
            Key::Chunk(ChunkKey {
                array: String::new(),
                coords: vec![]
            })
        );
        for bad in [
            "/etc/passwd",
            "g/../x/c/0",
            "g//x",
            "g/x/c/01",
            "g/x/c/-1",
            "g/y/c/0",
            "g/x/c/1a",
            "g/x/c/99999999999999999999999",
        ] {
            assert!(Key::parse(bad, arr).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parse_and_display_are_inverses(
            path in proptest::collection::vec("[a-z_][a-z0-9_]{0,6}", 0..4),
            coords in proptest::collection::vec(0u64..u64::MAX, 0..5),
        ) {
            let array = path.join("/");
            let key = Key::Chunk(ChunkKey { array: array.clone(), coords });
            let s = key.to_string();
            prop_assert_eq!(Key::parse(&s, |p| p == array).unwrap(), key);
            let meta = Key::Metadata(array.clone());
            prop_assert_eq!(Key::parse(&meta.to_string(), |p| p == array).unwrap(), meta);
        }
    }
}
