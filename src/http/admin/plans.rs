//! Plans in the admin: each plan's standard price and the rates beside it (a reduced rate on the
//! honour system, a sustainer rate). Admins only: they are prices.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{admin_context, StaffContext};
use crate::{
    catalog::{
        self,
        rates::{self, RatesInput},
    },
    clock,
    error::{Error, FieldError},
    http::{error::PageError, extract::FormBody, redirect, render::render, routes::RecordingRouter, AppState},
};

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    routes.get("/plans", plans_page).post("/plans/{sku}", save_rates)
}

#[derive(Deserialize)]
struct PageQuery {
    edit: Option<String>,
}

async fn page(
    state: &AppState,
    ctx: &StaffContext,
    status: StatusCode,
    editing: Option<&str>,
    form: Option<&RatesInput>,
    problems: &[FieldError],
) -> Result<Response, PageError> {
    let plans = catalog::plans(&state.db).await?;
    let editing_plan = editing.and_then(|sku| plans.iter().find(|p| p.sku == sku));
    if editing.is_some() && editing_plan.is_none() {
        return Err(PageError(Error::not_found("unknown_plan", "There is no such plan on sale.")));
    }
    let mut context = admin_context(state, ctx, "Plans and rates").await;
    context.insert("plans", &plans);
    context.insert("editing", &editing_plan);
    context.insert("form", &form.cloned().or_else(|| editing_plan.map(RatesInput::of)));
    context.insert("default_wording", rates::DEFAULT_REDUCED_WORDING);
    let errors: std::collections::HashMap<&str, &str> =
        problems.iter().map(|p| (p.field, p.message.as_str())).collect();
    context.insert("errors", &errors);
    let mut response = render(state, "admin/plans.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

async fn plans_page(
    State(state): State<AppState>,
    ctx: StaffContext,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    page(&state, &ctx, StatusCode::OK, query.edit.as_deref(), None, &[]).await
}

async fn save_rates(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(sku): Path<String>,
    FormBody(form): FormBody<RatesInput>,
) -> Result<Response, PageError> {
    ctx.require_admin()?;
    let plan = catalog::find_plan(&state.db, &sku)
        .await?
        .ok_or_else(|| Error::not_found("unknown_plan", "There is no such plan on sale."))?;
    match rates::save_rates(&state.db, &plan, &form, &ctx.actor(), clock::now()).await {
        Ok(_) => {
            ctx.flash(format!("Saved the rates of {}: carts are priced at them from now on.", plan.name)).await;
            Ok(redirect::to("/admin/plans"))
        }
        Err(Error::Fields(problems)) => {
            page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, Some(&sku), Some(&form), &problems).await
        }
        Err(other) => Err(PageError(other)),
    }
}
