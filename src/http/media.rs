//! Uploaded covers, served so that nothing in them can run: an SVG gets a sandboxing policy.
//! When the media store cannot be reached, a cover is a placeholder, so pages still look whole.

use axum::{
    extract::{Path, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use super::{error::PageError, AppState};
use crate::{
    error::Error,
    storage::{is_valid_key, FileKind, StoredFile},
};

pub fn router() -> Router<AppState> {
    Router::new().route("/media/{*key}", get(media))
}

/// Drawn in place of a cover the store could not give: the cover's shape, the shop's colours.
const PLACEHOLDER_COVER: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 400" width="300" height="400" role="img" aria-label="Cover not available just now"><rect width="300" height="400" fill="#f3efe6"/><rect x="12" y="12" width="276" height="376" fill="none" stroke="#b8b0a0" stroke-width="2"/><text x="150" y="200" text-anchor="middle" font-family="Georgia, serif" font-size="20" fill="#6b6355">Cover not</text><text x="150" y="228" text-anchor="middle" font-family="Georgia, serif" font-size="20" fill="#6b6355">available just now</text></svg>"##;

async fn media(State(state): State<AppState>, Path(key): Path<String>) -> Result<Response, PageError> {
    let not_found = || Error::not_found("not_found", "There is no such file.");
    // Only covers are public; PDFs are for digital subscribers (and staff).
    if !key.starts_with("covers/") || !is_valid_key(&key) {
        return Err(not_found().into());
    }
    let kind = FileKind::from_key(&key).filter(|k| *k != FileKind::Pdf).ok_or_else(not_found)?;
    let file = match state.media.open_file(&key).await {
        Ok(found) => found.ok_or_else(not_found)?,
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), key, "media store unreachable: placeholder cover served");
            return Ok(placeholder_cover());
        }
    };
    let mut response = stream(file);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind.content_type()));
    // An upload's key is new each time (a random part), so what a key names never changes.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(super::static_files::IMMUTABLE));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(SANDBOX));
    Ok(response)
}

const SANDBOX: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/// Never kept by a browser or proxy: the real cover is served as soon as the store answers.
fn placeholder_cover() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, SANDBOX),
        ],
        PLACEHOLDER_COVER,
    )
        .into_response()
}

/// A stored file as a streamed response (read from the store as it is sent, never whole into memory).
pub fn stream(file: StoredFile) -> Response {
    let mut response = axum::body::Body::from_stream(file.stream).into_response();
    response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    response
}

/// A stored file from the media store, or 404 with `missing`'s words; the store failing is an
/// upstream failure (502), said plainly.
pub async fn open_stored(state: &AppState, key: &str, missing: fn() -> Error) -> Result<StoredFile, Error> {
    state.media.open_file(key).await.map_err(storage_unreachable)?.ok_or_else(missing)
}

pub fn storage_unreachable(error: anyhow::Error) -> Error {
    tracing::error!(error = format!("{error:#}"), "media store");
    Error::Upstream {
        code: "media_storage_unavailable",
        message: "The shop cannot reach its file storage just now. Nothing was changed: please try again in a \
                  few minutes."
            .into(),
    }
}
