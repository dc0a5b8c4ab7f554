//! The demo coupons of `fixtures/coupons.json` (the publisher's `FTR 2016`), loaded into an empty
//! shop; safe when several instances load them at once.

use anyhow::anyhow;
use serde::Deserialize;

use super::{create_coupon, find_coupon_by_code, AppliesTo, CouponCode, CouponValue, NewCoupon, Percent};
use crate::{db::Db, money::Currency};

#[derive(Deserialize)]
struct CouponFixture {
    code: String,
    description: String,
    percent: String,
    applies_to: String,
    new_subscribers_only: bool,
}

const COUPONS_JSON: &str = include_str!("../../fixtures/coupons.json");

/// Loads the demo coupons (the publisher's `FTR 2016`); a code that exists already is left alone.
pub async fn seed_demo_coupons(db: &Db, currency: Currency, now: i64) -> anyhow::Result<()> {
    let fixtures: Vec<CouponFixture> = serde_json::from_str(COUPONS_JSON)?;
    for f in fixtures {
        let Some(code) = CouponCode::parse(&f.code) else { anyhow::bail!("fixtures/coupons.json: an empty code") };
        if find_coupon_by_code(db, &code).await?.is_some() {
            continue;
        }
        let value = Percent::parse(&f.percent)
            .map(CouponValue::Percent)
            .map_err(|problem| anyhow!("fixtures/coupons.json: {}: {}", f.percent, problem.message()))?;
        let applies_to = AppliesTo::from_kind(&f.applies_to, Vec::new())
            .ok_or_else(|| anyhow!("fixtures/coupons.json: {:?} is not what a coupon applies to", f.applies_to))?;
        let coupon = NewCoupon {
            currency,
            code: f.code,
            description: f.description,
            value,
            applies_to,
            new_subscribers_only: f.new_subscribers_only,
            covers_postage: false,
            applies_to_reduced: false,
            applies_to_sustainer: false,
            starts_at: None,
            ends_at: None,
            max_redemptions: None,
            per_customer_limit: None,
            min_subtotal: None,
            active: true,
        };
        if let Err(problems) = create_coupon(db, &coupon, None, now).await {
            // Another instance starting at the same moment saved it first: that is the same coupon.
            if find_coupon_by_code(db, &code).await?.is_none() {
                anyhow::bail!("fixtures/coupons.json: {problems:?}");
            }
        }
    }
    Ok(())
}
