//! SAR leader file (`LED-…`, spec §5): the file descriptor's record directory, then the
//! metadata records, found by walking their headers and dispatched on their type code.

use serde_json::{json, Map, Value};

use super::map::{f64_array, i32_array, i64_array};
use super::records::{self, Enc, Field};
use super::CeosError;
use crate::model::{Group, Node};

/// Largest leader read (real ones are about 1.6 MB).
pub const MAX_LEADER_BYTES: u64 = 64 << 20;

/// Record kinds of the directory (file descriptor bytes 180–360, then facility records).
const DIRECTORY: [(&str, u8); 15] = [
    ("dataset_summary", 10),
    ("map_projection", 20),
    ("platform_position", 30),
    ("attitude", 40),
    ("radiometric_data", 50),
    ("radiometric_compensation", 51),
    ("data_quality_summary", 60),
    ("data_histogram", 70),
    ("range_spectra", 80),
    ("dem_descriptor", 90),
    ("radar_parameter_update", 100),
    ("annotation_data", 110),
    ("detailed_processing_parameters", 120),
    ("calibration_data", 130),
    ("ground_control_points", 140),
];

const DATASET_SUMMARY: [Field; 28] = [
    ("scene_id", 20, 32, Enc::A),
    ("scene_center_time", 68, 32, Enc::A),
    ("scene_center_latitude", 116, 16, Enc::F),
    ("scene_center_longitude", 132, 16, Enc::F),
    ("scene_center_heading", 148, 16, Enc::F),
    ("ellipsoid_designator", 164, 16, Enc::A),
    ("ellipsoid_semi_major_axis", 180, 16, Enc::F),
    ("ellipsoid_semi_minor_axis", 196, 16, Enc::F),
    ("scene_center_line_number", 324, 8, Enc::I),
    ("scene_center_pixel_number", 332, 8, Enc::I),
    ("number_of_sar_channels", 388, 4, Enc::I),
    ("mission_id", 396, 16, Enc::A),
    ("sensor_id_and_operation_mode", 412, 32, Enc::A),
    ("orbit_number", 444, 8, Enc::I),
    ("sensor_clock_angle", 476, 8, Enc::F),
    ("incidence_angle_at_scene_center", 484, 8, Enc::F),
    ("radar_wavelength", 500, 16, Enc::F),
    ("range_sampling_rate", 710, 16, Enc::F),
    ("range_pulse_width", 742, 16, Enc::F),
    ("prf", 934, 16, Enc::F),
    ("processing_facility", 1046, 16, Enc::A),
    ("product_level_code", 1094, 16, Enc::A),
    ("number_of_looks_in_azimuth", 1174, 16, Enc::F),
    ("number_of_looks_in_range", 1190, 16, Enc::F),
    ("time_direction_indicator_along_pixel_direction", 1526, 8, Enc::A),
    ("time_direction_indicator_along_line_direction", 1534, 8, Enc::A),
    ("line_spacing", 1686, 16, Enc::F),
    ("pixel_spacing", 1702, 16, Enc::F),
];

const MAP_PROJECTION: [Field; 7] = [
    ("map_projection_type", 28, 32, Enc::A),
    ("number_of_pixels_per_line", 60, 16, Enc::I),
    ("number_of_lines", 76, 16, Enc::I),
    ("inter_line_distance", 92, 16, Enc::F),
    ("inter_pixel_distance", 108, 16, Enc::F),
    ("map_projection_designator", 412, 32, Enc::A),
    ("utm_zone", 476, 4, Enc::I),
];

const PLATFORM_POSITION: [Field; 9] = [
    ("orbital_elements_designator", 12, 32, Enc::A),
    ("number_of_data_points", 140, 4, Enc::I),
    ("date_of_first_point", 144, 12, Enc::A),
    ("day_of_year_of_first_point", 156, 4, Enc::I),
    ("seconds_of_day_of_first_point", 160, 22, Enc::F),
    ("time_interval_between_data_points", 182, 22, Enc::F),
    ("reference_coordinate_system", 204, 64, Enc::A),
    ("greenwich_mean_hour_angle", 268, 22, Enc::F),
    ("leap_second_flag", 4100, 1, Enc::I),
];

const RADIOMETRIC: [Field; 1] = [("calibration_factor", 20, 16, Enc::F)];

