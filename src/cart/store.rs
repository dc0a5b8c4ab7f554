//! Cart changes, each one SQL statement (or one transaction), so that requests racing on
//! one cart never lose a line; and the cart view, re-checking its coupon every time.

use super::{
    rows::{cart_rows, CartRows, LineRow},
    *,
};
use crate::{
    attempts,
    catalog::{
        self, is_well_formed_sku,
        rates::{Rate, RateChoice},
        Product,
    },
    coupons::{self, CouponCode, CouponProblem},
    db::{Db, Param, PortableTx, Statements},
    error::Result,
    money::{Currency, Money},
};

// Carts are not money: their writes commit without waiting for the disk (`Db::unflushed_write`).

/// Creates the cart's row the first time, and marks it changed now.
const OPEN_CART: &str = "INSERT INTO carts (id, created_at, updated_at) VALUES ($1, $2, $2) \
     ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at";

/// `OPEN_CART` answering the rate of the cart's line for `$3`, if it has one.
static OPEN_CART_WITH_RATE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("{OPEN_CART} RETURNING (SELECT rate FROM cart_items WHERE cart_id = $1 AND sku = $3)")
});

/// `OPEN_CART` in a sqlx transaction.
pub(super) async fn open_cart(conn: &mut sqlx::AnyConnection, cart_id: &str, now: i64) -> Result<()> {
    sqlx::query(OPEN_CART).bind(cart_id).bind(now).execute(&mut *conn).await?;
    Ok(())
}

async fn touch(db: &Db, cart_id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE carts SET updated_at = $2 WHERE id = $1")
        .bind(cart_id)
        .bind(now)
        .execute(db.unflushed_write().await?.pool())
        .await?;
    Ok(())
}

/// Finds the product a reader asked for: a malformed or unknown SKU is a 404.
pub async fn product_for_sku(db: &Db, sku: &str) -> Result<Product> {
    if !is_well_formed_sku(sku) {
        return Err(Error::not_found("malformed_sku", "That is not an item we sell."));
    }
    catalog::find_product(db, sku).await?.ok_or_else(|| {
        Error::not_found("unknown_sku", "We don't sell that item: it may have been withdrawn from sale.")
    })
}

/// The product a reader asked for and the rate they chose for it (`None`: the standard price),
/// checked against the catalog; a price a client sends is never read, only a sustainer's own amount.
pub async fn product_and_rate(
    db: &Db,
    sku: &str,
    rate: Option<&str>,
    amount: Option<&str>,
) -> Result<(Product, RateChoice)> {
    let product = product_for_sku(db, sku).await?;
    let choice = match &product {
        Product::Plan(plan) => RateChoice::parse(plan, rate, amount)?,
        Product::Issue(_) if rate.is_none_or(|r| r.trim().is_empty() || r.trim() == "standard") => RateChoice::STANDARD,
        Product::Issue(_) => {
            return Err(Error::Fields(vec![crate::error::FieldError::with_code(
                "rate",
                "rate_not_offered",
                "A single issue has one price: it has no other rates.",
            )]))
        }
    };
    Ok((product, choice))
}

fn plan_slot(product: &Product) -> Option<String> {
    match product {
        Product::Plan(plan) => Some(format!("{}-{}", plan.publication, plan.edition.as_str())),
        Product::Issue(_) => None,
    }
}

fn one_subscription_only() -> Error {
    Error::invalid("quantity_too_high", "A subscription comes one to a cart: its quantity can only be 1.")
}

/// Adds a product at its standard price (see `add_item_at`).
pub async fn add_item(db: &Db, cart_id: &str, sku: &str, quantity: Quantity, now: i64) -> Result<Vec<Notice>> {
    let product = product_for_sku(db, sku).await?;
    add_item_at(db, cart_id, &product, quantity, RateChoice::STANDARD, now).await
}

