//! Catalog queries. Only published issues are ever returned to the public.

use anyhow::anyhow;
use sqlx::FromRow;

use super::*;
use crate::{
    db::{flag, in_place::read_row_struct, Db, Param},
    error::Result,
    money::Money,
};

#[derive(FromRow)]
struct PublicationRow {
    slug: String,
    name: String,
    kind: String,
    frequency: String,
    tagline: String,
    description: String,
    /// One of its editions (none when it has none yet).
    edition: Option<String>,
}
read_row_struct!(PublicationRow { slug, name, kind, frequency, tagline, description, edition });

#[derive(FromRow)]
struct PlanRow {
    sku: String,
    publication: String,
    publication_name: String,
    publication_frequency: String,
    edition: String,
    term_years: i64,
    price_amount: i64,
    currency: String,
    reduced_price: Option<i64>,
    reduced_wording: Option<String>,
    sustainer_minimum: Option<i64>,
    sustainer_suggested: Option<i64>,
}

const PLAN_COLUMNS: &str = "pl.sku, pl.publication, p.name AS publication_name, \
     p.frequency AS publication_frequency, pl.edition, pl.term_years, \
     pl.price_amount, pl.currency, pl.reduced_price, pl.reduced_wording, pl.sustainer_minimum, pl.sustainer_suggested";
read_row_struct!(PlanRow {
    sku,
    publication,
    publication_name,
    publication_frequency,
    edition,
    term_years,
    price_amount,
    currency,
    reduced_price,
    reduced_wording,
    sustainer_minimum,
    sustainer_suggested
});

#[derive(FromRow)]
struct IssueRow {
    sku: String,
    publication: String,
    publication_name: String,
    year: i64,
    month: i64,
    title: String,
    summary: String,
    cover_image: Option<String>,
    pdf_file: Option<String>,
    price_amount: Option<i64>,
    currency: String,
    published: i64,
    published_at: Option<i64>,
    is_sample: i64,
    pdf_free: i64,
}
read_row_struct!(IssueRow {
    sku,
    publication,
    publication_name,
    year,
    month,
    title,
    summary,
    cover_image,
    pdf_file,
    price_amount,
    currency,
    published,
    published_at,
    is_sample,
    pdf_free
});

#[derive(FromRow)]
struct ArticleRow {
    section: Option<String>,
    title: String,
    author: String,
}

fn corrupt(what: &str, value: &str) -> crate::error::Error {
    anyhow!("the database holds {what} {value:?}, which this version of the shop does not know").into()
}

fn frequency_from(column: &str) -> Result<Frequency> {
    match column {
        "monthly" => Ok(Frequency::Monthly),
        "quarterly" => Ok(Frequency::Quarterly),
        other => Err(corrupt("frequency", other)),
    }
}

fn publication_from_row(row: PublicationRow, editions: Vec<Edition>) -> Result<Publication> {
    let kind = match row.kind.as_str() {
        "journal" => Kind::Journal,
        "newspaper" => Kind::Newspaper,
        other => return Err(corrupt("publication kind", other)),
    };
    let frequency = frequency_from(&row.frequency)?;
    Ok(Publication {
        slug: row.slug,
        name: row.name,
        kind,
        frequency,
        tagline: row.tagline,
        description: row.description,
        editions,
    })
}

/// A plan read in the same statement as the rows that name it (a cart's lines): its columns,
/// prefixed so that they never clash with the other table's, after `JOINED_PLAN_JOINS` on the
/// line's `sku`. All NULL where the SKU names no plan on sale (an issue, or a plan withdrawn).
pub(crate) const JOINED_PLAN_COLUMNS: &str = "pl.sku AS plan_sku, pl.publication AS plan_publication, \
     p.name AS plan_publication_name, p.frequency AS plan_publication_frequency, pl.edition AS plan_edition, \
     pl.term_years AS plan_term_years, \
     pl.price_amount AS plan_price_amount, pl.currency AS plan_currency, pl.reduced_price AS plan_reduced_price, \
     pl.reduced_wording AS plan_reduced_wording, pl.sustainer_minimum AS plan_sustainer_minimum, \
     pl.sustainer_suggested AS plan_sustainer_suggested";
/// The joins for `JOINED_PLAN_COLUMNS`, on a `sku` column of the table named `i`.
pub(crate) const JOINED_PLAN_JOINS: &str =
    "LEFT JOIN plans pl ON pl.sku = i.sku AND pl.active = 1 LEFT JOIN publications p ON p.slug = pl.publication";

