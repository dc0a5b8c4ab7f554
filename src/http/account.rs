//! The reader's account: sign in by an emailed link (no passwords), sign out, and the account
//! page. GET never signs anyone in or spends a link: mail scanners open every link.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
    Router,
};
use serde::Deserialize;

use super::{
    error::PageError,
    extract::{visitor_context, AddressForm, FormBody, Visitor},
    redirect,
    render::render,
    AppState,
};
use crate::{accounts, clock, email::EmailAddress, error::Error, orders::OrderStatus};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account))
        .route("/account/login", get(login_form).post(ask_for_link))
        .route("/account/sign-in/{token}", get(sign_in_page).post(sign_in))
        .route("/account/logout", post(sign_out))
        .route("/account/orders/{id}", get(receipt))
        .route("/account/gifts/{id}/card.pdf", get(gift_card))
        .route("/account/data.json", get(data_export))
        .route("/account/renew", post(renew))
        .route("/account/subscriptions/{id}/address", post(change_address))
        .route("/account/erase", get(erase_page).post(erase))
        .route("/account/erased", get(erased))
        .layer(super::no_store())
}

async fn login_page(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    email: &str,
    error: Option<&Error>,
    sent: Vec<String>,
) -> Result<Response, PageError> {
    let mut context = visitor_context(state, visitor, "Sign in").await;
    context.insert("email", email);
    context.insert("error", &error.map(Error::public_message));
    context.insert("sent", &sent);
    let mut response = render(state, "account/login.html", &context)?.into_response();
    *response.status_mut() = status;
    if let Some(Error::TooManyRequests { retry_after_secs, .. }) = error {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, (*retry_after_secs).into());
    }
    Ok(response)
}

async fn login_form(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    if visitor.reader().await?.is_some() {
        return Ok(redirect::to("/account"));
    }
    let sent = visitor.take_flash().await;
    login_page(&state, &visitor, StatusCode::OK, "", None, sent).await
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
}

/// The same answer whether or not the shop knows the address: a link goes out only if it does.
async fn ask_for_link(
    State(state): State<AppState>,
    visitor: Visitor,
    FormBody(form): FormBody<LoginForm>,
) -> Result<Response, PageError> {
    let email = match EmailAddress::parse(&form.email) {
        Ok(email) => email,
        Err(error) => {
            return login_page(&state, &visitor, StatusCode::UNPROCESSABLE_ENTITY, &form.email, Some(&error), vec![])
                .await
        }
    };
    let base = state.config.base().to_string();
    let requested = accounts::request_link(
        &state.db,
        &email,
        &visitor.ip.to_string(),
        &state.config.shop_name,
        |token| format!("{base}/account/sign-in/{token}"),
        clock::now(),
    )
    .await;
    match requested {
        Ok(()) => {
            visitor
                .flash(vec![format!(
                    "If we know {email}, a sign-in link is on its way to it. It works once, for 15 minutes."
                )])
                .await?;
            Ok(redirect::to("/account/login"))
        }
        Err(error @ Error::TooManyRequests { .. }) => {
            login_page(&state, &visitor, StatusCode::TOO_MANY_REQUESTS, email.as_str(), Some(&error), vec![]).await
        }
        Err(other) => Err(PageError(other)),
    }
}

/// What opening the emailed link shows: a button, nothing more.
async fn sign_in_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> Result<Html<String>, PageError> {
    let usable = token.len() <= 128 && accounts::link_is_usable(&state.db, &token, clock::now()).await?;
    if !usable {
        return Err(PageError(Error::not_found(
            "sign_in_link_unusable",
            "This sign-in link has expired, has been used, or was replaced by a newer one. Ask for a new link.",
        )));
    }
    let mut context = visitor_context(&state, &visitor, "Sign in").await;
    context.insert("token", &token);
    Ok(render(&state, "account/sign_in.html", &context)?)
}

/// A form posted from another site (a forged one) is refused: the browser says where it came from.
fn refuse_other_sites(headers: &HeaderMap, code: &'static str, message: &str) -> Result<(), PageError> {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    match site {
        Some("cross-site") => Err(PageError(Error::Forbidden { code, message: message.into() })),
        _ => Ok(()),
    }
}

