//! Orders: the snapshot a reader pays for (`checkout.rs`), settling it exactly once as paid or
//! failed (`settle.rs`), subscription terms (`terms.rs`), and reading orders back.

mod addresses;
mod checkout;
mod confirmation;
pub mod gifts;
pub mod import;
pub mod labels;
pub mod mailing_list;
pub mod plan_facts;
pub mod print_run;
pub mod reminders;
pub mod reports;
mod settle;
pub mod staff;
pub mod staff_orders;
pub use crate::terms;

use serde::Serialize;
use sqlx::FromRow;

use crate::{
    address::Address,
    db::{Db, Param, Statements},
    error::Result,
    money::{Currency, Money},
};

pub use crate::address::AddressInput;
pub(crate) use crate::address::BindAddress;
pub use addresses::{change_address, history as address_history, AddressFrom};
pub use checkout::{place_order, place_priced_order, CheckoutInput};
pub use settle::{fail_order, settle, Outcome, Settled};

/// A checkout expires this long after it starts unless paid (Stripe allows 30 minutes to 24 hours).
pub const CHECKOUT_LIFETIME_SECS: i64 = 60 * 60;
/// Stripe's smallest charge in dollars, euros or pounds: 50 cents.
pub const MINIMUM_CHARGE: i64 = 50;

/// Where an order is in its life. Only `pending` moves, and only by conditional updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Placed, waiting for its payment.
    Pending,
    /// Paid and fulfilled.
    Paid,
    /// The checkout expired, was cancelled or its payment failed; its coupon was released.
    Failed,
    /// Money arrived but something is off (amount, a discount no longer due): staff decide.
    Review,
    Refunded,
}

impl OrderStatus {
    pub fn parse(text: &str) -> Option<OrderStatus> {
        match text {
            "pending" => Some(OrderStatus::Pending),
            "paid" => Some(OrderStatus::Paid),
            "failed" => Some(OrderStatus::Failed),
            "review" => Some(OrderStatus::Review),
            "refunded" => Some(OrderStatus::Refunded),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Failed => "failed",
            OrderStatus::Review => "review",
            OrderStatus::Refunded => "refunded",
        }
    }

    /// Money was taken and not yet returned: a refund is possible.
    pub fn is_refundable(self) -> bool {
        matches!(self, OrderStatus::Paid | OrderStatus::Review)
    }
}

crate::db::text_column!(OrderStatus);

/// Who takes the payment for an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentMethod {
    Stripe,
    /// Local test mode: no money moves.
    Test,
    /// Nothing to pay (a 100% coupon).
    None,
}

impl PaymentMethod {
    pub fn parse(text: &str) -> Option<PaymentMethod> {
        match text {
            "stripe" => Some(PaymentMethod::Stripe),
            "test" => Some(PaymentMethod::Test),
            "none" => Some(PaymentMethod::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Stripe => "stripe",
            PaymentMethod::Test => "test",
            PaymentMethod::None => "none",
        }
    }
}

crate::db::text_column!(PaymentMethod);

/// What an order line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineKind {
    /// A prepaid term: becomes a subscription when paid.
    Subscription,
    /// Copies of one issue: shipped (print) or unlocked (digital).
    Issue,
}

impl LineKind {
    pub fn parse(text: &str) -> Option<LineKind> {
        match text {
            "subscription" => Some(LineKind::Subscription),
            "issue" => Some(LineKind::Issue),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Subscription => "subscription",
            LineKind::Issue => "issue",
        }
    }
}

crate::db::text_column!(LineKind);

