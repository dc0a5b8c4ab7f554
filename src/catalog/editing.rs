//! Staff editing issues: creating and changing one, its table of contents, cover and PDF, and
//! publishing it. Every change is written to the audit log in the same transaction.

use super::{issue_sku, store::issue_any, Article, Issue};
use crate::{
    audit::{self, Actor},
    db::Db,
    error::{Error, FieldError, Result},
    money::{Currency, Money},
};

/// An issue as staff type it.
#[derive(Clone, Debug, Default)]
pub struct IssueDraft {
    pub publication: String,
    pub year: i64,
    pub month: i64,
    pub title: String,
    pub summary: String,
    pub articles: Vec<Article>,
    /// The single-copy price; `None`: not sold singly.
    pub price: Option<Money>,
}

impl IssueDraft {
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let mut problem = |field, message: &str| problems.push(FieldError::new(field, message));
        if !(1900..=9999).contains(&self.year) {
            problem("year", "A year has four digits.");
        }
        if !(1..=12).contains(&self.month) {
            problem("month", "A month is from 1 to 12.");
        }
        if self.title.trim().is_empty() || self.title.len() > 300 {
            problem("title", "An issue needs a title (up to 300 characters).");
        }
        if self.summary.len() > 5000 {
            problem("summary", "A summary is at most 5,000 characters.");
        }
        if self.articles.iter().any(|a| a.title.trim().is_empty()) {
            problem("articles", "Every article in the contents needs a title.");
        }
        if self.price.is_some_and(|p| p.amount <= 0) {
            problem("price", "A single-copy price must be more than zero, or left empty.");
        }
        problems
    }

    fn record(&self) -> serde_json::Value {
        serde_json::json!({
            "publication": self.publication, "year": self.year, "month": self.month, "title": self.title,
            "summary": self.summary, "price": self.price.map(|p| p.amount),
            "articles": self.articles.iter().map(|a| serde_json::json!({"section": a.section, "title": a.title, "author": a.author})).collect::<Vec<_>>(),
        })
    }
}

fn issue_record(issue: &Issue) -> serde_json::Value {
    serde_json::json!({
        "sku": issue.sku, "title": issue.title, "summary": issue.summary, "published": issue.published,
        "cover_url": issue.cover_url, "has_pdf": issue.has_pdf, "price": issue.price.map(|p| p.amount),
        "articles": issue.articles.iter().map(|a| serde_json::json!({"section": a.section, "title": a.title, "author": a.author})).collect::<Vec<_>>(),
    })
}

fn no_such_issue() -> Error {
    Error::not_found("issue_not_found", "There is no such issue.")
}

