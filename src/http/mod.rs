//! The HTTP side: routes and thin handlers over the domain modules, one file per area.

pub(crate) mod account;
pub mod admin;
pub mod api;
mod cart;
mod checkout;
mod covers;
pub mod error;
pub mod extract;
mod feed;
mod gifts;
pub mod media;
mod offers;
mod ops;
pub mod page_cache;
mod pages;
pub mod redirect;
pub mod render;
pub mod routes;
mod session_store;
pub mod static_files;
mod webhook;

use std::{sync::Arc, time::Duration};

use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::{
    http::{header, HeaderName, HeaderValue, Request},
    middleware, Router,
};
use tower::ServiceBuilder;
use tower_http::{
    compression::CompressionLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    services::ServeDir,
    set_header::SetResponseHeaderLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tower_sessions::{cookie::SameSite, Expiry, SessionManagerLayer, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};
use tracing::Level;

use crate::{
    config::Config,
    db::{Db, SessionPool},
    money::Currency,
    payments::PaymentProvider,
};

/// What every handler may use: one shared value, so the clone each handler and layer takes is a
/// reference count.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The parts of `AppState`.
pub struct Services {
    pub db: Db,
    pub config: Arc<Config>,
    pub templates: Arc<render::Templates>,
    pub payments: PaymentProvider,
    pub page_cache: page_cache::PageCache,
    /// The policy pages with text, for every page's footer.
    pub policy_links: crate::policies::LinkCache,
    pub static_hashes: static_files::StaticHashes,
    /// Where uploads are kept (the data folder or object storage).
    pub media: crate::storage::MediaStore,
    /// The updates that stamp a subscriber's copy of a PDF, by file.
    pub stamp_plans: Arc<crate::accounts::StampPlans>,
}

impl AppState {
    /// The currency the shop prices in.
    pub fn currency(&self) -> Currency {
        self.config.currency
    }
}

/// No inline script anywhere; images may be data: URIs; nobody may frame the shop.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
     script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

pub fn router(state: AppState) -> Router {
    let hashes = state.static_hashes.clone();
    let static_files = Router::new()
        .fallback_service(ServeDir::new(state.config.site_dir.join("static")))
        .layer(middleware::from_fn(move |request, next| static_files::cache_headers(hashes.clone(), request, next)));

    let request_id = HeaderName::from_static("x-request-id");
    let router = Router::new()
        .merge(pages::router())
        .merge(offers::router())
        .merge(gifts::router())
        .merge(account::router())
        .merge(cart::router())
        .merge(checkout::router())
        .merge(webhook::router())
        .merge(covers::router())
        .merge(feed::router())
        .merge(ops::router())
        .nest("/api/v1", api::router())
        .nest("/admin", admin::router(state.clone()))
        .merge(media::router())
        .nest_service("/static", static_files)
        .fallback(error::page_not_found)
        .layer(middleware::from_fn_with_state(state.clone(), error::render_error_pages))
        .layer(middleware::from_fn_with_state(state.page_cache.clone(), page_cache::serve))
        // Outside the page cache, so cached answers are counted too (layers wrap each route, so
        // the route's pattern is known here).
        .layer(middleware::from_fn(ops::record_request))
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .with_state(state.clone());
    with_sessions(router, &state).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|request: &Request<_>| {
                        let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                        // The route's pattern, never the path itself: a path can carry a secret
                        // (a set-password token), and the log must not.
                        let route =
                            request.extensions().get::<axum::extract::MatchedPath>().map(|p| p.as_str()).unwrap_or(
                                match request.uri().path().starts_with("/static/") {
                                    true => "/static/{file}",
                                    false => "(no route)",
                                },
                            );
                        tracing::info_span!("request", id, method = %request.method(), route)
                    })
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(CompressionLayer::new())
            .layer(security_header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
            .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(security_header(header::REFERRER_POLICY, "strict-origin-when-cross-origin"))
            .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
            // A bug must still answer (500, logged), never drop the reader's connection.
            .layer(tower_http::catch_panic::CatchPanicLayer::new())
            .layer(middleware::from_fn(time_limit))
            .layer(middleware::from_fn(run_to_completion)),
    )
}

/// Answers 503 when a request takes longer than its route allows: 30 seconds, or 15 minutes for
/// an upload. (The layers above run after routing, so the matched route is known here.)
async fn time_limit(request: Request<axum::body::Body>, next: middleware::Next) -> axum::response::Response {
    let route = request.extensions().get::<axum::extract::MatchedPath>().map(|p| p.as_str());
    let limit = match route {
        Some(route) if admin::issues::UPLOAD_ROUTES.contains(&route) || route == admin::IMPORT_ROUTE => {
            admin::issues::UPLOAD_TIMEOUT
        }
        _ => Duration::from_secs(30),
    };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(seconds = limit.as_secs(), "request took too long: answered 503");
            axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Runs each request in a task of its own, so a reader who goes away (a closed tab, a phone
/// losing signal, the timeout above) never cancels a handler halfway through its transaction:
/// the work finishes or rolls back as it would have, and only the answer is lost.
async fn run_to_completion(request: Request<axum::body::Body>, next: middleware::Next) -> axum::response::Response {
    use tracing::Instrument;
    match tokio::spawn(next.run(request).instrument(tracing::Span::current())).await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(error = %error, "request task failed");
            axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The reader's session lives in the shop's own database, so it survives restarts and is
/// shared by every instance. Lax, not Strict: the cookie must come back with a reader whom the
/// payment page sends back to the shop.
fn with_sessions(router: Router, state: &AppState) -> Router {
    let secure = state.config.base_url.starts_with("https://");
    let gate = state.db.write_gate.clone();
    match &state.db.sessions {
        SessionPool::Sqlite(pool) => {
            let in_place = state.db.in_place.clone();
            let store = session_store::GatedStore { store: SqliteStore::new(pool.clone()), gate, in_place, kept: None };
            router.layer(session_layer(store, secure))
        }
        SessionPool::Postgres(pool) => {
            let kept = Some(state.db.clone());
            let store =
                session_store::GatedStore { store: PostgresStore::new(pool.clone()), gate, in_place: None, kept };
            router.layer(session_layer(store, secure))
        }
    }
}

fn session_layer<S: SessionStore + Clone>(store: S, secure: bool) -> SessionManagerLayer<S> {
    SessionManagerLayer::new(store)
        .with_name("masthead_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(tower_sessions::cookie::time::Duration::days(30)))
}

/// Pages showing a cart, an order, a payment or an account are never kept by the browser or a
/// proxy: the back button after paying asks the shop again, which no longer offers to pay.
fn no_store() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// A PDF made for this request, as a download that no cache keeps.
pub(crate) fn pdf_download(pdf: Vec<u8>, file_name: &str) -> axum::response::Response {
    use axum::{http::header, response::IntoResponse};
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
        ],
        pdf,
    )
        .into_response()
}
