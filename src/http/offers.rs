//! The public offer pages (`/offers/{slug}`): what an offer is, the plans it applies to at both
//! prices, and one button per plan that puts it in the cart with the code applied (a POST; a GET
//! changes nothing). An ended offer's link still answers: the page says it has ended.

use crate::http::redirect;
use axum::{
    extract::{Path, State},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
    Router,
};
use serde::Deserialize;

use super::{
    error::PageError,
    extract::{visitor_context, FormBody, Visitor},
    render::render,
    AppState,
};
use crate::{cart, catalog, clock, error::Error, offers};

pub fn router() -> Router<AppState> {
    Router::new().route("/offers/{slug}", get(offer_page)).route("/offers/{slug}/add", post(add_with_code))
}

fn no_such_offer() -> Error {
    Error::not_found("offer_not_found", "There is no such offer. See every subscription on the subscribe page.")
}

async fn offer_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
) -> Result<Html<String>, PageError> {
    let (offer, coupon) = offers::published_offer(&state.db, &slug).await?.ok_or_else(no_such_offer)?;
    let now = clock::now();
    let live = offers::is_live(&coupon, now);
    let mut context = visitor_context(&state, &visitor, &offer.headline).await;
    context.insert("description", &format!("{}: {}", offer.headline, coupon.description));
    context.insert("offer", &offer);
    context.insert("body_html", &crate::markdown::to_html(&offer.body));
    context.insert("coupon", &coupon.summary());
    context.insert("live", &live);
    context.insert("new_subscribers_only", &coupon.new_subscribers_only);
    // The coupon ends at a moment; readers are told the last day it works.
    context.insert("last_day", &coupon.ends_at.map(|t| clock::long_date(t - 1)));
    context.insert("starts_on", &coupon.starts_at.filter(|&t| t > now).map(clock::long_date));
    context.insert("plans", &offers::offer_plans(&state.db, &coupon, state.currency(), now).await?);
    if !live {
        // The regular plans instead, so the link still leads somewhere useful.
        context.insert("regular_plans", &catalog::plans(&state.db).await?);
    }
    Ok(render(&state, "catalog/offer.html", &context)?)
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    sku: String,
}

/// Puts the plan in the cart and applies the offer's code. A plan the offer does not cover is
/// refused (404) with nothing changed; a plan the cart cannot take (another term of it is there)
/// sends the reader to the cart, which says why; an offer that ended meanwhile adds the plan at its
/// regular price and says so.
async fn add_with_code(
    State(state): State<AppState>,
    mut visitor: Visitor,
    Path(slug): Path<String>,
    FormBody(form): FormBody<AddForm>,
) -> Result<Response, PageError> {
    let (_, coupon) = offers::published_offer(&state.db, &slug).await?.ok_or_else(no_such_offer)?;
    let now = clock::now();
    let covered = offers::offer_plans(&state.db, &coupon, state.currency(), now).await?;
    if !covered.iter().any(|p| p.plan.sku == form.sku) {
        return Err(Error::not_found("not_in_offer", "This offer does not include that plan.").into());
    }
    let cart_id = visitor.cart_id_or_new().await?;
    let mut notices = match cart::add_item(&state.db, &cart_id, &form.sku, cart::Quantity::one(), now).await {
        Ok(notices) => notices,
        Err(Error::Internal(cause)) => return Err(Error::Internal(cause).into()),
        // Another term of the plan already in the cart (a second button, another tab): the cart
        // says so, as when adding there.
        Err(refused) => {
            visitor.flash(vec![refused.public_message()]).await?;
            return Ok(redirect::to("/cart").into_response());
        }
    };
    let had_other = cart::cart_coupon_id(&state.db, &cart_id).await?.is_some_and(|id| id != coupon.id);
    match cart::apply_offer_coupon(&state.db, &cart_id, &coupon, state.currency(), now).await {
        Ok(applied) => {
            notices.extend(applied);
            if had_other {
                notices.push(cart::Notice::new(
                    "coupon_replaced",
                    "One coupon per order: the offer's code replaced the one in your cart.",
                ));
            }
        }
        Err(Error::Internal(cause)) => return Err(Error::Internal(cause).into()),
        Err(refused) => notices.push(cart::Notice::new(
            "offer_ended",
            format!("{} The plan is in your cart at its regular price.", refused.public_message()),
        )),
    }
    visitor.flash(notices.into_iter().map(|n| n.message).collect()).await?;
    Ok(redirect::to("/cart").into_response())
}
