//! The cart's JSON API. Every call answers the whole cart, priced now.

use axum::{
    extract::{Path, State},
    http::HeaderMap,
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    cart::{self, CartView, Notice, Quantity, QuantityInput},
    clock,
    coupons::CouponSummary,
    http::{
        error::{ApiError, ErrorBody},
        extract::{refuse_non_json_body, JsonBody, Visitor},
        AppState,
    },
    money::{Money, MoneyJson},
};

#[derive(Serialize, ToSchema)]
pub struct CartItemJson {
    #[schema(example = "isr-print-4y")]
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    #[schema(value_type = MoneyJson)]
    pub unit_price: Money,
    #[schema(value_type = MoneyJson)]
    pub line_total: Money,
    /// The coupon's share of this line.
    #[schema(value_type = MoneyJson)]
    pub discount: Money,
    /// `standard`, `reduced` or `sustainer`.
    #[schema(example = "standard")]
    pub rate: &'static str,
    /// A gift for someone else (put in the cart with the gift form): its recipient, in words.
    pub gift: Option<GiftJson>,
}

#[derive(Serialize, ToSchema)]
pub struct GiftJson {
    pub id: String,
    #[schema(example = "Bo Reader")]
    pub recipient_name: String,
    #[schema(example = "Gift for Bo Reader, from the next issue; we email them when you have paid")]
    pub description: String,
}

#[derive(Serialize, ToSchema)]
pub struct CouponJson {
    #[schema(example = "FTR 2016")]
    pub code: String,
    pub description: String,
}

#[derive(Serialize, ToSchema)]
pub struct NoticeJson {
    #[schema(example = "coupon_removed")]
    pub code: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct CartJson {
    pub items: Vec<CartItemJson>,
    pub coupon: Option<CouponJson>,
    #[schema(value_type = MoneyJson)]
    pub subtotal: Money,
    #[schema(value_type = MoneyJson)]
    pub discount: Money,
    /// Given on top, never discounted; zero when none.
    #[schema(value_type = MoneyJson)]
    pub donation: Money,
    /// What the items cost after the discount, plus the donation (postage is added at checkout).
    #[schema(value_type = MoneyJson)]
    pub total: Money,
    /// Copies and subscriptions in the cart.
    pub item_count: i64,
    /// What changed and what the reader should know, in words.
    pub notices: Vec<NoticeJson>,
    /// Changes whenever what would be paid for changes: send it as `cart_version` with the checkout
    /// so that an order is never placed for a cart changed since it was shown (409 `cart_changed`).
    #[schema(example = "3f9a0c1d2e4b5a69")]
    pub version: String,
}

fn cart_json(view: CartView, mut notices: Vec<Notice>) -> CartJson {
    notices.extend(view.notices);
    CartJson {
        version: view.version,
        items: view
            .quote
            .lines
            .into_iter()
            .map(|l| CartItemJson {
                sku: l.sku,
                name: l.name,
                quantity: l.quantity,
                unit_price: l.unit_price,
                line_total: l.line_total,
                discount: l.discount,
                rate: l.rate.as_str(),
                gift: l.gift.map(|g| GiftJson {
                    id: g.id,
                    recipient_name: g.gift.recipient_name,
                    description: g.description,
                }),
            })
            .collect(),
        coupon: view.coupon.map(|CouponSummary { code, description, .. }| CouponJson { code, description }),
        subtotal: view.quote.subtotal,
        discount: view.quote.discount,
        donation: view.quote.donation,
        total: view.quote.total,
        item_count: view.item_count,
        notices: notices.into_iter().map(|n| NoticeJson { code: n.code.into(), message: n.message }).collect(),
    }
}

async fn answer(state: &AppState, visitor: &Visitor, notices: Vec<Notice>) -> Result<Json<CartJson>, ApiError> {
    let view = cart::view_cart(&state.db, visitor.cart_id.as_deref(), state.currency(), clock::now()).await?;
    Ok(Json(cart_json(view, notices)))
}

/// The visitor's cart.
#[utoipa::path(get, path = "/api/v1/cart", tag = "cart", responses((status = 200, body = CartJson)))]
pub async fn get_cart(State(state): State<AppState>, visitor: Visitor) -> Result<Json<CartJson>, ApiError> {
    answer(&state, &visitor, vec![]).await
}

#[derive(Deserialize, ToSchema)]
pub struct AddItemBody {
    #[schema(example = "isr-print-4y")]
    pub sku: String,
    /// A whole number from 1 to 99 (a subscription: 1). Defaults to 1.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 99, example = 1)]
    #[serde(default, deserialize_with = "present")]
    pub quantity: Option<serde_json::Value>,
    /// A subscription's rate: `standard` (the default), `reduced` or `sustainer`, when the plan
    /// offers it. Adding a plan already in the cart moves it to this rate.
    #[schema(example = "sustainer")]
    #[serde(default)]
    pub rate: Option<String>,
    /// The sustainer's amount in major units (`75`, `"75.50"`): at least the plan's minimum;
    /// left out, the suggested amount. Any other price sent is ignored: prices come from the catalog.
    #[schema(value_type = Option<String>, example = "75")]
    #[serde(default)]
    pub amount: Option<serde_json::Value>,
}

/// A field that is there, even as `null` (which is not a number, so 422), as opposed to a field
/// left out (which takes its default).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// Adds a plan or copies of an issue.
#[utoipa::path(post, path = "/api/v1/cart/items", tag = "cart", request_body = AddItemBody,
    responses((status = 200, body = CartJson),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_item(
    State(state): State<AppState>,
    mut visitor: Visitor,
    JsonBody(body): JsonBody<AddItemBody>,
) -> Result<Json<CartJson>, ApiError> {
    let quantity = match &body.quantity {
        Some(value) => Quantity::parse(QuantityInput::Json(value))?,
        None => Quantity::ONE,
    };
    let amount = body.amount.as_ref().map(|a| match a {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    });
    let (product, choice) =
        cart::product_and_rate(&state.db, &body.sku, body.rate.as_deref(), amount.as_deref()).await?;
    let cart_id = visitor.cart_id_or_new().await?;
    let notices = cart::add_item_at(&state.db, &cart_id, &product, quantity, choice, clock::now()).await?;
    answer(&state, &visitor, notices).await
}

#[derive(Deserialize, ToSchema)]
pub struct QuantityBody {
    /// A whole number from 0 to 99; 0 removes the line.
    #[schema(value_type = i64, minimum = 0, maximum = 99, example = 3)]
    pub quantity: serde_json::Value,
}

/// Sets a line's quantity; 0 removes it.
#[utoipa::path(patch, path = "/api/v1/cart/items/{sku}", tag = "cart", request_body = QuantityBody,
    params(("sku" = String, Path, example = "sw-2017-01")),
    responses((status = 200, body = CartJson), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_item(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(sku): Path<String>,
    JsonBody(body): JsonBody<QuantityBody>,
) -> Result<Json<CartJson>, ApiError> {
    let quantity = Quantity::parse_or_zero(QuantityInput::Json(&body.quantity))?;
    let cart_id = visitor.cart_id.as_deref().ok_or_else(cart::not_in_cart)?;
    let notices = cart::set_quantity(&state.db, cart_id, &sku, quantity, clock::now()).await?;
    answer(&state, &visitor, notices).await
}

/// Removes a line.
#[utoipa::path(delete, path = "/api/v1/cart/items/{sku}", tag = "cart",
    params(("sku" = String, Path, example = "sw-2017-01")),
    responses((status = 200, body = CartJson), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn remove_item(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(sku): Path<String>,
) -> Result<Json<CartJson>, ApiError> {
    refuse_non_json_body(&headers)?;
    let cart_id = visitor.cart_id.as_deref().ok_or_else(cart::not_in_cart)?;
    let notices = cart::remove_item(&state.db, cart_id, &sku, clock::now()).await?;
    answer(&state, &visitor, notices).await
}

#[derive(Deserialize, ToSchema)]
pub struct CouponBody {
    /// As the reader typed it: case, spaces and hyphens do not matter.
    #[schema(example = "ftr 2016")]
    pub code: String,
}

/// Applies a coupon, replacing any coupon the cart had.
#[utoipa::path(post, path = "/api/v1/cart/coupon", tag = "cart", request_body = CouponBody,
    responses((status = 200, body = CartJson), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "Too many failed codes; see Retry-After")))]
pub async fn apply_coupon(
    State(state): State<AppState>,
    mut visitor: Visitor,
    JsonBody(body): JsonBody<CouponBody>,
) -> Result<Json<CartJson>, ApiError> {
    let cart_id = visitor.cart_id_or_new().await?;
    let keys = visitor.limiter_keys(&cart_id);
    let (notices, view) =
        cart::apply_coupon(&state.db, &cart_id, &body.code, &keys, state.currency(), clock::now()).await?;
    Ok(Json(cart_json(view, notices)))
}

/// Removes the cart's coupon.
#[utoipa::path(delete, path = "/api/v1/cart/coupon", tag = "cart",
    responses((status = 200, body = CartJson), (status = 415, body = ErrorBody)))]
