//! Offer pages: a coupon staff choose to publish at `/offers/{slug}`, with a headline, a text in
//! Markdown, and the plans it applies to at their regular and offer prices. A published offer's
//! link keeps working after the coupon ends: the page then says the offer has ended.

use serde::Serialize;

use crate::{
    audit::{self, Actor},
    cart::{price, PricingLine},
    catalog::{self, Plan},
    coupons::{self, Coupon},
    db::Db,
    error::{Error, FieldError, Result},
    money::{Currency, Money},
};

pub const MAX_BODY_CHARS: usize = 10_000;

#[derive(Clone, Debug, Serialize)]
pub struct Offer {
    pub coupon_id: String,
    pub slug: String,
    pub headline: String,
    /// Markdown.
    pub body: String,
    pub published: bool,
    pub updated_at: i64,
}

/// A plan as an offer shows it: the regular price struck through, the offer price beside it.
#[derive(Clone, Debug, Serialize)]
pub struct OfferPlan {
    pub plan: Plan,
    pub regular: Money,
    pub offer: Money,
}

/// An offer as staff typed it, unchecked.
#[derive(Clone, Debug, Default, serde::Deserialize, Serialize)]
pub struct OfferInput {
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub headline: String,
    #[serde(default)]
    pub body: String,
    /// A ticked checkbox.
    #[serde(default)]
    pub published: Option<String>,
}

impl OfferInput {
    fn check(&self) -> std::result::Result<Offer, Vec<FieldError>> {
        let mut problems = Vec::new();
        let slug = self.slug.trim().to_ascii_lowercase();
        if !catalog::is_slug(&slug) {
            problems.push(FieldError::new(
                "slug",
                "Use 1 to 32 lowercase letters, digits and dashes, starting with a letter, such as ftr-2016.",
            ));
        }
        let headline = self.headline.split_whitespace().collect::<Vec<_>>().join(" ");
        if headline.is_empty() || headline.chars().count() > 120 {
            problems.push(FieldError::new("headline", "Write a headline of up to 120 characters."));
        }
        let body = self.body.replace("\r\n", "\n").trim_end().to_string();
        if body.chars().count() > MAX_BODY_CHARS {
            problems.push(FieldError::new("body", format!("The text is at most {MAX_BODY_CHARS} characters.")));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Offer { coupon_id: String::new(), slug, headline, body, published: self.published.is_some(), updated_at: 0 })
    }
}

type OfferRow = (String, String, String, String, i64, i64);

fn from_row((coupon_id, slug, headline, body, published, updated_at): OfferRow) -> Offer {
    Offer { coupon_id, slug, headline, body, published: published != 0, updated_at }
}

const COLUMNS: &str = "coupon_id, slug, headline, body, published, updated_at";

pub async fn offer_of_coupon(db: &Db, coupon_id: &str) -> Result<Option<Offer>> {
    let row: Option<OfferRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM offers WHERE coupon_id = $1"))
        .bind(coupon_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(from_row))
}

/// A published offer and its coupon.
pub async fn published_offer(db: &Db, slug: &str) -> Result<Option<(Offer, Coupon)>> {
    if !catalog::is_slug(slug) {
        return Ok(None);
    }
    let row: Option<OfferRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM offers WHERE slug = $1 AND published = 1"))
            .bind(slug)
            .fetch_optional(&db.pool)
            .await?;
    let Some(offer) = row.map(from_row) else { return Ok(None) };
    Ok(coupons::find_coupon(db, &offer.coupon_id).await?.map(|coupon| (offer, coupon)))
}

/// What the home page says of the offer it shows.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct FeaturedOffer {
    pub slug: String,
    pub headline: String,
    pub code: String,
    pub description: String,
}

/// The offer the home page shows: the most recently saved published offer whose coupon can be
/// used now. One query, as the home page is read often: its conditions are `Coupon::status`'s
/// "active", as the checkout's reservation also writes them in SQL.
pub async fn featured_offer(db: &Db, now: i64) -> Result<Option<FeaturedOffer>> {
    Ok(sqlx::query_as(
        "SELECT o.slug, o.headline, c.code, c.description FROM offers o JOIN coupons c ON c.id = o.coupon_id \
         WHERE o.published = 1 AND c.active = 1 AND (c.starts_at IS NULL OR c.starts_at <= $1) \
         AND (c.ends_at IS NULL OR c.ends_at > $1) \
         AND (c.max_redemptions IS NULL OR c.redemptions_used < c.max_redemptions) \
         ORDER BY o.updated_at DESC LIMIT 1",
    )
    .bind(now)
    .fetch_optional(&db.pool)
    .await?)
}

/// The coupon can be used now (not ended, used up, switched off or yet to start).
pub fn is_live(coupon: &Coupon, now: i64) -> bool {
    coupon.status(now) == "active"
}

