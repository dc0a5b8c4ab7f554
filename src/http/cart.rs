//! The cart pages: plain forms and redirect-after-POST, so all of it works without JavaScript.
//! Each form calls the same domain function as its JSON twin in `api/cart.rs`.

use crate::http::redirect;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use serde::Deserialize;

use super::{
    error::{status_of, PageError},
    extract::visitor_context,
    extract::{CouponAttempt, FormBody, Visitor},
    render::render,
    AppState,
};
use crate::{
    cart::{self, Notice, Quantity, QuantityInput},
    clock,
    error::Error,
    money::Money,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cart", get(show_cart))
        .route("/cart/items", post(add_item))
        .route("/cart/items/{sku}", post(update_item))
        .route("/cart/items/{sku}/remove", post(remove_item))
        .route("/cart/coupon", post(apply_coupon))
        .route("/cart/coupon/remove", post(remove_coupon))
        .route("/cart/donation", post(set_donation))
        .route("/cart/donation/remove", post(remove_donation))
        .layer(super::no_store())
}

/// Draws the cart with the messages to show; `failure` is an error the reader caused just now;
/// `coupon` a code refused, shown again in its field with the reason beside it (and `donation` an
/// amount refused).
async fn cart_page(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    messages: Vec<String>,
    failure: Option<&Error>,
    (coupon, donation): (Option<CouponAttempt>, Option<&str>),
) -> Result<Response, PageError> {
    let view = cart::view_cart(&state.db, visitor.cart_id.as_deref(), state.currency(), clock::now()).await?;
    let mut context = visitor_context(state, visitor, "Your cart").await;
    let mut messages = messages;
    messages.extend(view.notices.iter().map(|n| n.message.clone()));
    context.insert("messages", &messages);
    context.insert("error", &failure.map(|e| e.public_message()));
    let products = super::checkout::cart_products(state, &view).await?;
    let items: Vec<_> = products.iter().map(|(product, quantity)| (product, *quantity)).collect();
    context.insert("facts", &super::checkout::plan_facts_of(state, &view, &products).await?);
    context.insert("postage", &crate::postage::estimate(&state.db, &items, state.currency()).await?);
    context.insert("gift_postage", &super::checkout::gift_postage_rows(state, &view).await?);
    context.insert("cart", &view);
    context.insert("coupon_attempt", &coupon);
    let choices = DonationChoices::new(state, failure);
    context.insert(
        "donation",
        &match donation {
            Some(typed) => choices.typed(typed),
            None => choices,
        },
    );
    let mut response = render(state, "cart/cart.html", &context)?.into_response();
    *response.status_mut() = status;
    if let Some(Error::TooManyRequests { retry_after_secs, .. }) = failure {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, (*retry_after_secs).into());
    }
    Ok(response)
}

async fn show_cart(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    let flash = visitor.take_flash().await;
    let coupon = visitor.take_coupon_attempt().await;
    cart_page(&state, &visitor, StatusCode::OK, flash, None, (coupon, None)).await
}

/// After a change: back to the cart with its messages; after a reader's mistake: the cart
/// with the error and the mistake's status, changed in nothing.
async fn respond(
    state: &AppState,
    visitor: Visitor,
    outcome: Result<Vec<Notice>, Error>,
) -> Result<Response, PageError> {
    match outcome {
        Ok(notices) => {
            visitor.flash(notices.into_iter().map(|n| n.message).collect()).await?;
            Ok(redirect::to("/cart"))
        }
        Err(Error::Internal(cause)) => Err(PageError(Error::Internal(cause))),
        Err(error) => cart_page(state, &visitor, status_of(&error), vec![], Some(&error), (None, None)).await,
    }
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    sku: String,
    quantity: Option<String>,
    /// A plan's rate, and a sustainer's amount (from the subscribe page).
    rate: Option<String>,
    amount: Option<String>,
}

async fn add_item(
    State(state): State<AppState>,
    mut visitor: Visitor,
    FormBody(form): FormBody<AddForm>,
) -> Result<Response, PageError> {
    let outcome = async {
        let quantity = Quantity::parse(QuantityInput::Text(form.quantity.as_deref().unwrap_or("1")))?;
        let (product, choice) =
            cart::product_and_rate(&state.db, &form.sku, form.rate.as_deref(), form.amount.as_deref()).await?;
        let cart_id = visitor.cart_id_or_new().await?;
        cart::add_item_at(&state.db, &cart_id, &product, quantity, choice, clock::now()).await
    }
    .await;
    match outcome {
        // A rate refused is shown beside its field on the subscribe page it was chosen on.
        Err(error @ Error::Fields(_)) if form.rate.is_some() => {
            let typed = super::pages::RateAttempt {
                sku: form.sku.clone(),
                message: error.public_message(),
                amount: form.amount.unwrap_or_default().chars().take(20).collect(),
            };
            super::pages::subscribe_page(&state, &visitor, status_of(&error), Some(typed)).await
        }
        outcome => respond(&state, visitor, outcome).await,
    }
}

#[derive(Deserialize)]
struct QuantityForm {
    quantity: Option<String>,
}

