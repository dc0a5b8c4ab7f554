//! Prices a cart: line totals, the coupon's discount, the total. Pure: no database.
//!
//! The rounding rule (also in the README): a percent discount is computed on each
//! eligible line's total and rounded half-up to the cent; a fixed discount, capped at
//! the eligible lines' sum, is spread over those lines in proportion to their totals,
//! each share rounded down and the cents left over given to the lines with the largest
//! remainders (ties to the earlier line), so the shares add up to the discount exactly
//! and no line is discounted below zero.

use rust_decimal::{prelude::ToPrimitive, Decimal, RoundingStrategy};
use serde::Serialize;

use crate::{
    catalog::{rates::Rate, Product},
    coupons::{Coupon, CouponValue, LineFacts},
    money::{Currency, Money},
};

/// One line as the pricing sees it; the unit price always comes from the catalog.
#[derive(Clone, Debug)]
pub struct PricingLine {
    pub sku: String,
    pub name: String,
    pub publication: String,
    pub is_subscription: bool,
    pub unit_price: Money,
    pub quantity: i64,
    /// Renews the reader's running term (put in the cart from their account).
    pub is_renewal: bool,
    /// The rate a plan is at (single issues: standard).
    pub rate: Rate,
    /// A gift for someone else (its own row in the cart).
    pub gift: Option<super::CartGift>,
}

impl PricingLine {
    /// A line of `quantity` of a product at its catalog price; `None` for a product not on sale.
    pub fn for_product(product: &Product, quantity: i64) -> Option<PricingLine> {
        PricingLine::for_product_at(product, quantity, Rate::Standard, None)
    }

    /// The same at a rate (a sustainer's chosen `amount`); `None` when the plan has no such rate.
    pub fn for_product_at(product: &Product, quantity: i64, rate: Rate, amount: Option<i64>) -> Option<PricingLine> {
        let unit_price = match (product, rate) {
            (Product::Plan(plan), rate) => plan.price_at(rate, amount)?,
            (Product::Issue(_), Rate::Standard) => product.price()?,
            (Product::Issue(_), _) => return None,
        };
        Some(PricingLine {
            sku: product.sku().to_string(),
            name: product.name(),
            publication: product.publication().to_string(),
            is_subscription: product.term_years().is_some(),
            unit_price,
            quantity,
            is_renewal: false,
            rate,
            gift: None,
        })
    }

