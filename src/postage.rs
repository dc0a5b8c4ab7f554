//! Postage for print copies: zones of countries, each with an amount per copy mailed; what an
//! order's print copies cost to send to a country; and staff's editing of the zones (audited).
//!
//! Postage is charged per copy the reader will receive: a print plan's issues (issues a year
//! times years), a single print copy's quantity. Digital items carry none. Coupons never
//! discount postage (the README says so).

use serde::Serialize;

use crate::{
    audit::{self, Actor},
    catalog::{Edition, Product},
    db::Db,
    error::{Error, FieldError, Result},
    money::{Currency, Money},
};

#[derive(Clone, Debug, Serialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub per_copy: Money,
    /// Takes every country no other zone lists.
    pub every_other_country: bool,
    /// Two-letter codes, sorted.
    pub countries: Vec<String>,
    /// "Canada, Mexico" (or "every other country").
    pub described_countries: String,
}

impl Zone {
    /// The zone as its audit entries record it.
    fn audit_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name, "per_copy": self.per_copy.amount, "countries": self.countries,
            "every_other_country": self.every_other_country,
        })
    }
}

/// What an order pays to have its print copies mailed to one country.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Postage {
    pub zone: String,
    pub country: String,
    pub copies: i64,
    pub per_copy: Money,
    pub amount: Money,
}

/// The country's name in English ("CA" is Canada); the code itself when unknown.
pub fn country_name(code: &str) -> String {
    isocountry::CountryCode::for_alpha2(code).map(|c| c.name().to_string()).unwrap_or_else(|_| code.to_string())
}

/// True for an ISO 3166 two-letter country code ("CA"; not "ZZ").
pub fn is_country_code(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) && isocountry::CountryCode::for_alpha2(code).is_ok()
}

/// A country an address may be in, as a list offers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CountryChoice {
    pub code: &'static str,
    pub name: &'static str,
}

