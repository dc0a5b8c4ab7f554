//! Shop-wide settings staff edit: the shop's postal address and contact email (on receipts).

use crate::http::redirect;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{admin_context, StaffContext};
use crate::{
    clock,
    error::{Error, FieldError},
    http::{error::PageError, extract::FormBody, render::render, routes::RecordingRouter, AppState},
    orders::labels::LabelSheet,
    settings::{self, ShopContact},
};

#[derive(Deserialize)]
struct LabelSheetForm {
    #[serde(default)]
    label_sheet: String,
}

async fn save_label_sheet(
    State(state): State<AppState>,
    ctx: StaffContext,
    FormBody(form): FormBody<LabelSheetForm>,
) -> Result<Response, PageError> {
    ctx.require_admin()?;
    let sheet = LabelSheet::parse(&form.label_sheet)
        .ok_or_else(|| Error::Fields(vec![FieldError::new("label_sheet", "Choose one of the label sheets listed.")]))?;
    settings::set_label_sheet(&state.db, sheet, &ctx.actor(), clock::now()).await?;
    ctx.flash(format!("Mailing labels are now printed for {}.", sheet.describe())).await;
    Ok(redirect::to("/admin/settings"))
}

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    routes.get("/settings", settings_page).post("/settings", save).post("/settings/labels", save_label_sheet)
}

#[derive(Deserialize, Serialize, Default)]
struct ContactForm {
    #[serde(default)]
    postal_address: String,
    #[serde(default)]
    email: String,
}

async fn page(
    state: &AppState,
    ctx: &StaffContext,
    status: StatusCode,
    form: &ContactForm,
    problems: &[FieldError],
) -> Result<Response, PageError> {
    let mut context = admin_context(state, ctx, "Settings").await;
    context.insert("form", form);
    let errors: std::collections::HashMap<&str, &str> =
        problems.iter().map(|p| (p.field, p.message.as_str())).collect();
    context.insert("errors", &errors);
    let sheet = settings::label_sheet(&state.db).await?;
    context.insert("label_sheet", sheet.as_str());
    context.insert("label_sheets", &[LabelSheet::Avery5160, LabelSheet::L7160].map(|s| (s.as_str(), s.describe())));
    let mut response = render(state, "admin/settings.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

async fn settings_page(State(state): State<AppState>, ctx: StaffContext) -> Result<Response, PageError> {
    let contact = settings::shop_contact(&state.db).await?;
    let form = ContactForm { postal_address: contact.postal_address, email: contact.email };
    page(&state, &ctx, StatusCode::OK, &form, &[]).await
}

async fn save(
    State(state): State<AppState>,
    ctx: StaffContext,
    FormBody(form): FormBody<ContactForm>,
) -> Result<Response, PageError> {
    ctx.require_admin()?;
    match ShopContact::parse(&form.postal_address, &form.email) {
        Ok(contact) => {
            settings::set_shop_contact(&state.db, &contact, &ctx.actor(), clock::now()).await?;
            ctx.flash("Saved: receipts now show this address.").await;
            Ok(redirect::to("/admin/settings"))
        }
        Err(problems) => {
            let status = super::super::error::status_of(&Error::Fields(problems.clone()));
            page(&state, &ctx, status, &form, &problems).await
        }
    }
}