/// Adds a product, a plan at the rate chosen (checked by `RateChoice::parse`). A copy of an issue
/// already in the cart gets more copies; a subscription already in the cart takes the rate chosen;
/// a second term of the same publication and edition is refused.
pub async fn add_item_at(
    db: &Db,
    cart_id: &str,
    product: &Product,
    quantity: Quantity,
    choice: RateChoice,
    now: i64,
) -> Result<Vec<Notice>> {
    let sku = product.sku();
    let quantity = quantity.get();
    if product.term_years().is_some() && quantity != 1 {
        return Err(one_subscription_only());
    }
    let slot = plan_slot(product);
    // Opening the cart, the line and the cart's time: one commit.
    let mut tx = db.begin_unflushed().await?;
    // With the rate the line is at already, if any (only for the message: a plan already in the
    // cart at another rate is moved to this one).
    let earlier: Option<(Option<Rate>,)> =
        tx.row(&OPEN_CART_WITH_RATE, &[Param::Text(cart_id), Param::Int(now), Param::Text(sku)]).await?;
    let earlier = earlier.and_then(|(rate,)| rate).filter(|_| slot.is_some());
    let amount = choice.amount.map(|m| m.amount);
    let inserted = match &slot {
        Some(slot) => {
            tx.execute(
                "INSERT INTO cart_items (cart_id, sku, quantity, plan_slot, added_at, rate, rate_amount) \
                 VALUES ($1, $2, 1, $3, $4, $5, $6) \
                 ON CONFLICT (cart_id, sku) DO UPDATE SET rate = excluded.rate, rate_amount = excluded.rate_amount \
                 WHERE cart_items.rate <> excluded.rate OR cart_items.rate_amount IS DISTINCT FROM excluded.rate_amount",
                &[
                    Param::Text(cart_id),
                    Param::Text(sku),
                    Param::Text(slot),
                    Param::Int(now),
                    Param::Text(choice.rate.as_str()),
                    Param::int_or_null(amount),
                ],
            )
            .await
        }
        None => {
            tx.execute(
                "INSERT INTO cart_items (cart_id, sku, quantity, plan_slot, added_at) VALUES ($1, $2, $3, NULL, $4) \
                 ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = cart_items.quantity + excluded.quantity \
                 WHERE cart_items.quantity + excluded.quantity <= $5",
                &[Param::Text(cart_id), Param::Text(sku), Param::Int(quantity), Param::Int(now), Param::Int(MAX_ISSUE_QUANTITY)],
            )
            .await
        }
    };
    let rows = match inserted {
        Ok(changed) => changed,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            drop(tx);
            return Err(duplicate_subscription(db, cart_id, product).await?);
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    let name = product.name();
    let at = match (choice.rate.label(), choice.amount) {
        (Some(label), Some(amount)) => format!(" at the {label} ({amount})"),
        (Some(label), None) => format!(" at the {label}"),
        (None, _) => String::new(),
    };
    match (rows, &slot, earlier) {
        (0, Some(_), _) => Ok(vec![Notice::new("already_in_cart", format!("{name} is already in your cart{at}."))]),
        (0, None, _) => Err(super::too_many_copies()),
        (_, Some(_), Some(_)) => Ok(vec![Notice::new(
            "rate_changed",
            format!("{name} is now{}.", if at.is_empty() { " at the standard price".to_string() } else { at }),
        )]),
        _ => Ok(vec![Notice::new("added", format!("Added {name} to your cart{at}."))]),
    }
}

async fn duplicate_subscription(db: &Db, cart_id: &str, product: &Product) -> Result<Error> {
    let existing: Option<(String,)> =
        sqlx::query_as("SELECT sku FROM cart_items WHERE cart_id = $1 AND plan_slot = $2")
            .bind(cart_id)
            .bind(plan_slot(product))
            .fetch_optional(&db.pool)
            .await?;
    let existing_name = match existing {
        Some((sku,)) => catalog::find_product(db, &sku).await?.map(|p| p.name()).unwrap_or(sku),
        None => "another term of this subscription".into(),
    };
    Ok(Error::Conflict {
        code: "duplicate_subscription",
        message: format!(
            "Your cart already has {existing_name}. One term per subscription: remove it first to choose {}.",
            product.name()
        ),
    })
}

/// Sets a line's quantity; none (a 0 typed) removes the line.
pub async fn set_quantity(
    db: &Db,
    cart_id: &str,
    sku: &str,
    quantity: Option<Quantity>,
    now: i64,
) -> Result<Vec<Notice>> {
    let Some(quantity) = quantity.map(Quantity::get) else {
        return remove_item(db, cart_id, sku, now).await;
    };
    let product = product_for_sku(db, sku).await?;
    if product.term_years().is_some() && quantity != 1 {
        return Err(one_subscription_only());
    }
    let updated = sqlx::query("UPDATE cart_items SET quantity = $3 WHERE cart_id = $1 AND sku = $2")
        .bind(cart_id)
        .bind(sku)
        .bind(quantity)
        .execute(db.unflushed_write().await?.pool())
        .await?
        .rows_affected();
    if updated == 0 {
        return Err(not_in_cart());
    }
    touch(db, cart_id, now).await?;
    Ok(vec![Notice::new("quantity_updated", format!("{} now has quantity {quantity}.", product.name()))])
}

/// A line the reader named is not in their cart (or they have no cart).
pub fn not_in_cart() -> Error {
    Error::not_found("not_in_cart", "That item is not in your cart.")
}

pub async fn remove_item(db: &Db, cart_id: &str, sku: &str, now: i64) -> Result<Vec<Notice>> {
    if !is_well_formed_sku(sku) {
        return Err(product_for_sku(db, sku).await.err().unwrap_or_else(not_in_cart));
    }
    let removed = sqlx::query("DELETE FROM cart_items WHERE cart_id = $1 AND sku = $2")
        .bind(cart_id)
        .bind(sku)
        .execute(db.unflushed_write().await?.pool())
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(not_in_cart());
    }
    touch(db, cart_id, now).await?;
    let name = catalog::find_product(db, sku).await?.map(|p| p.name()).unwrap_or_else(|| sku.to_string());
    Ok(vec![Notice::new("removed", format!("Removed {name} from your cart."))])
}