const DATA_QUALITY: [Field; 12] = [
    ("record_number", 12, 4, Enc::I),
    ("sar_channel_id", 16, 4, Enc::A),
    ("date_of_the_last_calibration_update", 20, 6, Enc::A),
    ("number_of_channels", 26, 4, Enc::I),
    ("islr", 30, 16, Enc::F),
    ("pslr", 46, 16, Enc::F),
    ("azimuth_ambiguity_rate", 62, 16, Enc::F),
    ("range_ambiguity_rate", 78, 16, Enc::F),
    ("estimate_of_snr", 94, 16, Enc::F),
    ("ber", 110, 16, Enc::F),
    ("slant_range_resolution", 126, 16, Enc::F),
    ("azimuth_resolution", 142, 16, Enc::F),
];

/// The parsed leader: the `/metadata` group, the product level code, and what was skipped.
#[derive(Debug, Clone, Default)]
pub struct Leader {
    /// `/metadata` with one group per record kind.
    pub group: Group,
    /// Dataset summary `product_level_code` (`1.1`, `1.5`, `3.1`).
    pub level: Option<String>,
    /// Inconsistencies and fields that did not decode.
    pub warnings: Vec<String>,
}

fn floats(rec: &[u8], off: usize, width: usize, n: usize) -> Vec<Value> {
    (0..n)
        .map(|k| {
            records::float(rec, off + k * width, width)
                .ok()
                .flatten()
                .map_or(Value::Null, crate::model::float_json)
        })
        .collect()
}

fn attrs_group(attrs: Map<String, Value>) -> Group {
    Group {
        attributes: attrs,
        children: Default::default(),
    }
}

