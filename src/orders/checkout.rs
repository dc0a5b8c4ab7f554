//! Turning a cart into an order: the reader's details checked, the cart priced once more, the
//! coupon's redemption reserved atomically, and the snapshot saved, all or nothing.

use serde::Deserialize;

use super::{DiscountsCounted::PaidOrPending, LineKind, Order, PaymentMethod, CHECKOUT_LIFETIME_SECS, MINIMUM_CHARGE};
use crate::{
    address::Address,
    cart::{self, CartView},
    catalog::{rates::Rate, Edition, Product},
    coupons::Coupon,
    db::{Backend, Db, Param, PortableTx, Statements},
    email::EmailAddress,
    error::{Error, FieldError, Result},
    money::Currency,
    postage::Postage,
};

/// What a reader types at checkout, unchecked.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CheckoutInput {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    /// Required exactly when the cart holds a print subscription or a print copy.
    pub shipping_address: Option<crate::address::AddressInput>,
    /// The cart's `version` as the reader last saw it (the checkout page, `GET /api/v1/cart`):
    /// when given and the cart has changed since, the order is not placed (409 `cart_changed`).
    #[serde(default)]
    pub cart_version: Option<String>,
}

fn cart_changed() -> Error {
    Error::Conflict {
        code: "cart_changed",
        message: "Your cart changed since this page was shown (in another tab?), so nothing was ordered. \
                  Please check the new total and place the order again."
            .into(),
    }
}

pub(super) struct Details {
    pub email: EmailAddress,
    pub name: String,
    pub address: Option<Address>,
}

impl CheckoutInput {
    fn check(&self, needs_address: bool) -> std::result::Result<Details, Vec<FieldError>> {
        let mut problems = Vec::new();
        let mut problem = |field, code, message: &str| problems.push(FieldError::with_code(field, code, message));
        let email = EmailAddress::parse(&self.email);
        if let Err(error) = &email {
            problem("email", error.code(), &error.public_message());
        }
        let name = crate::address::clean(&self.name);
        if name.is_empty() || name.len() > 200 {
            problem("name", "invalid_name", "Enter your name (up to 200 characters).");
        }
        let address = match (&self.shipping_address, needs_address) {
            (_, false) => None,
            (None, true) => {
                problem("shipping_address", "address_required", "Print copies need a mailing address.");
                None
            }
            (Some(a), true) => match Address::parse(a) {
                Ok(address) => Some(address),
                Err(mut address_problems) => {
                    problems.append(&mut address_problems);
                    None
                }
            },
        };
        match (email, problems.is_empty()) {
            (Ok(email), true) => Ok(Details { email, name, address }),
            _ => Err(problems),
        }
    }
}

pub(super) struct LineFacts {
    pub product: Product,
    pub quantity: i64,
    /// As priced: a plan's price at its rate.
    pub unit_price: i64,
    pub rate: Rate,
    pub line_total: i64,
    pub discount: i64,
    /// A gift: the recipient, and postage to their country for print.
    pub gift: Option<cart::CartGift>,
    pub gift_postage: Option<Postage>,
}

impl LineFacts {
    /// Whose new subscription the line is: the gift's recipient (`None` when they gave no email),
    /// or the buyer.
    fn beneficiary(&self, buyer: &str) -> Option<String> {
        match &self.gift {
            Some(gift) => gift.gift.beneficiary(),
            None => Some(buyer.to_string()),
        }
    }

    /// A line of the order as the quote priced it.
    pub fn priced(product: Product, priced: &cart::PricedLine) -> LineFacts {
        LineFacts {
            product,
            quantity: priced.quantity,
            unit_price: priced.unit_price.amount,
            rate: priced.rate,
            line_total: priced.line_total.amount,
            discount: priced.discount.amount,
            gift: priced.gift.clone(),
            gift_postage: None,
        }
    }
}

/// What the gifts' postage adds to an order (each to its recipient's country).
fn gifts_postage(lines: &[LineFacts]) -> i64 {
    lines.iter().filter_map(|l| l.gift_postage.as_ref()).map(|p| p.amount.amount).sum()
}

/// Places an order from the cart, or says why not. Nothing is written unless it all succeeds.
/// `Err(Ok(problems))` style is avoided: field problems come back as `Error::Invalid` and, for
/// forms, as the list in the second value of the `Err`.
pub async fn place_order(
    db: &Db,
    cart_id: Option<&str>,
    input: &CheckoutInput,
    currency: Currency,
    provider: PaymentMethod,
    now: i64,
) -> Result<Order> {
    let view: CartView = cart::view_cart(db, cart_id, currency, now).await?;
    place_priced_order(db, cart_id, view, input, provider, now).await
}

