//! Uploaded covers, served so that nothing in them can run: an SVG gets a sandboxing policy.

use axum::{
    extract::{Path, State},
    http::{header, HeaderValue},
    response::Response,
    routing::get,
    Router,
};

use super::{error::PageError, AppState};
use crate::{
    error::Error,
    storage::{is_valid_key, FileKind, FileStore},
};

pub fn router() -> Router<AppState> {
    Router::new().route("/media/{*key}", get(media))
}

async fn media(State(state): State<AppState>, Path(key): Path<String>) -> Result<Response, PageError> {
    let not_found = || Error::not_found("not_found", "There is no such file.");
    // Only covers are public; PDFs are for digital subscribers (and staff).
    if !key.starts_with("covers/") || !is_valid_key(&key) {
        return Err(not_found().into());
    }
    let kind = FileKind::from_key(&key).filter(|k| *k != FileKind::Pdf).ok_or_else(not_found)?;
    let (path, _) = FileStore::new(&state.config.data_dir.join("media"))
        .locate(&key)
        .await
        .map_err(Error::Internal)?
        .ok_or_else(not_found)?;
    let mut response = stream_file(&path).await?;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind.content_type()));
    // An upload's key is new each time (a random part), so what a key names never changes.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(super::static_files::IMMUTABLE));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    Ok(response)
}

/// A stored file as a streamed response (read from disk as it is sent, never whole into memory).
pub async fn stream_file(path: &std::path::Path) -> Result<Response, Error> {
    let request = axum::http::Request::new(axum::body::Body::empty());
    let response = tower::ServiceExt::oneshot(tower_http::services::ServeFile::new(path), request)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("serving {}: {e}", path.display())))?;
    Ok(response.map(axum::body::Body::new))
}
