//! Staff accounts (admins only), the second-factor rule, and the audit log.

use crate::http::redirect;
use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{admin_context, datetime, StaffContext};
use crate::{
    audit, clock,
    error::Error,
    http::{error::PageError, extract::FormBody, render::render, routes::RecordingRouter, AppState},
    staff::{
        self as staff_settings,
        accounts::{self as staff, Role},
    },
};

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    routes
        .get("/staff", list)
        .post("/staff", add)
        .post("/staff/{id}/disable", disable)
        .post("/staff/{id}/enable", enable)
        .post("/staff/two-factor", require_two_factor)
        .get("/audit", audit_log)
}

async fn list(State(state): State<AppState>, ctx: StaffContext) -> Result<Response, PageError> {
    ctx.require_admin()?;
    let mut context = admin_context(&state, &ctx, "Staff").await;
    context.insert("members", &staff::list(&state.db).await?);
    context.insert("required", &staff_settings::two_factor_required(&state.db).await?);
    Ok(render(&state, "admin/staff.html", &context)?.into_response())
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

async fn add(
    State(state): State<AppState>,
    ctx: StaffContext,
    FormBody(form): FormBody<AddForm>,
) -> Result<Response, PageError> {
    ctx.require_admin()?;
    let role = if form.role == "admin" { Role::Admin } else { Role::Staff };
    let now = clock::now();
    let (member, token) = staff::add(&state.db, &form.email, role, None, &ctx.actor(), now).await?;
    if let Some(token) = token {
        ctx.flash(format!(
            "{} added. Send them this one-time link to set a password (valid for a day): {}/admin/set-password/{token}",
            member.email,
            state.config.base()
        ))
        .await;
    }
    Ok(redirect::to("/admin/staff"))
}

async fn set_disabled(state: &AppState, ctx: &StaffContext, id: &str, disabled: bool) -> Result<Response, PageError> {
    ctx.require_admin()?;
    let member = staff::find_by_id(&state.db, id)
        .await?
        .ok_or_else(|| Error::not_found("staff_not_found", "There is no such staff account."))?;
    if member.id == ctx.staff.id && disabled {
        return Err(PageError(Error::invalid("cannot_disable_self", "You cannot disable your own account.")));
    }
    staff::set_disabled(&state.db, &member.email, disabled, &ctx.actor(), clock::now()).await?;
    ctx.flash(format!(
        "{} {}.",
        member.email,
        if disabled { "disabled: signed out at their next request" } else { "enabled" }
    ))
    .await;
    Ok(redirect::to("/admin/staff"))
}

async fn disable(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    set_disabled(&state, &ctx, &id, true).await
}

async fn enable(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    set_disabled(&state, &ctx, &id, false).await
}

#[derive(Deserialize)]
struct RequireForm {
    #[serde(default)]
    required: Option<String>,
}

async fn require_two_factor(
    State(state): State<AppState>,
    ctx: StaffContext,
    FormBody(form): FormBody<RequireForm>,
) -> Result<Response, PageError> {
    ctx.require_admin()?;
    let required = form.required.is_some();
    staff_settings::set_two_factor_required(&state.db, required, &ctx.actor(), clock::now()).await?;
    ctx.flash(if required {
        "Everyone now needs a second factor to use the admin."
    } else {
        "A second factor is now optional."
    })
    .await;
    Ok(redirect::to("/admin/staff"))
}

/// The audit log, newest first: who changed what, the fields that changed (before and after), by
/// staff member, kind of record and day.
async fn audit_log(
    State(state): State<AppState>,
    ctx: StaffContext,
    axum::extract::Query(filter): axum::extract::Query<audit::AuditFilter>,
) -> Result<Response, PageError> {
    let (entries, problems) = match audit::search(&state.db, &filter, 500).await {
        Ok(entries) => (entries, vec![]),
        Err(crate::error::Error::Fields(problems)) => (vec![], problems),
        Err(error) => return Err(error.into()),
    };
    let rows: Vec<_> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "when": datetime(e.at), "who": e.staff_email, "what": e.what(), "record": e.record(),
                "changes": e.changes(),
            })
        })
        .collect();
    let (staff, kinds) = audit::filter_choices(&state.db).await?;
    let mut context = admin_context(&state, &ctx, "Audit log").await;
    context.insert("entries", &rows);
    context.insert("filter", &filter);
    context.insert("staff_choices", &staff);
    context.insert("kind_choices", &kinds);
    let errors: std::collections::HashMap<&str, &str> =
        problems.iter().map(|p| (p.field, p.message.as_str())).collect();
    context.insert("errors", &errors);
    let mut response = render(&state, "admin/audit.html", &context)?.into_response();
    if !problems.is_empty() {
        *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}