#[derive(Clone, Debug, Serialize, FromRow)]
pub struct Order {
    pub id: String,
    pub cart_id: Option<String>,
    pub email: String,
    pub name: String,
    pub ship_line1: Option<String>,
    pub ship_line2: Option<String>,
    pub ship_city: Option<String>,
    pub ship_region: Option<String>,
    pub ship_postal_code: Option<String>,
    pub ship_country: Option<String>,
    pub currency: Currency,
    pub subtotal: i64,
    pub discount: i64,
    /// Postage for the print copies, as it was when the order was placed (0 when none is mailed).
    pub postage: i64,
    /// The zone's name then, the copies it covers and the amount per copy.
    pub postage_zone: Option<String>,
    pub postage_copies: i64,
    pub postage_per_copy: i64,
    /// Given on top of the items, never discounted.
    pub donation: i64,
    /// Postage of print gifts, each to its recipient's country (see `gifts::OrderGift`).
    pub gift_postage: i64,
    /// What the reader pays: subtotal less discount, plus postage and the donation.
    pub total: i64,
    pub coupon_id: Option<String>,
    pub coupon_code: Option<String>,
    pub status: OrderStatus,
    pub provider: PaymentMethod,
    pub provider_session_id: Option<String>,
    pub payment_url: Option<String>,
    pub payment_reference: Option<String>,
    pub review_reason: Option<String>,
    pub failure_reason: Option<String>,
    pub expires_at: i64,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    /// `checkout`, `import` or `staff`.
    pub source: String,
    /// An order taken by staff: cash, cheque, bank_transfer, invoice or complimentary.
    pub payment_method: Option<String>,
    pub invoice_due: Option<i64>,
    pub complimentary_reason: Option<String>,
    pub notes: Option<String>,
    /// Postage a coupon covered (then `postage` is 0).
    pub postage_waived: i64,
}

crate::db::in_place::read_row_struct!(Order {
    id,
    cart_id,
    email,
    name,
    ship_line1,
    ship_line2,
    ship_city,
    ship_region,
    ship_postal_code,
    ship_country,
    currency,
    subtotal,
    discount,
    postage,
    postage_zone,
    postage_copies,
    postage_per_copy,
    donation,
    gift_postage,
    total,
    coupon_id,
    coupon_code,
    status,
    provider,
    provider_session_id,
    payment_url,
    payment_reference,
    review_reason,
    failure_reason,
    expires_at,
    created_at,
    paid_at,
    source,
    payment_method,
    invoice_due,
    complimentary_reason,
    notes,
    postage_waived,
});

/// How a donation line reads at Stripe, on the receipt and in the confirmation.
pub const DONATION_LABEL: &str = "Donation to support the paper";

/// Why an order failed when the reader left the payment page by its cancel link.
pub const CANCELLED_BY_READER: &str = "cancelled by the reader";

impl Order {
    /// The status as staff read it: a checkout the reader cancelled is "cancelled", not "failed".
    pub fn status_label(&self) -> &'static str {
        match (self.status, self.failure_reason.as_deref()) {
            (OrderStatus::Failed, Some(CANCELLED_BY_READER)) => "cancelled",
            (status, _) => status.as_str(),
        }
    }

    /// An invoice staff wait to be paid: nobody to ask, never failed by the reconciliation job.
    pub fn is_open_invoice(&self) -> bool {
        self.status == OrderStatus::Pending && self.payment_method.as_deref() == Some("invoice")
    }

    /// Where print copies go, when the order has print in it.
    pub fn shipping_address(&self) -> Option<Address> {
        Address::from_columns(
            self.ship_line1.as_deref(),
            self.ship_line2.as_deref(),
            self.ship_city.as_deref(),
            self.ship_region.as_deref(),
            self.ship_postal_code.as_deref(),
            self.ship_country.as_deref(),
        )
    }

    /// How the postage line reads ("Postage to Canada: 24 copies at $1.50"), when postage is charged
    /// or a coupon covered it.
    pub fn postage_label(&self) -> Option<String> {
        let country = self.ship_country.as_deref()?;
        let label = crate::postage::describe(country, self.postage_copies, self.money(self.postage_per_copy));
        match (self.postage, self.postage_waived) {
            (0, 0) => None,
            (_, 0) => Some(label),
            (_, waived) => Some(format!(
                "{label}, {} covered by the coupon {}",
                self.money(waived),
                self.coupon_code.as_deref().unwrap_or("")
            )),
        }
    }

    /// What the order charges besides its lines, each a line of its own (at Stripe, on the receipt,
    /// in the confirmation): postage (with a covered one's note), each gift's postage, the donation.
    pub fn extra_charges(&self, gifts: &[gifts::OrderGift]) -> Vec<(String, Money)> {
        self.charges(gifts, false)
    }

    /// The same as receipts show them: each postage line names its zone.
    pub fn extra_charges_with_zones(&self, gifts: &[gifts::OrderGift]) -> Vec<(String, Money)> {
        self.charges(gifts, true)
    }

    fn charges(&self, gifts: &[gifts::OrderGift], with_zones: bool) -> Vec<(String, Money)> {
        let zoned = |label: String, zone: &Option<String>| match (with_zones, zone) {
            (true, Some(zone)) => format!("{label} ({zone})"),
            _ => label,
        };
        let mut charges: Vec<(String, Money)> = self
            .postage_label()
            .map(|label| (zoned(label, &self.postage_zone), self.money(self.postage)))
            .into_iter()
            .collect();
        charges.extend(
            gifts.iter().filter_map(|g| {
                g.postage_label(self).map(|label| (zoned(label, &g.postage_zone), self.money(g.postage)))
            }),
        );
        charges.extend(self.donation_given().map(|d| (DONATION_LABEL.to_string(), d)));
        charges
    }

    /// The donation given with the order, when there is one.
    pub fn donation_given(&self) -> Option<Money> {
        (self.donation > 0).then(|| self.money(self.donation))
    }

    /// An amount of this order, in its currency.
    pub fn money(&self, amount: i64) -> Money {
        Money::new(amount, self.currency)
    }
}