/// The plans the coupon brings down in price when bought on their own, at both prices.
pub async fn offer_plans(db: &Db, coupon: &Coupon, currency: Currency, now: i64) -> Result<Vec<OfferPlan>> {
    let mut plans = Vec::new();
    for plan in catalog::plans(db).await? {
        let product = catalog::Product::Plan(plan.clone());
        let Some(line) = PricingLine::for_product(&product, 1) else { continue };
        let regular = price(std::slice::from_ref(&line), None, currency).total;
        // Judged as if the coupon were live, so an ended offer still shows what it was.
        let as_if_live =
            Coupon { active: true, starts_at: None, ends_at: None, max_redemptions: None, ..coupon.clone() };
        if as_if_live.check(now, &[line.facts()], regular).is_err() {
            continue;
        }
        let offer = price(std::slice::from_ref(&line), Some(coupon), currency).total;
        if offer.amount < regular.amount {
            plans.push(OfferPlan { plan, regular, offer });
        }
    }
    Ok(plans)
}

/// Saves a coupon's offer page, with its audit entry. Another offer's address is refused.
pub async fn save_offer(db: &Db, coupon: &Coupon, input: &OfferInput, actor: &Actor, now: i64) -> Result<Offer> {
    let mut offer = input.check().map_err(Error::Fields)?;
    offer.coupon_id = coupon.id.clone();
    offer.updated_at = now;
    let before = offer_of_coupon(db, &coupon.id).await?;
    let mut tx = db.begin_write().await?;
    let taken: Option<(String,)> = sqlx::query_as("SELECT coupon_id FROM offers WHERE slug = $1 AND coupon_id <> $2")
        .bind(&offer.slug)
        .bind(&coupon.id)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(Error::Fields(vec![FieldError::new("slug", "Another offer has this address: choose another.")]));
    }
    let saved = sqlx::query(
        "INSERT INTO offers (coupon_id, slug, headline, body, published, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (coupon_id) DO UPDATE SET slug = excluded.slug, headline = excluded.headline, \
         body = excluded.body, published = excluded.published, updated_at = excluded.updated_at",
    )
    .bind(&offer.coupon_id)
    .bind(&offer.slug)
    .bind(&offer.headline)
    .bind(&offer.body)
    .bind(i64::from(offer.published))
    .bind(now)
    .execute(&mut *tx)
    .await;
    // Two offers saved at once with one address: the unique index lets one through.
    if let Err(sqlx::Error::Database(e)) = &saved {
        if e.is_unique_violation() {
            return Err(Error::Fields(vec![FieldError::new(
                "slug",
                "Another offer has this address: choose another.",
            )]));
        }
    }
    saved?;
    let change = audit::Change {
        action: "offer.save",
        entity: "coupon",
        entity_id: &coupon.id,
        before: before.map(|o| serde_json::json!(o)),
        after: Some(serde_json::json!(offer)),
    };
    audit::record(&mut tx, actor, change, now).await?;
    tx.commit().await?;
    Ok(offer)
}

#[derive(serde::Deserialize)]
struct OfferFixture {
    code: String,
    slug: String,
    headline: String,
    body: String,
}

/// Publishes the demo offers of `fixtures/offers.json` (the publisher's `FTR 2016`) for coupons
/// that have no offer page yet; safe when several instances start at once.
pub async fn seed_demo_offers(db: &Db, now: i64) -> anyhow::Result<()> {
    let fixtures: Vec<OfferFixture> = serde_json::from_str(include_str!("../fixtures/offers.json"))?;
    for f in fixtures {
        let Some(code) = coupons::CouponCode::parse(&f.code) else {
            anyhow::bail!("fixtures/offers.json: an empty code")
        };
        let Some(coupon) = coupons::find_coupon_by_code(db, &code).await? else { continue };
        let input = OfferInput { slug: f.slug, headline: f.headline, body: f.body, published: Some("on".into()) };
        let offer = input.check().map_err(|problems| anyhow::anyhow!("fixtures/offers.json: {problems:?}"))?;
        // Like the demo coupons, not audited: no one made this change. An instance starting at the
        // same moment may have saved it first.
        sqlx::query(
            "INSERT INTO offers (coupon_id, slug, headline, body, published, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT DO NOTHING",
        )
        .bind(&coupon.id)
        .bind(&offer.slug)
        .bind(&offer.headline)
        .bind(&offer.body)
        .bind(now)
        .execute(&db.pool)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_needs_an_address_and_a_headline() {
        let input = OfferInput { slug: "FTR 2016".into(), headline: "  ".into(), ..Default::default() };
        let problems = input.check().expect_err("refused");
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["slug", "headline"]);
        let input = OfferInput {
            slug: " FTR-2016 ".into(),
            headline: "Half   price".into(),
            body: "Text\r\n".into(),
            published: Some("on".into()),
        };
        let offer = input.check().expect("accepted");
        assert_eq!(
            (offer.slug.as_str(), offer.headline.as_str(), offer.body.as_str()),
            ("ftr-2016", "Half price", "Text")
        );
        assert!(offer.published);
    }
}