/// The columns of `JOINED_PLAN_COLUMNS` as read (flattened into the reading row).
#[derive(FromRow)]
pub(crate) struct JoinedPlan {
    plan_sku: Option<String>,
    plan_publication: Option<String>,
    plan_publication_name: Option<String>,
    plan_publication_frequency: Option<String>,
    plan_edition: Option<String>,
    plan_term_years: Option<i64>,
    plan_price_amount: Option<i64>,
    plan_currency: Option<String>,
    plan_reduced_price: Option<i64>,
    plan_reduced_wording: Option<String>,
    plan_sustainer_minimum: Option<i64>,
    plan_sustainer_suggested: Option<i64>,
}

impl JoinedPlan {
    /// For `ReadRow::from_sqlite` of the row it is part of.
    pub(crate) fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<JoinedPlan> {
        Ok(JoinedPlan {
            plan_sku: row.get("plan_sku")?,
            plan_publication: row.get("plan_publication")?,
            plan_publication_name: row.get("plan_publication_name")?,
            plan_publication_frequency: row.get("plan_publication_frequency")?,
            plan_edition: row.get("plan_edition")?,
            plan_term_years: row.get("plan_term_years")?,
            plan_price_amount: row.get("plan_price_amount")?,
            plan_currency: row.get("plan_currency")?,
            plan_reduced_price: row.get("plan_reduced_price")?,
            plan_reduced_wording: row.get("plan_reduced_wording")?,
            plan_sustainer_minimum: row.get("plan_sustainer_minimum")?,
            plan_sustainer_suggested: row.get("plan_sustainer_suggested")?,
        })
    }

    /// The plan on sale the join found, if any.
    pub(crate) fn into_plan(self) -> Result<Option<Plan>> {
        let JoinedPlan {
            plan_sku: Some(sku),
            plan_publication: Some(publication),
            plan_publication_name: Some(publication_name),
            plan_publication_frequency: Some(publication_frequency),
            plan_edition: Some(edition),
            plan_term_years: Some(term_years),
            plan_price_amount: Some(price_amount),
            plan_currency: Some(currency),
            plan_reduced_price: reduced_price,
            plan_reduced_wording: reduced_wording,
            plan_sustainer_minimum: sustainer_minimum,
            plan_sustainer_suggested: sustainer_suggested,
        } = self
        else {
            return Ok(None);
        };
        let row = PlanRow {
            sku,
            publication,
            publication_name,
            publication_frequency,
            edition,
            term_years,
            price_amount,
            currency,
            reduced_price,
            reduced_wording,
            sustainer_minimum,
            sustainer_suggested,
        };
        plan_from_row(row).map(Some)
    }
}

fn plan_from_row(row: PlanRow) -> Result<Plan> {
    let edition = Edition::parse(&row.edition).ok_or_else(|| corrupt("edition", &row.edition))?;
    let frequency = frequency_from(&row.publication_frequency)?;
    let price = Money::from_row(row.price_amount, &row.currency).map_err(|e| anyhow!(e))?;
    Ok(Plan {
        name: format!(
            "{}, {} edition, {} year{}",
            row.publication_name,
            edition.as_str(),
            row.term_years,
            if row.term_years == 1 { "" } else { "s" }
        ),
        sku: row.sku,
        publication: row.publication,
        frequency,
        edition,
        term_years: row.term_years,
        price,
        price_per_year: price.per_year(row.term_years),
        rates: super::rates::PlanRates::from_columns(
            price.currency,
            row.reduced_price,
            row.reduced_wording,
            row.sustainer_minimum,
            row.sustainer_suggested,
        ),
    })
}

fn issue_from_row(row: IssueRow) -> Result<Issue> {
    let price = match row.price_amount {
        Some(amount) => Some(Money::from_row(amount, &row.currency).map_err(|e| anyhow!(e))?),
        None => None,
    };
    let cover_url = match &row.cover_image {
        Some(key) => format!("/media/{key}"),
        // A drawn cover changes with what is drawn on it: its URL carries a hash of that.
        None => {
            let drawn =
                format!("{}\n{}\n{}\n{}\n{}", row.publication_name, row.title, row.year, row.month, row.is_sample);
            format!("/covers/{}.svg?v={}", row.sku, crate::storage::short_hash(drawn.as_bytes()))
        }
    };
    Ok(Issue {
        label: format!("{} {}", month_name(row.month), row.year),
        path: issue_path(&row.publication, row.year, row.month),
        sku: row.sku,
        publication: row.publication,
        publication_name: row.publication_name,
        year: row.year,
        month: row.month,
        title: row.title,
        summary: row.summary,
        cover_url,
        has_pdf: row.pdf_file.is_some(),
        price,
        published: flag(row.published),
        published_at: row.published_at,
        is_sample: flag(row.is_sample),
        pdf_free: flag(row.pdf_free),
        articles: Vec::new(),
    })
}

