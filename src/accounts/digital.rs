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

/// Writes `line` in small type at the foot of every page of a PDF, so a shared copy says whose it
/// was. The original is left as it is; the stamped copy is returned.
pub fn stamp_pdf(pdf: &[u8], line: &str) -> anyhow::Result<Vec<u8>> {
    use lopdf::{
        content::{Content, Operation},
        dictionary, Document, Object, Stream,
    };
    let mut doc = Document::load_mem(pdf)?;
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    // WinAnsi is Latin-1 for the letters names use; anything else prints as "?".
    let text: Vec<u8> = line.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect();
    let stamp = Content {
        operations: vec![
            Operation::new("Q", vec![]),
            Operation::new("q", vec![]),
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["MastheadStamp".into(), 7.into()]),
            Operation::new("Td", vec![18.into(), 8.into()]),
            Operation::new("Tj", vec![Object::string_literal(text)]),
            Operation::new("ET", vec![]),
            Operation::new("Q", vec![]),
        ],
    };
    let open = doc.add_object(Stream::new(dictionary! {}, b"q\n".to_vec()));
    let stamp = doc.add_object(Stream::new(dictionary! {}, stamp.encode()?));
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
        // The page's own content is left as it is (never decoded): it is wrapped in q ... Q, so
        // whatever state it leaves cannot move the stamp, and the stamp comes after it in a
        // stream of its own.
        let mut contents = match doc.get_dictionary(page)?.get(b"Contents") {
            Ok(Object::Array(streams)) => streams.clone(),
            // One stream, or an array kept as an object of its own.
            Ok(Object::Reference(id)) => match doc.get_object(*id) {
                Ok(Object::Array(streams)) => streams.clone(),
                _ => vec![Object::Reference(*id)],
            },
            _ => Vec::new(),
        };
        contents.insert(0, Object::Reference(open));
        contents.push(Object::Reference(stamp));
        doc.get_object_mut(page)?.as_dict_mut()?.set("Contents", contents);
    }
    let mut stamped = Vec::new();
    doc.save_to(&mut stamped)?;
    Ok(stamped)
}

#[cfg(test)]
mod tests {
    use lopdf::{content::Content, dictionary, Document, Object, Stream};

    use super::stamp_pdf;

    /// Two pages: one whose content scales everything and never restores it, one whose content is
    /// an array of two streams kept as an object of its own.
    fn awkward_pdf() -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Times-Roman" });
        let stream =
            |doc: &mut Document, ops: &str| doc.add_object(Stream::new(dictionary! {}, ops.as_bytes().to_vec()));
        let scaled = stream(&mut doc, "4 0 0 4 0 0 cm BT /F1 12 Tf 10 10 Td (Scaled) Tj ET");
        let first = stream(&mut doc, "BT /F1 12 Tf 72 700 Td (First half) Tj ET");
        let second = stream(&mut doc, "BT /F1 12 Tf 72 600 Td (Second half) Tj ET");
        let array = doc.add_object(Object::Array(vec![first.into(), second.into()]));
        let mut kids = Vec::new();
        for contents in [scaled, array] {
            kids.push(Object::from(doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => contents,
                "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
            })));
        }
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => kids, "Count" => 2, "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).expect("saved");
        bytes
    }

    #[test]
    fn the_stamp_follows_each_pages_own_content_untouched_and_undoes_its_state() {
        let stamped = stamp_pdf(&awkward_pdf(), "Downloaded by Ada Reader (order 1234abcd)").expect("stamped");
        let doc = Document::load_mem(&stamped).expect("a readable PDF");
        for (number, page) in doc.get_pages() {
            let streams = doc.get_page_contents(page);
            let decoded: Vec<String> = streams
                .iter()
                .map(|id| {
                    let stream = doc.get_object(*id).and_then(Object::as_stream).expect("a stream");
                    String::from_utf8_lossy(&stream.content).into_owned()
                })
                .collect();
            // First a save of the state, last the stamp after restoring it; the page's own streams
            // in between, byte for byte.
            assert_eq!(decoded.first().map(|s| s.trim()), Some("q"), "page {number}: {decoded:?}");
            let stamp = Content::decode(
                &doc.get_object(*streams.last().expect("a stamp"))
                    .and_then(Object::as_stream)
                    .expect("a stream")
                    .content,
            )
            .expect("the stamp's operations");
            let operators: Vec<&str> = stamp.operations.iter().map(|o| o.operator.as_str()).collect();
            assert_eq!(operators, ["Q", "q", "BT", "Tf", "Td", "Tj", "ET", "Q"], "page {number}");
            let own = &decoded[1..decoded.len() - 1];
            match number {
                1 => assert_eq!(own, ["4 0 0 4 0 0 cm BT /F1 12 Tf 10 10 Td (Scaled) Tj ET"]),
                _ => assert_eq!(
                    own,
                    ["BT /F1 12 Tf 72 700 Td (First half) Tj ET", "BT /F1 12 Tf 72 600 Td (Second half) Tj ET"]
                ),
            }
            let text = doc.extract_text(&[number]).expect("its text");
            assert!(text.contains("Downloaded by Ada Reader"), "page {number}: {text}");
        }
    }
}
