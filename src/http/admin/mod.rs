//! The staff admin under /admin. Every route but sign-in requires a staff session (30 minutes
//! idle, 12 hours in all); every POST carries the session's CSRF token; nothing is cached.

mod branches;
mod coupons;
mod import;
pub mod issues;
mod orders;
pub use import::IMPORT_ROUTE;
mod plans;
mod policies;
mod postage;
mod print_run;
mod readers;
mod reports;
mod session;
mod settings;
mod staff;
mod staff_orders;

use crate::http::redirect;
use axum::{
    body::{to_bytes, Body},
    extract::{OriginalUri, Request, State},
    http::{header, HeaderValue, Method},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    Router,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tera::Context;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::Session;

use super::{error::PageError, render, routes::RecordingRouter, AppState};
use crate::{
    audit::Actor,
    clock,
    error::Error,
    staff::{
        self as staff_accounts,
        accounts::{Role, Staff},
    },
};

const STAFF_KEY: &str = "staff";
const CSRF_KEY: &str = "csrf";
const FLASH_KEY: &str = "admin_flash";
const IDLE_SECS: i64 = 30 * 60;
const MAX_SECS: i64 = 12 * 3600;
/// The largest form the CSRF check reads (uploads carry the token in the query string instead).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// What the session remembers about a signed-in staff member.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StaffSession {
    id: String,
    signed_in_at: i64,
    seen_at: i64,
}

impl StaffSession {
    /// A staff session ends after 30 minutes without a request, and 12 hours after signing in.
    fn still_valid(&self, now: i64) -> bool {
        now - self.seen_at <= IDLE_SECS && now - self.signed_in_at <= MAX_SECS
    }
}

/// The signed-in staff member, for handlers.
#[derive(Clone)]
pub struct StaffContext {
    pub staff: Staff,
    pub csrf_token: String,
    pub session: Session,
}

impl StaffContext {
    pub fn actor(&self) -> Actor {
        Actor::staff(&self.staff.id, &self.staff.email)
    }

    pub fn require_admin(&self) -> Result<(), Error> {
        match self.staff.role {
            Role::Admin => Ok(()),
            Role::Staff => Err(Error::Forbidden { code: "admins_only", message: "Only an admin can do this.".into() }),
        }
    }

    /// Messages for the next page.
    pub async fn flash(&self, message: impl Into<String>) {
        let _ = self.session.insert(FLASH_KEY, vec![message.into()]).await;
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for StaffContext {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<StaffContext>()
            .cloned()
            .ok_or_else(|| PageError(Error::Internal(anyhow::anyhow!("an admin handler ran without the staff guard"))))
    }
}

/// The session's CSRF token, made on first use.
async fn csrf_token(session: &Session) -> Result<String, Error> {
    if let Ok(Some(token)) = session.get::<String>(CSRF_KEY).await {
        return Ok(token);
    }
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    session.insert(CSRF_KEY, &token).await.map_err(|e| Error::Internal(anyhow::anyhow!("session: {e}")))?;
    Ok(token)
}

/// "2026-11-25 14:00" (UTC), as the admin shows times.
pub fn datetime(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| format!("{:04}-{:02}-{:02} {:02}:{:02}", t.year(), t.month() as u8, t.day(), t.hour(), t.minute()))
        .unwrap_or_default()
}

/// The context every admin page starts from.
pub async fn admin_context(state: &AppState, ctx: &StaffContext, title: &str) -> Context {
    let mut context = render::page_context(state, title);
    context.insert("staff", &ctx.staff);
    context.insert("csrf_token", &ctx.csrf_token);
    let flash = ctx.session.remove::<Vec<String>>(FLASH_KEY).await.ok().flatten().unwrap_or_default();
    context.insert("flash", &flash);
    context
}

/// Every admin page a staff member reaches, recorded so a test can check each refuses strangers.
pub fn admin_routes() -> RecordingRouter {
    let routes = RecordingRouter::new("/admin")
        .get("/", session::dashboard)
        .post("/logout", session::sign_out)
        .get("/two-factor", session::two_factor_page)
        .post("/two-factor", session::enable_two_factor);
    let routes = branches::routes(routes);
    let routes = coupons::routes(routes);
    let routes = issues::routes(routes);
    let routes = orders::routes(routes);
    let routes = import::routes(routes);
    let routes = policies::routes(routes);
    let routes = plans::routes(routes);
    let routes = postage::routes(routes);
    let routes = print_run::routes(routes);
    let routes = reports::routes(routes);
    let routes = readers::routes(routes);
    let routes = settings::routes(routes);
    let routes = staff_orders::routes(routes);
    staff::routes(routes)
}

pub fn router(state: AppState) -> Router<AppState> {
    // The guard runs first, so a stranger is sent to sign in whatever they post.
    let guarded = admin_routes()
        .router
        .layer(middleware::from_fn_with_state(state.clone(), forget_cached_pages))
        .layer(middleware::from_fn(check_csrf))
        .layer(middleware::from_fn_with_state(state, require_staff));
    Router::new()
        .merge(guarded)
        .merge(session::public_routes().layer(middleware::from_fn(check_csrf)))
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
}

