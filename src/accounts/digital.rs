//! The digital edition: who may download an issue's PDF. A free PDF (staff's choice) is for
//! everyone; otherwise for a signed-in reader whose digital subscription to that publication
//! covers the issue. Refunded terms (status `ended`) cover nothing.

use serde::Serialize;

use crate::{catalog::Issue, db::Db, error::Result, orders::terms};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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

/// What `reader` (a normalised email, or nobody) may do with the issue's PDF.
pub async fn pdf_access(db: &Db, reader: Option<&str>, issue: &Issue) -> Result<PdfAccess> {
    if !issue.has_pdf {
        return Ok(PdfAccess::NoPdf);
    }
    if issue.pdf_free {
        return Ok(PdfAccess::Free);
    }
    let Some(reader) = reader else { return Ok(PdfAccess::SignInNeeded) };
    let period = terms::period(issue.year, issue.month);
    let (terms,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM subscriptions WHERE email_normalized = $1 AND publication = $2 AND edition = 'digital' \
         AND status = 'active' AND first_period <= $3 AND last_period >= $3",
    )
    .bind(reader)
    .bind(&issue.publication)
    .bind(period)
    .fetch_one(&db.pool)
    .await?;
    Ok(if terms > 0 { PdfAccess::Covered } else { PdfAccess::NotCovered })
}