/// The countries print copies can be mailed to (every ISO 3166 country when a zone takes every
/// other country), by name, with the shop's own country first.
pub async fn country_choices(db: &Db, home: &str) -> Result<Vec<CountryChoice>> {
    let (everywhere,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM postage_zones WHERE every_other_country = 1").fetch_one(&db.pool).await?;
    let listed: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT country FROM postage_zone_countries").fetch_all(&db.pool).await?;
    let reachable = |code: &str| everywhere > 0 || listed.iter().any(|(c,)| c == code);
    Ok(sorted_choices(home, reachable))
}

/// Every ISO 3166 country, by name, the shop's own first (for addresses that are not mailed to,
/// such as a branch's).
pub fn all_country_choices(home: &str) -> Vec<CountryChoice> {
    sorted_choices(home, |_| true)
}

fn sorted_choices(home: &str, keep: impl Fn(&str) -> bool) -> Vec<CountryChoice> {
    let mut choices: Vec<CountryChoice> = isocountry::CountryCode::iter()
        .filter(|c| keep(c.alpha2()))
        .map(|c| CountryChoice { code: c.alpha2(), name: c.name() })
        .collect();
    choices.sort_by_key(|c| (c.code != home, c.name));
    choices
}

/// The zones in their order, with their countries.
pub async fn zones(db: &Db, currency: Currency) -> Result<Vec<Zone>> {
    // The zone taking every other country reads last. One statement: a row per zone and country.
    let rows: Vec<(String, String, i64, i64, Option<String>)> = db
        .read_rows(
            "SELECT z.id, z.name, z.per_copy, z.every_other_country, c.country \
             FROM postage_zones z LEFT JOIN postage_zone_countries c ON c.zone_id = z.id \
             ORDER BY z.every_other_country, z.position, z.name, z.id, c.country",
            &[],
        )
        .await?;
    let zones = crate::db::with_children(rows, |(id, name, per_copy, every_other, country)| {
        (id.clone(), (id, name, per_copy, every_other), country)
    });
    Ok(zones
        .into_iter()
        .map(|((id, name, per_copy, every_other), countries)| {
            let mut described: Vec<String> = countries.iter().map(|c| country_name(c)).collect();
            described.sort();
            if every_other != 0 {
                described.push("every other country".into());
            }
            Zone {
                id,
                name,
                per_copy: Money::new(per_copy, currency),
                every_other_country: every_other != 0,
                described_countries: described.join(", "),
                countries,
            }
        })
        .collect())
}

/// The zone print copies to `country` are mailed under: the one listing it, else the one taking
/// every other country; none when print cannot be sent there.
pub async fn zone_for(db: &Db, country: &str, currency: Currency) -> Result<Option<Zone>> {
    let zones = zones(db, currency).await?;
    let listed = zones.iter().find(|z| z.countries.iter().any(|c| c == country));
    Ok(listed.or_else(|| zones.iter().find(|z| z.every_other_country)).cloned())
}

/// True when some zone takes print copies to `country`.
pub async fn mails_to(db: &Db, country: &str) -> Result<bool> {
    let (zones,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM postage_zones WHERE every_other_country = 1 \
         OR id IN (SELECT zone_id FROM postage_zone_countries WHERE country = $1)",
    )
    .bind(country)
    .fetch_one(&db.pool)
    .await?;
    Ok(zones > 0)
}

/// Copies of `quantity` of a product the reader will receive by post.
pub fn copies_mailed(product: &Product, quantity: i64, issues_per_year: i64) -> i64 {
    match product {
        _ if product.edition() != Edition::Print => 0,
        Product::Plan(plan) => plan.term_years.saturating_mul(issues_per_year).saturating_mul(quantity),
        Product::Issue(_) => quantity,
    }
}

/// Copies these lines will have mailed, in all.
pub fn copies_in(lines: &[(&Product, i64)]) -> i64 {
    lines.iter().fold(0i64, |copies, (product, quantity)| {
        let issues_per_year = match product {
            Product::Plan(plan) => plan.frequency.issues_per_year(),
            Product::Issue(_) => 0,
        };
        copies.saturating_add(copies_mailed(product, *quantity, issues_per_year))
    })
}

/// What a cart's print copies would cost to mail to each zone, shown before the reader has typed
/// a country (the cart, the checkout page).
#[derive(Clone, Debug, Serialize)]
pub struct Estimate {
    pub copies: i64,
    /// Zone, its countries, per copy, and these copies' postage.
    pub zones: Vec<(String, String, Money, Money)>,
    /// A zone takes every country no other zone lists.
    pub reaches_everywhere: bool,
}

/// `None` when nothing in the lines is mailed.
pub async fn estimate(db: &Db, lines: &[(&Product, i64)], currency: Currency) -> Result<Option<Estimate>> {
    let copies = copies_in(lines);
    if copies == 0 {
        return Ok(None);
    }
    let zones = zones(db, currency).await?;
    let reaches_everywhere = zones.iter().any(|z| z.every_other_country);
    let zones = zones
        .into_iter()
        .map(|z| {
            let amount = Money::new(z.per_copy.amount.saturating_mul(copies), currency);
            (z.name, z.described_countries, z.per_copy, amount)
        })
        .collect();
    Ok(Some(Estimate { copies, zones, reaches_everywhere }))
}

/// The postage of these lines to `country`: none when nothing is mailed; a field error on the
/// country when no zone covers it.
pub async fn postage_for(
    db: &Db,
    lines: &[(&Product, i64)],
    country: &str,
    currency: Currency,
) -> Result<Option<Postage>> {
    let copies = copies_in(lines);
    if copies == 0 {
        return Ok(None);
    }
    let Some(zone) = zone_for(db, country, currency).await? else {
        return Err(Error::Fields(vec![FieldError::with_code(
            "country",
            "no_postage_zone",
            format!(
                "We can't mail print copies to {}. Choose the digital edition, or send them to an address in a country we mail to.",
                country_name(country)
            ),
        )]));
    };
    Ok(Some(Postage {
        zone: zone.name,
        country: country.to_string(),
        copies,
        per_copy: zone.per_copy,
        amount: Money::new(zone.per_copy.amount.saturating_mul(copies), currency),
    }))
}

impl Postage {
    /// "Postage to Canada: 24 copies at $1.50".
    pub fn label(&self) -> String {
        describe(&self.country, self.copies, self.per_copy)
    }
}

/// How a postage line reads on receipts, emails and Stripe.
pub fn describe(country: &str, copies: i64, per_copy: Money) -> String {
    let copies_text = if copies == 1 { "1 copy".to_string() } else { format!("{copies} copies") };
    if per_copy.amount == 0 {
        format!("Postage to {}: {copies_text}, included", country_name(country))
    } else {
        format!("Postage to {}: {copies_text} at {per_copy}", country_name(country))
    }
}

/// A zone as staff typed it, unchecked.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ZoneInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub per_copy: String,
    /// Two-letter codes separated by commas or spaces.
    #[serde(default)]
    pub countries: String,
    #[serde(default)]
    pub every_other_country: Option<String>,
}

struct CheckedZone {
    name: String,
    per_copy: i64,
    countries: Vec<String>,
    every_other_country: bool,
}