async fn sign_in(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    refuse_other_sites(
        &headers,
        "cross_site_sign_in",
        "Open the link from your email in this browser, then press Sign in.",
    )?;
    let email = accounts::sign_in(&state.db, &token, clock::now()).await?;
    visitor.sign_in_as(&email).await?;
    // "A link is on its way" is old news once the reader is in.
    visitor.take_flash().await;
    tracing::info!("reader signed in by email link");
    Ok(redirect::to("/account"))
}

async fn sign_out(visitor: Visitor) -> Result<Response, PageError> {
    visitor.sign_out().await?;
    Ok(redirect::to("/"))
}

/// Whose account this browser may see.
enum Viewer {
    /// A signed-in reader (their normalised email): everything of theirs.
    Reader(String),
    /// A buyer who has not signed in, whose order from this browser awaits payment: that order alone.
    Buyer { order_id: String, email: String },
}

/// The signed-in reader; or, for a buyer who has not signed in, the email their newest order from
/// this browser was placed with: in full once that order is paid (the buyer is then signed in),
/// that order alone until then. `None` for anyone else.
async fn viewer(state: &AppState, visitor: &Visitor) -> Result<Option<Viewer>, Error> {
    if let Some(email) = visitor.reader().await? {
        return Ok(Some(Viewer::Reader(email)));
    }
    let latest = match &visitor.cart_id {
        Some(cart_id) => accounts::latest_order_of_cart(&state.db, cart_id).await?,
        None => None,
    };
    Ok(match latest {
        None => None,
        Some((_, email, status)) if status != OrderStatus::Pending => {
            visitor.sign_in_as(&email).await?;
            Some(Viewer::Reader(email))
        }
        Some((order_id, email, _)) => Some(Viewer::Buyer { order_id, email }),
    })
}

/// The account this browser may see, and whether it is a buyer's order awaiting payment.
pub(super) async fn visible_account(
    state: &AppState,
    visitor: &Visitor,
) -> Result<Option<(accounts::Overview, bool)>, Error> {
    Ok(match viewer(state, visitor).await? {
        None => None,
        Some(Viewer::Reader(email)) => Some((accounts::overview(&state.db, &email, clock::now()).await?, false)),
        Some(Viewer::Buyer { order_id, email }) => {
            Some((accounts::overview_of_order(&state.db, &order_id, &email).await?, true))
        }
    })
}

/// An address form sent back with what is wrong with it.
#[derive(Default, serde::Serialize)]
struct AddressAttempt {
    subscription_id: String,
    form: AddressForm,
    message: Option<String>,
    field_errors: std::collections::HashMap<&'static str, String>,
}

