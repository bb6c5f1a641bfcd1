//! `summary.txt` (spec §7): `Xxx_Key="value"` lines, grouped by their 3-letter section.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Section prefixes and the group names xarray-ceos-alos2 gives them.
const SECTIONS: [(&str, &str); 8] = [
    ("odi", "ordering_information"),
    ("scs", "scene_specification"),
    ("pds", "product_specification"),
    ("img", "image_information"),
    ("pdi", "product_information"),
    ("ach", "autocheck"),
    ("rad", "result_information"),
    ("lbi", "label_information"),
];

/// Parsed entries by section group name, and the lines skipped (1-based line numbers).
pub fn parse(text: &str) -> (BTreeMap<String, Map<String, Value>>, Vec<String>) {
    let mut out: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut skipped = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let parsed = (|| {
            let (key, rest) = line.split_once('=')?;
            let (section, keyword) = key.split_once('_')?;
            if section.len() != 3 || !section.chars().all(|c| c.is_ascii_alphabetic()) || keyword.is_empty() {
                return None;
            }
            let value = rest.strip_prefix('"')?.strip_suffix('"')?;
            Some((section.to_ascii_lowercase(), keyword.to_string(), value.to_string()))
        })();
        match parsed {
            Some((section, keyword, value)) => {
                let group = SECTIONS
                    .iter()
                    .find(|(p, _)| *p == section)
                    .map_or(section.clone(), |(_, g)| (*g).to_string());
                out.entry(group).or_default().insert(keyword, Value::String(value));
            }
            None => skipped.push(format!("line {}: not a Xxx_Key=\"value\" entry", i + 1)),
        }
    }
    (out, skipped)
}
