//! Coupons in the admin: the list, the form (with a preview of every price after the coupon,
//! from the cart's own pricing), redemptions, deactivation and deletion.

use crate::catalog::rates::Rate;
use crate::http::redirect;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{admin_context, datetime, StaffContext};
use crate::{
    cart::{price, PricingLine},
    catalog, clock,
    coupons::{self, AppliesTo, Coupon, CouponValue, NewCoupon, Percent},
    error::Error,
    error::FieldError,
    http::{error::PageError, extract::FormBody, render::render, routes::RecordingRouter, AppState},
    money::{Currency, Money},
};

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    routes
        .get("/coupons", list)
        .get("/coupons/new", new_form)
        .post("/coupons", create)
        .get("/coupons/{id}", edit_form)
        .post("/coupons/{id}", update)
        .post("/coupons/{id}/deactivate", deactivate)
        .post("/coupons/{id}/activate", activate)
        .post("/coupons/{id}/delete", delete)
        .get("/coupons/{id}/offer", offer_form)
        .post("/coupons/{id}/offer", save_offer)
}

#[derive(Serialize)]
struct CouponRow {
    id: String,
    code: String,
    value: String,
    applies_to: String,
    starts_at: Option<String>,
    ends_at: Option<String>,
    used: i64,
    limit: Option<i64>,
    status: &'static str,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    status: String,
}

/// The value an `<input type="datetime-local">` shows.
fn datetime_local(unix: i64) -> String {
    datetime(unix).replace(' ', "T")
}

async fn list(
    State(state): State<AppState>,
    ctx: StaffContext,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let now = clock::now();
    let uses = coupons::uses_by_coupon(&state.db).await?;
    let rows: Vec<CouponRow> = coupons::list_coupons(&state.db)
        .await?
        .into_iter()
        .map(|c| CouponRow {
            status: c.status(now),
            id: c.id.clone(),
            code: c.code.clone(),
            value: c.value.describe(),
            applies_to: c.applies_to.describe(),
            starts_at: c.starts_at.map(datetime),
            ends_at: c.ends_at.map(datetime),
            used: uses.get(&c.id).copied().unwrap_or(0),
            limit: c.max_redemptions,
        })
        .filter(|row| query.status.is_empty() || row.status == query.status)
        .collect();
    let mut context = admin_context(&state, &ctx, "Coupons").await;
    context.insert("coupons", &rows);
    context.insert("filter", &query.status);
    Ok(render(&state, "admin/coupons.html", &context)?.into_response())
}

/// The form's fields as typed.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct CouponForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    applies_to: String,
    #[serde(default)]
    targets: String,
    #[serde(default)]
    new_subscribers_only: Option<String>,
    #[serde(default)]
    covers_postage: Option<String>,
    #[serde(default)]
    applies_to_reduced: Option<String>,
    #[serde(default)]
    applies_to_sustainer: Option<String>,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    max_redemptions: String,
    #[serde(default)]
    per_customer_limit: String,
    #[serde(default)]
    min_subtotal: String,
    #[serde(default)]
    active: Option<String>,
    /// "save" or "preview".
    #[serde(default)]
    action: String,
}

impl CouponForm {
    fn from_coupon(c: &Coupon) -> CouponForm {
        let (kind, value) = match &c.value {
            CouponValue::Percent(percent) => ("percent", percent.as_decimal().to_string()),
            CouponValue::Fixed(m) => ("fixed", m.to_decimal().to_string()),
        };
        CouponForm {
            code: c.code.clone(),
            description: c.description.clone(),
            kind: kind.into(),
            value,
            applies_to: c.applies_to.kind().into(),
            targets: c.applies_to.targets().join(", "),
            new_subscribers_only: c.new_subscribers_only.then(|| "on".into()),
            covers_postage: c.covers_postage.then(|| "on".into()),
            applies_to_reduced: c.applies_to_reduced.then(|| "on".into()),
            applies_to_sustainer: c.applies_to_sustainer.then(|| "on".into()),
            starts_at: c.starts_at.map(datetime_local).unwrap_or_default(),
            ends_at: c.ends_at.map(datetime_local).unwrap_or_default(),
            max_redemptions: c.max_redemptions.map(|n| n.to_string()).unwrap_or_default(),
            per_customer_limit: c.per_customer_limit.map(|n| n.to_string()).unwrap_or_default(),
            min_subtotal: c.min_subtotal.map(|m| m.to_decimal().to_string()).unwrap_or_default(),
            active: c.active.then(|| "on".into()),
            action: String::new(),
        }
    }

