//! Orders taken by staff (`/admin/orders/new`): subscriptions and copies sold by post, at
//! meetings and at the office. They go through the same snapshot and reservation as a web order
//! (`checkout::save_order`) and the same exactly-once settlement: cash, cheque and bank transfer
//! are settled at once, an invoice when staff mark it paid, a complimentary order (free, with its
//! reason) at once for nothing. Each is audited; a form sent twice places one order.

use serde::Deserialize;

use super::{
    checkout::{save_order, Details, LineFacts, NewOrder, StaffTaken},
    find_order, Order, Outcome, PaymentMethod, Settled,
};
use crate::{
    address::Address,
    audit::Actor,
    cart::{self, CartView, PricingLine},
    catalog::{self, Edition, Product},
    coupons::{self, CouponCode},
    db::Db,
    email::EmailAddress,
    error::{Error, FieldError, Result},
    money::{Currency, Money},
};

/// Line rows the form offers.
pub const FORM_LINES: usize = 5;

/// The form as staff filled it in, unchecked.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
pub struct StaffOrderInput {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(flatten)]
    pub address: crate::address::AddressForm,
    /// SKU and quantity of each line row (`sku_1`, `quantity_1`, ...), gathered by the handler.
    #[serde(skip)]
    pub lines: Vec<(String, String)>,
    #[serde(default)]
    pub coupon: String,
    #[serde(default)]
    pub payment_method: String,
    /// yyyy-mm-dd, for an invoice.
    #[serde(default)]
    pub invoice_due: String,
    #[serde(default)]
    pub complimentary_reason: String,
    #[serde(default)]
    pub notes: String,
    /// The form's one-time token.
    #[serde(default)]
    pub request: String,
}

/// How a staff order can be paid, with its label on the form.
pub const PAYMENT_METHODS: [(&str, &str); 5] = [
    ("cash", "Cash"),
    ("cheque", "Cheque"),
    ("bank_transfer", "Bank transfer"),
    ("invoice", "Invoice (paid later)"),
    ("complimentary", "Complimentary (free)"),
];