/// `place_order` for the cart as `view` priced it a moment ago: the order is written only if,
/// under the cart's lock, the cart is still what was priced (its lines, gifts, coupon and
/// donation); otherwise 409 `cart_changed` and nothing is written.
pub async fn place_priced_order(
    db: &Db,
    cart_id: Option<&str>,
    mut view: CartView,
    input: &CheckoutInput,
    provider: PaymentMethod,
    now: i64,
) -> Result<Order> {
    let currency = view.quote.total.currency;
    let cart_id = cart_id
        .filter(|_| !view.quote.lines.is_empty() || view.quote.donation.amount > 0)
        .ok_or_else(|| Error::invalid("empty_cart", "Your cart is empty: add a subscription or an issue first."))?;
    if input.cart_version.as_deref().is_some_and(|seen| seen != view.version) {
        return Err(cart_changed());
    }
    if let Some(removed) = view.notices.iter().find(|n| n.code == "coupon_removed") {
        return Err(Error::invalid(
            "coupon_no_longer_applies",
            format!("{} Please check the new total in your cart before paying.", removed.message),
        ));
    }
    // Each line's product as the cart was just priced from it (the plan read with its line).
    let products = std::mem::take(&mut view.products);
    let mut lines: Vec<LineFacts> =
        products.into_iter().zip(&view.quote.lines).map(|(p, priced)| LineFacts::priced(p, priced)).collect();
    // Print gifts go to their recipients: the buyer's address is asked for their own print only.
    let needs_address = lines.iter().any(|l| l.product.edition() == Edition::Print && l.gift.is_none());
    let details = input.check(needs_address).map_err(Error::Fields)?;
    // Postage from the country typed: a country no zone covers is refused here, before any write.
    let postage = match &details.address {
        Some(address) => {
            let items: Vec<(&Product, i64)> =
                lines.iter().filter(|l| l.gift.is_none()).map(|l| (&l.product, l.quantity)).collect();
            crate::postage::postage_for(db, &items, &address.country, currency).await?
        }
        None => None,
    };
    // A coupon that covers postage waives it (the order keeps what was waived), a gift's too.
    let waive_postage = view.applied_coupon.as_ref().is_some_and(|c| c.covers_postage);
    for line in &mut lines {
        let country = line.gift.as_ref().and_then(|g| g.gift.address.as_ref()).map(|a| a.country.clone());
        if let (Some(country), false) = (country, waive_postage) {
            line.gift_postage = crate::postage::postage_for(db, &[(&line.product, 1)], &country, currency)
                .await
                .map_err(|_| {
                    Error::invalid(
                        "gift_country_not_mailed",
                        format!(
                            "We can't mail print copies to {}, where the gift for {} should go: change the gift's address.",
                            crate::postage::country_name(&country),
                            line.gift.as_ref().map_or("", |g| g.gift.recipient_name.as_str())
                        ),
                    )
                })?;
        }
    }
    let gifts_postage = gifts_postage(&lines);
    let charged_postage = if waive_postage { 0 } else { postage.as_ref().map_or(0, |p| p.amount.amount) };
    let total = view.quote.total.amount + charged_postage + gifts_postage;
    if (1..MINIMUM_CHARGE).contains(&total) {
        return Err(Error::invalid(
            "total_below_minimum",
            format!(
                "Card payments must be at least {}; your total is {}. Add something to your cart or remove the coupon.",
                crate::money::Money::new(MINIMUM_CHARGE, currency),
                crate::money::Money::new(total, currency)
            ),
        ));
    }
    // The coupon the quote was priced with, and no other: `save_order` checks under the cart's
    // lock that it is still the cart's coupon before reserving it.
    let coupon = view.applied_coupon.clone();
    let order = NewOrder { details, lines, postage, waive_postage, staff: None };
    save_order(db, Some(cart_id), &order, &view, coupon.as_ref(), currency, provider, now).await
}

/// What `save_order` writes besides the quote.
pub(super) struct NewOrder {
    pub details: Details,
    pub lines: Vec<LineFacts>,
    pub postage: Option<Postage>,
    /// The coupon covers postage: the order pays none of it.
    pub waive_postage: bool,
    /// An order taken by staff: how it is paid, and who took it (for the audit entry).
    pub staff: Option<StaffTaken>,
}

