//! Checkout pages: the details form, the local test-mode payment page, and the pages the
//! payment provider sends the reader back to. Orders are shown only to the session that placed them.

use crate::http::redirect;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use serde::{Deserialize, Serialize};

use super::{
    error::{status_of, PageError},
    extract::visitor_context,
    extract::{AddressForm, FormBody, Visitor},
    render::render,
    AppState,
};
use crate::{
    cart, clock,
    error::{Error, FieldError},
    orders::{self, CheckoutInput, Order, OrderStatus, PaymentMethod},
    payments,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/checkout", get(checkout_form).post(place_order))
        .route("/checkout/remove-coupon", post(remove_coupon))
        .route("/checkout/donation", post(change_donation))
        .route("/checkout/gift-card", get(gift_card))
        .route("/checkout/success", get(success))
        .route("/checkout/cancel", get(cancel))
        .route("/checkout/test-payment/{order}", get(test_payment_page))
        .route("/checkout/test-payment/{order}/pay", post(test_pay))
        .route("/checkout/test-payment/{order}/cancel", post(test_cancel))
        .layer(super::no_store())
}

/// The form's fields, kept to show them again after a mistake.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct CheckoutForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(flatten)]
    address: AddressForm,
    /// The cart's version when the page was drawn.
    #[serde(default)]
    cart_version: String,
    /// The donation box's "another amount"; typed and sent (Enter in that field) it changes the
    /// donation instead of placing the order.
    #[serde(default)]
    donation: String,
    /// A suggested donation pressed, or "remove".
    #[serde(default)]
    preset: Option<String>,
}

impl CheckoutForm {
    fn input(&self) -> CheckoutInput {
        CheckoutInput {
            email: self.email.clone(),
            name: self.name.clone(),
            shipping_address: self.address.is_given().then(|| self.address.input()),
            cart_version: Some(self.cart_version.clone()).filter(|v| !v.is_empty()),
        }
    }
}