async fn account_page(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    attempt: AddressAttempt,
) -> Result<Response, PageError> {
    let Some((overview, awaiting_payment)) = visible_account(state, visitor).await? else {
        return Ok(redirect::to("/account/login"));
    };
    let mut context = visitor_context(state, visitor, "Your account").await;
    let gifts = match awaiting_payment {
        true => vec![],
        false => crate::orders::gifts::gifts_given(&state.db, &overview.email).await?,
    };
    let gifts: Vec<serde_json::Value> = gifts
        .iter()
        .map(|g| {
            serde_json::json!({
                "title": g.title, "recipient": g.recipient,
                "first_issue": crate::terms::describe(g.first_period),
                "last_issue": crate::terms::describe(g.last_period),
                "card_url": format!("/account/gifts/{}/card.pdf", g.subscription_id),
            })
        })
        .collect();
    context.insert("gifts_given", &gifts);
    context.insert("account", &overview);
    context.insert("awaiting_payment", &awaiting_payment);
    context.insert("flash", &visitor.take_flash().await);
    context.insert("attempt", &attempt);
    // What an address form shows when it is not the one sent back: every field empty.
    context.insert("blank", &every_address_field([]));
    context.insert("countries", &crate::postage::country_choices(&state.db, &state.config.home_country).await?);
    context.insert("home_country", &state.config.home_country);
    let mut response = render(state, "account/account.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

/// The given messages, and an empty one for every other address field, so the template can look
/// up any of them.
fn every_address_field(
    messages: impl IntoIterator<Item = (&'static str, String)>,
) -> std::collections::HashMap<&'static str, String> {
    let mut all: std::collections::HashMap<&'static str, String> =
        ["line1", "line2", "city", "region", "postal_code", "country"].map(|f| (f, String::new())).into();
    all.extend(messages);
    all
}

async fn account(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    account_page(&state, &visitor, StatusCode::OK, AddressAttempt::default()).await
}

/// A new mailing address for one of the reader's print subscriptions, from the next issue whose
/// mailing list is open. A mistake shows the account again with the message beside the field.
async fn change_address(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    FormBody(form): FormBody<AddressForm>,
) -> Result<Response, PageError> {
    let Some(email) = visitor.reader().await? else {
        return Ok(redirect::to("/account/login"));
    };
    let input = form.input();
    let id = if id.len() > 64 { String::new() } else { id };
    match crate::orders::change_address(&state.db, &email, &id, &input, clock::now()).await {
        Ok(from) => {
            let issue = crate::orders::terms::describe(from);
            visitor
                .flash(vec![format!("Your new address is saved: copies from the {issue} issue on go there.")])
                .await?;
            Ok(redirect::to("/account"))
        }
        Err(error @ (Error::Fields(_) | Error::Invalid { .. })) => {
            let field_errors =
                every_address_field(error.fields().unwrap_or_default().iter().map(|f| (f.field, f.message.clone())));
            let message = Some(error.public_message());
            let attempt = AddressAttempt { subscription_id: id, form, message, field_errors };
            account_page(&state, &visitor, super::error::status_of(&error), attempt).await
        }
        Err(other) => Err(PageError(other)),
    }
}

/// A printable receipt of one of the reader's own orders; anyone else's (or a guessed id) is 404.
async fn receipt(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let Some(viewer) = viewer(&state, &visitor).await? else {
        return Ok(redirect::to("/account/login"));
    };
    let not_found = || Error::not_found("order_not_found", "There is no such order in your account.");
    let order = crate::orders::find_order(&state.db, &id).await?.ok_or_else(not_found)?;
    // The same orders the account page lists: the reader's own (failed checkouts left out), or
    // the buyer's one order.
    let visible = match &viewer {
        Viewer::Reader(email) => EmailAddress::normalize(&order.email) == *email && order.status != OrderStatus::Failed,
        Viewer::Buyer { order_id, .. } => *order_id == order.id,
    };
    if !visible {
        return Err(PageError(not_found()));
    }
    let lines = crate::orders::order_lines(&state.db, &id).await?;
    let gifts = crate::orders::gifts::gifts_of_order(&state.db, &id).await?;
    let mut context = visitor_context(&state, &visitor, "Receipt").await;
    context.insert(
        "lines",
        &lines
            .iter()
            .map(|l| {
                (
                    crate::orders::gifts::line_title(l, &gifts),
                    l.quantity,
                    order.money(l.unit_price),
                    order.money(l.discount),
                    order.money(l.line_total - l.discount),
                )
            })
            .collect::<Vec<_>>(),
    );
    context.insert("address", &order.shipping_address().map(|a| a.lines()).unwrap_or_default());
    context.insert("subtotal", &order.money(order.subtotal));
    context.insert("discount", &order.money(order.discount));
    context.insert("extras", &order.extra_charges_with_zones(&gifts));
    context.insert("total", &order.money(order.total));
    context.insert("placed", &crate::clock::long_date(order.created_at));
    context.insert("paid", &order.paid_at.map(crate::clock::long_date));
    context.insert("order", &order);
    context.insert("base_url", state.config.base());
    context.insert("shop", &crate::settings::shop_contact(&state.db).await?);
    Ok(render(&state, "account/receipt.html", &context)?.into_response())
}

/// The printable card of a gift the signed-in reader gave; anyone else's is not found.
async fn gift_card(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let Some(email) = visitor.reader().await? else {
        return Ok(redirect::to("/account/login"));
    };
    let not_found = || Error::not_found("gift_not_found", "There is no such gift in your account.");
    let given = crate::orders::gifts::gifts_given(&state.db, &email).await?;
    let gift = given.iter().find(|g| g.subscription_id == id).ok_or_else(not_found)?;
    let order = crate::orders::find_order(&state.db, &gift.order_id).await?.ok_or_else(not_found)?;
    let pdf = crate::orders::gifts::gift_card(&state.db, &order, gift.order_position).await?.ok_or_else(not_found)?;
    Ok(super::pdf_download(pdf, "gift-card.pdf"))
}

/// "Your data": everything the shop holds about the signed-in reader, as a JSON download.
async fn data_export(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    let Some(email) = visitor.reader().await? else {
        return Ok(redirect::to("/account/login"));
    };
    let data = accounts::export(&state.db, &email, clock::now()).await?;
    let mut response = axum::Json(data).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_static("attachment; filename=\"my-data.json\""),
    );
    headers.insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("private, no-store"));
    Ok(response)
}

