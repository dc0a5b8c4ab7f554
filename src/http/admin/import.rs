//! `/admin/import`: the subscriber list as a CSV upload, checked (a dry run) or imported (admins
//! only). The work is `orders::import`; this page takes the file and shows the report.

use axum::{
    extract::{DefaultBodyLimit, Multipart, State},
    handler::Handler,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::{admin_context, StaffContext};
use crate::{
    clock,
    error::Error,
    http::{error::PageError, render::render, routes::RecordingRouter, AppState},
    orders::import::{self, ImportReport},
};

/// A list of 100,000 subscribers is about 15 MB of CSV.
const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// An import of a large list may take longer than an ordinary request's 30 seconds.
pub const IMPORT_ROUTE: &str = "/admin/import";

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    routes.get("/import", import_page).post("/import", upload.layer(DefaultBodyLimit::max(MAX_FILE_BYTES + 64 * 1024)))
}

async fn page(
    state: &AppState,
    ctx: &StaffContext,
    status: StatusCode,
    report: Option<&ImportReport>,
) -> Result<Response, PageError> {
    let mut context = admin_context(state, ctx, "Import subscribers").await;
    context.insert("report", &report);
    context.insert("columns", &import::COLUMNS);
    context.insert("max_rows", &import::MAX_ROWS);
    let mut response = render(state, "admin/import.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

async fn import_page(State(state): State<AppState>, ctx: StaffContext) -> Result<Response, PageError> {
    page(&state, &ctx, StatusCode::OK, None).await
}

fn unreadable(error: axum::extract::multipart::MultipartError) -> Error {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge {
            code: "file_too_large",
            message: format!(
                "The file is larger than {} MB: split it and import the parts one after another.",
                MAX_FILE_BYTES / 1024 / 1024
            ),
        }
    } else {
        Error::bad_request("bad_upload", "The upload could not be read.")
    }
}

/// The form's `file` and `mode` (`check` or `import`), read whole (within the body limit).
async fn upload(
    State(state): State<AppState>,
    ctx: StaffContext,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    ctx.require_admin()?;
    let (mut file, mut mode) = (None, None);
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("file") => file = Some(field.bytes().await.map_err(unreadable)?),
            Some("mode") => mode = Some(field.text().await.map_err(unreadable)?),
            _ => {}
        }
    }
    let file =
        file.filter(|f| !f.is_empty()).ok_or_else(|| Error::invalid("no_file", "Choose a CSV file to import."))?;
    let dry_run = mode.as_deref() != Some("import");
    let report = import::import_subscribers(
        &state.db,
        std::io::Cursor::new(file),
        dry_run,
        state.currency(),
        &ctx.actor(),
        clock::now(),
    )
    .await?;
    if report.imported {
        ctx.flash(format!("Imported {} subscriptions.", report.new)).await;
    }
    let status = if report.problems.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page(&state, &ctx, status, Some(&report)).await
}
