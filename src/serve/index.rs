//! The HTML pages of `vzarr serve`: the list of stores, and each store's index (hierarchy,
//! arrays with shape, data type, chunk shape, codecs, chunks referenced, sources).
//!
//! Everything taken from a store is HTML-escaped: node names and attributes are untrusted.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::Served;
use crate::reader::ReadError;
use crate::store::manifest::Entry;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}code{font-size:.95em}.g{font-weight:600}.muted{color:#666}";

/// Escape text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The URL path a store name is served under: `/` and the name, percent-encoded as one path
/// segment (`a b` → `/a%20b`).
#[must_use]
pub fn url_path(name: &str) -> String {
    format!("/{}", percent_encoding::utf8_percent_encode(name, PATH_SEGMENT))
}

/// What [`url_path`] escapes: all but RFC 3986's unreserved characters.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style></head><body>\n{body}</body></html>\n",
        esc(title)
    )
}

/// The server's root page: links to every store.
pub(crate) fn root_page(names: &[&str]) -> String {
    let mut b = String::from("<h1>vzarr serve</h1>\n<ul id=\"stores\">\n");
    for n in names {
        let _ = writeln!(b, "<li><a href=\"{}/\">{}</a></li>", esc(&url_path(n)), esc(n));
    }
    b.push_str("</ul>\n");
    page("vzarr serve", &b)
}

fn json_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn dims(v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        Some(a) => {
            let parts: Vec<String> = a.iter().map(|x| json_text(Some(x))).collect();
            format!("({})", parts.join(", "))
        }
        None => String::new(),
    }
}

/// One store's index page, from its consolidated root `zarr.json` and manifest.
pub(crate) fn store_page(served: &Served, root: &[u8]) -> Result<String, ReadError> {
    let vs = &served.store;
    let root: Value = serde_json::from_slice(root).unwrap_or(Value::Null);
    let mut nodes: BTreeMap<String, Value> = BTreeMap::new();
    nodes.insert(String::new(), root.clone());
    if let Some(m) = root
        .pointer("/consolidated_metadata/metadata")
        .and_then(Value::as_object)
    {
        for (k, v) in m {
            nodes.insert(k.clone(), v.clone());
        }
    }
    let base = url_path(&served.name);
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>{}</h1>\n<p class=\"muted\">A virtual Zarr v3 store served by vzarr: open <code>{}/</code> \
         with any Zarr v3 reader (e.g. <code>zarr.open_group(\"http://HOST{}/\", mode=\"r\")</code>).</p>",
        esc(&served.name),
        esc(&base),
        esc(&base)
    );
    let info = vs.info();
    let n_arrays = nodes.values().filter(|v| is_array(v)).count();
    let _ = writeln!(
        b,
        "<p>{} nodes, {} arrays; format {}; written by {}.</p>",
        nodes.len(),
        n_arrays,
        esc(&info.vzarr_format),
        esc(&info.created_by)
    );
    b.push_str(
        "<h2>Hierarchy</h2>\n<table id=\"hierarchy\"><tr><th>node</th><th>shape</th><th>data type</th>\
                <th>chunk shape</th><th>codecs</th><th>chunks referenced</th><th>sources</th></tr>\n",
    );
    // Parents before children, siblings by name: order by path segments, not by string
    // (`a-b` would otherwise fall between `a` and `a/c`).
    let mut ordered: Vec<(&String, &Value)> = nodes.iter().collect();
    ordered.sort_by(|a, b| tree_order(a.0, b.0));
    for (path, meta) in ordered {
        let depth = if path.is_empty() {
            0
        } else {
            path.matches('/').count() + 1
        };
        let name = if path.is_empty() {
            "/".to_string()
        } else {
            path.rsplit('/').next().unwrap_or(path).to_string()
        };
        let indent = "&nbsp;&nbsp;".repeat(depth);
        let meta_link = format!(
            "{base}/{}zarr.json",
            if path.is_empty() {
                String::new()
            } else {
                format!("{path}/")
            }
        );
        if !is_array(meta) {
            let _ = writeln!(
                b,
                "<tr class=\"group\" data-path=\"/{}\"><td class=\"g\">{indent}<a href=\"{}\">{}</a></td>\
                 <td colspan=\"6\" class=\"muted\">group</td></tr>",
                esc(path),
                esc(&meta_link),
                esc(&name)
            );
            continue;
        }
        let codecs: Vec<String> = meta
            .get("codecs")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|c| json_text(c.get("name"))).collect())
            .unwrap_or_default();
        let entries = vs.array_entries(path)?;
        let (mut virt, mut inline) = (0usize, 0usize);
        let mut sources: BTreeMap<&str, usize> = BTreeMap::new();
        for e in entries.values() {
            match e {
                Entry::Virtual { source, .. } => {
                    virt += 1;
                    *sources.entry(source).or_default() += 1;
                }
                Entry::Inline(_) => inline += 1,
            }
        }
        let mut src_text: Vec<String> = sources.keys().map(|s| esc(s)).collect();
        if inline > 0 {
            src_text.push(format!("<span class=\"muted\">{inline} inline</span>"));
        }
        let _ = writeln!(
            b,
            "<tr class=\"array\" data-path=\"/{}\"><td>{indent}<a href=\"{}\">{}</a></td><td>{}</td><td><code>{}</code></td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(path),
            esc(&meta_link),
            esc(&name),
            esc(&dims(meta.get("shape"))),
            esc(&json_text(meta.get("data_type"))),
            esc(&dims(meta.pointer("/chunk_grid/configuration/chunk_shape"))),
            esc(&codecs.join(" → ")),
            virt + inline,
            src_text.join("<br>")
        );
    }
    b.push_str("</table>\n<h2>Sources</h2>\n<table id=\"sources\"><tr><th>source</th><th>size (bytes)</th><th>ETag / last modified</th></tr>\n");
    for s in &info.sources {
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.url),
            s.size.map(|n| n.to_string()).unwrap_or_default(),
            esc(s.etag.as_deref().or(s.last_modified.as_deref()).unwrap_or(""))
        );
    }
    b.push_str("</table>\n");
    if !info.refused.is_empty() {
        let _ = writeln!(
            b,
            "<h2>Left out by <code>vzarr create</code> ({})</h2>\n<ul id=\"refused\">",
            info.refused.len()
        );
        for r in &info.refused {
            let _ = writeln!(b, "<li><code>{}</code>: {}</li>", esc(&r.path), esc(&r.reason));
        }
        b.push_str("</ul>\n");
    }
    Ok(page(&served.name, &b))
}

/// Order node paths as a tree: by segments, so a parent comes right before its children.
fn tree_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

fn is_array(v: &Value) -> bool {
    v.get("node_type").and_then(Value::as_str) == Some("array")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_encodes_names() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(url_path("a b/<c>"), "/a%20b%2F%3Cc%3E");
        assert!(root_page(&["<script>"]).contains("&lt;script&gt;"));
        let mut v = vec!["a/c", "a-b", "", "a", "a/b/x", "a/b"];
        v.sort_by(|x, y| tree_order(x, y));
        assert_eq!(v, ["", "a", "a/b", "a/b/x", "a/c", "a-b"]);
    }
}
