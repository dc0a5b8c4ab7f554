//! Orders taken by staff: the form (`/admin/orders/new`), marking an invoice paid, and the
//! printable invoice. The work is `orders::staff_orders`.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::{admin_context, StaffContext};
use crate::{
    catalog, clock,
    error::{Error, FieldError},
    http::{error::PageError, extract::FormBody, redirect, render::render, routes::RecordingRouter, AppState},
    orders::{
        self,
        staff_orders::{self, StaffOrderInput, FORM_LINES},
    },
};

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    routes
        .get("/orders/new", new_order_page)
        .post("/orders/new", create_order)
        .post("/orders/{id}/paid", mark_paid)
        .get("/orders/{id}/invoice", invoice)
}

async fn form_page(
    state: &AppState,
    ctx: &StaffContext,
    status: StatusCode,
    form: &StaffOrderInput,
    problems: &[FieldError],
) -> Result<Response, PageError> {
    let products: Vec<(String, String)> =
        catalog::products(&state.db).await?.iter().map(|p| (p.sku().to_string(), p.name())).collect();
    let mut context = admin_context(state, ctx, "New order").await;
    let mut lines = form.lines.clone();
    lines.resize(FORM_LINES, (String::new(), "1".into()));
    context.insert("form", form);
    context.insert("lines", &lines);
    context.insert("products", &products);
    context.insert("methods", &staff_orders::PAYMENT_METHODS);
    context.insert("countries", &crate::postage::country_choices(&state.db, &state.config.home_country).await?);
    let mut errors: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    for p in problems {
        errors.entry(p.field).and_modify(|m| *m = format!("{m} {}", p.message)).or_insert_with(|| p.message.clone());
    }
    context.insert("errors", &errors);
    let mut response = render(state, "admin/order_form.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

async fn new_order_page(State(state): State<AppState>, ctx: StaffContext) -> Result<Response, PageError> {
    let form = StaffOrderInput {
        payment_method: "cheque".into(),
        request: uuid::Uuid::new_v4().simple().to_string(),
        ..Default::default()
    };
    form_page(&state, &ctx, StatusCode::OK, &form, &[]).await
}

/// The form's fields, the line rows (`sku_N`, `quantity_N`) gathered in order.
fn read_form(fields: Vec<(String, String)>) -> Result<StaffOrderInput, Error> {
    let mut lines = vec![(String::new(), String::new()); FORM_LINES];
    let mut rest = Vec::new();
    for (key, value) in fields {
        let row = |prefix: &str| {
            key.strip_prefix(prefix).and_then(|n| n.parse::<usize>().ok()).filter(|n| (1..=FORM_LINES).contains(n))
        };
        if let Some(n) = row("sku_") {
            lines[n - 1].0 = value;
        } else if let Some(n) = row("quantity_") {
            lines[n - 1].1 = value;
        } else {
            rest.push((key, value));
        }
    }
    let encoded = serde_urlencoded::to_string(&rest).map_err(|e| Error::Internal(e.into()))?;
    let mut input: StaffOrderInput = serde_urlencoded::from_str(&encoded)
        .map_err(|_| Error::bad_request("malformed_form", "The form could not be read. Please try again."))?;
    input.lines = lines;
    Ok(input)
}

async fn create_order(
    State(state): State<AppState>,
    ctx: StaffContext,
    FormBody(fields): FormBody<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let input = read_form(fields)?;
    match staff_orders::place_staff_order(&state.db, &input, state.currency(), &ctx.actor(), clock::now()).await {
        Ok(order) => {
            let status = if order.is_open_invoice() { "waiting for payment" } else { "paid" };
            ctx.flash(format!("Order placed for {} ({status}).", order.email)).await;
            Ok(redirect::to(&format!("/admin/orders/{}", order.id)))
        }
        Err(Error::Fields(problems)) => {
            form_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &input, &problems).await
        }
        Err(other) => Err(PageError(other)),
    }
}

#[derive(serde::Deserialize)]
struct PaidForm {
    #[serde(default)]
    reference: String,
}

async fn mark_paid(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
    FormBody(form): FormBody<PaidForm>,
) -> Result<Response, PageError> {
    let settled = staff_orders::mark_invoice_paid(&state.db, &id, &form.reference, &ctx.actor(), clock::now()).await?;
    ctx.flash(match settled {
        orders::Settled::Fulfilled => "Marked paid: the order is fulfilled.".to_string(),
        orders::Settled::AlreadySettled(status) => format!("This invoice was already settled ({status})."),
        other => format!("Not marked paid: {other:?}."),
    })
    .await;
    Ok(redirect::to(&format!("/admin/orders/{id}")))
}

async fn invoice(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let order = orders::find_order(&state.db, &id)
        .await?
        .filter(|o| o.payment_method.as_deref() == Some("invoice"))
        .ok_or_else(|| Error::not_found("order_not_found", "There is no such invoice."))?;
    let lines = orders::order_lines(&state.db, &id).await?;
    let mut context = admin_context(&state, &ctx, "Invoice").await;
    context.insert(
        "lines",
        &lines
            .iter()
            .map(|l| (l.title(), l.quantity, order.money(l.line_total - l.discount)))
            .chain(order.postage_label().map(|label| (label, 1, order.money(order.postage))))
            .collect::<Vec<_>>(),
    );
    context.insert("total", &order.money(order.total));
    context.insert("address", &order.shipping_address().map(|a| a.lines()).unwrap_or_default());
    context.insert("issued", &crate::clock::long_date(order.created_at));
    context.insert("due", &order.invoice_due.map(crate::clock::long_date));
    context.insert("order", &order);
    context.insert("shop", &crate::settings::shop_contact(&state.db).await?);
    Ok(render(&state, "admin/invoice.html", &context)?.into_response())
}
