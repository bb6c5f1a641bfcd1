//! A whole product → the model: find the files, parse each, assemble the tree.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::image::{self, ImageDescriptor, Kind, Lines};
use super::{leader, summary, volume, CeosError, CeosOptions, CeosOutput, LineMetadata, ProductReader};
use crate::model::{Array, ChunkRef, Codec, DataType, Endian, FillValue, Group, Node, Refusal, SourceId};

/// Largest volume directory, summary.txt or trailer descriptor read.
const MAX_SMALL_FILE: u64 = 1 << 20;
/// Requests in flight when reading per-line metadata.
const PARALLEL_REQUESTS: usize = 4;
/// Polarisations in the order images are listed.
const POLS: [&str; 4] = ["HH", "HV", "VH", "VV"];

fn inline_array(bytes: Vec<u8>, n: usize, data_type: DataType, dim: &str, attrs: Value) -> Array {
    let mut chunks = BTreeMap::new();
    if n > 0 {
        chunks.insert(vec![0], ChunkRef::Inline(Bytes::from(bytes)));
    }
    Array {
        shape: vec![n as u64],
        chunk_shape: vec![(n as u64).max(1)],
        data_type,
        fill_value: FillValue::Default,
        codecs: vec![Codec::Bytes(Some(Endian::Little))],
        attributes: attrs.as_object().cloned().unwrap_or_default(),
        dimension_names: Some(vec![Some(dim.into())]),
        chunks,
    }
}

/// A 1-D float64 array stored inline (one chunk).
pub fn f64_array(v: &[f64], dim: &str, attrs: Value) -> Array {
    inline_array(
        v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        v.len(),
        DataType::Float(64),
        dim,
        attrs,
    )
}

/// A 1-D int32 array stored inline (one chunk).
pub fn i32_array(v: &[i32], dim: &str, attrs: Value) -> Array {
    inline_array(
        v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        v.len(),
        DataType::Int(32),
        dim,
        attrs,
    )
}

/// A 1-D int64 array stored inline (one chunk).
pub fn i64_array(v: &[i64], dim: &str, attrs: Value) -> Array {
    inline_array(
        v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        v.len(),
        DataType::Int(64),
        dim,
        attrs,
    )
}

/// An image file of the product, from its name `IMG-<POL>-<scene>-<product>[-<B|F><n>]`.
#[derive(Debug, Clone)]
struct ImageFile {
    index: usize,
    name: String,
    pol: String,
    scan: Option<(char, u32)>,
}

impl ImageFile {
    fn group(&self) -> String {
        match self.scan {
            Some((_, n)) => format!("{}_scan{n}", self.pol),
            None => self.pol.clone(),
        }
    }
}

fn image_file(index: usize, name: &str, suffix: &str) -> Option<ImageFile> {
    let rest = name.strip_prefix("IMG-")?;
    let (pol, rest) = rest.split_once('-')?;
    if pol.len() != 2 || !pol.chars().all(|c| c == 'H' || c == 'V') {
        return None;
    }
    let rest = rest.strip_prefix(suffix)?;
    let scan = if rest.is_empty() {
        None
    } else {
        let s = rest.strip_prefix('-')?;
        let mut chars = s.chars();
        let method = chars.next().filter(|c| *c == 'B' || *c == 'F')?;
        let n: u32 = chars.as_str().parse().ok()?;
        Some((method, n))
    };
    Some(ImageFile {
        index,
        name: name.into(),
        pol: pol.into(),
        scan,
    })
}

fn read_whole(product: &dyn ProductReader, index: usize, name: &str, cap: u64) -> Result<Bytes, CeosError> {
    let size = product.files()[index].size;
    if size > cap {
        return Err(CeosError::file(
            name,
            format!("{size} bytes, more than the {cap} read for this kind of file"),
        ));
    }
    product
        .read(index, 0, size)
        .map_err(|e| CeosError::file(name, e.to_string()))
}

fn check_alos2(name: &str, data: &[u8]) -> Result<(), CeosError> {
    match super::sniff(data) {
        Some(h) if h.alos2 => Ok(()),
        Some(h) => Err(CeosError::file(
            name,
            format!(
                "{}: not an ALOS-2 PALSAR-2 product, which is the only CEOS product vzarr reads",
                h.describe()
            ),
        )),
        None => Err(CeosError::file(
            name,
            "not a CEOS file (no CEOS descriptor record header)",
        )),
    }
}