#[derive(Deserialize)]
struct RenewForm {
    #[serde(default)]
    sku: String,
}

/// Puts the plan that renews one of the reader's terms in the cart, marked as a renewal: paid, it
/// starts with the issue after the running term's last.
async fn renew(
    State(state): State<AppState>,
    mut visitor: Visitor,
    FormBody(form): FormBody<RenewForm>,
) -> Result<Response, PageError> {
    let Some(email) = visitor.reader().await? else {
        return Ok(redirect::to("/account/login"));
    };
    let not_yours =
        || Error::not_found("nothing_to_renew", "There is no subscription of yours to renew with that plan.");
    let product = crate::cart::product_for_sku(&state.db, &form.sku).await?;
    let crate::catalog::Product::Plan(plan) = &product else { return Err(PageError(not_yours())) };
    if !accounts::can_renew(&state.db, &email, &plan.publication, plan.edition.as_str()).await? {
        return Err(PageError(not_yours()));
    }
    let cart_id = visitor.cart_id_or_new().await?;
    let notices = crate::cart::add_renewal(&state.db, &cart_id, &form.sku, clock::now()).await?;
    let mut messages: Vec<String> = notices.into_iter().map(|n| n.message).collect();
    messages.push("It renews your subscription: paid, it starts with the issue after your current last issue.".into());
    visitor.flash(messages).await?;
    Ok(redirect::to("/cart"))
}

async fn erase_form(
    state: &AppState,
    visitor: &Visitor,
    email: &str,
    status: StatusCode,
    error: Option<&Error>,
) -> Result<Response, PageError> {
    let warning = accounts::erasure_warning(&state.db, email, clock::now()).await?;
    let mut context = visitor_context(state, visitor, "Erase your data").await;
    context.insert("warning", &warning);
    context.insert("error", &error.map(Error::public_message));
    let mut response = render(state, "account/erase.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

/// What erasing would stop, and the form that does it.
async fn erase_page(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    let Some(email) = visitor.reader().await? else {
        return Ok(redirect::to("/account/login"));
    };
    erase_form(&state, &visitor, &email, StatusCode::OK, None).await
}

#[derive(Deserialize)]
struct EraseForm {
    #[serde(default)]
    confirm: String,
}

/// Erases the signed-in reader, once they have ticked that they understand, and signs them out.
async fn erase(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    FormBody(form): FormBody<EraseForm>,
) -> Result<Response, PageError> {
    let Some(email) = visitor.reader().await? else {
        return Ok(redirect::to("/account/login"));
    };
    refuse_other_sites(&headers, "cross_site_erasure", "Erase your data from your account page on this shop.")?;
    if form.confirm != "yes" {
        let error = Error::invalid("erasure_not_confirmed", "Tick the box to confirm that you want your data erased.");
        return erase_form(&state, &visitor, &email, StatusCode::UNPROCESSABLE_ENTITY, Some(&error)).await;
    }
    match accounts::erase(&state.db, &email, &crate::audit::Actor::reader(), clock::now()).await {
        // A second press finds nothing left to erase: that is the outcome asked for.
        Ok(_) | Err(Error::NotFound { code: "reader_not_found", .. }) => {
            visitor.sign_out().await?;
            tracing::info!("a reader erased their data");
            Ok(redirect::to("/account/erased"))
        }
        Err(error @ Error::Conflict { .. }) => {
            erase_form(&state, &visitor, &email, StatusCode::CONFLICT, Some(&error)).await
        }
        Err(other) => Err(PageError(other)),
    }
}

async fn erased(State(state): State<AppState>, visitor: Visitor) -> Result<Html<String>, PageError> {
    let context = visitor_context(&state, &visitor, "Your data is erased").await;
    Ok(render(&state, "account/erased.html", &context)?)
}
