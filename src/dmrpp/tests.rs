//! Unit tests of the DMR++ reader on small documents written for them (the spec note's
//! snippets and hostile variants). The corpus comparison with the HDF5 reader is in
//! `tests/dmrpp_corpus.rs`.

use base64::Engine;

use super::*;
use crate::model::{ChunkRef, Codec, DataType, Endian, FillValue, Node, SourceId};

const HEAD: &str = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<Dataset xmlns="http://xml.opendap.org/ns/DAP/4.0#" xmlns:dmrpp="http://xml.opendap.org/dap/dmrpp/1.0.0#"
         dapVersion="4.0" dmrVersion="1.0" name="g.h5" dmrpp:href="OPeNDAP_DMRpp_DATA_ACCESS_URL" dmrpp:version="3.21.1">"#;

fn opts() -> DmrppOptions {
    DmrppOptions {
        dmrpp_url: Some(Url::parse("file:///data/g.h5.dmrpp").unwrap()),
        data_url: Some(Url::parse("file:///data/g.h5").unwrap()),
    }
}

fn doc(body: &str) -> String {
    format!("{HEAD}\n{body}\n</Dataset>\n")
}

fn read_ok(body: &str) -> DmrppOutput {
    read(doc(body).as_bytes(), &opts()).unwrap()
}

fn array<'a>(out: &'a DmrppOutput, path: &str) -> &'a crate::model::Array {
    let mut g = &out.root;
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for (i, p) in parts.iter().enumerate() {
        match g.children.get(*p) {
            Some(Node::Group(c)) if i + 1 < parts.len() => g = c,
            Some(Node::Array(a)) if i + 1 == parts.len() => return a,
            _ => panic!(
                "{path} not found in {:?} (refused: {:?})",
                g.children.keys(),
                out.refusals
            ),
        }
    }
    panic!("{path} not found")
}

#[test]
fn spec_snippet_chunked_shuffled_deflated_with_sidecar() {
    let out = read_ok(
        r#"<Dimension name="y" size="6"/>
  <Dimension name="x" size="10"/>
  <Int16 name="sst">
    <Dim name="/y"/><Dim name="/x"/>
    <Attribute name="scale_factor" type="Float32"><Value>0.01</Value></Attribute>
    <Attribute name="valid_range" type="Int16"><Value>-500</Value><Value>4000</Value></Attribute>
    <dmrpp:chunks compressionType="shuffle deflate" deflateLevel="5" fillValue="-32768" byteOrder="LE">
      <dmrpp:chunkDimensionSizes>3 5</dmrpp:chunkDimensionSizes>
      <dmrpp:chunk offset="8000" nBytes="19" chunkPositionInArray="[0,0]"/>
      <dmrpp:chunk offset="8019" nBytes="21" chunkPositionInArray="[0,5]"/>
      <dmrpp:chunk offset="120" nBytes="30" chunkPositionInArray="[3,5]" href="OPeNDAP_DMRpp_SC_DATA_ACCESS_URL"/>
    </dmrpp:chunks>
  </Int16>"#,
    );
    assert!(out.refusals.is_empty(), "{:?}", out.refusals);
    let a = array(&out, "sst");
    assert_eq!(a.shape, vec![6, 10]);
    assert_eq!(a.chunk_shape, vec![3, 5]);
    assert_eq!(a.data_type, DataType::Int(16));
    assert_eq!(
        a.codecs,
        vec![
            Codec::Bytes(Some(Endian::Little)),
            Codec::Shuffle { element_size: 2 },
            Codec::Zlib { level: 5 }
        ]
    );
    assert_eq!(a.fill_value, FillValue::Bytes((-32768i16).to_le_bytes().to_vec()));
    assert_eq!(
        a.dimension_names,
        Some(vec![Some("y".to_string()), Some("x".to_string())])
    );
    assert_eq!(a.attributes["valid_range"], serde_json::json!([-500, 4000]));
    assert_eq!(a.chunks.len(), 3);
    assert!(!a.chunks.contains_key(&vec![1, 0]));
    assert_eq!(
        a.chunks[&vec![1, 1]],
        ChunkRef::Virtual {
            source: SourceId(1),
            offset: 120,
            length: 30
        }
    );
    assert_eq!(out.sources[0].as_str(), "file:///data/g.h5");
    assert_eq!(out.sources[1].as_str(), "file:///data/g.h5_mvs.h5");
}