/// Places an order taken by staff, and settles it unless it is an invoice. A second submission of
/// the same form answers the first order.
pub async fn place_staff_order(
    db: &Db,
    input: &StaffOrderInput,
    currency: Currency,
    actor: &Actor,
    now: i64,
) -> Result<Order> {
    if let Some(existing) = order_of_request(db, &input.request).await? {
        return Ok(existing);
    }
    let mut problems = Vec::new();
    let email =
        EmailAddress::parse(&input.email).map_err(|e| problems.push(FieldError::new("email", e.public_message()))).ok();
    let name = input.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > 200 {
        problems.push(FieldError::new("name", "Enter the reader's name (up to 200 characters)."));
    }
    let method = PAYMENT_METHODS.iter().map(|m| m.0).find(|m| *m == input.payment_method);
    if method.is_none() {
        problems.push(FieldError::new("payment_method", "Choose how the order is paid."));
    }
    let invoice_due = match (method, crate::clock::day_start(&input.invoice_due)) {
        (Some("invoice"), Some(due)) if due >= now - 86_400 => Some(due),
        (Some("invoice"), _) => {
            problems
                .push(FieldError::new("invoice_due", "Give the invoice's due date, today or later, as yyyy-mm-dd."));
            None
        }
        _ => None,
    };
    let reason = input.complimentary_reason.trim().to_string();
    if method == Some("complimentary") && (reason.is_empty() || reason.chars().count() > 200) {
        problems.push(FieldError::new(
            "complimentary_reason",
            "Say why it is free (a review copy, a prisoner's subscription, an exchange with another publication).",
        ));
    }
    // The lines: known products, whole quantities, a subscription one at a time.
    let mut products: Vec<(Product, i64)> = Vec::new();
    for (sku, quantity) in input.lines.iter().filter(|(sku, _)| !sku.trim().is_empty()) {
        let Some(product) = catalog::find_product(db, sku.trim()).await? else {
            problems.push(FieldError::new("lines", format!("{sku} is not a product on sale.")));
            continue;
        };
        let quantity = match quantity.trim().parse::<i64>() {
            Ok(q @ 1..=cart::MAX_ISSUE_QUANTITY) if product.term_years().is_none() || q == 1 => q,
            _ => {
                problems.push(FieldError::new(
                    "lines",
                    format!("The quantity of {} is a whole number from 1 to 99 (a subscription: 1).", product.name()),
                ));
                continue;
            }
        };
        if products.iter().any(|(p, _)| p.sku() == product.sku()) {
            problems.push(FieldError::new("lines", format!("{} is on two lines: use one.", product.name())));
            continue;
        }
        products.push((product, quantity));
    }
    if products.is_empty() && !problems.iter().any(|p| p.field == "lines") {
        problems.push(FieldError::new("lines", "Add at least one subscription or issue."));
    }
    let needs_address = products.iter().any(|(p, _)| p.edition() == Edition::Print);
    let address = if needs_address {
        Address::parse(&input.address.input()).map_err(|mut p| problems.append(&mut p)).ok()
    } else {
        None
    };
    let pricing: Vec<PricingLine> = products.iter().filter_map(|(p, q)| PricingLine::for_product(p, *q)).collect();
    let subtotal = cart::price(&pricing, None, currency).subtotal;
    let coupon = match CouponCode::parse(&input.coupon) {
        None => None,
        Some(_) if method == Some("complimentary") => {
            problems.push(FieldError::new("coupon", "A complimentary order needs no coupon."));
            None
        }
        Some(code) => match coupons::find_coupon_by_code(db, &code).await? {
            None => {
                problems.push(FieldError::new("coupon", format!("There is no coupon {}.", code.typed())));
                None
            }
            Some(coupon) => {
                let facts: Vec<_> = pricing.iter().map(PricingLine::facts).collect();
                match coupon.check(now, &facts, subtotal) {
                    Ok(()) => Some(coupon),
                    Err(problem) => {
                        problems.push(FieldError::new("coupon", problem.message()));
                        None
                    }
                }
            }
        },
    };
    let (Some(email), Some(method), true) = (email, method, problems.is_empty()) else {
        return Err(Error::Fields(problems));
    };
    let mut quote = cart::price(&pricing, coupon.as_ref(), currency);
    if method == "complimentary" {
        // Free: every line discounted in full, so the books show what was given.
        for line in &mut quote.lines {
            line.discount = line.line_total;
        }
        quote.discount = quote.subtotal;
        quote.total = Money::zero(currency);
    }
    let postage = match (&address, method) {
        (Some(address), m) if m != "complimentary" => {
            let items: Vec<(&Product, i64)> = products.iter().map(|(p, q)| (p, *q)).collect();
            crate::postage::postage_for(db, &items, &address.country, currency).await?
        }
        _ => None,
    };
    let lines = products
        .into_iter()
        .zip(&quote.lines)
        .map(|((product, _), priced)| LineFacts::priced(product, priced))
        .collect();
    let view = CartView {
        quote,
        coupon: None,
        applied_coupon: coupon.clone(),
        item_count: 0,
        notices: vec![],
        version: String::new(),
        products: vec![],
    };
    let request = Some(input.request.trim()).filter(|r| !r.is_empty() && r.len() <= 64);
    let order = NewOrder {
        details: Details { email, name, address },
        lines,
        postage,
        waive_postage: coupon.as_ref().is_some_and(|c| c.covers_postage),
        staff: Some(StaffTaken {
            payment_method: method,
            invoice_due,
            complimentary_reason: (method == "complimentary").then_some(reason),
            notes: Some(input.notes.trim().to_string()).filter(|n| !n.is_empty()),
            request: request.map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_string),
            actor: actor.clone(),
        }),
    };
    let placed = match save_order(db, None, &order, &view, coupon.as_ref(), currency, PaymentMethod::None, now).await {
        Ok(placed) => placed,
        // The same form sent twice at once: the other submission placed it (this one then met
        // the token's unique index, or the coupon the other had just used).
        Err(error) => match order_of_request(db, &input.request).await? {
            Some(existing) => return Ok(existing),
            None => return Err(error),
        },
    };
    if method != "invoice" {
        let paid = Outcome::Paid {
            amount: placed.total,
            currency: currency.code().to_string(),
            reference: Some(method.to_string()),
        };
        super::settle(db, &placed.id, paid, now).await?;
    }
    Ok(find_order(db, &placed.id).await?.unwrap_or(placed))
}

async fn order_of_request(db: &Db, request: &str) -> Result<Option<Order>> {
    let request = request.trim();
    if request.is_empty() {
        return Ok(None);
    }
    let found: Option<(String,)> =
        sqlx::query_as("SELECT id FROM orders WHERE staff_request = $1").bind(request).fetch_optional(&db.pool).await?;
    match found {
        Some((id,)) => find_order(db, &id).await,
        None => Ok(None),
    }
}

/// Staff record an invoice's payment: the order is settled (once, however often this runs) for
/// its total, with a reference (the cheque number, the transfer's).
pub async fn mark_invoice_paid(db: &Db, order_id: &str, reference: &str, actor: &Actor, now: i64) -> Result<Settled> {
    let order = find_order(db, order_id)
        .await?
        .ok_or_else(|| Error::not_found("order_not_found", "There is no such order."))?;
    if order.payment_method.as_deref() != Some("invoice") {
        return Err(Error::Conflict {
            code: "not_an_invoice",
            message: "Only an invoice is marked paid by hand.".into(),
        });
    }
    let reference = reference.trim();
    let reference =
        format!("invoice{}{}", if reference.is_empty() { "" } else { ": " }, &reference[..reference.len().min(100)]);
    let settled = super::settle(
        db,
        order_id,
        Outcome::Paid { amount: order.total, currency: order.currency.code().to_string(), reference: Some(reference) },
        now,
    )
    .await?;
    if settled == Settled::Fulfilled {
        let mut tx = db.begin_write().await?;
        let change = crate::audit::Change {
            action: "order.invoice_paid",
            entity: "order",
            entity_id: order_id,
            before: Some(serde_json::json!({"status": "pending"})),
            after: Some(serde_json::json!({"status": "paid", "total": order.total})),
        };
        crate::audit::record(&mut tx, actor, change, now).await?;
        tx.commit().await?;
    }
    Ok(settled)
}
