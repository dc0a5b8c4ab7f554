//! A print subscription's mailing address over time. A reader's change applies from the next
//! issue whose mailing list is still open; every issue before it keeps the address it was (or is
//! being) mailed to, so a closed list never changes and the history stays readable.

use serde::Serialize;
use sqlx::FromRow;

use super::mailing_list;
use crate::{
    address::{Address, AddressInput},
    db::Db,
    error::{Error, Result},
};

/// An address and the first issue it applies to.
#[derive(Clone, Debug, Serialize)]
pub struct AddressFrom {
    pub from_period: i64,
    pub address: Address,
}

#[derive(FromRow)]
struct AddressRow {
    from_period: i64,
    line1: Option<String>,
    line2: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
}

impl AddressRow {
    fn into_address_from(self) -> Option<AddressFrom> {
        let address = Address::from_columns(
            self.line1.as_deref(),
            self.line2.as_deref(),
            self.city.as_deref(),
            self.region.as_deref(),
            self.postal_code.as_deref(),
            self.country.as_deref(),
        )?;
        Some(AddressFrom { from_period: self.from_period, address })
    }
}

/// A subscription's addresses, oldest first: the one given at checkout (from its first issue),
/// then each change.
pub async fn history(db: &Db, subscription_id: &str) -> Result<Vec<AddressFrom>> {
    let rows: Vec<AddressRow> = sqlx::query_as(
        "SELECT first_period AS from_period, ship_line1 AS line1, ship_line2 AS line2, ship_city AS city, \
         ship_region AS region, ship_postal_code AS postal_code, ship_country AS country, 0 AS precedence \
         FROM subscriptions WHERE id = $1 \
         UNION ALL \
         SELECT from_period, line1, line2, city, region, postal_code, country, 1 AS precedence FROM subscription_addresses \
         WHERE subscription_id = $1 ORDER BY from_period, precedence",
    )
    .bind(subscription_id)
    .fetch_all(&db.pool)
    .await?;
    let mut history: Vec<AddressFrom> = rows.into_iter().filter_map(AddressRow::into_address_from).collect();
    // A change made before the term began replaces the checkout's address: it never applied.
    history.dedup_by(|later, earlier| {
        let replaced = later.from_period == earlier.from_period;
        if replaced {
            std::mem::swap(later, earlier);
        }
        replaced
    });
    Ok(history)
}

/// Changes the mailing address of one of the reader's print subscriptions from the next open
/// issue on, and says which issue that is. Anyone else's subscription is "not found"; a digital
/// one, or one with no issue left to mail, is refused; nothing changes then.
pub async fn change_address(
    db: &Db,
    email_normalized: &str,
    subscription_id: &str,
    input: &AddressInput,
    now: i64,
) -> Result<i64> {
    let not_found = || Error::not_found("subscription_not_found", "There is no such subscription in your account.");
    let found: Option<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT publication, edition, status, first_period, last_period FROM subscriptions \
         WHERE id = $1 AND email_normalized = $2",
    )
    .bind(subscription_id)
    .bind(email_normalized)
    .fetch_optional(&db.pool)
    .await?;
    let (publication, edition, status, first_period, last_period) = found.ok_or_else(not_found)?;
    if edition != "print" {
        return Err(Error::Invalid {
            code: "digital_has_no_address",
            message: "A digital subscription is not mailed, so it has no mailing address to change.".into(),
        });
    }
    let address = Address::parse(input).map_err(Error::Fields)?;
    if !crate::postage::mails_to(db, &address.country).await? {
        return Err(Error::Fields(vec![crate::error::FieldError::with_code(
            "country",
            "no_postage_zone",
            format!(
                "We can't mail print copies to {}. Write to us if you are moving there: we can change your subscription to the digital edition.",
                crate::postage::country_name(&address.country)
            ),
        )]));
    }
    let schedule = mailing_list::schedule(db, &publication).await?;
    let mut tx = db.begin_write().await?;
    // No mailing list of this publication can be closed between reading which is next and writing.
    mailing_list::hold_lists_open(&mut tx, db.backend, &publication).await?;
    let from = mailing_list::next_open_issue(&mut tx, &schedule, &publication, now).await?.max(first_period);
    if status != "active" || from > last_period {
        return Err(Error::Invalid {
            code: "no_issues_left_to_mail",
            message: "This subscription has no issue left to mail, so its address cannot change any more.".into(),
        });
    }
    sqlx::query(
        "INSERT INTO subscription_addresses (subscription_id, from_period, line1, line2, city, region, postal_code, \
         country, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (subscription_id, from_period) DO UPDATE SET line1 = excluded.line1, line2 = excluded.line2, \
         city = excluded.city, region = excluded.region, postal_code = excluded.postal_code, \
         country = excluded.country, changed_at = excluded.changed_at",
    )
    .bind(subscription_id)
    .bind(from)
    .bind(&address.line1)
    .bind(&address.line2)
    .bind(&address.city)
    .bind(&address.region)
    .bind(&address.postal_code)
    .bind(&address.country)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(from)
}
