//! Orders, subscribers and the print mailing list in the admin.

use crate::http::redirect;
use axum::{
    extract::{Path, Query, State},
    http::header,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{admin_context, datetime, StaffContext};
use crate::{
    catalog::{self, IssueRef},
    error::Error,
    http::{error::PageError, extract::FormBody, render::render, routes::RecordingRouter, AppState},
    orders::{self, staff::OrderFilter, terms},
    payments,
};

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    routes
        .get("/orders", list)
        .get("/orders/{id}", detail)
        .get("/orders/{id}/refund", refund_question)
        .post("/orders/{id}/refund", refund)
        .get("/subscribers", subscribers)
        .get("/mailing-list", mailing_list)
        .get("/mailing-list/{file}", mailing_list_csv)
        .post("/mailing-list/{sku}/close", close_mailing_list)
}

#[derive(Deserialize, Serialize, Default)]
struct OrderQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    email: String,
}

#[derive(Serialize)]
struct OrderRow {
    id: String,
    created: String,
    email: String,
    status: String,
    total: String,
    coupon: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    ctx: StaffContext,
    Query(query): Query<OrderQuery>,
) -> Result<Response, PageError> {
    let filter = OrderFilter {
        status: Some(query.status.clone()).filter(|s| !s.is_empty()),
        from: crate::clock::day_start(&query.from),
        to: crate::clock::day_start(&query.to).map(|t| t + 86_400),
        email: Some(query.email.clone()).filter(|e| !e.trim().is_empty()),
    };
    let rows: Vec<OrderRow> = orders::staff::list_orders(&state.db, &filter)
        .await?
        .into_iter()
        .map(|o| OrderRow {
            created: datetime(o.created_at),
            total: o.money(o.total).display(),
            status: o.status_label().to_string(),
            id: o.id,
            email: o.email,
            coupon: o.coupon_code,
        })
        .collect();
    let mut context = admin_context(&state, &ctx, "Orders").await;
    context.insert("orders", &rows);
    context.insert("query", &query);
    Ok(render(&state, "admin/orders.html", &context)?.into_response())
}

async fn find(state: &AppState, id: &str) -> Result<orders::Order, Error> {
    let not_found = || Error::not_found("order_not_found", "There is no such order.");
    if id.len() > 64 {
        return Err(not_found());
    }
    orders::find_order(&state.db, id).await?.ok_or_else(not_found)
}

async fn detail(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let order = find(&state, &id).await?;
    let gifts = orders::gifts::gifts_of_order(&state.db, &id).await?;
    let lines: Vec<_> = orders::order_lines(&state.db, &id)
        .await?
        .into_iter()
        .map(|l| {
            (
                orders::gifts::line_title(&l, &gifts),
                l.quantity,
                order.money(l.unit_price),
                order.money(l.discount),
                order.money(l.line_total - l.discount),
            )
        })
        .collect();
    let subscriptions: Vec<_> = orders::subscriptions_of_order(&state.db, &id)
        .await?
        .into_iter()
        .map(|s| {
            let who = if s.email.is_empty() { s.name.clone() } else { format!("{} <{}>", s.name, s.email) };
            (s.first_issue(), s.last_issue(), s.status.clone(), format!("{} for {who}", s.title))
        })
        .collect();
    let mut context = admin_context(&state, &ctx, &format!("Order {}", &order.id[..8.min(order.id.len())])).await;
    context.insert("created", &datetime(order.created_at));
    context.insert("paid", &order.paid_at.map(datetime));
    context.insert("subtotal", &order.money(order.subtotal));
    context.insert("discount", &order.money(order.discount));
    context.insert("invoice_due", &order.invoice_due.map(crate::clock::long_date));
    context.insert("extras", &order.extra_charges_with_zones(&gifts));
    context.insert("total", &order.money(order.total));
    context.insert("email_query", &super::url_escape(&order.email));
    context.insert("order", &order);
    context.insert("lines", &lines);
    context.insert("subscriptions", &subscriptions);
    context.insert("refundable", &order.status.is_refundable());
    context.insert("status_label", order.status_label());
    Ok(render(&state, "admin/order.html", &context)?.into_response())
}

/// Before a refund runs: the amount, where it goes, and each subscription that ends with it.
async fn refund_question(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let order = find(&state, &id).await?;
    if !order.status.is_refundable() {
        return Ok(redirect::to(&format!("/admin/orders/{id}")));
    }
    let ending: Vec<_> = orders::subscriptions_of_order(&state.db, &id)
        .await?
        .into_iter()
        .filter(|s| s.status == "active")
        .map(|s| (s.title.clone(), s.first_issue(), s.last_issue()))
        .collect();
    let mut context = admin_context(&state, &ctx, "Refund this order?").await;
    context.insert("order", &order);
    context.insert("total", &order.money(order.total));
    context.insert("ending", &ending);
    Ok(render(&state, "admin/refund.html", &context)?.into_response())
}