#[derive(Clone, Debug, Serialize, FromRow)]
pub struct OrderLine {
    pub position: i64,
    pub sku: String,
    pub name: String,
    pub kind: LineKind,
    pub publication: String,
    pub edition: String,
    pub term_years: Option<i64>,
    pub quantity: i64,
    pub unit_price: i64,
    pub line_total: i64,
    pub discount: i64,
    pub rate: crate::catalog::rates::Rate,
    /// Whose new subscription it is (the buyer's or a gift recipient's normalised email).
    pub beneficiary: Option<String>,
}

impl OrderLine {
    /// How the line reads on receipts: its name, and its rate when not the standard one.
    pub fn title(&self) -> String {
        match self.rate.label() {
            Some(rate) => format!("{} ({rate})", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, FromRow)]
pub struct Subscription {
    pub id: String,
    /// What was bought: "International Socialist Review, print edition, 4 years".
    pub title: String,
    pub order_id: String,
    /// The order line it came from (a gift's details are kept by position).
    pub order_position: i64,
    pub email: String,
    pub name: String,
    pub publication: String,
    pub edition: String,
    pub term_years: i64,
    pub first_period: i64,
    pub last_period: i64,
    pub status: String,
}

impl Subscription {
    pub fn first_issue(&self) -> String {
        terms::describe(self.first_period)
    }

    pub fn last_issue(&self) -> String {
        terms::describe(self.last_period)
    }
}

/// The columns an `Order` is read from. The `total` column is the items' total after discount;
/// an `Order`'s `total` is what the reader pays: that plus postage (the buyer's and the gifts') plus
/// the donation.
pub const ORDER_COLUMNS: &str = "id, cart_id, email, name, ship_line1, ship_line2, ship_city, ship_region, \
     ship_postal_code, ship_country, currency, subtotal, discount, postage, postage_zone, postage_copies, \
     postage_per_copy, donation, gift_postage, total + postage + gift_postage + donation AS total, coupon_id, coupon_code, status, provider, provider_session_id, payment_url, \
     payment_reference, review_reason, failure_reason, expires_at, created_at, paid_at, source, payment_method, \
     invoice_due, complimentary_reason, notes, postage_waived";

pub async fn find_order(db: &Db, id: &str) -> Result<Option<Order>> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1");
    Ok(db.read_row(&sql, &[Param::Text(id)]).await?)
}

pub async fn order_lines(db: &Db, order_id: &str) -> Result<Vec<OrderLine>> {
    Ok(sqlx::query_as(
        "SELECT position, sku, name, kind, publication, edition, term_years, quantity, unit_price, line_total, \
         discount, rate, beneficiary FROM order_lines WHERE order_id = $1 ORDER BY position",
    )
    .bind(order_id)
    .fetch_all(&db.pool)
    .await?)
}

pub async fn subscriptions_of_order(db: &Db, order_id: &str) -> Result<Vec<Subscription>> {
    Ok(sqlx::query_as(
        "SELECT s.id, l.name AS title, s.order_id, s.order_position, s.email, s.name, s.publication, s.edition, s.term_years, \
         s.first_period, s.last_period, s.status FROM subscriptions s \
         JOIN order_lines l ON l.order_id = s.order_id AND l.position = s.order_position \
         WHERE s.order_id = $1 ORDER BY s.order_position",
    )
    .bind(order_id)
    .fetch_all(&db.pool)
    .await?)
}

/// Takes the reader's row lock for the rest of the transaction (creating the row the first
/// time). Checkouts and settlements for one email call this first, so on PostgreSQL they run one
/// after another; SQLite's write transactions take turns anyway.
pub(crate) async fn lock_reader(conn: &mut impl Statements, email_normalized: &str, now: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO readers (email_normalized, created_at, updated_at) VALUES ($1, $2, $2) \
         ON CONFLICT (email_normalized) DO UPDATE SET updated_at = excluded.updated_at",
        &[Param::Text(email_normalized), Param::Int(now)],
    )
    .await?;
    Ok(())
}