pub(super) fn read_product(product: &dyn ProductReader, opts: &CeosOptions) -> Result<CeosOutput, CeosError> {
    let files = product.files();
    let find = |n: &str| files.iter().position(|f| f.name == n);
    // The volume directory.
    let vol_index = match &opts.volume_file {
        Some(v) => find(v).ok_or_else(|| CeosError::file(v, "no such file in the product directory"))?,
        None => {
            let vols: Vec<usize> = (0..files.len())
                .filter(|&i| files[i].name.starts_with("VOL-"))
                .collect();
            match vols.as_slice() {
                [one] => *one,
                [] => {
                    return Err(CeosError::file(
                        "(product directory)",
                        format!(
                            "no volume directory file (VOL-…) among the {} files: not an ALOS-2 CEOS product",
                            files.len()
                        ),
                    ))
                }
                many => {
                    return Err(CeosError::file(
                        "(product directory)",
                        format!(
                            "{} volume directory files ({}): give the VOL- file of the product to read",
                            many.len(),
                            many.iter()
                                .map(|&i| files[i].name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ))
                }
            }
        }
    };
    let vol_name = files[vol_index].name.clone();
    let suffix = vol_name.strip_prefix("VOL-").unwrap_or(&vol_name).to_string();
    let vol_bytes = read_whole(product, vol_index, &vol_name, MAX_SMALL_FILE)?;
    check_alos2(&vol_name, &vol_bytes)?;
    let vol = volume::parse(&vol_name, &vol_bytes)?;
    let mut warnings: Vec<Refusal> = vol
        .bad
        .iter()
        .map(|b| warn("/", "volume directory field", format!("{vol_name}: {b}")))
        .collect();
    let mut refusals = Vec::new();

    // The SAR leader.
    let led_name = format!("LED-{suffix}");
    let led_index = find(&led_name).ok_or_else(|| {
        CeosError::file(
            &led_name,
            "missing: the SAR leader file of this volume directory is not in the directory",
        )
    })?;
    let led_bytes = read_whole(product, led_index, &led_name, leader::MAX_LEADER_BYTES)?;
    check_alos2(&led_name, &led_bytes)?;
    let led = leader::parse(&led_name, &led_bytes)?;
    warnings.extend(
        led.warnings
            .iter()
            .map(|w| warn("/metadata", "leader record", w.clone())),
    );

    let mut root = Group {
        attributes: vol.attrs.clone(),
        ..Group::default()
    };
    root.attributes.insert(
        "reference_document".into(),
        json!("https://www.eorc.jaxa.jp/ALOS-2/en/doc/fdata/PALSAR-2_xx_Format_CEOS_E_f.pdf"),
    );
    if let Some((scene, product_id)) = suffix.rsplit_once('-') {
        root.attributes.insert("scene_id".into(), json!(scene));
        root.attributes.insert("product_id".into(), json!(product_id));
    }
    if let Some(level) = &led.level {
        root.attributes.insert("processing_level".into(), json!(level));
    }
    let mut metadata = led.group;

    // summary.txt (optional for us; xarray-ceos-alos2 needs it).
    match find("summary.txt") {
        Some(i) => {
            let b = read_whole(product, i, "summary.txt", MAX_SMALL_FILE)?;
            let (sections, skipped) = summary::parse(&String::from_utf8_lossy(&b));
            let mut g = Group::default();
            for (name, attrs) in sections {
                g.children.insert(
                    name,
                    Node::Group(Group {
                        attributes: attrs,
                        children: BTreeMap::new(),
                    }),
                );
            }
            root.children.insert("summary".into(), Node::Group(g));
            warnings.extend(
                skipped
                    .into_iter()
                    .map(|s| warn("/summary", "summary.txt line", format!("summary.txt: {s} (skipped)"))),
            );
        }
        None => warnings.push(warn(
            "/summary",
            "summary.txt",
            "no summary.txt in the product: /summary left out".into(),
        )),
    }

    // The trailer: its file descriptor only (the quick-look images are left out).
    let trl_name = format!("TRL-{suffix}");
    match find(&trl_name) {
        Some(i) => {
            let size = files[i].size.min(720);
            let b = product
                .read(i, 0, size)
                .map_err(|e| CeosError::file(&trl_name, e.to_string()))?;
            check_alos2(&trl_name, &b)?;
            let mut attrs = Map::new();
            let n = super::records::int(&b, 490, 6).ok().flatten().unwrap_or(0);
            attrs.insert("number_of_low_resolution_images".into(), json!(n));
            let mut images = Vec::new();
            for k in 0..usize::try_from(n.clamp(0, 8)).unwrap_or(0) {
                let off = 496 + 26 * k;
                let f = |o, l| super::records::int(&b, off + o, l).ok().flatten();
                images.push(json!({"record_length": f(0, 8), "pixels": f(8, 6), "lines": f(14, 6), "bytes_per_sample": f(20, 6)}));
            }
            attrs.insert("low_resolution_images".into(), Value::Array(images));
            metadata.children.insert(
                "trailer".into(),
                Node::Group(Group {
                    attributes: attrs,
                    children: BTreeMap::new(),
                }),
            );
        }
        None => warnings.push(warn(
            "/metadata",
            "trailer",
            format!("{trl_name} missing: trailer left out"),
        )),
    }
    root.children.insert("metadata".into(), Node::Group(metadata));

    // The image files.
    let mut images: Vec<ImageFile> = files
        .iter()
        .enumerate()
        .filter_map(|(i, f)| image_file(i, &f.name, &suffix))
        .collect();
    images.sort_by_key(|im| {
        (
            POLS.iter().position(|p| *p == im.pol).unwrap_or(4),
            im.pol.clone(),
            im.scan,
        )
    });
    let image_pointers: Vec<&volume::FilePointer> = vol
        .pointers
        .iter()
        .filter(|p| !matches!(p.class_code.as_str(), "SARL" | "SART"))
        .collect();
    if !vol.pointers.is_empty() && image_pointers.len() != images.len() {
        warnings.push(warn(
            "/imagery",
            "volume directory file pointers",
            format!(
                "{vol_name} points to {} image file(s), the directory has {} ({})",
                image_pointers.len(),
                images.len(),
                images.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let mut imagery = Group::default();
    let mut sources = Vec::new();
    for im in &images {
        let path = format!("/imagery/{}", im.group());
        let size = files[im.index].size;
        let head = product
            .read(im.index, 0, size.min(image::HEAD_BYTES))
            .map_err(|e| CeosError::file(&im.name, e.to_string()));
        let desc = head.and_then(|h| image::parse_descriptor(&im.name, &h, size));
        let desc = match desc {
            Ok(d) => d,
            Err(e) => {
                refusals.push(Refusal {
                    path,
                    feature: "image file".into(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if !image_pointers.is_empty()
            && !image_pointers
                .iter()
                .any(|p| p.records.is_some_and(|r| r as u64 == desc.records + 1))
        {
            warnings.push(warn(
                &path,
                "volume directory file pointers",
                format!(
                    "{}: no file pointer of {vol_name} lists {} records (descriptor + {} lines)",
                    im.name,
                    desc.records + 1,
                    desc.records
                ),
            ));
        }
        let lines = match opts.line_metadata {
            LineMetadata::None => None,
            LineMetadata::Full => {
                let per = image::records_per_request(&desc, opts.records_per_chunk, super::DEFAULT_REQUEST_BYTES);
                match image::read_lines(product, im.index, &im.name, &desc, per, PARALLEL_REQUESTS) {
                    Ok(l) => Some(l),
                    Err(e) => {
                        refusals.push(Refusal {
                            path,
                            feature: "image file".into(),
                            reason: e.to_string(),
                        });
                        continue;
                    }
                }
            }
        };
        let source = SourceId(u32::try_from(sources.len()).unwrap_or(u32::MAX));
        sources.push(im.index);
        let (group, w) = image_group(im, &desc, lines.as_ref(), source);
        warnings.extend(w.into_iter().map(|m| warn(&path, "line metadata", m)));
        imagery.children.insert(im.group(), Node::Group(group));
    }
    root.children.insert("imagery".into(), Node::Group(imagery));
    Ok(CeosOutput {
        root,
        sources,
        refusals,
        warnings,
    })
}

fn warn(path: &str, feature: &str, reason: String) -> Refusal {
    Refusal {
        path: path.into(),
        feature: feature.into(),
        reason,
    }
}

fn image_group(im: &ImageFile, d: &ImageDescriptor, lines: Option<&Lines>, source: SourceId) -> (Group, Vec<String>) {
    let mut warnings = Vec::new();
    let mut g = Group::default();
    g.attributes.insert("file".into(), json!(im.name));
    g.attributes.insert("polarization".into(), json!(im.pol));
    if let Some((method, n)) = im.scan {
        g.attributes.insert("scan_number".into(), json!(n));
        g.attributes.insert(
            "processing_method".into(),
            json!(if method == 'B' {
                "SPECAN method"
            } else {
                "full aperture method"
            }),
        );
    }
    g.attributes.extend(d.attrs.clone());
    let mut chunks = BTreeMap::new();
    for i in 0..d.records {
        chunks.insert(
            vec![i, 0],
            ChunkRef::Virtual {
                source,
                offset: d.record_offset(i) + d.prefix,
                length: d.line_bytes(),
            },
        );
    }
    let mut coords = Vec::new();
    if let Some(l) = lines {
        g.attributes.extend(l.constants.clone());
        g.children.insert(
            "rows".into(),
            Node::Array(i32_array(
                &l.rows,
                "rows",
                json!({"long_name": "SAR image data line number"}),
            )),
        );
        match acquisition_times(&l.time) {
            Ok((t, units)) => {
                g.children.insert(
                    "sensor_acquisition_date".into(),
                    Node::Array(i64_array(
                        &t,
                        "rows",
                        json!({"units": units, "calendar": "proleptic_gregorian"}),
                    )),
                );
                coords.push("sensor_acquisition_date".to_string());
            }
            Err(e) => warnings.push(format!("{}: sensor_acquisition_date left out: {e}", im.name)),
        }
        for ((name, _, kind, units), col) in image::fields(d.format).iter().zip(&l.columns) {
            let attrs = if units.is_empty() {
                json!({})
            } else {
                json!({ "units": units })
            };
            let a = match kind {
                Kind::I32 => i32_array(col, "rows", attrs),
                Kind::Scaled(f) => {
                    let v: Vec<f64> = col.iter().map(|&x| f64::from(x) / f).collect();
                    f64_array(&v, "rows", attrs)
                }
            };
            g.children.insert((*name).into(), Node::Array(a));
            coords.push((*name).to_string());
        }
    }
    let mut attrs = Map::new();
    if !coords.is_empty() {
        attrs.insert("coordinates".into(), json!(coords.join(" ")));
    }
    g.children.insert(
        "data".into(),
        Node::Array(Array {
            shape: vec![d.records, d.pixels],
            chunk_shape: vec![1, d.pixels.max(1)],
            data_type: d.format.data_type(),
            fill_value: FillValue::Default,
            codecs: vec![Codec::Bytes(Some(Endian::Big))],
            attributes: attrs,
            dimension_names: Some(vec![Some("rows".into()), Some("columns".into())]),
            chunks,
        }),
    );
    (g, warnings)
}

/// Line times as microseconds since midnight of the first line's date, and the CF units.
fn acquisition_times(t: &[(i32, i32, i64)]) -> Result<(Vec<i64>, String), String> {
    let date = |y: i32, d: i32| {
        u32::try_from(d)
            .ok()
            .and_then(|d| chrono::NaiveDate::from_yo_opt(y, d))
            .ok_or_else(|| format!("year {y}, day of year {d} is not a date"))
    };
    let Some(&(y0, d0, _)) = t.first() else {
        return Ok((Vec::new(), "microseconds since 1970-01-01T00:00:00".into()));
    };
    let reference = date(y0, d0)?;
    let mut out = Vec::with_capacity(t.len());
    for &(y, d, us) in t {
        if !(0..=86_401_000_000).contains(&us) {
            return Err(format!("{us} microseconds of day is out of range"));
        }
        let days = (date(y, d)? - reference).num_days();
        out.push(days * 86_400_000_000 + us);
    }
    Ok((
        out,
        format!("microseconds since {}T00:00:00", reference.format("%Y-%m-%d")),
    ))
}
