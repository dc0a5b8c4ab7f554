//! The one place where a domain `Error` becomes a response: an HTML page in the
//! site's style (`PageError`) or the JSON error shape (`ApiError`).

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

use super::{render, AppState};
use crate::error::Error;

/// When to try again after the database was unreachable.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

pub fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Invalid { .. } | Error::Fields(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
        Error::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Upstream { .. } => StatusCode::BAD_GATEWAY,
        Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Status, headers and a log line shared by both shapes of error response.
fn respond(error: &Error, body: impl IntoResponse) -> Response {
    match error {
        Error::Internal(cause) => tracing::error!(error = format!("{cause:#}"), "request failed"),
        Error::Unavailable(cause) => tracing::warn!(error = %cause, "database unavailable: answered 503"),
        _ => {}
    }
    let mut response = (status_of(error), body).into_response();
    let retry_after = match error {
        Error::TooManyRequests { retry_after_secs, .. } => Some(*retry_after_secs),
        Error::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER_SECS),
        _ => None,
    };
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// An error answered as JSON: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug)]
pub struct ApiError(pub Error);

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code, for programs.
    #[schema(example = "not_found")]
    pub code: String,
    /// A sentence for people.
    #[schema(example = "There is no such issue.")]
    pub message: String,
}

impl<E: Into<Error>> From<E> for ApiError {
    fn from(error: E) -> ApiError {
        ApiError(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.0.code().into(), message: self.0.public_message() } };
        respond(&self.0, Json(body))
    }
}

/// An error answered as a page in the site's style, drawn by `render_error_pages`.
#[derive(Debug)]
pub struct PageError(pub Error);

/// Marks a response whose body the error-page middleware should draw.
#[derive(Clone)]
struct ErrorPage {
    code: &'static str,
    message: String,
}

impl<E: Into<Error>> From<E> for PageError {
    fn from(error: E) -> PageError {
        PageError(error.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = respond(&self.0, ());
        response.extensions_mut().insert(ErrorPage { code: self.0.code(), message: self.0.public_message() });
        response
    }
}

/// Draws the error page for any response marked by `PageError` (templates need the state,
/// which `IntoResponse` does not have). Under `/api/` the same error is answered in the JSON error
/// shape instead (an extractor shared with the pages, such as the visitor's session, refused it).
pub async fn render_error_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    // A page that failed only because the database was away can simply be asked for again.
    let again = (request.method() == axum::http::Method::GET)
        .then(|| request.uri().path_and_query().and_then(|p| super::redirect::LocalPath::parse(p.as_str())))
        .flatten();
    let mut response = next.run(request).await;
    let Some(page) = response.extensions_mut().remove::<ErrorPage>() else {
        return response;
    };
    let status = response.status();
    if is_api {
        let (parts, _) = response.into_parts();
        let body = ErrorBody { error: ErrorDetail { code: page.code.into(), message: page.message } };
        let mut json = Json(body).into_response();
        *json.status_mut() = status;
        for (name, value) in
            parts.headers.iter().filter(|(n, _)| *n != header::CONTENT_TYPE && *n != header::CONTENT_LENGTH)
        {
            json.headers_mut().insert(name.clone(), value.clone());
        }
        return json;
    }
    let title = match status {
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::UNAUTHORIZED => "Please sign in",
        StatusCode::SERVICE_UNAVAILABLE => "Back in a moment",
        s if s.is_server_error() => "Something went wrong",
        _ => "That didn't work",
    };
    let mut context = render::page_context(&state, title);
    context.insert("status", &status.as_u16());
    context.insert("message", &page.message);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        context.insert("try_again", &again.as_ref().map(|p| p.as_str()));
    }
    match render::render(&state, "error.html", &context) {
        Ok(html) => {
            let (mut parts, _) = response.into_parts();
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            Response::from_parts(parts, html.into_response().into_body())
        }
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "cannot draw the error page");
            (status, page.message).into_response()
        }
    }
}

/// The site's 404 for any path no route claims.
pub async fn page_not_found() -> PageError {
    PageError(Error::not_found("not_found", "There is no page at this address."))
}

/// The API's 404 for any path under /api/v1 no route claims.
pub async fn api_not_found() -> ApiError {
    ApiError(Error::not_found("not_found", "There is no API endpoint at this address."))
}