/// Takes the locks of a buyer and of everyone else an order is for (gift recipients), in one
/// order (sorted), so two orders naming the same readers never wait on each other in a circle.
pub(crate) async fn lock_readers(conn: &mut impl Statements, buyer: &str, others: &[String], now: i64) -> Result<()> {
    let mut readers: Vec<&str> = others.iter().map(String::as_str).chain([buyer]).collect();
    readers.sort_unstable();
    readers.dedup();
    for reader in readers {
        lock_reader(conn, reader, now).await?;
    }
    Ok(())
}

/// Which other orders' new-subscriber discounts count against a reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DiscountsCounted {
    /// Paid ones and those reserved by checkouts waiting for payment (at checkout).
    PaidOrPending,
    /// Paid ones only (at settlement: of two pending orders, the first paid keeps the discount).
    Paid,
}

/// True when the reader has had a subscription to the publication, or another order whose
/// new-subscribers-only discount went to that publication: the discount is for a reader's first
/// subscription, once. `except_order` leaves out the order being judged. Call it holding the
/// reader's lock.
async fn new_subscriber_discount_used(
    conn: &mut impl Statements,
    email_normalized: &str,
    publication: &str,
    except_order: Option<&str>,
    counted: DiscountsCounted,
) -> Result<bool> {
    let except = except_order.unwrap_or("");
    let also_counted = match counted {
        DiscountsCounted::PaidOrPending => "reserved",
        DiscountsCounted::Paid => "final",
    };
    // One statement: a subscription, or a discounted line for the beneficiary.
    let (used,): (i64,) = conn
        .row(
            "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM subscriptions WHERE email_normalized = $1 AND publication = $2 \
             AND order_id <> $3) \
             OR EXISTS (SELECT 1 FROM order_lines l JOIN coupon_redemptions r ON r.order_id = l.order_id \
             JOIN coupons c ON c.id = r.coupon_id \
             WHERE l.beneficiary = $1 AND l.publication = $2 AND l.discount > 0 AND l.order_id <> $3 \
             AND r.status IN ('final', $4) AND c.new_subscribers_only = 1) THEN 1 ELSE 0 END AS BIGINT)",
            &[Param::Text(email_normalized), Param::Text(publication), Param::Text(except), Param::Text(also_counted)],
        )
        .await?
        .unwrap_or((0,));
    Ok(used != 0)
}

/// Orders still pending after their checkout expired, oldest first: for the reconciliation job.
pub async fn overdue_pending_orders(db: &Db, now: i64, limit: i64) -> Result<Vec<Order>> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE status = 'pending' AND expires_at < $1 \
         AND (payment_method IS NULL OR payment_method <> 'invoice') ORDER BY expires_at LIMIT $2"
    );
    Ok(sqlx::query_as(&sql).bind(now).bind(limit).fetch_all(&db.pool).await?)
}

/// Records the payment provider's session for an order.
pub async fn attach_payment(db: &Db, order_id: &str, session_id: &str, url: &str, expires_at: i64) -> Result<()> {
    db.execute_durable(
        "UPDATE orders SET provider_session_id = $2, payment_url = $3, expires_at = $4 WHERE id = $1",
        &[Param::Text(order_id), Param::Text(session_id), Param::Text(url), Param::Int(expires_at)],
    )
    .await?;
    Ok(())
}