/// $100 a copy (in cents): anything more is a typing mistake.
const MAX_PER_COPY: i64 = 10_000;

fn check(input: &ZoneInput, currency: Currency) -> std::result::Result<CheckedZone, Vec<FieldError>> {
    let mut problems = Vec::new();
    let name = input.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > 60 {
        problems.push(FieldError::new("name", "Name the zone (up to 60 characters), such as Canada and Mexico."));
    }
    let per_copy = match Money::parse(&input.per_copy, currency) {
        Ok(money) if (0..=MAX_PER_COPY).contains(&money.amount) => money.amount,
        Ok(_) => {
            problems.push(FieldError::new(
                "per_copy",
                format!("Postage per copy is from 0 to {}.", Money::new(MAX_PER_COPY, currency)),
            ));
            0
        }
        Err(_) => {
            problems.push(FieldError::new(
                "per_copy",
                "Enter the postage per copy as an amount, such as 1.50 (0 for none).",
            ));
            0
        }
    };
    let mut countries = Vec::new();
    let mut unknown = Vec::new();
    for typed in input.countries.split(|c: char| c == ',' || c.is_whitespace()).filter(|t| !t.is_empty()) {
        let code = typed.to_ascii_uppercase();
        if is_country_code(&code) {
            countries.push(code);
        } else {
            unknown.push(typed.to_string());
        }
    }
    countries.sort();
    countries.dedup();
    if !unknown.is_empty() {
        problems.push(FieldError::new(
            "countries",
            format!("Not two-letter country codes: {}. Use codes such as US, CA, MX, GB, DE.", unknown.join(", ")),
        ));
    }
    let every_other_country = input.every_other_country.is_some();
    if countries.is_empty() && !every_other_country && unknown.is_empty() {
        problems.push(FieldError::new("countries", "List the zone's countries, or tick \"every other country\"."));
    }
    if problems.is_empty() {
        Ok(CheckedZone { name, per_copy, countries, every_other_country })
    } else {
        Err(problems)
    }
}

/// Creates a zone (`id` none) or replaces one's name, price and countries, with its audit entry.
/// A country already in another zone, a second "every other country" zone or a name taken are
/// refused with the field named; the database's keys decide when two staff save at once.
pub async fn save_zone(
    db: &Db,
    id: Option<&str>,
    input: &ZoneInput,
    currency: Currency,
    actor: &Actor,
    now: i64,
) -> Result<String> {
    let zone = check(input, currency).map_err(Error::Fields)?;
    let existing = zones(db, currency).await?;
    let before = match id {
        Some(id) => Some(
            existing
                .iter()
                .find(|z| z.id == id)
                .cloned()
                .ok_or_else(|| Error::not_found("unknown_zone", "There is no such postage zone."))?,
        ),
        None => None,
    };
    let others = || existing.iter().filter(|z| Some(z.id.as_str()) != id);
    let mut problems = Vec::new();
    let taken: Vec<String> = zone
        .countries
        .iter()
        .filter_map(|c| others().find(|z| z.countries.contains(c)).map(|z| format!("{c} ({})", z.name)))
        .collect();
    if !taken.is_empty() {
        problems.push(FieldError::new(
            "countries",
            format!("Already in another zone: {}. Take them out of that zone first.", taken.join(", ")),
        ));
    }
    if zone.every_other_country {
        if let Some(other) = others().find(|z| z.every_other_country) {
            problems.push(FieldError::new(
                "every_other_country",
                format!("{} already takes every other country.", other.name),
            ));
        }
    }
    if others().any(|z| z.name.eq_ignore_ascii_case(&zone.name)) {
        problems.push(FieldError::new("name", "Another zone has this name."));
    }
    if !problems.is_empty() {
        return Err(Error::Fields(problems));
    }
    let zone_id = match id {
        Some(id) => id.to_string(),
        None => slug_for(&zone.name, &existing),
    };
    let mut tx = db.begin_write().await?;
    let sql = match id {
        Some(_) => {
            "UPDATE postage_zones SET name = $2, per_copy = $3, every_other_country = $4, updated_at = $5 WHERE id = $1"
        }
        None => {
            "INSERT INTO postage_zones (id, name, per_copy, every_other_country, position, updated_at) \
             VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(position), 0) + 1 FROM postage_zones), $5)"
        }
    };
    let written = sqlx::query(sql)
        .bind(&zone_id)
        .bind(&zone.name)
        .bind(zone.per_copy)
        .bind(i64::from(zone.every_other_country))
        .bind(now)
        .execute(&mut *tx)
        .await;
    refuse_clash(written, "name", "Another zone has this name, or already takes every other country.")?;
    sqlx::query("DELETE FROM postage_zone_countries WHERE zone_id = $1").bind(&zone_id).execute(&mut *tx).await?;
    for country in &zone.countries {
        let inserted = sqlx::query("INSERT INTO postage_zone_countries (country, zone_id) VALUES ($1, $2)")
            .bind(country)
            .bind(&zone_id)
            .execute(&mut *tx)
            .await;
        refuse_clash(
            inserted,
            "countries",
            &format!("{country} was just put in another zone. Check the zones again."),
        )?;
    }
    let after = serde_json::json!({
        "name": zone.name, "per_copy": zone.per_copy, "countries": zone.countries,
        "every_other_country": zone.every_other_country,
    });
    let change = audit::Change {
        action: if before.is_some() { "postage_zone.update" } else { "postage_zone.create" },
        entity: "postage_zone",
        entity_id: &zone_id,
        before: before.as_ref().map(Zone::audit_json),
        after: Some(after),
    };
    audit::record(&mut tx, actor, change, now).await?;
    tx.commit().await?;
    Ok(zone_id)
}

