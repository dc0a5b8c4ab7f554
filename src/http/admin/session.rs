//! Signing in and out, setting a password from a one-time link, enrolling a second factor, and the dashboard.

use crate::http::redirect;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde::Deserialize;
use tower_sessions::Session;

use super::{admin_context, csrf_token, StaffContext, StaffSession, STAFF_KEY};
use crate::{
    clock,
    error::Error,
    http::{
        error::{status_of, PageError},
        extract::{FormBody, Visitor},
        render::{page_context, render},
        AppState,
    },
    staff::{self as staff_settings, accounts as staff},
};

pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(sign_in))
        .route("/set-password/{token}", get(set_password_page).post(set_password))
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only admin pages may be sent back to after signing in.
fn safe_next(next: &str) -> String {
    redirect::LocalPath::admin_next(next).as_str().to_string()
}

async fn login_form(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    email: &str,
    next: &str,
    error: Option<&Error>,
) -> Result<Response, PageError> {
    let mut context = page_context(state, "Staff sign-in");
    context.insert("csrf_token", &csrf_token(session).await?);
    context.insert("email", email);
    context.insert("next", &safe_next(next));
    context.insert("error", &error.map(|e| e.public_message()));
    let mut response = render(state, "admin/login.html", &context)?.into_response();
    *response.status_mut() = status;
    if let Some(Error::TooManyRequests { retry_after_secs, .. }) = error {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, (*retry_after_secs).into());
    }
    Ok(response)
}

async fn login_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<NextQuery>,
) -> Result<Response, PageError> {
    login_form(&state, &visitor.session, StatusCode::OK, "", &query.next, None).await
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

async fn sign_in(
    State(state): State<AppState>,
    visitor: Visitor,
    FormBody(form): FormBody<SignInForm>,
) -> Result<Response, PageError> {
    let now = clock::now();
    match staff::sign_in(&state.db, &form.email, &form.password, &form.code, &visitor.ip.to_string(), now).await {
        Ok(member) => {
            let session = &visitor.session;
            // A new session id at sign-in: an id planted before cannot be ridden afterwards.
            session.cycle_id().await.map_err(|e| Error::Internal(anyhow::anyhow!("session: {e}")))?;
            let _ = session.remove::<String>(super::CSRF_KEY).await;
            session
                .insert(STAFF_KEY, StaffSession { id: member.id, signed_in_at: now, seen_at: now })
                .await
                .map_err(|e| Error::Internal(anyhow::anyhow!("session: {e}")))?;
            Ok(redirect::to(&safe_next(&form.next)))
        }
        Err(Error::Internal(cause)) => Err(PageError(Error::Internal(cause))),
        Err(error) => {
            login_form(&state, &visitor.session, status_of(&error), &form.email, &form.next, Some(&error)).await
        }
    }
}

pub async fn sign_out(ctx: StaffContext) -> Result<Response, PageError> {
    let _ = ctx.session.remove::<StaffSession>(STAFF_KEY).await;
    let _ = ctx.session.remove::<String>(super::CSRF_KEY).await;
    ctx.session.cycle_id().await.map_err(|e| Error::Internal(anyhow::anyhow!("session: {e}")))?;
    Ok(redirect::to("/admin/login"))
}

async fn set_password_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let mut context = page_context(&state, "Set your password");
    context.insert("csrf_token", &csrf_token(&visitor.session).await?);
    context.insert("token", &token);
    context.insert("error", &None::<String>);
    Ok(render(&state, "admin/set_password.html", &context)?.into_response())
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
}

async fn set_password(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
    FormBody(form): FormBody<PasswordForm>,
) -> Result<Response, PageError> {
    match staff::set_password_with_token(&state.db, &token, &form.password, clock::now()).await {
        Ok(_) => Ok(redirect::to("/admin/login")),
        Err(Error::Internal(cause)) => Err(PageError(Error::Internal(cause))),
        Err(error) => {
            let mut context = page_context(&state, "Set your password");
            context.insert("csrf_token", &csrf_token(&visitor.session).await?);
            context.insert("token", &token);
            context.insert("error", &Some(error.public_message()));
            let mut response = render(&state, "admin/set_password.html", &context)?.into_response();
            *response.status_mut() = status_of(&error);
            Ok(response)
        }
    }
}

const PENDING_TOTP_KEY: &str = "totp_pending";

pub async fn two_factor_page(State(state): State<AppState>, ctx: StaffContext) -> Result<Response, PageError> {
    two_factor_form(&state, &ctx, None).await
}

async fn two_factor_form(state: &AppState, ctx: &StaffContext, error: Option<&Error>) -> Result<Response, PageError> {
    let secret = match ctx.session.get::<String>(PENDING_TOTP_KEY).await.ok().flatten() {
        Some(secret) => secret,
        None => {
            let secret = crate::staff::two_factor::new_totp_secret()?;
            let _ = ctx.session.insert(PENDING_TOTP_KEY, &secret).await;
            secret
        }
    };
    let url = crate::staff::two_factor::otpauth_url(&secret, &ctx.staff.email)?;
    let mut context = admin_context(state, ctx, "Two-factor sign-in").await;
    context.insert("secret", &secret);
    context.insert("otpauth_url", &url);
    context.insert("required", &staff_settings::two_factor_required(&state.db).await?);
    context.insert("error", &error.map(|e| e.public_message()));
    let mut response = render(state, "admin/two_factor.html", &context)?.into_response();
    if let Some(error) = error {
        *response.status_mut() = status_of(error);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn enable_two_factor(
    State(state): State<AppState>,
    ctx: StaffContext,
    FormBody(form): FormBody<CodeForm>,
) -> Result<Response, PageError> {
    let Some(secret) = ctx.session.get::<String>(PENDING_TOTP_KEY).await.ok().flatten() else {
        return Ok(redirect::to("/admin/two-factor"));
    };
    match staff::enable_two_factor(&state.db, &ctx.staff.id, &ctx.staff.email, &secret, &form.code).await {
        Ok(()) => {
            let _ = ctx.session.remove::<String>(PENDING_TOTP_KEY).await;
            ctx.flash("Two-factor sign-in is on: you will be asked for a code from your app when you sign in.").await;
            Ok(redirect::to("/admin"))
        }
        Err(Error::Internal(cause)) => Err(PageError(Error::Internal(cause))),
        Err(error) => two_factor_form(&state, &ctx, Some(&error)).await,
    }
}

pub async fn dashboard(State(state): State<AppState>, ctx: StaffContext) -> Result<Response, PageError> {
    let figures = crate::orders::staff::dashboard(&state.db, super::orders::current_period()).await?;
    let mut context = admin_context(&state, &ctx, "Admin").await;
    context.insert("figures", &figures);
    Ok(render(&state, "admin/dashboard.html", &context)?.into_response())
}
