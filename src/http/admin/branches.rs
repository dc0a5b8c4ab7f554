//! Branches in the admin: the list, a branch with its standing orders, one issue's draw, returns
//! and shortages, payments, and its statement for a period (a page and a CSV). The work is in
//! `branches`.

use std::collections::HashMap;

use axum::{
    extract::{Path, Query, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{admin_context, StaffContext};
use crate::{
    branches::{self, BranchInput, IssueRecordInput, PaymentInput, StandingOrderInput},
    catalog, clock,
    error::{Error, FieldError},
    http::{error::PageError, extract::FormBody, redirect, render::render, routes::RecordingRouter, AppState},
    money::Money,
    orders::terms,
};

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    routes
        .get("/branches", list_page)
        .post("/branches", create_branch)
        .get("/branches/{id}", branch_page)
        .post("/branches/{id}", update_branch)
        .post("/branches/{id}/standing-orders", add_standing_order)
        .post("/branches/{id}/issues", record_issue)
        .post("/branches/{id}/payments", record_payment)
        .get("/branches/{id}/statement", statement_page)
        .get("/branches/{id}/statement.csv", statement_csv)
}

fn errors_of(problems: &[FieldError]) -> HashMap<&'static str, String> {
    problems.iter().map(|p| (p.field, p.message.clone())).collect()
}

