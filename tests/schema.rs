//! The writer and reader follow `schemas/`: the manifest columns of `schemas/manifest.v1.json`
//! and the required fields of `schemas/vzarr.v1.schema.json`.

use std::path::Path;

use serde_json::Value;
use vzarr::store::manifest::{schema, Manifest};

fn load(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas").join(name);
    serde_json::from_slice(&std::fs::read(&p).expect("schema file")).expect("schema JSON")
}

fn arrow_type_name(t: &arrow_schema::DataType) -> String {
    use arrow_schema::DataType as T;
    match t {
        T::Dictionary(k, v) => format!("dictionary<{}, {}>", arrow_type_name(k), arrow_type_name(v)),
        T::Int32 => "int32".into(),
        T::Utf8 => "utf8".into(),
        T::UInt64 => "uint64".into(),
        T::Binary => "binary".into(),
        other => format!("{other:?}"),
    }
}

#[test]
fn manifest_columns_match_the_published_schema() {
    let doc = load("manifest.v1.json");
    let cols = doc["columns"].as_array().expect("columns");
    let s = schema();
    assert_eq!(cols.len(), s.fields().len());
    for (c, f) in cols.iter().zip(s.fields()) {
        assert_eq!(c["name"], f.name().as_str());
        assert_eq!(c["type"], arrow_type_name(f.data_type()).as_str(), "{}", f.name());
        assert_eq!(c["nullable"], f.is_nullable(), "{}", f.name());
    }
    assert_eq!(
        doc["version"]
            .as_str()
            .map(|v| v.starts_with(&vzarr::store::FORMAT_MAJOR.to_string())),
        Some(true)
    );
}

#[test]
fn written_store_info_has_the_schema_fields() {
    let schema = load("vzarr.v1.schema.json");
    let ds = crate::common::u16_dataset("file:///tmp/x.bin", &[1, 2, 3, 4, 5, 6], 2);
    let opts = vzarr::store::WriteOptions {
        inputs: vec!["x.bin".into()],
        refused: vec![vzarr::model::RefusalRecord {
            source: "x.bin".into(),
            path: "/a".into(),
            feature: "szip filter".into(),
            reason: "filter szip (id 4) is not supported".into(),
        }],
        materialized: vec![vzarr::model::RefusalRecord {
            source: "x.bin".into(),
            path: "/b".into(),
            feature: "scale-offset filter".into(),
            reason: "filter scale-offset (id 6) has no Zarr codec".into(),
        }],
        data_files: Vec::new(),
    };
    let files = vzarr::store::store_files(&ds, &opts).expect("files");
    let (last, info) = files.last().expect("files");
    assert_eq!(last, "vzarr.json", "vzarr.json is written last (commit marker)");
    let info: Value = serde_json::from_slice(info).expect("json");
    for req in schema["required"].as_array().expect("required") {
        assert!(info.get(req.as_str().unwrap_or_default()).is_some(), "missing {req}");
    }
    let props = schema["properties"].as_object().expect("properties");
    for k in info.as_object().expect("object").keys() {
        assert!(props.contains_key(k), "field {k} not in the schema");
    }
    let src_props = schema
        .pointer("/properties/sources/items/properties")
        .and_then(Value::as_object)
        .expect("src");
    for s in info["sources"].as_array().expect("sources") {
        for k in s.as_object().expect("source").keys() {
            assert!(src_props.contains_key(k), "source field {k} not in the schema");
        }
    }
    let pattern = schema
        .pointer("/properties/vzarr_format/pattern")
        .and_then(Value::as_str)
        .expect("pattern");
    assert_eq!(pattern, "^1\\.[0-9]+$");
    assert!(info["vzarr_format"].as_str().is_some_and(|v| v.starts_with("1.")));
    // The manifest file written alongside reads back with the v1 schema.
    let (_, m) = files.iter().find(|(n, _)| n == "manifest.parquet").expect("manifest");
    Manifest::open("manifest.parquet", m.clone()).expect("manifest reads");
}

#[test]
fn newer_major_versions_are_refused_by_name() {
    let e = vzarr::store::StoreInfo::parse(
        "x/vzarr.json",
        br#"{"vzarr_format": "2.0", "manifests": [], "sources": [], "created_by": "future"}"#,
    )
    .expect_err("must refuse");
    assert!(e.to_string().contains("store format version 2.0 is newer"), "{e}");
    assert!(vzarr::store::StoreInfo::parse("x", b"{not json").is_err());
    assert!(vzarr::store::StoreInfo::parse("x", br#"{"manifests": []}"#).is_err());
    let ok = vzarr::store::StoreInfo::parse(
        "x",
        br#"{"vzarr_format": "1.7", "manifests": ["m.parquet"], "sources": [], "created_by": "later minor"}"#,
    );
    assert!(ok.is_ok(), "minor versions are accepted");
}
