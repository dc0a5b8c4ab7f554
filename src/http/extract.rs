//! What handlers take from a request: the visitor (session, cart, address) and bodies
//! (JSON for the API, forms for pages), each refused with the shop's own error shapes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, HeaderMap, StatusCode},
};
use serde::de::DeserializeOwned;
use tower_sessions::Session;

use super::{
    error::{ApiError, PageError},
    page_cache::ReaderParts,
    AppState,
};
use crate::{cart, error::Error};

/// The largest request body the shop reads (the API and every form).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

const CART_KEY: &str = "cart";
const FLASH_KEY: &str = "flash";
const COUPON_ATTEMPT_KEY: &str = "coupon_attempt";
/// The signed-in reader's normalised email.
const READER_KEY: &str = "reader";

/// Who is asking: their session, the id of their cart if they have one, and their address.
pub struct Visitor {
    pub session: Session,
    pub cart_id: Option<String>,
    pub ip: IpAddr,
}

/// Sessions live in the shop's database: a store that cannot be read is the database being away.
fn session_error(error: tower_sessions::session::Error) -> Error {
    match error {
        tower_sessions::session::Error::Store(e) => Error::Unavailable(format!("session store: {e}")),
        other => Error::Internal(anyhow::anyhow!("session: {other}")),
    }
}

impl Visitor {
    /// The visitor's cart id, giving them one if they have none: a random id, kept in the session
    /// when the request ends. Two first additions racing on one session that has no cart yet each
    /// make a cart, and the session keeps the one saved last.
    pub async fn cart_id_or_new(&mut self) -> Result<String, Error> {
        if let Some(id) = &self.cart_id {
            return Ok(id.clone());
        }
        let cart_id = uuid::Uuid::new_v4().simple().to_string();
        self.session.insert(CART_KEY, &cart_id).await.map_err(session_error)?;
        self.cart_id = Some(cart_id.clone());
        Ok(cart_id)
    }

    /// Whom coupon guessing is counted against: this session's cart and this address.
    pub fn limiter_keys(&self, cart_id: &str) -> [String; 2] {
        [format!("cart:{cart_id}"), format!("ip:{}", self.ip)]
    }

    /// Messages to show on the next page (after a redirect).
    pub async fn flash(&self, messages: Vec<String>) -> Result<(), Error> {
        self.session.insert(FLASH_KEY, messages).await.map_err(session_error)
    }

    pub async fn take_flash(&self) -> Vec<String> {
        self.session.remove::<Vec<String>>(FLASH_KEY).await.ok().flatten().unwrap_or_default()
    }

    /// A coupon code the cart refused, and why: shown beside the field on the next page.
    pub async fn remember_coupon_attempt(&self, attempt: CouponAttempt) -> Result<(), Error> {
        self.session.insert(COUPON_ATTEMPT_KEY, attempt).await.map_err(session_error)
    }

    pub async fn take_coupon_attempt(&self) -> Option<CouponAttempt> {
        self.session.remove::<CouponAttempt>(COUPON_ATTEMPT_KEY).await.ok().flatten()
    }

    /// The signed-in reader (their normalised email), if any.
    pub async fn reader(&self) -> Result<Option<String>, Error> {
        self.session.get::<String>(READER_KEY).await.map_err(session_error)
    }

    /// Signs this browser in as `email_normalized`: a new session id (so one fixed before sign-in
    /// is worth nothing), the same session data, so the cart stays.
    pub async fn sign_in_as(&self, email_normalized: &str) -> Result<(), Error> {
        self.session.cycle_id().await.map_err(session_error)?;
        self.session.insert(READER_KEY, email_normalized).await.map_err(session_error)
    }

    /// Ends the session on the server: the record is deleted, the cookie cleared.
    pub async fn sign_out(&self) -> Result<(), Error> {
        self.session.flush().await.map_err(session_error)
    }
}

/// A coupon code as typed, with the reason it was refused.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct CouponAttempt {
    pub code: String,
    pub message: String,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, message)| Error::Internal(anyhow::anyhow!("no session layer: {message}")))?;
        let cart_id = session.get::<String>(CART_KEY).await.map_err(session_error)?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let ip = state.config.trusted_proxies.client_address(peer, &parts.headers);
        Ok(Visitor { session, cart_id, ip })
    }
}

/// The shared context plus what depends on the visitor: the cart count in the header.
pub async fn visitor_context(state: &AppState, visitor: &Visitor, title: &str) -> tera::Context {
    reader_context(state, title, reader_parts(state, visitor).await)
}

/// The visitor's own parts of a page's header: the cart count.
pub async fn reader_parts(state: &AppState, visitor: &Visitor) -> ReaderParts {
    // The header count is a nicety: a page still renders if it cannot be read.
    let cart_count = match &visitor.cart_id {
        Some(cart_id) => Some(cart::item_count(&state.db, cart_id).await.unwrap_or(0)),
        None => None,
    };
    ReaderParts { cart_count, pdf: None }
}

/// The shared context plus a reader's parts (`ReaderParts`), and nothing else of them.
pub fn reader_context(state: &AppState, title: &str, parts: ReaderParts) -> tera::Context {
    let mut context = super::render::page_context(state, title);
    if let Some(count) = parts.cart_count {
        context.insert("cart_count", &count);
    }
    if let Some(pdf) = parts.pdf {
        context.insert("pdf", &pdf);
    }
    context
}

fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// A state-changing API call without a body may still not claim a body of another type.
pub fn refuse_non_json_body(headers: &HeaderMap) -> Result<(), Error> {
    if headers.contains_key(header::CONTENT_TYPE) && !content_type_is(headers, "application/json") {
        return Err(wrong_type("application/json"));
    }
    Ok(())
}

fn wrong_type(expected: &str) -> Error {
    Error::UnsupportedMediaType {
        code: "unsupported_media_type",
        message: format!("Send the request body as {expected}."),
    }
}

async fn read_body(request: Request, expected_type: &str) -> Result<Bytes, Error> {
    if !content_type_is(request.headers(), expected_type) {
        return Err(wrong_type(expected_type));
    }
    match Bytes::from_request(request, &()).await {
        Ok(bytes) => Ok(bytes),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(Error::PayloadTooLarge {
            code: "payload_too_large",
            message: format!("The request body is larger than {} KiB.", MAX_BODY_BYTES / 1024),
        }),
        Err(_) => Err(Error::bad_request("unreadable_body", "The request body could not be read.")),
    }
}

/// A JSON body: 415 unless sent as `application/json`, 413 when too large, 400 when not JSON,
/// 422 when JSON of the wrong shape.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, "application/json").await?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::bad_request("malformed_json", format!("The body is not valid JSON: {e}.")))?;
        let body = serde_json::from_value(value)
            .map_err(|e| Error::invalid("invalid_body", format!("The body does not have the expected fields: {e}.")))?;
        Ok(JsonBody(body))
    }
}

/// An HTML form's fields.
pub struct FormBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for FormBody<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, "application/x-www-form-urlencoded").await?;
        let body = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| Error::bad_request("malformed_form", "The form could not be read. Please try again."))?;
        Ok(FormBody(body))
    }
}

/// The address fields of every address form (checkout, the account, staff orders).
pub use crate::address::AddressForm;