    pub fn facts(&self) -> LineFacts<'_> {
        LineFacts {
            sku: &self.sku,
            publication: &self.publication,
            is_subscription: self.is_subscription,
            is_renewal: self.is_renewal,
            rate: self.rate,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PricedLine {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub is_subscription: bool,
    pub is_renewal: bool,
    pub rate: Rate,
    /// "reduced rate", "sustainer rate"; none for the standard price.
    pub rate_label: Option<&'static str>,
    pub gift: Option<super::CartGift>,
    pub unit_price: Money,
    pub line_total: Money,
    pub discount: Money,
}

#[derive(Clone, Debug, Serialize)]
pub struct Quote {
    pub lines: Vec<PricedLine>,
    pub subtotal: Money,
    pub discount: Money,
    /// Given on top, never discounted (see `with_donation`).
    pub donation: Money,
    /// What the items cost after the discount, plus the donation (postage comes at checkout).
    pub total: Money,
}

impl Quote {
    /// The quote with a donation on top: the total grows by it, the discount does not touch it.
    pub fn with_donation(mut self, donation: Money) -> Quote {
        self.donation = donation;
        self.total = Money::new(self.items_total().amount + donation.amount, donation.currency);
        self
    }

    /// The items' total after the discount, without the donation (the orders table's `total`).
    pub fn items_total(&self) -> Money {
        Money::new((self.subtotal.amount - self.discount.amount).max(0), self.subtotal.currency)
    }
}

/// Prices the lines, with the coupon's discount when one is given. The caller has already
/// checked that the coupon may be used (`Coupon::check`).
pub fn price(lines: &[PricingLine], coupon: Option<&Coupon>, currency: Currency) -> Quote {
    let totals: Vec<i64> = lines.iter().map(|l| l.unit_price.amount.saturating_mul(l.quantity)).collect();
    let eligible: Vec<bool> = lines.iter().map(|l| coupon.is_some_and(|c| c.applies_to_line(l.facts()))).collect();
    let discounts = match coupon.map(|c| &c.value) {
        None => vec![0; lines.len()],
        Some(CouponValue::Percent(percent)) => percent_discounts(&totals, &eligible, percent.basis_points()),
        Some(CouponValue::Fixed(amount)) => fixed_discounts(&totals, &eligible, amount.amount),
    };
    let subtotal: i64 = totals.iter().sum();
    let discount: i64 = discounts.iter().sum();
    Quote {
        lines: lines
            .iter()
            .zip(totals.iter().zip(&discounts))
            .map(|(line, (&total, &discount))| PricedLine {
                sku: line.sku.clone(),
                is_renewal: line.is_renewal,
                rate: line.rate,
                rate_label: line.rate.label(),
                gift: line.gift.clone(),
                name: line.name.clone(),
                quantity: line.quantity,
                is_subscription: line.is_subscription,
                unit_price: line.unit_price,
                line_total: Money::new(total, currency),
                discount: Money::new(discount, currency),
            })
            .collect(),
        subtotal: Money::new(subtotal, currency),
        discount: Money::new(discount, currency),
        donation: Money::zero(currency),
        total: Money::new((subtotal - discount).max(0), currency),
    }
}

/// Each eligible line: total × percent, rounded half-up to the cent.
fn percent_discounts(totals: &[i64], eligible: &[bool], basis_points: i64) -> Vec<i64> {
    let rate = Decimal::new(basis_points.clamp(0, 10_000), 4);
    totals
        .iter()
        .zip(eligible)
        .map(|(&total, &eligible)| {
            if !eligible {
                return 0;
            }
            let exact = Decimal::from(total) * rate;
            exact.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero).to_i64().unwrap_or(0).min(total)
        })
        .collect()
}

/// The amount (capped at the eligible sum) spread in proportion by largest remainders.
fn fixed_discounts(totals: &[i64], eligible: &[bool], amount: i64) -> Vec<i64> {
    let eligible_sum: i64 = totals.iter().zip(eligible).filter(|(_, &e)| e).map(|(&t, _)| t).sum();
    let mut discounts = vec![0; totals.len()];
    if eligible_sum <= 0 {
        return discounts;
    }
    let amount = amount.clamp(0, eligible_sum);
    let mut remainders = Vec::new();
    for (i, (&total, &is_eligible)) in totals.iter().zip(eligible).enumerate() {
        if !is_eligible {
            continue;
        }
        let exact = Decimal::from(amount) * Decimal::from(total) / Decimal::from(eligible_sum);
        let floor = exact.floor();
        discounts[i] = floor.to_i64().unwrap_or(0);
        remainders.push((exact - floor, i));
    }
    let mut left = amount - discounts.iter().sum::<i64>();
    // Largest remainder first; the sort is stable, so ties go to the earlier line.
    remainders.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (_, i) in remainders {
        if left <= 0 {
            break;
        }
        discounts[i] += 1;
        left -= 1;
    }
    discounts
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::coupons::{AppliesTo, Percent};

    fn pct(bp: i64) -> Percent {
        Percent::from_basis_points(bp).expect("a percentage in range")
    }

    fn usd(amount: i64) -> Money {
        Money::new(amount, Currency::Usd)
    }

    fn line(sku: &str, cents: i64, quantity: i64, is_subscription: bool) -> PricingLine {
        PricingLine {
            sku: sku.into(),
            name: sku.into(),
            publication: sku.split('-').next().unwrap_or_default().into(),
            is_subscription,
            unit_price: usd(cents),
            quantity,
            is_renewal: false,
            rate: Rate::Standard,
            gift: None,
        }
    }

    fn coupon(value: CouponValue, applies_to: AppliesTo) -> Coupon {
        Coupon::example("C", value, applies_to)
    }

    fn half_off_subscriptions() -> Coupon {
        coupon(CouponValue::Percent(pct(5000)), AppliesTo::Subscriptions)
    }

    #[test]
    fn the_publishers_offer_halves_each_isr_plan() {
        for (cents, expected) in [(2900, 1450), (5800, 2900), (9800, 4900)] {
            let quote = price(&[line("isr-print-1y", cents, 1, true)], Some(&half_off_subscriptions()), Currency::Usd);
            assert_eq!(quote.total, usd(expected));
        }
    }

    #[test]
    fn a_single_issue_beside_a_plan_is_not_discounted() {
        let lines = [line("isr-print-4y", 9800, 1, true), line("sw-2017-01", 250, 2, false)];
        let quote = price(&lines, Some(&half_off_subscriptions()), Currency::Usd);
        assert_eq!(quote.lines[1].discount, usd(0));
        assert_eq!(quote.subtotal, usd(10300));
        assert_eq!(quote.discount, usd(4900));
        assert_eq!(quote.total, usd(5400));
    }

    #[test]
    fn percent_rounding_edges() {
        let one = |cents, bp| {
            price(
                &[line("a-1", cents, 1, true)],
                Some(&coupon(CouponValue::Percent(pct(bp)), AppliesTo::Everything)),
                Currency::Usd,
            )
            .discount
            .amount
        };
        assert_eq!(one(1, 5000), 1, "half a cent rounds up");
        assert_eq!(one(3, 5000), 2, "1.5 cents rounds up");
        assert_eq!(one(2999, 5000), 1500, "odd cents: 14.995 rounds up");
        assert_eq!(one(100, 3333), 33, "33.33% of $1.00 is 33.33 cents");
        assert_eq!(one(2900, 3333), 967, "33.33% of $29.00 is 966.57 cents");
        assert_eq!(one(9800, 10000), 9800, "100% takes everything");
        assert_eq!(one(1, 1), 0, "0.01% of a cent rounds to nothing");
    }

    #[test]
    fn a_full_discount_leaves_a_zero_total() {
        let lines = [line("a-1", 2900, 1, true), line("b-1", 101, 3, true)];
        let quote =
            price(&lines, Some(&coupon(CouponValue::Percent(pct(10000)), AppliesTo::Everything)), Currency::Usd);
        assert_eq!(quote.total, usd(0));
        assert_eq!(quote.discount, quote.subtotal);
    }

    #[test]
    fn a_fixed_discount_is_spread_in_proportion_and_capped() {
        let lines = [line("a-1", 100, 1, true), line("b-1", 100, 1, true), line("c-1", 100, 1, true)];
        let quote = price(&lines, Some(&coupon(CouponValue::Fixed(usd(100)), AppliesTo::Everything)), Currency::Usd);
        let shares: Vec<i64> = quote.lines.iter().map(|l| l.discount.amount).collect();
        assert_eq!(shares, vec![34, 33, 33], "the odd cent goes to the first line");
        let quote = price(&lines, Some(&coupon(CouponValue::Fixed(usd(5000)), AppliesTo::Everything)), Currency::Usd);
        assert_eq!(quote.discount, usd(300), "never more than the lines cost");
        assert_eq!(quote.total, usd(0));
        let mixed = [line("a-1", 1000, 1, true), line("s-2017-01", 250, 1, false)];
        let quote = price(&mixed, Some(&coupon(CouponValue::Fixed(usd(500)), AppliesTo::Subscriptions)), Currency::Usd);
        assert_eq!(quote.lines[1].discount, usd(0));
        assert_eq!(quote.total, usd(750));
    }

    fn arbitrary_lines() -> impl Strategy<Value = Vec<PricingLine>> {
        prop::collection::vec((1i64..=50_000, 1i64..=99, any::<bool>()), 1..8).prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (cents, quantity, sub))| line(&format!("p{i}-x"), cents, if sub { 1 } else { quantity }, sub))
                .collect()
        })
    }

    fn arbitrary_coupon() -> impl Strategy<Value = Coupon> {
        let value = prop_oneof![
            (1i64..=10_000).prop_map(|bp| CouponValue::Percent(pct(bp))),
            (1i64..=100_000).prop_map(|c| CouponValue::Fixed(Money::new(c, Currency::Usd))),
        ];
        let scope =
            prop_oneof![Just(AppliesTo::Everything), Just(AppliesTo::Subscriptions), Just(AppliesTo::SingleIssues),];
        (value, scope).prop_map(|(v, s)| coupon(v, s))
    }

    proptest! {
        #[test]
        fn totals_add_up_and_discounts_stay_in_bounds(lines in arbitrary_lines(), coupon in arbitrary_coupon()) {
            let quote = price(&lines, Some(&coupon), Currency::Usd);
            prop_assert_eq!(quote.total.amount, quote.subtotal.amount - quote.discount.amount);
            prop_assert!(quote.discount.amount >= 0);
            let eligible: i64 = quote.lines.iter().zip(&lines)
                .filter(|(_, l)| coupon.applies_to_line(l.facts()))
                .map(|(p, _)| p.line_total.amount)
                .sum();
            prop_assert!(quote.discount.amount <= eligible);
            for priced in &quote.lines {
                prop_assert!(priced.discount.amount >= 0 && priced.discount.amount <= priced.line_total.amount);
            }
            // Rounding drifts by at most half a cent per eligible line from the exact discount.
            let eligible_lines = quote.lines.iter().zip(&lines).filter(|(_, l)| coupon.applies_to_line(l.facts())).count();
            let exact = match &coupon.value {
                CouponValue::Percent(percent) => Decimal::from(eligible) * Decimal::new(percent.basis_points(), 4),
                CouponValue::Fixed(amount) => Decimal::from(amount.amount.min(eligible)),
            };
            let drift = (Decimal::from(quote.discount.amount) - exact).abs();
            prop_assert!(drift <= Decimal::new(5, 1) * Decimal::from(eligible_lines.max(1) as i64));
        }
    }
}