/// Every publication, in the publisher's order, with the editions it is offered in (one statement:
/// a row per publication and edition).
pub async fn publications(db: &Db) -> Result<Vec<Publication>> {
    let rows: Vec<PublicationRow> = db
        .read_rows(
            "SELECT p.slug, p.name, p.kind, p.frequency, p.tagline, p.description, e.edition \
             FROM publications p LEFT JOIN publication_editions e ON e.publication = p.slug \
             ORDER BY p.position, p.slug",
            &[],
        )
        .await?;
    crate::db::with_children(rows, |row| {
        let edition = row.edition.as_deref().and_then(Edition::parse);
        (row.slug.clone(), row, edition)
    })
    .into_iter()
    .map(|(row, mut editions)| {
        editions.sort();
        publication_from_row(row, editions)
    })
    .collect()
}

pub async fn find_publication(db: &Db, slug: &str) -> Result<Option<Publication>> {
    Ok(publications(db).await?.into_iter().find(|p| p.slug == slug))
}

/// Every plan on sale, by publication, print before digital, shortest term first.
pub async fn plans(db: &Db) -> Result<Vec<Plan>> {
    let sql = format!(
        "SELECT {PLAN_COLUMNS} FROM plans pl JOIN publications p ON p.slug = pl.publication WHERE pl.active = 1 \
         ORDER BY p.position, pl.publication, CASE pl.edition WHEN 'print' THEN 0 ELSE 1 END, pl.term_years"
    );
    let rows: Vec<PlanRow> = sqlx::query_as(&sql).fetch_all(&db.pool).await?;
    rows.into_iter().map(plan_from_row).collect()
}

/// Published issues, newest first; all publications, or one.
pub async fn published_issues(db: &Db, publication: Option<&str>) -> Result<Vec<Issue>> {
    let sql = "SELECT i.sku, i.publication, p.name AS publication_name, i.year, i.month, i.title, i.summary, \
     i.cover_image, i.pdf_file, i.price_amount, i.currency, i.published, i.published_at, i.is_sample, i.pdf_free \
     FROM issues i JOIN publications p ON p.slug = i.publication WHERE i.published = 1 AND ($1 IS NULL OR i.publication = $1) \
         ORDER BY i.year DESC, i.month DESC, p.position";
    let rows: Vec<IssueRow> = sqlx::query_as(sql).bind(publication).fetch_all(&db.pool).await?;
    rows.into_iter().map(issue_from_row).collect()
}

/// The newest published issue of a publication, if it has any.
pub async fn latest_issue(db: &Db, publication: &str) -> Result<Option<Issue>> {
    let sql = "SELECT i.sku, i.publication, p.name AS publication_name, i.year, i.month, i.title, i.summary, \
     i.cover_image, i.pdf_file, i.price_amount, i.currency, i.published, i.published_at, i.is_sample, i.pdf_free \
     FROM issues i JOIN publications p ON p.slug = i.publication WHERE i.published = 1 AND i.publication = $1 \
         ORDER BY i.year DESC, i.month DESC LIMIT 1";
    let row: Option<IssueRow> = sqlx::query_as(sql).bind(publication).fetch_optional(&db.pool).await?;
    row.map(issue_from_row).transpose()
}

/// One published issue with its table of contents.
pub async fn find_published_issue(db: &Db, issue: &IssueRef) -> Result<Option<Issue>> {
    find_published_issue_by_sku(db, &issue.sku()).await
}

pub async fn find_published_issue_by_sku(db: &Db, sku: &str) -> Result<Option<Issue>> {
    let Some(mut issue) = published_issue_without_contents(db, sku).await? else { return Ok(None) };
    issue.articles = articles_of(db, sku).await?;
    Ok(Some(issue))
}