#[test]
fn contiguous_big_endian_group_relative_dim_and_unwritten_scalar() {
    let out = read_ok(
        r#"<Group name="geo">
  <Dimension name="n" size="4"/>
  <Float64 name="lat">
    <Dim name="n"/>
    <dmrpp:chunks byteOrder="BE"><dmrpp:chunk offset="2048" nBytes="32"/></dmrpp:chunks>
  </Float64>
  <Int32 name="crs"><dmrpp:chunks fillValue="0"/></Int32>
</Group>"#,
    );
    let lat = array(&out, "geo/lat");
    assert_eq!(lat.chunk_shape, vec![4]);
    assert_eq!(lat.codecs, vec![Codec::Bytes(Some(Endian::Big))]);
    assert_eq!(lat.dimension_names, Some(vec![Some("n".to_string())]));
    assert_eq!(lat.chunks.len(), 1);
    let crs = array(&out, "geo/crs");
    assert!(crs.shape.is_empty() && crs.chunk_shape.is_empty() && crs.chunks.is_empty());
    assert_eq!(crs.fill_value, FillValue::Bytes(vec![0; 4]));
}

#[test]
fn inline_vlsa_compact_and_missingdata() {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&[1u8, 0, 2, 0, 3, 0]).unwrap();
    let md = base64::engine::general_purpose::STANDARD.encode(z.finish().unwrap());
    let out = read_ok(&format!(
        r#"<String name="bands">
  <Dim size="5"/>
  <dmrpp:vlsa><v c="3">HH</v><v>HV</v><v>VV</v></dmrpp:vlsa>
</String>
<UInt8 name="flag"><dmrpp:compact>AQ==</dmrpp:compact></UInt8>
<UInt16 name="md"><Dim size="3"/><dmrpp:missingdata>{md}</dmrpp:missingdata></UInt16>
<String name="b64"><Dim size="4"/><dmrpp:vlsa>UGFydGluZw==;aXMgc3U=;c3dl;;</dmrpp:vlsa></String>"#
    ));
    assert!(out.refusals.is_empty(), "{:?}", out.refusals);
    let bands = array(&out, "bands");
    assert_eq!(bands.data_type, DataType::VlenUtf8);
    let expect = crate::zarr::codecs::vlen_utf8_chunk(&[b"HH", b"HH", b"HH", b"HV", b"VV"]).unwrap();
    assert_eq!(bands.chunks[&vec![0]], ChunkRef::Inline(expect.into()));
    assert_eq!(bands.dimension_names, Some(vec![Some("phony_dim_5".to_string())]));
    assert_eq!(array(&out, "flag").chunks[&vec![]], ChunkRef::Inline(vec![1u8].into()));
    assert_eq!(
        array(&out, "md").chunks[&vec![0]],
        ChunkRef::Inline(vec![1u8, 0, 2, 0, 3, 0].into())
    );
    let expect = crate::zarr::codecs::vlen_utf8_chunk(&[b"Parting", b"is su", b"swe", b""]).unwrap();
    assert_eq!(array(&out, "b64").chunks[&vec![0]], ChunkRef::Inline(expect.into()));
    assert!(out.sources.is_empty(), "inline data needs no data file");
}