async fn update_item(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(sku): Path<String>,
    FormBody(form): FormBody<QuantityForm>,
) -> Result<Response, PageError> {
    let outcome = async {
        let quantity = Quantity::parse_or_zero(QuantityInput::Text(form.quantity.as_deref().unwrap_or("")))?;
        let cart_id = visitor.cart_id.as_deref().ok_or_else(cart::not_in_cart)?;
        cart::set_quantity(&state.db, cart_id, &sku, quantity, clock::now()).await
    }
    .await;
    respond(&state, visitor, outcome).await
}

async fn remove_item(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(sku): Path<String>,
) -> Result<Response, PageError> {
    let outcome = match visitor.cart_id.as_deref() {
        Some(cart_id) => cart::remove_item(&state.db, cart_id, &sku, clock::now()).await,
        None => Err(cart::not_in_cart()),
    };
    respond(&state, visitor, outcome).await
}

#[derive(Deserialize)]
struct CouponForm {
    #[serde(default)]
    code: String,
}

/// A refused code comes back in its field with the reason beside it, after a redirect like any
/// other answer (a reload sends nothing again); only "too many attempts" answers at once, with its
/// Retry-After.
async fn apply_coupon(
    State(state): State<AppState>,
    mut visitor: Visitor,
    FormBody(form): FormBody<CouponForm>,
) -> Result<Response, PageError> {
    let outcome = async {
        let cart_id = visitor.cart_id_or_new().await?;
        let keys = visitor.limiter_keys(&cart_id);
        let applied = cart::apply_coupon(&state.db, &cart_id, &form.code, &keys, state.currency(), clock::now());
        applied.await.map(|(notices, _)| notices)
    }
    .await;
    let typed: String = form.code.chars().take(64).collect();
    match outcome {
        Err(error @ Error::TooManyRequests { retry_after_secs, .. }) => {
            let attempt = CouponAttempt { code: typed, message: error.public_message() };
            let mut page = cart_page(&state, &visitor, status_of(&error), vec![], None, (Some(attempt), None)).await?;
            page.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
            Ok(page)
        }
        Err(error) if !matches!(error, Error::Internal(_)) => {
            visitor.remember_coupon_attempt(CouponAttempt { code: typed, message: error.public_message() }).await?;
            Ok(redirect::to("/cart"))
        }
        outcome => respond(&state, visitor, outcome).await,
    }
}

/// The donation box: the amounts offered with one press (those the shop's maximum allows), and a
/// refused amount's message to show beside its field.
#[derive(serde::Serialize)]
pub(super) struct DonationChoices {
    /// Each amount as its button sends it ("5") and as it reads.
    suggested: Vec<(String, Money)>,
    minimum: Money,
    maximum: Money,
    error: Option<String>,
    /// A refused amount, shown again in its field.
    typed: Option<String>,
}

impl DonationChoices {
    pub(super) fn new(state: &AppState, failure: Option<&Error>) -> DonationChoices {
        let maximum = state.config.max_donation;
        let money = |amount| Money::new(amount, state.currency());
        DonationChoices {
            suggested: cart::SUGGESTED_DONATIONS
                .iter()
                .filter(|&&amount| amount <= maximum.amount)
                .map(|&amount| (money(amount).to_decimal().normalize().to_string(), money(amount)))
                .collect(),
            minimum: money(cart::MINIMUM_DONATION),
            maximum,
            error: failure
                .and_then(Error::fields)
                .and_then(|fields| fields.iter().find(|f| f.field == "donation"))
                .map(|f| f.message.clone()),
            typed: None,
        }
    }

    /// The same, with the amount the reader typed shown again.
    pub(super) fn typed(self, typed: &str) -> DonationChoices {
        DonationChoices { typed: Some(typed.chars().take(20).collect()), ..self }
    }
}

/// A donation as the forms send it: one of the suggested amounts pressed, or another typed.
#[derive(Default, Deserialize)]
pub(super) struct DonationForm {
    #[serde(default)]
    pub preset: Option<String>,
    #[serde(default)]
    pub amount: Option<String>,
}

impl DonationForm {
    pub(super) fn donation(&self, state: &AppState) -> Result<cart::Donation, Error> {
        let typed = self.preset.as_deref().or(self.amount.as_deref()).unwrap_or("");
        cart::Donation::parse(typed, state.currency(), state.config.max_donation)
    }
}

async fn set_donation(
    State(state): State<AppState>,
    mut visitor: Visitor,
    FormBody(form): FormBody<DonationForm>,
) -> Result<Response, PageError> {
    let outcome = async {
        let donation = form.donation(&state)?;
        let cart_id = visitor.cart_id_or_new().await?;
        cart::set_donation(&state.db, &cart_id, Some(donation), clock::now()).await
    }
    .await;
    match outcome {
        Err(error @ Error::Fields(_)) => {
            let typed = form.amount.as_deref().unwrap_or("");
            cart_page(&state, &visitor, status_of(&error), vec![], Some(&error), (None, Some(typed))).await
        }
        outcome => respond(&state, visitor, outcome).await,
    }
}

async fn remove_donation(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    let outcome = match visitor.cart_id.as_deref() {
        Some(cart_id) => cart::set_donation(&state.db, cart_id, None, clock::now()).await,
        None => Ok(vec![]),
    };
    respond(&state, visitor, outcome).await
}

async fn remove_coupon(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    let outcome = match visitor.cart_id.as_deref() {
        Some(cart_id) => cart::remove_coupon(&state.db, cart_id, clock::now()).await,
        None => Ok(vec![]),
    };
    respond(&state, visitor, outcome).await
}
