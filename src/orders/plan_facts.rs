//! What a buyer should know about a plan before paying: how many issues it brings, what each
//! costs, which issue it would start with (by the rule that settles the order, so the page and
//! the order agree), and what it saves a year against the edition's shortest term.

use std::collections::HashMap;

use serde::Serialize;

use super::{mailing_list, terms};
use crate::{
    catalog::{Edition, Plan},
    db::Db,
    error::Result,
    money::Money,
};

#[derive(Clone, Debug, Serialize)]
pub struct PlanFacts {
    pub issues: i64,
    pub per_issue: Money,
    /// The first and last issue of the term if paid now: "March 2017".
    pub first_issue: String,
    pub last_issue: String,
    /// What a year costs less than on the edition's shortest term; `None` when it costs no less.
    pub saves_per_year: Option<Money>,
}

/// The issue a new subscription to this edition would start with if paid at `now` (and how often
/// the publication comes out): the rule of
/// `terms::first_issue`, after the newest issue published and, for print, the newest closed
/// mailing list (as settlement does).
pub async fn first_issue_if_paid_now(
    db: &Db,
    publication: &str,
    edition: Edition,
    now: i64,
) -> Result<(i64, crate::catalog::Frequency)> {
    let schedule = mailing_list::schedule(db, publication).await?;
    let mut latest = schedule.latest_published;
    if edition == Edition::Print {
        let mut conn = db.pool.acquire().await?;
        latest = latest.max(mailing_list::latest_closed(&mut conn, publication).await?);
    }
    Ok((terms::first_issue(schedule.frequency, latest, terms::period_at(now), None), schedule.frequency))
}

/// The facts of each plan, by SKU.
pub async fn plan_facts(db: &Db, plans: &[&Plan], now: i64) -> Result<HashMap<String, PlanFacts>> {
    let mut facts = HashMap::new();
    let mut starts: HashMap<(String, Edition), (i64, crate::catalog::Frequency)> = HashMap::new();
    for plan in plans {
        let key = (plan.publication.clone(), plan.edition);
        let (first, frequency) = match starts.get(&key) {
            Some(known) => *known,
            None => {
                *starts.entry(key).or_insert(first_issue_if_paid_now(db, &plan.publication, plan.edition, now).await?)
            }
        };
        let shortest = plans
            .iter()
            .filter(|p| p.publication == plan.publication && p.edition == plan.edition)
            .min_by_key(|p| p.term_years)
            .map_or(plan.price_per_year, |p| p.price_per_year);
        let saving = shortest.amount - plan.price_per_year.amount;
        let issues = frequency.issues_per_year() * plan.term_years;
        facts.insert(
            plan.sku.clone(),
            PlanFacts {
                issues,
                per_issue: plan.price.share_of(issues),
                first_issue: terms::describe(first),
                last_issue: terms::describe(terms::last_issue(frequency, first, plan.term_years)),
                saves_per_year: (saving > 0).then(|| Money::new(saving, plan.price.currency)),
            },
        );
    }
    Ok(facts)
}