    /// Reads the fields into a coupon, or says which fields are wrong.
    fn parse(&self, currency: Currency) -> Result<NewCoupon, Vec<FieldError>> {
        let mut problems = Vec::new();
        let mut problem = |field, message: &str| problems.push(FieldError::new(field, message));
        // Every message about the value goes beside its one input, `value`.
        let value = match self.kind.as_str() {
            "percent" => match Percent::parse(&self.value) {
                Ok(percent) => CouponValue::Percent(percent),
                Err(why) => {
                    problem("value", why.message());
                    CouponValue::Percent(Percent::HUNDRED)
                }
            },
            "fixed" => match Money::parse(&self.value, currency) {
                Ok(amount) => CouponValue::Fixed(amount),
                Err(_) => {
                    problem("value", "Type an amount such as 5 or 5.00.");
                    CouponValue::Fixed(Money::zero(currency))
                }
            },
            _ => {
                problem("kind", "Choose a percentage or a fixed amount.");
                CouponValue::Percent(Percent::HUNDRED)
            }
        };
        let targets: Vec<String> =
            self.targets.split([',', ' ', '\n']).map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()).collect();
        let applies_to = AppliesTo::from_kind(&self.applies_to, targets).unwrap_or_else(|| {
            problem("applies_to", "Choose what the coupon applies to.");
            AppliesTo::Everything
        });
        let mut time = |field: &'static str, text: &str| -> Option<i64> {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
            match time::PrimitiveDateTime::parse(text, &format) {
                Ok(t) => Some(t.assume_utc().unix_timestamp()),
                Err(_) => {
                    problems.push(FieldError::new(field, "Type a date and time such as 2026-12-31T23:59 (UTC)."));
                    None
                }
            }
        };
        let starts_at = time("starts_at", &self.starts_at);
        let ends_at = time("ends_at", &self.ends_at);
        let mut whole = |field: &'static str, text: &str| -> Option<i64> {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            match text.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    problems.push(FieldError::new(field, "Type a whole number, or leave it empty for no limit."));
                    None
                }
            }
        };
        let max_redemptions = whole("max_redemptions", &self.max_redemptions);
        let per_customer_limit = whole("per_customer_limit", &self.per_customer_limit);
        let min_subtotal = match self.min_subtotal.trim() {
            "" => None,
            text => match Money::parse(text, currency) {
                Ok(m) => Some(m),
                Err(_) => {
                    problems.push(FieldError::new("min_subtotal", "Type an amount such as 20.00."));
                    None
                }
            },
        };
        let coupon = NewCoupon {
            currency,
            code: self.code.clone(),
            description: self.description.clone(),
            value,
            applies_to,
            new_subscribers_only: self.new_subscribers_only.is_some(),
            covers_postage: self.covers_postage.is_some(),
            applies_to_reduced: self.applies_to_reduced.is_some(),
            applies_to_sustainer: self.applies_to_sustainer.is_some(),
            starts_at,
            ends_at,
            max_redemptions,
            per_customer_limit,
            min_subtotal,
            active: self.active.is_some(),
        };
        let value_unreadable = problems.iter().any(|p| p.field == "value");
        for mut rule in coupon.problems() {
            if matches!(rule.field, "percent" | "amount_off") {
                // A value that could not be read has no range to judge: one message, not two.
                if value_unreadable {
                    continue;
                }
                rule.field = "value";
            }
            problems.push(rule);
        }
        match problems.is_empty() {
            true => Ok(coupon),
            false => {
                let mut seen = std::collections::HashSet::new();
                problems.retain(|p| seen.insert((p.field, p.message.clone())));
                Err(problems)
            }
        }
    }
}

#[derive(Serialize)]
struct PreviewRow {
    sku: String,
    name: String,
    /// "reduced rate", "sustainer rate (suggested)"; none for the standard price.
    rate: Option<&'static str>,
    price: Money,
    after: Money,
}

/// Every plan at each of its rates (a sustainer at the suggested amount) and every single issue,
/// priced with the coupon by the cart's own pricing.
async fn preview(state: &AppState, coupon: &Coupon) -> Result<Vec<PreviewRow>, Error> {
    let mut rows = Vec::new();
    for product in catalog::products(&state.db).await? {
        let rates: &[Rate] = match &product {
            catalog::Product::Plan(_) => &[Rate::Standard, Rate::Reduced, Rate::Sustainer],
            catalog::Product::Issue(_) => &[Rate::Standard],
        };
        for &rate in rates {
            let Some(line) = PricingLine::for_product_at(&product, 1, rate, None) else { continue };
            let regular = line.unit_price;
            let quote = price(&[line], Some(coupon), regular.currency);
            rows.push(PreviewRow {
                sku: product.sku().into(),
                name: product.name(),
                rate: match rate {
                    Rate::Sustainer => Some("sustainer rate (suggested)"),
                    other => other.label(),
                },
                price: regular,
                after: quote.total,
            });
        }
    }
    Ok(rows)
}