/// A unique key violated by a save two staff made at once: the field named, nothing written.
fn refuse_clash(result: sqlx::Result<sqlx::any::AnyQueryResult>, field: &'static str, message: &str) -> Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(Error::Fields(vec![FieldError::new(field, message.to_string())]))
        }
        Err(e) => Err(e.into()),
    }
}

fn slug_for(name: &str, existing: &[Zone]) -> String {
    let base: String = name
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let base = if base.is_empty() { "zone".to_string() } else { base.chars().take(40).collect() };
    let mut candidate = base.clone();
    let mut n = 2;
    while existing.iter().any(|z| z.id == candidate) {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    candidate
}

/// Deletes a zone: its countries can no longer be sent print until another zone takes them.
/// Orders placed before keep their postage (it is copied onto each order).
pub async fn delete_zone(db: &Db, id: &str, currency: Currency, actor: &Actor, now: i64) -> Result<()> {
    let before = zones(db, currency)
        .await?
        .into_iter()
        .find(|z| z.id == id)
        .ok_or_else(|| Error::not_found("unknown_zone", "There is no such postage zone."))?;
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM postage_zone_countries WHERE zone_id = $1").bind(id).execute(&mut *tx).await?;
    let deleted = sqlx::query("DELETE FROM postage_zones WHERE id = $1").bind(id).execute(&mut *tx).await?;
    if deleted.rows_affected() == 0 {
        return Err(Error::not_found("unknown_zone", "There is no such postage zone."));
    }
    let change = audit::Change {
        action: "postage_zone.delete",
        entity: "postage_zone",
        entity_id: id,
        before: Some(before.audit_json()),
        after: None,
    };
    audit::record(&mut tx, actor, change, now).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_home_country_comes_first_then_the_rest_by_name() {
        let choices = all_country_choices("CA");
        assert_eq!(choices[0].code, "CA");
        assert_eq!(choices.len(), isocountry::CountryCode::num_country_codes());
        let rest: Vec<&str> = choices[1..].iter().map(|c| c.name).collect();
        let mut sorted = rest.clone();
        sorted.sort();
        assert_eq!(rest, sorted);
        assert!(choices.iter().filter(|c| c.code == "CA").count() == 1);
    }

    #[test]
    fn country_codes_are_checked_against_iso_3166() {
        assert!(is_country_code("CA"));
        assert!(is_country_code("DE"));
        assert!(!is_country_code("ZZ"));
        assert!(!is_country_code("ca"));
        assert_eq!(country_name("DE"), "Germany");
    }

    #[test]
    fn a_zone_form_names_each_bad_field() {
        let input = ZoneInput {
            name: " ".into(),
            per_copy: "-1".into(),
            countries: "CA, zz, Mexico".into(),
            every_other_country: None,
        };
        let problems = check(&input, Currency::Usd).err().expect("refused");
        let fields: Vec<_> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["name", "per_copy", "countries"]);
        assert!(problems[2].message.contains("zz, Mexico"), "{}", problems[2].message);
    }

    #[test]
    fn postage_reads_as_copies_at_a_price() {
        assert_eq!(describe("CA", 24, Money::new(150, Currency::Usd)), "Postage to Canada: 24 copies at $1.50");
        assert_eq!(
            describe("US", 1, Money::new(0, Currency::Usd)),
            "Postage to United States of America: 1 copy, included"
        );
    }
}