#[test]
fn containers_nested_hdf5_global_hoisted_enum_labels() {
    let out = read_ok(
        r#"<Enumeration name="flags" basetype="UInt8"><EnumConst name="off" value="0"/><EnumConst name="on" value="1"/></Enumeration>
<Enum name="state" enum="/flags"><Dim size="2"/><dmrpp:chunks><dmrpp:chunk offset="10" nBytes="2"/></dmrpp:chunks></Enum>
<Attribute name="HDF5_GLOBAL" type="Container">
  <Attribute name="title" type="String"><Value>t &amp; u&#10;</Value></Attribute>
</Attribute>
<Attribute name="meta" type="Container">
  <Attribute name="n" type="Int32"><Value>3</Value></Attribute>
  <Attribute name="missing" type="Float32"><Value>NaN</Value></Attribute>
</Attribute>
<Attribute name="DIMENSION_LIST" type="null"><Value>UNKNOWN</Value></Attribute>"#,
    );
    assert_eq!(out.root.attributes["title"], serde_json::json!("t & u\n"));
    assert_eq!(
        out.root.attributes["meta"],
        serde_json::json!({"n": 3, "missing": "NaN"})
    );
    assert!(!out.root.attributes.contains_key("DIMENSION_LIST"));
    let s = array(&out, "state");
    assert_eq!(s.data_type, DataType::UInt(8));
    assert_eq!(s.attributes["_hdf5_enum"], serde_json::json!({"off": 0, "on": 1}));
}

#[test]
fn old_style_filter_order_is_canonical() {
    let xml = r#"<?xml version="1.0"?>
<Dataset xmlns="http://xml.opendap.org/ns/DAP/4.0#" xmlns:dmrpp="http://xml.opendap.org/dap/dmrpp/1.0.0#" name="o.h5">
  <Int32 name="v"><Dim size="4"/>
    <dmrpp:chunks compressionType="deflate shuffle">
      <dmrpp:chunkDimensionSizes>4</dmrpp:chunkDimensionSizes>
      <dmrpp:chunk offset="1" nBytes="9" chunkPositionInArray="[0]"/>
    </dmrpp:chunks></Int32>
</Dataset>"#;
    let opts = DmrppOptions {
        dmrpp_url: Some(Url::parse("https://h/x/o.h5.dmrpp").unwrap()),
        data_url: None,
    };
    let out = read(xml.as_bytes(), &opts).unwrap();
    assert_eq!(out.version, None);
    assert_eq!(out.sources[0].as_str(), "https://h/x/o.h5");
    let a = array(&out, "v");
    assert_eq!(
        a.codecs,
        vec![
            Codec::Bytes(Some(Endian::Little)),
            Codec::Shuffle { element_size: 4 },
            Codec::Zlib { level: 6 }
        ]
    );
}

#[test]
fn href_forms() {
    let body =
        r#"<Byte name="b"><Dim size="2"/><dmrpp:chunks><dmrpp:chunk offset="0" nBytes="2"/></dmrpp:chunks></Byte>"#;
    // The template needs --data-url.
    let no_data = DmrppOptions {
        dmrpp_url: Some(Url::parse("file:///d/g.h5.dmrpp").unwrap()),
        data_url: None,
    };
    let e = read(doc(body).as_bytes(), &no_data).unwrap_err();
    assert!(e.reason.contains("--data-url"), "{e}");
    // A relative href resolves against the DMR++.
    let rel = doc(body).replace("OPeNDAP_DMRpp_DATA_ACCESS_URL", "sub/g.h5");
    let out = read(rel.as_bytes(), &no_data).unwrap();
    assert_eq!(out.sources[0].as_str(), "file:///d/sub/g.h5");
    // A per-chunk href does not leak into the next chunk.
    let two = r#"<Byte name="b"><Dim size="4"/><dmrpp:chunks><dmrpp:chunkDimensionSizes>2</dmrpp:chunkDimensionSizes>
<dmrpp:chunk offset="0" nBytes="2" chunkPositionInArray="[0]" href="s3://bucket/other.h5"/>
<dmrpp:chunk offset="5" nBytes="2" chunkPositionInArray="[2]"/></dmrpp:chunks></Byte>"#;
    let out = read_ok(two);
    let a = array(&out, "b");
    assert!(matches!(
        a.chunks[&vec![0]],
        ChunkRef::Virtual {
            source: SourceId(0),
            ..
        }
    ));
    assert!(matches!(
        a.chunks[&vec![1]],
        ChunkRef::Virtual {
            source: SourceId(1),
            ..
        }
    ));
    assert_eq!(out.sources[0].as_str(), "s3://bucket/other.h5");
    assert_eq!(out.sources[1].as_str(), "file:///data/g.h5");
}