/// After a staff change (a POST that did not fail), the public pages cached on every instance are
/// made again: here at once, elsewhere within a second.
async fn forget_cached_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes = request.method() == Method::POST;
    let response = next.run(request).await;
    if changes && !response.status().is_client_error() && !response.status().is_server_error() {
        if let Err(error) = state.page_cache.content_changed(&state.db).await {
            tracing::warn!(error = %error, "the content version could not be bumped: other instances may show old pages for up to 30 s");
        }
    }
    response
}

fn session_of(request: &Request) -> Result<Session, Error> {
    request.extensions().get::<Session>().cloned().ok_or_else(|| Error::Internal(anyhow::anyhow!("no session layer")))
}

/// Strangers are sent to sign in (GET) or told to (anything else, 401); nobody sees content.
/// The path as the browser asked for it (inside `/admin` the router sees it without the prefix).
fn original_path(request: &Request) -> (String, String) {
    let uri = request.extensions().get::<OriginalUri>().map(|o| o.0.clone()).unwrap_or_else(|| request.uri().clone());
    let with_query = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/admin".into());
    (uri.path().to_string(), with_query)
}

fn unauthenticated(request: &Request) -> Response {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        let (_, next) = original_path(request);
        let next = next.as_str();
        let next: String = url_escape(next);
        redirect::to(&format!("/admin/login?next={next}"))
    } else {
        PageError(Error::Unauthorized {
            code: "sign_in_required",
            message: "Please sign in to the admin first.".into(),
        })
        .into_response()
    }
}

fn url_escape(text: &str) -> String {
    serde_urlencoded::to_string([("n", text)]).map(|s| s[2..].to_string()).unwrap_or_default()
}

async fn require_staff(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let session = match session_of(&request) {
        Ok(session) => session,
        Err(error) => return PageError(error).into_response(),
    };
    let now = clock::now();
    let Ok(Some(mut signed_in)) = session.get::<StaffSession>(STAFF_KEY).await else {
        return unauthenticated(&request);
    };
    let expired = !signed_in.still_valid(now);
    let staff = match staff_accounts::accounts::find_by_id(&state.db, &signed_in.id).await {
        Ok(Some(staff)) if !staff.disabled && !expired => staff,
        Ok(_) => {
            let _ = session.remove::<StaffSession>(STAFF_KEY).await;
            return unauthenticated(&request);
        }
        Err(error) => return PageError(error).into_response(),
    };
    let (path, _) = original_path(&request);
    if !staff.two_factor && !matches!(path.as_str(), "/admin/two-factor" | "/admin/logout") {
        match staff_accounts::two_factor_required(&state.db).await {
            Ok(true) => return redirect::to("/admin/two-factor"),
            Ok(false) => {}
            Err(error) => return PageError(error).into_response(),
        }
    }
    signed_in.seen_at = now;
    let _ = session.insert(STAFF_KEY, &signed_in).await;
    let csrf_token = match csrf_token(&session).await {
        Ok(token) => token,
        Err(error) => return PageError(error).into_response(),
    };
    request.extensions_mut().insert(StaffContext { staff, csrf_token, session });
    next.run(request).await
}

fn forged() -> Response {
    PageError(Error::Forbidden {
        code: "csrf_failed",
        message: "This form has expired or did not come from the admin. Go back, reload the page and try again.".into(),
    })
    .into_response()
}

/// Every POST must carry the session's token: as a form field, or in the query string for uploads.
async fn check_csrf(request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Ok(session) = session_of(&request) else { return forged() };
    let Ok(Some(expected)) = session.get::<String>(CSRF_KEY).await else { return forged() };
    let from_query = request
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "csrf_token").map(|(_, v)| v));
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (request, sent) = match (from_query, is_form) {
        (Some(token), _) => (request, token),
        (None, true) => {
            let (parts, body) = request.into_parts();
            let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else { return forged() };
            let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                .ok()
                .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "csrf_token").map(|(_, v)| v))
                .unwrap_or_default();
            (Request::from_parts(parts, Body::from(bytes)), token)
        }
        (None, false) => return forged(),
    };
    if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        // The route, not the path: a path can hold a set-password token.
        let route = request.extensions().get::<axum::extract::MatchedPath>().map(|p| p.as_str().to_string());
        tracing::warn!(
            route = route.as_deref().unwrap_or("(no route)"),
            "admin form refused: CSRF token missing or wrong"
        );
        return forged();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_sessions_end_after_thirty_idle_minutes_or_twelve_hours() {
        let session = |signed_in_at, seen_at| StaffSession { id: "s".into(), signed_in_at, seen_at };
        assert!(session(0, 0).still_valid(IDLE_SECS));
        assert!(!session(0, 0).still_valid(IDLE_SECS + 1), "idle too long");
        assert!(session(0, MAX_SECS - 60).still_valid(MAX_SECS));
        assert!(!session(0, MAX_SECS - 60).still_valid(MAX_SECS + 1), "signed in too long ago, however busy");
    }
}
