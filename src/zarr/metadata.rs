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

/// Every node's `zarr.json` as written to a store (`""` = the root, with every other node's
/// metadata consolidated inline), root first: each document is serde_json's pretty form of
/// [`array_metadata`], [`group_metadata`] or [`consolidated_root`], followed by a newline.
///
/// Each node is serialized once: the root document splices the other documents' text in,
/// indented to their depth, which is what the pretty printer would write for them there.
#[must_use]
pub fn pretty_documents(root: &Group) -> Vec<(String, Vec<u8>)> {
    let nodes = all_node_metadata(root);
    let mut docs: Vec<(String, Vec<u8>)> = Vec::with_capacity(nodes.len());
    let mut total = 0;
    for (path, v) in nodes.iter().skip(1) {
        let text = pretty(v);
        total += text.len() + path.len() + 16;
        docs.push((path.clone(), text));
    }
    let mut r = group_metadata(&root.attributes);
    if let Value::Object(o) = &mut r {
        let mut c = Map::with_capacity(3);
        c.insert("kind".into(), Value::from("inline"));
        c.insert("must_understand".into(), Value::from(false));
        c.insert("metadata".into(), Value::Object(Map::new()));
        o.insert("consolidated_metadata".into(), Value::Object(c));
    }
    let mut text = pretty(&r);
    // `metadata` is the last member of `consolidated_metadata`, the last member of the root.
    const EMPTY_TAIL: &[u8] = b"{}\n  }\n}\n";
    debug_assert!(
        text.ends_with(EMPTY_TAIL),
        "the root document ends with its empty metadata"
    );
    if !docs.is_empty() && text.ends_with(EMPTY_TAIL) {
        text.truncate(text.len() - EMPTY_TAIL.len());
        text.reserve(total + 16);
        text.extend_from_slice(b"{\n");
        for (i, (path, doc)) in docs.iter().enumerate() {
            if i > 0 {
                text.extend_from_slice(b",\n");
            }
            text.extend_from_slice(b"      ");
            text.extend_from_slice(Value::from(path.as_str()).to_string().as_bytes());
            text.extend_from_slice(b": ");
            // The document without its final newline, six spaces deeper.
            for (j, line) in doc[..doc.len() - 1].split(|&b| b == b'\n').enumerate() {
                if j > 0 {
                    text.extend_from_slice(b"\n      ");
                }
                text.extend_from_slice(line);
            }
        }
        text.extend_from_slice(b"\n    }\n  }\n}\n");
    } else if !docs.is_empty() {
        text = pretty(&consolidate(root, &nodes));
    }
    docs.insert(0, (String::new(), text));
    docs
}

/// serde_json's pretty form of `v` and a newline (every JSON file of a store).
pub(crate) fn pretty(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    // Writing a `Value` into a `Vec` cannot fail.
    let _ = serde_json::to_writer_pretty(&mut out, v);
    out.push(b'\n');
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Codec, DataType, FillValue, Node};

    fn array(attrs: Value, dims: Option<Vec<Option<String>>>) -> Node {
        let Value::Object(attributes) = attrs else {
            unreachable!()
        };
        Node::Array(Array {
            shape: vec![4, 3],
            chunk_shape: vec![2, 3],
            data_type: DataType::Float(64),
            fill_value: FillValue::Default,
            codecs: vec![Codec::Bytes(None)],
            attributes,
            dimension_names: dims,
            chunks: Default::default(),
        })
    }

    /// The serialized form the splice must reproduce: each node's Value pretty-printed.
    fn by_value(root: &Group) -> Vec<(String, Vec<u8>)> {
        let nodes = all_node_metadata(root);
        nodes
            .iter()
            .map(|(path, v)| {
                let v = if path.is_empty() {
                    consolidate(root, &nodes)
                } else {
                    v.clone()
                };
                let mut text = serde_json::to_vec_pretty(&v).unwrap();
                text.push(b'\n');
                (path.clone(), text)
            })
            .collect()
    }

    #[test]
    fn spliced_documents_equal_serde_pretty_output() {
        let mut root = Group::default();
        root.attributes
            .insert("title".into(), json!("multi\nline \"quoted\" text"));
        let mut g = Group::default();
        g.attributes.insert("empty".into(), json!({}));
        g.attributes.insert("list".into(), json!([1, [2, 3], [], {"k": "v"}]));
        g.children.insert(
            "a \"q\"\\ é".into(),
            array(
                json!({"units": "m", "nested": {"x": [1.5, null]}}),
                Some(vec![Some("t".into()), None]),
            ),
        );
        g.children.insert("sub".into(), Node::Group(Group::default()));
        root.children.insert("g".into(), Node::Group(g));
        root.children.insert("z".into(), array(json!({}), None));
        let docs = pretty_documents(&root);
        let want = by_value(&root);
        assert_eq!(docs.len(), want.len());
        for ((p, d), (wp, w)) in docs.iter().zip(&want) {
            assert_eq!(p, wp);
            assert_eq!(String::from_utf8_lossy(d), String::from_utf8_lossy(w), "{p}");
        }
        // A lone root group has nothing to splice.
        assert_eq!(pretty_documents(&Group::default()), by_value(&Group::default()));
    }
}
