//! The demo catalog in `fixtures/catalog.json`: the publisher's two publications,
//! their plans, and an archive of issues. Loading it twice changes nothing.

use anyhow::{anyhow, bail, Context};
use serde::Deserialize;

use super::{issue_sku, plan_sku, Edition};
use crate::{
    db::Db,
    money::{Currency, Money},
};

const CATALOG_JSON: &str = include_str!("../../fixtures/catalog.json");

#[derive(Deserialize)]
struct CatalogFixture {
    publications: Vec<PublicationFixture>,
    issues: Vec<IssueFixture>,
}

#[derive(Deserialize)]
struct PublicationFixture {
    slug: String,
    name: String,
    kind: String,
    frequency: String,
    tagline: String,
    description: String,
    editions: Vec<String>,
    single_issue_price: String,
    plans: Vec<PlanFixture>,
}

#[derive(Deserialize)]
struct PlanFixture {
    edition: String,
    term_years: i64,
    price: String,
    /// The demo's rates beside the standard price: `[price, wording]` and `[minimum, suggested]`.
    #[serde(default)]
    reduced: Option<(String, String)>,
    #[serde(default)]
    sustainer: Option<(String, String)>,
}

#[derive(Deserialize)]
struct IssueFixture {
    publication: String,
    year: i64,
    month: i64,
    title: String,
    summary: String,
    sample: bool,
    articles: Vec<ArticleFixture>,
}

#[derive(Deserialize)]
struct ArticleFixture {
    section: Option<String>,
    title: String,
    author: String,
}

/// Loads the demo catalog in one transaction; rows that already exist are left as they are.
/// Returns how many issues were added.
pub async fn seed_demo_catalog(db: &Db, currency: Currency) -> anyhow::Result<u64> {
    let catalog: CatalogFixture = serde_json::from_str(CATALOG_JSON).context("fixtures/catalog.json")?;
    // The fixture's amounts are read in the shop's own currency: a demo shop in euros sells for €29.
    let mut tx = db.begin_write().await?;
    let mut single_prices = Vec::new();

    for (position, p) in catalog.publications.iter().enumerate() {
        sqlx::query(
            "INSERT INTO publications (slug, name, kind, frequency, tagline, description, position) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (slug) DO NOTHING",
        )
        .bind(&p.slug)
        .bind(&p.name)
        .bind(&p.kind)
        .bind(&p.frequency)
        .bind(&p.tagline)
        .bind(&p.description)
        .bind(position as i64)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("publication {}", p.slug))?;
        for edition in &p.editions {
            sqlx::query(
                "INSERT INTO publication_editions (publication, edition) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&p.slug)
            .bind(edition)
            .execute(&mut *tx)
            .await?;
        }
        for plan in &p.plans {
            let edition = Edition::parse(&plan.edition).ok_or_else(|| anyhow!("edition {:?}", plan.edition))?;
            let price = Money::parse(&plan.price, currency)?;
            let amount = |text: Option<&String>| text.map(|t| Money::parse(t, currency).map(|m| m.amount)).transpose();
            let reduced = amount(plan.reduced.as_ref().map(|r| &r.0))?;
            let (minimum, suggested) =
                (amount(plan.sustainer.as_ref().map(|s| &s.0))?, amount(plan.sustainer.as_ref().map(|s| &s.1))?);
            sqlx::query(
                "INSERT INTO plans (sku, publication, edition, term_years, price_amount, currency, reduced_price, \
                 reduced_wording, sustainer_minimum, sustainer_suggested) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (sku) DO NOTHING",
            )
            .bind(plan_sku(&p.slug, edition, plan.term_years))
            .bind(&p.slug)
            .bind(edition.as_str())
            .bind(plan.term_years)
            .bind(price.amount)
            .bind(currency.code())
            .bind(reduced)
            .bind(plan.reduced.as_ref().map(|r| r.1.clone()))
            .bind(minimum)
            .bind(suggested)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("plan {} {} {}y", p.slug, plan.edition, plan.term_years))?;
        }
        single_prices.push((p.slug.as_str(), Money::parse(&p.single_issue_price, currency)?));
    }

    let mut added = 0;
    for issue in &catalog.issues {
        let Some((_, price)) = single_prices.iter().find(|(slug, _)| *slug == issue.publication) else {
            bail!("issue of unknown publication {}", issue.publication);
        };
        let sku = issue_sku(&issue.publication, issue.year, issue.month);
        let inserted = sqlx::query(
            "INSERT INTO issues (sku, publication, year, month, title, summary, price_amount, currency, \
             published, published_at, is_sample) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10) ON CONFLICT (sku) DO NOTHING",
        )
        .bind(&sku)
        .bind(&issue.publication)
        .bind(issue.year)
        .bind(issue.month)
        .bind(&issue.title)
        .bind(&issue.summary)
        .bind(price.amount)
        .bind(currency.code())
        .bind(publication_time(issue.year, issue.month)?)
        .bind(issue.sample as i64)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("issue {sku}"))?
        .rows_affected();
        if inserted == 0 {
            continue;
        }
        added += 1;
        for (position, article) in issue.articles.iter().enumerate() {
            sqlx::query(
                "INSERT INTO articles (issue_sku, position, section, title, author) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&sku)
            .bind(position as i64)
            .bind(&article.section)
            .bind(&article.title)
            .bind(&article.author)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(added)
}

/// Demo issues count as published at noon UTC on the first day of their month.
fn publication_time(year: i64, month: i64) -> anyhow::Result<i64> {
    let month = time::Month::try_from(u8::try_from(month)?)?;
    let date = time::Date::from_calendar_date(i32::try_from(year)?, month, 1)?;
    Ok(date.with_hms(12, 0, 0)?.assume_utc().unix_timestamp())
}

/// True when the catalog has no publication yet (a fresh database).
pub async fn is_empty(db: &Db) -> anyhow::Result<bool> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM publications").fetch_one(&db.pool).await?;
    Ok(count == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo archive reads like a real paper's: every headline its own, no placeholder
    /// bylines, every sample marked, and each journal issue with an editorial, features and reviews.
    #[test]
    fn the_demo_archive_reads_like_a_real_papers() {
        let catalog: CatalogFixture = serde_json::from_str(CATALOG_JSON).expect("the fixture parses");
        let mut titles: Vec<&str> = catalog.issues.iter().map(|i| i.title.as_str()).collect();
        titles.sort();
        let count = titles.len();
        titles.dedup();
        assert_eq!(titles.len(), count, "a headline is repeated");
        for issue in &catalog.issues {
            let label = format!("{} {}-{}", issue.publication, issue.year, issue.month);
            for article in &issue.articles {
                assert!(!article.author.starts_with("Sample"), "{label}: a placeholder byline");
            }
            assert_eq!(issue.sample, issue.summary.starts_with("Sample content"), "{label}: samples say so");
            if issue.publication == "isr" {
                assert!(issue.articles.len() >= 4, "{label}: a journal issue has more to it");
                assert!(issue.articles.iter().any(|a| a.section.as_deref() == Some("Reviews")), "{label}");
            }
        }
    }
}
