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

/// Writes `line` in small type at the foot of every page of a PDF, so a shared copy says whose it
/// was. The original is left as it is; the stamped copy is returned.
pub fn stamp_pdf(pdf: &[u8], line: &str) -> anyhow::Result<Vec<u8>> {
    use lopdf::{
        content::{Content, Operation},
        dictionary, Document, Object,
    };
    let mut doc = Document::load_mem(pdf)?;
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    // WinAnsi is Latin-1 for the letters names use; anything else prints as "?".
    let text: Vec<u8> = line.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect();
    let pages: Vec<_> = doc.get_pages().into_values().collect();
    for page in pages {
        let fonts_elsewhere = {
            let resources = doc.get_or_create_resources(page)?.as_dict_mut()?;
            match resources.get(b"Font").ok().cloned() {
                Some(Object::Reference(id)) => Some(id),
                Some(Object::Dictionary(mut fonts)) => {
                    fonts.set("MastheadStamp", font);
                    resources.set("Font", fonts);
                    None
                }
                _ => {
                    resources.set("Font", dictionary! { "MastheadStamp" => font });
                    None
                }
            }
        };
        if let Some(id) = fonts_elsewhere {
            doc.get_object_mut(id)?.as_dict_mut()?.set("MastheadStamp", font);
        }
        let stamp = Content {
            operations: vec![
                Operation::new("q", vec![]),
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["MastheadStamp".into(), 7.into()]),
                Operation::new("Td", vec![18.into(), 8.into()]),
                Operation::new("Tj", vec![Object::string_literal(text.clone())]),
                Operation::new("ET", vec![]),
                Operation::new("Q", vec![]),
            ],
        };
        doc.add_to_page_content(page, stamp)?;
    }
    let mut stamped = Vec::new();
    doc.save_to(&mut stamped)?;
    Ok(stamped)
}
