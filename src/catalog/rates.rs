//! Rates beside a plan's standard price: a reduced rate on the honour system and a sustainer rate
//! (a suggested amount, anything from the minimum up). Prices always come from here, never from
//! what a client sends; a sustainer's amount is the reader's own choice, checked against the plan.

use serde::Serialize;

use super::Plan;
use crate::{
    error::{Error, FieldError, Result},
    money::{Currency, Money, MoneyError},
};

/// The wording of a reduced rate when staff give none.
pub const DEFAULT_REDUCED_WORDING: &str = "Low income, student or unwaged";
/// A sustainer may pay up to this many times the suggested amount (a typo's guard).
pub const SUSTAINER_CAP_TIMES: i64 = 20;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rate {
    #[default]
    Standard,
    Reduced,
    Sustainer,
}

impl Rate {
    pub fn parse(text: &str) -> Option<Rate> {
        match text {
            "standard" => Some(Rate::Standard),
            "reduced" => Some(Rate::Reduced),
            "sustainer" => Some(Rate::Sustainer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rate::Standard => "standard",
            Rate::Reduced => "reduced",
            Rate::Sustainer => "sustainer",
        }
    }

    /// How a line at this rate is marked ("reduced rate"); nothing for the standard rate.
    pub fn label(self) -> Option<&'static str> {
        match self {
            Rate::Standard => None,
            Rate::Reduced => Some("reduced rate"),
            Rate::Sustainer => Some("sustainer rate"),
        }
    }
}

crate::db::text_column!(Rate);

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReducedRate {
    pub price: Money,
    /// Who it is for, in the publisher's words.
    pub wording: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SustainerRate {
    pub minimum: Money,
    pub suggested: Money,
}

impl SustainerRate {
    pub fn maximum(&self) -> Money {
        Money::new(self.suggested.amount.saturating_mul(SUSTAINER_CAP_TIMES), self.suggested.currency)
    }
}

/// The rates a plan has beside its standard price.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PlanRates {
    pub reduced: Option<ReducedRate>,
    pub sustainer: Option<SustainerRate>,
}

impl PlanRates {
    /// From the plan's columns; a half-set or inconsistent rate (which the admin never saves) is left out.
    pub fn from_columns(
        currency: Currency,
        reduced_price: Option<i64>,
        reduced_wording: Option<String>,
        sustainer_minimum: Option<i64>,
        sustainer_suggested: Option<i64>,
    ) -> PlanRates {
        let money = |amount| Money::new(amount, currency);
        PlanRates {
            reduced: reduced_price.map(|price| ReducedRate {
                price: money(price),
                wording: reduced_wording
                    .filter(|w| !w.trim().is_empty())
                    .unwrap_or_else(|| DEFAULT_REDUCED_WORDING.to_string()),
            }),
            sustainer: match (sustainer_minimum, sustainer_suggested) {
                (Some(minimum), Some(suggested)) if suggested >= minimum => {
                    Some(SustainerRate { minimum: money(minimum), suggested: money(suggested) })
                }
                _ => None,
            },
        }
    }

    pub fn is_empty(&self) -> bool {
        self.reduced.is_none() && self.sustainer.is_none()
    }
}

/// A rate a reader chose for a plan, with the sustainer's amount: valid for that plan once built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateChoice {
    pub rate: Rate,
    /// The sustainer's amount; `None` for the other rates.
    pub amount: Option<Money>,
}

fn refused(field: &'static str, code: &'static str, message: impl Into<String>) -> Error {
    Error::Fields(vec![FieldError::with_code(field, code, message)])
}

impl RateChoice {
    pub const STANDARD: RateChoice = RateChoice { rate: Rate::Standard, amount: None };

