//! The policy pages staff write in Markdown (`/admin/pages`): contact, shipping, refunds,
//! privacy, terms. Admins only: these are what the shop promises its readers.

use crate::http::redirect;
use axum::{
    extract::{Path, State},
    handler::Handler,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{admin_context, StaffContext};
use crate::{
    clock,
    error::{Error, FieldError},
    http::{error::PageError, extract::FormBody, render::render, routes::RecordingRouter, AppState},
    policies::{self, Policy},
};

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    // A page's form is larger than the shop's usual limit: 20,000 characters, URL-encoded.
    let save = save.layer(axum::extract::DefaultBodyLimit::max(256 * 1024));
    routes.get("/pages", list).get("/pages/{slug}", edit_form).post("/pages/{slug}", save)
}

async fn list(State(state): State<AppState>, ctx: StaffContext) -> Result<Response, PageError> {
    let mut context = admin_context(&state, &ctx, "Pages").await;
    context.insert("pages", &policies::pages(&state.db).await?);
    context.insert("contact", &crate::settings::shop_contact(&state.db).await?);
    Ok(render(&state, "admin/pages.html", &context)?.into_response())
}

fn policy_of(slug: &str) -> Result<Policy, Error> {
    Policy::parse(slug).ok_or_else(|| Error::not_found("page_not_found", "There is no such page."))
}

async fn form_page(
    state: &AppState,
    ctx: &StaffContext,
    policy: Policy,
    markdown: &str,
    status: StatusCode,
    problems: &[FieldError],
) -> Result<Response, PageError> {
    let mut context = admin_context(state, ctx, policy.title()).await;
    let page = policies::page(&state.db, policy).await?;
    context.insert("page", &page);
    context.insert("markdown", markdown);
    context.insert("preview", &crate::markdown::to_html(markdown));
    context.insert("starting_text", policy.starting_text());
    context.insert("max_chars", &policies::MAX_CHARS);
    context.insert("error", &problems.first().map(|p| p.message.as_str()));
    let mut response = render(state, "admin/page_form.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

async fn edit_form(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let policy = policy_of(&slug)?;
    let page = policies::page(&state.db, policy).await?;
    form_page(&state, &ctx, policy, &page.markdown, StatusCode::OK, &[]).await
}

#[derive(Deserialize)]
struct PageForm {
    #[serde(default)]
    markdown: String,
}

async fn save(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(slug): Path<String>,
    FormBody(form): FormBody<PageForm>,
) -> Result<Response, PageError> {
    ctx.require_admin()?;
    let policy = policy_of(&slug)?;
    match policies::save(&state.db, policy, &form.markdown, &ctx.actor(), clock::now()).await {
        Ok(()) => {
            // This instance's footer at once; the others' within a second.
            if let Err(error) = state.policy_links.refresh(&state.db).await {
                tracing::warn!(error = %error, "policy links not refreshed after a save");
            }
            let said = if form.markdown.trim().is_empty() {
                format!("{} is taken down: it is no longer shown or linked.", policy.title())
            } else {
                format!("{} is saved and shown at /{}.", policy.title(), policy.slug())
            };
            ctx.flash(said).await;
            Ok(redirect::to("/admin/pages"))
        }
        Err(Error::Fields(problems)) => {
            form_page(&state, &ctx, policy, &form.markdown, StatusCode::UNPROCESSABLE_ENTITY, &problems).await
        }
        Err(error) => Err(error.into()),
    }
}
