//! Gift pages: the form that puts a gift subscription in the cart (from the subscribe page, or by
//! marking a cart line a gift), its edit form, and removing it. Plain forms, redirect after POST.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use serde::{Deserialize, Serialize};

use super::{
    error::PageError,
    extract::{visitor_context, FormBody, Visitor},
    redirect,
    render::render,
    AppState,
};
use crate::{
    cart, catalog,
    catalog::Plan,
    clock,
    error::{Error, FieldError},
    gifts::{self, GiftInput},
    orders::plan_facts,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/gifts/new", get(new_gift))
        .route("/cart/gifts", post(add_gift))
        .route("/cart/gifts/{id}", get(edit_gift).post(save_gift))
        .route("/cart/gifts/{id}/remove", post(remove_gift))
        .layer(super::no_store())
}

#[derive(Deserialize)]
struct NewQuery {
    #[serde(default)]
    sku: String,
    /// The buyer's own cart line becomes the gift.
    #[serde(default)]
    from_cart: Option<String>,
}

/// The gift form's fields, with the plan it is for and where it came from.
#[derive(Clone, Default, Deserialize, Serialize)]
struct GiftForm {
    #[serde(default)]
    sku: String,
    #[serde(default)]
    from_cart: Option<String>,
    #[serde(flatten)]
    gift: GiftInput,
}

async fn gift_plan(state: &AppState, sku: &str) -> Result<Plan, Error> {
    match cart::product_for_sku(&state.db, sku).await? {
        catalog::Product::Plan(plan) => Ok(plan),
        catalog::Product::Issue(_) => {
            Err(Error::not_found("not_a_plan", "Only subscriptions can be given: choose a plan on the subscribe page."))
        }
    }
}

/// The issues a gift of this plan may start with, bought now.
async fn start_choices(state: &AppState, plan: &Plan) -> Result<Vec<(i64, String)>, Error> {
    let now = clock::now();
    let (next, frequency) =
        plan_facts::first_issue_if_paid_now(&state.db, &plan.publication, plan.edition, now).await?;
    Ok(gifts::start_choices(frequency, next, now))
}

/// The form page: a new gift (`editing` none) or a gift in the cart.
async fn form_page(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    plan: &Plan,
    form: &GiftForm,
    editing: Option<&str>,
    problems: &[FieldError],
) -> Result<Response, PageError> {
    let choices = start_choices(state, plan).await?;
    let title = if editing.is_some() { "Change a gift" } else { "Give a subscription" };
    let mut context = visitor_context(state, visitor, title).await;
    context.insert("plan", plan);
    context.insert("form", form);
    context.insert("editing", &editing);
    context.insert(
        "choices",
        &choices
            .iter()
            .map(|(period, label)| {
                let (year, month) = crate::terms::year_month(*period);
                (format!("{year:04}-{month:02}"), label.clone())
            })
            .collect::<Vec<_>>(),
    );
    context.insert("today", &clock::day(clock::now()));
    let field_errors: std::collections::HashMap<&str, &str> =
        problems.iter().map(|p| (p.field, p.message.as_str())).collect();
    context.insert("field_errors", &field_errors);
    let summary: Vec<(String, &str)> = problems
        .iter()
        .map(|p| {
            let field = if p.field == "shipping_address" { "line1" } else { p.field };
            (format!("f-{field}"), p.message.as_str())
        })
        .collect();
    context.insert("summary", &summary);
    context.insert("countries", &crate::postage::country_choices(&state.db, &state.config.home_country).await?);
    let mut response = render(state, "gifts/gift_form.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

async fn new_gift(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<NewQuery>,
) -> Result<Response, PageError> {
    let plan = gift_plan(&state, &query.sku).await?;
    let mut gift = GiftInput { notify: "now".into(), first_issue: "next".into(), ..GiftInput::default() };
    gift.address.country = state.config.home_country.clone();
    let form = GiftForm { sku: plan.sku.clone(), from_cart: query.from_cart, gift };
    form_page(&state, &visitor, StatusCode::OK, &plan, &form, None, &[]).await
}

async fn add_gift(
    State(state): State<AppState>,
    mut visitor: Visitor,
    FormBody(form): FormBody<GiftForm>,
) -> Result<Response, PageError> {
    let plan = gift_plan(&state, &form.sku).await?;
    let choices = start_choices(&state, &plan).await?;
    let gift = match form.gift.check(plan.edition, &choices, clock::now()) {
        Ok(gift) => gift,
        Err(problems) => {
            return form_page(&state, &visitor, StatusCode::UNPROCESSABLE_ENTITY, &plan, &form, None, &problems).await
        }
    };
    let cart_id = visitor.cart_id_or_new().await?;
    let from_cart = form.from_cart.as_deref() == Some("1");
    let standard = crate::catalog::rates::RateChoice::STANDARD;
    let notices = cart::add_gift(&state.db, &cart_id, &plan.sku, standard, &gift, from_cart, clock::now()).await;
    done(visitor, notices).await
}

/// Back to the cart with what changed; a refusal is the usual error page.
async fn done(visitor: Visitor, notices: Result<Vec<cart::Notice>, Error>) -> Result<Response, PageError> {
    match notices {
        Ok(notices) => {
            visitor.flash(notices.into_iter().map(|n| n.message).collect()).await?;
            Ok(redirect::to("/cart"))
        }
        Err(other) => Err(PageError(other)),
    }
}

async fn edit_gift(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let cart_id = visitor.cart_id.as_deref().ok_or_else(cart::gift_not_in_cart)?;
    let found = cart::find_cart_gift(&state.db, cart_id, &id).await?;
    let plan = gift_plan(&state, &found.sku).await?;
    let form = GiftForm { sku: found.sku.clone(), from_cart: None, gift: GiftInput::of(&found.gift) };
    form_page(&state, &visitor, StatusCode::OK, &plan, &form, Some(&id), &[]).await
}

async fn save_gift(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    FormBody(form): FormBody<GiftForm>,
) -> Result<Response, PageError> {
    let cart_id = visitor.cart_id.clone().ok_or_else(cart::gift_not_in_cart)?;
    let found = cart::find_cart_gift(&state.db, &cart_id, &id).await?;
    let plan = gift_plan(&state, &found.sku).await?;
    let choices = start_choices(&state, &plan).await?;
    let form = GiftForm { sku: found.sku.clone(), ..form };
    let gift = match form.gift.check(plan.edition, &choices, clock::now()) {
        Ok(gift) => gift,
        Err(problems) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return form_page(&state, &visitor, status, &plan, &form, Some(&id), &problems).await;
        }
    };
    let notices = cart::update_gift(&state.db, &cart_id, &id, &gift, clock::now()).await;
    done(visitor, notices).await
}

async fn remove_gift(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let notices = match visitor.cart_id.as_deref() {
        Some(cart_id) => cart::remove_gift(&state.db, cart_id, &id).await,
        None => Err(cart::gift_not_in_cart()),
    };
    done(visitor, notices).await
}
