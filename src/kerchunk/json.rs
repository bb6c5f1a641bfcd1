//! kerchunk JSON references (spec version 1, and the version-0 flat form on input).
//!
//! ```json
//! {"version": 1, "refs": {".zgroup": "{\"zarr_format\":2}", "x/.zarray": "{…}",
//!   "x/0.0": ["file:///data/a.h5", 4096, 1000], "y/0": "base64:AAEC…"}}
//! ```
//! Metadata documents are JSON strings, inline chunks `base64:`, ranges `[url, offset, length]`,
//! whole files `[url]`. On input, `templates` (`{{u}}`) are expanded; `gen` is refused.

use std::collections::{BTreeMap, HashSet};

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::{chunk_store_key, v2, ArrayRefs, KerchunkError, KerchunkRefs, Reference};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The references as a kerchunk version-1 JSON document.
#[must_use]
pub fn to_json(refs: &KerchunkRefs) -> Value {
    let mut m = Map::new();
    for (k, doc) in &refs.metadata {
        m.insert(k.clone(), Value::String(doc.to_string()));
    }
    for (path, a) in &refs.arrays {
        for (coords, r) in &a.chunks {
            let v = match r {
                Reference::Inline(b) => Value::String(format!("base64:{}", B64.encode(b))),
                Reference::Range { url, offset, length } => serde_json::json!([url, offset, length]),
                Reference::Whole(url) => serde_json::json!([url]),
            };
            m.insert(chunk_store_key(path, coords), v);
        }
    }
    serde_json::json!({"version": 1, "refs": m})
}

/// Serialise [`to_json`] compactly.
#[must_use]
pub fn write(refs: &KerchunkRefs) -> Vec<u8> {
    let mut v = serde_json::to_vec(&to_json(refs)).unwrap_or_default();
    v.push(b'\n');
    v
}