/// Puts a plan in the cart as the renewal of the reader's running term (the caller checked that
/// they have one): a new-subscribers-only coupon then leaves it out.
pub async fn add_renewal(db: &Db, cart_id: &str, sku: &str, now: i64) -> Result<Vec<Notice>> {
    let notices = add_item(db, cart_id, sku, Quantity::ONE, now).await?;
    sqlx::query("UPDATE cart_items SET renewal = 1 WHERE cart_id = $1 AND sku = $2")
        .bind(cart_id)
        .bind(sku)
        .execute(db.unflushed_write().await?.pool())
        .await?;
    Ok(notices)
}

/// Applies a coupon typed by the reader, replacing any coupon the cart had. Failed codes count
/// towards the guessing limit of every key given (the session's cart, the reader's address).
pub async fn apply_coupon(
    db: &Db,
    cart_id: &str,
    typed: &str,
    limiter_keys: &[String; 2],
    currency: Currency,
    now: i64,
) -> Result<(Vec<Notice>, CartView)> {
    let problem = |p: CouponProblem| Error::invalid(p.code(), p.message());
    let Some(code) = CouponCode::parse(typed) else { return Err(problem(CouponProblem::EmptyCode)) };
    let attempt = attempts::COUPON_CODES.begin(db, limiter_keys, now, "Too many coupon codes didn't work.").await?;
    let checked = match coupons::find_coupon_by_code(db, &code).await? {
        None => Err(CouponProblem::Unknown(code.typed().to_string())),
        Some(coupon) => {
            let (priced, donation) = priced_cart(db, cart_id).await?;
            let facts: Vec<_> = priced.lines.iter().map(PricingLine::facts).collect();
            let subtotal = price(&priced.lines, None, currency).subtotal;
            coupon.check(now, &facts, subtotal).map(|()| (coupon, priced, donation))
        }
    };
    // A wrong code keeps its place in the guessing count; a right one gives it back.
    let (coupon, priced, donation) = checked.map_err(problem)?;
    // The place given back and the coupon set (opening the cart with it): one commit.
    let mut tx = db.begin_unflushed().await?;
    attempts::COUPON_CODES.succeeded(&mut tx, attempt).await?;
    set_cart_coupon(&mut tx, cart_id, &coupon.id, now).await?;
    tx.commit().await?;
    let notices = vec![coupon_applied(&coupon)];
    // The cart as just priced, with its coupon: not read again. (Changed meanwhile in another
    // tab, its version differs from the cart's, and a checkout sent with it is refused.)
    Ok((notices, priced_view(db, cart_id, priced, Some(coupon), donation, currency, now).await?))
}