pub async fn remove_coupon(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
) -> Result<Json<CartJson>, ApiError> {
    refuse_non_json_body(&headers)?;
    let notices = match visitor.cart_id.as_deref() {
        Some(cart_id) => cart::remove_coupon(&state.db, cart_id, clock::now()).await?,
        None => vec![],
    };
    answer(&state, &visitor, notices).await
}

#[derive(Deserialize, ToSchema)]
pub struct DonationBody {
    /// In the currency's major units, as a number or a string: `10`, `"12.50"`. From 1 to the
    /// shop's maximum, in whole cents.
    #[schema(value_type = String, example = "10")]
    pub amount: serde_json::Value,
}

/// Sets the cart's donation (replacing any donation it had).
#[utoipa::path(put, path = "/api/v1/cart/donation", tag = "cart", request_body = DonationBody,
    responses((status = 200, body = CartJson), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_donation(
    State(state): State<AppState>,
    mut visitor: Visitor,
    JsonBody(body): JsonBody<DonationBody>,
) -> Result<Json<CartJson>, ApiError> {
    let typed = match &body.amount {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(text) => text.clone(),
        _ => String::new(),
    };
    let donation = cart::Donation::parse(&typed, state.currency(), state.config.max_donation)?;
    let cart_id = visitor.cart_id_or_new().await?;
    let notices = cart::set_donation(&state.db, &cart_id, Some(donation), clock::now()).await?;
    answer(&state, &visitor, notices).await
}

/// Takes the donation off the cart.
#[utoipa::path(delete, path = "/api/v1/cart/donation", tag = "cart",
    responses((status = 200, body = CartJson), (status = 415, body = ErrorBody)))]
pub async fn remove_donation(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
) -> Result<Json<CartJson>, ApiError> {
    refuse_non_json_body(&headers)?;
    let notices = match visitor.cart_id.as_deref() {
        Some(cart_id) => cart::set_donation(&state.db, cart_id, None, clock::now()).await?,
        None => vec![],
    };
    answer(&state, &visitor, notices).await
}