async fn list(
    state: &AppState,
    ctx: &StaffContext,
    status: StatusCode,
    form: &BranchInput,
    problems: &[FieldError],
) -> Result<Response, PageError> {
    let mut context = admin_context(state, ctx, "Branches").await;
    context.insert("branches", &branches::branches(&state.db).await?);
    context.insert("form", form);
    context.insert("errors", &errors_of(problems));
    let mut response = render(state, "admin/branches.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

async fn list_page(State(state): State<AppState>, ctx: StaffContext) -> Result<Response, PageError> {
    list(&state, &ctx, StatusCode::OK, &BranchInput::default(), &[]).await
}

async fn create_branch(
    State(state): State<AppState>,
    ctx: StaffContext,
    FormBody(form): FormBody<BranchInput>,
) -> Result<Response, PageError> {
    match branches::save_branch(&state.db, None, &form, &ctx.actor(), clock::now()).await {
        Ok(id) => Ok(redirect::to(&format!("/admin/branches/{id}"))),
        Err(Error::Fields(problems)) => list(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &form, &problems).await,
        Err(other) => Err(PageError(other)),
    }
}

/// The branch page; `form` names the form a mistake was made in, with what was typed.
async fn page(
    state: &AppState,
    ctx: &StaffContext,
    id: &str,
    status: StatusCode,
    form: Option<(&str, serde_json::Value)>,
    problems: &[FieldError],
) -> Result<Response, PageError> {
    let branch = branches::find_branch(&state.db, id).await?;
    let mut context = admin_context(state, ctx, &branch.name).await;
    let standing: Vec<_> = branches::standing_orders(&state.db, id)
        .await?
        .into_iter()
        .map(|o| {
            let price = Money::new(o.price_per_copy, state.currency()).display();
            (o.publication.clone(), o.copies, price, o.describe_from(), o.describe_to())
        })
        .collect();
    let issues: Vec<(String, String)> =
        catalog::published_issues(&state.db, None).await?.iter().map(|i| (i.sku.clone(), i.name())).collect();
    context.insert("branch", &branch);
    context.insert("standing", &standing);
    context.insert("issues", &issues);
    context.insert("publications", &catalog::publications(&state.db).await?);
    context.insert("failed_form", &form.as_ref().map(|f| f.0));
    context.insert("typed", &form.map_or(serde_json::json!({}), |f| f.1));
    context.insert("errors", &errors_of(problems));
    let now = terms::period_at(clock::now());
    context.insert("statement_from", &month_text(now - 2));
    context.insert("statement_to", &month_text(now));
    let mut response = render(state, "admin/branch.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

fn month_text(period: i64) -> String {
    let (year, month) = terms::year_month(period);
    format!("{year:04}-{month:02}")
}

async fn branch_page(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    page(&state, &ctx, &id, StatusCode::OK, None, &[]).await
}

/// After a form of the branch page: back to it, or the page again with the mistakes.
async fn after(
    state: &AppState,
    ctx: &StaffContext,
    id: &str,
    result: Result<(), Error>,
    form: &str,
    typed: serde_json::Value,
    done: &str,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => {
            ctx.flash(done).await;
            Ok(redirect::to(&format!("/admin/branches/{id}")))
        }
        Err(Error::Fields(problems)) => {
            page(state, ctx, id, StatusCode::UNPROCESSABLE_ENTITY, Some((form, typed)), &problems).await
        }
        Err(other) => Err(PageError(other)),
    }
}

async fn update_branch(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
    FormBody(form): FormBody<BranchInput>,
) -> Result<Response, PageError> {
    let result = branches::save_branch(&state.db, Some(&id), &form, &ctx.actor(), clock::now()).await.map(|_| ());
    after(&state, &ctx, &id, result, "branch", serde_json::json!(form), "Saved the branch.").await
}

async fn add_standing_order(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
    FormBody(form): FormBody<StandingOrderInput>,
) -> Result<Response, PageError> {
    let result =
        branches::add_standing_order(&state.db, &id, &form, state.currency(), &ctx.actor(), clock::now()).await;
    after(&state, &ctx, &id, result, "standing", serde_json::json!(form), "Standing order added.").await
}

async fn record_issue(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
    FormBody(form): FormBody<IssueRecordInput>,
) -> Result<Response, PageError> {
    let result = branches::record_issue(&state.db, &id, &form, &ctx.actor(), clock::now()).await;
    after(&state, &ctx, &id, result, "issue", serde_json::json!(form), "Recorded.").await
}

async fn record_payment(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
    FormBody(form): FormBody<PaymentInput>,
) -> Result<Response, PageError> {
    let result = branches::record_payment(&state.db, &id, &form, state.currency(), &ctx.actor(), clock::now()).await;
    after(&state, &ctx, &id, result, "payment", serde_json::json!(form), "Payment recorded.").await
}

#[derive(Deserialize)]
struct PeriodQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

fn period_of(query: &PeriodQuery) -> Result<(i64, i64), Error> {
    match (terms::parse_month(&query.from), terms::parse_month(&query.to)) {
        (Some(from), Some(to)) if from <= to && to - from < 120 => Ok((from, to)),
        _ => {
            Err(Error::bad_request("bad_period", "Give the statement's months as yyyy-mm, the first before the last."))
        }
    }
}

async fn statement_page(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
    Query(query): Query<PeriodQuery>,
) -> Result<Response, PageError> {
    let branch = branches::find_branch(&state.db, &id).await?;
    let (from, to) = period_of(&query)?;
    let statement = branches::statement(&state.db, &id, from, to).await?;
    let money = |cents: i64| Money::new(cents, state.currency()).display();
    let mut context = admin_context(&state, &ctx, &format!("Statement: {}", branch.name)).await;
    let lines: Vec<_> = statement
        .lines
        .iter()
        .map(|l| (l.publication.clone(), terms::describe(l.period), l.sent, l.returned, l.short, l.net, money(l.owed)))
        .collect();
    let payments: Vec<_> = statement.payments.iter().map(|p| (p.0.clone(), money(p.1), p.2.clone())).collect();
    context.insert("branch", &branch);
    context.insert("lines", &lines);
    context.insert("payments", &payments);
    context.insert("totals", &(statement.sent, statement.returned, statement.net));
    context.insert("owed", &money(statement.owed));
    context.insert("paid", &money(statement.paid));
    context.insert("balance", &money(statement.balance));
    context.insert("period", &(terms::describe(from), terms::describe(to), query.from.clone(), query.to.clone()));
    Ok(render(&state, "admin/branch_statement.html", &context)?.into_response())
}

async fn statement_csv(
    State(state): State<AppState>,
    _ctx: StaffContext,
    Path(id): Path<String>,
    Query(query): Query<PeriodQuery>,
) -> Result<Response, PageError> {
    branches::find_branch(&state.db, &id).await?;
    let (from, to) = period_of(&query)?;
    let statement = branches::statement(&state.db, &id, from, to).await?;
    let amount = |cents: i64| Money::new(cents, state.currency()).to_decimal().to_string();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut write = || -> csv::Result<()> {
        writer.write_record(["issue", "publication", "sent", "returned", "short", "net", "owed"])?;
        for l in &statement.lines {
            writer.write_record([
                terms::describe(l.period),
                l.publication.clone(),
                l.sent.to_string(),
                l.returned.to_string(),
                l.short.to_string(),
                l.net.to_string(),
                amount(l.owed),
            ])?;
        }
        for (day, paid, reference) in &statement.payments {
            let note = format!("payment {}", reference.as_deref().unwrap_or(""));
            writer.write_record([
                day.clone(),
                note.trim().to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                format!("-{}", amount(*paid)),
            ])?;
        }
        writer.write_record([
            "balance".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            amount(statement.balance),
        ])
    };
    write().map_err(|e| Error::Internal(e.into()))?;
    let bytes = writer.into_inner().map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"statement-{}-{}.csv\"", query.from, query.to),
            ),
        ],
        bytes,
    )
        .into_response())
}