async fn save_articles(conn: &mut sqlx::AnyConnection, sku: &str, articles: &[Article]) -> Result<()> {
    sqlx::query("DELETE FROM articles WHERE issue_sku = $1").bind(sku).execute(&mut *conn).await?;
    for (position, a) in articles.iter().enumerate() {
        sqlx::query("INSERT INTO articles (issue_sku, position, section, title, author) VALUES ($1, $2, $3, $4, $5)")
            .bind(sku)
            .bind(position as i64)
            .bind(a.section.as_deref().map(str::trim).filter(|s| !s.is_empty()))
            .bind(a.title.trim())
            .bind(a.author.trim())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Creates an unpublished issue. Answers its SKU, or the problems with the draft.
pub async fn create_issue(db: &Db, draft: &IssueDraft, currency: Currency, actor: &Actor, now: i64) -> Result<String> {
    let mut problems = draft.problems();
    if super::find_publication(db, &draft.publication).await?.is_none() {
        problems.push(FieldError::new("publication", "Choose a publication."));
    }
    if !problems.is_empty() {
        return Err(Error::Fields(problems));
    }
    let sku = issue_sku(&draft.publication, draft.year, draft.month);
    let mut tx = db.begin_write().await?;
    let inserted = sqlx::query(
        "INSERT INTO issues (sku, publication, year, month, title, summary, price_amount, currency, published) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0) ON CONFLICT DO NOTHING",
    )
    .bind(&sku)
    .bind(&draft.publication)
    .bind(draft.year)
    .bind(draft.month)
    .bind(draft.title.trim())
    .bind(draft.summary.trim())
    .bind(draft.price.map(|p| p.amount))
    // An issue without a price of its own is still stored in the shop's currency.
    .bind(draft.price.map_or(currency, |p| p.currency).code())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(Error::Fields(vec![FieldError::new("month", format!("There is already an issue {sku}."))]));
    }
    save_articles(&mut tx, &sku, &draft.articles).await?;
    audit::record(
        &mut tx,
        actor,
        audit::Change {
            action: "issue.create",
            entity: "issue",
            entity_id: &sku,
            before: None,
            after: Some(draft.record()),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(sku)
}

/// Changes an issue's title, summary, price and contents (its publication and date are its SKU and stay).
pub async fn update_issue(db: &Db, sku: &str, draft: &IssueDraft, actor: &Actor, now: i64) -> Result<()> {
    let before = issue_any(db, sku).await?.ok_or_else(no_such_issue)?;
    let draft =
        IssueDraft { publication: before.publication.clone(), year: before.year, month: before.month, ..draft.clone() };
    let problems = draft.problems();
    if !problems.is_empty() {
        return Err(Error::Fields(problems));
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE issues SET title = $2, summary = $3, price_amount = $4 WHERE sku = $1")
        .bind(sku)
        .bind(draft.title.trim())
        .bind(draft.summary.trim())
        .bind(draft.price.map(|p| p.amount))
        .execute(&mut *tx)
        .await?;
    save_articles(&mut tx, sku, &draft.articles).await?;
    audit::record(
        &mut tx,
        actor,
        audit::Change {
            action: "issue.update",
            entity: "issue",
            entity_id: sku,
            before: Some(issue_record(&before)),
            after: Some(draft.record()),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Makes an issue's PDF free for everyone, or for digital subscribers only again; audited.
pub async fn set_pdf_free(db: &Db, sku: &str, free: bool, actor: &Actor, now: i64) -> Result<()> {
    let before = issue_any(db, sku).await?.ok_or_else(no_such_issue)?;
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE issues SET pdf_free = $2 WHERE sku = $1").bind(sku).bind(free as i64).execute(&mut *tx).await?;
    let change = audit::Change {
        action: if free { "issue.pdf_free" } else { "issue.pdf_for_subscribers" },
        entity: "issue",
        entity_id: sku,
        before: Some(serde_json::json!({"pdf_free": before.pdf_free})),
        after: Some(serde_json::json!({"pdf_free": free})),
    };
    audit::record(&mut tx, actor, change, now).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn set_published(db: &Db, sku: &str, published: bool, actor: &Actor, now: i64) -> Result<()> {
    let before = issue_any(db, sku).await?.ok_or_else(no_such_issue)?;
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE issues SET published = $2, published_at = COALESCE(published_at, $3) WHERE sku = $1")
        .bind(sku)
        .bind(published as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let action = if published { "issue.publish" } else { "issue.unpublish" };
    audit::record(
        &mut tx,
        actor,
        audit::Change {
            action,
            entity: "issue",
            entity_id: sku,
            before: Some(serde_json::json!({"published": before.published})),
            after: Some(serde_json::json!({"published": published})),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records an uploaded cover (`column` = cover_image) or PDF (`pdf_file`) for an issue.
pub async fn set_file(db: &Db, sku: &str, pdf: bool, key: &str, actor: &Actor, now: i64) -> Result<()> {
    let before = issue_any(db, sku).await?.ok_or_else(no_such_issue)?;
    let sql = if pdf {
        "UPDATE issues SET pdf_file = $2 WHERE sku = $1"
    } else {
        "UPDATE issues SET cover_image = $2 WHERE sku = $1"
    };
    let mut tx = db.begin_write().await?;
    sqlx::query(sql).bind(sku).bind(key).execute(&mut *tx).await?;
    let (action, field) = if pdf { ("issue.pdf", "pdf_file") } else { ("issue.cover", "cover_image") };
    audit::record(
        &mut tx,
        actor,
        audit::Change {
            action,
            entity: "issue",
            entity_id: sku,
            before: Some(issue_record(&before)),
            after: Some(serde_json::json!({ field: key })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