/// The staff side of an order taken by staff (`staff_orders`).
pub(super) struct StaffTaken {
    pub payment_method: &'static str,
    pub invoice_due: Option<i64>,
    pub complimentary_reason: Option<String>,
    pub notes: Option<String>,
    /// The form's one-time token: a second submission finds the first order.
    pub request: String,
    pub actor: crate::audit::Actor,
}

/// Saves the order: the reader's lock, the cart's coupon checked (for a cart), the coupon reserved,
/// the snapshot written, and for an order taken by staff its audit entry: one transaction.
#[allow(clippy::too_many_arguments)]
pub(super) async fn save_order(
    db: &Db,
    cart_id: Option<&str>,
    order: &NewOrder,
    view: &CartView,
    coupon: Option<&Coupon>,
    currency: Currency,
    provider: PaymentMethod,
    now: i64,
) -> Result<Order> {
    let NewOrder { details, lines, postage, waive_postage, staff } = order;
    let postage_amount = postage.as_ref().map_or(0, |p| p.amount.amount);
    let (charged_postage, waived_postage) = if *waive_postage { (0, postage_amount) } else { (postage_amount, 0) };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let email_normalized = details.email.normalized();
    // In place on a SQLite file, its commit waiting for the disk like every order's.
    let mut tx = db.begin_durable().await?;
    // The readers' rows first (the buyer's and each gift recipient's): on PostgreSQL their locks
    // make two checkouts (or a checkout and a settlement) for one reader take turns, so each sees
    // what the other reserved.
    let readers: Vec<String> = lines.iter().filter_map(|l| l.beneficiary(email_normalized)).collect();
    super::lock_readers(&mut tx, email_normalized, &readers, now).await?;
    // Then the cart's row. If another tab swapped or removed the coupon since the cart was priced,
    // the order is not placed: its discount would not be the reserved coupon's; nor if the donation
    // changed.
    // (An order taken by staff has no cart.)
    if let Some(cart_id) = cart_id {
        let cart: Option<(Option<String>, i64, i64)> = tx
            .row(
                "UPDATE carts SET updated_at = $2 WHERE id = $1 RETURNING coupon_id, donation, \
                 CAST((SELECT COUNT(*) FROM cart_gifts WHERE cart_id = $1) AS BIGINT)",
                &[Param::Text(cart_id), Param::Int(now)],
            )
            .await?;
        let Some((cart_coupon, donation, gift_count)) = cart else { return Err(cart_changed()) };
        if cart_coupon.as_deref() != coupon.map(|c| c.id.as_str()) || donation != view.quote.donation.amount {
            return Err(cart_changed());
        }
        // And its lines: a line added, removed or changed since the cart was priced is not ordered
        // unseen.
        let mut items: Vec<(String, i64, Rate, Option<i64>)> = tx
            .rows(
                "SELECT sku, quantity, rate, rate_amount FROM cart_items WHERE cart_id = $1 ORDER BY sku",
                &[Param::Text(cart_id)],
            )
            .await?;
        let mut priced: Vec<(String, i64, Rate, Option<i64>)> = view
            .quote
            .lines
            .iter()
            .filter(|l| l.gift.is_none())
            .map(|l| {
                let amount = (l.rate == Rate::Sustainer).then_some(l.unit_price.amount);
                (l.sku.clone(), l.quantity, l.rate, amount)
            })
            .collect();
        priced.sort_by(|a, b| a.0.cmp(&b.0));
        items.sort_by(|a, b| a.0.cmp(&b.0));
        if items != priced {
            return Err(cart_changed());
        }
        // And its gifts, recipient and all (read only when it has some: most carts have none).
        let priced_gifts: Vec<&cart::CartGift> = lines.iter().filter_map(|l| l.gift.as_ref()).collect();
        let gifts = match gift_count {
            0 => vec![],
            _ => cart::cart_gifts(&mut tx, cart_id).await?,
        };
        if gifts.iter().collect::<Vec<_>>() != priced_gifts {
            return Err(cart_changed());
        }
    }

    if let Some(coupon) = coupon {
        // Counted under the reader's lock, so two checkouts by one reader at once see each other.
        if let Some(limit) = coupon.per_customer_limit {
            let (used,): (i64,) = tx
                .row(
                    "SELECT COUNT(*) FROM coupon_redemptions WHERE coupon_id = $1 AND email_normalized = $2 \
                     AND status IN ('reserved', 'final')",
                    &[Param::Text(&coupon.id), Param::Text(email_normalized)],
                )
                .await?
                .unwrap_or((0,));
            if used >= limit {
                return Err(Error::invalid(
                    "coupon_limit_reached",
                    format!("You have already used the coupon {} as many times as it allows.", coupon.code),
                ));
            }
        }
        if coupon.new_subscribers_only {
            // Judged by whose subscription each discounted line is: the buyer's, or a recipient's
            // (one without an email cannot be looked up, and counts as new).
            let mut judged: Vec<(String, &str, Option<&str>)> = lines
                .iter()
                .filter(|l| l.discount > 0)
                .filter_map(|l| {
                    let recipient = l.gift.as_ref().map(|g| g.gift.recipient_name.as_str());
                    l.beneficiary(email_normalized).map(|b| (b, l.product.publication(), recipient))
                })
                .collect();
            judged.sort();
            judged.dedup();
            for (beneficiary, publication, recipient) in judged {
                if super::new_subscriber_discount_used(&mut tx, &beneficiary, publication, None, PaidOrPending).await? {
                    let who = match recipient {
                        Some(name) => format!("{name}, to whom you are giving a subscription,"),
                        None => details.email.to_string(),
                    };
                    return Err(Error::invalid(
                        "coupon_new_subscribers_only",
                        format!(
                            "The coupon {} is for new subscribers, and {who} already has a subscription with us \
                             (or an order waiting for payment with a new-subscriber discount). \
                             Remove the coupon to pay the regular price.",
                            coupon.code
                        ),
                    ));
                }
            }
        }
    }

    let expires_at =
        // An invoice waits until its due date and a month more; staff mark it paid or cancel it.
        staff.as_ref().and_then(|s| s.invoice_due).map_or(now + CHECKOUT_LIFETIME_SECS, |due| due + 31 * 86_400);
    let mut params = vec![
        Param::Text(&id),
        Param::text_or_null(cart_id),
        Param::Text(details.email.as_str()),
        Param::Text(email_normalized),
        Param::Text(&details.name),
    ];
    params.extend(crate::address::params(details.address.as_ref()));
    params.extend([
        Param::Text(currency.code()),
        Param::Int(view.quote.subtotal.amount),
        Param::Int(view.quote.discount.amount),
        Param::Int(charged_postage),
        Param::text_or_null(postage.as_ref().map(|p| p.zone.as_str())),
        Param::Int(postage.as_ref().map_or(0, |p| p.copies)),
        Param::Int(postage.as_ref().map_or(0, |p| p.per_copy.amount)),
        // The column is the items' total; postage and the donation have their own (see `ORDER_COLUMNS`).
        Param::Int(view.quote.items_total().amount),
        Param::text_or_null(coupon.map(|c| c.id.as_str())),
        Param::text_or_null(coupon.map(|c| c.code.as_str())),
        Param::Text(provider.as_str()),
        Param::Int(expires_at),
        Param::Int(now),
        Param::Text(if staff.is_some() { "staff" } else { "checkout" }),
        Param::text_or_null(staff.as_ref().map(|s| s.payment_method)),
        Param::int_or_null(staff.as_ref().and_then(|s| s.invoice_due)),
        Param::text_or_null(staff.as_ref().and_then(|s| s.complimentary_reason.as_deref())),
        Param::text_or_null(staff.as_ref().and_then(|s| s.notes.as_deref())),
        Param::text_or_null(staff.as_ref().map(|s| s.request.as_str())),
        Param::Int(waived_postage),
        Param::Int(view.quote.donation.amount),
        Param::Int(gifts_postage(lines)),
    ]);
    // Read back as written (its `total` is a sum of columns), so the caller needs no second read.
    let placed: Option<Order> = tx.row(&INSERT_ORDER, &params).await?;
    for (position, line) in lines.iter().enumerate() {
        let kind = if line.product.term_years().is_some() { LineKind::Subscription } else { LineKind::Issue };
        let (name, beneficiary) = (line.product.name(), line.beneficiary(email_normalized));
        tx.execute(
            "INSERT INTO order_lines (order_id, position, sku, name, kind, publication, edition, term_years, quantity, \
             unit_price, line_total, discount, rate, beneficiary) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                Param::Text(&id),
                Param::Int(position as i64),
                Param::Text(line.product.sku()),
                Param::Text(&name),
                Param::Text(kind.as_str()),
                Param::Text(line.product.publication()),
                Param::Text(line.product.edition().as_str()),
                Param::int_or_null(line.product.term_years()),
                Param::Int(line.quantity),
                Param::Int(line.unit_price),
                Param::Int(line.line_total),
                Param::Int(line.discount),
                Param::Text(line.rate.as_str()),
                Param::text_or_null(beneficiary.as_deref()),
            ],
        )
        .await?;
        if let Some(gift) = &line.gift {
            super::gifts::save_gift(&mut tx, &id, position as i64, gift, line.gift_postage.as_ref()).await?;
        }
    }
    if let Some(coupon) = coupon {
        tx.execute(
            "INSERT INTO coupon_redemptions (order_id, coupon_id, email_normalized, amount_saved, status, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 'reserved', $5, $5)",
            &[
                Param::Text(&id),
                Param::Text(&coupon.id),
                Param::Text(email_normalized),
                Param::Int(view.quote.discount.amount),
                Param::Int(now),
            ],
        )
        .await?;
    }
    if let Some(staff) = staff {
        let change = crate::audit::Change {
            action: "order.create",
            entity: "order",
            entity_id: &id,
            before: None,
            after: Some(serde_json::json!({
                "email": details.email.as_str(), "payment_method": staff.payment_method,
                "subtotal": view.quote.subtotal.amount, "discount": view.quote.discount.amount,
                "postage": charged_postage, "postage_waived": waived_postage,
                "complimentary_reason": staff.complimentary_reason, "invoice_due": staff.invoice_due,
            })),
        };
        crate::audit::record(&mut tx, &staff.actor, change, now).await?;
    }
    if let Some(coupon) = coupon {
        reserve_coupon(&mut tx, db.backend, coupon, now).await?;
    }
    tx.commit().await?;
    placed.ok_or_else(|| Error::Internal(anyhow::anyhow!("order {id} was not written")))
}