/// A published issue without its table of contents (which pricing never reads).
async fn published_issue_without_contents(db: &Db, sku: &str) -> Result<Option<Issue>> {
    let sql = "SELECT i.sku, i.publication, p.name AS publication_name, i.year, i.month, i.title, i.summary, \
     i.cover_image, i.pdf_file, i.price_amount, i.currency, i.published, i.published_at, i.is_sample, i.pdf_free \
     FROM issues i JOIN publications p ON p.slug = i.publication WHERE i.published = 1 AND i.sku = $1";
    let row: Option<IssueRow> = db.read_row(sql, &[Param::Text(sku)]).await?;
    row.map(issue_from_row).transpose()
}

/// Every issue, published or not, newest first (for staff).
pub async fn all_issues(db: &Db) -> Result<Vec<Issue>> {
    let sql = "SELECT i.sku, i.publication, p.name AS publication_name, i.year, i.month, i.title, i.summary, \
     i.cover_image, i.pdf_file, i.price_amount, i.currency, i.published, i.published_at, i.is_sample, i.pdf_free \
     FROM issues i JOIN publications p ON p.slug = i.publication ORDER BY i.year DESC, i.month DESC, p.position";
    let rows: Vec<IssueRow> = sqlx::query_as(sql).fetch_all(&db.pool).await?;
    rows.into_iter().map(issue_from_row).collect()
}

/// One issue, published or not, with its contents (for staff).
pub async fn issue_any(db: &Db, sku: &str) -> Result<Option<Issue>> {
    let sql = "SELECT i.sku, i.publication, p.name AS publication_name, i.year, i.month, i.title, i.summary, \
     i.cover_image, i.pdf_file, i.price_amount, i.currency, i.published, i.published_at, i.is_sample, i.pdf_free \
     FROM issues i JOIN publications p ON p.slug = i.publication WHERE i.sku = $1";
    let Some(row) = sqlx::query_as::<_, IssueRow>(sql).bind(sku).fetch_optional(&db.pool).await? else {
        return Ok(None);
    };
    let mut issue = issue_from_row(row)?;
    issue.articles = articles_of(db, sku).await?;
    Ok(Some(issue))
}

/// The storage key of an issue's PDF, if it has one.
pub async fn pdf_key(db: &Db, sku: &str) -> Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT pdf_file FROM issues WHERE sku = $1").bind(sku).fetch_optional(&db.pool).await?;
    Ok(row.and_then(|(k,)| k))
}

async fn articles_of(db: &Db, sku: &str) -> Result<Vec<Article>> {
    let articles: Vec<ArticleRow> =
        sqlx::query_as("SELECT section, title, author FROM articles WHERE issue_sku = $1 ORDER BY position")
            .bind(sku)
            .fetch_all(&db.pool)
            .await?;
    Ok(articles.into_iter().map(|a| Article { section: a.section, title: a.title, author: a.author }).collect())
}

pub async fn find_plan(db: &Db, sku: &str) -> Result<Option<Plan>> {
    let sql = format!(
        "SELECT {PLAN_COLUMNS} FROM plans pl JOIN publications p ON p.slug = pl.publication \
         WHERE pl.sku = $1 AND pl.active = 1"
    );
    let row: Option<PlanRow> = db.read_row(&sql, &[Param::Text(sku)]).await?;
    row.map(plan_from_row).transpose()
}

/// Everything on sale: every active plan, then every published issue sold singly.
pub async fn products(db: &Db) -> Result<Vec<Product>> {
    let mut products: Vec<Product> = plans(db).await?.into_iter().map(Product::Plan).collect();
    products.extend(published_issues(db, None).await?.into_iter().filter(|i| i.price.is_some()).map(Product::Issue));
    Ok(products)
}

/// The product a cart line's SKU names, if it is on sale now, given the plan read with the line
/// (`JoinedPlan`): an issue is read, a plan is the one joined (the same as `find_product`'s).
pub async fn line_product(db: &Db, sku: &str, joined: Option<Plan>) -> Result<Option<Product>> {
    match IssueRef::from_sku(sku) {
        Some(_) => find_product(db, sku).await,
        None => Ok(joined.map(Product::Plan)),
    }
}

/// The product a SKU names, if it is on sale now (an issue without its contents: no caller prices them).
pub async fn find_product(db: &Db, sku: &str) -> Result<Option<Product>> {
    // The SKU's shape says which table to ask: one query per cart line, not three.
    if IssueRef::from_sku(sku).is_some() {
        let issue = published_issue_without_contents(db, sku).await?;
        return Ok(issue.filter(|i| i.price.is_some()).map(Product::Issue));
    }
    Ok(find_plan(db, sku).await?.map(Product::Plan))
}
