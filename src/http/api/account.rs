//! The reader's account as JSON: the same view as `/account`, 401 for a visitor nobody signed in.

use axum::{extract::State, Json};

use super::super::{account::visible_account, error::ApiError, extract::Visitor, AppState};
use crate::{accounts::Overview, error::Error};

/// The signed-in reader's subscriptions and orders (or, before a buyer's order is paid, that order).
#[utoipa::path(get, path = "/api/v1/account", tag = "account",
    responses(
        (status = 200, description = "`{\"email\", \"subscriptions\": [...], \"orders\": [...]}`", content_type = "application/json"),
        (status = 401, body = super::super::error::ErrorBody, description = "Nobody is signed in on this session")))]
pub async fn get_account(State(state): State<AppState>, visitor: Visitor) -> Result<Json<Overview>, ApiError> {
    match visible_account(&state, &visitor).await? {
        Some((overview, _)) => Ok(Json(overview)),
        None => Err(ApiError(Error::Unauthorized {
            code: "not_signed_in",
            message: "Sign in at /account/login to see your account.".into(),
        })),
    }
}