// The cart view adds the note about checks that wait for checkout.
fn coupon_applied(coupon: &coupons::Coupon) -> Notice {
    Notice::new("coupon_applied", format!("Coupon {} applied: {}", coupon.code, coupon.description))
}

async fn set_cart_coupon(tx: &mut PortableTx, cart_id: &str, coupon_id: &str, now: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO carts (id, coupon_id, created_at, updated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (id) DO UPDATE SET coupon_id = excluded.coupon_id, updated_at = excluded.updated_at",
        &[Param::Text(cart_id), Param::Text(coupon_id), Param::Int(now)],
    )
    .await?;
    Ok(())
}

/// Applies a coupon the reader did not type (an offer page's button): checked against the cart
/// like a typed one, but never counted as a guess.
pub async fn apply_offer_coupon(
    db: &Db,
    cart_id: &str,
    coupon: &coupons::Coupon,
    currency: Currency,
    now: i64,
) -> Result<Vec<Notice>> {
    let lines = priced_cart(db, cart_id).await?.0.lines;
    let facts: Vec<_> = lines.iter().map(PricingLine::facts).collect();
    let subtotal = price(&lines, None, currency).subtotal;
    coupon.check(now, &facts, subtotal).map_err(|p| Error::invalid(p.code(), p.message()))?;
    let mut tx = db.begin_unflushed().await?;
    set_cart_coupon(&mut tx, cart_id, &coupon.id, now).await?;
    tx.commit().await?;
    Ok(vec![coupon_applied(coupon)])
}

pub async fn remove_coupon(db: &Db, cart_id: &str, now: i64) -> Result<Vec<Notice>> {
    let removed =
        sqlx::query("UPDATE carts SET coupon_id = NULL, updated_at = $2 WHERE id = $1 AND coupon_id IS NOT NULL")
            .bind(cart_id)
            .bind(now)
            .execute(db.unflushed_write().await?.pool())
            .await?
            .rows_affected();
    Ok(match removed {
        0 => vec![],
        _ => vec![Notice::new("coupon_removed", "Coupon removed.")],
    })
}

/// The cart's lines priced now (to check a coupon against), its gifts read only when it has
/// some; and its donation.
async fn priced_cart(db: &Db, cart_id: &str) -> Result<(CartLines, i64)> {
    let (rows, gift_count, donation) = match cart_rows(db, cart_id).await? {
        Some(cart) => (cart.lines, cart.gift_count, cart.donation),
        None => (vec![], 0, 0),
    };
    Ok((pricing_lines(db, cart_id, rows, gift_count > 0).await?, donation))
}

/// A cart's lines priced from the catalog now (`pricing_lines`).
struct CartLines {
    lines: Vec<PricingLine>,
    /// Each line's product, in the lines' order: checkout orders them without reading them again.
    products: Vec<Product>,
    notices: Vec<Notice>,
}

