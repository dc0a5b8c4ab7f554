//! The digital edition: who may download an issue's PDF. A free PDF (staff's choice) is for
//! everyone; otherwise for a signed-in reader whose digital subscription to that publication
//! covers the issue. Refunded terms (status `ended`) cover nothing.

use serde::Serialize;

use crate::{catalog::Issue, db::Db, error::Result, orders::terms};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PdfAccess {
    /// The issue has no PDF.
    NoPdf,
    /// Free for everyone.
    Free,
    /// This reader's subscription covers it.
    Covered,
    /// Nobody is signed in.
    SignInNeeded,
    /// The reader is signed in, and nothing of theirs covers this issue.
    NotCovered,
}

/// What `reader` (a normalised email, or nobody) may do with the issue's PDF at `now`.
pub async fn pdf_access(db: &Db, reader: Option<&str>, issue: &Issue, now: i64) -> Result<PdfAccess> {
    if !issue.has_pdf {
        return Ok(PdfAccess::NoPdf);
    }
    if issue.pdf_free {
        return Ok(PdfAccess::Free);
    }
    // The embargo: a back issue's PDF becomes free once it is that many months old.
    if let Some(months) = crate::settings::pdf_embargo_months(db).await? {
        if terms::period(issue.year, issue.month) + months <= terms::period_at(now) {
            return Ok(PdfAccess::Free);
        }
    }
    let Some(reader) = reader else { return Ok(PdfAccess::SignInNeeded) };
    Ok(match covering_term(db, reader, issue).await? {
        Some(_) => PdfAccess::Covered,
        None => PdfAccess::NotCovered,
    })
}

/// The name and order of the reader's active digital term that covers the issue, if one does.
async fn covering_term(db: &Db, reader: &str, issue: &Issue) -> Result<Option<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT name, order_id FROM subscriptions WHERE email_normalized = $1 AND publication = $2 \
         AND edition = 'digital' AND status = 'active' AND first_period <= $3 AND last_period >= $3 \
         ORDER BY first_period, id LIMIT 1",
    )
    .bind(reader)
    .bind(&issue.publication)
    .bind(terms::period(issue.year, issue.month))
    .fetch_optional(&db.pool)
    .await?)
}

/// The line a download is stamped with: the reader and order of the term that covers the issue.
pub async fn stamp_line(db: &Db, reader: &str, issue: &Issue, shop_name: &str) -> Result<Option<String>> {
    Ok(covering_term(db, reader, issue).await?.map(|(name, order_id)| {
        let order: String = order_id.chars().take(8).collect();
        format!("Downloaded by {name} (order {order}) from {shop_name}. For your own reading.")
    }))
}