/// Parse a whole SAR leader file.
///
/// # Errors
/// [`CeosError`] if the records do not walk, the first is not a file descriptor, or there is
/// no dataset summary.
pub fn parse(file: &str, data: &[u8]) -> Result<Leader, CeosError> {
    let recs = records::walk(file, data, 10_000)?;
    let fd = recs.first().ok_or_else(|| CeosError::file(file, "empty leader file"))?;
    if fd.header.codes[1] != 192 {
        return Err(CeosError::record(
            file,
            1,
            0,
            format!("not a file descriptor (record type codes {})", fd.header.codes_text()),
        ));
    }
    let mut out = Leader::default();
    let mut bad = Vec::new();
    // The directory: expected count and length of each kind.
    let mut expected: Vec<(&str, u8, i64, i64)> = Vec::new();
    for (k, (name, code)) in DIRECTORY.iter().enumerate() {
        let off = 180 + 12 * k;
        let n = records::int(fd.bytes, off, 6).ok().flatten().unwrap_or(0);
        let len = records::int(fd.bytes, off + 6, 6).ok().flatten().unwrap_or(0);
        expected.push((name, *code, n, len));
    }
    let mut facility_expected = Vec::new();
    for j in 0..5 {
        let off = 420 + 14 * j;
        let n = records::int(fd.bytes, off, 6).ok().flatten().unwrap_or(0);
        let len = records::int(fd.bytes, off + 6, 8).ok().flatten().unwrap_or(0);
        if n > 0 {
            facility_expected.push(len);
        }
    }
    let mut found: Vec<(u8, u64)> = Vec::new();
    let mut facility = Vec::new();
    let mut year_hint: Option<i32> = None;
    for r in &recs[1..] {
        let code = r.header.codes[1];
        found.push((code, r.bytes.len() as u64));
        let mut attrs = Map::new();
        attrs.insert("record_length".into(), json!(r.bytes.len()));
        match code {
            10 => {
                records::attributes(r.bytes, &DATASET_SUMMARY, &mut attrs, &mut bad);
                attrs.insert(
                    "along_track_doppler_frequency_coefficients".into(),
                    Value::Array(floats(r.bytes, 1414, 16, 3)),
                );
                attrs.insert(
                    "cross_track_doppler_frequency_coefficients".into(),
                    Value::Array(floats(r.bytes, 1478, 16, 3)),
                );
                attrs.insert(
                    "incidence_angle_coefficients".into(),
                    Value::Array(floats(r.bytes, 1886, 20, 6)),
                );
                out.level = attrs
                    .get("product_level_code")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if year_hint.is_none() {
                    year_hint = attrs
                        .get("scene_center_time")
                        .and_then(Value::as_str)
                        .and_then(|s| s.get(..4))
                        .and_then(|y| y.parse().ok());
                }
                out.group
                    .children
                    .insert("dataset_summary".into(), Node::Group(attrs_group(attrs)));
            }
            20 => {
                records::attributes(r.bytes, &MAP_PROJECTION, &mut attrs, &mut bad);
                attrs.insert(
                    "corner_points_projected".into(),
                    Value::Array(floats(r.bytes, 944, 16, 8)),
                );
                attrs.insert(
                    "corner_points_geographic".into(),
                    Value::Array(floats(r.bytes, 1072, 16, 8)),
                );
                attrs.insert(
                    "map_to_pixel_coefficients".into(),
                    Value::Array(floats(r.bytes, 1264, 20, 8)),
                );
                attrs.insert(
                    "pixel_to_map_coefficients".into(),
                    Value::Array(floats(r.bytes, 1424, 20, 8)),
                );
                out.group
                    .children
                    .insert("map_projection".into(), Node::Group(attrs_group(attrs)));
            }
            30 => {
                let (g, y) = platform_position(r.bytes, &mut bad);
                if y.is_some() {
                    year_hint = y;
                }
                out.group.children.insert("platform_position".into(), Node::Group(g));
            }
            40 => {
                out.group
                    .children
                    .insert("attitude".into(), Node::Group(attitude(r.bytes, year_hint, &mut bad)));
            }
            50 => {
                records::attributes(r.bytes, &RADIOMETRIC, &mut attrs, &mut bad);
                let m = floats(r.bytes, 36, 16, 16);
                let pairs: Vec<Value> = m.chunks(2).map(|p| Value::Array(p.to_vec())).collect();
                attrs.insert(
                    "transmission_distortion_matrix".into(),
                    Value::Array(pairs[..4].to_vec()),
                );
                attrs.insert("reception_distortion_matrix".into(), Value::Array(pairs[4..].to_vec()));
                out.group
                    .children
                    .insert("radiometric_data".into(), Node::Group(attrs_group(attrs)));
            }
            60 => {
                records::attributes(r.bytes, &DATA_QUALITY, &mut attrs, &mut bad);
                out.group
                    .children
                    .insert("data_quality_summary".into(), Node::Group(attrs_group(attrs)));
            }
            200 => facility.push(r.bytes.len() as u64),
            c if DIRECTORY.iter().any(|(_, k)| *k == c) => {}
            _ => out.warnings.push(format!(
                "{file}: record {} at offset {}: unknown leader record type {}",
                r.number,
                r.offset,
                r.header.codes_text()
            )),
        }
    }
    if !out.group.children.contains_key("dataset_summary") {
        return Err(CeosError::file(file, "no dataset summary record (type 18,10,18,20)"));
    }
    // Cross-check the records found against the directory.
    for (name, code, n, len) in expected {
        let here: Vec<u64> = found.iter().filter(|(c, _)| *c == code).map(|(_, l)| *l).collect();
        if here.len() as i64 != n {
            out.warnings.push(format!(
                "{file}: the record directory lists {n} {name} record(s), the file has {}",
                here.len()
            ));
        } else if n > 0 && here.iter().any(|&l| l as i64 != len) {
            out.warnings.push(format!(
                "{file}: the record directory gives {name} records {len} bytes, the file has {here:?}"
            ));
        }
    }
    let fac: Vec<i64> = facility.iter().map(|&l| l as i64).collect();
    if fac != facility_expected {
        out.warnings.push(format!(
            "{file}: the record directory lists facility-related records of {facility_expected:?} bytes, \
             the file has {fac:?}"
        ));
    }
    out.group.attributes.insert(
        "facility_related_data_record_lengths".into(),
        Value::Array(facility.iter().map(|&l| json!(l)).collect()),
    );
    for b in bad {
        out.warnings.push(format!("{file}: {b}"));
    }
    Ok(out)
}

