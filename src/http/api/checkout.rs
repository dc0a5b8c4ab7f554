//! `POST /api/v1/checkout`: the JSON twin of the checkout form.

use axum::{extract::State, http::StatusCode, Json};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    http::{
        error::{ApiError, ErrorBody},
        extract::{JsonBody, Visitor},
        AppState,
    },
    orders::CheckoutInput,
    payments,
};

#[derive(Serialize, ToSchema)]
pub struct CheckoutStartedJson {
    pub order_id: String,
    /// Where to send the reader to pay (for a zero total: the order's confirmation page).
    pub payment_url: String,
}

/// Places an order from the visitor's cart, reserving its coupon, and opens the payment page.
#[utoipa::path(post, path = "/api/v1/checkout", tag = "checkout", request_body = CheckoutInput,
    responses((status = 201, body = CheckoutStartedJson),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "Empty cart, invalid details, a coupon that no longer applies, a total below $0.50, a mailing address in a country no postage zone takes (`no_postage_zone`)"),
        (status = 409, body = ErrorBody, description = "The cart changed in another tab (`cart_changed`) or staff gave the coupon a limit (`coupon_changed`) while checkout ran; nothing was placed"),
        (status = 502, body = ErrorBody, description = "The payment provider could not be reached; nothing was charged")))]
pub async fn checkout(
    State(state): State<AppState>,
    visitor: Visitor,
    JsonBody(input): JsonBody<CheckoutInput>,
) -> Result<(StatusCode, Json<CheckoutStartedJson>), ApiError> {
    let started = payments::start_checkout(
        &state.db,
        &state.payments,
        visitor.cart_id.as_deref(),
        &input,
        state.currency(),
        state.config.base(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CheckoutStartedJson { order_id: started.order_id, payment_url: started.payment_url }),
    ))
}