    /// Reads a form's or the API's choice for `plan`: the rate's name (none: standard) and, for
    /// the sustainer rate, the amount typed (none: the suggested amount).
    pub fn parse(plan: &Plan, rate: Option<&str>, amount: Option<&str>) -> Result<RateChoice> {
        let rate = match rate.map(str::trim).filter(|r| !r.is_empty()) {
            None => Rate::Standard,
            Some(text) => Rate::parse(text)
                .ok_or_else(|| refused("rate", "unknown_rate", "Choose the standard, reduced or sustainer rate."))?,
        };
        match rate {
            Rate::Standard => Ok(RateChoice::STANDARD),
            Rate::Reduced if plan.rates.reduced.is_some() => Ok(RateChoice { rate, amount: None }),
            Rate::Sustainer => {
                let Some(sustainer) = &plan.rates.sustainer else { return Err(not_offered(plan, rate)) };
                let typed = amount.map(str::trim).filter(|a| !a.is_empty());
                let chosen = match typed {
                    None => sustainer.suggested,
                    Some(text) => {
                        let text = text.trim_start_matches(plan.price.currency.symbol()).trim();
                        Money::parse(text, plan.price.currency).map_err(|e| match e {
                            MoneyError::TooPrecise(_) => refused(
                                "amount",
                                "sustainer_amount_too_precise",
                                "Give the amount in dollars and cents, such as 75.50.",
                            ),
                            MoneyError::TooLarge(_) => too_much(sustainer),
                            _ => refused(
                                "amount",
                                "sustainer_amount_not_a_number",
                                "Enter the amount as a number, such as 75.",
                            ),
                        })?
                    }
                };
                if chosen.amount < sustainer.minimum.amount {
                    return Err(refused(
                        "amount",
                        "sustainer_amount_too_low",
                        format!("The sustainer rate is at least {}.", sustainer.minimum),
                    ));
                }
                if chosen.amount > sustainer.maximum().amount {
                    return Err(too_much(sustainer));
                }
                Ok(RateChoice { rate, amount: Some(chosen) })
            }
            Rate::Reduced => Err(not_offered(plan, rate)),
        }
    }
}

fn not_offered(plan: &Plan, rate: Rate) -> Error {
    refused(
        "rate",
        "rate_not_offered",
        format!("{} has no {}: choose another rate.", plan.name, rate.label().unwrap_or("such rate")),
    )
}

fn too_much(sustainer: &SustainerRate) -> Error {
    refused(
        "amount",
        "sustainer_amount_too_high",
        format!("We take up to {} at the sustainer rate here: for more, please contact us.", sustainer.maximum()),
    )
}

impl Plan {
    /// What one term costs at a rate, as the catalog says now; `None` when the plan no longer has
    /// that rate. A sustainer's amount below today's minimum is raised to it.
    pub fn price_at(&self, rate: Rate, amount: Option<i64>) -> Option<Money> {
        match rate {
            Rate::Standard => Some(self.price),
            Rate::Reduced => self.rates.reduced.as_ref().map(|r| r.price),
            Rate::Sustainer => self.rates.sustainer.as_ref().map(|s| {
                let chosen = amount.unwrap_or(s.suggested.amount).clamp(s.minimum.amount, s.maximum().amount);
                Money::new(chosen, self.price.currency)
            }),
        }
    }
}

/// A plan's rates as staff type them: amounts in major units, empty for "no such rate".
#[derive(Clone, Debug, Default, serde::Deserialize, Serialize)]
pub struct RatesInput {
    #[serde(default)]
    pub reduced_price: String,
    #[serde(default)]
    pub reduced_wording: String,
    #[serde(default)]
    pub sustainer_minimum: String,
    #[serde(default)]
    pub sustainer_suggested: String,
}