fn platform_position(rec: &[u8], bad: &mut Vec<String>) -> (Group, Option<i32>) {
    let mut attrs = Map::new();
    attrs.insert("record_length".into(), json!(rec.len()));
    records::attributes(rec, &PLATFORM_POSITION, &mut attrs, bad);
    let mut g = Group::default();
    let n = records::int(rec, 140, 4).ok().flatten().unwrap_or(0).max(0) as usize;
    let fits = rec.len().saturating_sub(386) / 132;
    let n = n.min(fits);
    let names = ["x", "y", "z", "vx", "vy", "vz"];
    let units = ["m", "m", "m", "m/s", "m/s", "m/s"];
    for (c, (name, u)) in names.iter().zip(units).enumerate() {
        let v: Vec<f64> = (0..n)
            .map(|j| {
                records::float(rec, 386 + 132 * j + 22 * c, 22)
                    .ok()
                    .flatten()
                    .unwrap_or(f64::NAN)
            })
            .collect();
        g.children.insert(
            (*name).into(),
            Node::Array(f64_array(&v, "positions", json!({"units": u}))),
        );
    }
    // Times of the state vectors: first point date (`YYYY MM DD` as 3 × 4 I) + seconds.
    let date = (
        records::int(rec, 144, 4).ok().flatten(),
        records::int(rec, 148, 4).ok().flatten(),
        records::int(rec, 152, 4).ok().flatten(),
    );
    let sod = records::float(rec, 160, 22).ok().flatten();
    let step = records::float(rec, 182, 22).ok().flatten();
    let mut year = None;
    if let ((Some(y), Some(m), Some(d)), Some(sod), Some(step)) = (date, sod, step) {
        let ok = chrono::NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32);
        if let Some(day) = ok {
            year = Some(y as i32);
            let t: Vec<f64> = (0..n).map(|j| sod + step * j as f64).collect();
            g.children.insert(
                "time".into(),
                Node::Array(f64_array(
                    &t,
                    "positions",
                    json!({"units": format!("seconds since {}T00:00:00", day.format("%Y-%m-%d")),
                           "calendar": "proleptic_gregorian"}),
                )),
            );
        }
    }
    g.attributes = attrs;
    (g, year)
}

fn attitude(rec: &[u8], year: Option<i32>, bad: &mut Vec<String>) -> Group {
    let mut g = Group::default();
    g.attributes.insert("record_length".into(), json!(rec.len()));
    let n = match records::int(rec, 12, 4) {
        Ok(v) => v.unwrap_or(0).max(0) as usize,
        Err(e) => {
            bad.push(format!("attitude number_of_points: {e}"));
            0
        }
    };
    let n = n.min(rec.len().saturating_sub(16) / 120);
    g.attributes.insert("number_of_points".into(), json!(n));
    let mut doy = Vec::with_capacity(n);
    let mut ms = Vec::with_capacity(n);
    for j in 0..n {
        let d = records::int(rec, 16 + 120 * j, 4).ok().flatten().unwrap_or(-1);
        doy.push(i32::try_from(d).unwrap_or(-1));
        ms.push(records::int(rec, 16 + 120 * j + 4, 8).ok().flatten().unwrap_or(-1));
    }
    g.children
        .insert("day_of_year".into(), Node::Array(i32_array(&doy, "points", json!({}))));
    g.children.insert(
        "millisecond_of_day".into(),
        Node::Array(i64_array(&ms, "points", json!({"units": "ms"}))),
    );
    if let Some(y) = year {
        // Day of year is 1-based: Jan 1 is day 1 (xarray-ceos-alos2 adds one day too many).
        let t: Vec<i64> = doy
            .iter()
            .zip(&ms)
            .map(|(&d, &m)| i64::from(d - 1) * 86_400_000 + m)
            .collect();
        g.children.insert(
            "time".into(),
            Node::Array(i64_array(
                &t,
                "points",
                json!({"units": format!("milliseconds since {y:04}-01-01T00:00:00"), "calendar": "proleptic_gregorian"}),
            )),
        );
    }
    let names = [
        ("pitch", 24, "deg"),
        ("roll", 38, "deg"),
        ("yaw", 52, "deg"),
        ("pitch_rate", 78, "deg/s"),
        ("roll_rate", 92, "deg/s"),
        ("yaw_rate", 106, "deg/s"),
    ];
    for (name, off, u) in names {
        let v: Vec<f64> = (0..n)
            .map(|j| {
                records::float(rec, 16 + 120 * j + off, 14)
                    .ok()
                    .flatten()
                    .unwrap_or(f64::NAN)
            })
            .collect();
        g.children
            .insert(name.into(), Node::Array(f64_array(&v, "points", json!({"units": u}))));
    }
    g
}
