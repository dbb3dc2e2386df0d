//! Embeds the assets: writes `assets.rs` (a table of path, content type,
//! bytes and ETag) and `openapi.json` (the repo's openapi.yaml as JSON, for
//! the docs page) into OUT_DIR.

use std::fmt::Write;
use std::path::{Path, PathBuf};

/// What is served, where, as what.
const ASSETS: &[(&str, &str, &str)] = &[
    ("/", "assets/index.html", "text/html; charset=utf-8"),
    ("/docs", "assets/docs.html", "text/html; charset=utf-8"),
    ("/static/style.css", "assets/style.css", "text/css; charset=utf-8"),
    ("/static/app.js", "assets/app.js", "text/javascript; charset=utf-8"),
    ("/static/docs.js", "assets/docs.js", "text/javascript; charset=utf-8"),
    ("/favicon.ico", "assets/favicon.ico", "image/x-icon"),
];

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let spec_path = here.join("../../openapi.yaml");
    println!("cargo:rerun-if-changed={}", spec_path.display());
    let yaml = std::fs::read_to_string(&spec_path).expect("reading openapi.yaml");
    // A YAML value keeps the document's order (serde_json's would sort the
    // keys), so the page lists the operations as openapi.yaml does.
    let spec: serde_norway::Value = serde_norway::from_str(&yaml).expect("openapi.yaml is YAML");
    let json_path = out.join("openapi.json");
    std::fs::write(&json_path, serde_json::to_string(&spec).expect("openapi.yaml maps to JSON"))
        .expect("writing openapi.json");

    let mut table = String::from("pub static ASSETS: &[Asset] = &[\n");
    let mut add = |route: &str, file: &Path, content_type: &str| {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        writeln!(
            table,
            "    Asset {{ path: {route:?}, content_type: {content_type:?}, body: include_bytes!({:?}), etag: \"\\\"{:016x}\\\"\" }},",
            file.display().to_string(),
            fnv1a(&bytes)
        )
        .expect("writing to a String");
    };
    for (route, file, content_type) in ASSETS {
        let file = here.join(file);
        println!("cargo:rerun-if-changed={}", file.display());
        add(route, &file, content_type);
    }
    // Not watched: written by this script, it would always be newer than
    // the script's run, and the component rebuilt on every build.
    add("/static/openapi.json", &json_path, "application/json");
    table.push_str("];\n");
    std::fs::write(out.join("assets.rs"), table).expect("writing assets.rs");
}

/// FNV-1a, 64 bits: the ETag only has to change when the bytes do.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ byte as u64).wrapping_mul(0x0100_0000_01b3))
}