impl RatesInput {
    /// The form as a plan's rates fill it.
    pub fn of(plan: &Plan) -> RatesInput {
        let amount = |m: &Money| m.to_decimal().to_string();
        RatesInput {
            reduced_price: plan.rates.reduced.as_ref().map(|r| amount(&r.price)).unwrap_or_default(),
            reduced_wording: plan.rates.reduced.as_ref().map(|r| r.wording.clone()).unwrap_or_default(),
            sustainer_minimum: plan.rates.sustainer.as_ref().map(|r| amount(&r.minimum)).unwrap_or_default(),
            sustainer_suggested: plan.rates.sustainer.as_ref().map(|r| amount(&r.suggested)).unwrap_or_default(),
        }
    }

    /// The rates these fields give `plan`, or each mistake beside its field.
    pub fn check(&self, plan: &Plan) -> std::result::Result<PlanRates, Vec<FieldError>> {
        let currency = plan.price.currency;
        let mut problems = Vec::new();
        let mut amount = |field: &'static str, text: &str| -> Option<Money> {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            match Money::parse(text, currency) {
                Ok(m) if m.amount > 0 => Some(m),
                _ => {
                    problems.push(FieldError::new(field, "Type an amount such as 15 or 12.50, or leave it empty."));
                    None
                }
            }
        };
        let reduced = amount("reduced_price", &self.reduced_price);
        let minimum = amount("sustainer_minimum", &self.sustainer_minimum);
        let suggested = amount("sustainer_suggested", &self.sustainer_suggested);
        let wording = crate::address::clean(&self.reduced_wording);
        if wording.chars().count() > 200 {
            problems.push(FieldError::new("reduced_wording", "Keep who it is for under 200 characters."));
        }
        if reduced.is_some_and(|r| r.amount >= plan.price.amount) {
            problems.push(FieldError::new(
                "reduced_price",
                format!("A reduced rate costs less than the standard price ({}).", plan.price),
            ));
        }
        match (minimum, suggested) {
            (Some(min), _) if min.amount <= plan.price.amount => problems.push(FieldError::new(
                "sustainer_minimum",
                format!("A sustainer pays more than the standard price ({}).", plan.price),
            )),
            (Some(min), Some(sug)) if sug.amount < min.amount => {
                problems.push(FieldError::new("sustainer_suggested", "The suggested amount is at least the minimum."))
            }
            (Some(_), None) => problems.push(FieldError::new("sustainer_suggested", "Suggest an amount, such as 75.")),
            (None, Some(_)) => {
                problems.push(FieldError::new("sustainer_minimum", "Give the least a sustainer pays, such as 50."))
            }
            _ => {}
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(PlanRates {
            reduced: reduced.map(|price| ReducedRate {
                price,
                wording: if wording.is_empty() { DEFAULT_REDUCED_WORDING.to_string() } else { wording },
            }),
            sustainer: minimum.zip(suggested).map(|(minimum, suggested)| SustainerRate { minimum, suggested }),
        })
    }
}

