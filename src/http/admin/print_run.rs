//! An issue's print run (`/admin/issues/{sku}/print-run`) and its mailing labels as a PDF
//! (`/admin/issues/{sku}/labels.pdf`), for the label sheets chosen in the settings.

use axum::{
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
};

use super::{admin_context, datetime, StaffContext};
use crate::{
    catalog::{self, Issue},
    error::Error,
    http::{error::PageError, render::render, routes::RecordingRouter, AppState},
    orders::{labels, print_run, terms},
    settings,
};

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    routes.get("/issues/{sku}/print-run", print_run_page).get("/issues/{sku}/labels.pdf", labels_pdf)
}

async fn issue(state: &AppState, sku: &str) -> Result<Issue, Error> {
    catalog::issue_any(&state.db, sku)
        .await?
        .ok_or_else(|| Error::not_found("issue_not_found", "There is no such issue."))
}

/// The issue, its print run, the label sheets chosen and its labels.
async fn issue_run(
    state: &AppState,
    sku: &str,
) -> Result<(Issue, print_run::PrintRun, labels::LabelSheet, Vec<labels::Label>), Error> {
    let issue = issue(state, sku).await?;
    let run = print_run::print_run(&state.db, &issue.publication, issue.year, issue.month, state.currency()).await?;
    let sheet = settings::label_sheet(&state.db).await?;
    let all_labels = labels::labels_for(&run.list.entries, terms::period(issue.year, issue.month), run.step);
    Ok((issue, run, sheet, all_labels))
}

async fn print_run_page(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(sku): Path<String>,
) -> Result<Response, PageError> {
    let (issue, run, sheet, all_labels) = issue_run(&state, &sku).await?;
    let mut context = admin_context(&state, &ctx, &format!("Print run: {}", issue.name())).await;
    context.insert("issue", &(issue.sku.clone(), issue.name()));
    context.insert("run", &run);
    context.insert("closed", &run.list.closure.as_ref().map(|c| (datetime(c.closed_at), c.closed_by.clone())));
    context.insert("labels", &all_labels.len());
    context.insert("sheets", &all_labels.len().div_ceil(sheet.per_sheet()));
    context.insert("sheet", sheet.describe());
    context.insert("last_issue", &all_labels.iter().filter(|l| l.mark.as_deref() == Some("LAST ISSUE")).count());
    context.insert("too_long", &labels::too_long(&all_labels, sheet).map_err(Error::Internal)?);
    Ok(render(&state, "admin/print_run.html", &context)?.into_response())
}

async fn labels_pdf(
    State(state): State<AppState>,
    _ctx: StaffContext,
    Path(sku): Path<String>,
) -> Result<Response, PageError> {
    let (issue, _, sheet, all_labels) = issue_run(&state, &sku).await?;
    let title = format!("Mailing labels: {}", issue.name());
    // Setting a few thousand labels takes a moment of CPU: off the request threads.
    let pdf = tokio::task::spawn_blocking(move || labels::labels_pdf(&all_labels, sheet, &title))
        .await
        .map_err(|e| Error::Internal(e.into()))?
        .map_err(Error::Internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"labels-{sku}.pdf\"")),
        ],
        pdf,
    )
        .into_response())
}