#[test]
fn variables_that_cannot_be_expressed_are_refused_by_name() {
    let out = read_ok(
        r#"<Int16 name="masked"><Dim size="4"/><dmrpp:chunks compressionType="deflate">
  <dmrpp:chunkDimensionSizes>2</dmrpp:chunkDimensionSizes>
  <dmrpp:chunk offset="0" nBytes="3" chunkPositionInArray="[0]" fm="1"/></dmrpp:chunks></Int16>
<Int16 name="int8_as_int16"><Dim size="4"/><dmrpp:chunks><dmrpp:chunk offset="0" nBytes="4"/></dmrpp:chunks></Int16>
<Int16 name="offgrid"><Dim size="4"/><dmrpp:chunks><dmrpp:chunkDimensionSizes>2</dmrpp:chunkDimensionSizes>
  <dmrpp:chunk offset="0" nBytes="4" chunkPositionInArray="[1]"/></dmrpp:chunks></Int16>
<Int16 name="szip"><Dim size="2"/><dmrpp:chunks compressionType="szip"><dmrpp:chunk offset="0" nBytes="4"/></dmrpp:chunks></Int16>
<Int16 name="neg"><Dim size="2"/><dmrpp:chunks><dmrpp:chunk offset="-5" nBytes="4"/></dmrpp:chunks></Int16>
<Int16 name="big"><Dim size="2"/><dmrpp:chunks><dmrpp:chunk offset="18446744073709551615" nBytes="4"/></dmrpp:chunks></Int16>
<Int16 name="huge"><Dim size="2"/><dmrpp:chunks><dmrpp:chunk offset="99999999999999999999999" nBytes="4"/></dmrpp:chunks></Int16>
<Int16 name="nooff"><Dim size="2"/><dmrpp:chunks><dmrpp:chunk nBytes="4"/></dmrpp:chunks></Int16>
<Int16 name="order"><Dim size="2"/><dmrpp:chunks byteOrder="PDP"><dmrpp:chunk offset="0" nBytes="4"/></dmrpp:chunks></Int16>
<Int32 name="unsup"><Dim size="2"/><dmrpp:chunks fillValue="unsupported-array"/></Int32>
<Opaque name="blob"/>
<Int16 name="undeclared"><Dim name="/nowhere"/></Int16>
<String name="space"><Dim size="2"/><dmrpp:chunks><dmrpp:chunk offset="0" nBytes="14"/></dmrpp:chunks>
  <dmrpp:FixedLengthStringArray string_length="7" pad="space_pad"/></String>
<Int16 name="ok"><Dim size="2"/><dmrpp:chunks><dmrpp:chunk offset="0" nBytes="4"/></dmrpp:chunks></Int16>"#,
    );
    let refused: std::collections::BTreeMap<&str, &str> = out
        .refusals
        .iter()
        .map(|r| (r.path.trim_start_matches('/'), r.reason.as_str()))
        .collect();
    for name in [
        "masked",
        "int8_as_int16",
        "offgrid",
        "szip",
        "neg",
        "big",
        "huge",
        "nooff",
        "order",
        "unsup",
        "blob",
        "undeclared",
        "space",
    ] {
        let r = refused
            .get(name)
            .unwrap_or_else(|| panic!("{name} not refused: {refused:?}"));
        assert!(r.starts_with("line "), "{name}: {r}");
    }
    assert!(refused["neg"].contains("negative"), "{}", refused["neg"]);
    assert!(refused["big"].contains("overflows"), "{}", refused["big"]);
    assert!(refused["masked"].contains("fm=1"));
    array(&out, "ok");
}

