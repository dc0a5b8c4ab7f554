//! The shop's static files (`static/`: the stylesheet, the icon, fonts): each linked with a hash
//! of its content in its URL (`/static/site.css?v=…`), so a browser may keep it for a year and
//! still gets a changed file the moment it changes.

use std::{collections::HashMap, path::Path, sync::Arc};

use crate::storage::short_hash;
use axum::{
    extract::Request,
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};

/// Kept a year, never asked for again: the URL changes when the content does.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// A file asked for without its current hash (an old page, a browser's own favicon request).
const UNVERSIONED: &str = "public, max-age=3600";

/// Each static file's content hash, by its path under `static/` ("site.css", "fonts/x.ttf").
#[derive(Clone, Debug, Default)]
pub struct StaticHashes(Arc<HashMap<String, String>>);

impl StaticHashes {
    /// Reads every file under `dir` once, at start.
    pub fn scan(dir: &Path) -> anyhow::Result<StaticHashes> {
        let mut hashes = HashMap::new();
        for (name, path) in files_under(dir)? {
            hashes.insert(name, short_hash(&std::fs::read(&path)?));
        }
        Ok(StaticHashes(Arc::new(hashes)))
    }

    /// `/static/site.css?v=…`; a file the shop does not have keeps its plain URL.
    pub fn url(&self, path: &str) -> String {
        match self.0.get(path) {
            Some(hash) => format!("/static/{path}?v={hash}"),
            None => format!("/static/{path}"),
        }
    }

    fn is_current(&self, path: &str, version: &str) -> bool {
        self.0.get(path).is_some_and(|hash| hash == version)
    }
}

/// Every file under `dir`, in any folder, with its name there (its relative path, with `/`).
pub fn files_under(dir: &Path) -> std::io::Result<Vec<(String, std::path::PathBuf)>> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                files.push((relative.to_string_lossy().replace('\\', "/"), path));
            }
        }
    }
    Ok(files)
}

/// Templates write `{{ static_url(path="site.css") }}`.
pub fn register(tera: &mut tera::Tera, hashes: StaticHashes) {
    tera.register_function("static_url", move |args: &HashMap<String, tera::Value>| {
        let path =
            args.get("path").and_then(|p| p.as_str()).ok_or_else(|| tera::Error::msg("static_url needs path"))?;
        Ok(tera::Value::String(hashes.url(path)))
    });
}

/// Cache headers for `/static/…`: a year for the current hash, an hour otherwise.
pub async fn cache_headers(hashes: StaticHashes, request: Request, next: Next) -> Response {
    let path = request.uri().path().trim_start_matches("/static/").trim_start_matches('/').to_string();
    let version = request.uri().query().and_then(|q| q.strip_prefix("v=")).map(str::to_string);
    let mut response = next.run(request).await;
    let current = version.is_some_and(|v| hashes.is_current(&path, &v));
    if response.status().is_success() {
        let value = if current { IMMUTABLE } else { UNVERSIONED };
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    response
}