/// The cart's lines (`rows`, as read) priced from the catalog now; lines whose product is no longer
/// on sale are dropped (and named in the notices).
/// `with_gifts`: false when the caller knows the cart has none (one query fewer).
async fn pricing_lines(db: &Db, cart_id: &str, rows: Vec<LineRow>, with_gifts: bool) -> Result<CartLines> {
    let mut lines = Vec::new();
    let mut products = Vec::new();
    let mut notices = Vec::new();
    for LineRow { sku, quantity, renewal, rate, rate_amount: amount, plan } in rows {
        match catalog::line_product(db, &sku, plan.into_plan()?).await? {
            Some(product) => {
                let line = match PricingLine::for_product_at(&product, quantity, rate, amount) {
                    Some(line) => Some(line),
                    // The plan no longer has the rate chosen: the standard price, and the reader is told.
                    None => {
                        set_line_rate(db, cart_id, &sku, (rate, amount), (Rate::Standard, None)).await?;
                        notices.push(Notice::new(
                            "rate_withdrawn",
                            format!(
                                "{} is no longer offered at the {}: it is now at the standard price.",
                                product.name(),
                                rate.label().unwrap_or("rate chosen")
                            ),
                        ));
                        PricingLine::for_product(&product, quantity)
                    }
                };
                if let (Some(line), Rate::Sustainer, Some(chosen)) = (&line, rate, amount) {
                    if line.rate == Rate::Sustainer && line.unit_price.amount != chosen {
                        let now_at = (Rate::Sustainer, Some(line.unit_price.amount));
                        set_line_rate(db, cart_id, &sku, (rate, amount), now_at).await?;
                        notices.push(Notice::new(
                            "sustainer_amount_changed",
                            format!(
                                "The sustainer rate of {} is now {}: your line was changed to it.",
                                product.name(),
                                line.unit_price
                            ),
                        ));
                    }
                }
                if let Some(line) = line {
                    lines.push(PricingLine { is_renewal: renewal != 0 && line.is_subscription, ..line });
                    products.push(product);
                }
            }
            None => {
                sqlx::query("DELETE FROM cart_items WHERE cart_id = $1 AND sku = $2")
                    .bind(cart_id)
                    .bind(&sku)
                    .execute(db.unflushed_write().await?.pool())
                    .await?;
                notices.push(Notice::new(
                    "item_unavailable",
                    "An item in your cart is no longer on sale and was removed.",
                ));
            }
        }
    }
    // Then the gifts, each priced like a plan of its own.
    let gifts = match with_gifts {
        true => super::cart_gifts(&mut *db.pool.acquire().await?, cart_id).await?,
        false => Vec::new(),
    };
    for mut cart_gift in gifts {
        let product = catalog::find_product(db, &cart_gift.sku).await?;
        let at_rate =
            product.as_ref().and_then(|p| PricingLine::for_product_at(p, 1, cart_gift.rate, cart_gift.rate_amount));
        let line = match (at_rate, &product) {
            (Some(line), _) => Some(line),
            // The plan no longer has the gift's rate: the standard price, and the buyer is told.
            (None, Some(p)) => {
                sqlx::query(
                    "UPDATE cart_gifts SET rate = 'standard', rate_amount = NULL WHERE cart_id = $1 AND id = $2",
                )
                .bind(cart_id)
                .bind(&cart_gift.id)
                .execute(db.unflushed_write().await?.pool())
                .await?;
                let was = std::mem::take(&mut cart_gift.rate);
                cart_gift.rate_amount = None;
                notices.push(Notice::new(
                    "rate_withdrawn",
                    format!(
                        "{} is no longer offered at the {}: the gift is now at the standard price.",
                        p.name(),
                        was.label().unwrap_or("rate chosen")
                    ),
                ));
                PricingLine::for_product(p, 1)
            }
            (None, None) => None,
        };
        match (line, product) {
            (Some(line), Some(product)) => {
                lines.push(PricingLine { gift: Some(cart_gift), ..line });
                products.push(product);
            }
            _ => {
                match super::remove_gift(db, cart_id, &cart_gift.id).await {
                    // Removed meanwhile (another tab): nothing left to do.
                    Ok(_) | Err(Error::NotFound { .. }) => {}
                    Err(other) => return Err(other),
                }
                notices.push(Notice::new(
                    "item_unavailable",
                    format!("The gift for {} is no longer on sale and was removed.", cart_gift.gift.recipient_name),
                ));
            }
        }
    }
    Ok(CartLines { lines, products, notices })
}

/// Moves a line whose rate the catalog changed to what it is priced at now, only if it is still
/// at the rate it was read at (a conditional update: a rate chosen meanwhile in another tab stays).
async fn set_line_rate(
    db: &Db,
    cart_id: &str,
    sku: &str,
    (was, was_amount): (Rate, Option<i64>),
    (rate, amount): (Rate, Option<i64>),
) -> Result<()> {
    sqlx::query(
        "UPDATE cart_items SET rate = $3, rate_amount = $4 WHERE cart_id = $1 AND sku = $2 AND rate = $5 \
         AND rate_amount IS NOT DISTINCT FROM $6",
    )
    .bind(cart_id)
    .bind(sku)
    .bind(rate.as_str())
    .bind(amount)
    .bind(was.as_str())
    .bind(was_amount)
    .execute(db.unflushed_write().await?.pool())
    .await?;
    Ok(())
}