#[test]
fn malformed_documents_fail_with_line_and_element() {
    let cases: &[(&str, &str)] = &[
        ("<Dataset name=\"x\"><Int8 name=\"a\"></Dataset>", "line 1"),
        ("<?xml version=\"1.0\"?>\n<Foo/>", "root element is <Foo>"),
        (
            "<Dataset xmlns=\"urn:other\" name=\"x\"/>",
            "namespace \"urn:other\" is not DAP4",
        ),
        ("<Dataset dmrVersion=\"1.0\"/>", "missing required attribute `name`"),
        (
            "<Dataset name=\"x\">\n\n<Dimension name=\"d\"/></Dataset>",
            "line 3, <Dimension>: missing required attribute `size`",
        ),
        (
            "<Dataset name=\"x\"><Dimension name=\"d\" size=\"-3\"/></Dataset>",
            "negative",
        ),
        ("<Dataset name=\"x\"><q:Int8 name=\"a\"/></Dataset>", "prefix"),
        ("", "no <Dataset>"),
        ("<Dataset name=\"x\"/><Dataset name=\"y\"/>", "after the end"),
        ("<Dataset name=\"x\"><Group name=\"../etc\"/></Dataset>", "invalid name"),
    ];
    for (xml, want) in cases {
        let e = read(xml.as_bytes(), &opts()).unwrap_err().to_string();
        assert!(e.contains(want), "{xml:?}: {e:?} lacks {want:?}");
    }
}

#[test]
fn latin1_is_transcoded_and_bad_utf8_is_an_error() {
    let mut xml = doc(r#"<Attribute name="t" type="String"><Value>caf"#).into_bytes();
    // Replace the closing part: build a Latin-1 é (0xE9) inside the value.
    xml.truncate(xml.len() - "\n</Dataset>\n".len());
    xml.push(0xE9);
    xml.extend_from_slice(b"</Value></Attribute></Dataset>");
    let out = read(&xml, &opts()).unwrap();
    assert_eq!(out.root.attributes["t"], serde_json::json!("café"));
    let utf8 = String::from_utf8(xml.clone()).unwrap_err().into_bytes();
    let as_utf8 = String::from_utf8_lossy(&utf8)
        .replace("ISO-8859-1", "UTF-8")
        .into_bytes();
    assert!(read(&as_utf8, &opts()).is_ok(), "lossy text is valid UTF-8");
    let mut bad = utf8.clone();
    let decl_end = bad.iter().position(|&b| b == b'>').unwrap();
    bad.splice(
        ..=decl_end,
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>".iter().copied(),
    );
    let e = read(&bad, &opts()).unwrap_err().to_string();
    assert!(e.contains("not valid UTF-8"), "{e}");
}

#[test]
fn detection() {
    assert!(is_dmrpp(HEAD.as_bytes()));
    assert!(is_dmrpp(b"\n<!-- c -->\n<Dataset name=\"x\">"));
    assert!(!is_dmrpp(b"\x89HDF\r\n\x1a\n"));
    assert!(!is_dmrpp(b"<?xml version=\"1.0\"?><html>"));
}

#[test]
fn packed_structure_is_structured_padded_is_refused() {
    let out = read_ok(
        r#"<Structure name="s"><Int32 name="a"/><Float32 name="b"/><Dim size="2"/>
  <dmrpp:chunks structOffset="4 8" byteOrder="LE"><dmrpp:chunk offset="0" nBytes="16"/></dmrpp:chunks></Structure>
<Structure name="p"><Int8 name="a"/><Float32 name="b"/><Dim size="2"/>
  <dmrpp:chunks structOffset="4 8" byteOrder="LE"><dmrpp:chunk offset="0" nBytes="16"/></dmrpp:chunks></Structure>"#,
    );
    let s = array(&out, "s");
    assert_eq!(
        s.data_type,
        DataType::Structured(vec![("a".into(), DataType::Int(32)), ("b".into(), DataType::Float(32))])
    );
    assert!(out
        .refusals
        .iter()
        .any(|r| r.path == "/p" && r.feature == "padded structure"));
}
