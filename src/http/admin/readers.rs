//! A reader's data for staff answering a request made by post or email: what the shop holds about
//! an email, its download as JSON and its erasure, both audited.

use crate::http::redirect;
use axum::{
    extract::{Query, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{admin_context, StaffContext};
use crate::{
    accounts, clock,
    email::EmailAddress,
    error::Error,
    http::{error::PageError, render::render, routes::RecordingRouter, AppState},
};

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    routes.get("/readers", reader).get("/readers/data.json", data_export).post("/readers/erase", erase)
}

#[derive(Deserialize, Serialize, Default)]
struct ReaderQuery {
    #[serde(default)]
    email: String,
}

/// The email typed, parsed and normalised; a mistake is the reader's page with a message.
fn reader_email(typed: &str) -> Result<String, Error> {
    Ok(EmailAddress::parse(typed)?.normalized().to_string())
}

async fn reader(
    State(state): State<AppState>,
    ctx: StaffContext,
    Query(query): Query<ReaderQuery>,
) -> Result<Response, PageError> {
    let mut context = admin_context(&state, &ctx, "Readers' data").await;
    context.insert("query", &query);
    if !query.email.trim().is_empty() {
        match reader_email(&query.email) {
            Ok(email) => {
                let now = clock::now();
                context.insert("email_query", &super::url_escape(&email));
                context.insert("account", &accounts::overview(&state.db, &email, now).await?);
                context.insert("warning", &accounts::erasure_warning(&state.db, &email, now).await?);
            }
            Err(error) => context.insert("error", &error.public_message()),
        }
    }
    Ok(render(&state, "admin/readers.html", &context)?.into_response())
}

async fn data_export(
    State(state): State<AppState>,
    ctx: StaffContext,
    Query(query): Query<ReaderQuery>,
) -> Result<Response, PageError> {
    let email = reader_email(&query.email)?;
    let data = accounts::export_for_staff(&state.db, &email, &ctx.actor(), clock::now()).await?;
    let mut response = axum::Json(data).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"reader-data.json\""));
    Ok(response)
}

#[derive(Deserialize)]
struct EraseForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    confirm: String,
}

async fn erase(
    State(state): State<AppState>,
    ctx: StaffContext,
    crate::http::extract::FormBody(form): crate::http::extract::FormBody<EraseForm>,
) -> Result<Response, PageError> {
    let email = reader_email(&form.email)?;
    let back = format!("/admin/readers?email={}", super::url_escape(&form.email));
    if form.confirm != "yes" {
        ctx.flash("Nothing was erased: tick the box to confirm.").await;
        return Ok(redirect::to(&back));
    }
    let erased = accounts::erase(&state.db, &email, &ctx.actor(), clock::now()).await?;
    ctx.flash(format!(
        "Erased: {} orders and {} subscriptions now carry {} instead of the reader's email, name and addresses.",
        erased.orders, erased.subscriptions_ended, erased.pseudonym
    ))
    .await;
    Ok(redirect::to("/admin/readers"))
}