#[derive(Deserialize)]
struct RefundForm {
    #[serde(default)]
    confirm: String,
}

async fn refund(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
    FormBody(form): FormBody<RefundForm>,
) -> Result<Response, PageError> {
    if form.confirm != "yes" {
        return Ok(redirect::to(&format!("/admin/orders/{id}/refund")));
    }
    let order = find(&state, &id).await?;
    payments::refund(&state.db, &state.payments, &order, &ctx.actor()).await?;
    ctx.flash("Refunded: the order's subscriptions have ended.").await;
    Ok(redirect::to(&format!("/admin/orders/{id}")))
}

pub(super) fn current_period() -> i64 {
    terms::period_at(crate::clock::now())
}

#[derive(Deserialize, Serialize, Default)]
struct SubscriberQuery {
    /// `active` (the default) or `ending` (within 60 days).
    #[serde(default)]
    view: String,
    #[serde(default)]
    email: String,
}

async fn subscribers(
    State(state): State<AppState>,
    ctx: StaffContext,
    Query(query): Query<SubscriberQuery>,
) -> Result<Response, PageError> {
    // 60 days from now reaches at most into the issue two months on.
    let ending = (query.view == "ending").then_some(2);
    let email = Some(query.email.as_str()).filter(|e| !e.trim().is_empty());
    let rows: Vec<_> = orders::staff::subscribers(&state.db, current_period(), ending, email)
        .await?
        .into_iter()
        .map(|s| {
            (
                s.email.clone(),
                s.name.clone(),
                s.publication.clone(),
                s.edition.clone(),
                s.first_issue(),
                s.last_issue(),
                s.order_id.clone(),
                s.ship_country.clone(),
            )
        })
        .collect();
    let mut context = admin_context(&state, &ctx, "Subscribers").await;
    context.insert("subscribers", &rows);
    context.insert("query", &query);
    Ok(render(&state, "admin/subscribers.html", &context)?.into_response())
}

#[derive(Deserialize, Default)]
struct IssueQuery {
    #[serde(default)]
    issue: String,
}

async fn mailing_list(
    State(state): State<AppState>,
    ctx: StaffContext,
    Query(query): Query<IssueQuery>,
) -> Result<Response, PageError> {
    let issues = catalog::all_issues(&state.db).await?;
    let mut context = admin_context(&state, &ctx, "Mailing list").await;
    context.insert("issues", &issues.iter().map(|i| (i.sku.clone(), i.name())).collect::<Vec<_>>());
    context.insert("chosen", &query.issue);
    if let Some(issue) = IssueRef::from_sku(&query.issue) {
        let list = orders::mailing_list::mailing_list(&state.db, &issue.publication, issue.year, issue.month).await?;
        context.insert("by_country", &orders::mailing_list::copies_by_country(&list.entries));
        context.insert("copies", &list.entries.iter().map(|e| e.copies).sum::<i64>());
        context.insert("entries", &list.entries);
        context.insert("closed", &list.closure.as_ref().map(|c| (datetime(c.closed_at), c.closed_by.clone())));
        context.insert("sold_since_closing", &list.sold_since_closing);
    }
    Ok(render(&state, "admin/mailing_list.html", &context)?.into_response())
}

async fn mailing_list_csv(
    State(state): State<AppState>,
    _ctx: StaffContext,
    Path(file): Path<String>,
) -> Result<Response, PageError> {
    let not_found = || Error::not_found("issue_not_found", "There is no such issue.");
    let sku = file.strip_suffix(".csv").ok_or_else(not_found)?;
    let issue = IssueRef::from_sku(sku).ok_or_else(not_found)?;
    catalog::issue_any(&state.db, sku).await?.ok_or_else(not_found)?;
    let run =
        orders::print_run::print_run(&state.db, &issue.publication, issue.year, issue.month, state.currency()).await?;
    let period = orders::terms::period(issue.year, issue.month);
    let csv = orders::mailing_list::mailing_csv(&run.list.entries, period, run.step).map_err(Error::Internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"mailing-list-{sku}.csv\"")),
        ],
        csv,
    )
        .into_response())
}

/// Closes an issue's mailing list: from then on its list and CSV never change.
async fn close_mailing_list(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(sku): Path<String>,
) -> Result<Response, PageError> {
    let not_found = || Error::not_found("issue_not_found", "There is no such issue.");
    let issue = catalog::issue_any(&state.db, &sku).await?.ok_or_else(not_found)?;
    let closed = orders::mailing_list::close(&state.db, &issue, &ctx.actor(), crate::clock::now()).await?;
    ctx.flash(if closed {
        format!("The mailing list of {} is closed: it will not change again. Address changes now apply from the next issue.", issue.name())
    } else {
        format!("The mailing list of {} was already closed.", issue.name())
    })
    .await;
    Ok(redirect::to(&format!("/admin/mailing-list?issue={sku}")))
}
