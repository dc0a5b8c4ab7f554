//! Uploaded covers, served so that nothing in them can run: an SVG gets a sandboxing policy.

use axum::{
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
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
    let bytes = FileStore::new(&state.config.data_dir.join("media")).read(&key).await.map_err(Error::Internal)?.ok_or_else(not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, kind.content_type()),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; sandbox"),
        ],
        bytes,
    )
        .into_response())
}