async fn form_page(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    form: &CheckoutForm,
    error: Option<&Error>,
    problems: &[FieldError],
    notices: &[String],
) -> Result<Response, PageError> {
    let view = cart::view_cart(&state.db, visitor.cart_id.as_deref(), state.currency(), clock::now()).await?;
    if view.quote.lines.is_empty() && view.quote.donation.amount == 0 && error.is_none() {
        return Ok(redirect::to("/cart"));
    }
    let products = cart_products(state, &view).await?;
    let items: Vec<_> = products.iter().map(|(product, quantity)| (product, *quantity)).collect();
    let needs_address = products.iter().any(|(product, _)| product.edition() == crate::catalog::Edition::Print);
    let mut context = visitor_context(state, visitor, "Checkout").await;
    context.insert("facts", &plan_facts_of(state, &view, &products).await?);
    context.insert("postage", &crate::postage::estimate(&state.db, &items, state.currency()).await?);
    context.insert("gift_postage", &gift_postage_rows(state, &view).await?);
    context.insert("cart", &view);
    context.insert("form", form);
    let donation = super::cart::DonationChoices::new(state, error);
    let refused = error.and_then(Error::fields).is_some_and(|f| f.iter().any(|f| f.field == "donation"));
    context.insert("donation", &if refused { donation.typed(&form.donation) } else { donation });
    context.insert("needs_address", &needs_address);
    context.insert("error", &error.map(|e| e.public_message()));
    context.insert("notices", notices);
    let field_errors: std::collections::HashMap<&str, &str> =
        problems.iter().map(|p| (p.field, p.message.as_str())).collect();
    context.insert("field_errors", &field_errors);
    context.insert("summary", &error_summary(problems));
    context.insert("countries", &crate::postage::country_choices(&state.db, &state.config.home_country).await?);
    let mut response = render(state, "checkout/checkout.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

/// The error summary's entries: the field each problem links to, and the message. A missing
/// mailing address links to its first field.
fn error_summary(problems: &[FieldError]) -> Vec<(String, &str)> {
    problems
        .iter()
        .map(|p| {
            let field = if p.field == "shipping_address" { "line1" } else { p.field };
            (format!("f-{field}"), p.message.as_str())
        })
        .collect()
}

async fn checkout_form(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    let form = CheckoutForm {
        address: AddressForm { country: state.config.home_country.clone(), ..AddressForm::default() },
        ..CheckoutForm::default()
    };
    form_page(&state, &visitor, StatusCode::OK, &form, None, &[], &[]).await
}

/// The checkout page's "Remove coupon" button: the coupon leaves the cart and the page comes back
/// with everything typed so far, so a coupon that no longer applies costs the reader nothing.
async fn remove_coupon(
    State(state): State<AppState>,
    visitor: Visitor,
    FormBody(form): FormBody<CheckoutForm>,
) -> Result<Response, PageError> {
    let Some(cart_id) = visitor.cart_id.as_deref() else { return Ok(redirect::to("/cart")) };
    let notices: Vec<String> =
        cart::remove_coupon(&state.db, cart_id, clock::now()).await?.into_iter().map(|n| n.message).collect();
    form_page(&state, &visitor, StatusCode::OK, &form, None, &[], &notices).await
}

/// The checkout page's donation box: the donation changes and the page comes back with the new
/// total and everything typed so far; a refused amount is shown beside its field.
async fn change_donation(
    State(state): State<AppState>,
    mut visitor: Visitor,
    FormBody(form): FormBody<CheckoutForm>,
) -> Result<Response, PageError> {
    let outcome = async {
        let cart_id = visitor.cart_id_or_new().await?;
        let donation = match form.preset.as_deref() {
            Some("remove") => None,
            preset => {
                let choice = super::cart::DonationForm {
                    preset: preset.map(str::to_string),
                    amount: Some(form.donation.clone()),
                };
                Some(choice.donation(&state)?)
            }
        };
        cart::set_donation(&state.db, &cart_id, donation, clock::now()).await
    }
    .await;
    match outcome {
        Ok(notices) => {
            let notices: Vec<String> = notices.into_iter().map(|n| n.message).collect();
            let form = CheckoutForm { donation: String::new(), preset: None, ..form };
            form_page(&state, &visitor, StatusCode::OK, &form, None, &[], &notices).await
        }
        Err(Error::Internal(cause)) => Err(PageError(Error::Internal(cause))),
        Err(error) => {
            let problems = error.fields().unwrap_or_default().to_vec();
            form_page(&state, &visitor, status_of(&error), &form, Some(&error), &problems, &[]).await
        }
    }
}

async fn place_order(
    State(state): State<AppState>,
    visitor: Visitor,
    FormBody(form): FormBody<CheckoutForm>,
) -> Result<Response, PageError> {
    // Enter pressed in the donation's field sends the whole form: the amount typed is what the
    // reader meant to change, and the order waits until they have seen the new total.
    if !form.donation.trim().is_empty() {
        return change_donation(State(state), visitor, FormBody(form)).await;
    }
    let started = payments::start_checkout(
        &state.db,
        &state.payments,
        visitor.cart_id.as_deref(),
        &form.input(),
        state.currency(),
        state.config.base(),
    )
    .await;
    match started {
        Ok(started) => Ok(redirect::to_payment_page(&started.payment_url)),
        Err(Error::Internal(cause)) => Err(PageError(Error::Internal(cause))),
        Err(error) => {
            let problems = error.fields().unwrap_or_default().to_vec();
            form_page(&state, &visitor, status_of(&error), &form, Some(&error), &problems, &[]).await
        }
    }
}

#[derive(Deserialize)]
struct GiftCardQuery {
    #[serde(default)]
    order: String,
    #[serde(default)]
    position: i64,
}

/// The printable card of a gift in this browser's paid order.
async fn gift_card(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<GiftCardQuery>,
) -> Result<Response, PageError> {
    let order = own_order(&state, &visitor, &query.order).await?;
    let pdf = orders::gifts::gift_card(&state.db, &order, query.position)
        .await?
        .ok_or_else(|| Error::not_found("gift_not_found", "There is no such gift in a paid order of yours."))?;
    Ok(super::pdf_download(pdf, "gift-card.pdf"))
}

/// The visitor's own order; anyone else's is "not found".
async fn own_order(state: &AppState, visitor: &Visitor, order_id: &str) -> Result<Order, Error> {
    let not_found = || Error::not_found("order_not_found", "We can't find that order in this browser's session.");
    if order_id.len() > 64 {
        return Err(not_found());
    }
    let order = orders::find_order(&state.db, order_id).await?.ok_or_else(not_found)?;
    match (&order.cart_id, &visitor.cart_id) {
        (Some(theirs), Some(ours)) if theirs == ours => Ok(order),
        _ => Err(not_found()),
    }
}

#[derive(Deserialize)]
struct OrderQuery {
    #[serde(default)]
    order: String,
}

async fn success(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<OrderQuery>,
) -> Result<Response, PageError> {
    let mut order = match own_order(&state, &visitor, &query.order).await {
        Err(Error::NotFound { .. }) => return elsewhere(&state, &visitor, false).await,
        order => order?,
    };
    if order.status == OrderStatus::Pending {
        // The webhook may not have arrived yet: ask the provider. The status shown is the database's.
        if let Err(e) = payments::refresh(&state.db, &state.payments, &order).await {
            tracing::warn!(order_id = %order.id, error = %e, "success page could not refresh the order");
        }
        order = own_order(&state, &visitor, &query.order).await?;
    }
    let lines = orders::order_lines(&state.db, &order.id).await?;
    let subscriptions = orders::subscriptions_of_order(&state.db, &order.id).await?;
    let gifts = orders::gifts::gifts_of_order(&state.db, &order.id).await?;
    let mut context = visitor_context(&state, &visitor, "Your order").await;
    context.insert("order", &order);
    context.insert("total", &order.money(order.total));
    context.insert("discount", &order.money(order.discount));
    context.insert("lines", &summary_lines(&order, &lines, &gifts));
    let own: Vec<_> = subscriptions
        .iter()
        .filter(|s| gifts.iter().all(|g| g.position != s.order_position))
        .map(|s| (s.title.clone(), s.first_issue(), s.last_issue()))
        .collect();
    context.insert("subscriptions", &own);
    context.insert("given", &given_gifts(&order, &subscriptions, &gifts));
    context.insert(
        "digital",
        &subscriptions.iter().any(|s| s.edition == "digital" && gifts.iter().all(|g| g.position != s.order_position)),
    );
    Ok(render(&state, "checkout/success.html", &context)?.into_response())
}

/// The return pages opened in a browser that did not place the order (another device, a
/// cleared cookie, a shared link): no order shown, but where to find it.
async fn elsewhere(state: &AppState, visitor: &Visitor, cancelled: bool) -> Result<Response, PageError> {
    let title = if cancelled { "Checkout cancelled" } else { "Your order" };
    let mut context = visitor_context(state, visitor, title).await;
    context.insert("cancelled", &cancelled);
    context.insert("contact", &crate::settings::shop_contact(&state.db).await?);
    let mut response = render(state, "checkout/elsewhere.html", &context)?.into_response();
    *response.status_mut() = StatusCode::NOT_FOUND;
    Ok(response)
}

async fn cancel_and_return(state: &AppState, visitor: &Visitor, order_id: &str) -> Result<Response, PageError> {
    let order = own_order(state, visitor, order_id).await?;
    if order.status == OrderStatus::Pending {
        payments::cancel(&state.db, &state.payments, &order).await?;
    }
    let order = own_order(state, visitor, order_id).await?;
    if order.status == OrderStatus::Paid {
        return Ok(redirect::to(&format!("/checkout/success?order={}", order.id)));
    }
    visitor.flash(vec!["Checkout cancelled: nothing was charged, and your cart is as you left it.".into()]).await?;
    Ok(redirect::to("/cart"))
}

async fn cancel(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<OrderQuery>,
) -> Result<Response, PageError> {
    match cancel_and_return(&state, &visitor, &query.order).await {
        Err(PageError(Error::NotFound { .. })) => elsewhere(&state, &visitor, true).await,
        answer => answer,
    }
}

/// Local test mode only: the page that stands in for Stripe's.
async fn test_order(state: &AppState, visitor: &Visitor, order_id: &str) -> Result<Order, Error> {
    let order = own_order(state, visitor, order_id).await?;
    if !state.payments.is_test_mode() || order.provider != PaymentMethod::Test {
        return Err(Error::not_found("order_not_found", "There is no test payment for this order."));
    }
    Ok(order)
}

async fn test_payment_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(order_id): Path<String>,
) -> Result<Response, PageError> {
    let order = test_order(&state, &visitor, &order_id).await?;
    if order.status != OrderStatus::Pending {
        return Ok(redirect::to(&format!("/checkout/success?order={}", order.id)));
    }
    let lines = orders::order_lines(&state.db, &order.id).await?;
    let gifts = orders::gifts::gifts_of_order(&state.db, &order.id).await?;
    let mut context = visitor_context(&state, &visitor, "Test payment").await;
    context.insert("order", &order);
    context.insert("total", &order.money(order.total));
    context.insert("lines", &summary_lines(&order, &lines, &gifts));
    Ok(render(&state, "checkout/test_payment.html", &context)?.into_response())
}

async fn test_pay(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(order_id): Path<String>,
) -> Result<Response, PageError> {
    let order = test_order(&state, &visitor, &order_id).await?;
    payments::pay_in_test_mode(&state.db, &state.payments, &order).await?;
    Ok(redirect::to(&format!("/checkout/success?order={}", order.id)))
}

async fn test_cancel(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(order_id): Path<String>,
) -> Result<Response, PageError> {
    test_order(&state, &visitor, &order_id).await?;
    cancel_and_return(&state, &visitor, &order_id).await
}

/// A gift as the success page and the account list it.
#[derive(Serialize)]
pub(super) struct GivenGift {
    pub title: String,
    pub recipient: String,
    pub first_issue: String,
    pub last_issue: String,
    /// How the recipient hears of it.
    pub told: String,
    pub card_url: String,
}

pub(super) fn given_gifts(
    order: &Order,
    subscriptions: &[orders::Subscription],
    gifts: &[orders::gifts::OrderGift],
) -> Vec<GivenGift> {
    subscriptions
        .iter()
        .filter_map(|s| {
            let g = gifts.iter().find(|g| g.position == s.order_position)?;
            let told = match (g.gift.notify, &g.gift.recipient_email) {
                (crate::gifts::Notify::Now, Some(email)) => format!("We email {email} now."),
                (crate::gifts::Notify::Date(day), Some(email)) => {
                    format!("We email {email} on {}.", clock::long_date(day))
                }
                _ => "Print the gift card and hand it over.".to_string(),
            };
            Some(GivenGift {
                title: s.title.clone(),
                recipient: g.gift.recipient_name.clone(),
                first_issue: s.first_issue(),
                last_issue: s.last_issue(),
                told,
                card_url: format!("/checkout/gift-card?order={}&position={}", order.id, g.position),
            })
        })
        .collect()
}

/// The order's lines as the success and test payment pages list them: name, quantity, amount
/// charged; postage and the donation last, as lines of their own.
fn summary_lines(
    order: &orders::Order,
    lines: &[orders::OrderLine],
    gifts: &[orders::gifts::OrderGift],
) -> Vec<(String, i64, crate::money::Money)> {
    let mut rows: Vec<_> = lines
        .iter()
        .map(|l| (orders::gifts::line_title(l, gifts), l.quantity, order.money(l.line_total - l.discount)))
        .collect();
    rows.extend(order.extra_charges(gifts).into_iter().map(|(label, amount)| (label, 1, amount)));
    rows
}

/// The facts of the plans in the cart (issues, price per issue, first issue), by SKU; in a cart the
/// price per issue is of what the line costs after its discount.
pub(super) async fn plan_facts_of(
    state: &AppState,
    view: &cart::CartView,
    products: &[(crate::catalog::Product, i64)],
) -> Result<std::collections::HashMap<String, crate::orders::plan_facts::PlanFacts>, Error> {
    let plans: Vec<&crate::catalog::Plan> = products
        .iter()
        .filter_map(|(product, _)| match product {
            crate::catalog::Product::Plan(plan) => Some(plan),
            crate::catalog::Product::Issue(_) => None,
        })
        .collect();
    let mut facts = crate::orders::plan_facts::plan_facts(&state.db, &plans, clock::now()).await?;
    for line in view.quote.lines.iter().filter(|l| l.discount.amount > 0 && l.gift.is_none()) {
        if let Some(f) = facts.get_mut(&line.sku) {
            let charged =
                crate::money::Money::new(line.line_total.amount - line.discount.amount, line.line_total.currency);
            f.per_issue = charged.share_of(f.issues);
        }
    }
    Ok(facts)
}

/// What each print gift's postage to its recipient's country will be (the checkout adds it), as
/// the cart and checkout pages list it; a country no zone takes is said so.
pub(super) async fn gift_postage_rows(state: &AppState, view: &cart::CartView) -> Result<Vec<(String, String)>, Error> {
    let mut rows = Vec::new();
    for line in &view.quote.lines {
        let Some(gift) = &line.gift else { continue };
        let Some(address) = &gift.gift.address else { continue };
        let Some(product) = crate::catalog::find_product(&state.db, &line.sku).await? else { continue };
        let label = format!("Postage of the gift for {}", gift.gift.recipient_name);
        match crate::postage::postage_for(&state.db, &[(&product, 1)], &address.country, state.currency()).await {
            Ok(Some(postage)) => rows.push((
                orders::gifts::gift_postage_label(&postage.label(), &gift.gift.recipient_name),
                postage.amount.display(),
            )),
            Ok(None) => {}
            Err(_) => {
                rows.push((label, format!("we cannot mail to {}", crate::postage::country_name(&address.country))))
            }
        }
    }
    Ok(rows)
}

/// The products in the cart with their quantities (those still on sale), gifts left out: they
/// go to their recipients (postage to the recipient's country, no address asked of the buyer).
pub(super) async fn cart_products(
    state: &AppState,
    view: &cart::CartView,
) -> Result<Vec<(crate::catalog::Product, i64)>, Error> {
    let mut products = Vec::new();
    for line in view.quote.lines.iter().filter(|l| l.gift.is_none()) {
        if let Some(product) = crate::catalog::find_product(&state.db, &line.sku).await? {
            products.push((product, line.quantity));
        }
    }
    Ok(products)
}
