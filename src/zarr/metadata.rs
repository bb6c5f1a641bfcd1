//! `zarr.json` documents (Zarr v3) for model nodes.

use serde_json::{json, Map, Value};

use super::codecs::codec_metadata;
use super::dtype::{data_type_metadata, fill_value_metadata};
use crate::model::{Array, Attributes, Group};

/// The `zarr.json` of an array: regular chunk grid, default chunk key encoding (`c/0/3`).
#[must_use]
pub fn array_metadata(a: &Array) -> Value {
    let mut m = Map::new();
    m.insert("zarr_format".into(), json!(3));
    m.insert("node_type".into(), json!("array"));
    m.insert("shape".into(), json!(a.shape));
    m.insert("data_type".into(), data_type_metadata(&a.data_type));
    m.insert(
        "chunk_grid".into(),
        json!({"name": "regular", "configuration": {"chunk_shape": a.chunk_shape}}),
    );
    m.insert(
        "chunk_key_encoding".into(),
        json!({"name": "default", "configuration": {"separator": "/"}}),
    );
    m.insert(
        "fill_value".into(),
        fill_value_metadata(&a.data_type, &a.fill_value, a.endian()),
    );
    m.insert(
        "codecs".into(),
        Value::Array(a.codecs.iter().map(codec_metadata).collect()),
    );
    m.insert("attributes".into(), Value::Object(a.attributes.clone()));
    if let Some(names) = &a.dimension_names {
        m.insert("dimension_names".into(), json!(names));
    }
    Value::Object(m)
}

/// The `zarr.json` of a group (without consolidated metadata).
#[must_use]
pub fn group_metadata(attributes: &Attributes) -> Value {
    json!({"zarr_format": 3, "node_type": "group", "attributes": attributes})
}

/// Every node's `zarr.json` by path (`""` = root), root first, depth-first order.
#[must_use]
pub fn all_node_metadata(root: &Group) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    root.walk(|path, node| {
        let v = match node {
            crate::model::NodeRef::Group(g) => group_metadata(&g.attributes),
            crate::model::NodeRef::Array(a) => array_metadata(a),
        };
        out.push((path.to_string(), v));
    });
    out
}

/// The root group's `zarr.json` with every other node's metadata consolidated inline, in the
/// form zarr-python 3 reads (`consolidated_metadata.kind = "inline"`).
#[must_use]
pub fn consolidated_root(root: &Group) -> Value {
    consolidate(root, &all_node_metadata(root))
}

/// [`consolidated_root`] from the nodes' metadata already built by [`all_node_metadata`]
/// (root first).
#[must_use]
pub fn consolidate(root: &Group, nodes: &[(String, Value)]) -> Value {
    let mut meta = Map::with_capacity(nodes.len());
    for (path, v) in nodes.iter().skip(1) {
        meta.insert(path.clone(), v.clone());
    }
    let mut r = group_metadata(&root.attributes);
    if let Value::Object(o) = &mut r {
        // Built by hand: `json!` would copy the whole map once more.
        let mut c = Map::with_capacity(3);
        c.insert("kind".into(), Value::from("inline"));
        c.insert("must_understand".into(), Value::from(false));
        c.insert("metadata".into(), Value::Object(meta));
        o.insert("consolidated_metadata".into(), Value::Object(c));
    }
    r
}