async fn form_page(
    state: &AppState,
    ctx: &StaffContext,
    status: StatusCode,
    form: &CouponForm,
    existing: Option<&Coupon>,
    problems: &[FieldError],
    show_preview: Option<&Coupon>,
) -> Result<Response, PageError> {
    let title = existing.map(|c| format!("Coupon {}", c.code)).unwrap_or_else(|| "New coupon".into());
    let mut context = admin_context(state, ctx, &title).await;
    context.insert("form", form);
    context.insert("coupon_id", &existing.map(|c| c.id.clone()));
    context.insert(
        "errors",
        &problems.iter().map(|p| (p.field, p.message.clone())).collect::<std::collections::HashMap<_, _>>(),
    );
    context.insert("error_list", &problems.iter().map(|p| p.message.clone()).collect::<Vec<_>>());
    let preview_rows = match show_preview {
        Some(coupon) => preview(state, coupon).await?,
        None => Vec::new(),
    };
    context.insert("preview", &preview_rows);
    let (redemptions, redeemed) = match existing {
        Some(c) => {
            (coupons::redemptions(&state.db, &c.id).await?, coupons::redemption_count(&state.db, &c.id).await? > 0)
        }
        None => (Vec::new(), false),
    };
    let redemption_rows: Vec<_> = redemptions
        .iter()
        .map(|r| {
            (
                r.order_id.clone(),
                r.email.clone(),
                datetime(r.created_at),
                Money::new(r.amount_saved, state.currency()),
                r.status.clone(),
            )
        })
        .collect();
    context.insert("redemptions", &redemption_rows);
    context.insert("redeemed", &redeemed);
    let used = match existing {
        Some(c) => coupons::uses_of(&state.db, &c.id).await?,
        None => 0,
    };
    context.insert("used", &used);
    let mut response = render(state, "admin/coupon_form.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

async fn new_form(State(state): State<AppState>, ctx: StaffContext) -> Result<Response, PageError> {
    let form = CouponForm {
        kind: "percent".into(),
        applies_to: "everything".into(),
        active: Some("on".into()),
        ..CouponForm::default()
    };
    form_page(&state, &ctx, StatusCode::OK, &form, None, &[], None).await
}

async fn create(
    State(state): State<AppState>,
    ctx: StaffContext,
    FormBody(form): FormBody<CouponForm>,
) -> Result<Response, PageError> {
    let coupon = match form.parse(state.currency()) {
        Ok(coupon) => coupon,
        Err(problems) => {
            let problems = with_taken_code(&state, &form, None, problems).await?;
            return form_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &form, None, &problems, None).await;
        }
    };
    if form.action == "preview" {
        return form_page(&state, &ctx, StatusCode::OK, &form, None, &[], Some(&coupon.unsaved())).await;
    }
    if let Some(warning) = past_window(&coupon, &form) {
        return form_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &form, None, &[warning], None).await;
    }
    match coupons::create_coupon(&state.db, &coupon, Some(&ctx.actor()), clock::now()).await {
        Ok(saved) => {
            ctx.flash(format!("Coupon {} saved.", saved.code)).await;
            Ok(redirect::to(&format!("/admin/coupons/{}", saved.id)))
        }
        Err(Error::Fields(problems)) => {
            form_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &form, None, &problems, None).await
        }
        Err(other) => Err(PageError(other)),
    }
}

/// A coupon whose whole window is over could never be used: most likely a mistyped year. It is
/// saved only when staff press "Save anyway" after this warning.
fn past_window(coupon: &NewCoupon, form: &CouponForm) -> Option<FieldError> {
    let ended = coupon.ends_at.is_some_and(|end| end <= clock::now());
    (ended && form.action != "save_past").then(|| {
        FieldError::new(
            "past_window",
            "Its whole window is in the past, so no reader could use it. Check the dates (a mistyped year?), \
             or save it anyway.",
        )
    })
}

/// A form refused for other mistakes also says when its code is taken, so staff fix all at once.
async fn with_taken_code(
    state: &AppState,
    form: &CouponForm,
    id: Option<&str>,
    mut problems: Vec<FieldError>,
) -> Result<Vec<FieldError>, Error> {
    if !problems.iter().any(|p| p.field == "code") {
        problems.extend(coupons::code_taken(&state.db, &form.code, id).await?);
    }
    Ok(problems)
}

async fn existing(state: &AppState, id: &str) -> Result<Coupon, Error> {
    coupons::find_coupon(&state.db, id)
        .await?
        .ok_or_else(|| Error::not_found("coupon_not_found", "There is no such coupon."))
}

async fn edit_form(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let coupon = existing(&state, &id).await?;
    form_page(&state, &ctx, StatusCode::OK, &CouponForm::from_coupon(&coupon), Some(&coupon), &[], Some(&coupon)).await
}