fn expand(url: &str, templates: &BTreeMap<String, String>) -> String {
    if !url.contains("{{") {
        return url.to_string();
    }
    let mut out = url.to_string();
    for (k, v) in templates {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

/// Parse kerchunk JSON references (`name` is used in messages).
///
/// # Errors
/// [`KerchunkError::Invalid`] naming the key for malformed documents and references.
pub fn read(name: &str, bytes: &[u8]) -> Result<KerchunkRefs, KerchunkError> {
    let invalid = |key: &str, reason: String| KerchunkError::Invalid {
        path: if key.is_empty() {
            name.to_string()
        } else {
            format!("{name}: key {key:?}")
        },
        reason,
    };
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| invalid("", format!("not JSON: {e}")))?;
    let Value::Object(top) = doc else {
        return Err(invalid("", "not a JSON object".into()));
    };
    let (refs, templates) = match top.get("version") {
        None => (top.clone(), BTreeMap::new()),
        Some(v) if v.as_u64() == Some(1) => {
            if top.get("gen").and_then(Value::as_array).is_some_and(|g| !g.is_empty()) {
                return Err(invalid(
                    "gen",
                    "generated references (\"gen\") are not supported; expand them with kerchunk first".into(),
                ));
            }
            let refs = match top.get("refs") {
                Some(Value::Object(r)) => r.clone(),
                _ => return Err(invalid("refs", "missing or not an object".into())),
            };
            let templates = top
                .get("templates")
                .and_then(Value::as_object)
                .map(|t| {
                    t.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            (refs, templates)
        }
        Some(v) => {
            return Err(invalid(
                "version",
                format!("reference spec version {v} is not supported (1 is)"),
            ))
        }
    };
    let mut out = KerchunkRefs::default();
    // Metadata first: it says which keys are chunks of which array.
    for (k, v) in &refs {
        let file = k.rsplit('/').next().unwrap_or(k);
        if !file.starts_with(".z") {
            continue;
        }
        let text = match v {
            Value::String(s) => match s.strip_prefix("base64:") {
                Some(b) => String::from_utf8(B64.decode(b).map_err(|e| invalid(k, e.to_string()))?)
                    .map_err(|e| invalid(k, e.to_string()))?,
                None => s.clone(),
            },
            Value::Object(_) => v.to_string(),
            _ => return Err(invalid(k, "metadata is not a JSON document".into())),
        };
        let doc: Value = serde_json::from_str(&text).map_err(|e| invalid(k, format!("metadata is not JSON: {e}")))?;
        if file == ".zmetadata" {
            // Consolidated metadata: individual documents take precedence.
            if let Some(Value::Object(m)) = doc.get("metadata") {
                let prefix = k.strip_suffix(".zmetadata").unwrap_or("");
                for (mk, mv) in m {
                    out.metadata
                        .entry(format!("{prefix}{mk}"))
                        .or_insert_with(|| mv.clone());
                }
            }
            continue;
        }
        out.metadata.insert(k.clone(), doc);
    }
    let mut arrays: BTreeMap<String, (usize, char)> = BTreeMap::new();
    for (k, doc) in &out.metadata {
        if let Some(path) = k.strip_suffix(".zarray") {
            let path = path.strip_suffix('/').unwrap_or(path).to_string();
            let rank = doc.get("shape").and_then(Value::as_array).map_or(0, Vec::len);
            let sep = doc
                .get("dimension_separator")
                .and_then(Value::as_str)
                .and_then(|s| s.chars().next())
                .unwrap_or('.');
            let grid = grid_of(doc);
            out.arrays.insert(
                path.clone(),
                ArrayRefs {
                    grid,
                    chunks: BTreeMap::new(),
                },
            );
            arrays.insert(path, (rank, sep));
        }
    }
    let mut seen_urls: HashSet<String> = HashSet::new();
    for (k, v) in &refs {
        let file = k.rsplit('/').next().unwrap_or(k);
        if file.starts_with(".z") {
            continue;
        }
        // The longest array path that prefixes the key.
        let Some((path, (rank, sep))) = arrays
            .iter()
            .filter(|(p, _)| p.is_empty() || k.starts_with(&format!("{p}/")))
            .max_by_key(|(p, _)| p.len())
        else {
            return Err(invalid(k, "not a metadata key and not under any array".into()));
        };
        let suffix = if path.is_empty() {
            k.as_str()
        } else {
            &k[path.len() + 1..]
        };
        let coords = v2::parse_chunk_key(suffix, *rank, *sep).map_err(|e| invalid(k, e.0))?;
        let r = match v {
            Value::String(s) => Reference::Inline(match s.strip_prefix("base64:") {
                Some(b) => Bytes::from(B64.decode(b).map_err(|e| invalid(k, format!("bad base64: {e}")))?),
                None => Bytes::from(s.clone().into_bytes()),
            }),
            Value::Array(a) => {
                let url = a
                    .first()
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(k, "reference without a URL".into()))?;
                let url = expand(url, &templates);
                seen_urls.insert(url.clone());
                match a.len() {
                    1 => Reference::Whole(url),
                    3 => {
                        let n = |i: usize| {
                            a[i].as_u64()
                                .ok_or_else(|| invalid(k, "offset and length must be non-negative integers".into()))
                        };
                        Reference::Range {
                            url,
                            offset: n(1)?,
                            length: n(2)?,
                        }
                    }
                    _ => return Err(invalid(k, "a reference is [url] or [url, offset, length]".into())),
                }
            }
            _ => return Err(invalid(k, "a reference is a string or a list".into())),
        };
        if let Some(a) = out.arrays.get_mut(path) {
            a.chunks.insert(coords, r);
        }
    }
    Ok(out)
}

/// Chunks per axis of a `.zarray`.
pub(super) fn grid_of(zarray: &Value) -> Vec<u64> {
    let list = |k: &str| -> Vec<u64> {
        zarray
            .get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default()
    };
    list("shape")
        .iter()
        .zip(list("chunks"))
        .map(|(&s, c)| if c == 0 { 0 } else { s.div_ceil(c) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_version_0_and_1_with_templates() {
        let z = r#"{"zarr_format":2,"shape":[4],"chunks":[2],"dtype":"<i2","compressor":null,"filters":null,"fill_value":0,"order":"C"}"#;
        let v1 = serde_json::json!({"version": 1, "templates": {"u": "s3://b/f.h5"}, "refs": {
            ".zgroup": "{\"zarr_format\":2}", "a/.zarray": z, "a/0": ["{{u}}", 10, 4], "a/1": "base64:AQIDBA=="}});
        let r = read("t.json", v1.to_string().as_bytes()).unwrap();
        let a = &r.arrays["a"];
        assert_eq!(a.grid, vec![2]);
        assert_eq!(
            a.chunks[&vec![0]],
            Reference::Range {
                url: "s3://b/f.h5".into(),
                offset: 10,
                length: 4
            }
        );
        assert_eq!(a.chunks[&vec![1]], Reference::Inline(Bytes::from_static(&[1, 2, 3, 4])));
        // Round trip through our writer.
        assert_eq!(read("t.json", &write(&r)).unwrap(), r);
        let v0 = serde_json::json!({".zgroup": "{\"zarr_format\":2}", "a/.zarray": z, "a/1": ["/d/f.h5"]});
        let r0 = read("t.json", v0.to_string().as_bytes()).unwrap();
        assert_eq!(r0.arrays["a"].chunks[&vec![1]], Reference::Whole("/d/f.h5".into()));
    }

    #[test]
    fn malformed_references_name_the_key() {
        let z = r#"{"zarr_format":2,"shape":[4],"chunks":[2],"dtype":"<i2","compressor":null,"filters":null,"fill_value":0,"order":"C"}"#;
        for (refs, needle) in [
            (serde_json::json!({"a/.zarray": z, "a/0": ["u", -1, 4]}), "a/0"),
            (serde_json::json!({"a/.zarray": z, "a/x": ["u", 1, 4]}), "a/x"),
            (serde_json::json!({"a/.zarray": z, "b/0": ["u", 1, 4]}), "b/0"),
            (serde_json::json!({"a/.zarray": "{not json"}), "a/.zarray"),
            (serde_json::json!({"a/.zarray": z, "a/0": 5}), "a/0"),
        ] {
            let doc = serde_json::json!({"version": 1, "refs": refs});
            let e = read("t.json", doc.to_string().as_bytes()).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
        assert!(read("t.json", b"[1,2]").is_err());
        assert!(read("t.json", b"{\"version\": 2, \"refs\": {}}")
            .unwrap_err()
            .to_string()
            .contains("version"));
        assert!(read("t.json", b"{\"version\": 1, \"refs\": {}, \"gen\": [{}]}")
            .unwrap_err()
            .to_string()
            .contains("gen"));
    }
}
