//! Postage zones in the admin: countries and an amount per print copy mailed (admins only:
//! they are prices). Orders keep the postage they were placed with.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{admin_context, StaffContext};
use crate::{
    clock,
    error::{Error, FieldError},
    http::{error::PageError, extract::FormBody, redirect, render::render, routes::RecordingRouter, AppState},
    postage::{self, ZoneInput},
};

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    routes
        .get("/postage", postage_page)
        .post("/postage", create_zone)
        .post("/postage/{id}", update_zone)
        .post("/postage/{id}/delete", delete_zone)
}

#[derive(Deserialize)]
struct PageQuery {
    edit: Option<String>,
}

/// The zones, and the form: an existing zone's (`editing`) or a new one's.
async fn page(
    state: &AppState,
    ctx: &StaffContext,
    status: StatusCode,
    editing: Option<&str>,
    form: Option<&ZoneInput>,
    problems: &[FieldError],
) -> Result<Response, PageError> {
    let zones = postage::zones(&state.db, state.currency()).await?;
    let mut context = admin_context(state, ctx, "Postage").await;
    let editing_zone = editing.and_then(|id| zones.iter().find(|z| z.id == id));
    if editing.is_some() && editing_zone.is_none() {
        return Err(PageError(Error::not_found("unknown_zone", "There is no such postage zone.")));
    }
    let form = match (form, editing_zone) {
        (Some(form), _) => serde_json::json!({
            "name": form.name, "per_copy": form.per_copy, "countries": form.countries,
            "every_other_country": form.every_other_country.is_some(),
        }),
        (None, Some(zone)) => serde_json::json!({
            "name": zone.name, "per_copy": zone.per_copy.to_decimal().to_string(), "countries": zone.countries.join(", "),
            "every_other_country": zone.every_other_country,
        }),
        (None, None) => serde_json::json!({"name": "", "per_copy": "", "countries": "", "every_other_country": false}),
    };
    context.insert("zones", &zones);
    context.insert("editing", &editing_zone);
    context.insert("form", &form);
    let errors: std::collections::HashMap<&str, &str> =
        problems.iter().map(|p| (p.field, p.message.as_str())).collect();
    context.insert("errors", &errors);
    let mut response = render(state, "admin/postage.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

async fn postage_page(
    State(state): State<AppState>,
    ctx: StaffContext,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    page(&state, &ctx, StatusCode::OK, query.edit.as_deref(), None, &[]).await
}

async fn save(state: &AppState, ctx: &StaffContext, id: Option<&str>, form: &ZoneInput) -> Result<Response, PageError> {
    ctx.require_admin()?;
    match postage::save_zone(&state.db, id, form, state.currency(), &ctx.actor(), clock::now()).await {
        Ok(_) => {
            ctx.flash(format!("Saved the zone {}: new orders pay its postage.", form.name.trim())).await;
            Ok(redirect::to("/admin/postage"))
        }
        Err(Error::Fields(problems)) => {
            let status = crate::http::error::status_of(&Error::Fields(problems.clone()));
            page(state, ctx, status, id, Some(form), &problems).await
        }
        Err(other) => Err(PageError(other)),
    }
}

async fn create_zone(
    State(state): State<AppState>,
    ctx: StaffContext,
    FormBody(form): FormBody<ZoneInput>,
) -> Result<Response, PageError> {
    save(&state, &ctx, None, &form).await
}

async fn update_zone(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
    FormBody(form): FormBody<ZoneInput>,
) -> Result<Response, PageError> {
    save(&state, &ctx, Some(&id), &form).await
}

async fn delete_zone(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    ctx.require_admin()?;
    postage::delete_zone(&state.db, &id, state.currency(), &ctx.actor(), clock::now()).await?;
    ctx.flash("Deleted the zone: its countries cannot be sent print until another zone takes them.").await;
    Ok(redirect::to("/admin/postage"))
}