async fn update(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
    FormBody(form): FormBody<CouponForm>,
) -> Result<Response, PageError> {
    let current = existing(&state, &id).await?;
    let coupon = match form.parse(state.currency()) {
        Ok(coupon) => coupon,
        Err(problems) => {
            let problems = with_taken_code(&state, &form, Some(&id), problems).await?;
            return form_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &form, Some(&current), &problems, None)
                .await;
        }
    };
    if form.action == "preview" {
        return form_page(&state, &ctx, StatusCode::OK, &form, Some(&current), &[], Some(&coupon.unsaved())).await;
    }
    if let Some(warning) = past_window(&coupon, &form) {
        return form_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &form, Some(&current), &[warning], None)
            .await;
    }
    match coupons::update_coupon(&state.db, &id, &coupon, &ctx.actor(), clock::now()).await {
        Ok(saved) => {
            ctx.flash(format!("Coupon {} saved.", saved.code)).await;
            Ok(redirect::to(&format!("/admin/coupons/{id}")))
        }
        Err(Error::Fields(problems)) => {
            form_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &form, Some(&current), &problems, None).await
        }
        Err(other) => Err(PageError(other)),
    }
}

async fn set_active(state: &AppState, ctx: &StaffContext, id: &str, active: bool) -> Result<Response, PageError> {
    let coupon = existing(state, id).await?;
    coupons::set_coupon_active(&state.db, id, active, &ctx.actor(), clock::now()).await?;
    ctx.flash(format!(
        "Coupon {} {}.",
        coupon.code,
        if active { "activated" } else { "deactivated: it stops working at once" }
    ))
    .await;
    Ok(redirect::to(&format!("/admin/coupons/{id}")))
}

async fn deactivate(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    set_active(&state, &ctx, &id, false).await
}

async fn activate(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    set_active(&state, &ctx, &id, true).await
}

async fn delete(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let coupon = existing(&state, &id).await?;
    coupons::delete_coupon(&state.db, &id, &ctx.actor(), clock::now()).await?;
    ctx.flash(format!("Coupon {} deleted.", coupon.code)).await;
    Ok(redirect::to("/admin/coupons"))
}

async fn offer_page(
    state: &AppState,
    ctx: &StaffContext,
    coupon: &Coupon,
    form: &crate::offers::OfferInput,
    status: StatusCode,
    problems: &[FieldError],
) -> Result<Response, PageError> {
    let mut context = admin_context(state, ctx, &format!("Offer page for {}", coupon.code)).await;
    let saved = crate::offers::offer_of_coupon(&state.db, &coupon.id).await?;
    context.insert("coupon", &coupon.summary());
    context.insert("coupon_id", &coupon.id);
    context.insert("saved", &saved);
    context.insert("live", &crate::offers::is_live(coupon, clock::now()));
    context.insert("form", form);
    context.insert("plans", &crate::offers::offer_plans(&state.db, coupon, state.currency(), clock::now()).await?);
    let errors: std::collections::HashMap<&str, &str> =
        problems.iter().map(|p| (p.field, p.message.as_str())).collect();
    context.insert("errors", &errors);
    let mut response = render(state, "admin/offer_form.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

async fn offer_form(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let coupon = existing(&state, &id).await?;
    let form = match crate::offers::offer_of_coupon(&state.db, &coupon.id).await? {
        Some(o) => crate::offers::OfferInput {
            slug: o.slug,
            headline: o.headline,
            body: o.body,
            published: o.published.then(|| "on".to_string()),
        },
        None => crate::offers::OfferInput {
            slug: coupon.normalized_code.to_ascii_lowercase(),
            headline: coupon.description.clone(),
            ..Default::default()
        },
    };
    offer_page(&state, &ctx, &coupon, &form, StatusCode::OK, &[]).await
}

async fn save_offer(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(id): Path<String>,
    FormBody(form): FormBody<crate::offers::OfferInput>,
) -> Result<Response, PageError> {
    let coupon = existing(&state, &id).await?;
    match crate::offers::save_offer(&state.db, &coupon, &form, &ctx.actor(), clock::now()).await {
        Ok(offer) => {
            let said = if offer.published {
                format!("The offer page is published at /offers/{}.", offer.slug)
            } else {
                "The offer page is saved, not published.".to_string()
            };
            ctx.flash(said).await;
            Ok(redirect::to(&format!("/admin/coupons/{}/offer", coupon.id)))
        }
        Err(Error::Fields(problems)) => {
            offer_page(&state, &ctx, &coupon, &form, StatusCode::UNPROCESSABLE_ENTITY, &problems).await
        }
        Err(error) => Err(error.into()),
    }
}
