//! An issue's print run: how many copies to print and where they go, from its mailing list
//! (fixed once closed): subscribers by postage zone and country, complimentary copies, single
//! copies sold, branch bundles, and the total.

use std::collections::HashSet;

use serde::Serialize;

use super::mailing_list::{self, MailingList};
use crate::{catalog, db::Db, error::Result, money::Currency, postage};

#[derive(Clone, Debug, Serialize)]
pub struct ZoneCount {
    pub zone: String,
    /// Country name and copies, most copies first.
    pub countries: Vec<(String, i64)>,
    pub copies: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct PrintRun {
    pub subscribers: Vec<ZoneCount>,
    pub subscriber_copies: i64,
    /// Subscriptions given free by staff (a review copy, a prisoner's subscription).
    pub complimentary: i64,
    pub single_copies: i64,
    /// Bundles for the branches (their standing orders, or the draw recorded for this issue).
    pub branch_bundles: i64,
    /// Single copies sold after the list was closed, to send from stock.
    pub sold_since_closing: i64,
    pub total: i64,
    pub list: MailingList,
    /// Months between issues.
    pub step: i64,
}

pub async fn print_run(db: &Db, publication: &str, year: i64, month: i64, currency: Currency) -> Result<PrintRun> {
    let list = mailing_list::mailing_list(db, publication, year, month).await?;
    let step = catalog::find_publication(db, publication).await?.map_or(1, |p| 12 / p.frequency.issues_per_year());
    let zones = postage::zones(db, currency).await?;
    let free: HashSet<String> = sqlx::query_as::<_, (String,)>(
        "SELECT id FROM orders WHERE source = 'staff' AND total = 0 AND status = 'paid'",
    )
    .fetch_all(&db.pool)
    .await?
    .into_iter()
    .map(|(id,)| id)
    .collect();
    let mut subscribers: Vec<ZoneCount> = Vec::new();
    let (mut complimentary, mut single_copies) = (0, 0);
    for entry in &list.entries {
        if entry.subscription_id.is_none() {
            single_copies += entry.copies;
            continue;
        }
        if free.contains(&entry.order_id) {
            complimentary += entry.copies;
            continue;
        }
        let country = entry.country.clone().unwrap_or_default();
        let zone = zones
            .iter()
            .find(|z| z.countries.contains(&country))
            .or_else(|| zones.iter().find(|z| z.every_other_country))
            .map_or_else(|| "No zone".to_string(), |z| z.name.clone());
        let name = postage::country_name(&country);
        let index = match subscribers.iter().position(|z| z.zone == zone) {
            Some(index) => index,
            None => {
                subscribers.push(ZoneCount { zone, countries: Vec::new(), copies: 0 });
                subscribers.len() - 1
            }
        };
        let counted = &mut subscribers[index];
        counted.copies += entry.copies;
        match counted.countries.iter_mut().find(|(c, _)| *c == name) {
            Some((_, n)) => *n += entry.copies,
            None => counted.countries.push((name, entry.copies)),
        }
    }
    for zone in &mut subscribers {
        zone.countries.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    }
    subscribers.sort_by(|a, b| b.copies.cmp(&a.copies).then(a.zone.cmp(&b.zone)));
    let subscriber_copies = subscribers.iter().map(|z| z.copies).sum::<i64>();
    let sold_since_closing = list.sold_since_closing.iter().map(|e| e.copies).sum();
    let branch_bundles =
        crate::branches::bundle_copies(db, publication, crate::orders::terms::period(year, month)).await?;
    Ok(PrintRun {
        total: subscriber_copies + complimentary + single_copies + sold_since_closing + branch_bundles,
        branch_bundles,
        subscribers,
        subscriber_copies,
        complimentary,
        single_copies,
        sold_since_closing,
        list,
        step,
    })
}