/// Sets a plan's rates, with its audit entry in the same transaction. Lines already in carts are
/// priced at the new rates when next shown (and told when a rate they chose is gone).
pub async fn save_rates(
    db: &crate::db::Db,
    plan: &Plan,
    input: &RatesInput,
    actor: &crate::audit::Actor,
    now: i64,
) -> Result<PlanRates> {
    let rates = input.check(plan).map_err(Error::Fields)?;
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE plans SET reduced_price = $2, reduced_wording = $3, sustainer_minimum = $4, sustainer_suggested = $5 \
         WHERE sku = $1",
    )
    .bind(&plan.sku)
    .bind(rates.reduced.as_ref().map(|r| r.price.amount))
    .bind(rates.reduced.as_ref().map(|r| r.wording.clone()))
    .bind(rates.sustainer.as_ref().map(|s| s.minimum.amount))
    .bind(rates.sustainer.as_ref().map(|s| s.suggested.amount))
    .execute(&mut *tx)
    .await?;
    let change = crate::audit::Change {
        action: "plan.rates",
        entity: "plan",
        entity_id: &plan.sku,
        before: Some(serde_json::to_value(&plan.rates).map_err(anyhow::Error::from)?),
        after: Some(serde_json::to_value(&rates).map_err(anyhow::Error::from)?),
    };
    crate::audit::record(&mut tx, actor, change, now).await?;
    tx.commit().await?;
    Ok(rates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Edition;

    fn plan(rates: PlanRates) -> Plan {
        let price = Money::new(2500, Currency::Usd);
        Plan {
            sku: "sw-print-1y".into(),
            name: "Socialist Worker, print edition, 1 year".into(),
            publication: "sw".into(),
            frequency: crate::catalog::Frequency::Monthly,
            edition: Edition::Print,
            term_years: 1,
            price,
            price_per_year: price,
            rates,
        }
    }

    fn with_rates() -> Plan {
        plan(PlanRates::from_columns(Currency::Usd, Some(1500), None, Some(5000), Some(7500)))
    }

    fn code(plan: &Plan, rate: Option<&str>, amount: Option<&str>) -> std::result::Result<(Rate, Option<i64>), String> {
        RateChoice::parse(plan, rate, amount).map(|c| (c.rate, c.amount.map(|a| a.amount))).map_err(|e| {
            match e.fields() {
                Some([f]) => format!("{}:{}", f.field, f.code),
                _ => "other".into(),
            }
        })
    }

    #[test]
    fn a_choice_is_checked_against_the_plans_rates() {
        let plan = with_rates();
        assert_eq!(code(&plan, None, None), Ok((Rate::Standard, None)));
        assert_eq!(code(&plan, Some("reduced"), Some("1")), Ok((Rate::Reduced, None)), "a sent price is ignored");
        assert_eq!(code(&plan, Some("sustainer"), None), Ok((Rate::Sustainer, Some(7500))), "the suggested amount");
        assert_eq!(code(&plan, Some("sustainer"), Some("$60")), Ok((Rate::Sustainer, Some(6000))));
        assert_eq!(code(&plan, Some("sustainer"), Some("49.99")), Err("amount:sustainer_amount_too_low".into()));
        assert_eq!(code(&plan, Some("sustainer"), Some("60.005")), Err("amount:sustainer_amount_too_precise".into()));
        assert_eq!(code(&plan, Some("sustainer"), Some("1e9")), Err("amount:sustainer_amount_too_high".into()));
        assert_eq!(code(&plan, Some("sustainer"), Some("lots")), Err("amount:sustainer_amount_not_a_number".into()));
        assert_eq!(code(&plan, Some("student"), None), Err("rate:unknown_rate".into()));
        let plain = plan_without_rates();
        assert_eq!(code(&plain, Some("reduced"), None), Err("rate:rate_not_offered".into()));
        assert_eq!(code(&plain, Some("sustainer"), Some("100")), Err("rate:rate_not_offered".into()));
    }

    fn plan_without_rates() -> Plan {
        plan(PlanRates::default())
    }

    #[test]
    fn prices_follow_the_catalog_now() {
        let plan = with_rates();
        assert_eq!(plan.price_at(Rate::Standard, None).map(|m| m.amount), Some(2500));
        assert_eq!(plan.price_at(Rate::Reduced, Some(1)).map(|m| m.amount), Some(1500));
        assert_eq!(plan.price_at(Rate::Sustainer, Some(6000)).map(|m| m.amount), Some(6000));
        assert_eq!(plan.price_at(Rate::Sustainer, Some(100)).map(|m| m.amount), Some(5000), "raised to the minimum");
        assert_eq!(plan_without_rates().price_at(Rate::Reduced, None), None);
        let wording = PlanRates::from_columns(Currency::Usd, Some(1500), Some("  ".into()), Some(9000), Some(5000));
        assert_eq!(wording.reduced.map(|r| r.wording).as_deref(), Some(DEFAULT_REDUCED_WORDING));
        assert_eq!(wording.sustainer, None, "a suggested amount under the minimum is no rate");
    }
}