/// The cart as it stands, priced now. A coupon that no longer applies is taken off (only if it is
/// still the cart's coupon: a conditional update, so a coupon applied meanwhile is kept), with a notice.
pub async fn view_cart(db: &Db, cart_id: Option<&str>, currency: Currency, now: i64) -> Result<CartView> {
    let empty = || {
        let quote = price(&[], None, currency);
        CartView {
            version: version_of(&quote, None),
            quote,
            coupon: None,
            applied_coupon: None,
            item_count: 0,
            notices: vec![],
            products: vec![],
        }
    };
    let Some(cart_id) = cart_id else { return Ok(empty()) };
    let Some(CartRows { coupon_id, updated_at, donation, gift_count, lines: line_rows }) =
        cart_rows(db, cart_id).await?
    else {
        return Ok(empty());
    };
    if updated_at < now - CART_LIFETIME_SECS {
        sqlx::query("DELETE FROM carts WHERE id = $1 AND updated_at < $2")
            .bind(cart_id)
            .bind(now - CART_LIFETIME_SECS)
            .execute(db.unflushed_write().await?.pool())
            .await?;
        return Ok(empty());
    }
    let priced = pricing_lines(db, cart_id, line_rows, gift_count > 0).await?;
    let coupon = match &coupon_id {
        Some(id) => coupons::find_coupon(db, id).await?,
        None => None,
    };
    priced_view(db, cart_id, priced, coupon, donation, currency, now).await
}

/// The view of a cart whose lines are priced: its coupon checked against them (taken off with a
/// notice when it no longer applies), and the total.
async fn priced_view(
    db: &Db,
    cart_id: &str,
    priced: CartLines,
    mut coupon: Option<coupons::Coupon>,
    donation: i64,
    currency: Currency,
    now: i64,
) -> Result<CartView> {
    let CartLines { lines, products, mut notices } = priced;
    if let Some(c) = &coupon {
        if c.new_subscribers_only && lines.iter().any(|l| l.is_renewal) {
            notices.push(Notice::new(
                "coupon_not_for_renewals",
                format!("{} is for new subscribers: it does not apply to your renewal.", c.code),
            ));
        }
        let facts: Vec<_> = lines.iter().map(PricingLine::facts).collect();
        let subtotal = price(&lines, None, currency).subtotal;
        if let Err(problem) = c.check(now, &facts, subtotal) {
            sqlx::query("UPDATE carts SET coupon_id = NULL WHERE id = $1 AND coupon_id = $2")
                .bind(cart_id)
                .bind(&c.id)
                .execute(db.unflushed_write().await?.pool())
                .await?;
            notices.push(Notice::new(
                "coupon_removed",
                format!("The coupon {} was removed: {}", c.code, problem.message()),
            ));
            coupon = None;
        } else if let Some(note) = c.checkout_note() {
            notices.push(Notice::new("coupon_confirmed_at_checkout", note));
        }
    }
    let quote = price(&lines, coupon.as_ref(), currency).with_donation(Money::new(donation, currency));
    Ok(CartView {
        version: version_of(&quote, coupon.as_ref().map(|c| c.code.as_str())),
        item_count: quote.lines.iter().map(|l| l.quantity).sum(),
        quote,
        coupon: coupon.as_ref().map(|c| c.summary()),
        applied_coupon: coupon,
        notices,
        products,
    })
}

/// The id of the cart's coupon, if it has one.
pub async fn cart_coupon_id(db: &Db, cart_id: &str) -> Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT coupon_id FROM carts WHERE id = $1").bind(cart_id).fetch_optional(&db.pool).await?;
    Ok(row.and_then(|(id,)| id))
}

/// How many items the cart holds, for the header (one cheap query).
pub async fn item_count(db: &Db, cart_id: &str) -> Result<i64> {
    let row: Option<(i64,)> = db
        .read_row(
            "SELECT CAST(COALESCE(SUM(quantity), 0) + (SELECT COUNT(*) FROM cart_gifts WHERE cart_id = $1) AS BIGINT) \
             FROM cart_items WHERE cart_id = $1",
            &[Param::Text(cart_id)],
        )
        .await?;
    Ok(row.map_or(0, |(count,)| count))
}

/// Forgets carts untouched for `CART_LIFETIME_SECS`.
pub async fn purge_abandoned_carts(db: &Db, now: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM carts WHERE updated_at < $1")
        .bind(now - CART_LIFETIME_SECS)
        .execute(db.unflushed_write().await?.pool())
        .await?
        .rows_affected())
}