/// Writes an order and answers its row as `find_order` reads it.
static INSERT_ORDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO orders (id, cart_id, email, email_normalized, name, ship_line1, ship_line2, ship_city, ship_region, \
         ship_postal_code, ship_country, currency, subtotal, discount, postage, postage_zone, postage_copies, \
         postage_per_copy, total, coupon_id, coupon_code, status, provider, expires_at, created_at, source, \
         payment_method, invoice_due, complimentary_reason, notes, staff_request, postage_waived, donation, \
         gift_postage) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
         'pending', $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33) RETURNING {}",
        super::ORDER_COLUMNS
    )
});

/// Takes one of the coupon's redemptions, just before the order's commit. A coupon with a limit
/// is guarded by one conditional statement: however many checkouts run at once, on however many
/// instances, only as many as the limit see its counter change; the counter's row lock makes them
/// take turns until each commits, so it comes last. A coupon without a limit keeps no counter (its
/// uses are its redemption rows), so checkouts with it do not take turns: each only holds its row
/// in share mode, which staff changing or switching it off wait for.
async fn reserve_coupon(tx: &mut PortableTx, backend: Backend, coupon: &Coupon, now: i64) -> Result<()> {
    let usable = "active = 1 AND (starts_at IS NULL OR starts_at <= $2) AND (ends_at IS NULL OR ends_at > $2)";
    let used_up = || {
        Error::invalid(
            "coupon_used_up",
            format!(
                "The coupon {} has just been used up or switched off. Remove it to pay the full price.",
                coupon.code
            ),
        )
    };
    if coupon.max_redemptions.is_none() {
        // (SQLite runs one writer at a time: a plain read is enough there.)
        let share = if backend == Backend::Postgres { " FOR SHARE" } else { "" };
        let limit: Option<(Option<i64>,)> = tx
            .row(
                &format!("SELECT max_redemptions FROM coupons WHERE id = $1 AND {usable}{share}"),
                &[Param::Text(&coupon.id), Param::Int(now)],
            )
            .await?;
        return match limit {
            Some((None,)) => Ok(()),
            // Staff gave it a limit since the cart was priced: priced again, it will be counted.
            Some((Some(_),)) => Err(Error::Conflict {
                code: "coupon_changed",
                message: format!(
                    "The coupon {} was changed by the shop just now, so nothing was ordered. Please place the \
                     order again.",
                    coupon.code
                ),
            }),
            None => Err(used_up()),
        };
    }
    let reserved = tx
        .execute(
            &format!(
                "UPDATE coupons SET redemptions_used = redemptions_used + 1 \
                 WHERE id = $1 AND {usable} AND (max_redemptions IS NULL OR redemptions_used < max_redemptions)"
            ),
            &[Param::Text(&coupon.id), Param::Int(now)],
        )
        .await?;
    if reserved == 0 {
        return Err(used_up());
    }
    Ok(())
}
