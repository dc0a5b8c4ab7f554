//! The JSON API under /api/v1 and its OpenAPI document.
//!
//! Routes are added through a `RecordingRouter`, which records each method and path, so a
//! test can check that every route the API serves is in the OpenAPI document.

mod account;
mod cart;
mod catalog;
mod checkout;

use axum::{Json, Router};
use utoipa::OpenApi;

use super::{error::api_not_found, routes::RecordingRouter, AppState};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "masthead",
        description = "The shop's JSON API: the catalog, the archive of issues, and (later) the cart and checkout. \
            Money is always `{\"amount\": minor units, \"currency\", \"display\"}`; errors are always \
            `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(
        catalog::list_products, catalog::list_issues, catalog::get_issue,
        cart::get_cart, cart::add_item, cart::update_item, cart::remove_item, cart::apply_coupon, cart::remove_coupon,
        cart::set_donation, cart::remove_donation,
        checkout::checkout,
        account::get_account,
        openapi_json
    ),
    tags(
        (name = "catalog", description = "Publications, plans and issues"),
        (name = "cart", description = "The visitor's cart (kept by a session cookie), its coupon and donation"),
        (name = "checkout", description = "Turning the cart into an order and paying for it"),
        (name = "account", description = "The signed-in reader's subscriptions and orders"),
        (name = "meta")
    )
)]
struct ApiDoc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The OpenAPI 3 document of this API.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}

pub fn api_router() -> RecordingRouter {
    RecordingRouter::new("/api/v1")
        .get("/openapi.json", openapi_json)
        .get("/products", catalog::list_products)
        .get("/issues", catalog::list_issues)
        .get("/issues/{publication}/{year}/{month}", catalog::get_issue)
        .get("/cart", cart::get_cart)
        .post("/cart/items", cart::add_item)
        .patch("/cart/items/{sku}", cart::update_item)
        .delete("/cart/items/{sku}", cart::remove_item)
        .post("/cart/coupon", cart::apply_coupon)
        .delete("/cart/coupon", cart::remove_coupon)
        .put("/cart/donation", cart::set_donation)
        .delete("/cart/donation", cart::remove_donation)
        .post("/checkout", checkout::checkout)
        .get("/account", account::get_account)
}

pub fn router() -> Router<AppState> {
    api_router().router.fallback(api_not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_route_is_in_the_openapi_document() {
        let doc = serde_json::to_value(openapi()).expect("the document serializes");
        let routes = api_router().routes;
        assert!(routes.len() >= 4);
        for (method, path) in routes {
            let documented = &doc["paths"][&path][method.to_ascii_lowercase()];
            assert!(documented.is_object(), "{method} {path} is served but missing from the OpenAPI document");
        }
    }
}
